"""The shipped default model: it loads, learned something real, and its card tells the truth."""

import json
from pathlib import Path

import pytest
from huggingface_hub import ModelCard

from babybert import evaluate
from babybert import fill_mask, load_checkpoint, read_corpus, split_corpus

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "checkpoints" / "babybert-default"


@pytest.fixture(scope="module")
def default():
    return load_checkpoint(DEFAULT)


def test_it_was_trained_by_our_cli_within_ten_minutes(default):
    info = default.info
    assert info["command"].startswith("python -m babybert train --corpus examples/world_facts.txt")
    assert info["train_seconds"] <= 600
    assert info["command"] in (DEFAULT / "README.md").read_text()


def test_it_beats_the_baselines_on_held_out_text(default):
    held_out = split_corpus(read_corpus(ROOT / "examples" / "world_facts.txt"))[1]
    metrics = evaluate(default.model, default.tokenizer, held_out, seed=0, max_sentences=2000)
    assert metrics.mlm_accuracy > metrics.baseline_accuracy + 0.5
    assert metrics.nsp_accuracy > 0.6  # chance is 0.5
    card = {r.metric_type: r.metric_value for r in ModelCard.load(DEFAULT / "README.md").data.eval_results}
    assert card["mlm_accuracy"] == pytest.approx(metrics.mlm_accuracy, abs=1e-4)  # the card's numbers are real
    assert card["nsp_accuracy"] == pytest.approx(metrics.nsp_accuracy, abs=1e-4)


@pytest.mark.parametrize("text, answer", [
    ("the capital of france is [MASK].", "paris"),
    ("the cow says [MASK].", "moo"),
    ("kenya is a country in [MASK].", "africa"),
])
def test_it_knows_facts_from_its_corpus(default, text, answer):
    assert fill_mask(default.model, default.tokenizer, text)[0][0].token == answer


def test_it_is_small():
    size = sum(p.stat().st_size for p in DEFAULT.iterdir())
    assert size < 8_000_000
    assert json.loads((DEFAULT / "config.json").read_text())["num_hidden_layers"] == 2

"""The quality benchmark: the recipe is the one the issue describes, both sides are scored by the
same code, and the report is consistent with itself. (Never that a target is met.)"""

import json
import random

import pytest

from babybert.cli import main
from babybert.config import TrainConfig
from babybert.bench.quality import recipe_pairs, recipe_tokenizer, run_quality_bench, score, train_recipe


def test_recipe_pairs_are_true_next_sentences_or_from_another_document():
    documents = [[f"document {d} sentence {i}." for i in range(1 + d % 4)] for d in range(40)]
    pairs = recipe_pairs(documents, random.Random(0))
    next_of = {d[i]: d[i + 1] for d in documents for i in range(len(d) - 1)}
    doc_of = {s: k for k, d in enumerate(documents) for s in d}
    assert len(pairs) == len(next_of)
    for a, b, label in pairs:
        assert (label == 0) == (next_of[a] == b)
        if label == 1:
            assert doc_of[a] != doc_of[b]
    assert 0.3 < sum(label for *_, label in pairs) / len(pairs) < 0.7


def test_recipe_tokenizer_is_a_4096_wordpiece_of_the_training_text(documents):
    tok = recipe_tokenizer([s for d in documents for s in d])
    assert tok.mask_token_id is not None and tok.cls_token_id is not None
    assert tok.tokenize("the cow says moo.") == ["the", "cow", "says", "moo", "."]
    assert len(tok) <= 4096


def test_a_transformers_model_is_scored_by_the_same_evaluation(documents):
    model, tok, steps, tokens = train_recipe(documents, budget=1.0)
    assert steps >= 1 and tokens > 0
    first = score(model, tok, documents[-5:], draws=3)
    again = score(model, tok, documents[-5:], draws=3)
    assert first["masked_words"] > 0 and first["nsp_pairs"] > 0
    assert first == again  # deterministic for a seed, so both sides meet the same masks
    # the mean of the draws is the mean of evaluate() with seeds 0, 1, 2
    one = [score(model, tok, documents[-5:], seed=k, draws=1)["word_accuracy"] for k in range(3)]
    assert first["word_accuracy"] == pytest.approx(sum(one) / 3)


@pytest.fixture(scope="module")
def report(tmp_path_factory, corpus_text):
    path = tmp_path_factory.mktemp("q") / "animals.txt"
    path.write_text(corpus_text)
    return run_quality_bench(path, budgets=(2,), log=lambda line: None)


def test_report_is_consistent(report):
    (row,) = report["rows"]
    assert row["budget"] == 2
    for side in ("babybert", "recipe"):
        r = row[side]
        assert 0 <= r["word_accuracy"] <= 1 and 0 <= r["nsp_accuracy"] <= 1
        assert r["steps"] >= 1 and r["tokens_per_s"] > 0
    # BabyBERT runs with train()'s defaults: its epoch cap may end it before the budget, never later
    b = row["babybert"]
    assert b["stop_reason"] in ("time_budget", "epochs")
    assert b["epochs"] <= TrainConfig().epochs + 0.01
    assert (b["stop_reason"] == "epochs") == (b["epochs"] >= TrainConfig().epochs - 0.01)
    assert row["word_ratio"] == pytest.approx(row["babybert"]["word_accuracy"] / max(row["recipe"]["word_accuracy"], 1e-9))


def test_cli_quality_bench_prints_json(tmp_path, corpus_text, capsys):
    path = tmp_path / "animals.txt"
    path.write_text(corpus_text)
    assert main(["bench", "--only", "quality", "--corpus", str(path), "--budgets", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["budget"] for r in out["quality"]["rows"]] == [1]


def test_cli_rejects_bad_budgets(capsys):
    with pytest.raises(SystemExit) as e:
        main(["bench", "--only", "quality", "--budgets", "60,soon"])
    assert e.value.code == 2
    assert "--budgets: expected a number, got 'soon'" in capsys.readouterr().err

"""The quality benchmark: the recipe and the tuned peer are the ones the issues describe, all sides
are scored by the same code, and the report is consistent with itself. (Never that a target is met.)"""

import json
import random

import pytest
import torch

from babybert.cli import main
from babybert.config import TrainConfig
from babybert.bench.peer import by_length, peer_features, peer_pairs, peer_trainer
from babybert.bench.quality import (recipe_pairs, recipe_tokenizer, run_quality_bench, score, seconds_to_reach,
                                    train_recipe)
from babybert.config import ModelConfig


@pytest.mark.parametrize("draw", ["recipe", "peer"])
def test_pairs_are_true_next_sentences_or_from_another_document(draw):
    documents = [[f"document {d} sentence {i}." for i in range(1 + d % 4)] for d in range(40)]
    if draw == "recipe":
        pairs = recipe_pairs(documents, random.Random(0))
    else:  # the peer draws on token ids: one id per sentence here, so pairs map back to sentences
        ids = {s: k for k, s in enumerate(s for d in documents for s in d)}
        text = {k: s for s, k in ids.items()}
        pairs = [(text[a[0]], text[b[0]], label)
                 for a, b, label in peer_pairs([[[ids[s]] for s in d] for d in documents], random.Random(0))]
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
    for side in ("babybert", "tuned peer", "recipe"):
        r = row[side]
        assert 0 <= r["word_accuracy"] <= 1 and 0 <= r["nsp_accuracy"] <= 1
        assert r["steps"] >= 1 and r["tokens_per_s"] > 0
    # BabyBERT runs with train()'s defaults: its epoch cap may end it before the budget, never later
    b = row["babybert"]
    assert b["stop_reason"] in ("time_budget", "epochs")
    assert b["epochs"] <= TrainConfig().epochs + 0.01
    assert (b["stop_reason"] == "epochs") == (b["epochs"] >= TrainConfig().epochs - 0.01)
    assert row["word_ratio"] == pytest.approx(row["babybert"]["word_accuracy"] / max(row["recipe"]["word_accuracy"], 1e-9))


def test_cli_quality_bench_prints_json_with_minimal_pairs_for_every_contender(tmp_path, corpus_text, capsys):
    from babybert.bench.quality import CONTENDERS, print_quality_report
    path = tmp_path / "animals.txt"
    path.write_text(corpus_text)
    pairs = tmp_path / "pairs.jsonl"
    rows = [("every morning the cow says moo.", "morning every cow the moo says.", "syntax"),
            ("the dog eats some meat.", "the dog eat some meat.", "morphology"),
            ("the owl sleeps in the tree.", "the owl sleep in the tree.", "morphology")]
    pairs.write_text("".join(json.dumps({"sentence_good": g, "sentence_bad": b, "field": f, "UID": f}) + "\n"
                             for g, b, f in rows))
    assert main(["bench", "--only", "quality", "--corpus", str(path), "--budgets", "1", "--pairs", str(pairs),
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    (row,) = out["quality"]["rows"]
    assert row["budget"] == 1
    for name in CONTENDERS:
        known = row[name]["minimal_pairs"]
        assert known["pairs"] == 3 and set(known["by_field"]) == {"syntax", "morphology"} == set(known["by_phenomenon"])
        by_field = known["by_field"]["syntax"] * 1 + known["by_field"]["morphology"] * 2
        assert known["accuracy"] == pytest.approx(by_field / 3)  # the fields add up to the whole
    report = print_quality_report(out["quality"])
    assert "minimal pairs (3, by pseudo-log-likelihood; chance 50%)" in report


def test_cli_rejects_bad_budgets(capsys):
    with pytest.raises(SystemExit) as e:
        main(["bench", "--only", "quality", "--budgets", "60,soon"])
    assert e.value.code == 2
    assert "--budgets: expected a number, got 'soon'" in capsys.readouterr().err


def test_peer_features_are_cls_a_sep_b_sep_cut_longest_first(documents):
    tok = recipe_tokenizer([s for d in documents for s in d])
    a, b = list(range(10, 70)), list(range(100, 120))
    (short,), (long,) = peer_features(tok, [(a[:3], b[:2], 1)], 16), peer_features(tok, [(a, b, 0)], 32)
    cls, sep = tok.cls_token_id, tok.sep_token_id
    assert short == {"input_ids": [cls, 10, 11, 12, sep, 100, 101, sep], "token_type_ids": [0] * 5 + [1] * 3,
                     "next_sentence_label": 1}
    assert len(long["input_ids"]) == 32 and long["input_ids"].count(sep) == 2
    first_sep = long["input_ids"].index(sep)
    assert long["input_ids"][1:first_sep] == a[:first_sep - 1]  # the longer side gives way first...
    assert long["input_ids"][first_sep + 1:-1] == b[:32 - 3 - (first_sep - 1)]
    assert first_sep - 1 == 15 and len(long["input_ids"][first_sep + 1:-1]) == 14  # ...then B on a tie, as transformers


def test_peer_batches_hold_every_pair_once_by_similar_length():
    features = [{"input_ids": [0] * n} for n in random.Random(1).choices(range(5, 100), k=1000)]
    batches = by_length(features, 16, random.Random(0))
    assert sorted(id(f) for b in batches for f in b) == sorted(id(f) for f in features)
    spread = sum(max(len(f["input_ids"]) for f in b) - min(len(f["input_ids"]) for f in b) for b in batches)
    assert spread / len(batches) < 10  # random batches of 16 would spread ~80 tokens


def test_peer_trains_with_the_published_defaults(documents):
    tok = recipe_tokenizer([s for d in documents for s in d])
    model, step = peer_trainer(tok, ModelConfig(), TrainConfig(), seed=0)
    config = model.config
    assert config.hidden_dropout_prob == config.attention_probs_dropout_prob == 0.0
    assert config.hidden_size == 128 and config.num_hidden_layers == 2 and config._attn_implementation == "sdpa"
    weights = model.bert.encoder.layer[0].intermediate.dense.weight
    assert weights.std().item() == pytest.approx(ModelConfig().initializer_range, rel=0.05)
    ids = tok([s for d in documents for s in d][:16], add_special_tokens=False)["input_ids"]
    features = peer_features(tok, [(x, x, 0) for x in ids], 128)
    before = weights.detach().clone()
    assert step(features, 0.5) == sum(len(f["input_ids"]) for f in features)
    assert not torch.equal(before, weights.detach())


def test_seconds_to_reach_interpolates_babyberts_runs():
    curve = [(15, 0.10), (30, 0.20), (60, 0.30), (180, 0.36)]
    assert seconds_to_reach(curve, 0.05) == 15  # (at most: its shortest run already reached it)
    assert seconds_to_reach(curve, 0.25) == pytest.approx(45)
    assert seconds_to_reach(curve, 0.36) == pytest.approx(180)
    assert seconds_to_reach(curve, 0.40) is None


def test_report_compares_all_three_and_its_seconds_agree_with_its_accuracies(report):
    (row,) = report["rows"]
    for name in ("tuned peer", "recipe"):
        ratio = row["babybert"]["word_accuracy"] / max(row[name]["word_accuracy"], 1e-9)
        assert row[f"word_ratio_{name}"] == pytest.approx(ratio)
        seconds = row["babybert_seconds_to_reach"][name]
        assert seconds == seconds_to_reach(report["babybert_curve"], row[name]["word_accuracy"])
        if ratio >= 1:  # BabyBERT's own run of this budget reached it: no later than the budget
            assert seconds is not None and seconds <= row["budget"]
    assert sorted(b for b, _ in report["babybert_curve"]) == [0.5, 1, 2]

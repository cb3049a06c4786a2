"""Minimal pairs judged by pseudo-log-likelihood: the PLL itself (checked against a plain-transformers
PLL that shares none of our code), the pairs' accuracies, reading pairs, and the CLI."""

import gzip
import json
import math

import pytest
import torch

from babybert import load_checkpoint
from babybert.analysis.grammar import (Accuracy, MinimalPair, compare, first_of_each, is_pairs_file, read_pairs,
                                       score_pairs)
from babybert.analysis.pll import masked_rows, score_sentences
from babybert.cli import main
from babybert.errors import UserError

from . import independent_scorer
from .test_hub_dataset import jsonl, parquet

# the tiny model's own sentences (tests/conftest.py, animal_corpus), and the same words in a broken order
KNOWN = ["every morning the cow says moo.", "then the dog eats some meat.", "at night the owl sleeps in the tree."]
SCRAMBLED = ["morning every cow the moo says.", "the then eats dog meat some.", "night at owl the in sleeps tree the."]
OTHERS = ["the cat lives in the house.", "a zebra says hello.", "moo.", "the horse eats some hay every single morning."]


@pytest.fixture(scope="module")
def ckpt(checkpoint_dir):
    return load_checkpoint(checkpoint_dir)


@pytest.mark.parametrize("metric", ["original", "within_word_l2r"])
def test_pll_equals_a_plain_transformers_pll_of_each_sentence(checkpoint_dir, ckpt, metric):
    """The yardstick masks one copy at a time, with BertForPreTraining and the saved tokenizer."""
    sentences = KNOWN + SCRAMBLED + OTHERS
    ours = score_sentences(ckpt.model, ckpt.tokenizer, sentences, metric)
    theirs = independent_scorer.pseudo_log_likelihoods(checkpoint_dir, sentences, metric)
    for s, mine, yardstick in zip(sentences, ours, theirs):
        assert mine.pll == pytest.approx(yardstick, abs=1e-4), s


def test_a_sentence_scores_the_same_alone_or_in_any_batch(ckpt):
    """Rows of other sentences (longer, shorter: padding beside them) change nothing."""
    sentences = KNOWN + OTHERS
    together = score_sentences(ckpt.model, ckpt.tokenizer, sentences)
    for s, batched in zip(sentences, together):
        alone = score_sentences(ckpt.model, ckpt.tokenizer, [s])[0]
        assert alone.tokens == batched.tokens
        assert alone.logprobs == pytest.approx(batched.logprobs, abs=1e-5)


def test_a_bf16_copy_changes_the_numbers_only_slightly_and_leaves_the_model_float32(ckpt):
    sentences = KNOWN + SCRAMBLED
    exact = score_sentences(ckpt.model, ckpt.tokenizer, sentences)
    fast = score_sentences(ckpt.model, ckpt.tokenizer, sentences, bf16=True)
    for e, f in zip(exact, fast):
        assert f.tokens == e.tokens and f.pll == pytest.approx(e.pll, rel=0.05, abs=0.2)
    assert next(ckpt.model.parameters()).dtype == torch.float32


def test_every_piece_is_scored_once_and_specials_never(ckpt):
    s = score_sentences(ckpt.model, ckpt.tokenizer, ["the zebra says moo."])[0]
    assert s.tokens == ckpt.tokenizer.tokenize("the zebra says moo.")
    assert len(s.logprobs) == len(s.tokens) and all(lp <= 0 for lp in s.logprobs)
    assert not {"[CLS]", "[SEP]", "[PAD]", "[MASK]"} & set(s.tokens)
    assert s.pll == pytest.approx(sum(s.logprobs))
    assert s.words == sorted(s.words) and s.words[0] == 0  # pieces of a word together, words numbered from 0


def test_the_masked_copies_hide_the_piece_and_for_l2r_the_rest_of_its_word():
    # [CLS] un ##hap ##py cat [SEP]: word 0 has three pieces, word 1 one; then [CLS] dog [SEP] [PAD] [PAD] [PAD]
    ids = torch.tensor([[2, 10, 11, 12, 13, 3], [2, 14, 3, 0, 0, 0]])
    words = torch.tensor([[-1, 0, 0, 0, 1, -1], [-1, 0, -1, -1, -1, -1]])
    lengths, MASK = torch.tensor([6, 3]), 4
    rows, hidden, sentence, target = masked_rows(ids, lengths, words, MASK, "original")
    assert rows.tolist() == [[2, 4, 11, 12, 13, 3], [2, 10, 4, 12, 13, 3], [2, 10, 11, 4, 13, 3], [2, 10, 11, 12, 4, 3],
                             [2, 4, 3, 0, 0, 0]]
    assert sentence.tolist() == [0, 0, 0, 0, 1] and target.tolist() == [1, 2, 3, 4, 1]
    rows, hidden, _, _ = masked_rows(ids, lengths, words, MASK, "within_word_l2r")
    assert rows.tolist() == [[2, 4, 4, 4, 13, 3], [2, 10, 4, 4, 13, 3], [2, 10, 11, 4, 13, 3], [2, 10, 11, 12, 4, 3],
                             [2, 4, 3, 0, 0, 0]]
    assert (rows == MASK).tolist() == hidden.tolist()


def test_the_trained_model_prefers_its_own_sentences_to_scrambled_ones(ckpt):
    pairs = [MinimalPair(g, b, "word_order", "syntax") for g, b in zip(KNOWN, SCRAMBLED)]
    results = score_pairs(ckpt.model, ckpt.tokenizer, pairs)
    assert results.overall.right == 3 and results.overall.value == 1.0
    reversed_pairs = [MinimalPair(b, g, "word_order", "syntax") for g, b in zip(KNOWN, SCRAMBLED)]
    assert score_pairs(ckpt.model, ckpt.tokenizer, reversed_pairs).overall.right == 0


def test_accuracy_by_field_and_phenomenon(ckpt):
    known = [MinimalPair(g, b, "order_a", "syntax") for g, b in zip(KNOWN, SCRAMBLED)]
    backwards = [MinimalPair(b, g, "order_b", "morphology") for g, b in zip(KNOWN[:2], SCRAMBLED[:2])]
    results = score_pairs(ckpt.model, ckpt.tokenizer, known + backwards)
    assert (results.overall.right, results.overall.pairs) == (3, 5)
    assert {k: (v.right, v.pairs) for k, v in results.by_field.items()} == {"morphology": (0, 2), "syntax": (3, 3)}
    assert {k: (v.right, v.pairs) for k, v in results.by_phenomenon.items()} == {"order_a": (3, 3), "order_b": (0, 2)}
    out = results.to_dict()
    assert out["accuracy"] == 0.6 and out["pairs"] == 5 and out["by_field"]["syntax"]["accuracy"] == 1.0


def test_identical_sentences_tie_and_count_as_wrong(ckpt):
    results = score_pairs(ckpt.model, ckpt.tokenizer, [MinimalPair("the cow says moo.", "the cow says moo.")])
    assert results.overall.right == 0
    assert compare(ckpt.model, ckpt.tokenizer, "the cow says moo.", "the cow says moo.").preferred == "neither"


def test_wilson_intervals():
    low, high = Accuracy(5, 10).interval
    assert (round(low, 4), round(high, 4)) == (0.2366, 0.7634)
    low, high = Accuracy(0, 3).interval
    assert low == 0.0 and round(high, 4) == 0.5615
    low, high = Accuracy(1000, 1000).interval
    assert high == 1.0 and 0.99 < low < 1.0
    assert math.isnan(Accuracy(0, 0).value)


def test_compare_says_which_is_more_natural_and_which_piece_it_objects_to(ckpt):
    v = compare(ckpt.model, ckpt.tokenizer, "every morning the cow says moo.", "every morning the cow says meat.")
    assert v.preferred == "A" and v.a.pll > v.b.pll
    assert v.b.tokens[v.objection("B")] == "meat"  # the word that does not belong is the least likely piece


def test_pll_refuses_what_it_cannot_score(ckpt):
    with pytest.raises(UserError, match="sentence 2 is empty"):
        score_sentences(ckpt.model, ckpt.tokenizer, ["the cow says moo.", "  "])
    with pytest.raises(UserError, match=r"sentence 1 is \d+ tokens long .* reads at most 32; shorten it"):
        score_sentences(ckpt.model, ckpt.tokenizer, [" ".join(["the cow says moo."] * 10)])
    with pytest.raises(UserError, match="unknown PLL metric 'sum'; use one of: original, within_word_l2r"):
        score_sentences(ckpt.model, ckpt.tokenizer, ["moo."], "sum")
    with pytest.raises(UserError, match="two sentences are needed"):
        compare(ckpt.model, ckpt.tokenizer, "moo.", "")
    with pytest.raises(UserError, match="no minimal pairs"):
        score_pairs(ckpt.model, ckpt.tokenizer, [])


# ----------------------------------------------------------------------------- reading pairs

ROWS = [{"sentence_good": "the cow says moo.", "sentence_bad": "the cow say moo.", "UID": "agreement", "field": "morphology"},
        {"sentence_good": "the dog eats meat.", "sentence_bad": "the dog eat meat.", "UID": "agreement", "field": "morphology"},
        {"sentence_good": "the owl sleeps.", "sentence_bad": "owl the sleeps.", "UID": "order", "field": "syntax"}]


@pytest.mark.parametrize("name, data", [
    ("pairs.jsonl", lambda: jsonl(ROWS)),
    ("pairs.jsonl.gz", lambda: gzip.compress(jsonl(ROWS))),
    ("pairs.json", lambda: json.dumps(ROWS).encode()),
    ("pairs.parquet", lambda: parquet({k: [r[k] for r in ROWS] for k in ROWS[0]})),
])
def test_pairs_from_every_kind_of_file(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data())
    assert is_pairs_file(str(path))
    pairs = read_pairs(path)
    assert pairs == [MinimalPair(r["sentence_good"], r["sentence_bad"], r["UID"], r["field"]) for r in ROWS]
    assert [p.phenomenon for p in read_pairs(path, max_pairs=1)] == ["agreement", "order"]  # the first of each


def test_max_pairs_keeps_the_first_of_each_phenomenon_in_order():
    pairs = [MinimalPair(f"g{i}", f"b{i}", "ab"[i % 2]) for i in range(7)]
    assert [p.good for p in first_of_each(pairs, 2)] == ["g0", "g1", "g2", "g3"]
    assert first_of_each(pairs, None) == pairs
    with pytest.raises(UserError, match="--max-pairs must be at least 1"):
        first_of_each(pairs, 0)


def test_a_file_without_uid_or_field_is_one_group(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_bytes(jsonl([{"sentence_good": "a b.", "sentence_bad": "b a."}]))
    assert read_pairs(path) == [MinimalPair("a b.", "b a.", "pairs", "all")]


@pytest.mark.parametrize("name, content, message", [
    ("none.jsonl", None, "is not a file; give a .jsonl, .jsonl.gz, .json or .parquet file of minimal pairs"),
    ("empty.jsonl", b"", "holds no minimal pairs; each row needs the fields 'sentence_good' and 'sentence_bad'"),
    ("fields.jsonl", jsonl([{"good": "a.", "bad": "b."}]),
     "row 1 of fields.jsonl has no field 'sentence_good' or 'sentence_bad'; .* its fields are: good, bad"),
    ("blank.jsonl", jsonl([ROWS[0], {"sentence_good": "a.", "sentence_bad": " "}]), "row 2 of blank.jsonl: sentence_bad is empty"),
    ("broken.jsonl", b'{"sentence_good": "a."\n', "line 1 of broken.jsonl is not JSON"),
    ("broken.jsonl.gz", b"not gzip at all", r"broken.jsonl.gz is not readable \(BadGzipFile"),
    ("broken.parquet", b"PAR1 not really", "broken.parquet is not a readable parquet file"),
    ("pairs.csv", b"sentence_good,sentence_bad\n", "pairs.csv: unknown kind of file; minimal pairs are read from"),
    ("list.json", json.dumps(["a", "b"]).encode(), "row 1 of list.json is not an object"),
])
def test_bad_pair_files_are_told_clearly(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UserError, match=message):
        read_pairs(path)


def test_a_file_or_a_hub_dataset():
    assert not is_pairs_file("nyu-mll/blimp") and not is_pairs_file("nyu-mll/blimp:adjunct_island")
    assert is_pairs_file("blimp.jsonl.gz") and is_pairs_file("./nyu-mll/blimp") and is_pairs_file("data/x/pairs")


# ----------------------------------------------------------------------------- the command line

def test_the_cli_prints_fields_and_overall_and_json_last(checkpoint_dir, tmp_path, capsys):
    path = tmp_path / "pairs.jsonl"
    rows = [{"sentence_good": g, "sentence_bad": b, "UID": "order", "field": "syntax"} for g, b in zip(KNOWN, SCRAMBLED)]
    path.write_bytes(jsonl(rows + [{**ROWS[0], "UID": "agreement"}]))
    assert main(["minimal-pairs", str(checkpoint_dir), "--pairs", str(path), "--precision", "fp32"]) == 0
    out = capsys.readouterr().out
    assert "4 minimal pairs (2 phenomena)" in out and "(original, fp32)" in out
    assert [line.split()[:2] for line in out.splitlines()[2:5]] == [["morphology", "1"], ["syntax", "3"], ["overall", "4"]]
    assert out.splitlines()[3].split()[:3] == ["syntax", "3", "100.0%"] and "chance: 50.0%" in out
    assert main(["minimal-pairs", str(checkpoint_dir), "--pairs", str(path), "--json", "--max-pairs", "2",
                 "--metric", "within_word_l2r"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["pairs"] == 3 and result["metric"] == "within_word_l2r"
    assert set(result) >= {"accuracy", "pairs", "by_field", "by_phenomenon"}
    assert result["by_phenomenon"]["order"]["pairs"] == 2


def test_the_cli_tells_a_bad_pairs_file(checkpoint_dir, tmp_path, capsys):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"")
    assert main(["minimal-pairs", str(checkpoint_dir), "--pairs", str(path)]) == 2
    assert "holds no minimal pairs" in capsys.readouterr().err


# ----------------------------------------------------------------------------- a Hub dataset

BLIMP_LIKE_CARD = b"""---
configs:
- config_name: agreement
  data_files:
  - split: train
    path: agreement/train-*
- config_name: order
  data_files:
  - split: train
    path: order/train-*
---
# minimal pairs, one config per phenomenon, as nyu-mll/blimp
"""


def blimp_like(hub, name="alice/pairs"):
    """Two configs, as nyu-mll/blimp lays them out; `order` in two shards, its rows without a UID."""
    columns = lambda rows: {k: [r[k] for r in rows] for k in rows[0]}
    order = [{"sentence_good": g, "sentence_bad": b, "field": "syntax"} for g, b in zip(KNOWN, SCRAMBLED)]
    hub.add_repo(name, {"README.md": BLIMP_LIKE_CARD,
                        "agreement/train-00000-of-00001.parquet": parquet(columns(ROWS[:2])),
                        "order/train-00000-of-00002.parquet": parquet(columns(order[:2])),
                        "order/train-00001-of-00002.parquet": parquet(columns(order[2:]))}, repo_type="dataset")


def test_pairs_from_every_config_of_a_hub_dataset_or_one(hub, tmp_path):
    from babybert.hub.pairs import pairs_from_dataset
    blimp_like(hub)
    pairs = pairs_from_dataset("alice/pairs", endpoint=hub.endpoint, cache_dir=tmp_path, progress=False)
    assert [(p.phenomenon, p.field) for p in pairs] == [("agreement", "morphology")] * 2 + [("order", "syntax")] * 3
    assert [p.good for p in pairs[2:]] == KNOWN  # the shards in order, every row
    second_shard = lambda: sum(r.method == "GET" and r.path.endswith("order/train-00001-of-00002.parquet")
                               for r in hub.requests)
    assert second_shard() == 1
    one = pairs_from_dataset("alice/pairs:order", max_pairs=2, endpoint=hub.endpoint, cache_dir=tmp_path / "fresh",
                             progress=False)
    assert [p.good for p in one] == KNOWN[:2]
    assert second_shard() == 1  # the first shard holds the 2 pairs asked for: the second is not downloaded


@pytest.mark.parametrize("spec, message", [
    ("alice/pairs:nope", "alice/pairs has no config 'nope'; it has: agreement, order"),
    ("alice/missing", "dataset alice/missing not found"),
    ("alice/texts", r"row 1 of alice/texts has no field 'sentence_good' or 'sentence_bad'"),
])
def test_hub_dataset_errors(hub, tmp_path, spec, message):
    from babybert.hub.pairs import pairs_from_dataset
    blimp_like(hub)
    hub.add_repo("alice/texts", {"train.jsonl": jsonl([{"text": "a b."}])}, repo_type="dataset")
    with pytest.raises(UserError, match=message):
        pairs_from_dataset(spec, endpoint=hub.endpoint, cache_dir=tmp_path, progress=False)


def test_the_cli_scores_a_hub_dataset(hub, checkpoint_dir, capsys):
    blimp_like(hub)
    assert main(["minimal-pairs", str(checkpoint_dir), "--pairs", "alice/pairs", "--endpoint", hub.endpoint,
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["pairs"] == 5 and set(result["by_phenomenon"]) == {"agreement", "order"}
    assert result["by_phenomenon"]["order"]["accuracy"] == 1.0


# ----------------------------------------------------------------------------- judged while training

def test_a_training_judges_the_pairs_at_every_evaluation_and_records_them(documents, tmp_path):
    from babybert import Done, Eval, train
    from babybert.bert.checkpoint import INFO, read_json

    from .conftest import TINY_MODEL, tiny_train_config
    path = tmp_path / "pairs.jsonl"
    path.write_bytes(jsonl([{"sentence_good": g, "sentence_bad": b, "UID": "order", "field": "syntax"}
                            for g, b in zip(KNOWN, SCRAMBLED)] + [{**ROWS[0]}]))
    config = tiny_train_config(max_steps=40, eval_every=20, minimal_pairs=str(path))
    events = list(train(documents, TINY_MODEL, config, out_dir=tmp_path / "run"))
    evals, done = [e for e in events if isinstance(e, Eval)], events[-1]
    assert [e.step for e in evals] == [20, 40] and all(e.metrics.minimal_pairs == 4 for e in evals)
    assert isinstance(done, Done)
    # the final number is the final model's, as score_pairs gives it
    again = score_pairs(done.model, done.tokenizer, read_pairs(path))
    assert done.metrics.minimal_pair_accuracy == again.overall.value
    assert done.metrics.minimal_pair_fields == {k: v.value for k, v in again.by_field.items()}
    info = read_json(tmp_path / "run" / INFO)
    assert info["metrics"]["minimal_pair_accuracy"] == again.overall.value
    assert [h["minimal_pairs"] for h in info["eval_history"]] == [4, 4]
    from babybert.analysis.runs import Run, table
    headers, rows = table([Run.from_info(info)])  # the runs table (CLI runs, the app) shows it
    assert rows[0][headers.index("pairs acc.")] == f"{100 * again.overall.value:.1f}%"
    assert "minimal pairs known, by pseudo-log-likelihood" in (tmp_path / "run" / "README.md").read_text()


def test_pairs_that_cannot_be_judged_are_refused_before_training(documents, tmp_path):
    from babybert import Start, train

    from .conftest import TINY_MODEL, tiny_train_config
    path = tmp_path / "bad.jsonl"
    path.write_bytes(jsonl([{"sentence_good": "a."}]))
    with pytest.raises(UserError, match="row 1 of bad.jsonl has no field 'sentence_bad'"):
        next(iter(train(documents, TINY_MODEL, tiny_train_config(minimal_pairs=str(path)))))
    long = tmp_path / "long.jsonl"
    long.write_bytes(jsonl([{"sentence_good": "the cow says moo. " * 9, "sentence_bad": "moo."}]))
    events = train(documents, TINY_MODEL, tiny_train_config(minimal_pairs=str(long)))
    with pytest.raises(UserError, match=r"minimal pair 1: its sentence_good is \d+ tokens long .* reads at most 32"):
        for event in events:
            assert not isinstance(event, Start)  # refused before the first step


def test_the_app_ticks_a_box_for_the_example_pairs_and_takes_no_path():
    from babybert.server.inputs import make_configs
    from babybert.server.limits import Limits
    limits = Limits()
    assert make_configs(limits, minimal_pairs=True)[1].minimal_pairs == "examples"
    assert make_configs(limits, minimal_pairs=False)[1].minimal_pairs is None
    assert make_configs(limits)[1].minimal_pairs is None  # off unless ticked
    with pytest.raises(UserError, match="grammar check must be true or false, got '/etc/passwd'"):
        make_configs(limits, minimal_pairs="/etc/passwd")


def test_the_example_pairs_are_what_their_generator_writes(tmp_path):
    """examples/minimal_pairs.jsonl: 12 phenomena x 20 distinct pairs, remade byte for byte by its script."""
    import subprocess
    import sys

    from babybert.paths import EXAMPLE_PAIRS
    out = tmp_path / "pairs.jsonl"
    subprocess.run([sys.executable, str(EXAMPLE_PAIRS.with_name("generate_minimal_pairs.py")), "--out", str(out)],
                   check=True, capture_output=True)
    assert out.read_bytes() == EXAMPLE_PAIRS.read_bytes()
    pairs = read_pairs(EXAMPLE_PAIRS)
    counts = {}
    for p in pairs:
        counts[p.phenomenon] = counts.get(p.phenomenon, 0) + 1
        assert p.good != p.bad and p.good.endswith(".") and p.bad.endswith(".")
    assert len(counts) == 12 and set(counts.values()) == {20} and len(set(pairs)) == 240
    assert {p.field for p in pairs} == {"morphology", "syntax", "semantics", "syntax_semantics"}


def test_a_bert_made_by_transformers_in_googles_layout_is_scored_the_same(tmp_path):
    """config.json, weights and a classic vocab.txt (no tokenizer.json), as google/bert_uncased_* ship."""
    from .test_hub import transformers_bert
    _, _, folder = transformers_bert(tmp_path)
    ckpt = load_checkpoint(folder)
    sentences = ["the cow says moo.", "the dog says woof, the cat says meow.", "a cow lives in a barn."]
    for metric in ("original", "within_word_l2r"):
        ours = [s.pll for s in score_sentences(ckpt.model, ckpt.tokenizer, sentences, metric)]
        assert ours == pytest.approx(independent_scorer.pseudo_log_likelihoods(folder, sentences, metric), abs=1e-4)

"""`babybert.analysis.evaluate` against an evaluator that shares none of its code (tests/independent_scorer.py:
plain transformers, one sentence at a time, its own masking and pairs), on the same held-out
sentences of a trained checkpoint. Piece, whole-word and NSP accuracy must agree within sampling
noise, so a future change to batching or scoring cannot fool both at once.

The tolerance is three standard errors of the difference between two independent estimates,
from each side's own sample size (both scorers are seeded, so a given version of the code always
gives the same numbers). Before the batching fix, BabyBERT's own evaluation read 26.9% piece and
42.6% whole-word accuracy where this evaluator reads 10.2% and 6.7% (the default checkpoint on
the short stories).
"""

import math
from pathlib import Path

from babybert import load_checkpoint, parse_corpus, read_corpus, split_corpus
from babybert.analysis.evaluate import evaluate

from . import independent_scorer

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "checkpoints" / "babybert-default"


def compare(checkpoint: Path, documents: list[list[str]]) -> list[tuple[str, float, float, float]]:
    """(metric, ours, theirs, tolerance), after checking that both scored as much."""
    ckpt = load_checkpoint(checkpoint)
    ours = evaluate(ckpt.model, ckpt.tokenizer, documents)
    theirs = independent_scorer.score(checkpoint, documents)
    assert abs(ours.masked_tokens - theirs.pieces) <= 0.05 * theirs.pieces  # the same amount of evidence
    assert abs(ours.masked_words - theirs.words) <= 0.05 * theirs.words
    assert ours.nsp_pairs == theirs.pairs

    def noise(p: float, q: float, n: int, m: int) -> float:
        return 3 * math.sqrt(p * (1 - p) / n + q * (1 - q) / m)
    return [
        ("piece accuracy", ours.mlm_accuracy, theirs.piece_accuracy,
         noise(ours.mlm_accuracy, theirs.piece_accuracy, ours.masked_tokens, theirs.pieces)),
        ("whole-word accuracy", ours.word_accuracy, theirs.word_accuracy,
         noise(ours.word_accuracy, theirs.word_accuracy, ours.masked_words, theirs.words)),
        ("NSP accuracy", ours.nsp_accuracy, theirs.nsp_accuracy,
         noise(ours.nsp_accuracy, theirs.nsp_accuracy, ours.nsp_pairs, theirs.pairs)),
    ]


def assert_agree(rows) -> None:
    report = "\n".join(f"  {name}: babybert {a:.1%}, independent {b:.1%} (tolerance {tol:.1%})"
                       for name, a, b, tol in rows)
    assert all(abs(a - b) <= tol for _, a, b, tol in rows), "the two evaluators disagree:\n" + report
    assert all(tol < 0.06 for *_, tol in rows), "too few samples to tell:\n" + report


def test_default_checkpoint_on_its_held_out_split_scores_the_same_both_ways():
    """The published model and number: world facts, where NSP is well above chance."""
    held_out = split_corpus(read_corpus(ROOT / "examples" / "world_facts.txt"))[1]
    rows = compare(DEFAULT, held_out)
    assert rows[2][1] > 0.6  # a model that learned NSP, or agreement at chance would prove little
    assert_agree(rows)


def test_default_checkpoint_on_unseen_prose_of_varied_lengths_scores_the_same_both_ways():
    """Text it never saw, with sentences of 3 to 40 words: where a batch of mixed lengths shows."""
    docs = [d for name in ("short_stories.txt", "simple_science.txt")
            for d in parse_corpus((ROOT / "examples" / name).read_text(encoding="utf-8"))]
    rows = compare(DEFAULT, docs)
    assert rows[0][2] > 0.05  # above nothing: function words and punctuation are known
    assert_agree(rows[:2])  # NSP is at chance on text of another kind: agreement there proves nothing

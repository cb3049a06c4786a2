"""Fill-mask, next-sentence prediction, attention and held-out evaluation on a trained tiny model."""

import pytest
import torch

from babybert import attention, fill_mask, next_sentence
from babybert import evaluate
from babybert.analysis.predict import mask_examples
from babybert.errors import UserError


def test_fill_mask_several_masks_any_case(trained, documents):
    results = fill_mask(trained.model, trained.tokenizer, "every morning the cow says [mask]. then the [MASK] eats", top_k=3)
    assert len(results) == 2 and all(len(r) == 3 for r in results)
    for r in results:
        scores = [c.score for c in r]
        assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1 + 1e-6
        assert not {c.token for c in r} & {"[PAD]", "[CLS]", "[SEP]", "[MASK]"}
    # the tiny model knows a sound goes there, and the cow's among its first three (it mixes the sounds up)
    sounds = {s.split(" says ")[1].rstrip(".") for d in documents for s in d if " says " in s}
    assert {c.token for c in results[0]} <= sounds and "moo" in {c.token for c in results[0]}


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("   ", "empty"),
    ("no mask here", "no \\[MASK\\]"),
    ("the cow " * 40 + "[MASK]", "at most 32"),
])
def test_fill_mask_errors(trained, text, message):
    with pytest.raises(UserError, match=message):
        fill_mask(trained.model, trained.tokenizer, text)


def test_next_sentence_probability(trained):
    p = next_sentence(trained.model, trained.tokenizer, "the cow lives in the farm.", "every morning the cow says moo.")
    assert 0.0 <= p <= 1.0
    with pytest.raises(UserError, match="both sentences"):
        next_sentence(trained.model, trained.tokenizer, "a sentence.", " ")


def test_attention_maps(trained):
    tokens, maps = attention(trained.model, trained.tokenizer, "the cow says [MASK].")
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]" and "[MASK]" in tokens
    assert len(maps) == trained.model.config.num_hidden_layers
    assert maps[0].shape == (trained.model.config.num_attention_heads, len(tokens), len(tokens))
    torch.testing.assert_close(maps[1].sum(-1), torch.ones(maps[1].shape[:-1]))


def test_evaluate_is_deterministic_and_beats_the_baseline(trained, documents):
    held_out = documents[-5:]
    a = evaluate(trained.model, trained.tokenizer, held_out, seed=0)
    b = evaluate(trained.model, trained.tokenizer, held_out, seed=0)
    assert a == b
    assert a.mlm_accuracy > a.baseline_accuracy + 0.2
    assert a.mlm_perplexity == pytest.approx(torch.tensor(a.mlm_loss).exp().item(), rel=1e-6)
    assert 0 <= a.word_accuracy <= 1 and a.masked_words >= sum(len(d) for d in held_out)  # >= one word per sentence
    assert a.nsp_pairs == sum(len(d) - 1 for d in held_out) and 0 <= a.nsp_accuracy <= 1


def test_untrained_model_scores_near_nothing(trained, documents):
    from babybert import BabyBert
    torch.manual_seed(0)
    fresh = BabyBert(trained.model.config)
    m = evaluate(fresh, trained.tokenizer, documents[-5:], seed=0)
    # random weights guess about one token everywhere: no better than the most-frequent-piece baseline
    assert m.mlm_accuracy <= m.baseline_accuracy + 0.1 and m.mlm_perplexity > 50


def test_mask_examples_hide_one_word_the_model_knows(trained):
    tok = trained.tokenizer
    sentences = ["every morning the cow says moo.", "then the duck eats some bread.", "zzqx vvkj!", "the owl."]
    examples = mask_examples(tok, sentences, n=5)
    assert examples == ["every morning the cow says [MASK].", "then the duck eats some [MASK].", "the [MASK]."]
    assert mask_examples(tok, sentences, n=1) == examples[:1]

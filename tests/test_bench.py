"""The benchmark compares like with like: both contenders train on the very same examples."""

import torch

from babybert.bench import _babybert_runner, _transformers_runner, recipe_example
from babybert.config import ModelConfig
from babybert.data import SpecialIds, draw_pairs, encode_corpus
from babybert.tokenizer import train_tokenizer


def test_contenders_see_the_same_tokens(documents):
    tok = train_tokenizer((s for d in documents for s in d), vocab_size=200)
    config = ModelConfig(vocab_size=len(tok), hidden_size=32, num_attention_heads=2, intermediate_size=64,
                         max_position_embeddings=32)
    enc = encode_corpus(documents, tok, 32)
    ids = SpecialIds.from_tokenizer(tok)
    a, b, label = draw_pairs(enc, torch.Generator().manual_seed(0))
    rows = torch.arange(8)
    features = {i: recipe_example(enc, ids, a, b, label, i, 32) for i in range(8)}
    ours = _babybert_runner(enc, ids, config, a, b, label, seed=0)
    theirs = _transformers_runner(features, tok, config, seed=0)
    n_ours, n_theirs = ours(rows), theirs(rows)
    assert n_ours == n_theirs == sum(len(f["input_ids"]) for f in features.values())
    sentences = [s for d in documents for s in d]
    for i, f in features.items():  # and each is the pair itself, as the tokenizer makes it
        expected = tok(sentences[a[i]], sentences[b[i]], truncation="longest_first", max_length=32)
        assert f["input_ids"] == expected["input_ids"] and f["token_type_ids"] == expected["token_type_ids"]

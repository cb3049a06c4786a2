"""Shared fixtures: a tiny corpus and a tiny trained checkpoint, built once per test session."""

from __future__ import annotations

import pytest

from babybert import ModelConfig, TrainConfig, parse_corpus, train
from babybert.train import Done

ANIMALS = [("cow", "moo", "grass", "farm"), ("dog", "woof", "meat", "house"), ("cat", "meow", "fish", "barn"),
           ("duck", "quack", "bread", "pond"), ("sheep", "baa", "hay", "field"), ("owl", "hoot", "mice", "tree")]


def animal_corpus(n_docs: int = 48) -> str:
    """Documents of four consecutive sentences about one animal each: regular enough that a tiny
    model learns both the words (MLM) and the order (NSP) within a few hundred steps."""
    docs = []
    for i in range(n_docs):
        a, sound, food, home = ANIMALS[i % len(ANIMALS)]
        docs.append(f"the {a} lives in the {home}.\nevery morning the {a} says {sound}.\n"
                    f"then the {a} eats some {food}.\nat night the {a} sleeps in the {home}.")
    return "\n\n".join(docs) + "\n"


TINY_MODEL = ModelConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                         max_position_embeddings=32)


def tiny_train_config(**overrides) -> TrainConfig:
    settings = dict(epochs=None, max_steps=60, batch_size=16, lr=3e-3, eval_every=0, vocab_size=200, seed=0)
    settings.update(overrides)
    return TrainConfig(**settings)


@pytest.fixture(scope="session")
def corpus_text() -> str:
    return animal_corpus()


@pytest.fixture(scope="session")
def documents(corpus_text):
    return parse_corpus(corpus_text)


@pytest.fixture(scope="session")
def trained(tmp_path_factory, documents) -> Done:
    """A tiny model trained for 300 steps and saved; shared by tests that only read it."""
    out = tmp_path_factory.mktemp("ckpt") / "tiny"
    events = list(train(documents, TINY_MODEL, tiny_train_config(max_steps=300), out_dir=out, corpus_name="animals"))
    return events[-1]


@pytest.fixture(scope="session")
def checkpoint_dir(trained):
    return trained.checkpoint

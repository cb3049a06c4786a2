"""What a user sends the app, checked: the corpus (typed, uploaded or an example), the training
settings, the tokenizer choice. Every problem is a ValueError whose message says what to do.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

from babybert.config import ModelConfig, TrainConfig, estimate_parameters
from babybert.data.corpus import check_text, decode_text, parse_corpus
from babybert.paths import EXAMPLES_DIR
from babybert.server.limits import Limits


# what the Train tab's controls start at: a useful model in about a minute on 2 CPU cores
_M, _T = ModelConfig(), TrainConfig()  # one recipe: the app starts from train()'s own defaults


DEFAULT_SETTINGS = dict(tasks=[t.upper() for t in _T.tasks], vocab_size=_T.vocab_size, hidden_size=_M.hidden_size,
                        num_layers=_M.num_hidden_layers, num_heads=_M.num_attention_heads,
                        intermediate_size=_M.intermediate_size, max_seq_len=_M.max_position_embeddings,
                        batch_size=_T.batch_size, epochs=_T.epochs, lr=_T.lr, mask_prob=_T.mask_prob, time_budget=60, seed=_T.seed)


def example_corpora() -> dict[str, Path]:
    return {p.name: p for p in sorted(EXAMPLES_DIR.glob("*.txt"))}


def corpus_summary(text: str) -> str:
    """Live statistics for the corpus box (approximate tokens: words and punctuation)."""
    docs = parse_corpus(text or "")
    sentences = sum(len(d) for d in docs)
    words = sum(len(s.split()) for d in docs for s in d)
    tokens = round(words * 1.25)
    return f"**{len(docs):,}** documents · **{sentences:,}** sentences · ~**{tokens:,}** tokens · {len(text or ''):,} characters"


def read_upload(path: str | Path, limits: Limits) -> str:
    data = Path(path).read_bytes()
    if len(data) > 4 * limits.max_corpus_chars:
        raise ValueError(f"the file is {len(data):,} bytes; this server takes corpora up to {limits.max_corpus_chars:,} characters")
    return decode_text(data, Path(path).name)


def check_corpus(text: str, limits: Limits) -> list[list[str]]:
    if not isinstance(text, str) or not text.strip():
        raise ValueError("the corpus is empty: paste some text (one sentence per line, a blank line between documents) or pick an example")
    if len(text) > limits.max_corpus_chars:
        raise ValueError(f"the corpus has {len(text):,} characters; this server takes up to {limits.max_corpus_chars:,}")
    check_text(text)
    docs = parse_corpus(text)
    if sum(len(d) for d in docs) < 2:
        raise ValueError("the corpus needs at least two sentences (one per line)")
    return docs


def number(name: str, value, low: float | None = None, high: float | None = None) -> float:
    """A finite number within [low, high], from whatever a client sent (sliders can be bypassed)."""
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(x):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if (low is not None and x < low) or (high is not None and x > high):
        bounds = f"between {low:g} and {high:g}" if low is not None and high is not None else \
            f"at least {low:g}" if low is not None else f"at most {high:g}"
        raise ValueError(f"{name} must be {bounds}, got {value!r}")
    return x


def whole(name: str, value, low: int = 1, high: int | None = None) -> int:
    x = number(name, value)
    if x != int(x):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    return int(number(name, x, low, high))


MAX_BATCH_SIZE, MAX_SEED = 1024, 2**32 - 1


def make_configs(limits: Limits, *, tasks: list[str], vocab_size, hidden_size, num_layers, num_heads, intermediate_size,
                 max_seq_len, batch_size, epochs, lr, mask_prob, time_budget, seed) -> tuple[ModelConfig, TrainConfig]:
    """Slider values -> validated configs; every problem is a ValueError a user can act on."""
    def positive(name, value):
        x = number(name, value)
        if not x > 0:
            raise ValueError(f"{name} must be positive, got {value!r}")
        return x
    if isinstance(tasks, str):
        tasks = [tasks]
    if not tasks or not isinstance(tasks, (list, tuple)) or not all(isinstance(t, str) for t in tasks):
        raise ValueError("choose at least one task: MLM, NSP or both")
    model_config = ModelConfig(vocab_size=whole("vocabulary size", vocab_size, 32), hidden_size=whole("hidden size", hidden_size),
                               num_hidden_layers=whole("layers", num_layers), num_attention_heads=whole("heads", num_heads),
                               intermediate_size=whole("feed-forward size", intermediate_size),
                               max_position_embeddings=whole("max sequence length", max_seq_len, 8))
    model_config.validate()
    try:
        budget = number("time budget", time_budget, 1, limits.max_train_seconds)
    except ValueError:
        raise ValueError(f"the time budget must be between 1 and {limits.max_train_seconds} seconds on this server, "
                         f"got {time_budget!r}") from None
    config = TrainConfig(tasks=tuple(t.lower() for t in tasks), epochs=positive("epochs", epochs) if epochs else None,
                         time_budget=budget, batch_size=whole("batch size", batch_size, 1, MAX_BATCH_SIZE),
                         lr=positive("learning rate", lr), mask_prob=positive("mask probability", mask_prob),
                         vocab_size=model_config.vocab_size, seed=whole("seed", seed, 0, MAX_SEED),
                         eval_every=100, eval_sentences=500)
    config.validate()
    params = estimate_parameters(model_config)
    if params > limits.max_parameters:
        raise ValueError(f"that model would have ~{params:,} parameters; this server trains up to {limits.max_parameters:,}. "
                         "Make it smaller (hidden size, layers, feed-forward size or vocabulary).")
    return model_config, config


def tokenizer_choice(tokenizer_from, tokenizer_repo, start_from) -> str | None:
    """The Hub repository whose tokenizer a new model is to use, or None (a WordPiece learned from
    the corpus); a repository id is checked for form only here (downloading it takes a while)."""
    from babybert.hub.repos import valid_repo_id

    if tokenizer_from in (None, "", "corpus"):
        return None
    if tokenizer_from != "hub":
        raise ValueError(f"unknown tokenizer choice {tokenizer_from!r}: choose corpus or hub")
    if start_from == "continue":
        raise ValueError("a model trained further keeps its own tokenizer: choose 'from scratch' to train a new "
                         "model with a published tokenizer, or 'train a WordPiece on my corpus'")
    return valid_repo_id(tokenizer_repo if isinstance(tokenizer_repo, str) else "", "tokenizer repository")


def with_tokenizer(model_config: ModelConfig, config: TrainConfig, tokenizer, limits: Limits):
    """The configs for a published tokenizer: its vocabulary size, within the server's model limit."""
    vocab = len(tokenizer)
    model_config = ModelConfig(**{**vars(model_config), "vocab_size": vocab})
    params = estimate_parameters(model_config)
    if params > limits.max_parameters:
        raise ValueError(f"with the {vocab:,}-piece vocabulary of that tokenizer the model would have ~{params:,} "
                         f"parameters; this server trains up to {limits.max_parameters:,}. Make the hidden size smaller.")
    return model_config, replace(config, vocab_size=vocab)


def check_settings(limits: Limits, **settings) -> str:
    """A line under the controls, refreshed as they change, so a bad combination is explained
    before Start is pressed."""
    try:
        model_config, _ = make_configs(limits, **settings)
    except ValueError as e:
        return f"**These settings will not train:** {e}"
    return (f"Settings OK: about **{estimate_parameters(model_config):,}** parameters "
            f"(this server trains up to {limits.max_parameters:,}); the vocabulary may come out smaller on a small corpus.")

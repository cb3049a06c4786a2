"""What a user sends the app, checked: the corpus (typed, uploaded or an example), the training
settings, the tokenizer choice. Every problem is a UserError whose message says what to do.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from babybert.config import (ModelConfig, TrainConfig, app_values, as_number, build, estimate_parameters, field_type,
                             settings)
from babybert.errors import UserError
from babybert.data.corpus import check_text, decode_text, parse_corpus
from babybert.paths import EXAMPLES_DIR
from babybert.server.limits import Limits


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
        raise UserError(f"the file is {len(data):,} bytes; this server takes corpora up to {limits.max_corpus_chars:,} characters")
    return decode_text(data, Path(path).name)


def check_corpus(text: str, limits: Limits) -> list[list[str]]:
    if not isinstance(text, str) or not text.strip():
        raise UserError("the corpus is empty: paste some text (one sentence per line, a blank line between documents) or pick an example")
    if len(text) > limits.max_corpus_chars:
        raise UserError(f"the corpus has {len(text):,} characters; this server takes up to {limits.max_corpus_chars:,}")
    check_text(text)
    docs = parse_corpus(text)
    if sum(len(d) for d in docs) < 2:
        raise UserError("the corpus needs at least two sentences (one per line)")
    return docs


def whole(name: str, value, low: int = 1, high: int | None = None) -> int:
    """A whole number within [low, high], from whatever a client sent (sliders can be bypassed)."""
    return as_number(value, name, whole=True, low=low, high=high)


# ----------------------------------------------------------------------------- the training settings

MAX_BATCH_SIZE = 1024  # a server's cap (the command line has none)
MODEL_SETTINGS = [f.name for f, _ in settings(ModelConfig)]
APP_SETTINGS = [f.name for cls in (ModelConfig, TrainConfig) for f, s in settings(cls) if s.control]  # the controls
APP_VALUES = {**app_values(ModelConfig), **app_values(TrainConfig)}  # what the app trains with, untouched
CHECKBOXES = {f.name: s.control.on for cls in (ModelConfig, TrainConfig) for f, s in settings(cls)
              if s.control and s.control.kind == "checkbox"}  # setting -> the value a ticked box stands for


def label(name: str) -> str:
    """How the app names a setting in its messages: its control's label ("batch size"), else its name."""
    found = next((s for cls in (ModelConfig, TrainConfig) for f, s in settings(cls) if f.name == name), None)
    text = found.control.label.split(" (")[0] if found and found.control else name.replace("_", " ")
    return text[:1].lower() + text[1:]


def app_controls(caps: dict[str, float]) -> dict[str, list[tuple[str, object, object, bool]]]:
    """The app's controls by section ("" first, then the accordions): (setting, its Control, the value
    it starts at, whether it takes whole numbers). `caps` are a server's maximums (the time budget's)."""
    sections: dict[str, list] = {}
    for cls in (ModelConfig, TrainConfig):
        for f, s in settings(cls):
            if s.control is not None:
                control = s.control if f.name not in caps else replace(s.control, maximum=caps[f.name])
                value = APP_VALUES[f.name]
                if control.kind == "checkbox":
                    value = value is not None and value == control.on
                if control.maximum is not None and isinstance(value, (int, float)):
                    value = min(value, control.maximum)
                sections.setdefault(control.section, []).append((f.name, control, value, field_type(cls, f.name)[0] is int))
    return dict(sorted(sections.items(), key=lambda item: item[0] != ""))


def make_configs(limits: Limits, **values) -> tuple[ModelConfig, TrainConfig]:
    """The app's setting values (by their config names; those not given keep the app's) -> validated
    configs, within this server's limits; every problem is a UserError in the app's words."""
    values = {**APP_VALUES, **values}
    for name, on in CHECKBOXES.items():  # ticked or not: the value it stands for, never one a client names
        if values[name] not in (True, False, None, on):
            raise UserError(f"{label(name)} must be true or false, got {values[name]!r}")
        values[name] = on if values[name] in (True, on) else None
    if values["tasks"] in (None, [], (), ""):
        raise UserError("choose at least one task: MLM, NSP or both")
    if values["epochs"] in (0, "", None):  # an empty or zero box: no limit but the time
        values["epochs"] = None
    budget = values["time_budget"]
    try:
        as_number(budget, "time budget", low=1, high=limits.max_train_seconds)
    except UserError:
        raise UserError(f"the time budget must be between 1 and {limits.max_train_seconds} seconds on this server, "
                        f"got {budget!r}") from None
    whole(label("batch_size"), values["batch_size"], 1, MAX_BATCH_SIZE)
    config = build(TrainConfig, {k: v for k, v in values.items() if k not in MODEL_SETTINGS}, label)
    model_config = build(ModelConfig, {k: v for k, v in values.items() if k in MODEL_SETTINGS}, label)
    model_config.vocab_size = config.vocab_size  # what the tokenizer is asked for; its real size replaces it
    params = estimate_parameters(model_config)
    if params > limits.max_parameters:
        raise UserError(f"that model would have ~{params:,} parameters; this server trains up to "
                        f"{limits.max_parameters:,}. Make it smaller (hidden size, layers, feed-forward size or "
                        "vocabulary).")
    return model_config, config


def tokenizer_choice(tokenizer_from, tokenizer_repo, start_from) -> str | None:
    """The Hub repository whose tokenizer a new model is to use, or None (a WordPiece learned from
    the corpus); a repository id is checked for form only here (downloading it takes a while)."""
    from babybert.hub.repos import valid_repo_id

    if tokenizer_from in (None, "", "corpus"):
        return None
    if tokenizer_from != "hub":
        raise UserError(f"unknown tokenizer choice {tokenizer_from!r}: choose corpus or hub")
    if start_from == "continue":
        raise UserError("a model trained further keeps its own tokenizer: choose 'from scratch' to train a new "
                         "model with a published tokenizer, or 'train a WordPiece on my corpus'")
    return valid_repo_id(tokenizer_repo if isinstance(tokenizer_repo, str) else "", "tokenizer repository")


def with_tokenizer(model_config: ModelConfig, config: TrainConfig, tokenizer, limits: Limits):
    """The configs for a published tokenizer: its vocabulary size, within the server's model limit."""
    vocab = len(tokenizer)
    model_config = ModelConfig(**{**vars(model_config), "vocab_size": vocab})
    params = estimate_parameters(model_config)
    if params > limits.max_parameters:
        raise UserError(f"with the {vocab:,}-piece vocabulary of that tokenizer the model would have ~{params:,} "
                         f"parameters; this server trains up to {limits.max_parameters:,}. Make the hidden size smaller.")
    return model_config, replace(config, vocab_size=vocab)


def check_settings(limits: Limits, **values) -> str:
    """A line under the controls, refreshed as they change, so a bad combination is explained
    before Start is pressed."""
    try:
        model_config, _ = make_configs(limits, **values)
    except UserError as e:
        return f"**These settings will not train:** {e}"
    return (f"Settings OK: about **{estimate_parameters(model_config):,}** parameters "
            f"(this server trains up to {limits.max_parameters:,}); the vocabulary may come out smaller on a small corpus.")

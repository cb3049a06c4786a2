"""The two configs: the model's shape (saved as a transformers `BertConfig`) and how to train it.

This is the one place a setting is declared: a field with its default, the range it may take, its
help text, its short label and, when the app shows it, its control. The CLI's flags, the app's
controls and the checks behind them, the runs table, bench and docs/settings.md are all made from
these declarations, and `validate()` is the one check. Model fields carry `transformers.BertConfig`'s
names, so `config.json` maps 1:1 and a setting has one name everywhere.

To add a training option: add a field below with `setting(...)`, use it in training/loop.py, test it.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass
from typing import Any

from babybert.errors import UserError

TASKS = ("mlm", "nsp")
MAX_SEED = 2**32 - 1


# ----------------------------------------------------------------------------- declaring a setting

@dataclass(frozen=True)
class Control:
    """How the app shows a setting: a slider (minimum, maximum, step), a number box, checkboxes (a
    tuple's choices), or one checkbox that stands for the value `on` when ticked and None when not."""
    label: str
    kind: str = "slider"  # slider | number | checkboxes | checkbox
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    section: str = ""  # "" (always shown) or the accordion it sits in: "Model size", "Training"
    on: Any = None  # a checkbox: the setting's value when it is ticked


@dataclass(frozen=True)
class Setting:
    """What a field means to a user; `dataclasses.field(metadata={"setting": ...})` carries it."""
    help: str
    label: str  # short, for tables: "layers", "lr"
    group: str  # where the CLI's help and the docs list it
    low: float | None = None  # the allowed range; None: unbounded
    high: float | None = None
    low_open: bool = False  # True: low itself is not allowed
    high_open: bool = False
    choices: tuple = ()
    aliases: tuple[str, ...] = ()  # older CLI spellings that keep working: "--num-layers"
    control: Control | None = None  # None: not in the app
    app_value: Any = None  # what the app trains with, where it differs from the default (None: the default)
    metavar: str | None = None


def setting(default, help: str, label: str, group: str, **options) -> Any:
    """A config field declared as a user setting (see `Setting` for the options)."""
    return dataclasses.field(default=default, metadata={"setting": Setting(help, label, group, **options)})


def settings(cls) -> list[tuple[dataclasses.Field, Setting]]:
    """The user settings of a config class, in declaration order."""
    return [(f, f.metadata["setting"]) for f in dataclasses.fields(cls) if "setting" in f.metadata]


def field_type(cls, name: str) -> tuple[type, bool]:
    """(the value's type, whether None is allowed): int, float, bool, str or tuple (of str)."""
    hint = typing.get_type_hints(cls)[name]
    args = typing.get_args(hint)
    optional = type(None) in args
    base = next((a for a in args if a is not type(None)), hint) if args and typing.get_origin(hint) is not tuple else hint
    return (tuple if typing.get_origin(base) is tuple else base), optional


def describe_range(s: Setting) -> str:
    """The allowed range in words: 'a positive number', 'between 0 and 1', 'at least 0 and below 1'."""
    if s.choices:
        return "one of " + ", ".join(map(str, s.choices))
    low, high = s.low, s.high
    n = lambda x: f"{int(x):,}" if float(x).is_integer() else f"{x:g}"  # noqa: E731 (4,294,967,295, not 4.29e+09)
    if low == 0 and s.low_open and high is None:
        return "a positive number"
    if low is not None and high is not None:
        if s.low_open and s.high_open:
            return f"between {n(low)} and {n(high)}"
        if not s.low_open and not s.high_open:
            return f"from {n(low)} to {n(high)}"
        return f"{'above' if s.low_open else 'at least'} {n(low)} and {'below' if s.high_open else 'at most'} {n(high)}"
    if low is not None:
        return f"{'above' if s.low_open else 'at least'} {n(low)}"
    if high is not None:
        return f"{'below' if s.high_open else 'at most'} {n(high)}"
    return ""


def check_value(cls, f: dataclasses.Field, s: Setting, value, name: str):
    """`value` as the field's type, or UserError unless it is one within the field's range. `name` is
    how the caller's user knows the setting (a flag, a label). Numbers may come as text or as a float
    with a whole value (what a slider or a JSON client sends); tasks as a list in any case."""
    kind, optional = field_type(cls, f.name)
    if value is None:
        if optional:
            return None
        raise UserError(f"{name} must be {'a number' if kind in (int, float) else 'given'}, got None")
    if kind is tuple:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or not all(isinstance(v, str) for v in items):
            raise UserError(f"{name} must be one or more of {', '.join(s.choices)}, got {value!r}")
        chosen = {v.strip().lower() for v in items}
        if not chosen or chosen - set(s.choices):
            raise UserError(f"{name} must be one or more of {', '.join(s.choices)}, got {value!r}")
        return tuple(c for c in s.choices if c in chosen)
    if kind is bool:
        if not isinstance(value, bool):
            raise UserError(f"{name} must be true or false, got {value!r}")
        return value
    if kind is str:
        if not isinstance(value, str) or (s.choices and value not in s.choices):
            raise UserError(f"{name} must be {describe_range(s)}, got {value!r}")
        return value
    number = as_number(value, name, whole=kind is int)
    below = s.low is not None and (number <= s.low if s.low_open else number < s.low)
    above = s.high is not None and (number >= s.high if s.high_open else number > s.high)
    if below or above:
        words = describe_range(s)
        if below and s.low == 0 and s.low_open and s.high is not None:
            words = f"positive ({words})"
        raise UserError(f"{name} must be {words}, got {value!r}")
    return number


def as_number(value, name: str, whole: bool = False, low: float | None = None, high: float | None = None):
    """A finite number (an int if `whole`) within [low, high], from whatever a user or a client sent:
    a number, a slider's float, text. The one place a value becomes a number."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise UserError(f"{name} must be a number, got {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(number):
        raise UserError(f"{name} must be a number, got {value!r}")
    if whole:
        if number != int(number):
            raise UserError(f"{name} must be a whole number, got {value!r}")
        number = int(number)
    if (low is not None and number < low) or (high is not None and number > high):
        bounds = f"between {low:g} and {high:g}" if low is not None and high is not None else \
            f"at least {low:g}" if low is not None else f"at most {high:g}"
        raise UserError(f"{name} must be {bounds}, got {value!r}")
    return number


def validate_fields(config, name=lambda field: field) -> None:
    """Every user setting of `config` checked against its declaration."""
    for f, s in settings(type(config)):
        value = getattr(config, f.name)
        if field_type(type(config), f.name)[0] is int and isinstance(value, float):
            raise UserError(f"{name(f.name)} must be a whole number, got {value!r}")
        check_value(type(config), f, s, value, name(f.name))


def build(cls, values: dict, name=lambda field: field):
    """A validated config from values as a user gave them (text, sliders' floats, lists of tasks):
    the settings not in `values` keep their defaults."""
    known = {f.name: (f, s) for f, s in settings(cls)}
    kwargs = {key: check_value(cls, *known[key], value, name(key)) for key, value in values.items() if key in known}
    config = cls(**kwargs)
    config.validate(name)
    return config


def app_values(cls) -> dict[str, Any]:
    """The values the app trains with: each setting's default, or its `app_value`."""
    return {f.name: (s.app_value if s.app_value is not None else f.default) for f, s in settings(cls)}


def cli_flag(name: str) -> str:
    """A setting's command-line flag: num_hidden_layers -> --num-hidden-layers."""
    return "--" + name.replace("_", "-")


def to_argv(*configs) -> list[str]:
    """The `babybert train` flags that give train() exactly these configs (bench runs the CLI with
    the app's settings this way)."""
    argv = []
    for config in configs:
        for f, _ in settings(type(config)):
            value = getattr(config, f.name)
            if value is None:
                if f.default is not None:  # (--epochs none: no limit)
                    argv += [cli_flag(f.name), "none"]
                continue
            if isinstance(value, bool):
                argv.append(cli_flag(f.name) if value else "--no-" + cli_flag(f.name)[2:])
            else:
                argv += [cli_flag(f.name), ",".join(value) if isinstance(value, tuple) else str(value)]
    return argv


# ----------------------------------------------------------------------------- the model

MODEL, LIMITS, TRAINING, DATA, EVALUATION, SAVING = ("model shape", "when to stop", "training", "tokenizer and data",
                                                    "evaluation", "saving")
_SIZE, _TRAINING = "Model size", "Training"


@dataclass
class ModelConfig:
    vocab_size: int = 4096  # WordPiece vocabulary: the trained tokenizer's real size (asked for: TrainConfig.vocab_size)
    hidden_size: int = setting(128, "width of every token vector", "hidden", MODEL, low=1,
                               control=Control("Hidden size", minimum=16, maximum=512, step=16, section=_SIZE))
    num_hidden_layers: int = setting(2, "encoder layers", "layers", MODEL, low=1, aliases=("--num-layers",),
                                     control=Control("Layers", minimum=1, maximum=8, step=1, section=_SIZE))
    num_attention_heads: int = setting(2, "attention heads; hidden_size must divide evenly into them", "heads", MODEL,
                                       low=1, aliases=("--num-heads",),
                                       control=Control("Attention heads (must divide the hidden size)", minimum=1,
                                                       maximum=8, step=1, section=_SIZE))
    intermediate_size: int = setting(512, "feed-forward width inside each layer", "ff", MODEL, low=1,
                                     control=Control("Feed-forward size", minimum=32, maximum=2048, step=32,
                                                     section=_SIZE))
    max_position_embeddings: int = setting(128, "longest input in tokens, [CLS] and [SEP]s included", "max len", MODEL,
                                           low=8, aliases=("--max-seq-len",),
                                           control=Control("Max sequence length", minimum=16, maximum=512, step=16,
                                                           section=_SIZE))
    type_vocab_size: int = 2  # segment A / segment B
    hidden_dropout_prob: float = setting(0.0, "dropout of hidden states (BERT: 0.1, which slows learning in a "
                                              "minutes-long run; --dropout sets both dropouts)", "dropout", MODEL,
                                         low=0, high=1, high_open=True)
    attention_probs_dropout_prob: float = setting(0.0, "dropout of attention weights (BERT: 0.1)", "attention dropout",
                                                  MODEL, low=0, high=1, high_open=True)
    layer_norm_eps: float = 1e-12
    initializer_range: float = setting(0.05, "std of the normal weight init (BERT: 0.02; wider learns faster at this "
                                             "size)", "init", MODEL, low=0, low_open=True, aliases=("--init-range",))
    pad_token_id: int = 0

    def validate(self, name=lambda field: field) -> None:
        """Raise UserError with a message a user can act on; `name(field)` says a setting the
        caller's way (a flag, a label)."""
        if not isinstance(self.vocab_size, int) or isinstance(self.vocab_size, bool) or self.vocab_size <= 0:
            raise UserError(f"vocab_size must be a positive whole number, got {self.vocab_size!r}")
        validate_fields(self, name)
        if self.hidden_size % self.num_attention_heads:
            raise UserError(
                f"hidden_size ({self.hidden_size}) must be divisible by num_attention_heads "
                f"({self.num_attention_heads}); try {self.num_attention_heads * max(1, self.hidden_size // self.num_attention_heads)}")

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_attention_heads

    def to_bert_config(self) -> dict:
        """The `config.json` of a `transformers.BertForPreTraining`."""
        return {
            "architectures": ["BertForPreTraining"],
            "model_type": "bert",
            **dataclasses.asdict(self),
            "hidden_act": "gelu",
            "position_embedding_type": "absolute",
            "tie_word_embeddings": True,
            "torch_dtype": "float32",
        }

    @classmethod
    def from_bert_config(cls, config: dict) -> ModelConfig:
        """Read a transformers BERT `config.json`, refusing what our model cannot represent. Google's
        original BERT configs (e.g. google/bert_uncased_L-2_H-128_A-2) have no model_type: BERT."""
        if config.get("model_type", "bert") != "bert":
            raise UserError(f"not a BERT checkpoint: config.json has model_type={config.get('model_type')!r}, expected 'bert'")
        if config.get("hidden_act", "gelu") != "gelu":
            raise UserError(f"unsupported hidden_act {config['hidden_act']!r}: BabyBERT implements 'gelu' only")
        if config.get("position_embedding_type", "absolute") != "absolute":
            raise UserError("unsupported position_embedding_type: BabyBERT implements 'absolute' only")
        if config.get("is_decoder") or config.get("add_cross_attention"):
            raise UserError("unsupported BERT variant: decoder / cross-attention checkpoints are not pretraining encoders")
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in config.items() if k in names and v is not None}
        missing = {"vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads"} - kwargs.keys()
        if missing:
            raise UserError(f"config.json lacks {', '.join(sorted(missing))}")
        model_config = cls(**kwargs)
        try:
            model_config.validate()
        except UserError as e:
            raise UserError(f"config.json: {e}") from e
        return model_config


# ----------------------------------------------------------------------------- training

@dataclass
class TrainConfig:
    tasks: tuple[str, ...] = setting(TASKS, "pretraining tasks: mlm, nsp or mlm,nsp", "tasks", TRAINING, choices=TASKS,
                                     control=Control("Tasks", kind="checkboxes"), metavar="mlm,nsp")
    epochs: float | None = setting(150, "passes over the training split (tiny corpora overfit after a few hundred)",
                                   "epochs", LIMITS, low=0, low_open=True,
                                   control=Control("Epochs (the time budget usually ends training first)",
                                                   kind="number", minimum=0, section=_TRAINING))
    max_steps: int | None = setting(None, "optimizer steps", "max steps", LIMITS, low=1)
    time_budget: float | None = setting(None, "seconds of training", "time budget", LIMITS, low=0, low_open=True,
                                        control=Control("Time budget (seconds)", minimum=2, step=1), app_value=60,
                                        metavar="SECONDS")
    batch_size: int = setting(16, "sequences (or sentence pairs) per step; more, smaller steps learn more per second "
                                  "than BERT's large batches", "batch", TRAINING, low=1,
                              control=Control("Batch size", minimum=4, maximum=128, step=4, section=_TRAINING))
    lr: float = setting(2e-3, "peak learning rate; tiny models like it high", "lr", TRAINING, low=0, high=1,
                        low_open=True, high_open=True,
                        control=Control("Peak learning rate", kind="number", section=_TRAINING))
    warmup: float = setting(0.05, "fraction of training spent warming the learning rate up (then linear decay)",
                            "warmup", TRAINING, low=0, high=1, high_open=True)
    adam_beta2: float = setting(0.98, "AdamW's second-moment decay (BERT: 0.999; 0.98 steadies the high learning "
                                      "rate of short runs)", "beta2", TRAINING, low=0, high=1, low_open=True,
                                high_open=True)
    weight_decay: float = setting(0.01, "AdamW weight decay (not on biases and LayerNorm gains)", "weight decay",
                                  TRAINING, low=0)
    grad_clip: float = setting(1.0, "clip the gradient norm to this", "grad clip", TRAINING, low=0, low_open=True)
    mask_prob: float = setting(0.3, "share of non-special tokens the MLM task hides (BERT: 0.15)", "mask", TRAINING,
                               low=0, high=1, low_open=True, high_open=True,
                               control=Control("Mask probability", minimum=0.05, maximum=0.5, step=0.01,
                                               section=_TRAINING))
    vocab_size: int = setting(4096, "WordPiece vocabulary size asked for (tiny corpora give fewer)", "vocab", DATA,
                              low=32, control=Control("Vocabulary size", minimum=64, maximum=8192, step=64,
                                                      section=_SIZE))
    lowercase: bool = setting(True, "lowercase the text before the WordPiece is trained and applied", "lowercase", DATA)
    holdout: float = setting(0.1, "share of documents kept for evaluation, never trained on", "holdout", DATA, low=0,
                             high=1, low_open=True, high_open=True)
    eval_every: int = setting(200, "steps between held-out evaluations (0: only at the end)", "eval every", EVALUATION,
                              low=0, app_value=100)
    eval_sentences: int = setting(2000, "held-out sentences scored by every evaluation (the first ones)",
                                  "eval sentences", EVALUATION, low=1, app_value=500)
    minimal_pairs: str | None = setting(None, "minimal pairs to judge at every evaluation, by pseudo-log-likelihood: "
                                              "the share the model gets right (chance 50%) joins the held-out "
                                              "metrics. A .jsonl, .json or .parquet file with BLiMP's fields, or "
                                              "'examples': examples/minimal_pairs.jsonl, 20 pairs of each of 12 of "
                                              "BLiMP's phenomena", "minimal pairs", EVALUATION, metavar="FILE",
                                        control=Control("Grammar check (judge 240 minimal pairs at every evaluation)",
                                                        kind="checkbox", on="examples"))
    seed: int = setting(0, "same corpus + settings + seed = same run", "seed", TRAINING, low=0, high=MAX_SEED,
                        control=Control("Seed", kind="number", section=_TRAINING))
    device: str = setting("auto", "auto (CUDA if available), cpu or cuda", "device", TRAINING,
                          choices=("auto", "cpu", "cuda"))
    precision: str = setting("auto", "matrix products in bfloat16 (bf16) or float32 (fp32); auto: bf16 where the "
                                     "device multiplies it fast (CPUs with AMX, GPUs with bf16). Weights, optimizer "
                                     "and checkpoints stay float32 either way", "precision", TRAINING,
                             choices=("auto", "fp32", "bf16"))
    save_every: int | None = setting(None, "steps between saves of the checkpoint with its training state (to "
                                           "resume); the CLI's --save-every also takes a time: 90s, 10m, 1h",
                                     "save every", SAVING, low=1, metavar="STEPS|TIME")
    save_every_seconds: float | None = setting(None, "or seconds of training between them", "save every (s)", SAVING,
                                               low=0, low_open=True)

    def validate(self, name=lambda field: field) -> None:
        validate_fields(self, name)
        if self.epochs is None and self.max_steps is None and self.time_budget is None:
            raise UserError("give at least one of epochs, max_steps or time_budget, or training never ends")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["tasks"] = list(self.tasks)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in d.items() if k in names}
        if "tasks" in kwargs:
            kwargs["tasks"] = tuple(kwargs["tasks"])
        return cls(**kwargs)


def settings_markdown() -> str:
    """docs/settings.md: every setting, its flag, default, range, and where the app shows it.
    Made from the declarations above; tests/test_settings.py says how to remake it."""
    lines = ["# Settings", "", "<!-- made from babybert/config.py by babybert.config.settings_markdown(): edit the declarations there, "
             "not this file -->", "",
             "Every training setting, declared once in [`babybert/config.py`](../babybert/config.py). The command "
             "line's flags, the app's controls and the checks behind both, the runs table and `babybert.json` all "
             "come from these declarations. Model settings carry the names of `transformers.BertConfig`.", ""]
    for cls in (ModelConfig, TrainConfig):
        lines += [f"## {cls.__name__}", "", "| setting | flag | default | allowed | app control | meaning |",
                  "|---|---|---|---|---|---|"]
        for f, s in settings(cls):
            kind = field_type(cls, f.name)[0]
            flags = ", ".join(f"`{x}`" for x in (cli_flag(f.name), *s.aliases))
            if kind is bool:
                flags += f", `--no-{cli_flag(f.name)[2:]}`"
            default = ",".join(f.default) if isinstance(f.default, tuple) else "none" if f.default is None else f.default
            app = s.control.label + (f" ({s.control.section})" if s.control.section else "") if s.control else "–"
            if s.app_value is not None:
                app += f"; the app trains with {s.app_value}"
            allowed = ("one or more of " + ", ".join(s.choices) if kind is tuple else describe_range(s)
                       or ("true or false" if kind is bool else "any"))
            lines.append(f"| `{f.name}` | {flags} | `{default}` | {allowed} | {app} | {s.help} |")
        lines.append("")
    return "\n".join(lines)


def estimate_parameters(c: ModelConfig) -> int:
    """The parameter count of `BabyBert(c)`, computed without allocating it."""
    H, I = c.hidden_size, c.intermediate_size
    embeddings = (c.vocab_size + c.max_position_embeddings + c.type_vocab_size + 2) * H
    layer = 4 * (H * H + H) + 2 * H * I + I + H + 4 * H
    heads = (H * H + H) * 2 + 2 * H + c.vocab_size + 2 * H + 2
    return embeddings + c.num_hidden_layers * layer + heads


def parse_tasks(text: str) -> tuple[str, ...]:
    """'mlm,nsp' -> ('mlm', 'nsp'), in canonical order, validated."""
    tasks = {t.strip().lower() for t in text.replace("+", ",").split(",") if t.strip()}
    unknown = tasks - set(TASKS)
    if unknown or not tasks:
        raise UserError(f"tasks must be mlm, nsp or mlm,nsp; got {text!r}")
    return tuple(t for t in TASKS if t in tasks)


__all__ = ["ModelConfig", "TrainConfig", "TASKS", "Control", "Setting", "app_values", "as_number", "build", "cli_flag", "estimate_parameters",
           "parse_tasks", "settings", "settings_markdown", "setting", "to_argv"]

"""The two configs: the model's shape (saved as a transformers `BertConfig`) and how to train it.

Field names of `ModelConfig` are those of `transformers.BertConfig`, so `config.json` maps 1:1.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

TASKS = ("mlm", "nsp")


@dataclass
class ModelConfig:
    vocab_size: int = 4096  # WordPiece vocabulary; set to the trained tokenizer's real size
    hidden_size: int = 128  # width of every token vector
    num_hidden_layers: int = 2  # encoder layers
    num_attention_heads: int = 2  # hidden_size must divide evenly into the heads
    intermediate_size: int = 512  # feed-forward width inside each layer
    max_position_embeddings: int = 128  # longest sequence, [CLS] and [SEP]s included
    type_vocab_size: int = 2  # segment A / segment B
    hidden_dropout_prob: float = 0.0  # BERT: 0.1, which slows learning in a minutes-long run (README, "recipe")
    attention_probs_dropout_prob: float = 0.0
    layer_norm_eps: float = 1e-12
    initializer_range: float = 0.05  # std of the normal init (BERT: 0.02); wider learns faster at this size
    pad_token_id: int = 0

    def validate(self) -> None:
        """Raise ValueError with a message a user can act on."""
        for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                     "intermediate_size", "max_position_embeddings", "type_vocab_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be a positive whole number, got {value!r}")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size ({self.hidden_size}) must be divisible by num_attention_heads "
                f"({self.num_attention_heads}); try {self.num_attention_heads * max(1, self.hidden_size // self.num_attention_heads)}")
        if self.max_position_embeddings < 8:
            raise ValueError(f"max_position_embeddings must be at least 8, got {self.max_position_embeddings}")
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)!r}")

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
            raise ValueError(f"not a BERT checkpoint: config.json has model_type={config.get('model_type')!r}, expected 'bert'")
        if config.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"unsupported hidden_act {config['hidden_act']!r}: BabyBERT implements 'gelu' only")
        if config.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError("unsupported position_embedding_type: BabyBERT implements 'absolute' only")
        if config.get("is_decoder") or config.get("add_cross_attention"):
            raise ValueError("unsupported BERT variant: decoder / cross-attention checkpoints are not pretraining encoders")
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in config.items() if k in names and v is not None}
        missing = {"vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads"} - kwargs.keys()
        if missing:
            raise ValueError(f"config.json lacks {', '.join(sorted(missing))}")
        model_config = cls(**kwargs)
        model_config.validate()
        return model_config


@dataclass
class TrainConfig:
    tasks: tuple[str, ...] = TASKS  # "mlm", "nsp" or both
    epochs: float | None = 150  # passes over the training split (None: no limit); tiny corpora overfit after a few hundred
    max_steps: int | None = None  # optimizer steps (None: no limit)
    time_budget: float | None = None  # seconds of training (None: no limit)
    batch_size: int = 16  # more, smaller steps learn more per second than BERT's large batches
    lr: float = 2e-3  # peak learning rate; tiny models like it high
    warmup: float = 0.05  # fraction of training spent warming the learning rate up
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    mask_prob: float = 0.3  # share of non-special tokens the MLM task hides (BERT: 0.15)
    vocab_size: int = 4096  # tokenizer size asked for; tiny corpora yield fewer
    lowercase: bool = True
    holdout: float = 0.1  # share of documents kept for evaluation, never trained on
    eval_every: int = 200  # steps between evaluations (0: only at the end)
    eval_sentences: int = 2000  # held-out sentences scored by every evaluation (the first ones)
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    save_every: int | None = None  # steps between saves of the checkpoint with its training state (to resume)
    save_every_seconds: float | None = None  # or seconds of training between them

    def validate(self) -> None:
        if not self.tasks or any(t not in TASKS for t in self.tasks):
            raise ValueError(f"tasks must be one or both of {', '.join(TASKS)}, got {','.join(self.tasks) or 'nothing'}")
        if self.epochs is None and self.max_steps is None and self.time_budget is None:
            raise ValueError("give at least one of epochs, max_steps or time_budget, or training never ends")
        for name in ("epochs", "max_steps", "time_budget", "save_every", "save_every_seconds"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be positive, got {value!r}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if not 0 < self.lr < 1:
            raise ValueError(f"lr must be between 0 and 1, got {self.lr}")
        if not 0 < self.mask_prob < 1:
            raise ValueError(f"mask_prob must be between 0 and 1 (BERT uses 0.15), got {self.mask_prob}")
        if not 0 <= self.warmup < 1:
            raise ValueError(f"warmup is a fraction of training in [0, 1), got {self.warmup}")
        if not 0 < self.holdout < 1:
            raise ValueError(f"holdout must be between 0 and 1, got {self.holdout}")
        if self.vocab_size < 32:
            raise ValueError(f"vocab_size must be at least 32, got {self.vocab_size}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be auto, cpu or cuda, got {self.device!r}")

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
        raise ValueError(f"tasks must be mlm, nsp or mlm,nsp; got {text!r}")
    return tuple(t for t in TASKS if t in tasks)


__all__ = ["ModelConfig", "TrainConfig", "TASKS", "parse_tasks"]

"""What a training run is set up with before its first step, and keeps unchanged to its end: the
device, the data (split, tokenized, encoded), the model (new, or a checkpoint's) and what steps run
through (the model, or its DistributedDataParallel wrapper on several processes), and the limits
that end it. `train()` (loop.py) builds a `Run` with `set_up`, then trains it.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel

from babybert.analysis.grammar import MinimalPair, check_fits, pairs_to_watch
from babybert.analysis.vocabulary import ids_stats
from babybert.bert.checkpoint import Checkpoint, load_checkpoint
from babybert.bert.model import BabyBert
from babybert.bert.tokenizer import train_tokenizer
from babybert.config import ModelConfig, TrainConfig
from babybert.data.batches import (
    EncodedCorpus,
    SpecialIds,
    batches_per_epoch,
    encode_corpus,
)
from babybert.data.corpus import (
    CorpusStats,
    Document,
    corpus_stats,
    split_corpus,
    take_sentences,
)
from babybert.data.store import Progress as PrepareProgress
from babybert.data.store import prepare
from babybert.errors import UserError
from babybert.training import distributed
from babybert.training.state import corpus_fingerprint


@dataclass
class Data:
    """A corpus made ready to train on: the tokenizer, the training split encoded, the held-out
    sentences that evaluation scores, and the numbers that describe both splits."""
    tokenizer: object
    train: EncodedCorpus
    held_out: list[Document]  # the first eval_sentences held-out sentences, as text
    train_stats: CorpusStats
    held_out_stats: CorpusStats
    fingerprint: str  # the training split's hash: a run resumes only on the corpus it started with
    token_store: Path | None = None

    @functools.cached_property
    def held_out_sentences(self) -> list[str]:
        return [s for d in self.held_out for s in d]

    @functools.cached_property
    def vocabulary(self) -> dict:
        """What the vocabulary made of the training split (most frequent pieces, words split): one
        pass over its ids, made once, for the Model tab (vocabulary.py)."""
        return ids_stats(self.train.ids.numpy(), self.tokenizer, "the training split").to_dict()


def prepare_data(documents: list[Document] | str | Path, tokenizer, max_len: int, config: TrainConfig,
                 world: distributed.World = distributed.World(), cache_dir: str | Path | None = None,
                 progress: PrepareProgress | None = None) -> Data:
    """Split, tokenize (training a WordPiece when no `tokenizer` is given) and encode. Documents in
    memory are encoded in memory; a corpus file goes through the on-disk token store (store.py),
    as a stream, built by the first rank of each node and reused by every later run."""
    if isinstance(documents, (str, Path)):
        tokenizer, store = prepare(documents, max_len, config.holdout, tokenizer, config.vocab_size, config.lowercase,
                                   cache_dir, build_here=world.local_rank == 0, progress=progress)
        return Data(tokenizer, store.train, store.held_out(config.eval_sentences), CorpusStats(**store.meta["train"]),
                    CorpusStats(**store.meta["held_out"]), store.meta["fingerprint"], store.path)
    train_docs, held_out_docs = split_corpus(documents, config.holdout)
    if tokenizer is None:
        tokenizer = train_tokenizer((s for d in train_docs for s in d), config.vocab_size, config.lowercase, max_len)
    return Data(tokenizer, encode_corpus(train_docs, tokenizer, max_len), take_sentences(held_out_docs, config.eval_sentences),
                corpus_stats(train_docs, tokenizer), corpus_stats(held_out_docs, tokenizer), corpus_fingerprint(train_docs))


def resolve_device(device: str) -> torch.device:
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError("device cuda was asked for, but no CUDA GPU is available; use --device cpu or auto")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


def pick_device(config: TrainConfig, world: distributed.World) -> torch.device:
    """This rank's GPU under torchrun with nccl, else the device asked for; and its share of the CPU cores."""
    device = torch.device("cuda", world.local_rank) if world.backend == "nccl" else resolve_device(config.device)
    local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1")) if world.distributed else 1
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_processes))  # the cores shared by this node's ranks
    return device


@dataclass(frozen=True)
class Limits:
    """What ends a run, counted in steps: its epochs (None: no limit), max_steps, or a time budget."""
    steps_per_epoch: int
    epoch_steps: int | None
    max_steps: int | None

    @classmethod
    def of(cls, corpus: EncodedCorpus, config: TrainConfig) -> Limits:
        steps_per_epoch = batches_per_epoch(corpus, config.tasks, config.batch_size)
        epoch_steps = int(config.epochs * steps_per_epoch + 0.5) if config.epochs else None
        return cls(steps_per_epoch, epoch_steps, config.max_steps)

    @property
    def total_steps(self) -> int | None:
        """The first limit in steps; None when only a time budget bounds training."""
        return min((s for s in (self.epoch_steps, self.max_steps) if s), default=None)

    def reason(self, step: int, stopped: bool, time_up: bool) -> str | None:
        """Why to stop after `step` steps, if at all: the first that applies."""
        return ("stopped" if stopped else "max_steps" if self.max_steps and step >= self.max_steps
                else "epochs" if self.epoch_steps is not None and step >= self.epoch_steps
                else "time_budget" if time_up else None)

    def fraction(self, step: int, by_time: float) -> float:
        """How far training is (0..1): by steps or by time, whichever is further."""
        by_steps = step / self.total_steps if self.total_steps else 0.0
        return min(1.0, max(by_steps, by_time))


@dataclass
class Origin:
    """Where a run came from, as babybert.json tells it."""
    command: str | None = None  # the command line that started it
    corpus_name: str = "corpus"
    corpus_source: str | None = None  # a Hub dataset's name, split and column (hub/dataset.py)
    init: str | Path | Checkpoint | None = None  # the checkpoint it started from
    tokenizer: object | None = None  # the published tokenizer it was given


CPU_BUCKETS = (8, 64)  # on the CPU a batch's positions, and its masked rows, are padded to multiples of these


@dataclass
class Run:
    """What a run trains with, fixed from its first step to its last."""
    config: TrainConfig
    world: distributed.World
    device: torch.device
    data: Data  # with the tokenizer
    ids: SpecialIds
    model: BabyBert
    trained: torch.nn.Module  # what steps run through: the model, or its DistributedDataParallel wrapper
    limits: Limits
    bf16: bool  # bf16 autocast (see use_bf16): products in bfloat16, weights and optimizer in float32
    out_dir: Path | None
    origin: Origin
    pairs: list[MinimalPair] | None = None  # judged at every evaluation (TrainConfig.minimal_pairs)

    @property
    def max_len(self) -> int:
        return self.model.config.max_position_embeddings

    @property
    def tokenizer(self):
        return self.data.tokenizer

    @property
    def buckets(self) -> tuple[int, int]:
        return buckets(self.bf16, self.device)


def buckets(bf16: bool, device: torch.device) -> tuple[int, int]:
    """(positions, masked rows): what a batch is padded to a multiple of. On the CPU, oneDNN
    compiles a kernel for every matrix shape it meets (~2 ms in bf16) and caches up to 512 (see
    babybert/__init__.py); padded, a run meets a few hundred shapes, not new ones at every step.
    bf16 needs that for speed; float32 for memory (its kernels for 512 shapes took a run from 559
    to 1,230 MB), at a 2% cost in speed."""
    return CPU_BUCKETS if device.type == "cpu" else (1, 1)


def start_model(init: str | Path | Checkpoint | None, model_config: ModelConfig, tokenizer, resuming: bool):
    """(model, tokenizer, model_config): a checkpoint's, or no model yet (it is made once the
    tokenizer's vocabulary is known) and the tokenizer given, if any."""
    if init is not None and tokenizer is not None and not resuming:
        raise UserError("give either a tokenizer (--tokenizer) or a checkpoint to start from (--init), not both: "
                        "a checkpoint brings its own tokenizer")
    if init is None:
        return None, tokenizer, model_config
    ckpt = init if isinstance(init, Checkpoint) else load_checkpoint(init)
    return ckpt.model, ckpt.tokenizer, ckpt.model.config


def fast_bf16(device: torch.device) -> bool:
    """Whether `device` multiplies bfloat16 faster than float32: GPUs that support it, and CPUs
    with AMX tiles (3-5x float32's rate at BabyBERT's shapes; docs/training.md, "Precision")."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and torch.cpu._is_amx_tile_supported()


def use_bf16(precision: str, device: torch.device) -> bool:
    """The --precision setting on this device: auto takes bf16 where it is fast; bf16 asked for on a
    device without bfloat16 arithmetic is refused (emulated, it would be many times slower)."""
    if precision == "bf16" and not (fast_bf16(device) or device.type == "cpu" and torch.cpu._is_avx512_bf16_supported()):
        raise UserError(f"this {device.type.upper()} has no bfloat16 arithmetic, so --precision bf16 would be slower, "
                        "not faster: train with --precision auto or fp32")
    return precision == "bf16" or precision == "auto" and fast_bf16(device)


def distribute(model: BabyBert, config: TrainConfig, world: distributed.World, device: torch.device) -> torch.nn.Module:
    """The model on its device in training mode, wrapped in DistributedDataParallel on several ranks."""
    model.to(device).train()
    if not world.distributed:
        return model
    both = set(config.tasks) == {"mlm", "nsp"}  # one task leaves the other's head without gradients
    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None,
                                   find_unused_parameters=not both)


def set_up(documents: list[Document] | str | Path, model_config: ModelConfig, config: TrainConfig,
           world: distributed.World, device: torch.device, origin: Origin, out_dir: str | Path | None,
           resumed: dict | None = None, resume: str | Path | None = None, cache_dir: str | Path | None = None,
           progress: PrepareProgress | None = None) -> Run:
    """The model (a checkpoint's, or new and sized to the tokenizer), the data it trains on, and
    what steps run through. `resumed`: the training state of the run `resume` goes on with."""
    bf16 = use_bf16(config.precision, device)  # (refused before minutes go into the data)
    pairs = pairs_to_watch(config.minimal_pairs)  # (a bad file too)
    model, tokenizer, model_config = start_model(origin.init, model_config, origin.tokenizer, resumed is not None)
    max_len = model_config.max_position_embeddings
    data = prepare_data(documents, tokenizer, max_len, config, world, cache_dir, progress if world.main else None)
    if resumed is not None and resumed["corpus"] != data.fingerprint:
        raise UserError(f"this corpus is not the one the run in {resume} was trained on; resume it with the same "
                        "corpus, or start a new run from its weights with --init")
    if pairs:
        check_fits(pairs, data.tokenizer, max_len)
    if model is None:
        model_config.vocab_size = len(data.tokenizer)
        model = BabyBert(model_config)  # its initial weights: torch's global generator
    if world.distributed:  # every rank trained the same deterministic tokenizer; check, rather than trust
        vocabularies = distributed.gather(sorted(data.tokenizer.get_vocab().items()), world)
        if any(v != vocabularies[0] for v in vocabularies):
            raise UserError("the ranks built different vocabularies: give every rank the same corpus file")
    trained = distribute(model, config, world, device)
    return Run(config, world, device, data, SpecialIds.from_tokenizer(data.tokenizer), model, trained,
               Limits.of(data.train, config), bf16, Path(out_dir) if out_dir is not None else None, origin, pairs)


__all__ = ["CPU_BUCKETS", "Data", "Limits", "Origin", "Run", "buckets", "fast_bf16", "pick_device", "prepare_data",
           "resolve_device", "set_up", "use_bf16"]

"""Pretraining as a plain generator of progress events.

    for event in train(documents, ModelConfig(), TrainConfig(time_budget=60), out_dir="ckpt"):
        print(event)

The loop body is the usual one — set lr, forward, loss, backward, clip, step — and it stops at
whichever comes first: epochs, max steps, time budget, or `stop.set()`. It then still evaluates and
saves, so stopping never loses the model. The final `Done` event carries the model itself.
"""

from __future__ import annotations
import contextlib
import functools
import logging
import math
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from babybert.training.events import Done, Eval, Event, Probes, Progress, Sample, Start
from babybert.training.memory import MEMORY_ADVICE, OutOfMemory, out_of_memory
from babybert import __version__
from babybert.bert.card import widget_text
from babybert.bert.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from babybert.config import ModelConfig, TrainConfig
from babybert.data.corpus import CorpusStats, Document, corpus_stats, split_corpus, take_sentences
from babybert.data.batches import EncodedCorpus, SpecialIds, batches_per_epoch, encode_corpus, make_batch, plan_epoch
from babybert.analysis.evaluate import Metrics, evaluate
from babybert.bert.model import BabyBert
from babybert.analysis.plots import save_loss_plot, thin
from babybert.training import distributed
from babybert.analysis.predict import masked_example, run_probes
from babybert.training.state import FORMAT as STATE_FORMAT
from babybert.training.state import Position, corpus_fingerprint, load_training_state
from babybert.data.store import Progress as PrepareProgress
from babybert.data.store import prepare
from babybert.bert.tokenizer import train_tokenizer
from babybert.analysis.vocabulary import ids_stats


log = logging.getLogger(__name__)


def get_lr(fraction: float, peak: float, warmup: float) -> float:
    """Linear warmup over the first `warmup` of training, then linear decay to zero."""
    if fraction < warmup:
        return peak * (fraction + 1e-3) / warmup
    return peak * max(0.0, 1.0 - fraction) / (1.0 - warmup)


def resolve_device(device: str) -> torch.device:
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device cuda was asked for, but no CUDA GPU is available; use --device cpu or auto")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


def make_optimizer(model: BabyBert, config: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW; no weight decay on biases and LayerNorm gains, as in BERT."""
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    try:
        return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.98), eps=1e-6, fused=True)
    except (RuntimeError, TypeError):  # no fused kernel for this device
        return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.98), eps=1e-6)


def pretraining_loss(model: BabyBert, batch, tasks) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """(total, MLM, NSP) losses, left on the device: reading one back is a host sync."""
    out = model(batch.input_ids, batch.token_type_ids, batch.attention_mask,
                mlm_mask=batch.mlm_mask if "mlm" in tasks else torch.zeros_like(batch.special_mask))
    mlm = F.cross_entropy(out.mlm_logits, batch.mlm_labels) if "mlm" in tasks else None
    nsp = F.cross_entropy(out.nsp_logits, batch.nsp_labels) if "nsp" in tasks else None
    loss = sum(x for x in (mlm, nsp) if x is not None)
    return loss, mlm, nsp


LOSS_READ_EVERY_CUDA = 16  # steps between reading losses back from a GPU (on CPU: every step)


def loss_read_interval(device: torch.device) -> int:
    return LOSS_READ_EVERY_CUDA if device.type == "cuda" else 1


def read_back(values: torch.Tensor) -> list:
    """The one place training copies numbers from the device to the host (and so waits for it)."""
    return values.tolist()


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


def loss_plot(info: dict):
    """What a checkpoint gets besides the model: its loss curves as loss.png (the model card shows it)."""
    if not info.get("history"):
        return None
    return lambda folder: save_loss_plot(info["history"], info.get("eval_history", []), folder / "loss.png")


def train(documents: list[Document] | str | Path, model_config: ModelConfig | None = None, config: TrainConfig | None = None,
          out_dir: str | Path | None = None, init: str | Path | Checkpoint | None = None,
          stop: threading.Event | None = None, corpus_name: str = "corpus", command: str | None = None,
          probes: list[tuple[str, str | None]] = (), resume: str | Path | None = None,
          cache_dir: str | Path | None = None, progress: PrepareProgress | None = None,
          tokenizer=None, corpus_source: str | None = None) -> Iterator[Event]:
    """Pretrain a BERT on `documents` (lists of sentences, or a corpus file of any size), yielding
    events as it goes.

    With `init` (a checkpoint path or a loaded Checkpoint) training continues from that model and
    its tokenizer, and `model_config` is ignored. With `out_dir` the result is saved there.
    `probes` (see predict.parse_probes) are answered at every evaluation, to watch them learned.
    With `resume` (a checkpoint saved with `save_every`), the run goes on exactly where it was
    saved: its model, optimizer, random generators and place in the data; `config` defaults to its own.
    A corpus file is read as a stream into a token store in `cache_dir` (see store.py), reporting
    to `progress(what, done, total)` as it goes; documents in memory are encoded in memory.
    With `tokenizer` (a published one, see hub.get_tokenizer) a new model is trained from scratch
    with it instead of a WordPiece learned from the corpus; the vocabulary size is then its own.
    `corpus_source` says where the corpus came from and how it was split into sentences (a Hub
    dataset's, see hub_dataset.py); the checkpoint and its model card record it.
    """
    state = load_training_state(resume) if resume is not None else None
    if state is not None:
        init = resume
        config = config or TrainConfig.from_dict(state["train_config"])
    model_config = ModelConfig(**vars(model_config)) if model_config else ModelConfig()
    config = config or TrainConfig()
    config.validate()
    model_config.validate()
    if (config.save_every or config.save_every_seconds) and out_dir is None:
        raise ValueError("saving every so often (save_every) needs an output folder (out_dir, --out)")
    stop = stop or threading.Event()
    world = distributed.current()  # one process, or this rank of a torchrun group (distributed.setup)
    device = torch.device("cuda", world.local_rank) if world.backend == "nccl" else resolve_device(config.device)
    local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1")) if world.distributed else 1
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_processes))  # the cores shared by this node's ranks
    torch.manual_seed(config.seed)
    # one generator plans each epoch (pairs, batch order), another masks: an epoch can be planned again
    # from the first's saved state, and the second's state goes on from where it was
    plan_generator = torch.Generator().manual_seed(config.seed)
    mask_generator = torch.Generator().manual_seed(config.seed + 3 + 7919 * world.rank)  # each rank masks its rows
    sample_generator = torch.Generator().manual_seed(config.seed + 2)

    if init is not None and tokenizer is not None and state is None:
        raise ValueError("give either a tokenizer (--tokenizer) or a checkpoint to start from (--init), not both: "
                         "a checkpoint brings its own tokenizer")
    given_tokenizer = tokenizer
    if init is not None:
        ckpt = init if isinstance(init, Checkpoint) else load_checkpoint(init)
        model, tokenizer = ckpt.model, ckpt.tokenizer
        model_config = model.config
    else:
        model = None
    max_len = model_config.max_position_embeddings
    data = prepare_data(documents, tokenizer, max_len, config, world, cache_dir, progress if world.main else None)
    if state is not None and state["corpus"] != data.fingerprint:
        raise ValueError(f"this corpus is not the one the run in {resume} was trained on; resume it with the same "
                         "corpus, or start a new run from its weights with --init")
    tokenizer, corpus, held_out_docs = data.tokenizer, data.train, data.held_out
    if model is None:
        model_config.vocab_size = len(tokenizer)
        model = BabyBert(model_config)
    if world.distributed:  # every rank trained the same deterministic tokenizer; check, rather than trust
        vocabularies = distributed.gather(sorted(tokenizer.get_vocab().items()), world)
        if any(v != vocabularies[0] for v in vocabularies):
            raise RuntimeError("the ranks built different vocabularies: give every rank the same corpus file")
    model.to(device).train()
    trained = model  # what steps run through: the model, or its DistributedDataParallel wrapper
    if world.distributed:
        both = set(config.tasks) == {"mlm", "nsp"}  # one task leaves the other's head without gradients
        trained = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None,
                                          find_unused_parameters=not both)
    ids = SpecialIds.from_tokenizer(tokenizer)
    optimizer = make_optimizer(model, config, device)

    steps_per_epoch = batches_per_epoch(corpus, config.tasks, config.batch_size)
    limits = [int(config.epochs * steps_per_epoch + 0.5) if config.epochs else None, config.max_steps]
    total_steps = min((s for s in limits if s), default=None)
    train_stats, held_out_stats = data.train_stats, data.held_out_stats
    yield Start(train_stats, held_out_stats, model.num_parameters(), len(tokenizer), total_steps, str(device), model,
                tokenizer, state["step"] if state is not None else 0, data.token_store and str(data.token_store))

    history, eval_history = [], []
    step, tokens, train_time, reason, spent = 0, 0, 0.0, None, 0.0
    position = Position(epoch=0, batch=0, plan_state=plan_generator.get_state())
    if state is not None:
        step, tokens, train_time, spent = state["step"], state["tokens"], state["train_time"], state["elapsed"]
        history, eval_history = state["history"], state["eval_history"]
        optimizer.load_state_dict(state["optimizer"])
        position = Position(state["epoch"], state["batch"], state["plan_generator"])
        plan_generator.set_state(state["plan_generator"])
        if state["world_size"] != world.size:
            raise ValueError(f"the run in {resume} trained on {state['world_size']} process(es); resume it with as many "
                             f"(this is {world.size})")
        mask_generator.set_state(state["mask_generators"][world.rank])
        sample_generator.set_state(state["sample_generator"])
        torch.set_rng_state(state["torch_rng"])
        if device.type == "cuda" and "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"], device)
    held_out_sentences = [s for d in held_out_docs for s in d]
    t0 = time.perf_counter() - spent  # a resumed run's time budget counts the time it had already trained
    last_save = (step, time.perf_counter())

    def time_used() -> float:
        return (time.perf_counter() - t0) / config.time_budget if config.time_budget else 0.0

    def fraction_done(by_time: float | None = None) -> float:
        by_steps = step / total_steps if total_steps else 0.0
        return min(1.0, max(by_steps, time_used() if by_time is None else by_time))

    def before_step() -> tuple[str | None, float]:
        """Why to stop now, if at all, and how far training is (for the learning rate). On several
        ranks all must agree, or their steps would no longer meet: any rank's Stop counts, and the
        time is the ranks' mean (one small collective)."""
        by_time = time_used()
        stopped, time_up = float(stop.is_set()), float(by_time >= 1.0)
        if world.distributed:
            stopped, time_up, by_time = distributed.all_sum([stopped, time_up, by_time], world, device)
            by_time /= world.size
        reason = ("stopped" if stopped else "max_steps" if config.max_steps and step >= config.max_steps
                  else "epochs" if config.epochs and step >= limits[0] else "time_budget" if time_up else None)
        return reason, fraction_done(by_time)

    def evaluation(final: bool) -> Iterator[Eval | Sample]:
        metrics = evaluate(model, tokenizer, held_out_docs, config.seed, config.tasks,  # at BERT's 15%, not
                           max_sentences=config.eval_sentences)  # the training rate; the same sentences every time
        eval_history.append({"step": step, **metrics.to_dict()})
        yield Eval(step, metrics, final)
        if "mlm" in config.tasks:
            sentence = held_out_sentences[len(eval_history) % len(held_out_sentences)]
            yield Sample(step, masked_example(model, tokenizer, sentence, sample_generator))
        if probes:
            yield Probes(step, run_probes(model, tokenizer, probes))
        model.train()

    @functools.cache
    def vocabulary() -> dict:
        """What the vocabulary made of the training split (most frequent pieces, words split): one
        pass over its ids, made once, for the Model tab (vocabulary.py)."""
        return ids_stats(corpus.ids.numpy(), tokenizer, "the training split").to_dict()

    def run_info(metrics: Metrics | None) -> dict:
        elapsed = time.perf_counter() - t0
        return {
            "babybert_version": __version__,
            "name": Path(out_dir).name if out_dir is not None else None,
            "command": command,
            "corpus": {"name": corpus_name, "source": corpus_source, "train": vars(train_stats),
                       "held_out": vars(held_out_stats)},
            "init": str(init.path if isinstance(init, Checkpoint) else init) if init is not None else None,
            "tokenizer": str(given_tokenizer.name_or_path) if given_tokenizer is not None else None,
            "train_config": config.to_dict(),
            "steps": step,
            "epochs": round(step / steps_per_epoch, 3),
            "train_seconds": round(elapsed, 1),
            "tokens": tokens,
            "tokens_per_sec": round(tokens / max(train_time, 1e-9)),
            "device": str(device),
            "precision": "bf16 autocast" if bf16 else "float32",
            "processes": world.size,
            "stop_reason": reason,
            "num_parameters": model.num_parameters(),
            "metrics": metrics.to_dict() if metrics is not None else None,
            "widget": widget_text(held_out_sentences[0]),
            "history": thin(history, 2000),
            "eval_history": eval_history,
            "vocabulary": vocabulary(),
        }

    def training_state() -> dict:
        """Everything besides the weights that decides what happens next (see resume.py). Every rank
        takes part (each has its own mask generator); rank 0 saves it."""
        masks = distributed.gather(mask_generator.get_state(), world)
        saved = {"format": STATE_FORMAT, "step": step, "tokens": tokens, "train_time": train_time,
                 "elapsed": time.perf_counter() - t0, "epoch": position.epoch, "batch": position.batch,
                 "world_size": world.size, "plan_generator": position.plan_state, "mask_generators": masks,
                 "sample_generator": sample_generator.get_state(), "torch_rng": torch.get_rng_state(),
                 "optimizer": optimizer.state_dict(), "train_config": config.to_dict(), "corpus": data.fingerprint,
                 "history": history, "eval_history": eval_history}
        if device.type == "cuda":
            saved["cuda_rng"] = torch.cuda.get_rng_state(device)
        return saved

    def save_due() -> bool:
        """Every save_every steps or save_every_seconds (by any rank's clock: all must take part)."""
        if config.save_every and step - last_save[0] >= config.save_every:
            return True
        late = float(bool(config.save_every_seconds) and time.perf_counter() - last_save[1] >= config.save_every_seconds)
        return (distributed.all_sum([late], world, device)[0] if world.distributed and config.save_every_seconds
                else late) > 0

    # on GPUs that have it, bf16 autocast: matrix products in bfloat16, weights and optimizer in float32
    bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    keep_state = bool(config.save_every or config.save_every_seconds)  # save what --resume needs
    # a GPU runs ahead of Python until a number is read back: losses are read every few steps, in one go
    read_every = loss_read_interval(device)
    pending: list[dict] = []  # the steps whose losses are not yet logged, oldest first

    def read_losses() -> None:
        """Read the pending steps' losses (all ranks' means) and tokens; refuse a loss that is not finite."""
        unread = [p for p in pending if "values" not in p]
        if not unread:
            return
        numbers = read_back(torch.stack([p["losses"] for p in unread]))
        counts = [p["tokens"] for p in unread]
        if world.distributed:  # the whole batch's numbers: the ranks' mean losses, their tokens together
            summed = distributed.all_sum([x for row in numbers for x in row] + counts, world, device)
            numbers = [[x / world.size for x in summed[3 * i:3 * i + 3]] for i in range(len(unread))]
            counts = [int(x) for x in summed[3 * len(unread):]]
        for p, (total, mlm, nsp), n in zip(unread, numbers, counts):
            p["values"] = (total, mlm if "mlm" in config.tasks else None, nsp if "nsp" in config.tasks else None)
            p["tokens"] = n
            bad = [x for x in p["values"] if x is not None and not math.isfinite(x)]
            if bad:  # on CPU before this step's update: the weights are still the last good ones
                raise ValueError(f"training diverged: the loss became {bad[0]} at step {p['step']} (learning rate "
                                 f"{p['lr']:.2g}); try a lower learning rate. Nothing was saved: an earlier checkpoint "
                                 "in the output folder is unchanged")

    def log_losses() -> Iterator[Progress]:
        """A Progress event for every finished step whose losses were read."""
        nonlocal tokens
        while pending and "values" in pending[0] and "elapsed" in pending[0]:
            p = pending.pop(0)
            total, mlm, nsp = p["values"]
            tokens += p["tokens"]
            history.append({"step": p["step"], "loss": total, "mlm_loss": mlm, "nsp_loss": nsp, "lr": p["lr"]})
            yield Progress(p["step"], p["step"] / steps_per_epoch, mlm, nsp, total, p["lr"],
                           tokens / max(train_time, 1e-9), p["elapsed"], p["fraction"])

    def log_all() -> Iterator[Progress]:
        read_losses()
        yield from log_losses()

    while reason is None:
        plan = plan_epoch(corpus, config.tasks, config.batch_size, plan_generator)
        while position.batch < len(plan.batches):
            rows = plan.batches[position.batch][world.rank::world.size]  # this rank's share of the batch
            if len(rows) == 0:  # a last batch smaller than the number of ranks: skipped by all alike
                position.batch += 1
                continue
            reason, fraction = before_step()
            if reason:
                break
            t_step = time.perf_counter()
            lr = get_lr(fraction, config.lr, config.warmup)
            for group in optimizer.param_groups:
                group["lr"] = lr
            batch = make_batch(corpus, plan, rows, config.tasks, ids, max_len, config.mask_prob, mask_generator)
            batch_tokens, batch = batch.num_tokens, batch.to(device)  # counted on the host: no sync
            try:
                with autocast:
                    loss, mlm_loss, nsp_loss = pretraining_loss(trained, batch, config.tasks)
                zero = torch.zeros((), device=loss.device)
                pending.append({"step": step + 1, "lr": lr, "tokens": batch_tokens, "losses": torch.stack(
                    [x.detach().float() if x is not None else zero for x in (loss, mlm_loss, nsp_loss)])})
                if len(pending) >= read_every:
                    read_losses()  # before the update, so a non-finite loss never reaches the weights on CPU
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
            except (MemoryError, RuntimeError) as e:
                if not out_of_memory(e):
                    raise
                raise OutOfMemory(f"training ran out of memory at step {step + 1} ({model.num_parameters():,} "
                                 f"parameters, batch size {config.batch_size}, max length {max_len}); {MEMORY_ADVICE}. "
                                 "Nothing was saved: an earlier checkpoint in the output folder is unchanged") from None
            step += 1
            position.batch += 1
            train_time += time.perf_counter() - t_step
            pending[-1].update(elapsed=time.perf_counter() - t0, fraction=fraction_done())
            yield from log_losses()
            if config.eval_every and step % config.eval_every == 0 and step != total_steps:
                yield from log_all()  # every rank: on several, reading the losses is a collective
                if world.main:
                    yield from evaluation(final=False)  # (the last step gets the final evaluation)
            if keep_state and step != total_steps and save_due():  # (the last is saved below)
                yield from log_all()
                state_now = training_state()
                if world.main:
                    last_eval = eval_history[-1] if eval_history else None
                    info = dict(run_info(None), metrics=last_eval and {k: v for k, v in last_eval.items() if k != "step"})
                    save_checkpoint(out_dir, model, tokenizer, info, state_now, extras=loss_plot(info))
                model.train()
                last_save = (step, time.perf_counter())
        if reason is None:  # the epoch is done: the next one is planned from here
            position = Position(position.epoch + 1, 0, plan_generator.get_state())

    yield from log_all()
    elapsed = time.perf_counter() - t0
    metrics = None
    if world.main:  # rank 0 alone evaluates and saves; the others wait for it at the end
        final = list(evaluation(final=True))
        yield from final
        metrics = final[0].metrics
    info = run_info(metrics)
    model.eval()
    state_now = training_state() if keep_state else None
    path = Path(out_dir) if out_dir is not None else None
    if path is not None and world.main:
        path = save_checkpoint(out_dir, model, tokenizer, info, state_now, extras=loss_plot(info))
    distributed.barrier(world)
    yield Done(step, metrics, reason, elapsed, path, model, tokenizer, info)

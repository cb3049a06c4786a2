"""Pretraining as a plain generator of progress events.

    for event in train(documents, ModelConfig(), TrainConfig(time_budget=60), out_dir="ckpt"):
        print(event)

The loop body is the usual one — set lr, forward, loss, backward, clip, step — and it stops at
whichever comes first: epochs, max steps, time budget, or `stop.set()`. It then still evaluates and
saves, so stopping never loses the model. The final `Done` event carries the model itself.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from babybert import __version__
from babybert.analysis.evaluate import evaluate
from babybert.analysis.plots import save_loss_plot, thin
from babybert.analysis.predict import masked_example, run_probes
from babybert.bert.card import widget_text
from babybert.bert.checkpoint import Checkpoint, save_checkpoint
from babybert.bert.model import BabyBert
from babybert.config import ModelConfig, TrainConfig
from babybert.data.batches import EncodedCorpus, EpochPlan, make_batch, plan_epoch
from babybert.data.corpus import Document
from babybert.data.store import Progress as PrepareProgress
from babybert.errors import UserError
from babybert.training import distributed
from babybert.training.events import Done, Eval, Event, Probes, Progress, Sample, Start
from babybert.training.losses import LossReader, StepLosses
from babybert.training.memory import step_memory
from babybert.training.setup import Limits, Origin, Run, pick_device, set_up
from babybert.training.state import Generators, Position, RunState, load_training_state


def get_lr(fraction: float, peak: float, warmup: float) -> float:
    """Linear warmup over the first `warmup` of training, then linear decay to zero."""
    if fraction < warmup:
        return peak * (fraction + 1e-3) / warmup
    return peak * max(0.0, 1.0 - fraction) / (1.0 - warmup)


def make_optimizer(model: BabyBert, config: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW; no weight decay on biases and LayerNorm gains, as in BERT."""
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    options = dict(lr=config.lr, betas=(0.9, config.adam_beta2), eps=1e-6)
    try:
        return torch.optim.AdamW(groups, **options, fused=True)
    except (RuntimeError, TypeError):  # no fused kernel for this device
        return torch.optim.AdamW(groups, **options)


def pretraining_loss(model: BabyBert, batch, tasks,
                     rows_multiple: int = 1) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """(total, MLM, NSP) losses, left on the device: reading one back is a host sync. The masked
    rows are padded to a multiple of `rows_multiple` inside the model (see Run.buckets)."""
    out = model(batch.input_ids, batch.token_type_ids, batch.attention_mask,
                mlm_mask=batch.mlm_mask if "mlm" in tasks else torch.zeros_like(batch.special_mask),
                rows_multiple=rows_multiple)
    mlm = F.cross_entropy(out.mlm_logits, batch.mlm_labels) if "mlm" in tasks else None
    nsp = F.cross_entropy(out.nsp_logits, batch.nsp_labels) if "nsp" in tasks else None
    loss = sum(x for x in (mlm, nsp) if x is not None)
    return loss, mlm, nsp


@dataclass
class Clock:
    """Seconds since training began; a resumed run's go on from those it had already trained."""
    start: float  # time.perf_counter() when it began
    budget: float | None  # the time budget in seconds

    @classmethod
    def starting_at(cls, elapsed: float, budget: float | None) -> Clock:
        return cls(time.perf_counter() - elapsed, budget)

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def used(self) -> float:
        """The share of the time budget spent (0 without one)."""
        return self.elapsed() / self.budget if self.budget else 0.0


@dataclass
class Saves:
    """When the next periodic save is due: every `every` steps or `every_seconds` of training."""
    every: int | None
    every_seconds: float | None
    step: int  # the step of the last save (or of the start)
    time: float = field(default_factory=time.perf_counter)  # and when it was

    def due(self, step: int, world: distributed.World, device: torch.device) -> bool:
        """Due by steps, or by any rank's clock (all must take part)."""
        if self.every and step - self.step >= self.every:
            return True
        late = float(bool(self.every_seconds) and time.perf_counter() - self.time >= self.every_seconds)
        return (distributed.all_sum([late], world, device)[0] if world.distributed and self.every_seconds
                else late) > 0

    def done(self, step: int) -> None:
        self.step, self.time = step, time.perf_counter()


def batches(corpus: EncodedCorpus, config: TrainConfig, world: distributed.World, position: Position,
            plan_generator: torch.Generator) -> Iterator[tuple[EpochPlan, torch.Tensor]]:
    """(plan, rows): this rank's share of each batch, epoch after epoch, from `position` on. The
    caller moves `position.batch` on after each step, so a save after a step points at the next
    batch; a new epoch is planned when one is used up. A batch of fewer rows than ranks is skipped
    by every rank alike (a rank cannot train on no rows)."""
    while True:
        plan = plan_epoch(corpus, config.tasks, config.batch_size, plan_generator)
        while position.batch < len(plan.batches):
            rows = plan.batches[position.batch]
            if len(rows) < world.size:  # too few to give every rank one: skipped by all alike
                position.batch += 1
                continue
            yield plan, rows[world.rank::world.size]  # this rank's share
        position.epoch, position.batch, position.plan_state = position.epoch + 1, 0, plan_generator.get_state()


def stop_check(run: Run, step: int, clock: Clock, stop: threading.Event) -> tuple[str | None, float]:
    """Why to stop now, if at all, and how far training is (for the learning rate). On several
    ranks all must agree, or their steps would no longer meet: any rank's Stop counts, and the
    time is the ranks' mean (one small collective)."""
    by_time = clock.used()
    stopped, time_up = float(stop.is_set()), float(by_time >= 1.0)
    if run.world.distributed:
        stopped, time_up, by_time = distributed.all_sum([stopped, time_up, by_time], run.world, run.device)
        by_time /= run.world.size
    return run.limits.reason(step, stopped, time_up), run.limits.fraction(step, by_time)


def log(steps: list[StepLosses], state: RunState, limits: Limits) -> Iterator[Progress]:
    """A Progress event for each finished step whose losses were read, added to the history."""
    for s in steps:
        total, mlm, nsp = s.values
        state.tokens += s.tokens
        state.history.append({"step": s.step, "loss": total, "mlm_loss": mlm, "nsp_loss": nsp, "lr": s.lr})
        yield Progress(s.step, s.step / limits.steps_per_epoch, mlm, nsp, total, s.lr,
                       state.tokens / max(state.train_time, 1e-9), s.elapsed, s.fraction)


def evaluation(run: Run, state: RunState, probes, final: bool) -> Iterator[Eval | Sample | Probes]:
    """Score the held-out sentences, at BERT's 15% (not the training rate), the same sentences every
    time; show one of them masked; answer the probes."""
    model, tokenizer, config = run.model, run.tokenizer, run.config
    metrics = evaluate(model, tokenizer, run.data.held_out, config.seed, config.tasks, max_sentences=config.eval_sentences,
                       pairs=run.pairs)
    state.eval_history.append({"step": state.step, **metrics.to_dict()})
    yield Eval(state.step, metrics, final)
    if "mlm" in config.tasks:
        sentences = run.data.held_out_sentences
        sentence = sentences[len(state.eval_history) % len(sentences)]
        yield Sample(state.step, masked_example(model, tokenizer, sentence, state.generators.sample))
    if probes:
        yield Probes(state.step, run_probes(model, tokenizer, probes))
    model.train()


def run_info(run: Run, state: RunState, elapsed: float, reason: str | None, metrics: dict | None) -> dict:
    """What babybert.json says of the run: where it came from, its settings, how far it went, its numbers."""
    data, origin, init, given = run.data, run.origin, run.origin.init, run.origin.tokenizer
    return {
        "babybert_version": __version__,
        "name": run.out_dir.name if run.out_dir is not None else None,
        "command": origin.command,
        "corpus": {"name": origin.corpus_name, "source": origin.corpus_source, "train": vars(data.train_stats),
                   "held_out": vars(data.held_out_stats)},
        "init": str(init.path if isinstance(init, Checkpoint) else init) if init is not None else None,
        "tokenizer": str(given.name_or_path) if given is not None else None,
        "train_config": run.config.to_dict(),
        "steps": state.step,
        "epochs": round(state.step / run.limits.steps_per_epoch, 3),
        "train_seconds": round(elapsed, 1),
        "tokens": state.tokens,
        "tokens_per_sec": round(state.tokens / max(state.train_time, 1e-9)),
        "device": str(run.device),
        "precision": "bf16 autocast" if run.bf16 else "float32",  # what config.precision came to on this device
        "processes": run.world.size,
        "stop_reason": reason,
        "num_parameters": run.model.num_parameters(),
        "metrics": metrics,
        "widget": widget_text(data.held_out_sentences[0]),
        "history": thin(state.history, 2000),
        "eval_history": state.eval_history,
        "vocabulary": data.vocabulary,
    }


def loss_plot(info: dict):
    """What a checkpoint gets besides the model: its loss curves as loss.png (the model card shows it)."""
    if not info.get("history"):
        return None
    return lambda folder: save_loss_plot(info["history"], info.get("eval_history", []), folder / "loss.png")


def save(run: Run, state: RunState, clock: Clock, info: dict, keep_state: bool) -> Path | None:
    """Rank 0 writes the checkpoint, with the training state (for --resume) when `keep_state`;
    every rank takes part in gathering that state."""
    saved = state.to_dict(run.world, run.device, run.config.to_dict(), run.data.fingerprint, clock.elapsed()) \
        if keep_state else None
    if run.out_dir is None or not run.world.main:
        return run.out_dir
    return save_checkpoint(run.out_dir, run.model, run.tokenizer, info, saved, extras=loss_plot(info))


def last_metrics(state: RunState) -> dict | None:
    """The latest evaluation's metrics, for a checkpoint saved between evaluations."""
    last = state.eval_history[-1] if state.eval_history else None
    return last and {k: v for k, v in last.items() if k != "step"}


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
    A corpus file is read as a stream into a token store in `cache_dir` (see data/store.py), reporting
    to `progress(what, done, total)` as it goes; documents in memory are encoded in memory.
    With `tokenizer` (a published one, see hub.get_tokenizer) a new model is trained from scratch
    with it instead of a WordPiece learned from the corpus; the vocabulary size is then its own.
    `corpus_source` says where the corpus came from and how it was split into sentences (a Hub
    dataset's, see hub/dataset.py); the checkpoint and its model card record it.
    """
    resumed = load_training_state(resume) if resume is not None else None
    if resumed is not None:
        init, config = resume, config or TrainConfig.from_dict(resumed["train_config"])
    model_config = ModelConfig(**vars(model_config)) if model_config else ModelConfig()
    config = config or TrainConfig()
    config.validate()
    model_config.validate()
    keep_state = bool(config.save_every or config.save_every_seconds)  # save what --resume needs
    if keep_state and out_dir is None:
        raise UserError("saving every so often (save_every) needs an output folder (out_dir, --out)")
    stop = stop or threading.Event()
    world = distributed.current()  # one process, or this rank of a torchrun group (distributed.setup)
    device = pick_device(config, world)
    generators = Generators.seeded(config.seed, world.rank)
    origin = Origin(command, corpus_name, corpus_source, init, tokenizer)
    run = set_up(documents, model_config, config, world, device, origin, out_dir, resumed, resume, cache_dir, progress)
    model, corpus, limits = run.model, run.data.train, run.limits
    optimizer = make_optimizer(model, config, device)
    num_parameters = model.num_parameters()  # (counted once: the out-of-memory message names it)
    yield Start(run.data.train_stats, run.data.held_out_stats, num_parameters, len(run.tokenizer),
                limits.total_steps, str(device), model, run.tokenizer, resumed["step"] if resumed is not None else 0,
                run.data.token_store and str(run.data.token_store))

    state = (RunState.from_dict(resumed, optimizer, generators, world, device, resume) if resumed is not None
             else RunState.new(optimizer, generators))
    clock = Clock.starting_at(state.elapsed, config.time_budget)  # a resumed run's budget counts its time so far
    saves = Saves(config.save_every, config.save_every_seconds, state.step)
    reader = LossReader(config.tasks, world, device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if run.bf16 else contextlib.nullcontext()
    positions, rows = run.buckets
    for plan, examples in batches(corpus, config, world, state.position, generators.plan):
        reason, fraction = stop_check(run, state.step, clock, stop)
        if reason:
            break
        t_step = time.perf_counter()
        lr = get_lr(fraction, config.lr, config.warmup)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = make_batch(corpus, plan, examples, config.tasks, run.ids, run.max_len, config.mask_prob,
                           generators.mask, positions)
        batch_tokens, batch = batch.num_tokens, batch.to(device)  # counted on the host: no sync
        with step_memory(state.step + 1, num_parameters, config.batch_size, run.max_len):
            with autocast:
                loss, mlm_loss, nsp_loss = pretraining_loss(run.trained, batch, config.tasks, rows)
            reader.add(state.step + 1, lr, batch_tokens, (loss, mlm_loss, nsp_loss))  # read before the update
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip, foreach=True)  # not 2 kernels a tensor
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        state.step += 1
        state.position.batch += 1  # a save from here on resumes at the next batch
        state.train_time += time.perf_counter() - t_step
        reader.finish(clock.elapsed(), limits.fraction(state.step, clock.used()))
        yield from log(reader.finished(), state, limits)
        if config.eval_every and state.step % config.eval_every == 0 and state.step != limits.total_steps:
            yield from log(reader.finished(read=True), state, limits)  # every rank: on several, a collective
            if world.main:
                yield from evaluation(run, state, probes, final=False)  # (the last step gets the final one)
        if keep_state and state.step != limits.total_steps and saves.due(state.step, world, device):
            yield from log(reader.finished(read=True), state, limits)  # (the last step is saved below)
            info = run_info(run, state, clock.elapsed(), None, last_metrics(state)) if world.main else {}
            save(run, state, clock, info, keep_state)
            model.train()
            saves.done(state.step)

    yield from log(reader.finished(read=True), state, limits)
    elapsed, metrics = clock.elapsed(), None
    if world.main:  # rank 0 alone evaluates and saves; the others wait for it at the end
        final = list(evaluation(run, state, probes, final=True))
        yield from final
        metrics = final[0].metrics
    info = run_info(run, state, clock.elapsed(), reason, metrics.to_dict() if metrics is not None else None)
    model.eval()
    path = save(run, state, clock, info, keep_state)
    distributed.barrier(world)
    yield Done(state.step, metrics, reason, elapsed, path, model, run.tokenizer, info)

"""The training generator: events, limits, determinism, stopping, continuing, task choice."""

import importlib
import threading

import pytest
import torch

from babybert import BabyBert, Done, Eval, ModelConfig, Progress, Sample, Start, TrainConfig, load_checkpoint
from babybert import UserError, train
from babybert.training.loop import get_lr

from .conftest import TINY_MODEL, tiny_train_config


def losses(events):
    return [e.loss for e in events if isinstance(e, Progress)]


def test_events_in_order_with_typed_fields(documents):
    events = list(train(documents, TINY_MODEL, tiny_train_config(max_steps=20, eval_every=10)))
    assert isinstance(events[0], Start) and isinstance(events[-1], Done)
    start = events[0]
    assert start.train.documents + start.held_out.documents == len(documents)
    assert start.held_out.documents == 5 and start.train.tokens > start.train.sentences
    progress = [e for e in events if isinstance(e, Progress)]
    assert [p.step for p in progress] == list(range(1, 21))
    assert all(p.mlm_loss is not None and p.nsp_loss is not None and p.tokens_per_sec > 0 for p in progress)
    assert progress[-1].fraction == 1.0 and 0 < progress[0].fraction < 1
    evals = [e for e in events if isinstance(e, Eval)]
    assert [e.step for e in evals] == [10, 20] and evals[-1].final
    samples = [e for e in events if isinstance(e, Sample)]
    assert samples and all("[MASK]" in s.example.text and len(s.example.truth) == len(s.example.predictions)
                           for s in samples)
    assert events[-1].reason == "max_steps" and events[-1].step == 20


def test_loss_decreases(documents):
    values = losses(train(documents, TINY_MODEL, tiny_train_config(max_steps=150)))
    assert sum(values[-20:]) / 20 < 0.6 * sum(values[:20]) / 20


def test_same_seed_same_losses_and_other_seed_differs(documents):
    a = losses(train(documents, TINY_MODEL, tiny_train_config(max_steps=25)))
    b = losses(train(documents, TINY_MODEL, tiny_train_config(max_steps=25)))
    c = losses(train(documents, TINY_MODEL, tiny_train_config(max_steps=25, seed=1)))
    assert a == b
    assert a != c


def test_held_out_scores_hide_15_percent_whatever_the_training_rate(documents):
    """Evaluation masks at BERT's 15% even when training masks more, so scores compare across runs."""
    from babybert.data.corpus import split_corpus
    from babybert.analysis.evaluate import evaluate
    done = list(train(documents, TINY_MODEL, tiny_train_config(max_steps=5, mask_prob=0.45)))[-1]
    held_out = split_corpus(documents)[1]
    assert done.metrics == evaluate(done.model, done.tokenizer, held_out, seed=0, mask_prob=0.15)
    assert done.metrics != evaluate(done.model, done.tokenizer, held_out, seed=0, mask_prob=0.45)


def test_epochs_limit(documents):
    done = list(train(documents, TINY_MODEL, tiny_train_config(max_steps=None, epochs=2, batch_size=16)))[-1]
    # 43 training documents x 3 sentence pairs = 129 NSP examples -> 9 batches per epoch
    assert done.reason == "epochs" and done.step == 18


def test_time_budget_limit(documents):
    done = list(train(documents, TINY_MODEL, tiny_train_config(max_steps=None, epochs=None, time_budget=1.0)))[-1]
    assert done.reason == "time_budget" and done.step > 0


def test_stop_request_still_evaluates_and_saves(tmp_path, documents):
    stop = threading.Event()
    events = []
    for event in train(documents, TINY_MODEL, tiny_train_config(max_steps=10_000), out_dir=tmp_path / "ck", stop=stop):
        events.append(event)
        if isinstance(event, Progress) and event.step == 7:
            stop.set()
    done = events[-1]
    assert done.reason == "stopped" and done.step == 7
    assert isinstance(events[-2], Sample) or isinstance(events[-2], Eval)
    assert done.metrics.mlm_accuracy is not None
    loaded = load_checkpoint(done.checkpoint)
    assert loaded.info["steps"] == 7 and loaded.info["stop_reason"] == "stopped"
    for (name, a), b in zip(done.model.state_dict().items(), loaded.model.state_dict().values()):
        assert torch.equal(a, b), name


def test_continue_pretraining_starts_from_the_checkpoint(documents, checkpoint_dir):
    scratch = losses(train(documents, TINY_MODEL, tiny_train_config(max_steps=5)))
    resumed_events = list(train(documents, ModelConfig(hidden_size=64), tiny_train_config(max_steps=5), init=checkpoint_dir))
    resumed = losses(resumed_events)
    assert resumed[0] < scratch[0] - 1.0  # it already knows the corpus
    assert resumed_events[-1].model.config.hidden_size == TINY_MODEL.hidden_size  # shape comes from the checkpoint
    assert resumed_events[-1].info["init"] == str(checkpoint_dir)


@pytest.mark.parametrize("tasks", [("mlm",), ("nsp",)])
def test_single_task_training(documents, tasks):
    events = list(train(documents, TINY_MODEL, tiny_train_config(max_steps=5, tasks=tasks)))
    progress = [e for e in events if isinstance(e, Progress)]
    assert (progress[0].mlm_loss is None) == ("mlm" not in tasks)
    assert (progress[0].nsp_loss is None) == ("nsp" not in tasks)
    metrics = events[-1].metrics
    assert (metrics.nsp_accuracy is None) == ("nsp" not in tasks)
    assert (metrics.mlm_accuracy is None) == ("mlm" not in tasks)


def test_mlm_only_needs_no_sentence_pairs():
    docs = [["one lonely sentence here."], ["another single sentence."], ["and a third one."]]
    done = list(train(docs, TINY_MODEL, tiny_train_config(max_steps=3, tasks=("mlm",))))[-1]
    assert done.step == 3
    with pytest.raises(ValueError, match="next-sentence prediction needs"):
        list(train(docs, TINY_MODEL, tiny_train_config(max_steps=3)))


@pytest.mark.parametrize("change, message", [
    (dict(tasks=("mlm", "sop")), "tasks must be"),
    (dict(max_steps=None, epochs=None), "at least one of"),
    (dict(lr=0.0), "lr must be"),
    (dict(mask_prob=1.5), "mask_prob"),
    (dict(batch_size=0), "batch_size"),
    (dict(device="tpu"), "device"),
])
def test_bad_training_settings(documents, change, message):
    with pytest.raises(ValueError, match=message):
        list(train(documents, TINY_MODEL, tiny_train_config(**change)))


def test_cuda_requested_without_gpu_is_a_clear_error(documents):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU; the error is about machines without one")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        list(train(documents, TINY_MODEL, tiny_train_config(device="cuda")))


def test_lr_schedule_warms_up_then_decays_to_zero():
    assert get_lr(0.0, 1.0, 0.1) < 0.02
    assert get_lr(0.1, 1.0, 0.1) == pytest.approx(1.0)
    assert get_lr(0.55, 1.0, 0.1) == pytest.approx(0.5)
    assert get_lr(1.0, 1.0, 0.1) == 0.0


def test_train_config_round_trips_through_json():
    config = TrainConfig(tasks=("mlm",), epochs=None, time_budget=30)
    assert TrainConfig.from_dict(config.to_dict()) == config


def saved_after_three_steps(documents, out) -> bytes:
    list(train(documents, TINY_MODEL, tiny_train_config(max_steps=3), out_dir=out))
    return (out / "model.safetensors").read_bytes()


def inject_at_step(monkeypatch, step: int, fault) -> None:
    """Training step `step` gets `fault(loss, mlm, nsp)` (which may raise) instead of its losses."""
    T = importlib.import_module("babybert.training.loop")
    real, calls = T.pretraining_loss, []

    def injected(model, batch, tasks, *args):
        calls.append(1)
        losses = real(model, batch, tasks, *args)
        return fault(*losses) if len(calls) == step else losses

    monkeypatch.setattr(T, "pretraining_loss", injected)


def test_a_diverging_run_is_reported_and_keeps_the_last_good_checkpoint(documents, tmp_path, monkeypatch):
    """A NaN loss, injected at step 4, ends the run with a message; the model saved before is untouched."""
    out = tmp_path / "ckpt"
    saved = saved_after_three_steps(documents, out)
    inject_at_step(monkeypatch, 4, lambda loss, mlm, nsp: (loss * float("nan"), mlm * float("nan"), nsp))
    with pytest.raises(ValueError, match="training diverged: the loss became nan at step 4 .*lower learning rate"):
        list(train(documents, TINY_MODEL, tiny_train_config(max_steps=10), out_dir=out))
    assert (out / "model.safetensors").read_bytes() == saved


@pytest.mark.parametrize("error", [
    torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
    RuntimeError("[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't allocate memory: you tried to "
                 "allocate 40000000000000 bytes. Error code 12 (Cannot allocate memory)"),
    RuntimeError("could not create a primitive"),  # oneDNN, seen when the worker's address space was capped
    MemoryError(),
])
def test_running_out_of_memory_is_reported_and_keeps_the_last_good_checkpoint(documents, tmp_path, monkeypatch, error):
    """An allocation that fails at step 4 (on GPU or CPU) ends the run with advice; the model saved before is untouched."""
    out = tmp_path / "ckpt"
    saved = saved_after_three_steps(documents, out)

    def fail(*losses):
        raise error

    inject_at_step(monkeypatch, 4, fail)
    with pytest.raises(ValueError, match="training ran out of memory at step 4 .*batch size 16.*try a smaller batch size"):
        list(train(documents, TINY_MODEL, tiny_train_config(max_steps=10), out_dir=out))
    assert (out / "model.safetensors").read_bytes() == saved


def test_other_runtime_errors_are_not_called_out_of_memory(documents, tmp_path, monkeypatch):
    def fail(*losses):
        raise RuntimeError("shape mismatch")

    inject_at_step(monkeypatch, 1, fail)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        list(train(documents, TINY_MODEL, tiny_train_config(max_steps=3), out_dir=tmp_path / "ckpt"))


def test_losses_read_back_every_few_steps_give_the_same_run(documents, monkeypatch):
    """On a GPU the losses are read back every LOSS_READ_EVERY_CUDA steps, not every step (each read
    waits for the GPU). Forced on CPU: the same events, the same weights, and one read per 5 steps."""
    L = importlib.import_module("babybert.training.losses")
    config = tiny_train_config(max_steps=23, eval_every=10)
    every_step = list(train(documents, TINY_MODEL, config))
    reads = []
    monkeypatch.setattr(L, "loss_read_interval", lambda device: 5)
    monkeypatch.setattr(L, "read_back", lambda values: reads.append(len(values)) or values.tolist())
    batched = list(train(documents, TINY_MODEL, config))

    def described(events):
        return [(type(e).__name__, getattr(e, "step", None), getattr(e, "loss", None), getattr(e, "mlm_loss", None),
                 getattr(e, "lr", None)) for e in events]

    assert described(batched) == described(every_step)
    assert reads == [5, 5, 5, 5, 3]  # steps 1-5, 6-10 (then the evaluation at 10), ..., the last 3 at the end
    a, b = every_step[-1].model.state_dict(), batched[-1].model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    inject_at_step(monkeypatch, 7, lambda loss, mlm, nsp: (loss * float("nan"), mlm * float("nan"), nsp))
    with pytest.raises(ValueError, match="the loss became nan at step 7 "):
        list(train(documents, TINY_MODEL, config))


def test_adam_beta2_is_the_optimizers_and_changes_the_run(documents):
    """AdamW's second-moment decay (a setting since the settings were declared once: docs/settings.md)."""
    from babybert.training.loop import make_optimizer

    model = BabyBert(TINY_MODEL)
    assert make_optimizer(model, TrainConfig(adam_beta2=0.999), torch.device("cpu")).defaults["betas"] == (0.9, 0.999)

    def losses(beta2):
        events = train(documents, TINY_MODEL, tiny_train_config(max_steps=8, adam_beta2=beta2))
        return [e.loss for e in events if isinstance(e, Progress)]

    default, bert = losses(TrainConfig().adam_beta2), losses(0.999)
    assert default[0] == bert[0] and default[1:] != bert[1:]  # the same first step; the updates differ


def test_precision_auto_takes_bf16_only_where_the_device_is_fast(monkeypatch):
    from babybert.training import setup

    cpu = torch.device("cpu")
    assert setup.use_bf16("fp32", cpu) is False
    for amx in (True, False):
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda amx=amx: amx)
        assert setup.use_bf16("auto", cpu) is amx
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    assert setup.use_bf16("bf16", cpu) is True  # asked for, and the CPU has bf16 arithmetic (if not AMX)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    with pytest.raises(UserError, match="no bfloat16 arithmetic.*--precision auto or fp32"):
        setup.use_bf16("bf16", cpu)


def test_cli_refuses_bf16_on_a_cpu_without_it(monkeypatch, tmp_path, corpus_text, capsys):
    from babybert.cli import main

    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    corpus = tmp_path / "animals.txt"
    corpus.write_text(corpus_text)
    assert main(["train", "--corpus", str(corpus), "--max-steps", "2", "--precision", "bf16", "--out", str(tmp_path / "m")]) == 2
    assert "--precision bf16 would be slower" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


@pytest.mark.skipif(not (torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported()),
                    reason="this CPU has no bfloat16 arithmetic: the bf16 path is refused (tested above)")
def test_bf16_training_keeps_float32_weights_and_records_its_precision(documents, tmp_path):
    """bf16 changes the products, not the model: float32 weights and checkpoint, the same loss at
    the first step to bf16's precision, and it says which precision trained it."""
    from safetensors.torch import load_file

    runs = {}
    for precision in ("fp32", "bf16"):
        out = tmp_path / precision
        events = list(train(documents, TINY_MODEL, tiny_train_config(max_steps=30, precision=precision), out_dir=out))
        runs[precision] = losses(events), events[-1]
        weights = load_file(out / "model.safetensors")
        assert {t.dtype for t in weights.values()} == {torch.float32}
        assert all(p.dtype == torch.float32 for p in events[-1].model.parameters())
    (fp32, done32), (bf16, done16) = runs["fp32"], runs["bf16"]
    assert done32.info["precision"] == "float32" and done16.info["precision"] == "bf16 autocast"
    assert bf16[0] == pytest.approx(fp32[0], rel=0.02) and bf16 != fp32  # same start; bf16 really used
    assert sum(bf16[-5:]) / 5 < 0.8 * bf16[0]  # and it learns

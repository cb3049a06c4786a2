"""A run stopped (or killed) and resumed ends with exactly the weights of a run never stopped, at
the same step, on CPU, with dropout or without: the optimizer, the random generators (torch's global
one, which draws the dropout masks, too) and the place in the data all go on from where they were saved."""

from __future__ import annotations

import shutil
import threading

import pytest
import torch

from babybert import ModelConfig, Progress, TrainConfig, load_checkpoint
from babybert import train
from babybert.training.state import STATE_FILE, load_training_state

from .conftest import TINY_MODEL

# BERT's dropout, on the hidden states and the attention weights: its masks come from torch's global
# generator, which the training state saves ("torch_rng")
DROPOUT = ModelConfig(**{**vars(TINY_MODEL), "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1})
MODELS = {"no dropout": TINY_MODEL, "dropout 0.1": DROPOUT}


def config(**overrides) -> TrainConfig:
    # the animal corpus makes 9 batches an epoch: 60 steps are 6.7 epochs, so runs stop inside an epoch
    # (step 23, in the third) and at an epoch's last batch (step 36, the fourth's)
    settings = dict(epochs=None, max_steps=60, batch_size=16, lr=3e-3, eval_every=25, vocab_size=200, seed=0,
                    mask_prob=0.15)
    settings.update(overrides)
    return TrainConfig(**settings)


def weights(path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path).model.state_dict()


def assert_same_weights(a, b) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for name in wa:
        assert torch.equal(wa[name], wb[name]), name


@pytest.fixture(scope="module", params=list(MODELS))
def uninterrupted(request, tmp_path_factory, documents):
    """(model config, the folder it was saved to, its events): a run never stopped, with or without dropout."""
    model = MODELS[request.param]
    out = tmp_path_factory.mktemp("straight") / "ckpt"
    events = list(train(documents, model, config(), out_dir=out))
    return model, out, events


def losses(events) -> list[float]:
    return [e.loss for e in events if isinstance(e, Progress)]


def test_stopped_then_resumed_equals_never_stopped(documents, tmp_path, uninterrupted):
    model, straight, straight_events = uninterrupted
    out, stop = tmp_path / "ckpt", threading.Event()
    first = []
    for event in train(documents, model, config(save_every=1000), out_dir=out, stop=stop):
        first.append(event)
        if isinstance(event, Progress) and event.step == 23:  # inside the third epoch
            stop.set()  # as Ctrl-C: evaluates and saves, with the training state
    assert first[-1].step == 23 and first[-1].reason == "stopped"
    assert load_training_state(out)["step"] == 23
    second = list(train(documents, resume=out, out_dir=out))
    assert [e.step for e in second if isinstance(e, Progress)] == list(range(24, 61))
    assert second[-1].step == 60 and second[-1].reason == "max_steps"
    assert losses(first) + losses(second) == losses(straight_events)  # the same batches, masks and updates
    assert_same_weights(out, straight)


def test_the_runs_with_dropout_really_drop(documents):
    """Dropout changes the steps, so the resumed runs above test how its masks go on."""
    plain = list(train(documents, TINY_MODEL, config(max_steps=3)))
    dropped = list(train(documents, DROPOUT, config(max_steps=3)))
    assert losses(plain) != losses(dropped)


def test_killed_then_resumed_from_the_last_periodic_save(documents, tmp_path, uninterrupted):
    """No final save: the process died after step 41. The save at step 36 (every 12 steps; the last
    batch of the fourth epoch) is where it goes on from."""
    model, straight, _ = uninterrupted
    out = tmp_path / "ckpt"
    for event in train(documents, model, config(save_every=12), out_dir=out):
        if isinstance(event, Progress) and event.step == 41:
            break  # the generator is abandoned: nothing more is saved
    assert load_training_state(out)["step"] == 36
    resumed = list(train(documents, resume=out, out_dir=tmp_path / "resumed"))
    assert resumed[-1].step == 60
    assert_same_weights(tmp_path / "resumed", straight)


def test_a_periodic_save_is_a_complete_checkpoint(documents, tmp_path):
    out = tmp_path / "ckpt"
    for event in train(documents, TINY_MODEL, config(save_every=10, eval_every=0), out_dir=out):
        if isinstance(event, Progress) and event.step == 15:
            break
    ckpt = load_checkpoint(out)  # loads and predicts like any checkpoint
    assert ckpt.info["steps"] == 10 and (out / STATE_FILE).is_file()
    assert not list(tmp_path.glob(".ckpt.*")), "a temporary folder was left beside the checkpoint"


def test_resume_refuses_another_corpus_and_a_checkpoint_without_state(documents, tmp_path):
    out = tmp_path / "ckpt"
    list(train(documents, TINY_MODEL, config(max_steps=5, save_every=100), out_dir=out))
    other = [[s.replace("cow", "goat") for s in d] for d in documents]
    with pytest.raises(ValueError, match="not the one the run .* was trained on"):
        list(train(other, resume=out, out_dir=out))
    plain = tmp_path / "plain"
    shutil.copytree(out, plain)
    (plain / STATE_FILE).unlink()
    with pytest.raises(ValueError, match="cannot be resumed.*--save-every.*--init"):
        list(train(documents, resume=plain, out_dir=plain))
    (plain / STATE_FILE).write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="not a BabyBERT training state"):
        list(train(documents, resume=plain, out_dir=plain))


def test_saving_every_so_often_needs_an_output_folder(documents):
    with pytest.raises(ValueError, match="needs an output folder"):
        list(train(documents, TINY_MODEL, config(save_every=10)))


def test_the_training_state_stays_local(hub, documents, tmp_path):
    from babybert.hub.repos import push

    from .conftest import WRITE
    out = tmp_path / "ckpt"
    list(train(documents, TINY_MODEL, config(max_steps=5, save_every=100), out_dir=out))
    assert (out / STATE_FILE).is_file()
    push(out, "alice/resumable", token=WRITE, endpoint=hub.endpoint)
    assert "model.safetensors" in hub.files("alice/resumable") and STATE_FILE not in hub.files("alice/resumable")

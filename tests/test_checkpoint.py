"""Checkpoint directories: their files, the model card, and refusing what is unsafe or broken."""

import json
import shutil

import pytest
import torch
from huggingface_hub import ModelCard
from safetensors.torch import save_file

from babybert import load_checkpoint, save_checkpoint
from babybert.bert.checkpoint import from_hf_state_dict, to_hf_state_dict
from babybert.errors import UserError


def test_checkpoint_files(checkpoint_dir):
    names = {p.name for p in checkpoint_dir.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt",
            "babybert.json", "loss.png", "README.md"} <= names
    assert not any(n.endswith((".bin", ".pt", ".pkl")) for n in names)
    config = json.loads((checkpoint_dir / "config.json").read_text())
    assert config["model_type"] == "bert" and config["architectures"] == ["BertForPreTraining"]
    info = json.loads((checkpoint_dir / "babybert.json").read_text())
    assert info["corpus"]["train"]["documents"] == 43 and info["corpus"]["held_out"]["documents"] == 5
    assert info["steps"] == 450 and len(info["history"]) == 450 and info["train_config"]["seed"] == 0
    assert set(info["metrics"]) >= {"mlm_accuracy", "mlm_perplexity", "word_accuracy", "nsp_accuracy"}
    assert (checkpoint_dir / "loss.png").read_bytes()[:4] == b"\x89PNG"


def test_model_card_metadata_and_content(checkpoint_dir):
    card = ModelCard.load(checkpoint_dir / "README.md")
    assert card.data.library_name == "transformers" and card.data.pipeline_tag == "fill-mask"
    assert {"babybert", "bert", "masked-lm"} <= set(card.data.tags)
    assert "[MASK]" in card.data.widget[0]["text"]
    metrics = {r.metric_type: r.metric_value for r in card.data.eval_results}
    info = json.loads((checkpoint_dir / "babybert.json").read_text())
    assert metrics["mlm_accuracy"] == round(info["metrics"]["mlm_accuracy"], 4)
    assert 'pipeline("fill-mask"' in card.text and "BertForPreTraining.from_pretrained" in card.text
    assert "most-frequent-piece baseline" in card.text
    assert "dropout 0 (attention 0)" in card.text  # the model's own, as it trained


def test_pickle_weights_load_as_plain_tensors_only(tmp_path, checkpoint_dir, trained):
    """pytorch_model.bin (older transformers) loads with torch.load(weights_only=True)."""
    ckpt = tmp_path / "pickled"
    shutil.copytree(checkpoint_dir, ckpt)
    (ckpt / "model.safetensors").unlink()
    torch.save(to_hf_state_dict(trained.model), ckpt / "pytorch_model.bin")
    loaded = load_checkpoint(ckpt).model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in trained.model.state_dict().items())


class RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):  # unpickling this would create the marker file
        return (open, (str(self.marker), "w"))


def test_pickle_weights_that_would_run_code_are_refused(tmp_path, checkpoint_dir):
    ckpt = tmp_path / "evil"
    shutil.copytree(checkpoint_dir, ckpt)
    (ckpt / "model.safetensors").unlink()
    marker = tmp_path / "code-ran"
    torch.save({"bert.embeddings.word_embeddings.weight": RunsCode(marker)}, ckpt / "pytorch_model.bin")
    with pytest.raises(UserError, match="cannot be loaded safely"):
        load_checkpoint(ckpt)
    assert not marker.exists()


def test_no_weights_at_all_is_explained(tmp_path, checkpoint_dir):
    ckpt = tmp_path / "empty"
    shutil.copytree(checkpoint_dir, ckpt)
    (ckpt / "model.safetensors").unlink()
    with pytest.raises(UserError, match="has no weights: expected model.safetensors"):
        load_checkpoint(ckpt)


def test_refuses_corrupt_weights(tmp_path, checkpoint_dir):
    ckpt = tmp_path / "corrupt"
    shutil.copytree(checkpoint_dir, ckpt)
    data = (ckpt / "model.safetensors").read_bytes()
    (ckpt / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="corrupt or truncated"):
        load_checkpoint(ckpt)


@pytest.mark.parametrize("edit, message", [
    (lambda c: c.update(model_type="gpt2"), "model_type='gpt2'"),
    (lambda c: c.update(hidden_act="relu"), "hidden_act"),
    (lambda c: c.pop("hidden_size"), "lacks hidden_size"),
    (lambda c: c.update(hidden_size=64), "shape"),
])
def test_refuses_configs_we_cannot_load(tmp_path, checkpoint_dir, edit, message):
    ckpt = tmp_path / "edited"
    shutil.copytree(checkpoint_dir, ckpt)
    config = json.loads((ckpt / "config.json").read_text())
    edit(config)
    (ckpt / "config.json").write_text(json.dumps(config))
    with pytest.raises(UserError, match=message):
        load_checkpoint(ckpt)


def test_google_configs_without_model_type_are_bert(tmp_path, checkpoint_dir):
    """The original google/bert_uncased_* configs predate model_type."""
    ckpt = tmp_path / "google-style"
    shutil.copytree(checkpoint_dir, ckpt)
    config = json.loads((ckpt / "config.json").read_text())
    del config["model_type"]
    (ckpt / "config.json").write_text(json.dumps(config))
    assert load_checkpoint(ckpt).model.config.hidden_size == config["hidden_size"]


def test_not_a_checkpoint(tmp_path):
    with pytest.raises(UserError, match="not a directory"):
        load_checkpoint(tmp_path / "nothing")
    with pytest.raises(UserError, match="no config.json"):
        load_checkpoint(tmp_path)


def test_missing_encoder_weights(tmp_path, checkpoint_dir):
    ckpt = tmp_path / "partial"
    shutil.copytree(checkpoint_dir, ckpt)
    state = {k: v for k, v in to_hf_state_dict(load_checkpoint(ckpt).model).items() if "layer.1." not in k}
    save_file(state, ckpt / "model.safetensors")
    with pytest.raises(UserError, match="lacks .* encoder weights"):
        load_checkpoint(ckpt)


def test_loads_a_bare_bert_with_classic_vocab(tmp_path, trained):
    """The layout of e.g. google/bert_uncased_L-2_H-128_A-2: BertModel weights with old
    LayerNorm gamma/beta names and no heads, tokenizer as vocab.txt only."""
    state = to_hf_state_dict(trained.model)
    bare = {k.removeprefix("bert.").replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): v
            for k, v in state.items() if k.startswith("bert.") and "pooler" not in k}
    save_file(bare, tmp_path / "model.safetensors")
    (tmp_path / "config.json").write_text(json.dumps(trained.model.config.to_bert_config()))
    shutil.copy(trained.checkpoint / "vocab.txt", tmp_path / "vocab.txt")
    ckpt = load_checkpoint(tmp_path)
    assert torch.equal(ckpt.model.layers[1].ffn_in.weight, trained.model.layers[1].ffn_in.weight)
    assert len(ckpt.tokenizer) == len(trained.tokenizer) and ckpt.info == {}


def test_name_table_round_trip(trained):
    ours = trained.model.state_dict()
    back = from_hf_state_dict(to_hf_state_dict(trained.model))
    assert back.keys() == ours.keys()


def test_saving_never_overwrites_unrelated_folders(tmp_path, trained):
    (tmp_path / "notes.txt").write_text("my notes")
    with pytest.raises(UserError, match="not empty and is not a checkpoint"):
        save_checkpoint(tmp_path, trained.model, trained.tokenizer)
    assert (tmp_path / "notes.txt").read_text() == "my notes"


def test_saving_over_a_checkpoint_replaces_it_whole(tmp_path, trained):
    out = tmp_path / "ck"
    save_checkpoint(out, trained.model, trained.tokenizer, {"version": 1})
    save_checkpoint(out, trained.model, trained.tokenizer, {"version": 2})
    assert json.loads((out / "babybert.json").read_text())["version"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]  # no temporary leftovers

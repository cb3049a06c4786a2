"""Checkpoints as Hugging Face model directories: config.json, model.safetensors, tokenizer files,
babybert.json (how it was trained), loss.png and a model card (README.md).

Weights are stored under the names of `transformers.BertForPreTraining`; NAME_TABLE below is the
one place that maps them to our model's names. Loading reads safetensors only — never pickle —
and never runs code from the checkpoint.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from babybert.config import ModelConfig, estimate_parameters
from babybert.bert.model import BabyBert
from babybert.bert.tokenizer import load_tokenizer, save_tokenizer
from babybert.errors import UserError, first_line

log = logging.getLogger(__name__)

# our name prefix -> transformers BertForPreTraining name prefix ({i} = layer number)
NAME_TABLE = [
    ("embeddings.word", "bert.embeddings.word_embeddings"),
    ("embeddings.position", "bert.embeddings.position_embeddings"),
    ("embeddings.token_type", "bert.embeddings.token_type_embeddings"),
    ("embeddings.norm", "bert.embeddings.LayerNorm"),
    ("layers.{i}.attn.query", "bert.encoder.layer.{i}.attention.self.query"),
    ("layers.{i}.attn.key", "bert.encoder.layer.{i}.attention.self.key"),
    ("layers.{i}.attn.value", "bert.encoder.layer.{i}.attention.self.value"),
    ("layers.{i}.attn.out", "bert.encoder.layer.{i}.attention.output.dense"),
    ("layers.{i}.attn_norm", "bert.encoder.layer.{i}.attention.output.LayerNorm"),
    ("layers.{i}.ffn_in", "bert.encoder.layer.{i}.intermediate.dense"),
    ("layers.{i}.ffn_out", "bert.encoder.layer.{i}.output.dense"),
    ("layers.{i}.ffn_norm", "bert.encoder.layer.{i}.output.LayerNorm"),
    ("pooler", "bert.pooler.dense"),
    ("mlm_transform", "cls.predictions.transform.dense"),
    ("mlm_norm", "cls.predictions.transform.LayerNorm"),
    ("mlm_bias", "cls.predictions.bias"),
    ("nsp", "cls.seq_relationship"),
]
# in transformers checkpoints but not separate weights here: tied copies and buffers
IGNORED_HF_KEYS = re.compile(r"(^|\.)(position_ids|cls\.predictions\.decoder\.(weight|bias))$")
OPTIONAL_PREFIXES = ("pooler", "mlm_", "nsp")  # heads a bare BertModel / BertForMaskedLM lacks
WEIGHTS = "model.safetensors"
INFO = "babybert.json"
STATE_FILE = "training_state.pt"  # what a resumed run needs besides the weights (training/state.py)


def _compile(table, src: int):
    rules = []
    for pair in table:
        pattern = re.escape(pair[src]).replace(r"\{i\}", r"(?P<i>\d+)")
        rules.append((re.compile(rf"^{pattern}(?=$|\.)"), pair[1 - src]))
    return rules


_TO_HF, _FROM_HF = _compile(NAME_TABLE, 0), _compile(NAME_TABLE, 1)


def _rename(name: str, rules) -> str | None:
    for pattern, target in rules:
        m = pattern.match(name)
        if m:
            return target.replace("{i}", m.groupdict().get("i") or "") + name[m.end():]
    return None


def to_hf_state_dict(model: BabyBert) -> dict[str, torch.Tensor]:
    out = {}
    for name, tensor in model.state_dict().items():
        hf_name = _rename(name, _TO_HF)
        assert hf_name is not None, f"NAME_TABLE has no entry for {name}"
        out[hf_name] = tensor.detach().cpu().contiguous()
    return out


def from_hf_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """transformers names -> ours. Accepts BertForPreTraining, BertForMaskedLM and bare BertModel
    layouts, and the old LayerNorm gamma/beta names."""
    out = {}
    for name, tensor in state.items():
        if IGNORED_HF_KEYS.search(name):
            continue
        name = name.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias")
        if not name.startswith(("bert.", "cls.")):
            name = "bert." + name  # a bare BertModel
        ours = _rename(name, _FROM_HF)
        if ours is None:
            raise UserError(f"unexpected weight {name!r}: not part of a BERT pretraining model")
        out[ours] = tensor
    if "mlm_bias" not in out and "cls.predictions.decoder.bias" in state:
        out["mlm_bias"] = state["cls.predictions.decoder.bias"]
    return out


# ----------------------------------------------------------------------------- save

def save_checkpoint(out_dir: str | Path, model: BabyBert, tokenizer, info: dict | None = None,
                    training_state: dict | None = None, extras: Callable[[Path], None] | None = None) -> Path:
    """Write a complete checkpoint directory. It is assembled in a temporary sibling and moved
    into place only when complete, so a failure never leaves a half-written or lost model. With
    `training_state` (see training/state.py), the run can be resumed from it; `extras(folder)`
    adds files of the caller's (training adds the loss plot) before the folder is moved into place."""
    from babybert.bert.card import write_model_card

    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"cannot save the checkpoint: {out_dir} is a file")
    if not replaceable(out_dir):
        raise UserError(f"refusing to overwrite {out_dir}: it is not empty and is not a checkpoint; choose another --out")
    info = dict(info or {})
    info["model_config"] = model.config.to_bert_config()
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    except OSError as e:  # a read-only or forbidden folder
        raise UserError(f"cannot save the checkpoint in {out_dir.parent}: {e.strerror or e}; choose another --out") from e
    try:
        (tmp / "config.json").write_text(json.dumps(model.config.to_bert_config(), indent=2) + "\n")
        save_file(to_hf_state_dict(model), tmp / WEIGHTS, metadata={"format": "pt"})
        save_tokenizer(tokenizer, tmp)
        (tmp / INFO).write_text(json.dumps(info, indent=2) + "\n")
        if extras is not None:
            extras(tmp)
        write_model_card(tmp, model, info)
        if training_state is not None:
            torch.save(training_state, tmp / STATE_FILE)
        _make_readable(tmp)
        move_into_place(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("saved checkpoint to %s", out_dir)
    return out_dir


def replaceable(folder: Path) -> bool:
    """Whether a checkpoint may be written over `folder`: it does not exist, is empty, or is a checkpoint."""
    return not folder.exists() or (folder.is_dir() and (not any(folder.iterdir()) or (folder / "config.json").is_file()))


def move_into_place(staged: Path, folder: Path) -> None:
    """A complete checkpoint assembled in `staged` (a sibling) becomes `folder`: an old one is moved
    aside first and deleted last, so a failure never leaves neither."""
    if folder.exists():
        old = folder.with_name(f".{folder.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        folder.rename(old)
        staged.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staged.rename(folder)


def _load_pickle_weights(weights: Path) -> dict[str, torch.Tensor]:
    """A pickle file loaded the only safe way: `weights_only=True` unpickles tensors and plain
    containers and refuses anything that would run code."""
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as e:  # UnpicklingError for code, RuntimeError/EOFError for a broken file
        raise UserError(f"{weights} cannot be loaded safely ({type(e).__name__}: {first_line(e)}); "
                        "only plain tensors are accepted from pickle files") from e
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise UserError(f"{weights} is not a state dict of tensors")
    log.warning("loaded pickle weights %s with torch.load(weights_only=True); prefer safetensors", weights)
    return state


def _make_readable(directory: Path) -> None:
    """mkdtemp makes a private directory; give the checkpoint the usual permissions instead."""
    umask = os.umask(0)
    os.umask(umask)
    directory.chmod(0o777 & ~umask)
    for f in directory.iterdir():
        f.chmod(0o666 & ~umask)


# ----------------------------------------------------------------------------- load

@dataclass
class Checkpoint:
    model: BabyBert
    tokenizer: object
    info: dict = field(default_factory=dict)  # babybert.json; empty for checkpoints made elsewhere
    path: Path | None = None


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """Load a BabyBERT checkpoint or a transformers BERT (e.g. bert-tiny) from a directory."""
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"checkpoint not found: {path} is not a directory")
    config_file = path / "config.json"
    if not config_file.is_file():
        raise UserError(f"{path} is not a checkpoint: it has no config.json")
    raw_config = read_json(config_file)
    if raw_config.get("auto_map"):
        log.warning("ignoring auto_map in %s: BabyBERT never runs code from a checkpoint", config_file)
    try:
        config = ModelConfig.from_bert_config(raw_config)  # (its checks raise UserError, naming config.json)
    except TypeError as e:  # a value of the wrong type, e.g. a string where a number belongs
        raise UserError(f"{config_file} has a value of the wrong type ({e}); fix it or save the checkpoint again") from e
    check_size(config, path)
    model = BabyBert(config)
    load_weights(model, path)
    tokenizer = load_tokenizer(path)
    if len(tokenizer) > config.vocab_size:
        raise UserError(f"tokenizer in {path} has {len(tokenizer)} tokens but the model only {config.vocab_size}")
    tokenizer.model_max_length = config.max_position_embeddings
    info = read_json(path / INFO) if (path / INFO).is_file() else {}
    model.to(device).eval()
    return Checkpoint(model, tokenizer, info, path)


PICKLE_WEIGHTS = "pytorch_model.bin"  # older transformers checkpoints


def read_json(file: Path) -> dict:
    """A checkpoint's JSON file (config.json, babybert.json) as a dict, or a UserError that says what is wrong."""
    try:
        value = json.loads(file.read_text(encoding="utf-8"))
    except OSError as e:
        raise UserError(f"cannot read {file}: {e.strerror or e}") from e
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError
        raise UserError(f"{file} is not valid JSON ({e}); fix it, or download or save the checkpoint again") from e
    if not isinstance(value, dict):
        raise UserError(f"{file} is not a JSON object of settings ({type(value).__name__}); fix it, or download or "
                        "save the checkpoint again")
    return value


def check_size(config: ModelConfig, path: Path) -> None:
    """Refuse a config.json whose model could not fit in its own weights file, before allocating it:
    a doctored config must not make us reserve gigabytes (a weight takes at least 2 bytes, fp16)."""
    files = [path / name for name in (WEIGHTS, PICKLE_WEIGHTS) if (path / name).is_file()]
    if not files:
        return  # load_weights explains what is missing
    size, params = files[0].stat().st_size, estimate_parameters(config)
    if 2 * params > size + 1_000_000:  # the pooler and heads may be absent from a file: a margin
        raise UserError(f"{path / 'config.json'} describes a model of {params:,} parameters, but {files[0].name} "
                        f"holds only {size:,} bytes: the config is wrong or the file incomplete")


def load_weights(model: BabyBert, path: Path) -> None:
    weights = path / WEIGHTS
    if weights.is_file():
        try:
            state = from_hf_state_dict(load_file(weights))
        except (SafetensorError, OSError) as e:
            raise UserError(f"{weights} is corrupt or truncated ({e}); download or save it again") from e
    elif (path / PICKLE_WEIGHTS).is_file():
        weights = path / PICKLE_WEIGHTS
        state = from_hf_state_dict(_load_pickle_weights(weights))
    else:
        raise UserError(f"{path} has no weights: expected {WEIGHTS} (or {PICKLE_WEIGHTS})")
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    required = [k for k in missing if not k.startswith(OPTIONAL_PREFIXES)]
    if required:
        raise UserError(f"{weights} lacks {len(required)} encoder weights, e.g. {required[0]}")
    for k, tensor in state.items():
        if tensor.shape != own[k].shape:
            raise UserError(f"{weights}: {k} has shape {tuple(tensor.shape)}, config.json implies {tuple(own[k].shape)}")
    if missing:
        log.warning("%s has no %s; those heads start from random weights", path, ", ".join(sorted({k.split('.')[0] for k in missing})))
    model.load_state_dict(state, strict=False)

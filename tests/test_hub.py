"""Push, pull and deploy-space through the real huggingface_hub, against the stand-in Hub."""

import hashlib
import json
import logging
import re
from pathlib import Path

import pytest
import torch
import yaml
from huggingface_hub import ModelCard

from babybert import fill_mask, load_checkpoint
from babybert.cli import main
from babybert.hub.repos import CHECKPOINT_FILES, HubError, pull, push
from babybert.hub.space import deploy_space, space_files

from .conftest import BOB, HUB_TOKENS, READ, WRITE

PUSHED = [name for name in CHECKPOINT_FILES if name != "special_tokens_map.json"]  # what our checkpoints hold


def digest(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir()) if p.is_file()}


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG)  # huggingface_hub's debug log too: the token must not be there either
    return caplog


def assert_no_token(*texts: str) -> None:
    for text in texts:
        for token in HUB_TOKENS:
            assert token not in text


def test_push_then_pull_round_trip(hub, checkpoint_dir, trained, tmp_path, logs, capfd):
    before = digest(checkpoint_dir)
    result = push(checkpoint_dir, "alice/tiny-animals", token=WRITE, endpoint=hub.endpoint)
    assert result.url == f"{hub.endpoint}/alice/tiny-animals" and re.fullmatch(r"[0-9a-f]{40}", result.commit_id)
    assert digest(checkpoint_dir) == before  # pushing only reads the checkpoint

    remote = hub.files("alice/tiny-animals")
    assert set(remote) == {".gitattributes", *PUSHED}
    assert all(remote[name] == (checkpoint_dir / name).read_bytes() for name in PUSHED if name != "README.md")
    card = ModelCard(remote["README.md"].decode())
    assert card.data.library_name == "transformers" and card.data.pipeline_tag == "fill-mask"
    assert {"babybert", "bert", "masked-lm"} <= set(card.data.tags)
    assert {r.metric_type for r in card.data.eval_results} >= {"mlm_accuracy", "nsp_accuracy"}
    assert "[MASK]" in card.data.widget[0]["text"]
    assert "python -m babybert pull alice/tiny-animals --out tiny-animals" in card.text  # the card names its repo

    ckpt = pull("alice/tiny-animals", endpoint=hub.endpoint, out=tmp_path / "pulled")
    assert digest(tmp_path / "pulled") == {name: hashlib.sha256(remote[name]).hexdigest() for name in PUSHED}
    sentence = "every morning the cow says [MASK]. the [MASK] lives in the farm."
    assert fill_mask(ckpt.model, ckpt.tokenizer, sentence, 5) == fill_mask(trained.model, trained.tokenizer, sentence, 5)
    assert ckpt.info["metrics"] == trained.info["metrics"]
    out, err = capfd.readouterr()
    assert_no_token(logs.text, out, err, *(data.decode(errors="replace") for data in remote.values()))


def test_transformers_fill_mask_pipeline_loads_a_pulled_model(hub, checkpoint_dir, trained, tmp_path):
    from transformers import pipeline

    push(checkpoint_dir, "alice/tiny", token=WRITE, endpoint=hub.endpoint)
    pull("alice/tiny", endpoint=hub.endpoint, out=tmp_path / "tiny")
    fill = pipeline("fill-mask", model=str(tmp_path / "tiny"), device="cpu")
    theirs = fill("every morning the cow says [MASK].", top_k=3)
    ours = fill_mask(trained.model, trained.tokenizer, "every morning the cow says [MASK].", 3)[0]
    assert [t["token_str"] for t in theirs] == [c.token for c in ours]
    # ours renormalises over real words ([PAD], [CLS], [SEP], [MASK] are never a guess): a little higher
    assert [c.score for c in ours] == pytest.approx([t["score"] for t in theirs], rel=0.02)


def transformers_bert(tmp_path: Path):
    """A tiny BertForPreTraining saved by transformers itself, with a classic vocab.txt."""
    from transformers import BertConfig, BertForPreTraining

    words = "the cow dog cat says moo woof meow lives in a farm house barn . ,".split()
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64)
    torch.manual_seed(0)
    model = BertForPreTraining(config).eval()
    model.save_pretrained(tmp_path / "hf")
    (tmp_path / "hf" / "vocab.txt").write_text("\n".join(vocab) + "\n")
    return model, vocab, tmp_path / "hf"


@pytest.mark.parametrize("weights", ["model.safetensors", "pytorch_model.bin"])
def test_pull_loads_a_standard_transformers_bert(hub, tmp_path, weights):
    """The google/bert_uncased_L-2_H-128_A-2 layout: config.json, weights, vocab.txt (no tokenizer.json)."""
    model, vocab, folder = transformers_bert(tmp_path)
    files = {"config.json": (folder / "config.json").read_bytes(), "vocab.txt": (folder / "vocab.txt").read_bytes(),
             "README.md": b"a published tiny BERT", "flax_model.msgpack": b"not downloaded"}
    if weights == "model.safetensors":
        files[weights] = (folder / "model.safetensors").read_bytes()
    else:  # as google/bert_uncased_L-2_H-128_A-2 has it: pickle weights, a config without model_type
        torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
        files[weights] = (tmp_path / "pytorch_model.bin").read_bytes()
        config = json.loads(files["config.json"])
        del config["model_type"]
        files["config.json"] = json.dumps(config).encode()
    hub.add_repo("google/bert-tiny-test", files)

    ckpt = pull("google/bert-tiny-test", endpoint=hub.endpoint, out=tmp_path / "pulled")
    assert not (tmp_path / "pulled" / "flax_model.msgpack").exists()  # only the files we load are fetched
    ids = torch.tensor([[vocab.index(t) for t in ["[CLS]", "the", "cow", "says", "[MASK]", ".", "[SEP]"]]])
    with torch.no_grad():
        logits = model(input_ids=ids).prediction_logits[0, 4]
    logits[[0, 2, 3, 4]] = float("-inf")  # fill_mask never guesses [PAD], [CLS], [SEP] or [MASK]
    expected = logits.softmax(-1).topk(3)
    got = fill_mask(ckpt.model, ckpt.tokenizer, "the cow says [MASK].", 3)[0]
    assert [c.token for c in got] == [vocab[i] for i in expected.indices]
    assert [c.score for c in got] == pytest.approx(expected.values.tolist(), abs=1e-5)


def test_a_failed_pull_keeps_the_previous_model(hub, checkpoint_dir, tmp_path):
    push(checkpoint_dir, "alice/tiny", token=WRITE, endpoint=hub.endpoint)
    out = tmp_path / "current"
    pull("alice/tiny", endpoint=hub.endpoint, out=out)
    before = digest(out)
    hub.add_repo("alice/broken", {"config.json": (checkpoint_dir / "config.json").read_bytes(),
                                  "vocab.txt": (checkpoint_dir / "vocab.txt").read_bytes(),
                                  "model.safetensors": (checkpoint_dir / "model.safetensors").read_bytes()})
    hub.truncate_files = {"model.safetensors"}  # the Hub serves half of the weights
    with pytest.raises(HubError, match="corrupt or truncated"):
        pull("alice/broken", endpoint=hub.endpoint, out=out)
    assert digest(out) == before and load_checkpoint(out).model is not None
    assert [p.name for p in tmp_path.iterdir()] == ["current"]  # no partial download left behind


def gpt2_repo(hub):
    hub.add_repo("alice/gpt", {"config.json": json.dumps({"model_type": "gpt2", "n_embd": 32}).encode(),
                               "model.safetensors": b"weights", "tokenizer.json": b"{}"})


def config_only_repo(hub, checkpoint_dir):
    hub.add_repo("alice/noweights", {"config.json": (checkpoint_dir / "config.json").read_bytes(),
                                     "vocab.txt": (checkpoint_dir / "vocab.txt").read_bytes()})


PUSH_ERRORS = [
    ("no token", None, "alice/x", lambda hub: None, "needs a Hugging Face token"),
    ("bad token", "hf_not_a_real_token_SECRET4", "alice/x", lambda hub: None, "did not accept the token \\(401\\)"),
    ("read token", READ, "alice/x", lambda hub: None, "may not write to alice/x \\(403\\)"),
    ("other namespace", BOB, "alice/x", lambda hub: None, "may not write to alice/x \\(403\\)"),
    ("invalid id", WRITE, "alice/not a name", lambda hub: None, "invalid repository id"),
    ("server error", WRITE, "alice/x", lambda hub: hub.fail_next(503, path_contains="/api/repos/create"),
     "server error \\(503\\)"),
    ("timeout", WRITE, "alice/x", lambda hub: hub.slow_next(6, path_contains="/api/repos/create"), "could not reach"),
]


@pytest.mark.parametrize("case, token, repo_id, setup, message", PUSH_ERRORS, ids=[c[0] for c in PUSH_ERRORS])
def test_push_errors_are_clear_and_lose_nothing(hub, checkpoint_dir, logs, capfd, case, token, repo_id, setup, message):
    before = digest(checkpoint_dir)
    setup(hub)
    with pytest.raises(HubError, match=message) as error:
        push(checkpoint_dir, repo_id, token=token, endpoint=hub.endpoint)
    assert digest(checkpoint_dir) == before
    assert ("model", "alice/x") not in hub.repos or case == "timeout"  # nothing half-made (a slow create may still land)
    out, err = capfd.readouterr()
    assert_no_token(str(error.value), logs.text, out, err)


PULL_ERRORS = [
    ("missing repo", "alice/nothing-here", lambda hub, ckpt: None, "repository alice/nothing-here not found"),
    ("invalid id", "not a repo id", lambda hub, ckpt: None, "invalid repository id"),
    ("empty id", "  ", lambda hub, ckpt: None, "no repository given: write its id as owner/name"),
    ("no config", "alice/docs", lambda hub, ckpt: hub.add_repo("alice/docs", {"README.md": b"hi"}), "has no config.json"),
    ("not bert", "alice/gpt", lambda hub, ckpt: gpt2_repo(hub), "not a BERT checkpoint: config.json has model_type='gpt2'"),
    ("no weights", "alice/noweights", lambda hub, ckpt: config_only_repo(hub, ckpt), "has no weights we can load"),
    ("private", "bob/secret", lambda hub, ckpt: hub.add_repo("bob/secret", {"config.json": b"{}"}, private=True),
     "not found .*private"),
    ("unreachable", "alice/x", lambda hub, ckpt: hub.close(), "could not reach"),
    ("timeout", "alice/x", lambda hub, ckpt: hub.slow_next(6, path_contains="/api/models/"), "could not reach"),
    ("server error", "alice/x", lambda hub, ckpt: hub.fail_next(502, path_contains="/api/models/"), "server error \\(502\\)"),
]


@pytest.mark.parametrize("case, repo_id, setup, message", PULL_ERRORS, ids=[c[0] for c in PULL_ERRORS])
def test_pull_errors_are_clear(hub, checkpoint_dir, tmp_path, logs, case, repo_id, setup, message):
    endpoint = hub.endpoint
    setup(hub, checkpoint_dir)
    with pytest.raises(HubError, match=message) as error:
        pull(repo_id, endpoint=endpoint, token=WRITE, out=tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert_no_token(str(error.value), logs.text)


def test_pull_a_revision(hub, checkpoint_dir, tmp_path):
    first = push(checkpoint_dir, "alice/tiny", token=WRITE, endpoint=hub.endpoint).commit_id
    config = json.loads((checkpoint_dir / "config.json").read_text())
    hub.add_commit("alice/tiny", {"config.json": json.dumps({**config, "model_type": "gpt2"}).encode()})
    with pytest.raises(HubError, match="model_type='gpt2'"):
        pull("alice/tiny", endpoint=hub.endpoint)
    assert pull("alice/tiny", revision=first, endpoint=hub.endpoint, out=tmp_path / "old").model is not None
    with pytest.raises(HubError, match="has no revision 'v9'"):
        pull("alice/tiny", revision="v9", endpoint=hub.endpoint)


def test_deploy_space_uploads_exactly_what_the_space_needs(hub):
    result = deploy_space("alice/babybert", token=WRITE, endpoint=hub.endpoint)
    assert result.url == f"{hub.endpoint}/spaces/alice/babybert"
    remote = hub.files("alice/babybert", repo_type="space")
    assert set(remote) == {".gitattributes", *space_files()}
    names = set(space_files())
    assert {"app.py", "requirements.txt", "README.md", "babybert/__init__.py", "babybert/hub/repos.py",
            "examples/world_facts.txt", "examples/minimal_pairs.jsonl",  # the pair panel reads it at start
            "checkpoints/babybert-default/model.safetensors"} <= names
    package = Path(__file__).resolve().parent.parent / "babybert"
    assert {f"babybert/{p.relative_to(package).as_posix()}" for p in package.rglob("*.py")} <= names  # every layer
    assert not any(n.startswith(("tests/", "docs/", ".ci/", "runs/")) or "__pycache__" in n for n in names)
    assert hub.repos[("space", "alice/babybert")].sdk == "gradio"


def test_readme_front_matter_configures_the_space():
    readme = Path(__file__).resolve().parent.parent / "README.md"
    front = yaml.safe_load(readme.read_text().split("---")[1])
    pinned = re.search(r"^gradio\[oauth\]==(\S+)$", (readme.parent / "requirements.txt").read_text(), re.M).group(1)
    assert front["sdk"] == "gradio" and front["sdk_version"] == pinned and front["app_file"] == "app.py"
    assert front["hf_oauth"] is True and "write-repos" in front["hf_oauth_scopes"]
    assert {"title", "emoji", "colorFrom", "colorTo", "python_version", "short_description", "license"} <= set(front)


def test_cli_push_pull_and_their_errors(hub, checkpoint_dir, tmp_path, capsys):
    assert main(["push", str(checkpoint_dir), "alice/cli", "--endpoint", hub.endpoint, "--token", WRITE]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == f"{hub.endpoint}/alice/cli" and "pushed" in err
    assert main(["pull", "alice/cli", "--out", str(tmp_path / "cli"), "--endpoint", hub.endpoint]) == 0
    assert "pulled alice/cli into" in capsys.readouterr().err and (tmp_path / "cli" / "model.safetensors").is_file()
    assert main(["push", str(checkpoint_dir), "alice/cli", "--endpoint", hub.endpoint, "--token", READ]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: pushing failed") and err.count("\n") == 1 and READ not in err
    assert main(["deploy-space", "alice/space", "--endpoint", hub.endpoint, "--token", WRITE]) == 0
    assert capsys.readouterr().out.strip() == f"{hub.endpoint}/spaces/alice/space"

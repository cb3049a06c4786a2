"""The Hub stand-in (tests/hub_server.py), driven through the real huggingface_hub client. No torch."""

import os
import threading
from pathlib import Path

import httpx2
import pytest
from huggingface_hub import HfApi, constants, hf_hub_download, snapshot_download
from huggingface_hub.errors import (
    BadRequestError,
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import get_session, hf_raise_for_status

from tests.hub_server import HubServer

TOKENS = {"hf_write": ("alice", "write"), "hf_read": ("alice", "read"), "hf_bob": ("bob", "write")}


@pytest.fixture(autouse=True)
def hf_env(tmp_path, monkeypatch):
    """Keep huggingface_hub away from the real machine: no saved token, no ~/.cache, short timeouts.
    Most settings are read into `constants` at import time, so those are patched there, not in os.environ."""
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))  # read by hf_xet when its session starts
    monkeypatch.setenv("HF_XET_CACHE", str(tmp_path / "hf_home" / "xet"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub_cache"))
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "hf_home" / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "hf_home" / "stored_tokens"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_ETAG_TIMEOUT", 5)
    monkeypatch.setattr(constants, "HF_HUB_DOWNLOAD_TIMEOUT", 5)


@pytest.fixture
def hub():
    with HubServer(tokens=TOKENS) as server:
        yield server
    assert server.errors == [], "the stand-in crashed:\n" + "\n".join(server.errors)


def make_folder(path, files):
    for name, data in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(data)
    return path


def read_folder(path, names):
    return {name: (path / name).read_bytes() for name in names}


CHECKPOINT = {"config.json": b'{"hidden_size": 32}', "vocab.txt": b"[PAD]\n[UNK]\nthe\n",
              "model.safetensors": os.urandom(4096), "extra/notes.txt": b"not wanted"}


@pytest.mark.parametrize("xet", [True, False], ids=["pipelined-upload", "legacy-create-commit"])
def test_upload_folder_then_snapshot_download_gives_identical_bytes(hub, tmp_path, monkeypatch, xet):
    # With hf_xet installed upload_folder uses _upload_pipeline.py; without it, HfApi.create_commit.
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", not xet)
    api = HfApi(endpoint=hub.endpoint)
    url = api.create_repo("alice/tiny-bert", token="hf_write", private=True, exist_ok=True)
    assert url.repo_id == "alice/tiny-bert" and url.startswith(hub.endpoint)
    folder = make_folder(tmp_path / "ckpt", {**CHECKPOINT, "optimizer.pt": b"skip me"})
    info = api.upload_folder(folder_path=folder, repo_id="alice/tiny-bert", token="hf_write",
                             commit_message="Upload tiny BERT", ignore_patterns=["*.pt"])
    assert info.oid == api.model_info("alice/tiny-bert", token="hf_read").sha
    assert hub.files("alice/tiny-bert") == {".gitattributes": hub.files("alice/tiny-bert")[".gitattributes"],
                                            **CHECKPOINT}

    wanted = ["config.json", "vocab.txt", "model.safetensors"]
    out = snapshot_download("alice/tiny-bert", endpoint=hub.endpoint, token="hf_read",
                            allow_patterns=["*.json", "vocab.txt", "*.safetensors"], local_dir=tmp_path / "dl")
    assert read_folder(tmp_path / "dl", wanted) == {k: CHECKPOINT[k] for k in wanted}
    assert out == str(tmp_path / "dl") and not (tmp_path / "dl" / "extra" / "notes.txt").exists()

    # Weights are described like LFS files (sha256 etc.), other files like plain git blobs.
    info = api.model_info("alice/tiny-bert", token="hf_read", files_metadata=True)
    siblings = {s.rfilename: s for s in info.siblings}
    assert siblings["model.safetensors"].lfs.size == 4096 and siblings["config.json"].lfs is None
    assert sorted(api.list_repo_files("alice/tiny-bert", token="hf_read")) == sorted([".gitattributes", *CHECKPOINT])


def test_a_commit_id_pins_the_old_content(hub, tmp_path):
    api = HfApi(endpoint=hub.endpoint, token="hf_write")
    api.create_repo("alice/pinned", exist_ok=True)
    folder = make_folder(tmp_path / "v1", CHECKPOINT)
    first = api.upload_folder(folder_path=folder, repo_id="alice/pinned", commit_message="v1").oid
    make_folder(folder, {"config.json": b'{"hidden_size": 64}'})
    second = api.upload_folder(folder_path=folder, repo_id="alice/pinned", commit_message="v2").oid
    assert first != second
    # The preupload answer carries each file's current oid, so unchanged files are not sent again.
    last_commit = [r for r in hub.requests if r.method == "POST" and "/commit/" in r.path][-1]
    assert b'"config.json"' in last_commit.body and b'"model.safetensors"' not in last_commit.body

    old = snapshot_download("alice/pinned", revision=first, endpoint=hub.endpoint, token="hf_read",
                            cache_dir=tmp_path / "cache")
    new = snapshot_download("alice/pinned", endpoint=hub.endpoint, token="hf_read", cache_dir=tmp_path / "cache")
    assert Path(old, "config.json").read_bytes() == CHECKPOINT["config.json"]
    assert Path(new, "config.json").read_bytes() == b'{"hidden_size": 64}'
    assert hub.files("alice/pinned", revision=first)["config.json"] == CHECKPOINT["config.json"]
    assert api.model_info("alice/pinned", revision=first).sha == first


def test_auth_errors_are_typed_like_the_real_hub(hub):
    api = HfApi(endpoint=hub.endpoint)
    hub.add_repo("alice/public", {"config.json": b"{}"})
    assert api.whoami("hf_read")["name"] == "alice"
    with pytest.raises(HfHubHTTPError) as e:  # unknown token: 401, but not "repo not found"
        api.model_info("alice/public", token="hf_nope")
    assert e.value.response.status_code == 401 and not isinstance(e.value, RepositoryNotFoundError)
    with pytest.raises(HfHubHTTPError, match="Invalid user token"):
        api.whoami("hf_nope")

    for token, status in [(False, 401), ("hf_read", 403), ("hf_bob", 403)]:  # anonymous, read-only, other user
        with pytest.raises(HfHubHTTPError) as e:
            api.create_repo("alice/new-repo", exist_ok=True, token=token)
        assert e.value.response.status_code == status, token
    with pytest.raises(HfHubHTTPError) as e:
        api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="alice/public", token="hf_read")
    assert e.value.response.status_code == 403
    assert ("model", "alice/new-repo") not in hub.repos

    with pytest.raises(RepositoryNotFoundError) as e:
        api.model_info("alice/missing", token="hf_read")
    assert e.value.response.status_code == 404
    with pytest.raises(RevisionNotFoundError):
        api.model_info("alice/public", revision="no-such-branch")
    with pytest.raises(EntryNotFoundError):
        hf_hub_download("alice/public", "missing.bin", endpoint=hub.endpoint)
    with pytest.raises(BadRequestError):  # the client validates names itself, so ask the server directly
        hf_raise_for_status(get_session().post(f"{hub.endpoint}/api/repos/create", json={"name": "bad--name"},
                                               headers={"authorization": "Bearer hf_write"}))


def test_private_repo_is_not_readable_without_a_token(hub, tmp_path):
    hub.add_repo("alice/secret", {"config.json": b"{}"}, private=True)
    api = HfApi(endpoint=hub.endpoint)
    with pytest.raises(RepositoryNotFoundError) as e:
        api.model_info("alice/secret", token=False)
    assert e.value.response.status_code == 401
    with pytest.raises(RepositoryNotFoundError):
        snapshot_download("alice/secret", endpoint=hub.endpoint, token=False, local_dir=tmp_path / "a")
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("alice/secret", "config.json", endpoint=hub.endpoint, token=False)
    with pytest.raises(RepositoryNotFoundError):  # another user: 404, as if it did not exist
        api.model_info("alice/secret", token="hf_bob")
    assert api.model_info("alice/secret", token="hf_read").private is True

    hub.add_repo("alice/gated", {"config.json": b"{}"}, gated=True)
    with pytest.raises(GatedRepoError):
        hf_hub_download("alice/gated", "config.json", endpoint=hub.endpoint, token="hf_bob")


def test_create_a_gradio_space_and_upload_to_it(hub, tmp_path):
    api = HfApi(endpoint=hub.endpoint, token="hf_write")
    url = api.create_repo("alice/demo", repo_type="space", space_sdk="gradio", exist_ok=True)
    assert url.repo_type == "space" and "/spaces/alice/demo" in url
    assert api.create_repo("alice/demo", repo_type="space", space_sdk="gradio", exist_ok=True) == url
    folder = make_folder(tmp_path / "app", {"README.md": b"---\nsdk: gradio\n---\n", "app.py": b"print(1)\n"})
    api.upload_folder(folder_path=folder, repo_id="alice/demo", repo_type="space", commit_message="app")
    assert api.space_info("alice/demo").sdk == "gradio"
    assert hub.files("alice/demo", repo_type="space")["app.py"] == b"print(1)\n"
    assert any(r.path == "/api/validate-yaml" for r in hub.requests)  # sent because of README.md


def test_injected_faults(hub, tmp_path):
    api = HfApi(endpoint=hub.endpoint, token="hf_read")
    hub.add_repo("alice/flaky", {"config.json": b"{}"})
    hub.fail_next(500, path_contains="/api/models/alice/flaky")
    with pytest.raises(HfHubHTTPError) as e:  # model_info is not retried
        api.model_info("alice/flaky")
    assert e.value.response.status_code == 500
    assert api.model_info("alice/flaky").id == "alice/flaky"  # only the next one failed

    # One 500 on the download HEAD is retried at once (second round of file_download.py): no error, no sleep.
    hub.fail_next(503, method="HEAD")
    path = hf_hub_download("alice/flaky", "config.json", endpoint=hub.endpoint, cache_dir=tmp_path / "c")
    assert Path(path).read_bytes() == b"{}"
    assert [r.method for r in hub.requests if "/resolve/" in r.path] == ["HEAD", "HEAD", "GET"]

    hub.fail_next(drop=True)
    with pytest.raises(httpx2.RemoteProtocolError):
        api.model_info("alice/flaky")
    hub.slow_next(2.0)
    with pytest.raises(httpx2.TimeoutException):
        api.model_info("alice/flaky", timeout=0.2)


@pytest.mark.parametrize("mode", ["silent", "consistency"])
def test_truncated_weights(hub, tmp_path, mode):
    weights = os.urandom(1000)
    hub.add_repo("google/bert_uncased_L-2_H-128_A-2", {"config.json": b"{}", "model.safetensors": weights})
    hub.truncate_files, hub.truncate_mode = {"model.safetensors"}, mode

    def download():
        return hf_hub_download("google/bert_uncased_L-2_H-128_A-2", "model.safetensors", endpoint=hub.endpoint,
                               cache_dir=tmp_path / "c")

    if mode == "silent":  # the client cannot tell: it saves the first half
        assert Path(download()).read_bytes() == weights[:500]
    else:  # the sizes disagree: the client refuses the file
        with pytest.raises(OSError, match="Consistency check failed"):
            download()


def test_requests_are_recorded_without_the_token(hub):
    HfApi(endpoint=hub.endpoint).whoami("hf_write")
    (request,) = hub.requests
    assert (request.method, request.path) == ("GET", "/api/whoami-v2")
    assert {k.lower(): v for k, v in request.headers.items()}["authorization"] == "<redacted>"
    assert "hf_write" not in repr(hub.requests)


def test_the_server_stops_cleanly_even_mid_request():
    with HubServer() as server:
        server.slow_next(30.0)
        errors = []

        def call():
            try:
                HfApi(endpoint=server.endpoint).model_info("alice/x", token=False)
            except Exception as e:  # the answer, sent after close() woke the handler up: repo not found
                errors.append(e)

        worker = threading.Thread(target=call)
        worker.start()
        while not server.requests:
            threading.Event().wait(0.01)
    worker.join(timeout=5)
    assert not worker.is_alive() and isinstance(errors[0], RepositoryNotFoundError)
    assert not [t for t in threading.enumerate() if "process_request" in t.name or t.name == "hub-server"]


def test_code_that_passes_no_endpoint_can_use_the_stand_in(hub, tmp_path, monkeypatch):
    # HF_ENDPOINT is read at import time into two constants; patch both (hf_hub_url uses the template, and
    # swaps in an explicit `endpoint=` only if the template starts with constants.ENDPOINT).
    monkeypatch.setattr(constants, "ENDPOINT", hub.endpoint)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                        hub.endpoint + "/{repo_id}/resolve/{revision}/{filename}")
    oid = hub.add_repo("google/bert_uncased_L-2_H-128_A-2", {"config.json": b"{}", "vocab.txt": b"[PAD]\n"})
    dev = hub.add_commit("google/bert_uncased_L-2_H-128_A-2", {"vocab.txt": b"[UNK]\n"}, branch="dev")
    assert HfApi().model_info("google/bert_uncased_L-2_H-128_A-2").sha == oid
    path = hf_hub_download("google/bert_uncased_L-2_H-128_A-2", "vocab.txt", revision="dev", cache_dir=tmp_path)
    assert Path(path).read_bytes() == b"[UNK]\n" and dev in path
    assert hub.files("google/bert_uncased_L-2_H-128_A-2", revision="dev")["config.json"] == b"{}"

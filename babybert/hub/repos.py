"""Model repositories on the Hugging Face Hub: push a checkpoint, pull one back (ours, or a BERT
made by transformers), download a published tokenizer. Every call goes through `huggingface_hub`;
`endpoint=` points it at another Hub (default: `HF_ENDPOINT`, else huggingface.co).

    url, commit = push("runs/world", "alice/babybert-world")
    ckpt = pull("alice/babybert-world", out="models/world")

Failures raise `HubError` (a UserError: the CLI and the app show its message, never a
traceback). A token is never put into a message, a log line, a model card or a file.
"""

from __future__ import annotations
import logging
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
import httpx2  # huggingface_hub's HTTP client: its network errors
from huggingface_hub import HfApi, get_token, snapshot_download
from huggingface_hub.errors import (GatedRepoError, HFValidationError, HfHubHTTPError, LocalEntryNotFoundError,
                                    LocalTokenNotFoundError, OfflineModeIsEnabled, RepositoryNotFoundError,
                                    RevisionNotFoundError)
from huggingface_hub.utils import get_session
from babybert.bert.card import write_model_card
from babybert.bert.checkpoint import INFO, Checkpoint, load_checkpoint, move_into_place, replaceable
from babybert.errors import UserError


log = logging.getLogger(__name__)


# what a checkpoint is made of: pushed, and pulled (weights and tokenizer in either layout)
CHECKPOINT_FILES = ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                    "special_tokens_map.json", "vocab.txt", INFO, "loss.png", "README.md"]


PULL_FILES = CHECKPOINT_FILES + ["pytorch_model.bin"]  # pickle: loaded with torch.load(weights_only=True) only


TIMEOUT = 30.0  # seconds without progress before a Hub call gives up (BABYBERT_HUB_TIMEOUT)


def _timeout() -> float:
    return float(os.environ.get("BABYBERT_HUB_TIMEOUT", TIMEOUT))


def _use_timeouts() -> None:
    """huggingface_hub's shared HTTP client waits forever by default, so a stalled Hub would hang a
    push or a pull (and the app's button) without a word. Give it a timeout before every call."""
    get_session().timeout = httpx2.Timeout(_timeout())


class HubError(UserError):
    """A Hub operation failed; the message says what happened and what to do."""


@dataclass
class PushResult:
    url: str  # the model page
    commit_id: str
    commit_url: str


def valid_repo_id(repo_id: str, what: str = "repository") -> str:
    repo_id = (repo_id or "").strip()
    if not repo_id:
        raise HubError(f"no {what} given: write its id as owner/name, e.g. alice/babybert-world")
    if not re.fullmatch(r"([\w.-]+/)?[\w.-]+", repo_id) or ".." in repo_id or repo_id.startswith(("-", ".")) \
            or len(repo_id.split("/")[-1]) > 96:
        raise HubError(f"invalid {what} id {repo_id!r}: write owner/name (letters, digits, '-', '_', '.'), "
                       "e.g. alice/babybert-world")
    return repo_id


@contextmanager
def hub_errors(action: str, repo_id: str, endpoint: str | None, *, revision: str | None = None):
    """Turn huggingface_hub's exceptions into one clear sentence (never with the token in it)."""
    where = endpoint or "the Hugging Face Hub"
    _use_timeouts()
    try:
        yield
    except HubError:
        raise
    except LocalTokenNotFoundError:
        raise HubError(f"{action} needs a Hugging Face token: sign in, pass --token, set HF_TOKEN or run "
                       "`hf auth login`") from None
    except HFValidationError as e:
        raise HubError(f"invalid repository id {repo_id!r}: {str(e).splitlines()[0]}") from None
    except RevisionNotFoundError:
        raise HubError(f"{repo_id} has no revision {revision!r} on {where}") from None
    except GatedRepoError:
        raise HubError(f"{repo_id} is gated: accept its conditions on its page, then use a token of that account") \
            from None
    except RepositoryNotFoundError:
        raise HubError(f"repository {repo_id} not found on {where} (or it is private and your token cannot read it)") \
            from None
    except HfHubHTTPError as e:
        status = e.response.status_code if e.response is not None else None
        if status == 401:
            raise HubError(f"{action} failed: {where} did not accept the token (401). Sign in again, or pass a valid "
                           "token (--token, the token field, or HF_TOKEN)") from None
        if status == 403:
            raise HubError(f"{action} failed: your token may not write to {repo_id} (403). Use a token with write "
                           "access, and a repository in your own namespace or an organisation you belong to") \
                from None
        if status == 404:
            raise HubError(f"repository {repo_id} not found on {where}") from None
        if status is not None and status >= 500:
            raise HubError(f"{action} failed: {where} had a server error ({status}); nothing was changed here, "
                           "try again in a while") from None
        raise HubError(f"{action} failed: {where} answered {status}: {_server_message(e)}") from None
    except OfflineModeIsEnabled:
        raise HubError(f"{action} failed: HF_HUB_OFFLINE is set, so nothing is asked of {where}; unset it and try "
                       "again") from None
    except (httpx2.TransportError, LocalEntryNotFoundError) as e:
        raise HubError(f"{action} failed: could not reach {where} ({type(e).__name__}); check the connection "
                       "or the endpoint, then try again") from None


def _server_message(e: HfHubHTTPError) -> str:
    return (getattr(e, "server_message", None) or str(e)).splitlines()[0][:200]


def push(checkpoint_dir: str | Path, repo_id: str, token: str | None = None, private: bool = False,
         endpoint: str | None = None, commit_message: str | None = None) -> PushResult:
    """Create the model repo if needed and upload the checkpoint, with a model card that names the
    repo. The local checkpoint is only read, never changed."""
    checkpoint_dir = Path(checkpoint_dir)
    ckpt = load_checkpoint(checkpoint_dir)  # refuse to publish something that does not load
    repo_id = valid_repo_id(repo_id)
    api = HfApi(endpoint=endpoint, token=_write_token(token, "pushing"))
    with hub_errors("pushing", repo_id, endpoint):
        if "/" not in repo_id:
            repo_id = f"{api.whoami()['name']}/{repo_id}"
        url = _ensure_repo(api, repo_id, "model", private)
        with _staged(checkpoint_dir, ckpt, repo_id) as folder:
            commit = api.upload_folder(folder_path=folder, repo_id=repo_id, repo_type="model",
                                       allow_patterns=CHECKPOINT_FILES,
                                       commit_message=commit_message or f"Upload BabyBERT checkpoint {checkpoint_dir.name}")
    return PushResult(url=url, commit_id=commit.oid, commit_url=commit.commit_url)


def _ensure_repo(api: HfApi, repo_id: str, repo_type: str, private: bool, **options) -> str:
    """Create the repository unless it exists; the URL of its page. (Asking first also avoids
    create_repo(exist_ok=True), which cannot build the URL of an existing repo on another endpoint.)"""
    try:
        api.repo_info(repo_id, repo_type=repo_type, timeout=_timeout())
    except RepositoryNotFoundError:
        return str(api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True, **options))
    return f"{api.endpoint}/{'spaces/' if repo_type == 'space' else ''}{repo_id}"


def _write_token(token: str | None, action: str) -> str:
    token = token or get_token()  # HF_TOKEN, else the saved `hf auth login`
    if not token:
        raise HubError(f"{action} needs a Hugging Face token with write access: sign in, pass --token (or the "
                       "token field), set HF_TOKEN, or run `hf auth login`")
    return token


@contextmanager
def _staged(checkpoint_dir: Path, ckpt: Checkpoint, repo_id: str):
    """The checkpoint's files, linked (or copied) into a temporary folder with a model card that
    names the repo, so that the upload never touches the checkpoint itself."""
    with tempfile.TemporaryDirectory(prefix="babybert-push-") as tmp:
        for name in CHECKPOINT_FILES:
            source = checkpoint_dir / name
            if source.is_file() and name != "README.md":
                try:
                    (Path(tmp) / name).hardlink_to(source)
                except OSError:
                    shutil.copy2(source, Path(tmp) / name)
        write_model_card(tmp, ckpt.model, ckpt.info, repo_id=repo_id)
        yield tmp


def pull(repo_id: str, revision: str | None = None, endpoint: str | None = None, token: str | None = None,
         out: str | Path | None = None) -> Checkpoint:
    """Download a BERT checkpoint (only the files we load) and load it. With `out`, it is placed
    there once complete and loadable; a failed pull leaves `out` as it was."""
    repo_id = valid_repo_id(repo_id)
    api = HfApi(endpoint=endpoint, token=token)
    with hub_errors("pulling", repo_id, endpoint, revision=revision):
        info = api.model_info(repo_id, revision=revision, timeout=_timeout())
        _check_files(repo_id, {s.rfilename for s in info.siblings or []})
        # the commit id, not the branch: every file comes from the same commit
        download = dict(repo_id=repo_id, revision=info.sha, endpoint=endpoint, token=token, allow_patterns=PULL_FILES,
                        etag_timeout=_timeout())
        if out is None:  # into the Hugging Face cache, as transformers would
            return _load_pulled(Path(snapshot_download(**download)), repo_id)
        out = Path(out)
        if not replaceable(out):
            raise HubError(f"refusing to pull into {out}: it exists and is not a checkpoint; choose another --out")
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.pull-", dir=out.parent))
        except OSError as e:  # a read-only or forbidden folder
            raise HubError(f"cannot pull into {out}: {e.strerror or e}; choose another --out") from e
        try:
            snapshot_download(**download, local_dir=tmp)
            shutil.rmtree(tmp / ".cache", ignore_errors=True)  # huggingface_hub's bookkeeping for local_dir
            ckpt = _load_pulled(tmp, repo_id)  # complete and loadable, or an error and nothing replaced
            move_into_place(tmp, out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        ckpt.path = out
        return ckpt


TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"]


def get_tokenizer(source: str | Path, revision: str | None = None, endpoint: str | None = None,
                  token: str | None = None, local: bool = True):
    """A published tokenizer to train a new model with: a local folder (a checkpoint, or any BERT
    tokenizer's files), or a Hub repository, of which only the tokenizer files are downloaded.
    Its `name_or_path` says where it came from (the checkpoint records it). A server passes
    `local=False`: a name a visitor typed must never open a folder of the server's."""
    from babybert.bert.tokenizer import load_tokenizer

    if not local:
        source = valid_repo_id(str(source), "tokenizer repository")
    elif Path(source).is_dir():
        try:
            return load_tokenizer(source)
        except UserError as e:
            raise HubError(f"no usable tokenizer in {source}: {e}") from e
    if local and Path(source).exists():
        raise HubError(f"--tokenizer {source} is a file: give its folder, or a Hub repository such as "
                       "google-bert/bert-base-uncased")
    repo_id = valid_repo_id(str(source), "tokenizer repository (or local folder)")
    api = HfApi(endpoint=endpoint, token=token)
    where = " (not a folder here, so from the Hub)" if local else ""
    with hub_errors(f"downloading the tokenizer {repo_id}{where}", repo_id, endpoint,
                    revision=revision):
        info = api.model_info(repo_id, revision=revision, timeout=_timeout())
        if not {s.rfilename for s in info.siblings or []} & {"tokenizer.json", "vocab.txt"}:
            raise HubError(f"{repo_id} has no tokenizer: expected tokenizer.json or vocab.txt")
        path = snapshot_download(repo_id=repo_id, revision=info.sha, endpoint=endpoint, token=token,
                                 allow_patterns=TOKENIZER_FILES, etag_timeout=_timeout())
    try:
        tokenizer = load_tokenizer(path)
    except UserError as e:
        raise HubError(f"{repo_id}: {e}") from e
    tokenizer.name_or_path = repo_id
    return tokenizer


def _check_files(repo_id: str, files: set[str]) -> None:
    """Refuse a repository that cannot be a BERT checkpoint before downloading anything."""
    if "config.json" not in files:
        raise HubError(f"{repo_id} is not a BERT checkpoint: it has no config.json")
    if not files & {"model.safetensors", "pytorch_model.bin"}:
        raise HubError(f"{repo_id} has no weights we can load: expected model.safetensors (or pytorch_model.bin)")
    if not files & {"tokenizer.json", "vocab.txt"}:
        raise HubError(f"{repo_id} has no tokenizer: expected tokenizer.json or vocab.txt")


def _load_pulled(path: Path, repo_id: str) -> Checkpoint:
    try:
        return load_checkpoint(path)
    except UserError as e:
        raise HubError(f"{repo_id}: {e}") from e

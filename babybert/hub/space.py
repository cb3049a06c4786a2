"""Deploy this project as a Gradio Space: exactly the files the app runs from, uploaded through
`huggingface_hub` (`endpoint=` points it at another Hub)."""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import HfApi

from babybert.hub.repos import HubError, PushResult, _ensure_repo, _write_token, hub_errors, valid_repo_id
from babybert.paths import ROOT


SPACE_FILES = ["app.py", "requirements.txt", "README.md", "babybert/**/*.py", "examples/*.txt", "examples/*.jsonl", "examples/*.py",
               "examples/README.md", "checkpoints/babybert-default/*"]


def space_files(root: Path = ROOT) -> list[str]:
    """Exactly the files the Space runs from: the app, the package, the examples, the default
    checkpoint, the requirements and the README (whose front matter configures the Space)."""
    files = sorted({p.relative_to(root).as_posix() for pattern in SPACE_FILES for p in root.glob(pattern) if p.is_file()})
    if "app.py" not in files or "checkpoints/babybert-default/model.safetensors" not in files:
        raise HubError(f"{root} is not a BabyBERT source checkout (app.py and the default checkpoint are needed)")
    return files


def deploy_space(space_id: str, token: str | None = None, private: bool = False, endpoint: str | None = None,
                 root: Path = ROOT) -> PushResult:
    """Create the Gradio Space if needed and upload the app to it."""
    space_id = valid_repo_id(space_id, "Space")
    files = space_files(root)
    api = HfApi(endpoint=endpoint, token=_write_token(token, "deploying a Space"))
    with hub_errors("deploying the Space", space_id, endpoint):
        if "/" not in space_id:
            space_id = f"{api.whoami()['name']}/{space_id}"
        url = _ensure_repo(api, space_id, "space", private, space_sdk="gradio")
        commit = api.upload_folder(folder_path=root, repo_id=space_id, repo_type="space", allow_patterns=files,
                                   commit_message="Deploy BabyBERT")
    return PushResult(url=url, commit_id=commit.oid, commit_url=commit.commit_url)

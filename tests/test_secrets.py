"""No token in any output, log, file, commit or model card, and no file outside the folder asked
for. The command line's Hub commands run as a user runs them (a process of their own, verbose
logging on, the token on the command line or in HF_TOKEN), right and wrong, against the stand-in
Hub; then everything they printed and wrote (huggingface_hub's own logs included), and everything
the Hub received, is searched for the tokens. (The app's side: tests/test_browser.py
scans its log, its files, the page and the pushed repository.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .conftest import HUB_TOKENS, READ, WRITE

ROOT = Path(__file__).resolve().parent.parent
WRONG = "hf_not_a_real_token_SECRET9"  # a token the Hub does not know
SECRETS = [*HUB_TOKENS, WRONG]


def cli(*args: str, home: Path, env_token: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(home), "HF_HOME": str(home / "hf"), "HF_HUB_VERBOSITY": "debug",
           "HF_HUB_DISABLE_PROGRESS_BARS": "1", "TMPDIR": str(home / "tmp"), "PYTHONPATH": str(ROOT)}
    env.pop("HF_TOKEN", None)
    if env_token:
        env["HF_TOKEN"] = env_token
    return subprocess.run([sys.executable, "-m", "babybert", "--verbose", *args], capture_output=True, text=True,
                          env=env, timeout=120, cwd=home / "cwd")


def test_no_token_in_any_output_file_commit_or_model_card(hub, checkpoint_dir, tmp_path):
    home, e = tmp_path / "home", ["--endpoint", hub.endpoint]
    for folder in ("cwd", "tmp"):
        (home / folder).mkdir(parents=True)
    hub.add_repo("alice/private", {"config.json": b"{}"}, private=True)
    runs = [  # (arguments, HF_TOKEN, expected exit status)
        (["push", str(checkpoint_dir), "alice/scan", *e, "--token", WRITE], None, 0),
        (["push", str(checkpoint_dir), "alice/scan-env", *e], WRITE, 0),
        (["push", str(checkpoint_dir), "alice/scan", *e, "--token", READ], None, 2),  # a read token: 403
        (["push", str(checkpoint_dir), "alice/scan", *e, "--token", WRONG], None, 2),  # unknown: 401
        (["pull", "alice/scan", "--out", str(tmp_path / "pulled"), *e, "--token", READ], None, 0),
        (["pull", "alice/private", "--out", str(tmp_path / "private"), *e], WRONG, 2),
        (["deploy-space", "alice/space", *e, "--token", WRITE], None, 0),
    ]
    printed = []
    for args, env_token, status in runs:
        proc = cli(*args, home=home, env_token=env_token)
        assert proc.returncode == status, f"{args[:2]}: {proc.stderr[-500:]}"
        printed.append(proc.stdout + proc.stderr)
    assert any("(authenticated: True)" in p for p in printed)  # requests were logged: there was a place to leak to
    # files go only where the user asked (--out), besides the libraries' own logs and caches
    # (huggingface_hub's xet transfer logs, matplotlib's fonts): nothing in the working folder or /tmp
    libraries = [home / "hf" / "xet" / "logs", home / ".cache" / "matplotlib"]
    elsewhere = [p for p in tmp_path.rglob("*") if p.is_file() and not p.is_relative_to(tmp_path / "pulled")
                 and not any(p.is_relative_to(folder) for folder in libraries)]
    assert not elsewhere, f"written outside --out: {elsewhere}"

    written = {str(p): p.read_bytes() for root in (home, tmp_path, Path(checkpoint_dir)) for p in root.rglob("*") if p.is_file()}
    received = {f"{key}@{commit.oid}:{name}": data for key, repo in hub.repos.items()
                for commit in repo.commits.values() for name, data in commit.files.items()}
    messages = [commit.message for repo in hub.repos.values() for commit in repo.commits.values()]
    assert "README.md" in hub.files("alice/scan")  # the model card was pushed, and is searched below
    for secret in SECRETS:
        assert not any(secret in text for text in printed), f"{secret} was printed"
        assert not [name for name, data in {**written, **received}.items() if secret.encode() in data], f"{secret} in a file"
        assert not any(secret in m for m in messages), f"{secret} in a commit message"

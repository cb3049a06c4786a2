"""A tiny stand-in for the Hugging Face Hub HTTP API, for tests. Standard library only.

    with HubServer(tokens={"hf_write": ("alice", "write"), "hf_read": ("alice", "read")}) as hub:
        HfApi(endpoint=hub.endpoint).create_repo("alice/tiny", token="hf_write")

The real `huggingface_hub` client talks to it when given `endpoint=hub.endpoint`. Checked against
huggingface_hub 2.4.0 (with hf_xet 1.8.0 installed, so `upload_folder` takes the "pipelined" path).

Endpoints (everything else answers 501 and names the request, so a missing route is obvious):
    GET  /api/whoami-v2                                      whoami
    POST /api/repos/create                                   create_repo (409 + {"url"} if it exists)
    POST /api/validate-yaml                                  sent before uploading a README.md
    GET  /api/{models,datasets,spaces}/{id}[/revision/{rev}] model_info / space_info / repo_info (?blobs=1)
    GET  /api/{type}s/{id}/tree/{rev}[/{path}]               list_repo_tree / list_repo_files (one page)
    POST /api/{type}s/{id}/paths-info/{rev}                  get_paths_info (form-encoded "paths")
    POST /api/{type}s/{id}/preupload/{rev}                   always answers uploadMode "regular"
    POST /api/{type}s/{id}/commit/{branch}                   NDJSON: header, file (base64), deletedFile/Folder
    HEAD/GET /[datasets/|spaces/]{id}/resolve/{rev}/{path}   hf_hub_download / snapshot_download

Dataset repositories (add_repo(..., repo_type="dataset")) use the same routes: babybert/hub_dataset.py
calls dataset_info(files_metadata=True) (siblings with sizes) and hf_hub_download of
datasets/{id}/resolve/{commit}/{path}, for the card (README.md) and the split's data files.

Storage: every commit keeps a full {path: bytes} snapshot, so any branch or 40-hex commit id works as a
revision. The API commits to existing branches only ("main"); add_commit(branch=...) makes others.
Files are never uploaded through LFS/Xet (the client is told "regular" and sends them base64 inline),
but files with a weights-like suffix (LFS_SUFFIXES) are *described* like LFS files: tree/paths-info/
siblings carry an "lfs" block and the resolve endpoint sends ETag = X-Linked-Etag = sha256 and
X-Linked-Size, like the real Hub. create_repo makes an initial commit holding a .gitattributes, like
the real Hub; add_repo() stores exactly the files it is given (and replaces any repo of that id).

Auth, as on the Hub: `Authorization: Bearer <token>`; an unknown token gets 401 with X-Error-Message
"Invalid credentials in Authorization header" (a plain HfHubHTTPError). A repo that does not exist, or
is private and not readable by the caller, gets 401 (anonymous) or 404 (authenticated) with
X-Error-Code RepoNotFound (RepositoryNotFoundError). Writes: no token 401, read token 403, another
namespace 403 (HfHubHTTPError). Unknown revision: 404 RevisionNotFound; missing file: 404
EntryNotFound with X-Repo-Commit (RemoteEntryNotFoundError); gated repo file for a non-owner: 401/403
GatedRepo (GatedRepoError); invalid repo name: 400 (BadRequestError); 409/412/5xx: HfHubHTTPError.
Note: the client's "401 on a repo URL means RepositoryNotFoundError" fallback only matches https://
URLs, so against this http:// server only the X-Error-Code header decides.

Retries in huggingface_hub 2.4.0 (utils/_http.py `_http_backoff_base`: 5 retries on 408/429/500/502/
503/504 and on timeouts/network errors, sleeping 1, 2, 4, 8, 8 s, or Retry-After + 1 s):
  - not retried: model_info/space_info/repo_info, create_repo (only loops on a 409 "conflicting
    operation"), whoami, paths-info, validate-yaml, and the commit of the legacy create_commit path.
  - retried with backoff: tree listing (utils/_pagination.py), preupload (_commit_api.py
    `_fetch_upload_modes`), and the commit POST of the pipelined upload_folder (_upload_pipeline.py
    `_send_commit(retry_on_error=True)`).
  - resolve HEAD (file_download.py `_get_metadata_or_catch_error`): one try without retries, timeout
    etag_timeout (10 s, or HF_HUB_ETAG_TIMEOUT); if that fails with 408/429/5xx or a timeout and the file
    is not cached, a second round with backoff and a 60 s timeout (`_ETAG_RETRY_TIMEOUT`). So one
    injected 500 on a HEAD is invisible; two cost a 1 s sleep. But a dropped connection on the HEAD
    (fail_next(drop=True)) is not caught there: httpx2.RemoteProtocolError comes straight out.
  - resolve GET (`http_get`): retries 408/429 with backoff; a dropped connection or timeout (timeout
    constants.HF_HUB_DOWNLOAD_TIMEOUT, 10 s) is retried 5 times, 1 s apart; a 5xx raises at once.
  - snapshot_download turns a 5xx or timeout on repo_info/tree into LocalEntryNotFoundError (it falls
    back to the cache), but re-raises RepositoryNotFoundError, GatedRepoError and 401.
  API calls other than downloads have no timeout unless one is passed (the shared client has None).

Fault injection (all on the HubServer object):
    hub.fail_next(status=500, times=1, path_contains=None, method=None, delay=0.0, drop=False)
    hub.slow_next(delay, times=1, path_contains=None, method=None)   answers normally, but late
    hub.delay = 2.0                                                   every request sleeps first
    hub.truncate_files = {"model.safetensors"}   names or paths; downloads serve the first half only.
        hub.truncate_mode = "silent" (default): HEAD and GET both advertise the short length, so the
            client saves the truncated file without complaint (a corrupt file on the Hub).
        hub.truncate_mode = "consistency": HEAD advertises the full size, GET sends half, and the client
            raises OSError("Consistency check failed: file should be of size ...").
Records: hub.requests (Request(method, path, headers, body), Authorization redacted) and hub.errors
(tracebacks of crashes inside the server, which answer 500).
"""

import base64
import hashlib
import json
import re
import threading
import time
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".onnx", ".msgpack", ".npz", ".pkl")
GITATTRIBUTES = b"".join(b"*%s filter=lfs diff=lfs merge=lfs -text\n" % s.encode() for s in LFS_SUFFIXES)
URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}  # as in the resolve / web URLs
API_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}  # as in the /api/ URLs
NAME_RE = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9._-]{0,94}[A-Za-z0-9_])?")


def git_blob_sha1(data: bytes) -> str:
    """The git object id of a file, which the Hub uses as the ETag of non-LFS files."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(data: bytes) -> bytes:
    return b"version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n" % (
        hashlib.sha256(data).hexdigest().encode(), len(data))


def is_lfs(path: str) -> bool:
    return path.endswith(LFS_SUFFIXES)


def valid_repo_id(repo_id: str) -> bool:
    parts = repo_id.split("/")
    return len(parts) == 2 and all(NAME_RE.fullmatch(p) and "--" not in p and ".." not in p for p in parts) \
        and not repo_id.endswith(".git")


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


class HubError(Exception):
    """An error answer: JSON {"error": message} plus the X-Error-Message/X-Error-Code headers the client reads."""

    def __init__(self, status: int, message: str, code: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers or {}


@dataclass
class Commit:
    oid: str
    message: str
    files: dict  # path -> bytes, the full snapshot
    date: str


@dataclass
class Repo:
    repo_type: str
    repo_id: str
    private: bool = False
    gated: bool = False
    sdk: str | None = None
    branches: dict = field(default_factory=dict)  # name -> commit oid
    commits: dict = field(default_factory=dict)  # oid -> Commit

    @property
    def owner(self) -> str:
        return self.repo_id.split("/")[0]

    def resolve(self, revision: str | None) -> Commit:
        revision = revision or "main"
        oid = self.branches.get(revision, revision)
        if oid not in self.commits:
            raise HubError(404, f"Invalid rev id: {revision}", code="RevisionNotFound")
        return self.commits[oid]


@dataclass
class Request:
    method: str
    path: str  # as sent, query string included
    headers: dict
    body: bytes


@dataclass
class _Fault:
    status: int | None  # None: answer normally (slow_next)
    times: int
    path_contains: str | None
    method: str | None
    delay: float
    drop: bool  # close the connection without answering (the client sees a network error)


class HubServer:
    def __init__(self, tokens: dict | None = None, host: str = "127.0.0.1"):
        self.tokens = dict(tokens or {})  # token -> (user name, "read" | "write")
        self.host = host
        self.repos: dict = {}  # (repo_type, repo_id) -> Repo
        self.requests: list = []
        self.errors: list = []
        self.delay = 0.0
        self.truncate_files: set = set()
        self.truncate_mode = "silent"
        self._faults: list = []
        self._lock = threading.RLock()
        self._closing = threading.Event()  # wakes sleeping handlers on close()
        self._httpd = self._thread = None

    # ---------------------------------------------------------------- lifecycle

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self._httpd.server_address[1]}"

    def start(self) -> "HubServer":
        self._closing.clear()
        self._httpd = ThreadingHTTPServer((self.host, 0), _Handler)  # port 0: the OS picks a free one
        self._httpd.daemon_threads = True
        self._httpd.hub = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="hub-server", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._httpd is None:
            return
        self._closing.set()
        self._httpd.shutdown()  # stops serve_forever
        self._httpd.server_close()  # closes the socket and joins the handler threads
        self._thread.join()
        self._httpd = None

    def __enter__(self) -> "HubServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # ---------------------------------------------------------------- test helpers

    def add_repo(self, repo_id: str, files: dict | None = None, *, repo_type: str = "model", private: bool = False,
                 gated: bool = False, sdk: str | None = None, message: str = "initial commit") -> str:
        """Create a repo holding exactly `files` ({path: bytes}) in one commit; returns the commit id."""
        if not valid_repo_id(repo_id):
            raise ValueError(f"invalid repo id {repo_id!r}: expected 'namespace/name'")
        with self._lock:
            self.repos[repo_type, repo_id] = Repo(repo_type, repo_id, private, gated, sdk)
            return self.add_commit(repo_id, files or {}, repo_type=repo_type, message=message)

    def add_commit(self, repo_id: str, files: dict, *, repo_type: str = "model", delete: tuple = (),
                   message: str = "update", branch: str = "main") -> str:
        """Commit `files` (added or replaced) and `delete` (paths removed) on top of `branch`; returns the commit id."""
        with self._lock:
            repo = self.repos[repo_type, repo_id]
            parent = repo.commits.get(repo.branches.get(branch, repo.branches.get("main")))  # new branches fork main
            snapshot = dict(parent.files) if parent else {}
            for path in delete:
                snapshot.pop(path, None)
            snapshot.update({path: bytes(data) for path, data in files.items()})
            # A fake but unique and stable-looking 40-hex commit id.
            seed = json.dumps([repo_id, parent and parent.oid, message, len(repo.commits),
                               sorted((p, git_blob_sha1(d)) for p, d in snapshot.items())])
            oid = hashlib.sha1(seed.encode()).hexdigest()
            repo.commits[oid] = Commit(oid, message, snapshot, now())
            repo.branches[branch] = oid
            return oid

    def files(self, repo_id: str, revision: str | None = None, repo_type: str = "model") -> dict:
        with self._lock:
            return dict(self.repos[repo_type, repo_id].resolve(revision).files)

    def fail_next(self, status: int = 500, times: int = 1, path_contains: str | None = None,
                  method: str | None = None, delay: float = 0.0, drop: bool = False) -> None:
        """The next `times` requests matching `method` and `path_contains` (a substring of the raw path, query
        included) answer `status` with a JSON error, after `delay` seconds; `drop=True` closes without answering."""
        with self._lock:
            self._faults.append(_Fault(status, times, path_contains, method, delay, drop))

    def slow_next(self, delay: float, times: int = 1, path_contains: str | None = None,
                  method: str | None = None) -> None:
        with self._lock:
            self._faults.append(_Fault(None, times, path_contains, method, delay, False))

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if (fault.method in (None, method)) and (fault.path_contains is None or fault.path_contains in path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    # ---------------------------------------------------------------- request handling

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        headers = {k: ("<redacted>" if k.lower() == "authorization" else v) for k, v in h.headers.items()}
        with self._lock:
            self.requests.append(Request(h.command, h.path, headers, body))
        fault = self._take_fault(h.command, h.path)
        delay = self.delay + (fault.delay if fault else 0.0)
        if delay:
            self._closing.wait(delay)
        if fault and fault.drop:
            h.close_connection = True  # nothing sent: the client gets "Server disconnected without sending a response"
            return
        try:
            if fault and fault.status is not None:
                raise HubError(fault.status, f"hub_server: injected {fault.status} error")
            url = urlsplit(h.path)
            parts = [unquote(p) for p in url.path.strip("/").split("/")]  # unquote each segment: "refs%2Fpr%2F1"
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            with self._lock:
                status, out_headers, out = self._route(h.command, parts, query, body, self._caller(h.headers))
        except HubError as e:
            status, out_headers, out = e.status, {"X-Error-Message": e.message, **e.headers}, {"error": e.message}
            if e.code:
                out_headers["X-Error-Code"] = e.code
        except Exception as e:  # a bug in this stand-in: say so loudly
            self.errors.append(traceback.format_exc())
            status, out_headers, out = 500, {"X-Error-Message": f"hub_server crashed: {e!r}"}, {"error": repr(e)}
        if not isinstance(out, bytes):
            out, out_headers = json.dumps(out).encode(), {"Content-Type": "application/json", **out_headers}
        h.send_response(status)
        out_headers.setdefault("Content-Length", str(len(out)))
        for key, value in out_headers.items():
            h.send_header(key, value)
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(out)

    def _caller(self, headers) -> tuple | None:
        """(user, role) of the bearer token, None when anonymous; 401 for an unknown token."""
        auth = headers.get("Authorization")
        if not auth:
            return None
        token = auth.removeprefix("Bearer ").strip()
        if token not in self.tokens:
            raise HubError(401, "Invalid credentials in Authorization header")
        return self.tokens[token]

    def _route(self, method: str, parts: list, query: dict, body: bytes, who: tuple | None):
        if parts == ["api", "whoami-v2"] and method == "GET":
            return self._whoami(who)
        if parts == ["api", "repos", "create"] and method == "POST":
            return self._create_repo(json.loads(body), who)
        if parts == ["api", "validate-yaml"] and method == "POST":
            return 200, {}, {"errors": [], "warnings": []}
        if len(parts) >= 4 and parts[0] == "api" and parts[1] in API_TYPES:
            repo_type, repo_id, action, rest = API_TYPES[parts[1]], "/".join(parts[2:4]), parts[4:5], parts[5:]
            return self._repo_api(method, repo_type, repo_id, action[0] if action else None, rest, query, body, who)
        repo_type = {"datasets": "dataset", "spaces": "space"}.get(parts[0], "model")
        rel = parts[1:] if repo_type != "model" else parts
        if len(rel) >= 5 and rel[2] == "resolve" and method in ("GET", "HEAD"):
            return self._resolve(method, repo_type, "/".join(rel[:2]), rel[3], "/".join(rel[4:]), who)
        raise HubError(501, f"hub_server does not implement {method} /{'/'.join(parts)}")

    # ---------------------------------------------------------------- auth helpers

    def _readable_repo(self, repo_type: str, repo_id: str, who: tuple | None) -> Repo:
        repo = self.repos.get((repo_type, repo_id))
        if repo is None or (repo.private and (who is None or who[0] != repo.owner)):
            # The Hub does not tell "missing" from "private": 401 when anonymous, 404 otherwise.
            raise HubError(401 if who is None else 404, "Repository not found", code="RepoNotFound")
        return repo

    def _check_write(self, namespace: str, who: tuple | None) -> None:
        if who is None:
            raise HubError(401, "You must be authenticated to write to the Hub")
        if who[1] != "write":
            raise HubError(403, "This token does not have write access")
        if who[0] != namespace:
            raise HubError(403, f"You don't have the rights to write to the namespace {namespace!r}")

    # ---------------------------------------------------------------- endpoints

    def _whoami(self, who):
        if who is None:
            raise HubError(401, "Invalid credentials in Authorization header")
        user, role = who
        return 200, {}, {"type": "user", "id": hashlib.sha1(user.encode()).hexdigest()[:24], "name": user,
                         "fullname": user, "orgs": [],
                         "auth": {"type": "access_token", "accessToken": {"displayName": "test", "role": role}}}

    def _create_repo(self, payload: dict, who):
        repo_type = payload.get("type") or "model"
        namespace = payload.get("organization") or (who[0] if who else None)
        repo_id = f"{namespace}/{payload.get('name')}"
        self._check_write(namespace, who)
        if repo_type not in URL_PREFIX or not valid_repo_id(repo_id):
            raise HubError(400, f"Invalid repo name or type: {repo_id!r} ({repo_type})")
        url = f"{self.endpoint}/{URL_PREFIX[repo_type]}{repo_id}"
        if (repo_type, repo_id) in self.repos:
            return 409, {}, {"error": "You already created this repo", "url": url}  # the client reads "url" here too
        if repo_type == "space" and payload.get("sdk") not in ("gradio", "streamlit", "docker", "static"):
            raise HubError(400, "Invalid or missing space sdk")
        private = payload.get("visibility") == "private" or bool(payload.get("private"))
        self.add_repo(repo_id, {".gitattributes": GITATTRIBUTES}, repo_type=repo_type, private=private,
                      sdk=payload.get("sdk"))
        return 200, {}, {"url": url, "name": repo_id, "id": repo_id}

    def _repo_api(self, method, repo_type, repo_id, action, rest, query, body, who):
        repo = self._readable_repo(repo_type, repo_id, who)
        revision = rest[0] if rest else None
        if method == "GET" and action in (None, "revision"):
            return 200, {}, self._info(repo, repo.resolve(revision), blobs=query.get("blobs") in ("1", "true", "True"))
        if method == "GET" and action == "tree":
            return 200, {}, self._tree(repo.resolve(revision), "/".join(rest[1:]), query.get("recursive") == "true")
        if method == "POST" and action == "paths-info":
            return 200, {}, self._paths_info(repo.resolve(revision), parse_qs(body.decode()).get("paths", []))
        if method == "POST" and action in ("preupload", "commit"):
            self._check_write(repo.owner, who)
            if query.get("create_pr"):
                raise HubError(501, "hub_server does not implement pull requests")
            if action == "preupload":
                return 200, {}, self._preupload(repo.resolve(revision), json.loads(body))
            return 200, {}, self._commit(repo, revision or "main", body)
        raise HubError(501, f"hub_server does not implement {method} {action} on a repo")

    def _info(self, repo: Repo, commit: Commit, blobs: bool) -> dict:
        siblings = []
        for path, data in sorted(commit.files.items()):
            sibling = {"rfilename": path}
            if blobs:  # files_metadata=True
                entry = self._file_entry(path, data)
                sibling.update(size=entry["size"], blobId=entry["oid"])
                if "lfs" in entry:
                    sibling["lfs"] = {"sha256": entry["lfs"]["oid"], "size": entry["size"],
                                      "pointerSize": entry["lfs"]["pointerSize"]}
            siblings.append(sibling)
        info = {"id": repo.repo_id, "author": repo.owner, "sha": commit.oid, "private": repo.private,
                "gated": "auto" if repo.gated else False, "disabled": False, "lastModified": commit.date,
                "createdAt": min(c.date for c in repo.commits.values()), "tags": [], "downloads": 0, "likes": 0,
                "siblings": siblings}
        if repo.repo_type == "space":
            info["sdk"] = repo.sdk
        return info

    @staticmethod
    def _file_entry(path: str, data: bytes) -> dict:
        if not is_lfs(path):
            return {"type": "file", "oid": git_blob_sha1(data), "size": len(data), "path": path}
        pointer = lfs_pointer(data)  # git stores the pointer, so the blob id is the pointer's
        return {"type": "file", "oid": git_blob_sha1(pointer), "size": len(data), "path": path,
                "lfs": {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": len(pointer)}}

    @staticmethod
    def _folder_entry(path: str) -> dict:
        return {"type": "directory", "oid": hashlib.sha1(path.encode()).hexdigest(), "size": 0, "path": path}

    def _tree(self, commit: Commit, path: str, recursive: bool) -> list:
        prefix = f"{path}/" if path else ""
        below = {p[len(prefix):]: d for p, d in commit.files.items() if p.startswith(prefix)}
        if path and not below:
            raise HubError(404, f"Entry not found: {path}", code="EntryNotFound")
        files, folders = [], set()
        for rel, data in sorted(below.items()):
            dirs = rel.split("/")[:-1]
            if recursive:
                folders.update("/".join(dirs[:i + 1]) for i in range(len(dirs)))
                files.append(self._file_entry(prefix + rel, data))
            elif dirs:
                folders.add(dirs[0])
            else:
                files.append(self._file_entry(prefix + rel, data))
        return [self._folder_entry(prefix + d) for d in sorted(folders)] + files

    def _paths_info(self, commit: Commit, paths: list) -> list:
        out = []
        for path in paths:
            if path in commit.files:
                out.append(self._file_entry(path, commit.files[path]))
            elif any(p.startswith(path.rstrip("/") + "/") for p in commit.files):
                out.append(self._folder_entry(path.rstrip("/")))
        return out  # paths that do not exist are left out, as on the Hub

    def _preupload(self, commit: Commit, payload: dict) -> dict:
        # "regular" for every file: the client then sends the bytes base64-encoded inside the commit, so no
        # LFS/Xet storage is needed. "oid" (git sha1 of what is there) lets the client skip unchanged files.
        files = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
                  "oid": git_blob_sha1(commit.files[f["path"]]) if f["path"] in commit.files else None}
                 for f in payload["files"]]
        return {"files": files, "commitOid": commit.oid}

    def _commit(self, repo: Repo, branch: str, body: bytes) -> dict:
        if branch not in repo.branches:
            raise HubError(404, f"Invalid rev id: {branch}", code="RevisionNotFound")
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            raise HubError(400, "The first line of a commit must be its header")
        header, head = lines[0]["value"], repo.resolve(branch)
        if header.get("parentCommit") and header["parentCommit"] != head.oid:
            raise HubError(412, "A commit has happened since. Please refresh and try again.")
        added, deleted = {}, []
        for line in lines[1:]:
            key, value = line["key"], line["value"]
            if key == "file":
                added[value["path"]] = base64.b64decode(value["content"])
            elif key == "deletedFile":
                if value["path"] not in head.files:
                    raise HubError(404, "A file with this name doesn't exist", code="EntryNotFound")
                deleted.append(value["path"])
            elif key == "deletedFolder":
                deleted += [p for p in head.files if p.startswith(value["path"].rstrip("/") + "/")]
            else:  # lfsFile: we never ask for LFS uploads, so we hold no LFS object to point to
                raise HubError(400, f"hub_server does not support commit operation {key!r}")
        message = header.get("summary") or "update"
        oid = self.add_commit(repo.repo_id, added, repo_type=repo.repo_type, delete=deleted, message=message,
                              branch=branch)
        url = f"{self.endpoint}/{URL_PREFIX[repo.repo_type]}{repo.repo_id}/commit/{oid}"
        return {"success": True, "commitOid": oid, "commitUrl": url, "commitMessage": message,
                "pullRequestUrl": None}

    def _resolve(self, method, repo_type, repo_id, revision, path, who):
        repo = self._readable_repo(repo_type, repo_id, who)
        commit = repo.resolve(revision)
        if repo.gated and (who is None or who[0] != repo.owner):
            raise HubError(401 if who is None else 403, "Access to this gated repo is restricted", code="GatedRepo")
        if path not in commit.files:
            raise HubError(404, "Entry not found", code="EntryNotFound", headers={"X-Repo-Commit": commit.oid})
        data = commit.files[path]
        entry = self._file_entry(path, data)
        etag = f'"{entry["lfs"]["oid"] if "lfs" in entry else entry["oid"]}"'
        served = advertised = data
        if path in self.truncate_files or path.rsplit("/", 1)[-1] in self.truncate_files:
            served = data[: len(data) // 2]
            advertised = served if self.truncate_mode == "silent" else data
        headers = {"ETag": etag, "X-Repo-Commit": commit.oid, "Content-Type": "application/octet-stream"}
        if "lfs" in entry:  # what the Hub sends (on its redirect) for LFS files; the client prefers these
            headers.update({"X-Linked-Etag": etag, "X-Linked-Size": str(len(advertised))})
        if method == "HEAD":
            headers["Content-Length"] = str(len(advertised))
        return 200, headers, served


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.0: one request per connection, so no idle keep-alive threads outlive a test.
    protocol_version = "HTTP/1.0"
    timeout = 30  # socket timeout: a stuck client cannot block close() forever

    def do_GET(self):
        self.server.hub._serve(self)

    do_HEAD = do_POST = do_PUT = do_DELETE = do_GET

    def log_message(self, *args):  # keep test output quiet; see HubServer.requests instead
        pass

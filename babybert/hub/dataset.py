"""A corpus from a Hub dataset or a local data file: a row is a document, its sentences one per line.

    corpus = corpus_from_dataset("roneneldan/TinyStories", max_rows=10_000)
    corpus.path          # a corpus file in the cache (one sentence per line, a blank line between documents)
    corpus.description   # "the first 10,000 rows of roneneldan/TinyStories (split train, column text, ...): ..."

Training then reads that file like any other (stream.py, store.py), so there is one path downstream.
The Hub part goes through huggingface_hub with `endpoint=`, because `datasets.load_dataset` has no
such argument (it reads HF_ENDPOINT once, on import): the repository's file list and sizes first,
its files picked for the config and split by `datasets`' own rules, the size limit checked before
anything is downloaded, then only those files. `datasets` parses them, as a stream. The corpus is
written once per dataset commit and settings, and reused.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from itertools import islice
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

from babybert.data.corpus import MAX_LINE_CHARS
from babybert.hub.repos import HubError, _timeout, hub_errors, valid_repo_id
from babybert.data.sentences import has_lines, split_sentences
from babybert.data.store import _assemble, cache_key, default_cache_dir
from babybert.data.stream import file_sha256
from babybert.bert.tokenizer import SPECIAL_TOKENS
from babybert.errors import UserError, first_line

KINDS = {".parquet": "parquet", ".jsonl": "json", ".json": "json", ".txt": "text", ".csv": "csv"}  # datasets' builders
MAX_BYTES = 1_000_000_000  # to download, and of text to write: more is likelier a mistake than a corpus
FORMAT = 1  # of the corpus written; a change makes new cache entries
INSTALL = 'reading datasets needs the datasets library: pip install "babybert[datasets]"'
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")  # what the corpus reader refuses (data.check_block)


@dataclass
class DatasetCorpus:
    path: Path  # the corpus file: one sentence per line, a blank line between documents
    name: str  # owner/name or the file's name: the corpus name a checkpoint records
    description: str  # where the text came from and how it was split into sentences
    documents: int
    sentences: int


def corpus_from_dataset(spec: str, *, split: str = "train", text_column: str = "text", max_rows: int | None = None,
                        max_bytes: int = MAX_BYTES, endpoint: str | None = None, token: str | None = None,
                        cache_dir: str | Path | None = None, revision: str | None = None,
                        local: bool = True) -> DatasetCorpus:
    """The corpus of `spec`: a Hub dataset `OWNER/NAME[:CONFIG]`, or a local .txt (documents between
    blank lines), .jsonl, .json, .parquet or .csv file. Each row of `split` (its first `max_rows`)
    is a document; its `text_column` is split into sentences (sentences.py), or kept at its line
    breaks when it has any. Over `max_bytes` to download, or of text, is an error (the app passes its
    upload limit). Errors are UserErrors (HubError) that say what to do. A server passes
    `local=False`: a name a visitor typed must never open a file of the server's."""
    spec = (spec or "").strip()
    if not spec:
        raise HubError("no dataset given: write OWNER/NAME[:CONFIG] (e.g. roneneldan/TinyStories) or a data file's path")
    if max_rows is not None and max_rows < 1:
        raise HubError(f"--max-rows must be at least 1, got {max_rows}")
    _import_datasets()  # before anything is downloaded: without it nothing can be read
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = local_path(spec) if local else None
    if not local:
        parse_spec(spec)  # only ever OWNER/NAME[:CONFIG]
    if path is not None:
        return _from_file(path, split, text_column, max_rows, max_bytes, cache)
    return _from_hub(spec, split, text_column, max_rows, max_bytes, endpoint, token, cache, revision)


def local_path(spec: str) -> Path | None:
    """The file `spec` names, when it names one rather than a Hub dataset (which has no such suffix)."""
    path = Path(spec).expanduser()
    if path.exists() or path.suffix.lower() in KINDS or spec.startswith((".", "/", "~")) or spec.count("/") > 1:
        return path
    return None


# ----------------------------------------------------------------------------- a local file

def _from_file(path: Path, split: str, column: str, max_rows: int | None, max_bytes: int, cache: Path) -> DatasetCorpus:
    if not path.exists():
        raise HubError(f"data file not found: {path}")
    if not path.is_file():
        raise HubError(f"{path} is a folder: give a data file (.txt, .jsonl, .json, .parquet or .csv)")
    kind = KINDS.get(path.suffix.lower())
    if kind is None:
        raise HubError(f"{path.name}: BabyBERT reads .txt, .jsonl, .json, .parquet and .csv data files, "
                       f"not {path.suffix or 'files without a suffix'}")
    if split != "train":
        raise HubError(f"a data file has one split, train: leave out --dataset-split (got {split!r})")
    _check_size(path.stat().st_size, max_bytes, path.name)
    key = cache_key(source="file", sha256=file_sha256(path), kind=kind, column=column, max_rows=max_rows,
                    corpus_format=FORMAT)
    where = f"{path.name} (column {column})"
    return _cached(cache / "datasets" / key, path.name,
                   lambda tmp: _write(_rows(kind, [path], column, path.name, tmp / "download"), tmp, where, max_rows,
                                      max_bytes))


# ----------------------------------------------------------------------------- a Hub dataset

def parse_spec(spec: str) -> tuple[str, str | None]:
    """'owner/name:config' -> ('owner/name', 'config'); a config is optional."""
    repo_id, _, config = spec.partition(":")
    try:
        repo_id = valid_repo_id(repo_id, "dataset")
    except HubError:
        repo_id = None
    if repo_id is None or (config and not re.fullmatch(r"[\w.-]+", config)) or spec.endswith(":"):
        raise HubError(f"invalid dataset {spec!r}: write OWNER/NAME[:CONFIG] (e.g. roneneldan/TinyStories), or "
                       "the path of a .txt, .jsonl, .json, .parquet or .csv file")
    return repo_id, config or None


@contextmanager
def dataset_errors(repo_id: str, endpoint: str | None, revision: str | None):
    """hub.hub_errors' sentences, with 'dataset' where they would say 'repository'."""
    with hub_errors(f"downloading the dataset {repo_id}", repo_id, endpoint, revision=revision):
        try:
            yield
        except GatedRepoError:
            raise
        except RepositoryNotFoundError:
            raise HubError(f"dataset {repo_id} not found on {endpoint or 'the Hugging Face Hub'} (or it is private: "
                           "pass a token that can read it, with --token or HF_TOKEN)") from None


def _from_hub(spec: str, split: str, column: str, max_rows: int | None, max_bytes: int, endpoint: str | None,
              token: str | None, cache: Path, revision: str | None) -> DatasetCorpus:
    repo_id, config = parse_spec(spec)
    api = HfApi(endpoint=endpoint, token=token)
    download = dict(repo_id=repo_id, repo_type="dataset", endpoint=endpoint, token=token, etag_timeout=_timeout())
    with dataset_errors(repo_id, endpoint, revision):
        info = api.dataset_info(repo_id, revision=revision, files_metadata=True, timeout=_timeout())
        sizes = {s.rfilename: s.size or 0 for s in info.siblings or []}
        download["revision"] = info.sha  # every file from the same commit
        configs = _card_configs(download) if "README.md" in sizes else []
        config, splits = split_files(repo_id, list(sizes), config, configs)
        if split not in splits:
            raise HubError(f"{repo_id} has no split {split!r}{_in(config)}; it has: {', '.join(splits)} (pick one "
                           "with --dataset-split)")
        files = splits[split]
        kind = KINDS[_suffix(files[0])]
        if max_rows is None:  # all of it: the whole size is known before anything is downloaded
            _check_size(sum(sizes[f] for f in files), max_bytes, f"split {split} of {repo_id}")
        key = cache_key(source="hub", repo=repo_id, commit=info.sha, config=config, split=split, files=files,
                        column=column, max_rows=max_rows, corpus_format=FORMAT)
        where = f"{repo_id} ({'' if config == 'default' else f'config {config}, '}split {split}, column {column}, " \
                f"commit {info.sha[:7]})"

        def make(tmp: Path) -> None:
            def downloaded() -> Iterator[Path]:  # one file at a time: --max-rows may need only the first
                total = 0
                for name in files:
                    total += sizes[name]
                    _check_size(total, max_bytes, f"split {split} of {repo_id}")
                    yield Path(hf_hub_download(filename=name, local_dir=tmp / "download", **download))
            _write(_rows(kind, downloaded(), column, repo_id, tmp / "download"), tmp, where, max_rows, max_bytes)
        return _cached(cache / "datasets" / key, repo_id, make)


def _card_configs(download: dict) -> list[dict]:
    """The `configs:` of the dataset card's YAML (each a config_name with data_files or data_dir).
    The card is read from a temporary folder: nothing is left in the Hugging Face cache."""
    import yaml
    from huggingface_hub.repocard import metadata_load
    with tempfile.TemporaryDirectory(prefix="babybert-card-") as tmp:
        card = hf_hub_download(filename="README.md", local_dir=tmp, **download)
        try:
            configs = (metadata_load(card) or {}).get("configs")
        except (yaml.YAMLError, ValueError) as e:  # its YAML is broken, or not a mapping
            raise HubError(f"the card (README.md) of {download['repo_id']} has metadata that cannot be read "
                           f"({first_line(e)}); pick another dataset, or give one of its data files' path") from e
    return [c for c in configs or [] if isinstance(c, dict) and c.get("config_name")]


def split_files(repo_id: str, files: list[str], config: str | None, configs: list[dict]) -> tuple[str, dict]:
    """(the config, {split: its data files}) by `datasets`' rules: the card's `configs:` when it has
    them, else the Hub's file-name conventions (data/train-00000-of-00001.parquet, train.jsonl, ...)."""
    from datasets.data_files import _get_data_files_patterns, sanitize_patterns

    names = [c["config_name"] for c in configs] or ["default"]
    if config is None:
        marked = [c for c in configs if c.get("default")]
        if len(configs) > 1 and not marked:
            raise HubError(f"{repo_id} has several configs: {', '.join(names)}; pick one as {repo_id}:CONFIG")
        config = (marked or configs or [{"config_name": "default"}])[0]["config_name"]
    elif config not in names:
        raise HubError(f"{repo_id} has no config {config!r}; it has: {', '.join(names)}")
    chosen = next((c for c in configs if c["config_name"] == config), {})
    base = (chosen.get("data_dir") or "").strip("/")
    readable = [f for f in files if _suffix(f) in KINDS and not _hidden(f) and f.startswith(base)]

    def resolve(pattern: str) -> list[str]:
        regex = re.compile(_glob(f"{base}/{pattern}" if base else pattern))
        return [f for f in readable if regex.fullmatch(f)]

    if chosen.get("data_files"):
        try:
            patterns = sanitize_patterns(chosen["data_files"])
        except (ValueError, TypeError) as e:  # data_files in a form `datasets` does not read
            raise HubError(f"the card of {repo_id} lists data_files{_in(config)} that datasets cannot read "
                           f"({first_line(e)}); pick another config or dataset") from e
    else:
        try:
            patterns = _get_data_files_patterns(resolve)
        except FileNotFoundError:
            patterns = {}
    splits = {str(name): sorted({f for p in ps for f in resolve(p)}) for name, ps in patterns.items()}
    splits = {name: _one_kind(fs) for name, fs in splits.items() if fs}
    if not splits:
        some = ", ".join(f for f in files if not f.startswith("."))[:200] or "no files"
        raise HubError(f"{repo_id}{_in(config)} has no data files BabyBERT can read (.parquet, .jsonl, .json, .txt, "
                       f".csv); it has: {some}")
    return config, splits


def _glob(pattern: str) -> str:
    from fsspec.utils import glob_translate  # the glob rules `datasets` resolves its patterns with
    return glob_translate(pattern)


def _hidden(path: str) -> bool:
    from datasets.data_files import FILES_TO_IGNORE
    return path.rsplit("/", 1)[-1] in FILES_TO_IGNORE or any(p.startswith((".", "__")) for p in path.split("/"))


def _suffix(path: str) -> str:
    return Path(path).suffix.lower()


def _one_kind(files: list[str]) -> list[str]:
    """The files of the most common kind (parquet, json, ...), as `datasets` picks its builder."""
    kind = Counter(KINDS[_suffix(f)] for f in files).most_common(1)[0][0]
    return [f for f in files if KINDS[_suffix(f)] == kind]


def _in(config: str | None) -> str:
    return f" (config {config})" if config and config != "default" else ""


# ----------------------------------------------------------------------------- rows -> corpus

def _import_datasets():
    try:
        import datasets
    except ImportError:
        raise HubError(INSTALL) from None
    datasets.logging.set_verbosity_error()
    return datasets


def _rows(kind: str, files, column: str, name: str, scratch: Path) -> Iterator[str | None]:
    """The `column` of every row of `files` (paths, or a generator that downloads them), as a
    stream; a .txt file's rows are its paragraphs (blocks between blank lines). `datasets` keeps
    its lock files in `scratch`, not in the Hugging Face cache."""
    datasets = _import_datasets()
    from pyarrow import ArrowException
    options = {"sample_by": "paragraph"} if kind == "text" else {}
    for file in files:
        try:
            rows = datasets.load_dataset(kind, data_files={"train": [str(file)]}, split="train", streaming=True,
                                         cache_dir=str(scratch / ".datasets"), **options)
            columns = _column_types(rows)
            if columns is None:  # no rows at all
                continue
            _check_column(columns, column, name)
            for row in rows.select_columns([column]):
                value = row[column]
                if value is not None and not isinstance(value, str):
                    raise HubError(f"column {column!r} of {name} holds {type(value).__name__}, not text")
                yield value
        except UserError:
            raise
        except StopIteration:  # datasets' json reader on an empty file: it has no rows
            continue
        except (ValueError, OSError, ArrowException) as e:  # a broken file: pyarrow's, pandas' and json's errors
            where = name if Path(file).name == name else f"{Path(file).name} of {name}"
            raise HubError(f"{where} is not readable as {kind} ({type(e).__name__}: {first_line(e)}); check that it "
                           f"is a complete, valid {_suffix(str(file))} file") from e


def _check_column(columns: dict[str, str], column: str, name: str) -> None:
    text_like = ", ".join(c for c, t in columns.items() if t == "string") or "none"
    if column not in columns:
        raise HubError(f"{name} has no column {column!r}; its text columns are: {text_like} (pick one with "
                       "--text-column)")
    if columns[column] != "string":
        raise HubError(f"column {column!r} of {name} holds {columns[column]}, not text; its text columns are: "
                       f"{text_like} (pick one with --text-column)")


def _column_types(rows) -> dict[str, str] | None:
    """{column: its type, 'string' for text}, from the features, else from the first row."""
    if rows.features is not None:
        return {c: (f.dtype.replace("large_", "") if hasattr(f, "dtype") else type(f).__name__)
                for c, f in rows.features.items()}
    first = next(iter(rows), None)
    if first is None:
        return None
    return {c: "string" if isinstance(v, str) else type(v).__name__ for c, v in first.items()}


def document(text: str) -> tuple[list[str], bool]:
    """A row's sentences, cleaned to be corpus lines, and whether they were kept at its line breaks.

    >>> document("Dr. Who came. He left [MASK]\\x1b!")
    (['Dr. Who came.', 'He left mask !'], False)
    """
    text = "\n".join(text.splitlines())  # every kind of line break (\\r\\n, \\f, U+2028) as one
    text = _CONTROL.sub(" ", text)
    for token in SPECIAL_TOKENS:  # training inserts these itself: keep the word, not the token
        text = text.replace(token, token[1:-1].lower())
    return [part for s in split_sentences(text) for part in _fit(s)], has_lines(text)


def _fit(sentence: str) -> Iterator[str]:
    """A sentence as lines of at most MAX_LINE_CHARS, cut at spaces (the corpus reader's limit)."""
    while len(sentence) > MAX_LINE_CHARS:
        cut = sentence.rfind(" ", 0, MAX_LINE_CHARS + 1)
        cut = cut if cut > 0 else MAX_LINE_CHARS
        yield sentence[:cut]
        sentence = sentence[cut:].lstrip()
    yield sentence


def _write(rows: Iterator[str | None], folder: Path, where: str, max_rows: int | None, max_bytes: int) -> None:
    """Write the rows' documents to folder/corpus.txt and what was done to folder/meta.json."""
    counts = Counter()
    with open(folder / "corpus.txt", "wb") as f:
        for text in islice(rows, max_rows):  # never asks for a row more (which could download a file more)
            counts["rows"] += 1
            sentences, kept = document(text or "")
            if not sentences:
                continue
            data = ("\n" if counts["documents"] else "") + "\n".join(sentences) + "\n"
            counts["bytes"] += f.write(data.encode("utf-8"))
            _check_size(counts["bytes"], max_bytes, f"the text of {where}")
            counts["documents"] += 1
            counts["sentences"] += len(sentences)
            counts["kept" if kept else "split"] += 1
    if not counts["documents"]:
        raise HubError(f"{where} has no text: its {counts['rows']:,} rows are empty")
    how = ("sentences kept at the rows' line breaks" if not counts["split"] else
           "sentences by BabyBERT's splitter" if not counts["kept"] else
           f"sentences by BabyBERT's splitter ({_n(counts['split'], 'row')}), or kept at the line breaks of rows "
           f"that have them ({_n(counts['kept'], 'row')})")
    first = f"the first {_n(counts['rows'], 'row')}" if max_rows is not None else "rows"
    description = (f"{first} of {where}: {_n(counts['documents'], 'document')} (a row is a document), "
                   f"{_n(counts['sentences'], 'sentence')}; {how}")
    meta = {"format": FORMAT, "description": description, **counts}
    (folder / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")


def _cached(folder: Path, name: str, make) -> DatasetCorpus:
    """The corpus in `folder`, made by `make(a temporary folder)` unless it is there already."""
    if not (folder / "meta.json").is_file():
        def build(tmp: Path) -> None:
            make(tmp)
            shutil.rmtree(tmp / "download", ignore_errors=True)  # the downloads are not kept, only the corpus
        _assemble(folder, build)
    meta = json.loads((folder / "meta.json").read_text())
    return DatasetCorpus(folder / "corpus.txt", name, meta["description"], meta["documents"], meta["sentences"])


def _n(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _check_size(size: int, max_bytes: int, what: str) -> None:
    if size > max_bytes:
        raise HubError(f"{what} is too large: over {max_bytes:,} bytes (the limit here); take fewer rows with "
                       "--max-rows N")

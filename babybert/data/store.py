"""The token store: a corpus file tokenized once into flat int32 files that training memory-maps.

A corpus of gigabytes never becomes Python objects. The file is read as a stream (stream.py), in
chunks of sentences that the Rust tokenizer encodes on every core, and the pieces are appended to
`ids.int32`; `lengths.int32` and `docs.int32` say where each row (a sentence, or a part of a long
one) ends and which document it belongs to. Training maps these files into memory, so every run
and every torchrun rank on a machine shares one copy through the OS page cache.

    tokenizer, store = prepare("corpus.txt", max_len=128, holdout=0.1, vocab_size=4096)
    store.train                     # EncodedCorpus over the mapped files, the training split
    store.held_out(2000)            # the first 2,000 held-out sentences, as documents of text

Stores live in a cache (`~/.cache/babybert`, or $BABYBERT_CACHE, or `cache_dir=`): the tokenizer
trained on a corpus under `tokenizers/<key>`, the tokens under `tokens/<key>`, each key a hash of
the corpus file's bytes and of everything else that decides the result. A folder is assembled under
a temporary name and renamed when complete, so a store is never seen half-written.

The WordPiece tokenizer learns from at most TOKENIZER_SAMPLE_CHARS characters of the training
split: every k-th sentence of a larger corpus, so that step takes seconds and bounded memory
however large the corpus is.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from babybert.data import stream
from babybert.data.batches import ENCODE_CHUNK, EncodedCorpus, encode_chunk, from_arrays
from babybert.data.corpus import Document
from babybert.bert.tokenizer import load_tokenizer, save_tokenizer, train_tokenizer
from babybert.errors import UserError

FORMAT = 1
TOKENIZER_SAMPLE_CHARS = 5_000_000  # the tokenizer learns from this much text at most (~3 s)
META = "meta.json"
Progress = Callable[[str, int, int], None]  # (what, done, total): the CLI draws it as a progress bar


def default_cache_dir() -> Path:
    if os.environ.get("BABYBERT_CACHE"):
        return Path(os.environ["BABYBERT_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "babybert"


# ----------------------------------------------------------------------------- the corpus, counted

@dataclass
class Scan:
    """What one pass over the file tells: how to split it and how to sample it."""
    documents: int
    sentences: int
    characters: int
    doc_sizes: array  # sentences of each document

    def split(self, holdout: float) -> int:
        """Index of the first held-out sentence: the last `holdout` of documents (at least one),
        or of the lines of a single document, exactly as data.split_corpus splits."""
        if self.sentences < 2:
            raise UserError(f"the corpus has {self.sentences} sentence(s); write at least two lines (one sentence "
                            "per line)")
        if self.documents >= 2:
            k = max(1, round(holdout * self.documents))
            return sum(self.doc_sizes[:-k])
        return self.sentences - max(1, round(holdout * self.sentences))


def scan(path: str | Path, progress: Progress | None = None) -> Scan:
    """Check the whole file and count its documents and sentences (one pass, flat memory)."""
    size = Path(path).stat().st_size if Path(path).is_file() else 0
    doc_sizes, characters = array("q"), 0
    on_block = (lambda done: progress("reading", done, size)) if progress else None
    for doc, sentence in stream.sentences(path, on_block=on_block):
        if doc == len(doc_sizes):
            doc_sizes.append(0)
        doc_sizes[doc] += 1
        characters += len(sentence)
    return Scan(len(doc_sizes), sum(doc_sizes), characters, doc_sizes)


def tokenizer_sample(path: str | Path, corpus: Scan, split: int, max_chars: int | None = None) -> list[str]:
    """Every k-th training sentence, k chosen so the sample holds about `max_chars` characters
    (TOKENIZER_SAMPLE_CHARS; k = 1, the whole training split, for a corpus smaller than that)."""
    every = max(1, math.ceil(corpus.characters / (max_chars or TOKENIZER_SAMPLE_CHARS)))
    sample = []
    for i, (_, sentence) in enumerate(stream.sentences(path)):
        if i >= split:
            break
        if i % every == 0:
            sample.append(sentence)
    return sample


# ----------------------------------------------------------------------------- the store

@dataclass
class TokenStore:
    path: Path
    meta: dict
    train: EncodedCorpus  # the training split, memory-mapped

    def held_out(self, max_sentences: int | None = None) -> list[Document]:
        """The first `max_sentences` held-out sentences (all when None), in their documents."""
        return gather(stream.sentences(self.path / "held_out.txt"), max_sentences)


def gather(sentences, max_sentences: int | None = None, skip: int = 0) -> list[Document]:
    """Documents of the (document, sentence) stream, from sentence `skip` on, `max_sentences` at most."""
    docs, current = [], None
    for i, (doc, sentence) in enumerate(sentences):
        if i < skip:
            continue
        if max_sentences is not None and i - skip >= max_sentences:
            break
        if doc != current:
            docs.append([])
            current = doc
        docs[-1].append(sentence)
    return docs


def read_documents(path: str | Path, holdout: float | None = None, max_sentences: int | None = None) -> list[Document]:
    """A corpus file's documents (its held-out split when `holdout` is given), the first
    `max_sentences` sentences at most, read as a stream: a large corpus is never held whole."""
    skip = scan(path).split(holdout) if holdout is not None else 0
    return gather(stream.sentences(path), max_sentences, skip)


def build(path: str | Path, corpus: Scan, split: int, tokenizer, max_len: int, dest: Path, sha256: str,
          progress: Progress | None = None) -> None:
    """Tokenize the training split into `dest` (flat int32 files) and copy the held-out split there
    as text. Memory stays at one chunk of sentences whatever the corpus size."""
    counts = {part: {"documents": 0, "sentences": 0, "tokens": 0, "characters": 0} for part in ("train", "held_out")}
    fingerprint = hashlib.sha256()  # = resume.corpus_fingerprint(training documents), computed as a stream
    rows = pieces = 0
    last_doc = {"train": None, "held_out": None}
    files = {name: open(dest / f"{name}.int32", "wb") for name in ("ids", "lengths", "docs")}
    held_out = open(dest / "held_out.txt", "w", encoding="utf-8")
    chunk, chunk_docs, chunk_part = [], [], None

    def flush():
        nonlocal rows, pieces, chunk, chunk_docs
        if not chunk:
            return
        ids, lengths, owner, n_pieces = encode_chunk(chunk, tokenizer, max_len)
        counts[chunk_part]["tokens"] += n_pieces
        if chunk_part == "train":
            files["ids"].write(ids.astype(np.int32).tobytes())
            files["lengths"].write(lengths.astype(np.int32).tobytes())
            files["docs"].write(np.asarray(chunk_docs, dtype=np.int32)[owner].tobytes())
            rows, pieces = rows + len(lengths), pieces + len(ids)
        chunk, chunk_docs = [], []

    size = Path(path).stat().st_size
    try:
        i = 0
        for i, (doc, sentence) in enumerate(stream.sentences(path)):
            part = "train" if i < split else "held_out"
            if part != chunk_part or len(chunk) >= ENCODE_CHUNK:
                flush()
                chunk_part = part
                if progress:
                    progress("tokenizing", i, corpus.sentences)
            if doc != last_doc[part]:
                counts[part]["documents"] += 1
                if part == "train" and last_doc[part] is not None:
                    fingerprint.update(b"\n")
                elif part == "held_out" and last_doc[part] is not None:
                    held_out.write("\n")
                last_doc[part] = doc
            counts[part]["sentences"] += 1
            counts[part]["characters"] += len(sentence)
            if part == "train":
                fingerprint.update(sentence.encode("utf-8") + b"\n")
            else:
                held_out.write(sentence + "\n")
            chunk.append(sentence)
            chunk_docs.append(counts[part]["documents"] - 1)
        flush()
        fingerprint.update(b"\n")
        if progress:
            progress("tokenizing", corpus.sentences, corpus.sentences)
    finally:
        for f in files.values():
            f.close()
        held_out.close()
    meta = {"format": FORMAT, "corpus": {"name": Path(path).name, "sha256": sha256, "bytes": size},
            "max_len": max_len, "tokenizer": tokenizer_hash(tokenizer), "rows": rows, "pieces": pieces,
            "fingerprint": fingerprint.hexdigest(), "train": counts["train"], "held_out": counts["held_out"]}
    (dest / META).write_text(json.dumps(meta, indent=2) + "\n")


def open_store(path: Path) -> TokenStore:
    """Map a store's files into memory (copy-on-write: nothing is ever written back)."""
    meta = json.loads((path / META).read_text())
    if meta.get("format") != FORMAT:
        raise UserError(f"{path} is a token store of another format; delete it and it is built again")

    def mapped(name: str, count: int) -> np.ndarray:
        if count == 0:
            return np.zeros(0, dtype=np.int32)
        return np.memmap(path / f"{name}.int32", dtype=np.int32, mode="c", shape=(count,))

    ids, lengths, docs = mapped("ids", meta["pieces"]), mapped("lengths", meta["rows"]), mapped("docs", meta["rows"])
    return TokenStore(path, meta, from_arrays(ids, lengths, docs))


# ----------------------------------------------------------------------------- the cache

def tokenizer_hash(tokenizer) -> str:
    """What decides the pieces: the vocabulary, the normalizer and the pre-tokenizer (not the
    settings of padding or truncation, which a save and load may change)."""
    saved = json.loads(tokenizer.backend_tokenizer.to_str())
    decisive = {k: saved.get(k) for k in ("normalizer", "pre_tokenizer", "model")}
    return hashlib.sha256(json.dumps(decisive, sort_keys=True).encode("utf-8")).hexdigest()


def cache_key(**parts) -> str:
    return hashlib.sha256(json.dumps({"format": FORMAT, **parts}, sort_keys=True).encode()).hexdigest()[:24]


def _assemble(final: Path, make: Callable[[Path], None]) -> Path:
    """Build into a temporary sibling of `final`, then rename it into place. When another process
    finished the same folder first, its copy is kept (they are identical)."""
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    except OSError as e:  # a read-only or forbidden cache folder
        raise UserError(f"cannot write to the cache folder {final.parent}: {e.strerror or e}; pass --cache-dir or set "
                        "BABYBERT_CACHE to a folder you can write to") from e
    try:
        make(tmp)
        try:
            tmp.rename(final)
        except OSError:
            if not (final / META).is_file() and not (final / "tokenizer.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _wait_for(path: Path, marker: str) -> None:
    """Another process (this node's first rank) is building `path`: wait until it is there. A
    failure there ends the whole torchrun group, so this never waits forever."""
    while not (path / marker).is_file():
        time.sleep(0.2)


def prepare(path: str | Path, max_len: int, holdout: float, tokenizer=None, vocab_size: int = 4096,
            lowercase: bool = True, cache_dir: str | Path | None = None, build_here: bool = True,
            progress: Progress | None = None) -> tuple[object, TokenStore]:
    """The tokenizer (given, or trained on the corpus) and the token store of a corpus file,
    from the cache when they were made before. With build_here=False, wait for another process
    to make them (the other ranks of a torchrun group wait for the first rank on their node)."""
    path = stream.check_file(path)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    sha = stream.file_sha256(path)
    corpus: Scan | None = None

    def scanned() -> Scan:
        nonlocal corpus
        if corpus is None:
            corpus = scan(path, progress)
        return corpus

    if tokenizer is None:
        where = cache / "tokenizers" / cache_key(corpus=sha, holdout=holdout, vocab_size=vocab_size,
                                                 lowercase=lowercase, max_len=max_len, sample=TOKENIZER_SAMPLE_CHARS)
        if not (where / "tokenizer.json").is_file():
            if build_here:
                def make_tokenizer(tmp: Path) -> None:
                    sample = tokenizer_sample(path, scanned(), scanned().split(holdout))
                    if progress:
                        progress("training the tokenizer", 0, 1)
                    save_tokenizer(train_tokenizer(sample, vocab_size, lowercase, max_len), tmp)
                    if progress:
                        progress("training the tokenizer", 1, 1)
                _assemble(where, make_tokenizer)
            else:
                _wait_for(where, "tokenizer.json")
        tokenizer = load_tokenizer(where)
    where = cache / "tokens" / cache_key(corpus=sha, holdout=holdout, max_len=max_len, tokenizer=tokenizer_hash(tokenizer))
    if not (where / META).is_file():
        if build_here:
            _assemble(where, lambda tmp: build(path, scanned(), scanned().split(holdout), tokenizer, max_len, tmp, sha,
                                                  progress))
        else:
            _wait_for(where, META)
    return tokenizer, open_store(where)


__all__ = ["prepare", "read_documents", "TokenStore", "open_store", "scan", "Scan", "build", "tokenizer_hash", "default_cache_dir",
           "TOKENIZER_SAMPLE_CHARS"]

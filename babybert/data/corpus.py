"""Reading a corpus: one sentence per line, a blank line between documents. Parse, check (what
a user fed by mistake: a binary file, a file without line breaks), split off the held-out
documents, and count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from babybert.bert.tokenizer import SPECIAL_TOKENS  # what training inserts, never what it reads
from babybert.errors import UserError


Document = list[str]


MAX_LINE_CHARS = 10_000  # one sentence per line; a longer line is a file without line breaks


_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")  # C0 controls but tab and line breaks


def parse_corpus(text: str) -> list[Document]:
    """Split text into documents of sentences.

    >>> parse_corpus("\\ufeffA cat.\\r\\nIt sat.  \\r\\n\\r\\n\\r\\nA dog.\\n")
    [['A cat.', 'It sat.'], ['A dog.']]
    """
    docs, current = [], []
    for line in text.lstrip("\ufeff").splitlines():
        line = line.strip()
        if line:
            current.append(line)
        elif current:
            docs.append(current)
            current = []
    if current:
        docs.append(current)
    return docs


def check_text(text: str, name: str = "the corpus") -> None:
    """Refuse text that cannot be a corpus, naming the line to fix.

    >>> check_text("the cow says [MASK].\\nthe dog barks.")
    Traceback (most recent call last):
    ...
    babybert.errors.UserError: line 1 of the corpus contains [MASK], a special token that training inserts itself; remove it or write it without the brackets (mask)
    """
    check_block(text, name)
    if text.strip() and not has_words(text):
        raise UserError(f"{name} has no letters or digits, only punctuation or symbols: BabyBERT learns from words")


def check_block(text: str, name: str = "the corpus", first_line: int = 1) -> None:
    """The checks of `check_text` that need only these lines (a block of a file read as a stream
    starts at line `first_line`)."""
    def line_of(pos: int) -> int:
        return first_line + text.count("\n", 0, pos)

    if m := _CONTROL.search(text):
        raise UserError(f"line {line_of(m.start())} of {name} contains the control character U+{ord(m.group()):04X}: "
                        "is it a binary file? Remove such characters and try again")
    lines = text.splitlines()
    if max(map(len, lines), default=0) > MAX_LINE_CHARS:
        i, line = next((i, line) for i, line in enumerate(lines) if len(line) > MAX_LINE_CHARS)
        raise UserError(f"line {first_line + i} of {name} is {len(line):,} characters long: write one "
                        f"sentence per line (at most {MAX_LINE_CHARS:,} characters)")
    for token in SPECIAL_TOKENS:
        if (i := text.find(token)) >= 0:
            raise UserError(f"line {line_of(i)} of {name} contains {token}, a special token that training inserts "
                            f"itself; remove it or write it without the brackets ({token[1:-1].lower()})")  # no <...>: the


def has_words(text: str) -> bool:
    return any(c.isalnum() for c in text)


def read_corpus(path: str | Path) -> list[Document]:
    """Read a UTF-8 corpus file, with a clear error for anything that is not one."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"corpus file not found: {path}")
    if not path.is_file():
        raise UserError(f"corpus path is not a file: {path}")
    try:
        data = path.read_bytes()
    except OSError as e:  # e.g. no permission to read it
        raise UserError(f"cannot read the corpus {path}: {e.strerror or e}") from e
    text = decode_text(data, str(path))
    check_text(text, str(path))
    return parse_corpus(text)


def decode_text(data: bytes, name: str = "corpus") -> str:
    if b"\x00" in data[:8192]:
        raise UserError(f"{name} looks like a binary file, not text (it contains NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise UserError(f"{name} is not UTF-8 text (bad byte at position {e.start}); save it as UTF-8 and try again") from e


def split_corpus(docs: list[Document], holdout: float = 0.1) -> tuple[list[Document], list[Document]]:
    """(train, held_out): the last `holdout` of documents (at least one) when there are two or
    more, otherwise the last `holdout` of the single document's lines. Never overlapping."""
    sentences = sum(len(d) for d in docs)
    if sentences < 2:
        raise UserError(f"the corpus has {sentences} sentence(s); write at least two lines (one sentence per line)")
    if len(docs) >= 2:
        k = max(1, round(holdout * len(docs)))
        return docs[:-k], docs[-k:]
    (doc,) = docs
    k = max(1, round(holdout * len(doc)))
    return [doc[:-k]], [doc[-k:]]


def take_sentences(docs: list[Document], limit: int | None) -> list[Document]:
    """The first `limit` sentences, documents kept whole except the last one taken."""
    if limit is None:
        return docs
    out, left = [], limit
    for d in docs:
        if left <= 0:
            break
        out.append(d[:left])
        left -= len(out[-1])
    return out


@dataclass
class CorpusStats:
    documents: int
    sentences: int
    tokens: int  # WordPiece pieces when a tokenizer was given, else whitespace-separated words
    characters: int


def piece_ids(tokenizer, sentences: list[str]) -> list[list[int]]:
    """Piece ids of each sentence, no special tokens. Calls the Rust tokenizer directly: the
    transformers wrapper spends longer converting its output than the tokenizing itself takes."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return tokenizer(sentences, add_special_tokens=False)["input_ids"]
    return [e.ids for e in backend.encode_batch(sentences, add_special_tokens=False)]


def corpus_stats(docs: list[Document], tokenizer=None) -> CorpusStats:
    sentences = [s for d in docs for s in d]
    if tokenizer is not None and sentences:
        tokens = sum(len(ids) for ids in piece_ids(tokenizer, sentences))
    else:
        tokens = sum(len(s.split()) for s in sentences)
    return CorpusStats(len(docs), len(sentences), tokens, sum(len(s) for s in sentences))

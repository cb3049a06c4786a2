"""Read a corpus file of any size as a stream of sentences, checking it as it goes.

The file is read in blocks of whole lines (a few megabytes each), so memory stays flat however
large the corpus is: nothing holds more than one block. The checks and their messages are those
of `data.read_corpus` (binary, not UTF-8, control characters, endless lines, special tokens).

    for doc, sentence in sentences("corpus.txt"):   # doc: 0, 0, 0, 1, 1, ...
        ...
"""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from babybert.data.corpus import MAX_LINE_CHARS, check_block, has_words
from babybert.errors import UserError

BLOCK_BYTES = 4 << 20  # read at a time; a block is cut after its last line break


def check_file(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise UserError(f"corpus file not found: {path}")
    if not path.is_file():
        raise UserError(f"corpus path is not a file: {path}")
    return path


@contextmanager
def _opened(path: Path):
    """The file, opened for reading in bytes; an OSError (no permission, a failing disk) is the user's to fix."""
    try:
        with open(path, "rb") as f:
            yield f
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror or e}") from e


def blocks(path: str | Path, block_bytes: int = BLOCK_BYTES) -> Iterator[tuple[int, int, str]]:
    """(bytes read so far, number of the block's first line, text of whole lines), each block checked."""
    path = check_file(path)
    name = str(path)
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    offset, line, carry, words, text_seen = 0, 1, "", False, False
    with _opened(path) as f:
        while True:
            data = f.read(block_bytes)
            if offset == 0 and b"\x00" in data[:8192]:
                raise UserError(f"{name} looks like a binary file, not text (it contains NUL bytes)")
            try:
                text = carry + decoder.decode(data, final=not data)
            except UnicodeDecodeError as e:
                raise UserError(f"{name} is not UTF-8 text (bad byte at position {offset + e.start}); "
                                "save it as UTF-8 and try again") from e
            offset += len(data)
            # cut after the last line break; a final \r waits, it may be the first half of \r\n
            cut = max(text.rfind("\n"), text.rfind("\r", 0, len(text) - 1)) + 1 if data else len(text)
            block, carry = text[:cut], text[cut:]
            if len(carry) > MAX_LINE_CHARS:  # no line break in sight: measure the line without holding it
                length = len(carry) + _rest_of_line(f, decoder, block_bytes)
                raise UserError(f"line {line + block.count(chr(10))} of {name} is {length:,} characters long: write "
                                f"one sentence per line (at most {MAX_LINE_CHARS:,} characters)")
            if block:
                check_block(block, name, line)
                words, text_seen = words or has_words(block), text_seen or bool(block.strip())
                yield offset, line, block
                line += block.count("\n")
            if not data:
                break
    if text_seen and not words:
        raise UserError(f"{name} has no letters or digits, only punctuation or symbols: BabyBERT learns from words")


def _rest_of_line(f, decoder, block_bytes: int) -> int:
    """Characters up to the next line break (or the end), reading on without keeping them."""
    count = 0
    while data := f.read(block_bytes):
        text = decoder.decode(data, final=False)
        ends = [i for i in (text.find("\n"), text.find("\r")) if i >= 0]
        if ends:
            return count + min(ends)
        count += len(text)
    return count


def sentences(path: str | Path, block_bytes: int = BLOCK_BYTES,
              on_block: Callable[[int], None] | None = None) -> Iterator[tuple[int, str]]:
    """(document index, sentence) for every non-blank line, as `data.parse_corpus` reads them;
    `on_block(bytes read so far)` is told after each block (for a progress bar)."""
    doc, in_doc = 0, False
    for done, _, block in blocks(path, block_bytes):
        if on_block:
            on_block(done)
        for line in block.splitlines():
            line = line.strip()
            if line:
                in_doc = True
                yield doc, line
            elif in_doc:
                doc, in_doc = doc + 1, False


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with _opened(check_file(path)) as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


__all__ = ["blocks", "sentences", "file_sha256", "check_file"]

"""The tokenizer made visible: a text's pieces (with `##` continuations), and what a vocabulary
does with a corpus: its most frequent pieces and the share of words it splits into several pieces.

Counts come from piece ids, so the same code counts a training split's token store (millions of
int32 ids, one `np.bincount`) and a few lines typed by a user. A *word* is a non-special piece
that does not start with `##`; a word is *split* when its first piece is followed by a `##` piece.
Words the vocabulary cannot spell at all become [UNK], a special token, and are not counted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from babybert.data.corpus import piece_ids
from babybert.errors import UserError

TOP_PIECES = 200  # the most frequent pieces a checkpoint records (babybert.json "vocabulary")
CONTINUATION = "##"  # WordPiece's mark of a piece that continues a word
UNUSED = re.compile(r"^\[unused\d+\]$")  # placeholders in Google's BERT vocabularies
CHUNK = 5_000  # sentences tokenized per call when counting a text


@dataclass
class Piece:
    piece: str  # as in the vocabulary, e.g. 'eleph' or '##ant'
    id: int
    continuation: bool  # starts with '##': the rest of the word before it
    word: int | None  # which word of the text it belongs to (0, 1, ...); None for [CLS], [SEP]
    start: int  # characters of the text it covers, text[start:end] (0, 0 for [CLS], [SEP])
    end: int


def pieces(tokenizer, text: str, special_tokens: bool = True) -> list[Piece]:
    """The pieces the model reads for `text`, from the tokenizer's own encoding (its word ids and
    character offsets), with [CLS] and [SEP] around them unless `special_tokens` is False.

    >>> from babybert.bert.tokenizer import train_tokenizer
    >>> tok = train_tokenizer(["the cow says moo."] * 20, vocab_size=40)
    >>> [(p.piece, p.continuation, p.word) for p in pieces(tok, "the cows")][1:-1]
    [('the', False, 0), ('cow', False, 1), ('##s', True, 1)]
    """
    if not isinstance(text, str) or not text.strip():
        raise UserError("the text is empty; type a sentence to see its pieces")
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError("this tokenizer is not a fast (Rust) tokenizer, so it cannot say which word each piece is from")
    enc = tokenizer(text, add_special_tokens=special_tokens, return_offsets_mapping=True)
    special = set(tokenizer.all_special_ids)
    return [Piece(token, i, token.startswith(CONTINUATION) and i not in special, word, start, end)
            for token, i, word, (start, end) in zip(enc.tokens(), enc["input_ids"], enc.word_ids(), enc["offset_mapping"])]


# ----------------------------------------------------------------------------- counting

@dataclass
class VocabularyStats:
    """What a vocabulary made of a corpus."""
    size: int  # pieces in the vocabulary
    source: str  # what was counted, e.g. "the training split"
    pieces: int  # non-special pieces counted
    words: int  # words counted
    split_words: int  # words of two or more pieces
    top: list[tuple[str, int]]  # the most frequent non-special pieces and their counts, most frequent first

    @property
    def split_share(self) -> float | None:
        return self.split_words / self.words if self.words else None

    def to_dict(self) -> dict:
        return {"size": self.size, "source": self.source, "pieces": self.pieces, "words": self.words,
                "split_words": self.split_words, "split_share": self.split_share, "top": [list(t) for t in self.top]}

    @classmethod
    def from_dict(cls, d: dict) -> VocabularyStats:
        return cls(d["size"], d["source"], d["pieces"], d["words"], d["split_words"], [(p, c) for p, c in d["top"]])


def piece_kinds(tokenizer) -> tuple[np.ndarray, np.ndarray]:
    """Two boolean tables indexed by piece id: is it a special token, is it a `##` continuation."""
    size = len(tokenizer)
    special, continuation = np.zeros(size, dtype=bool), np.zeros(size, dtype=bool)
    special[[i for i in tokenizer.all_special_ids if i < size]] = True
    for token, i in tokenizer.get_vocab().items():
        continuation[i] = token.startswith(CONTINUATION)
    return special, continuation & ~special


def count_ids(ids: np.ndarray, tokenizer) -> tuple[np.ndarray, int, int]:
    """(count of every piece id, words, split words) in a stream of piece ids, sentences back to
    back (a sentence never starts with a `##` piece, so the boundaries need no marks)."""
    ids = np.asarray(ids)
    special, continuation = piece_kinds(tokenizer)
    counts = np.bincount(ids, minlength=len(tokenizer)) if ids.size else np.zeros(len(tokenizer), dtype=np.int64)
    is_cont = continuation[ids]  # (N,)
    starts = ~is_cont & ~special[ids]  # (N,) the first piece of each word
    split = int(np.count_nonzero(starts[:-1] & is_cont[1:]))
    return counts, int(np.count_nonzero(starts)), split


def summarize(tokenizer, counts: np.ndarray, words: int, split_words: int, source: str,
              top: int = TOP_PIECES) -> VocabularyStats:
    counts = np.array(counts, dtype=np.int64)
    special, _ = piece_kinds(tokenizer)
    counts[special] = 0
    order = np.argsort(-counts, kind="stable")[:top]  # ties: vocabulary order
    tokens = tokenizer.convert_ids_to_tokens([int(i) for i in order if counts[i] > 0])
    return VocabularyStats(len(tokenizer), source, int(counts.sum()), words, split_words,
                           [(t, int(counts[i])) for t, i in zip(tokens, order)])


def ids_stats(ids: np.ndarray, tokenizer, source: str, top: int = TOP_PIECES) -> VocabularyStats:
    """The summary of encoded text, e.g. a training split (EncodedCorpus.ids, or a token store's ids)."""
    return summarize(tokenizer, *count_ids(ids, tokenizer), source, top)


def text_stats(tokenizer, sentences: Iterable[str] | str, source: str = "your text", top: int = TOP_PIECES) -> VocabularyStats:
    """The summary of text (a string, one sentence per line, or any iterable of sentences, read
    in chunks: a corpus file's lines work too)."""
    if isinstance(sentences, str):
        sentences = sentences.splitlines()
    counts, words, split, chunk = np.zeros(len(tokenizer), dtype=np.int64), 0, 0, []

    def add(chunk):
        nonlocal counts, words, split
        encoded = piece_ids(tokenizer, chunk)
        c, w, s = count_ids(np.fromiter((i for e in encoded for i in e), dtype=np.int64), tokenizer)
        counts, words, split = counts + c, words + w, split + s

    for sentence in sentences:
        if sentence.strip():
            chunk.append(sentence.strip())
        if len(chunk) == CHUNK:
            add(chunk)
            chunk = []
    add(chunk)
    if words == 0:
        raise UserError("the text has no words this vocabulary knows; type some sentences to count its pieces")
    return summarize(tokenizer, counts, words, split, source, top)


def recorded_stats(info: dict) -> VocabularyStats | None:
    """The summary a BabyBERT checkpoint recorded at the end of training (babybert.json), if any:
    older checkpoints and BERTs made elsewhere have none."""
    return VocabularyStats.from_dict(info["vocabulary"]) if info.get("vocabulary") else None


# ----------------------------------------------------------------------------- for the app

PIECE_COLUMNS = ["piece", "id", "word", "kind"]
TOP_COLUMNS = ["rank", "piece", "count", "share"]
SHOWN_TOP = 30  # most frequent pieces in the summary table


@dataclass
class TokenizeView:
    highlighted: list[tuple[str, str]]  # (piece, kind) for gr.HighlightedText: "word", "continuation" or "special"
    rows: list[list]  # PIECE_COLUMNS, one row per piece, for gr.Dataframe
    summary: str  # Markdown: the vocabulary's size, split share and where its counts come from
    top: list[list]  # TOP_COLUMNS: the most frequent pieces


def kind(p: Piece) -> str:
    return "special" if p.word is None else "continuation" if p.continuation else "word"


def tokenize_view(checkpoint, text: str) -> TokenizeView:
    """Everything the Model tab shows about the tokenizer, for a loaded Checkpoint and a text: the
    text's pieces, and the vocabulary's summary, as recorded by training or, for a checkpoint that
    recorded none, counted in the text itself."""
    tokenizer = checkpoint.tokenizer
    found = pieces(tokenizer, text)
    rows = [[p.piece, p.id, "" if p.word is None else p.word + 1, kind(p)] for p in found]
    stats = recorded_stats(checkpoint.info)
    if stats is None:
        try:
            stats = text_stats(tokenizer, text, source="your text (this checkpoint records no counts of its corpus)")
        except UserError:  # nothing it can count: [UNK]s or punctuation only
            stats = None
    return TokenizeView([(p.piece, kind(p)) for p in found], rows, describe(tokenizer, found, stats), top_rows(stats))


def split_words(found: list[Piece]) -> list[list[str]]:
    """The pieces of each word of several pieces, in text order."""
    words: dict[int, list[str]] = {}
    for p in found:
        if p.word is not None:
            words.setdefault(p.word, []).append(p.piece)
    return [w for w in words.values() if len(w) > 1]


def describe(tokenizer, found: list[Piece], stats: VocabularyStats | None) -> str:
    """The summary's Markdown: this text, then the vocabulary (and the corpus it was counted in)."""
    words = {p.word for p in found if p.word is not None}
    split = split_words(found)
    lines = [f"**This text:** {sum(p.word is not None for p in found):,} pieces for {len(words):,} words"
             + (f"; split: {', '.join(' '.join(w) for w in split[:10])}" if split else "; none split")]
    lines.append(f"**Vocabulary:** {len(tokenizer):,} pieces")
    if stats is None:
        lines.append("**Piece counts:** unknown: this checkpoint records none (a BERT made elsewhere, or a BabyBERT "
                     "trained before they were recorded); type some sentences to count them in your text")
    else:
        share = f"{stats.split_share:.1%}" if stats.split_share is not None else "–"
        lines.append(f"**Counted in {stats.source}:** {stats.pieces:,} pieces, {stats.words:,} words, "
                     f"**{share} of words split into several pieces**")
    return "\n\n".join(lines)


def top_rows(stats: VocabularyStats | None, n: int = SHOWN_TOP) -> list[list]:
    if stats is None:
        return []
    return [[rank, piece, count, f"{count / stats.pieces:.1%}"] for rank, (piece, count) in enumerate(stats.top[:n], start=1)]

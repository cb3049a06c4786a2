"""A row of prose -> its sentences, so that a dataset row (a document) gives NSP sentences to pair.

Rule-based, on purpose: a sentence ends at `.`, `!` or `?` (and any closing quotes or brackets)
followed by a space and a capital letter, a digit or an opening quote, except after a common
abbreviation ("Mr.", "e.g.", "U.S."), an initial ("J. Smith") or inside a number ("3.14").
A row with line breaks is already split: its lines are its sentences, as in a corpus file.
"""

from __future__ import annotations

import re

# a period after these ends no sentence (lowercased, without their period): titles and the like
ABBREVIATIONS = frozenset("""
mr mrs ms mx dr prof sr jr st mt ft gen col capt cpt lt sgt cmdr adm gov sen rep rev hon pres supt vs v cf al
""".split())
BEFORE_NUMBERS = frozenset("no nos vol vols fig figs p pp ch sec art approx ca".split())  # "No. 5", "Fig. 2"
_BOUNDARY = re.compile(r"[.!?]+[\"'”’)\]]*\s+")  # end punctuation, closing quotes, then the space
_OPENERS = "\"'“‘([«"
_DOTTED = re.compile(r"(?:[^\W\d_]{1,2}\.)+[^\W\d_]{1,2}")  # U.S, e.g, i.e, Ph.D (its last period not included)


def split_sentences(text: str) -> list[str]:
    """The sentences of one row, each with its whitespace normalised; none for a blank row.

    >>> split_sentences("Mr. Smith paid $3.50 for it. Did he? \\"Yes,\\" she said. See e.g. Fig. 2.")
    ['Mr. Smith paid $3.50 for it.', 'Did he?', '"Yes," she said.', 'See e.g. Fig. 2.']
    >>> split_sentences("first line. Still the first\\n\\n  second line\\n")
    ['first line. Still the first', 'second line']
    """
    text = text.strip()
    if has_lines(text):
        return [" ".join(line.split()) for line in text.splitlines() if line.strip()]
    sentences, start = [], 0
    for match in _BOUNDARY.finditer(text):
        if ends_sentence(text, match):
            sentences.append(text[start:match.end()])
            start = match.end()
    sentences.append(text[start:])
    return [" ".join(s.split()) for s in sentences if s.strip()]


def has_lines(text: str) -> bool:
    """Whether a row is written one sentence per line already (a line break inside its text)."""
    return len(text.strip().splitlines()) > 1


def ends_sentence(text: str, match: re.Match) -> bool:
    """Whether the punctuation and space matched at `match` end a sentence."""
    after = text[match.end():match.end() + 1]
    if not (after.isupper() or after.isdigit() or (after and after in _OPENERS)):
        return False  # "e.g. the", "3 p.m. and": a lowercase word goes on with the sentence
    punctuation = match.group().rstrip()
    if punctuation.rstrip("\"'”’)]") != ".":
        return True  # "!", "?", "..." end it
    if match.group().rstrip() != ".":
        return True  # 'he said "Stop." Then': a closing quote or bracket after the period
    before = text[max(0, match.start() - 20):match.start()].split()  # abbreviations are short: a window will do
    word = before[-1].lstrip(_OPENERS) if before else ""
    return not (is_abbreviation(word) or (after.isdigit() and word.lower() in BEFORE_NUMBERS))


def is_abbreviation(word: str) -> bool:
    """A word whose period (not included in `word`) marks an abbreviation, not an end.

    >>> [w for w in ["Mr", "U.S", "e.g", "J", "I", "etc", "cats", "1999"] if is_abbreviation(w)]
    ['Mr', 'U.S', 'e.g', 'J']
    """
    if word.lower() in ABBREVIATIONS or _DOTTED.fullmatch(word):
        return True
    return len(word) == 1 and word.isupper() and word != "I"  # an initial: "J. R. R. Tolkien"

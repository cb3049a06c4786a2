"""The sentence splitter for dataset rows (babybert/sentences.py), case by case as its rules read."""

import random

import pytest

from babybert.data.sentences import split_sentences


@pytest.mark.parametrize("row, sentences", [
    # a sentence ends at . ! ? followed by a space and a capital, a digit or an opening quote
    ("The cow says moo. The dog barks! Does the cat purr? Yes.",
     ["The cow says moo.", "The dog barks!", "Does the cat purr?", "Yes."]),
    ("It rained in 1999. 2000 was dry.", ["It rained in 1999.", "2000 was dry."]),
    ('He left. "Why?" she asked.', ["He left.", '"Why?" she asked.']),
    ('She said "Stop." Then she left.', ['She said "Stop."', "Then she left."]),
    ("Wait... What happened?! Nobody knows (yet.) Fine.",
     ["Wait...", "What happened?!", "Nobody knows (yet.)", "Fine."]),
    # ... but not before a lowercase word
    ("Use a tool, e.g. a hammer. It works.", ["Use a tool, e.g. a hammer.", "It works."]),
    ("Call me at 5 p.m. tomorrow.", ["Call me at 5 p.m. tomorrow."]),
    # ... nor after a common abbreviation, an initial or inside a number
    ("Mr. Smith met Dr. Jones at St. Paul's.", ["Mr. Smith met Dr. Jones at St. Paul's."]),
    ("He moved to the U.S. In May he left. See e.g. Fig. 2. It shows pi = 3.14.",
     ["He moved to the U.S. In May he left.", "See e.g. Fig. 2.", "It shows pi = 3.14."]),
    ("J. R. R. Tolkien wrote it. Roe v. Wade was decided.", ["J. R. R. Tolkien wrote it.", "Roe v. Wade was decided."]),
    ("The answer was no. Then we left. Read No. 5 next.", ["The answer was no.", "Then we left.", "Read No. 5 next."]),
    ("So did I. Then we slept.", ["So did I.", "Then we slept."]),
    # whitespace is normalised; a row without end punctuation is one sentence; a blank row has none
    ("  one   sentence\twith tabs  ", ["one sentence with tabs"]),
    ("", []),
    ("   \t ", []),
])
def test_prose_is_split_at_sentence_ends(row, sentences):
    assert split_sentences(row) == sentences


@pytest.mark.parametrize("row, sentences", [
    ("The cow says moo. The dog barks.\nA second line. Still it.", ["The cow says moo. The dog barks.",
                                                                  "A second line. Still it."]),
    ("first\r\n\r\n  second  \n\nthird\n", ["first", "second", "third"]),
])
def test_rows_with_line_breaks_are_kept_at_their_lines(row, sentences):
    assert split_sentences(row) == sentences


def test_the_sentences_put_back_together_are_the_row():
    """Whatever the splitter decides, it loses and invents nothing: on random prose made of words,
    abbreviations, numbers and punctuation, the sentences joined by spaces are the row with its
    whitespace normalised, and none is empty or starts or ends with a space."""
    rng = random.Random(0)
    words = ["the", "Cow", "said", "Mr.", "U.S.", "e.g.", "3.14", "1999.", "moo.", "Why?", '"Stop!"', "(yes.)",
             "J.", "No.", "5", "it!", "...", "A", "i.e.", "p.m."]
    for _ in range(500):
        row = "".join(rng.choice(words) + rng.choice([" ", "  ", "\t", " "]) for _ in range(rng.randint(1, 30)))
        sentences = split_sentences(row)
        assert " ".join(sentences) == " ".join(row.split())
        assert all(s and s == s.strip() for s in sentences)

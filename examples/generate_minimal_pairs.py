"""Generate ``minimal_pairs.jsonl``: minimal pairs written for this project in the style of BLiMP.

Each pair is a grammatical sentence and an ungrammatical one that differ in one point, for 12 of
BLiMP's paradigms (its UIDs and fields, so results line up with BLiMP's); 20 pairs each, from
small fixed word lists. BLiMP itself (Warstadt et al., 2020) is not copied here: score it with
`python -m babybert minimal-pairs CKPT --pairs nyu-mll/blimp`.

    python3 examples/generate_minimal_pairs.py            # the same file every time (seed 0)

Only the Python standard library is used.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

PER_PHENOMENON = 20

PEOPLE = [("boy", "boys"), ("girl", "girls"), ("teacher", "teachers"), ("farmer", "farmers"), ("doctor", "doctors"),
          ("student", "students"), ("baker", "bakers"), ("friend", "friends"), ("driver", "drivers"), ("child", "children")]
MEN = ["boy", "man", "king", "father", "brother", "uncle", "prince", "son"]
WOMEN = ["girl", "woman", "queen", "mother", "sister", "aunt", "princess", "daughter"]
ANIMALS = [("dog", "dogs"), ("cat", "cats"), ("bird", "birds"), ("horse", "horses"), ("duck", "ducks"), ("cow", "cows")]
THINGS = [("book", "books"), ("apple", "apples"), ("chair", "chairs"), ("cup", "cups"), ("picture", "pictures"),
          ("box", "boxes"), ("shoe", "shoes"), ("car", "cars"), ("plate", "plates"), ("window", "windows")]
ACTIONS = [("runs", "run"), ("sleeps", "sleep"), ("jumps", "jump"), ("sings", "sing"), ("walks", "walk"),
           ("swims", "swim"), ("plays", "play"), ("waits", "wait")]
PARTICIPLES = [("eaten", "ate", "an apple"), ("written", "wrote", "a letter"), ("seen", "saw", "a lion"),
               ("taken", "took", "the book"), ("broken", "broke", "a cup"), ("driven", "drove", "the car"),
               ("given", "gave", "a present"), ("spoken", "spoke", "to the teacher"), ("chosen", "chose", "a hat"),
               ("forgotten", "forgot", "the key"), ("stolen", "stole", "the money"), ("drawn", "drew", "a map")]
SELF_VERBS = ["hurt", "saw", "helped", "washed", "liked", "blamed", "found", "dressed"]
TRANSITIVE = ["found", "liked", "carried", "opened", "cleaned", "wanted", "brought", "needed"]
OBLIGATORY = ["found", "liked", "brought", "needed", "wanted", "described", "borrowed", "carried"]  # need an object
INTRANSITIVE = ["arrived", "laughed", "slept", "fell", "smiled", "cried", "sneezed", "yawned"]  # take none
PLACES = ["in the park", "on the farm", "in the garden", "near the river", "at the school", "in the town"]
GOOD_QUANTIFIERS, BAD_QUANTIFIERS = ["many", "some", "few", "several", "no", "three"], ["all", "most"]
STATES = ["happy", "tired", "hungry", "late", "ready", "busy"]
RELATIONAL = [("friends", "friend"), ("sisters", "sister"), ("brothers", "brother"), ("students", "student"),
              ("neighbours", "neighbour")]


def the(noun: str) -> str:
    return f"the {noun}"


def phenomena(rng: random.Random) -> dict[tuple[str, str, str], callable]:
    """(UID, field, linguistics_term) -> a function that makes one (good, bad) pair."""
    pick = rng.choice

    def either(one: tuple[str, str], other: tuple[str, str]) -> tuple[str, str]:
        """One of two (good, bad) forms of a pair, by a coin toss (singular or plural, he or she)."""
        return one if rng.random() < 0.5 else other

    def determiner_noun():
        sg, pl = pick(THINGS)
        who = the(pick(PEOPLE)[0])
        return either((f"{who} saw this {sg}.", f"{who} saw this {pl}."),
                      (f"{who} saw these {pl}.", f"{who} saw these {sg}."))

    def subject_verb():
        sg, pl = pick(ANIMALS)
        s, p = pick(ACTIONS)
        place = pick(PLACES)
        return either((f"the {sg} {s} {place}.", f"the {sg} {p} {place}."),
                      (f"the {pl} {p} {place}.", f"the {pl} {s} {place}."))

    def participle():
        good, bad, rest = pick(PARTICIPLES)
        who = the(pick(PEOPLE)[0])
        return f"{who} has {good} {rest}.", f"{who} has {bad} {rest}."

    def anaphor_gender():
        verb = pick(SELF_VERBS)
        if rng.random() < 0.5:
            man = pick(MEN)
            return f"the {man} {verb} himself.", f"the {man} {verb} herself."
        woman = pick(WOMEN)
        return f"the {woman} {verb} herself.", f"the {woman} {verb} himself."

    def anaphor_number():
        verb = pick(SELF_VERBS)
        sg, pl = pick(PEOPLE[:9])  # "the child ... themselves" is fine in English: leave children out
        own = "herself" if sg in ("girl",) else "himself" if sg in ("boy",) else pick(["himself", "herself"])
        return either((f"the {pl} {verb} themselves.", f"the {pl} {verb} {own}."),
                      (f"the {sg} {verb} {own}.", f"the {sg} {verb} themselves."))

    def distractor():
        many, one = pick(RELATIONAL)
        other, others = pick(PEOPLE)
        state = pick(STATES)
        # the verb agrees with the head noun, not with the noun next to it
        return either((f"the {many} of the {other} are {state}.", f"the {many} of the {other} is {state}."),
                      (f"the {one} of the {others} is {state}.", f"the {one} of the {others} are {state}."))

    def transitive():
        who, thing = the(pick(PEOPLE)[0]), the(pick(THINGS)[0])
        return f"{who} {pick(TRANSITIVE)} {thing}.", f"{who} {pick(INTRANSITIVE)} {thing}."

    def intransitive():
        who = the(pick(PEOPLE)[0])
        return f"{who} {pick(INTRANSITIVE)}.", f"{who} {pick(OBLIGATORY)}."

    def existential():
        pl = pick(ANIMALS)[1]
        place = pick(PLACES)
        return f"there are {pick(GOOD_QUANTIFIERS)} {pl} {place}.", f"there are {pick(BAD_QUANTIFIERS)} {pl} {place}."

    def wh_no_gap():
        a, b = the(pick(PEOPLE)[0]), the(pick(PEOPLE)[0])
        verb, thing = pick([("ate", "an apple"), ("found", "the key"), ("broke", "a cup"), ("saw", "a lion")])
        knew = pick(["knew", "said", "thought", "forgot"])
        return f"{a} {knew} that {b} {verb} {thing}.", f"{a} {knew} what {b} {verb} {thing}."

    def only_npi():
        who = the(pick(PEOPLE)[0])
        seen = pick(["seen a lion", "eaten a lemon", "been to the sea", "driven a car", "written a song"])
        return f"only {who} has ever {seen}.", f"even {who} has ever {seen}."

    def principle_a_domain():
        man, woman = pick(MEN), pick(WOMEN)
        said, verb = pick(["said", "thought", "knew", "heard"]), pick(SELF_VERBS)
        first, second = f"the {man} {said} that the {woman} {verb}", f"the {woman} {said} that the {man} {verb}"
        return either((f"{first} herself.", f"{first} himself."), (f"{second} himself.", f"{second} herself."))

    return {
        ("determiner_noun_agreement_1", "morphology", "determiner_noun_agreement"): determiner_noun,
        ("regular_plural_subject_verb_agreement_1", "morphology", "subject_verb_agreement"): subject_verb,
        ("irregular_past_participle_verbs", "morphology", "irregular_forms"): participle,
        ("anaphor_gender_agreement", "morphology", "anaphor_agreement"): anaphor_gender,
        ("anaphor_number_agreement", "morphology", "anaphor_agreement"): anaphor_number,
        ("distractor_agreement_relational_noun", "morphology", "subject_verb_agreement"): distractor,
        ("transitive", "syntax", "argument_structure"): transitive,
        ("intransitive", "syntax", "argument_structure"): intransitive,
        ("wh_vs_that_no_gap", "syntax", "filler_gap_dependency"): wh_no_gap,
        ("existential_there_quantifiers_1", "semantics", "quantifiers"): existential,
        ("only_npi_licensor_present", "semantics", "npi_licensing"): only_npi,
        ("principle_A_domain_1", "syntax_semantics", "binding"): principle_a_domain,
    }


def generate(seed: int = 0, per_phenomenon: int = PER_PHENOMENON) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for (uid, field, term), make in phenomena(rng).items():
        seen: set[tuple[str, str]] = set()
        while len(seen) < per_phenomenon:
            good, bad = make()
            if (good, bad) in seen or good == bad:
                continue
            seen.add((good, bad))
            rows.append({"sentence_good": good, "sentence_bad": bad, "field": field, "linguistics_term": term,
                         "UID": uid, "pairID": str(len(seen) - 1)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("minimal_pairs.jsonl"))
    args = parser.parse_args()
    rows = generate(args.seed)
    args.out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    print(f"wrote {len(rows)} pairs ({len(rows) // PER_PHENOMENON} phenomena) to {args.out}")


if __name__ == "__main__":
    main()

"""A second yardstick: held-out MLM and NSP accuracy of a checkpoint, computed with plain
`transformers` only (`BertForPreTraining` + the tokenizer saved beside it), one sentence at a time.

It shares no code with `babybert`: its own corpus reading, held-out split, masking and pairing.
Only the definitions are shared (docs/evaluation.md's): 15% of a sentence's pieces (stochastic rounding,
at least one) replaced by [MASK]; whole words = pre-tokenizer words with a letter or digit, every
piece masked, right only if every piece is; NSP = each sentence with a successor, half IsNext,
half a random sentence of another document. A test compares it with `babybert.analysis.evaluate`, so a
batching mistake cannot fool both at once.

    python -m tests.independent_scorer CHECKPOINT --corpus FILE [--split held-out|all] [--max-sentences N]
"""

from __future__ import annotations

import argparse
import json
import math
import random
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from transformers import AutoTokenizer, BertForPreTraining


@dataclass
class Scores:
    piece_accuracy: float
    word_accuracy: float
    nsp_accuracy: float | None
    pieces: int
    words: int
    pairs: int


def read_documents(path: str | Path) -> list[list[str]]:
    """Blank-line separated documents of one-sentence lines."""
    docs, current = [], []
    for line in Path(path).read_text(encoding="utf-8-sig").splitlines() + [""]:
        if line.strip():
            current.append(line.strip())
        elif current:
            docs.append(current)
            current = []
    return docs


def held_out(docs: list[list[str]], share: float = 0.1) -> list[list[str]]:
    """The last `share` of documents (at least one); a single document gives its last lines."""
    if len(docs) >= 2:
        return docs[-max(1, round(share * len(docs))):]
    return [docs[0][-max(1, round(share * len(docs[0]))):]]


def first_sentences(docs: list[list[str]], limit: int | None) -> list[list[str]]:
    out, left = [], math.inf if limit is None else limit
    for d in docs:
        if left <= 0:
            break
        out.append(d[:int(min(left, len(d)))])
        left -= len(out[-1])
    return out


def _how_many(n: int, share: float, rng: random.Random) -> int:
    return min(n, max(1, math.floor(n * share + rng.random())))


@torch.no_grad()
def score(checkpoint: str | Path, documents: list[list[str]], seed: int = 0, mask_prob: float = 0.15) -> Scores:
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    model = BertForPreTraining.from_pretrained(checkpoint).eval()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one short sentence at a time: threads only add overhead
    try:
        return _score(model, tokenizer, documents, seed, mask_prob)
    finally:
        torch.set_num_threads(threads)


def _score(model, tokenizer, documents: list[list[str]], seed: int, mask_prob: float) -> Scores:
    max_len = model.config.max_position_embeddings
    rng = random.Random(seed)

    def predict(input_ids: list[int], token_type_ids: list[int] | None = None):
        out = model(input_ids=torch.tensor([input_ids]),
                    token_type_ids=torch.tensor([token_type_ids or [0] * len(input_ids)]))
        return out.prediction_logits[0].argmax(-1).tolist(), out.seq_relationship_logits[0].argmax().item()

    pieces_right = pieces = words_right = words = 0
    for sentence in (s for d in documents for s in d):
        enc = tokenizer(sentence, truncation=True, max_length=max_len)
        ids = enc["input_ids"]
        real = list(range(1, len(ids) - 1))  # between [CLS] and [SEP]
        if not real:
            continue
        # pieces
        chosen = rng.sample(real, _how_many(len(real), mask_prob, rng))
        shown = [tokenizer.mask_token_id if i in chosen else t for i, t in enumerate(ids)]
        guess, _ = predict(shown)
        pieces_right += sum(guess[i] == ids[i] for i in chosen)
        pieces += len(chosen)
        # whole words
        word_pieces: dict[int, list[int]] = {}
        for i, w in enumerate(enc.word_ids()):
            if w is not None:
                word_pieces.setdefault(w, []).append(i)
        candidates = [p for p in word_pieces.values()
                      if any(c.isalnum() for c in tokenizer.convert_ids_to_tokens(ids[p[0]]))]
        if not candidates:
            continue
        chosen_words = rng.sample(candidates, _how_many(len(candidates), mask_prob, rng))
        hidden = {i for p in chosen_words for i in p}
        guess, _ = predict([tokenizer.mask_token_id if i in hidden else t for i, t in enumerate(ids)])
        words_right += sum(all(guess[i] == ids[i] for i in p) for p in chosen_words)
        words += len(chosen_words)

    nsp_right = pairs = 0
    sentences = [(d, s) for d, doc in enumerate(documents) for s in doc]
    for k, (d, a) in enumerate(sentences[:-1]):
        if sentences[k + 1][0] != d:
            continue  # the last sentence of its document has no successor
        if rng.random() < 0.5:
            b, label = sentences[k + 1][1], 0
        else:
            others = [s for e, s in sentences if e != d] if len(documents) > 1 else \
                [s for j, (_, s) in enumerate(sentences) if abs(j - k) > max(1, len(sentences) // 4)]
            if not others:
                continue
            b, label = rng.choice(others), 1
        enc = tokenizer(a, b, truncation="longest_first", max_length=max_len)
        _, is_not_next = predict(enc["input_ids"], enc["token_type_ids"])
        nsp_right += is_not_next == label
        pairs += 1

    return Scores(pieces_right / max(pieces, 1), words_right / max(words, 1),
                  nsp_right / pairs if pairs else None, pieces, words, pairs)


def pseudo_log_likelihoods(checkpoint: str | Path, sentences: list[str], metric: str = "original") -> list[float]:
    """PLL as the paper defines it (Salazar et al., 2020), one masked copy at a time: mask piece t,
    add log P(true piece t | the rest). within_word_l2r (Kauf and Ivanova, 2023) also masks the
    pieces after t in t's word. [CLS] and [SEP] are not scored. Natural logs, float32."""
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    model = BertForPreTraining.from_pretrained(checkpoint).eval()
    plls = []
    for sentence in sentences:
        enc = tokenizer(sentence)
        ids, words = enc["input_ids"], enc.word_ids()
        total = 0.0
        for t in range(1, len(ids) - 1):
            masked = list(ids)
            masked[t] = tokenizer.mask_token_id
            if metric == "within_word_l2r":
                for j in range(t + 1, len(ids) - 1):
                    if words[j] == words[t]:
                        masked[j] = tokenizer.mask_token_id
            with torch.no_grad():
                logits = model(input_ids=torch.tensor([masked])).prediction_logits[0, t]
            total += float(torch.log_softmax(logits.double(), -1)[ids[t]])
        plls.append(total)
    return plls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--split", choices=["held-out", "all"], default="held-out")
    parser.add_argument("--max-sentences", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    docs = read_documents(args.corpus)
    docs = first_sentences(held_out(docs) if args.split == "held-out" else docs, args.max_sentences)
    print(json.dumps(asdict(score(args.checkpoint, docs, args.seed))))


if __name__ == "__main__":
    main()

"""Playing with a trained model: fill in [MASK]s, judge whether B follows A, look at attention."""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from babybert.errors import UserError

MASK_PATTERN = re.compile(r"\[mask\]", re.IGNORECASE)
MAX_MASKS = 20  # per fill-mask question: each is answered from the same input, so more says little


@dataclass
class Candidate:
    token: str
    score: float  # probability under the model


def _device(model) -> torch.device:
    return next(model.parameters()).device


def _top_candidates(logits: torch.Tensor, tokenizer, top_k: int) -> list[list[Candidate]]:
    """Best `top_k` tokens per row; [PAD], [CLS], [SEP] and [MASK] are never a guess."""
    never = [tokenizer.pad_token_id, tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.mask_token_id]
    logits = logits.float().cpu()
    logits[:, never] = float("-inf")
    top = logits.softmax(-1).topk(min(top_k, logits.size(-1) - len(never)), dim=-1)
    return [[Candidate(tokenizer.convert_ids_to_tokens(int(i)), float(p)) for p, i in zip(ps, idx)]
            for ps, idx in zip(top.values, top.indices)]


def _encode(model, tokenizer, a: str, b: str | None = None) -> dict:
    """Tokenize for `model` (refusing text it cannot read) and put the model in eval mode."""
    enc = tokenizer(a, b, return_tensors="pt")
    n, max_len = enc["input_ids"].size(1), model.config.max_position_embeddings
    if n > max_len:
        raise UserError(f"the text is {n} tokens long but this model reads at most {max_len}; shorten it")
    model.eval()
    return {k: v.to(_device(model)) for k, v in enc.items()}


@torch.no_grad()
def fill_mask(model, tokenizer, text: str, top_k: int = 5) -> list[list[Candidate]]:
    """For every [MASK] in `text` (any case), the `top_k` most likely tokens, best first.

    Each mask is predicted independently from the same input, as in transformers' pipeline.
    """
    if not isinstance(text, str) or not text.strip():
        raise UserError("the text is empty; write a sentence with at least one [MASK]")
    if not MASK_PATTERN.search(text):
        raise UserError("the text has no [MASK]; put [MASK] where a word should be guessed, e.g. 'the sky is [MASK].'")
    if (n := len(MASK_PATTERN.findall(text))) > MAX_MASKS:
        raise UserError(f"the text has {n} [MASK]s; ask about at most {MAX_MASKS} at a time")
    if not any(c.isalnum() for c in MASK_PATTERN.sub("", text)):
        raise UserError("the text is only [MASK]s: write some words around them for the model to read, e.g. 'the sky is [MASK].'")
    if top_k < 1:
        raise UserError(f"top_k must be at least 1, got {top_k}")
    text = MASK_PATTERN.sub(tokenizer.mask_token, text)
    enc = _encode(model, tokenizer, text)
    logits = model(**enc, mlm_mask=enc["input_ids"] == tokenizer.mask_token_id).mlm_logits  # (n_masks, V)
    return _top_candidates(logits, tokenizer, top_k)


@torch.no_grad()
def next_sentence(model, tokenizer, sentence_a: str, sentence_b: str) -> float:
    """Probability that `sentence_b` really follows `sentence_a` (the NSP head's IsNext)."""
    if not all(isinstance(s, str) and s.strip() for s in (sentence_a, sentence_b)):
        raise UserError("both sentences are needed: sentence A and the candidate next sentence B")
    enc = _encode(model, tokenizer, sentence_a.strip(), sentence_b.strip())
    no_mlm = torch.zeros_like(enc["input_ids"], dtype=torch.bool)
    logits = model(**enc, mlm_mask=no_mlm).nsp_logits[0]
    return float(logits.float().softmax(-1)[0])


@torch.no_grad()
def attention(model, tokenizer, text: str, text_b: str | None = None) -> tuple[list[str], list[torch.Tensor]]:
    """Tokens and per-layer attention weights, each (n_heads, T, T), for a sentence (or pair)."""
    if not isinstance(text, str) or not text.strip():
        raise UserError("the text is empty; type a sentence to see where the model looks")
    text = MASK_PATTERN.sub(tokenizer.mask_token, text)
    enc = _encode(model, tokenizer, text, text_b)
    tokens = tokenizer.convert_ids_to_tokens(enc["input_ids"][0].tolist())
    out = model(**enc, output_attentions=True)
    return tokens, [a[0].float().cpu() for a in out.attentions]


@dataclass
class MaskedExample:
    text: str  # the sentence as the model saw it, [MASK]s in place
    truth: list[str]  # the hidden pieces, one per mask
    predictions: list[list[Candidate]]  # the model's top guesses, one list per mask

    @property
    def correct(self) -> int:
        return sum(bool(p) and p[0].token == t for p, t in zip(self.predictions, self.truth))


def masked_example(model, tokenizer, sentence: str, generator: torch.Generator, mask_prob: float = 0.15,
                   top_k: int = 3) -> MaskedExample:
    """Hide `mask_prob` of a sentence's words (at least one; every piece of a chosen word) and
    ask the model for each hidden piece."""
    enc = tokenizer(sentence, add_special_tokens=False)
    pieces = tokenizer.convert_ids_to_tokens(enc["input_ids"])[: model.config.max_position_embeddings - 2]
    word_ids = enc.word_ids()[: len(pieces)]
    words = sorted({w for w, p in zip(word_ids, pieces) if any(c.isalnum() for c in p)}) or sorted(set(word_ids))
    k = max(1, round(mask_prob * len(words)))
    chosen = {words[i] for i in torch.randperm(len(words), generator=generator)[:k].tolist()}
    hidden = [i for i, w in enumerate(word_ids) if w in chosen]
    truth = [pieces[i] for i in hidden]
    shown = [tokenizer.mask_token if i in hidden else p for i, p in enumerate(pieces)]
    text = tokenizer.convert_tokens_to_string(shown)
    ids = tokenizer.convert_tokens_to_ids([tokenizer.cls_token, *shown, tokenizer.sep_token])
    input_ids = torch.tensor([ids], device=_device(model))
    mlm_mask = input_ids == tokenizer.mask_token_id
    model.eval()
    with torch.no_grad():
        logits = model(input_ids, mlm_mask=mlm_mask).mlm_logits
    return MaskedExample(text, truth, _top_candidates(logits, tokenizer, top_k))


def mask_examples(tokenizer, sentences: list[str], n: int = 5) -> list[str]:
    """Fill-mask examples suited to a model: its own held-out sentences with one word masked,
    the last word of three or more letters that is a single piece of its vocabulary (so one
    [MASK] can name it).

    >>> from babybert.bert.tokenizer import train_tokenizer
    >>> tok = train_tokenizer(["the cow says moo.", "the dog says woof."] * 20, vocab_size=60)
    >>> mask_examples(tok, ["the cow says moo.", "it is.", "the dog says woof."])
    ['the cow says [MASK].', 'the dog says [MASK].']
    """
    examples = []
    for sentence in sentences:
        words = list(re.finditer(r"[^\W\d_]{3,}", sentence))
        for word in reversed(words):
            pieces = tokenizer.tokenize(word.group())
            if len(pieces) == 1 and pieces[0] != tokenizer.unk_token:
                example = sentence[:word.start()] + tokenizer.mask_token + sentence[word.end():]
                if example not in examples and len(tokenizer.tokenize(example)) + 2 <= tokenizer.model_max_length:
                    examples.append(example)
                break
        if len(examples) == n:
            break
    return examples


def nsp_examples(documents: list[list[str]], n: int = 4) -> list[list[str]]:
    """Next-sentence examples from a model's own held-out documents: [A, B] pairs, in turn a true next
    sentence (B follows A in the same document) and a false one (B from the next document).

    >>> nsp_examples([["the cow says moo.", "it eats grass."], ["the owl says hoot.", "it sleeps by day."]])
    [['the cow says moo.', 'it eats grass.'], ['the cow says moo.', 'it sleeps by day.'], \
['the owl says hoot.', 'it sleeps by day.'], ['the owl says hoot.', 'it eats grass.']]
    """
    docs = [d for d in documents if len(d) >= 2]
    examples = []
    for k, doc in enumerate(docs):
        examples.append([doc[0], doc[1]])
        if len(docs) > 1:
            examples.append([doc[0], docs[(k + 1) % len(docs)][1]])
        if len(examples) >= n:
            break
    return examples[:n]


def parse_probes(text: str) -> list[tuple[str, str | None]]:
    """One probe per line: a sentence with [MASK] (fill-mask) or 'A ||| B' (next sentence)."""
    probes = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        if "|||" in line:
            a, b = (part.strip() for part in line.split("|||", 1))
            if not a or not b:
                raise UserError(f"probe {line!r}: write sentence A ||| sentence B")
            probes.append((a, b))
        elif MASK_PATTERN.search(line):
            probes.append((line, None))
        else:
            raise UserError(f"probe {line!r} has no [MASK] and no '|||': a probe is a sentence with [MASK], "
                            "or 'sentence A ||| sentence B'")
    return probes


def run_probes(model, tokenizer, probes: list[tuple[str, str | None]]) -> list[list[str]]:
    """[probe, answer] rows: the top 3 guesses per [MASK], or the IsNext probability."""
    rows = []
    for a, b in probes:
        try:
            if b is None:
                guesses = fill_mask(model, tokenizer, a, top_k=3)
                rows.append([a, " | ".join(", ".join(f"{c.token} {c.score:.0%}" for c in mask) for mask in guesses)])
            else:
                rows.append([f"{a} ||| {b}", f"IsNext {next_sentence(model, tokenizer, a, b):.0%}"])
        except UserError as e:
            rows.append([a if b is None else f"{a} ||| {b}", f"({e})"])
    return rows

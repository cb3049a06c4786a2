"""Quality per second of CPU: BabyBERT's `train()` against two peers in plain transformers, each
given the same time budget on the same training split, all scored by `evaluate` on the same
held-out sentences with the same seeds.

The tuned peer (bench/peer.py) is BabyBERT's published recipe copied into plain transformers: the
strongest alternative we can write. The plain recipe is what a user writes by hand from the
transformers docs: a WordPiece tokenizer (4 096) trained on the training split,
`BertForPreTraining`, `DataCollatorForLanguageModeling(0.15)`, NSP pairs (the next sentence of the
same document or a random sentence of another, half each, drawn afresh every epoch), AdamW lr 1e-3
and weight decay 0.01, batch 32, max length 128, clipping 1.0, no schedule. All clocks start once
the tokenizer is trained and include each side's own data path (the recipe tokenizes its freshly
drawn pairs every epoch).

For each contender's accuracy the report also gives the seconds of training BabyBERT needs to reach
it, interpolated between BabyBERT runs of several budgets (a quarter and a half of the shortest
budget, and every budget).
"""

from __future__ import annotations

import multiprocessing
import random
import tempfile
import time
from pathlib import Path

import torch

from babybert.bench.peer import peer_pairs, train_peer
from babybert.bench.throughput import BERT_DEFAULTS, recipe_trainer
from babybert.bert.checkpoint import load_checkpoint, save_checkpoint
from babybert.config import ModelConfig, TrainConfig
from babybert.data.corpus import Document, read_corpus, split_corpus
from babybert.analysis.grammar import MinimalPair, score_pairs
from babybert.analysis.evaluate import evaluate
from babybert.training.events import Done
from babybert.training.loop import train

RECIPE_VOCAB = 4096


def recipe_tokenizer(sentences: list[str], vocab_size: int = RECIPE_VOCAB):
    """A WordPiece tokenizer trained with `tokenizers`' ready-made BERT recipe."""
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertTokenizerFast

    wordpiece = BertWordPieceTokenizer(lowercase=True)
    wordpiece.train_from_iterator(sentences, vocab_size=vocab_size, show_progress=False)
    return BertTokenizerFast(tokenizer_object=wordpiece._tokenizer, model_max_length=128, do_lower_case=True,
                             unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]", cls_token="[CLS]",
                             mask_token="[MASK]")


recipe_pairs = peer_pairs  # the plain recipe draws its pairs of sentences as the peer does of token ids


def train_recipe(train_docs: list[Document], budget: float, seed: int = 0, config: ModelConfig | None = None):
    """The transformers recipe for `budget` seconds of wall clock; returns (model, tokenizer, steps, tokens)."""
    rng = random.Random(seed)
    tokenizer = recipe_tokenizer([s for d in train_docs for s in d])
    shape = ModelConfig(**{**vars(config or ModelConfig()), **BERT_DEFAULTS, "vocab_size": len(tokenizer)})
    model, step = recipe_trainer(tokenizer, shape, seed)
    t0 = time.perf_counter()  # as train()'s clock: from when the tokenizer and the model are made
    steps = tokens = 0
    while time.perf_counter() - t0 < budget:
        pairs = recipe_pairs(train_docs, rng)
        rng.shuffle(pairs)
        enc = tokenizer([a for a, _, _ in pairs], [b for _, b, _ in pairs], truncation=True, max_length=128)
        features = [{"input_ids": enc["input_ids"][i], "token_type_ids": enc["token_type_ids"][i],
                     "next_sentence_label": label} for i, (_, _, label) in enumerate(pairs)]
        for start in range(0, len(features), 32):
            if time.perf_counter() - t0 >= budget:
                break
            tokens += step(features[start:start + 32])
            steps += 1
    return model.eval(), tokenizer, steps, tokens


def train_babybert(documents: list[Document], budget: float, seed: int = 0):
    """`train()` with its defaults and a time budget; returns (model, tokenizer, run facts). On a tiny
    corpus the default epoch cap can end training before the budget: that is part of the recipe."""
    done = None
    for event in train(documents, None, TrainConfig(time_budget=budget, eval_every=0, seed=seed)):
        if isinstance(event, Done):
            done = event
    info = done.info
    return done.model, done.tokenizer, {"steps": done.step, "epochs": info["epochs"], "stop_reason": done.reason,
                                        "tokens_per_s": info["tokens"] / max(info["train_seconds"], 1e-9)}


def run_recipe(train_docs: list[Document], budget: float, seed: int = 0):
    """`train_recipe` for `budget` seconds; returns (model, tokenizer, run facts) as `train_babybert`."""
    model, tokenizer, steps, tokens = train_recipe(train_docs, budget, seed)
    return model, tokenizer, {"steps": steps, "tokens_per_s": tokens / budget}


MASK_DRAWS = 5  # held-out scores are averaged over this many mask draws (seeds): on a small held-out
# split one draw masks too few words for a ratio to mean much


def score(model, tokenizer, held_out: list[Document], seed: int = 0, draws: int = MASK_DRAWS) -> dict:
    """`evaluate` on the held-out documents with seeds seed, seed+1, …, averaged, for a BabyBERT or a
    transformers model alike (the latter goes through a saved checkpoint, so it is scored by the very
    same code)."""
    if hasattr(model, "save_pretrained"):
        from transformers.utils import logging as hf_logging
        hf_logging.disable_progress_bar()
        with tempfile.TemporaryDirectory() as tmp:
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            ckpt = load_checkpoint(tmp)
        model, tokenizer = ckpt.model, ckpt.tokenizer
    runs = [evaluate(model, tokenizer, held_out, seed=seed + k, max_sentences=2000) for k in range(draws)]
    mean = lambda key: sum(getattr(m, key) for m in runs) / draws
    return {"word_accuracy": mean("word_accuracy"), "mlm_accuracy": mean("mlm_accuracy"),
            "nsp_accuracy": mean("nsp_accuracy"), "masked_words": sum(m.masked_words for m in runs),
            "nsp_pairs": sum(m.nsp_pairs for m in runs)}


def run_peer(train_docs: list[Document], budget: float, seed: int = 0):
    """The tuned peer for `budget` seconds, with the recipe's tokenizer; returns (model, tokenizer, run facts)."""
    tokenizer = recipe_tokenizer([s for d in train_docs for s in d])
    model, steps, tokens = train_peer(train_docs, tokenizer, budget, seed)
    return model, tokenizer, {"steps": steps, "tokens_per_s": tokens / budget}


CONTENDERS = ("babybert", "tuned peer", "recipe")


def seconds_to_reach(curve: list[tuple[float, float]], accuracy: float) -> float | None:
    """The training seconds at which BabyBERT's (budget, accuracy) points first reach `accuracy`,
    linearly interpolated; the shortest budget when its run already does (at most that), None when
    no run does."""
    curve = sorted(curve)
    if curve and curve[0][1] >= accuracy:
        return curve[0][0]
    for (t0, a0), (t1, a1) in zip(curve, curve[1:]):
        if a1 >= accuracy:
            return t0 + (t1 - t0) * (accuracy - a0) / (a1 - a0)
    return None


def contender_run(name: str, corpus: str, budget: float, seed: int, folder: str) -> dict:
    """One contender's run, in a process of its own (see run_quality_bench): its model and tokenizer
    saved as a checkpoint in `folder`, for the parent to score; returns its facts."""
    documents = read_corpus(corpus)
    train_docs, _ = split_corpus(documents)
    runners = {"babybert": lambda: train_babybert(documents, budget, seed),
               "tuned peer": lambda: run_peer(train_docs, budget, seed),
               "recipe": lambda: run_recipe(train_docs, budget, seed)}
    model, tokenizer, facts = runners[name]()
    if hasattr(model, "save_pretrained"):
        from transformers.utils import logging as hf_logging
        hf_logging.disable_progress_bar()
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    else:
        save_checkpoint(folder, model, tokenizer, {})
    return facts


def run_quality_bench(corpus: str | Path, budgets=(60, 180), seed: int = 0, log=print,
                      pairs: list[MinimalPair] | None = None) -> dict:
    """Each contender trains in a fresh process, one at a time: a run that follows another in the
    same process trained up to ~12% slower (the allocator's and oneDNN's state the first one left),
    which would favour whoever runs first. All are then scored here, by the same code; with `pairs`
    (grammar.py) also on minimal pairs, by pseudo-log-likelihood."""
    path = Path(corpus)
    documents = read_corpus(path)
    _, held_out = split_corpus(documents)
    spawn = multiprocessing.get_context("spawn")

    def measure(name: str, budget: float) -> dict:
        with tempfile.TemporaryDirectory() as folder, spawn.Pool(1) as pool:
            facts = pool.apply(contender_run, (name, str(path), budget, seed, folder))
            ckpt = load_checkpoint(folder)
        m = {**score(ckpt.model, ckpt.tokenizer, held_out, seed), **facts}
        if pairs:
            known = score_pairs(ckpt.model, ckpt.tokenizer, pairs)
            m["minimal_pairs"] = {"accuracy": known.overall.value, "pairs": known.overall.pairs,
                                  "by_field": {k: v.value for k, v in known.by_field.items()},
                                  "by_phenomenon": {k: v.value for k, v in known.by_phenomenon.items()}}
        stopped = f", stopped by {m['stop_reason']} after {m['epochs']:g} epochs" if m.get("stop_reason") not in (None, "time_budget") else ""
        log(f"  {path.name} {budget:>4g} s  {name:<10} whole-word {m['word_accuracy']:6.1%}  NSP {m['nsp_accuracy']:6.1%}"
            f"{'  minimal pairs ' + format(m['minimal_pairs']['accuracy'], '6.1%') if pairs else ''}"
            f"  ({m['steps']:,} steps, {m['tokens_per_s']:,.0f} tokens/s{stopped})")
        return m

    rows = []
    for budget in budgets:
        row = {"budget": budget, **{name: measure(name, budget) for name in CONTENDERS}}
        for name in CONTENDERS[1:]:
            row[f"word_ratio_{name}"] = row["babybert"]["word_accuracy"] / max(row[name]["word_accuracy"], 1e-9)
        row["word_ratio"] = row["word_ratio_recipe"]
        rows.append(row)
    shortest = min(budgets)
    extra = {b: measure("babybert", b)["word_accuracy"] for b in (shortest / 4, shortest / 2)}
    curve = [(b, a) for b, a in extra.items()] + [(r["budget"], r["babybert"]["word_accuracy"]) for r in rows]
    for row in rows:
        row["babybert_seconds_to_reach"] = {name: seconds_to_reach(curve, row[name]["word_accuracy"])
                                            for name in CONTENDERS[1:]}
    return {"corpus": path.name, "threads": torch.get_num_threads(), "rows": rows, "babybert_curve": curve}


def print_quality_report(report: dict) -> str:
    lines = [f"held-out quality after the same training time on {report['corpus']} "
             f"({report['threads']} threads; all scored by babybert.analysis.evaluate, mean of {MASK_DRAWS} mask draws):",
             "  budget   whole-word: babybert  tuned peer  recipe   ratio: vs peer  vs recipe"
             "  | NSP: babybert  peer  recipe  | seconds babybert needs to reach: peer  recipe"]
    shortest = min(b for b, _ in report["babybert_curve"])
    reach = lambda s: "never" if s is None else f"{'<=' if s == shortest else ''}{s:.0f} s"
    for r in report["rows"]:
        b, p, h = r["babybert"], r["tuned peer"], r["recipe"]
        t = r["babybert_seconds_to_reach"]
        lines.append(f"  {r['budget']:>5g} s            {b['word_accuracy']:6.1%}      {p['word_accuracy']:6.1%}  "
                     f"{h['word_accuracy']:6.1%}            {r['word_ratio_tuned peer']:5.2f}x     {r['word_ratio']:5.2f}x"
                     f"  |     {b['nsp_accuracy']:6.1%} {p['nsp_accuracy']:6.1%} {h['nsp_accuracy']:6.1%}"
                     f"  |   {reach(t['tuned peer']):>6} {reach(t['recipe']):>6}")
    if all("minimal_pairs" in r["babybert"] for r in report["rows"]):
        n = report["rows"][0]["babybert"]["minimal_pairs"]["pairs"]
        lines.append(f"  minimal pairs ({n:,}, by pseudo-log-likelihood; chance 50%): babybert  tuned peer  recipe")
        for r in report["rows"]:
            cells = "  ".join(f"{r[c]['minimal_pairs']['accuracy']:8.1%}" for c in CONTENDERS)
            lines.append(f"  {r['budget']:>5g} s                                              {cells}")
    return "\n".join(lines)

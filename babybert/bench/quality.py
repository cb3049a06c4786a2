"""Quality per second of CPU: BabyBERT's `train()` against the plain transformers recipe, each
given the same time budget on the same training split, both scored by `evaluate` on the same
held-out sentences with the same seed.

The recipe is what a user writes by hand from the transformers docs: a WordPiece tokenizer (4 096)
trained on the training split, `BertForPreTraining`, `DataCollatorForLanguageModeling(0.15)`,
NSP pairs (the next sentence of the same document or a random sentence of another, half each,
drawn afresh every epoch), AdamW lr 1e-3 and weight decay 0.01, batch 32, max length 128,
clipping 1.0, no schedule. Both clocks start once the tokenizer is trained and include each side's
own data path (the recipe tokenizes its freshly drawn pairs every epoch).
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

import torch

from babybert.bench.throughput import BERT_DEFAULTS, recipe_trainer
from babybert.bert.checkpoint import load_checkpoint
from babybert.config import ModelConfig, TrainConfig
from babybert.data.corpus import Document, read_corpus, split_corpus
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


def recipe_pairs(docs: list[Document], rng: random.Random) -> list[tuple[str, str, int]]:
    """(A, B, label) for every sentence with a successor: label 0 = B is the next sentence."""
    pairs = []
    for d, doc in enumerate(docs):
        for i in range(len(doc) - 1):
            if rng.random() < 0.5 or len(docs) < 2:
                pairs.append((doc[i], doc[i + 1], 0))
            else:
                other = rng.choice([e for e in range(len(docs)) if e != d])
                pairs.append((doc[i], rng.choice(docs[other]), 1))
    return pairs


def train_recipe(train_docs: list[Document], budget: float, seed: int = 0, config: ModelConfig | None = None):
    """The transformers recipe for `budget` seconds of wall clock; returns (model, tokenizer, steps, tokens)."""
    rng = random.Random(seed)
    tokenizer = recipe_tokenizer([s for d in train_docs for s in d])
    t0 = time.perf_counter()  # as train()'s clock, from after the tokenizer is trained
    shape = ModelConfig(**{**vars(config or ModelConfig()), **BERT_DEFAULTS, "vocab_size": len(tokenizer)})
    model, step = recipe_trainer(tokenizer, shape, seed)
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


def run_quality_bench(corpus: str | Path, budgets=(60, 180), seed: int = 0, log=print) -> dict:
    path = Path(corpus)
    documents = read_corpus(path)
    train_docs, held_out = split_corpus(documents)
    rows = []
    for budget in budgets:
        row = {"budget": budget}
        for name, run in (("babybert", lambda: train_babybert(documents, budget, seed)),
                          ("recipe", lambda: run_recipe(train_docs, budget, seed))):
            model, tokenizer, facts = run()
            row[name] = m = {**score(model, tokenizer, held_out, seed), **facts}
            stopped = f", stopped by {m['stop_reason']} after {m['epochs']:g} epochs" if m.get("stop_reason") not in (None, "time_budget") else ""
            log(f"  {path.name} {budget:>4g} s  {name:<9} whole-word {m['word_accuracy']:6.1%}  NSP {m['nsp_accuracy']:6.1%}"
                f"  ({m['steps']:,} steps, {m['tokens_per_s']:,.0f} tokens/s{stopped})")
        row["word_ratio"] = row["babybert"]["word_accuracy"] / max(row["recipe"]["word_accuracy"], 1e-9)
        rows.append(row)
    return {"corpus": path.name, "threads": torch.get_num_threads(), "rows": rows}


def print_quality_report(report: dict) -> str:
    lines = [f"held-out quality after the same training time on {report['corpus']} "
             f"({report['threads']} threads; both scored by babybert.analysis.evaluate, mean of {MASK_DRAWS} mask draws):",
             "  budget   whole-word: babybert  recipe   ratio   |  NSP: babybert  recipe"]
    for r in report["rows"]:
        b, h = r["babybert"], r["recipe"]
        lines.append(f"  {r['budget']:>5g} s            {b['word_accuracy']:6.1%}  {h['word_accuracy']:6.1%}  "
                     f"{r['word_ratio']:5.2f}x  |       {b['nsp_accuracy']:6.1%}  {h['nsp_accuracy']:6.1%}")
    return "\n".join(lines)

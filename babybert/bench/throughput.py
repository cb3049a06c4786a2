"""Training throughput, side by side in one process: BabyBERT against the plain transformers
recipe (`BertForPreTraining` + `DataCollatorForLanguageModeling` + AdamW) on the same examples.

Rounds alternate between the contenders so a noisy machine slows all of them alike; the median
round counts. Throughput is real (non-padding) tokens per second, the data path included.
"""

from __future__ import annotations

import functools
import statistics
import time
from pathlib import Path

from babybert.paths import DEFAULT_CORPUS

import torch

from babybert.config import ModelConfig, TrainConfig
from babybert.data.batches import (SpecialIds, build_inputs, draw_pairs, encode_corpus, length_grouped_batches, mask_tokens)
from babybert.data.corpus import read_corpus, split_corpus
from babybert.bert.model import BabyBert
from babybert.bert.tokenizer import train_tokenizer
from babybert.training.loop import make_optimizer, pretraining_loss
from babybert.training.setup import buckets, use_bf16

TARGET_SPEEDUP = 2.0
# what a user gets from `transformers.BertConfig` unless they change it; the recipe always trains with
# these, and the throughput race gives them to both sides so each step does the same arithmetic
BERT_DEFAULTS = dict(hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, initializer_range=0.02)


def recipe_example(enc, ids: SpecialIds, a, b, label, i: int, max_len: int) -> dict:
    """Pair i as the recipe's collator wants it: token lists, tokenized once up front as
    `datasets.map` would, identical to what BabyBERT builds for the same pair."""
    x = build_inputs(enc, a[i:i + 1], b[i:i + 1], ids, max_len)
    n = x.num_tokens
    return {"input_ids": x.input_ids[0, :n].tolist(), "token_type_ids": x.token_type_ids[0, :n].tolist(),
            "attention_mask": [1] * n, "next_sentence_label": int(label[i])}


def _babybert_runner(corpus, ids, config: ModelConfig, a, b, label, seed, mask_prob: float = 0.15,
                     precision: str = "auto"):
    """BabyBERT's training step as train() takes it on the CPU: its precision, its padding buckets."""
    torch.manual_seed(seed)
    model = BabyBert(config).train()
    cpu = torch.device("cpu")
    optimizer = make_optimizer(model, TrainConfig(), cpu)
    generator = torch.Generator().manual_seed(seed)
    bf16 = use_bf16(precision, cpu)
    positions, rows_multiple = buckets(bf16, cpu)

    def step(rows) -> int:
        batch = build_inputs(corpus, a[rows], b[rows], ids, config.max_position_embeddings, positions)
        batch.nsp_labels = label[rows]
        batch = mask_tokens(batch, ids, mask_prob, generator)
        with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            loss, _, _ = pretraining_loss(model, batch, ("mlm", "nsp"), rows_multiple)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0, foreach=True)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return batch.num_tokens
    return step


def recipe_trainer(tokenizer, config: ModelConfig, seed: int):
    """The transformers recipe's model and its one training step on a list of features:
    `BertForPreTraining` + `DataCollatorForLanguageModeling(0.15)` + AdamW(1e-3, wd 0.01), clip 1.0.
    Returns (model, step), where step(features) trains on them and returns their real tokens."""
    from transformers import BertConfig, BertForPreTraining, DataCollatorForLanguageModeling

    torch.manual_seed(seed)
    model = BertForPreTraining(BertConfig(**config.to_bert_config())).train()
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15)  # torch's generator, seeded above
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)

    def step(features: list[dict]) -> int:
        batch = collator(features)
        out = model(input_ids=batch["input_ids"], token_type_ids=batch["token_type_ids"],
                    attention_mask=batch["attention_mask"], labels=batch["labels"],
                    next_sentence_label=batch["next_sentence_label"])
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return int(batch["attention_mask"].sum())
    return model, step


def _transformers_runner(features, tokenizer, config: ModelConfig, seed):
    _, step = recipe_trainer(tokenizer, config, seed)
    return lambda rows: step([features[i] for i in rows.tolist()])


def _time(step, batches, start: int, steps: int) -> float:
    tokens, t0 = 0, time.perf_counter()
    for i in range(start, start + steps):
        tokens += step(batches[i % len(batches)])
    return tokens / (time.perf_counter() - t0)


@functools.lru_cache(maxsize=2)
def _encoded(path: Path):
    """The corpus's training split, its tokenizer (4,096) and its sentences encoded, once per corpus
    (`bench --quick` measures three times on the same corpus)."""
    train_docs, _ = split_corpus(read_corpus(path))
    tokenizer = train_tokenizer((s for d in train_docs for s in d), 4096)
    enc = encode_corpus(train_docs, tokenizer, ModelConfig().max_position_embeddings)
    return tokenizer, enc, SpecialIds.from_tokenizer(tokenizer)


def _prepare(corpus: str | Path | None, seed: int):
    path = Path(corpus) if corpus else DEFAULT_CORPUS
    return (path, *_encoded(path.resolve()), torch.Generator().manual_seed(seed))  # a fresh generator each time


def run_bench(corpus: str | Path | None = None, steps: int = 30, rounds: int = 3, batch_size: int = 32,
              seed: int = 0, vocab_size: int | None = None) -> dict:
    """Tokens per second of each contender, and BabyBERT's speed-up over the recipe. `vocab_size`
    sizes both models' vocabulary (e.g. BERT's 30,522) whatever the corpus's tokenizer holds."""
    path, tokenizer, enc, ids, generator = _prepare(corpus, seed)
    config = ModelConfig(vocab_size=max(vocab_size or 0, len(tokenizer)), **BERT_DEFAULTS)
    a, b, label = draw_pairs(enc, generator)

    random_batches = list(torch.randperm(len(a), generator=generator).split(batch_size))
    random_batches = [r for r in random_batches if len(r) == batch_size]
    needed = {int(i) for r in random_batches[: steps * rounds + 2] for i in r}
    features = {i: recipe_example(enc, ids, a, b, label, i, config.max_position_embeddings) for i in needed}
    grouped = [r for r in length_grouped_batches(enc.lengths[a] + enc.lengths[b], batch_size, generator) if len(r) == batch_size]
    contenders = {
        "transformers recipe": (_transformers_runner(features, tokenizer, config, seed), random_batches),
        "babybert, same batches": (_babybert_runner(enc, ids, config, a, b, label, seed), random_batches),
        "babybert": (_babybert_runner(enc, ids, config, a, b, label, seed), grouped),
    }
    results = {name: [] for name in contenders}
    for step, batches in contenders.values():  # warm-up: allocator, kernels, lazy imports
        _time(step, batches, 0, 2)
    for r in range(rounds):
        for name, (step, batches) in contenders.items():
            results[name].append(_time(step, batches, 2 + r * steps, steps))
    median = {name: statistics.median(v) for name, v in results.items()}
    base = median["transformers recipe"]
    mean_len = float((enc.lengths[a] + enc.lengths[b]).float().mean()) + 3
    return {
        "flops_per_token": train_flops_per_token(config, mean_len),
        "corpus": path.name,
        "model": {"hidden": config.hidden_size, "layers": config.num_hidden_layers, "vocab": config.vocab_size,
                  "max_len": config.max_position_embeddings, "batch_size": batch_size},
        "threads": torch.get_num_threads(),
        "steps_per_round": steps,
        "rounds": rounds,
        "tokens_per_sec": {k: round(v) for k, v in median.items()},
        "speedup": {k: round(v / base, 2) for k, v in median.items() if k != "transformers recipe"},
        "target_speedup": TARGET_SPEEDUP,
        "meets_target": median["babybert"] / base >= TARGET_SPEEDUP,
    }


def run_peer_race(corpus: str | Path | None = None, steps: int = 30, rounds: int = 3, seed: int = 0) -> dict:
    """Tokens per second at the default shape and settings (batch 16, 30% masking, no dropout) of
    the tuned peer (bench/peer.py), BabyBERT in float32 and BabyBERT as train() runs it (precision
    auto), on the same length-grouped batches of the same pairs; with model FLOP utilisation against
    this machine's float32 and bfloat16 matmul rates, measured in the same run."""
    from babybert.bench.peer import peer_trainer

    path, tokenizer, enc, ids, generator = _prepare(corpus, seed)
    config, train_config = ModelConfig(vocab_size=len(tokenizer)), TrainConfig()
    a, b, label = draw_pairs(enc, generator)
    lengths = enc.lengths[a] + enc.lengths[b]
    batches = [r for r in length_grouped_batches(lengths, train_config.batch_size, generator)
               if len(r) == train_config.batch_size]
    needed = {int(i) for r in batches[: steps * rounds + 2] for i in r}
    features = {i: recipe_example(enc, ids, a, b, label, i, config.max_position_embeddings) for i in needed}
    _, peer_step = peer_trainer(tokenizer, config, train_config, seed)
    mask = train_config.mask_prob
    contenders = {
        "tuned peer": lambda rows: peer_step([features[i] for i in rows.tolist()], 0.5),
        "babybert fp32": _babybert_runner(enc, ids, config, a, b, label, seed, mask, precision="fp32"),
        "babybert": _babybert_runner(enc, ids, config, a, b, label, seed, mask, precision=train_config.precision),
    }
    results = {name: [] for name in contenders}
    for step in contenders.values():  # warm-up: allocator, kernels, lazy imports
        _time(step, batches, 0, 2)
    for r in range(rounds):
        for name, step in contenders.items():
            results[name].append(_time(step, batches, 2 + r * steps, steps))
    median = {name: statistics.median(v) for name, v in results.items()}
    rates = {"fp32": matmul_gflops(), "bf16": matmul_gflops(dtype=torch.bfloat16)}
    flops = train_flops_per_token(config, float(lengths.float().mean()) + 3, mask)
    return {
        "corpus": path.name, "threads": torch.get_num_threads(), "steps_per_round": steps, "rounds": rounds,
        "bf16": use_bf16(train_config.precision, torch.device("cpu")),
        "tokens_per_sec": {k: round(v) for k, v in median.items()},
        "speedup": {k: round(v / median["tuned peer"], 2) for k, v in median.items() if k != "tuned peer"},
        "flops_per_token": round(flops),
        "mean_pair_tokens": round(float(lengths.float().mean()) + 3, 2),  # + [CLS] and two [SEP]
        "vocab_size": config.vocab_size,
        "matmul_gflops": {k: round(v, 1) for k, v in rates.items()},
        "mfu": {name: {k: round(median[name] * flops / 1e9 / v, 4) for k, v in rates.items()} for name in median},
        "target_speedup": TARGET_SPEEDUP,
    }


def print_peer_report(report: dict) -> str:
    rates = report["matmul_gflops"]
    lines = [f"training throughput at the default shape on {report['corpus']} ({report['threads']} threads, "
             f"{report['rounds']} rounds x {report['steps_per_round']} steps, median round; same batches):",
             f"  {'':<16} {'tokens/s':>9}  vs peer   MFU of fp32 {rates['fp32']:.0f} / bf16 {rates['bf16']:.0f} GFLOP/s"]
    for name, tps in report["tokens_per_sec"].items():
        mfu = report["mfu"][name]
        lines.append(f"  {name:<16} {tps:>9,}  {report['speedup'].get(name, 1.0):5.2f}x   "
                     f"{mfu['fp32']:6.1%} / {mfu['bf16']:6.1%}")
    verdict = "meets" if report["speedup"]["babybert"] >= report["target_speedup"] else "MISSES"
    lines.append(f"target: babybert >= {report['target_speedup']:.1f}x the tuned peer -> {verdict} it"
                 f" (precision auto is {'bf16' if report['bf16'] else 'fp32'} here)")
    return "\n".join(lines)


def print_report(report: dict) -> str:
    lines = [f"training throughput on {report['corpus']} ({report['threads']} threads, "
             f"{report['rounds']} rounds x {report['steps_per_round']} steps, median round):"]
    for name, tps in report["tokens_per_sec"].items():
        speed = report["speedup"].get(name)
        lines.append(f"  {name:<24} {tps:>9,} tokens/s" + (f"   {speed:.2f}x" if speed else "   1.00x"))
    verdict = "meets" if report["meets_target"] else "MISSES"
    lines.append(f"target: babybert >= {report['target_speedup']:.1f}x the transformers recipe -> {verdict} it")
    return "\n".join(lines)



# ----------------------------------------------------------------------------- compute and latency

def train_flops_per_token(config: ModelConfig, seq_len: float, mask_prob: float = 0.15) -> float:
    """FLOPs one training token costs the model, forward and backward (3x forward): every weight
    matrix it passes through (2 FLOPs per multiply-add), attention over `seq_len` keys, and the MLM
    head on the masked share of positions only. Embedding lookups, norms and softmax are not counted.
    Every layer is counted at every position, as the peer computes it: BabyBERT's last layer runs
    only where it is read, so for it this is the full model's work, not the work it does.

    One layer, H=2, I=4, one key, no MLM head: 4*2*2 + 2*2*4 + 2*1*2 = 36 multiply-adds, x 2 x 3 = 216.

    >>> train_flops_per_token(ModelConfig(vocab_size=10, hidden_size=2, num_hidden_layers=1, intermediate_size=4,
    ...                                   num_attention_heads=1), seq_len=1, mask_prob=0.0)
    216.0
    """
    H, I, L, V = config.hidden_size, config.intermediate_size, config.num_hidden_layers, config.vocab_size
    per_layer = 4 * H * H + 2 * H * I + 2 * seq_len * H  # q, k, v, out; feed-forward; scores and mix
    mlm_head = mask_prob * (H * H + H * V)
    return 3 * 2 * (L * per_layer + mlm_head)


def matmul_gflops(n: int = 1024, seconds: float = 1.0, dtype: torch.dtype = torch.float32) -> float:
    """This machine's matrix-multiply rate in `dtype` with torch's threads, in GFLOP/s: the ceiling
    that model FLOP utilisation is measured against."""
    x, y = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    x @ y  # warm-up
    calls, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        x @ y
        calls += 1
    return 2 * n ** 3 * calls / (time.perf_counter() - t0) / 1e9


def latency_ms(fn, calls: int = 100) -> tuple[float, float]:
    """(p50, p95) wall time of `fn()` in milliseconds, after a few warm-up calls."""
    for _ in range(5):
        fn()
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return p50_p95(times)


def p50_p95(times: list[float]) -> tuple[float, float]:
    times = sorted(times)
    return times[len(times) // 2], times[int(0.95 * (len(times) - 1))]


def run_quick(corpus: str | Path | None = None) -> dict:
    """The headline numbers in one pass (about two minutes): training tokens/s against the recipe at
    the default shape and at BERT's vocabulary, and against the tuned peer at the default settings;
    model FLOP utilisation against this machine's own fp32 and bf16 matmul rates; and fill-mask /
    next-sentence latency of the default checkpoint in-process."""
    from babybert.bert.checkpoint import load_checkpoint
    from babybert.analysis.predict import fill_mask, next_sentence
    from babybert.paths import DEFAULT_CHECKPOINT

    default = run_bench(corpus, steps=15, rounds=2)
    big = run_bench(corpus, steps=10, rounds=2, vocab_size=30522)
    peer = run_peer_race(corpus, steps=15, rounds=2)
    ckpt = load_checkpoint(DEFAULT_CHECKPOINT)
    fm50, fm95 = latency_ms(lambda: fill_mask(ckpt.model, ckpt.tokenizer, "the capital of france is [MASK]."))
    nsp50, nsp95 = latency_ms(lambda: next_sentence(ckpt.model, ckpt.tokenizer, "the cow is a farm animal.",
                                                    "the cow says moo."))
    rate = peer["tokens_per_sec"]
    return {
        "train_tokens_per_s": default["tokens_per_sec"]["babybert"],
        "hf_train_tokens_per_s": default["tokens_per_sec"]["transformers recipe"],
        "train_speedup": default["speedup"]["babybert"],
        "train_speedup_vocab30522": big["speedup"]["babybert"],
        "default_model_tokens_per_s": rate["babybert"],
        "default_model_fp32_tokens_per_s": rate["babybert fp32"],
        "peer_tokens_per_s": rate["tuned peer"],
        "peer_speedup": peer["speedup"]["babybert"],
        "bf16": peer["bf16"],
        "flops_per_token": peer["flops_per_token"],
        "matmul_gflops_fp32": peer["matmul_gflops"]["fp32"],
        "matmul_gflops_bf16": peer["matmul_gflops"]["bf16"],
        "mfu_fp32": peer["mfu"]["babybert"]["fp32"],
        "mfu_bf16": peer["mfu"]["babybert"]["bf16"],
        "fill_mask_p50_ms": round(fm50, 2), "fill_mask_p95_ms": round(fm95, 2),
        "nsp_p50_ms": round(nsp50, 2), "nsp_p95_ms": round(nsp95, 2),
        "threads": torch.get_num_threads(),
    }

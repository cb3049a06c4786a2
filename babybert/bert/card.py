"""The model card (README.md of a checkpoint), built with `huggingface_hub.ModelCard`."""

from __future__ import annotations

import json
import re
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

TAGS = ["babybert", "bert", "masked-lm", "fill-mask", "next-sentence-prediction", "pretrained-from-scratch"]


def widget_text(sentence: str) -> str:
    """A fill-mask example for the Hub widget: the sentence with its longest word masked.

    >>> widget_text("the cow says moo .")
    'the cow [MASK] moo .'
    """
    words = sentence.split()
    if not words:
        return "[MASK]"
    longest = max(range(len(words)), key=lambda i: (len(re.sub(r"\W", "", words[i])), -i))
    words[longest] = "[MASK]"
    return " ".join(words)


def _pairs_row(metrics: dict) -> str:
    """The minimal pairs' row, for a run that judged them (TrainConfig.minimal_pairs); else nothing."""
    if metrics.get("minimal_pair_accuracy") is None:
        return ""
    fields = metrics.get("minimal_pair_fields") or {}
    by_field = "; ".join(f"{k.replace('_', ' ')} {_pct(v)}" for k, v in fields.items())
    return (f"| minimal pairs known, by pseudo-log-likelihood (chance = 50%; {metrics.get('minimal_pairs', 0):,} pairs) "
            f"| {_pct(metrics['minimal_pair_accuracy'])}{f' ({by_field})' if by_field else ''} |\n")


def _pct(x) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _num(x, fmt="{:.2f}") -> str:
    return "–" if x is None else fmt.format(x)


def _count(x) -> str:
    return f"{x:,}" if isinstance(x, int) else "?"


def _dropout(tc: dict, cfg) -> str:
    return f"dropout {cfg.hidden_dropout_prob:g} (attention {cfg.attention_probs_dropout_prob:g})"


def build_model_card(model, info: dict, repo_id: str | None = None) -> ModelCard:
    cfg = model.config
    metrics = info.get("metrics") or {}
    corpus = info.get("corpus") or {}
    corpus_name = corpus.get("name", "a user corpus")
    train = corpus.get("train") or {}
    held = corpus.get("held_out") or {}
    name = repo_id or info.get("name") or "babybert"
    results = [
        EvalResult(task_type="fill-mask", dataset_type="text", dataset_name=corpus_name, dataset_split="held-out",
                   metric_type=key, metric_name=label, metric_value=round(metrics[key], 4))
        for key, label in (("mlm_accuracy", "held-out MLM accuracy"), ("mlm_perplexity", "held-out MLM perplexity"),
                           ("word_accuracy", "held-out whole-word accuracy"), ("nsp_accuracy", "held-out NSP accuracy"),
                           ("minimal_pair_accuracy", "minimal-pair accuracy (pseudo-log-likelihood)"))
        if metrics.get(key) is not None
    ]
    data = ModelCardData(
        library_name="transformers", pipeline_tag="fill-mask", tags=TAGS, license="mit", language="en",
        model_name=name, eval_results=results or None,
        widget=[{"text": info.get("widget") or "the capital of france is [MASK]."}],
    )
    tc = info.get("train_config") or {}
    source = f"\n- the corpus is {corpus['source']}" if corpus.get("source") else ""  # a Hub dataset's rows, split how
    command = info.get("command")
    how = (f"```bash\n{command}\n```" if command else
           "Trained with the `babybert` Python library (`babybert.train()`).")
    body = f"""
# {name}

A tiny BERT pretrained **from scratch** with BabyBERT on
*{corpus_name}*, with masked-language modelling (MLM) and next-sentence prediction (NSP). It is
small on purpose: a model for learning, teaching and fast baselines, not for production.

| | |
|---|---|
| parameters | {model.num_parameters():,} |
| layers / hidden / heads / feed-forward | {cfg.num_hidden_layers} / {cfg.hidden_size} / {cfg.num_attention_heads} / {cfg.intermediate_size} |
| vocabulary (WordPiece, trained on the corpus) | {cfg.vocab_size:,} |
| max sequence length | {cfg.max_position_embeddings} |
| tasks | {", ".join(tc.get("tasks", ["mlm", "nsp"]))} |

## Results on held-out text

Measured on the last documents of the corpus, which were never trained on
({_count(held.get("documents"))} documents, {_count(held.get("sentences"))} sentences), with a fixed seed. Each
masked piece or word is shown as `[MASK]`; a whole word counts only if all its pieces are right.
BabyBERT's test suite checks this evaluation against an independent scorer written with plain
`transformers`, one sentence at a time.

| metric | value |
|---|---|
| MLM accuracy (per masked piece) | {_pct(metrics.get("mlm_accuracy"))} |
| most-frequent-piece baseline | {_pct(metrics.get("baseline_accuracy"))} |
| MLM perplexity | {_num(metrics.get("mlm_perplexity"))} |
| whole-word accuracy | {_pct(metrics.get("word_accuracy"))} |
| NSP accuracy (chance = 50%) | {_pct(metrics.get("nsp_accuracy"))} |
{_pairs_row(metrics)}
## How it was trained

{how}

- corpus: {_count(train.get("documents"))} documents, {_count(train.get("sentences"))} sentences,
  {_count(train.get("tokens"))} WordPiece tokens in the training split{source}
- {_count(info.get("steps"))} steps ({info.get("epochs", "?")} epochs) in {info.get("train_seconds", "?")} s on
  `{info.get("device", "?")}`, batch size {tc.get("batch_size", "?")}, peak learning rate {tc.get("lr", "?")},
  AdamW with linear warmup and decay, mask probability {tc.get("mask_prob", "?")} (80% `[MASK]`,
  10% random token, 10% unchanged), {_dropout(tc, cfg)}, seed {tc.get("seed", "?")}; stopped by: {info.get("stop_reason", "?")}

![loss curve](loss.png)

{usage(repo_id, data.widget[0]["text"], tc)}"""
    return ModelCard(f"---\n{data.to_yaml()}\n---\n{body}")


def usage(repo_id: str | None, widget: str, tc: dict) -> str:
    """The card's last sections: how to use the model (transformers, BabyBERT), its limits, its settings."""
    local = repo_id.split("/")[-1] if repo_id else "path/to/this/checkpoint"
    pull = f"python -m babybert pull {repo_id} --out {local}\n" if repo_id else ""
    return f"""## How to use

With transformers:

```python
from transformers import pipeline, BertForPreTraining, AutoTokenizer

fill = pipeline("fill-mask", model="{repo_id or "path/to/this/checkpoint"}")
print(fill("{widget}"))

model = BertForPreTraining.from_pretrained("{repo_id or "path/to/this/checkpoint"}")  # MLM + NSP heads
tokenizer = AutoTokenizer.from_pretrained("{repo_id or "path/to/this/checkpoint"}")
```

With BabyBERT:

```bash
{pull}python -m babybert fill-mask {local} "{widget}"
python -m babybert nsp {local} "first sentence." "a candidate next sentence."
```

## Limitations

Trained on a small corpus for minutes: it knows only what that text says, often guesses frequent
words, and will not generalise like a full-size BERT.

<details><summary>Training configuration</summary>

```json
{json.dumps(tc, indent=2)}
```
</details>
"""


def write_model_card(directory: str | Path, model, info: dict, repo_id: str | None = None) -> None:
    build_model_card(model, info, repo_id).save(Path(directory) / "README.md")

"""BabyBERT in the browser: train a tiny BERT live, then play with it. Runs locally
(`python app.py`) and as a Hugging Face Space (the module-level `demo`).

This file only wires Gradio components to babybert functions: one builder per tab, each returning
its components, and the wiring between tabs written once. What the app needs besides Gradio (limits,
sessions, input checks, the live view, the training workers) lives in babybert/server/.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import random
import signal
import threading
import time
from pathlib import Path
import contextlib
from contextlib import contextmanager
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import gradio as gr

from babybert import attention, fill_mask, load_checkpoint, next_sentence
from babybert import train
from babybert.data.batches import masking_walkthrough
from babybert.data.corpus import parse_corpus, split_corpus
from babybert.hub.repos import get_tokenizer, pull, push
from babybert.hub.dataset import corpus_from_dataset
from babybert.analysis.grammar import compare, first_of_each, read_pairs
from babybert.analysis.plots import architecture_figure, attention_figure, loss_figure, pll_figure
from babybert.analysis.pll import PLL_METRICS
from babybert.analysis.embeddings import NEIGHBOUR_COLUMNS, embedding_view
from babybert.analysis.runs import Run, overlays
from babybert.analysis.runs import table as runs_table
from babybert.analysis.runs import write_csv as write_runs_csv
from babybert.analysis.predict import mask_examples, nsp_examples, parse_probes
from babybert.training.events import Progress
from babybert.config import ModelConfig, TrainConfig, settings
from babybert.errors import UserError
from babybert.paths import DEFAULT_CHECKPOINT, EXAMPLE_PAIRS
from babybert.server.inputs import (app_controls, check_corpus, check_settings, corpus_summary,
                                    example_corpora, make_configs, read_upload, tokenizer_choice, whole, with_tokenizer)
from babybert.server.limits import Limits, plural
from babybert.server.sessions import Sessions, add_run
from babybert.server.view import (TrainView, keep_only, pair_note, pulled_summary, verdict_json, verdict_markdown,
                                  zip_checkpoint)
from babybert.analysis.vocabulary import PIECE_COLUMNS, TOP_COLUMNS, text_stats, tokenize_view
from babybert.server.worker import WorkerDied, WorkerPool, niceness, predictions_on_one_thread, without_live_model

try:  # Hugging Face Spaces' package: on ZeroGPU hardware, GPU work must run inside @spaces.GPU
    import spaces
except ImportError:
    spaces = None

log = logging.getLogger("babybert.app")
ZERO_GPU = spaces is not None and bool(os.environ.get("SPACES_ZERO_GPU"))
LIMITS = Limits.from_env()
niceness()  # BABYBERT_WORKER_NICE, checked here: a bad value stops the app at start, with its message
SESSIONS = Sessions(LIMITS.runs_dir, ttl=LIMITS.session_ttl)
EXAMPLES = example_corpora()
DEFAULT_EXAMPLE = "world_facts.txt"
MODEL_CHOICES = [("default model (world facts)", "default"), ("the model you trained", "trained"),
                 ("the model you pulled from the Hub", "pulled")]
DEFAULT_FILL_EXAMPLES = [["the capital of japan is [MASK]."], ["people in brazil speak [MASK]."], ["the cow says [MASK]."],
                         ["a spider has [MASK] legs."], ["bananas are [MASK]. the sky is [MASK]."]]
DEFAULT_NSP_EXAMPLES = [["the capital of peru is lima.", "lima is the largest city in peru."],
                        ["the cow is a farm animal.", "the capital of peru is lima."],
                        ["a spider is a small animal.", "spiders have eight legs."]]
FORMAT_HELP = ("**Format:** one sentence per line, a blank line between documents. Documents matter: a true "
               "next sentence comes from the same document, a false one from another.")


SCROLL_TO_STATUS = """(...inputs) => {
    document.getElementById("train-status")?.scrollIntoView({behavior: "smooth", block: "start"});
    return inputs;
}"""
REFRESH_EVERY = 0.5  # seconds between live plot refreshes at most (with 0.1 s ticks and delivery: under 1 s)
WORKERS = WorkerPool(LIMITS.concurrent_trainings)  # training runs in warm worker processes (see babybert/server/worker.py)
TORCH = ThreadPoolExecutor(1, thread_name_prefix="babybert-torch",  # predictions one at a time, each on one core
                           initializer=predictions_on_one_thread)


def on_torch(fn, *args):
    return TORCH.submit(fn, *args).result()


@lru_cache(maxsize=1)
def default_model():
    ckpt = on_torch(load_checkpoint, DEFAULT_CHECKPOINT)
    if not ckpt.info.get("vocabulary"):  # trained before training recorded it: count its training split, as training does
        train_split = split_corpus(parse_corpus(load_example(DEFAULT_EXAMPLE)), ckpt.info["train_config"]["holdout"])[0]
        ckpt.info["vocabulary"] = text_stats(ckpt.tokenizer, (s for d in train_split for s in d),
                                             source="the training split").to_dict()
    return ckpt


def session_key(request: gr.Request) -> str:
    return request.session_hash if request and request.session_hash else "anonymous"


def session_of(request: gr.Request):
    return SESSIONS.get(session_key(request))


def model_for(session, which: str):
    if which == "trained":
        if session.trained is None:
            raise user_error("You have not trained a model yet: train one in the Train tab, or pick the default model.")
        return session.trained
    if which == "pulled":
        if session.pulled is None:
            raise user_error("You have not pulled a model yet: pull one in the Hub tab, or pick the default model.")
        return session.pulled
    if which != "default":
        raise user_error(f"unknown model {which!r}: choose default, trained or pulled")
    return default_model()


def current_path(session):
    """The checkpoint "continue" starts from: the model trained or pulled last, else the default."""
    latest = getattr(session, session.latest) if session.latest else None
    return latest.path if latest is not None else DEFAULT_CHECKPOINT


def as_sent(component_class):
    """`component_class`, its value passed to the handler as the client sent it. A script can bypass
    the controls; the handlers then say which setting is wrong and why, where Gradio's own checks
    say only "Value 0 is less than minimum value 64." (and fail with a traceback on a string).
    (Not a subclass: Gradio writes a .pyi stub next to the module of every Component subclass.)"""
    def make(*args, **kwargs):
        component = component_class(*args, **kwargs)
        component.preprocess = lambda payload: payload
        return component
    return make


Slider, Number, Dropdown, CheckboxGroup, Radio = (as_sent(c) for c in (gr.Slider, gr.Number, gr.Dropdown, gr.CheckboxGroup,
                                                                       gr.Radio))


def user_error(message: str) -> gr.Error:
    """A message for the user, without a traceback in the server's console."""
    return gr.Error(message, print_exception=False)


BUG = ("Something went wrong on the server: this is a bug in BabyBERT, not a mistake of yours. The server's log has "
       "the details; please report it.")


@contextmanager
def user_errors():
    """A UserError is a mistake with a message: shown as a toast, no traceback. Anything else is a
    bug: its traceback goes to the server's log, and the page says so."""
    try:
        yield
    except gr.Error:
        raise
    except UserError as e:
        raise user_error(str(e)) from None
    except Exception:
        log.exception("a bug: an unexpected error in a handler")
        raise user_error(BUG) from None


# ----------------------------------------------------------------------------- Train

def load_example(name: str) -> str:
    return EXAMPLES[name].read_text(encoding="utf-8") if name in EXAMPLES else ""


def load_upload(path) -> str:
    with user_errors():
        if not path:
            return gr.skip()
        return read_upload(path, LIMITS)


# the library's messages name the command line's flags; the app names its own fields
APP_FIELDS = {"with --text-column": "in the Text column field", "with --dataset-split": "in the Split field",
              "with --max-rows N": "in the Rows field",
              "pass a token that can read it, with --token or HF_TOKEN": "this app reads public datasets only"}


def in_app_words(message: str) -> str:
    for flag, field in APP_FIELDS.items():
        message = message.replace(flag, field)
    return message


def load_dataset_ui(spec, split, column, rows, request: gr.Request):
    """A Hub dataset into the corpus box, a row a document, with the same limits as an upload; the
    box stays editable, and a run on it records where the text came from and how it was split."""
    session = session_of(request)
    try:
        rows = whole("rows", rows, 1, 1_000_000)
        text_of = lambda x: x.strip() if isinstance(x, str) else ""  # noqa: E731
        found = corpus_from_dataset(text_of(spec), split=text_of(split) or "train", text_column=text_of(column) or "text",
                                    max_rows=rows, max_bytes=4 * LIMITS.max_corpus_chars, endpoint=HUB_ENDPOINT,
                                    token=hub_token(None, "", write=False),
                                    cache_dir=SESSIONS.directory(session_key(request)) / "datasets", local=False)
        text = found.path.read_text(encoding="utf-8")
        if len(text) > LIMITS.max_corpus_chars:
            raise UserError(f"those rows have {len(text):,} characters of text; this server takes corpora up to "
                            f"{LIMITS.max_corpus_chars:,}: take fewer rows")
    except UserError as e:
        raise user_error(in_app_words(str(e))) from None
    session.dataset = (text, found.name, found.description)
    return text, f"Loaded {found.description}."


def train_model(request: gr.Request = None, *, corpus: str = "", start_from: str = "scratch", probes: str = "",
                tokenizer_from: str = "corpus", tokenizer_repo: str = "", overlay: bool = True, **values):
    """Train in a worker process and stream the view as the events arrive. `values` are the
    training settings by their config names (babybert/config.py); those not sent keep the app's."""
    session = session_of(request)
    docs, model_config, config, probe_list, repo = checked_training_input(corpus, probes, tokenizer_from, tokenizer_repo,
                                                                          start_from, values)
    if session.training:
        raise user_error("This session is already training; press Stop first.")
    init = current_path(session) if start_from == "continue" else None
    out_dir = SESSIONS.directory(session_key(request)) / "babybert-session"
    plots_dir = out_dir.parent / "live"
    session.stop = threading.Event()
    session.training = True
    view, shown = TrainView(), {}
    corpus_name, corpus_source = corpus_label(corpus), None
    if session.dataset is not None and session.dataset[0] == corpus:  # loaded from a Hub dataset, unedited
        _, corpus_name, corpus_source = session.dataset
    if overlay and session.runs:
        now = {"train_config": config.to_dict(), "model_config": vars(model_config), "corpus": {"name": corpus_name},
               "tokenizer": repo, "init": str(init) if init else None}
        view.plot.set_earlier(overlays(session.runs, Run.from_info(now).settings))
    last = heard = time.monotonic()  # last refresh sent; last events received
    unseen, finished = False, False  # events received since the last refresh; Done received
    try:
        tokenizer = None
        if repo is not None:
            view.status = f"downloading the tokenizer of {repo}…"
            yield _train_outputs(view, plots_dir)
            tokenizer = get_tokenizer(repo, endpoint=HUB_ENDPOINT, token=hub_token(None, "", write=False), local=False)
            model_config, config = with_tokenizer(model_config, config, tokenizer, LIMITS)
        # batches arrive a few times a second, and an empty one every 0.1 s in between: a clock
        for events in training_batches(docs, model_config, config, out_dir=out_dir, init=init, stop=session.stop,
                                       corpus_name=corpus_name, probes=probe_list, tokenizer=tokenizer,
                                       corpus_source=corpus_source):
            for event in events:
                view.update(event)
            now = time.monotonic()
            if events:
                unseen, heard = True, now
            elif now - heard >= REFRESH_EVERY:  # nothing new for a while: an evaluation, or the final one and saving
                unseen = view.waiting(config.eval_every) or unseen
            if view.done and not finished:  # the final metrics first; then the model is loaded and zipped
                finished = True
                yield _train_outputs(view, plots_dir)
                session.trained, session.latest = on_torch(load_checkpoint, view.done.checkpoint), "trained"
                session.held_out["trained"] = split_corpus(docs, config.holdout)[1]
                add_run(session, session.trained.info)
            elif not finished and unseen and (now - last >= REFRESH_EVERY or _refresh_now(events, config.eval_every)):
                last, unseen = now, False
                yield _train_outputs(view, plots_dir, shown=shown)
    except UserError as e:
        raise user_error(str(e)) from None
    except WorkerDied as e:  # (the pool starts a fresh process for the next run)
        log.error("training failed: %s", e)
        raise user_error(f"Training failed: {e}") from None
    except Exception:  # a bug: TrainingFailed (its traceback is in the worker's log), or the server's own
        log.exception("a bug: training failed")
        raise user_error(BUG) from None
    finally:
        session.training = False
        SESSIONS.release(session_key(request))  # a tab closed during the run: delete what it wrote
    done = view.done
    saved = done is not None and done.checkpoint is not None and Path(done.checkpoint).is_dir()
    yield _train_outputs(view, plots_dir, download=zip_checkpoint(done.checkpoint) if saved else None,
                         runs=runs_outputs(request))


def checked_training_input(corpus, probes, tokenizer_from, tokenizer_repo, start_from, values: dict):
    """Everything Start needs, checked: the documents, the two configs, the probes, the tokenizer's repo."""
    with user_errors():
        docs = check_corpus(corpus, LIMITS)
        model_config, config = make_configs(LIMITS, **values)
        probe_list = parse_probes(probes or "")
        repo = tokenizer_choice(tokenizer_from, tokenizer_repo, start_from)
    return docs, model_config, config, probe_list, repo


def training_batches(docs, model_config, config, **options):
    """Lists of training events: from a warm worker process, or, on a ZeroGPU Space, from inside
    spaces.GPU (where alone a GPU exists there)."""
    if ZERO_GPU:
        yield from zero_gpu_batches(docs, model_config, config, **options)
        return
    with WORKERS.worker() as worker:
        yield from worker.train(docs, model_config, config, heartbeat=0.1, **options)


def zero_gpu_batches(docs, model_config, config, **options):
    @spaces.GPU(duration=int(config.time_budget or LIMITS.max_train_seconds) + 60)  # + evaluation and saving
    def run():
        for event in train(docs, model_config, config, **options):
            yield [without_live_model(event)]
    yield from run()


def _refresh_now(events, eval_every: int) -> bool:
    """Start, the first step, an evaluation's results, and the last step before an evaluation
    (which takes a few tenths of a second) are shown at once; other steps at the next tick."""
    if not events:
        return False
    last = events[-1]
    return (any(not isinstance(e, Progress) or e.step == 1 for e in events)
            or (isinstance(last, Progress) and eval_every and last.step % eval_every == 0))


def _train_outputs(view: TrainView, plots_dir, download=None, shown: dict | None = None, runs=None):
    """The Train tab's outputs. With `shown` (what the browser already has), the parts that change
    only at an evaluation are skipped in between: re-sending tables costs the server CPU that
    training would otherwise get."""
    fresh = (len(view.eval_history), len(view.samples), id(view.probe_rows), view.done is not None)
    if shown is not None and shown.get("tables") == fresh:
        tables = (gr.skip(), gr.skip(), gr.skip(), gr.skip())
    else:
        tables = (view.metrics_markdown(), view.samples or None, view.probe_rows or None,
                  gr.update(value=str(download) if download else None, visible=download is not None))
        if shown is not None:
            shown["tables"] = fresh
    return (view.status, view.png(plots_dir), *tables, *(runs or (gr.skip(), gr.skip())))  # (the runs: at the end)


def corpus_label(text: str) -> str:
    """How the runs table names a corpus: an example's file name, else "your text"."""
    name = next((n for n in EXAMPLES if text == load_example(n)), None)
    return name or f"your text ({len(text or ''):,} characters)"


# ----------------------------------------------------------------------------- Runs

def runs_outputs(request: gr.Request):
    """The runs table and its CSV (every setting and metric of this session's runs)."""
    session = session_of(request)
    if not session.runs:
        return gr.update(value=None), gr.update(value=None, visible=False)
    headers, rows = runs_table(session.runs)
    path = write_runs_csv(session.runs, SESSIONS.directory(session_key(request)) / "babybert-runs.csv")
    return gr.update(value=rows, headers=headers), gr.update(value=str(path), visible=True)


def clear_runs(request: gr.Request):
    session_of(request).runs.clear()
    return runs_outputs(request)


def redraw_runs_plot(overlay, request: gr.Request):
    """The last run's curves again, with or without the earlier runs behind them."""
    session = session_of(request)
    if not session.runs or session.training:
        return gr.skip()
    last = session.runs[-1]
    earlier = overlays(session.runs[:-1], last.settings) if overlay else []
    path = SESSIONS.directory(session_key(request)) / "live" / f"loss-runs-{time.monotonic_ns()}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    loss_figure(last.history, last.eval_history, title=f"Pretraining loss ({last.name})", dpi=80,
                earlier=earlier).savefig(path)
    return keep_only(path)


def tokenizer_controls(tokenizer_from):
    """A published tokenizer brings its vocabulary: the repository field shows, the size slider rests."""
    hub = tokenizer_from == "hub"
    return gr.update(visible=hub), gr.update(interactive=not hub,
                                            label="Vocabulary size (from the tokenizer)" if hub else "Vocabulary size")


def settings_ui(**values) -> str:
    return check_settings(LIMITS, **values)


def forget_session(request: gr.Request) -> None:
    SESSIONS.drop(session_key(request))  # stops its training; its files are deleted


def check_before_queueing(request: gr.Request = None, *, corpus: str = "", start_from: str = "scratch",
                          probes: str = "", tokenizer_from: str = "corpus", tokenizer_repo: str = "", overlay: bool = True,
                          **values):
    """The Start button's first step, run at once: a mistake is told now, not after a wait in the
    queue, and a user who must wait is told why."""
    checked_training_input(corpus, probes, tokenizer_from, tokenizer_repo, start_from, values)
    if session_of(request).training:
        raise user_error("This session is already training; press Stop first.")
    if SESSIONS.trainings() >= LIMITS.concurrent_trainings:
        n = LIMITS.concurrent_trainings
        running = "another user's training is" if n == 1 else "other users' trainings are"
        return (f"**Waiting for a free training slot**: this server trains {plural(n, 'model')} at a time, and {running} "
                "running. Your place in the queue shows on the plot below; your training starts by itself.")
    return gr.skip()


def stop_training(request: gr.Request) -> str:
    session = session_of(request)
    if not session.training:
        return "Nothing is training in this session."
    session.stop.set()
    return "Stopping: finishing the evaluation and saving the model…"


# ----------------------------------------------------------------------------- Fill-mask

def fill_mask_ui(text, top_k, which, compare, which_b, request: gr.Request):
    with user_errors():
        session = session_of(request)
        first = model_for(session, which)
        top_k = whole("top k", top_k, 1, 50)
        results = {which: on_torch(fill_mask, first.model, first.tokenizer, text, top_k)}
        if compare:
            second = model_for(session, which_b)
            results[which_b + " (B)" if which_b == which else which_b] = on_torch(fill_mask, second.model, second.tokenizer, text, top_k)
        labels = [{c.token: c.score for c in mask} for mask in next(iter(results.values()))]
        table = [[name, i + 1, ", ".join(f"{c.token} ({c.score:.1%})" for c in mask)]
                 for name, masks in results.items() for i, mask in enumerate(masks)]
        as_json = {name: [[{"token": c.token, "score": c.score} for c in mask] for mask in masks] for name, masks in results.items()}
        return labels[0], table, as_json


def worked_masking_example(tokenizer, sentences: list[str]):
    """A sentence of the model's own corpus, and the first seed whose draw shows a [MASK] and
    another case, so the example teaches the rule."""
    sentence = min(sentences[:50], key=lambda s: abs(len(tokenizer.tokenize(s)) - 14))  # a table of ~14 rows
    for seed in range(200):
        rows = masking_walkthrough(tokenizer, sentence, mask_prob=0.3, seed=seed)
        cases = {what for _, what, _ in rows if what.startswith("picked")}
        if len(cases) >= 2 and any("[MASK]" in c for c in cases):
            return rows
    return rows


def insert_mask(text: str) -> str:
    text = (text or "").rstrip()
    return f"{text} [MASK]".strip() if not text.endswith(".") else f"{text[:-1].rstrip()} [MASK]."


# ----------------------------------------------------------------------------- Next sentence

def next_sentence_ui(a, b, which, request: gr.Request):
    with user_errors():
        ckpt = model_for(session_of(request), which)
        p = on_torch(next_sentence, ckpt.model, ckpt.tokenizer, a, b)
        return {"IsNext: B follows A": p, "NotNext: B is unrelated": 1 - p}


@lru_cache(maxsize=1)
def _world_held_out() -> list[list[str]]:
    return split_corpus(parse_corpus(load_example(DEFAULT_EXAMPLE)))[1]


def held_out_for(session, which: str) -> list[list[str]]:
    """The held-out documents of the corpus the model learned from (the default's: world facts; a
    pulled model's corpus is unknown, so world facts too)."""
    return session.held_out.get(which) or _world_held_out()


def sentences_for(session, which: str) -> list[str]:
    return [s for d in held_out_for(session, which) for s in d]


def random_sentence(which, request: gr.Request) -> str:
    return random.choice(sentences_for(session_of(request), which))


@lru_cache(maxsize=1)
def example_pairs():
    return read_pairs(EXAMPLE_PAIRS)


def minimal_pair_ui(a, b, which, metric, request: gr.Request):
    with user_errors():
        ckpt = model_for(session_of(request), which)
        verdict = on_torch(compare, ckpt.model, ckpt.tokenizer, a, b, metric)
        return verdict_markdown(verdict), pll_figure(verdict.a, verdict.b), verdict_json(verdict)


def another_pair():
    """A pair drawn from the examples, its grammatical sentence as A or B by a coin toss."""
    pair = random.choice(example_pairs())
    if random.random() < 0.5:
        return pair.good, pair.bad, pair_note(pair, "A")
    return pair.bad, pair.good, pair_note(pair, "B")


def fill_mask_examples(which, request: gr.Request):
    """Examples from the chosen model's own held-out text, with a word it knows masked."""
    session = session_of(request)
    if which == "pulled" and session.pulled is not None and session.pulled.info.get("widget"):
        return gr.Dataset(samples=[[session.pulled.info["widget"]]])  # from its model card
    if which == "default" or which not in session.held_out:
        return gr.Dataset(samples=DEFAULT_FILL_EXAMPLES)
    ckpt = model_for(session, which)
    return gr.Dataset(samples=[[e] for e in mask_examples(ckpt.tokenizer, sentences_for(session, which), n=6)])


def next_sentence_examples(which, request: gr.Request):
    """Sentence pairs from the chosen model's own held-out text, true and false next sentences in turn."""
    session = session_of(request)
    if which == "default" or which not in session.held_out:
        return gr.Dataset(samples=DEFAULT_NSP_EXAMPLES)
    return gr.Dataset(samples=nsp_examples(held_out_for(session, which)) or DEFAULT_NSP_EXAMPLES)


def use_new_model(which: str):
    """After a training or a pull, make that model the current one in every tab."""
    def switch(request: gr.Request):
        ready = getattr(session_of(request), which) is not None
        return [gr.update(value=which) if ready else gr.skip() for _ in range(4)]  # one dict each: Gradio consumes them
    return switch


# ----------------------------------------------------------------------------- Model

def describe_model(which, request: gr.Request):
    with user_errors():
        ckpt = model_for(session_of(request), which)
        counts = ckpt.model.parameter_counts()
        rows = [[part, f"{n:,}"] for part, n in counts.items()] + [["total", f"{sum(counts.values()):,}"]]
        walk = on_torch(worked_masking_example, ckpt.tokenizer, sentences_for(session_of(request), which))
        walkthrough = "| piece | what masking did | the model sees |\n|---|---|---|\n" + "\n".join(
            f"| `{p}` | {what} | `{shown}` |" for p, what, shown in walk)
        cfg = ckpt.model.config
        return architecture_figure(cfg, counts), rows, walkthrough, gr.update(maximum=cfg.num_hidden_layers), \
            gr.update(maximum=cfg.num_attention_heads)


def attention_ui(text, layer, head, which, request: gr.Request):
    with user_errors():
        ckpt = model_for(session_of(request), which)
        cfg = ckpt.model.config
        layer = min(whole("layer", layer), cfg.num_hidden_layers) - 1  # a slider left at another model's maximum
        head = min(whole("head", head), cfg.num_attention_heads) - 1
        tokens, maps = on_torch(attention, ckpt.model, ckpt.tokenizer, text)
        return attention_figure(tokens, maps[layer][head].numpy(), layer, head)


MAX_TOKENIZE_CHARS = 10_000  # the tokenizer view: a paragraph or a page, not a corpus
MAX_DRAWN_WORDS = 300  # the embedding view: more labels than this are a blot


def tokenize_ui(text, which, request: gr.Request):
    """The text's pieces and ids, and the vocabulary's summary (size, most frequent pieces, split share)."""
    with user_errors():
        ckpt = model_for(session_of(request), which)
        if not isinstance(text, str) or len(text) > MAX_TOKENIZE_CHARS:
            raise UserError(f"type up to {MAX_TOKENIZE_CHARS:,} characters to tokenize")
        view = tokenize_view(ckpt, text)
        return view.highlighted, view.rows, view.summary, view.top


def embeddings_ui(word, n, which, request: gr.Request):
    """The most frequent words' embeddings on their two principal components, a word's neighbours marked."""
    with user_errors():
        ckpt = model_for(session_of(request), which)
        n = whole("words drawn", n, 3, MAX_DRAWN_WORDS)
        view = on_torch(embedding_view, ckpt, word if isinstance(word, str) else "", n)
        return view.figure, view.note, view.rows


# ----------------------------------------------------------------------------- Hub

ON_SPACE = bool(os.environ.get("SPACE_ID"))  # set by Hugging Face Spaces
OAUTH = bool(os.environ.get("OAUTH_CLIENT_ID"))  # set on Spaces with `hf_oauth: true` (README front matter)
HUB_ENDPOINT = os.environ.get("HF_ENDPOINT") or None  # None: huggingface.co


def hub_token(oauth_token, typed: str, write: bool):
    """The signed-in user's token, else the one typed in, else (only when running locally) the
    machine's HF_TOKEN or saved login. On a Space, a visitor never gets the Space owner's token."""
    if oauth_token is not None:
        return oauth_token.token
    if typed and typed.strip():
        return typed.strip()
    if ON_SPACE:
        if write:
            raise user_error("Sign in with Hugging Face (the button above), or paste an access token with write access.")
        return False  # read public repositories anonymously
    return None


def push_ui(which, repo_id, private, token, oauth_token, request: gr.Request):
    session = session_of(request)
    with user_errors():
        ckpt = model_for(session, which)
        path = ckpt.path or DEFAULT_CHECKPOINT
        result = push(path, repo_id, token=hub_token(oauth_token, token, write=True), private=bool(private),
                      endpoint=HUB_ENDPOINT, commit_message="Upload from the BabyBERT app")
    return f"Pushed to [{result.url}]({result.url}) (commit `{result.commit_id[:7]}`)."


def pull_ui(repo_id, revision, token, oauth_token, request: gr.Request):
    session = session_of(request)
    out = SESSIONS.directory(session_key(request)) / "pulled"
    with user_errors():
        ckpt = pull(repo_id, revision=(revision or "").strip() or None, endpoint=HUB_ENDPOINT,
                    token=hub_token(oauth_token, token, write=False), out=out)
    session.pulled, session.latest = ckpt, "pulled"
    return pulled_summary(repo_id.strip(), ckpt)


# Gradio passes the signed-in user's token to a parameter annotated gr.OAuthToken; outside a Space
# with sign-in enabled that annotation makes Gradio demand a local `hf auth login`, so it is used only there.
if OAUTH:
    def push_handler(which, repo_id, private, token, oauth_token: gr.OAuthToken | None, request: gr.Request):
        return push_ui(which, repo_id, private, token, oauth_token, request)

    def pull_handler(repo_id, revision, token, oauth_token: gr.OAuthToken | None, request: gr.Request):
        return pull_ui(repo_id, revision, token, oauth_token, request)

    def token_fields(profile: gr.OAuthProfile | None):
        """Signed in with Hugging Face: the token fields are not needed."""
        return gr.update(visible=profile is None), gr.update(visible=profile is None)
else:
    def push_handler(which, repo_id, private, token, request: gr.Request):
        return push_ui(which, repo_id, private, token, None, request)

    def pull_handler(repo_id, revision, token, request: gr.Request):
        return pull_ui(repo_id, revision, token, None, request)


# ----------------------------------------------------------------------------- layout

EXPLAIN = """
### How BERT is pretrained
**Masked-language modelling (MLM).** Some words of a sentence are hidden and the model must guess them
from both sides of the context. BERT picks 15% of the word pieces of every sentence; BabyBERT picks 30% by
default, which teaches a small model more per second (held-out scores still hide 15%). Of those, 80% are
replaced by `[MASK]`, 10% by a random piece and 10% are left unchanged, so the model cannot rely on
seeing `[MASK]` to know where to predict. The loss is computed only on the picked pieces.

**Next-sentence prediction (NSP).** Two sentences are joined; half of the time B really follows A in the
same document (*IsNext*), half of the time B comes from elsewhere (*NotNext*). The model answers from the
vector of `[CLS]`.

**Special tokens.** `[CLS]` starts every input and collects a summary of it for NSP; `[SEP]` ends each
sentence; `[MASK]` marks a hidden piece; `[PAD]` fills short rows of a batch and is ignored by attention.
"""


# ----------------------------------------------------------------------------- the tabs: one builder each

def setting_controls() -> dict[str, gr.components.Component]:
    """A control for each training setting the app shows, made from its declaration in
    babybert/config.py; the accordions hold the sections. Keyed by the setting's name, which is also
    /train's parameter name."""
    controls = {}
    for section, rows in app_controls({"time_budget": LIMITS.max_train_seconds}).items():
        with gr.Accordion(section, open=False) if section else contextlib.nullcontext():
            for name, c, value, whole_number in rows:
                if c.kind == "checkboxes":
                    choices = next(s.choices for cls in (ModelConfig, TrainConfig) for f, s in settings(cls) if f.name == name)
                    controls[name] = CheckboxGroup([(x.upper(), x) for x in choices], value=list(value), label=c.label)
                elif c.kind == "checkbox":
                    controls[name] = gr.Checkbox(value, label=c.label)
                elif c.kind == "number":
                    controls[name] = Number(value, label=c.label, minimum=c.minimum, precision=0 if whole_number else None)
                else:
                    controls[name] = Slider(c.minimum, c.maximum, value=value, step=c.step, label=c.label)
    return controls


def corpus_column() -> gr.Textbox:
    """The corpus box and its sources: an example, an upload, a Hub dataset."""
    example = gr.Dropdown(list(EXAMPLES), value=DEFAULT_EXAMPLE, label="Example corpus")
    corpus = gr.Textbox(load_example(DEFAULT_EXAMPLE), lines=14, max_lines=14, label="Corpus")
    gr.Markdown(FORMAT_HELP)
    stats = gr.Markdown(corpus_summary(load_example(DEFAULT_EXAMPLE)), elem_id="corpus-stats")
    upload = gr.File(label="…or upload a .txt file", file_types=[".txt"], type="filepath", height=120, elem_id="upload")
    with gr.Accordion("…or load a Hub dataset", open=False):
        dataset_id = gr.Textbox(label="Hub dataset (OWNER/NAME or OWNER/NAME:CONFIG)",
                                placeholder="roneneldan/TinyStories", elem_id="dataset-id")
        with gr.Row():
            dataset_split = gr.Textbox("train", label="Split")
            dataset_column = gr.Textbox("text", label="Text column")
            dataset_rows = Number(1000, label="Rows (the first N; a row is a document)", precision=0)
        load_dataset = gr.Button("Load into the corpus box")
        dataset_note = gr.Markdown(elem_id="dataset-note")
    example.change(load_example, example, corpus, api_name=False)
    upload.upload(load_upload, upload, corpus, api_name=False, show_progress="hidden")  # an error keeps the box readable
    load_dataset.click(load_dataset_ui, [dataset_id, dataset_split, dataset_column, dataset_rows], [corpus, dataset_note],
                       api_name="load_dataset")
    corpus.change(corpus_summary, corpus, stats, api_name=False, show_progress="hidden", trigger_mode="always_last")
    return corpus


def live_view() -> dict:
    """What a training shows as it goes: the status line, the loss plot, the metrics, the samples."""
    status = gr.Markdown("Press **Start training**.", elem_id="train-status")
    with gr.Row():
        plot = gr.Image(label="Loss", type="filepath", scale=3, interactive=False, elem_id="loss-plot")
        with gr.Column(scale=1, min_width=380):
            metrics = gr.Markdown()
    # the sentence column wraps; truth and guess keep their share of the width (verses of 60 words)
    samples = gr.Dataframe(headers=["step", "held-out sentence", "truth", "model's guess", ""],
                           label="Masked held-out examples", wrap=True, interactive=False,
                           column_widths=["7%", "51%", "17%", "17%", "8%"], elem_id="samples")
    probe_table = gr.Dataframe(headers=["probe", "model's answer"], label="Your probes", interactive=False)
    download = gr.File(label="Download the checkpoint (zip)", visible=False)
    return dict(status=status, plot=plot, metrics=metrics, samples=samples, probes=probe_table, download=download)


def runs_accordion(plot: gr.Image) -> tuple[gr.Checkbox, list]:
    """This session's runs side by side, and the earlier ones drawn behind the loss curves."""
    with gr.Accordion("Your runs: change one setting, train again, compare", open=True):
        with gr.Row():
            overlay = gr.Checkbox(True, label="Draw earlier runs behind the loss curves (muted)", elem_id="overlay")
            refresh_runs = gr.Button("Refresh", size="sm")
            forget_runs = gr.Button("Clear runs", size="sm")
        runs_view = gr.Dataframe(label="Runs of this session: the settings that differ, then the final held-out "
                                       "metrics", interactive=False, wrap=True, elem_id="runs")
        runs_csv = gr.File(label="Download the runs (CSV)", visible=False, elem_id="runs-csv")
    refresh_runs.click(runs_outputs, None, [runs_view, runs_csv], api_name="runs", queue=False)
    forget_runs.click(clear_runs, None, [runs_view, runs_csv], api_name="clear_runs", queue=False)
    overlay.change(redraw_runs_plot, overlay, plot, api_name=False, show_progress="hidden")
    return overlay, [runs_view, runs_csv]


def train_tab():
    """Train: the corpus, the settings, Start and Stop, the live view and the runs. Returns the
    training event (a new model comes after it)."""
    with gr.Row():
        with gr.Column(scale=3):
            corpus = corpus_column()
        with gr.Column(scale=2):
            start_from = gr.Radio([("from scratch", "scratch"),
                                   ("continue from the current model (trained or pulled last)", "continue")],
                                  value="scratch", label="Start")
            tokenizer_from = Radio([("train a WordPiece on my corpus", "corpus"), ("from a Hub repo", "hub")],
                                   value="corpus", label="Tokenizer", elem_id="tokenizer-from")
            tokenizer_repo = gr.Textbox("", label="Tokenizer repository (its tokenizer files only; new weights)",
                                        placeholder="google-bert/bert-base-uncased", visible=False,
                                        elem_id="tokenizer-repo")
            controls = setting_controls()
            probes = gr.Textbox("", lines=3, label="Probe sentences (optional), refreshed at every evaluation",
                                placeholder="the capital of france is [MASK].\nthe cow says moo. ||| the cow eats grass.")
            settings_check = gr.Markdown(check_settings(LIMITS))
            gr.Markdown(LIMITS.describe(), elem_classes="small")
            with gr.Row():
                start = gr.Button("Start training", variant="primary")
                stop = gr.Button("Stop", variant="stop")
    view = live_view()
    overlay, runs = runs_accordion(view["plot"])
    # /train's parameters by name (gradio_client can call it by keyword); each has a default
    inputs = dict(corpus=corpus, **controls, start_from=start_from, probes=probes, tokenizer_from=tokenizer_from,
                  tokenizer_repo=tokenizer_repo, overlay=overlay)
    # the first step tells a mistake at once, not after a wait in the queue; the page scrolls to the live view
    checked = start.click(check_before_queueing, inputs_kwargs=inputs, outputs=view["status"], api_name=False,
                          show_progress="hidden", concurrency_limit=None, trigger_mode="multiple", js=SCROLL_TO_STATUS)
    training = checked.success(train_model, inputs_kwargs=inputs, outputs=[*view.values(), *runs], api_name="train",
                               concurrency_limit=LIMITS.concurrent_trainings, concurrency_id="train",
                               show_progress_on=view["plot"])  # the queue place shows on the plot, not on the tables
    stop.click(stop_training, None, view["status"], api_name="stop", queue=False)
    tokenizer_from.change(tokenizer_controls, tokenizer_from, [tokenizer_repo, controls["vocab_size"]], api_name=False,
                          queue=False, show_progress="hidden")
    gr.on([c.change for c in controls.values()], settings_ui, inputs_kwargs=controls, outputs=settings_check,
          api_name=False, show_progress="hidden", queue=False)
    return training


def model_dropdown(value: str = "default", label: str = "Model") -> gr.Dropdown:
    return Dropdown(MODEL_CHOICES, value=value, label=label)


def fill_mask_tab() -> tuple[gr.Dropdown, gr.Dataset]:
    with gr.Row():
        which = model_dropdown()
        compare = gr.Checkbox(False, label="Compare with a second model")
        which_b = model_dropdown(label="Second model")
    text = gr.Textbox("the capital of france is [MASK].", label="Sentence with one or more [MASK]")
    with gr.Row():
        add_mask = gr.Button("Insert [MASK]")
        top_k = Slider(1, 20, value=5, step=1, label="Top k")
        guess = gr.Button("Fill the mask", variant="primary")
    label = gr.Label(label="First [MASK]", num_top_classes=20, elem_id="fill-label")
    table = gr.Dataframe(headers=["model", "mask", "top guesses"], label="Every mask", interactive=False,
                         elem_id="fill-table")
    raw = gr.JSON(label="JSON", visible=False)
    examples = gr.Examples(DEFAULT_FILL_EXAMPLES, [text], label="Examples (from the model's own held-out text)",
                           elem_id="fill-examples")
    which.change(fill_mask_examples, which, examples.dataset, api_name=False)
    add_mask.click(insert_mask, text, text, api_name=False)
    # predictions take milliseconds: answered at once, not through the queue (~150 ms of round trips)
    for event, name in ((guess.click, "fill_mask"), (text.submit, False)):
        event(fill_mask_ui, [text, top_k, which, compare, which_b], [label, table, raw], api_name=name, queue=False)
    return which, examples.dataset


def next_sentence_tab() -> tuple[gr.Dropdown, gr.Dataset]:
    which = model_dropdown()
    a = gr.Textbox("the capital of peru is lima.", label="Sentence A")
    b = gr.Textbox("lima is the largest city in peru.", label="Sentence B")
    with gr.Row():
        swap = gr.Button("Random sentence B")
        judge = gr.Button("Does B follow A?", variant="primary")
    verdict = gr.Label(label="Next-sentence prediction", elem_id="nsp-verdict")
    examples = gr.Examples(DEFAULT_NSP_EXAMPLES, [a, b], label="Examples (from the model's own held-out text)",
                           elem_id="nsp-examples")
    which.change(next_sentence_examples, which, examples.dataset, api_name=False)
    swap.click(random_sentence, which, b, api_name=False)
    judge.click(next_sentence_ui, [a, b, which], verdict, api_name="next_sentence", queue=False)
    minimal_pair_panel(which)
    return which, examples.dataset


def minimal_pair_panel(which: gr.Dropdown) -> None:
    """Which of two sentences does the model find more natural? (pseudo-log-likelihood)"""
    gr.Markdown("### Which is more natural?\nTwo sentences that differ in one point, one of them ungrammatical (a "
                "*minimal pair*, as in the BLiMP benchmark). The model judges each by its **pseudo-log-likelihood**: "
                "mask each piece in turn and add up the log-probabilities of the true pieces. A model that knows the "
                "grammar point gives the grammatical sentence the higher score; chance is 50%.")
    first = first_of_each(example_pairs(), 1)
    with gr.Row():
        a = gr.Textbox(first[0].good, label="Minimal pair: A", elem_id="pair-a")
        b = gr.Textbox(first[0].bad, label="Minimal pair: B", elem_id="pair-b")
    with gr.Row():
        draw = gr.Button("Another pair")
        metric = gr.Radio(list(PLL_METRICS), value="original", label="PLL",
                          info="within_word_l2r also masks the rest of a word split into pieces (fairer to rare words)")
        judge = gr.Button("Which is more natural?", variant="primary")
    note = gr.Markdown(elem_id="pair-note")
    verdict = gr.Markdown(elem_id="pair-verdict")
    plot = gr.Plot(label="Each piece's log-probability", show_label=False, elem_id="pair-plot")
    raw = gr.JSON(label="JSON", visible=False)
    gr.Examples([[p.good, p.bad] for p in first], [a, b], label="Examples: one pair of each of 12 phenomena "
                "(examples/minimal_pairs.jsonl; the grammatical sentence is A)", elem_id="pair-examples")
    draw.click(another_pair, None, [a, b, note], api_name=False, queue=False)
    judge.click(minimal_pair_ui, [a, b, which, metric], [verdict, plot, raw], api_name="minimal_pair", queue=False)


def model_tab(demo: gr.Blocks) -> gr.Dropdown:
    """Model: the architecture, masking worked through, attention, the tokenizer and the embeddings."""
    which = model_dropdown()
    with gr.Row():
        diagram = gr.Plot(label="Architecture", elem_id="architecture")
        counts = gr.Dataframe(headers=["part", "parameters"], label="Parameters", interactive=False)
    gr.Markdown(EXPLAIN)
    walkthrough = gr.Markdown()
    gr.Markdown("### Attention: where each token looks")
    att_text = gr.Textbox("the capital of france is [MASK].", label="Sentence")
    with gr.Row():
        layer = Slider(1, 2, value=2, step=1, label="Layer")
        head = Slider(1, 2, value=1, step=1, label="Head")
        show = gr.Button("Show attention", variant="primary")
    heatmap = gr.Plot(label="Attention", elem_id="attention")
    show.click(attention_ui, [att_text, layer, head, which], heatmap, api_name="attention")
    for refresh in (which.change, demo.load):
        refresh(describe_model, which, [diagram, counts, walkthrough, layer, head], api_name=False)
    tokenizer_view(demo, which)
    embeddings_view(which)
    return which


def tokenizer_view(demo: gr.Blocks, which: gr.Dropdown) -> None:
    gr.Markdown("### Tokenizer: how text becomes pieces\nA word the vocabulary lacks is split into pieces; "
                "`##` marks a piece that continues the word before it.")
    with gr.Row():
        text = gr.Textbox("the capital of france is paris. volcanoes erupt under the glaciers.", label="Text", scale=4)
        button = gr.Button("Tokenize", variant="primary", scale=1)
    pieces = gr.HighlightedText(label="Pieces", combine_adjacent=False, show_legend=True, elem_id="pieces",
                                color_map={"word": "#bfdbfe", "continuation": "#fde68a", "special": "#e5e7eb"})
    summary = gr.Markdown(elem_id="vocab-summary")
    with gr.Row():
        rows = gr.Dataframe(headers=PIECE_COLUMNS, label="Pieces and ids", interactive=False, max_height=320)
        top = gr.Dataframe(headers=TOP_COLUMNS, label="Most frequent pieces", interactive=False, max_height=320,
                           elem_id="top-pieces")
    outputs = [pieces, rows, summary, top]
    button.click(tokenize_ui, [text, which], outputs, api_name="tokenize", queue=False)
    for refresh in (text.submit, which.change, demo.load):  # the current model's pieces, from the start (~6 ms)
        refresh(tokenize_ui, [text, which], outputs, api_name=False, queue=False)


def embeddings_view(which: gr.Dropdown) -> None:
    gr.Markdown("### Embeddings: which words the model puts together\nEach piece is a vector; words used alike end up "
                "close. Train longer (or continue from the current model) and watch related words cluster.")
    with gr.Row():
        word = gr.Textbox("france", label="Word (its nearest neighbours are marked)", scale=2)
        n = Slider(10, MAX_DRAWN_WORDS, value=100, step=10, label="Words drawn (the most frequent)", scale=2)
        button = gr.Button("Show embeddings", variant="primary", scale=1)
    with gr.Row():
        plot = gr.Plot(label="Word embeddings (PCA)", show_label=False, elem_id="embeddings", scale=3)
        with gr.Column(scale=1, min_width=260):
            rows = gr.Dataframe(headers=NEIGHBOUR_COLUMNS, label="Nearest neighbours", interactive=False,
                                elem_id="neighbours")
            note = gr.Markdown(elem_classes="small")
    button.click(embeddings_ui, [word, n, which], [plot, note, rows], api_name="embeddings")
    # the embedding view takes ~0.6 s on the prediction thread: drawn when asked, or for another model
    for refresh in (word.submit, which.change):
        refresh(embeddings_ui, [word, n, which], [plot, note, rows], api_name=False)


def hub_tab(demo: gr.Blocks):
    """Hub: push a model, pull one. Returns the push dropdown and the pull event (a new model comes after it)."""
    gr.Markdown("Share a checkpoint on the Hugging Face Hub, or pull one (yours, or a published BERT such as "
                "`google/bert_uncased_L-2_H-128_A-2`) to play with and to continue pretraining.")
    if OAUTH:
        gr.LoginButton()
    else:
        gr.Markdown(("Paste an access token below." if ON_SPACE else
                     "Paste a token below, or leave it empty to use this machine's `HF_TOKEN` or saved "
                     "`hf auth login`.") + " (On a Space with sign-in enabled, a *Sign in with Hugging Face* "
                    "button appears here instead.)", elem_classes="small")
    with gr.Row():
        with gr.Column():
            gr.Markdown("### Push")
            push_which = model_dropdown("trained", label="Checkpoint")
            repo = gr.Textbox(label="Repository", placeholder="your-name/babybert-my-corpus")
            private = gr.Checkbox(False, label="Private")
            token = gr.Textbox(label="Access token with write access (not needed when signed in)", type="password")
            push_button = gr.Button("Push", variant="primary")
            push_result = gr.Markdown(elem_id="push-result")
        with gr.Column():
            gr.Markdown("### Pull")
            pull_repo = gr.Textbox(label="Repository", placeholder="google/bert_uncased_L-2_H-128_A-2")
            revision = gr.Textbox(label="Revision (optional): branch, tag or commit id")
            pull_token = gr.Textbox(label="Access token (only for private repositories)", type="password")
            pull_button = gr.Button("Pull", variant="primary")
            pull_result = gr.Markdown(elem_id="pull-result")
    push_button.click(push_handler, [push_which, repo, private, token], push_result, api_name="push")
    pulling = pull_button.click(pull_handler, [pull_repo, revision, pull_token], pull_result, api_name="pull")
    if OAUTH:
        demo.load(token_fields, None, [token, pull_token], api_name=False)
    return push_which, pulling


def build_demo() -> gr.Blocks:
    # every live plot is a new file in Gradio's cache: delete those older than an hour, every 10 minutes
    with gr.Blocks(title="BabyBERT", delete_cache=(600, 3600)) as demo:
        gr.Markdown("# BabyBERT\nPretrain a tiny BERT from scratch on your own text, watch it learn, then play with it.")
        with gr.Tab("Train"):
            training = train_tab()
        with gr.Tab("Fill-mask"):
            fill_which, fill_examples = fill_mask_tab()
        with gr.Tab("Next sentence"):
            nsp_which, nsp_examples_ui = next_sentence_tab()
        with gr.Tab("Model"):
            model_which = model_tab(demo)
        with gr.Tab("Hub"):
            push_which, pulling = hub_tab(demo)
        # a model trained or pulled becomes the current one in every tab, with its own examples
        for after, which in ((training.then, "trained"), (pulling.success, "pulled")):
            after(use_new_model(which), None, [fill_which, nsp_which, model_which, push_which], api_name=False) \
                .then(fill_mask_examples, fill_which, fill_examples, api_name=False) \
                .then(next_sentence_examples, nsp_which, nsp_examples_ui, api_name=False)
        demo.unload(forget_session)
    demo.queue(default_concurrency_limit=4)
    return demo


demo = build_demo()


# run_history off: Gradio would keep every call, inputs (whole corpora) and outputs, in the
# browser's localStorage, and re-read and re-write all of it at each streamed update: the tab's
# CPU grew with every training (4 s, 7 s, 10 s of CPU in three 15 s runs; training lost half its speed)
# allowed_paths: the live plots and zips are written in the sessions' folders, which Gradio serves only
# from the working directory or the system's temp folder unless told (BABYBERT_RUNS_DIR may be anywhere)
LAUNCH = dict(theme=gr.themes.Soft(), css=".small {font-size: 0.85em; opacity: 0.8}", run_history=False,
              allowed_paths=[str(LIMITS.runs_dir.resolve())])


def stop_on_sigterm(signum, frame):
    raise KeyboardInterrupt


def shut_down(wait: float = 5.0) -> None:
    """End the trainings, then the web server, and return only once no thread runs its event loop.

    Why the order: Gradio's `close()` waits 5 s at most for the thread running uvicorn's event loop,
    and uvicorn waits for every open response first, such as a `/train` stream while its training
    goes on. A thread left running that loop when the interpreter is torn down crashed the app
    (SIGSEGV, exit 139, right after "Closing server"): its next 0.1 s timer called
    `PyGILState_Ensure()`, which found no interpreter any more. So: trainings first (their streams
    end with their message), then the server, forced to stop if a response still holds it, and its
    thread joined."""
    WORKERS.close()  # trainings end at once, and none starts
    pending = getattr(getattr(demo, "_queue", None), "pending_event_ids_session", {})  # Gradio's, by session
    deadline = time.monotonic() + wait
    while any(list(pending.values())) and time.monotonic() < deadline:  # their last messages go out
        time.sleep(0.05)
    demo.close()
    server = getattr(demo, "server", None)
    thread = getattr(server, "thread", None)
    if thread is not None and thread.is_alive():
        server.force_exit = True  # stop waiting for the responses still open
        thread.join(timeout=wait)
    TORCH.shutdown(wait=True, cancel_futures=True)
    if thread is not None and thread.is_alive():  # never seen; tearing the interpreter down now could crash
        import sys
        log.error("the web server did not stop; exiting without the interpreter's clean-up")
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def main() -> None:
    """Serve until SIGTERM or Ctrl-C, then shut down cleanly: exit status 0 either way."""
    parser = argparse.ArgumentParser(description="Start the BabyBERT app.")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--share", action="store_true", help="also serve on a public *.gradio.live link")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, prevent_thread_lock=True, **LAUNCH)
    WORKERS.start()  # warm up the training process now, not at the first Start
    signal.signal(signal.SIGTERM, stop_on_sigterm)  # as Ctrl-C: end the worker processes, then exit
    # what exists now lives as long as the server: keep the collector off it, or a full collection
    # (~250 ms measured) every so often stalls the live plot and everyone's predictions
    gc.freeze()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        for stop in (signal.SIGTERM, signal.SIGINT):  # a second signal must not cut the clean-up short
            signal.signal(stop, signal.SIG_IGN)
        shut_down()


if __name__ == "__main__":
    main()

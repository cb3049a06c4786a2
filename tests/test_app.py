"""The Gradio app, launched on 127.0.0.1 and driven through gradio_client, as a user's script would."""

import json
import time
import zipfile
from types import SimpleNamespace

import httpx
import pytest
from gradio_client import Client
from gradio_client.utils import Status

from babybert import Done, Start

from .conftest import READ, TINY_MODEL, WRITE, animal_corpus, running_app, tiny_train_config
from .test_hub_dataset import parquet
from .test_published_tokenizer import old_layout_bert

TINY = dict(vocab_size=256, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, max_position_embeddings=32,
            batch_size=16, epochs=200, lr=3e-3, mask_prob=0.15, seed=0)


@pytest.fixture(scope="module")
def app_hub(module_hub):
    return module_hub


@pytest.fixture(scope="module")
def server(tmp_path_factory, app_hub):
    # the app's Hub tab talks to the stand-in
    with running_app(BABYBERT_RUNS_DIR=str(tmp_path_factory.mktemp("runs")), HF_ENDPOINT=app_hub.endpoint) as (_, url):
        yield url


def train_args(budget: float, **overrides):
    values = {**TINY, **overrides}
    return dict(corpus=animal_corpus(), tasks=["MLM", "NSP"], time_budget=budget, start_from="scratch",
                probes="every morning the cow says [MASK].\nthe cow lives in the farm. ||| every morning the cow says moo.",
                **values)


def test_train_streams_then_the_model_is_used_by_the_other_tabs(server):
    client = Client(server, verbose=False)
    job = client.submit(**train_args(8), api_name="/train")
    updates = list(job)  # every streamed update
    assert len(updates) >= 4  # at least one plot a second over an 8 s run
    status, plot, metrics, samples, probes, download, runs, runs_csv = updates[-1]
    assert "finished after" in status and "time budget used" in status
    assert "Final held-out metrics" in metrics and "MLM accuracy" in metrics
    assert samples["data"] and probes["data"][0][0] == "every morning the cow says [MASK]."
    assert download["value"].endswith("babybert-session.zip") and download["visible"]
    status, _, metrics, _, _, download, *_ = updates[-2]  # the final metrics come first, before the zip is made
    assert "finished after" in status and "Final held-out metrics" in metrics and not download["visible"]
    label, table, raw = client.predict("every morning the cow says [MASK].", 3, "trained", False, "default",
                                       api_name="/fill_mask")
    assert list(raw) == ["trained"] and len(raw["trained"][0]) == 3
    assert label["label"] == raw["trained"][0][0]["token"]
    verdict = client.predict("the cow lives in the farm.", "every morning the cow says moo.", "trained",
                             api_name="/next_sentence")
    probs = {c["label"]: c["confidence"] for c in verdict["confidences"]}
    assert abs(sum(probs.values()) - 1) < 1e-5
    words, plot, raw = client.predict("every morning the cow says moo.", "morning every cow the moo says.", "trained",
                                      "original", api_name="/minimal_pair")
    assert raw["preferred"] == "A" and "**A is more natural**" in words and plot
    assert raw["a"]["pll"] == pytest.approx(sum(raw["a"]["logprobs"])) and raw["a"]["pll"] > raw["b"]["pll"]
    assert raw["a"]["tokens"] == ["every", "morning", "the", "cow", "says", "moo", "."]


def test_train_is_called_by_name_with_only_what_a_client_wants_to_set(server):
    """/train's parameters are the settings' names, each with a default: a script sends the corpus
    and a time budget, in any order, and the rest is what the app's controls start at."""
    client = Client(server, verbose=False)
    parameters = client.view_api(return_format="dict", print_info=False)["named_endpoints"]["/train"]["parameters"]
    names = [p["parameter_name"] for p in parameters]
    assert all(p["parameter_has_default"] for p in parameters), [p["parameter_name"] for p in parameters]
    assert {"corpus", "time_budget", "num_hidden_layers", "max_position_embeddings", "lr", "probes"} <= set(names)
    *_, (status, _, metrics, *_) = client.submit(time_budget=3, corpus=animal_corpus(24), api_name="/train")
    assert "finished after" in status and "time budget used" in status and "Final held-out metrics" in metrics
    with pytest.raises(TypeError, match="num_layers"):  # an old or misspelt name is refused by the client
        client.predict(corpus=animal_corpus(24), num_layers=3, api_name="/train")


def test_browsers_are_told_not_to_keep_a_run_history(server):
    """Gradio would store every call, whole corpora included, in the browser's localStorage and
    rewrite it at each streamed update: the page's CPU grew with every training."""
    config = httpx.get(server + "config").json()
    assert config["run_history"] is False


def test_stop_ends_training_promptly_and_keeps_the_model(server):
    client = Client(server, verbose=False)
    job = client.submit(**train_args(120), api_name="/train")
    while len(job.outputs()) < 2:  # wait for training to be under way
        time.sleep(0.2)
    assert "Stopping" in client.predict(api_name="/stop")
    status = job.result()[0]
    assert "(stopped)" in status  # ended by the stop request, long before its 120 s budget
    _, _, raw = client.predict("the [MASK] says moo.", 2, "trained", False, "default", api_name="/fill_mask")
    assert len(raw["trained"][0]) == 2


def test_sessions_have_their_own_models(server):
    trained = Client(server, verbose=False)
    assert "finished after" in trained.predict(**train_args(3), api_name="/train")[0]
    _, _, raw = trained.predict("the [MASK] says moo.", 2, "trained", False, "default", api_name="/fill_mask")
    assert len(raw["trained"][0]) == 2
    other = Client(server, verbose=False)
    with pytest.raises(Exception, match="not trained a model yet"):
        other.predict("the [MASK] says moo.", 2, "trained", False, "default", api_name="/fill_mask")
    _, _, raw = other.predict("the capital of france is [MASK].", 1, "default", False, "default", api_name="/fill_mask")
    assert raw["default"][0][0]["token"] == "paris"


def test_a_stop_affects_only_its_own_run(server):
    trainer, bystander = Client(server, verbose=False), Client(server, verbose=False)
    job = trainer.submit(**train_args(4), api_name="/train")
    while not job.outputs():
        time.sleep(0.05)
    assert bystander.predict(api_name="/stop") == "Nothing is training in this session."
    status = job.result()[0]
    assert "finished after" in status and "time budget used" in status  # not "stopped"


@pytest.mark.parametrize("overrides, message", [
    (dict(corpus=""), "corpus is empty"),
    (dict(hidden_size=48, num_attention_heads=5), "divisible"),
    (dict(tasks=[]), "at least one task"),
    (dict(probes="a probe without mask"), "no \\[MASK\\]"),
])
def test_bad_training_input_is_a_clear_error(server, overrides, message):
    client = Client(server, verbose=False)
    args = train_args(3)
    args.update(overrides)
    with pytest.raises(Exception, match=message):
        client.predict(**args, api_name="/train")


def test_playground_errors_are_messages(server, capfd):
    client = Client(server, verbose=False)
    with pytest.raises(Exception, match="no \\[MASK\\]"):
        client.predict("no mask here", 3, "default", False, "default", api_name="/fill_mask")
    with pytest.raises(Exception, match="both sentences"):
        client.predict("", "b", "default", api_name="/next_sentence")
    with pytest.raises(Exception, match="two sentences are needed"):
        client.predict("the cow says moo.", " ", "default", "original", api_name="/minimal_pair")
    # the server is still fine afterwards
    _, _, raw = client.predict("the cow says [MASK].", 1, "default", False, "default", api_name="/fill_mask")
    assert raw["default"][0][0]["token"] == "moo"
    assert "Traceback" not in capfd.readouterr().err  # a user's mistake is not the server's problem: no console spam


def test_attention_heatmap_and_its_errors(server):
    client = Client(server, verbose=False)
    plot = client.predict("the capital of france is [MASK].", 2, 1, "default", api_name="/attention")
    assert plot["type"] == "matplotlib" and plot["plot"]  # a rendered heatmap
    with pytest.raises(Exception, match="empty"):
        client.predict("  ", 1, 1, "default", api_name="/attention")


def test_trainings_beyond_the_limit_wait_in_a_queue_and_see_their_place(server):
    """One training at a time (BABYBERT_CONCURRENT_TRAININGS=1): the second user is told their place."""
    first, second = Client(server, verbose=False), Client(server, verbose=False)
    running = first.submit(**train_args(5), api_name="/train")
    while not running.outputs():
        time.sleep(0.1)
    waiting = second.submit(**train_args(2), api_name="/train")
    places = []
    while not waiting.done():
        update = waiting.status()
        if update.code == Status.IN_QUEUE:
            places.append((update.rank, update.queue_size))
        time.sleep(0.1)
    assert places and places[0][0] == 0  # first in line, behind the running training
    assert "finished after" in running.result()[0] and "finished after" in waiting.result()[0]


def test_push_and_pull_from_the_hub_tab(server, app_hub):
    trainer = Client(server, verbose=False)
    with pytest.raises(Exception, match="not trained a model yet"):
        trainer.predict("trained", "alice/from-app", False, WRITE, api_name="/push")
    assert "finished after" in trainer.predict(**train_args(3), api_name="/train")[0]
    with pytest.raises(Exception, match="needs a Hugging Face token"):  # no token typed, none on this machine
        trainer.predict("trained", "alice/from-app", False, "", api_name="/push")
    with pytest.raises(Exception, match="may not write to alice/from-app \\(403\\)") as error:
        trainer.predict("trained", "alice/from-app", False, READ, api_name="/push")
    assert READ not in str(error.value)
    result = trainer.predict("trained", "alice/from-app", False, WRITE, api_name="/push")
    assert f"{app_hub.endpoint}/alice/from-app" in result and "model.safetensors" in app_hub.files("alice/from-app")

    puller = Client(server, verbose=False)  # another user pulls it
    summary = puller.predict("alice/from-app", "", "", api_name="/pull")
    assert "Pulled `alice/from-app`" in summary and "From its model card:" in summary
    theirs = trainer.predict("the cow says [MASK].", 3, "trained", False, "default", api_name="/fill_mask")[2]
    mine = puller.predict("the cow says [MASK].", 3, "pulled", False, "default", api_name="/fill_mask")[2]
    assert mine["pulled"] == theirs["trained"]  # the same model, through the Hub
    with pytest.raises(Exception, match="repository alice/missing not found"):
        puller.predict("alice/missing", "", "", api_name="/pull")
    again = puller.predict("the cow says [MASK].", 3, "pulled", False, "default", api_name="/fill_mask")[2]
    assert again == mine  # a failed pull keeps the pulled model


def test_a_tokenizer_from_a_hub_repo_trains_a_new_model_with_its_vocabulary(server, app_hub, tmp_path):
    """Train tab, "Tokenizer: from a Hub repo": only its tokenizer files are downloaded, the vocabulary
    size is its own, the checkpoint (the zip a user downloads) holds it and says where it came from."""
    folder, vocab = old_layout_bert(tmp_path / "bert-old")
    app_hub.add_repo("google/bert-old-app", {"vocab.txt": (folder / "vocab.txt").read_bytes(),
                                             "config.json": (folder / "config.json").read_bytes()})
    client = Client(server, verbose=False)
    job = client.submit(**train_args(3, vocab_size=4096), tokenizer_from="hub", tokenizer_repo="google/bert-old-app",
                        api_name="/train")
    statuses = [update[0] for update in job]
    assert any(s.startswith("downloading the tokenizer of google/bert-old-app") for s in statuses)
    assert any(f"vocabulary {len(vocab)}," in s for s in statuses)  # not the slider's 4,096
    assert "finished after" in statuses[-1]
    with zipfile.ZipFile(job.outputs()[-1][5]["value"]) as z:
        info = json.loads(z.read("babybert-session/babybert.json"))
        assert z.read("babybert-session/vocab.txt").decode().split() == vocab
    assert info["tokenizer"] == "google/bert-old-app" and info["model_config"]["vocab_size"] == len(vocab)
    guesses = client.predict("every morning the cow says [MASK].", 3, "trained", False, "default", api_name="/fill_mask")[2]
    assert {g["token"] for g in guesses["trained"][0]} <= set(vocab)


@pytest.mark.parametrize("choice, message", [
    (dict(tokenizer_repo=""), "no tokenizer repository given"),
    (dict(tokenizer_repo="../../etc"), "invalid tokenizer repository id"),
    (dict(tokenizer_repo="checkpoints/babybert-default"), "checkpoints/babybert-default not found"),  # never a folder here
    (dict(tokenizer_repo="google/bert-old-app", start_from="continue"), "keeps its own tokenizer"),
])
def test_bad_tokenizer_choices_are_clear_errors(server, choice, message):
    client = Client(server, verbose=False)
    args = {**train_args(3), "tokenizer_from": "hub", **choice}
    with pytest.raises(Exception, match=message):
        client.predict(**args, api_name="/train")


def test_a_hub_dataset_loads_into_the_corpus_box_and_the_run_records_it(server, app_hub, tmp_path):
    """Train tab, "…or load a Hub dataset": a row is a document (document i holds row i's text), the
    first N rows only, the same limits as an upload, and the checkpoint says where the text came from."""
    texts = [f"The {animal} lives on the farm. Every morning the {animal} says {sound}! It sleeps at night."
             for animal, sound in [("cow", "moo"), ("dog", "woof"), ("cat", "meow"), ("duck", "quack")] * 6]
    app_hub.add_repo("alice/farm-rows", {"data/train-00000-of-00001.parquet": parquet({"text": texts})},
                     repo_type="dataset")
    client = Client(server, verbose=False)
    corpus, note = client.predict("alice/farm-rows", "train", "text", 20, api_name="/load_dataset")
    documents = [d.splitlines() for d in corpus.strip().split("\n\n")]
    assert [" ".join(d) for d in documents] == texts[:20]
    assert documents[0] == ["The cow lives on the farm.", "Every morning the cow says moo!", "It sleeps at night."]
    assert "the first 20 rows of alice/farm-rows" in note and "BabyBERT's splitter" in note
    download = client.predict(**dict(train_args(3), corpus=corpus), api_name="/train")[5]
    with zipfile.ZipFile(download["value"]) as z:
        corpus_info = json.loads(z.read("babybert-session/babybert.json"))["corpus"]
    assert corpus_info["name"] == "alice/farm-rows" and corpus_info["source"].startswith("the first 20 rows")
    for spec, message in [("../../etc/passwd", "invalid dataset"), ("examples/world_facts.txt", "examples/world_facts.txt not found on http"),
                          ("alice/missing", "not found .*this app reads public datasets only"), ("", "no dataset given")]:
        with pytest.raises(Exception, match=message):  # never a file of the server's
            client.predict(spec, "train", "text", 20, api_name="/load_dataset")
    with pytest.raises(Exception, match="no column 'story'.*pick one in the Text column field"):  # the app's words
        client.predict("alice/farm-rows", "train", "story", 20, api_name="/load_dataset")


def test_model_tab_tokenizer_view_shows_pieces_ids_and_continuations(server):
    """/tokenize: the pieces and ids are the tokenizer's own (transformers, loaded here from the
    same checkpoint), `##` continuations are marked, and the summary says where its counts come from."""
    from transformers import AutoTokenizer

    from babybert.paths import DEFAULT_CHECKPOINT
    client = Client(server, verbose=False)
    text = "volcanoes erupt under the glaciers of iceland."
    pieces, rows, summary, top = client.predict(text, "default", api_name="/tokenize")
    reference = AutoTokenizer.from_pretrained(DEFAULT_CHECKPOINT)
    ids = reference(text)["input_ids"]
    assert [[r[0], r[1]] for r in rows["data"]] == [[t, i] for t, i in zip(reference.convert_ids_to_tokens(ids), ids)]
    kinds = {p["token"]: p["class_or_confidence"] for p in pieces}
    assert kinds["[CLS]"] == "special" and all(kinds[t] == "continuation" for t in kinds if t.startswith("##"))
    assert any(t.startswith("##") for t in kinds)  # this sentence has words the world-facts vocabulary splits
    assert f"**Vocabulary:** {len(reference):,} pieces" in summary and "split into several pieces" in summary
    with pytest.raises(Exception, match="up to 10,000 characters"):
        client.predict("word " * 3000, "default", api_name="/tokenize")
    with pytest.raises(Exception, match="not trained a model yet"):
        client.predict(text, "trained", api_name="/tokenize")


def test_model_tab_embedding_view_marks_a_words_nearest_neighbours(server):
    """/embeddings: the neighbours are the top cosine similarities of the word's embedding, computed
    here with plain torch from the weights transformers loads."""
    import torch
    from transformers import AutoTokenizer, BertForPreTraining

    from babybert.paths import DEFAULT_CHECKPOINT
    client = Client(server, verbose=False)
    figure, note, rows = client.predict("france", 50, "default", api_name="/embeddings")
    assert figure and "50 most frequent words" in note
    tokenizer = AutoTokenizer.from_pretrained(DEFAULT_CHECKPOINT)
    weights = BertForPreTraining.from_pretrained(DEFAULT_CHECKPOINT).bert.embeddings.word_embeddings.weight.detach()
    unit = torch.nn.functional.normalize(weights, dim=1)
    similarity = unit @ unit[tokenizer.convert_tokens_to_ids("france")]
    ours = [(r[1], r[2]) for r in rows["data"]]
    assert len(ours) == 10 and "france" not in [p for p, _ in ours]
    for piece, score in ours:
        assert score == pytest.approx(similarity[tokenizer.convert_tokens_to_ids(piece)].item(), abs=1e-3)
    assert [s for _, s in ours] == sorted((s for _, s in ours), reverse=True)
    with pytest.raises(Exception, match="words drawn must be"):
        client.predict("france", 5000, "default", api_name="/embeddings")


def test_hub_token_order_and_never_the_space_owners_token(monkeypatch):
    """Signed-in user first, then the typed token, then (only when local) this machine's login."""
    import gradio as gr

    import app
    signed_in = SimpleNamespace(token="hf_from_oauth")
    assert app.hub_token(signed_in, "hf_typed", write=True) == "hf_from_oauth"
    assert app.hub_token(None, "  hf_typed ", write=True) == "hf_typed"
    monkeypatch.setattr(app, "ON_SPACE", False)
    assert app.hub_token(None, "", write=True) is None  # huggingface_hub then uses HF_TOKEN / the saved login
    monkeypatch.setattr(app, "ON_SPACE", True)
    with pytest.raises(gr.Error, match="Sign in with Hugging Face"):
        app.hub_token(None, "", write=True)
    assert app.hub_token(None, "", write=False) is False  # anonymous reads, not the Space's own token


def test_on_zero_gpu_training_runs_inside_spaces_gpu(monkeypatch, documents, tmp_path):
    """On a ZeroGPU Space a GPU exists only inside @spaces.GPU; the `spaces` package is faked here."""
    import app
    durations = []

    class FakeSpaces:
        @staticmethod
        def GPU(duration):
            durations.append(duration)
            return lambda fn: fn

    monkeypatch.setattr(app, "spaces", FakeSpaces)
    monkeypatch.setattr(app, "ZERO_GPU", True)
    config = tiny_train_config(max_steps=5, time_budget=30)
    events = [e for batch in app.training_batches(documents, TINY_MODEL, config, out_dir=tmp_path / "z") for e in batch]
    assert durations == [90]  # the time budget plus a minute for evaluating and saving
    assert isinstance(events[0], Start) and events[0].model is None  # as the worker sends them
    assert isinstance(events[-1], Done) and events[-1].model is None and events[-1].step == 5


def test_predictions_run_on_one_core_and_leave_the_other_threads_alone():
    """A team of two OpenMP threads would wait, at every operation, for the core another user's
    training holds (bench --only load); the setting is the prediction thread's own."""
    import torch

    import app
    before = torch.get_num_threads()
    assert app.on_torch(torch.get_num_threads) == 1
    assert torch.get_num_threads() == before


def test_which_is_more_natural_with_the_default_model_and_the_examples(server):
    """The panel's numbers are the library's, for the default model; the examples are well-formed pairs."""
    import app
    from babybert import load_checkpoint
    from babybert.analysis.pll import score_sentences
    from babybert.paths import DEFAULT_CHECKPOINT
    client = Client(server, verbose=False)
    pair = app.example_pairs()[0]
    words, _, raw = client.predict(pair.good, pair.bad, "default", "within_word_l2r", api_name="/minimal_pair")
    ckpt = load_checkpoint(DEFAULT_CHECKPOINT)
    good, bad = score_sentences(ckpt.model, ckpt.tokenizer, [pair.good, pair.bad], "within_word_l2r")
    assert raw["a"]["pll"] == pytest.approx(good.pll, abs=1e-4) and raw["b"]["pll"] == pytest.approx(bad.pll, abs=1e-4)
    assert raw["preferred"] == ("A" if good.pll > bad.pll else "B")
    drawn = {app.another_pair()[2] for _ in range(40)}
    assert any("grammatical sentence is **A**" in n for n in drawn) and any("is **B**" in n for n in drawn)
    a, b, note = app.another_pair()
    grammatical = a if "is **A**" in note else b
    assert any(p.good == grammatical and {p.good, p.bad} == {a, b} for p in app.example_pairs())

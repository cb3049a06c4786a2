"""The app's helpers in babybert/ui.py: statistics, settings, probes, sessions, event -> view."""

import pytest

from babybert import BabyBert, Done, Eval, ModelConfig, Progress, Sample, Start
from babybert.data import CorpusStats
from babybert.predict import Candidate, MaskedExample
from babybert.ui import Limits, Sessions, TrainView, corpus_summary, estimate_parameters, make_configs, parse_probes

SLIDERS = dict(tasks=["MLM", "NSP"], vocab_size=4096, hidden_size=128, num_layers=2, num_heads=2, intermediate_size=512,
               max_seq_len=128, batch_size=32, epochs=30, lr=2e-3, mask_prob=0.15, time_budget=60, seed=0)


def test_corpus_summary_counts_documents_and_sentences():
    text = "a cat.\nit sat.\n\n\nthe dog ran.\n"
    assert corpus_summary(text).startswith("**2** documents · **3** sentences")
    assert corpus_summary("").startswith("**0** documents")


def test_limits_from_environment():
    limits = Limits.from_env({"BABYBERT_MAX_TRAIN_SECONDS": "30", "BABYBERT_RUNS_DIR": "/tmp/x"})
    assert limits.max_train_seconds == 30 and str(limits.runs_dir) == "/tmp/x"
    assert limits.max_corpus_chars == Limits().max_corpus_chars
    with pytest.raises(ValueError, match="BABYBERT_MAX_PARAMETERS must be a whole number"):
        Limits.from_env({"BABYBERT_MAX_PARAMETERS": "lots"})
    with pytest.raises(ValueError, match="must be positive"):
        Limits.from_env({"BABYBERT_CONCURRENT_TRAININGS": "0"})


def test_make_configs_maps_sliders_to_configs():
    model, train = make_configs(Limits(), **SLIDERS)
    assert (model.hidden_size, model.num_hidden_layers, model.max_position_embeddings) == (128, 2, 128)
    assert train.tasks == ("mlm", "nsp") and train.time_budget == 60 and train.lr == 2e-3


@pytest.mark.parametrize("change, message", [
    (dict(hidden_size=48, num_heads=5), "divisible"),
    (dict(tasks=[]), "at least one task"),
    (dict(time_budget=900), "between 1 and 600"),
    (dict(batch_size=2.5), "batch size must be a whole number"),
    (dict(hidden_size=512, num_layers=8, intermediate_size=2048, vocab_size=8192), "this server trains up to"),
])
def test_make_configs_explains_bad_settings(change, message):
    with pytest.raises(ValueError, match=message):
        make_configs(Limits(max_parameters=20_000_000), **{**SLIDERS, **change})


def test_parameter_estimate_is_exact():
    config = ModelConfig(vocab_size=500, hidden_size=64, num_hidden_layers=3, num_attention_heads=4,
                         intermediate_size=96, max_position_embeddings=40)
    assert estimate_parameters(config) == BabyBert(config).num_parameters()


def test_probes_parse_masks_and_pairs():
    probes = parse_probes("the cow says [mask].\n\n  a cat. ||| it sat.  \n")
    assert probes == [("the cow says [mask].", None), ("a cat.", "it sat.")]
    with pytest.raises(ValueError, match="no \\[MASK\\] and no"):
        parse_probes("just a sentence")
    with pytest.raises(ValueError, match="sentence A \\|\\|\\| sentence B"):
        parse_probes("a cat. |||")


def test_sessions_are_separate_and_idle_ones_expire():
    sessions = Sessions(ttl=0.0)
    a, b = sessions.get("a"), sessions.get("b")
    assert a is not b and a.stop is not b.stop
    a.stop.set()
    assert not b.stop.is_set()
    assert sessions.get("a") is not a  # expired (ttl 0) and made anew


def test_train_view_maps_events(trained):
    """Feed the events of a real (tiny) run through the view, as the Train tab does."""
    view = TrainView()
    info = trained.info
    start = Start(CorpusStats(**info["corpus"]["train"]), CorpusStats(**info["corpus"]["held_out"]),
                  trained.model.num_parameters(), len(trained.tokenizer), 300, "cpu", trained.model, trained.tokenizer)
    view.update(start)
    assert "training" in view.status and f"{trained.model.num_parameters():,}" in view.status
    for row in info["history"][:10]:
        view.update(Progress(row["step"], row["step"] / 9, row["mlm_loss"], row["nsp_loss"], row["loss"], row["lr"],
                             1000.0, row["step"] * 0.1, row["step"] / 300))
    assert len(view.history) == 10 and "step **10**" in view.status and "s left" in view.status
    assert view.metrics_markdown().startswith("Held-out metrics appear")
    view.update(Eval(10, trained.metrics))
    assert "Held-out metrics at step 10" in view.metrics_markdown() and "MLM accuracy" in view.metrics_markdown()
    view.update(Sample(10, MaskedExample("the cow says [MASK].", ["moo"], [[Candidate("moo", 0.9)]])))
    assert view.samples[0] == ["10", "the cow says [MASK].", "moo", "moo", "1/1 right"]
    view.update(Done(300, trained.metrics, "stopped", 12.0, None, trained.model, trained.tokenizer))
    assert "finished after 300 steps" in view.status and "(stopped)" in view.status
    assert view.metrics_markdown().startswith("**Final held-out metrics**")
    figure = view.figure()
    assert len(figure.axes) == 2  # loss axis + held-out accuracy axis

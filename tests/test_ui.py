"""The app's helpers in babybert/ui.py: statistics, settings, probes, sessions, event -> view."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from babybert import BabyBert, Done, Eval, ModelConfig, Progress, Sample, Start
from babybert.data.corpus import CorpusStats
from babybert.analysis.evaluate import Metrics
from babybert.analysis.plots import LossPlot
from babybert.analysis.predict import Candidate, MaskedExample, parse_probes
from babybert.server.inputs import APP_SETTINGS, APP_VALUES, check_settings, corpus_summary, estimate_parameters, make_configs
from babybert.server.limits import Limits
from babybert.server.sessions import Sessions
from babybert.server.view import TrainView

SLIDERS = {name: APP_VALUES[name] for name in APP_SETTINGS}  # the Train tab's controls, untouched


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


def test_the_app_starts_from_the_library_defaults():
    """One recipe: the app's untouched settings train exactly as train() does by default."""
    from babybert.config import TrainConfig
    model, train = make_configs(Limits(), **SLIDERS)
    defaults = TrainConfig()
    for name in ("tasks", "batch_size", "lr", "mask_prob", "vocab_size", "seed", "warmup", "weight_decay", "epochs"):
        assert getattr(train, name) == getattr(defaults, name), name
    shape = ModelConfig(vocab_size=model.vocab_size)
    assert model == shape  # width, depth, heads, dropout and init range alike


@pytest.mark.parametrize("change, message", [
    (dict(hidden_size=48, num_attention_heads=5), "divisible"),
    (dict(tasks=[]), "at least one task"),
    (dict(time_budget=900), "between 1 and 600"),
    (dict(batch_size=2.5), "batch size must be a whole number"),
    (dict(lr=None), "learning rate must be a number"),
    (dict(mask_prob=0), "mask probability must be positive"),
    (dict(hidden_size=512, num_hidden_layers=8, intermediate_size=2048, vocab_size=8192), "this server trains up to"),
])
def test_make_configs_explains_bad_settings(change, message):
    with pytest.raises(ValueError, match=message):
        make_configs(Limits(max_parameters=20_000_000), **{**SLIDERS, **change})


def test_settings_are_checked_live_before_start():
    assert check_settings(Limits(), **SLIDERS).startswith("Settings OK: about **975,362** parameters")
    line = check_settings(Limits(), **{**SLIDERS, "num_attention_heads": 3})
    assert line.startswith("**These settings will not train:**") and "must be divisible by num_attention_heads (3)" in line
    assert "this server trains up to 100,000" in check_settings(Limits(max_parameters=100_000), **SLIDERS)


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


def test_sessions_are_separate_and_idle_ones_expire(tmp_path):
    sessions = Sessions(tmp_path, ttl=60.0)
    a, b = sessions.get("a"), sessions.get("b")
    assert a is not b and a.stop is not b.stop
    b.stop.set()
    assert not a.stop.is_set()
    sessions.directory("a").mkdir()
    (sessions.directory("a") / "model.safetensors").write_bytes(b"x")
    a.last_used -= 61  # idle for longer than the ttl
    assert sessions.get("a") is not a  # expired and made anew
    assert a.stop.is_set() and not sessions.directory("a").exists()  # its training stopped, its files deleted


def test_session_directories_are_never_the_clients_text(tmp_path):
    sessions = Sessions(tmp_path / "runs")
    for key in ("../../etc", "/tmp/x", "a/../../b", "..", "", "x" * 5000):
        d = sessions.directory(key)
        assert d.parent == tmp_path / "runs" and d.name.isalnum() and len(d.name) == 24
    assert sessions.directory("a") != sessions.directory("b")


def test_a_session_forgotten_while_training_is_deleted_when_the_run_ends(tmp_path):
    sessions = Sessions(tmp_path)
    s = sessions.get("tab")
    s.training = True
    run = sessions.directory("tab") / "babybert-session"
    run.mkdir(parents=True)
    sessions.drop("tab")  # the tab closed: its training is told to stop, its files stay until it ends
    assert s.stop.is_set() and run.exists()
    s.training = False
    sessions.release("tab")
    assert not sessions.directory("tab").exists()
    other = sessions.get("other")
    sessions.directory("other").mkdir()
    sessions.release("other")  # a live session keeps its files
    assert sessions.directory("other").exists() and sessions.get("other") is other


def test_a_sessions_idle_time_starts_when_its_training_ends(tmp_path):
    """A run longer than the ttl must not make its session expire the moment it ends."""
    sessions = Sessions(tmp_path, ttl=60.0)
    s = sessions.get("tab")
    s.training = True
    s.last_used -= 600  # the run started ten minutes ago
    assert sessions.get("other") is not s and sessions.directory("tab") != sessions.directory("other")
    s.training = False
    sessions.release("tab")
    assert sessions.get("tab") is s  # the trained model is still there


def test_train_view_maps_events(trained, tmp_path):
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
    first = Image.open(view.png(tmp_path))
    assert first.size == (640, 336)
    assert view.plot.ax.get_xlim() == (0, 10)  # finished: the x axis fits the run (10 steps here)
    assert view.plot.title.get_text() == "Pretraining loss"  # no longer "(live)"
    assert sorted(view.plot.lines) == ["loss", "loss raw", "mlm_accuracy", "mlm_loss", "mlm_loss raw", "nsp_accuracy",
                                       "nsp_loss", "nsp_loss raw"]


def test_live_plot_redraws_only_the_curves_until_the_axes_must_change(tmp_path):
    """The cheap refresh must give the very picture a full redraw gives."""
    rows = [{"step": i, "loss": 5 / i ** 0.5, "mlm_loss": 4 / i ** 0.5, "nsp_loss": 1.0} for i in range(1, 91)]
    evals = [{"step": 50, "mlm_accuracy": 0.4, "nsp_accuracy": None}]
    plot = LossPlot(dpi=50)
    plot.update([], live=True)
    plot.png(tmp_path / "empty.png")  # before the first step: axes only
    plot.update(rows[:60], evals, live=True)
    plot.png(tmp_path / "a.png")
    layout = plot._layout
    plot.update(rows, evals + [{"step": 80, "mlm_accuracy": 0.6, "nsp_accuracy": None}], live=True)
    plot.png(tmp_path / "cheap.png")  # same curves, x still inside 0..100: only the curves are redrawn
    assert plot._layout == layout and plot.ax.get_xlim() == (0, 100)
    plot._layout = None  # force the full redraw
    plot.png(tmp_path / "full.png")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "cheap.png")), np.asarray(Image.open(tmp_path / "full.png")))
    assert not np.array_equal(np.asarray(Image.open(tmp_path / "a.png")), np.asarray(Image.open(tmp_path / "cheap.png")))
    plot.update(rows + [{"step": 150, "loss": 0.1, "mlm_loss": 0.1, "nsp_loss": 0.1}], live=True)
    assert plot.ax.get_xlim() == (0, 200)  # the x range doubles when the run outgrows it
    plot.update(rows + [{"step": 250, "loss": 0.1, "mlm_loss": 0.1, "nsp_loss": 0.1}], live=True, expected_steps=1500)
    assert plot.ax.get_xlim() == (0, 2000)  # or grows at once to the expected length of the run


def test_view_says_why_nothing_moves_during_an_evaluation():
    view = TrainView()
    view.waiting(eval_every=100)
    assert view.status.startswith("preparing")  # before the first step: nothing to add
    view.update(Progress(99, 0.2, 3.0, 0.7, 3.7, 1e-3, 1000.0, 3.0, 0.5))
    view.waiting(eval_every=100)
    assert "evaluating" not in view.status  # a step between evaluations: just a slow machine
    view.update(Progress(100, 0.2, 3.0, 0.7, 3.7, 1e-3, 1000.0, 3.0, 0.5))
    view.waiting(eval_every=100)
    view.waiting(eval_every=100)
    assert view.status.endswith("· evaluating on held-out text…") and view.status.count("evaluating") == 1
    view.update(Progress(130, 0.3, 3.0, 0.7, 3.7, 1e-3, 1000.0, 60.0, 1.0))
    view.waiting(eval_every=100)
    assert view.status.endswith("· final evaluation and saving…")


def test_the_plot_marks_an_evaluation_so_it_refreshes_while_no_step_moves(tmp_path):
    view = TrainView()
    for step in range(1, 101):
        view.update(Progress(step, 0.2, 3.0, 0.7, 3.7, 1e-3, 1000.0, step * 0.03, step / 300))
    def picture(path):
        return Path(path).name, np.asarray(Image.open(path))

    running, running_pixels = picture(view.png(tmp_path))
    assert view.waiting(eval_every=100) and view.pause == "evaluating on held-out text…"
    paused, paused_pixels = picture(view.png(tmp_path))
    assert paused != running  # a new picture: the browser fetches it
    assert not np.array_equal(paused_pixels, running_pixels)
    view.plot._layout = None  # the marker drawn on the cheap path is the one a full redraw draws
    assert np.array_equal(picture(view.png(tmp_path))[1], paused_pixels)
    view.update(Eval(100, Metrics(mlm_accuracy=0.3, nsp_accuracy=0.6)))
    assert view.pause == "" and "-pause" not in view.png(tmp_path)  # the run moved on: the marker goes


def test_the_app_shows_a_users_mistake_and_logs_a_bug(caplog):
    """A UserError becomes its message on the page; any other error is logged with its traceback
    and the page says it is a bug, not the user's fault."""
    import gradio as gr

    import app
    from babybert.errors import UserError

    with pytest.raises(gr.Error) as shown:
        with app.user_errors():
            raise UserError("the corpus is empty")
    assert shown.value.message == "the corpus is empty" and not caplog.records
    with pytest.raises(gr.Error) as shown:
        with app.user_errors():
            raise ValueError("an internal inconsistency")
    assert "this is a bug" in shown.value.message and "internal inconsistency" not in shown.value.message
    assert caplog.records[-1].exc_info[0] is ValueError  # the traceback, in the server's log

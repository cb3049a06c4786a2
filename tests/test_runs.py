"""Runs you can compare: the settings that differ, the final held-out metrics, the CSV, earlier runs
drawn behind the live one, `babybert runs`, and `train --report-to tensorboard|trackio`. Numbers
are checked against what each checkpoint's babybert.json records, read here with json."""

import csv
import json
import os
import subprocess
import sys

import pytest
from gradio_client import Client

from babybert import train
from babybert.cli import main
from babybert.analysis.plots import LossPlot, smooth
from babybert.analysis.runs import Run, change, differing, overlays, table, write_csv

from .conftest import TINY_MODEL, animal_corpus, running_app, tiny_train_config

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, documents):
    """The same model trained twice, only the learning rate changed."""
    root = tmp_path_factory.mktemp("runs")
    for name, lr in (("slow", 2e-3), ("fast", 5e-3)):
        list(train(documents, TINY_MODEL, tiny_train_config(max_steps=30, lr=lr), out_dir=root / name, corpus_name="animals"))
    return root / "slow", root / "fast"


def recorded(path) -> dict:
    return json.loads((path / "babybert.json").read_text())


def test_what_changed_between_two_runs_is_named_in_their_labels(two_runs):
    slow, fast = (Run.from_info(recorded(p), name=p.name) for p in two_runs)
    assert differing([slow, fast]) == ["lr"]
    assert change(slow, fast) == "lr 2e-3 → 5e-3" and change(fast, fast) == "same settings"
    bigger = Run("big", {**slow.settings, "hidden_size": 64, "batch_size": 32}, {})
    assert change(slow, bigger) == "hidden 32 → 64, batch 16 → 32"


def test_the_runs_table_shows_the_differing_setting_and_each_runs_own_metrics(two_runs):
    runs = [Run.from_info(recorded(p), name=p.name) for p in two_runs]
    headers, rows = table(runs)
    assert headers[:2] == ["run", "lr"] and "hidden" not in headers  # only what differs
    for row, path in zip(rows, two_runs):
        cell = dict(zip(headers, row))
        info = recorded(path)
        assert cell["run"] == path.name and cell["steps"] == str(info["steps"]) == "30"
        assert cell["MLM acc."] == f"{100 * info['metrics']['mlm_accuracy']:.1f}%"
        assert cell["perplexity"] == f"{info['metrics']['mlm_perplexity']:.2f}"
    assert rows[0][1] == "2e-3" and rows[1][1] == "5e-3"
    alone_headers, _ = table(runs[:1])  # one run: its main settings, for a start
    assert {"lr", "hidden", "layers", "batch"} <= set(alone_headers)


def test_the_csv_holds_every_setting_and_metric_unrounded(two_runs, tmp_path):
    runs = [Run.from_info(recorded(p), name=p.name) for p in two_runs]
    with open(write_csv(runs, tmp_path / "runs.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["run"] for r in rows] == ["slow", "fast"]
    for row, path in zip(rows, two_runs):
        info = recorded(path)
        assert float(row["lr"]) == info["train_config"]["lr"]
        assert int(row["hidden_size"]) == info["model_config"]["hidden_size"] == TINY_MODEL.hidden_size
        for key in ("mlm_accuracy", "word_accuracy", "nsp_accuracy", "mlm_perplexity"):
            assert float(row[key]) == info["metrics"][key]
        assert row["max_steps"] == "30" and row["time_budget"] == ""  # none: an empty cell, not "None"


def test_earlier_runs_are_drawn_muted_behind_the_current_one(two_runs):
    slow, fast = (Run.from_info(recorded(p), name=p.name) for p in two_runs)
    behind = overlays([slow], fast.settings)
    assert behind == [("slow: lr 2e-3 → 5e-3", slow.history)]
    plot = LossPlot()
    plot.set_earlier(behind)
    plot.update(fast.history)
    (line,) = plot.earlier
    assert list(line.get_xdata()) == [h["step"] for h in slow.history]
    assert list(line.get_ydata()) == pytest.approx(smooth([h["loss"] for h in slow.history]))
    assert line not in plot.lines.values() and line.get_alpha() < 1  # not the live curves
    plot.figure()
    legend = plot.ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["slow: lr 2e-3 → 5e-3"]
    plot.set_earlier([])  # the overlay switched off
    assert plot.earlier == [] and len(plot.ax.lines) == len(plot.lines) + 1  # (+ the pause marker)
    assert len(overlays([slow] * 8, fast.settings)) == 5  # only the last few: a plot stays readable


def test_cli_runs_compares_checkpoints_and_writes_csv(two_runs, tmp_path, capsys):
    assert main(["runs", *map(str, two_runs), "--csv", str(tmp_path / "r.csv")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["run", "lr"]
    assert lines[1].split()[:2] == ["slow", "2e-3"] and lines[2].split()[:2] == ["fast", "5e-3"]
    assert len(list(csv.DictReader(open(tmp_path / "r.csv")))) == 2
    assert main(["runs", str(tmp_path)]) == 2
    assert "not a checkpoint trained by BabyBERT" in capsys.readouterr().err


def cli_train(tmp_path, *extra, env=None) -> subprocess.CompletedProcess:
    corpus = tmp_path / "animals.txt"
    corpus.write_text(animal_corpus())
    return subprocess.run([sys.executable, "-m", "babybert", "train", "--corpus", str(corpus), "--out", str(tmp_path / "m"),
                           "--max-steps", "12", "--eval-every", "6", "--hidden-size", "32", "--num-heads", "2",
                           "--intermediate-size", "64", "--vocab-size", "200", "--json", *extra],
                          capture_output=True, text=True, env={**os.environ, **(env or {})})


def test_report_to_tensorboard_logs_the_live_plots_scalars(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    proc = cli_train(tmp_path, "--report-to", "tensorboard", "--logging-dir", str(tmp_path / "tb"))
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]  # stdout is still only JSON lines
    steps = [e for e in events if e["event"] == "progress"]
    evals = [e for e in events if e["event"] == "eval"]
    logged = EventAccumulator(str(tmp_path / "tb")).Reload()
    loss = logged.Scalars("train/loss")
    assert [s.step for s in loss] == [e["step"] for e in steps] == list(range(1, 13))
    assert [s.value for s in loss] == pytest.approx([e["loss"] for e in steps], rel=1e-6)
    assert [s.value for s in logged.Scalars("train/lr")] == pytest.approx([e["lr"] for e in steps], rel=1e-6)
    accuracy = logged.Scalars("eval/mlm_accuracy")
    assert [s.step for s in accuracy] == [e["step"] for e in evals] == [6, 12]
    assert accuracy[-1].value == pytest.approx(recorded(tmp_path / "m")["metrics"]["mlm_accuracy"], rel=1e-6)
    assert {"eval/nsp_accuracy", "eval/word_accuracy", "train/mlm_loss", "train/nsp_loss"} <= set(logged.Tags()["scalars"])
    assert not (tmp_path / "m" / "tb").exists()  # beside the checkpoint, never inside the folder it replaces


def test_report_to_trackio_logs_into_its_local_database(tmp_path):
    proc = cli_train(tmp_path, "--report-to", "trackio", env={"TRACKIO_DIR": str(tmp_path / "trackio")})
    assert proc.returncode == 0, proc.stderr
    steps = [e for line in proc.stdout.splitlines() if (e := json.loads(line))["event"] == "progress"]
    read = subprocess.run([sys.executable, "-c", "import json; from trackio.sqlite_storage import SQLiteStorage as S; "
                           "print(json.dumps([S.get_runs('babybert'), S.get_logs('babybert', 'm')]))"],
                          capture_output=True, text=True, env={**os.environ, "TRACKIO_DIR": str(tmp_path / "trackio")})
    runs, logs = json.loads(read.stdout)
    assert runs == ["m"]
    losses = {row["step"]: row["train/loss"] for row in logs if "train/loss" in row}
    assert losses == pytest.approx({e["step"]: e["loss"] for e in steps}, rel=1e-6)
    assert [row["eval/mlm_accuracy"] for row in logs if "eval/mlm_accuracy" in row][-1] == \
        pytest.approx(recorded(tmp_path / "m")["metrics"]["mlm_accuracy"], rel=1e-6)


def test_report_to_without_the_package_says_what_to_install(monkeypatch):
    import builtins

    from babybert.training.report import open_reporter
    real_import = builtins.__import__

    def no_trackio(name, *args, **kwargs):
        if name == "trackio":
            raise ImportError("No module named 'trackio'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_trackio)
    with pytest.raises(ValueError, match=r'needs the trackio package: pip install "babybert\[trackio\]"'):
        open_reporter("trackio", name="x", settings={})


# ----------------------------------------------------------------------------- the app

@pytest.fixture(scope="module")
def server(tmp_path_factory, module_hub):
    with running_app(BABYBERT_RUNS_DIR=str(tmp_path_factory.mktemp("app")), HF_ENDPOINT=module_hub.endpoint) as (_, url):
        yield url


APP_RUN = dict(corpus=animal_corpus(12), tasks=["MLM", "NSP"], vocab_size=256, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
               intermediate_size=64, max_position_embeddings=32, batch_size=16, epochs=500, lr=2e-3, mask_prob=0.15, time_budget=3,
               seed=0, start_from="scratch", probes="")


def shown(update) -> tuple[list, list]:
    """(headers, rows) of the runs table as the API returns it (an update of the Dataframe)."""
    value = update.get("value") or {}
    return value.get("headers") or [], [row for row in value.get("data") or [] if any(row)]


def test_the_app_keeps_each_run_of_a_session_in_a_table_and_a_csv(server):
    client = Client(server, verbose=False)
    first = client.predict(**APP_RUN, api_name="/train")
    assert shown(first[6])[1][0][0] == "run 1" and first[7]["visible"]
    second = client.predict(**dict(APP_RUN, lr=5e-3), api_name="/train")
    (headers, rows), csv_file = shown(second[6]), second[7]
    assert headers[:2] == ["run", "lr"] and [r[:2] for r in rows] == [["run 1", "2e-3"], ["run 2", "5e-3"]]
    with open(csv_file["value"], newline="") as f:
        saved = list(csv.DictReader(f))
    assert [float(r["lr"]) for r in saved] == [2e-3, 5e-3] and all(0 <= float(r["mlm_accuracy"]) <= 1 for r in saved)
    assert [f"{100 * float(r['mlm_accuracy']):.1f}%" for r in saved] == [r[headers.index("MLM acc.")] for r in rows]
    assert saved[0]["corpus"] == saved[1]["corpus"] != ""
    assert shown(client.predict(api_name="/runs")[0]) == (headers, rows)
    other = Client(server, verbose=False)  # another visitor has runs of their own: none yet
    table, csv_update = other.predict(api_name="/runs")
    assert shown(table)[1] == [] and not csv_update["visible"]
    table, csv_update = client.predict(api_name="/clear_runs")
    assert shown(table)[1] == [] and not csv_update["visible"] and shown(client.predict(api_name="/runs")[0])[1] == []

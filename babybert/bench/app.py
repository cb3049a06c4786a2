"""What watching costs: the app's live training against the CLI's, same corpus, same settings.

Starts `app.py` (from the source checkout) on a free local port, then alternates rounds of
`python -m babybert train` and the app's `/train` (read from Gradio's HTTP API as its updates
arrive, as a browser receives them) with the Train tab's default settings and the same time
budget. Training speed is real tokens per second of wall-clock training time, evaluations included (the same schedule in
both). Also measured on the app: time from Start to the first plot, the gap between plot
updates, and time from Stop to the final metrics.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import zipfile
import time
from pathlib import Path

from babybert.paths import APP

import httpx

from babybert.bench.throughput import p50_p95
from babybert.config import ModelConfig, TrainConfig, app_values, build, settings, to_argv
from babybert.paths import EXAMPLES_DIR

TARGETS = {"streaming_cost": 0.10, "first_plot_s": 3.0, "plot_gap_s": 1.0, "stop_s": 2.0}


def app_settings(budget: float) -> tuple[dict, tuple[ModelConfig, TrainConfig]]:
    """What the Train tab trains with when only the time budget is changed: the values of its
    controls (/train's settings, by name) and the configs they make (for the CLI's run)."""
    model_values, values = app_values(ModelConfig), dict(app_values(TrainConfig), time_budget=budget)
    model_config = build(ModelConfig, model_values)
    model_config.vocab_size = values["vocab_size"]
    shown = {f.name for cls in (ModelConfig, TrainConfig) for f, s in settings(cls) if s.control}
    controls = {k: v for k, v in {**model_values, **values}.items() if k in shown}
    return controls, (model_config, build(TrainConfig, values))


def _speed(info: dict) -> float:
    """Training tokens per second of a run, from its babybert.json."""
    return info["tokens"] / info["train_seconds"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_app(runs_dir: Path) -> tuple[subprocess.Popen, str, list[str]]:
    """The app's process, its URL, and the names of /train's inputs in order."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "BABYBERT_RUNS_DIR": str(runs_dir)}
    process = subprocess.Popen([sys.executable, str(APP), "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while True:
        try:
            info = httpx.get(url + "gradio_api/info", timeout=5).raise_for_status().json()
            return process, url, [p["parameter_name"] for p in info["named_endpoints"]["/train"]["parameters"]]
        except httpx.HTTPError:  # not listening yet
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"the app did not start (exit code {process.poll()}); try `python {APP}`") from None
            time.sleep(0.5)


def call_api(url: str, api_name: str, data: list, session: str):
    """The outputs of each update of one event, read from Gradio's HTTP API as they arrive
    (server-sent events, what a browser receives). gradio_client is not used: on 2 busy cores it
    adds 0.3-1 s of delay of its own to some updates (measured against a plain reader: < 10 ms)."""
    call = f"{url}gradio_api/call/{api_name.strip('/')}"
    body = json.dumps({"data": data, "session_hash": session})  # as Python writes it: NaN and Infinity too
    event_id = httpx.post(call, content=body, headers={"Content-Type": "application/json"}, timeout=30).json()["event_id"]
    with httpx.stream("GET", f"{call}/{event_id}", timeout=None) as response:
        kind = None
        for line in response.iter_lines():
            if line.startswith("event:"):
                kind = line.removeprefix("event:").strip()
            elif line.startswith("data:") and kind in ("generating", "complete", "error"):
                payload = json.loads(line.removeprefix("data:"))
                if kind == "error":
                    raise RuntimeError(f"{api_name} failed: {payload}")
                yield payload


def _app_round(url: str, inputs: list[str], settings: dict, corpus: str, stop_after: float | None = None) -> dict:
    """One /train call; the time of each streamed update that shows a new plot with a step on it."""
    args = dict(settings, corpus=corpus, start_from="scratch", probes="", tokenizer_from="corpus", tokenizer_repo="",
                overlay=False)
    session = secrets.token_hex(8)
    t0 = time.perf_counter()
    times, stop_asked, shown, finished, checkpoint = [], None, None, None, None
    for status, plot, _, _, _, download, *_ in call_api(url, "/train", [args[name] for name in inputs], session):
        value = download.get("value") if isinstance(download, dict) else None  # the checkpoint's zip, as served
        if isinstance(value, dict) and value.get("path"):
            checkpoint = Path(value["path"])
        if finished is None and isinstance(status, str) and status.startswith("finished"):  # the final metrics
            finished = time.perf_counter() - t0
        plot = plot.get("path") if isinstance(plot, dict) else None  # a file, named after what it shows
        if plot and plot != shown and "step **" in status:  # a new picture, with a training step on it
            times.append(time.perf_counter() - t0)
            shown = plot
        if stop_after and stop_asked is None and times and times[-1] >= stop_after:
            stop_asked = time.perf_counter() - t0
            httpx.post(f"{url}gradio_api/run/stop", json={"data": [], "session_hash": session}, timeout=30)  # not queued
    gaps = [b - a for a, b in zip(times[:-1], times[1:-1])]  # the last update waits for the final evaluation
    return {"first_plot_s": times[0] if times else None, "gaps": gaps,
            "stop_s": finished - stop_asked if stop_asked is not None and finished else None, "updates": len(times),
            "checkpoint": checkpoint}


def run_app_bench(budget: float = 20, rounds: int = 2, corpus: str | Path | None = None) -> dict:
    path = Path(corpus) if corpus else EXAMPLES_DIR / "world_facts.txt"
    text = path.read_text(encoding="utf-8")
    settings, (model_config, config) = app_settings(budget)
    cli, app, latency = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        process, url, inputs = _start_app(tmp / "runs")
        try:
            _app_round(url, inputs, dict(settings, time_budget=2), text)  # warm-up: the worker process starts
            for r in range(rounds):
                out = tmp / f"cli-{r}"
                subprocess.run([sys.executable, "-m", "babybert", "train", "--corpus", str(path), "--out", str(out),
                                *to_argv(model_config, config)], check=True, capture_output=True)
                cli.append(_speed(json.loads((out / "babybert.json").read_text(encoding="utf-8"))))
                latency.append(_app_round(url, inputs, settings, text))
                with zipfile.ZipFile(latency[-1]["checkpoint"]) as archive:  # babybert.json, as the user downloads it
                    app.append(_speed(json.loads(archive.read("babybert-session/babybert.json"))))
            stop = _app_round(url, inputs, dict(settings, time_budget=60), text, stop_after=5)
        finally:
            process.terminate()
            process.wait(timeout=30)
    cli_speed, app_speed = statistics.median(cli), statistics.median(app)
    gaps = [g for r in latency for g in r["gaps"]]
    result = {
        "corpus": path.name, "budget_s": budget, "rounds": rounds,
        "cli_tokens_per_sec": round(cli_speed), "app_tokens_per_sec": round(app_speed),
        "cli_rounds": [round(x) for x in cli], "app_rounds": [round(x) for x in app],
        "streaming_cost": round(1 - app_speed / cli_speed, 3),
        "first_plot_s": round(max(r["first_plot_s"] for r in latency), 2),
        "plot_gap_s": round(max(gaps), 2),
        "plot_gap_median_s": round(statistics.median(gaps), 2),
        "plot_gap_p95_s": round(sorted(gaps)[int(0.95 * (len(gaps) - 1))], 2),
        "stop_s": round(stop["stop_s"], 2),
        "targets": TARGETS,
    }
    result["meets_targets"] = all(result[k] <= v for k, v in TARGETS.items())
    return result


def print_app_report(r: dict) -> str:
    names = {"streaming_cost": "cost of streaming", "first_plot_s": "Start -> first plot",
             "plot_gap_s": "longest gap between plots", "stop_s": "Stop -> final metrics"}
    lines = [f"live training in the app vs the CLI on {r['corpus']} ({r['rounds']} rounds of {r['budget_s']:.0f} s, "
             f"the Train tab's default settings):",
             f"  CLI {r['cli_tokens_per_sec']:>9,} tokens/s (median; rounds: {', '.join(f'{x:,}' for x in r['cli_rounds'])})",
             f"  app {r['app_tokens_per_sec']:>9,} tokens/s (median; rounds: {', '.join(f'{x:,}' for x in r['app_rounds'])})"]
    for key, target in r["targets"].items():
        value = f"{r[key]:.1%}" if key == "streaming_cost" else f"{r[key]:.2f} s"
        limit = f"{target:.0%}" if key == "streaming_cost" else f"{target:.0f} s"
        lines.append(f"  {names[key]:<26} {value:>8}   target < {limit}: {'ok' if r[key] <= target else 'MISSED'}")
        if key == "plot_gap_s":
            lines.append(f"  {'  (median gap, 95th pct.)':<26} {r['plot_gap_median_s']:.2f} s, {r['plot_gap_p95_s']:.2f} s")
    return "\n".join(lines)


LOAD_TARGETS_P95_MS = {"browser": 100.0, "gradio_client": 200.0}  # a user's fill-mask while another trains
START_S = 10.0  # the first seconds of a training (tokenizer, first plots) are reported on their own
FILL_MASK = ["the capital of france is [MASK].", 5, "default", False, "default"]


def _browser_loop(url: str, until: threading.Event, calls: list[tuple[float, float]]) -> None:
    """A browser's fill-mask: one POST each, as the page sends it (the event is not queued).
    Appends (when it was sent, its latency in ms)."""
    data = {"data": FILL_MASK, "session_hash": secrets.token_hex(8)}
    with httpx.Client(timeout=30) as http:
        while not until.is_set():
            t0 = time.perf_counter()
            http.post(f"{url}gradio_api/run/fill_mask", json=data).raise_for_status()
            calls.append((t0, (time.perf_counter() - t0) * 1000))
            time.sleep(0.05)


# a gradio_client user, as its own program (its own process, as a real user's is; and the package
# imports no Gradio): one fill-mask after another until stdin closes, each printed as "sent_at latency_ms"
_CLIENT_LOOP = """
import sys, threading, time
from gradio_client import Client
client = Client(sys.argv[1], verbose=False)
done = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
args = %r
while not done.is_set():
    t0 = time.time()
    client.predict(*args, api_name="/fill_mask")
    print(t0, (time.time() - t0) * 1000, flush=True)
    time.sleep(0.05)
""" % (FILL_MASK,)


def _client_loop(url: str, until: threading.Event, calls: list[tuple[float, float]]) -> None:
    """A `gradio_client` user's fill-mask, one call after another, as docs/app.md shows it, in a
    process of its own. Its clock (time.time) is turned into this one's (perf_counter)."""
    offset = time.perf_counter() - time.time()
    process = subprocess.Popen([sys.executable, "-c", _CLIENT_LOOP, url], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    until.wait()
    out, _ = process.communicate(input="", timeout=60)
    for line in out.split("\n"):
        if line.strip():
            sent, ms = map(float, line.split())
            calls.append((sent + offset, ms))


def run_load_bench(budget: float = 20, corpus: str | Path | None = None) -> dict:
    """Four clients at once: two train (one at a time on this server: the second waits in the queue),
    a browser and a `gradio_client` user ask fill-mask questions all along. Latency is measured idle
    first, then over the whole of both trainings, their first seconds (tokenizer, first plots)
    included and also reported on their own."""
    path = Path(corpus) if corpus else EXAMPLES_DIR / "world_facts.txt"
    text = path.read_text(encoding="utf-8")
    settings, _ = app_settings(budget)
    calls = {"browser": [], "gradio_client": []}
    with tempfile.TemporaryDirectory() as tmp:
        process, url, inputs = _start_app(Path(tmp) / "runs")
        try:
            _app_round(url, inputs, dict(settings, time_budget=2), text)  # warm-up: the worker and the default model
            stop = threading.Event()
            askers = [threading.Thread(target=loop, args=(url, stop, calls[name]))
                      for name, loop in (("browser", _browser_loop), ("gradio_client", _client_loop))]
            for t in askers:
                t.start()
            time.sleep(5)
            started = time.perf_counter()
            trainers = [threading.Thread(target=_app_round, args=(url, inputs, settings, text)) for _ in range(2)]
            for t in trainers:
                t.start()
            for t in trainers:
                t.join()
            stop.set()
            for t in askers:
                t.join()
        finally:
            process.terminate()
            process.wait(timeout=30)
    report = {"corpus": path.name, "budget_s": budget, "start_s": START_S, "targets_p95_ms": LOAD_TARGETS_P95_MS}
    for name, made in calls.items():
        phases = {"idle": [ms for t, ms in made if t < started],
                  "training": [ms for t, ms in made if t >= started],
                  "start": [ms for t, ms in made if started <= t < started + START_S]}
        report[name] = {phase: {"calls": len(v), **dict(zip(("p50_ms", "p95_ms"), map(lambda x: round(x, 1), p50_p95(v))))}
                        for phase, v in phases.items() if v}
    return report


def print_load_report(r: dict) -> str:
    lines = [f"four clients on one server ({r['corpus']}): two train ({r['budget_s']:.0f} s each, one after the other), "
             f"a browser and a gradio_client user ask fill-mask all along"]
    for name, target in r["targets_p95_ms"].items():
        for phase, label in (("idle", "idle"), ("start", f"first {r['start_s']:.0f} s of a training"),
                             ("training", "while training (all)")):
            m = r[name].get(phase)
            if m is None:
                continue
            verdict = f"   target p95 <= {target:.0f} ms: {'ok' if m['p95_ms'] <= target else 'MISSED'}" \
                if phase == "training" else ""
            lines.append(f"  {name:<14} {label:<28} p50 {m['p50_ms']:6.1f} ms   p95 {m['p95_ms']:6.1f} ms"
                         f"   ({m['calls']} calls){verdict}")
    return "\n".join(lines)

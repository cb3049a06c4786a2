"""The benchmark compares like with like: both contenders train on the very same examples."""

import json

import pytest
import torch

from babybert.bench.throughput import _babybert_runner, _transformers_runner, recipe_example, train_flops_per_token
from babybert.config import ModelConfig, TrainConfig
from babybert.data.batches import SpecialIds, draw_pairs, encode_corpus
from babybert.bert.tokenizer import train_tokenizer


def test_contenders_see_the_same_tokens(documents):
    tok = train_tokenizer((s for d in documents for s in d), vocab_size=200)
    config = ModelConfig(vocab_size=len(tok), hidden_size=32, num_attention_heads=2, intermediate_size=64,
                         max_position_embeddings=32)
    enc = encode_corpus(documents, tok, 32)
    ids = SpecialIds.from_tokenizer(tok)
    a, b, label = draw_pairs(enc, torch.Generator().manual_seed(0))
    rows = torch.arange(8)
    features = {i: recipe_example(enc, ids, a, b, label, i, 32) for i in range(8)}
    ours = _babybert_runner(enc, ids, config, a, b, label, seed=0)
    theirs = _transformers_runner(features, tok, config, seed=0)
    n_ours, n_theirs = ours(rows), theirs(rows)
    assert n_ours == n_theirs == sum(len(f["input_ids"]) for f in features.values())
    sentences = [s for d in documents for s in d]
    for i, f in features.items():  # and each is the pair itself, as the tokenizer makes it
        expected = tok(sentences[a[i]], sentences[b[i]], truncation="longest_first", max_length=32)
        assert f["input_ids"] == expected["input_ids"] and f["token_type_ids"] == expected["token_type_ids"]


def test_quick_bench_numbers_are_consistent(tmp_path, corpus_text, capsys):
    """`bench --quick --json`: one JSON object on the last line, whose numbers agree with each other."""
    from babybert.cli import main

    path = tmp_path / "animals.txt"
    path.write_text(corpus_text)
    assert main(["bench", "--quick", "--json", "--corpus", str(path)]) == 0
    r = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert r["train_speedup"] == pytest.approx(r["train_tokens_per_s"] / r["hf_train_tokens_per_s"], abs=0.02)
    assert r["peer_speedup"] == pytest.approx(r["default_model_tokens_per_s"] / r["peer_tokens_per_s"], abs=0.02)
    # utilisation is of the model train() builds by default, at its own settings, against both rates
    for kind in ("fp32", "bf16"):
        achieved = r["default_model_tokens_per_s"] * r["flops_per_token"] / 1e9
        assert r[f"mfu_{kind}"] == pytest.approx(achieved / r[f"matmul_gflops_{kind}"], rel=0.01)
        assert 0 < r[f"mfu_{kind}"] < 1.5
    assert r["train_speedup_vocab30522"] > 0 and isinstance(r["bf16"], bool)
    assert 0 < r["fill_mask_p50_ms"] <= r["fill_mask_p95_ms"] and 0 < r["nsp_p50_ms"] <= r["nsp_p95_ms"]


def test_flops_grow_with_every_part_of_the_model():
    from babybert.bench.throughput import train_flops_per_token

    base = ModelConfig(vocab_size=4096)
    f = train_flops_per_token(base, 64)
    for change in (dict(hidden_size=256, num_attention_heads=4), dict(num_hidden_layers=4),
                   dict(intermediate_size=1024), dict(vocab_size=30522)):
        assert train_flops_per_token(ModelConfig(**{**vars(base), **change}), 64) > f
    assert train_flops_per_token(base, 128) > f  # longer sequences: more attention
    assert train_flops_per_token(base, 64, mask_prob=0.3) > f  # more masked positions: more MLM head


def test_scaling_bench_alternates_rounds_and_reports_efficiency(monkeypatch):
    from babybert.bench import scaling as bench_scaling

    calls = []

    def fake_speed(corpus, processes, budget, out):
        calls.append(processes)
        return {"tokens_per_sec": {1: 1000.0, 2: 1500.0}[processes]}

    monkeypatch.setattr(bench_scaling, "train_speed", fake_speed)
    report = bench_scaling.run_scaling_bench(budget=1, rounds=3)
    assert calls == [1, 2, 2, 1, 1, 2]  # alternating, against drift
    two = report["processes"][2]
    assert (two["speedup"], two["efficiency"]) == (1.5, 0.75)
    assert "2 processes" in bench_scaling.print_scaling_report(report) and "efficiency 75%" in \
        bench_scaling.print_scaling_report(report)


def test_an_app_round_reads_the_run_the_user_downloads(tmp_path, corpus_text):
    """`bench --only app` times /train as a browser sees it and reads the run's speed from the
    checkpoint zip the app serves (not from the server's folders, whose names bench cannot know)."""
    import zipfile

    import httpx

    from babybert.bench.app import _app_round, _speed, app_settings

    from .conftest import running_app

    settings, _ = app_settings(2)
    settings.update(hidden_size=32, num_attention_heads=2, intermediate_size=64, max_position_embeddings=32,
                    vocab_size=200)
    with running_app(BABYBERT_RUNS_DIR=str(tmp_path / "runs")) as (_, url):
        info = httpx.get(url + "gradio_api/info", timeout=30).json()
        inputs = [p["parameter_name"] for p in info["named_endpoints"]["/train"]["parameters"]]
        round_ = _app_round(url, inputs, settings, corpus_text)
        with zipfile.ZipFile(round_["checkpoint"]) as archive:  # (Gradio's copy: gone once the app closes)
            run = json.loads(archive.read("babybert-session/babybert.json"))
    assert round_["updates"] >= 1 and round_["first_plot_s"] is not None
    assert run["train_config"]["time_budget"] == 2 and _speed(run) > 0


def test_peer_race_numbers_agree(corpus_text, tmp_path):
    """The race against the tuned peer: same batches, and its ratios and utilisations follow from its rates."""
    from babybert.bench.throughput import print_peer_report, run_peer_race

    path = tmp_path / "animals.txt"
    path.write_text(corpus_text)
    r = run_peer_race(path, steps=3, rounds=1)
    rates = r["tokens_per_sec"]
    assert set(rates) == {"tuned peer", "babybert fp32", "babybert"}
    for name in ("babybert fp32", "babybert"):
        assert r["speedup"][name] == pytest.approx(rates[name] / rates["tuned peer"], abs=0.01)
    assert r["flops_per_token"] == pytest.approx(train_flops_per_token(
        ModelConfig(vocab_size=r["vocab_size"]), r["mean_pair_tokens"], TrainConfig().mask_prob), rel=1e-3)
    for name, mfu in r["mfu"].items():
        for kind, rate in r["matmul_gflops"].items():
            assert mfu[kind] == pytest.approx(rates[name] * r["flops_per_token"] / 1e9 / rate, rel=0.01)
    assert "tuned peer" in print_peer_report(r)


def test_load_bench_times_both_paths_over_the_whole_run(tmp_path, corpus_text):
    """`bench --only load`: a browser and a gradio_client user ask fill-mask before and all through
    two trainings; every call lands in one phase, and the start is a part of the training's calls."""
    from babybert.bench.app import print_load_report, run_load_bench

    path = tmp_path / "animals.txt"
    path.write_text(corpus_text)
    r = run_load_bench(budget=2, corpus=path)
    for name in ("browser", "gradio_client"):
        phases = r[name]
        assert phases["idle"]["calls"] >= 1 and phases["training"]["calls"] >= 1
        assert phases["start"]["calls"] <= phases["training"]["calls"]
        for m in phases.values():
            assert 0 < m["p50_ms"] <= m["p95_ms"]
    report = print_load_report(r)
    assert "gradio_client" in report and "browser" in report and "first 10 s of a training" in report

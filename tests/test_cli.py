"""The command line, end to end on a tiny corpus: train, fill-mask, nsp, eval, and its errors."""

import json
import re
import subprocess
import sys

import pytest

from babybert.cli import main

from .conftest import animal_corpus

TINY = ["--hidden-size", "32", "--num-layers", "2", "--num-heads", "2", "--intermediate-size", "64",
        "--max-seq-len", "32", "--vocab-size", "200", "--batch-size", "16", "--lr", "3e-3"]


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "animals.txt"
    path.write_text(animal_corpus())
    return path


@pytest.fixture(scope="module")
def cli_checkpoint(tmp_path_factory, corpus_file):
    out = tmp_path_factory.mktemp("cli") / "ckpt"
    proc = subprocess.run([sys.executable, "-m", "babybert", "train", "--corpus", str(corpus_file), "--out", str(out),
                           "--max-steps", "200", "--eval-every", "100", "--probe", "the cow says [MASK].",
                           "--probe", "the cow lives in the farm. ||| every morning the cow says moo.", *TINY],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_train_prints_progress_and_summary(cli_checkpoint):
    out, proc = cli_checkpoint
    assert "corpus: 48 documents, 192 sentences" in proc.stderr
    # stderr is a pipe, not a terminal: plain lines, no progress bar redrawn with carriage returns
    assert "\r" not in proc.stderr and "step 200/200 (100%) | loss" in proc.stderr
    assert "step    100 | held-out MLM acc" in proc.stderr
    assert "finished after 200 steps" in proc.stderr and f"checkpoint: {out}" in proc.stderr
    probes = re.findall(r"probe: the cow says \[MASK\]\. -> (\w+) \d+%", proc.stderr)
    assert len(probes) == 2  # answered at both evaluations (step 100 and the final one)
    assert len(re.findall(r"probe: the cow lives in the farm\. \|\|\| every morning .* -> IsNext \d+%", proc.stderr)) == 2
    card = (out / "README.md").read_text()
    assert "python -m babybert train --corpus" in card  # the exact command is recorded


def test_plain_progress_prints_a_line_per_interval_and_the_last_step(capsys):
    import sys as _sys

    from babybert.cli.progress import PlainProgress
    bar = PlainProgress(total=40, file=_sys.stderr, every=0.0)  # a line at every update
    for _ in range(4):
        bar.update(10)
        bar.set_postfix_str("loss 1.000")
    bar.close()  # the last step was printed already: not twice
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"step {n}/40 ({n / 40:.0%}) | loss 1.000" for n in (10, 20, 30, 40)]
    bar = PlainProgress(total=40, file=_sys.stderr, every=3600.0)  # nothing until the end
    bar.update(24)
    bar.set_postfix_str("loss 2.000")
    bar.close()
    assert capsys.readouterr().err.splitlines() == ["step 24/40 (60%) | loss 2.000"]


def test_train_json_events(tmp_path, corpus_file, capsys):
    assert main(["train", "--corpus", str(corpus_file), "--out", str(tmp_path / "j"), "--max-steps", "4", "--json", *TINY]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[1:5] == ["progress"] * 4 and kinds[-1] == "done"
    assert events[1]["step"] == 1 and events[1]["loss"] > 0
    assert events[-1]["checkpoint"] == str(tmp_path / "j") and events[-1]["reason"] == "max_steps"


def test_train_defaults_are_the_library_defaults():
    """One recipe: `python -m babybert train` with no options trains exactly as train() does."""
    from babybert.cli import build_parser
    from babybert.cli.train import train_configs
    from babybert.config import ModelConfig, TrainConfig
    model_config, config = train_configs(build_parser().parse_args(["train", "--corpus", "c.txt", "--out", "o"]))
    assert config == TrainConfig() and model_config == ModelConfig()


@pytest.mark.parametrize("text, expected", [("500", (500, None)), ("90s", (None, 90.0)), ("10m", (None, 600.0)),
                                            ("1h", (None, 3600.0))])
def test_save_every_takes_steps_or_a_time(text, expected):
    from babybert.cli import build_parser
    from babybert.cli.train import train_configs
    _, config = train_configs(build_parser().parse_args(["train", "--corpus", "c", "--out", "o", "--save-every", text]))
    assert (config.save_every, config.save_every_seconds) == expected


def test_dropout_and_init_range_reach_the_checkpoint(tmp_path, corpus_file):
    out = tmp_path / "d"
    assert main(["train", "--corpus", str(corpus_file), "--out", str(out), "--max-steps", "2", *TINY,
                 "--dropout", "0.1", "--init-range", "0.02"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["hidden_dropout_prob"] == config["attention_probs_dropout_prob"] == 0.1
    assert config["initializer_range"] == 0.02


def test_fill_mask_json(cli_checkpoint, capsys):
    out, _ = cli_checkpoint
    assert main(["fill-mask", str(out), "every morning the cow says [MASK]. the cow eats [MASK].", "--top-k", "3", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(result) == 2 and all(len(m) == 3 for m in result)
    assert set(result[0][0]) == {"token", "score"} and result[0][0]["score"] >= result[0][1]["score"]


def test_fill_mask_text(cli_checkpoint, capsys):
    out, _ = cli_checkpoint
    assert main(["fill-mask", str(out), "every morning the cow says [MASK]."]) == 0
    text = capsys.readouterr().out
    assert text.startswith("[MASK]:") and text.count("%") == 5


def test_nsp_json(cli_checkpoint, capsys):
    out, _ = cli_checkpoint
    assert main(["nsp", str(out), "the cow lives in the farm.", "every morning the cow says moo.", "--json"]) == 0
    p = json.loads(capsys.readouterr().out)["is_next"]
    assert 0 <= p <= 1


def test_eval_json_matches_training_metrics(cli_checkpoint, corpus_file, capsys):
    out, _ = cli_checkpoint
    assert main(["eval", str(out), "--corpus", str(corpus_file), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    info = json.loads((out / "babybert.json").read_text())
    assert metrics == info["metrics"]  # same held-out split, same seed
    assert set(metrics) >= {"mlm_accuracy", "mlm_perplexity", "word_accuracy", "nsp_accuracy"}


def test_tokenize_prints_the_tokenizers_own_pieces(cli_checkpoint, capsys):
    """The ids are those of the checkpoint's tokenizer loaded by transformers itself; every '##'
    piece, and only those, is marked as continuing its word."""
    from transformers import AutoTokenizer

    out, _ = cli_checkpoint
    text = "Every morning the cowmoo says moo."
    assert main(["tokenize", str(out), text, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    ids = tokenizer(text)["input_ids"]
    assert [p["id"] for p in result["pieces"]] == ids and result["stats"] is None
    assert [p["piece"] for p in result["pieces"]] == tokenizer.convert_ids_to_tokens(ids)
    assert any(p["continuation"] for p in result["pieces"])  # 'cowmoo' is several pieces

    assert main(["tokenize", str(out), text]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = lines[1:1 + len(ids)]
    assert [row.split()[1] for row in rows] == tokenizer.convert_ids_to_tokens(ids)
    assert [row.endswith("(continues it)") for row in rows] == [row.split()[1].startswith("##") for row in rows]
    assert lines[1 + len(ids)].startswith(f"{len(ids) - 2} pieces for 7 words; split: cow")


def test_tokenize_stats_are_the_training_splits_counts(cli_checkpoint, corpus_file, capsys):
    """Training from a corpus file (through the token store) recorded the counts of its training
    split: the same as counting that split word by word with the tokenizer."""
    from babybert import load_checkpoint, parse_corpus, split_corpus

    from .test_vocabulary import obvious_counts

    out, _ = cli_checkpoint
    assert main(["tokenize", str(out), "the cow", "--stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)["stats"]
    tokenizer = load_checkpoint(out).tokenizer
    train_docs, _ = split_corpus(parse_corpus(corpus_file.read_text()), 0.1)
    counts, words, split = obvious_counts(tokenizer, [s for d in train_docs for s in d])
    assert stats["source"] == "the training split" and (stats["words"], stats["split_words"]) == (words, split)
    vocab = tokenizer.get_vocab()
    assert stats["top"] == [[p, c] for p, c in sorted(counts.items(), key=lambda kv: (-kv[1], vocab[kv[0]]))[:200]]
    line = (f"counted in the training split: {sum(counts.values()):,} pieces, {words:,} words, "
            f"{split / words:.1%} of words split into several pieces")

    assert main(["tokenize", str(out), "the cow", "--corpus", str(corpus_file), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)["stats"]
    counts, words, split = obvious_counts(tokenizer, [s for d in parse_corpus(corpus_file.read_text()) for s in d])
    assert stats["source"] == corpus_file.name and stats["pieces"] == sum(counts.values()) and stats["words"] == words

    assert main(["tokenize", str(out), "the cow", "--stats", "--top", "3"]) == 0
    text = capsys.readouterr().out
    assert line in text.splitlines()
    assert len(text.split("most frequent pieces:")[1].strip().splitlines()) == 3


def test_embeddings_neighbours_and_plot(cli_checkpoint, tmp_path, capsys):
    """The neighbours are a cosine ranking of the word embeddings that transformers itself loads."""
    import torch
    from PIL import Image
    from transformers import AutoTokenizer, BertForPreTraining

    out, _ = cli_checkpoint
    assert main(["embeddings", str(out), "--word", "cow", "--neighbours", "4", "--words", "20", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    weight = BertForPreTraining.from_pretrained(out).bert.embeddings.word_embeddings.weight.detach()[: len(tokenizer)]
    cow = tokenizer.convert_tokens_to_ids("cow")
    similarity = torch.nn.functional.cosine_similarity(weight, weight[cow][None], dim=1)
    similarity[[cow, *tokenizer.all_special_ids]] = -2
    best = similarity.topk(4).indices.tolist()
    assert [n["piece"] for n in result["word"]["neighbours"]] == tokenizer.convert_ids_to_tokens(best)
    assert [n["similarity"] for n in result["word"]["neighbours"]] == pytest.approx(similarity[best].tolist(), abs=1e-5)
    assert len(result["words"]) == 20 and len(result["points"]) == 20 and result["explained"][0] >= result["explained"][1]

    png = tmp_path / "embeddings.png"
    assert main(["embeddings", str(out), "--word", "cow", "--out", str(png)]) == 0
    text = capsys.readouterr().out
    assert "nearest neighbours" in text and len([line for line in text.splitlines() if "█" in line]) == 10
    assert Image.open(png).size == (800, 650)


@pytest.mark.parametrize("argv, message", [
    (["train", "--corpus", "missing.txt", "--out", "x"], "corpus file not found"),
    (["train", "--corpus", "{corpus}", "--out", "{tmp}/o", "--hidden-size", "30", "--num-heads", "4"], "divisible"),
    (["train", "--corpus", "{corpus}", "--out", "{tmp}/o", "--tasks", "mlm,sop"], "tasks must be"),
    (["train", "--corpus", "{corpus}", "--out", "{tmp}/o", "--epochs", "-1"], "must be a positive"),
    (["train", "--corpus", "{corpus}", "--out", "{tmp}/o", "--batch-size", "many"], "expected a whole number"),
    (["train", "--corpus", "{corpus}", "--out", "{tmp}/o", "--dropout", "1"], "must be at least 0 and below 1"),
    (["train", "--corpus", "{corpus}", "--out", "{tmp}/o", "--init-range", "0"], "must be a positive"),
    (["train", "--corpus", "{empty}", "--out", "{tmp}/o"], "0 sentence"),
    (["train", "--corpus", "{corpus}", "--out", "{tmp}/o", "--probe", "no mask here"], "has no \\[MASK\\] and no '\\|\\|\\|'"),
    (["fill-mask", "{tmp}", "the [MASK]"], "no config.json"),
    (["fill-mask", "{ckpt}", "no mask at all"], "no \\[MASK\\]"),
    (["fill-mask", "{ckpt}", "[MASK]", "--top-k", "0"], "must be positive"),
    (["nsp", "{ckpt}", "", "b"], "both sentences"),
    (["eval", "{ckpt}", "--corpus", "{empty}"], "0 sentence"),
    (["tokenize", "{ckpt}", " "], "the text is empty"),
    (["tokenize", "{ckpt}", "the cow", "--corpus", "missing.txt"], "corpus file not found"),
    (["embeddings", "{ckpt}", "--word", "the cow"], "type a single word"),
    (["embeddings", "{ckpt}", "--word", "±"], "not in this model's vocabulary"),
    (["embeddings", "{ckpt}", "--words", "2"], "draw 3 to"),
    (["embeddings", "{tmp}"], "no config.json"),
])
def test_user_errors_are_one_line_and_exit_2(tmp_path, corpus_file, cli_checkpoint, argv, message, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    argv = [a.format(corpus=corpus_file, tmp=tmp_path, empty=empty, ckpt=cli_checkpoint[0]) for a in argv]
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own checks exit directly
        code = e.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    assert re.search(message, err), err


def test_help_for_every_command(capsys):
    from babybert.cli import main

    for command in ["train", "fill-mask", "nsp", "tokenize", "embeddings", "eval", "bench", "push", "pull", "runs", "deploy-space"]:
        with pytest.raises(SystemExit) as exited:
            main([command, "--help"])
        assert exited.value.code == 0 and "usage: babybert " + command in capsys.readouterr().out


def test_running_out_of_memory_is_one_line_of_advice(tmp_path, corpus_file):
    """The process may use 1.5 GB of address space (torch alone takes ~1.1 GB); a 45M-parameter
    model and its optimizer need more. The run ends with a message, not a traceback, and saves nothing."""
    import resource

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (1_500_000_000, resource.RLIM_INFINITY))

    out = tmp_path / "big"
    proc = subprocess.run([sys.executable, "-m", "babybert", "train", "--corpus", str(corpus_file), "--out", str(out),
                           "--hidden-size", "768", "--num-layers", "6", "--num-heads", "12", "--intermediate-size", "3072",
                           "--batch-size", "64", "--max-steps", "3"], capture_output=True, text=True, preexec_fn=cap)
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert re.match(r"error: (training ran )?out of memory.*try a smaller batch size, max length or model", last), last
    assert "Traceback" not in proc.stderr
    assert not (out / "model.safetensors").exists()


def test_train_writes_only_into_out(tmp_path, corpus_file):
    """Twice into the same --out (the second replaces the first): nothing is written in the working
    folder, home or /tmp but the checkpoint and BabyBERT's cache (one tokenizer and one token store,
    reused by the second run), and no temporary folder is left beside --out or in the cache."""
    import os
    from pathlib import Path

    for folder in ("cwd", "home", "tmp", "outputs"):
        (tmp_path / folder).mkdir()
    env = {**os.environ, "HOME": str(tmp_path / "home"), "TMPDIR": str(tmp_path / "tmp"),
           "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    env.pop("BABYBERT_CACHE")  # the default place: ~/.cache/babybert
    out = tmp_path / "outputs" / "model"
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-m", "babybert", "train", "--corpus", str(corpus_file), "--out", str(out),
                               "--max-steps", "5", *TINY], capture_output=True, text=True, env=env, cwd=tmp_path / "cwd")
        assert proc.returncode == 0, proc.stderr
    cache = tmp_path / "home" / ".cache" / "babybert"
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()
                     and not p.is_relative_to(tmp_path / "home" / ".cache" / "matplotlib") and not p.is_relative_to(cache))
    assert written == sorted(f"outputs/model/{p.name}" for p in out.iterdir())
    assert {"config.json", "model.safetensors", "README.md"} <= {p.name for p in out.iterdir()}
    (store,), (tokenizer,) = (cache / "tokens").iterdir(), (cache / "tokenizers").iterdir()
    assert sorted(p.name for p in store.iterdir()) == ["docs.int32", "held_out.txt", "ids.int32", "lengths.int32",
                                                        "meta.json"]
    assert (tokenizer / "tokenizer.json").is_file() and f"token store: {store}" in proc.stderr


def test_ctrl_c_then_resume_equals_a_run_never_stopped(tmp_path, corpus_file):
    """As a user does it: Ctrl-C a run saved with --save-every (it evaluates and saves), then
    `--resume` it; the weights equal those of the same command never interrupted."""
    import signal
    import time

    import torch

    from babybert import load_checkpoint

    command = [sys.executable, "-m", "babybert", "train", "--corpus", str(corpus_file), "--max-steps", "400",
               "--save-every", "1000", "--json", *TINY]
    straight = tmp_path / "straight"
    subprocess.run([*command, "--out", str(straight)], capture_output=True, check=True)

    out = tmp_path / "stopped"
    proc = subprocess.Popen([*command, "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:  # JSON events: interrupt after step 150
        if json.loads(line).get("step", 0) >= 150:
            proc.send_signal(signal.SIGINT)
            break
    proc.communicate(timeout=120)
    assert proc.returncode == 0
    stopped_at = load_checkpoint(out).info["steps"]
    assert 150 <= stopped_at < 400
    time.sleep(0.1)
    resumed = subprocess.run([sys.executable, "-m", "babybert", "train", "--corpus", str(corpus_file), "--resume", str(out)],
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming after step {stopped_at:,}" in resumed.stderr and "finished after 400 steps" in resumed.stderr
    a, b = load_checkpoint(straight).model.state_dict(), load_checkpoint(out).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_bug_shows_its_traceback_and_exits_1_a_users_mistake_one_line(monkeypatch, capsys, cli_checkpoint):
    """Only a UserError is the user's mistake; any other error, a ValueError included, is a bug."""
    import babybert.analysis.predict as predict

    def broken(*args, **kwargs):
        raise ValueError("an internal inconsistency")

    assert main(["fill-mask", str(cli_checkpoint[0]), "no mask here"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err
    monkeypatch.setattr(predict, "fill_mask", broken)
    assert main(["fill-mask", str(cli_checkpoint[0]), "the [MASK]."]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "ValueError: an internal inconsistency" in err and "this is a bug" in err

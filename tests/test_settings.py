"""A setting is declared once (babybert/config.py) and reaches every surface from there: the CLI's
flags and their checks, the app's controls, the runs table, babybert.json, bench and the docs."""

import json
import shutil
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from babybert.cli import build_parser
from babybert.cli.train import train_configs
from babybert.config import ModelConfig, TrainConfig, cli_flag, settings, settings_markdown, to_argv
from babybert.errors import UserError
from babybert.server.inputs import make_configs
from babybert.server.limits import Limits

from .conftest import animal_corpus

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = [(cls, f, s) for cls in (ModelConfig, TrainConfig) for f, s in settings(cls)]


def train_options() -> dict:
    parser = build_parser()
    train = parser._subparsers._group_actions[0].choices["train"]
    return train._option_string_actions


def parse(*argv: str):
    return train_configs(build_parser().parse_args(["train", "--corpus", "c.txt", "--out", "o", *argv]))


def test_every_training_field_is_a_flag_with_its_older_spellings():
    options = train_options()
    for cls, f, s in SETTINGS:
        for spelling in (cli_flag(f.name), *s.aliases):
            assert options[spelling].dest == f.name, spelling
    # every field of TrainConfig is a setting: reachable from the command line
    assert {f.name for f in fields(TrainConfig)} == {f.name for f, _ in settings(TrainConfig)}


def test_the_old_flags_still_mean_what_they_meant():
    model, config = parse("--num-layers", "3", "--num-heads", "4", "--max-seq-len", "64", "--hidden-size", "64",
                          "--init-range", "0.02", "--dropout", "0.1")
    assert (model.num_hidden_layers, model.num_attention_heads, model.max_position_embeddings) == (3, 4, 64)
    assert model.initializer_range == 0.02 and model.hidden_dropout_prob == model.attention_probs_dropout_prob == 0.1
    model, _ = parse("--dropout", "0.1", "--attention-probs-dropout-prob", "0.2")  # the specific flag wins
    assert (model.hidden_dropout_prob, model.attention_probs_dropout_prob) == (0.1, 0.2)
    assert build_parser().parse_args(["train", "--dataset", "a/b", "--split", "test", "--out", "o"]).dataset_split == "test"
    evaluating = build_parser().parse_args(["eval", "ckpt", "--corpus", "c.txt", "--split", "all"])
    assert evaluating.documents == "all" and evaluating.dataset_split is None  # eval's --split: its documents


def test_fields_never_on_the_cli_before_are_now():
    _, config = parse("--warmup", "0.1", "--weight-decay", "0", "--grad-clip", "0.5", "--no-lowercase", "--holdout",
                      "0.2")
    assert (config.warmup, config.weight_decay, config.grad_clip, config.lowercase, config.holdout) == (0.1, 0, 0.5,
                                                                                                         False, 0.2)


def test_the_command_line_bench_runs_is_the_configs_it_was_made_from():
    """bench trains the app's configs with the CLI: to_argv must give train() exactly them."""
    model = ModelConfig(hidden_size=64, num_hidden_layers=3, num_attention_heads=4, intermediate_size=96,
                        max_position_embeddings=48, hidden_dropout_prob=0.1, initializer_range=0.03)
    config = TrainConfig(tasks=("mlm",), epochs=None, max_steps=50, time_budget=12.5, batch_size=8, lr=1e-3, warmup=0.1,
                         weight_decay=0.0, grad_clip=2.0, mask_prob=0.2, vocab_size=300, lowercase=False, holdout=0.2,
                         eval_every=0, eval_sentences=30, seed=7, device="cpu", save_every=25)
    parsed_model, parsed = parse(*to_argv(model, config))
    assert parsed == config and parsed_model == model


@pytest.mark.parametrize("values, flags, message", [
    (dict(mask_prob=1.5), ["--mask-prob", "1.5"], "between 0 and 1"),
    (dict(max_position_embeddings=4), ["--max-seq-len", "4"], "at least 8"),
    (dict(hidden_size=30, num_attention_heads=4), ["--hidden-size", "30", "--num-heads", "4"], "divisible"),
    (dict(lr=0), ["--lr", "0"], "must be positive"),
])
def test_the_app_and_the_cli_apply_the_same_check(values, flags, message):
    with pytest.raises(UserError, match=message) as app:
        make_configs(Limits(), **values)
    with pytest.raises(UserError, match=message) as cli:
        parse(*flags)
    # each in its own words: the app names its control, the command line its flag
    first = next(iter(values))
    if first != "hidden_size":
        assert cli_flag(first) in str(cli.value) or any(f in str(cli.value) for f in flags)
        assert cli_flag(first) not in str(app.value)


def test_a_resumed_run_refuses_a_setting_it_would_ignore():
    args = build_parser().parse_args(["train", "--corpus", "c.txt", "--resume", "somewhere", "--lr", "0.01"])
    with pytest.raises(UserError, match="--lr cannot change with --resume"):
        train_configs(args)


def test_the_settings_page_is_made_from_the_declarations():
    page = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert page == settings_markdown(), ("docs/settings.md is out of date; remake it with: python -c \"from "
                                         "babybert.config import settings_markdown; print(settings_markdown(), "
                                         "end='')\" > docs/settings.md")
    for _, f, _ in SETTINGS:
        assert f"`{f.name}`" in page


NEW_FIELD = '''    label_smoothing: float = setting(0.0, "label smoothing of the MLM loss", "smoothing", TRAINING, low=0,
                                     high=1, high_open=True,
                                     control=Control("Label smoothing", minimum=0, maximum=0.5, step=0.05,
                                                     section=_TRAINING))

'''


@pytest.fixture(scope="module")
def checkout_with_a_new_field(tmp_path_factory) -> Path:
    """A copy of the checkout whose TrainConfig has one more field, added in config.py only."""
    root = tmp_path_factory.mktemp("checkout")
    shutil.copytree(ROOT / "babybert", root / "babybert", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "app.py", root / "app.py")
    for folder in ("examples", "checkpoints"):
        (root / folder).symlink_to(ROOT / folder)
    config = root / "babybert" / "config.py"
    text = config.read_text(encoding="utf-8")
    anchor = "    def validate(self, name=lambda field: field) -> None:\n        validate_fields(self, name)\n        if self.epochs"
    assert text.count(anchor) == 1
    config.write_text(text.replace(anchor, NEW_FIELD + anchor), encoding="utf-8")
    return root


def run(root: Path, *argv: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, *argv], cwd=root, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(root), "PYTHONPATH": str(root)})
    assert proc.returncode == 0, proc.stderr
    return proc


def test_a_field_added_in_one_place_reaches_the_cli_the_app_the_runs_table_and_babybert_json(checkout_with_a_new_field):
    root = checkout_with_a_new_field
    assert "--label-smoothing" in run(root, "-m", "babybert", "train", "--help").stdout
    (root / "corpus.txt").write_text(animal_corpus(12), encoding="utf-8")
    tiny = ["--hidden-size", "32", "--num-heads", "2", "--intermediate-size", "64", "--max-seq-len", "32",
            "--vocab-size", "200", "--max-steps", "2", "--eval-sentences", "20"]
    for name, smoothing in (("a", "0.1"), ("b", "0.2")):
        run(root, "-m", "babybert", "train", "--corpus", "corpus.txt", "--out", name, *tiny,
            "--label-smoothing", smoothing)
    info = json.loads((root / "a" / "babybert.json").read_text(encoding="utf-8"))
    assert info["train_config"]["label_smoothing"] == 0.1
    table = run(root, "-m", "babybert", "runs", "a", "b", "--csv", "runs.csv").stdout
    assert table.splitlines()[0].split()[:2] == ["run", "smoothing"]  # the only setting that differs
    assert "label_smoothing" in (root / "runs.csv").read_text(encoding="utf-8").splitlines()[0]
    shown = run(root, "-c", "import app, json; print(json.dumps([p['parameter_name'] for p in "
                            "app.demo.get_api_info()['named_endpoints']['/train']['parameters']]))").stdout
    assert "label_smoothing" in json.loads(shown.splitlines()[-1])
    labels = run(root, "-c", "import app; print([b.label for b in app.demo.blocks.values() if getattr(b, 'label', None)])")
    assert "'Label smoothing'" in labels.stdout

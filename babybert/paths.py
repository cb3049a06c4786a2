"""The repository's folders, in one place: what the package ships beside it in a source checkout
(examples, the default checkpoint, the app). An installed package has the library alone."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent  # babybert/
ROOT = PACKAGE.parent  # the repository (a source checkout)
EXAMPLES_DIR = ROOT / "examples"
DEFAULT_CORPUS = EXAMPLES_DIR / "world_facts.txt"
EXAMPLE_PAIRS = EXAMPLES_DIR / "minimal_pairs.jsonl"  # 12 of BLiMP's paradigms, 20 pairs each, written here
DEFAULT_CHECKPOINT = ROOT / "checkpoints" / "babybert-default"
APP = ROOT / "app.py"

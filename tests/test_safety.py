"""What the code never does, read from its syntax tree: no eval or exec, no pickle beyond
`torch.load(weights_only=True)`, no `trust_remote_code`, no shell. (What loading refuses is tested
with real files in test_checkpoint.py and test_hub.py.)"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "babybert").rglob("*.py")) + [ROOT / "app.py"]  # every layer


def calls(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Call):
            yield node, ast.unparse(node.func)


def keyword(call: ast.Call, name: str):
    return next((k.value for k in call.keywords if k.arg == name), None)


def is_constant(node, value) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_code_from_data(path):
    imported = {alias.name.split(".")[0] for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])}
    assert not imported & {"pickle", "marshal", "shelve", "dill", "cloudpickle", "joblib"}
    for call, name in calls(path):
        where = f"{path.name}:{call.lineno} {name}"
        assert name not in {"eval", "exec", "compile", "__import__", "yaml.load", "yaml.unsafe_load"}, where
        if name == "torch.load":
            assert is_constant(keyword(call, "weights_only"), True), f"{where} without weights_only=True"
        trust = keyword(call, "trust_remote_code")
        assert trust is None or is_constant(trust, False), f"{where} trusts remote code"
        shell = keyword(call, "shell")
        assert shell is None or is_constant(shell, False), f"{where} runs a shell"


def test_the_scan_sees_what_it_forbids(tmp_path):
    """The checks above would notice each thing they forbid."""
    bad = tmp_path / "bad.py"
    for line in ["eval(text)", "torch.load(path)", "torch.load(path, weights_only=False)",
                 "AutoModel.from_pretrained(repo, trust_remote_code=True)", "subprocess.run(cmd, shell=True)",
                 "import pickle"]:
        bad.write_text(line + "\n")
        with pytest.raises(AssertionError):
            test_no_code_from_data(bad)

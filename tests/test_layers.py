"""The folder tree is the architecture: imports only go down the layers (docs/architecture.md).

Every import in every module, at its top or inside a function, is read with `ast`, so a lazy
import cannot hide a dependency that goes up.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "babybert"

# bottom to top; a layer may import its own modules and those of lower layers only
LAYERS = {"babybert": 0, "bert": 1, "data": 2, "analysis": 3, "hub": 4, "training": 5, "bench": 6, "server": 6,
          "cli": 7}
MAX_TOP_LEVEL_MODULES = 12


def layer_of(module: str) -> str:
    """'babybert.data.store' -> 'data'; 'babybert.config' and 'babybert' -> 'babybert'."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else "babybert"


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__main__.py" and p != PACKAGE / "__init__.py")


def imported(path: Path) -> set[str]:
    """The babybert modules `path` imports (a `from babybert.x import y` counts as babybert.x.y
    when y is a module, which layer_of does not need to know)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import; the layers are read from absolute ones"
            if node.module and node.module.split(".")[0] == "babybert":
                names.update(f"{node.module}.{a.name}" if node.module == "babybert" else node.module for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.split(".")[0] == "babybert")
    return names


def module_name(path: Path) -> str:
    return ".".join(("babybert", *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__")


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_go_down_the_layers(path):
    mine = layer_of(module_name(path))
    for name in imported(path):
        theirs = layer_of(name)
        if name in ("babybert.__version__",):  # the package's version string, not its API
            continue
        assert theirs == mine or LAYERS[theirs] < LAYERS[mine], (
            f"{module_name(path)} (layer {mine}) imports {name} (layer {theirs}): imports go down the layers only")


def test_no_gradio_outside_the_app():
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names} | {
            n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not {m for m in found if m.split(".")[0] in ("gradio", "gradio_client")}, path


def test_few_modules_at_the_top_and_a_docstring_for_every_layer():
    top = [p.name for p in PACKAGE.glob("*.py")]
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top
    for layer in LAYERS:
        if layer == "babybert":
            continue
        init = PACKAGE / layer / "__init__.py"
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and len(doc) > 100, f"{init} needs a paragraph saying what the layer holds and may import"


def test_repository_folders_come_from_one_place():
    """babybert/paths.py names the checkout's folders; nothing else climbs out of the package."""
    for path in PACKAGE.rglob("*.py"):
        if path.name != "paths.py":
            assert "__file__" not in path.read_text(encoding="utf-8"), f"{path}: use babybert.paths"


MAX_FUNCTION_LINES = 100


def test_no_function_is_longer_than_a_screenful_or_two():
    """Long functions hide state; the training loop reads top to bottom in well under this."""
    long = []
    for path in [*PACKAGE.rglob("*.py"), PACKAGE.parent / "app.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.name}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, long

"""The import rules of the layout: the live path never reaches training code or torch.

``realtime`` → ``engines`` (kernel, runtime) and ``calibration``, never back; ``engines.runtime``
never imports ``engines.training``; nothing on the CPU live path imports torch at module level.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def imported_modules(path: Path, package: str) -> list[tuple[str, bool]]:
    """``(absolute module name, at module level)`` for every import in ``path``."""
    tree = ast.parse(path.read_text())
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top_level) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.append((name, id(node) in top_level))
    return found


def package_of(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    top = {"realtime": "posecast.realtime", "engines": "posecast.engines", "calibration": "posecast.calibration"}
    parts = rel.parts
    dotted = ".".join([top[parts[0]], *parts[1:]])
    return dotted if path.name == "__init__.py" else dotted.rsplit(".", 1)[0]


def sources(folder: str) -> list[Path]:
    return sorted((REPO / folder).rglob("*.py"))


#: The one exception: ``posecast adapt`` trains, and the CLI is the composition root, so this
#: command module may dispatch to training, inside its handler (never at module level).
DISPATCHES_TO_TRAINING = REPO / "realtime" / "commands" / "adapt.py"


@pytest.mark.parametrize("folder", ["realtime", "engines/runtime", "calibration"])
def test_live_path_never_imports_training(folder):
    for path in sources(folder):
        for name, module_level in imported_modules(path, package_of(path)):
            if path == DISPATCHES_TO_TRAINING and not module_level:
                continue
            assert not name.startswith("posecast.engines.training"), f"{path.relative_to(REPO)} imports {name}"


def test_the_exception_exists_and_imports_training_lazily():
    found = [(n, top) for n, top in imported_modules(DISPATCHES_TO_TRAINING, package_of(DISPATCHES_TO_TRAINING))
             if n.startswith("posecast.engines.training")]  # fmt: skip
    assert found and not any(top for _, top in found), found


@pytest.mark.parametrize("folder", ["engines", "calibration"])
def test_lower_layers_never_import_realtime(folder):
    for path in sources(folder):
        for name, _ in imported_modules(path, package_of(path)):
            assert not name.startswith("posecast.realtime"), f"{path.relative_to(REPO)} imports {name}"


def test_torch_is_imported_lazily_on_the_live_path():
    live = [p for p in sources("realtime") + sources("engines/runtime") + sources("calibration")]
    live += [REPO / "engines" / name for name in ("skeleton.py", "normalize.py", "camera.py", "metadata.py")]
    for path in live:
        for name, module_level in imported_modules(path, package_of(path)):
            if name.split(".")[0] == "torch" or name == "posecast.engines.networks":
                assert not module_level, f"{path.relative_to(REPO)} imports {name} at module level"

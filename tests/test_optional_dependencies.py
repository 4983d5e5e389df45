"""``pip install -e ".[test]"`` alone (no PyTorch, no ONNX: the training extra's) collects and runs
the tests (issue 15.11): the modules that need them at import are listed in ``conftest.py`` and
left out with a reason in the header; every other module imports without them. Checked here by
collecting the whole suite in a process where ``import torch`` and ``import onnx`` fail."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
BLOCKED = ("torch", "onnx", "torchvision", "matplotlib")
_COLLECT = f"""
import sys
for name in {BLOCKED!r}:
    sys.modules[name] = None  # `import name` now raises ModuleNotFoundError, as when it is not installed
import pytest
sys.exit(pytest.main(["--collect-only", "-p", "no:cacheprovider", {str(TESTS)!r}]))
"""


def test_suite_collects_without_the_training_extra() -> None:
    command = [sys.executable, "-c", _COLLECT]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=TESTS.parent)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]  # a module failing to import is a collection error: exit 2
    assert not re.search(r"\d+ errors? ", out) and "ERROR " not in out, out[-3000:]
    assert "not installed: torch, onnx;" in out and "are not collected" in out, out[:2000]
    assert re.search(r"collected \d+ items", out), out[-500:]

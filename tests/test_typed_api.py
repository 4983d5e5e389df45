"""posecast ships ``py.typed``: a program written against its documented API type-checks under
``mypy --strict`` (QA, a typed game-tools code base: the README's own loop was an error, ``with``
lost the stage's class, the registries' constructors and ``closing(pipeline.run(...))`` were
refused, and ``frame.world`` was ``Any``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PROGRAM = Path(__file__).with_name("typed_downstream.py")


def test_a_program_using_the_documented_api_type_checks_strictly(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    # posecast as a wheel lays it out: the editable install maps the folders with an import hook
    # that type checkers cannot follow (README: Using it from typed code)
    package = tmp_path / "site" / "posecast"
    package.mkdir(parents=True)
    for name in ("realtime", "engines", "calibration"):
        (package / name).symlink_to(REPO / name, target_is_directory=True)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", "--no-incremental",
         "--cache-dir", str(tmp_path / "cache"), str(PROGRAM)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={"MYPYPATH": str(package.parent), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr

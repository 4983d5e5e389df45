"""The wheel a user installs (``pip install .``, not the editable install the tests run from):
built offline from this checkout, it holds every shipped model with its sidecars, the viewer's
files, the demo clip and the weights' licence (CC BY-NC 4.0 with its attribution: QA found the
wheel shipped 53 MB of weights under the Apache LICENSE alone), and no top-level package of its
own beyond ``posecast``."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from posecast.engines.runtime.base import MODELS

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the committed files: setuptools builds in the source tree, and its
    posecast.egg-info there, found first on the path of anything run from the checkout, would
    shadow the installed package's metadata."""
    if int(metadata.version("setuptools").split(".")[0]) < 77:
        pytest.fail('setuptools >= 77 builds posecast (pyproject.toml): pip install -e ".[test]" installs it')
    source = tmp_path_factory.mktemp("source") / "posecast"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, timeout=60)
    if tracked.returncode == 0 and tracked.stdout:  # the committed files: a model present here alone would pass
        for name in tracked.stdout.decode().split("\0"):
            if name and (REPO / name).is_file():
                (source / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / name, source / name)
    else:  # not a git checkout (an unpacked archive)
        shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "node_modules", ".pytest_cache", "runs"))
    yield source
    shutil.rmtree(source)  # (120 MB, kept in pytest's last three temporary folders otherwise)


@pytest.fixture(scope="module")
def wheel(source: Path, tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out),
               str(source)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=out)
    assert done.returncode == 0, done.stderr[-3000:]
    (built,) = out.glob("posecast-*.whl")
    with zipfile.ZipFile(built) as archive:
        yield archive


def test_the_sdist_is_the_whole_project(source: Path, tmp_path: Path) -> None:
    """The source distribution holds the tests, tools, docs, clients and the viewer bundle's source
    beside the packages (it held the packages alone, QA), and no npm packages or caches."""
    build = ("import sys; from setuptools import build_meta; "
             "print(build_meta.build_sdist(sys.argv[1]))")  # (the PEP 517 hook: offline, no `build` package)
    done = subprocess.run([sys.executable, "-c", build, str(tmp_path)], capture_output=True, text=True,
                          timeout=300, cwd=source)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    with tarfile.open(tmp_path / done.stdout.strip().splitlines()[-1]) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    tracked = {str(p.relative_to(source)) for p in source.rglob("*") if p.is_file()}
    expected = {name for name in tracked if name.split("/")[0] in ("tests", "tools", "docs", "clients")}
    expected |= {name for name in tracked if name.startswith("realtime/viewer/bundle/")}
    assert expected and not expected - names, sorted(expected - names)[:10]
    assert {"README.md", "LICENSE", "pyproject.toml", ".ci/run"} <= names
    assert not [n for n in names if "node_modules" in n or "__pycache__" in n or n.endswith(".pyc")]


def test_the_wheel_ships_every_model_and_its_licence(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    for file in MODELS.values():
        assert f"posecast/engines/weights/{file}" in names, file
        assert f"posecast/engines/weights/{file.removesuffix('.onnx')}.int8.onnx" in names, file  # run's CPU copy
    assert any(n.startswith("posecast/realtime/viewer/static/") and n.endswith(".html") for n in names)
    assert any(n.startswith("posecast/realtime/data/") and n.endswith(".mp4") for n in names)
    # typed (PEP 561): a program's type checker reads the hints (QA: mypy ignored them)
    assert {f"posecast/{p}/py.typed" for p in ("realtime", "engines", "calibration")} <= names
    notice = wheel.read("posecast/engines/weights/WEIGHTS_LICENSE.md").decode()
    assert "Attribution-NonCommercial 4.0 International" in notice and "Bandai Namco Research Inc." in notice
    (info,) = {n.split("/")[0] for n in names if ".dist-info/" in n}
    meta = wheel.read(f"{info}/METADATA").decode()
    assert "License-Expression: Apache-2.0 AND CC-BY-NC-4.0" in meta
    assert f"{info}/licenses/LICENSE" in names and f"{info}/licenses/engines/weights/WEIGHTS_LICENSE.md" in names
    assert {n.split("/")[0] for n in names} == {"posecast", info}  # no tests/ or tools/ installed
    assert not [n for n in names if "/viewer/bundle/" in n]  # the bundle's source: in the sdist only

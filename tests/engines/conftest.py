"""Shared fixtures for the training-side engines tests: three real CMU takes from
``tests/fixtures/cmu`` (free for all uses; see its README), read once per session into a
private cache (the tests never touch ``~/.cache``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CMU_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cmu"

#: Three short CMU takes (120 fps, 149 to 485 frames, two subjects' skeletons): a slow walk,
#: a run, a run with a leap (CRLF line endings).
CLIP_NAMES = ("08_04", "09_01", "49_04")


@pytest.fixture(scope="session")
def clip_names() -> tuple[str, ...]:
    return CLIP_NAMES


@pytest.fixture(scope="session")
def bvh_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding copies of the :data:`CLIP_NAMES` BVH files (tests may add files beside them)."""
    dest = tmp_path_factory.mktemp("bvh")
    for name in CLIP_NAMES:
        shutil.copyfile(CMU_FIXTURES / f"{name}.bvh", dest / f"{name}.bvh")
    return dest


@pytest.fixture(scope="session")
def clips(bvh_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list:
    """The three takes as :class:`posecast.engines.training.data.dataset.Clip`, parsed through a private cache."""
    from posecast.engines.training.data.dataset import load_clips

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("POSECAST_CACHE", str(tmp_path_factory.mktemp("clip-cache")))
        loaded = load_clips(bvh_dir)
    assert [c.name for c in loaded] == sorted(CLIP_NAMES)
    return loaded


@pytest.fixture
def posecast_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A fresh ``$POSECAST_CACHE`` for one test."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("POSECAST_CACHE", str(cache))
    return cache

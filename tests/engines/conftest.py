"""Shared fixtures for the training-side engines tests: a few real Bandai-Namco clips, read once
per session into a private cache (the tests never touch ``~/.cache``)."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

#: Three short clips of Bandai-Namco dataset 1 (59 to ~240 frames), none of them held out.
CLIP_NAMES = ("dataset-1_run_masculinity_001", "dataset-1_dash_proud_001", "dataset-1_walk_normal_001")


def shared_dir() -> Path:
    """``/work/shared`` next to the repository, or ``$POSECAST_SHARED`` when set."""
    env = os.environ.get("POSECAST_SHARED")
    return Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared"


@pytest.fixture(scope="session")
def bandai_archive() -> Path:
    archive = shared_dir() / "data" / "bandai-namco" / "dataset-1.tar.xz"
    if not archive.is_file():
        pytest.skip(f"mocap archive {archive} not found: set POSECAST_SHARED")
    return archive


@pytest.fixture(scope="session")
def clip_names() -> tuple[str, ...]:
    return CLIP_NAMES


@pytest.fixture(scope="session")
def bvh_dir(bandai_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the :data:`CLIP_NAMES` BVH files, extracted from the real archive."""
    dest = tmp_path_factory.mktemp("bvh")
    wanted = {f"{name}.bvh" for name in CLIP_NAMES}
    with tarfile.open(bandai_archive) as tar:
        for member in tar:
            name = Path(member.name).name
            if member.isfile() and name in wanted:
                (dest / name).write_bytes(tar.extractfile(member).read())
                wanted.discard(name)
                if not wanted:
                    break
    assert not wanted, f"clips {sorted(wanted)} missing from {bandai_archive}"
    return dest


@pytest.fixture(scope="session")
def clips(bvh_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list:
    """The three clips as :class:`posecast.engines.training.data.dataset.Clip`, parsed through a private cache."""
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

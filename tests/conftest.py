"""Shared fixtures: the real media clips in the shared folder and the cached MediaPipe model."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import numpy as np
import pytest
from posecast.engines.errors import AssetError


def shared_dir() -> Path:
    """``/work/shared`` next to the repository, or ``$POSECAST_SHARED`` when set."""
    env = os.environ.get("POSECAST_SHARED")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def media_dir() -> Path:
    """Folder of the real test clips (skips the test when the shared folder is absent)."""
    media = shared_dir() / "media"
    if not media.is_dir():
        pytest.skip(f"shared media folder {media} not found: set POSECAST_SHARED")
    return media


@pytest.fixture(scope="session")
def pose_model_path() -> Path:
    """The MediaPipe ``pose_landmarker_full`` model from the posecast cache (downloaded once;
    skips the test when it is neither cached nor downloadable)."""
    from posecast.engines.assets import ensure_asset

    try:
        return ensure_asset("pose_landmarker_full")
    except AssetError as exc:
        pytest.skip(f"MediaPipe model unavailable: {exc}")


WALK_CLIP = "Bandai-Namco-Research-Motiondataset-1/data/dataset-1_walk_normal_001.bvh"


@pytest.fixture(scope="session")
def walk_joints(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """One real Bandai-Namco walking clip (6.5 s, 30 fps) as posecast joints ``(F, 17, 3)``,
    metres, mocap world frame (Y up), read from the archive in the shared folder."""
    from posecast.engines.training.data.bvh import load_bvh_joints

    archive = shared_dir() / "data" / "bandai-namco" / "dataset-1.tar.xz"
    if not archive.is_file():
        pytest.skip(f"mocap archive {archive} not found: set POSECAST_SHARED")
    folder = tmp_path_factory.mktemp("walk")
    with tarfile.open(archive) as tar:
        member = tar.getmember(WALK_CLIP)
        member.name = "walk.bvh"
        tar.extract(member, folder, filter="data")
    joints, fps = load_bvh_joints(folder / "walk.bvh")
    assert round(fps) == 30
    return joints

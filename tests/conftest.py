"""Shared fixtures: the real media clips in the shared folder and the cached MediaPipe model."""

from __future__ import annotations

import os
from pathlib import Path

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

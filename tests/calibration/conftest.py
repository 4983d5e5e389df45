"""Fixtures of the calibration tests: synthetic board images (rendered once). The mocap walk of the
subject tests is ``walk_joints`` (tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from calib_synthetic import (
    BARREL_DIST,
    BARREL_K,
    FOLDING_DIST,
    HEIGHT,
    WIDTH,
    Camera,
    random_poses,
    render,
    true_camera,
)

NUM_VIEWS = 15


@pytest.fixture(scope="session")
def camera() -> Camera:
    return true_camera()


@pytest.fixture(scope="session")
def board_views(camera: Camera) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``NUM_VIEWS`` (image (480, 640) uint8, rvec, tvec) of the 9x6 chessboard."""
    return [(render(camera, r, t, seed=i), r, t) for i, (r, t) in enumerate(random_poses(camera, NUM_VIEWS))]


@pytest.fixture(scope="session")
def image_dir(tmp_path_factory: pytest.TempPathFactory, board_views) -> Path:
    """The synthetic views as PNG files in a folder."""
    folder = tmp_path_factory.mktemp("board_images")
    for i, (image, _, _) in enumerate(board_views):
        cv2.imwrite(str(folder / f"view_{i:02d}.png"), image)
    return folder


def _render_folder(folder: Path, k: np.ndarray, dist: np.ndarray) -> Path:
    camera = Camera(k, dist, WIDTH, HEIGHT)
    for i, (rvec, tvec) in enumerate(random_poses(camera, NUM_VIEWS)):
        cv2.imwrite(str(folder / f"view_{i:02d}.png"), render(camera, rvec, tvec, seed=i))
    return folder


@pytest.fixture(scope="session")
def barrel_image_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``NUM_VIEWS`` PNG views of the 9x6 chessboard through :data:`BARREL_DIST`."""
    return _render_folder(tmp_path_factory.mktemp("barrel_images"), BARREL_K, BARREL_DIST)


@pytest.fixture(scope="session")
def folding_image_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``NUM_VIEWS`` PNG views of the 9x6 chessboard through :data:`FOLDING_DIST`."""
    return _render_folder(tmp_path_factory.mktemp("folding_images"), BARREL_K, FOLDING_DIST)

"""An input the user cannot read is said to be unreadable, in one line, exit 2 (error-contract QA):
a lift input and an image folder gave tracebacks, a MediaPipe model a 49-line one, and a video,
a lifting model and one image of a folder were called corrupt ("re-encode it"). Real ``posecast``
processes; as root they run without the capabilities that read any file, so modes count as they
do for a user."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX file modes")


def _posecast(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "posecast.realtime.cli", *args]
    if os.geteuid() == 0:  # root reads any file: drop what lets it
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without util-linux setpriv to drop CAP_DAC_OVERRIDE")
        command = [setpriv, "--bounding-set", "-dac_override,-dac_read_search", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture
def inputs(tmp_path: Path, media_dir: Path, pose_model_path: Path) -> Path:
    """Readable copies made unreadable: a lift input, a video, a lifting model, a MediaPipe
    model, a folder of images, one that can be listed but not entered, and a folder with one
    unreadable image."""
    from posecast.engines.runtime.base import resolve_model

    np.savez(tmp_path / "in.npz", keypoints_2d=np.zeros((5, 17, 2), np.float32),
             intrinsics=np.array([500.0, 500.0, 320.0, 240.0]), fps=30.0)  # fmt: skip
    shutil.copy(media_dir / "dance_576.mp4", tmp_path / "clip.mp4")
    shutil.copy(resolve_model(None), tmp_path / "model.onnx")
    shutil.copy(pose_model_path, tmp_path / "landmarker.task")
    import cv2

    capture = cv2.VideoCapture(str(media_dir / "dance_576.mp4"))
    for folder in ("closed", "images", "listed"):
        (tmp_path / folder).mkdir()
    for i in range(4):
        image = capture.read()[1]
        cv2.imwrite(str(tmp_path / "images" / f"{i:03d}.jpg"), image)
        cv2.imwrite(str(tmp_path / "closed" / f"{i:03d}.jpg"), image)
        cv2.imwrite(str(tmp_path / "listed" / f"{i:03d}.jpg"), image)
    capture.release()
    for name in ("in.npz", "clip.mp4", "model.onnx", "landmarker.task", "closed", "images/001.jpg"):
        (tmp_path / name).chmod(0)
    (tmp_path / "listed").chmod(0o600)  # read (its names can be listed) but no search (x): nothing in it opens
    yield tmp_path
    for folder in ("closed", "listed"):
        (tmp_path / folder).chmod(0o700)  # so that pytest can remove it


RUN = ("run", "--headless", "--publish", "none", "--frames", "3")


@pytest.mark.parametrize(("args", "named"), [
    (("lift", "--input", "{d}/in.npz", "--output", "{d}/out.npz"), "lift input {d}/in.npz"),
    ((*RUN, "--source", "{d}/closed", "--model-asset", "{model}"), "image folder {d}/closed"),
    ((*RUN, "--source", "{d}/listed", "--model-asset", "{model}"), "image folder {d}/listed"),
    ((*RUN, "--source", "{d}/clip.mp4", "--model-asset", "{model}"), "video file {d}/clip.mp4"),
    ((*RUN, "--source", "{d}/images", "--model-asset", "{d}/landmarker.task"), "file {d}/landmarker.task"),
    (("engines", "info", "--model", "{d}/model.onnx"), "model file {d}/model.onnx"),
    (("calibrate", "camera", "--images", "{d}/closed", "--board", "9x6", "--square", "0.025", "-o", "{d}/out.yaml"),
     "image directory {d}/closed"),
])  # fmt: skip
def test_an_unreadable_input_is_one_line(inputs: Path, pose_model_path: Path, args: tuple, named: str) -> None:
    done = _posecast(*(a.format(d=inputs, model=pose_model_path) for a in args))
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert lines[-1].startswith("posecast: error: "), done.stderr
    assert f"{named.format(d=inputs)} cannot be read (permission denied" in lines[-1] and "chmod" in lines[-1], lines
    assert not (inputs / "out.npz").exists() and not (inputs / "out.yaml").exists()


def test_an_unreadable_image_is_skipped_as_unreadable_not_corrupt(inputs: Path, pose_model_path: Path) -> None:
    done = _posecast(*RUN, "--frames", "4", "--source", str(inputs / "images"), "--model-asset", str(pose_model_path))
    assert done.returncode == 0, done.stderr
    assert f"skipped {inputs / 'images' / '001.jpg'}: it cannot be read (permission denied" in done.stderr, done.stderr
    assert "corrupt?" not in done.stderr


def test_an_unreadable_engine_cache_is_one_line(inputs: Path, tmp_path: Path) -> None:
    """``$POSECAST_CACHE/engines`` without permissions: a model's INT8 copy looked up there gave a
    43-line traceback (error-contract QA)."""
    (inputs / "model.onnx").chmod(0o600)
    cache = tmp_path / "cache"
    (cache / "engines").mkdir(parents=True)
    (cache / "engines").chmod(0)
    env = {**os.environ, "POSECAST_CACHE": str(cache)}
    try:
        done = _posecast("lift", "--input", str(_readable_lift_input(tmp_path)), "--output", str(tmp_path / "o.npz"),
                         "--model", str(inputs / "model.onnx"), "--int8", env=env)  # fmt: skip
    finally:
        (cache / "engines").chmod(0o700)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    said = done.stderr.strip().splitlines()[-1]
    assert said == (f"posecast: error: cannot read the engine cache {cache / 'engines'} (Permission denied): give "
                    "yourself access to it (chmod u+rwx), or set POSECAST_CACHE to another folder")  # fmt: skip


def _readable_lift_input(folder: Path) -> Path:
    path = folder / "readable.npz"
    from posecast.engines import rotations, skeleton

    standing = rotations.rest_pose(skeleton.bone_lengths_from_height(1.7))  # metres, y up, 3 m away
    keypoints = (np.array([320.0, 240.0]) + 500 * standing[:, :2] * [1.0, -1.0] / 3.0
                 + np.random.default_rng(0).normal(0, 3, (40, 17, 2))).astype(np.float32)  # fmt: skip
    np.savez(path, keypoints_2d=keypoints, intrinsics=np.array([500.0, 500.0, 320.0, 240.0]), fps=30.0)
    return path

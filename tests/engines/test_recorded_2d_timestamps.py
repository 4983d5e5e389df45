"""Recorded 2D for training and ``posecast adapt`` runs on its ``timestamps_s`` when it has them: a
live take's frames are not ``1 / fps`` apart (a camera delivers what the pipeline keeps up with,
and stalls), so counting them at the ``fps`` its file states warped its motion in time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from posecast.engines import normalize, skeleton
from posecast.engines.training.data.cameras import sample_cameras
from posecast.engines.training.data.windows import load_recorded_2d, person_runs

INTRINSICS = np.array([900.0, 900.0, 640.0, 360.0])


def _filmed(walk_joints: np.ndarray) -> np.ndarray:
    """The 30 fps walk as a webcam's 2D, pixels ``(F, 17, 2)``."""
    camera = sample_cameras(walk_joints[:, skeleton.ROOT].mean(0)[None], np.random.default_rng(4))
    norm = normalize.project(camera.to_camera(walk_joints[None].astype(np.float64)))[0]
    return norm * INTRINSICS[:2] + INTRINSICS[2:]


def test_a_live_take_is_resampled_on_its_timestamps(walk_joints: np.ndarray, tmp_path: Path) -> None:
    pixels = _filmed(walk_joints)
    truth = normalize.normalize_pixels(pixels, INTRINSICS)
    steps = np.random.default_rng(0).choice([1, 2], size=len(pixels))  # one or two camera frames apart
    kept = np.cumsum(np.r_[0, steps])
    kept = kept[kept < len(pixels)]
    np.savez(tmp_path / "take.npz", keypoints_2d=pixels[kept], intrinsics=INTRINSICS, fps=25.0,  # a driver's guess
             timestamps_s=kept / 30.0)  # fmt: skip
    norm, confidence, fps = load_recorded_2d(tmp_path / "take.npz", 30.0)
    assert fps == 30.0 and len(norm) == kept[-1] + 1  # the take's span at 30 fps
    error = np.abs(norm - truth[: len(norm)]).max(axis=(1, 2))
    assert error[kept].max() < 1e-9  # a recorded frame as recorded
    # the file's fps alone (frames taken as 1/25 s apart) puts the motion at other times
    np.savez(tmp_path / "counted.npz", keypoints_2d=pixels[kept], intrinsics=INTRINSICS, fps=25.0)
    counted = load_recorded_2d(tmp_path / "counted.npz", 30.0)[0]
    frames = min(len(counted), len(norm))
    counted_error = np.abs(counted[:frames] - truth[:frames]).max(axis=(1, 2))
    # a skipped frame, between its neighbours, is near the truth (the walk moves little in 33 ms)
    assert np.median(error) < 0.2 * np.median(counted_error), (np.median(error), np.median(counted_error))


def test_a_long_gap_ends_a_run(walk_joints: np.ndarray, tmp_path: Path) -> None:
    """0.8 s without frames (a stall): no window spans it, nothing is made up across it."""
    pixels = _filmed(walk_joints)
    kept = np.r_[np.arange(0, 40), np.arange(64, len(pixels))]  # frames 40-63 never came
    np.savez(tmp_path / "take.npz", keypoints_2d=pixels[kept], intrinsics=INTRINSICS, fps=30.0,
             timestamps_s=kept / 30.0)  # fmt: skip
    norm, confidence, _ = load_recorded_2d(tmp_path / "take.npz", 30.0)
    runs = person_runs(norm, confidence)
    assert [len(run[0]) for run in runs] == [40, len(pixels) - 64]
    assert np.isnan(norm[40:64]).all() and not confidence[40:64].any()


def test_a_gap_of_days_is_one_gap_not_millions_of_empty_frames(walk_joints: np.ndarray, tmp_path: Path) -> None:
    """A take stamped 11.6 days apart in the middle (a suspended laptop, a clock that jumped): the
    grid over its span made `posecast adapt` take 6 GB in 6 s (error-contract QA). The gap stays
    one (no window spans it, the runs on each side are whole) at twice the longest bridged gap."""
    pixels = _filmed(walk_joints)
    times_s = np.arange(len(pixels)) / 30.0
    times_s[40:] += 1e6
    np.savez(tmp_path / "take.npz", keypoints_2d=pixels, intrinsics=INTRINSICS, fps=30.0, timestamps_s=times_s)
    norm, confidence, _ = load_recorded_2d(tmp_path / "take.npz", 30.0)
    assert len(norm) == len(pixels) + 29  # the gap held for 1 s: 30 grid steps where there was one
    assert [len(run[0]) for run in person_runs(norm, confidence)] == [40, len(pixels) - 40]

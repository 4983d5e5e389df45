"""Which inputs ``posecast adapt`` makes of the paths it is given (``realtime.footage.expand_inputs``):
a folder of videos, recordings and 2D files stands for its files; a folder of images is one input."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from posecast.realtime.errors import SourceError
from posecast.realtime.footage import expand_inputs


def _touch(folder: Path, *names: str) -> Path:
    folder.mkdir()
    for name in names:
        (folder / name).write_bytes(b"x")
    return folder


def test_a_folder_of_videos_recordings_and_2d_stands_for_its_files(tmp_path: Path) -> None:
    folder = _touch(tmp_path / "mine", "b.MP4", "a.npz", "c.posecast", "d.mkv", "notes.txt", ".hidden.mp4")
    single = tmp_path / "one.mov"
    single.write_bytes(b"x")
    expanded = expand_inputs([folder, single])
    assert [(p.name, kind) for p, kind in expanded] == [
        ("a.npz", "npz"), ("b.MP4", "video"), ("c.posecast", "recording"), ("d.mkv", "video"), ("one.mov", "video"),
    ]  # fmt: skip


def test_a_folder_of_takes_stands_for_them_as_posecast_named_them_then_and_now(tmp_path: Path) -> None:
    """``adapt TAKES/`` of a ``--record TAKES/`` folder: takes of one second named _002, _003… come
    in the order made (``-2`` and ``-10`` an older posecast wrote did not), and those older names,
    UTC or local time, are still read as recordings."""
    import calendar

    from posecast.realtime.sinks.record import dated_take

    folder = _touch(tmp_path / "takes", "take-20261207-030405Z-2.posecast", "take-20261025-023000.posecast",
                    "take-20261025-023000-2.posecast")  # fmt: skip
    made = []
    for _ in range(11):
        made.append(dated_take(folder, calendar.timegm((2026, 12, 7, 3, 4, 5))))
        made[-1].write_bytes(b"x")
    expanded = expand_inputs([folder])
    assert {kind for _, kind in expanded} == {"recording"} and len(expanded) == 3 + 11
    assert [p for p, _ in expanded if p in made] == made
    assert {p.name for p, _ in expanded} >= {"take-20261207-030405Z-2.posecast", "take-20261025-023000.posecast",
                                             "take-20261025-023000-2.posecast"}  # fmt: skip


def test_a_folder_of_images_is_one_input(tmp_path: Path) -> None:
    folder = _touch(tmp_path / "frames", "000.png", "001.jpg", "list.txt")
    assert expand_inputs([folder]) == [(folder, "images")]


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (("000.png", "clip.mp4"), "holds both images (000.png, ...) and clip.mp4: give the image folder and the other"),
        (("notes.txt",), "holds no images, videos (.mp4"),
        ((), "holds no images, videos"),
    ],
)
def test_a_folder_that_says_nothing_clear_is_refused(tmp_path: Path, names: tuple[str, ...], message: str) -> None:
    with pytest.raises(SourceError, match=re.escape(message)):
        expand_inputs([_touch(tmp_path / "f", *names)])


def test_a_missing_input_is_named(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="absent.mp4 does not exist"):
        expand_inputs([tmp_path / "absent.mp4"])


def test_posecast_lift_s_output_beside_its_input_is_left_out_said(
    tmp_path: Path, media_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """QA: ``lift --output FOLDER`` writes ``NAME_3d.npz`` beside its input, and ``adapt FOLDER`` then
    failed whole ("lacks arrays ['intrinsics', 'keypoints_2d']"). 3D is no footage: left out, said."""
    import json

    import numpy as np
    from posecast.calibration import CameraIntrinsics
    from posecast.engines import skeleton
    from posecast.realtime.cli import main

    folder = tmp_path / "clips"
    folder.mkdir()
    landmarks = np.array(json.loads((media_dir / "squats_720x1280.mediapipe_full_2d.json").read_text()))
    np.savez(folder / "walk_2d.npz", keypoints_2d=skeleton.from_mediapipe(landmarks)[..., :2],
             intrinsics=CameraIntrinsics.from_hfov(60.0, 720, 1280).as_array(), fps=5.0)  # fmt: skip
    assert main(["lift", "--input", str(folder / "walk_2d.npz"), "--output", str(folder)]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["walk_2d.npz", "walk_2d_3d.npz"]
    with caplog.at_level("INFO", logger="posecast.realtime.footage"):
        assert expand_inputs([folder]) == [(folder / "walk_2d.npz", "npz")]
    assert "1 file(s) of posecast lift's 3D left out (e.g. walk_2d_3d.npz): adapt reads 2D" in caplog.text

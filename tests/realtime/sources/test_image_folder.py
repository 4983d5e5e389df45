"""Image folders as users make them: a folder named like an image inside, images of mixed sizes.
Frames of the real dance clip, the real CLI."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from posecast.calibration import CameraIntrinsics
from posecast.realtime.errors import SourceError
from posecast.realtime.sources import ImageFolderSource, open_source
from source_reading import read_all

LOGGER = "posecast.realtime.sources.images"


@pytest.fixture(scope="module")
def dance(dance_frames: list[np.ndarray]) -> list[np.ndarray]:
    """The dance clip's first 8 frames (576x576, BGR)."""
    return dance_frames[:8]


def test_a_folder_named_like_an_image_is_not_an_image(dance, tmp_path, caplog) -> None:
    """``x.jpg/`` and ``zz.png/`` inside the folder used to be counted as undecodable images
    (a warning, "1 of 4 images ... could not be decoded")."""
    for i, image in enumerate(dance[:3]):
        cv2.imwrite(str(tmp_path / f"frame_{i:03d}.png"), image)
    (tmp_path / "x.jpg").mkdir()
    (tmp_path / "zz.png").mkdir()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        source = open_source(str(tmp_path))
        frames = read_all(source)
    assert [f.frame_id for f in frames] == [0, 1, 2]
    assert source.frame_count == 3 and source.skipped_images == 0
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text


def test_a_folder_holding_only_folders_named_like_images_has_no_images(tmp_path) -> None:
    (tmp_path / "a.jpg").mkdir()
    (tmp_path / "b.png").mkdir()
    with pytest.raises(SourceError, match="holds no images: expected files ending in"):
        ImageFolderSource(tmp_path).open()


def _mixed_folder(dance: list[np.ndarray], folder: Path) -> list[tuple[int, int]]:
    """The dance frames, every other one halved (576 and 288 square); their sizes, in order."""
    folder.mkdir()
    sizes = []
    for i, image in enumerate(dance):
        if i % 2:
            image = cv2.resize(image, (288, 288), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(folder / f"frame_{i:03d}.png"), image)
        sizes.append((image.shape[1], image.shape[0]))
    return sizes


def test_mixed_sizes_are_read_as_they_are_and_warned_about_once(dance, tmp_path, caplog) -> None:
    sizes = _mixed_folder(dance, tmp_path / "mixed")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        frames = read_all(ImageFolderSource(tmp_path / "mixed"))
    assert [f.image_size for f in frames] == sizes
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "differ in size: frame_001.png is 288x288, frame_000.png was 576x576" in warnings[0]


@pytest.mark.slow
def test_run_on_mixed_sizes_logs_the_intrinsics_once_per_size(dance, tmp_path, pose_model_path) -> None:
    """``posecast run`` on a folder whose images alternate between two sizes (and that holds a
    folder named ``zz.jpg``): the intrinsics line once per size (it was once per frame), one
    warning that the sizes differ, no image counted as undecodable; each frame is still lifted with
    its own size's intrinsics (the meta line before each pose line is that size's)."""
    folder = tmp_path / "mixed"
    sizes = _mixed_folder(dance, folder)
    (folder / "zz.jpg").mkdir()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OPENCV_")}
    proc = subprocess.run([sys.executable, "-m", "posecast.realtime.cli", "run", "--source", str(folder),
                           "--headless", "--publish", "none", "--print", "json", "--model-asset",
                           str(pose_model_path)], capture_output=True, text=True, timeout=180, env=clean)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    stderr = proc.stderr.splitlines()
    intrinsics_lines = [line for line in stderr if line.startswith("intrinsics: ")]
    assert [line.split()[1] for line in intrinsics_lines] == ["576x576", "288x288"], proc.stderr
    assert sum("differ in size" in line for line in stderr) == 1, proc.stderr
    assert "could not be read" not in proc.stderr and "could not decode" not in proc.stderr
    meta, seen = None, []
    for line in map(json.loads, proc.stdout.splitlines()):
        if line["topic"] == "meta":
            meta = line
            continue
        width, height = sizes[line["frame_id"]]
        expected = CameraIntrinsics.from_hfov(60.0, width, height)
        assert meta["image_size"] == [width, height]
        np.testing.assert_allclose(meta["intrinsics"], [expected.fx, expected.fy, expected.cx, expected.cy],
                                   atol=1e-4)  # fmt: skip
        seen.append(line["frame_id"])
    assert seen == list(range(len(sizes)))


def test_with_a_camera_file_images_it_does_not_fit_are_skipped(dance, tmp_path, pose_model_path) -> None:
    """CLI QA: ``--intrinsics`` (a camera calibrated at 576x576) on a folder holding one 320x200
    image: the warning said each size is lifted with its own intrinsics, the run failed at that
    image (exit 2) after its outputs were made from the images before. The image is skipped and
    counted, as an unreadable one is; a rescaled size (288x288) is lifted with the file rescaled."""
    from posecast.calibration.io import save_intrinsics

    folder = tmp_path / "mixed"
    folder.mkdir()
    for i, image in enumerate(dance[:4]):
        cv2.imwrite(str(folder / f"f{i:03d}.jpg"), image)
    cv2.imwrite(str(folder / "f001b.png"), cv2.resize(dance[4], (320, 200)))  # another camera's
    cv2.imwrite(str(folder / "f002b.png"), cv2.resize(dance[5], (288, 288)))  # the same camera, smaller
    camera = tmp_path / "camera.yaml"
    save_intrinsics(CameraIntrinsics.from_hfov(60.0, 576, 576), camera)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OPENCV_")}
    proc = subprocess.run([sys.executable, "-m", "posecast.realtime.cli", "run", "--source", str(folder),
                           "--intrinsics", str(camera), "--headless", "--publish", "none", "--print", "json",
                           "--model-asset", str(pose_model_path)], capture_output=True, text=True, timeout=180,
                          env=clean)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"skipped {folder / 'f001b.png'}: the camera file (--intrinsics) does not fit it: camera calibrated at " \
           "576x576 cannot be rescaled to 320x200" in proc.stderr, proc.stderr
    assert "1 of 6 images" in proc.stderr and "lifted with the camera file rescaled to its size" in proc.stderr
    poses = [line for line in map(json.loads, proc.stdout.splitlines()) if line["topic"] == "pose"]
    assert sorted({p["frame_id"] for p in poses}) == [0, 1, 3, 4, 5]  # f001b.png's place (2) left out


def test_an_image_removed_while_the_folder_is_read_is_said_to_be_gone(dance, tmp_path, caplog) -> None:
    """The folder is listed when it opens; an image removed afterwards was reported as "empty or
    corrupt"."""
    for i, image in enumerate(dance[:4]):
        cv2.imwrite(str(tmp_path / f"frame_{i:03d}.png"), image)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        source = open_source(str(tmp_path))
        with source:
            first = source.read()
            (tmp_path / "frame_002.png").unlink()
            (tmp_path / "frame_009.png").write_bytes((tmp_path / "frame_000.png").read_bytes())  # added: not read
            frames = [first, *iter(source.read, None)]
    assert [f.frame_id for f in frames] == [0, 1, 3] and source.skipped_images == 1
    messages = [r.getMessage() for r in caplog.records]
    assert any("frame_002.png: it no longer exists (removed while the run read the folder)" in m for m in messages)
    skipped = "could not be read (removed, links to nothing, unreadable, empty, corrupt or too large)"
    assert any("1 of 4 images" in m and skipped in m for m in messages)


def test_a_link_to_nothing_among_the_images_is_skipped_in_its_place_and_counted(dance, tmp_path, caplog) -> None:
    """QA: a link whose target is gone was left out without a word, and the images after it took
    its frame number. An editor's lock (Emacs's ``.#NAME``, a link to nothing) is no image."""
    for i in (0, 2):
        cv2.imwrite(str(tmp_path / f"frame_{i:03d}.png"), dance[i])
    (tmp_path / "frame_001.png").symlink_to(tmp_path / "gone.png")
    (tmp_path / ".#frame_000.png").symlink_to("me@host.123:456")
    with caplog.at_level(logging.WARNING, logger=LOGGER), open_source(str(tmp_path)) as source:
        frames = list(iter(source.read, None))
    assert [f.frame_id for f in frames] == [0, 2] and source.skipped_images == 1 and source.frame_count == 3
    messages = [r.getMessage() for r in caplog.records]
    assert any(f"frame_001.png: it is a link to nothing ({tmp_path / 'gone.png'} is not there)" in m for m in messages)
    assert any("1 of 3 images" in m for m in messages)


def test_an_image_of_too_many_pixels_is_skipped_not_decoded(dance, tmp_path: Path, pose_model_path: Path) -> None:
    """A 160 kB PNG of 12000 × 12000 (a decompression bomb; a 1 MB one of 30000 × 30000 took 3.8 GB)
    is skipped, saying why, under OpenCV's limit that posecast sets before cv2 loads (in a process
    of its own: the limit is read once, when cv2 loads)."""
    ok, png = cv2.imencode(".png", np.zeros((12000, 12000), np.uint8))
    (tmp_path / "001.png").write_bytes(png.tobytes())
    cv2.imwrite(str(tmp_path / "000.png"), dance[0])
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_IO_MAX_IMAGE_PIXELS"}
    done = subprocess.run([sys.executable, "-m", "posecast.realtime.cli", "run", "--source", str(tmp_path),
                           "--headless", "--publish", "none", "--model-asset", str(pose_model_path)],
                          capture_output=True, text=True, timeout=300, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"skipped {tmp_path / '001.png'}: it has more than 134 megapixels (not decoded" in done.stderr, done.stderr
    assert "1 of 2 images" in done.stderr and "12000x12000" not in done.stderr  # never decoded, never sized


def test_a_folder_of_images_all_too_large_says_to_scale_them_down(tmp_path: Path) -> None:
    """QA: it said "convert them to PNG or JPEG" of a PNG, after two lines that said the same."""
    ok, png = cv2.imencode(".png", np.zeros((12000, 12000), np.uint8))
    (tmp_path / "huge.png").write_bytes(png.tobytes())
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_IO_MAX_IMAGE_PIXELS"}
    done = subprocess.run([sys.executable, "-m", "posecast.realtime.cli", "run", "--source", str(tmp_path),
                           "--headless", "--publish", "none"], capture_output=True, text=True, timeout=300,
                          env=env)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.endswith(f"posecast: error: no image in {tmp_path} could be read: huge.png: it has more than "
                                "134 megapixels (not decoded: a decompression bomb, or a panorama: scale it down)\n")
    assert "skipped" not in done.stderr, done.stderr


def test_the_library_leaves_opencv_s_limit_to_the_program() -> None:
    """QA: importing posecast set ``OPENCV_IO_MAX_IMAGE_PIXELS`` for the whole program (its own
    cv2 refused a 16384 x 8200 PNG, and its child processes inherited the limit); only the
    ``posecast`` command sets it now."""
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_IO_MAX_IMAGE_PIXELS"}
    code = ("import os, posecast.realtime.assemble, posecast.realtime.sources, posecast.engines.media; "
            "print(os.environ.get('OPENCV_IO_MAX_IMAGE_PIXELS'))")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "None"


def test_phone_photos_opencv_cannot_read_are_said_and_macos_forks_left_out(dance, tmp_path, caplog) -> None:
    """An iPhone's .heic photos were left out without a word; macOS's ``._frame.jpg`` resource
    forks were counted as corrupt images."""
    for i, image in enumerate(dance[:3]):
        cv2.imwrite(str(tmp_path / f"frame_{i:03d}.jpg"), image)
    (tmp_path / "IMG_0001.HEIC").write_bytes(b"\x00\x00\x00\x18ftypheic")
    (tmp_path / "._frame_000.jpg").write_bytes(b"\x00\x05\x16\x07 resource fork")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        source = open_source(str(tmp_path))
        frames = read_all(source)
    assert len(frames) == 3 and source.skipped_images == 0
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(said) == 1 and f"1 file(s) in formats OpenCV does not read are left out of {tmp_path} (e.g. " \
        "IMG_0001.HEIC)" in said[0]

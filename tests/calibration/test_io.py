import json
import os

import numpy as np
import pytest
import yaml
from posecast.calibration.errors import CalibrationError
from posecast.calibration.intrinsics import CameraIntrinsics
from posecast.calibration.io import load_intrinsics, load_subject, save_intrinsics, save_subject
from posecast.calibration.subject import SubjectProfile
from posecast.engines import skeleton

CAMERA = CameraIntrinsics(
    640, 480, 610.5, 604.25, 326.75, 236.125, (-0.24, 0.09, 0.0008, -0.0006, 0.01), rms_px=0.123,
    source="chessboard 9x6 inner corners 0.03 m, 15/15 views", date="2025-01-31T12:00:00Z",
)  # fmt: skip


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".json"])
def test_intrinsics_round_trip(tmp_path, suffix):
    path = save_intrinsics(CAMERA, tmp_path / f"camera{suffix}")
    assert load_intrinsics(path) == CAMERA
    text = path.read_text()
    data = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
    assert data["format"] == "posecast-camera" and data["version"] == 1
    assert (data["width"], data["height"], data["fx"], data["assumed"]) == (640, 480, 610.5, False)


def test_assumed_intrinsics_round_trip(tmp_path):
    assumed = CameraIntrinsics.from_hfov(60, 1280, 720)
    loaded = load_intrinsics(save_intrinsics(assumed, tmp_path / "camera.yaml"))
    assert loaded == assumed and loaded.assumed and loaded.source == "hfov 60" and loaded.rms_px is None


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_subject_round_trip(tmp_path, suffix):
    profile = SubjectProfile.from_height(1.83)
    loaded = load_subject(save_subject(profile, tmp_path / f"subject{suffix}"))
    assert loaded == profile and loaded.assumed
    np.testing.assert_allclose(loaded.as_array(), skeleton.bone_lengths_from_height(1.83))
    text = (tmp_path / f"subject{suffix}").read_text()
    assert "thorax-l_shoulder" in text and "height_m" in text


def test_a_file_of_the_other_kind_is_refused(tmp_path):
    path = save_subject(SubjectProfile.from_height(), tmp_path / "subject.yaml")
    with pytest.raises(CalibrationError, match="is a 'posecast-subject' file, expected 'posecast-camera'"):
        load_intrinsics(path)


def test_newer_versions_and_missing_keys_are_refused(tmp_path):
    data = {"format": "posecast-camera", **CAMERA.to_dict(), "version": 2}
    (tmp_path / "new.json").write_text(json.dumps(data))
    with pytest.raises(CalibrationError, match="format version 2, this posecast reads up to 1; upgrade"):
        load_intrinsics(tmp_path / "new.json")
    del data["fy"], data["version"]
    (tmp_path / "old.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(CalibrationError, match="lacks fy"):
        load_intrinsics(tmp_path / "old.yaml")
    (tmp_path / "bad.yaml").write_text("fx: [1, 2\n")
    with pytest.raises(CalibrationError, match="is not valid YAML"):
        load_intrinsics(tmp_path / "bad.yaml")
    with pytest.raises(CalibrationError, match="cannot read calibration file"):
        load_intrinsics(tmp_path / "absent.yaml")


def test_unwritable_paths_and_unknown_suffixes(tmp_path):
    with pytest.raises(CalibrationError, match="folder .*missing does not exist"):
        save_intrinsics(CAMERA, tmp_path / "missing" / "camera.yaml")
    with pytest.raises(CalibrationError, match=r"end in .yaml, .yml or .json, got 'camera.txt'"):
        save_intrinsics(CAMERA, tmp_path / "camera.txt")
    (tmp_path / "dir.yaml").mkdir()
    with pytest.raises(CalibrationError, match="not a writable file"):
        save_intrinsics(CAMERA, tmp_path / "dir.yaml")
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(CalibrationError, match="cannot write"):
            save_intrinsics(CAMERA, locked / "camera.yaml")

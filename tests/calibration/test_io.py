import dataclasses
import json
import logging
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


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_a_file_saved_with_a_byte_order_mark_is_read(tmp_path, suffix):
    """QA: a camera JSON saved by a Windows editor (a UTF-8 byte order mark first) was refused with
    Python's "Unexpected UTF-8 BOM"; the same YAML was read."""
    path = save_intrinsics(CAMERA, tmp_path / f"camera{suffix}")
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert load_intrinsics(path) == CAMERA


def test_assumed_intrinsics_round_trip(tmp_path):
    assumed = CameraIntrinsics.from_hfov(60, 1280, 720)
    loaded = load_intrinsics(save_intrinsics(assumed, tmp_path / "camera.yaml"))
    assert loaded == assumed and loaded.assumed and loaded.source == "hfov 60" and loaded.rms_px is None


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_subject_round_trip(tmp_path, suffix):
    profile = SubjectProfile.from_height(1.83)
    loaded = load_subject(save_subject(profile, tmp_path / f"subject{suffix}"))
    assert (loaded.height_m, loaded.source, loaded.assumed, loaded.clipped_bones) == (1.83, profile.source, True, ())
    # written to the millimetre
    np.testing.assert_allclose(loaded.as_array(), skeleton.bone_lengths_from_height(1.83), atol=0.0005 + 1e-12)
    assert np.array_equal(loaded.as_array(), np.round(profile.as_array(), 3))
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
    for odd in ("\n", "1\n2", True):  # not a version number: named on one line (found by the property test)
        (tmp_path / "odd.json").write_text(json.dumps(data | {"version": odd}))
        with pytest.raises(CalibrationError, match="has format version") as refused:
            load_intrinsics(tmp_path / "odd.json")
        assert "\n" not in str(refused.value) and repr(odd) in str(refused.value)
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
    with pytest.raises(CalibrationError, match="folder .*missing does not exist; create the folder or choose"):
        save_intrinsics(CAMERA, tmp_path / "missing" / "camera.yaml")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")  # no folder to create there (review)
    with pytest.raises(CalibrationError, match="links on its path form a loop; choose another --output"):
        save_intrinsics(CAMERA, tmp_path / "loop" / "camera.yaml")
    with pytest.raises(CalibrationError, match=r"end in .yaml, .yml or .json, got 'camera.txt'"):
        save_intrinsics(CAMERA, tmp_path / "camera.txt")
    (tmp_path / "dir.yaml").mkdir()
    with pytest.raises(CalibrationError, match="dir.yaml: it is a folder"):
        save_intrinsics(CAMERA, tmp_path / "dir.yaml")
    with pytest.raises(CalibrationError, match="folder /proc (takes no new files|does not exist)"):  # even as root
        save_intrinsics(CAMERA, "/proc/camera.yaml")
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(CalibrationError, match="cannot write"):
            save_intrinsics(CAMERA, locked / "camera.yaml")


# --- issue 15: a calibration file is checked, never trusted -----------------------------------------


def _camera_yaml(tmp_path, **changes) -> str:
    data = {"format": "posecast-camera", "version": 1, **CAMERA.to_dict()}
    text = yaml.safe_dump(data, sort_keys=False, default_flow_style=None)  # the distortion list on one line
    for key, value in changes.items():  # raw YAML text, so .inf / .nan / strings arrive as a user wrote them
        text = "\n".join(f"{key}: {value}" if line.startswith(f"{key}:") else line for line in text.splitlines())
        if f"\n{key}:" not in f"\n{text}":
            text += f"\n{key}: {value}"
    path = tmp_path / "camera.yaml"
    path.write_text(text + "\n")
    return str(path)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("width", ".inf", r"image width is inf, expected a whole number of pixels in 1\.\.32768"),
        ("width", "1.0e+400", r"image width is inf"),
        ("height", "-480", r"image height is -480, expected a whole number of pixels"),
        ("width", "'640'", r"image width is '640', expected a whole number"),
        ("fx", "1.0e-300", r"fx is 1e-300 px, expected 2\.793\.\.3\.667e\+04 px for a 640 px horizontal image"),
        ("fx", ".inf", r"fx is inf, expected a finite number"),
        ("fy", ".nan", r"fy is nan, expected a finite number"),
        ("cx", ".nan", r"cx is nan, expected a finite number"),
        ("distortion", "[.nan, 0, 0, 0]", r"distortion\[0\] is nan, expected a finite number"),
        ("distortion", "[1.0e+12, 0, 0, 0, 0]", r"distortion\[0\] is 1e\+12, expected -1000\.\.1000"),
        ("distortion", "[500, 0, 0, 0]", r"expected at most 3x"),
        ("distortion", "abc", r"distortion is 'abc', expected a list"),
        ("distortion", "[a, b, c, d]", r"distortion\[0\] is 'a', expected a number"),
        ("rms_px", ".nan", r"rms_px is nan, expected a finite number"),
        ("assumed", "'no'", r"assumed is 'no', expected true or false"),
        ("date", "2025-13-45", r"is not valid YAML: month must be in 1\.\.12"),
    ],
)
def test_camera_file_with_impossible_values_is_refused(tmp_path, key, value, message):
    path = _camera_yaml(tmp_path, **{key: value})
    with pytest.raises(CalibrationError, match=message) as info:
        load_intrinsics(path)
    text = str(info.value)
    assert "\n" not in text and (text.startswith(f"camera file {path}: ") or str(path) in text)


def _subject_yaml(tmp_path, bones=None, **changes) -> str:
    profile = SubjectProfile.from_height(1.78, assumed=False)
    data = {"format": "posecast-subject", "version": 1, **profile.to_dict()}
    data["bone_lengths_m"].update(bones or {})
    text = yaml.safe_dump(data, sort_keys=False)
    for key, value in changes.items():
        text = "\n".join(f"{key}: {value}" if line.startswith(f"{key}:") else line for line in text.splitlines())
    path = tmp_path / "subject.yaml"
    path.write_text(text + "\n")
    return str(path)


@pytest.mark.parametrize(
    ("bones", "changes", "message"),
    [
        (None, {"frames_used": ".inf"}, r"frames_used is inf, expected a whole number of frames in 0\.\.10\^9"),
        (None, {"frames_used": "-3"}, r"frames_used is -3"),
        (None, {"frames_used": "''"}, r"frames_used is '', expected a whole number"),  # read as 0 (QA)
        (None, {"frames_used": "[]"}, r"frames_used is \[\], expected a whole number"),
        (None, {"frames_used": "{}"}, r"frames_used is \{\}, expected a whole number"),
        (None, {"height_m": ".nan"}, r"height_m is nan, expected a finite number"),
        (None, {"height_m": "17.8"}, r"subject height must be in metres from 0\.5 to 2\.8, got 17\.8"),
        (None, {"assumed": "'yes'"}, r"assumed is 'yes', expected true or false"),
        (
            {"r_hip-r_knee": 100.0},
            {},
            r"bone r_hip-r_knee is 100 m, expected 0\.2\d\d\.\.0\.6\d\d m \(typical adult "
            r"proportions for height_m 1\.78 m, ±50%\)",
        ),
        ({"l_knee-l_ankle": 0.01}, {}, r"bone l_knee-l_ankle is 0\.01 m, expected"),
        ({"neck-head": float("inf")}, {}, r"bone_lengths_m\.neck-head is inf, expected a finite number"),
        ({"neck-head": "0.1"}, {}, r"bone_lengths_m\.neck-head is '0\.1', expected a number"),
    ],
)
def test_subject_file_with_impossible_values_is_refused(tmp_path, bones, changes, message):
    path = _subject_yaml(tmp_path, bones, **changes)
    with pytest.raises(CalibrationError, match=message) as info:
        load_subject(path)
    assert "\n" not in str(info.value) and str(info.value).startswith(f"subject file {path}: ")


def test_subject_bones_within_half_of_typical_are_accepted(tmp_path):
    typical = dict(zip(skeleton.BONE_NAMES, skeleton.bone_lengths_from_height(1.78), strict=True))
    loaded = load_subject(_subject_yaml(tmp_path, {"r_hip-r_knee": float(typical["r_hip-r_knee"] * 1.45)}))
    assert loaded.bone_lengths_m[skeleton.BONE_NAMES.index("r_hip-r_knee")] == pytest.approx(
        typical["r_hip-r_knee"] * 1.45)  # fmt: skip


def test_a_bone_the_skeleton_lacks_is_named_and_ignored(tmp_path, caplog):
    path = _subject_yaml(tmp_path, {"tail": 0.3})
    with caplog.at_level(logging.WARNING, logger="posecast.calibration.io"):
        loaded = load_subject(path)
    plain = load_subject(_subject_yaml(tmp_path))
    # (each profile is dated when made: the two can fall in two seconds, CI)
    assert dataclasses.replace(loaded, date=plain.date) == plain
    assert f"subject file {path}: bone_lengths_m names ['tail'], which posecast's skeleton does not have: ignored" in (
        caplog.text)


def test_oversized_and_binary_files_are_refused(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# " + b"x" * (2 << 20))
    with pytest.raises(CalibrationError, match="larger than 1024 KiB"):
        load_intrinsics(big)
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(CalibrationError, match="is not valid JSON"):
        load_intrinsics(binary)


def test_write_on_a_full_disk_leaves_no_file(tmp_path):
    """A real failed write (file size limit, as on a full disk): one error, no temp file, no partial file."""
    import subprocess
    import sys

    code = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))\n"
        "from posecast.calibration.errors import CalibrationError\n"
        "from posecast.calibration.intrinsics import CameraIntrinsics\n"
        "from posecast.calibration.io import save_intrinsics\n"
        "try:\n"
        "    save_intrinsics(CameraIntrinsics.from_hfov(60, 640, 480), sys.argv[1])\n"
        "except CalibrationError as exc:\n"
        "    print(exc)\n"
        "    sys.exit(2)\n"
    )
    target = tmp_path / "out" / "camera.yaml"
    target.parent.mkdir()
    proc = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "cannot write" in proc.stdout, proc.stdout + proc.stderr
    assert list(target.parent.iterdir()) == []


def test_a_misspelt_camera_file_key_is_refused_and_a_foreign_one_said(tmp_path, caplog) -> None:  # noqa: ANN001
    """A misspelt ``distortion`` was ignored: the lens taken as undistorted, without a word."""
    import logging

    from posecast.calibration import CameraIntrinsics
    from posecast.calibration.errors import CalibrationError
    from posecast.calibration.io import load_intrinsics, save_intrinsics

    path = save_intrinsics(CameraIntrinsics(640, 480, 500.0, 500.0, 320.0, 240.0, (0.1, -0.05, 0.0, 0.0)),
                           tmp_path / "camera.yaml")  # fmt: skip
    text = path.read_text()
    path.write_text(text.replace("distortion:", "distorsion:"))
    with pytest.raises(CalibrationError, match="unknown key 'distorsion'; did you mean 'distortion'"):
        load_intrinsics(path)
    path.write_text(text + "lens_model: my notes\n")
    with caplog.at_level(logging.WARNING, "posecast"):
        assert load_intrinsics(path).distortion[:2] == (0.1, -0.05)
    assert "key 'lens_model' is not one of its keys (format, version, width" in caplog.text
    caplog.clear()
    path.write_text("".join(line for line in text.splitlines(keepends=True) if not line.startswith("distortion")))
    with caplog.at_level(logging.WARNING, "posecast"):  # (QA: a file cut short lost its k1 without a word)
        assert load_intrinsics(path).distortion == ()
    assert "has no distortion: the lens is taken as undistorted; write distortion: [] to say so" in caplog.text


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_a_file_of_another_kind_is_not_replaced_and_one_of_the_same_kind_is_said(tmp_path, suffix, caplog):
    """QA: ``calibrate camera -o`` over a subject file (and the other ways round) replaced it,
    exit 0, without a word."""
    from posecast.calibration.floor import floor_from_camera_pose
    from posecast.calibration.floor_file import save_floor
    from posecast.calibration.io import check_writable

    camera = save_intrinsics(CAMERA, tmp_path / f"camera{suffix}")
    with pytest.raises(CalibrationError, match=rf"camera{suffix} is a posecast-camera file: writing a "
                                               "posecast-subject file there would replace it"):  # fmt: skip
        check_writable(camera, kind="posecast-subject")
    with pytest.raises(CalibrationError, match="is a posecast-camera file: writing a posecast-floor file"):
        save_floor(floor_from_camera_pose(1.2, 5.0), camera)
    assert load_intrinsics(camera) == CAMERA
    with caplog.at_level(logging.INFO, logger="posecast"):
        save_intrinsics(CAMERA, camera)
    assert f"replacing {camera}" in caplog.text
    # a file that is no posecast file at all (QA: someone's own notes.yaml was replaced, "replacing" said)
    notes = tmp_path / f"notes{suffix}"
    notes.write_text("hello: world\n" if suffix == ".yaml" else '{"hello": "world"}\n')
    with pytest.raises(CalibrationError, match=rf"notes{suffix} is not a posecast calibration file: writing a "
                                               "posecast-camera file there would replace it"):  # fmt: skip
        save_intrinsics(CAMERA, notes)
    assert notes.read_text().startswith(("hello", "{"))
    notes.write_text("")  # an empty file (made with touch) holds nothing to lose
    assert load_intrinsics(save_intrinsics(CAMERA, notes)) == CAMERA
    # a camera file written by hand without a format line, or with one past the first 4 KB, loads: it is replaced
    by_hand = tmp_path / f"by_hand{suffix}"
    fields = {"width": 640, "height": 480, "fx": 500.0, "fy": 500.0, "cx": 320.0, "cy": 240.0, "distortion": []}
    if suffix == ".yaml":
        by_hand.write_text("#" + "x" * 5000 + "\n" + "".join(f"{k}: {v}\n" for k, v in fields.items()))
    else:
        by_hand.write_text(json.dumps(fields))
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="posecast"):
        assert load_intrinsics(save_intrinsics(CAMERA, by_hand)) == CAMERA
    assert f"replacing {by_hand}" in caplog.text

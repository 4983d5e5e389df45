"""Property-based tests (hypothesis) of the camera and subject files (issue 15): whatever a file
holds, loading it gives either a usable result (every value finite and in range) or a
:class:`CalibrationError` with a one-line message; never another exception, never NaN or inf."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import numpy as np
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from posecast.calibration.errors import CalibrationError
from posecast.calibration.intrinsics import CameraIntrinsics
from posecast.calibration.io import MAX_BONE_DEVIATION, load_intrinsics, load_subject
from posecast.calibration.subject import SubjectProfile
from posecast.engines import normalize, skeleton

SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

CAMERA = {"format": "posecast-camera", "version": 1,
          **CameraIntrinsics(640, 480, 610.5, 604.25, 326.75, 236.1, (-0.24, 0.09, 0.0008, -0.0006, 0.01),
                             rms_px=0.12).to_dict()}  # fmt: skip
SUBJECT = {"format": "posecast-subject", "version": 1,
           **SubjectProfile.from_height(1.78, assumed=False).to_dict()}  # fmt: skip
SUBJECT["bone_lengths_m"] = {k: float(v) for k, v in SUBJECT["bone_lengths_m"].items()}

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([0, 1, -1, 0.5, 1e-300, 1e300, 640, 480, 1e4, 1e6, 2.0**63]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=12))
wild = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=15),
                                                     st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                    max_leaves=20)  # fmt: skip
# a perturbation that keeps the value near plausible, so that valid files are generated too
nearby = st.floats(min_value=-0.9, max_value=3.0)


#: one folder for every example (each replaces the file), removed when the tests end
_FOLDER = tempfile.TemporaryDirectory(prefix="posecast-prop-")


def _write(data: object, suffix: str) -> Path:
    path = Path(_FOLDER.name) / f"calib{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(data))  # NaN/Infinity as Python's json writes them
    else:
        path.write_text(yaml.safe_dump(data))
    return path


def _mutated(base: dict, changes: dict, scaled: dict) -> dict:
    data = json.loads(json.dumps(base))
    for key, factor in scaled.items():
        if isinstance(data.get(key), (int, float)) and not isinstance(data.get(key), bool):
            data[key] = data[key] * (1.0 + factor)
    data.update(changes)
    return data


def _check_camera(path: Path) -> None:
    try:
        cam = load_intrinsics(path)
    except CalibrationError as exc:
        assert "\n" not in str(exc) and str(exc), repr(str(exc))
        event("camera refused")
        return
    event("camera valid")
    values = [cam.fx, cam.fy, cam.cx, cam.cy, *cam.distortion] + ([] if cam.rms_px is None else [cam.rms_px])
    assert all(math.isfinite(v) for v in values)
    assert isinstance(cam.width, int) and isinstance(cam.height, int) and cam.width > 0 and cam.height > 0
    assert cam.fx > 0 and cam.fy > 0
    # usable: the image's pixels undistort and normalise to finite rays
    grid = np.stack(np.meshgrid(np.linspace(0, cam.width - 1, 5), np.linspace(0, cam.height - 1, 5)), -1)
    rays = normalize.normalize_pixels(cam.undistort_pixels(grid.reshape(-1, 2)), cam.as_array())
    assert np.isfinite(rays).all()


def _check_subject(path: Path) -> None:
    try:
        profile = load_subject(path)
    except CalibrationError as exc:
        assert "\n" not in str(exc) and str(exc), repr(str(exc))
        event("subject refused")
        return
    event("subject valid")
    lengths = profile.as_array()
    assert np.isfinite(lengths).all() and math.isfinite(profile.height_m)
    ratio = lengths / skeleton.bone_lengths_from_height(profile.height_m)
    assert (np.abs(ratio - 1.0) <= MAX_BONE_DEVIATION + 1e-9).all()
    assert isinstance(profile.frames_used, int) and profile.frames_used >= 0


@SETTINGS
@given(text=st.text(max_size=400), suffix=st.sampled_from([".yaml", ".json"]))
def test_any_text_is_a_camera_or_one_line_error(text: str, suffix: str) -> None:
    folder = Path(_FOLDER.name)
    (folder / f"c{suffix}").write_text(text)
    _check_camera(folder / f"c{suffix}")
    _check_subject(folder / f"c{suffix}")


@SETTINGS
@given(
    changes=st.dictionaries(st.sampled_from(sorted(CAMERA)), wild, max_size=3),
    scaled=st.dictionaries(st.sampled_from(["width", "height", "fx", "fy", "cx", "cy"]), nearby, max_size=3),
    distortion=st.one_of(st.none(), st.lists(numbers, min_size=0, max_size=14),
                         st.lists(st.floats(-2.0, 2.0), min_size=4, max_size=5)),
    suffix=st.sampled_from([".yaml", ".json"]),
)  # fmt: skip
def test_any_camera_mapping_is_valid_or_one_line_error(changes, scaled, distortion, suffix) -> None:
    data = _mutated(CAMERA, changes, scaled)
    if distortion is not None:
        data["distortion"] = distortion
    _check_camera(_write(data, suffix))


@SETTINGS
@given(
    changes=st.dictionaries(st.sampled_from(sorted(SUBJECT)), wild, max_size=3),
    bones=st.dictionaries(st.sampled_from(skeleton.BONE_NAMES), st.one_of(numbers, nearby, wild), max_size=4),
    height=st.one_of(st.none(), numbers, st.floats(0.3, 3.0)),
    suffix=st.sampled_from([".yaml", ".json"]),
)  # fmt: skip
def test_any_subject_mapping_is_valid_or_one_line_error(changes, bones, height, suffix) -> None:
    data = _mutated(SUBJECT, changes, {})
    if isinstance(data.get("bone_lengths_m"), dict):
        data["bone_lengths_m"].update(bones)
    if height is not None:
        data["height_m"] = height
    _check_subject(_write(data, suffix))

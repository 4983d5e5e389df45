"""Calibration files: camera intrinsics and subject profiles as YAML (``.yaml``/``.yml``) or JSON.

Both files start with ``format`` (what the file is) and ``version`` (of that format); a loader
refuses another format or a newer version. Unknown keys are ignored. Dates are ISO 8601 UTC.

Camera intrinsics (``posecast calibrate camera --output camera.yaml``)::

    format: posecast-camera
    version: 1
    width: 640            # image size the values below belong to, pixels
    height: 480
    fx: 610.9             # focal lengths, pixels
    fy: 605.1
    cx: 326.2             # principal point, pixels (OpenCV convention: pixel centres at integers)
    cy: 236.0
    distortion: [-0.236, 0.054, 0.0007, -0.0009, 0.051]   # OpenCV order k1 k2 p1 p2 [k3 ...]; [] = none
    rms_px: 0.11          # RMS reprojection error of the calibration, pixels; null when not measured
    date: '2025-01-31T12:00:00Z'
    source: chessboard 9x6 inner corners 0.025 m, 15/15 views
    assumed: false        # true: not measured (e.g. source "hfov 60": 60 degree horizontal field of view)

At another capture resolution of the same aspect ratio the intrinsics are rescaled
(``fx, cx`` by ``w'/w``, ``fy, cy`` by ``h'/h``); another aspect ratio is refused (the camera crops).

Subject profile (``posecast calibrate subject``)::

    format: posecast-subject
    version: 1
    height_m: 1.78                  # standing height, metres
    bone_lengths_m:                 # 16 bones, metres, in posecast.engines.skeleton.BONE_NAMES order
      pelvis-r_hip: 0.093
      ...
    frames_used: 412                # frames that passed the robust estimate; 0 when assumed
    date: '2025-01-31T12:00:00Z'
    source: calibration phase 15 s
    assumed: false                  # true: typical proportions for the height, nothing measured
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from ..engines import skeleton
from .errors import CalibrationError
from .intrinsics import CameraIntrinsics
from .subject import SubjectProfile

CAMERA_FORMAT = "posecast-camera"
SUBJECT_FORMAT = "posecast-subject"
VERSION = 1
_CAMERA_FIELDS = ("width", "height", "fx", "fy", "cx", "cy")


def save_intrinsics(intrinsics: CameraIntrinsics, path: str | Path) -> Path:
    """Write ``intrinsics`` to ``path`` (format chosen by the suffix); returns the path."""
    return _write(path, {"format": CAMERA_FORMAT, "version": VERSION, **intrinsics.to_dict()})


def load_intrinsics(path: str | Path) -> CameraIntrinsics:
    """Read a camera file written by :func:`save_intrinsics` (or by hand, same keys)."""
    data = _read(path, CAMERA_FORMAT)
    missing = [k for k in _CAMERA_FIELDS if data.get(k) is None]
    if missing:
        raise CalibrationError(f"camera file {path} lacks {', '.join(missing)}; expected keys {list(_CAMERA_FIELDS)}")
    try:
        return CameraIntrinsics(
            width=int(data["width"]),
            height=int(data["height"]),
            fx=float(data["fx"]),
            fy=float(data["fy"]),
            cx=float(data["cx"]),
            cy=float(data["cy"]),
            distortion=tuple(float(d) for d in (data.get("distortion") or ())),
            rms_px=None if data.get("rms_px") is None else float(data["rms_px"]),
            assumed=bool(data.get("assumed", False)),
            source=str(data.get("source") or ""),
            date=str(data.get("date") or ""),
        )
    except (TypeError, ValueError) as exc:
        raise CalibrationError(f"camera file {path} has a value of the wrong type ({exc}); expected numbers") from None


def save_subject(profile: SubjectProfile, path: str | Path) -> Path:
    """Write ``profile`` to ``path`` (format chosen by the suffix); returns the path."""
    return _write(path, {"format": SUBJECT_FORMAT, "version": VERSION, **profile.to_dict()})


def load_subject(path: str | Path) -> SubjectProfile:
    """Read a subject file written by :func:`save_subject`."""
    data = _read(path, SUBJECT_FORMAT)
    bones = data.get("bone_lengths_m")
    if data.get("height_m") is None or not isinstance(bones, dict):
        raise CalibrationError(f"subject file {path} lacks height_m or the bone_lengths_m mapping")
    missing = [name for name in skeleton.BONE_NAMES if name not in bones]
    if missing:
        raise CalibrationError(f"subject file {path} lacks bones {missing}; expected {list(skeleton.BONE_NAMES)}")
    try:
        return SubjectProfile(
            height_m=float(data["height_m"]),
            bone_lengths_m=tuple(float(bones[name]) for name in skeleton.BONE_NAMES),
            frames_used=int(data.get("frames_used") or 0),
            source=str(data.get("source") or ""),
            date=str(data.get("date") or ""),
            assumed=bool(data.get("assumed", False)),
        )
    except (TypeError, ValueError) as exc:
        raise CalibrationError(f"subject file {path} has a value of the wrong type ({exc}); expected numbers") from None


class _Dumper(yaml.SafeDumper):
    """Block-style mappings, one-line lists (the distortion coefficients)."""


_Dumper.add_representer(list, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True))


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".json"):
        raise CalibrationError(f"calibration files end in .yaml, .yml or .json, got {path.name!r}")
    return suffix


def check_writable(path: str | Path) -> Path:
    """Fail early (before a long calibration) when ``path`` cannot be written."""
    path = Path(path)
    _suffix(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise CalibrationError(
            f"cannot write {path}: folder {parent} does not exist; create it or choose another --output"
        )
    if path.is_dir() or not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise CalibrationError(f"cannot write {path}: not a writable file; choose another --output")
    return path


def _write(path: str | Path, data: dict[str, Any]) -> Path:
    path = check_writable(path)
    if _suffix(path) == ".json":
        text = json.dumps(data, indent=2) + "\n"
    else:
        header = f"# posecast calibration ({data['format']} v{data['version']}); format: posecast.calibration.io\n"
        text = header + yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False)
    try:  # write whole or not at all
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        raise CalibrationError(f"cannot write {path}: {exc.strerror}; choose another --output") from None
    return path


def _read(path: str | Path, expected_format: str) -> dict[str, Any]:
    path = Path(path)
    suffix = _suffix(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CalibrationError(f"cannot read calibration file {path}: {exc.strerror}") from None
    try:
        data = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        where = str(exc).replace("\n", " ")
        raise CalibrationError(f"calibration file {path} is not valid {suffix[1:].upper()}: {where}") from None
    if not isinstance(data, dict):
        raise CalibrationError(f"calibration file {path} should hold a mapping of keys, found {type(data).__name__}")
    found = data.get("format", expected_format)
    if found != expected_format:
        raise CalibrationError(f"{path} is a {found!r} file, expected {expected_format!r}")
    version = data.get("version", VERSION)
    if not isinstance(version, int) or version > VERSION:
        raise CalibrationError(
            f"{path} has format version {version}, this posecast reads up to {VERSION}; upgrade posecast"
        )
    return data

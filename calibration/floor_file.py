"""Floor files (``posecast calibrate floor --output floor.yaml``), YAML or JSON::

    format: posecast-floor
    version: 1
    camera_height_m: 1.21       # the camera's centre above the floor, metres
    tilt_deg: 11.2              # how far the camera looks down (negative: up), degrees
    roll_deg: 3.8               # the camera's roll (positive: up leans towards the image's +x)
    source: estimated from the feet, 90 poses of clip.mp4
    date: '2026-12-02T10:00:00Z'

The floor is the plane ``camera_height_m`` below the camera, perpendicular to the up direction
these angles give (:func:`posecast.calibration.floor.floor_from_camera_pose`). Read and written
with the same checks as the camera and subject files (:mod:`posecast.calibration.io`).
"""

from __future__ import annotations

import logging
from pathlib import Path

from .errors import CalibrationError
from .floor import Floor, floor_from_camera_pose
from .intrinsics import finite_number, utc_now_iso
from .io import _in_file, _read, _text, _write, check_keys

log = logging.getLogger(__name__)

FLOOR_FORMAT = "posecast-floor"


def save_floor(floor: Floor, path: str | Path, source: str = "") -> Path:
    """Write ``floor`` to ``path`` (format chosen by the suffix); returns the path."""
    data = {
        "format": FLOOR_FORMAT, "version": 1, "camera_height_m": round(floor.camera_height_m, 4),
        "tilt_deg": round(floor.tilt_deg, 3), "roll_deg": round(floor.roll_deg, 3),
        "source": source or floor.source, "date": utc_now_iso(),
    }  # fmt: skip
    return _write(path, data)


def load_floor(path: str | Path) -> Floor:
    """Read a floor file; one-line :class:`CalibrationError` for anything missing or out of range."""
    data = _read(path, FLOOR_FORMAT)
    where = f"floor file {path}"
    check_keys(data, ("format", "version", "camera_height_m", "tilt_deg", "roll_deg", "source", "date"), where)
    missing = [k for k in ("camera_height_m", "tilt_deg") if data.get(k) is None]
    if missing:
        raise CalibrationError(f"{where} lacks {', '.join(missing)}; expected camera_height_m, tilt_deg, roll_deg")
    with _in_file(where):
        height = finite_number("camera_height_m", data["camera_height_m"])
        tilt = finite_number("tilt_deg", data["tilt_deg"])
        if data.get("roll_deg") is None:  # (QA: a file cut short lost a measured roll of -4.8° without a word)
            log.warning("%s has no roll_deg: the camera is taken as level (roll 0°); write roll_deg: 0 to say so",
                        where)  # fmt: skip
        roll = finite_number("roll_deg", data.get("roll_deg", 0.0))
        floor = floor_from_camera_pose(height, tilt, roll)
        source = _text(data, "source") or str(path)
    return Floor(floor.up_cam, floor.level_m, None, f"calibrated ({source})")

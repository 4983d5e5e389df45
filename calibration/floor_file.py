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


#: The keys of a floor file, as :func:`save_floor` writes them
FLOOR_KEYS = ("format", "version", "camera_height_m", "tilt_deg", "roll_deg", "source", "date")


def save_floor(floor: Floor, path: str | Path, source: str = "", replace: bool = True) -> Path:
    """Write ``floor`` to ``path`` (format chosen by the suffix); returns the path. ``replace=False``:
    never over a file there, one another run wrote meanwhile included."""
    values = (FLOOR_FORMAT, 1, round(floor.camera_height_m, 4), round(floor.tilt_deg, 3), round(floor.roll_deg, 3),
              source or floor.source, utc_now_iso())  # fmt: skip
    return _write(path, dict(zip(FLOOR_KEYS, values, strict=True)), replace=replace)


def load_floor(path: str | Path) -> Floor:
    """Read a floor file; one-line :class:`CalibrationError` for anything missing or out of range."""
    data = _read(path, FLOOR_FORMAT)
    where = f"floor file {path}"
    check_keys(data, FLOOR_KEYS, where)
    missing = [k for k in ("camera_height_m", "tilt_deg") if data.get(k) is None]
    if missing:
        raise CalibrationError(f"{where} lacks {', '.join(missing)}; expected camera_height_m, tilt_deg, roll_deg")
    with _in_file(where):
        height = finite_number("camera_height_m", data["camera_height_m"])
        tilt = finite_number("tilt_deg", data["tilt_deg"])
        if "roll_deg" not in data:  # (QA: a file cut short lost a measured roll of -4.8° without a word)
            log.warning("%s has no roll_deg: the camera is taken as level (roll 0°); write roll_deg: 0 to say so",
                        where)  # fmt: skip
        roll = finite_number("roll_deg", data.get("roll_deg", 0.0))  # (roll_deg: null is refused, as a number)
        floor = floor_from_camera_pose(height, tilt, roll)
        source = _text(data, "source") or str(path)
    return Floor(floor.up_cam, floor.level_m, None, f"calibrated ({source})")

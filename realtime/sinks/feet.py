"""Collects what measuring the floor from the feet needs: the first tracked person's joints and
bone lengths in the frames where both ankles were seen below the body (``posecast calibrate
floor``)."""

from __future__ import annotations

import logging

import numpy as np

from ...calibration import floor as fl
from ...calibration.errors import CalibrationError
from ...engines import skeleton
from ..stages import Sink
from ..types import PoseFrame

log = logging.getLogger(__name__)

#: Fewer poses with both feet seen than this: no floor is estimated (a few steps in view give dozens).
MIN_FLOOR_POSES = 10


class FeetCollector(Sink):
    """Keeps the first tracked person's published joints (camera frame) and bone lengths, from
    the frames in which both of their ankles were seen below the body (as the live floor takes
    them: :func:`~posecast.calibration.floor.feet_below_body`), for ``posecast calibrate floor``."""

    name = "feet"
    inline = True

    def __init__(self) -> None:
        self.poses: list[np.ndarray] = []
        self.lengths: list[np.ndarray] = []

    def write(self, frame: PoseFrame) -> None:
        for person in frame.tracked[:1]:
            if not (fl.feet_seen(person.confidence) and fl.feet_below_body(person.joints_m)):
                continue
            self.poses.append(np.asarray(person.joints_m, dtype=np.float64))
            if person.bone_lengths_m is not None:
                self.lengths.append(np.asarray(person.bone_lengths_m, dtype=np.float64))

    def floor(self, source: str) -> tuple[fl.Floor, str]:
        """The floor under the collected feet (raises when too few poses were seen)."""
        if len(self.poses) < MIN_FLOOR_POSES:
            raise CalibrationError(
                f"saw a person with both feet in view in only {len(self.poses)} frames of {source} (below the hips, "
                "standing): stand upright fully in view, feet included, and step around for a few seconds (or pass "
                "--camera-height and --tilt)"
            )
        lengths = np.median(self.lengths, axis=0) if self.lengths else skeleton.bone_lengths(self.poses[-1])
        floor = fl.estimate_floor(np.stack(self.poses), skeleton.height_from_bone_lengths(lengths))
        if notice := fl.rough_floor_notice(len(self.poses)):
            log.warning("%s; measure longer (--seconds), stepping around", notice)
        if limit := fl.tilt_limit_notice(floor):
            log.warning("the floor measured from the feet: %s; measure the camera's height and tilt and pass "
                        "--camera-height, --tilt and --roll", limit)  # fmt: skip
        return floor, f"estimated from the feet, {len(self.poses)} poses of {source}"

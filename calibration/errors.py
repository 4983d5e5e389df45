"""Errors of the calibration package: one-line messages (expected, found, how to fix)."""

from __future__ import annotations

from collections.abc import Sequence

from ..engines.errors import PosecastError


class CalibrationError(PosecastError):
    """A calibration that cannot be done or a calibration file that cannot be used."""


class DistortionFoldError(CalibrationError):
    """Distortion coefficients that squash or fold the image instead of describing a lens.

    ``problem`` says how, without the coefficients or advice (``"cannot be inverted over the
    640x480 image (...)"``), so that a caller that can do something about it, such as the
    calibration refitting with k3 fixed, words its own message.
    """

    def __init__(self, distortion: Sequence[float], problem: str,
                 advice: str = "recalibrate the camera (posecast calibrate camera)") -> None:  # fmt: skip
        super().__init__(f"distortion {list(distortion)} {problem}; {advice}")
        self.distortion = tuple(distortion)
        self.problem = problem

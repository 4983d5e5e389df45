"""Errors of the calibration package: one-line messages (expected, found, how to fix)."""

from __future__ import annotations

from ..engines.errors import PosecastError


class CalibrationError(PosecastError):
    """A calibration that cannot be done or a calibration file that cannot be used."""

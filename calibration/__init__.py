"""Calibration: camera intrinsics (board, live camera or assumed field of view) and the subject's size.

File formats are documented in :mod:`posecast.calibration.io`.
"""

from .errors import CalibrationError
from .intrinsics import DEFAULT_HFOV_DEG, CameraIntrinsics
from .io import load_intrinsics, load_subject, save_intrinsics, save_subject
from .subject import DEFAULT_HEIGHT_M, SubjectOptions, SubjectProfile, estimate_subject, subject_from_lifted

__all__ = [
    "DEFAULT_HEIGHT_M",
    "DEFAULT_HFOV_DEG",
    "CalibrationError",
    "CameraIntrinsics",
    "SubjectOptions",
    "SubjectProfile",
    "estimate_subject",
    "load_intrinsics",
    "load_subject",
    "save_intrinsics",
    "save_subject",
    "subject_from_lifted",
]

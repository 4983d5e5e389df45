"""Pinhole camera intrinsics with OpenCV distortion: the one camera description posecast uses.

``CameraIntrinsics`` holds the image size it was calibrated at, the focal lengths and principal
point in pixels and OpenCV's distortion coefficients ``(k1, k2, p1, p2[, k3[, k4, k5, k6[, ...]]])``.
It rescales to another capture resolution of the same aspect ratio, undistorts pixel keypoints
(the live pipeline does this before :func:`posecast.engines.normalize.normalize_pixels`) and, when
no calibration exists, is derived from an assumed horizontal field of view.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone

import cv2
import numpy as np

from .errors import CalibrationError

#: Horizontal field of view assumed by the pipeline when the camera is not calibrated.
DEFAULT_HFOV_DEG = 60.0
#: Relative aspect-ratio difference tolerated by :meth:`CameraIntrinsics.rescaled` (rounding of sizes).
ASPECT_TOLERANCE = 0.01


def utc_now_iso() -> str:
    """The current UTC time as ISO 8601 text to the second (``2025-01-31T12:00:00Z``)."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class CameraIntrinsics:
    """Intrinsics of one camera at one resolution (all lengths in pixels).

    ``distortion`` is empty when the camera has none (or it is unknown); ``rms_px`` is the RMS
    reprojection error of the calibration (``None`` when not measured); ``assumed`` marks values
    that were not measured (e.g. from an assumed field of view); ``source`` says where they come
    from and ``date`` when (ISO 8601).
    """

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    distortion: tuple[float, ...] = ()
    rms_px: float | None = None
    assumed: bool = False
    source: str = ""
    date: str = field(default="")

    def __post_init__(self) -> None:
        if int(self.width) <= 0 or int(self.height) <= 0:
            raise CalibrationError(f"image size must be positive, got {self.width}x{self.height}")
        for name in ("fx", "fy"):
            value = float(getattr(self, name))
            if not (math.isfinite(value) and value > 0):
                raise CalibrationError(f"focal length {name} must be a positive number of pixels, got {value}")
        for name in ("cx", "cy"):
            if not math.isfinite(float(getattr(self, name))):
                raise CalibrationError(f"principal point {name} must be finite, got {getattr(self, name)}")
        if len(self.distortion) not in (0, 4, 5, 8, 12, 14):
            raise CalibrationError(
                f"distortion must have 0, 4, 5, 8, 12 or 14 OpenCV coefficients, got {len(self.distortion)}"
            )
        object.__setattr__(self, "width", int(self.width))
        object.__setattr__(self, "height", int(self.height))
        for name in ("fx", "fy", "cx", "cy"):
            object.__setattr__(self, name, float(getattr(self, name)))
        object.__setattr__(self, "distortion", tuple(float(d) for d in self.distortion))
        object.__setattr__(self, "rms_px", None if self.rms_px is None else float(self.rms_px))
        object.__setattr__(self, "assumed", bool(self.assumed))

    # --- construction -------------------------------------------------------------------------
    @classmethod
    def from_hfov(cls, hfov_deg: float, width: int, height: int) -> CameraIntrinsics:
        """Assumed intrinsics: square pixels, centred principal point, no distortion."""
        if not 1.0 < hfov_deg < 179.0:
            raise CalibrationError(f"horizontal field of view must be in degrees within (1, 179), got {hfov_deg}")
        f = 0.5 * width / math.tan(math.radians(hfov_deg) / 2.0)
        return cls(
            width=width,
            height=height,
            fx=f,
            fy=f,
            cx=width / 2.0,
            cy=height / 2.0,
            assumed=True,
            source=f"hfov {hfov_deg:g}",
            date=utc_now_iso(),
        )

    @classmethod
    def from_matrix(cls, camera_matrix: np.ndarray, distortion: np.ndarray, width: int, height: int, **kw):
        """From OpenCV's 3×3 camera matrix and distortion vector (any shape)."""
        k = np.asarray(camera_matrix, dtype=np.float64)
        dist = tuple(np.asarray(distortion, dtype=np.float64).ravel().tolist())
        return cls(width=width, height=height, fx=k[0, 0], fy=k[1, 1], cx=k[0, 2], cy=k[1, 2], distortion=dist, **kw)

    # --- views --------------------------------------------------------------------------------
    def as_array(self) -> np.ndarray:
        """``(4,)`` float64 ``(fx, fy, cx, cy)``: what ``engines.normalize.normalize_pixels`` takes."""
        return np.array([self.fx, self.fy, self.cx, self.cy], dtype=np.float64)

    def camera_matrix(self) -> np.ndarray:
        """OpenCV's 3×3 camera matrix ``K``."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]], dtype=np.float64)

    def dist_coeffs(self) -> np.ndarray:
        """Distortion as OpenCV expects it, ``(N,)`` float64 (``(0,)`` when none)."""
        return np.asarray(self.distortion, dtype=np.float64)

    @property
    def has_distortion(self) -> bool:
        return any(d != 0.0 for d in self.distortion)

    @property
    def hfov_deg(self) -> float:
        """Horizontal field of view in degrees (pinhole, ignoring distortion)."""
        return math.degrees(2.0 * math.atan(0.5 * self.width / self.fx))

    def to_dict(self) -> dict:
        """Plain types only (the file format of :mod:`posecast.calibration.io`, without its header)."""
        out = asdict(self)
        out["distortion"] = list(self.distortion)
        return out

    # --- operations ---------------------------------------------------------------------------
    def rescaled(self, width: int, height: int) -> CameraIntrinsics:
        """The same camera at another capture resolution (same aspect ratio, i.e. no cropping).

        ``fx, cx`` scale by ``width / self.width`` and ``fy, cy`` by ``height / self.height``, with
        the principal point mapped in pixel-centre convention; distortion (defined on normalised
        coordinates) is unchanged. Raises :class:`CalibrationError` if the aspect ratio differs.
        """
        if (width, height) == (self.width, self.height):
            return self
        if width <= 0 or height <= 0:
            raise CalibrationError(f"capture size must be positive, got {width}x{height}")
        sx, sy = width / self.width, height / self.height
        if abs(sx / sy - 1.0) > ASPECT_TOLERANCE:
            raise CalibrationError(
                f"camera calibrated at {self.width}x{self.height} cannot be rescaled to {width}x{height}: "
                "the aspect ratio differs, so the camera crops the image; calibrate at this resolution "
                "(posecast calibrate camera) or capture at the calibrated one"
            )
        return replace(
            self,
            width=width,
            height=height,
            fx=self.fx * sx,
            fy=self.fy * sy,
            cx=(self.cx + 0.5) * sx - 0.5,
            cy=(self.cy + 0.5) * sy - 0.5,
            rms_px=None if self.rms_px is None else self.rms_px * math.sqrt(sx * sy),
            source=f"{self.source} (rescaled from {self.width}x{self.height})".strip(),
        )

    def undistort_pixels(self, keypoints_px: np.ndarray) -> np.ndarray:
        """Remove lens distortion from pixel keypoints ``(..., 2)`` → ideal pinhole pixels ``(..., 2)``.

        Uses ``cv2.undistortPoints`` with ``P = K`` so the result stays in pixels of this camera;
        returns the input unchanged (as float64) when there is no distortion. NaNs stay NaN.
        """
        points = np.asarray(keypoints_px, dtype=np.float64)
        if points.shape[-1] != 2:
            raise ValueError(f"expected keypoints of shape (..., 2), got {points.shape}")
        if not self.has_distortion or points.size == 0:
            return points.copy()
        flat = points.reshape(-1, 1, 2)
        finite = np.isfinite(flat).all(axis=-1).ravel()
        out = np.full_like(flat, np.nan)
        if finite.any():
            k = self.camera_matrix()
            criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 30, 1e-9)
            out[finite] = cv2.undistortPoints(flat[finite], k, self.dist_coeffs(), P=k, criteria=criteria)
        return out.reshape(points.shape)

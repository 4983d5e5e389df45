"""Pinhole camera intrinsics with OpenCV distortion: the one camera description posecast uses.

``CameraIntrinsics`` holds the image size it was calibrated at, the focal lengths and principal
point in pixels and OpenCV's distortion coefficients ``(k1, k2, p1, p2[, k3[, k4, k5, k6[, ...]]])``.
It rescales to another capture resolution of the same aspect ratio, undistorts pixel keypoints
(the live pipeline does this before :func:`posecast.engines.normalize.normalize_pixels`) and, when
no calibration exists, is derived from an assumed horizontal field of view.
"""

from __future__ import annotations

import math
import re
import reprlib
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone

import cv2
import numpy as np

from .errors import CalibrationError, DistortionFoldError

#: Horizontal field of view assumed by the pipeline when the camera is not calibrated.
DEFAULT_HFOV_DEG = 60.0
#: Relative aspect-ratio difference tolerated by :meth:`CameraIntrinsics.rescaled` (rounding of sizes).
ASPECT_TOLERANCE = 0.01

# What a usable pinhole camera description looks like (anything else is refused, naming the range):
#: largest image side, pixels
MAX_IMAGE_SIDE_PX = 32768
#: fields of view a pinhole model can describe, degrees (fx, fy follow from them and the image size)
MIN_FOV_DEG, MAX_FOV_DEG = 1.0, 179.0
#: The horizontal fields of view intrinsics may be assumed from (``--hfov`` of ``run`` and of
#: ``calibrate camera``): a webcam's or a phone's; a measured camera file may hold any above.
ASSUMED_HFOV_DEG = (10.0, 170.0)
#: largest pixel aspect ratio fy/fx (or fx/fy); anamorphic lenses reach 2
MAX_PIXEL_ASPECT = 4.0
#: the principal point lies within this many image sizes of the image (normally near its centre)
PRINCIPAL_POINT_MARGIN = 0.5
#: largest magnitude of one OpenCV distortion coefficient
MAX_DISTORTION_COEFF = 1000.0
#: undistortion may change a point's distance from the principal point by at most this factor
MAX_DISTORTION_SCALE = 3.0
#: ... and undistorting then re-distorting it must return it within this fraction of the diagonal
MAX_DISTORTION_ROUND_TRIP = 0.02
#: largest plausible RMS reprojection error of a calibration, pixels
MAX_RMS_PX = 1000.0


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
        """Refuse anything a pinhole camera cannot be (non-finite, out-of-range, non-invertible
        distortion), naming the field, the value and the allowed range."""
        width = _whole_px("width", self.width)
        height = _whole_px("height", self.height)
        for name, side, axis in (("fx", width, "horizontal"), ("fy", height, "vertical")):
            low, high = _focal_range(side)
            value = finite_number(name, getattr(self, name))
            if not low <= value <= high:
                raise CalibrationError(
                    f"{name} is {value:g} px, expected {low:.4g}..{high:.4g} px for a {side} px {axis} image side "
                    f"(a {axis} field of view of {MIN_FOV_DEG:g}..{MAX_FOV_DEG:g} degrees)"
                )
        fx, fy = float(self.fx), float(self.fy)
        if not 1.0 / MAX_PIXEL_ASPECT <= fy / fx <= MAX_PIXEL_ASPECT:
            raise CalibrationError(f"fy/fx is {fy / fx:.4g} (fx {fx:g}, fy {fy:g}), expected {1 / MAX_PIXEL_ASPECT:g}"
                                   f"..{MAX_PIXEL_ASPECT:g} (the pixel aspect ratio)")  # fmt: skip
        for name, side in (("cx", width), ("cy", height)):
            value = finite_number(name, getattr(self, name))
            low, high = -PRINCIPAL_POINT_MARGIN * side, (1 + PRINCIPAL_POINT_MARGIN) * side
            if not low <= value <= high:
                raise CalibrationError(f"principal point {name} is {value:g} px, expected {low:g}..{high:g} px "
                                       f"(within half an image of the {width}x{height} image)")  # fmt: skip
        if len(self.distortion) not in (0, 4, 5, 8, 12, 14):
            raise CalibrationError(
                f"distortion must have 0, 4, 5, 8, 12 or 14 OpenCV coefficients, got {len(self.distortion)}"
            )
        distortion = tuple(finite_number(f"distortion[{i}]", d) for i, d in enumerate(self.distortion))
        for i, d in enumerate(distortion):
            if not abs(d) <= MAX_DISTORTION_COEFF:
                raise CalibrationError(f"distortion[{i}] is {d:g}, expected -{MAX_DISTORTION_COEFF:g}.."
                                       f"{MAX_DISTORTION_COEFF:g} (webcams: |k| < 1)")  # fmt: skip
        rms = None if self.rms_px is None else finite_number("rms_px", self.rms_px)
        if rms is not None and not 0.0 <= rms <= MAX_RMS_PX:
            raise CalibrationError(f"rms_px is {rms:g}, expected 0..{MAX_RMS_PX:g} px")
        object.__setattr__(self, "width", width)
        object.__setattr__(self, "height", height)
        for name in ("fx", "fy", "cx", "cy"):
            object.__setattr__(self, name, float(getattr(self, name)))
        object.__setattr__(self, "distortion", distortion)
        object.__setattr__(self, "rms_px", rms)
        object.__setattr__(self, "assumed", bool(self.assumed))
        if self.has_distortion:
            self._check_distortion_invertible()

    def _check_distortion_invertible(self) -> None:
        """Undistortion must be a mild, invertible map over the whole image: on a 9x9 grid
        reaching the corners, each point's distance from the principal point changes by at most
        :data:`MAX_DISTORTION_SCALE` and distorting it back returns it within
        :data:`MAX_DISTORTION_ROUND_TRIP` of the diagonal. (Huge coefficients would otherwise
        squash or fold the image, and every frame would be lost without a word.) Raises
        :class:`DistortionFoldError`."""
        xs = np.linspace(0.0, self.width - 1.0, 9)
        ys = np.linspace(0.0, self.height - 1.0, 9)
        grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
        ideal = self.undistort_pixels(grid)
        k, dist = self.camera_matrix(), self.dist_coeffs()
        rays = np.column_stack([(ideal - [self.cx, self.cy]) / [self.fx, self.fy], np.ones(len(grid))])
        with np.errstate(all="ignore"):
            back, _ = cv2.projectPoints(rays, np.zeros(3), np.zeros(3), k, dist)
            back = back.reshape(-1, 2)
            centre = np.array([self.cx, self.cy])
            r_seen = np.linalg.norm(grid - centre, axis=1)
            r_ideal = np.linalg.norm(ideal - centre, axis=1)
            far = r_seen > 0.05 * math.hypot(self.width, self.height)  # the ratio is noise near the centre
            scale = r_ideal[far] / r_seen[far]
            error = np.abs(back - grid).max(axis=1)
        diagonal = math.hypot(self.width, self.height)
        worst_scale = float(np.max(np.maximum(scale, 1.0 / np.maximum(scale, 1e-300)), initial=1.0))
        if not (np.isfinite(ideal).all() and np.isfinite(error).all() and worst_scale <= MAX_DISTORTION_SCALE):
            raise DistortionFoldError(
                self.distortion,
                f"moves image points by up to {worst_scale:.3g}x their distance from the principal point, "
                f"expected at most {MAX_DISTORTION_SCALE:g}x (a real lens: < 1.5x)",
            )
        if float(error.max()) > MAX_DISTORTION_ROUND_TRIP * diagonal:
            raise DistortionFoldError(
                self.distortion,
                f"cannot be inverted over the {self.width}x{self.height} image (a point comes back "
                f"{float(error.max()):.3g} px off, expected < {MAX_DISTORTION_ROUND_TRIP * diagonal:.3g} px)",
            )

    # --- construction -------------------------------------------------------------------------
    @classmethod
    def from_hfov(cls, hfov_deg: float, width: int, height: int) -> CameraIntrinsics:
        """Assumed intrinsics: square pixels, centred principal point, no distortion."""
        low, high = ASSUMED_HFOV_DEG
        if not low <= hfov_deg <= high:  # (one range for run's --hfov and calibrate's: 175 was written, then refused)
            raise CalibrationError(f"--hfov (hfov_deg) must be between {low:g} and {high:g} degrees, got {hfov_deg}")
        f = 0.5 * width / math.tan(math.radians(hfov_deg) / 2.0)
        vfov_deg = math.degrees(2.0 * math.atan(0.5 * height / f)) if width > 0 and height > 0 else 0.0
        if width > 0 and height > 0 and not MIN_FOV_DEG <= vfov_deg <= MAX_FOV_DEG:  # (sizes: checked below)
            raise CalibrationError(f"a {width}x{height} px image seen with a horizontal field of view of {hfov_deg:g} "
                                   f"degrees would see {vfov_deg:.4g} degrees vertically, outside {MIN_FOV_DEG:g}.."
                                   f"{MAX_FOV_DEG:g}: no camera has that shape; crop or scale the frames to a camera's "
                                   "shape, or calibrate the camera (posecast calibrate camera) and use its "
                                   "file")  # fmt: skip
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
    def from_matrix(cls, camera_matrix: np.ndarray, distortion: np.ndarray, width: int, height: int,
                    **kw: object) -> CameraIntrinsics:  # fmt: skip
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
        turned = abs((width / self.height) / (height / self.width) - 1.0) <= ASPECT_TOLERANCE
        if abs(sx / sy - 1.0) > ASPECT_TOLERANCE and turned and (width > height) != (self.width > self.height):
            # (QA: a landscape calibration used on a phone's portrait video was called a crop)
            raise CalibrationError(
                f"camera calibrated at {self.width}x{self.height} cannot be used for {width}x{height} images: they are "
                "turned 90 degrees against the calibration (a phone held the other way?); calibrate the camera "
                "held as it films (posecast calibrate camera), or film as it was calibrated"
            )
        if abs(sx / sy - 1.0) > ASPECT_TOLERANCE:
            raise CalibrationError(
                f"camera calibrated at {self.width}x{self.height} cannot be rescaled to {width}x{height}: "
                "the aspect ratio differs, so the camera crops the image; calibrate at this resolution "
                "(posecast calibrate camera) or capture at the calibrated one"
            )
        # an assumed camera's principal point is the image's centre as from_hfov puts it, at any size
        # (QA: a 1152 px --hfov file rescaled to 576 px put it 0.25 px off the 576 px file's, 1.8 cm in the joints)
        centre_assumed = self.assumed and (self.cx, self.cy) == (self.width / 2.0, self.height / 2.0)
        return replace(
            self,
            width=width,
            height=height,
            fx=self.fx * sx,
            fy=self.fy * sy,
            cx=width / 2.0 if centre_assumed else (self.cx + 0.5) * sx - 0.5,
            cy=height / 2.0 if centre_assumed else (self.cy + 0.5) * sy - 0.5,
            rms_px=None if self.rms_px is None else self.rms_px * math.sqrt(sx * sy),
            source=", ".join(filter(None, [self.source, f"rescaled from {self.width}x{self.height}"])),
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


#: How a value read from a file is shown in a message: short (a file's value may be a megabyte of
#: text, a 4000-digit number or, through YAML aliases, a list of billions of items), on one line
_SHOWN = reprlib.Repr()
_SHOWN.maxlevel, _SHOWN.maxstring, _SHOWN.maxlong, _SHOWN.maxother = 2, 40, 40, 40
_SHOWN.maxlist = _SHOWN.maxtuple = _SHOWN.maxdict = _SHOWN.maxset = 4
#: the longest :func:`shown` text
MAX_SHOWN_CHARS = 120


def shown(value: object) -> str:
    """``value`` for a one-line message: its ``repr``, shortened (``'abc...xyz'``, ``[1, 2, 3, 4, ...]``),
    at most :data:`MAX_SHOWN_CHARS` characters whatever its size or nesting. Use it for every value
    a file holds that goes into a message (never ``{value!r}``: that formats all of it)."""
    try:
        text = _SHOWN.repr(value)
    except Exception:  # noqa: BLE001 - a value whose repr fails is named by its type
        text = f"a {type(value).__name__}"
    text = " ".join(text.split())  # repr escapes line breaks in text; an odd object's repr may not
    return text if len(text) <= MAX_SHOWN_CHARS else text[: MAX_SHOWN_CHARS - 3] + "..."


#: YAML 1.1 (PyYAML) reads a number with an exponent as one only with a dot and a signed exponent
_EXPONENT_WITHOUT_DOT = re.compile(r"[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+")


def number_text_hint(value: object) -> str:
    """For text that reads as a finite number (``'500'``, ``'5e2'``): ``"; ..."`` saying how to write
    it as a number; otherwise ``""``. (PyYAML reads ``5e2`` and ``1e300`` as text: YAML 1.1 numbers
    need a dot, ``5.0e+2``.)"""
    if not isinstance(value, str) or len(value) > 64:
        return ""
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        return ""
    if not math.isfinite(number):
        return ""
    if re.fullmatch(r"[-+]?[0-9]+", text):
        written = str(int(text))
    else:
        written = repr(number)
        if "e" in written and "." not in written:  # 1e+300 is text to YAML too: 1.0e+300
            mantissa, exponent = written.split("e")
            written = f"{mantissa}.0e{exponent}"
    if _EXPONENT_WITHOUT_DOT.fullmatch(text):
        return f"; YAML reads {text} (an exponent without a dot) as text: write {written}"
    return f"; it is text: write {written}, without quotes"


def finite_number(name: str, value: object) -> float:
    """``value`` as a finite float, or :class:`CalibrationError` naming ``name`` (and, for text that
    reads as a number, how to write it as one)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise CalibrationError(f"{name} is {shown(value)}, expected a number{number_text_hint(value)}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise CalibrationError(f"{name} is {shown(value)}, expected a finite number")
    return number


def _whole_px(name: str, value: object) -> int:
    """An image side: a whole number of pixels in 1..:data:`MAX_IMAGE_SIDE_PX`."""
    expected = f"expected a whole number of pixels in 1..{MAX_IMAGE_SIDE_PX}"
    try:
        number = finite_number(name, value)
    except CalibrationError:
        raise CalibrationError(f"image {name} is {shown(value)}, {expected}{number_text_hint(value)}") from None
    if not (number.is_integer() and 1 <= number <= MAX_IMAGE_SIDE_PX):
        raise CalibrationError(f"image {name} is {shown(value)}, {expected}")
    return int(number)


def _focal_range(side_px: int) -> tuple[float, float]:
    """Focal lengths (pixels) giving a field of view of :data:`MIN_FOV_DEG`..:data:`MAX_FOV_DEG`
    across ``side_px``."""
    return (0.5 * side_px / math.tan(math.radians(MAX_FOV_DEG) / 2.0),
            0.5 * side_px / math.tan(math.radians(MIN_FOV_DEG) / 2.0))  # fmt: skip

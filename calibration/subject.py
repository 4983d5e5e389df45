"""The subject's size: bone lengths in metres from lifted 3D poses and a known height.

With the observed 2D (``keypoints_norm``, as the live pipeline has it) each lifted pose is first
put onto its viewing rays (:func:`posecast.engines.camera.onto_rays`): the image measures every
bone's extent across the view, the lifter only its extent in depth. A lifter regresses towards
the proportions it was trained on (on a CMU walk filmed by random webcams the shipped one gets a
shin 12 % short and the head 17 % long); the 2D does not.

Lifted poses are only defined up to scale, frame by frame, so each frame's bone lengths are
divided by their sum (*proportions*; over the bones the frame sees, against their typical
share). A bone counts in a frame where both its joints have enough confidence and it is not
degenerate, so a limb out of the image or hidden leaves the other bones measured (a webcam at a
desk measures the upper body); a bone seen in fewer than ``min_frames`` frames keeps typical
proportions for the height and the profile lists it in ``typical_bones``. Frames are dropped
when they see less than 40 % of the body, when the proportions are implausible for a human (far
from typical adult proportions) or when they are outliers against the sequence (robust z-score
of the frame's mean log deviation from the median proportions). The remaining frames give a
trimmed mean per bone (left/right pairs averaged; a side never seen takes the other's), scaled
so that :func:`posecast.engines.skeleton.height_from_bone_lengths` returns the given height.

With the 2D, each bone is then taken from the frames that see across it (the frames that hold
it within ``max_bone_angle_deg``, 25°, of the image plane, when there are ``min_frames``; else
from all), where the image measures it and the lifter's depth matters least. The widths (hips,
shoulders) need it: within ``max_width_angle_deg`` (15°) of the plane, or they are not measured.
Turned further, a width's length comes from the lifter's depth, which overshoots it (the shipped
lifter puts a width turned 60° out of the view 25-38 % long; within 10° of the plane the image
measures it to about 4 %). A width never seen across keeps the typical proportion for the
height, and the profile lists it in ``typical_bones`` (on held-out mocap the typical widths are
5.7-8.9 % off, the lifter's 9.8-19.1 %: ``eval/subject_calibration.json``). Each measured bone
is then weighed against typical proportions by how well it can be measured
(:func:`_towards_typical`): an error of a centimetre in where each joint sits is 8 % of the
neck and head (18 cm) but 3 % of the thigh (43 cm), and it does not average away over frames.
Last, each bone is kept within ``max_deviation_frac`` (20 %) of typical adult proportions for that
height, the same bound the live bone smoother applies: adult proportions vary by about ±10 %, so
a bone further out is the lifter's error (e.g. a shoulder width never seen edge-on). Such a bone
was not measured, only bounded: the log says so plainly, and the profile lists it in
``clipped_bones`` (the file too). Files hold lengths to the millimetre.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np

from ..engines import skeleton
from ..engines.camera import angle_to_image_plane_deg, onto_rays
from .errors import CalibrationError
from .intrinsics import utc_now_iso

log = logging.getLogger(__name__)

#: Height assumed when the user gives none (metres).
DEFAULT_HEIGHT_M = 1.70


@dataclass(frozen=True)
class SubjectProfile:
    """One person's size: height and 16 bone lengths in metres (:data:`skeleton.BONE_NAMES` order).

    ``assumed``: nothing was measured (typical proportions for the height). ``clipped_bones``:
    the bones whose measured length fell outside the plausible range and were set to its bound
    (their length is the bound, scaled with the others to keep the height: not a measurement).
    ``typical_bones``: the bones not measured, set to typical proportions for the height (not a
    measurement either): widths the camera never saw across, bones it never saw with confidence."""

    height_m: float
    bone_lengths_m: tuple[float, ...]
    frames_used: int = 0
    source: str = ""
    date: str = ""
    assumed: bool = False
    clipped_bones: tuple[str, ...] = ()
    typical_bones: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_height(self.height_m)
        lengths = tuple(float(v) for v in self.bone_lengths_m)
        if len(lengths) != len(skeleton.BONE_NAMES) or not all(np.isfinite(lengths)) or min(lengths) <= 0:
            raise CalibrationError(
                f"bone_lengths_m must be {len(skeleton.BONE_NAMES)} positive lengths in metres, got {lengths}"
            )
        for field in ("clipped_bones", "typical_bones"):
            unknown = [name for name in getattr(self, field) if name not in skeleton.BONE_NAMES]
            if unknown:
                raise CalibrationError(
                    f"{field} names unknown bones {unknown}; expected names of {skeleton.BONE_NAMES}"
                )
            object.__setattr__(self, field, tuple(getattr(self, field)))
        object.__setattr__(self, "height_m", float(self.height_m))
        object.__setattr__(self, "bone_lengths_m", lengths)

    @classmethod
    def from_height(cls, height_m: float = DEFAULT_HEIGHT_M, assumed: bool = True) -> SubjectProfile:
        """Typical adult proportions for ``height_m`` (``source`` says so)."""
        _check_height(height_m)
        lengths = skeleton.bone_lengths_from_height(height_m)
        return cls(height_m, tuple(lengths), 0, f"typical proportions for {height_m:.2f} m", utc_now_iso(), assumed)

    def as_array(self) -> np.ndarray:
        """Bone lengths ``(16,)`` float64, metres."""
        return np.asarray(self.bone_lengths_m, dtype=np.float64)

    def to_dict(self) -> dict:
        """The file's fields; lengths in metres to the millimetre (the measurement is far coarser)."""
        return {
            "height_m": round(self.height_m, 3),
            "bone_lengths_m": {name: round(length, 3) for name, length in zip(skeleton.BONE_NAMES,
                                                                              self.bone_lengths_m, strict=True)},
            "frames_used": self.frames_used,
            "date": self.date,
            "source": self.source,
            "assumed": self.assumed,
            "clipped_bones": list(self.clipped_bones),
            "typical_bones": list(self.typical_bones),
        }  # fmt: skip


@dataclass(frozen=True)
class SubjectOptions:
    """Frame rejection and averaging for :func:`estimate_subject`."""

    min_confidence: float = 0.5  # a frame is dropped if any joint is below this
    max_prior_deviation: float = 0.45  # dropped if mean |log(proportion / typical)| is above this
    outlier_z: float = 3.0  # dropped if its deviation from the median is this many robust sigmas out
    trim_fraction: float = 0.2  # trimmed from each end before averaging each bone
    symmetric: bool = True  # average left and right bones
    min_frames: int = 10
    #: each bone within this fraction of typical proportions for the height (None: unbounded)
    max_deviation_frac: float | None = 0.2
    #: with the 2D, a width is measured only in frames where it is within this of the image plane
    max_width_angle_deg: float = 15.0
    #: with the 2D, every other bone from the frames where it is within this of the image plane,
    #: when there are ``min_frames`` of them (else from all frames)
    max_bone_angle_deg: float = 25.0
    #: with the 2D: how far (metres, standard deviation) the 2D and the lifter's depth put each
    #: joint from where it is, an error that does not average away over frames (None: every
    #: bone as measured, no prior; :func:`_towards_typical`; the value is discussed there)
    joint_placement_sd_m: float | None = 0.0075
    #: how much adult bone proportions vary around typical ones (standard deviation of the log
    #: length; "about ±10 %" taken as two of them)
    proportion_sd: float = 0.05

    def __post_init__(self) -> None:
        if not 0.0 <= self.trim_fraction < 0.5:
            raise CalibrationError(f"trim_fraction must be in [0, 0.5), got {self.trim_fraction}")
        if self.min_frames < 1:
            raise CalibrationError(f"min_frames must be at least 1, got {self.min_frames}")
        if self.max_deviation_frac is not None and not 0.0 < self.max_deviation_frac < 1.0:
            raise CalibrationError(f"max_deviation_frac must be in (0, 1) or None, got {self.max_deviation_frac}")
        for name in ("max_width_angle_deg", "max_bone_angle_deg"):
            if not 0.0 < getattr(self, name) <= 90.0:
                raise CalibrationError(f"{name} must be in (0, 90], got {getattr(self, name)}")
        if self.joint_placement_sd_m is not None and not 0.0 <= self.joint_placement_sd_m < 0.2:
            raise CalibrationError(f"joint_placement_sd_m must be in [0, 0.2) metres or None, "
                                   f"got {self.joint_placement_sd_m}")  # fmt: skip
        if not 0.0 < self.proportion_sd < 1.0:
            raise CalibrationError(f"proportion_sd must be in (0, 1), got {self.proportion_sd}")


def estimate_subject(
    poses: np.ndarray,
    height_m: float,
    confidence: np.ndarray | None = None,
    options: SubjectOptions | None = None,
    source: str = "",
    keypoints_norm: np.ndarray | None = None,
    verbose: bool = True,
) -> SubjectProfile:
    """Bone lengths in metres from lifted poses ``(F, 17, 3)`` (any units, any per-frame scale;
    camera axes when ``keypoints_norm`` is given).

    ``confidence`` ``(F, 17)`` is optional per-joint confidence in [0, 1]. ``keypoints_norm``
    ``(F, 17, 2)``, the intrinsics-normalised 2D the poses were lifted from, puts each pose onto
    its viewing rays first (module docstring; the root placement weighs joints by
    ``confidence``). Raises :class:`CalibrationError` when fewer than ``options.min_frames``
    frames survive. ``verbose=False`` logs the steps at debug level (the caller says what it
    did with the result: live subject calibration keeps the smoother's lengths for what was not
    measured, not typical ones).
    """
    info, warning = (logging.INFO, logging.WARNING) if verbose else (logging.DEBUG, logging.DEBUG)
    options = options or SubjectOptions()
    _check_height(height_m)
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim != 3 or poses.shape[1:] != (skeleton.NUM_JOINTS, 3):
        raise CalibrationError(f"expected lifted poses of shape (F, {skeleton.NUM_JOINTS}, 3), got {poses.shape}")
    if keypoints_norm is not None:
        keypoints_norm = np.asarray(keypoints_norm, dtype=np.float64)
        if keypoints_norm.shape != (*poses.shape[:2], 2):
            raise CalibrationError(
                f"keypoints_norm must have shape {(*poses.shape[:2], 2)}, got {keypoints_norm.shape}"
            )
        weights = None if confidence is None else np.clip(np.nan_to_num(np.asarray(confidence, np.float64)), 0, None)
        poses = onto_rays(poses, keypoints_norm, weights)  # a frame that cannot be placed is NaN: dropped below
    proportions, seen = _frame_proportions(poses, confidence, options)
    keep = seen.any(axis=-1)
    if keep.sum() >= options.min_frames:
        keep &= _plausible(proportions, options)
    if keep.sum() >= options.min_frames:
        keep &= _consistent(proportions, keep, options)
    used = int(keep.sum())
    if used < options.min_frames:
        raise CalibrationError(
            f"only {used} of {len(poses)} frames give plausible bone lengths, need {options.min_frames}; "
            "stand fully in view, facing the camera, and move slowly during calibration"
        )
    seen &= keep[:, None]
    estimate = _per_bone(proportions, seen, options)
    unseen_widths: list[int] = []
    if keypoints_norm is not None:  # camera axes: a bone counts where the camera saw across it
        for bones, across, is_width in _seen_across(poses, options):
            frames = seen[:, bones].all(axis=-1) & across
            if frames.sum() >= options.min_frames:
                estimate[bones] = _trimmed_mean(proportions[frames][:, bones], options.trim_fraction)
            elif is_width and np.isfinite(estimate[bones]).all():
                unseen_widths += bones
    if options.symmetric:
        estimate = _symmetrize(estimate)
    unconfident = [b for b in np.flatnonzero(~np.isfinite(estimate)) if b not in unseen_widths]
    not_measured = sorted(unseen_widths + unconfident)
    estimate[not_measured] = _TYPICAL_PROPORTIONS[not_measured]
    lengths_m = _with_typical(estimate * (height_m / skeleton.height_from_bone_lengths(estimate)), height_m,
                              not_measured)  # fmt: skip
    typical = tuple(skeleton.BONE_NAMES[b] for b in not_measured)
    if unseen_widths:
        log.log(warning, "subject: the camera never saw across %s (fewer than %d frames within %.0f° of the image "
                "plane): typical proportions for %.2f m used; face the camera for a moment to measure them",
                _names(unseen_widths), options.min_frames, options.max_width_angle_deg, height_m)  # fmt: skip
    if unconfident:
        log.log(warning, "subject: fewer than %d frames saw %s with confidence %.2f or more (out of the image or "
                "hidden): typical proportions for %.2f m used; stand fully in view for a moment to measure them",
                options.min_frames, _names(unconfident), options.min_confidence, height_m)  # fmt: skip
    if keypoints_norm is not None and options.joint_placement_sd_m is not None:
        measured = np.setdiff1d(np.arange(len(lengths_m)), not_measured)
        weighed = _towards_typical(lengths_m, height_m, options)
        typical_m = skeleton.bone_lengths_from_height(height_m)
        log.log(info, "subject: measured bones weighed against typical proportions for %.2f m by how well each can "
                "be measured (README, Calibration): %s", height_m,
                ", ".join(f"{skeleton.BONE_NAMES[b]} {lengths_m[b] / typical_m[b] - 1:+.0%} to "
                          f"{weighed[b] / typical_m[b] - 1:+.0%}" for b in measured))  # fmt: skip
        lengths_m[measured] = weighed[measured]
        lengths_m = _with_typical(lengths_m, height_m, not_measured)  # the height again, typical bones as they were
    clipped: tuple[str, ...] = ()
    if options.max_deviation_frac is not None:
        lengths_m, clipped = _within_typical(lengths_m, height_m, options.max_deviation_frac, warning)
    log.log(info, "subject: %d of %d frames used, height %.2f m", used, len(poses), height_m)
    return SubjectProfile(float(height_m), tuple(lengths_m), used, source or f"{used} frames", utc_now_iso(), False,
                          clipped, typical)  # fmt: skip


def subject_from_lifted(
    poses: np.ndarray,
    confidence: np.ndarray,
    height_m: float,
    source: str = "",
    options: SubjectOptions | None = None,
    keypoints_norm: np.ndarray | None = None,
) -> SubjectProfile:
    """The subject calibration of ``posecast calibrate subject``: the raw lifted poses
    ``(F, 17, 3)``, confidences ``(F, 17)`` and normalised 2D ``(F, 17, 2)`` of the frames where
    a person was seen → profile. Raises :class:`CalibrationError` when the person was seen in
    too few frames."""
    options = options or SubjectOptions()
    if len(poses) < options.min_frames:
        raise CalibrationError(
            f"saw a person in only {len(poses)} frames of {source or 'the source'}, and it takes "
            f"{options.min_frames}: stand fully in view and move naturally for a few seconds, or pass --seconds with "
            "a longer time (a clip or an image folder shorter than that: pass a longer one)"
        )
    return estimate_subject(poses, height_m, confidence, options, source=source, keypoints_norm=keypoints_norm)


def _check_height(height_m: float) -> None:
    if not skeleton.height_in_range(float(height_m)):
        raise CalibrationError(
            f"subject height must be in metres from {skeleton.HEIGHT_RANGE_M[0]} to {skeleton.HEIGHT_RANGE_M[1]}, "
            f"got {height_m}"
        )


#: Typical adult proportions (the bone lengths for any height, divided by their sum).
_TYPICAL_PROPORTIONS = skeleton.bone_lengths_from_height(DEFAULT_HEIGHT_M) / DEFAULT_HEIGHT_M
_TYPICAL_PROPORTIONS /= _TYPICAL_PROPORTIONS.sum()
#: A frame sets its own scale from the bones it sees: it needs bones worth this share of the
#: body's typical total length (the upper body alone, arms, shoulders, torso, neck and head, is
#: half of it: a webcam at a desk).
_MIN_SEEN_SHARE = 0.4


def _frame_proportions(
    poses: np.ndarray, confidence: np.ndarray | None, options: SubjectOptions
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame bone proportions ``(F, 16)`` and where each bone was seen ``(F, 16)``.

    A bone is seen where its length is finite and not degenerate and both its joints have at
    least ``options.min_confidence``. Each frame is divided by its seen bones' total against
    their typical share (when all are seen, by the sum of its lengths), so a frame that misses a
    limb keeps the scale of the others; a frame that sees less than :data:`_MIN_SEEN_SHARE` of
    the body sees nothing. Unseen bones are NaN."""
    lengths = skeleton.bone_lengths(poses)
    with np.errstate(invalid="ignore"):
        seen = lengths > 1e-9 * np.nan_to_num(lengths).max(axis=-1, keepdims=True)  # False for NaN too
    if confidence is not None:
        confidence = np.asarray(confidence, dtype=np.float64)
        if confidence.shape != poses.shape[:2]:
            raise CalibrationError(f"confidence must have shape {poses.shape[:2]}, got {confidence.shape}")
        confident = np.nan_to_num(confidence, nan=0.0) >= options.min_confidence
        children, parents = np.array(skeleton.BONES).T
        seen &= confident[:, children] & confident[:, parents]
    share = (seen * _TYPICAL_PROPORTIONS).sum(axis=-1)
    seen &= (share >= _MIN_SEEN_SHARE)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(seen, lengths, 0.0).sum(axis=-1) / share
        proportions = np.where(seen, lengths / scale[:, None], np.nan)
    return proportions, seen


def _plausible(proportions: np.ndarray, options: SubjectOptions) -> np.ndarray:
    """Frames whose seen proportions are within ``max_prior_deviation`` of typical ones (mean log)."""
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a frame that sees no bone: NaN, dropped
        deviation = np.nanmean(np.abs(np.log(proportions / _TYPICAL_PROPORTIONS)), axis=-1)
    return np.nan_to_num(deviation, nan=np.inf) <= options.max_prior_deviation


def _consistent(proportions: np.ndarray, keep: np.ndarray, options: SubjectOptions) -> np.ndarray:
    """Frames within ``outlier_z`` robust sigmas of the kept frames' median proportions."""
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a bone no kept frame saw: its median is NaN
        median = np.nanmedian(proportions[keep], axis=0)
        deviation = np.nanmean(np.abs(np.log(proportions / median)), axis=-1)
    deviation = np.nan_to_num(deviation, nan=np.inf)
    centre = np.median(deviation[keep])
    sigma = 1.4826 * np.median(np.abs(deviation[keep] - centre)) + 1e-6
    return deviation <= centre + options.outlier_z * sigma


def _per_bone(proportions: np.ndarray, seen: np.ndarray, options: SubjectOptions) -> np.ndarray:
    """Each bone's trimmed mean over the frames that saw it ``(16,)``; NaN for a bone seen in fewer
    than ``options.min_frames``."""
    estimate = np.full(proportions.shape[-1], np.nan)
    for bone in range(proportions.shape[-1]):
        if seen[:, bone].sum() >= options.min_frames:
            estimate[bone] = _trimmed_mean(proportions[seen[:, bone], bone][:, None], options.trim_fraction)[0]
    return estimate


def _with_typical(lengths_m: np.ndarray, height_m: float, typical_bones: list[int]) -> np.ndarray:
    """``lengths_m`` with ``typical_bones`` set to typical proportions for the height, and the
    others scaled so that the lengths still give the height (when any of them counts for it)."""
    if not typical_bones:
        return lengths_m
    lengths_m = lengths_m.copy()
    lengths_m[typical_bones] = skeleton.bone_lengths_from_height(height_m)[typical_bones]
    measured = np.setdiff1d(np.arange(len(lengths_m)), typical_bones)
    measured_height = skeleton.HEIGHT_PER_BONE[measured] @ lengths_m[measured]
    if measured_height > 0:
        rest = height_m - skeleton.HEIGHT_PER_BONE[typical_bones] @ lengths_m[typical_bones]
        lengths_m[measured] *= rest / measured_height
    return lengths_m


def _names(bones: list[int]) -> str:
    return ", ".join(skeleton.BONE_NAMES[b] for b in bones)


#: What the camera must see across: each width as its two bones and the joints across the body
#: they span (the half-widths hang off the pelvis and thorax, which sit on that line), then every
#: other bone as itself and its two joints.
_SEGMENTS: tuple[tuple[list[int], tuple[int, int], bool], ...] = (
    *(([b for b in skeleton.WIDTH_BONES if skeleton.JOINT_NAMES[skeleton.BONES[b][0]].endswith(side)],
       (skeleton.JOINT_INDEX[f"l_{side}"], skeleton.JOINT_INDEX[f"r_{side}"]), True)
      for side in ("hip", "shoulder")),
    *(([b], (parent, child), False) for b, (child, parent) in enumerate(skeleton.BONES)
      if b not in skeleton.WIDTH_BONES),
)  # fmt: skip


def _seen_across(poses_cam: np.ndarray, options: SubjectOptions) -> list[tuple[list[int], np.ndarray, bool]]:
    """Per segment of :data:`_SEGMENTS`, its bones, the frames ``(F,)`` where the camera-frame
    poses hold it within the options' angle of the image plane (NaN poses: not seen), and
    whether it is a width."""
    out = []
    for bones, joints, is_width in _SEGMENTS:
        limit = options.max_width_angle_deg if is_width else options.max_bone_angle_deg
        out.append((bones, np.nan_to_num(angle_to_image_plane_deg(poses_cam, *joints), nan=90.0) <= limit, is_width))
    return out


def _within_typical(
    lengths_m: np.ndarray, height_m: float, max_deviation_frac: float, log_level: int = logging.WARNING
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Clip each bone to ``typical × (1 ± max_deviation_frac)`` and keep the height (rounds until both
    hold: rescaling to the height can move a bone back over a bound); returns the lengths and the
    names of the bones that were clipped in any round (they end at or near the bound)."""
    typical = skeleton.bone_lengths_from_height(height_m)
    low, high = typical * (1.0 - max_deviation_frac), typical * (1.0 + max_deviation_frac)
    measured = lengths_m
    clipped = np.zeros(len(lengths_m), bool)
    for _ in range(50):  # converges geometrically; slowly when most bones sit at a bound
        outside = (lengths_m < low) | (lengths_m > high)
        if not outside.any():
            break
        clipped |= outside
        lengths_m = np.clip(lengths_m, low, high)
        lengths_m = lengths_m * (height_m / skeleton.height_from_bone_lengths(lengths_m))
    lengths_m = np.clip(lengths_m, low, high)  # the bound wins over the last fraction of a millimetre of height
    # a bone the rounds left at a bound is limited too, whether or not a round caught it outside (one
    # measured +13 % ended at +20 % unnamed, and a live measurement took it as measured: QA)
    clipped |= np.isclose(lengths_m, low, rtol=2e-3, atol=0.0) | np.isclose(lengths_m, high, rtol=2e-3, atol=0.0)
    names = tuple(name for name, out in zip(skeleton.BONE_NAMES, clipped, strict=True) if out)
    if names:
        # a bone inside the bound as measured went over it when the others were scaled to the height
        bones = ", ".join(f"{name} {m / t - 1:+.0%}{' (over it at the height)' if lo <= m <= hi else ''} → "
                          f"{b / t - 1:+.0%}"
                          for name, m, b, t, lo, hi, out in zip(skeleton.BONE_NAMES, measured, lengths_m, typical, low,
                                                                high, clipped, strict=True) if out)  # fmt: skip
        log.log(log_level, "subject: %d of %d bones were not measured: their estimated lengths were implausible, so "
                "they were limited to ±%.0f%% of typical proportions for %.2f m (then every bone was scaled to keep "
                "the height): %s", len(names), len(clipped), 100 * max_deviation_frac, height_m, bones)  # fmt: skip
        if 2 * len(names) > len(clipped):
            log.log(log_level, "subject: most bones are at the bound, so this file says little more than the "
                    "height: prefer --subject-height %.2f alone (README, Calibration)", height_m)  # fmt: skip
    return lengths_m, names


#: Each bone's share of the span between the two detected joints it is measured from: a bone at
#: a derived joint (a midpoint) is half of one (the widths, the torso, the neck and head).
_SPAN_PER_BONE = np.array([0.5 if {child, parent} & set(skeleton.DERIVED_JOINTS) else 1.0
                           for child, parent in skeleton.BONES])  # fmt: skip


def _towards_typical(lengths_m: np.ndarray, height_m: float, options: SubjectOptions) -> np.ndarray:
    """Each bone's measured length weighed against typical proportions for the height by how well
    it can be measured, then scaled to keep the height.

    An error in where a joint is placed (the 2D detector's idea of a hip or a head, the lifter's
    depth) is about the same in metres for every joint and stays constant over a clip, so it does
    not average away over frames and weighs most on the short bones: 0.75 cm at each end of the
    18 cm span of the neck and head is 6 %, of the 43 cm thigh 2.5 %. With a normal prior on each
    log length (typical, sd ``proportion_sd``) and that error (sd √2 · ``joint_placement_sd_m``
    over the span; half the variance for a left/right pair averaged), the posterior mean of the
    log length lies the fraction ``w = prior / (prior + error)`` of the way from typical to the
    measured one: 0.9 for the thighs and shins, 0.8 for the torso, 0.75 for the arms, 0.4 for the
    neck and head, 0.5 and 0.3 for the shoulder and hip widths.

    The default 0.75 cm was chosen on held-out mocap (``tools/subject_accuracy.py``, README
    Calibration): it keeps the calibration test's walk (legs 8 % long, arms 6 % short: 1.6 and
    1.2 standard deviations from typical) within 5 % per bone. Twice that fits MediaPipe-shaped
    noisy 2D better, but puts that walk's upper arms 7.2 % off."""
    typical = skeleton.bone_lengths_from_height(height_m)
    span_m = typical / _SPAN_PER_BONE
    error_var = (np.sqrt(2.0) * options.joint_placement_sd_m / span_m) ** 2
    if options.symmetric:  # a pair's two measurements average (the halves of a width are one measurement)
        paired = [b for pair in skeleton.LEFT_RIGHT for b in map(_bone_of_joint, pair) if _SPAN_PER_BONE[b] == 1.0]
        error_var[paired] /= 2.0
    weight = options.proportion_sd**2 / (options.proportion_sd**2 + error_var)
    shrunk = typical * (lengths_m / typical) ** weight
    return shrunk * (height_m / skeleton.height_from_bone_lengths(shrunk))


def _trimmed_mean(values: np.ndarray, trim_fraction: float) -> np.ndarray:
    """Per-column mean of ``values`` ``(N, B)`` without the lowest and highest ``trim_fraction``."""
    ordered = np.sort(values, axis=0)
    cut = int(trim_fraction * len(ordered))
    return ordered[cut : len(ordered) - cut].mean(axis=0)


def _symmetrize(lengths: np.ndarray) -> np.ndarray:
    """Left and right bones averaged; a side not measured (NaN) takes the other's length."""
    out = lengths.copy()
    for left, right in skeleton.LEFT_RIGHT:
        il, ir = _bone_of_joint(left), _bone_of_joint(right)
        pair = lengths[[il, ir]]
        if np.isfinite(pair).any():
            out[il] = out[ir] = np.nanmean(pair)
    return out


def _bone_of_joint(joint: int) -> int:
    return next(i for i, (child, _) in enumerate(skeleton.BONES) if child == joint)

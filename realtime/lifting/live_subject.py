"""Live subject calibration: ``posecast calibrate subject``'s measurement, made from a run's first seconds.

Without a subject file the bone smoother (:mod:`.smoothing`) learns each bone's length from the
lifter's own output: the lifter's depth, and its pull towards the proportions it was trained on.
``calibrate subject`` (:func:`posecast.calibration.estimate_subject`) measures better: it puts
each lifted pose onto its viewing rays, takes each bone from the frames that see across it and
weighs it against typical proportions by how well it can be measured. This stage makes that
measurement once per person, from the raw lifted poses, normalised 2D and confidences of their
first ``after_s`` seconds with a pose, and hands the lengths to the smoother, which moves its
published lengths there at its bounded rate and locks them. Nothing is looked at ahead of time:
every frame published before the measurement has the smoother's own lengths.

What the measurement does not measure keeps the smoother's estimate: a bone not seen with
confidence in enough frames and, above all, a hip or shoulder width the camera never saw across
(within 15° of the image plane), which ``calibrate subject`` would set to typical proportions.
In the first 2 s of a held-out mocap clip that is most clips' widths, and typical widths there
trade one skeleton for another: in-domain (Bandai-Namco, whose widths are the typical ones)
P-MPJPE 24.4 mm against 25.6 with the smoother's, but across datasets (CMU, whose hips and
shoulders sit 1.3× and 1.6× wider, as MediaPipe's do) worse than without the measurement, by
0.6 mm over six webcam draws, against 0.4 mm better with the smoother's widths
(docs/accuracy.md, Live subject calibration).

The measurement is made again over all the frames so far at each of ``again_at_s`` (4, 8, 16
and 32 s: each doubling of what has been seen), so that what the first seconds could not measure
is measured once it has been seen: the legs of someone who sat at a desk and stood up, the
hips and shoulders of someone who walked past the camera and then turned to it. A later
measurement rests on more frames, so where it measures a bone it replaces the earlier length,
but only when the two differ by more than ``min_change_frac`` (2 %): the published lengths of a
person already measured do not creep. No measurement, first or later, takes a length it limited
to typical proportions' bound: that is not a measurement, and the bone keeps what it had. At
most ``max_frames`` frames, evenly spread, are measured (a few milliseconds once in a while,
whatever the camera's rate).

A refused first measurement (too few usable frames: the person half out of view, an implausible
skeleton) is tried again every ``retry_s`` seconds over all the frames so far, the last time at
``max_s``; then the smoother's own lengths stay until a later measurement succeeds. Only frames
whose pose was published (placed and plausible) are measured. A measured person keeps the
lengths when the smoother is reset by an untrusted pose. A height given with
``--subject-height`` is kept (the measurement is of proportions); without one the assumed 1.70 m
is.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from ...calibration.errors import CalibrationError
from ...calibration.subject import SubjectOptions, SubjectProfile, estimate_subject
from ...engines import skeleton
from ...engines.window_slots import MAX_BRIDGED_GAP_S
from ..errors import OptionsError
from .smoothing import frame_seconds

log = logging.getLogger(__name__)
#: Seen times this close to a measurement's time count as reaching it (float sums of frame steps).
_SAME_TIME_S = 1e-6


@dataclass(frozen=True)
class LiveSubjectOptions:
    """``after_s``: seconds of frames with a pose before measuring; ``retry_s``: a refused first
    measurement is tried again after this many more; ``max_s``: then given up until the next of
    ``again_at_s``, the times (seconds seen) of the later measurements over all the frames so
    far. ``min_change_frac``: a later measurement replaces a bone's length only where it differs by
    more than this fraction. ``max_frames``: frames measured at most (evenly spread).
    ``subject``: the measurement's options (``calibrate subject``'s)."""

    after_s: float = 2.0
    retry_s: float = 1.0
    max_s: float = 10.0
    again_at_s: tuple[float, ...] = (4.0, 8.0, 16.0, 32.0)
    min_change_frac: float = 0.02
    max_frames: int = 300
    subject: SubjectOptions = field(default_factory=SubjectOptions)

    def __post_init__(self) -> None:
        if not (0 < self.after_s <= self.max_s and self.retry_s > 0):
            raise OptionsError(f"live subject calibration needs 0 < after_s <= max_s and retry_s > 0, got "
                               f"after_s={self.after_s}, retry_s={self.retry_s}, max_s={self.max_s}")  # fmt: skip
        again = tuple(self.again_at_s)
        if any(t <= self.after_s for t in again) or list(again) != sorted(set(again)):
            raise OptionsError(f"live subject calibration needs again_at_s increasing and after after_s="
                               f"{self.after_s}, got {again}")  # fmt: skip
        if not (0 <= self.min_change_frac < 1 and self.max_frames >= self.subject.min_frames):
            raise OptionsError(f"live subject calibration needs 0 <= min_change_frac < 1 and max_frames >= "
                               f"{self.subject.min_frames}, got min_change_frac={self.min_change_frac}, "
                               f"max_frames={self.max_frames}")  # fmt: skip


@dataclass(frozen=True)
class LiveMeasurement:
    """A measurement made live: ``profile`` as ``calibrate subject`` makes it (its
    ``typical_bones`` were not measured) and ``bones``, the indices whose length to take: every
    bone measured the first time; later, those that moved by more than ``min_change_frac``."""

    profile: SubjectProfile
    bones: tuple[int, ...]


class LiveSubjectCalibration:
    """One person's published frames, measured at the times the options give (module docstring)."""

    def __init__(self, height_m: float, options: LiveSubjectOptions | None = None, who: str = "") -> None:
        """``who``: whose measurements the log lines are, e.g. ``" (person 1)"`` (empty with one
        person: QA could not tell two people's lines apart)."""
        self.height_m = height_m
        self.who = who
        self.options = options or LiveSubjectOptions()
        #: the latest measurement, else ``None``
        self.profile: SubjectProfile | None = None
        self._lengths_m: np.ndarray | None = None  # what was taken of each bone so far (NaN: not measured)
        self._poses: list[np.ndarray] = []
        self._keypoints: list[np.ndarray] = []
        self._confidence: list[np.ndarray] = []
        self._seen_s = 0.0
        self._next_s: float | None = self.options.after_s
        self._last_ns: int | None = None
        self._warned = False

    @property
    def done(self) -> bool:
        """No measurement left to make: no more frames are kept."""
        return self._next_s is None

    def observe(
        self, joints_lifted: np.ndarray, keypoints_norm: np.ndarray, confidence: np.ndarray, timestamp_ns: int
    ) -> LiveMeasurement | None:
        """One frame with a pose: the raw lifted pose ``(17, 3)``, its normalised 2D ``(17, 2)`` and
        confidences ``(17,)``. Returns a measurement on a frame that makes one with a length to
        take, else ``None``."""
        if self.done:
            return None
        # a camera's frame counts whole up to the gap the window bridges (QA: at most 0.25 s made a 2 fps
        # clip's "first 2 s" 4 s of video, and its 32 s measurement never came)
        self._seen_s += frame_seconds(timestamp_ns, self._last_ns, most_s=MAX_BRIDGED_GAP_S)
        self._last_ns = timestamp_ns
        self._poses.append(np.array(joints_lifted, dtype=np.float64))
        self._keypoints.append(np.array(keypoints_norm, dtype=np.float64))
        self._confidence.append(np.array(confidence, dtype=np.float64))
        if self._next_s - _SAME_TIME_S <= self._seen_s < self._next_s:  # 60 frames of 1/30 s: a hair under 2 s
            self._seen_s = self._next_s  # reached (the times it is compared with next are exact too)
        if self._seen_s < self._next_s:
            return None
        measurement = self._measure()
        if self._next_s is None:
            self._poses, self._keypoints, self._confidence = [], [], []
        return measurement

    def _schedule_after(self, seen_s: float, retry: bool) -> None:
        o = self.options
        later = [t for t in o.again_at_s if t > seen_s]
        if retry and seen_s < o.max_s:
            later.append(min(seen_s + o.retry_s, o.max_s))
        self._next_s = min(later) if later else None

    def _measure(self) -> LiveMeasurement | None:
        start = time.perf_counter()
        o = self.options
        first = self.profile is None
        take = np.unique(np.linspace(0, len(self._poses) - 1, min(len(self._poses), o.max_frames)).round().astype(int))
        kept = (self._poses, self._keypoints, self._confidence)
        poses, keypoints, confidence = (np.stack([frames[i] for i in take]) for frames in kept)
        try:
            profile = estimate_subject(poses, self.height_m, confidence, o.subject, keypoints_norm=keypoints,
                                       verbose=False)  # fmt: skip
            measured = np.array([name not in profile.typical_bones for name in skeleton.BONE_NAMES])
            limited = np.isin(skeleton.BONE_NAMES, profile.clipped_bones)  # at the bound: not a measurement
            if first and not (measured & ~limited).any():  # a first one that measured nothing is refused (QA)
                raise CalibrationError(f"it measured no bone: limited to ±{o.subject.max_deviation_frac:.0%} of "
                                       f"typical, not a measurement: {', '.join(profile.clipped_bones) or 'none'}")
        except CalibrationError as exc:
            self._schedule_after(self._seen_s, retry=first)
            if first and self._seen_s >= o.max_s and not self._warned:
                self._warned = True
                log.warning("live subject calibration%s gave up after %.1f s (%s): the bone lengths learnt while "
                            "tracking stay%s; posecast calibrate subject makes a subject file", self.who,
                            self._seen_s, exc,
                            "" if self._next_s is None else f" (tried again at {self._next_s:.0f} s)")  # fmt: skip
            else:
                log.info("live subject calibration%s after %.1f s refused (%s)%s", self.who, self._seen_s, exc,
                         "" if self._next_s is None else f": trying again at {self._next_s:.1f} s")  # fmt: skip
            return None
        self._schedule_after(self._seen_s, retry=False)
        lengths = profile.as_array()
        # a bone limited to the bound is not a measurement, so it replaces nothing: later it took 12 bones
        # measured inside the bound at 2 s to the bound at 4 s; first, every bone of a clip that measured
        # none to the bound, from where the smoother had them (an upper arm from -1 % to +20 %)
        if self._lengths_m is None:
            self._lengths_m = np.full(len(skeleton.BONES), np.nan)
            changed = measured & ~limited
        else:  # a later measurement: what it measures anew, or moves by more than min_change_frac
            with np.errstate(invalid="ignore"):
                moved = np.abs(lengths / self._lengths_m - 1) > o.min_change_frac
            changed = measured & ~limited & (np.isnan(self._lengths_m) | moved)
        typical = skeleton.bone_lengths_from_height(self.height_m)
        before = self._lengths_m / typical - 1  # NaN where nothing was taken yet
        self.profile = profile
        self._lengths_m[changed] = lengths[changed]
        against_typical = lengths / typical - 1

        def taken(b: int) -> str:  # a later measurement also says what the bone was
            was = "" if first or np.isnan(before[b]) else f"{before[b]:+.0%} → "
            return f"{skeleton.BONE_NAMES[b]} {was}{against_typical[b]:+.0%}"

        log.log(logging.INFO if changed.any() else logging.DEBUG,  # a later measurement that takes nothing: quiet
                "live subject calibration%s%s: %d bones measured from %d frames (%.1f s) in %.0f ms, height %.2f m, "
                "%s: %s%s", self.who, "" if first else " again", int((measured & ~limited).sum()), profile.frames_used,
                self._seen_s, (time.perf_counter() - start) * 1e3, self.height_m,
                "against typical proportions" if first else f"taken (new, or moved more than {o.min_change_frac:.0%}; "
                "against typical)", ", ".join(taken(b) for b in np.flatnonzero(changed)) or "none",
                (f"; limited to ±{o.subject.max_deviation_frac:.0%} of typical (not a measurement): "
                 f"{', '.join(profile.clipped_bones)}" if profile.clipped_bones else "")
                + (f"; not measured, kept as tracked: {', '.join(profile.typical_bones)}" if profile.typical_bones
                   else ""))  # fmt: skip
        bones = tuple(int(b) for b in np.flatnonzero(changed))
        return LiveMeasurement(profile, bones) if bones else None

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

A refused measurement (too few usable frames: the person half out of view, an implausible
skeleton) is tried again every ``retry_s`` seconds over all the frames so far, the last time at
``max_s``; then the smoother's own lengths stay. Only frames whose pose was published (placed
and plausible) are measured. A measured person keeps the lengths when the smoother is reset by
an untrusted pose. A height given with ``--subject-height`` is kept (the measurement is of
proportions); without one the assumed 1.70 m is.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from ...calibration.errors import CalibrationError
from ...calibration.subject import SubjectOptions, SubjectProfile, estimate_subject
from ...engines import skeleton
from ..errors import OptionsError
from .smoothing import frame_seconds

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveSubjectOptions:
    """``after_s``: seconds of frames with a pose before measuring; ``retry_s``: a refused
    measurement is tried again after this many more; ``max_s``: then given up (the smoother's
    own lengths stay). ``subject``: the measurement's options (``calibrate subject``'s)."""

    after_s: float = 2.0
    retry_s: float = 1.0
    max_s: float = 10.0
    subject: SubjectOptions = field(default_factory=SubjectOptions)

    def __post_init__(self) -> None:
        if not (0 < self.after_s <= self.max_s and self.retry_s > 0):
            raise OptionsError(f"live subject calibration needs 0 < after_s <= max_s and retry_s > 0, got "
                               f"after_s={self.after_s}, retry_s={self.retry_s}, max_s={self.max_s}")  # fmt: skip


class LiveSubjectCalibration:
    """One person's frames until their bone lengths are measured (module docstring)."""

    def __init__(self, height_m: float, options: LiveSubjectOptions | None = None) -> None:
        self.height_m = height_m
        self.options = options or LiveSubjectOptions()
        #: the measurement once made, else ``None``
        self.profile: SubjectProfile | None = None
        self.reset()

    @property
    def done(self) -> bool:
        """Measured, or given up: no more frames are kept."""
        return self.profile is not None or self._gave_up

    def reset(self) -> None:
        """A new subject, or a pose that cannot be trusted: forget the frames and the measurement."""
        self.profile = None
        self._gave_up = False
        self._poses: list[np.ndarray] = []
        self._keypoints: list[np.ndarray] = []
        self._confidence: list[np.ndarray] = []
        self._seen_s = 0.0
        self._next_s = self.options.after_s
        self._last_ns: int | None = None

    def observe(
        self, joints_lifted: np.ndarray, keypoints_norm: np.ndarray, confidence: np.ndarray, timestamp_ns: int
    ) -> SubjectProfile | None:
        """One frame with a pose: the raw lifted pose ``(17, 3)``, its normalised 2D ``(17, 2)`` and
        confidences ``(17,)``. Returns the measurement on the frame that makes it (once), else
        ``None``; the bones it names in ``typical_bones`` were not measured."""
        if self.done:
            return None
        self._seen_s += frame_seconds(timestamp_ns, self._last_ns)
        self._last_ns = timestamp_ns
        self._poses.append(np.array(joints_lifted, dtype=np.float64))
        self._keypoints.append(np.array(keypoints_norm, dtype=np.float64))
        self._confidence.append(np.array(confidence, dtype=np.float64))
        if self._seen_s < self._next_s:
            return None
        return self._measure()

    def _measure(self) -> SubjectProfile | None:
        start = time.perf_counter()
        o = self.options
        try:
            profile = estimate_subject(np.stack(self._poses), self.height_m, np.stack(self._confidence), o.subject,
                                       keypoints_norm=np.stack(self._keypoints), verbose=False)  # fmt: skip
        except CalibrationError as exc:
            if self._seen_s >= o.max_s:
                log.warning("live subject calibration gave up after %.1f s (%s): the bone lengths learnt "
                            "while tracking stay; posecast calibrate subject makes a subject file",
                            self._seen_s, exc)  # fmt: skip
                self._gave_up = True
                self._poses, self._keypoints, self._confidence = [], [], []
            else:
                log.info("live subject calibration after %.1f s refused (%s): trying again in %.1f s",
                         self._seen_s, exc, o.retry_s)  # fmt: skip
                self._next_s = min(self._seen_s + o.retry_s, o.max_s)
            return None
        self.profile = profile
        self._poses, self._keypoints, self._confidence = [], [], []
        typical = skeleton.bone_lengths_from_height(self.height_m)
        measured = [(name, length) for name, length in zip(skeleton.BONE_NAMES, profile.bone_lengths_m, strict=True)
                    if name not in profile.typical_bones]  # fmt: skip
        log.info("live subject calibration: %d bones measured from %d frames (%.1f s) in %.0f ms, height %.2f m, "
                 "against typical proportions: %s%s", len(measured), profile.frames_used, self._seen_s,
                 (time.perf_counter() - start) * 1e3, self.height_m,
                 ", ".join(f"{name} {length / typical[skeleton.BONE_NAMES.index(name)] - 1:+.0%}"
                           for name, length in measured),
                 (f"; limited to ±{o.subject.max_deviation:.0%} of typical (not a measurement): "
                  f"{', '.join(profile.clipped_bones)}" if profile.clipped_bones else "")
                 + (f"; not measured, kept as tracked: {', '.join(profile.typical_bones)}" if profile.typical_bones
                    else ""))  # fmt: skip
        return profile

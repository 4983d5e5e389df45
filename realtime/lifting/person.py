"""One tracked person's temporal state: causal window → (batched networks) → bone smoothing → root.

The lifting stage keeps one :class:`PersonState` per person id, so people never share a
window, a bone-length estimate or a filter. A frame is handled in two halves around the one
network call that lifts everybody: :meth:`PersonState.push` (window in) and
:meth:`PersonState.finish` (metric 3D out). A frame in which the person is not seen touches
nothing: the state is held, so a short dropout (up to ``max_gap_s``) is bridged by the window's
resampling; after a longer one the window restarts, and the bone lengths, which belong to the
person, are kept. With live subject calibration (:mod:`.live_subject`) the person's first seconds
are measured as ``calibrate subject`` measures them, and again later over more of them, and the
smoother takes those lengths.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...engines import skeleton
from ...engines.camera import solve_root_translation
from ...engines.joint_limits import mirror_backward_knees
from ...engines.window_slots import MAX_BRIDGED_GAP_S
from .collapse import CollapseHold
from .live_subject import LiveSubjectCalibration, LiveSubjectOptions
from .smoothing import BoneLengthSmoother, BoneLengthSmootherOptions, OneEuroFilter, OneEuroOptions
from .upright import UprightCheck
from .window import PoseWindow, PoseWindowOptions, WindowResult


@dataclass
class MetricPose:
    """``state``: ``warming`` | ``tracking``; ``joints_rel_m`` ``(17, 3)`` metres with the root
    at the origin; ``root_m`` ``(3,)``; ``bone_lengths_m`` ``(16,)`` the lengths used."""

    state: str
    joints_rel_m: np.ndarray
    root_m: np.ndarray
    bone_lengths_m: np.ndarray


class PersonState:
    """The window, the bone-length smoother (with the optional live subject calibration), the knee
    limit and the optional One Euro filter of one person."""

    def __init__(
        self,
        window_frames: int,
        smoother: BoneLengthSmootherOptions,
        one_euro: OneEuroOptions | None = None,
        max_gap_s: float | None = MAX_BRIDGED_GAP_S,
        model_fps: float = 30.0,
        max_knee_backward_deg: float | None = None,
        live_subject: LiveSubjectOptions | None = None,
        who: str = "",
        collapse_hold_s: float | None = None,
    ) -> None:
        self.window = PoseWindow(PoseWindowOptions(window_frames, model_fps, max_gap_s))
        self.max_knee_backward_deg = max_knee_backward_deg
        self.smoother = BoneLengthSmoother(smoother)
        height_m = self.smoother.height_m  # live_subject: None with a subject file's fixed lengths (metric decides)
        self.live_subject = None if live_subject is None else LiveSubjectCalibration(height_m, live_subject, who)
        self._adopted_m: np.ndarray | None = None  # the lengths taken from the live measurement
        self.one_euro = OneEuroFilter(one_euro) if one_euro else None
        self.upright = UprightCheck(who)  # a video turned round is said once (upright.py)
        self._state = "warming"
        #: held while the detector's 2D of the person is collapsed (collapse.py; ``None``: never)
        self.collapse = None if collapse_hold_s is None else CollapseHold(collapse_hold_s)

    def push(self, keypoints_norm: np.ndarray, timestamp_ns: int) -> WindowResult:
        """Add this frame's normalised 2D ``(17, 2)``; returns the window ending with it (a gap
        longer than ``max_gap_s`` restarts the window and the filter; the bone lengths stay)."""
        window = self.window.process(keypoints_norm, timestamp_ns)
        if window.restarted and self.one_euro is not None:
            self.one_euro.reset()
        self._state = window.state
        return window

    def finish(
        self,
        joints_lifted: np.ndarray,
        keypoints_norm: np.ndarray,
        confidence: np.ndarray,
        timestamp_ns: int,
        min_joint_confidence: float,
    ) -> MetricPose | None:
        """The network's root-relative output ``(17, 3)`` → metric pose (bone smoothing, knees
        bent backwards mirrored, filter, root placed from the 2D with joints below
        ``min_joint_confidence`` unweighted). ``None`` when the root cannot be placed (degenerate
        2D): the caller treats the person as lost."""
        joints_rel_m = self.smoother.process(joints_lifted, timestamp_ns, confidence)
        if self.max_knee_backward_deg is not None:
            joints_rel_m, _ = mirror_backward_knees(joints_rel_m, self.max_knee_backward_deg)
        if self.one_euro is not None:  # it moves each joint on its own: the locked lengths are put back
            filtered = self.one_euro.process(joints_rel_m, timestamp_ns)
            joints_rel_m = skeleton.with_bone_lengths(filtered, self.smoother.bone_lengths_m)
        weights = np.where(confidence >= min_joint_confidence, confidence, 0.0)
        root_m = solve_root_translation(joints_rel_m, keypoints_norm, weights)
        if not (np.isfinite(root_m).all() and np.isfinite(joints_rel_m).all()):
            return None
        return MetricPose(self._state, joints_rel_m, root_m, self.smoother.bone_lengths_m)

    def accept(
        self, joints_lifted: np.ndarray, keypoints_norm: np.ndarray, confidence: np.ndarray, timestamp_ns: int
    ) -> None:
        """This frame's pose was published (placed and plausible): its raw lifted pose, 2D and
        confidences go to the live subject calibration; the frame that measures the person hands
        the lengths to the smoother (used from the next frame on)."""
        if self.live_subject is not None and not self.live_subject.done:
            measurement = self.live_subject.observe(joints_lifted, keypoints_norm, confidence, timestamp_ns)
            if measurement is not None:  # what it did not measure (the widths) the smoother keeps
                self.smoother.adopt(measurement.profile.as_array(), measurement.bones)
                self._adopted_m = self.smoother.estimate_m

    def reset(self) -> None:
        """A pose that cannot be trusted: forget the window, the bone estimate and the filter.
        What the live subject calibration measured (or the published frames it holds so far)
        belongs to the person and stays: a measured person keeps their lengths."""
        self.window.reset()
        self.smoother.reset()
        if self._adopted_m is not None:
            self.smoother.adopt(self._adopted_m)
        if self.one_euro is not None:
            self.one_euro.reset()

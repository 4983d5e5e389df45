"""Per frame, normalised 2D → metric 3D: causal window → networks → bone smoothing → root.

One stage shared by the live pipeline and ``posecast lift``, so both make 3D the same way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..engines.camera import solve_root_translation
from .lifter import Lifter3D
from .smoothing import BoneLengthSmoother, BoneLengthSmootherOptions, OneEuroFilter, OneEuroOptions
from .window import PoseWindow, PoseWindowOptions


@dataclass
class MetricPose:
    state: str  # "warming" | "tracking"
    joints_m: np.ndarray  # (17, 3) metres, camera frame, root included
    joints_rel_m: np.ndarray  # (17, 3) metres, root at the origin
    root_m: np.ndarray  # (3,)
    scale: float
    joints_lifted: np.ndarray  # (17, 3) the network's raw root-relative output (canonical units)


class MetricLifting:
    """``process(keypoints_norm (17, 2), confidence (17,), timestamp_ns) -> MetricPose | None``.

    ``None`` when the root cannot be placed (degenerate 2D): the caller treats it as lost.
    """

    def __init__(
        self,
        lifter: Lifter3D,
        smoother: BoneLengthSmootherOptions,
        one_euro: OneEuroOptions | None = None,
        min_joint_confidence: float = 0.3,
        max_gap_s: float | None = 0.5,
    ) -> None:
        self.lifter = lifter
        self.window = PoseWindow(PoseWindowOptions(window_frames=lifter.window_frames, max_gap_s=max_gap_s))
        self.smoother = BoneLengthSmoother(smoother)
        self.one_euro = OneEuroFilter(one_euro) if one_euro else None
        self.min_joint_confidence = min_joint_confidence

    def process(
        self,
        keypoints_norm: np.ndarray,
        confidence: np.ndarray,
        timestamp_ns: int,
        stage_ns: dict[str, int] | None = None,
    ) -> MetricPose | None:
        """``stage_ns`` (optional) receives the time spent in ``window``, ``lift`` and ``smooth``."""
        t0 = time.perf_counter_ns()
        window = self.window.process(keypoints_norm, timestamp_ns)
        if window.restarted:
            self._reset_temporal()
        t1 = time.perf_counter_ns()
        lifted = self.lifter.process(window.window)
        t2 = time.perf_counter_ns()
        joints_rel_m = self.smoother.process(lifted.joints_rel, timestamp_ns, confidence)
        if self.one_euro is not None:
            joints_rel_m = self.one_euro.process(joints_rel_m, timestamp_ns)
        weights = np.where(confidence >= self.min_joint_confidence, confidence, 0.0)
        root_m = solve_root_translation(joints_rel_m, keypoints_norm, weights)
        if stage_ns is not None:
            stage_ns.update(window=t1 - t0, lift=t2 - t1, smooth=time.perf_counter_ns() - t2)
        if not (np.all(np.isfinite(root_m)) and np.all(np.isfinite(joints_rel_m))):
            return None
        return MetricPose(window.state, joints_rel_m + root_m, joints_rel_m, root_m, lifted.scale, lifted.joints_rel)

    def _reset_temporal(self) -> None:
        self.smoother.reset()
        if self.one_euro is not None:
            self.one_euro.reset()

    def reset(self) -> None:
        """A lost track or a new subject: forget the window, the bone estimate and the filter."""
        self.window.reset()
        self._reset_temporal()

    def close(self) -> None:
        self.lifter.close()

"""The live pipeline: frame → MediaPipe 2D → causal window → scale + lifting → bone smoothing
→ metric 3D in the camera frame → ZeroMQ.

Data flow per frame (:meth:`Pipeline.process`):

1. ``keypoints2d``: MediaPipe PoseLandmarker → 17 joints in pixels + confidence.
2. ``window``: undistort (calibrated cameras), normalise with the intrinsics
   (:func:`posecast.engines.normalize.normalize_pixels`), push into the causal window.
3. ``lift``: the exported networks give the current frame's root-relative 3D.
4. ``smooth``: bone-length smoothing makes it metric from the subject's height or profile;
   optional One Euro filter; the root is placed from the focal length and the 2D
   (:func:`posecast.engines.camera.solve_root_translation`).
5. ``publish``: a :class:`~posecast.realtime.publish.PoseMessage`, never blocking.

Tracking policy: no person in a frame → the window, the smoother and the filter are reset and
a ``lost`` message is published (joints zero, confidence zero). Until the window holds T real
frames the state is ``warming`` (joints valid but from a partly padded window).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..calibration import (
    DEFAULT_HEIGHT_M,
    DEFAULT_HFOV_DEG,
    CameraIntrinsics,
    SubjectProfile,
    load_intrinsics,
    load_subject,
)
from ..engines import normalize, skeleton
from .capture import FrameSource
from .keypoints2d import Keypoints2DEstimator, Keypoints2DOptions
from .lifter import Lifter3D, LifterOptions
from .metric3d import MetricLifting
from .publish import DEFAULT_ADDRESS, PoseMessage, Publisher, PublisherOptions
from .smoothing import BoneLengthSmootherOptions, OneEuroOptions
from .types import Frame, Keypoints2D

log = logging.getLogger(__name__)

STAGES = ("keypoints2d", "window", "lift", "smooth", "publish")


@dataclass
class PipelineOptions:
    """Everything ``posecast run`` configures. Paths override defaults; ``None`` = default."""

    keypoints: Keypoints2DOptions = field(default_factory=Keypoints2DOptions)
    lifter: LifterOptions = field(default_factory=LifterOptions)
    intrinsics_path: Path | None = None
    hfov_deg: float = DEFAULT_HFOV_DEG
    height_m: float | None = None  # None: DEFAULT_HEIGHT_M, flagged as assumed
    subject_path: Path | None = None
    one_euro: OneEuroOptions | None = None
    publish_address: str | None = DEFAULT_ADDRESS  # None: do not publish
    min_joint_confidence: float = 0.3  # joints below it get no weight when placing the root

    def __post_init__(self) -> None:
        if not 10.0 <= self.hfov_deg <= 170.0:
            raise ValueError(f"hfov_deg must be between 10 and 170 degrees, got {self.hfov_deg}")
        if self.height_m is not None and self.subject_path is not None:
            raise ValueError("give either a height or a subject file, not both")


@dataclass
class FrameResult:
    """What the pipeline made of one frame."""

    frame_id: int
    capture_ns: int
    tracking: str  # "tracking" | "warming" | "lost"
    keypoints: Keypoints2D
    joints_m: np.ndarray | None  # (17, 3) metres, camera frame, root included
    joints_rel_m: np.ndarray | None  # (17, 3) metres, root at the origin
    root_m: np.ndarray | None  # (3,)
    scale: float | None
    joints_lifted: np.ndarray | None  # (17, 3) the network's raw root-relative output (canonical units)
    stage_ns: dict[str, int]  # time spent per stage
    publish_ns: int  # monotonic time when sent (or when done, without a publisher)

    @property
    def capture_to_publish_ms(self) -> float:
        return (self.publish_ns - self.capture_ns) / 1e6


class Pipeline:
    """Wires the stages; ``process(frame)`` runs one frame, ``run(source)`` a whole source."""

    def __init__(self, options: PipelineOptions | None = None) -> None:
        self.options = o = options or PipelineOptions()
        self._intrinsics_file = load_intrinsics(o.intrinsics_path) if o.intrinsics_path else None
        if o.subject_path is not None:
            self.subject = load_subject(o.subject_path)
            smoother = BoneLengthSmootherOptions(
                tuple(self.subject.as_array()), self.subject.height_m, fixed_lengths=True
            )
        else:
            self.subject = SubjectProfile.from_height(o.height_m or DEFAULT_HEIGHT_M, assumed=o.height_m is None)
            smoother = BoneLengthSmootherOptions.from_height(self.subject.height_m)
        # cheap, likely-to-fail stages first (a port in use); release what was built on failure
        self.publisher = self.lifter = self.keypoints = None
        try:
            if o.publish_address is not None:
                self.publisher = Publisher(PublisherOptions(address=o.publish_address))
            self.lifter = Lifter3D(o.lifter)
            self.keypoints = Keypoints2DEstimator(o.keypoints)
        except BaseException:
            self.close()
            raise
        self.metric = MetricLifting(self.lifter, smoother, o.one_euro, o.min_joint_confidence)
        self.intrinsics: CameraIntrinsics | None = None
        self._intrinsics_array = np.zeros(4)
        self.frames = 0
        self.lost_frames = 0

    # ------------------------------------------------------------------ setup
    def _set_intrinsics(self, width: int, height: int) -> None:
        if self._intrinsics_file is not None:
            k = self._intrinsics_file
            self.intrinsics = k if (k.width, k.height) == (width, height) else k.rescaled(width, height)
        else:
            self.intrinsics = CameraIntrinsics.from_hfov(self.options.hfov_deg, width, height)
        self._intrinsics_array = self.intrinsics.as_array()
        if self.publisher is not None:
            self.publisher.meta.assumptions = self.assumptions()
            self.publisher.send_meta()
        log.info(
            "intrinsics: %dx%d fx=%.1f fy=%.1f (%s); subject height %.2f m%s",
            width, height, self.intrinsics.fx, self.intrinsics.fy,
            "assumed: " + self.intrinsics.source if self.intrinsics.assumed else self.intrinsics.source,
            self.subject.height_m, " (assumed)" if self.subject.assumed else "",
        )  # fmt: skip

    def assumptions(self) -> dict:
        """What the published 3D rests on, for the meta message."""
        k, meta = self.intrinsics, self.lifter.metadata
        out = {
            "height_m": self.subject.height_m,
            "height_assumed": self.subject.assumed,
            "subject_source": self.subject.source or ("default" if self.subject.assumed else "height"),
            "model_kind": meta.model_kind,
            "window_frames": meta.window_frames,
            "model_commit": meta.git_commit,
            "backend": self.lifter.backend.name,
        }
        if k is not None:
            out.update(
                intrinsics_assumed=k.assumed, intrinsics_source=k.source, fx=k.fx, fy=k.fy, cx=k.cx, cy=k.cy,
                image_width=k.width, image_height=k.height,
            )  # fmt: skip
            if k.assumed:
                out["hfov_deg"] = self.options.hfov_deg
        return out

    # ------------------------------------------------------------------ per frame
    def process(self, frame: Frame) -> FrameResult:
        stage_ns: dict[str, int] = {}
        t0 = time.perf_counter_ns()
        kp = self.keypoints.process(frame)
        t1 = time.perf_counter_ns()
        stage_ns["keypoints2d"] = t1 - t0
        if self.intrinsics is None or (self.intrinsics.width, self.intrinsics.height) != kp.image_size:
            self._set_intrinsics(*kp.image_size)
        self.frames += 1
        timestamp_ns = self._timestamp_ns(frame)
        if not kp.detected:
            return self._lost(frame, kp, stage_ns, t1)
        pixels = kp.keypoints_px.astype(np.float64)
        if self.intrinsics.has_distortion:
            pixels = self.intrinsics.undistort_pixels(pixels)
        keypoints_norm = normalize.normalize_pixels(pixels, self._intrinsics_array)
        pose = self.metric.process(keypoints_norm, kp.confidence, timestamp_ns, stage_ns)
        if pose is None:
            return self._lost(frame, kp, stage_ns, t1)
        t4 = time.perf_counter_ns()
        result = FrameResult(
            frame.frame_id, frame.capture_ns, pose.state, kp, pose.joints_m, pose.joints_rel_m, pose.root_m,
            pose.scale, pose.joints_lifted, stage_ns, 0,
        )  # fmt: skip
        self._publish(result, t4)
        return result

    def _timestamp_ns(self, frame: Frame) -> int:
        """The clock of the temporal stages: capture time live, media time for offline files."""
        if self.options.keypoints.video_time and frame.source_fps > 0:
            return int(frame.frame_id * 1e9 / frame.source_fps)
        return frame.capture_ns

    def _lost(self, frame: Frame, kp: Keypoints2D, stage_ns: dict[str, int], t_start: int) -> FrameResult:
        self.lost_frames += 1
        self.metric.reset()
        for stage in ("window", "lift", "smooth"):
            stage_ns.setdefault(stage, 0)
        result = FrameResult(frame.frame_id, frame.capture_ns, "lost", kp, None, None, None, None, None, stage_ns, 0)
        self._publish(result, time.perf_counter_ns())
        return result

    def _publish(self, result: FrameResult, t_start: int) -> None:
        if self.publisher is not None:
            zeros = np.zeros((skeleton.NUM_JOINTS, 3), dtype=np.float32)
            message = PoseMessage(
                frame_id=result.frame_id,
                capture_ns=result.capture_ns,
                tracking=result.tracking,
                joints_m=zeros if result.joints_m is None else result.joints_m.astype(np.float32),
                confidence=(np.zeros(skeleton.NUM_JOINTS, np.float32) if result.joints_m is None
                            else result.keypoints.confidence),
                root_m=np.zeros(3, np.float32) if result.root_m is None else result.root_m.astype(np.float32),
                latency_ms={k: v / 1e6 for k, v in result.stage_ns.items()},
            )  # fmt: skip
            self.publisher.publish(message)
            result.publish_ns = message.publish_ns
        else:
            result.publish_ns = time.monotonic_ns()
        result.stage_ns["publish"] = time.perf_counter_ns() - t_start

    # ------------------------------------------------------------------ whole source
    def run(self, source: FrameSource, max_frames: int | None = None) -> Iterator[tuple[Frame, FrameResult]]:
        """Yield ``(frame, result)`` for frames of an opened ``source`` until it ends or ``max_frames``."""
        count = 0
        while max_frames is None or count < max_frames:
            frame = source.read()
            if frame is None:
                return
            count += 1
            yield frame, self.process(frame)

    def reset(self) -> None:
        self.metric.reset()
        self.keypoints.reset()

    def close(self) -> None:
        for stage in (self.keypoints, self.lifter, self.publisher):
            if stage is not None:
                stage.close()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

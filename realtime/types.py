"""The records that flow through the live pipeline, one per hand-over.

::

    FrameSource ──Frame──▶ Detector2D ──Detections2D──▶ PoseLifting ──list[PersonPose]──▶
        Pipeline ──PoseFrame──▶ every Sink            (StreamMeta: once, and when it changes)

- :class:`Frame`: one image and its clocks.
- :class:`KeypointLayout`: a 2D detector's keypoints as data, with their mapping to posecast's
  17 joints (:data:`posecast.engines.skeleton.JOINT_NAMES`); the layouts live in
  :mod:`posecast.realtime.layouts`.
- :class:`Detections2D`: N people in one frame, in the detector's own layout, in pixels.
- :class:`PersonPose`: one tracked person's metric 3D (or ``lost``).
- :class:`PoseFrame`: everything the pipeline made of one frame; the one record every sink gets.
- :class:`StreamMeta`: what a consumer needs to read the poses (joint order, units, axes,
  assumptions); sinks get it on ``open`` and ``update_meta``.

Nothing here is copied from stage to stage: a sink that must keep a record beyond ``write``
keeps a reference, and must not modify it (other sinks read the same object, some on other
threads).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..calibration import CameraIntrinsics
from ..engines import skeleton

#: The axes of every metric quantity: OpenCV's camera frame.
COORDINATE_FRAME = "camera_xright_ydown_zforward"
TrackingState = Literal["tracking", "warming", "lost"]
#: ``tracking``: a full temporal window; ``warming``: the window is still filling (joints valid);
#: ``lost``: no pose for this person in this frame (no joints).
TRACKING_STATES: tuple[str, ...] = ("tracking", "warming", "lost")


@dataclass
class Frame:
    """One image from a source.

    ``frame_id`` counts from 0 in capture order (a live camera skips the ids of frames it
    dropped, so gaps show drops); ``capture_ns`` is ``time.monotonic_ns()`` when the frame was
    grabbed; ``image_bgr`` is ``(H, W, 3)`` uint8 in OpenCV's BGR order; ``source_fps`` is the
    source's nominal rate (0.0 when unknown); ``on_media_time``: the frame comes from a file read
    as fast as it decodes, so its time is its place in the file, not when it was read;
    ``media_ns``: that place when the file says it (a variable-rate video's presentation time),
    else ``frame_id / source_fps`` is.
    """

    frame_id: int
    capture_ns: int
    image_bgr: np.ndarray
    source_fps: float
    on_media_time: bool = False
    media_ns: int | None = None

    @property
    def image_size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels."""
        height, width = self.image_bgr.shape[:2]
        return width, height

    @property
    def timestamp_ns(self) -> int:
        """The clock of every temporal stage (the detector's tracking, the window, the smoothers),
        defined here once: media time for a file read as fast as it decodes (``media_ns``, else
        ``frame_id / source_fps``: results independent of the machine's speed), the capture time
        otherwise."""
        if self.on_media_time and self.media_ns is not None:
            return self.media_ns
        if self.on_media_time and self.source_fps > 0:
            return int(self.frame_id * 1e9 / self.source_fps)
        return self.capture_ns


@dataclass(frozen=True)
class KeypointLayout:
    """A 2D detector's keypoints and how they become posecast's 17 joints, as data.

    ``joint_sources[j]`` lists the keypoint indices whose mean is posecast joint ``j``
    (:data:`skeleton.JOINT_NAMES` order); an empty tuple marks a derived axial joint (pelvis,
    spine, thorax, neck), computed from the others by :func:`skeleton.derive_axial`, the one
    definition shared with training (a layout gives either all four or none). The directly
    mapped joints are the hips, knees, ankles, shoulders, elbows, wrists and the head (the
    centre of the head at ear level).
    """

    name: str
    keypoint_names: tuple[str, ...]
    joint_sources: tuple[tuple[int, ...], ...]

    def __post_init__(self) -> None:
        if len(self.joint_sources) != skeleton.NUM_JOINTS:
            raise ValueError(f"layout {self.name}: joint_sources needs {skeleton.NUM_JOINTS} entries, "
                             f"got {len(self.joint_sources)}")  # fmt: skip
        empty = {j for j, sources in enumerate(self.joint_sources) if not sources}
        if empty not in (set(), set(skeleton.DERIVED_JOINTS)):
            names = sorted(skeleton.JOINT_NAMES[j] for j in skeleton.DERIVED_JOINTS)
            raise ValueError(f"layout {self.name}: only the derived joints {names} may lack sources (all or none)")
        for sources in self.joint_sources:
            if any(not 0 <= i < len(self.keypoint_names) for i in sources):
                raise ValueError(f"layout {self.name}: source index out of range 0..{len(self.keypoint_names) - 1}")

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoint_names)

    def to_posecast(self, values: np.ndarray) -> np.ndarray:
        """Map ``(..., K, C)`` (pixels, world coordinates or scores with ``C = 1``) to
        ``(..., 17, C)`` of the same float dtype; a joint from several keypoints gets their mean
        (for scores a fair confidence)."""
        values = np.asarray(values)
        if values.shape[-2] != self.num_keypoints:
            raise ValueError(f"layout {self.name} expects (..., {self.num_keypoints}, C), got {values.shape}")
        plan = self._plan
        if plan is None:  # a joint from more than two keypoints: the general way
            out = np.zeros((*values.shape[:-2], skeleton.NUM_JOINTS, values.shape[-1]), dtype=values.dtype)
            for joint, sources in enumerate(self.joint_sources):
                if sources:
                    out[..., joint, :] = values[..., list(sources), :].mean(axis=-2)
            return skeleton.derive_axial(out)
        # A few gathers of index pairs, each averaged, in skeleton.AXIAL_MIDPOINTS's order: the
        # same numbers as mapping joint by joint ((a + a) / 2 == a, (a + b) / 2 as derive_axial),
        # in a handful of numpy calls (this runs on every frame).
        out = values
        for step in plan:
            if step.ndim == 1:
                out = out[..., step, :]
            else:
                both = out[..., step, :]
                out = (both[..., 0, :] + both[..., 1, :]) * 0.5
        return out

    @property
    def used_keypoints(self) -> tuple[int, ...]:
        """The keypoints some joint is made from, sorted (MediaPipe's fingers and face are not)."""
        return tuple(sorted({i for sources in self.joint_sources for i in sources}))

    @property
    def _plan(self) -> tuple[np.ndarray, ...] | None:
        """Index arrays for :meth:`to_posecast`: the keypoints to gather (``(17,)``; ``(17, 2)``
        pairs to average where a joint has two), then one ``(17, 2)`` pair array per level of
        :data:`skeleton.AXIAL_MIDPOINTS` (identity pairs for the other joints). ``None`` when a
        joint has more than two sources."""
        if "_plan_cache" not in self.__dict__:
            object.__setattr__(self, "_plan_cache", self._make_plan())
        return self.__dict__["_plan_cache"]

    def _make_plan(self) -> tuple[np.ndarray, ...] | None:
        sources = self.joint_sources
        if any(len(s) > 2 for s in sources):
            return None
        if all(len(s) <= 1 for s in sources):
            plan = [np.array([s[0] if s else 0 for s in sources], np.intp)]
        else:
            plan = [np.array([(s[0], s[-1]) if s else (0, 0) for s in sources], np.intp)]
        if sources[skeleton.ROOT]:  # the layout gives the axial joints itself
            return tuple(plan)
        level = dict.fromkeys(range(skeleton.NUM_JOINTS), 0)
        for joint, a, b in skeleton.AXIAL_MIDPOINTS:
            level[joint] = max(level[a], level[b]) + 1
        for depth in range(1, max(level.values()) + 1):
            pairs = np.repeat(np.arange(skeleton.NUM_JOINTS, dtype=np.intp)[:, None], 2, axis=1)
            for joint, a, b in skeleton.AXIAL_MIDPOINTS:
                if level[joint] == depth:
                    pairs[joint] = (a, b)
            plan.append(pairs)
        return tuple(plan)


@dataclass
class Detections2D:
    """The people a 2D detector found in one frame (``N`` may be 0), in its own layout.

    ``timestamp_ns`` is :attr:`Frame.timestamp_ns`, the clock of the temporal stages.
    ``keypoints_px`` ``(N, K, 2)`` float32 pixels, finite (an unseen keypoint: its best guess,
    score 0; a person with a NaN or infinite position in a keypoint that a joint is made from is
    left out of that frame, logged once; elsewhere it is taken as unseen);
    ``scores`` ``(N, K)`` float32 in [0, 1];
    ``track_ids`` ``(N,)`` int64, the detector's own track ids, -1 when it does not track (the
    lifting stage's tracker assigns person ids); ``world_m`` ``(N, K, 3)`` float32, the
    detector's own metric 3D when it has one (MediaPipe's world landmarks: metres, origin
    between the hips), kept for comparisons, else ``None``.
    """

    frame_id: int
    capture_ns: int
    timestamp_ns: int
    image_size: tuple[int, int]
    layout: KeypointLayout
    keypoints_px: np.ndarray
    scores: np.ndarray
    track_ids: np.ndarray
    world_m: np.ndarray | None = None

    def __post_init__(self) -> None:
        n, k = len(self.keypoints_px), self.layout.num_keypoints
        if self.keypoints_px.shape != (n, k, 2) or self.scores.shape != (n, k) or self.track_ids.shape != (n,):
            raise ValueError(
                f"detections in layout {self.layout.name} must be keypoints (N, {k}, 2), scores (N, {k}), "
                f"track_ids (N,); got {self.keypoints_px.shape}, {self.scores.shape}, {self.track_ids.shape}"
            )

    @property
    def count(self) -> int:
        """``N``, the number of people."""
        return len(self.keypoints_px)

    @classmethod
    def empty(cls, frame: Frame, layout: KeypointLayout) -> Detections2D:
        """No person in ``frame``."""
        k = layout.num_keypoints
        return cls(frame.frame_id, frame.capture_ns, frame.timestamp_ns, frame.image_size, layout,
                   np.zeros((0, k, 2), np.float32), np.zeros((0, k), np.float32), np.zeros(0, np.int64))  # fmt: skip


@dataclass
class PersonPose:
    """One tracked person in one frame.

    ``person_id`` is stable while the tracker follows the person (and across gaps of up to its
    re-identification time). ``tracking`` is one of :data:`TRACKING_STATES`.
    ``keypoints_px`` ``(17, 2)`` float32 and ``confidence`` ``(17,)`` float32 in [0, 1] are the
    2D in posecast's joint order (zeros when ``lost``). When ``lost`` every 3D field is ``None``;
    otherwise: ``joints_m`` ``(17, 3)`` float64 metres in the camera frame, root translation included;
    ``joints_rel_m`` the same with the root at the origin; ``root_m`` ``(3,)`` the pelvis;
    ``bone_lengths_m`` ``(16,)`` the lengths in use (:data:`skeleton.BONE_NAMES` order);
    ``scale`` the scale network's output; ``joints_lifted`` ``(17, 3)`` the lifting network's raw
    root-relative output (canonical units, camera axes); ``keypoints_norm`` ``(17, 2)`` the 2D it
    was lifted from, undistorted and intrinsics-normalised (``X/Z, Y/Z``).
    """

    person_id: int
    tracking: TrackingState
    keypoints_px: np.ndarray
    confidence: np.ndarray
    joints_m: np.ndarray | None = None
    joints_rel_m: np.ndarray | None = None
    root_m: np.ndarray | None = None
    bone_lengths_m: np.ndarray | None = None
    scale: float | None = None
    joints_lifted: np.ndarray | None = None
    keypoints_norm: np.ndarray | None = None

    @classmethod
    def lost(cls, person_id: int) -> PersonPose:
        """A person the tracker still remembers but did not see (or could not place) this frame."""
        zeros = np.zeros((skeleton.NUM_JOINTS, 2), np.float32)
        return cls(person_id, "lost", zeros, np.zeros(skeleton.NUM_JOINTS, np.float32))


@dataclass
class PoseFrame:
    """What the pipeline made of one frame: the one record every sink gets.

    ``timestamp_ns`` is the clock of the temporal stages (see :attr:`Frame.timestamp_ns`);
    ``image_size`` ``(width, height)``; ``people`` one :class:`PersonPose` per person the
    tracker holds (seen or recently lost), empty when nobody is tracked; ``stage_ns`` the time
    spent per stage (``handoff_2d``, the frame's wait before the 2D; ``keypoints2d``, ``window``,
    ``lift``, ``smooth``; ``world`` with an avatar world; ``handoff_3d`` with the threaded runner;
    ``publish``, the time spent handing the frame to the sinks, is added once every sink has it); ``image_bgr`` the
    source image, not copied (for drawing sinks; do not modify it); ``detections`` the 2D as
    detected; ``delivered_ns``: ``time.monotonic_ns()`` once every sink had the frame (0 before);
    ``world``: the people on the floor, in the world frame (a
    :class:`posecast.realtime.avatar.AvatarFrame`), when the pipeline has an avatar world;
    ``source_stalled_s`` > 0: not a new frame but a notice that the live source has delivered
    nothing for that many seconds (``frame_id``, ``capture_ns`` and ``timestamp_ns`` are the last
    frame's, every person is ``lost``; sinks get it through ``Sink.source_stalled``, not ``write``).
    """

    frame_id: int
    capture_ns: int
    timestamp_ns: int
    image_size: tuple[int, int]
    people: list[PersonPose]
    stage_ns: dict[str, int] = field(default_factory=dict)
    image_bgr: np.ndarray | None = None
    detections: Detections2D | None = None
    delivered_ns: int = 0
    world: Any = None
    source_stalled_s: float = 0.0

    @property
    def on_media_time(self) -> bool:
        """From a file read as fast as it decodes (its clock is the media's, not the capture's):
        no live deadline, so an output may keep every frame by making the run wait."""
        return self.timestamp_ns != self.capture_ns

    @property
    def tracked(self) -> list[PersonPose]:
        """The people with a 3D pose in this frame (state ``tracking`` or ``warming``)."""
        return [p for p in self.people if p.joints_m is not None]


@dataclass(frozen=True)
class StreamMeta:
    """What a consumer needs to interpret the poses, and what they rest on.

    ``joint_names``, ``parents`` (-1 for the root) and ``bone_names`` fix the joint order;
    ``units`` of every length; ``frame`` the axes (:data:`COORDINATE_FRAME`); ``assumptions``
    a free map (subject height and whether it was assumed, intrinsics and whether they were
    assumed, model and backend); ``intrinsics`` of the current image size (``None`` until the
    first frame); ``source_fps`` (0.0 when unknown); ``max_people`` per frame.
    """

    assumptions: dict[str, Any] = field(default_factory=dict)
    intrinsics: CameraIntrinsics | None = None
    source_fps: float = 0.0
    max_people: int = 1
    joint_names: tuple[str, ...] = skeleton.JOINT_NAMES
    parents: tuple[int, ...] = skeleton.PARENTS
    bone_names: tuple[str, ...] = skeleton.BONE_NAMES
    units: str = "m"
    frame: str = COORDINATE_FRAME

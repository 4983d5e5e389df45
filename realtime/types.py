"""The records that flow through the live pipeline, one per hand-over.

::

    FrameSource ──Frame──▶ Detector2D ──Detections2D──▶ PoseLifting ──list[PersonPose]──▶
        Pipeline ──PoseFrame──▶ every Sink            (StreamMeta: once, and when it changes)

- :class:`Frame`: one image and its clocks.
- :class:`~posecast.engines.layouts.KeypointLayout` (defined in :mod:`posecast.engines.layouts`
  with the layouts, since the lift input format reads them too): a 2D detector's keypoints as data,
  with their mapping to posecast's 17 joints.
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
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np

from ..calibration import CameraIntrinsics
from ..engines import skeleton
from ..engines.layouts import KeypointLayout

if TYPE_CHECKING:  # (the avatar stage imports these types)
    from .avatar import AvatarFrame

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
    between the hips, in the person's own view: :func:`posecast.engines.normalize.to_camera_axes`
    with the pelvis's ray turns them into the camera's axes), for the face's turn and for
    comparisons, else ``None``.
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
    was lifted from, undistorted and intrinsics-normalised (``X/Z, Y/Z``); ``face_m`` ``(5, 3)``
    the detector's 3D face points at the head joint (:mod:`posecast.engines.face`; ``None`` when
    the detector gives no 3D landmarks or did not see both ears).
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
    face_m: np.ndarray | None = None

    @classmethod
    def lost(cls, person_id: int) -> PersonPose:
        """A person the tracker still remembers but did not see (or could not place) this frame."""
        zeros = np.zeros((skeleton.NUM_JOINTS, 2), np.float32)
        return cls(person_id, "lost", zeros, np.zeros(skeleton.NUM_JOINTS, np.float32))


if TYPE_CHECKING:

    class TrackedPersonPose(PersonPose):
        """For type checkers only (import it under ``TYPE_CHECKING``): a :class:`PersonPose` with a
        3D pose, as :attr:`PoseFrame.tracked` gives them, its 3D fields arrays (a replayed frame
        has no ``scale``, ``joints_lifted`` or ``keypoints_norm``; ``face_m`` may be ``None``)."""

        joints_m: np.ndarray
        joints_rel_m: np.ndarray
        root_m: np.ndarray
        bone_lengths_m: np.ndarray


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
    world: AvatarFrame | None = None
    source_stalled_s: float = 0.0

    @property
    def on_media_time(self) -> bool:
        """From a file read as fast as it decodes (its clock is the media's, not the capture's):
        no live deadline, so an output may keep every frame by making the run wait."""
        return self.timestamp_ns != self.capture_ns

    @property
    def tracked(self) -> list[TrackedPersonPose]:
        """The people with a 3D pose in this frame (state ``tracking`` or ``warming``): their
        ``joints_m``, ``joints_rel_m``, ``root_m`` and ``bone_lengths_m`` are arrays, typed so."""
        return cast("list[TrackedPersonPose]", [p for p in self.people if p.joints_m is not None])


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

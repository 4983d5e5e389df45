"""Keypoint layouts of 2D detectors, as data (:class:`~posecast.realtime.types.KeypointLayout`).

A new detector with a known layout uses one of these; one with a new layout adds it here and
to :data:`LAYOUTS`. Each layout maps its keypoints to posecast's 17 joints the same way: hips,
knees, ankles, shoulders, elbows and wrists directly, the head as the mid-ears (the centre of
the head at ear level), and the axial joints derived by :func:`posecast.engines.skeleton.derive_axial`.
"""

from __future__ import annotations

from ..engines import skeleton
from .types import KeypointLayout


def _sources(index: dict[str, int], direct: dict[str, str], head: tuple[str, str]) -> tuple[tuple[int, ...], ...]:
    """Per posecast joint: the layout's keypoint indices (empty for a derived joint)."""
    out: list[tuple[int, ...]] = []
    for name in skeleton.JOINT_NAMES:
        if name == "head":
            out.append((index[head[0]], index[head[1]]))
        elif name in direct:
            out.append((index[direct[name]],))
        else:
            out.append(())
    return tuple(out)


_LIMBS = {
    "l_shoulder": "left_shoulder", "r_shoulder": "right_shoulder", "l_elbow": "left_elbow", "r_elbow": "right_elbow",
    "l_wrist": "left_wrist", "r_wrist": "right_wrist", "l_hip": "left_hip", "r_hip": "right_hip",
    "l_knee": "left_knee", "r_knee": "right_knee", "l_ankle": "left_ankle", "r_ankle": "right_ankle",
}  # fmt: skip

#: MediaPipe Pose / BlazePose, 33 landmarks.
_MEDIAPIPE_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)  # fmt: skip
MEDIAPIPE_33 = KeypointLayout(
    "mediapipe-33",
    _MEDIAPIPE_NAMES,
    _sources({n: i for i, n in enumerate(_MEDIAPIPE_NAMES)}, _LIMBS, ("left_ear", "right_ear")),
)

#: COCO keypoints, 17 (RTMPose, ViTPose, YOLO-pose, OpenPifPaf ...).
_COCO_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle",
)  # fmt: skip
COCO_17 = KeypointLayout(
    "coco-17", _COCO_NAMES, _sources({n: i for i, n in enumerate(_COCO_NAMES)}, _LIMBS, ("left_ear", "right_ear"))
)

#: posecast's own 17 joints (recorded 2D, ``posecast lift`` input): the identity, axial joints as given.
POSECAST_17 = KeypointLayout("posecast-17", skeleton.JOINT_NAMES, tuple((j,) for j in range(skeleton.NUM_JOINTS)))

#: name → layout
LAYOUTS: dict[str, KeypointLayout] = {layout.name: layout for layout in (MEDIAPIPE_33, COCO_17, POSECAST_17)}

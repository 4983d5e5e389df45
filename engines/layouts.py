"""Keypoint layouts of 2D detectors, as data (:class:`KeypointLayout`).

A new detector with a known layout uses one of these; one with a new layout adds it here and
to :data:`LAYOUTS`. Each layout maps its keypoints to posecast's 17 joints the same way: hips,
knees, ankles, shoulders, elbows and wrists directly, the head as the mid-ears (the centre of
the head at ear level), and the axial joints derived by :func:`posecast.engines.skeleton.derive_axial`.
They live in ``engines`` because the ``posecast lift`` input format (:mod:`.lift_input`) takes
any of them as well as the live detectors.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from . import skeleton
from .face import FACE_POINT_NAMES


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

    @cached_property  # (read every frame; a frozen dataclass takes it: it writes the instance's __dict__)
    def face(self) -> tuple[int, ...] | None:
        """The indices of :data:`~posecast.engines.face.FACE_POINT_NAMES` (nose, eyes, ears) among
        the keypoints, ``None`` when the layout lacks any of them."""
        index = {name: i for i, name in enumerate(self.keypoint_names)}
        return tuple(index[n] for n in FACE_POINT_NAMES) if all(n in index for n in FACE_POINT_NAMES) else None

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

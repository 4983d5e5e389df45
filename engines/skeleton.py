"""posecast's 17-joint skeleton and the one joint definition shared by MediaPipe and mocap.

Joint order is Human3.6M's as used by VideoPose3D. Six joints are measured directly (hips,
knees, ankles, shoulders, elbows, wrists); the axial joints are *derived* with the same
formulas from either source, so training data (BVH) and live 2D (MediaPipe) agree:

- ``pelvis`` = midpoint of the two hip joints
- ``thorax`` = midpoint of the two shoulder joints
- ``spine``  = midpoint of pelvis and thorax
- ``head``   = centre of the head at ear level: MediaPipe mid-ears; mocap: the skull-base
  joint moved :data:`MOCAP_HEAD_EXTENSION` of the neck→head segment further up
- ``neck``   = midpoint of thorax and head

All functions work on numpy arrays of shape ``(..., J, C)`` for any C (2D, 3D, confidence).
"""

from __future__ import annotations

import numpy as np

JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle",
    "spine", "thorax", "neck", "head",
    "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist",
)  # fmt: skip
NUM_JOINTS = len(JOINT_NAMES)
JOINT_INDEX = {name: i for i, name in enumerate(JOINT_NAMES)}
PARENTS: tuple[int, ...] = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
ROOT = 0
HEAD = JOINT_INDEX["head"]
#: (child, parent) pairs: one bone per non-root joint, in joint order.
BONES: tuple[tuple[int, int], ...] = tuple((j, p) for j, p in enumerate(PARENTS) if p >= 0)
BONE_NAMES: tuple[str, ...] = tuple(f"{JOINT_NAMES[p]}-{JOINT_NAMES[c]}" for c, p in BONES)
#: The bones across the body (pelvis → hips, thorax → shoulders): their length shows in 2D only
#: when the body faces the camera, and mocap skeletons and MediaPipe disagree on them most.
WIDTH_BONES: tuple[int, ...] = tuple(
    b for b, (c, p) in enumerate(BONES) if JOINT_NAMES[p] in ("pelvis", "thorax") and
    JOINT_NAMES[c].endswith(("hip", "shoulder"))
)  # fmt: skip
#: The upper body, what a webcam at a desk sees (the pelvis and hips may be below the image).
UPPER_BODY: tuple[int, ...] = tuple(
    JOINT_INDEX[n] for n in ("spine", "thorax", "neck", "head", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder",
                             "r_elbow", "r_wrist")
)  # fmt: skip


def upper_body_about_thorax(joints: np.ndarray) -> np.ndarray:
    """The :data:`UPPER_BODY` joints ``(..., 10, 3)`` of poses ``(..., 17, 3)``, relative to the thorax."""
    return joints[..., UPPER_BODY, :] - joints[..., [JOINT_INDEX["thorax"]], :]


def _root_paths() -> np.ndarray:
    paths = np.zeros((NUM_JOINTS, len(BONES)))
    bone_of_child = {child: b for b, (child, _) in enumerate(BONES)}
    for joint in range(NUM_JOINTS):
        k = joint
        while PARENTS[k] >= 0:
            paths[joint, bone_of_child[k]] = 1.0
            k = PARENTS[k]
    return paths


#: ``ROOT_PATHS[j, b] = 1`` when bone ``b`` lies on the chain from the root to joint ``j``
#: ``(17, 16)``: joint positions are ``ROOT_PATHS @ bone_vectors``, root-to-joint chain lengths
#: ``ROOT_PATHS @ bone_lengths``.
ROOT_PATHS = _root_paths()
ROOT_PATHS.flags.writeable = False
#: Left/right joint pairs, for mirroring augmentation.
LEFT_RIGHT: tuple[tuple[int, int], ...] = ((4, 1), (5, 2), (6, 3), (11, 14), (12, 15), (13, 16))

# MediaPipe Pose landmark indices (33-landmark BlazePose topology).
MP_LEFT_EAR, MP_RIGHT_EAR = 7, 8
MP_DIRECT: dict[str, int] = {
    "l_shoulder": 11, "r_shoulder": 12, "l_elbow": 13, "r_elbow": 14, "l_wrist": 15, "r_wrist": 16,
    "l_hip": 23, "r_hip": 24, "l_knee": 25, "r_knee": 26, "l_ankle": 27, "r_ankle": 28,
}  # fmt: skip

#: The mocap Head joint sits at the skull base; ear level is this fraction of the
#: neck→head segment above it (measured against MediaPipe's world landmarks).
MOCAP_HEAD_EXTENSION = 1.0


#: The axial joints, as data: each is the midpoint of two others, in this order (later ones use
#: earlier ones). Used by :func:`derive_axial` and by the live pipeline's keypoint layouts.
AXIAL_MIDPOINTS: tuple[tuple[int, int, int], ...] = tuple(
    (JOINT_INDEX[joint], JOINT_INDEX[a], JOINT_INDEX[b])
    for joint, a, b in (
        ("pelvis", "l_hip", "r_hip"),
        ("thorax", "l_shoulder", "r_shoulder"),
        ("spine", "pelvis", "thorax"),
        ("neck", "thorax", "head"),
    )
)
#: The joints derived from others (never measured): pelvis, spine, thorax, neck.
DERIVED_JOINTS: tuple[int, ...] = tuple(sorted(joint for joint, _, _ in AXIAL_MIDPOINTS))


def derive_axial(out: np.ndarray) -> np.ndarray:
    """Fill pelvis, thorax, spine and neck from hips, shoulders and head (in place); returns ``out``."""
    for joint, a, b in AXIAL_MIDPOINTS:
        out[..., joint, :] = 0.5 * (out[..., a, :] + out[..., b, :])
    return out


def from_mediapipe(landmarks: np.ndarray) -> np.ndarray:
    """Map MediaPipe's 33 landmarks ``(..., 33, C)`` to posecast's 17 joints ``(..., 17, C)``.

    Works for pixel coordinates, world coordinates and per-landmark visibility alike (a
    derived joint gets the mean of its sources, which for visibility is a fair confidence).
    """
    landmarks = np.asarray(landmarks)
    if landmarks.shape[-2] != 33:
        raise ValueError(f"expected MediaPipe landmarks of shape (..., 33, C), got {landmarks.shape}")
    out = np.zeros((*landmarks.shape[:-2], NUM_JOINTS, landmarks.shape[-1]), dtype=landmarks.dtype)
    for name, mp_index in MP_DIRECT.items():
        out[..., JOINT_INDEX[name], :] = landmarks[..., mp_index, :]
    out[..., HEAD, :] = 0.5 * (landmarks[..., MP_LEFT_EAR, :] + landmarks[..., MP_RIGHT_EAR, :])
    return derive_axial(out)


def from_mocap(joints: np.ndarray, names: list[str] | tuple[str, ...], mapping: dict[str, str]) -> np.ndarray:
    """Map mocap joint positions ``(..., K, 3)`` to posecast's 17 joints ``(..., 17, 3)``.

    ``mapping`` names the mocap joint for each directly measured joint plus ``"head"``
    (skull base) and ``"neck"`` (top of the neck chain, used only to extend the head to ear level).
    """
    index = {n: i for i, n in enumerate(names)}
    missing = [m for m in mapping.values() if m not in index]
    if missing:
        raise ValueError(f"mocap skeleton lacks joints {missing}; it has {sorted(index)}")
    out = np.zeros((*joints.shape[:-2], NUM_JOINTS, joints.shape[-1]), dtype=np.float64)
    for name in MP_DIRECT:
        out[..., JOINT_INDEX[name], :] = joints[..., index[mapping[name]], :]
    skull_base = joints[..., index[mapping["head"]], :]
    neck_top = joints[..., index[mapping["neck"]], :]
    out[..., HEAD, :] = skull_base + MOCAP_HEAD_EXTENSION * (skull_base - neck_top)
    return derive_axial(out)


def root_relative(joints):  # noqa: ANN001, ANN201 - numpy array or torch tensor, same type back
    """Joints ``(..., 17, D)`` with the root (pelvis) moved to the origin; numpy or torch alike,
    so training, export and evaluation share one definition."""
    return joints - joints[..., ROOT : ROOT + 1, :]


#: Each bone's child and parent joint (:data:`BONES` order), as index arrays: built once, not per
#: call (the live One Euro path rebuilds a pose with them every frame)
_BONE_CHILD = np.array([child for child, _ in BONES], np.intp)
_BONE_PARENT = np.array([parent for _, parent in BONES], np.intp)


def bone_lengths(joints: np.ndarray) -> np.ndarray:
    """Bone lengths ``(..., 16)`` of joints ``(..., 17, 3)``, in :data:`BONES` order."""
    return np.linalg.norm(joints[..., _BONE_CHILD, :] - joints[..., _BONE_PARENT, :], axis=-1)


def joints_from_bones(units: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Joints ``(..., 17, 3)``, root at the origin, from bone directions ``units (..., 16, 3)``
    (unit vectors) and ``lengths (..., 16)`` in :data:`BONES` order: each bone placed on its
    parent. The one rebuild of the live bone smoother's published pose and the tools scoring it."""
    return ROOT_PATHS @ (units * lengths[..., None])


def with_bone_lengths(joints: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Joints ``(..., 17, 3)`` rebuilt with bone ``lengths`` (``(16,)`` or ``(..., 16)``), the root
    where it was and each bone keeping its direction (:func:`joints_from_bones`); a bone of no
    length puts its child on its parent. What the live bone smoother, the avatar's One Euro
    path and the tools scoring them publish."""
    vectors = joints[..., _BONE_CHILD, :] - joints[..., _BONE_PARENT, :]
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    units = np.divide(vectors, norms, out=np.zeros_like(vectors, dtype=np.float64), where=norms > 0)
    return joints_from_bones(units, np.asarray(lengths)) + joints[..., ROOT : ROOT + 1, :]


def body_forward(joints: np.ndarray) -> np.ndarray:
    """``(..., 3)`` the body's facing direction, not normalised, from joints ``(..., 17, 3)``: the
    hips' right → left line × the torso's up (pelvis → thorax). The one definition of where a
    body faces: training's augmentations (:func:`body_frame`) and the live knee limit use it."""
    left = joints[..., JOINT_INDEX["l_hip"], :] - joints[..., JOINT_INDEX["r_hip"], :]
    return np.cross(left, joints[..., JOINT_INDEX["thorax"], :] - joints[..., JOINT_INDEX["pelvis"], :])


#: The girdles :func:`body_frame` can take its left axis from: (right joint, left joint).
GIRDLES = {"hips": ("r_hip", "l_hip"), "shoulders": ("r_shoulder", "l_shoulder")}


def girdle_line(joints: np.ndarray, girdle: str = "shoulders") -> np.ndarray:
    """The line across a girdle (:data:`GIRDLES`), right joint → left joint, ``(..., 3)`` for
    joints ``(..., 17, 3)`` (not normalised): the shoulders' is the chest's (and the neck's) turn."""
    right, left = GIRDLES[girdle]
    return joints[..., JOINT_INDEX[left], :] - joints[..., JOINT_INDEX[right], :]


def body_frame(joints: np.ndarray, girdle: str = "hips") -> np.ndarray:
    """Per-frame body axes ``(..., 3, 3)`` (rows: left, up, forwards; unit vectors) from joints
    ``(..., 17, 3)``: left along the ``girdle`` (:data:`GIRDLES`: the hips, or the shoulders),
    up the torso (pelvis → thorax) made square to it, forwards = left × up (for the hips,
    :func:`body_forward`)."""
    along = girdle_line(joints, girdle)
    torso = joints[..., JOINT_INDEX["thorax"], :] - joints[..., JOINT_INDEX["pelvis"], :]
    left = along / np.maximum(np.linalg.norm(along, axis=-1, keepdims=True), 1e-9)
    up = torso - np.sum(torso * left, axis=-1, keepdims=True) * left
    up = up / np.maximum(np.linalg.norm(up, axis=-1, keepdims=True), 1e-9)
    forwards = np.cross(along, torso)  # body_forward's, with this girdle
    forwards = forwards / np.maximum(np.linalg.norm(forwards, axis=-1, keepdims=True), 1e-18)
    return np.stack([left, up, forwards], axis=-2)


def _mirror_order() -> np.ndarray:
    order = np.arange(NUM_JOINTS)
    for left, right in LEFT_RIGHT:
        order[left], order[right] = right, left
    return order


#: ``joints[..., MIRROR_ORDER, :]`` swaps left and right joints (one indexing: the live path's flip averaging)
MIRROR_ORDER = _mirror_order()


def mirror(joints: np.ndarray) -> np.ndarray:
    """Swap left and right joints (:func:`mirror_image` also negates x); a new array."""
    return joints[..., MIRROR_ORDER, :]


def mirror_image(points):  # noqa: ANN001, ANN201 - numpy array or torch tensor, same type back
    """The same person in a mirror image, for points ``(..., 17, C)`` in camera axes (x first:
    normalised 2D or 3D; numpy or torch): left and right swapped and x negated, in the input's
    dtype. Mirroring twice gives the input back."""
    swapped = points[..., MIRROR_ORDER, :]
    flip_x = [-1.0] + [1.0] * (points.shape[-1] - 1)
    if isinstance(points, np.ndarray):
        return swapped * np.array(flip_x, dtype=points.dtype)
    return swapped * swapped.new_tensor(flip_x)


def roll_about_z(points, degrees: float):  # noqa: ANN001, ANN201 - numpy array or torch tensor, same type back
    """Points ``(..., 2|3)`` (x right, y down) turned by ``degrees`` about the z axis: what a
    camera rolled about its optical axis sees (2D about the principal point, or the root in the
    root view) and the 3D it sees, in its axes. A new array or tensor in the input's dtype."""
    cos, sin = float(np.cos(np.radians(degrees))), float(np.sin(np.radians(degrees)))
    x, y = points[..., 0], points[..., 1]
    out = points.copy() if isinstance(points, np.ndarray) else points.clone()
    out[..., 0] = x * cos - y * sin
    out[..., 1] = x * sin + y * cos
    return out


def view_ensemble(lift, points, rolls_deg=(0.0,), mirror: bool = False):  # noqa: ANN001, ANN201 - numpy or torch
    """``lift`` (2D ``(..., 17, 2)`` → root-relative 3D ``(..., 17, 3)``, camera axes) averaged over
    the same 2D seen by cameras rolled by each of ``rolls_deg`` about the optical axis and, with
    ``mirror``, in a mirror too (:func:`mirror_image`): both exact symmetries of a pinhole camera,
    so each answer, mirrored and turned back, answers the original view. ``(0,)`` without mirror:
    ``lift`` itself. Serves adaptation's teacher and ``tools/evaluate.py``'s ``:ensemble``."""
    views = [(roll, mirrored) for roll in rolls_deg for mirrored in ((False, True) if mirror else (False,))]
    total = None
    for roll, mirrored in views:
        view = roll_about_z(points, roll)
        answer = lift(mirror_image(view) if mirrored else view)
        answer = roll_about_z(mirror_image(answer) if mirrored else answer, -roll)
        total = answer if total is None else total + answer
    return total / len(views)


def with_mirror_images(windows: np.ndarray) -> np.ndarray:
    """``(B, ..., 17, C)`` → ``(2B, ...)``: the windows, then their mirror images (flip averaging:
    one network call for both; :func:`average_mirrored` folds the answers)."""
    return np.concatenate([windows, mirror_image(windows)])


def average_mirrored(joints: np.ndarray) -> np.ndarray:
    """The answers ``(2B, 17, C)`` to :func:`with_mirror_images`' windows → ``(B, 17, C)``: each
    window's answer averaged with its mirror image's, mirrored back."""
    count = len(joints) // 2
    return (joints[:count] + mirror_image(joints[count:])) / 2


# Average adult proportions: each bone as a fraction of standing height (measured on the
# Bandai-Namco skeleton with posecast's joint definitions; see engines/weights/MODEL_CARD.md).
_BONE_FRACTION_OF_HEIGHT = {
    "pelvis-r_hip": 0.0420, "r_hip-r_knee": 0.2536, "r_knee-r_ankle": 0.2659,
    "pelvis-l_hip": 0.0420, "l_hip-l_knee": 0.2536, "l_knee-l_ankle": 0.2659,
    "pelvis-spine": 0.1289, "spine-thorax": 0.1289, "thorax-neck": 0.0538, "neck-head": 0.0538,
    "thorax-l_shoulder": 0.0650, "l_shoulder-l_elbow": 0.1579, "l_elbow-l_wrist": 0.1446,
    "thorax-r_shoulder": 0.0650, "r_shoulder-r_elbow": 0.1579, "r_elbow-r_wrist": 0.1446,
}  # fmt: skip
#: Standing height = ankle-to-head-centre chain plus this allowance (feet below the ankle
#: and the crown above ear level), as a fraction of height.
_HEIGHT_ALLOWANCE = 0.115
#: The ankle-to-head-centre chain as weights per bone: each leg counts half, so a person's two
#: legs give one height, and a leg the lifter gets short (a raised foot lifted at half length)
#: moves it half as much (with the right leg alone, it made the dancer 1.20× a typical person's
#: size in the lifted video; with both, 1.14×).
_VERTICAL_CHAIN = {"r_hip-r_knee": 0.5, "l_hip-l_knee": 0.5, "r_knee-r_ankle": 0.5, "l_knee-l_ankle": 0.5,
                   "pelvis-spine": 1.0, "spine-thorax": 1.0, "thorax-neck": 1.0, "neck-head": 1.0}  # fmt: skip
#: Standing height is linear in the bone lengths: ``height_from_bone_lengths(L) == HEIGHT_PER_BONE @ L``.
HEIGHT_PER_BONE = np.array([_VERTICAL_CHAIN.get(n, 0.0) for n in BONE_NAMES]) / (1.0 - _HEIGHT_ALLOWANCE)


#: The subject heights posecast takes, metres, both ends included (QA: 2.8 was refused with
#: "must be between 0.5 and 2.8, got 2.8").
HEIGHT_RANGE_M = (0.5, 2.8)


def height_in_range(height_m: float) -> bool:
    """Whether ``height_m`` lies in :data:`HEIGHT_RANGE_M` (NaN does not)."""
    return HEIGHT_RANGE_M[0] <= height_m <= HEIGHT_RANGE_M[1]


def bone_lengths_from_height(height_m: float) -> np.ndarray:
    """Typical bone lengths in metres ``(16,)`` for a person ``height_m`` tall."""
    if not height_in_range(height_m):
        raise ValueError(f"subject height must be in metres from {HEIGHT_RANGE_M[0]} to {HEIGHT_RANGE_M[1]}, "
                         f"got {height_m}")  # fmt: skip
    return height_m * np.asarray([_BONE_FRACTION_OF_HEIGHT[n] for n in BONE_NAMES])


#: The ankle joint of a standing person is this fraction of their height above the floor
#: (the Bandai-Namco skeleton the lifter learned its joints from: 0.117 m for an actor whose
#: posecast height is 1.54 m; the lateral malleolus of anthropometric tables: 0.039).
ANKLE_HEIGHT_FRACTION = 0.076


def height_from_bone_lengths(lengths_m: np.ndarray) -> float:
    """Standing height in metres implied by bone lengths ``(16,)`` (inverse of the above)."""
    return float(np.asarray(lengths_m, dtype=np.float64) @ HEIGHT_PER_BONE)


def standing_ankle_height_m(lengths_m: np.ndarray) -> float:
    """Where a standing person's ankle joints are above the floor, in metres, for bone lengths
    ``(16,)`` (:data:`ANKLE_HEIGHT_FRACTION` of their height)."""
    return ANKLE_HEIGHT_FRACTION * height_from_bone_lengths(lengths_m)

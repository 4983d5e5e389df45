"""Coordinate frames of game engines and DCC tools: axis maps, handedness, units and mirroring,
for positions and rotations alike.

posecast computes in the **world** frame of :mod:`posecast.calibration.floor`: right-handed,
metres, y up, origin on the floor below the subject's first root position, x the camera's right
(along the floor), z towards the camera. A subject facing the camera faces +z with their left
at +x, which is also how :mod:`posecast.engines.rotations` defines its rest T-pose.

Each engine frame below is chosen so that this rest pose is the engine's own humanoid rest: a
person facing the camera is an avatar facing its engine's "model front" with identity
rotations, y or z up as the engine has it, in the engine's units. The maps are exact (entries
0 and ±1) and never mirror the scene: a left-handed engine differs by one reflected axis, as a
change of handedness must, and what the subject does with their left hand an avatar does with
its left hand (``mirror`` is the selfie option that swaps them).

==========  ===========  ===========  ====  =====  ========================================
frame       handedness   up           unit  front  world (x, y, z) becomes
==========  ===========  ===========  ====  =====  ========================================
world       right        +y           m     +z     (x, y, z)
unity       left         +y           m     +z     (−x, y, z)
unreal      left         +z           cm    +x     100·(z, −x, y)
godot       right        +y           m     +z     (x, y, z)   (Godot 4 model front is +z)
blender     right        +z           m     −y     (x, −z, y)
camera      right        −y (level)   m     —      R_cw⁻¹ (p − t_cw) from the floor estimate
==========  ===========  ===========  ====  =====  ========================================

"left" is the subject's left in the rest pose: +x in world and Godot and Blender, −x in Unity,
−y in Unreal. A rotation ``R`` (as a matrix acting on world vectors) becomes ``A R Aᵀ`` for the
axis map ``A``, a proper rotation even when ``A`` reflects an axis (for Unity the quaternion
``(x, y, z, w)`` becomes ``(x, −y, −z, w)``); positions become ``units · (A p + offset)``.
Local bone rotations change the same way, and the rest pose's bone directions become
``A · REST_DIRECTIONS``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

from . import rotations as rot
from . import skeleton
from .errors import PosecastError


class FrameError(PosecastError):
    """An unknown frame name or a frame that cannot be used yet (no camera transform)."""


@dataclass(frozen=True)
class Frame:
    """A target frame: ``p_frame = units_per_m · (axes @ p_world + offset_m)``.

    ``axes`` ``(3, 3)`` orthonormal (det +1 right-handed, −1 left-handed); ``offset_m`` ``(3,)``
    in metres (zero except for the camera frame).
    """

    name: str
    axes: np.ndarray
    units_per_m: float = 1.0
    offset_m: np.ndarray = field(default_factory=lambda: np.zeros(3))
    up: str = "+y"
    front: str = "+z"
    units: str = "m"

    def __post_init__(self) -> None:
        axes = np.asarray(self.axes, dtype=np.float64)
        if axes.shape != (3, 3) or not np.allclose(axes @ axes.T, np.eye(3), atol=1e-9):
            raise ValueError(f"Frame.axes must be an orthonormal 3x3 matrix, got {self.axes!r}")
        if not self.units_per_m > 0:
            raise ValueError(f"Frame.units_per_m must be > 0, got {self.units_per_m}")
        object.__setattr__(self, "axes", axes)
        object.__setattr__(self, "offset_m", np.asarray(self.offset_m, dtype=np.float64).reshape(3))

    @property
    def handedness(self) -> str:
        """``"right"`` or ``"left"`` (the sign of ``det(axes)``)."""
        return "right" if np.linalg.det(self.axes) > 0 else "left"

    @property
    def rest_directions(self) -> np.ndarray:
        """The rest pose's bone directions in this frame's axes ``(17, 3)``."""
        return rot.REST_DIRECTIONS @ self.axes.T

    def describe(self) -> dict[str, object]:
        """Plain-data description for a stream's ``meta`` message."""
        return {
            "name": self.name, "handedness": self.handedness, "up": self.up, "front": self.front,
            "units": self.units, "axes": self.axes.tolist(), "offset_m": self.offset_m.tolist(),
        }  # fmt: skip


_E = np.eye(3)
ENGINE_FRAMES: dict[str, Frame] = {
    "world": Frame("world", _E),
    "unity": Frame("unity", np.diag([-1.0, 1.0, 1.0])),
    "unreal": Frame("unreal", np.array([[0, 0, 1], [-1, 0, 0], [0, 1, 0]]), 100.0, up="+z", front="+x", units="cm"),
    "godot": Frame("godot", _E),
    "blender": Frame("blender", np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]]), up="+z", front="-y"),
}
#: Every name ``--frame`` accepts.
FRAME_NAMES: tuple[str, ...] = ("camera", *ENGINE_FRAMES)


def camera_frame(camera_to_world: np.ndarray) -> Frame:
    """The camera frame (OpenCV: x right, y down, z forward, metres) as seen from the world,
    given the floor's ``camera_to_world`` ``(4, 4)`` (``p_world = R p_cam + t``)."""
    transform = np.asarray(camera_to_world, dtype=np.float64)
    if transform.shape != (4, 4):
        raise ValueError(f"camera_to_world must be a 4x4 matrix, got shape {transform.shape}")
    r, t = transform[:3, :3], transform[:3, 3]
    return Frame("camera", r.T, offset_m=-r.T @ t, up="-y", front="-z")


def get_frame(name: str, camera_to_world: np.ndarray | None = None) -> Frame:
    """The frame called ``name`` (one of :data:`FRAME_NAMES`); ``camera`` needs ``camera_to_world``."""
    if name == "camera":
        if camera_to_world is None:
            raise FrameError("the camera frame needs the camera->world transform of a floor estimate")
        return camera_frame(camera_to_world)
    if name not in ENGINE_FRAMES:
        raise FrameError(f"unknown frame {name!r}: use one of {', '.join(FRAME_NAMES)}")
    return ENGINE_FRAMES[name]


def describe_frame(name: str) -> dict[str, object]:
    """Plain-data description of the frame called ``name`` for a ``meta`` message (the camera
    frame's axes are the camera's own: the floor's ``camera_to_world`` maps them to the world)."""
    if name == "camera":
        return {"name": "camera", "handedness": "right", "up": "-y (a level camera)", "front": "-z", "units": "m",
                "axes": "OpenCV camera: x right, y down, z forward; see the floor's camera_to_world"}  # fmt: skip
    return get_frame(name).describe()


def positions_to_frame(points_world: np.ndarray, frame: Frame) -> np.ndarray:
    """World points ``(..., 3)`` in metres → the frame's axes and units ``(..., 3)``."""
    return frame.units_per_m * (np.asarray(points_world, dtype=np.float64) @ frame.axes.T + frame.offset_m)


def positions_from_frame(points: np.ndarray, frame: Frame) -> np.ndarray:
    """Inverse of :func:`positions_to_frame`: frame points ``(..., 3)`` → world metres."""
    return (np.asarray(points, dtype=np.float64) / frame.units_per_m - frame.offset_m) @ frame.axes


def rotations_to_frame(quats_world: np.ndarray, frame: Frame) -> np.ndarray:
    """World rotations ``(..., 4)`` ``(x, y, z, w)`` → the same rotations in the frame's axes."""
    return _conjugate(quats_world, frame.axes)


def rotations_from_frame(quats: np.ndarray, frame: Frame) -> np.ndarray:
    """Inverse of :func:`rotations_to_frame`."""
    return _conjugate(quats, frame.axes.T)


def bone_pose_to_frame(pose: rot.BonePose, frame: Frame) -> rot.BonePose:
    """A world :class:`~posecast.engines.rotations.BonePose` in the frame's axes and units (its
    forward kinematics then needs ``rest_directions=frame.rest_directions``)."""
    return rot.BonePose(
        root_m=positions_to_frame(pose.root_m, frame),
        rotations=rotations_to_frame(pose.rotations, frame),
        bone_lengths_m=np.asarray(pose.bone_lengths_m) * frame.units_per_m,
    )


#: Reflection of the world through its yz plane (x → −x): the selfie mirror.
MIRROR = np.diag([-1.0, 1.0, 1.0])
_SWAP = np.arange(skeleton.NUM_JOINTS)
for _l, _r in skeleton.LEFT_RIGHT:
    _SWAP[_l], _SWAP[_r] = _r, _l
_BONE_SWAP = _SWAP[1:] - 1  # bone b ends at joint b + 1


def mirror_joints(joints_world: np.ndarray) -> np.ndarray:
    """Selfie mirror of world joints ``(..., 17, 3)``: x → −x about the world's origin (the
    floor below the first root position) and left/right swapped, so the result is again a
    body: the subject raising their right hand becomes an avatar raising its left, on the
    same side of the screen as in a mirror."""
    return np.asarray(joints_world, dtype=np.float64)[..., _SWAP, :] * np.array([-1.0, 1.0, 1.0])


def mirror_bone_pose(pose: rot.BonePose) -> rot.BonePose:
    """The :class:`~posecast.engines.rotations.BonePose` of :func:`mirror_joints` of the pose's
    joints, from the rotations (``M R M`` and left/right swapped)."""
    lengths = np.asarray(pose.bone_lengths_m)
    return rot.BonePose(
        root_m=pose.root_m * np.array([-1.0, 1.0, 1.0]),
        rotations=_conjugate(pose.rotations, MIRROR)[..., _SWAP, :],
        bone_lengths_m=lengths[..., _BONE_SWAP],
    )


def _conjugate(quats: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """``A R Aᵀ`` for rotations ``(..., 4)``; NaN stays NaN."""
    quats = np.asarray(quats, dtype=np.float64)
    out = np.full(quats.shape, np.nan)
    ok = np.isfinite(quats).all(axis=-1)
    if ok.any():
        matrices = axes @ Rotation.from_quat(quats[ok]).as_matrix() @ axes.T
        out[ok] = Rotation.from_matrix(matrices).as_quat()
    return out

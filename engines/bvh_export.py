"""BVH export of posecast poses: the subject's bone lengths as the hierarchy, the root
translation and every bone's local rotation (:mod:`posecast.engines.rotations`) as motion.

**Hierarchy.** The rest pose is :mod:`~posecast.engines.rotations`' T-pose (all rotations zero).
posecast rotates each *bone* (indexed by its end joint), and the pelvis and the thorax have
three bones each, so every bone is a BVH joint of its own, placed at the bone's start; a bone
at the end of a chain gets a leaf joint at its end (zero rotation: hands, feet and the head's
orientation are not observed) with a nominal ``End Site`` :data:`TIP_M` further along. The 17
posecast joints are thus the heads of the BVH joints (what Blender calls bone heads):

================  ===============  ========  ================  ===============  ========
BVH joint         head at          bone to   BVH joint         head at          bone to
================  ===============  ========  ================  ===============  ========
Hips (root)       pelvis           —         Spine             pelvis           spine
RightHip          pelvis           r_hip     Spine1            spine            thorax
RightUpLeg        r_hip            r_knee    Neck              thorax           neck
RightLeg          r_knee           r_ankle   Neck1             neck             head
RightFoot         r_ankle          (leaf)    Head              head             (leaf)
LeftHip …         as right         …         LeftShoulder      thorax           l_shoulder
                                             LeftArm           l_shoulder       l_elbow
                                             LeftForeArm       l_elbow          l_wrist
                                             LeftHand          l_wrist          (leaf)
================  ===============  ========  ================  ===============  ========

(Right arm likewise.) The root has ``Xposition Yposition Zposition Zrotation Xrotation
Yrotation`` channels, every other joint ``Zrotation Xrotation Yrotation`` (degrees; the local
rotation is ``Rz · Rx · Ry``, the usual BVH order), positions in the frame's units.

**Axes.** The file is written in one of :mod:`posecast.engines.frames`' frames: ``world``
(right-handed, y up, metres: the BVH convention, and what Blender's importer assumes by default:
Forward −Z, Up Y) or an engine's (``blender``: import with Forward Y, Up Z; ``unity``,
``unreal`` (centimetres), ``godot``). The right-handed ones (world, blender, godot) show the
same pose in Blender. BVH readers take a file's axes as right-handed, so one written in a
left-handed frame (``unity``, ``unreal``) imports as the take's mirror image: ``posecast export``
refuses those; they serve tests of what training refuses.

Frames without a pose (NaN joints) hold the last pose (the first pose before it); the count is
returned so that callers can say so.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from . import frames as engine_frames
from . import limb_hold, skeleton
from . import rotations as rot

#: Length of the nominal End Site past each leaf joint, metres (carries no measurement).
TIP_M = 0.05
#: BVH name of the joint for the bone ending at each posecast joint (the root: the root frame).
BONE_JOINT_NAMES: dict[str, str] = {
    "pelvis": "Hips",
    "r_hip": "RightHip", "r_knee": "RightUpLeg", "r_ankle": "RightLeg",
    "l_hip": "LeftHip", "l_knee": "LeftUpLeg", "l_ankle": "LeftLeg",
    "spine": "Spine", "thorax": "Spine1", "neck": "Neck", "head": "Neck1",
    "l_shoulder": "LeftShoulder", "l_elbow": "LeftArm", "l_wrist": "LeftForeArm",
    "r_shoulder": "RightShoulder", "r_elbow": "RightArm", "r_wrist": "RightForeArm",
}  # fmt: skip
#: BVH name of the leaf joint at the end of each chain.
LEAF_JOINT_NAMES: dict[str, str] = {
    "r_ankle": "RightFoot", "l_ankle": "LeftFoot", "head": "Head", "l_wrist": "LeftHand", "r_wrist": "RightHand",
}  # fmt: skip
#: Frames turned and written at a time (:func:`joints_to_bvh_pieces`; ``posecast export`` reads a
#: take this many frames at a time): the working arrays of a take's rotations, Euler angles and
#: text are this many frames' (about 10 MB; 4096 frames' were about 40 MB, for no less time),
#: not the whole take's.
CHUNK_FRAMES = 1024
ROOT_CHANNELS = "Xposition Yposition Zposition Zrotation Xrotation Yrotation"
CHANNELS = "Zrotation Xrotation Yrotation"


@dataclass(frozen=True)
class BVHJoint:
    """One joint of the written hierarchy: its name, the posecast joint at its head, the
    posecast joint whose bone rotation it carries (``None`` for a leaf) and its parent's
    index in the hierarchy (-1 for the root)."""

    name: str
    head_joint: int
    bone: int | None
    parent: int


def hierarchy() -> list[BVHJoint]:
    """The BVH joints in file order (depth first), see the module docstring."""
    children = {j: [c for c, p in enumerate(skeleton.PARENTS) if p == j] for j in range(skeleton.NUM_JOINTS)}
    names = skeleton.JOINT_NAMES
    out = [BVHJoint(BONE_JOINT_NAMES["pelvis"], skeleton.ROOT, skeleton.ROOT, -1)]

    def add_bone(end: int, parent: int) -> None:
        out.append(BVHJoint(BONE_JOINT_NAMES[names[end]], skeleton.PARENTS[end], end, parent))
        me = len(out) - 1
        if not children[end]:
            out.append(BVHJoint(LEAF_JOINT_NAMES[names[end]], end, None, me))
        for child in children[end]:
            add_bone(child, me)

    for child in children[skeleton.ROOT]:
        add_bone(child, 0)
    return out


def shown_frames(joints: np.ndarray) -> tuple[np.ndarray, int]:
    """The frame each frame of joints ``(F, 17, 3)`` shows ``(F,)``: itself where its joints are
    all finite, else the last such frame (the first before it), and how many show another
    (their joints: ``joints[source]``). Raises ``ValueError`` when none is finite."""
    valid = np.isfinite(joints).all(axis=(1, 2))
    if not valid.any():
        raise ValueError("no frame has a pose: nothing to export")
    source = np.maximum.accumulate(np.where(valid, np.arange(len(valid)), -1))
    source[source < 0] = np.argmax(valid)
    return source, int((~valid).sum())


def world_bvh_pieces(bone_lengths_m: np.ndarray, root_m: np.ndarray, rotations: Callable[[slice], np.ndarray],
                     fps: float, frame: str, chunk_frames: int = CHUNK_FRAMES) -> Iterator[str]:  # fmt: skip
    """The BVH document of ``len(root_m)`` frames in world axes (the root ``(F, 3)``; each bone's
    local rotations of the frames ``part`` given by ``rotations(part)`` ``(n, 17, 4)``) in
    ``frame``'s, as pieces of ``chunk_frames`` frames each after the hierarchy
    (:func:`pose_bvh_pieces`)."""
    return pose_bvh_pieces(bone_lengths_m, len(root_m), lambda part: (root_m[part], rotations(part)), fps, frame,
                           chunk_frames)  # fmt: skip


def pose_bvh_pieces(bone_lengths_m: np.ndarray, frames: int,
                    pose: Callable[[slice], tuple[np.ndarray, np.ndarray]], fps: float, frame: str,
                    chunk_frames: int = CHUNK_FRAMES) -> Iterator[str]:  # fmt: skip
    """The BVH document of ``frames`` frames in world axes, ``pose(part)`` giving the root
    ``(n, 3)`` and each bone's local rotations ``(n, 17, 4)`` of the frames ``part`` (asked for in
    order, each once), in ``frame``'s, as pieces of ``chunk_frames`` frames each after the
    hierarchy: the whole document's text, made with the working arrays of one piece. Raises
    ``ValueError`` at once for a rate that is not positive or bone lengths that are not one set
    ``(16,)``."""
    if chunk_frames < 1:
        raise ValueError(f"chunk_frames must be at least 1, got {chunk_frames}")
    target = engine_frames.get_frame(frame)
    header = _header(np.asarray(bone_lengths_m) * target.units_per_m, fps, frames, target)

    def pieces() -> Iterator[str]:
        yield header
        for start in range(0, frames, chunk_frames):
            root, rotations = pose(slice(start, min(start + chunk_frames, frames)))
            # (each row turned alone: a chunk's rows are the numbers of the whole take's at once)
            yield _rows(engine_frames.positions_to_frame(root, target),
                        engine_frames.rotations_to_frame(rotations, target))  # fmt: skip

    return pieces()


def _header(bone_lengths: np.ndarray, fps: float, frames: int, frame: engine_frames.Frame) -> str:
    """A BVH document's text up to its motion rows: the hierarchy of ``bone_lengths`` ``(16,)`` in
    ``frame``'s units, the frame count and time."""
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    lengths = np.asarray(bone_lengths, dtype=np.float64)
    if lengths.shape != (len(skeleton.BONES),):
        raise ValueError(f"BVH needs one set of bone lengths (16,), got {lengths.shape}")
    directions = frame.rest_directions
    offsets = rot.rest_offsets(lengths, directions)  # (17, 3): joint j from its parent, frame units
    joints = hierarchy()
    lines = ["HIERARCHY"]

    def write(i: int, depth: int) -> None:
        joint, pad = joints[i], "  " * depth
        if joint.parent < 0 or joint.bone == skeleton.ROOT:
            offset = np.zeros(3)
        elif joint.bone is None:  # a leaf: at the end of its parent's bone
            offset = offsets[joint.head_joint]
        else:  # at the end of the parent's bone (zero for the pelvis's bones)
            offset = offsets[skeleton.PARENTS[joint.bone]]
        channels = f"6 {ROOT_CHANNELS}" if joint.parent < 0 else f"3 {CHANNELS}"
        lines.extend([f"{pad}{'ROOT' if joint.parent < 0 else 'JOINT'} {joint.name}", f"{pad}{{",
                      f"{pad}  OFFSET {_vector(offset)}", f"{pad}  CHANNELS {channels}"])  # fmt: skip
        if joint.bone is None:
            tip = directions[joint.head_joint] * TIP_M * frame.units_per_m
            lines.extend([f"{pad}  End Site", f"{pad}  {{", f"{pad}    OFFSET {_vector(tip)}", f"{pad}  }}"])
        for child in (c for c, other in enumerate(joints) if other.parent == i):
            write(child, depth + 1)
        lines.append(f"{pad}}}")

    write(0, 0)
    lines += ["MOTION", f"Frames: {frames}", f"Frame Time: {1.0 / fps:.8f}"]
    return "\n".join(lines) + "\n"


def _rows(root: np.ndarray, rotations: np.ndarray) -> str:
    """The motion rows of frames with the root ``(n, 3)`` and local rotations ``(n, 17, 4)`` in the
    file's axes and units, each ending in a newline."""
    euler = _euler_zxy(rotations)  # (n, 17, 3) degrees
    columns = []
    for joint in hierarchy():
        if joint.parent < 0:
            columns += [root[:, 0], root[:, 1], root[:, 2]]
        if joint.bone is None:
            columns += [np.zeros(len(root))] * 3
        else:
            columns += [euler[:, joint.bone, 0], euler[:, joint.bone, 1], euler[:, joint.bone, 2]]
    # '%.6f' formats a float as format(v, '.6f') does, a few times faster than a call per value
    row = " ".join(["%.6f"] * len(columns)) + "\n"
    return "".join(row % values for values in map(tuple, np.stack(columns, axis=1).tolist()))


def joints_to_bvh(
    joints_world: np.ndarray,
    fps: float,
    frame: str = "world",
    bone_lengths_m: np.ndarray | None = None,
    ear_lines: np.ndarray | None = None,
    limbs_seen: np.ndarray | None = None,
    timestamps_ns: np.ndarray | None = None,
    limb_hold_options: limb_hold.LimbHoldOptions | None = None,
    chunk_frames: int = CHUNK_FRAMES,
) -> tuple[str, int]:
    """World joints ``(F, 17, 3)`` (metres; :mod:`posecast.calibration.floor`'s world: y up) →
    (BVH text in ``frame``, number of frames without a pose that held the last pose).
    ``bone_lengths_m`` ``(16,)``: the subject's (default: the median over the frames);
    ``ear_lines`` ``(F, 3)`` world axes, the head's twist (:func:`posecast.engines.rotations.
    joints_to_rotations`; NaN or ``None``: not known); ``limbs_seen`` ``(F, 8)``: the limb bones
    the 2D detector saw, the others held, rested and eased back as ``limb_hold_options`` say
    (``None``: the defaults) on ``timestamps_ns`` ``(F,)``
    (:func:`posecast.engines.limb_hold.hold_track`; ``limbs_seen`` ``None``: the bones follow the
    joints). Made ``chunk_frames`` frames at a time (:func:`joints_to_bvh_pieces`)."""
    pieces, held = joints_to_bvh_pieces(joints_world, fps, frame, bone_lengths_m, ear_lines, limbs_seen,
                                        timestamps_ns, limb_hold_options, chunk_frames)  # fmt: skip
    return "".join(pieces), held


def joints_to_bvh_pieces(
    joints_world: np.ndarray,
    fps: float,
    frame: str = "world",
    bone_lengths_m: np.ndarray | None = None,
    ear_lines: np.ndarray | None = None,
    limbs_seen: np.ndarray | None = None,
    timestamps_ns: np.ndarray | None = None,
    limb_hold_options: limb_hold.LimbHoldOptions | None = None,
    chunk_frames: int = CHUNK_FRAMES,
) -> tuple[Iterator[str], int]:
    """:func:`joints_to_bvh`'s text as pieces (:func:`world_bvh_pieces`), the frames turned
    ``chunk_frames`` at a time (:func:`posecast.engines.rotations.take_rotations`): the same text,
    made with the whole take's rotations (544 bytes a frame) and one chunk's working arrays, not the
    whole take's (an hour at 30 fps, whole: about 1 GB more)."""
    joints_world = np.asarray(joints_world, dtype=np.float64)
    source, held = shown_frames(joints_world)
    if ear_lines is not None:  # a frame without a pose holds the last one's head too
        if np.shape(ear_lines) != (len(joints_world), 3):
            raise ValueError(f"expected ear lines of shape ({len(joints_world)}, 3), got {np.shape(ear_lines)}")
        ear_lines = np.asarray(ear_lines, np.float64)
    if bone_lengths_m is None:
        bone_lengths_m = np.median(skeleton.bone_lengths(joints_world[source]), axis=0)
    # the rotations of the frames with a pose, each held frame given its source's: the hinges'
    # twists carry from frame to frame, and over copies of a pose they eased on, a pose the person
    # never had (QA: a person first seen at 6 s turned a thigh 80 degrees in the held frames before;
    # the arm of one gone turned 6.9 degrees over the 2 s held after their last pose)
    posed = np.flatnonzero(source == np.arange(len(source)))
    every = len(posed) == len(source)  # (the usual take: no copy of its joints)
    turned = rot.take_pose(joints_world if every else joints_world[posed], bone_lengths_m,
                           ear_lines if ear_lines is None or every else ear_lines[posed], chunk_frames)  # fmt: skip
    rotations = turned.rotations
    if limbs_seen is not None:
        rotations = limb_hold.hold_track(rotations, np.asarray(limbs_seen)[posed], np.asarray(timestamps_ns)[posed],
                                         limb_hold_options or limb_hold.LimbHoldOptions(), turned.root_m[:, 1],
                                         turned.bone_lengths_m)  # fmt: skip
    shown = np.searchsorted(posed, source)  # each frame's source, as a row of `turned`
    pieces = world_bvh_pieces(turned.bone_lengths_m, turned.root_m[shown], lambda part: rotations[shown[part]], fps,
                              frame, chunk_frames)  # fmt: skip
    return pieces, held


def _euler_zxy(quaternions: np.ndarray) -> np.ndarray:
    """Quaternions ``(F, 17, 4)`` → intrinsic Z-X-Y Euler angles ``(F, 17, 3)`` in degrees."""
    flat = np.asarray(quaternions, dtype=np.float64).reshape(-1, 4)
    with warnings.catch_warnings():  # gimbal lock: scipy picks one solution, the rotation is exact
        warnings.simplefilter("ignore", UserWarning)
        angles = Rotation.from_quat(flat).as_euler("ZXY", degrees=True)
    return angles.reshape(*quaternions.shape[:-1], 3)


def _vector(v: np.ndarray) -> str:
    return " ".join(f"{x:.6f}" for x in v)

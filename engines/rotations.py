"""Bone rotations of posecast's 17-joint skeleton and forward kinematics back to joints.

**Rest pose** (all rotations identity): a T-pose in the *world* frame of
:mod:`posecast.calibration.floor` — right-handed, y up, metres — standing upright and facing
+z (towards the camera), so the subject's **left is +x**. Legs and spine are vertical, arms
horizontal along ±x with the palms down (the elbows bend towards +z), the hips and shoulders
along ±x (:data:`REST_DIRECTIONS`). This is the normalised T-pose that VRM, Warudo and Unity's
humanoid retargeting expect, so a rotation can be handed to an avatar as it is (after the axis
change of :mod:`posecast.engines.frames`).

**One rotation per joint**, ``(F, 17, 4)`` quaternions ``(x, y, z, w)`` (scipy's order):

- ``rotations[:, 0]``: the pelvis frame (root) in the world: the hip line is its x axis, the
  hips plane (hip line and pelvis→spine) its xy plane.
- ``rotations[:, j]``, ``j > 0``: the bone that *ends* at joint ``j`` (from ``PARENTS[j]`` to
  ``j``), relative to the bone ending at ``PARENTS[j]`` (the root frame for the pelvis's
  children). World rotations compose down :data:`skeleton.PARENTS`:
  ``W[j] = W[PARENTS[j]] · rotations[j]``, and forward kinematics is
  ``joint[j] = joint[PARENTS[j]] + W[j] · REST_DIRECTIONS[j] · length[j]``.

Indexing bones by their end joint gives each of the pelvis's and thorax's children its own
rotation, so forward kinematics reproduces *any* joints with those bone lengths exactly (the
lifter does not keep the pelvis exactly between the hips). A bone's direction fixes two of its
three degrees of freedom; the twist about it comes from the neighbouring joints (:data:`TWIST`):

- hips plane (hip line and pelvis→spine): the root and the pelvis→hip bones;
- knee bend plane (hinge axis ``thigh × shin``): thigh and shin, so the knee is a pure hinge;
- elbow bend plane (``upper arm × forearm``): upper arm and forearm;
- shoulders plane (shoulder line, spine→thorax): the chest and the clavicles; the lower spine
  takes the mean of the hip and shoulder lines (the torso's twist shared between both halves).

A limb nearly straight has no reliable bend plane, so a hinge's twist **follows** its bend plane
from frame to frame (:class:`HingeTwists`): the frames of one call are taken in time order, and
each moves the twist (the angle about the bone from the parent's frame, carried without a twist
of its own) the shortest way towards its bend plane's, all the way where the sine of the bend is
that of :data:`STRAIGHT_LIMB_DEG` or more (bent 30° to 150°), not at all where it is that of
:data:`HOLD_LIMB_DEG` or less (nearly straight, or folded flat: the twist is held), in
proportion between. Blending the two directions instead (the bend plane's and the parent's, weighed by the
bend) turned a dancer's nearly straight upper arm by 105 deg in two frames and back, wherever
the two lay far apart. A limb never yet bent keeps its parent's twist.

Which way a hinge bends (:data:`ONE_WAY_HINGES`): an elbow only bends forward, so its hinge
axis keeps its anatomical sign and the upper arm twists as far as the shoulder does (the bend
plane can face any way: choosing the sign by the parent's frame instead flipped the upper arm
by half a turn, elbow bent backwards, in 1 frame of 90 of real CMU motion); the hip turns the
thigh much less, so a knee's hinge axis is taken on the side of the hips' frame (a
hyperextended knee does not turn the leg round), with a margin: the sign nearest the twist it
carries from the frame before, unless that puts the axis more than :data:`KNEE_SIDE_MARGIN_DEG`
past the perpendicular to the hips' frame (a knee bent backwards: about 180° from it), where the
other sign is taken; at its first bend, the hips' side. Taken afresh each frame, an axis near the
perpendicular (a thigh raised and turned, the shin across: a figure-four) took either sign on
joint noise of 2 mm, and the thigh and shin turned half a turn in a frame while the joints
stayed. The neck only swings from the chest's frame;
the head (the neck→head bone) takes its twist from the line between the ears where the detector
gives them in 3D (``ear_lines``: MediaPipe's world landmarks), so a face turned from the chest
turns the avatar's head, and otherwise swings like the neck (the 17 joints carry no face
direction). Hands, feet, fingers, eyes and the wrist's twist are not observed and are not
represented (identity).

Pure numpy + :class:`scipy.spatial.transform.Rotation` (frames built as orthonormal bases,
converted and composed by scipy), vectorised over frames and over the tree's levels (a single
frame takes well under a millisecond); frames whose joints are not all finite give NaN
rotations (and NaN joints back).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from . import skeleton

_J = skeleton.JOINT_INDEX
_X, _Y, _Z = np.eye(3)

#: Unit direction of each joint from its parent in the rest T-pose ``(17, 3)`` (world axes:
#: x = subject's left, y up, z forward); the root's row is zero.
REST_DIRECTIONS: np.ndarray = np.zeros((skeleton.NUM_JOINTS, 3))
for _name, _dir in {
    "r_hip": -_X, "r_knee": -_Y, "r_ankle": -_Y, "l_hip": _X, "l_knee": -_Y, "l_ankle": -_Y,
    "spine": _Y, "thorax": _Y, "neck": _Y, "head": _Y,
    "l_shoulder": _X, "l_elbow": _X, "l_wrist": _X, "r_shoulder": -_X, "r_elbow": -_X, "r_wrist": -_X,
}.items():  # fmt: skip
    REST_DIRECTIONS[_J[_name]] = _dir

#: How each bone's twist is found: ``(rule, rest reference)``. The reference is a direction
#: perpendicular to the bone in the rest pose; the rule names the vector of the posed joints
#: that plays its part (``"parent"``: none, the parent's frame carried along).
#: Rules: ``hips`` pelvis→spine; ``hip_line`` r_hip→l_hip; ``shoulders`` thorax - spine;
#: ``shoulder_line`` r_shoulder→l_shoulder; ``torso`` mean of the two lines;
#: ``knee_r``/``knee_l``/``elbow_r``/``elbow_l`` the limb's hinge axis (parent bone × child bone);
#: ``ears`` the right ear → left ear line where it is known (``parent`` where it is not).
TWIST: dict[str, tuple[str, np.ndarray]] = {
    "pelvis": ("hips", _Y),  # the root frame: x along the hip line, y in the hips plane
    "r_hip": ("hips", _Y), "l_hip": ("hips", _Y),
    # the shin and forearm keep the hinge axis of the bone above: the knee and elbow are pure hinges
    "r_knee": ("knee_r", _X), "r_ankle": ("parent", _X), "l_knee": ("knee_l", _X), "l_ankle": ("parent", _X),
    "spine": ("torso", _X), "thorax": ("shoulder_line", _X), "neck": ("parent", _X), "head": ("ears", _X),
    "l_shoulder": ("shoulders", _Y), "r_shoulder": ("shoulders", _Y),
    # with the palms down in the T-pose the elbows bend forward: left upper arm × forearm = -y
    "l_elbow": ("elbow_l", -_Y), "l_wrist": ("parent", -_Y), "r_elbow": ("elbow_r", _Y), "r_wrist": ("parent", _Y),
}  # fmt: skip

#: From this bend (degrees) on, a knee's or elbow's twist is its bend plane's (a pure hinge).
STRAIGHT_LIMB_DEG = 30.0
#: Up to this bend (degrees) a knee's or elbow's bend plane says nothing: its twist is held.
HOLD_LIMB_DEG = 5.0
_STRAIGHT_SIN = float(np.sin(np.radians(STRAIGHT_LIMB_DEG)))
_HOLD_SIN = float(np.sin(np.radians(HOLD_LIMB_DEG)))
_HINGES = {
    "knee_r": ("r_hip", "r_knee", "r_ankle"), "knee_l": ("l_hip", "l_knee", "l_ankle"),
    "elbow_r": ("r_shoulder", "r_elbow", "r_wrist"), "elbow_l": ("l_shoulder", "l_elbow", "l_wrist"),
}  # fmt: skip
#: Hinges that bend one way only: their axis keeps its sign (the others follow the parent's side).
ONE_WAY_HINGES = frozenset({"elbow_r", "elbow_l"})
#: A knee's hinge axis keeps the sign nearest its twist of the frame before until that puts it this
#: far (degrees) past the perpendicular to the hips' frame, on the far side (module docstring).
KNEE_SIDE_MARGIN_DEG = 30.0
_SIDE_MARGIN_COS = float(np.cos(np.radians(90.0 + KNEE_SIDE_MARGIN_DEG)))


@dataclass(frozen=True)
class HingeTwists:
    """Each hinge's twist at the last frame, carried to the next call (module docstring):
    ``radians`` ``(4,)`` in :data:`HINGE_NAMES` order, the angle about the bone from its parent's
    untwisted frame (it also keeps a knee's hinge axis on its side); ``NaN``: the limb has not
    been seen bent yet (its parent's twist)."""

    radians: np.ndarray

    @classmethod
    def none(cls) -> HingeTwists:
        return cls(np.full(len(HINGE_NAMES), np.nan))


@dataclass(frozen=True)
class BonePose:
    """Root position, per-joint rotations and bone lengths of ``F`` frames (module docstring).

    ``root_m`` ``(F, 3)`` the pelvis, metres; ``rotations`` ``(F, 17, 4)`` unit quaternions
    ``(x, y, z, w)``: ``[:, 0]`` the root frame in the world, ``[:, j]`` the bone ending at
    ``j`` relative to its parent bone; ``bone_lengths_m`` ``(16,)`` or ``(F, 16)`` in
    :data:`skeleton.BONES` order. Axes are those of the joints it was made from.
    """

    root_m: np.ndarray
    rotations: np.ndarray
    bone_lengths_m: np.ndarray
    #: the hinges' twists after the last frame (:func:`joints_to_rotations`; ``None`` elsewhere)
    hinge_twists: HingeTwists | None = None

    @property
    def num_frames(self) -> int:
        return int(self.root_m.shape[0])

    def world_rotations(self) -> np.ndarray:
        """Each bone's rotation in the world ``(F, 17, 4)`` (the root's is its own)."""
        return world_rotations(self.rotations)

    def joints(self, rest_directions: np.ndarray = REST_DIRECTIONS) -> np.ndarray:
        """Forward kinematics: joints ``(F, 17, 3)`` in the pose's units."""
        return forward_kinematics(self.root_m, self.rotations, self.bone_lengths_m, rest_directions)


class SignContinuity:
    """Sends each stream's quaternions ``(..., 4)`` in the same hemisphere as its last ones: ``q``
    and ``-q`` are one rotation, but scipy picks either from frame to frame, and a receiver that
    interpolates or filters the components (lerp, a low-pass filter) turns the long way round
    between them. One per output; ``key`` names the stream (a person)."""

    def __init__(self) -> None:
        self._last: dict[object, np.ndarray] = {}

    def __call__(self, key: object, quats: np.ndarray) -> np.ndarray:
        quats = np.array(quats, dtype=np.float64)
        last = self._last.get(key)
        if last is not None and last.shape == quats.shape:
            with np.errstate(invalid="ignore"):  # a NaN rotation keeps its sign and the last one stays
                flip = np.sum(quats * last, axis=-1) < 0.0
            quats[flip] = -quats[flip]
            finite = np.isfinite(quats).all(axis=-1)
            last = np.where(finite[..., None], quats, last)
        else:
            last = quats
        self._last[key] = last
        return quats

    def keep_only(self, keys: set) -> None:
        """Forget the streams not in ``keys`` (people no longer tracked)."""
        for gone in set(self._last) - keys:
            del self._last[gone]


def rest_pose(bone_lengths_m: np.ndarray) -> np.ndarray:
    """The rest T-pose ``(17, 3)`` (pelvis at the origin) for bone lengths ``(16,)``, metres."""
    lengths = np.asarray(bone_lengths_m, dtype=np.float64)
    identity = np.tile([0.0, 0.0, 0.0, 1.0], (1, skeleton.NUM_JOINTS, 1))
    return forward_kinematics(np.zeros((1, 3)), identity, lengths)[0]


def rest_offsets(bone_lengths_m: np.ndarray, rest_directions: np.ndarray = REST_DIRECTIONS) -> np.ndarray:
    """Each joint's offset from its parent in the rest pose ``(..., 17, 3)`` for bone lengths
    ``(..., 16)`` (the root's row is zero): the ``OFFSET`` a BVH writer needs.
    ``rest_directions``: :data:`REST_DIRECTIONS` in another frame's axes (``Frame.rest_directions``)."""
    lengths = np.asarray(bone_lengths_m, dtype=np.float64)
    padded = np.concatenate([np.zeros((*lengths.shape[:-1], 1)), lengths], axis=-1)  # bone b ends at joint b+1
    with np.errstate(invalid="ignore"):  # NaN lengths of a frame without a pose stay NaN
        return padded[..., :, None] * rest_directions


def world_rotations(rotations: np.ndarray) -> np.ndarray:
    """Local rotations ``(F, 17, 4)`` → world rotations ``(F, 17, 4)`` (``W[j] = W[parent]·R[j]``)."""
    return _to_quat(_world_matrices(_to_matrix(rotations)))


def local_rotations(world: np.ndarray) -> np.ndarray:
    """World rotations ``(F, 17, 4)`` → local rotations ``(F, 17, 4)`` (inverse of the above)."""
    return _to_quat(_local_matrices(_to_matrix(world)))


def forward_kinematics(
    root_m: np.ndarray,
    rotations: np.ndarray,
    bone_lengths_m: np.ndarray,
    rest_directions: np.ndarray = REST_DIRECTIONS,
) -> np.ndarray:
    """Joints ``(F, 17, 3)`` from the root ``(F, 3)``, local rotations ``(F, 17, 4)`` and bone
    lengths ``(16,)`` or ``(F, 16)`` in metres (:data:`skeleton.BONES` order). In another
    frame's axes and units pass its ``rest_directions`` (``Frame.rest_directions``)."""
    root_m = np.asarray(root_m, dtype=np.float64)
    world = _world_matrices(_to_matrix(rotations))
    offsets = rest_offsets(bone_lengths_m, rest_directions)
    bones = np.einsum("fjab,fjb->fja", world, np.broadcast_to(offsets, (len(root_m), skeleton.NUM_JOINTS, 3)))
    joints = np.empty((len(root_m), skeleton.NUM_JOINTS, 3))
    joints[:, 0] = root_m
    for level in _LEVELS[1:]:
        joints[:, level] = joints[:, _PARENTS[level]] + bones[:, level]
    return joints


def joints_to_rotations(
    joints: np.ndarray,
    bone_lengths_m: np.ndarray | None = None,
    hinge_twists: HingeTwists | None = None,
    ear_lines: np.ndarray | None = None,
) -> BonePose:
    """Joints ``(F, 17, 3)`` of one person, in time order (metres, a right-handed y-up frame such
    as the world of :mod:`posecast.calibration.floor`) → :class:`BonePose`.

    ``bone_lengths_m`` ``(16,)``: the lengths forward kinematics will use (the subject's; the
    pipeline's joints have exactly these); ``None`` keeps each frame's own lengths ``(F, 16)``.
    ``hinge_twists``: the result's :attr:`BonePose.hinge_twists` of the frames before (a stream
    lifted a frame at a time); ``None``: the first frames. ``ear_lines`` ``(F, 3)``: the direction
    from the right ear to the left ear in the joints' axes, the head's twist (NaN rows, or
    ``None``: not known, the head swings like the neck). Forward kinematics of the result
    reproduces the joints exactly when the lengths are theirs (the twists move no joint).
    """
    joints, ear_lines = _checked(joints, ear_lines)
    twists = (hinge_twists or HingeTwists.none()).radians
    rotations, followed, turned = _rotations(joints, twists, ear_lines)
    if turned:  # the twist as followed, told as an angle in [-pi, pi)
        twists = np.where(np.isnan(followed), followed, (followed + np.pi) % (2.0 * np.pi) - np.pi)
    lengths = skeleton.bone_lengths(joints) if bone_lengths_m is None else np.asarray(bone_lengths_m, np.float64)
    return BonePose(root_m=_root(joints), rotations=rotations, bone_lengths_m=lengths,
                    hinge_twists=HingeTwists(twists))  # fmt: skip


def take_rotations(joints: np.ndarray, bone_lengths_m: np.ndarray, ear_lines: np.ndarray | None,
                   chunk_frames: int) -> Iterator[BonePose]:  # fmt: skip
    """:func:`joints_to_rotations` of a whole take's joints ``(F, 17, 3)`` in time order, as
    :class:`BonePose` s of ``chunk_frames`` frames each, in order: the same numbers as one call on
    the whole take (each hinge's twist carried from chunk to chunk as it was followed, not turned
    back into [-pi, pi) as :class:`HingeTwists` tells it), made with the working arrays of one chunk
    (one call on an hour's take at 30 fps needed about 0.9 GB of them). ``bone_lengths_m``
    ``(16,)``; ``ear_lines`` ``(F, 3)`` as for :func:`joints_to_rotations`. Each chunk's
    ``hinge_twists`` is ``None``."""
    if chunk_frames < 1:
        raise ValueError(f"chunk_frames must be at least 1, got {chunk_frames}")
    joints, ear_lines = _checked(joints, ear_lines)
    turner = TakeTurner(bone_lengths_m)

    def chunks() -> Iterator[BonePose]:
        for start in range(0, len(joints), chunk_frames):
            part = slice(start, start + chunk_frames)
            yield turner(joints[part], ear_lines[part])

    return chunks()


class TakeTurner:
    """:func:`joints_to_rotations` of a take given a chunk at a time, in time order (a take read in
    passes, never held whole): each call turns the next frames ``(n, 17, 3)`` with their ear lines
    ``(n, 3)`` (``None``: not known) into a :class:`BonePose` with ``bone_lengths_m`` ``(16,)``,
    each hinge's twist carried from the call before as it was followed (not turned back into
    [-pi, pi) as :class:`HingeTwists` tells it): the numbers of one call on the whole take, however
    the frames are split (:func:`take_rotations`). Each result's ``hinge_twists`` is ``None``."""

    def __init__(self, bone_lengths_m: np.ndarray) -> None:
        self.bone_lengths_m = np.asarray(bone_lengths_m, np.float64)
        self._followed = HingeTwists.none().radians

    def __call__(self, joints: np.ndarray, ear_lines: np.ndarray | None) -> BonePose:
        joints, ear_lines = _checked(joints, ear_lines)
        rotations, self._followed, _ = _rotations(joints, self._followed, ear_lines)
        return BonePose(root_m=_root(joints), rotations=rotations, bone_lengths_m=self.bone_lengths_m)


def take_pose(joints: np.ndarray, bone_lengths_m: np.ndarray, ear_lines: np.ndarray | None,
              chunk_frames: int) -> BonePose:  # fmt: skip
    """:func:`take_rotations` gathered into one :class:`BonePose` of the whole take: the same
    numbers as :func:`joints_to_rotations` (less ``hinge_twists``), with one chunk's working
    arrays beside the result."""
    joints = np.asarray(joints, dtype=np.float64)
    root_m = np.empty((len(joints), 3))
    rotations = np.empty((len(joints), skeleton.NUM_JOINTS, 4))
    start = 0
    for chunk in take_rotations(joints, bone_lengths_m, ear_lines, chunk_frames):
        stop = start + chunk.num_frames
        root_m[start:stop], rotations[start:stop] = chunk.root_m, chunk.rotations
        start = stop
    return BonePose(root_m=root_m, rotations=rotations, bone_lengths_m=np.asarray(bone_lengths_m, np.float64))


def _checked(joints: np.ndarray, ear_lines: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Joints ``(F, 17, 3)`` and ear lines ``(F, 3)`` (NaN rows for ``None``) as float64, or
    ``ValueError`` naming the shape that is wrong."""
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (skeleton.NUM_JOINTS, 3):
        raise ValueError(f"expected joints of shape (F, 17, 3), got {joints.shape}")
    if ear_lines is None:
        return joints, np.full((len(joints), 3), np.nan)
    if np.shape(ear_lines) != (len(joints), 3):
        raise ValueError(f"expected ear lines of shape ({len(joints)}, 3), got {np.shape(ear_lines)}")
    return joints, np.asarray(ear_lines, np.float64)


def _rotations(joints: np.ndarray, followed_rad: np.ndarray, ear_lines: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                                            bool]:  # fmt: skip
    """The local rotations ``(F, 17, 4)`` of joints ``(F, 17, 3)`` (NaN where not all finite), the
    hinges' twists after them as followed (``followed_rad`` ``(4,)`` before them) and whether any
    frame was turned."""
    valid = np.isfinite(joints).all(axis=(1, 2))
    world = np.full((len(joints), skeleton.NUM_JOINTS, 3, 3), np.nan)
    if valid.any():
        world[valid], followed_rad = _world_frames(joints[valid], followed_rad, ear_lines[valid])
    return _to_quat(_local_matrices(world)), followed_rad, bool(valid.any())


def _root(joints: np.ndarray) -> np.ndarray:
    """The root ``(F, 3)`` of joints ``(F, 17, 3)``, NaN where a frame's joints are not all finite."""
    return np.where(np.isfinite(joints).all(axis=(1, 2))[:, None], joints[:, skeleton.ROOT], np.nan)


_PARENTS = np.array(skeleton.PARENTS)
_depth = [0] * skeleton.NUM_JOINTS
for _j in range(1, skeleton.NUM_JOINTS):
    _depth[_j] = _depth[skeleton.PARENTS[_j]] + 1
#: The joints level by level down the tree (parents always in an earlier level).
_LEVELS = [np.array([j for j, d in enumerate(_depth) if d == level]) for level in range(max(_depth) + 1)]
_RULES = [TWIST[name][0] for name in skeleton.JOINT_NAMES]
#: The hinges in :class:`HingeTwists` order.
HINGE_NAMES: tuple[str, ...] = tuple(_HINGES)
#: Each joint's place in :class:`HingeTwists` (-1: its bone is no hinge's).
_HINGE_SLOTS = np.array([HINGE_NAMES.index(rule) if rule in _HINGES else -1 for rule in _RULES])
_REST_REFERENCES = np.array([TWIST[name][1] for name in skeleton.JOINT_NAMES])


def _world_frames(joints: np.ndarray, twists_rad: np.ndarray, ear_lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World rotation matrix of every bone ``(F, 17, 3, 3)`` for finite joints ``(F, 17, 3)`` in
    time order, and the hinges' twists ``(4,)`` after them as followed, any number of turns
    (``twists_rad``: before them); ``ear_lines`` ``(F, 3)``, NaN where not known."""
    twists_rad = np.array(twists_rad, dtype=np.float64)
    p = {name: joints[:, i] for name, i in _J.items()}
    lines = {
        "hips": p["spine"] - p["pelvis"],
        "shoulders": p["thorax"] - p["spine"],
        "hip_line": p["l_hip"] - p["r_hip"],
        "shoulder_line": p["l_shoulder"] - p["r_shoulder"],
        "ears": ear_lines,
    }
    lines["torso"] = _unit(lines["hip_line"]) + _unit(lines["shoulder_line"])
    lines.update({k: _cross(_unit(p[b] - p[a]), _unit(p[c] - p[b])) for k, (a, b, c) in _HINGES.items()})
    zero = np.zeros((len(joints), 3))
    rule_vectors = np.stack([lines.get(rule, zero) for rule in _RULES], axis=1)  # (F, 17, 3)
    is_hinge = np.array([rule in _HINGES for rule in _RULES])
    is_one_way = np.array([rule in ONE_WAY_HINGES for rule in _RULES])
    is_parent = np.array([rule == "parent" for rule in _RULES])
    is_ears = np.array([rule == "ears" for rule in _RULES])
    world = np.empty((len(joints), skeleton.NUM_JOINTS, 3, 3))
    # root: x along the hip line (exact), y towards the spine within the hips plane
    hip_line = _or_where_degenerate(lines["hip_line"], np.broadcast_to(_X, zero.shape))
    world[:, 0] = _frame(hip_line, lines["hips"], _X, _Y, np.broadcast_to(_Y, zero.shape))
    for level in _LEVELS[1:]:
        parent = world[:, _PARENTS[level]]
        # a joint on its parent (a detector's fault; QA: Rotation raised and ended the run) has no
        # direction: its bone keeps its rest direction from the parent's (a zero length moves nothing)
        bone = _or_where_degenerate(joints[:, level] - joints[:, _PARENTS[level]],
                                    np.einsum("fnab,nb->fna", parent, REST_DIRECTIONS[level]))  # fmt: skip
        # the parent's frame swung onto this bone by the smallest rotation: no twist of its own
        parent_ref = _swung_reference(parent, REST_DIRECTIONS[level], _REST_REFERENCES[level], bone)
        reference = rule_vectors[:, level].copy()
        hinge = is_hinge[level]
        if hinge.any():
            slots = _HINGE_SLOTS[level][hinge]
            reference[:, hinge], twists_rad[slots] = _followed_twist(
                _unit(bone[:, hinge]), parent_ref[:, hinge], reference[:, hinge], twists_rad[slots],
                ~is_one_way[level][hinge],
            )  # fmt: skip
        # "parent" bones, and the head where its ears are not known, carry the parent's frame
        carried = is_parent[level] | (is_ears[level] & ~np.isfinite(reference).all(axis=-1))
        reference[carried] = parent_ref[carried]
        world[:, level] = _frame(bone, reference, REST_DIRECTIONS[level], _REST_REFERENCES[level], parent_ref)
    return world, twists_rad


def _followed_twist(
    bone: np.ndarray, parent_ref: np.ndarray, hinge_axis: np.ndarray, twist_rad: np.ndarray, two_way: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The twist references ``(F, n, 3)`` of ``n`` hinges over ``F`` frames in time order, and their
    twists ``(n,)`` after the last, as followed (any number of turns): each frame moves the twist
    (about the unit ``bone``, from ``parent_ref``, both ``(F, n, 3)``) towards the
    ``hinge_axis``'s ``(F, n, 3)`` by the share that the bend (the axis's length, a sine) warrants
    (module docstring); ``twist_rad`` ``(n,)`` before them, NaN: none yet (the parent's until a
    bend is seen). The ``two_way`` ``(n,)`` hinges take their axis with the sign nearest the twist
    before, kept on the parent's side by the margin of :data:`KNEE_SIDE_MARGIN_DEG`; the others as
    it is."""
    u = _unit(parent_ref - np.sum(parent_ref * bone, axis=-1, keepdims=True) * bone)
    v = _cross(bone, u)
    measured = np.arctan2(np.sum(hinge_axis * v, axis=-1), np.sum(hinge_axis * u, axis=-1))  # (F, n)
    share = np.clip((np.linalg.norm(hinge_axis, axis=-1) - _HOLD_SIN) / (_STRAIGHT_SIN - _HOLD_SIN), 0.0, 1.0)
    followed = np.empty_like(measured)
    twist = np.array(twist_rad, dtype=np.float64)
    for f in range(len(measured)):  # sequential: each frame starts from the last (cheap: n <= 2 angles)
        seen = share[f] > 0.0
        start = np.where(np.isnan(twist), 0.0, twist)
        # a two-way hinge's axis: the sign nearest the twist before (none yet: the parent's side),
        # the other where that lies past the margin on the parent's far side
        flipped = np.where(np.isnan(twist), np.cos(measured[f]), np.cos(measured[f] - twist)) < 0.0
        flipped ^= np.cos(measured[f] + np.pi * flipped) < _SIDE_MARGIN_COS
        axis_rad = measured[f] + np.pi * (flipped & two_way)
        step = (axis_rad - start + np.pi) % (2.0 * np.pi) - np.pi  # the shortest way round
        twist = np.where(seen, start + share[f] * step, twist)
        followed[f] = np.where(np.isnan(twist), 0.0, twist)
    reference = np.cos(followed)[..., None] * u + np.sin(followed)[..., None] * v
    return reference, twist


def _swung_reference(
    parent: np.ndarray, rest_direction: np.ndarray, rest_reference: np.ndarray, bone: np.ndarray
) -> np.ndarray:
    """``rest_reference`` ``(n, 3)`` carried by the parents' rotations ``(F, n, 3, 3)`` and then by
    the smallest rotation taking ``rest_direction`` (in the parent's frame) onto the bone
    ``(F, n, 3)``: the reference of a bone with no twist of its own ``(F, n, 3)``."""
    local = _unit(np.einsum("fnba,fnb->fna", parent, bone))  # the bone in the parent's frame
    axis = _cross(rest_direction, local)
    sin = np.linalg.norm(axis, axis=-1, keepdims=True)
    angle = np.arctan2(sin, np.sum(local * rest_direction, axis=-1, keepdims=True))
    # parallel: no swing; opposite: half a turn about the reference itself
    axis = np.where(sin > 1e-12, axis / np.maximum(sin, 1e-300), rest_reference)
    references = np.array(np.broadcast_to(rest_reference, local.shape)).reshape(-1, 3)
    swung = Rotation.from_rotvec((axis * angle).reshape(-1, 3)).apply(references).reshape(local.shape)
    return np.einsum("fnab,fnb->fna", parent, swung)


def _frame(
    direction: np.ndarray,
    reference: np.ndarray,
    rest_direction: np.ndarray,
    rest_reference: np.ndarray,
    fallback: np.ndarray,
) -> np.ndarray:
    """The rotation matrices ``(..., 3, 3)`` taking ``rest_direction`` exactly onto ``direction``
    ``(..., 3)`` and ``rest_reference`` into the half-plane of ``reference`` (``fallback`` where
    ``reference`` is parallel to ``direction``): posed frame · rest frameᵀ, both orthonormal."""
    e1 = _unit(direction)
    r = reference - np.sum(reference * e1, axis=-1, keepdims=True) * e1
    weak = np.linalg.norm(r, axis=-1) < 1e-9 * (1.0 + np.linalg.norm(reference, axis=-1))
    if weak.any():
        r[weak] = fallback[weak] - np.sum(fallback[weak] * e1[weak], axis=-1, keepdims=True) * e1[weak]
        # a degenerate pose (the fallback along the bone too): any perpendicular keeps it a rotation
        still = weak & (np.linalg.norm(r, axis=-1) < 1e-9)
        if still.any():
            other = np.eye(3)[np.argmin(np.abs(e1[still]), axis=-1)]
            r[still] = _cross(e1[still], other)
    e2 = _unit(r)
    posed = np.stack([e1, e2, _cross(e1, e2)], axis=-1)  # columns: the bone's frame, posed
    rest = np.stack([rest_direction, rest_reference, _cross(rest_direction, rest_reference)], axis=-1)
    return posed @ np.swapaxes(rest, -1, -2)


def _world_matrices(local: np.ndarray) -> np.ndarray:
    """Local rotation matrices ``(F, 17, 3, 3)`` → world (composed level by level)."""
    world = np.empty_like(local)
    world[:, 0] = local[:, 0]
    for level in _LEVELS[1:]:
        world[:, level] = world[:, _PARENTS[level]] @ local[:, level]
    return world


def _local_matrices(world: np.ndarray) -> np.ndarray:
    """World rotation matrices ``(F, 17, 3, 3)`` → local (relative to the parent bone)."""
    local = world.copy()
    local[:, 1:] = np.swapaxes(world[:, _PARENTS[1:]], -1, -2) @ world[:, 1:]
    return local


def _to_matrix(quats: np.ndarray) -> np.ndarray:
    """Quaternions ``(..., 4)`` → rotation matrices ``(..., 3, 3)``; NaN stays NaN."""
    quats = np.asarray(quats, dtype=np.float64)
    out = np.full((*quats.shape[:-1], 3, 3), np.nan)
    ok = np.isfinite(quats).all(axis=-1)
    if ok.any():
        out[ok] = Rotation.from_quat(quats[ok]).as_matrix()
    return out


def _to_quat(matrices: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` → quaternions ``(..., 4)``; NaN stays NaN."""
    out = np.full((*matrices.shape[:-2], 4), np.nan)
    ok = np.isfinite(matrices).all(axis=(-1, -2))
    if ok.any():
        out[ok] = Rotation.from_matrix(matrices[ok]).as_quat()
    return out


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a × b`` over the last axis (broadcast); np.cross's axis handling costs more than the sum."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.stack(
        [a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1], a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2],
         a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]], axis=-1,
    )  # fmt: skip


def _or_where_degenerate(vectors: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """``vectors`` ``(..., 3)`` with ``fallback``'s where a vector has no direction (shorter than a
    nanometre, or so long its length overflows)."""
    norm = np.linalg.norm(vectors, axis=-1)
    degenerate = ~((norm > 1e-9) & np.isfinite(norm))
    return np.where(degenerate[..., None], fallback, vectors) if degenerate.any() else vectors


def _unit(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(norm > 0, norm, 1.0)

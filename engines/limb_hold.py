"""Holding the limbs the 2D detector does not see: an avatar's arm or leg that leaves the image
keeps its last seen pose instead of following the lifter's guess, relaxes to a rest pose when it
stays out, and eases back when seen again.

MediaPipe places a joint outside the image (or hidden) anyway, and its confidence does not
always say so: with the dancer slid out of the view, her elbow 4 px outside kept 0.81 while her
avatar arm swung 166 deg in a frame (QA). So a joint counts as seen (:func:`joints_seen`) where
its 2D lies inside the image by :attr:`LimbHoldOptions.edge_margin_fraction` of its shorter side
and its confidence is at least :attr:`LimbHoldOptions.min_confidence` (the lifting's
``min_joint_confidence``), and a limb bone (:data:`LIMB_JOINTS`: upper arm, forearm, thigh,
shin; by the joint each ends at, as :mod:`posecast.engines.rotations` indexes them) where both its
joints are (:func:`limb_bones_seen`).

:func:`hold_limbs` then keeps an unseen limb bone's *local* rotation (relative to its parent bone:
a held forearm goes where the upper arm takes it) as it was last sent. An arm's bone unseen for
longer than :attr:`LimbHoldOptions.rest_after_s` turns from there to its rest
(:func:`rest_rotations`: hanging beside the body) over :attr:`LimbHoldOptions.rest_ease_s`: an arm
dropped below a desk's webcam view relaxes instead of staying frozen mid-gesture. A leg seen and
then lost stays held however long: its pose says whether the person stands, sits or kneels, and
legs straightened from a seat would put the feet through the floor. A bone seen again eases from
wherever it is (held, at rest or on the way) to the live rotation over
:attr:`LimbHoldOptions.ease_s`; one lost again and seen again before that ease would be over by the
clock or after fewer than :data:`MIN_EASE_FRAMES` frames out, the ease not finished (and before it
began to rest), carries on with that ease. Every ease is a slerp at a rate linear in the
stream's clock, at most a third of its turn a frame (:data:`MIN_EASE_FRAMES`): at 15 fps and more
the same motion at any frame rate, below that 3 frames (the 0.2 s ease back at 5 fps: 0.6 s; it was
one frame, a snap). A bone never seen since its person was first
tracked (a webcam that sees the head and shoulders, the arms below the image from the start) is at
rest from the first frame if it is an arm: there is no seen pose to hold, and MediaPipe's guess
there turned the avatar's upper arm up to 22 deg a frame, the forearm 54 (the dance clip cut to
head and shoulders; README "Drive an avatar"). A leg never seen follows that guess calmed
(:func:`followed`): a low-pass on the stream's clock with a time constant of
:attr:`LimbHoldOptions.guess_time_constant_s`, turning at most
:attr:`LimbHoldOptions.guess_max_speed_deg_s`, and where the pelvis is given above the floor
(``root_height_m``, ``bone_lengths_m``: the avatar's and the BVH's world) bent as a person sits or
squats so that its ankle stays a standing ankle's height above the floor (:func:`above_floor`).
The guess flails (the dance cut to head and shoulders: 21 thigh and shin turns over 90 deg in a
frame in 4 s) and stands the feet through the floor where the lifter puts the pelvis low (the
ankle 0.03 m median, 0.15 m at worst below it); its long-term pose is what MediaPipe knows of
the legs. Not rested straight from the pelvis, as the arms are: a seated person's legs are not
straight, and straight legs put the ankle 0.38 m median under the floor at a desk (QA). A person's
chain of frames that restarts (their id forgotten
after a second or more without them and them back, or frames nobody read) goes on from what was last shown of them
(:func:`restarted`): an arm unseen then is not "never seen" but holds until ``rest_after_s`` after
it was lost and eases to rest from where it was; the legs go on so only in the same person's chain,
someone new's start as never seen, from their own guess.
Pure numpy and scipy; the state is carried from
frame to frame as the hinges' twists are (:class:`~posecast.engines.rotations.HingeTwists`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from . import skeleton
from .rotations import REST_DIRECTIONS

#: The limb bones, by the joint each ends at: thighs, shins, upper arms, forearms.
LIMB_JOINTS: tuple[int, ...] = tuple(
    skeleton.JOINT_INDEX[n] for n in ("r_knee", "r_ankle", "l_knee", "l_ankle", "l_elbow", "l_wrist", "r_elbow",
                                      "r_wrist")
)  # fmt: skip
_LIMB_JOINTS = np.array(LIMB_JOINTS)
_LIMB_PARENTS = np.array([skeleton.PARENTS[j] for j in LIMB_JOINTS])
#: Each leg's hip, knee and ankle joints (right, left), and each limb bone's place in LIMB_JOINTS by its end joint.
_LEG_CHAINS = tuple(tuple(skeleton.JOINT_INDEX[f"{side}_{n}"] for n in ("hip", "knee", "ankle")) for side in "rl")
_LIMB_INDEX = {joint: k for k, joint in enumerate(LIMB_JOINTS)}
#: A resting upper arm's angle out from the chest's down axis, degrees: beside the body, clear of the hips.
REST_ARM_ABDUCTION_DEG = 10.0
#: The fewest frames an ease takes (back to the live rotation, or to rest): each frame it goes at
#: most this share of its turn, so it lasts its time or this many frames, whichever is longer. At 5
#: fps the 0.2 s ease back was one frame, a snap (the squats clip's forearm 85 deg, its upper arm
#: 74 deg in a frame); 3 frames split a turn into thirds and leave 30 fps and 15 fps unchanged.
MIN_EASE_FRAMES = 3


def _rest_on_chest() -> np.ndarray:
    """``(8, 4)`` each arm bone's rest rotation, in :data:`LIMB_JOINTS` order: the upper arms' on the
    chest (their parent's parent) taken as the clavicle's rest, turned from the T-pose's ±x down to
    the chest's -y and out by :data:`REST_ARM_ABDUCTION_DEG`, about the chest's z (the elbows' hinge
    keeps facing forward, the palms turn to the thighs); the forearms' on them: identity (straight).
    NaN for the legs, which do not rest (:data:`_RESTS_WHEN_LOST`)."""
    rest = np.tile([0.0, 0.0, 0.0, 1.0], (len(LIMB_JOINTS), 1))
    for k, joint in enumerate(LIMB_JOINTS):
        if skeleton.JOINT_NAMES[joint].endswith(("knee", "ankle")):
            rest[k] = np.nan
        elif skeleton.JOINT_NAMES[joint].endswith("elbow"):
            along = REST_DIRECTIONS[joint]
            axis = np.cross(along, [0.0, -1.0, 0.0])  # ±z: the T-pose arm swung down in the body's plane
            half_rad = math.radians(90.0 - REST_ARM_ABDUCTION_DEG) / 2.0
            # (x, y, z, w) written out, not scipy's Rotation: this runs at import, and scipy asks
            # there whether an argument is a torch tensor, which fails where torch is blocked
            rest[k] = [*(axis * math.sin(half_rad)), math.cos(half_rad)]
    return rest


_REST_ON_CHEST = _rest_on_chest()
#: the upper arms, whose rest is taken on the chest: their parent, a clavicle, is not held
_UPPER_ARMS = np.array([skeleton.JOINT_NAMES[j].endswith("elbow") for j in LIMB_JOINTS])
#: The bones that relax to rest when lost for long, or never seen: the arms'. A leg seen and then
#: lost stays held: it says how the person stands or sits, and legs straightened from a seat put
#: the feet through the floor (review: a pelvis 0.47 m up, the ankle 0.41 m below the floor at
#: rest); a leg never seen follows MediaPipe's guess, calmed and kept above the floor, where
#: straight legs were not (QA: below a desk's view, a rested ankle 0.38 m median under the assumed floor).
_RESTS_WHEN_LOST = np.array([skeleton.JOINT_NAMES[j].endswith(("elbow", "wrist")) for j in LIMB_JOINTS])


@dataclass(frozen=True)
class LimbHoldOptions:
    """``edge_margin_fraction``: a joint within this fraction of the image's shorter side from
    an edge (or outside) is not seen (0.02: 11.5 px on a 576 px image; MediaPipe's points near an
    edge already lean on its guess); ``min_confidence``: nor is one scored below this (the
    lifting's ``min_joint_confidence``); ``ease_s``: seconds over which a limb seen again turns
    from where it is to the live one (0.2 s: the time the head takes back to the
    shoulders' line, about 6 frames at 30 fps; a 90 deg catch-up goes 15 deg a frame instead of
    at once, and an arm back in view lags for no longer than a quick move takes; each ease lasts
    :data:`MIN_EASE_FRAMES` frames at the least, 0 s: at once);
    ``rest_after_s``: seconds an arm stays held unseen before it relaxes to rest (1.0 s: an arm out
    at an edge for a moment, a gesture or a reach, comes back where it left and is held through;
    one out longer has gone elsewhere, and a raised arm frozen for more than a second looks like a
    fault; ``math.inf``: held for ever); ``rest_ease_s``: seconds over which it turns from the
    held rotation to rest (0.5 s: a relaxed lowering, slower than the about 0.3 s a limp arm
    takes to drop from level; a half turn goes 12 deg a frame at 30 fps);
    ``guess_time_constant_s``: the low-pass a leg never seen follows MediaPipe's guess through
    (1.0 s: the legs below a desk's view follow their guessed pose of the last second or so, not
    its flailing; 0: no low-pass); ``guess_max_speed_deg_s``: the fastest such a leg turns, on its
    parent bone, in degrees a second of the stream's clock (45: a calm seated shift, 1.5 deg a
    frame at 30 fps; at 90 the dance cut to head and shoulders at 5 fps turned a leg 41 deg in a
    frame, at 45 21 deg; ``math.inf``: no cap). Bent to clear the floor it turns faster where the
    pelvis drops (the knees bend with it)."""

    edge_margin_fraction: float = 0.02
    min_confidence: float = 0.3
    ease_s: float = 0.2
    rest_after_s: float = 1.0
    rest_ease_s: float = 0.5
    guess_time_constant_s: float = 1.0
    guess_max_speed_deg_s: float = 45.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.edge_margin_fraction < 0.5:
            raise ValueError(f"edge_margin_fraction must be in [0, 0.5), got {self.edge_margin_fraction}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be between 0 and 1, got {self.min_confidence}")
        if not 0.0 <= self.ease_s <= 10.0:
            raise ValueError(f"ease_s must be in 0..10 seconds, got {self.ease_s}")
        if not 0.0 <= self.rest_after_s <= math.inf:  # (NaN: refused)
            raise ValueError(f"rest_after_s must be 0 seconds or more (math.inf: never rest), got {self.rest_after_s}")
        if not 0.0 <= self.rest_ease_s <= 10.0:
            raise ValueError(f"rest_ease_s must be in 0..10 seconds, got {self.rest_ease_s}")
        if not 0.0 <= self.guess_time_constant_s <= 60.0:
            raise ValueError(f"guess_time_constant_s must be in 0..60 seconds (0: no low-pass), got "
                             f"{self.guess_time_constant_s}")  # fmt: skip
        if not 0.0 < self.guess_max_speed_deg_s <= math.inf:
            raise ValueError(f"guess_max_speed_deg_s must be above 0 degrees a second (math.inf: no cap), got "
                             f"{self.guess_max_speed_deg_s}")  # fmt: skip


@dataclass(frozen=True)
class LimbHoldState:
    """The limb bones after a frame, in :data:`LIMB_JOINTS` order: ``sent`` ``(8, 4)`` the local
    rotation each was given (x, y, z, w); ``seen`` ``(8,)`` whether it was seen then;
    ``ever_seen`` ``(8,)``; ``ease_from`` ``(8, 4)`` the rotation an easing bone started from
    (NaN: not easing; kept while the bone is unseen, for an ease it is seen again in time to
    carry on) and ``ease_start_ns`` ``(8,)`` when; ``held`` ``(8, 4)`` the rotation an unseen bone
    was lost at and ``lost_ns`` ``(8,)`` the time of its first frame unseen; ``rested`` ``(8,)``
    how far (0..1) it had turned from ``held`` to rest; ``ease_done`` ``(8,)`` how far (0..1) an
    easing bone had turned from ``ease_from`` in its last frame seen; ``lost_frames`` ``(8,)`` the
    frames it has been unseen in a row (0: seen); ``timestamp_ns``: the frame's time; ``followed``
    ``(8, 4)`` a never-seen leg's guess calmed (:func:`followed`), before it was bent to clear the
    floor (NaN elsewhere: where a leg starts to be calmed, from its guess; ``None``: from ``sent``)."""

    sent: np.ndarray
    seen: np.ndarray
    ever_seen: np.ndarray
    ease_from: np.ndarray
    ease_start_ns: np.ndarray
    held: np.ndarray
    lost_ns: np.ndarray
    rested: np.ndarray
    ease_done: np.ndarray
    lost_frames: np.ndarray
    timestamp_ns: int
    followed: np.ndarray | None = None


def joints_seen(keypoints_px: np.ndarray, confidence: np.ndarray, image_size: tuple[int, int],
                options: LimbHoldOptions) -> np.ndarray:  # fmt: skip
    """``(..., 17)`` bool: each joint's 2D ``keypoints_px`` ``(..., 17, 2)`` lies inside the image
    ``(width, height)`` by the margin and its ``confidence`` ``(..., 17)`` reaches the minimum."""
    width, height = image_size
    margin = options.edge_margin_fraction * min(width, height)
    points = np.asarray(keypoints_px, dtype=np.float64)
    with np.errstate(invalid="ignore"):  # NaN: not seen
        inside = ((points[..., 0] >= margin) & (points[..., 0] <= width - 1 - margin)
                  & (points[..., 1] >= margin) & (points[..., 1] <= height - 1 - margin))  # fmt: skip
        return inside & (np.asarray(confidence, dtype=np.float64) >= options.min_confidence)


def limb_bones_seen(seen: np.ndarray) -> np.ndarray:
    """``(..., 8)`` bool in :data:`LIMB_JOINTS` order: both joints of each limb bone seen, for
    each joint's ``seen`` ``(..., 17)``."""
    seen = np.asarray(seen, bool)
    return seen[..., _LIMB_JOINTS] & seen[..., _LIMB_PARENTS]


def joints_moved(bones_held: np.ndarray) -> np.ndarray:
    """``(..., 17)`` the joints that held limb bones ``(..., 8)`` (:data:`LIMB_JOINTS` order: bones
    whose rotation is not the one their joints give) move: each such bone's end joint and every
    joint below it."""
    held = np.asarray(bones_held, bool)
    moved = np.zeros((*held.shape[:-1], skeleton.NUM_JOINTS), bool)
    moved[..., _LIMB_JOINTS] = held
    for joint, parent in enumerate(skeleton.PARENTS):  # (a parent comes before its children)
        if parent >= 0:
            moved[..., joint] |= moved[..., parent]
    return moved


def rest_rotations(rotations: np.ndarray) -> np.ndarray:
    """``(8, 4)`` the arm bones' local rotations at rest, in :data:`LIMB_JOINTS` order (NaN for the
    legs, which do not rest), for one frame's local rotations ``(17, 4)``: the upper arms hanging
    beside the chest, out by :data:`REST_ARM_ABDUCTION_DEG`, the forearms straight on them. An
    upper arm's rest is on the chest, not on its clavicle, which turns with the shoulders (up to 7
    deg on the dance clip): an arm kept on a shoulder dropped 10 deg would hang against the hips."""
    rest = _REST_ON_CHEST.copy()
    clavicles = np.asarray(rotations, np.float64)[_LIMB_PARENTS[_UPPER_ARMS]]
    if np.isfinite(clavicles).all():
        rest[_UPPER_ARMS] = (Rotation.from_quat(clavicles).inv()
                             * Rotation.from_quat(_REST_ON_CHEST[_UPPER_ARMS])).as_quat()  # fmt: skip
    else:  # (a frame without a pose: NaN, as its live rotations)
        rest[_UPPER_ARMS] = np.nan
    return rest


def eased(start: np.ndarray, end: np.ndarray, done: np.ndarray) -> np.ndarray:
    """``(n, 4)`` the rotations ``done`` ``(n,)`` (0..1) of the shortest turn from each of ``start``
    ``(n, 4)`` to ``end`` ``(n, 4)`` (slerp; exactly ``start`` at 0 and ``end`` at 1)."""
    done = np.asarray(done, np.float64)
    out = np.where((done >= 1.0)[:, None], end, start)
    between = (done > 0.0) & (done < 1.0)
    if between.any():
        first = Rotation.from_quat(start[between])
        turn = (first.inv() * Rotation.from_quat(end[between])).as_rotvec()
        out[between] = (first * Rotation.from_rotvec(turn * done[between, None])).as_quat()
    return out


def followed(sent: np.ndarray, guess: np.ndarray, elapsed_ns: int, time_constant_s: float,
             max_speed_deg_s: float) -> np.ndarray:  # fmt: skip
    """``(n, 4)`` rotations ``elapsed_ns`` after they were ``sent`` ``(n, 4)``, on their way to
    ``guess`` ``(n, 4)``: a first-order low-pass on the stream's clock (each turns ``1 -
    exp(-dt / time_constant_s)`` of the shortest way, the same motion at any frame rate; 0 s: all
    of it), at most ``max_speed_deg_s`` times the seconds elapsed (none back in time)."""
    elapsed_s = max(elapsed_ns, 0) / 1e9
    share = -math.expm1(-elapsed_s / time_constant_s) if time_constant_s > 0.0 else 1.0
    most_rad = math.radians(max_speed_deg_s) * elapsed_s if math.isfinite(max_speed_deg_s) else math.inf
    out = []
    for start, end in zip(np.asarray(sent, np.float64).tolist(), np.asarray(guess, np.float64).tolist(), strict=True):
        x, y, z, w = _times(_inverse(start), end)
        if w < 0.0:  # (the shortest way)
            x, y, z, w = -x, -y, -z, -w
        sine = math.sqrt(x * x + y * y + z * z)
        if sine < 1e-12:
            out.append(end)
            continue
        step_rad = min(2.0 * math.atan2(sine, w) * share, most_rad)
        out.append(_times(start, _about((x / sine, y / sine, z / sine), step_rad)))
    return np.array(out, np.float64).reshape(-1, 4)


def above_floor(rotations: np.ndarray, guessed: np.ndarray, root_height_m: float,
                bone_lengths_m: np.ndarray) -> np.ndarray:  # fmt: skip
    """One frame's local rotations ``(17, 4)`` (world axes, y up, the floor at y = 0, the pelvis
    ``root_height_m`` above it) with each leg ``guessed`` (thigh and shin, ``(8,)`` in
    :data:`LIMB_JOINTS` order) whose ankle lies under a standing ankle's height
    (:data:`~posecast.engines.skeleton.ANKLE_HEIGHT_FRACTION` of the height ``bone_lengths_m``
    ``(16,)`` give) bent as a person sits or squats: the ankle raised straight up to that height
    and the knee put where thigh and shin reach it (two-bone inverse kinematics), in the plane the
    leg bends in, leaning forward by as many metres as the ankle was raised (a straight leg has
    no plane of its own: its knee goes forward). The ankle just reaches that height, and a leg
    raised by a millimetre moves a millimetre: no jump where the floor starts or stops to lift
    it (a thigh swung forward until the ankle cleared the floor swung 73 deg in a frame where the
    guess had it behind the body). A leg above that height is left as it is. (One quaternion at a
    time in Python floats: numpy's calls on arrays of 4 cost more than the arithmetic.)"""
    out = np.array(rotations, np.float64)
    lengths = np.asarray(bone_lengths_m, np.float64)
    if not (np.isfinite(out).all() and np.isfinite(lengths).all() and math.isfinite(root_height_m)):
        return out
    ankle_m = skeleton.standing_ankle_height_m(lengths)
    pelvis = tuple(out[skeleton.ROOT].tolist())
    ahead = _turned(pelvis, (0.0, 0.0, 1.0))
    level = math.hypot(ahead[0], ahead[2])
    forward = (ahead[0] / level, 0.0, ahead[2] / level) if level > 1e-6 else (0.0, 0.0, 1.0)  # laid on the floor
    for hip, knee, ankle in _LEG_CHAINS:
        if not (guessed[_LIMB_INDEX[knee]] and guessed[_LIMB_INDEX[ankle]]):
            continue
        to_hip = _times(pelvis, tuple(out[hip].tolist()))
        thigh = _times(to_hip, tuple(out[knee].tolist()))
        shin = _times(thigh, tuple(out[ankle].tolist()))
        thigh_m, shin_m = float(lengths[knee - 1]), float(lengths[ankle - 1])
        hip_y = root_height_m + _turned(to_hip, _REST[hip])[1] * lengths[hip - 1]
        thigh_v = _scaled(_turned(thigh, _REST[knee]), thigh_m)
        shin_v = _scaled(_turned(shin, _REST[ankle]), shin_m)
        raised = ankle_m - (hip_y + thigh_v[1] + shin_v[1])
        if raised <= 0.0:
            continue
        # the ankle's new place from the hip, within the legs' reach
        target = (thigh_v[0] + shin_v[0], thigh_v[1] + shin_v[1] + raised, thigh_v[2] + shin_v[2])
        reach = _norm(target)
        if reach < 1e-9:
            continue
        along = _scaled(target, 1.0 / reach)
        reach = min(max(reach, abs(thigh_m - shin_m) + 1e-9), thigh_m + shin_m)
        target = _scaled(along, reach)
        # the knee: in the leg's plane of bend, leaning forward by the metres raised
        pole = _plus(_across(thigh_v, along), _scaled(_across(forward, along), raised))
        if _norm(pole) < 1e-12:
            continue
        out_of_line = _scaled(pole, 1.0 / _norm(pole))
        to_knee = (thigh_m * thigh_m - shin_m * shin_m + reach * reach) / (2.0 * reach)
        knee_v = _plus(_scaled(along, to_knee), _scaled(out_of_line, math.sqrt(max(thigh_m**2 - to_knee**2, 0.0))))
        shin_to = _plus(target, _scaled(knee_v, -1.0))
        thigh = _times(_from_to(thigh_v, knee_v), thigh)
        shin = _times(_from_to(shin_v, shin_to), shin)
        out[knee] = _times(_inverse(to_hip), thigh)
        out[ankle] = _times(_inverse(thigh), shin)
    return out


Quat = tuple[float, float, float, float]
Vec = tuple[float, float, float]
_REST = [tuple(direction.tolist()) for direction in REST_DIRECTIONS]


def _times(a: Quat, b: Quat) -> Quat:
    """The quaternion product ``a · b`` (x, y, z, w)."""
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return (aw * bx + ax * bw + ay * bz - az * by, aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw, aw * bw - ax * bx - ay * by - az * bz)  # fmt: skip


def _inverse(q: Quat) -> Quat:
    return (-q[0], -q[1], -q[2], q[3])


def _turned(q: Quat, v: Vec) -> Vec:
    """Vector ``v`` turned by the unit quaternion ``q``."""
    x, y, z, w = q
    tx, ty, tz = 2.0 * (y * v[2] - z * v[1]), 2.0 * (z * v[0] - x * v[2]), 2.0 * (x * v[1] - y * v[0])
    return (v[0] + w * tx + y * tz - z * ty, v[1] + w * ty + z * tx - x * tz, v[2] + w * tz + x * ty - y * tx)


def _about(axis: Vec, angle_rad: float) -> Quat:
    """The turn by ``angle_rad`` about the unit ``axis``."""
    sine = math.sin(angle_rad / 2.0)
    return (axis[0] * sine, axis[1] * sine, axis[2] * sine, math.cos(angle_rad / 2.0))


def _from_to(a: Vec, b: Vec) -> Quat:
    """The least turn taking the direction of ``a`` to that of ``b`` (neither zero)."""
    a, b = _scaled(a, 1.0 / _norm(a)), _scaled(b, 1.0 / _norm(b))
    x, y, z = a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]
    w = 1.0 + a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
    if w < 1e-12:  # (opposite: half a turn about any axis across them)
        x, y, z = (0.0, -a[2], a[1]) if abs(a[0]) < 0.9 else (a[2], 0.0, -a[0])
    size = math.sqrt(x * x + y * y + z * z + w * w)
    return (x / size, y / size, z / size, w / size)


def _scaled(v: Vec, k: float) -> Vec:
    return (v[0] * k, v[1] * k, v[2] * k)


def _plus(a: Vec, b: Vec) -> Vec:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2])


def _norm(v: Vec) -> float:
    return math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])


def _across(v: Vec, unit: Vec) -> Vec:
    """``v`` less its part along the unit vector ``unit``."""
    along = v[0] * unit[0] + v[1] * unit[1] + v[2] * unit[2]
    return (v[0] - along * unit[0], v[1] - along * unit[1], v[2] - along * unit[2])


def _fraction(elapsed_ns: np.ndarray, duration_s: float) -> np.ndarray:
    """``elapsed_ns`` as a fraction (0..1) of ``duration_s`` (0 s: done at once)."""
    if duration_s <= 0.0:
        return (np.asarray(elapsed_ns) >= 0).astype(np.float64)
    return np.clip(np.asarray(elapsed_ns, np.float64) / (duration_s * 1e9), 0.0, 1.0)


def _ease_step(elapsed_ns: np.ndarray, duration_s: float, done_before: np.ndarray) -> np.ndarray:
    """How far (0..1) an ease of ``duration_s`` is ``elapsed_ns`` after its start, at most
    1 / :data:`MIN_EASE_FRAMES` further than ``done_before``, where it was the frame before (0 s:
    done at once, no ease). The clock sets the pace at 15 fps and more; below, the frames do."""
    done = _fraction(elapsed_ns, duration_s)
    return done if duration_s <= 0.0 else np.minimum(done, np.asarray(done_before) + 1.0 / MIN_EASE_FRAMES)


def hold_limbs(rotations: np.ndarray, bones_seen: np.ndarray, timestamp_ns: int, state: LimbHoldState | None,
               options: LimbHoldOptions, root_height_m: float | None = None,
               bone_lengths_m: np.ndarray | None = None) -> tuple[np.ndarray, LimbHoldState]:  # fmt: skip
    """One frame's local rotations ``(17, 4)`` with the unseen limb bones held or resting, the legs
    never seen calmed, and those seen again eased (module docstring), and the state for the next
    frame. ``bones_seen`` ``(8,)`` (:func:`limb_bones_seen`); ``state``: the last frame's
    (``None``: the person's first); ``root_height_m`` (the pelvis above the floor, the rotations
    in the world's axes, y up) and ``bone_lengths_m`` ``(16,)``: keep the legs never seen above
    the floor (:func:`above_floor`; ``None``: not kept)."""
    out = np.array(rotations, dtype=np.float64)
    live = out[_LIMB_JOINTS]
    seen = np.asarray(bones_seen, bool)
    count = len(LIMB_JOINTS)
    if state is None:
        state = LimbHoldState(live.copy(), np.ones(count, bool), np.zeros(count, bool), np.full((count, 4), np.nan),
                              np.zeros(count, np.int64), np.full((count, 4), np.nan), np.zeros(count, np.int64),
                              np.zeros(count), np.zeros(count), np.zeros(count, np.int64), timestamp_ns)  # fmt: skip
    ever_seen = state.ever_seen | seen
    # unseen: held where it was lost, then turned to rest; at rest at once where never seen
    lost = ~seen & state.seen
    held = np.where(lost[:, None], state.sent, state.held)
    lost_ns = np.where(lost, timestamp_ns, state.lost_ns)
    held_for_ns = timestamp_ns - lost_ns
    rested = np.where(seen, 0.0, _ease_step(held_for_ns - options.rest_after_s * 1e9, options.rest_ease_s,
                                            state.rested) if math.isfinite(options.rest_after_s) else 0.0)  # fmt: skip
    rested[~_RESTS_WHEN_LOST] = 0.0  # a leg seen before is held
    never = ~seen & (~ever_seen | ~np.isfinite(held).all(axis=1))  # nothing seen to hold
    rested[never & _RESTS_WHEN_LOST] = 1.0  # an arm at rest; a leg follows the guess, calmed (below)
    sent = np.where((~seen & ~never & (rested == 0.0))[:, None], held, live)
    # a leg never seen: the guess, calmed, and bent where it would go through the floor (module docstring)
    guessed = never & ~_RESTS_WHEN_LOST
    follow = None  # (no leg never seen: nothing calmed)
    if guessed.any() and (guessed := guessed & np.isfinite(live).all(axis=1)).any():  # (first frame: the guess)
        follow = np.full((count, 4), np.nan)
        elapsed_ns = timestamp_ns - state.timestamp_ns
        follow[guessed] = live[guessed]
        before = state.sent if state.followed is None else state.followed
        going = guessed & np.isfinite(before).all(axis=1)  # the guess calmed
        follow[going] = followed(before[going], live[going], elapsed_ns, options.guess_time_constant_s,
                                 options.guess_max_speed_deg_s)  # fmt: skip
        sent[guessed] = follow[guessed]
        # what is sent turns to that at the same speed at most (where the floor bent it, it comes
        # back no faster), and is bent to clear the floor at once
        going &= np.isfinite(state.sent).all(axis=1)
        sent[going] = followed(state.sent[going], follow[going], elapsed_ns, 0.0, options.guess_max_speed_deg_s)
        if root_height_m is not None and bone_lengths_m is not None:
            out[_LIMB_JOINTS] = sent
            sent = above_floor(out, guessed, root_height_m, bone_lengths_m)[_LIMB_JOINTS]
    resting = ~seen & (rested > 0.0)
    if resting.any():  # (the rest follows the chest and pelvis: made each frame, only while needed)
        start = np.where(np.isfinite(held), held, 0.0)[resting]
        sent[resting] = eased(start, rest_rotations(out)[resting], rested[resting])
    # a bone seen again starts easing from what was sent, unless the ease it was lost in is not
    # finished (ease_from kept), it had not begun to rest, and the ease would still be under way
    # by the clock or it was out for fewer than MIN_EASE_FRAMES frames (below 15 fps an ease
    # outlasts ease_s: the clock alone restarted it each time, from the part-eased pose, and at 5
    # fps an arm lost every 3rd frame never reached the live one, review): that one carries on
    # from where it was (its start and start rotation kept), or a bone flickering in and out of
    # view every frame or two restarted at the held rotation each time and never got back
    # (review); one unseen holds, its ease kept for that
    again = seen & ~state.seen & np.isfinite(state.sent).all(axis=1)
    resumed = (again & np.isfinite(state.ease_from).all(axis=1) & (state.rested == 0.0)
               & ((timestamp_ns - state.ease_start_ns < options.ease_s * 1e9)
                  | (state.lost_frames < MIN_EASE_FRAMES)))  # fmt: skip
    again &= ~resumed
    ease_from = np.where(again[:, None], state.sent, state.ease_from)
    ease_start_ns = np.where(again, timestamp_ns, state.ease_start_ns)
    ease_done = np.where(again, 0.0, state.ease_done)
    easing = seen & np.isfinite(ease_from).all(axis=1) & np.isfinite(live).all(axis=1)
    if easing.any():
        done = _ease_step(timestamp_ns - ease_start_ns[easing], options.ease_s, ease_done[easing])
        ease_done[easing] = done
        sent[easing] = eased(ease_from[easing], live[easing], done)
        finished = np.zeros(count, bool)
        finished[easing] = done >= 1.0
        ease_from[finished] = np.nan
    out[_LIMB_JOINTS] = sent
    lost_frames = np.where(seen, 0, state.lost_frames + 1)
    return out, LimbHoldState(sent, seen, ever_seen, ease_from, ease_start_ns, held, lost_ns, rested, ease_done,
                              lost_frames, timestamp_ns, follow)  # fmt: skip


def restarted(shown: LimbHoldState, timestamp_ns: int, options: LimbHoldOptions,
              keep_legs: bool = False) -> LimbHoldState:  # fmt: skip
    """The state a restarted chain of a person's frames starts from (:func:`hold_limbs`' ``state``
    at ``timestamp_ns``), ``shown`` the state of the last frame shown of them: every bone unseen
    since, at the rotation it was sent. A restart comes after frames in which nothing of the
    person was made (the tracker forgot them, over a second; frames nobody read, 64 of them: 0.53
    s at 120 fps). An arm not seen then was lost at the shown frame's time, or, unseen there, when
    it was lost before: it holds what was shown until ``rest_after_s`` after that and turns from
    there to rest over ``rest_ease_s``, starting at once where that time has passed (it was put at
    rest in one frame, its first as if never seen: 147 deg on the dance clip; and rested as if lost
    ``rest_after_s`` ago, early after a short restart); with ``rest_after_s`` inf it holds. A bone
    seen eases back from what was shown; an arm never seen stays so (at rest). The legs start as
    never seen (they follow the guess, calmed, from this frame's guess on, until seen) unless
    ``keep_legs`` (the chain is the same person's, restarted after frames nobody read: the legs
    held, or calmed on from their calmed guess): a leg held from another person's chain says
    nothing of this body (review: a newcomer standing with the legs below the image kept the seat
    of the person forgotten before them, 90 deg off, for as long as the legs stayed out)."""
    count = len(LIMB_JOINTS)
    sent = np.array(shown.sent, np.float64)
    lost_at_ns = np.where(shown.seen, shown.timestamp_ns, shown.lost_ns).astype(np.int64)
    # the rest starts rest_after_s after the loss, or now where that has passed: from what was shown
    # (0 of the way this frame); one of more than 1e9 s (31 years, in int64 nanoseconds) or inf holds
    if options.rest_after_s <= 1e9:
        lost_at_ns = np.maximum(lost_at_ns, timestamp_ns - round(options.rest_after_s * 1e9))
    ever_seen = np.array(shown.ever_seen, bool) & (keep_legs | _RESTS_WHEN_LOST)
    # someone new's legs start from their own guess, as in their first frame (NaN: none calmed yet)
    followed = shown.followed if keep_legs else np.full((count, 4), np.nan)
    return LimbHoldState(sent, np.zeros(count, bool), ever_seen, np.full((count, 4), np.nan),
                         np.zeros(count, np.int64), sent.copy(), lost_at_ns, np.zeros(count), np.zeros(count),
                         np.zeros(count, np.int64), timestamp_ns, followed)  # fmt: skip


def hold_track(rotations: np.ndarray, bones_seen: np.ndarray, timestamps_ns: np.ndarray, options: LimbHoldOptions,
               root_heights_m: np.ndarray | None = None,
               bone_lengths_m: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """:func:`hold_limbs` over one person's frames in order (a recorded take's, for its BVH): the
    local rotations ``(F, 17, 4)`` with the unseen limb bones held, resting and eased back as
    ``options`` say, for each frame's ``bones_seen`` ``(F, 8)`` at ``timestamps_ns`` ``(F,)``;
    the pelvis ``root_heights_m`` ``(F,)`` above the floor and the bone lengths ``(16,)`` keep the
    legs never seen above it (``None``: not kept)."""
    out = np.array(rotations, dtype=np.float64)
    hold_track_in_place(out, bones_seen, timestamps_ns, options, root_heights_m, bone_lengths_m)
    return out


def hold_track_in_place(rotations: np.ndarray, bones_seen: np.ndarray, timestamps_ns: np.ndarray,
                        options: LimbHoldOptions, root_heights_m: np.ndarray | None = None,
                        bone_lengths_m: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """:func:`hold_track` on ``rotations`` ``(F, 17, 4)`` float64 itself (a take's, 544 bytes a
    frame, not copied); returns ``(F, 8)`` the limb bones it turned from the rotation given
    (held, resting, easing back, or a leg never seen calmed), in :data:`LIMB_JOINTS` order."""
    return hold_frames_in_place(rotations, bones_seen, timestamps_ns, options, None, root_heights_m,
                                bone_lengths_m)[0]  # fmt: skip


def hold_frames_in_place(rotations: np.ndarray, bones_seen: np.ndarray, timestamps_ns: np.ndarray,
                         options: LimbHoldOptions, state: LimbHoldState | None,
                         root_heights_m: np.ndarray | None = None, bone_lengths_m: np.ndarray | None = None,
                         ) -> tuple[np.ndarray, LimbHoldState | None]:  # fmt: skip
    """:func:`hold_track_in_place` of the next frames of a track given a chunk at a time (a take
    read in passes): ``state`` the last frame's before them (``None``: the track's first), and
    the state after them returned with the bones turned: the same numbers as one call on the
    whole track, however it is split (``root_heights_m`` these frames' own)."""
    turned = np.zeros((len(rotations), len(LIMB_JOINTS)), bool)
    for i in range(len(rotations)):
        given = rotations[i, _LIMB_JOINTS]  # (a copy)
        root_m = None if root_heights_m is None else float(root_heights_m[i])
        rotations[i], state = hold_limbs(rotations[i], bones_seen[i], int(timestamps_ns[i]), state, options, root_m,
                                         bone_lengths_m)  # fmt: skip
        turned[i] = (rotations[i, _LIMB_JOINTS] != given).any(axis=-1)
    return turned, state

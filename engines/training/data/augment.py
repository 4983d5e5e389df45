"""Body augmentation for generalisation: proportions, joint-centre shifts, speed.

Mocap skeletons disagree on where a joint is, and none of them agrees with MediaPipe (measured,
``tools/measure_2d_noise.py`` → ``eval/mediapipe_2d.json``; lengths relative to the leg, thigh +
shin): the hip half-width is 0.08 of the leg on Bandai-Namco, 0.11–0.12 on CMU and 0.16–0.17 in
MediaPipe's landmarks; the shoulder half-width 0.13 (Bandai-Namco), 0.14 (CMU's Daz figure),
0.22 (other CMU skeletons), 0.23–0.25 (MediaPipe); pelvis to shoulder line 0.49 (Bandai-Namco,
CMU's MotionBuilder BVH), 0.57 (CMU's ASF/AMC and Daz) and 0.63–0.70 (MediaPipe). A lifter that
saw one skeleton lifts another one's 2D badly, so every training window gets its own body:

- :func:`proportion_factors`: each bone's length drawn within the adult range spanned by those
  sources (:data:`PROPORTION_RANGES`, relative to the leg), the same for left and right, plus a
  small per-side jitter; the whole body scaled to a height within the adult range;
- :func:`shift_joint_centres`: hips, shoulders and head moved a little forwards or backwards in
  the body's own frame (where a marker set puts a joint centre);
- :func:`extend_knees`: each knee's flexion scaled down by a per-window factor (the shin turned
  towards the thigh's line in the leg's own plane). The mocap legs are rarely straight: where
  a leg stands vertical, the knee is bent a median 20° even in Bandai-Namco's ``normal`` style
  (1 % of such frames under 10°; 20–40° in most other styles; in CMU's Daz skeleton even the
  straightest 2 % of a take's frames are bent at least 12.8°), so a lifter trained on them bends
  every straight-looking leg by about that much towards the camera (measured, issue 10: 23° on
  the squats clip, where MediaPipe says 13°). A knee's bend in depth is nearly invisible in 2D
  (25° shortens the leg by 2 %, less than the proportions vary), so only the training prior
  decides it;
- :func:`lean_torso_back`: the upper body turned backwards about the hips' axis by a per-window
  angle. The mocap torso leans forwards over standing legs by a median 10° (pelvis → thorax
  against ankle → hip, Bandai-Namco and CMU alike; 14–22 % of such frames under 5°), where
  upright standing puts hip and shoulder joint centres on one vertical line (MediaPipe: 3° on
  the squats clip); a lifter trained on it leans every upright person forwards (8.6° there);
- :func:`crouch`: the legs bent into a squat or crouch of a per-window depth, still or going
  down and up over the window, the feet kept where they were, the pelvis lowered and moved
  back, the knees pointing forwards and a little outwards, the upper body leaning forwards. No
  source has a squat (Bandai-Namco: walks, runs, waves, bows, dances; the CMU subset: walks,
  runs, jumps, kicks), and a lifter that never saw one turned a person squatting at a constant
  angle to the camera 20° further out of the image plane at the bottom of every squat
  (measured, issue 10: the squats clip, the hip line's yaw 23° standing and 43° squatting, its
  2D width unchanged; with the legs' 2D kept as when standing, 26°);
- :func:`reach_forwards`: both arms held out in front, hands towards each other, the shoulders
  drawn forwards and in (as people hold their arms in a squat, measured on the squats clip: the
  2D shoulder width 15 % narrower at the bottom, where the lifter read a turn: the shoulder
  line's yaw 46° there, 38° with the arms' 2D kept as when standing);
- :func:`mix_limbs`: arms and legs taken from another window, relative to their girdle (new
  combinations of arm and leg poses from the same motion);
- :func:`warp_times`: the window's frames taken at 0.5–2× the clip's speed;
- :func:`slow_camera_windows`: the window as the live window makes it from a slower camera
  (5–30 fps), with the live window's own rule: each slot a linear blend of the two camera frames
  around it, the newest exact. A 5 fps clip
  gives the lifter piecewise-linear motion that 30 fps mocap never shows (measured on the
  squats clip, 5 fps: windows of the real frames lean the torso 2–10° more than repeating the
  current frame in the frames around a squat's turn).

All are constant over a window (one person, one definition). Pure numpy; ``(B, T, 17, 3)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from ... import metrics, skeleton
from ...joint_limits import knee_offsets
from ...window_slots import WindowSlots

_J = skeleton.JOINT_INDEX
_B = {name: i for i, name in enumerate(skeleton.BONE_NAMES)}

#: Bone length ranges relative to the leg (thigh + shin), drawn uniformly per window. Each
#: entry names the bones it sets (both sides; the two bones of the spine and of the neck share
#: the length so the derived joints stay midpoints).
PROPORTION_RANGES: dict[str, tuple[tuple[str, ...], float, float]] = {
    "hip_half_width": (("pelvis-r_hip", "pelvis-l_hip"), 0.07, 0.18),
    "shoulder_half_width": (("thorax-r_shoulder", "thorax-l_shoulder"), 0.11, 0.26),
    "torso_half": (("pelvis-spine", "spine-thorax"), 0.45 / 2, 0.72 / 2),
    "neck_half": (("thorax-neck", "neck-head"), 0.18 / 2, 0.30 / 2),
    "upper_arm": (("r_shoulder-r_elbow", "l_shoulder-l_elbow"), 0.28, 0.38),
    "forearm": (("r_elbow-r_wrist", "l_elbow-l_wrist"), 0.21, 0.34),
}
#: The thigh's share of the leg.
THIGH_SHARE = (0.45, 0.53)
_THIGHS = ("r_hip-r_knee", "l_hip-l_knee")
_SHINS = ("r_knee-r_ankle", "l_knee-l_ankle")
_LIMBS = _THIGHS + _SHINS + ("r_shoulder-r_elbow", "l_shoulder-l_elbow", "r_elbow-r_wrist", "l_elbow-l_wrist")


#: The allowed values of :class:`BodyOptions`' numbers and (low, high) ranges, inclusive.
_LIMITS = (
    ("side_jitter", 0.0, 0.2), ("shift_frac", 0.0, 0.2), ("speed_range", 0.1, 10.0), ("speed_prob", 0.0, 1.0),
    ("knee_extension_prob", 0.0, 1.0), ("knee_extension_range", 0.0, 1.0), ("low_rate_prob", 0.0, 1.0),
    ("low_rate_fps", 1.0, 1000.0), ("torso_back_prob", 0.0, 1.0), ("torso_back_max_deg", 0.0, 45.0),
    ("crouch_prob", 0.0, 1.0), ("crouch_depth", 0.0, 1.0), ("reach_prob", 0.0, 1.0), ("limb_mix_prob", 0.0, 1.0),
)  # fmt: skip


@dataclass
class BodyOptions:
    """How much each window's body varies (see the module docstring)."""

    proportions: bool = True
    side_jitter: float = 0.02  # std of the log length of each limb bone, per side
    height_range: tuple[float, float] = (0.85, 1.15)  # whole-body scale (adult 1.5–2.0 m around 1.75)
    shift_frac: float = 0.04  # std of the forwards/backwards joint-centre shift, fraction of the leg
    speed_range: tuple[float, float] = (0.5, 2.0)  # time warp, drawn log-uniformly ...
    speed_prob: float = 0.5  # ... for this share of windows (the rest play at 1×)
    #: share of windows whose knee flexion is scaled by a factor drawn uniformly in
    #: ``knee_extension_range`` (0 keeps the mocap knees; see :func:`extend_knees`)
    knee_extension_prob: float = 0.0
    knee_extension_range: tuple[float, float] = (0.0, 1.0)
    #: share of windows made as the live window makes them from a camera at a rate drawn
    #: log-uniformly in ``low_rate_fps`` (see :func:`slow_camera_windows`); 0: every slot a mocap frame
    low_rate_prob: float = 0.0
    low_rate_fps: tuple[float, float] = (5.0, 30.0)
    #: share of windows whose upper body turns backwards by an angle drawn uniformly in
    #: [0, ``torso_back_max_deg``] (0 keeps the mocap torso; see :func:`lean_torso_back`)
    torso_back_prob: float = 0.0
    torso_back_max_deg: float = 10.0
    #: share of windows crouched (:func:`crouch`) to a depth drawn uniformly in ``crouch_depth``
    #: (1: a deep squat, thighs just past horizontal; 0 keeps the mocap legs)
    crouch_prob: float = 0.0
    crouch_depth: tuple[float, float] = (0.2, 1.0)
    #: crouch only windows standing on both feet (see :func:`crouch`)
    crouch_planted_only: bool = False
    #: moving crouches rise to standing (depth 0); False: only to ``crouch_depth``'s lower end, so
    #: no crouched frame is shallower than it (a shallow crouch barely shows in the 2D)
    crouch_stand_up: bool = True
    #: share of windows whose arms are held out in front (:func:`reach_forwards`)
    reach_prob: float = 0.0
    #: share of windows whose arms and legs are another window's (:func:`mix_limbs`)
    limb_mix_prob: float = 0.0
    #: which limbs :func:`mix_limbs` exchanges: ``arms``, ``legs`` or both
    limb_mix_limbs: tuple[str, ...] = ("arms", "legs")
    #: ``(K, 16)`` bone lengths relative to the leg: each window takes one of these bodies instead
    #: of drawing one from :data:`PROPORTION_RANGES` (e.g. the bodies of one group of people)
    bodies: np.ndarray | None = None

    def __post_init__(self) -> None:
        # ranges as tuples whatever the config file gave (YAML and JSON have lists): equal configs compare equal
        for name in ("height_range", "speed_range", "knee_extension_range", "low_rate_fps", "crouch_depth",
                     "limb_mix_limbs"):
            setattr(self, name, tuple(getattr(self, name)))
        if not self.limb_mix_limbs or not set(self.limb_mix_limbs) <= {"arms", "legs"}:
            raise ValueError(f"limb_mix_limbs must name arms and/or legs, got {list(self.limb_mix_limbs)}")
        if self.bodies is not None:
            bodies = np.asarray(self.bodies, dtype=np.float64)
            shape_ok = bodies.ndim == 2 and bodies.shape[1] == len(skeleton.BONES)
            if not (shape_ok and np.isfinite(bodies).all() and (bodies > 0).all()):
                raise ValueError(f"bodies must be (K, 16) finite positive lengths, got shape {bodies.shape}")
            self.bodies = bodies
        if not 0.0 < self.height_range[0] <= self.height_range[1] <= 2.0:
            raise ValueError(f"height_range must be 0 < low <= high <= 2, got {self.height_range}")
        for name, lowest, highest in _LIMITS:
            value = getattr(self, name)
            if isinstance(value, tuple) and not lowest <= value[0] <= value[1] <= highest:
                raise ValueError(f"{name} must be {lowest:g} <= low <= high <= {highest:g}, got {value}")
            if not isinstance(value, tuple) and not lowest <= value <= highest:
                raise ValueError(f"{name} must be in [{lowest:g}, {highest:g}], got {value}")


def _window_lengths(joints: np.ndarray) -> np.ndarray:
    """Each window's bone lengths ``(B, 16)``: the median over a few of its frames (rigid mocap
    bones agree over a window; five frames are as good as all and cheaper)."""
    step = max(1, joints.shape[1] // 5)
    return np.median(skeleton.bone_lengths(joints[:, ::step]), axis=1)


def leg_length(lengths: np.ndarray) -> np.ndarray:
    """Mean of the two legs' thigh + shin ``(...)`` from bone lengths ``(..., 16)``."""
    return 0.5 * sum(lengths[..., _B[n]] for n in _THIGHS + _SHINS)


def proportion_factors(joints: np.ndarray, rng: np.random.Generator, options: BodyOptions) -> np.ndarray:
    """Per-window bone length factors ``(B, 16)`` that give windows ``(B, T, 17, 3)`` a new body."""
    lengths = _window_lengths(joints)  # (B, 16)
    b = len(joints)
    leg = leg_length(lengths)
    target = lengths.copy()
    if options.bodies is not None:
        target = options.bodies[rng.integers(0, len(options.bodies), b)] * leg[:, None]
    elif options.proportions:
        for bones, low, high in PROPORTION_RANGES.values():
            value = rng.uniform(low, high, b) * leg
            for name in bones:
                target[:, _B[name]] = value
        share = rng.uniform(*THIGH_SHARE, b)
        for thigh, shin in zip(_THIGHS, _SHINS, strict=True):
            target[:, _B[thigh]] = share * leg
            target[:, _B[shin]] = (1.0 - share) * leg
    factors = target / np.maximum(lengths, 1e-6)
    if options.side_jitter > 0:
        for name in _LIMBS:
            factors[:, _B[name]] *= np.exp(rng.normal(0.0, options.side_jitter, b))
    return factors * rng.uniform(*options.height_range, b)[:, None]


def rescale_bones(joints: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Change each bone's length by ``factors (B, 16)`` keeping directions: ``(B, T, 17, 3)``.

    Parents first, each child moved with its parent, so the limbs below follow."""
    out = joints.copy()
    for b, (child, parent) in enumerate(skeleton.BONES):
        out[..., child, :] = out[..., parent, :] + factors[:, None, None, b] * (
            joints[..., child, :] - joints[..., parent, :]
        )
    return out


def shift_joint_centres(joints: np.ndarray, rng: np.random.Generator, shift_frac: float) -> np.ndarray:
    """Move hips, shoulders and head forwards/backwards in the body frame by a per-window amount
    (``shift_frac`` × leg, the same for left and right), then derive the axial joints again."""
    if shift_frac <= 0:
        return joints
    b = len(joints)
    leg = leg_length(_window_lengths(joints))  # (B,)
    forwards = skeleton.body_frame(joints)[..., 2, :]  # (B, T, 3)
    out = joints.copy()
    for group in (("l_hip", "r_hip"), ("l_shoulder", "r_shoulder"), ("head",)):
        amount = rng.normal(0.0, shift_frac, b) * leg
        for name in group:
            out[..., _J[name], :] += amount[:, None, None] * forwards
    return skeleton.derive_axial(out)


def extend_knees(joints: np.ndarray, rng: np.random.Generator, prob: float,
                 factor_range: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:  # fmt: skip
    """Scale each knee's flexion angle by a per-window factor ``s`` (both legs, all frames; drawn
    uniformly in ``factor_range`` for ``prob`` of the windows, else 1): the shin turns towards the
    thigh's line by ``(1 − s)`` of the angle between them, about the axis normal to both, so its
    length and the leg's plane are kept and only the ankle moves. ``(B, T, 17, 3)``."""
    if prob <= 0:  # before any draw: the random stream of runs without it stays as it was
        return joints
    b = len(joints)
    factor = np.where(rng.random(b) < prob, rng.uniform(*factor_range, b), 1.0)
    out = joints.copy()
    for hip, knee, ankle in metrics.LEGS:
        thigh = joints[..., knee, :] - joints[..., hip, :]
        shin = joints[..., ankle, :] - joints[..., knee, :]
        normal = np.cross(thigh, shin)
        sin_flex = np.linalg.norm(normal, axis=-1)
        flexion = np.arctan2(sin_flex, np.sum(thigh * shin, axis=-1))  # (B, T), 0 = straight
        axis = normal / np.maximum(sin_flex, 1e-12)[..., None]  # a straight leg: no axis, no turn
        turn = -(1.0 - factor)[:, None] * flexion  # rotate the shin back towards the thigh's line
        turned = Rotation.from_rotvec((axis * turn[..., None]).reshape(-1, 3)).apply(shin.reshape(-1, 3))
        out[..., ankle, :] = joints[..., knee, :] + turned.reshape(shin.shape)
    return out


#: The joints above the pelvis: :func:`lean_torso_back` turns them with the torso.
_UPPER_BODY = [j for j, name in enumerate(skeleton.JOINT_NAMES) if name != "pelvis" and "hip" not in name
               and "knee" not in name and "ankle" not in name]  # fmt: skip


def lean_torso_back(joints: np.ndarray, rng: np.random.Generator, prob: float, max_deg: float) -> np.ndarray:
    """Turn the upper body (spine, thorax, neck, head, arms) backwards about the pelvis, around
    the hips' left-right axis, by a per-window angle (uniform in [0, ``max_deg``] for ``prob`` of
    the windows, else 0): a constant change of the torso's lean over the legs, as a different
    posture or joint-centre definition would give; bone lengths are kept. ``(B, T, 17, 3)``."""
    if prob <= 0:  # before any draw: the random stream of runs without it stays as it was
        return joints
    b = len(joints)
    angle = np.where(rng.random(b) < prob, np.radians(rng.uniform(0.0, max_deg, b)), 0.0)[:, None, None]
    left = skeleton.body_frame(joints)[..., 0, :]  # (B, T, 3); rows of the body frame: left, up, forwards
    # about ``left``, a negative angle takes up towards backwards (left × up = forwards)
    return turn_upper_body(joints, left, -np.broadcast_to(angle[..., 0], left.shape[:2]))


def turn_upper_body(joints: np.ndarray, axis: np.ndarray, angle_rad: np.ndarray) -> np.ndarray:
    """The upper body (:data:`_UPPER_BODY`) of ``joints (B, T, 17, 3)`` turned rigidly about the
    pelvis, around unit ``axis (B, T, 3)`` by ``angle_rad (B, T)`` (right-handed: about the body's
    left axis a positive angle leans it forwards). Returns a new array."""
    b, t = angle_rad.shape
    turn = Rotation.from_rotvec((axis * angle_rad[..., None]).reshape(-1, 3)).as_matrix().reshape(b, t, 3, 3)
    pelvis = joints[..., _J["pelvis"] : _J["pelvis"] + 1, :]
    out = joints.copy()
    out[..., _UPPER_BODY, :] = pelvis + np.einsum("btij,btkj->btki", turn, joints[..., _UPPER_BODY, :] - pelvis)
    return out


#: A full-depth crouch (depth 1), each drawn per window in these ranges (degrees): the shin's
#: forward tilt from the vertical, the thigh's angle from the vertical (knee → hip; past 90° the
#: hip sits below the knee), the knees' turn outwards from the facing direction and the upper
#: body's forward lean. Smaller depths scale the angles down.
CROUCH_SHIN_DEG = (20.0, 40.0)
CROUCH_THIGH_DEG = (70.0, 100.0)
CROUCH_KNEES_OUT_DEG = (0.0, 30.0)
CROUCH_LEAN_DEG = (15.0, 45.0)
#: How the depth moves over a window: still for half of the crouched windows, else going down
#: and up with a period drawn in this range (seconds) and a random phase.
CROUCH_PERIOD_S = (1.5, 4.0)
_UP = np.array([0.0, 1.0, 0.0])  # the mocap world's up (Y)
#: Both feet on the ground: the ankles' heights differ by less than this fraction of the leg.
PLANTED_FRACTION = 0.1


def crouch_depths(rng: np.random.Generator, batch: int, prob: float, depth_range: tuple[float, float],
                  frames: int, fps: float, stand_up: bool = True) -> np.ndarray:  # fmt: skip
    """Crouch depth per frame ``(batch, frames)`` in [0, 1] of windows of ``frames`` at ``fps``: 0
    for the windows not crouched (``1 − prob`` of them), else a depth drawn uniformly in
    ``depth_range``, held still or going down and up as :data:`CROUCH_PERIOD_S` says: up to
    standing (depth 0), or with ``stand_up`` false only to ``depth_range``'s lower end."""
    chosen = rng.random(batch) < prob
    amplitude = rng.uniform(*depth_range, batch)
    still = rng.random(batch) < 0.5
    period_s = rng.uniform(*CROUCH_PERIOD_S, batch)
    phase = rng.uniform(0.0, 2.0 * np.pi, batch)
    times_s = np.arange(frames) / fps
    moving = 0.5 * (1.0 - np.cos(2.0 * np.pi * times_s[None, :] / period_s[:, None] + phase[:, None]))
    top = 0.0 if stand_up else depth_range[0]  # BodyOptions checks low <= high
    moving = top + (amplitude[:, None] - top) * moving
    return np.where(chosen[:, None], np.where(still[:, None], amplitude[:, None], moving), 0.0)


def two_bone_knees(hips: np.ndarray, ankles: np.ndarray, thigh_m: np.ndarray, shin_m: np.ndarray,
                   bend: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Knees for hips and ankles ``(..., 3)`` with bones of lengths ``thigh_m``, ``shin_m``
    ``(...)``, bent towards ``bend`` ``(..., 3)`` (any vector not along the leg): the knee lies in
    the plane of the hip–ankle line and ``bend``, on ``bend``'s side. An ankle out of reach is
    pulled in along its line until the straight leg reaches it. Returns (knees, ankles)."""
    line = ankles - hips
    dist = np.linalg.norm(line, axis=-1)
    axis = line / np.maximum(dist, 1e-9)[..., None]
    reach = np.clip(dist, np.abs(thigh_m - shin_m) + 1e-6, thigh_m + shin_m - 1e-6)
    ankles = hips + axis * reach[..., None]
    across = bend - np.sum(bend * axis, axis=-1, keepdims=True) * axis
    across /= np.maximum(np.linalg.norm(across, axis=-1, keepdims=True), 1e-9)
    cos_hip = (thigh_m**2 + reach**2 - shin_m**2) / (2.0 * thigh_m * reach)
    hip_angle = np.arccos(np.clip(cos_hip, -1.0, 1.0))[..., None]
    knees = hips + thigh_m[..., None] * (np.cos(hip_angle) * axis + np.sin(hip_angle) * across)
    return knees, ankles


def crouch(joints: np.ndarray, rng: np.random.Generator, prob: float, depth_range: tuple[float, float] = (0.2, 1.0),
           fps: float = 30.0, planted_only: bool = False, stand_up: bool = True) -> np.ndarray:  # fmt: skip
    """Bend ``prob`` of the windows ``(B, T, 17, 3)`` (world, Y up; frames at ``fps``) into a crouch
    (module docstring): per frame a depth ``d`` in [0, 1] (:func:`crouch_depths`); the pelvis and
    the upper body move by how much a leg of these lengths, its shin tilted forwards by ``d``×the
    window's shin angle and its thigh back by ``d``×its thigh angle, lowers and moves back the hip
    over a planted foot (the mean of both legs, along the up and facing directions only, so the
    stance keeps its width); the upper body then leans forwards about the pelvis by ``d``×the
    window's lean; each knee is put back by two-bone inverse kinematics, bent towards its mocap
    knee's side turning, with ``d``, to the facing direction turned outwards. Bone lengths are
    kept; at ``d = 0`` a frame is unchanged. ``planted_only``: only windows whose ankles stay
    level (within :data:`PLANTED_FRACTION` of the leg in height in every frame) are crouched;
    ``stand_up``: as :func:`crouch_depths`."""
    if prob <= 0:  # before any draw: the random stream of runs without it stays as it was
        return joints
    b, t = joints.shape[:2]
    depth = crouch_depths(rng, b, prob, depth_range, t, fps, stand_up)  # (B, T)
    if planted_only:  # a squat stands on both feet: no crouch over a raised or swinging foot
        ankles_y = joints[..., [_J["l_ankle"], _J["r_ankle"]], 1]
        apart = np.abs(ankles_y[..., 0] - ankles_y[..., 1]).max(axis=1)
        depth[apart > PLANTED_FRACTION * leg_length(_window_lengths(joints))] = 0.0
    crouched = np.flatnonzero(depth.max(axis=1) > 0)
    if not len(crouched):
        return joints
    n = len(crouched)
    shin_rad, thigh_rad, out_rad, lean_rad = (np.radians(rng.uniform(*r, n))[:, None] * depth[crouched]
                                              for r in (CROUCH_SHIN_DEG, CROUCH_THIGH_DEG, CROUCH_KNEES_OUT_DEG,
                                                        CROUCH_LEAN_DEG))  # fmt: skip
    win = joints[crouched]
    lengths = _window_lengths(win)  # (n, 16)
    frame = skeleton.body_frame(win)
    forwards = frame[..., 2, :] - np.sum(frame[..., 2, :] * _UP, axis=-1, keepdims=True) * _UP
    forwards /= np.maximum(np.linalg.norm(forwards, axis=-1, keepdims=True), 1e-9)  # (n, T, 3) horizontal
    left = np.cross(_UP, forwards)  # Y up, Z forwards → X left
    # the hip's move over a planted foot: leg with its shin and thigh turned, against the straight leg
    thigh_m = np.stack([lengths[:, _B[name]] for name in ("l_hip-l_knee", "r_hip-r_knee")], -1)[:, None, :]
    shin_m = np.stack([lengths[:, _B[name]] for name in ("l_knee-l_ankle", "r_knee-r_ankle")], -1)[:, None, :]
    drop = (thigh_m + shin_m - shin_m * np.cos(shin_rad)[..., None] - thigh_m * np.cos(thigh_rad)[..., None]).mean(-1)
    back = (thigh_m * np.sin(thigh_rad)[..., None] - shin_m * np.sin(shin_rad)[..., None]).mean(-1)
    move = -drop[..., None] * _UP - back[..., None] * forwards  # (n, T, 3)
    out = win.copy()
    moved = [j for j in range(skeleton.NUM_JOINTS) if j not in (_J["l_knee"], _J["r_knee"], _J["l_ankle"],
                                                                  _J["r_ankle"])]  # fmt: skip
    out[..., moved, :] += move[..., None, :]
    out = turn_upper_body(out, left, lean_rad)  # leaning forwards about the pelvis, around the horizontal left axis
    offsets = knee_offsets(win)[0]  # (n, T, 2, 3): left leg, right leg
    d = depth[crouched][..., None]
    for leg, (side, (hip, knee, ankle)) in enumerate(zip((1.0, -1.0), metrics.LEGS, strict=True)):
        outwards = np.cos(out_rad)[..., None] * forwards + side * np.sin(out_rad)[..., None] * left
        size = np.linalg.norm(offsets[..., leg, :], axis=-1, keepdims=True)
        # the mocap knee's side; a straight leg (under 1 cm off its line) has none: the crouch's then
        mocap_side = np.where(size > 0.01, offsets[..., leg, :] / np.maximum(size, 1e-9), outwards)
        bend = (1.0 - d) * mocap_side + d * outwards
        knees, ankles = two_bone_knees(out[..., hip, :], win[..., ankle, :], thigh_m[..., leg], shin_m[..., leg], bend)
        out[..., knee, :], out[..., ankle, :] = knees, ankles
    result = joints.copy()
    result[crouched] = out
    return result


#: Arms held out in front (:func:`reach_forwards`), drawn per window: the upper arm's angle below
#: the horizontal and towards the midline, the elbow's bend (the forearm turning towards the
#: midline), and how far the shoulders are drawn forwards and in (fractions of the leg).
REACH_DOWN_DEG = (-10.0, 60.0)
REACH_IN_DEG = (0.0, 30.0)
REACH_ELBOW_DEG = (10.0, 110.0)
REACH_SHOULDERS_FORWARDS = (0.0, 0.06)
REACH_SHOULDERS_IN = (0.0, 0.04)


def reach_forwards(joints: np.ndarray, rng: np.random.Generator, prob: float) -> np.ndarray:
    """Hold both arms of ``prob`` of the windows ``(B, T, 17, 3)`` out in front, in the torso's
    own frame (so they follow its lean): each shoulder moved forwards and towards the midline,
    the upper arm pointing forwards, down and in, the forearm bent towards the midline, by
    per-window amounts (:data:`REACH_DOWN_DEG` …). Arm bone lengths are kept; the shoulders'
    distance from the thorax shrinks by the inward move."""
    if prob <= 0:  # before any draw: the random stream of runs without it stays as it was
        return joints
    b = len(joints)
    chosen = np.flatnonzero(rng.random(b) < prob)
    n = len(chosen)
    down, inwards, elbow = (np.radians(rng.uniform(*r, n))[:, None, None] for r in (REACH_DOWN_DEG, REACH_IN_DEG,
                                                                                    REACH_ELBOW_DEG))  # fmt: skip
    forwards_frac, in_frac = rng.uniform(*REACH_SHOULDERS_FORWARDS, n), rng.uniform(*REACH_SHOULDERS_IN, n)
    if not n:
        return joints
    win = joints[chosen]
    lengths = _window_lengths(win)
    leg = leg_length(lengths)[:, None, None]
    frame = skeleton.body_frame(win)  # rows: left, up, forwards
    left, up, forwards = frame[..., 0, :], frame[..., 1, :], frame[..., 2, :]
    out = win.copy()
    for side, arm in ((1.0, "l"), (-1.0, "r")):
        shoulder, elbow_j, wrist = _J[f"{arm}_shoulder"], _J[f"{arm}_elbow"], _J[f"{arm}_wrist"]
        midline = -side * left  # from this arm towards the body's middle
        out[..., shoulder, :] += (forwards_frac[:, None, None] * forwards + in_frac[:, None, None] * midline) * leg
        upper = np.cos(inwards) * (np.cos(down) * forwards - np.sin(down) * up) + np.sin(inwards) * midline
        across = midline - np.sum(midline * upper, axis=-1, keepdims=True) * upper
        across /= np.maximum(np.linalg.norm(across, axis=-1, keepdims=True), 1e-9)
        fore = np.cos(elbow) * upper + np.sin(elbow) * across
        upper_m = lengths[:, _B[f"{arm}_shoulder-{arm}_elbow"]][:, None, None]
        fore_m = lengths[:, _B[f"{arm}_elbow-{arm}_wrist"]][:, None, None]
        out[..., elbow_j, :] = out[..., shoulder, :] + upper_m * upper
        out[..., wrist, :] = out[..., elbow_j, :] + fore_m * fore
    result = joints.copy()
    result[chosen] = out
    return result


#: The limbs :func:`mix_limbs` exchanges, by kind: the girdle whose frame they move in
#: (:func:`~posecast.engines.skeleton.body_frame`) and the limb's chain from its root joint.
_MIXED_LIMBS = {
    "arms": (("shoulders", ("l_shoulder", "l_elbow", "l_wrist")), ("shoulders", ("r_shoulder", "r_elbow", "r_wrist"))),
    "legs": (("hips", ("l_hip", "l_knee", "l_ankle")), ("hips", ("r_hip", "r_knee", "r_ankle"))),
}


def mix_limbs(joints: np.ndarray, rng: np.random.Generator, prob: float,
              limbs: tuple[str, ...] = ("arms", "legs")) -> np.ndarray:  # fmt: skip
    """Give ``prob`` of the windows ``(B, T, 17, 3)`` the limbs of another window of the batch:
    each arm and leg (of the kinds in ``limbs``), with even odds, takes the other window's bone
    directions frame by frame,
    relative to its own girdle (shoulders or hips, with the torso's up), so an arm pose of a wave
    lands on a run's torso as it was held there; the window's own bone lengths are kept. The
    sources hold few combinations of arm and leg poses (a one-legged balance with the arms held
    out, CMU subject 49, is none of Bandai-Namco's): this makes new ones from the same motion."""
    if prob <= 0:  # before any draw: the random stream of runs without it stays as it was
        return joints
    b = len(joints)
    mixed = [limb for kind in limbs for limb in _MIXED_LIMBS[kind]]
    chosen = np.flatnonzero(rng.random(b) < prob)
    partner = rng.integers(0, b, len(chosen))
    swapped = rng.random((len(chosen), len(mixed))) < 0.5
    out = joints.copy()
    for k, (girdle, chain) in enumerate(mixed):
        rows, sources = chosen[swapped[:, k]], partner[swapped[:, k]]
        if not len(rows):
            continue
        own, theirs = joints[rows], joints[sources]
        own_axes, their_axes = skeleton.body_frame(own, girdle), skeleton.body_frame(theirs, girdle)
        for parent, child in zip(chain[:-1], chain[1:], strict=True):
            length = np.linalg.norm(own[..., _J[child], :] - own[..., _J[parent], :], axis=-1, keepdims=True)
            their_bone = theirs[..., _J[child], :] - theirs[..., _J[parent], :]
            direction = their_bone / np.maximum(np.linalg.norm(their_bone, axis=-1, keepdims=True), 1e-9)
            local = np.einsum("btij,btj->bti", their_axes, direction)  # in their girdle's axes
            mine = np.einsum("btji,btj->bti", own_axes, local)  # the same in this window's
            out[rows, :, _J[child], :] = out[rows, :, _J[parent], :] + length * mine
    return out


def warp_times(last: np.ndarray, first: np.ndarray, window: int, speed: np.ndarray) -> np.ndarray:
    """Fractional frame positions ``(B, T)`` of windows ending at frames ``last (B,)`` played at
    ``speed (B,)`` (× the clip's rate), clamped at each clip's ``first (B,)`` frame."""
    offsets = np.arange(-window + 1, 1, dtype=np.float64)
    return np.maximum(last[:, None] + offsets[None, :] * speed[:, None], first[:, None])


def slow_camera_windows(frames: np.ndarray, positions: np.ndarray, camera_fps: np.ndarray,
                        model_fps: float) -> np.ndarray:  # fmt: skip
    """Windows as the live window makes them from a camera at ``camera_fps (B,)``: ``frames (N, ...)``
    at the training rate, ``positions (B, T)`` each window's slots in them (newest last); each
    camera frame is the clip at its time, each slot the live window's blend of the camera frames
    around it (:class:`~posecast.engines.window_slots.WindowSlots`, the same rule and code), the
    newest slot a camera frame exactly. A camera frame older than slot 0 is taken at slot 0 (the
    window does not hold the motion before it). Returns ``(B, T, ...)``."""
    b, t = positions.shape
    slots = WindowSlots(t, model_fps)
    out = np.empty((b, t, *frames.shape[1:]), np.float64)
    span_s = (t - 1) / model_fps
    for r in range(b):
        period_ns = 1e9 / camera_fps[r]
        back = np.arange(int(np.ceil(span_s * camera_fps[r])) + 1, -1, -1)  # camera frames, oldest first
        camera_ns = np.round(-back * period_ns).astype(np.int64)  # the window ends at time 0
        lower, w_lower, w_upper = slots.weights(camera_ns, 0)
        camera_slots = np.maximum((t - 1) + camera_ns * (model_fps / 1e9), 0.0)
        camera_poses = interpolate_frames(frames, np.interp(camera_slots, np.arange(t), positions[r])[None])[0]
        w = w_lower.reshape(t, *([1] * (frames.ndim - 1)))
        out[r] = w * camera_poses[lower] + (1.0 - w) * camera_poses[lower + 1]
    return out


def sample_speeds(rng: np.random.Generator, batch: int, options: BodyOptions) -> np.ndarray:
    """Per-window speed ``(B,)``: log-uniform in ``speed_range`` for ``speed_prob`` of windows, else 1."""
    low, high = np.log(options.speed_range[0]), np.log(options.speed_range[1])
    speed = np.exp(rng.uniform(low, high, batch))
    return np.where(rng.random(batch) < options.speed_prob, speed, 1.0)


def interpolate_frames(frames: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """``frames (N, 17, 3)`` at fractional ``positions (B, T)`` → ``(B, T, 17, 3)`` (linear)."""
    lo = np.floor(positions).astype(np.int64)
    hi = np.minimum(lo + 1, len(frames) - 1)
    frac = (positions - lo)[..., None, None]
    return (1.0 - frac) * frames[lo] + frac * frames[hi]

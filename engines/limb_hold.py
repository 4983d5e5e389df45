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
head and shoulders; README "Drive an avatar"); a leg never seen follows that guess, standing,
whose feet are on the floor. A person's chain of frames that restarts (their id forgotten
after a second or more without them and them back, or frames nobody read) goes on from what was last shown of them
(:func:`restarted`): an arm unseen then is not "never seen" but holds until ``rest_after_s`` after
it was lost and eases to rest from where it was; the legs go on so only in the same person's chain,
someone new's start as never seen.
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
#: rest); a leg never seen follows MediaPipe's guess, which stands on the floor where straight
#: legs did not (QA: below a desk's view, a rested ankle 0.38 m median under the assumed floor).
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
    takes to drop from level; a half turn goes 12 deg a frame at 30 fps)."""

    edge_margin_fraction: float = 0.02
    min_confidence: float = 0.3
    ease_s: float = 0.2
    rest_after_s: float = 1.0
    rest_ease_s: float = 0.5

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
    frames it has been unseen in a row (0: seen); ``timestamp_ns``: the frame's time."""

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
               options: LimbHoldOptions) -> tuple[np.ndarray, LimbHoldState]:  # fmt: skip
    """One frame's local rotations ``(17, 4)`` with the unseen limb bones held or resting and those
    seen again eased (module docstring), and the state for the next frame. ``bones_seen`` ``(8,)``
    (:func:`limb_bones_seen`); ``state``: the last frame's (``None``: the person's first)."""
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
    rested[never & _RESTS_WHEN_LOST] = 1.0  # an arm at rest; a leg follows the guess (it stands on the floor)
    sent = np.where((~seen & ~never & (rested == 0.0))[:, None], held, live)
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
                              lost_frames, timestamp_ns)  # fmt: skip


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
    never seen (they follow the guess until seen) unless ``keep_legs`` (the chain is the same
    person's, restarted after frames nobody read): a leg held from another person's chain says
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
    return LimbHoldState(sent, np.zeros(count, bool), ever_seen, np.full((count, 4), np.nan),
                         np.zeros(count, np.int64), sent.copy(), lost_at_ns, np.zeros(count), np.zeros(count),
                         np.zeros(count, np.int64), timestamp_ns)  # fmt: skip


def hold_track(rotations: np.ndarray, bones_seen: np.ndarray, timestamps_ns: np.ndarray,
               options: LimbHoldOptions) -> np.ndarray:  # fmt: skip
    """:func:`hold_limbs` over one person's frames in order (a recorded take's, for its BVH): the
    local rotations ``(F, 17, 4)`` with the unseen limb bones held, resting and eased back as
    ``options`` say, for each frame's ``bones_seen`` ``(F, 8)`` at ``timestamps_ns`` ``(F,)``."""
    out = np.array(rotations, dtype=np.float64)
    hold_track_in_place(out, bones_seen, timestamps_ns, options)
    return out


def hold_track_in_place(rotations: np.ndarray, bones_seen: np.ndarray, timestamps_ns: np.ndarray,
                        options: LimbHoldOptions) -> np.ndarray:  # fmt: skip
    """:func:`hold_track` on ``rotations`` ``(F, 17, 4)`` float64 itself (a take's, 544 bytes a
    frame, not copied); returns ``(F, 8)`` the limb bones it turned from the rotation given
    (held, resting or easing back), in :data:`LIMB_JOINTS` order."""
    turned = np.zeros((len(rotations), len(LIMB_JOINTS)), bool)
    state = None
    for i in range(len(rotations)):
        given = rotations[i, _LIMB_JOINTS]  # (a copy)
        rotations[i], state = hold_limbs(rotations[i], bones_seen[i], int(timestamps_ns[i]), state, options)
        turned[i] = (rotations[i, _LIMB_JOINTS] != given).any(axis=-1)
    return turned

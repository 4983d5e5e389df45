"""Holding the limbs the 2D detector does not see: an avatar's arm or leg that leaves the image
keeps its last seen pose instead of following the lifter's guess, and eases back when seen again.

MediaPipe places a joint outside the image (or hidden) anyway, and its confidence does not
always say so: with the dancer slid out of the view, her elbow 4 px outside kept 0.81 while her
avatar arm swung 166 deg in a frame (QA). So a joint counts as seen (:func:`joints_seen`) where
its 2D lies inside the image by :attr:`LimbHoldOptions.edge_margin_fraction` of its shorter side
and its confidence is at least :attr:`LimbHoldOptions.min_confidence` (the lifting's
``min_joint_confidence``), and a limb bone (:data:`LIMB_JOINTS`: upper arm, forearm, thigh,
shin; by the joint each ends at, as :mod:`posecast.engines.rotations` indexes them) where both its
joints are (:func:`limb_bones_seen`).

:func:`hold_limbs` then keeps an unseen limb bone's *local* rotation (relative to its parent
bone: a held forearm goes where the upper arm takes it) as it was last sent, and eases a bone
seen again from the held rotation to the live one over :attr:`LimbHoldOptions.ease_s` seconds of
the stream's clock (slerp at a rate linear in time: at any frame rate the same motion); a bone
lost again and seen again before its ease would be over carries on with that ease. A bone
never seen yet (a webcam at a desk, the legs below the image from the start) follows the live
rotation, MediaPipe's guess, as before: there is no seen pose to hold. Pure numpy and scipy;
the state is carried from frame to frame as the hinges' twists are
(:class:`~posecast.engines.rotations.HingeTwists`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from . import skeleton

#: The limb bones, by the joint each ends at: thighs, shins, upper arms, forearms.
LIMB_JOINTS: tuple[int, ...] = tuple(
    skeleton.JOINT_INDEX[n] for n in ("r_knee", "r_ankle", "l_knee", "l_ankle", "l_elbow", "l_wrist", "r_elbow",
                                      "r_wrist")
)  # fmt: skip
_LIMB_JOINTS = np.array(LIMB_JOINTS)
_LIMB_PARENTS = np.array([skeleton.PARENTS[j] for j in LIMB_JOINTS])


@dataclass(frozen=True)
class LimbHoldOptions:
    """``edge_margin_fraction``: a joint within this fraction of the image's shorter side from
    an edge (or outside) is not seen (0.02: 11.5 px on a 576 px image; MediaPipe's points near an
    edge already lean on its guess); ``min_confidence``: nor is one scored below this (the
    lifting's ``min_joint_confidence``); ``ease_s``: seconds over which a limb seen again turns
    from the held rotation to the live one (0.2 s: the time the head takes back to the
    shoulders' line, about 6 frames at 30 fps; a 90 deg catch-up goes 15 deg a frame instead of
    at once, and an arm back in view lags for no longer than a quick move takes)."""

    edge_margin_fraction: float = 0.02
    min_confidence: float = 0.3
    ease_s: float = 0.2

    def __post_init__(self) -> None:
        if not 0.0 <= self.edge_margin_fraction < 0.5:
            raise ValueError(f"edge_margin_fraction must be in [0, 0.5), got {self.edge_margin_fraction}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be between 0 and 1, got {self.min_confidence}")
        if not 0.0 <= self.ease_s <= 10.0:
            raise ValueError(f"ease_s must be in 0..10 seconds, got {self.ease_s}")


@dataclass(frozen=True)
class LimbHoldState:
    """The limb bones after a frame, in :data:`LIMB_JOINTS` order: ``sent`` ``(8, 4)`` the local
    rotation each was given (x, y, z, w); ``seen`` ``(8,)`` whether it was seen then;
    ``ever_seen`` ``(8,)``; ``ease_from`` ``(8, 4)`` the rotation an easing bone started from
    (NaN: not easing; kept while the bone is unseen, for an ease it is seen again in time to
    carry on) and ``ease_start_ns`` ``(8,)`` when."""

    sent: np.ndarray
    seen: np.ndarray
    ever_seen: np.ndarray
    ease_from: np.ndarray
    ease_start_ns: np.ndarray


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


def hold_limbs(rotations: np.ndarray, bones_seen: np.ndarray, timestamp_ns: int, state: LimbHoldState | None,
               ease_s: float) -> tuple[np.ndarray, LimbHoldState]:  # fmt: skip
    """One frame's local rotations ``(17, 4)`` with the unseen limb bones held and those seen
    again eased (module docstring), and the state for the next frame. ``bones_seen`` ``(8,)``
    (:func:`limb_bones_seen`); ``state``: the last frame's (``None``: the person's first)."""
    out = np.array(rotations, dtype=np.float64)
    live = out[_LIMB_JOINTS]
    seen = np.asarray(bones_seen, bool)
    count = len(LIMB_JOINTS)
    if state is None:
        state = LimbHoldState(live.copy(), np.ones(count, bool), np.zeros(count, bool), np.full((count, 4), np.nan),
                              np.zeros(count, np.int64))  # fmt: skip
    ever_seen = state.ever_seen | seen
    hold = ~seen & state.ever_seen & np.isfinite(state.sent).all(axis=1)
    sent = np.where(hold[:, None], state.sent, live)
    # a bone seen again starts easing from what was sent, unless the ease it was lost in would
    # still be under way: that one carries on from where it was (its start and start rotation
    # kept), or a bone flickering in and out of view every frame or two restarted at the held
    # rotation each time and never got back (review); one unseen holds, its ease kept for that
    again = seen & ~state.seen & state.ever_seen & np.isfinite(state.sent).all(axis=1)
    resumed = again & np.isfinite(state.ease_from).all(axis=1) & (timestamp_ns - state.ease_start_ns < ease_s * 1e9)
    again &= ~resumed
    ease_from = np.where(again[:, None], state.sent, state.ease_from)
    ease_start_ns = np.where(again, timestamp_ns, state.ease_start_ns)
    easing = seen & np.isfinite(ease_from).all(axis=1) & np.isfinite(live).all(axis=1)
    if easing.any():
        done = np.clip((timestamp_ns - ease_start_ns[easing]) / (ease_s * 1e9), 0.0, 1.0) if ease_s > 0 else 1.0
        start = Rotation.from_quat(ease_from[easing])
        turn = (start.inv() * Rotation.from_quat(live[easing])).as_rotvec()
        sent[easing] = (start * Rotation.from_rotvec(turn * np.reshape(done, (-1, 1)))).as_quat()
        finished = np.zeros(count, bool)
        finished[easing] = np.asarray(done) >= 1.0
        ease_from[finished] = np.nan
    out[_LIMB_JOINTS] = sent
    return out, LimbHoldState(sent, seen, ever_seen, ease_from, ease_start_ns)


def hold_track(rotations: np.ndarray, bones_seen: np.ndarray, timestamps_ns: np.ndarray,
               ease_s: float) -> np.ndarray:  # fmt: skip
    """:func:`hold_limbs` over one person's frames in order (a recorded take's, for its BVH): the
    local rotations ``(F, 17, 4)`` with the unseen limb bones held and those seen again eased,
    for each frame's ``bones_seen`` ``(F, 8)`` at ``timestamps_ns`` ``(F,)``."""
    out = np.array(rotations, dtype=np.float64)
    state = None
    for i in range(len(out)):
        out[i], state = hold_limbs(out[i], bones_seen[i], int(timestamps_ns[i]), state, ease_s)
    return out

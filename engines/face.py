"""Where the face points: the detector's 3D face points placed at posecast's head.

posecast's 17 joints end at the head (the centre of the head at ear level): a point, which says
nothing of where the face turns. A detector that gives 3D landmarks (MediaPipe's world
landmarks) sees the nose, the eyes and the ears. :data:`FACE_POINT_NAMES` are those five, and
:func:`face_at_head` moves them, as the detector placed them relative to one another, so that
the midpoint of their ears is posecast's head joint (the same point by definition: the layouts
map the head to the mid-ears). MediaPipe's world landmarks are metres in the person's own view
(x right, y down, z away, as if the camera looked straight at them); the lifting stage turns
them into the camera's axes with the rotation that turns the lifted joints
(:func:`posecast.engines.normalize.to_camera_axes`) before placing them.

The line between the ears is the head's twist in :mod:`posecast.engines.rotations`: a face
turned from the chest turns an avatar's head (the 17 joints alone only swing it).
"""

from __future__ import annotations

import math

import numpy as np

from .window_slots import MAX_BRIDGED_GAP_S

#: The face points, in the order of ``face_m`` (pose messages) and :attr:`KeypointLayout.face`.
FACE_POINT_NAMES: tuple[str, ...] = ("nose", "left_eye", "right_eye", "left_ear", "right_ear")
NUM_FACE_POINTS = len(FACE_POINT_NAMES)
NOSE = FACE_POINT_NAMES.index("nose")
LEFT_EAR, RIGHT_EAR = FACE_POINT_NAMES.index("left_ear"), FACE_POINT_NAMES.index("right_ear")
#: The face is known where the detector sees the nose or an ear with this score or more (the
#: joints' "seen"): MediaPipe places a face turned to profile, its far ear hidden, as a whole;
#: a head turned away is a guess and is not sent.
MIN_FACE_SCORE = 0.5
#: ...and where the nose and both ears lie inside the image by a head's radius, metres, at the
#: head's distance: MediaPipe scores a head above the image's top edge 0.92-0.98, and its guessed
#: face turned the head 114 deg in one frame (QA); a head cut at the ears' level had faces whose
#: ears fell 7 px apart in 2D.
HEAD_RADIUS_M = 0.1
#: The ears' distance in 3D must be a head's, metres (a face cut at the edge had 0.014-0.05).
EAR_WIDTH_M = (0.08, 0.25)
#: A face not seen is held as last seen this long, seconds (the live window's bridged gap; a
#: hand passing over it), before it is let go (eased back to the neck's turn).
FACE_HOLD_S = MAX_BRIDGED_GAP_S
#: After the hold, a take's head turns to the shoulders' line over this long, seconds (live, the
#: avatar filter takes about 0.2 s; :func:`take_ear_lines`).
FACE_EASE_S = 0.25
#: A take eases turns up to this many degrees; a larger one is made at once (:func:`take_ear_lines`).
MAX_EASED_TURN_DEG = 120.0


def take_ear_lines(ear_lines: np.ndarray, shoulder_lines: np.ndarray, timestamps_ns: np.ndarray,
                   posed: np.ndarray) -> np.ndarray:  # fmt: skip
    """A whole take's ear lines ``(F, 3)`` (NaN where the face was not seen) with each gap bridged
    as the avatar world bridges it frame by frame: the last face seen is held for
    :data:`FACE_HOLD_S`, then the head turns to the shoulders' line (``shoulder_lines``
    ``(F, 3)``, right → left shoulder: the neck's own turn) over :data:`FACE_EASE_S`. A take
    knows what comes next, so the head also turns to a face seen again over the
    :data:`FACE_EASE_S` before it is (live, the filter eases it in after). Nothing is carried
    across a frame without a pose (``posed`` ``(F,)`` False: the avatar world forgets a person it
    loses); a gap with no face on either side stays NaN (the head carries the neck's turn).
    ``timestamps_ns`` ``(F,)`` integers, increasing (each gap is measured as an integer difference
    before it is turned into seconds: a frame exactly at the hold stays held, as live). Bridged
    rows are unit length."""
    ear_lines, stamps = np.asarray(ear_lines, np.float64), np.asarray(timestamps_ns, np.int64)
    posed = np.asarray(posed, bool)
    count = len(ear_lines)
    seen = np.isfinite(ear_lines).all(axis=-1)
    frames = np.arange(count)
    # the last face seen and the next, each only where no frame without a pose lies between
    last = np.maximum.accumulate(np.where(seen, frames, -1))
    last_lost = np.maximum.accumulate(np.where(posed, -1, frames))
    after = np.minimum.accumulate(np.where(seen, frames, count)[::-1])[::-1]
    next_lost = np.minimum.accumulate(np.where(posed, count, frames)[::-1])[::-1]
    gap = posed & ~seen
    from_last = gap & (last > last_lost)
    to_next = gap & (after < next_lost)
    out = ear_lines.copy()
    bridged = from_last | to_next
    if not bridged.any():
        return out
    shoulders = _unit(np.asarray(shoulder_lines, np.float64)[bridged])
    line = shoulders.copy()
    rows = np.flatnonzero(bridged)
    held = from_last[rows]
    since_s = (stamps[rows[held]] - stamps[last[rows[held]]]) / 1e9
    away = np.clip((since_s - FACE_HOLD_S) / FACE_EASE_S, 0.0, 1.0)
    line[held] = _turned(_unit(ear_lines[last[rows[held]]]), shoulders[held], away)
    coming = to_next[rows]
    until_s = (stamps[after[rows[coming]]] - stamps[rows[coming]]) / 1e9
    line[coming] = _turned(line[coming], _unit(ear_lines[after[rows[coming]]]),
                           np.clip(1.0 - until_s / FACE_EASE_S, 0.0, 1.0))  # fmt: skip
    out[rows] = line
    return out


def _unit(directions: np.ndarray) -> np.ndarray:
    """Unit directions ``(N, 3)``; NaN where a direction has no length (no line to follow)."""
    length = np.linalg.norm(directions, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(length > 1e-9, directions / length, np.nan)


def _turned(start: np.ndarray, end: np.ndarray, fraction: np.ndarray) -> np.ndarray:
    """Unit directions ``(N, 3)`` turned from ``start`` towards ``end`` by ``fraction`` ``(N,)`` of
    the way: a normalised linear blend, for turns under :data:`MAX_EASED_TURN_DEG`; a larger one
    (ears read the other way round, a back to the camera) is made at once half way, as a blend
    through nearly nothing would flip there in one frame anyway (or be NaN)."""
    blend = (1.0 - fraction)[:, None] * start + fraction[:, None] * end
    apart = np.einsum("ij,ij->i", start, end) < math.cos(math.radians(MAX_EASED_TURN_DEG))
    at_once = np.where((fraction >= 0.5)[:, None], end, start)
    return np.where(apart[:, None], at_once, _unit(blend))


def face_seen(scores: np.ndarray, keypoints_px: np.ndarray, image_size: tuple[int, int], margin_px: float,
              face_index: tuple[int, ...] = tuple(range(NUM_FACE_POINTS))) -> bool:  # fmt: skip
    """Whether one person's keypoint scores ``(K,)`` and pixels ``(K, 2)``, the face points at
    ``face_index`` (:data:`FACE_POINT_NAMES` order; :attr:`KeypointLayout.face`), in an image of
    ``image_size`` (width, height) say the face is seen: the nose or an ear scored
    :data:`MIN_FACE_SCORE` or more (a NaN score is not seen), and the nose and both ears lie
    ``margin_px`` or more inside the image (:data:`HEAD_RADIUS_M` in pixels: the head in view)."""
    # plain floats, no gathered copies: this runs for every person and frame (NaN compares False)
    key = (face_index[NOSE], face_index[LEFT_EAR], face_index[RIGHT_EAR])
    if not any(float(scores[i]) >= MIN_FACE_SCORE for i in key):
        return False
    width, height = image_size
    return all(margin_px <= float(keypoints_px[i, 0]) <= width - margin_px
               and margin_px <= float(keypoints_px[i, 1]) <= height - margin_px for i in key)  # fmt: skip


def placed_face(face_points: np.ndarray, rotation: np.ndarray, head_m: np.ndarray) -> np.ndarray | None:
    """The detector's 3D face points ``(5, 3)`` turned by ``rotation`` ``(3, 3)`` into the camera's
    axes and placed at ``head_m`` (:func:`face_at_head`), or ``None`` when their ears are not a
    head's width apart (:data:`EAR_WIDTH_M`) or a point is not finite. (One pass of small numpy
    operations: this runs for every person and frame.)"""
    points = np.asarray(face_points, np.float64) @ rotation.T
    ear = points[LEFT_EAR] - points[RIGHT_EAR]
    if not EAR_WIDTH_M[0] <= math.sqrt(float(ear @ ear)) <= EAR_WIDTH_M[1]:  # NaN: False
        return None
    placed = face_at_head(points, head_m)
    return placed if np.isfinite(placed).all() else None


def face_at_head(face_points: np.ndarray, head_m: np.ndarray) -> np.ndarray:
    """The detector's 3D face points ``(..., 5, 3)`` (:data:`FACE_POINT_NAMES` order, metres, the
    camera's axes) moved so that the midpoint of the ears is ``head_m`` ``(..., 3)``."""
    face_points = np.asarray(face_points, dtype=np.float64)
    ears_mid = 0.5 * (face_points[..., LEFT_EAR, :] + face_points[..., RIGHT_EAR, :])
    return face_points - ears_mid[..., None, :] + np.asarray(head_m, dtype=np.float64)[..., None, :]


def ear_lines(face_m: np.ndarray) -> np.ndarray:
    """Face points ``(..., 5, 3)`` → the direction from the right ear to the left ear ``(..., 3)``
    (not normalised; NaN where the face is not known)."""
    face_m = np.asarray(face_m, dtype=np.float64)
    return face_m[..., LEFT_EAR, :] - face_m[..., RIGHT_EAR, :]

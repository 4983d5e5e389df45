"""A 2D skeleton the detector collapsed: its frames are held as a dropout, not lifted.

The root's depth is the metric skeleton's size against the 2D's (:func:`posecast.engines.camera.
solve_root_translation`), so a 2D drawn at a fraction of its size is the same person placed that
many times further away, and every check of the plausibility gate passes it. MediaPipe, shown the
dance clip with every row from 45 % of the image's height down black (her head and shoulders in
view), draws her hips on her shoulders and her head on the shoulder line, the whole skeleton
within 13-31 px of her head, the hips scored 0.79-0.96, for 0.4-0.6 s: lifted, her root went from
3.5 m to 9-12 m away (16.6 m decoded from PNGs). On its way back, for up to about a second, it
draws her whole at a third to two thirds of her size (5.3-9 m away).

:func:`collapsed` recognises the first part in one frame, from the 2D alone: the shoulders, hips
and head seen, the torso (mid-shoulders to mid-hips) and the head's height over the mid-shoulders
both under :data:`MAX_TORSO_FRAC` and :data:`MAX_NECK_FRAC` of the shoulder width, and no seen
joint further from the mid-shoulders than :data:`MAX_EXTENT_FRAC` of it. A person's torso shows
that short only pointing at the camera, with the head, arms and legs still reaching away from it
in the image. No frame passes as collapsed of the held-out mocap filmed by the evaluation's
webcams (42,467 in-domain frames, 3,809 across datasets; exact and noisy 2D, and with the legs cut
off as at a desk), nor of every CMU and Bandai-Namco take (455,783 frames; the nearest, a runner
bent over exhausted, has every joint within 1.28-1.32 shoulder widths), nor of the two test clips.
:class:`CollapseHold` holds the person from such a frame until :data:`HOLD_S` has passed without
one: the lifting stage gives those frames as ``lost`` and leaves the person's window, bones and
filter as a frame without the person does (a dropout), so the shrunken 2D of the way back is not
lifted either. A 2D drawn small whole, without the collapse, is not caught: nothing in one frame
tells it from a person further away.
"""

from __future__ import annotations

import numpy as np

from ...engines import skeleton

_J = skeleton.JOINT_INDEX
_L_SHOULDER, _R_SHOULDER, _L_HIP, _R_HIP = _J["l_shoulder"], _J["r_shoulder"], _J["l_hip"], _J["r_hip"]
_CORE = [_L_SHOULDER, _R_SHOULDER, _L_HIP, _R_HIP, skeleton.HEAD]
#: the torso's 2D length (mid-shoulders to mid-hips) under this fraction of the shoulder width ...
MAX_TORSO_FRAC = 0.4
#: ... and the head's 2D distance from the mid-shoulders under this one ...
MAX_NECK_FRAC = 0.4
#: ... and every seen joint within this many shoulder widths of the mid-shoulders: collapsed
MAX_EXTENT_FRAC = 1.2
#: seconds a person is held after the last collapsed frame (MediaPipe drew the dancer back at a
#: third to two thirds of her size for up to 0.97 s after it)
HOLD_S = 1.0
#: a hold starts only within this many seconds of a frame of the same person not collapsed: the
#: detector's collapse is a sudden change. A person who looks collapsed from their first frame is
#: lifted (review: a person filmed from straight above, the camera 75-90 degrees down, passes
#: :func:`collapsed` in every frame and was ``lost`` for as long as they were in view)
SUDDEN_S = 1.0
#: seconds a hold lasts at most from its first collapsed frame; then the person is lifted again
#: until a frame of theirs is not collapsed (the blanked dancer's collapse lasted 0.4-0.6 s)
MAX_HOLD_S = 3.0


def collapsed(keypoints: np.ndarray, seen: np.ndarray) -> bool:
    """Whether the 2D ``keypoints`` ``(17, 2)`` (posecast's joints; pixels or normalised, the same
    scale on both axes) is a skeleton collapsed onto its shoulders (module docstring); ``seen``
    ``(17,)`` bool, the joints scored high enough to count. ``False`` unless both shoulders, both
    hips and the head are seen."""
    if not (seen[_L_SHOULDER] and seen[_R_SHOULDER] and seen[_L_HIP] and seen[_R_HIP] and seen[skeleton.HEAD]):
        return False
    points = keypoints.tolist()  # plain floats: the common case costs a few microseconds a person and frame
    (lsx, lsy), (rsx, rsy), (lhx, lhy), (rhx, rhy), (hx, hy) = (points[j] for j in _CORE)
    width_sq = (lsx - rsx) ** 2 + (lsy - rsy) ** 2
    tx, ty = (lsx + rsx) / 2, (lsy + rsy) / 2  # the mid-shoulders (thorax)
    torso_sq = ((lhx + rhx) / 2 - tx) ** 2 + ((lhy + rhy) / 2 - ty) ** 2
    if not (torso_sq < MAX_TORSO_FRAC**2 * width_sq and (hx - tx) ** 2 + (hy - ty) ** 2 < MAX_NECK_FRAC**2 * width_sq):
        return False
    away = keypoints[seen] - (tx, ty)
    return bool(np.einsum("ij,ij->i", away, away).max() < MAX_EXTENT_FRAC**2 * width_sq)


class CollapseHold:
    """One person's hold (module docstring): :meth:`held` is ``True`` for a collapsed frame that
    comes within :data:`SUDDEN_S` of one that was not (or within a hold), and for every frame less
    than ``hold_s`` after the last collapsed one; a hold ends :data:`MAX_HOLD_S` after it began."""

    def __init__(self, hold_s: float = HOLD_S) -> None:
        self.hold_s = hold_s
        self._last_ns: int | None = None  # the hold's last collapsed frame's time (None: no hold)
        self._since_ns = 0  # the hold's first collapsed frame's time
        self._normal_ns: int | None = None  # the last frame not collapsed (None: none since a release)

    def held(self, keypoints: np.ndarray, seen: np.ndarray, timestamp_ns: int) -> bool:
        """This frame's 2D ``(17, 2)`` and seen joints ``(17,)``: whether to hold it (not lift it).
        A clock that goes back (a new timeline) ends the hold."""
        if self._last_ns is not None and timestamp_ns < self._last_ns:
            self._last_ns, self._normal_ns = None, None  # a new timeline
        if collapsed(keypoints, seen):
            if self._last_ns is None:  # a hold starts only on a sudden collapse
                if self._normal_ns is None or not 0 <= timestamp_ns - self._normal_ns <= SUDDEN_S * 1e9:
                    return False
                self._since_ns = timestamp_ns
            elif timestamp_ns - self._since_ns > MAX_HOLD_S * 1e9:  # too long for the detector's collapse
                self._last_ns = self._normal_ns = None
                return False
            self._last_ns = timestamp_ns
            return True
        self._normal_ns = timestamp_ns
        if self._last_ns is None:
            return False
        if timestamp_ns - self._last_ns < self.hold_s * 1e9:
            return True
        self._last_ns = None
        return False

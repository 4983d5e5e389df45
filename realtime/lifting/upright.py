"""Whether a person stands upright in the image, checked once: the lifter learnt people filmed
by webcams held level (a few degrees of roll). A video turned a quarter or half round (a phone's,
copied without its rotation tag; a camera mounted upside down) was lifted without a word, and
its 3D, turned back, was off by a median 114 mm (481 mm p95; QA). The check says so once, with
the turn that would set it right; a person lying down is told apart by nothing but the words.
"""

from __future__ import annotations

import numpy as np

from ...engines import skeleton

#: Frames with the hips and shoulders seen that the check looks at (about 1 s at 30 fps).
CHECK_FRAMES = 30
#: A torso further than this from the image's up, in degrees, in most of those frames is turned.
TURNED_DEG = 60.0
#: ... "most": this share of them.
TURNED_SHARE = 0.8
#: The lowest score of the hips and shoulders for a frame to count.
MIN_SCORE = 0.5
_TORSO = [skeleton.JOINT_INDEX[n] for n in ("l_hip", "r_hip", "l_shoulder", "r_shoulder")]
_J = skeleton.JOINT_INDEX


def torso_roll_deg(keypoints_px: np.ndarray) -> float:
    """The torso's direction in the image (pelvis to thorax), in degrees from the image's up:
    0 upright, +90 the head to the right of the hips, -90 to the left, ±180 upside down."""
    pelvis = 0.5 * (keypoints_px[_J["l_hip"]] + keypoints_px[_J["r_hip"]])
    thorax = 0.5 * (keypoints_px[_J["l_shoulder"]] + keypoints_px[_J["r_shoulder"]])
    dx, dy = thorax - pelvis
    return float(np.degrees(np.arctan2(dx, -dy)))  # image y grows downwards


def turned_notice(rolls_deg: np.ndarray, who: str = "") -> str | None:
    """What to say of a person whose torso directions ``rolls_deg`` (:func:`torso_roll_deg`) point
    away from the image's up in most frames, or ``None``."""
    turned = np.abs(rolls_deg) > TURNED_DEG
    if turned.mean() < TURNED_SHARE:
        return None
    roll = float(np.degrees(np.angle(np.exp(1j * np.radians(rolls_deg[turned])).mean())))  # circular mean
    if abs(roll) > 135.0:
        where, turn, ffmpeg = "below the hips (upside down)", "half round", "hflip,vflip"
    elif roll > 0:
        where, turn, ffmpeg = "to the right of the hips", "a quarter anticlockwise", "transpose=2"
    else:
        where, turn, ffmpeg = "to the left of the hips", "a quarter clockwise", "transpose=1"
    fix = f"turn it {turn} (ffmpeg -i IN -vf {ffmpeg} OUT.mp4)"
    unusual = "stand on their head" if abs(roll) > 135.0 else "lie down"
    return (f"the person{who}'s head is {where} in {100 * turned.mean():.0f} % of their first {len(rolls_deg)} frames "
            f"with the torso seen: the video seems turned (a phone's copied without its rotation tag?), or they "
            f"{unusual}; the lifter knows upright people, and its 3D of a turned one is a guess: {fix}")


class UprightCheck:
    """Collects one person's torso direction over their first :data:`CHECK_FRAMES` frames with
    the torso seen; :meth:`observe` returns the notice once, when they look turned."""

    def __init__(self, who: str = "") -> None:
        self.who = who
        self.done = False
        self._rolls_deg: list[float] = []

    def observe(self, keypoints_px: np.ndarray, confidence: np.ndarray) -> str | None:
        if self.done or (confidence[_TORSO] < MIN_SCORE).any():
            return None
        self._rolls_deg.append(torso_roll_deg(np.asarray(keypoints_px, np.float64)))
        if len(self._rolls_deg) < CHECK_FRAMES:
            return None
        self.done = True
        return turned_notice(np.array(self._rolls_deg), self.who)

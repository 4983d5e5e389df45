"""Windows framed like a person close to a webcam: the image's bottom edge cuts the legs off.

A webcam on a desk sees the head, the arms and the torso; the legs, often the hips too, are
below the image. MediaPipe still returns every landmark, and for the ones below the edge it
guesses a standing person. Measured on the shared clips cropped at the hips (squats) and at the
waist (dance), MediaPipe's 2D against its own 2D of the whole frame:

- knees and ankles hang straight below the hips, the thigh within a few degrees of the image's
  vertical, whatever the legs really do (the dancer's raised leg, the squat); thigh 0.55–0.75 and
  shin 0.67–0.73 of the 2D torso (pelvis → thorax); visibility: knees 0.1–0.2, ankles under 0.1;
- hips below the edge are off by a median 0.12–0.32 torso lengths, visibility about 0.5–0.6.

A lifter trained on whole bodies only reads those guessed legs as real. With the legs cut off
(the camera's intrinsics kept), ``supervised-crouch-w384`` turned the upper body a median 10–12°
from where it put it with the legs in view and changed its shape by 20–41 mm P-MPJPE (MediaPipe's
own 3D: 7–9°, 22–23 mm; ``tools/compare_mediapipe.py --legs-cut``).

:func:`cut_at_bottom` makes such windows from mocap: for a share of windows, an image edge at a
constant height between the 2D thorax and knees; in every frame the hips, knees and ankles below
it are replaced by MediaPipe's kind of guess (the pelvis and spine, which posecast derives from the
hips, follow). It also returns a per-joint weight for the 3D loss: 0 for guessed knees and ankles.
The 2D says nothing about them, and asking the network to guess them anyway would teach it to
doubt every straight leg it sees (the 3D of a hip is still asked for: the upper body shows it).
Pure numpy; ``(B, T, 17, 2)`` pixels (y down).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ... import skeleton

J = skeleton.JOINT_INDEX
#: (hip, knee, ankle) of each leg.
_LEGS = tuple((J[f"{side}_hip"], J[f"{side}_knee"], J[f"{side}_ankle"]) for side in ("l", "r"))


@dataclass
class FramingOptions:
    """How often and where the bottom edge cuts the body, and how MediaPipe's guesses vary."""

    prob: float = 0.0  # share of windows cut
    #: the edge's height between the 2D thorax (0) and the knees (1), drawn uniformly
    cut: tuple[float, float] = (0.35, 1.0)
    hip_error: float = 0.2  # std of a guessed hip's offset, fraction of the 2D torso
    thigh: tuple[float, float] = (0.55, 0.8)  # guessed thigh, fraction of the 2D torso
    shin: tuple[float, float] = (0.6, 0.8)  # guessed shin, fraction of the 2D torso
    leg_angle_deg: float = 4.0  # std of a guessed leg's angle to the image's vertical

    def __post_init__(self) -> None:
        self.cut, self.thigh, self.shin = tuple(self.cut), tuple(self.thigh), tuple(self.shin)
        if not 0.0 <= self.prob <= 1.0:
            raise ValueError(f"prob must be in [0, 1], got {self.prob}")
        if not 0.0 <= self.cut[0] <= self.cut[1] <= 2.0:
            raise ValueError(f"cut must be 0 <= low <= high <= 2, got {self.cut}")
        for name in ("thigh", "shin"):
            low, high = getattr(self, name)
            if not 0.0 < low <= high:
                raise ValueError(f"{name} must be 0 < low <= high, got {getattr(self, name)}")
        if self.hip_error < 0 or self.leg_angle_deg < 0:
            raise ValueError("hip_error and leg_angle_deg must be >= 0")


def cut_at_bottom(
    keypoints_px: np.ndarray, confidence: np.ndarray, rng: np.random.Generator, options: FramingOptions
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(keypoints_px, confidence, weight)``: the windows ``(B, T, 17, 2)`` with a share cut at
    the bottom (module docstring), their confidence ``(B, T, 17)`` and the 3D loss weight
    ``(B, T, 17)`` (0: a guessed knee or ankle). Inputs are not modified."""
    b, t = keypoints_px.shape[:2]
    weight = np.ones((b, t, skeleton.NUM_JOINTS), dtype=np.float32)
    thorax_y = keypoints_px[:, :, J["thorax"], 1].mean(axis=1)
    knees_y = keypoints_px[:, :, [J["l_knee"], J["r_knee"]], 1].mean(axis=(1, 2))
    # only people upright in the image: the edge goes between their chest and knees
    rows = np.flatnonzero((rng.random(b) < options.prob) & (knees_y > thorax_y))
    if not len(rows):
        return keypoints_px, confidence, weight
    pixels, confidence = keypoints_px.copy(), confidence.copy()
    k = pixels[rows]  # (R, T, 17, 2), written back below
    c = confidence[rows]
    r = len(rows)
    edge = thorax_y[rows] + rng.uniform(*options.cut, r) * (knees_y[rows] - thorax_y[rows])
    below = k[..., 1] > edge[:, None, None]  # (R, T, 17)
    torso = np.linalg.norm(k[:, :, J["thorax"]] - k[:, :, J["pelvis"]], axis=-1)  # (R, T)
    window_torso = np.median(torso, axis=1)[:, None, None]  # (R, 1, 1)
    # hips: a constant offset per window while below the edge; pelvis and spine follow (midpoints)
    hip_offset = rng.normal(0.0, options.hip_error, (r, 1, 2, 2)) * window_torso[..., None]
    hips = [J["l_hip"], J["r_hip"]]
    moved = hip_offset * below[:, :, hips, None]  # (R, T, 2, 2)
    k[:, :, hips] += moved
    k[:, :, J["pelvis"]] += moved.mean(axis=2)
    k[:, :, J["spine"]] += 0.5 * moved.mean(axis=2)
    torso = np.linalg.norm(k[:, :, J["thorax"]] - k[:, :, J["pelvis"]], axis=-1)[..., None]  # as the guess sees it
    jitter = 0.005 * window_torso  # (R, 1, 1)
    for hip, knee, ankle in _LEGS:
        angles = np.radians(rng.normal(0.0, options.leg_angle_deg, (r, 2)))
        angles[:, 1] = angles[:, 0] + 0.5 * angles[:, 1]  # the shin hangs near the thigh's line
        thigh = rng.uniform(*options.thigh, r)[:, None, None] * torso
        shin = rng.uniform(*options.shin, r)[:, None, None] * torso
        down = [np.stack([np.sin(a), np.cos(a)], axis=-1)[:, None, :] for a in angles.T]  # (R, 1, 2) each
        guess_knee = k[:, :, hip] + thigh * down[0] + rng.normal(0.0, 1.0, (r, t, 2)) * jitter
        k[:, :, knee] = np.where(below[:, :, knee, None], guess_knee, k[:, :, knee])
        guess_ankle = k[:, :, knee] + shin * down[1] + rng.normal(0.0, 1.0, (r, t, 2)) * jitter
        k[:, :, ankle] = np.where(below[:, :, ankle, None], guess_ankle, k[:, :, ankle])
        c[:, :, hip] = np.where(below[:, :, hip], np.minimum(c[:, :, hip], rng.uniform(0.4, 0.65, (r, t))),
                                c[:, :, hip])  # fmt: skip
        c[:, :, knee] = np.where(below[:, :, knee], rng.uniform(0.05, 0.3, (r, t)), c[:, :, knee])
        c[:, :, ankle] = np.where(below[:, :, ankle], rng.uniform(0.0, 0.1, (r, t)), c[:, :, ankle])
        weight[rows, :, knee] = np.where(below[:, :, knee], 0.0, 1.0)
        weight[rows, :, ankle] = np.where(below[:, :, ankle], 0.0, 1.0)
    pixels[rows], confidence[rows] = k, c
    return pixels, confidence, weight

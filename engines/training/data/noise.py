"""2D noise shaped like MediaPipe's errors, so models do not only work on perfect 2D.

Measured on the shared clips (``tools/measure_2d_noise.py`` → ``eval/mediapipe_2d.json``;
no ground truth there, so these are upper bounds and shapes rather than exact figures): the
frame-to-frame jitter left after smoothing is 0.4 % of the body's RMS size on the 30 fps dance
clip, and wrists jitter about 3× and elbows 2× as much as hips and shoulders; visibility is
above 0.83 for 95 % of joints in view. MediaPipe's larger errors are slow: a joint centre that
sits off the mocap one (covered by the body augmentation, :mod:`.augment`) and limbs that are
lost or swapped for a few frames. Per window:

1. a fixed per-joint bias (detectors and mocap disagree on where a hip or a head is);
2. temporally correlated jitter (AR(1)), larger on the arms (:data:`JOINT_JITTER`);
3. gross errors in runs of a few frames on single joints (a lost or swapped limb), low confidence;
4. now and then one limb poorly seen for the whole window (more jitter, low confidence);
5. joints outside the image (``image_size``): MediaPipe guesses them, with errors growing with
   the distance outside, and reports low visibility.

All sizes are fractions of the body's 2D size, so they hold at any distance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ... import normalize, skeleton

#: Relative jitter per joint (wrists and elbows move most in MediaPipe's output).
JOINT_JITTER = np.ones(skeleton.NUM_JOINTS)
for _name, _factor in (("wrist", 2.5), ("elbow", 1.6), ("ankle", 1.2), ("knee", 1.1)):
    for _side in ("l_", "r_"):
        JOINT_JITTER[skeleton.JOINT_INDEX[_side + _name]] = _factor
#: Limbs that can be poorly seen as a whole (joint indices).
LIMBS = tuple(
    tuple(skeleton.JOINT_INDEX[f"{side}_{j}"] for j in joints)
    for side in ("l", "r")
    for joints in (("elbow", "wrist"), ("knee", "ankle"))
)


@dataclass
class NoiseOptions:
    bias_frac: float = 0.02  # std of per-joint bias, fraction of body size (RMS joint distance)
    jitter_frac: tuple[float, float] = (0.0, 0.02)  # per-window jitter std range, fraction of size
    correlation: tuple[float, float] = (0.3, 0.9)  # AR(1) coefficient range across frames
    outlier_prob: float = 0.004  # per joint and frame: a run of gross errors starts
    outlier_frames: tuple[int, int] = (1, 8)  # run length
    outlier_frac: float = 0.3  # gross error size, fraction of body size
    limb_prob: float = 0.05  # per window: one limb poorly seen throughout
    limb_jitter: float = 3.0  # its jitter multiplier
    outside_frac: float = 0.3  # error per unit of distance outside the image (fraction of it)

    def __post_init__(self) -> None:
        for name in ("bias_frac", "outlier_prob", "outlier_frac", "limb_prob", "outside_frac"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if not 0.0 <= self.jitter_frac[0] <= self.jitter_frac[1] <= 0.5:
            raise ValueError(f"jitter_frac must be 0 <= low <= high <= 0.5, got {self.jitter_frac}")
        if not -1.0 < self.correlation[0] <= self.correlation[1] < 1.0:
            raise ValueError(f"correlation must be -1 < low <= high < 1, got {self.correlation}")
        if not 1 <= self.outlier_frames[0] <= self.outlier_frames[1]:
            raise ValueError(f"outlier_frames must be 1 <= low <= high, got {self.outlier_frames}")


def _ar1(rng: np.random.Generator, shape: tuple[int, ...], rho: np.ndarray) -> np.ndarray:
    """Unit-variance AR(1) noise along axis 1, coefficient ``rho (B, 1, 1, 1)``."""
    white = rng.normal(0.0, 1.0, shape)
    out = np.empty_like(white)
    out[:, 0] = white[:, 0]
    innovation = np.sqrt(1.0 - rho[:, 0] ** 2)
    for k in range(1, shape[1]):
        out[:, k] = rho[:, 0] * out[:, k - 1] + innovation * white[:, k]
    return out


def _outlier_runs(rng: np.random.Generator, b: int, t: int, j: int, o: NoiseOptions) -> np.ndarray:
    """Boolean ``(B, T, J)``: frames inside a run of gross errors."""
    starts = rng.random((b, t, j)) < o.outlier_prob
    length = rng.integers(o.outlier_frames[0], o.outlier_frames[1] + 1, (b, t, j))
    inside = np.zeros((b, t, j), dtype=bool)
    for bi, ti, ji in zip(*np.nonzero(starts), strict=True):
        inside[bi, ti : ti + length[bi, ti, ji], ji] = True
    return inside


def add_detector_noise(
    keypoints_px: np.ndarray,
    rng: np.random.Generator,
    options: NoiseOptions | None = None,
    image_size: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Noisy copy of ``(B, T, J, 2)`` pixel keypoints and a confidence ``(B, T, J)`` in [0, 1].

    ``image_size`` ``(B, 2)`` (width, height) enables the outside-the-image errors."""
    o = options or NoiseOptions()
    b, t, j, _ = keypoints_px.shape
    size = normalize.pose_size(keypoints_px)  # (B, T, 1, 1) pixels
    per_joint = np.ones(j) if j != skeleton.NUM_JOINTS else JOINT_JITTER
    scale = np.broadcast_to(per_joint[None, None, :, None], (b, 1, j, 1)).copy()
    poorly_seen = np.zeros((b, j), dtype=bool)
    if j == skeleton.NUM_JOINTS and o.limb_prob > 0:
        for bi in np.flatnonzero(rng.random(b) < o.limb_prob):
            limb = list(LIMBS[rng.integers(len(LIMBS))])
            poorly_seen[bi, limb] = True
            scale[bi, 0, limb] *= o.limb_jitter
    bias = rng.normal(0.0, o.bias_frac, (b, 1, j, 2))
    sigma = rng.uniform(*o.jitter_frac, (b, 1, 1, 1))
    rho = rng.uniform(*o.correlation, (b, 1, 1, 1))
    jitter = _ar1(rng, (b, t, j, 2), rho)
    runs = _outlier_runs(rng, b, t, j, o)
    run_offset = rng.normal(0.0, o.outlier_frac, (b, 1, j, 2))  # one displacement per run's joint
    gross = (run_offset + rng.normal(0.0, 0.2 * o.outlier_frac, (b, t, j, 2))) * runs[..., None]
    noisy = keypoints_px + size * (bias + sigma * scale * jitter + gross)
    confidence = np.clip(rng.normal(0.93, 0.06, (b, t, j)), 0.0, 1.0)
    confidence[np.broadcast_to(poorly_seen[:, None, :], (b, t, j))] *= rng.uniform(0.3, 0.8)
    confidence[runs] = rng.uniform(0.0, 0.5, int(runs.sum()))
    if image_size is not None:
        wh = np.asarray(image_size, dtype=np.float64)[:, None, None, :]
        outside_px = np.maximum(-keypoints_px, 0.0) + np.maximum(keypoints_px - wh, 0.0)  # (B, T, J, 2)
        distance = np.linalg.norm(outside_px, axis=-1)  # (B, T, J)
        out = distance > 0
        noisy += rng.normal(0.0, 1.0, noisy.shape) * (o.outside_frac * distance)[..., None]
        confidence[out] = np.minimum(confidence[out], rng.uniform(0.0, 0.4, int(out.sum())))
    return noisy, confidence

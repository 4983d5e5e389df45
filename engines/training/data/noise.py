"""2D noise that resembles MediaPipe's errors, so models do not only work on perfect 2D.

Per window: (1) a fixed per-joint bias (detectors and mocap disagree on where a hip or a
head is), (2) temporally correlated jitter (AR(1), ρ ≈ 0.6–0.9), (3) occasional gross
errors on single joints (a swapped or lost limb) with low confidence, all scaled by the
body's 2D size so they hold at any distance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ... import normalize


@dataclass
class NoiseOptions:
    bias_frac: float = 0.02  # std of per-joint bias, fraction of body size (RMS joint distance)
    jitter_frac: tuple[float, float] = (0.0, 0.04)  # per-window jitter std range, fraction of size
    correlation: tuple[float, float] = (0.6, 0.9)  # AR(1) coefficient range across frames
    outlier_prob: float = 0.01  # per joint and frame
    outlier_frac: float = 0.4  # gross error size, fraction of body size


def add_detector_noise(
    keypoints_px: np.ndarray, rng: np.random.Generator, options: NoiseOptions | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Noisy copy of ``(B, T, J, 2)`` pixel keypoints and a confidence ``(B, T, J)`` in [0, 1]."""
    o = options or NoiseOptions()
    b, t, j, _ = keypoints_px.shape
    size = normalize.pose_size(keypoints_px)  # (B, T, 1, 1) pixels
    bias = rng.normal(0.0, o.bias_frac, (b, 1, j, 2))
    sigma = rng.uniform(*o.jitter_frac, (b, 1, 1, 1))
    rho = rng.uniform(*o.correlation, (b, 1, 1, 1))
    white = rng.normal(0.0, 1.0, (b, t, j, 2))
    jitter = np.empty_like(white)
    jitter[:, 0] = white[:, 0]
    innovation = np.sqrt(1.0 - rho[:, 0] ** 2)
    for k in range(1, t):
        jitter[:, k] = rho[:, 0] * jitter[:, k - 1] + innovation * white[:, k]
    outliers = rng.random((b, t, j)) < o.outlier_prob
    gross = rng.normal(0.0, o.outlier_frac, (b, t, j, 2)) * outliers[..., None]
    noisy = keypoints_px + size * (bias + sigma * jitter + gross)
    confidence = np.clip(rng.normal(0.9, 0.08, (b, t, j)), 0.0, 1.0)
    confidence[outliers] = rng.uniform(0.0, 0.5, int(outliers.sum()))
    return noisy, confidence

"""Pose error metrics (numpy), VideoPose3D conventions. Shapes ``(N, 17, 3)``, any unit.

- MPJPE (protocol #1): mean Euclidean joint error after root alignment.
- N-MPJPE: after the scale that best fits the ground truth (Rhodin et al. 2018).
- P-MPJPE (protocol #2): after rigid Procrustes alignment with scale.
"""

from __future__ import annotations

import numpy as np

from . import skeleton


def mpjpe(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-sample MPJPE ``(N,)`` of root-relative poses."""
    return np.linalg.norm(skeleton.root_relative(pred) - skeleton.root_relative(gt), axis=-1).mean(-1)


def n_mpjpe(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-sample MPJPE after optimal per-sample scaling of the prediction ``(N,)``."""
    p, g = skeleton.root_relative(pred), skeleton.root_relative(gt)
    scale = (p * g).sum((-1, -2)) / np.maximum((p * p).sum((-1, -2)), 1e-12)
    return mpjpe(p * scale[:, None, None], g)


def p_mpjpe(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-sample MPJPE after similarity (rotation, scale, translation) alignment ``(N,)``."""
    mu_p, mu_g = pred.mean(1, keepdims=True), gt.mean(1, keepdims=True)
    p, g = pred - mu_p, gt - mu_g
    norm_p = np.linalg.norm(p, axis=(1, 2), keepdims=True)
    norm_g = np.linalg.norm(g, axis=(1, 2), keepdims=True)
    p, g = p / np.maximum(norm_p, 1e-12), g / np.maximum(norm_g, 1e-12)
    u, s, vt = np.linalg.svd(np.matmul(g.transpose(0, 2, 1), p))
    v = vt.transpose(0, 2, 1)
    r = np.matmul(v, u.transpose(0, 2, 1))
    # no reflections
    det = np.sign(np.linalg.det(r))[:, None]
    v[:, :, -1] *= det
    s[:, -1] *= det[:, 0]
    r = np.matmul(v, u.transpose(0, 2, 1))
    a = s.sum(-1, keepdims=True)[:, :, None] * norm_g / np.maximum(norm_p, 1e-12)
    aligned = a * np.matmul(pred - mu_p, r) + mu_g
    return np.linalg.norm(aligned - gt, axis=-1).mean(-1)


def acceleration(sequence: np.ndarray) -> np.ndarray:
    """Second difference over frames ``x(t+1) − 2x(t) + x(t−1)``: ``(F, ...)`` → ``(F − 2, ...)``
    (units per frame²)."""
    return sequence[2:] - 2 * sequence[1:-1] + sequence[:-2]


def acceleration_error(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean joint acceleration error over a sequence ``(F, 17, 3)`` (units per frame²)."""
    if len(pred) < 3:
        return float("nan")
    return float(np.linalg.norm(acceleration(pred) - acceleration(gt), axis=-1).mean())


def bone_length_cv(joints: np.ndarray) -> float:
    """Mean coefficient of variation of each bone's length over a sequence ``(F, 17, 3)``."""
    lengths = skeleton.bone_lengths(joints)
    return float((lengths.std(0) / np.maximum(lengths.mean(0), 1e-12)).mean())


#: (hip, knee, ankle) of the left and the right leg
LEGS = tuple(tuple(skeleton.JOINT_INDEX[f"{side}_{joint}"] for joint in ("hip", "knee", "ankle")) for side in "lr")


def angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle in degrees between vectors ``a`` and ``b`` ``(..., C)`` → ``(...)``."""
    cos = (a * b).sum(-1) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-12)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def knee_bend_deg(joints: np.ndarray) -> np.ndarray:
    """``(..., 2)`` the left and the right knee's bend (0° = a straight leg) from joints
    ``(..., 17, C)``, 2D or 3D."""
    return np.stack([angle_deg(joints[..., k, :] - joints[..., h, :], joints[..., a, :] - joints[..., k, :])
                     for h, k, a in LEGS], axis=-1)  # fmt: skip

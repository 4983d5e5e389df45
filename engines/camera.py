"""Camera-frame geometry shared by evaluation and the live path: metric scale and root placement.

Camera axes: x right, y down, z forward (away from the camera); 2D is intrinsics-normalised
(``x' = X/Z``, ``y' = Y/Z``, see :mod:`posecast.engines.normalize`). Pure numpy; every
function takes leading batch dimensions.
"""

from __future__ import annotations

import numpy as np

from . import skeleton

#: Below this weighted 2D spread (normalised units squared) the root depth is undetermined.
MIN_SPREAD = 1e-12


def metric_scale(
    joints_rel: np.ndarray, bone_lengths_m: np.ndarray, bone_weights: np.ndarray | None = None
) -> np.ndarray:
    """Factor that makes a pose ``(..., 17, 3)`` in arbitrary units metric: ``(...)``.

    ``sum(bone_lengths_m) / sum(bone lengths of the pose)``, over the 16 bones in
    :data:`skeleton.BONES` order; with ``bone_weights`` ``(16,)`` or ``(..., 16)`` both sums
    are weighted (e.g. zero for bones whose joints were not seen). A pose with no extent (or
    zero total weight) gives NaN.
    """
    lengths = skeleton.bone_lengths(joints_rel)
    reference = np.asarray(bone_lengths_m, dtype=np.float64)
    if bone_weights is None:
        num, den = np.sum(reference, axis=-1), np.sum(lengths, axis=-1)
    else:
        num = np.sum(bone_weights * reference, axis=-1)
        den = np.sum(bone_weights * lengths, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def solve_root_translation(
    joints_rel_m: np.ndarray, keypoints_norm: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """Camera-frame root position ``t`` ``(..., 3)`` in metres that places a root-relative pose.

    ``joints_rel_m`` ``(..., 17, 3)`` metres (any root-relative pose), ``keypoints_norm``
    ``(..., 17, 2)`` the observed normalised 2D, ``weights`` ``(17,)`` or ``(..., 17)``
    non-negative (e.g. 2D confidence; ``None``: all ones). The pinhole projection of
    ``joints_rel_m + t`` best matches the 2D in the linearised least-squares sense:
    ``u_i (Z_i + tz) = X_i + tx`` and ``v_i (Z_i + tz) = Y_i + ty``, 34 weighted equations in
    ``(tx, ty, tz)``, solved in closed form (``tx``, ``ty`` eliminated, then ``tz`` from the
    weighted covariances of ``u, v`` with ``uZ − X, vZ − Y``). With perfect data the answer is
    exact. It is not constrained to lie in front of the camera.

    Degenerate input gives NaN (no exception, so a batch keeps its other rows): all weights
    zero, or the weighted 2D points have no spread (fewer than two distinct weighted joints),
    which leaves the depth undetermined. The caller checks ``np.isfinite``.
    """
    joints_rel_m = np.asarray(joints_rel_m, dtype=np.float64)
    keypoints_norm = np.asarray(keypoints_norm, dtype=np.float64)
    if joints_rel_m.shape[-2:] != (skeleton.NUM_JOINTS, 3) or keypoints_norm.shape[-2:] != (
        skeleton.NUM_JOINTS,
        2,
    ):
        raise ValueError(
            f"expected joints (..., 17, 3) and keypoints (..., 17, 2), got {joints_rel_m.shape} "
            f"and {keypoints_norm.shape}"
        )
    u, v = keypoints_norm[..., 0], keypoints_norm[..., 1]
    bx = u * joints_rel_m[..., 2] - joints_rel_m[..., 0]  # u Z - X = tx - u tz
    by = v * joints_rel_m[..., 2] - joints_rel_m[..., 1]
    if weights is None:
        w = np.ones_like(u)
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape[-1] != skeleton.NUM_JOINTS:
            raise ValueError(f"expected weights (..., 17), got {w.shape}")
        if w.min() < 0:
            raise ValueError("weights must be non-negative (use 0 to ignore a joint)")
    if u.ndim == 1 and w.ndim == 1:
        return _solve_one(u, v, bx, by, w)
    w = np.broadcast_to(w, u.shape)
    # All weighted sums in one product: Σw·[1, u, v, bx, by, u² + v², u·bx + v·by].
    terms = np.stack([np.ones_like(u), u, v, bx, by, u * u + v * v, u * bx + v * by], axis=-1)
    sums = np.einsum("...j,...jk->...k", w, terms)
    total, su, sv, sbx, sby, suv2, sub = np.moveaxis(sums, -1, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_total = np.where(total > 0, 1.0 / np.where(total > 0, total, 1.0), np.nan)
        mu, mv, mbx, mby = su * inv_total, sv * inv_total, sbx * inv_total, sby * inv_total
        spread = suv2 - total * (mu * mu + mv * mv)  # Σw·|(u, v) − mean|²
        cov = sub - total * (mu * mbx + mv * mby)  # Σw·((u − ū)(bx − b̄x) + (v − v̄)(by − b̄y))
        tz = np.where(spread > MIN_SPREAD * total, -cov / np.where(spread > 0, spread, 1.0), np.nan)
    return np.stack([mbx + tz * mu, mby + tz * mv, tz], axis=-1)


def _solve_one(u: np.ndarray, v: np.ndarray, bx: np.ndarray, by: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The same solution for one pose with plain float arithmetic (the live path, ~3x faster)."""
    total = float(w.sum())
    if not total > 0:
        return np.full(3, np.nan)
    wu, wv = w * u, w * v
    mu, mv = float(wu.sum()) / total, float(wv.sum()) / total
    mbx, mby = float(w @ bx) / total, float(w @ by) / total
    spread = float(wu @ u + wv @ v) - total * (mu * mu + mv * mv)
    if not spread > MIN_SPREAD * total:
        return np.full(3, np.nan)
    tz = -(float(wu @ bx + wv @ by) - total * (mu * mbx + mv * mby)) / spread
    return np.array([mbx + tz * mu, mby + tz * mv, tz])


def onto_rays(joints_rel: np.ndarray, keypoints_norm: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """The pose that agrees with the observed 2D exactly: ``(..., 17, 3)`` camera frame, the
    units of ``joints_rel``.

    The root-relative pose ``(..., 17, 3)`` is placed by :func:`solve_root_translation` (with
    ``weights``), then every joint is moved along nothing but its image-plane position: onto its
    observed viewing ray ``(x', y', 1)`` at the depth the placed pose gave it. The 2D measures
    everything that lies across the view; the pose supplies only the depths. A bone seen across
    the view then has the length the image shows, whatever the lifter believed, and an error in
    a joint's depth changes a bone's length only through the bone's extent in depth. Rows whose
    root cannot be placed, or with a joint at or behind the camera, are NaN.
    """
    joints_rel = np.asarray(joints_rel, dtype=np.float64)
    keypoints_norm = np.asarray(keypoints_norm, dtype=np.float64)
    depth = (joints_rel + solve_root_translation(joints_rel, keypoints_norm, weights)[..., None, :])[..., 2]
    in_front = np.all(depth > 0, axis=-1, keepdims=True)  # False for NaN too
    depth = np.where(in_front, depth, np.nan)
    return np.concatenate([keypoints_norm * depth[..., None], depth[..., None]], axis=-1)


def angle_to_image_plane_deg(points_cam: np.ndarray, start: int, end: int) -> np.ndarray:
    """How far the segment ``start → end`` of camera-frame points ``(..., J, 3)`` turns out of
    the view, in degrees ``(...)``: 0 when it lies across the view (perpendicular to the viewing
    ray through its midpoint, so the image shows its whole length), 90 when it points along the
    ray (the image shows none of it). NaN for a segment of zero length or a midpoint at the camera.
    """
    points_cam = np.asarray(points_cam, dtype=np.float64)
    segment = points_cam[..., end, :] - points_cam[..., start, :]
    ray = 0.5 * (points_cam[..., end, :] + points_cam[..., start, :])
    with np.errstate(invalid="ignore", divide="ignore"):
        along = np.abs(np.sum(segment * ray, axis=-1)) / np.linalg.norm(segment, axis=-1) / np.linalg.norm(ray, axis=-1)
    return np.degrees(np.arcsin(np.clip(along, 0.0, 1.0)))

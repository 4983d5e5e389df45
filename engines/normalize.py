"""The 2D normalisation shared by training, export and the live pipeline.

Every function here is written with plain arithmetic and indexing so that one definition
serves numpy arrays (live path, data generation) and torch tensors (training, and the ONNX
graph, which traces it): there is exactly one copy of this maths.

Two steps (the paper, "Scale"):

1. :func:`normalize_pixels`: pixels → intrinsics-normalised camera coordinates
   ``x' = (x − cx) / fx``, ``y' = (y − cy) / fy`` so that ``x' = X/Z``, ``y' = Y/Z``.
2. :func:`canonicalize`: per frame, centre on the pelvis and divide by the pose's 2D size so
   its RMS joint distance from the pelvis is ``1 / CAMERA_DISTANCE`` (the released code's
   convention: the lifted pose then sits at depth ``CAMERA_DISTANCE``). This removes image
   position and apparent size; the scale network puts the size ambiguity back explicitly.

Centring is a rotation, not a shift (:func:`centre_on_root`): the 2D becomes what a camera
turned to look straight at the pelvis would see, the *root view*, so a person at the edge of a
wide-angle image reaches the lifter undistorted, exactly as if filmed straight ahead. (The
released code shifts the 2D, which is the same only to first order: 28° off-axis a shift
stretches the body sideways by 1/cos 28° ≈ 13 %.) The lifter's 3D is therefore in the root
view's axes; :func:`to_camera_axes` turns it into the real camera's (a subject 20° off-centre
would otherwise come out turned by 20°) and :func:`to_root_view` is its inverse.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Canonical camera distance ``c`` of the lifting network (the paper: c = 10).
CAMERA_DISTANCE = 10.0
#: Lower bound on the 2D size, to keep a degenerate pose (all joints on one point) finite.
MIN_SIZE = 1e-6

Array = Any  # numpy.ndarray or torch.Tensor: the functions below accept either


def normalize_pixels(keypoints_px: Array, intrinsics: Array) -> Array:
    """Pixels ``(..., J, 2)`` → normalised camera coordinates ``(..., J, 2)``.

    ``intrinsics`` is ``(fx, fy, cx, cy)`` in pixels, shape ``(4,)`` or ``(..., 4)`` matching
    the batch dimensions of ``keypoints_px`` (not the joint one).
    """
    if isinstance(keypoints_px, np.ndarray) and isinstance(intrinsics, np.ndarray):
        # the live path, once per frame and person: the same arithmetic, both axes in two calls
        return (keypoints_px - intrinsics[..., None, 2:4]) / intrinsics[..., None, 0:2]
    fx, fy = intrinsics[..., 0:1], intrinsics[..., 1:2]
    cx, cy = intrinsics[..., 2:3], intrinsics[..., 3:4]
    x = (keypoints_px[..., 0] - cx) / fx
    y = (keypoints_px[..., 1] - cy) / fy
    return _stack_last(x, y, keypoints_px)


def denormalize_pixels(keypoints_norm: Array, intrinsics: Array) -> Array:
    """Inverse of :func:`normalize_pixels`."""
    x = keypoints_norm[..., 0] * intrinsics[..., 0:1] + intrinsics[..., 2:3]
    y = keypoints_norm[..., 1] * intrinsics[..., 1:2] + intrinsics[..., 3:4]
    return _stack_last(x, y, keypoints_norm)


def pose_size(keypoints: Array, root: int = 0) -> Array:
    """RMS distance of the joints from the root, ``(..., J, 2|3)`` → ``(..., 1, 1)``."""
    centred = keypoints - keypoints[..., root : root + 1, :]
    mean_sq = (centred * centred).sum(-1).mean(-1)
    return (mean_sq[..., None, None] + MIN_SIZE * MIN_SIZE) ** 0.5


def canonicalize(keypoints_norm: Array, root: int = 0) -> Array:
    """Root-centre and size-normalise each frame: ``(..., J, 2)`` → ``(..., J, 2)``.

    The result has the root at the origin and an RMS joint distance of ``1 / CAMERA_DISTANCE``.
    """
    centred = centre_on_root(keypoints_norm, root)
    return centred / (pose_size(centred, root) * CAMERA_DISTANCE)


def centre_on_root(keypoints_norm: Array, root: int = 0) -> Array:
    """Normalised 2D ``(..., J, 2)`` as seen by the camera turned to look at the root (the root
    view): every viewing ray turned by :func:`to_root_view`'s rotation and projected again, so
    the root lands on ``(0, 0)``. Joints must lie within 90° of the root's ray (any real image)."""
    # the rotation below applied to the rays (x, y, 1), then divided by the new depth
    b_xy, b_z, k = _ray_terms(keypoints_norm[..., root : root + 1, :])
    along = _sum_last(keypoints_norm * b_xy)
    turned = (keypoints_norm - b_xy * (1.0 + k * along)) / (b_z + along)
    return turned - turned[..., root : root + 1, :]  # exactly 0, not rounding error


def project(joints_cam: Array, min_depth: float = 1e-3) -> Array:
    """Pinhole projection of camera-frame points ``(..., J, 3)`` to normalised ``(..., J, 2)``."""
    z = joints_cam[..., 2]
    z = np.maximum(z, min_depth) if isinstance(z, np.ndarray) else z.clamp_min(min_depth)
    return _stack_last(joints_cam[..., 0] / z, joints_cam[..., 1] / z, joints_cam)


def to_camera_axes(joints_root_view: Array, root_norm: Array) -> Array:
    """Root-relative 3D ``(..., J, 3)`` in the root view → the camera's axes.

    ``root_norm`` ``(..., 2)`` is the root's normalised 2D. The rotation is the smallest one
    taking the optical axis onto the root's viewing ray ``(x', y', 1)``.
    """
    return _rotate_about_ray(joints_root_view, root_norm, 1.0)


def camera_axes_matrix(root_norm: np.ndarray) -> np.ndarray:
    """:func:`to_camera_axes`' rotation as a ``(3, 3)`` matrix for one root's normalised 2D ``(2,)``
    (``points @ matrix.T`` turns a few points on the CPU: a fifth of the time of the graph's form
    for the five face points, on the per-frame path)."""
    x, y = float(root_norm[0]), float(root_norm[1])
    b_z = (x * x + y * y + 1.0) ** -0.5
    b_x, b_y = x * b_z, y * b_z
    k = 1.0 / (1.0 + b_z)
    return np.array([[1.0 - k * b_x * b_x, -k * b_x * b_y, b_x],
                     [-k * b_x * b_y, 1.0 - k * b_y * b_y, b_y],
                     [-b_x, -b_y, b_z]])  # fmt: skip


def to_root_view(joints_cam: Array, root_norm: Array) -> Array:
    """Inverse of :func:`to_camera_axes`: camera-axes 3D ``(..., J, 3)`` → the root view."""
    return _rotate_about_ray(joints_cam, root_norm, -1.0)


def _rotate_about_ray(joints: Array, root_norm: Array, sign: float) -> Array:
    # Rodrigues for a = (0, 0, 1) and b = the root's unit ray, R = I + [a×b]× + [a×b]×² / (1 + a·b),
    # multiplied out: R·(p, z) = (p + b_xy·(z − k·b_xy·p), b_z·z − b_xy·p) with k = 1 / (1 + b_z);
    # sign −1 applies Rᵀ. Vector form, few graph nodes: it runs inside the exported model.
    b_xy, b_z, k = _ray_terms(root_norm[..., None, :])
    xy, z = joints[..., :2], joints[..., 2:3]
    along = _sum_last(xy * b_xy)
    return _cat_last(xy + sign * b_xy * (z - sign * k * along), b_z * z - sign * along)


def _ray_terms(root_norm: Array) -> tuple[Array, Array, Array]:
    """``(..., 1, 2)`` root 2D → the unit ray's ``b_xy`` ``(..., 1, 2)``, ``b_z`` ``(..., 1, 1)``
    and ``k = 1 / (1 + b_z)``."""
    b_z = (_sum_last(root_norm * root_norm) + 1.0) ** -0.5
    return root_norm * b_z, b_z, 1.0 / (1.0 + b_z)


def _sum_last(x: Array) -> Array:
    if isinstance(x, np.ndarray):
        return x.sum(axis=-1, keepdims=True)
    return x.sum(dim=-1, keepdim=True)


def _cat_last(a: Array, b: Array) -> Array:
    if isinstance(a, np.ndarray):
        return np.concatenate([a, b], axis=-1)
    import torch

    return torch.cat([a, b], dim=-1)


def _stack_last(x: Array, y: Array, like: Array) -> Array:
    if isinstance(like, np.ndarray):
        return np.stack([x, y], axis=-1)
    import torch  # only reached with torch tensors, i.e. in training/export

    return torch.stack([x, y], dim=-1)

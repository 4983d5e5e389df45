"""Knees bend one way: a lifted knee bent backwards is mirrored in depth to bend forwards.

A nearly straight leg seen from the front looks the same in 2D whether its knee is bent
towards the camera or away from it; the lifter sometimes picks the wrong one, and a knee
bent backwards by 15° is a pose nobody can make (healthy knees hyperextend a few degrees).
:func:`mirror_backward_knees` takes the other answer the 2D allows: the knee's offset from
the hip–ankle line is split into a part along the viewing direction (depth, which the 2D
does not see) and a part across it (which the 2D sees), and the depth part changes sign.
Hip, ankle and both bone lengths are kept exactly; the knee moves in depth only, so the
pose still explains the 2D (exactly for a leg across the view, the usual case; the viewing
direction is the camera's z axis, a weak-perspective approximation of the knee's ray).

A knee is mirrored only when it bends backwards by more than ``max_backward_deg`` and the
mirrored knee bends forwards. In profile the bend is across the view, visible in 2D, and
mirroring the depth would not make it bend forwards: such a knee is left as the 2D says.
Backwards is against the body's facing direction (:func:`posecast.engines.skeleton.body_forward`,
the hips' left-to-right line × the torso's up, as training's augmentations use it): the
definition :mod:`posecast.realtime.compare` scores.
"""

from __future__ import annotations

import numpy as np

from . import metrics, skeleton

#: Healthy adult knees hyperextend up to about 5–10°; more than this is mirrored.
MAX_BACKWARD_DEG = 5.0
_HIPS, _KNEES, _ANKLES = (np.array(column) for column in zip(*metrics.LEGS, strict=True))  # left leg, right leg


def knee_offsets(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each knee's offset from its hip–ankle line ``(..., 2, 3)``, that line's point nearest the
    knee ``(..., 2, 3)`` and the line's direction, hip → ankle ``(..., 2, 3)``; left leg, right leg."""
    hips, knees = joints[..., _HIPS, :], joints[..., _KNEES, :]
    line = joints[..., _ANKLES, :] - hips
    along = ((knees - hips) * line).sum(-1, keepdims=True) / np.maximum((line * line).sum(-1, keepdims=True), 1e-12)
    foot = hips + along * line
    return knees - foot, foot, line


def _forwards(joints: np.ndarray) -> np.ndarray:
    """``(..., 1, 3)`` the body's facing direction (:func:`posecast.engines.skeleton.body_forward`),
    one per pose, against which each leg's knee offset is compared."""
    return skeleton.body_forward(joints)[..., None, :]


def knee_backward_deg(joints: np.ndarray) -> np.ndarray:
    """``(..., 2)`` how far each knee bends backwards (its bend in degrees when the knee lies
    behind the hip–ankle line against the body's facing direction, else 0)."""
    offsets, _, _ = knee_offsets(joints)
    return np.where((offsets * _forwards(joints)).sum(-1) < 0, metrics.knee_bend_deg(joints), 0.0)


def mirror_backward_knees(
    joints: np.ndarray, max_backward_deg: float = MAX_BACKWARD_DEG
) -> tuple[np.ndarray, np.ndarray]:
    """Joints ``(..., 17, 3)`` (camera axes, any origin) with every knee bent backwards by more
    than ``max_backward_deg`` mirrored in depth about its hip–ankle line (module docstring),
    and which knees were ``(..., 2)`` bool. The input is not changed."""
    offsets, foot, line = knee_offsets(joints)
    forward = _forwards(joints)
    behind = (offsets * forward).sum(-1) < 0
    if not behind.any():  # the usual case, checked first: the live path runs this every frame
        return joints.copy(), behind
    # the viewing direction's part across the leg: the depth the 2D cannot see
    axis = line / np.maximum(np.linalg.norm(line, axis=-1, keepdims=True), 1e-12)
    depth = np.array([0.0, 0.0, 1.0]) - axis[..., 2:3] * axis
    depth /= np.maximum(np.linalg.norm(depth, axis=-1, keepdims=True), 1e-12)
    mirrored = offsets - 2.0 * (offsets * depth).sum(-1, keepdims=True) * depth
    flip = behind & (metrics.knee_bend_deg(joints) > max_backward_deg) & ((mirrored * forward).sum(-1) > 0)
    out = joints.copy()
    out[..., _KNEES, :] = np.where(flip[..., None], foot + mirrored, joints[..., _KNEES, :])
    return out, flip

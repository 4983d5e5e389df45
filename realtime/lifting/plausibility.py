"""The plausibility gate: an absurd metric pose is never published; the person is ``lost`` instead.

The lifting stage places each person from whatever 2D it is given; keypoints at 1e12 pixels, one
joint far off the body or a broken camera model give a "pose" thousands of metres away or behind
the camera. :func:`implausibility` checks the finished metric pose, in the camera frame:

1. every number is finite (joints, root, and the confidently seen 2D that placed them);
2. the root is in front of the camera, ``min_depth_m <= z <= max_depth_m``, and at most
   ``max_off_axis_deg`` from the optical axis;
3. every joint is within reach of the root;
4. the pose explains the 2D: every confidently seen joint lies near its keypoint's viewing ray,
   within ``max_ray_miss_factor`` times the longest chain and within ``max_ray_angle_deg`` of it
   (a keypoint far off the body pulls the root towards the camera, where the other checks
   alone could pass).

The reach is ``reach_factor`` times the longest root-to-joint chain of the bone lengths in use
(no joint can be further from the pelvis along the skeleton). The limits are meant for absurd
poses only, not for a poor one: on the two test clips (real MediaPipe, every frame) the root was
1.2 to 3.6 m away and at most 16 degrees off the axis, joints at most 0.88 of the longest chain
from the root, and every seen joint within 0.28 of the longest chain (0.24 m) and 5.4 degrees of
its viewing ray.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...engines import skeleton
from ..errors import OptionsError


@dataclass(frozen=True)
class PlausibilityOptions:
    """Limits of a plausible pose (see the module docstring): the root's depth in metres
    (``0 < min_depth_m < max_depth_m``), its angle off the optical axis (0..90 degrees), the
    reach as a multiple (>= 1) of the longest root-to-joint chain, and how far a seen joint may
    lie from its keypoint's viewing ray (a multiple > 0 of that chain; 0..90 degrees)."""

    min_depth_m: float = 0.3
    max_depth_m: float = 50.0
    max_off_axis_deg: float = 85.0
    reach_factor: float = 1.5
    max_ray_miss_factor: float = 1.0
    max_ray_angle_deg: float = 30.0

    def __post_init__(self) -> None:
        if not 0.0 < self.min_depth_m < self.max_depth_m < math.inf:
            raise OptionsError(f"depth range must be 0 < min_depth_m < max_depth_m < inf, got "
                               f"{self.min_depth_m}..{self.max_depth_m}")  # fmt: skip
        if not 0.0 < self.max_off_axis_deg < 90.0:
            raise OptionsError(f"max_off_axis_deg must be between 0 and 90, got {self.max_off_axis_deg}")
        if not 1.0 <= self.reach_factor < math.inf:
            raise OptionsError(f"reach_factor must be at least 1, got {self.reach_factor}")
        if not 0.0 < self.max_ray_miss_factor < math.inf:
            raise OptionsError(f"max_ray_miss_factor must be positive, got {self.max_ray_miss_factor}")
        if not 0.0 < self.max_ray_angle_deg < 90.0:
            raise OptionsError(f"max_ray_angle_deg must be between 0 and 90, got {self.max_ray_angle_deg}")


def implausibility(
    joints_m: np.ndarray,
    root_m: np.ndarray,
    keypoints_norm: np.ndarray,
    seen: np.ndarray,
    bone_lengths_m: np.ndarray,
    options: PlausibilityOptions,
) -> str | None:
    """Why this pose is implausible, or ``None`` when it passes. ``joints_m`` ``(17, 3)`` and
    ``root_m`` ``(3,)`` metres in the camera frame; ``keypoints_norm`` ``(17, 2)`` the normalised
    2D that placed the root; ``seen`` ``(17,)`` bool, the keypoints that were trusted (weighted);
    ``bone_lengths_m`` ``(16,)`` the lengths in use."""
    seen_2d = keypoints_norm[seen]
    if not math.isfinite(float(joints_m.sum() + root_m.sum() + seen_2d.sum())):  # also: sums overflowing
        return "non-finite numbers"
    x, y, z = root_m.tolist()
    if not options.min_depth_m <= z <= options.max_depth_m:
        return (f"root {z:.3g} m in front of the camera, outside "
                f"{options.min_depth_m:g}..{options.max_depth_m:g} m")  # fmt: skip
    if math.hypot(x, y) > z * math.tan(math.radians(options.max_off_axis_deg)):
        angle = math.degrees(math.atan2(math.hypot(x, y), z))
        return f"root {angle:.0f} degrees off the camera's axis (at most {options.max_off_axis_deg:g})"
    chain = float((skeleton.ROOT_PATHS @ bone_lengths_m).max())
    offsets = joints_m - root_m
    furthest = math.sqrt(float(np.einsum("ij,ij->i", offsets, offsets).max()))
    if furthest > options.reach_factor * chain:
        return f"a joint {furthest:.3g} m from the root (reach {options.reach_factor * chain:.2f} m)"
    if not len(seen_2d):
        return None
    # each seen joint J against its keypoint's ray r = (u, v, 1): distance along it J.r/|r|, off it |J x r|/|r|
    joints = joints_m[seen]
    u, v = seen_2d[:, 0], seen_2d[:, 1]
    jx, jy, jz = joints[:, 0], joints[:, 1], joints[:, 2]
    ray_sq = u * u + v * v + 1.0
    along = (jx * u + jy * v + jz) / np.sqrt(ray_sq)
    joint_sq = jx * jx + jy * jy + jz * jz
    # behind the camera the nearest point of the ray is the camera itself
    miss = math.sqrt(float(np.where(along > 0.0, np.maximum(joint_sq - along * along, 0.0), joint_sq).max()))
    limit = options.max_ray_miss_factor * chain
    if miss > limit:
        return f"a joint {miss:.3g} m from its keypoint's viewing ray (at most {limit:.2f} m)"
    cosine = float((along / np.sqrt(np.maximum(joint_sq, 1e-24))).min())
    if cosine < math.cos(math.radians(options.max_ray_angle_deg)):
        angle = math.degrees(math.acos(max(-1.0, min(1.0, cosine))))
        return f"a joint {angle:.0f} degrees from its keypoint's viewing ray (at most {options.max_ray_angle_deg:g})"
    return None

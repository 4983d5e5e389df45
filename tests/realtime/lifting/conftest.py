"""A person with other proportions than the training skeleton, filmed walking by a random webcam."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from posecast.engines import normalize, skeleton
from posecast.engines.training.data.cameras import sample_cameras, turned_to_face
from posecast.engines.training.data.windows import rescale_bones

#: (normalised 2D (F, 17, 2), true bone lengths (16,), height in metres)
FilmedWalk = tuple[np.ndarray, np.ndarray, float]


@pytest.fixture(scope="session")
def filmed_walk(walk_joints: np.ndarray) -> Callable[..., FilmedWalk]:
    """``filmed_walk(hips=1.0, shoulders=1.0, facing=False, joint_offset_m=None)``: the walk by a
    person with legs 8 % long and arms 6 % short (the hip and shoulder widths × ``hips``,
    ``shoulders``) past a random webcam (or, ``facing``, turned to walk towards it), as the 2D the
    live pipeline lifts. ``joint_offset_m`` ``(17, 3)``: where the 2D puts each joint, off the
    true one by this constant offset in the camera's axes (a detector's idea of a hip or a head)."""

    def film(hips: float = 1.0, shoulders: float = 1.0, facing: bool = False,
             joint_offset_m: np.ndarray | None = None) -> FilmedWalk:  # fmt: skip
        factors = np.ones(len(skeleton.BONES))
        for i, name in enumerate(skeleton.BONE_NAMES):
            if "knee" in name:
                factors[i] = 1.08
            elif "elbow" in name or "wrist" in name:
                factors[i] = 0.94
            elif name.endswith("hip") and i in skeleton.WIDTH_BONES:
                factors[i] = hips
            elif name.endswith("shoulder") and i in skeleton.WIDTH_BONES:
                factors[i] = shoulders
        world = rescale_bones(walk_joints.astype(np.float64)[None], factors[None])  # (1, F, 17, 3)
        cameras = sample_cameras(world[:, :, skeleton.ROOT].mean(1), np.random.default_rng(5))
        if facing:
            world = turned_to_face(world[0], cameras)[None]
        seen = cameras.to_camera(world)
        if joint_offset_m is not None:
            seen = seen + skeleton.derive_axial(joint_offset_m.copy())  # the derived joints: the detector's midpoints
        true_lengths = np.median(skeleton.bone_lengths(world[0]), axis=0)
        return normalize.project(seen)[0], true_lengths, skeleton.height_from_bone_lengths(true_lengths)

    return film

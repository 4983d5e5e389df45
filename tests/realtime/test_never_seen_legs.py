"""The avatar's legs that a desk's webcam never sees (README "Drive an avatar"): the dance clip
cut to her head and shoulders, through the real pipeline (MediaPipe, the lifter, the avatar world)
and ``posecast export --bvh``. MediaPipe guesses her legs there; the avatar followed the guess,
which turned a thigh or shin over 90 degrees in a frame 21 times in 4 s and stood her ankles up to
0.15 m under the floor. The legs now follow the guess calmed and bent to keep the ankles above
the floor, at 30 fps as at 5."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from bone_turns import bvh_bone_steps, turn_deg
from posecast.calibration import floor as fl
from posecast.engines import skeleton
from posecast.engines.training.data.bvh import load_bvh_joints
from posecast.realtime import cli
from posecast.realtime.assemble import PipelineOptions, build_pipeline
from posecast.realtime.detectors.mediapipe import MediaPipeOptions
from posecast.realtime.sources.images import ImageFolderSource

pytestmark = pytest.mark.slow

J = skeleton.JOINT_INDEX
LEGS = [J[name] for name in ("r_knee", "r_ankle", "l_knee", "l_ankle")]  # thighs and shins, by their end joints
ANKLES = [J["l_ankle"], J["r_ankle"]]


def head_and_shoulders(media_dir: Path, folder: Path, every: int = 1) -> Path:
    """Every ``every``-th frame of the dance clip cut to her head and shoulders (rows 120-270,
    columns 150-430, scaled x2: 560 x 300; her arms out of view but when raised), as images."""
    folder.mkdir()
    capture = cv2.VideoCapture(str(media_dir / "dance_576.mp4"))
    i = 0
    while (read := capture.read())[0]:
        if i % every == 0:
            cut = cv2.resize(read[1][120:270, 150:430], (560, 300), interpolation=cv2.INTER_LINEAR)
            cv2.imwrite(str(folder / f"{i:03d}.png"), cut)
        i += 1
    capture.release()
    return folder


def direction_steps_deg(joints: np.ndarray) -> np.ndarray:
    """``(F - 1, 4)`` each leg bone's turn in the world from the frame before, of joints ``(F, 17, 3)``."""
    bones = joints[:, LEGS] - joints[:, [skeleton.PARENTS[j] for j in LEGS]]
    bones /= np.linalg.norm(bones, axis=-1, keepdims=True)
    return np.degrees(np.arccos(np.clip((bones[:-1] * bones[1:]).sum(-1), -1.0, 1.0)))


@pytest.mark.parametrize("every, fps", [(1, 30.0), (6, 5.0)])
def test_legs_never_seen_follow_the_guess_calmly_and_above_the_floor(
        every: int, fps: float, media_dir: Path, pose_model_path: Path, tmp_path: Path) -> None:  # fmt: skip
    folder = head_and_shoulders(media_dir, tmp_path / "cut", every)
    options = PipelineOptions(detector_options=MediaPipeOptions(model_path=str(pose_model_path)))
    legs, seen, posed, lifted, heights = [], [], [], [], []
    with build_pipeline(options) as pipeline, ImageFolderSource(folder, fps=fps) as source:
        for frame in pipeline.run(source):
            person = frame.world.people[0]
            legs.append(person.bones.rotations[0, LEGS])
            seen.append(person.limb_view.bones_seen()[:4])  # (the legs' bones come first)
            posed.append(person.posed_joints_world_m)
            lifted.append(person.joints_world_m)
            heights.append(skeleton.height_from_bone_lengths(person.bones.bone_lengths_m))
    legs, posed, lifted = np.array(legs), np.array(posed), np.array(lifted)
    assert len(legs) == 120 // every and not np.array(seen).any()  # her legs never seen
    ankle_m = fl.ANKLE_HEIGHT_FRACTION * np.array(heights)  # a standing ankle's height above the floor
    # MediaPipe's guess, as lifted: flailing and through the floor
    assert direction_steps_deg(lifted).max() > 90.0
    assert lifted[:, ANKLES, 1].min() < -0.05
    # the avatar's legs: calm on the hips (the guess turned them up to 175 degrees a frame), and in
    # the world, where the guessed hips turn them too; the ankles above the floor
    assert turn_deg(legs[:-1], legs[1:]).max() < (10.0 if fps == 30.0 else 30.0)
    assert direction_steps_deg(posed).max() < (30.0 if fps == 30.0 else 45.0)
    assert (posed[:, ANKLES, 1] >= ankle_m[:, None] - 1e-6).all()


def bvh_legs(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A BVH's leg bones' turns on their parents from frame to frame ``(F - 1, 4)`` degrees, and
    its joints ``(F, 17, 3)``."""
    return bvh_bone_steps(path, LEGS), load_bvh_joints(path)[0]


def test_the_bvh_of_a_desk_take_keeps_the_legs_never_seen_calm_and_above_the_floor(media_dir: Path,
                                                                                   pose_model_path: Path,
                                                                                   tmp_path: Path) -> None:  # fmt: skip
    """``posecast export --bvh`` calms the legs never seen as the live avatar does, on the take's
    floor; ``--no-limb-hold``: the lifted guess, flailing and through the floor."""
    folder = head_and_shoulders(media_dir, tmp_path / "cut")
    take = tmp_path / "desk.posecast"
    assert cli.main(["run", "--source", str(folder), "--headless", "--publish", "none", "--model-asset",
                     str(pose_model_path), "--record", str(take)]) == 0  # fmt: skip
    for flag, bvh in (([], tmp_path / "held.bvh"), (["--no-limb-hold"], tmp_path / "free.bvh")):
        assert cli.main(["export", str(take), "--bvh", str(bvh), *flag]) == 0
    (held, joints), (free, free_joints) = bvh_legs(tmp_path / "held.bvh"), bvh_legs(tmp_path / "free.bvh")
    assert len(held) == 119
    assert free.max() > 90.0 and free_joints[:, ANKLES, 1].min() < -0.05  # the guess
    assert held.max() < 10.0
    lengths = np.linalg.norm(joints[0, 1:] - joints[0, np.array(skeleton.PARENTS[1:])], axis=-1)
    ankle_m = fl.ANKLE_HEIGHT_FRACTION * skeleton.height_from_bone_lengths(lengths)
    assert joints[:, ANKLES, 1].min() >= ankle_m - 1e-4  # (the BVH's 6 decimals)

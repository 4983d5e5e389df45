"""The avatar holds an arm that leaves the image (README "At a desk"): the dance clip slid
sideways until her right arm is out at the left edge, through the real pipeline (MediaPipe, the
lifter, the avatar world). Without the hold her upper arm swung 165 degrees in one frame there
(MediaPipe scores her elbow, 1 px outside, 0.88)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from posecast.engines import skeleton
from posecast.realtime import cli
from posecast.realtime.assemble import PipelineOptions, build_pipeline
from posecast.realtime.avatar_arguments import avatar_options
from posecast.realtime.detectors.mediapipe import MediaPipeOptions
from posecast.realtime.sources import open_source
from scipy.spatial.transform import Rotation

J = skeleton.JOINT_INDEX
ARM = [J["r_elbow"], J["r_wrist"]]  # the right upper arm and forearm, by the joints they end at
#: frame → pixels the image is slid left: in place, out by frame 30, held, back in by frame 60
SLIDE = ([0, 10, 30, 45, 60], [0, 0, 280, 280, 0])
FRAMES = 80


def slid_dance(media_dir: Path, folder: Path) -> Path:
    folder.mkdir()
    capture = cv2.VideoCapture(str(media_dir / "dance_576.mp4"))
    for i in range(FRAMES):
        image = capture.read()[1]
        shift = int(np.interp(i, *SLIDE))
        slid = np.zeros_like(image)
        slid[:, : image.shape[1] - shift] = image[:, shift:]
        cv2.imwrite(str(folder / f"{i:03d}.png"), slid)
    capture.release()
    return folder


def turn_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.degrees((Rotation.from_quat(a).inv() * Rotation.from_quat(b)).magnitude())


def test_an_arm_out_of_the_image_holds_and_follows_again(media_dir: Path, pose_model_path: Path,
                                                         tmp_path: Path) -> None:  # fmt: skip
    folder = slid_dance(media_dir, tmp_path / "slid")
    options = PipelineOptions(detector_options=MediaPipeOptions(model_path=str(pose_model_path)))
    local, posed, live, out = [], [], [], []
    with build_pipeline(options) as pipeline, open_source(str(folder)) as source:
        for frame in pipeline.run(source):
            person, seen = frame.world.people[0], frame.tracked[0]
            width, height = frame.image_size
            px = seen.keypoints_px[[J["r_shoulder"], *ARM]]
            out.append(bool(((px < 0) | (px > [width - 1, height - 1])).any()))
            local.append(person.bones.rotations[0, ARM])
            posed.append(person.posed_joints_world_m)
            live.append(person.joints_world_m)
    assert len(local) == FRAMES
    out, local, posed, live = np.array(out), np.array(local), np.array(posed), np.array(live)
    steps = turn_deg(local[:-1], local[1:])  # (F - 1, 2): each bone's turn from the frame before
    assert out.sum() >= 15  # the arm was out of the image for half a second and more
    assert steps[out[1:]].max() < 1.0  # held: it swung 165 degrees in a frame
    # the lifter's own arm did swing there (what the hold keeps from the avatar)
    elbow = live[:, J["r_elbow"]] - live[:, J["r_shoulder"]]
    held = posed[:, J["r_elbow"]] - posed[:, J["r_shoulder"]]
    cosine = (elbow * held).sum(-1) / np.linalg.norm(elbow, axis=-1) / np.linalg.norm(held, axis=-1)
    assert np.degrees(np.arccos(np.clip(cosine[out], -1, 1))).max() > 45.0
    # back in view it eases over 0.2 s (no step over 30 degrees) and then follows the lifted arm
    back = np.flatnonzero(out)[-1] + 1
    assert steps[back:].max() < 30.0
    np.testing.assert_allclose(posed[back + 12 :], live[back + 12 :], atol=1e-6)


@pytest.mark.parametrize("flag, held", [([], True), (["--no-limb-hold"], False)])
def test_no_limb_hold_lets_the_limbs_follow(flag: list[str], held: bool) -> None:
    parser = cli.build_parser()
    args = parser.parse_args(["run", "--source", "0", *flag])
    assert (avatar_options(args).limb_hold is not None) is held

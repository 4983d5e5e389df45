"""The avatar holds an arm that leaves the image (README "At a desk"), and relaxes it to rest when
it stays out: the dance clip slid sideways until her right arm is out at the left edge, through
the real pipeline (MediaPipe, the lifter, the avatar world). Without the hold her upper arm swung
165 degrees in one frame there (MediaPipe scores her elbow, 1 px outside, 0.88)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from bone_turns import bvh_bone_steps, turn_deg
from posecast.engines import limb_hold, skeleton
from posecast.realtime import cli
from posecast.realtime.assemble import PipelineOptions, build_pipeline
from posecast.realtime.avatar_arguments import avatar_options
from posecast.realtime.detectors.mediapipe import MediaPipeOptions
from posecast.realtime.recording import read_recording
from posecast.realtime.recording.arrays import person_track
from posecast.realtime.recording.export import LIMB_HOLD
from posecast.realtime.sources import open_source
from posecast.realtime.sources.images import ImageFolderSource
from scipy.spatial.transform import Rotation
from whole_take import limbs_seen, resampled_bvh, subject_bone_lengths, world_joints

J = skeleton.JOINT_INDEX
ARM = [J["r_elbow"], J["r_wrist"]]  # the right upper arm and forearm, by the joints they end at
#: frame → pixels the image is slid left: in place, out by frame 30, held, back in by frame 60
SLIDE = ([0, 10, 30, 45, 60], [0, 0, 280, 280, 0])
FRAMES = 80


#: her right arm raised (frames 40-70), slid out as it is and kept out for over 3 s: the 4 s clip
#: played forwards, then backwards from its end
SLIDE_RAISED = ([0, 40, 50, 150], [0, 0, 280, 280])
FRAMES_RAISED = 150


def slid_dance(media_dir: Path, folder: Path, slide: tuple[list[int], list[int]] = SLIDE, frames: int = FRAMES,
               clip: str = "dance_576.mp4", gap: tuple[int, int] = (0, 0)) -> Path:  # fmt: skip
    """The clip's first ``frames`` (then played backwards) slid left by ``slide`` (frame → px), as
    images in ``folder``; ``gap`` (frame, count): that many black frames before that frame."""
    folder.mkdir()
    capture = cv2.VideoCapture(str(media_dir / clip))
    images = []
    while len(images) < frames and (read := capture.read())[0]:
        images.append(read[1])
    capture.release()
    images += images[-2::-1]  # (back and forth, for more frames than the clip's 120)
    for i in range(frames):
        image = images[i]
        shift = int(np.interp(i, *slide))
        slid = np.zeros_like(image)
        slid[:, : image.shape[1] - shift] = image[:, shift:]
        if i == gap[0]:
            for k in range(gap[1]):  # nobody in view
                cv2.imwrite(str(folder / f"{i - 1:03d}_{k:03d}.png"), np.zeros_like(image))  # (after i - 1's)
        cv2.imwrite(str(folder / f"{i:03d}.png"), slid)
    return folder


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


def test_an_arm_out_of_the_image_for_3_s_relaxes_to_hang_beside_the_body(media_dir: Path, pose_model_path: Path,
                                                                        tmp_path: Path) -> None:  # fmt: skip
    """Her right arm slid out raised and kept out: held 1 s (``rest_after_s``), then turned down to
    hang beside her body over 0.5 s at under 20 degrees a frame, and hanging there, the forearm
    straight, while the lifter's arm swings on (README "Limbs out of view")."""
    folder = slid_dance(media_dir, tmp_path / "slid", SLIDE_RAISED, FRAMES_RAISED)
    options = PipelineOptions(detector_options=MediaPipeOptions(model_path=str(pose_model_path)))
    local, chest, posed, seen, times_s = [], [], [], [], []
    with build_pipeline(options) as pipeline, open_source(str(folder)) as source:
        for frame in pipeline.run(source):
            person = frame.world.people[0]
            local.append(person.bones.rotations[0, ARM])
            chest.append(person.bones.world_rotations()[0, J["thorax"]])
            posed.append(person.posed_joints_world_m)
            seen.append(person.limb_view.bones_seen()[limb_hold.LIMB_JOINTS.index(J["r_elbow"])])
            times_s.append(frame.timestamp_ns / 1e9)
    assert len(local) == FRAMES_RAISED
    local, posed, seen, times_s = np.array(local), np.array(posed), np.array(seen), np.array(times_s)
    lost = int(np.flatnonzero(~seen)[0])
    assert 40 <= lost <= 55 and not seen[lost:].any()  # out raised, and for 3 s
    assert times_s[-1] - times_s[lost] > 3.0
    steps = turn_deg(local[:-1], local[1:])  # (F - 1, 2): each bone's turn on its parent from the frame before
    out_for_s = times_s[1:] - times_s[lost]
    assert steps[(out_for_s > 0) & (out_for_s <= 1.0 + 1e-3)].max() < 1e-6  # held for rest_after_s
    assert steps[out_for_s > 0].max() < 20.0  # no jump out of view (the lifter's arm turned up to 68 degrees a frame)
    upper = posed[:, J["r_elbow"]] - posed[:, J["r_shoulder"]]
    fore = posed[:, J["r_wrist"]] - posed[:, J["r_elbow"]]
    in_chest = Rotation.from_quat(chest).inv()
    upper = in_chest.apply(upper / np.linalg.norm(upper, axis=1)[:, None])
    fore = in_chest.apply(fore / np.linalg.norm(fore, axis=1)[:, None])
    raised = np.degrees(np.arccos(-upper[lost - 1, 1]))
    assert raised > 90.0  # her arm was above the shoulder when it left
    at_rest = times_s - times_s[lost] >= 1.5 - 1e-3
    hanging = [-np.sin(np.radians(10.0)), -np.cos(np.radians(10.0)), 0.0]
    np.testing.assert_allclose(upper[at_rest], np.broadcast_to(hanging, upper[at_rest].shape), atol=1e-6)
    np.testing.assert_allclose(fore[at_rest], np.broadcast_to(hanging, fore[at_rest].shape), atol=1e-6)


#: her right arm out at the left edge from frame 50 (slid 240 px: MediaPipe finds her again from
#: nothing there, not at 280), then she is gone for 1.3 s (40 black frames before frame 55)
SLIDE_GAP, GAP = ([0, 40, 50, 150], [0, 0, 240, 240]), (55, 40)


def test_someone_back_after_their_id_was_forgotten_eases_the_arm_out_of_view_to_rest(
        media_dir: Path, pose_model_path: Path, tmp_path: Path) -> None:  # fmt: skip
    """Her arm out of view, she is gone for longer than the tracker keeps her id (1 s) and back as
    a new person with the arm still out: their chain of frames restarts, and the arm counted as
    never seen went to rest in one frame from where the avatar showed it, 147 degrees on her
    shoulder (README "Limbs out of view"). It goes on from what was shown: 0 degrees across the
    gap, then down to rest over 0.5 s."""
    folder = slid_dance(media_dir, tmp_path / "slid", SLIDE_GAP, 105, gap=GAP)
    options = PipelineOptions(detector_options=MediaPipeOptions(model_path=str(pose_model_path)))
    ids, local, upper, chest, seen, times_s = [], [], [], [], [], []
    with build_pipeline(options) as pipeline, open_source(str(folder)) as source:
        for frame in pipeline.run(source):
            if not frame.world.people:
                continue
            person = frame.world.people[0]
            ids.append(person.person_id)
            local.append(person.bones.rotations[0, ARM])
            posed = person.posed_joints_world_m
            upper.append(posed[J["r_elbow"]] - posed[J["r_shoulder"]])
            chest.append(person.bones.world_rotations()[0, J["thorax"]])
            seen.append(person.limb_view.bones_seen()[limb_hold.LIMB_JOINTS.index(J["r_elbow"])])
            times_s.append(frame.timestamp_ns / 1e9)
    ids, local, seen, times_s = np.array(ids), np.array(local), np.array(seen), np.array(times_s)
    back = int(np.flatnonzero(ids != ids[0])[0])  # the first frame of her new id
    assert back == GAP[0] and len(ids) == 105 and (ids[back:] == ids[back]).all()
    assert times_s[back] - times_s[back - 1] > 1.0 and not seen[back - 5 :].any()  # gone 1.3 s, the arm out
    steps = turn_deg(local[:-1], local[1:])  # (F - 1, 2): each bone's turn on its parent from the frame before
    assert steps[back - 1].max() < 1e-6  # across the gap: as shown (147 degrees on the shoulder before)
    assert steps[back:].max() < 20.0  # down to rest over 0.5 s
    in_chest = Rotation.from_quat(chest).inv().apply(np.array(upper) / np.linalg.norm(upper, axis=1)[:, None])
    hanging = [-np.sin(np.radians(10.0)), -np.cos(np.radians(10.0)), 0.0]
    assert np.degrees(np.arccos(np.dot(in_chest[back - 1], hanging))) > 45.0  # shown away from the rest
    np.testing.assert_allclose(in_chest[back + 15 :], np.broadcast_to(hanging, in_chest[back + 15 :].shape), atol=1e-6)


#: the squats clip (5 fps): her right arm out at the left edge from frame 22 (standing), back in
#: from frame 31 (squatting, her hands forward)
SLIDE_SQUATS = ([0, 20, 22, 30, 32, 65], [0, 0, 300, 300, 0, 0])


def test_at_5_fps_an_arm_seen_again_eases_back_over_3_frames(media_dir: Path, pose_model_path: Path,
                                                             tmp_path: Path) -> None:  # fmt: skip
    """At 5 fps the 0.2 s ease back was one frame: the squats clip slid so that her right arm is
    out while she stands and back in as she squats turned her avatar's upper arm 74 degrees in one
    frame and her forearm 85 (README "Limbs out of view"). An ease takes 3 frames at the least:
    a third of the turn a frame, each step within the clip's own (up to 35 degrees a frame)."""
    folder = slid_dance(media_dir, tmp_path / "slid", SLIDE_SQUATS, 65, "squats_720x1280.mp4")
    options = PipelineOptions(detector_options=MediaPipeOptions(model_path=str(pose_model_path)))
    local, posed, live, seen = [], [], [], []
    with build_pipeline(options) as pipeline, ImageFolderSource(folder, fps=5.0) as source:
        for frame in pipeline.run(source):
            person = frame.world.people[0]
            local.append(person.bones.rotations[0, ARM])
            posed.append(person.posed_joints_world_m)
            live.append(person.joints_world_m)
            seen.append(person.limb_view.bones_seen()[limb_hold.LIMB_JOINTS.index(J["r_elbow"])])
    assert len(local) == 65
    local, posed, live, seen = np.array(local), np.array(posed), np.array(live), np.array(seen)
    lost, back = int(np.flatnonzero(~seen)[0]), int(np.flatnonzero(~seen)[-1]) + 1
    assert 21 <= lost <= 23 and back - lost >= 6 and seen[back:].all()
    steps = turn_deg(local[:-1], local[1:])  # (F - 1, 2): each bone's turn on its parent from the frame before
    assert steps[lost:].max() < 40.0
    assert steps[back : back + 3, 0].min() > 15.0  # the upper arm's catch-up (74 degrees) spread over 3 frames
    np.testing.assert_allclose(posed[back + 3 :], live[back + 3 :], atol=1e-6)  # then on the lifted arm


@pytest.mark.parametrize("flag, held", [([], True), (["--no-limb-hold"], False)])
def test_no_limb_hold_lets_the_limbs_follow(flag: list[str], held: bool) -> None:
    parser = cli.build_parser()
    args = parser.parse_args(["run", "--source", "0", *flag])
    assert (avatar_options(args).limb_hold is not None) is held


def bvh_arm_steps(path: Path) -> np.ndarray:
    """``(F - 1, 2)`` degrees: each frame's turn of the BVH's right upper arm and forearm on their
    parents from the frame before."""
    return bvh_bone_steps(path, ARM)


def test_the_bvh_of_a_take_holds_an_arm_out_of_the_image(media_dir: Path, pose_model_path: Path,
                                                         tmp_path: Path) -> None:  # fmt: skip
    """``posecast export --bvh`` holds the arm as the live avatar does (before: the BVH's upper arm
    swung 165 degrees in a frame with the elbow out); ``--no-limb-hold``: it follows the joints.
    The take's BVH is one frame a recorded frame (a folder's media time); the resampled path (a
    live take's uneven stamps) holds it too."""
    folder = slid_dance(media_dir, tmp_path / "slid")
    take = tmp_path / "slid.posecast"
    assert cli.main(["run", "--source", str(folder), "--headless", "--publish", "none", "--model-asset",
                     str(pose_model_path), "--record", str(take)]) == 0  # fmt: skip
    recording = read_recording(take)
    track = person_track(recording)
    assert len(recording.frames) == FRAMES and track.posed.all()
    size = np.array([f.image_size for f in recording.frames])[:, None]  # (F, 1, 2)
    px = track.keypoints_px[:, [J["r_shoulder"], *ARM]]
    out = ((px < 0) | (px > size - 1)).any(axis=(1, 2))
    assert out.sum() >= 15  # the arm was out of the image for half a second and more
    back = np.flatnonzero(out)[-1] + 1
    for flag, bvh in (([], tmp_path / "held.bvh"), (["--no-limb-hold"], tmp_path / "free.bvh")):
        assert cli.main(["export", str(take), "--bvh", str(bvh), *flag]) == 0
    held, free = bvh_arm_steps(tmp_path / "held.bvh"), bvh_arm_steps(tmp_path / "free.bvh")
    assert len(held) == FRAMES - 1
    assert free[out[1:]].max() > 45.0  # the lifter's arm swung there (what the hold keeps from the BVH)
    assert held[out[1:]].max() < 1.0  # held
    assert held[back:].max() < 30.0  # eased back in 0.2 s
    np.testing.assert_allclose(held[back + 12 :], free[back + 12 :], atol=1e-3)  # then following again
    # a live take's uneven stamps, resampled: held there too (steps of 1 and 2 frames at 30 fps)
    lengths = subject_bone_lengths(track)
    joints, ear_lines, _ = world_joints(recording, track, lengths)
    times_s = np.cumsum([0.0, *np.where(np.arange(FRAMES - 1) % 3 == 0, 2 / 30, 1 / 30)])
    text, frames, *_ = resampled_bvh(joints, times_s, 30.0, "world", lengths, ear_lines,
                                     limbs_seen(recording, track, LIMB_HOLD), LIMB_HOLD)  # fmt: skip
    (tmp_path / "resampled.bvh").write_text(text)
    steps = bvh_arm_steps(tmp_path / "resampled.bvh")
    grid_out = np.interp(np.arange(frames) / 30.0, times_s, out.astype(float)) == 1.0  # between two frames out
    assert grid_out.sum() >= 15 and steps[grid_out[1:] & grid_out[:-1]].max() < 1.0

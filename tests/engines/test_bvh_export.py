"""BVH export: read back by the project's BVH parser and by real Blender (Debian's ``blender``
in background mode), every joint within 1 mm of the poses written, in every engine frame."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from posecast.engines import frames as engine_frames
from posecast.engines import rotations as rot
from posecast.engines import skeleton
from posecast.engines.bvh_export import CHUNK_FRAMES, hierarchy, joints_to_bvh, joints_to_bvh_pieces, shown_frames
from posecast.engines.limb_hold import LimbHoldOptions
from posecast.engines.training.data.bvh import load_bvh_joints, parse_bvh
from scipy.spatial.transform import Rotation

CMU = Path(__file__).resolve().parents[1] / "fixtures" / "cmu"
BLENDER = shutil.which("blender")
BLENDER_SCRIPT = Path(__file__).with_name("blender_read_bvh.py")
J = skeleton.JOINT_INDEX

HOLD = LimbHoldOptions()  # the avatar outputs' limb hold, as export's


@pytest.fixture(scope="module")
def run_joints() -> tuple[np.ndarray, np.ndarray]:
    """A real CMU run (09_01, 120 fps) as posecast joints in the world frame (y up, metres),
    rebuilt with one set of bone lengths as the live pipeline publishes them, and those lengths."""
    joints, _ = load_bvh_joints(CMU / "09_01.bvh")
    lengths = np.median(skeleton.bone_lengths(joints), axis=0)
    return rot.joints_to_rotations(joints, lengths).joints(), lengths


def heads_by_joint(positions: dict[str, np.ndarray]) -> dict[int, np.ndarray]:
    """BVH joint name → positions ``(F, 3)`` to posecast joint → positions (each joint is the
    head of one or more BVH joints: every one of them is returned, stacked)."""
    out: dict[int, list[np.ndarray]] = {}
    for joint in hierarchy():
        out.setdefault(joint.head_joint, []).append(positions[joint.name])
    return {j: np.stack(v) for j, v in out.items()}


def test_hierarchy_has_a_head_at_every_joint() -> None:
    joints = hierarchy()
    assert len(joints) == 22 and len({j.name for j in joints}) == 22
    assert {j.head_joint for j in joints} == set(range(skeleton.NUM_JOINTS))
    assert [j.name for j in joints if j.bone is None] == ["RightFoot", "LeftFoot", "Head", "LeftHand", "RightHand"]


@pytest.mark.parametrize("frame", ["world", "blender", "unity", "unreal", "godot"])
def test_parsed_back_within_a_millimetre(run_joints, tmp_path: Path, frame: str) -> None:
    joints, lengths = run_joints
    text, held = joints_to_bvh(joints, 120.0, frame, lengths)
    assert held == 0
    path = tmp_path / "run.bvh"
    path.write_text(text)
    motion = parse_bvh(path)
    assert motion.fps == pytest.approx(120.0, rel=1e-6) and motion.motion.shape[0] == len(joints)
    positions = motion.world_positions()
    target = engine_frames.get_frame(frame)
    expected = engine_frames.positions_to_frame(joints, target) / target.units_per_m
    by_name = {name: positions[:, k] / target.units_per_m for k, name in enumerate(motion.names)}
    worst = max(np.abs(got - expected[:, j]).max() for j, got in heads_by_joint(by_name).items())
    assert worst < 1e-3, f"{frame}: {worst * 1000:.3f} mm"
    # the hierarchy carries the subject's bone lengths (OFFSETs, in the frame's units)
    offsets = np.linalg.norm(motion.offsets, axis=1) / target.units_per_m
    assert offsets[motion.names.index("RightLeg")] == pytest.approx(lengths[skeleton.BONE_NAMES.index("r_hip-r_knee")])


def test_training_reads_an_export_back_as_posecast_joints(run_joints, tmp_path: Path) -> None:
    """`posecast export --bvh` output in a training folder: read at metre scale, every frame, the
    limbs and head where they were (before, its Mixamo names passed for CMU's conversion: 18x too
    small, a frame dropped); the axial joints are derived from hips and shoulders, as for all mocap."""
    joints, lengths = run_joints
    path = tmp_path / "run.bvh"
    path.write_text(joints_to_bvh(joints, 120.0, "world", lengths)[0])
    read, fps = load_bvh_joints(path)
    assert fps == pytest.approx(120.0, rel=1e-6) and read.shape == joints.shape
    limbs = [j for j in range(skeleton.NUM_JOINTS) if j not in skeleton.DERIVED_JOINTS]
    assert np.abs(read[:, limbs] - joints[:, limbs]).max() < 1e-4
    np.testing.assert_allclose(read, skeleton.derive_axial(joints.copy()), atol=1e-4)


@pytest.mark.parametrize("frame", ["unreal", "blender"])
def test_training_refuses_an_export_in_another_engines_axes(run_joints, tmp_path: Path, frame: str) -> None:
    """Centimetres or z up would train on a person 100x too tall or lying down: refused, with the fix."""
    from posecast.engines.training.data.bvh import BVHError

    joints, lengths = run_joints
    path = tmp_path / f"{frame}.bvh"
    path.write_text(joints_to_bvh(joints, 120.0, frame, lengths)[0])
    with pytest.raises(BVHError, match="another engine's axes or units .*export it with --frame world"):
        load_bvh_joints(path)


def test_training_refuses_an_export_in_a_left_handed_engines_axes(run_joints, tmp_path: Path) -> None:
    """Unity's axes are y up and metres like the world's, but mirrored: trained on, its left would
    be the person's right. Told apart by its knees, which bend backwards; the world export is read."""
    from posecast.engines.training.data.bvh import BVHError

    joints, lengths = run_joints
    for frame in ("world", "unity"):
        (tmp_path / f"{frame}.bvh").write_text(joints_to_bvh(joints, 120.0, frame, lengths)[0])
    assert load_bvh_joints(tmp_path / "world.bvh")[0].shape == joints.shape
    with pytest.raises(BVHError, match=r"left-handed engine's axes \(mirrored: \d+% of its bent knees bend backwards\)"
                                       ".*export it with --frame world"):
        load_bvh_joints(tmp_path / "unity.bvh")


def test_frames_without_a_pose_hold_the_last_pose() -> None:
    joints = np.arange(5 * 17 * 3, dtype=np.float64).reshape(5, 17, 3)
    joints[[0, 2, 3]] = np.nan
    source, held = shown_frames(joints)
    assert held == 3 and source.tolist() == [1, 1, 1, 1, 4]
    with pytest.raises(ValueError, match="no frame has a pose"):
        shown_frames(np.full((2, 17, 3), np.nan))


def test_frames_before_the_first_pose_hold_it_exactly(run_joints) -> None:
    """QA: a person first seen late had the frames before move (a thigh turned 80 degrees): the
    hinges' twists, carried from frame to frame, ran over the held copies of the first pose."""
    joints, lengths = run_joints
    late = np.concatenate([np.full((60, 17, 3), np.nan), joints[30:70]])  # (a frame whose twists ease in)

    def motion(text: str) -> np.ndarray:
        lines = text.split("MOTION\n", 1)[1].splitlines()[2:]
        return np.array([[float(v) for v in line.split()] for line in lines])

    rows = motion(joints_to_bvh(late, 120.0, "world", lengths)[0])
    np.testing.assert_array_equal(rows[:60], np.repeat(rows[60:61], 60, axis=0))
    alone = motion(joints_to_bvh(joints[30:70], 120.0, "world", lengths)[0])
    np.testing.assert_array_equal(rows[60:], alone)  # from the first pose on, as if it began there


def test_frames_after_the_last_pose_and_in_gaps_hold_their_pose_exactly(run_joints) -> None:
    """Multi-person QA: after a person's last pose the BVH went on turning (an arm 6.9 degrees over
    2 s): the twists eased on over the held copies, as they had before the first pose."""
    joints, lengths = run_joints
    gone = np.concatenate([joints[:73], np.full((60, 17, 3), np.nan)])  # (a last pose whose twists ease on)
    gap = joints[:113].copy()
    gap[73:93] = np.nan

    def motion(text: str) -> np.ndarray:
        lines = text.split("MOTION\n", 1)[1].splitlines()[2:]
        return np.array([[float(v) for v in line.split()] for line in lines])

    rows = motion(joints_to_bvh(gone, 120.0, "world", lengths)[0])
    np.testing.assert_array_equal(rows[73:], np.repeat(rows[72:73], 60, axis=0))
    np.testing.assert_array_equal(rows[:73], motion(joints_to_bvh(joints[:73], 120.0, "world", lengths)[0]))
    rows = motion(joints_to_bvh(gap, 120.0, "world", lengths)[0])
    np.testing.assert_array_equal(rows[73:93], np.repeat(rows[72:73], 20, axis=0))


def test_a_knee_bent_square_to_the_hips_does_not_turn_the_thigh_round(tmp_path: Path) -> None:
    """QA: the BVH of the squats clip turned a quarter turned LeftUpLeg 179 degrees in a frame, its
    knee's hinge axis square to the hips' frame, the joints still. A figure-four (the left thigh
    raised and out, the knee bent 90 degrees, the shin across) with 2 mm of noise, 10 s at 30 fps:
    read back, the thigh and shin turn a few degrees a frame."""
    lengths = skeleton.bone_lengths_from_height(1.70)
    pose = rot.rest_pose(lengths) + [0.0, 1.0, 0.0]
    thigh = np.array([0.3, -0.2, 1.0]) / np.linalg.norm([0.3, -0.2, 1.0])
    pose[J["l_knee"]] = pose[J["l_hip"]] + lengths[J["l_knee"] - 1] * thigh
    pose[J["l_ankle"]] = pose[J["l_knee"]] + lengths[J["l_ankle"] - 1] * thigh
    # a straight leg keeps the hips' frame: its rest reference (+x), on the thigh, is square to the thigh
    straight = Rotation.from_quat(rot.joints_to_rotations(pose[None]).world_rotations()[0, J["l_knee"]])
    pose[J["l_ankle"]] = pose[J["l_knee"]] - lengths[J["l_ankle"] - 1] * straight.apply(rot.TWIST["l_knee"][1])
    joints = pose + np.random.default_rng(0).normal(0.0, 0.002, (300, skeleton.NUM_JOINTS, 3))
    path = tmp_path / "figure_four.bvh"
    path.write_text(joints_to_bvh(joints, 30.0, "world", lengths)[0])
    motion = parse_bvh(path)
    first = np.cumsum([0] + [len(c) for c in motion.channels])
    for name in ("LeftUpLeg", "LeftLeg"):
        k = motion.names.index(name)
        turns = [(c[0], first[k] + i) for i, c in enumerate(motion.channels[k]) if c.endswith("rotation")]
        q = Rotation.from_euler("".join(a for a, _ in turns), motion.motion[:, [col for _, col in turns]], degrees=True)
        steps = np.degrees((q[1:] * q[:-1].inv()).magnitude())
        assert steps.max() < 20, f"{name}: {np.sum(steps > 90)} turns over 90 degrees, the largest {steps.max():.0f}"


def _spun_take(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The run there and back four times (592 frames at 120 fps), turning a full turn about the
    vertical every 300 frames (so that the hinges' followed twists pass pi and on), without a pose
    for its first 10 frames, 20 in the middle and its last 5; the ears' line of a face seen in
    most frames (NaN where not), the left arm out of view now and then, and the frames' times:
    (joints, ear lines, limbs seen ``(F, 8)``, timestamps ns)."""
    there_and_back = np.concatenate([joints, joints[::-1]] * 2)
    angle = np.arange(len(there_and_back)) * 2 * np.pi / 300
    cos, sin, zero, one = np.cos(angle), np.sin(angle), np.zeros_like(angle), np.ones_like(angle)
    turn = np.stack([np.stack([cos, zero, sin], -1), np.stack([zero, one, zero], -1),
                     np.stack([-sin, zero, cos], -1)], -2)  # fmt: skip
    root = there_and_back[:, :1]
    take = np.einsum("fab,fjb->fja", turn, there_and_back - root) + root
    take[:10], take[300:320], take[-5:] = np.nan, np.nan, np.nan
    ear_lines = skeleton.girdle_line(take) + np.array([0.0, 0.05, 0.1])
    ear_lines[np.arange(len(take)) % 50 < 9] = np.nan
    limbs = np.ones((len(take), 8), bool)
    limbs[(np.arange(len(take)) % 40 < 13), 2:4] = False  # (an arm's bones out of view for 13 frames in 40)
    return take, ear_lines, limbs, np.arange(len(take)) * 1_000_000_000 // 120


@pytest.mark.parametrize("frame", ["world", "unreal"])
def test_a_take_made_a_chunk_at_a_time_is_the_text_made_whole(run_joints, frame: str) -> None:
    """``posecast export`` turns a take CHUNK_FRAMES frames at a time (an hour's take turned whole
    needed about 1.5 GB): in chunks of 1, 7 or 64 frames it is the text of the whole take made at
    once, byte for byte: each hinge's twist followed across a chunk's end as across a frame's, the
    frames without a pose holding the last pose over a chunk's end, a limb out of view held and
    eased back across one."""
    joints, lengths = run_joints
    take, ear_lines, limbs, stamps_ns = _spun_take(joints)
    whole, held = joints_to_bvh(take, 120.0, frame, lengths, ear_lines, limbs, stamps_ns, HOLD, chunk_frames=len(take))
    assert held == 35 and whole.count("\n") > len(take)
    for chunk_frames in (1, 7, 64):
        pieces, held = joints_to_bvh_pieces(take, 120.0, frame, lengths, ear_lines, limbs, stamps_ns, HOLD,
                                            chunk_frames)  # fmt: skip
        pieces = list(pieces)
        assert len(pieces) == 1 + -(-len(take) // chunk_frames) and held == 35  # the hierarchy, then the chunks
        assert "".join(pieces) == whole, f"chunks of {chunk_frames} frames"
    assert CHUNK_FRAMES >= 1000  # (the export's own: a chunk's arrays are a few MB)


@pytest.mark.skipif(BLENDER is None, reason="blender not installed (Debian: apt-get install -y blender)")
@pytest.mark.parametrize(("frame", "forward", "up"), [("world", "-Z", "Y"), ("blender", "Y", "Z")])
def test_real_blender_imports_it_within_a_millimetre(run_joints, tmp_path: Path, frame, forward, up) -> None:
    """Blender's own BVH importer: a ``world`` file with Blender's default axes (Forward -Z,
    Up Y) and a ``blender`` file with Forward Y, Up Z both give the joints in Blender's
    coordinates (``frames.get_frame("blender")``) within 1 mm at every frame."""
    joints, lengths = run_joints
    joints = joints[::4]  # 30 fps
    path, out = tmp_path / "run.bvh", tmp_path / "blender.json"
    path.write_text(joints_to_bvh(joints, 30.0, frame, lengths)[0])
    command = [BLENDER, "-b", "--factory-startup", "--python-exit-code", "1", "--python", str(BLENDER_SCRIPT), "--",
               str(path), str(out), forward, up]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    read = json.loads(out.read_text())
    assert read["fps"] == pytest.approx(30.0, rel=1e-5) and len(read["frames"]) == len(joints)
    positions = {name: np.array([f[name] for f in read["frames"]]) for name in read["frames"][0]}
    expected = engine_frames.positions_to_frame(joints, engine_frames.get_frame("blender"))
    worst = max(np.abs(got - expected[:, j]).max() for j, got in heads_by_joint(positions).items())
    assert worst < 1e-3, f"Blender {read['blender']}: {worst * 1000:.3f} mm"


@pytest.mark.skipif(BLENDER is None, reason="blender not installed (Debian: apt-get install -y blender)")
def test_the_render_tool_says_a_missing_bvh_in_one_line(tmp_path: Path) -> None:
    """Tools QA: tools/blender_render_bvh.py given a missing file ended in the importer's traceback."""
    tool = Path(__file__).resolve().parents[2] / "tools" / "blender_render_bvh.py"
    command = [BLENDER, "-b", "--factory-startup", "--python-exit-code", "1", "--python", str(tool), "--",
               str(tmp_path / "missing.bvh"), str(tmp_path / "out.png")]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1].endswith("missing.bvh: no such file: pass a .bvh written by "
                                                           "posecast export --bvh")  # fmt: skip
    assert not (tmp_path / "out.png").exists()

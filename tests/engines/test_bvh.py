"""BVH parsing and forward kinematics: real CMU takes, a constructed file in Bandai-Namco's layout,
hand-computed synthetic files, errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from posecast.engines import skeleton
from posecast.engines.skeleton import JOINT_INDEX as J
from posecast.engines.training.data.bvh import (
    CMU_31,
    BVHError,
    detect_mapping,
    load_bvh_joints,
    parse_bvh,
)

#: Bones whose both ends are measured mocap joints on the same rigid segment (hips, limbs).
AXIAL = ("pelvis-spine", "spine-", "thorax-", "neck-")
RIGID_BONES = [i for i, name in enumerate(skeleton.BONE_NAMES) if not name.startswith(AXIAL)]


def write_bvh(path: Path, hierarchy: str, frames: list[list[float]], frame_time_s: float = 0.04) -> Path:
    rows = "\n".join(" ".join(f"{v:g}" for v in row) for row in frames)
    path.write_text(f"HIERARCHY\n{hierarchy}\nMOTION\nFrames: {len(frames)}\nFrame Time: {frame_time_s}\n{rows}\n")
    return path


def chain_hierarchy(order: str) -> str:
    """Hips (6 channels) → Spine → Head (3 rotation channels in ``order``), and a Leg off the Hips."""
    rotations = " ".join(f"{axis}rotation" for axis in order)
    return f"""ROOT Hips
{{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Spine
  {{
    OFFSET 0 10 0
    CHANNELS 3 {rotations}
    JOINT Head
    {{
      OFFSET 0 5 0
      CHANNELS 3 {rotations}
      End Site
      {{
        OFFSET 0 2 0
      }}
    }}
  }}
  JOINT Leg
  {{
    OFFSET 3 -4 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {{
      OFFSET 0 -8 0
    }}
  }}
}}"""


# ------------------------------------------------------------------ real clips (tests/fixtures/cmu)
def test_real_clip_structure(bvh_dir: Path) -> None:
    motion = parse_bvh(bvh_dir / "09_01.bvh")
    assert len(motion.names) == 31 and motion.names[0] == "Hips" and motion.parents[0] == -1
    assert motion.fps == pytest.approx(120.0, rel=1e-4)
    assert motion.motion.shape == (149, 6 + 30 * 3)  # root position + rotation, then rotations only
    assert detect_mapping(motion.names).name == "cmu-31"


def test_crlf_line_endings_parse_like_lf(bvh_dir: Path, tmp_path: Path) -> None:
    crlf = (bvh_dir / "49_04.bvh").read_bytes()
    assert b"\r\n" in crlf
    lf = tmp_path / "49_04_lf.bvh"
    lf.write_bytes(crlf.replace(b"\r\n", b"\n"))
    np.testing.assert_array_equal(load_bvh_joints(bvh_dir / "49_04.bvh")[0], load_bvh_joints(lf)[0])


@pytest.mark.parametrize("name", ["08_04", "49_04"])
def test_real_clip_joints_are_a_plausible_person(bvh_dir: Path, name: str) -> None:
    joints, fps = load_bvh_joints(bvh_dir / f"{name}.bvh")
    assert joints.dtype == np.float32 and joints.shape[1:] == (17, 3) and fps == pytest.approx(120.0, rel=1e-4)
    lengths = skeleton.bone_lengths(joints.astype(np.float64))
    cv = lengths.std(0) / lengths.mean(0)
    assert cv[RIGID_BONES].max() < 0.01  # one body: hips and limbs keep their length
    assert cv.max() < 0.05  # derived axial joints follow the bending spine only a little
    height = skeleton.height_from_bone_lengths(np.median(lengths, axis=0))
    assert 1.5 < height < 2.0  # metres: the CMU unit (1/0.45 inch) is applied
    # the hip joints at about half the standing height (0.53 standing; lower in a stride or a leap)
    assert 0.45 < joints[:, J["pelvis"], 1].mean() / height < 0.6  # Y up
    assert (joints[:, J["head"], 1] > joints[:, J["pelvis"], 1]).all()
    assert (joints[:, J["pelvis"], 1] > joints[:, J["l_ankle"], 1]).all()


# ------------------------------------------------------------------ Bandai-Namco layout, constructed
#: Bandai-Namco's skeleton (../shared/README.md; the dataset is CC BY-NC 4.0 and stays out of the
#: repository): name: (parent, offset in centimetres). ``joint_Root`` sits at the origin, every
#: joint has six channels, the Head end site has zero offset.
BANDAI_OFFSETS = {
    "joint_Root": (None, (0, 0, 0)), "Hips": ("joint_Root", (0, 95, 0)),
    "Spine": ("Hips", (0, 10, 0)), "Chest": ("Spine", (0, 15, 0)), "Neck": ("Chest", (0, 25, 0)),
    "Head": ("Neck", (0, 10, 0)),
    "Shoulder_L": ("Chest", (3, 20, 0)), "UpperArm_L": ("Shoulder_L", (12, 0, 0)),
    "LowerArm_L": ("UpperArm_L", (28, 0, 0)), "Hand_L": ("LowerArm_L", (25, 0, 0)),
    "Shoulder_R": ("Chest", (-3, 20, 0)), "UpperArm_R": ("Shoulder_R", (-12, 0, 0)),
    "LowerArm_R": ("UpperArm_R", (-28, 0, 0)), "Hand_R": ("LowerArm_R", (-25, 0, 0)),
    "UpperLeg_L": ("Hips", (9, 0, 0)), "LowerLeg_L": ("UpperLeg_L", (0, -42, 0)),
    "Foot_L": ("LowerLeg_L", (0, -42, 0)), "Toes_L": ("Foot_L", (0, -5, 12)),
    "UpperLeg_R": ("Hips", (-9, 0, 0)), "LowerLeg_R": ("UpperLeg_R", (0, -42, 0)),
    "Foot_R": ("LowerLeg_R", (0, -42, 0)), "Toes_R": ("Foot_R", (0, -5, 12)),
}  # fmt: skip
SIX_CHANNELS = "6 Xposition Yposition Zposition Zrotation Xrotation Yrotation"


def bandai_hierarchy(name: str = "joint_Root", depth: int = 0) -> str:
    pad = "  " * depth
    parent, offset = BANDAI_OFFSETS[name]
    children = [bandai_hierarchy(c, depth + 1) for c, (p, _) in BANDAI_OFFSETS.items() if p == name]
    end = (0, 0, 0) if name == "Head" else (0, -3, 0)
    body = "\n".join(children) or f"{pad}  End Site\n{pad}  {{\n{pad}    OFFSET {' '.join(map(str, end))}\n{pad}  }}"
    return (f"{pad}{'ROOT' if parent is None else 'JOINT'} {name}\n{pad}{{\n"
            f"{pad}  OFFSET {' '.join(map(str, offset))}\n{pad}  CHANNELS {SIX_CHANNELS}\n{body}\n{pad}}}")  # fmt: skip


def bandai_frame(**changes: tuple[float, ...]) -> list[float]:
    """One motion row: every joint's position channels hold its offset (as in the dataset's files),
    rotations zero, except ``changes``: joint name → its six channel values."""
    row: list[float] = []
    for name, (_, offset) in BANDAI_OFFSETS.items():
        row += list(changes.get(name, (*offset, 0.0, 0.0, 0.0)))
    return row


def test_bandai_namco_layout_six_channels_per_joint(tmp_path: Path) -> None:
    stride = bandai_frame(LowerLeg_L=(0, -42, 0, 0, 90, 0))  # left knee bent 90° about X: shin forward
    shifted = bandai_frame(Hips=(10, 95, -20, 0, 0, 0), LowerLeg_R=(0, -40, 0, 0, 0, 0))
    path = write_bvh(tmp_path / "bandai.bvh", bandai_hierarchy(), [bandai_frame(), stride, shifted], 1 / 30)
    motion = parse_bvh(path)
    assert motion.names == list(BANDAI_OFFSETS) and len(motion.names) == 22
    assert all(len(c) == 6 for c in motion.channels) and motion.motion.shape == (3, 22 * 6)
    assert motion.fps == pytest.approx(30.0)
    assert detect_mapping(motion.names).name == "bandai-namco"
    joints, fps = load_bvh_joints(path)
    assert joints.shape == (3, 17, 3) and fps == pytest.approx(30.0)
    rest = {  # centimetres → metres, summed along the chain by hand
        "pelvis": (0, 95, 0), "l_hip": (9, 95, 0), "l_knee": (9, 53, 0), "l_ankle": (9, 11, 0),
        "r_ankle": (-9, 11, 0), "thorax": (0, 140, 0), "spine": (0, 117.5, 0), "l_shoulder": (15, 140, 0),
        "l_elbow": (43, 140, 0), "l_wrist": (68, 140, 0), "r_wrist": (-68, 140, 0),
        # ear level: the skull base (Head, 155) + MOCAP_HEAD_EXTENSION × the Neck→Head segment (10)
        "head": (0, 155 + 10 * skeleton.MOCAP_HEAD_EXTENSION, 0),
    }  # fmt: skip
    for joint, cm in rest.items():
        np.testing.assert_allclose(joints[0, J[joint]], np.array(cm) / 100, atol=1e-6, err_msg=joint)
    # Rx(90°)·(0, −42, 0) = (0, 0, −42): the ankle swings 42 cm along −Z at knee height
    np.testing.assert_allclose(joints[1, J["l_ankle"]], [0.09, 0.53, -0.42], atol=1e-6)
    np.testing.assert_allclose(joints[1, J["r_ankle"]], joints[0, J["r_ankle"]], atol=1e-6)
    # a non-root joint's position channels replace its offset: the right thigh is 40 cm here
    moved = (joints[2] - joints[2, J["pelvis"]]) - (joints[0] - joints[0, J["pelvis"]])
    expected = np.zeros((17, 3))
    expected[[J["r_knee"], J["r_ankle"]], 1] = 0.02
    np.testing.assert_allclose(moved, expected, atol=1e-6)
    np.testing.assert_allclose(joints[2, J["pelvis"]], [0.10, 0.95, -0.20], atol=1e-6)


# ------------------------------------------------------------------ synthetic, hand-computed FK
@pytest.mark.parametrize(
    ("order", "values", "head"),
    [
        # Spine: Z = 90° then X = 90° (ZXY): R = Rz·Rx; Rx(90°)·(0,5,0) = (0,0,5), Rz keeps it
        ("ZXY", [90.0, 90.0, 0.0], [1.0, 12.0, 8.0]),
        # the same angles in XYZ order: R = Rx·Rz; Rz(90°)·(0,5,0) = (−5,0,0), Rx keeps it
        ("XYZ", [90.0, 0.0, 90.0], [-4.0, 12.0, 3.0]),
    ],
)
def test_forward_kinematics_by_hand(tmp_path: Path, order: str, values: list[float], head: list[float]) -> None:
    rest = [0.0] * 15
    moved = [1.0, 2.0, 3.0, 0.0, 0.0, 0.0, *values, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    turned = [0.0, 0.0, 0.0, 0.0, 0.0, 90.0] + [0.0] * 9  # root Yrotation 90°
    path = write_bvh(tmp_path / "chain.bvh", chain_hierarchy(order), [rest, moved, turned])
    motion = parse_bvh(path)
    assert motion.names == ["Hips", "Spine", "Head", "Leg"] and motion.parents == [-1, 0, 1, 0]
    assert motion.fps == pytest.approx(25.0)
    world = motion.world_positions()
    assert world.shape == (3, 4, 3)
    np.testing.assert_allclose(world[0], [[0, 0, 0], [0, 10, 0], [0, 15, 0], [3, -4, 0]], atol=1e-12)
    np.testing.assert_allclose(world[1, :2], [[1, 2, 3], [1, 12, 3]], atol=1e-12)
    np.testing.assert_allclose(world[1, 2], head, atol=1e-12)
    # Ry(90°)·(3,−4,0) = (0,−4,−3): the leg swings behind
    np.testing.assert_allclose(world[2, 3], [0.0, -4.0, -3.0], atol=1e-12)
    np.testing.assert_allclose(world[2, 2], [0.0, 15.0, 0.0], atol=1e-12)


CMU_OFFSETS = {  # name: (parent, offset in CMU units of 0.056444 m) — a T-pose
    "Hips": (None, (0, 0, 0)),
    "LeftUpLeg": ("Hips", (1.6, -0.5, 0)), "LeftLeg": ("LeftUpLeg", (0, -7.5, 0)),
    "LeftFoot": ("LeftLeg", (0, -7.0, 0)),
    "RightUpLeg": ("Hips", (-1.6, -0.5, 0)), "RightLeg": ("RightUpLeg", (0, -7.5, 0)),
    "RightFoot": ("RightLeg", (0, -7.0, 0)),
    "Spine": ("Hips", (0, 2.0, 0)), "Neck": ("Spine", (0, 4.5, 0)), "Neck1": ("Neck", (0, 1.0, 0)),
    "Head": ("Neck1", (0, 1.0, 0)),
    "LeftArm": ("Spine", (3.0, 4.0, 0)), "LeftForeArm": ("LeftArm", (5.0, 0, 0)),
    "LeftHand": ("LeftForeArm", (4.5, 0, 0)),
    "RightArm": ("Spine", (-3.0, 4.0, 0)), "RightForeArm": ("RightArm", (-5.0, 0, 0)),
    "RightHand": ("RightForeArm", (-4.5, 0, 0)),
}  # fmt: skip


def cmu_hierarchy(name: str = "Hips", depth: int = 0, z_up: bool = False) -> str:
    pad = "  " * depth
    parent, offset = CMU_OFFSETS[name]
    if z_up:  # the same body in a Z-up file: file (x, y, z) = Y-up (z, x, y)
        offset = (offset[2], offset[0], offset[1])
    kind = "ROOT" if parent is None else "JOINT"
    channels = "6 Xposition Yposition Zposition Zrotation Yrotation Xrotation" if parent is None else (
        "3 Zrotation Yrotation Xrotation")  # fmt: skip
    children = [cmu_hierarchy(c, depth + 1, z_up) for c, (p, _) in CMU_OFFSETS.items() if p == name]
    body = "\n".join(children) or f"{pad}  End Site\n{pad}  {{\n{pad}    OFFSET 0 1 0\n{pad}  }}"
    return (f"{pad}{kind} {name}\n{pad}{{\n{pad}  OFFSET {' '.join(map(str, offset))}\n"
            f"{pad}  CHANNELS {channels}\n{body}\n{pad}}}")  # fmt: skip


def test_cmu_skeleton_maps_to_17_joints_in_metres(tmp_path: Path) -> None:
    width = 6 + 3 * (len(CMU_OFFSETS) - 1)
    frame = [0.0, 17.0, 0.0] + [0.0] * (width - 3)  # Hips 17 units up, everything at rest
    path = write_bvh(tmp_path / "cmu.bvh", cmu_hierarchy(), [frame, frame, frame], frame_time_s=1 / 120)
    joints, fps = load_bvh_joints(path)
    assert detect_mapping(parse_bvh(path).names) is CMU_31
    assert joints.shape == (2, 17, 3) and fps == pytest.approx(120.0)  # the conversion's T-pose dropped
    unit = CMU_31.metres_per_unit
    np.testing.assert_allclose(joints[0, J["l_hip"]], np.array([1.6, 16.5, 0]) * unit, atol=1e-6)
    np.testing.assert_allclose(joints[0, J["r_wrist"]], np.array([-12.5, 23.0, 0]) * unit, atol=1e-6)
    np.testing.assert_allclose(joints[0, J["pelvis"]], np.array([0, 16.5, 0]) * unit, atol=1e-6)
    # head = skull base (Head, 25.5 up) + 0.75 of the neck segment (Neck1 → Head = 1 unit)
    np.testing.assert_allclose(joints[0, J["head"]], np.array([0, 26.25, 0]) * unit, atol=1e-6)
    lengths = skeleton.bone_lengths(joints[0].astype(np.float64))
    assert lengths[skeleton.BONE_NAMES.index("r_hip-r_knee")] == pytest.approx(7.5 * unit, rel=1e-6)
    assert lengths[skeleton.BONE_NAMES.index("l_elbow-l_wrist")] == pytest.approx(4.5 * unit, rel=1e-6)


def test_z_up_files_are_turned_y_up(tmp_path: Path) -> None:
    width = 6 + 3 * (len(CMU_OFFSETS) - 1)
    y_up = write_bvh(tmp_path / "y.bvh", cmu_hierarchy(), [[0.0, 17.0, 0.0] + [0.0] * (width - 3)])
    z_up = write_bvh(tmp_path / "z.bvh", cmu_hierarchy(z_up=True), [[0.0, 0.0, 17.0] + [0.0] * (width - 3)])
    mapping = dataclasses.replace(CMU_31, name="cmu-z-up", up_axis=2)
    np.testing.assert_allclose(load_bvh_joints(z_up, mapping)[0], load_bvh_joints(y_up)[0], atol=1e-6)


# ------------------------------------------------------------------ errors
def test_not_a_bvh_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.bvh"
    path.write_text("just some text\n")
    with pytest.raises(BVHError, match="is not a BVH file"):
        parse_bvh(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BVHError, match="cannot read BVH file"):
        parse_bvh(tmp_path / "absent.bvh")


def test_truncated_motion(tmp_path: Path) -> None:
    path = write_bvh(tmp_path / "short.bvh", chain_hierarchy("ZXY"), [[0.0] * 15] * 3)
    text = path.read_text().replace("Frames: 3", "Frames: 4")
    path.write_text(text)
    with pytest.raises(BVHError, match=r"expected 4 frames × 15 channels, found 45 values"):
        parse_bvh(path)


def test_header_without_frame_count(tmp_path: Path) -> None:
    path = write_bvh(tmp_path / "nohdr.bvh", chain_hierarchy("ZXY"), [[0.0] * 15])
    path.write_text(path.read_text().replace("Frames: 1\n", ""))
    with pytest.raises(BVHError, match="malformed BVH header"):
        parse_bvh(path)


def test_unknown_skeleton(tmp_path: Path) -> None:
    path = write_bvh(tmp_path / "chain.bvh", chain_hierarchy("ZXY"), [[0.0] * 15])
    with pytest.raises(BVHError, match=r"unknown BVH skeleton .*known skeletons: \[.bandai-namco., .*.posecast-export.\]"):  # noqa: E501
        load_bvh_joints(path)


def test_non_numeric_motion_is_a_bvh_error(tmp_path: Path) -> None:
    path = write_bvh(tmp_path / "nan.bvh", chain_hierarchy("ZXY"), [[0.0] * 15])
    path.write_text(path.read_text().rstrip() + " oops\n")
    with pytest.raises(BVHError, match=r"nan\.bvh: malformed BVH \(ValueError: could not convert string to float"):
        parse_bvh(path)


def test_unbalanced_hierarchy_is_a_bvh_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.bvh"
    path.write_text("HIERARCHY\nCHANNELS 3 Xrotation Yrotation Zrotation\nMOTION\nFrames: 1\nFrame Time: 0.1\n0 0 0\n")
    with pytest.raises(BVHError, match=r"cut\.bvh: malformed BVH \(IndexError"):
        parse_bvh(path)

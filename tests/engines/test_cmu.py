"""The CMU loader on real takes of every format it reads (tests/fixtures/cmu): adult bone lengths,
Y up, left is left, true frame rates, the conversions' lead-in dropped, resampling, whole-subject splits."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from posecast.engines import skeleton
from posecast.engines.training.data import asf_amc, cmu
from posecast.engines.training.data.bvh import parse_bvh
from posecast.engines.training.data.dataset import TRAINING_FPS, resample, split_by_subject

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cmu"
#: One take per format: MotionBuilder BVH, Daz BVH, raw amc2bvh BVH, ASF/AMC, renamed 102_01cc.
TAKES = {
    "09_01.bvh": "cmu-31",
    "13_40.bvh": "cmu-daz",
    "16_01.bvh": "cmu-asf",
    "35_01.amc": "cmu-asf",
    "102_01cc.bvh": "cmu-31-renamed",
}
#: Adult ranges in metres (posecast's joint definitions, which differ between mocap skeletons:
#: shoulder and hip widths vary most).
ADULT_M = {
    "r_hip-r_knee": (0.33, 0.50), "r_knee-r_ankle": (0.33, 0.50),
    "l_hip-l_knee": (0.33, 0.50), "l_knee-l_ankle": (0.33, 0.50),
    "r_shoulder-r_elbow": (0.22, 0.40), "r_elbow-r_wrist": (0.17, 0.32),
    "l_shoulder-l_elbow": (0.22, 0.40), "l_elbow-l_wrist": (0.17, 0.32),
    "pelvis-r_hip": (0.06, 0.16), "thorax-r_shoulder": (0.10, 0.25),
}  # fmt: skip


@pytest.fixture(scope="module")
def takes() -> dict[str, tuple[np.ndarray, float, str]]:
    return {name: cmu.load_take(FIXTURES / name) for name in TAKES}


@pytest.mark.parametrize("name", TAKES)
def test_every_format_maps_to_an_adult_skeleton(takes: dict, name: str) -> None:
    joints, fps, fmt = takes[name]
    assert fmt == TAKES[name]
    assert fps == 120.0  # CMU's rate, whatever the file states (16_01 says 30 fps)
    lengths = np.median(skeleton.bone_lengths(joints.astype(np.float64)), axis=0)
    for bone, (low, high) in ADULT_M.items():
        assert low <= lengths[skeleton.BONE_NAMES.index(bone)] <= high, (name, bone, lengths)
    assert 1.45 <= skeleton.height_from_bone_lengths(lengths) <= 2.0
    # rigid: a bone keeps its length over the take (mocap, not noisy 2D)
    cv = skeleton.bone_lengths(joints.astype(np.float64)).std(0) / lengths
    assert cv[[skeleton.BONE_NAMES.index(b) for b in ADULT_M]].max() < 0.01


@pytest.mark.parametrize("name", TAKES)
def test_y_is_up_and_left_is_left(takes: dict, name: str) -> None:
    joints = takes[name][0].astype(np.float64)
    j = skeleton.JOINT_INDEX
    up = np.array([0.0, 1.0, 0.0])
    assert np.median(joints[:, j["head"], 1] - joints[:, j["pelvis"], 1]) > 0.4
    assert np.median(joints[:, j["pelvis"], 1] - 0.5 * (joints[:, j["l_ankle"], 1] + joints[:, j["r_ankle"], 1])) > 0.5
    # knees bend forwards: the knee's offset from the hip–ankle line gives the facing direction
    votes = []
    for side in ("l", "r"):
        hip, knee, ankle = (joints[:, j[f"{side}_{p}"]] for p in ("hip", "knee", "ankle"))
        bend = knee - 0.5 * (hip + ankle)
        bent = np.linalg.norm(bend, axis=-1) > 0.04
        facing = bend[bent] - np.outer(bend[bent] @ up, up)
        left = np.cross(up, facing)  # a person facing +z with y up has their left at +x
        across = joints[bent, j["l_hip"]] - joints[bent, j["r_hip"]]
        votes.extend(np.sign(np.sum(left * across, axis=-1)))
    assert len(votes) > 10 and np.mean(votes) > 0.6, (name, np.mean(votes))


def test_lead_in_frames_are_dropped_and_raw_frames_are_kept(takes: dict) -> None:
    for name, fmt in TAKES.items():
        joints = takes[name][0]
        if name.endswith(".amc"):
            frames = len(asf_amc.parse_amc(FIXTURES / name, asf_amc.parse_asf(FIXTURES / "35.asf"))["root"])
        else:
            frames = parse_bvh(FIXTURES / name).motion.shape[0]
        lead_in = {"cmu-31": 1, "cmu-31-renamed": 1, "cmu-daz": 8}.get(fmt, 0)
        assert len(joints) == frames - lead_in, name
        # the first kept frame continues the motion (the T-pose and the Daz ease-out move the
        # arms by 5 to 50 cm per 1/120 s)
        pose = skeleton.root_relative(joints[:2])
        assert np.abs(pose[1] - pose[0]).max() < 0.05, name


def test_asf_amc_forward_kinematics_keeps_the_asf_bone_lengths() -> None:
    skel = asf_amc.parse_asf(FIXTURES / "35.asf")
    names, starts = asf_amc.load_asf_amc(FIXTURES / "35_01.amc")
    assert starts.shape == (358, len(skel.bones), 3) and names[0] == "root"
    index = {n: i for i, n in enumerate(names)}
    for child, parent in (("ltibia", "lfemur"), ("rradius", "rhumerus"), ("lfoot", "ltibia")):
        length = np.linalg.norm(starts[:, index[child]] - starts[:, index[parent]], axis=-1)
        np.testing.assert_allclose(length, skel.bones[parent].length, rtol=1e-5)  # directions are rounded
    assert skel.length_unit == 0.45


def test_frame_rates_and_resampling() -> None:
    assert cmu.take_fps(Path("cmu-dance/salsa/01.bvh")) == 60.0  # the file says 120
    assert cmu.take_fps(Path("cmu-dance/indian/01.bvh")) == 120.0
    assert cmu.take_fps(FIXTURES / "16_01.bvh") == 120.0  # the file says 30
    t = np.arange(121, dtype=np.float64) / 120.0
    motion = np.stack([np.sin(t), t**2, t], -1)[:, None, :]  # (121, 1, 3)
    out = resample(motion, 120.0, TRAINING_FPS)
    assert out.shape == (31, 1, 3)
    np.testing.assert_allclose(out[:, 0, 2], np.arange(31) / 30.0, atol=1e-12)
    half = resample(motion, 120.0, 80.0)  # not a divisor: interpolated
    np.testing.assert_allclose(half[:, 0, 0], np.sin(np.arange(len(half)) / 80.0), atol=2e-5)
    assert resample(motion, 30.05, 30.0) is motion


def test_load_cmu_keeps_subjects_and_splits_by_whole_subject(tmp_path: Path, posecast_cache: Path) -> None:
    folder = tmp_path / "cmu-mocap"
    for name in ("09_01.bvh", "13_40.bvh", "16_01.bvh", "35.asf", "35_01.amc", "49_04.bvh"):
        (folder / name.split("_")[0].split(".")[0]).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(FIXTURES / name, folder / name.split("_")[0].split(".")[0] / name)
    clips = cmu.load_cmu(folder)
    assert {c.name: c.subject for c in clips} == {
        "cmu_09_01": "09", "cmu_13_40": "13", "cmu_16_01": "16", "cmu_35_01": "35", "cmu_49_04": "49",
    }  # fmt: skip
    for clip in clips:
        assert clip.fps == TRAINING_FPS and clip.source == "cmu"
    raw = {c.name: c for c in clips}["cmu_16_01"]
    assert len(raw.joints_m) == (322 - 1) // 4 + 1  # 120 fps → 30 fps, first frame kept
    train, held = split_by_subject(clips, {"09", "49"})
    assert {c.subject for c in held} == {"09", "49"} and not {c.subject for c in train} & {"09", "49"}
    again = cmu.load_cmu(folder)  # from the cache: same clips
    assert [c.name for c in again] == [c.name for c in clips]
    np.testing.assert_array_equal(again[0].joints_m, clips[0].joints_m)
    assert again[0].subject == clips[0].subject


def test_cmu_takes_in_a_folder_of_another_name_are_said(tmp_path: Path, posecast_cache: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    """QA: the same takes in ``my_bvh/`` were read as any BVH folder without a word: no subjects
    (a config's ``held_out_subjects`` trained on them), the ASF/AMC take left out, a raw take's
    wrong frame time kept. The log says so and how to read them as CMU's."""
    import logging

    from posecast.engines.training.data.dataset import load_source

    folder = tmp_path / "my_bvh"
    folder.mkdir()
    for name in ("09_01.bvh", "13_40.bvh"):
        shutil.copyfile(FIXTURES / name, folder / name)
    with caplog.at_level(logging.WARNING):
        load_source(folder)
    assert "holds takes named as CMU's (SUBJECT_TAKE)" in caplog.text and "name the folder cmu-" in caplog.text
    caplog.clear()
    (folder / "walk.bvh").write_bytes((FIXTURES / "08_04.bvh").read_bytes())  # a take not named as CMU's
    with caplog.at_level(logging.WARNING):
        load_source(folder)
    assert "named as CMU's" not in caplog.text


def test_broken_files_name_the_problem(tmp_path: Path) -> None:
    (tmp_path / "77_01.amc").write_text(":FULLY-SPECIFIED\n:DEGREES\n1\nroot 0 0 0 0 0 0\n")
    with pytest.raises(asf_amc.ASFAMCError, match="77.asf"):
        cmu.load_take(tmp_path / "77_01.amc")
    (tmp_path / "77.asf").write_text(":bonedata\n  begin\n  name lfemur\n  end\n")
    with pytest.raises(asf_amc.ASFAMCError, match="malformed ASF"):
        cmu.load_take(tmp_path / "77_01.amc")


def test_a_replaced_or_broken_cmu_archive_is_read_as_given(posecast_cache: Path, tmp_path: Path) -> None:
    """QA: the CMU archive was unpacked once by its name, so another archive of that name (20 takes)
    trained on the first one's 13; a file named like one that is no archive gave a tarfile
    traceback and left an empty folder in the cache."""
    import tarfile

    from posecast.engines.training.data.bvh import BVHError

    archive = tmp_path / "cmu-mocap.tar.xz"
    for names in (["09_01.bvh"], ["09_01.bvh", "13_40.bvh"]):
        with tarfile.open(archive, "w:xz") as tar:
            for name in names:
                tar.add(FIXTURES / name, arcname=f"cmu-mocap/{name[:2]}/{name}")
        assert sorted(p.name for p in cmu.take_files(cmu.extract_cmu_archive(archive))) == names
    broken = tmp_path / "cmu-broken.tar.xz"
    broken.write_text("not an archive")
    with pytest.raises(BVHError, match=r"cannot unpack .*cmu-broken.tar.xz \(.*\): motion data is a folder"):
        cmu.extract_cmu_archive(broken)
    assert not (posecast_cache / "data" / "cmu-broken").exists()

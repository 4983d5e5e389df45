import numpy as np
import pytest
from posecast.calibration.errors import CalibrationError
from posecast.calibration.subject import DEFAULT_HEIGHT_M, SubjectOptions, SubjectProfile, estimate_subject
from posecast.engines import skeleton
from posecast.engines.training.data.windows import rescale_bones


def corrupt(joints: np.ndarray, seed: int = 0):
    """Lifted-pose-like input: per-frame scale, 1 cm noise, gross outliers, low-confidence joints."""
    rng = np.random.default_rng(seed)
    frames = len(joints)
    scale = rng.uniform(0.3, 3.0, frames)[:, None, None]
    poses = (joints + rng.normal(0.0, 0.01, joints.shape)) * scale
    outliers = rng.choice(frames, frames // 10, replace=False)
    poses[outliers] += rng.normal(0.0, 0.3, (len(outliers), 17, 3)) * scale[outliers]
    confidence = rng.uniform(0.6, 1.0, (frames, 17))
    occluded = rng.choice(frames, frames // 20, replace=False)
    confidence[occluded, 13] = 0.1
    poses[occluded, 13] += 0.8 * scale[occluded, 0]  # a wrist far off where it is not seen
    return poses, confidence


def test_recovers_true_bone_lengths_from_a_mocap_walk(walk_joints):
    true = np.median(skeleton.bone_lengths(walk_joints), axis=0)
    height_m = skeleton.height_from_bone_lengths(true)
    poses, confidence = corrupt(walk_joints)
    profile = estimate_subject(poses, height_m, confidence, source="walk test")
    np.testing.assert_allclose(profile.as_array(), true, rtol=0.05)
    assert profile.height_m == pytest.approx(height_m)
    assert skeleton.height_from_bone_lengths(profile.as_array()) == pytest.approx(height_m)
    assert 0.6 * len(poses) < profile.frames_used < len(poses)  # the outliers were dropped
    assert not profile.assumed and profile.source == "walk test"


def test_outliers_would_bias_a_plain_mean(walk_joints):
    """The robust steps matter: without them the same input misses the truth by more than 5%."""
    true = np.median(skeleton.bone_lengths(walk_joints), axis=0)
    poses, _ = corrupt(walk_joints)
    lengths = skeleton.bone_lengths(poses)
    naive = (lengths / lengths.sum(-1, keepdims=True)).mean(0)
    naive *= skeleton.height_from_bone_lengths(true) / skeleton.height_from_bone_lengths(naive)
    assert np.abs(naive / true - 1).max() > 0.05


def test_too_few_usable_frames(walk_joints):
    poses, confidence = corrupt(walk_joints[:30])
    confidence[:25] = 0.2
    with pytest.raises(CalibrationError, match="only 5 of 30 frames give plausible bone lengths, need 10"):
        estimate_subject(poses, 1.7, confidence)


def _person(walk_joints: np.ndarray, **factor_by_name_part: float) -> tuple[np.ndarray, np.ndarray, float]:
    """The walk by a person whose bones whose name contains a key are × its factor: joints, true
    bone lengths, height."""
    factors = np.ones(len(skeleton.BONES))
    for i, name in enumerate(skeleton.BONE_NAMES):
        for part, factor in factor_by_name_part.items():
            if part in name:
                factors[i] = factor
    joints = rescale_bones(walk_joints.astype(np.float64)[None], factors[None])[0]
    true = np.median(skeleton.bone_lengths(joints), axis=0)
    return joints, true, skeleton.height_from_bone_lengths(true)


def test_legs_out_of_view_keep_typical_proportions_and_the_upper_body_is_measured(walk_joints, caplog):
    """A webcam at a desk: knees and ankles below the image in every frame (confidence 0.1). The
    frames still measure the upper body (arms 8 % short, neck and head 10 % long), the legs
    keep typical proportions for the height, listed in ``typical_bones`` and named in the log,
    and the lengths still give the height."""
    joints, true, height_m = _person(walk_joints, elbow=0.92, wrist=0.92, neck=1.1)
    confidence = np.ones(joints.shape[:2])
    confidence[:, [skeleton.JOINT_INDEX[f"{side}_{j}"] for side in "lr" for j in ("knee", "ankle")]] = 0.1
    with caplog.at_level("WARNING", logger="posecast.calibration.subject"):
        profile = estimate_subject(joints, height_m, confidence)
    legs = [i for i, name in enumerate(skeleton.BONE_NAMES) if "knee" in name]
    assert set(profile.typical_bones) == {skeleton.BONE_NAMES[b] for b in legs}
    np.testing.assert_allclose(profile.as_array()[legs], skeleton.bone_lengths_from_height(height_m)[legs])
    upper = [i for i, name in enumerate(skeleton.BONE_NAMES) if i not in legs]
    np.testing.assert_allclose(profile.as_array()[upper], true[upper], rtol=0.02)
    assert skeleton.height_from_bone_lengths(profile.as_array()) == pytest.approx(height_m)
    assert "fewer than 10 frames saw r_hip-r_knee, r_knee-r_ankle, l_hip-l_knee, l_knee-l_ankle" in caplog.text
    assert profile.frames_used == len(joints)
    # before, every frame with a joint below the confidence floor was dropped: nothing was left
    confidence[:, skeleton.JOINT_INDEX["head"]] = 0.1  # and now the head too: less than 40 % of the body seen
    confidence[:, [skeleton.JOINT_INDEX[f"{side}_wrist"] for side in "lr"]] = 0.1
    with pytest.raises(CalibrationError, match=f"only 0 of {len(joints)} frames give plausible bone lengths"):
        estimate_subject(joints, height_m, confidence)


def test_a_limb_never_seen_takes_the_other_sides_length(walk_joints):
    """The left forearm hidden throughout (the far side in profile): it takes the right one's
    measured length (adults are near symmetric) and is not listed as typical."""
    joints, true, height_m = _person(walk_joints, wrist=0.9)
    confidence = np.ones(joints.shape[:2])
    confidence[:, skeleton.JOINT_INDEX["l_wrist"]] = 0.0
    profile = estimate_subject(joints, height_m, confidence)
    left, right = (skeleton.BONE_NAMES.index(f"{side}_elbow-{side}_wrist") for side in "lr")
    assert profile.typical_bones == ()
    assert profile.as_array()[left] == profile.as_array()[right] == pytest.approx(true[right], rel=0.01)


def test_implausible_bones_are_kept_within_typical_proportions(walk_joints, caplog):
    """Shoulders lifted 60 % too wide (the lifter guessing a width it never saw edge-on) end
    within 20 % of typical, like the live smoother's bound, with a warning naming them."""
    factors = np.array([1.6 if "shoulder" in name and "thorax" in name else 1.0 for name in skeleton.BONE_NAMES])
    poses = rescale_bones(walk_joints.astype(np.float64)[None], factors[None])[0]
    height_m = 1.75
    typical = skeleton.bone_lengths_from_height(height_m)
    shoulder = skeleton.BONE_NAMES.index("thorax-l_shoulder")
    free = estimate_subject(poses, height_m, options=SubjectOptions(max_deviation_frac=None)).as_array()
    assert free[shoulder] > 1.3 * typical[shoulder]
    with caplog.at_level("WARNING", logger="posecast.calibration.subject"):
        bounded = estimate_subject(poses, height_m).as_array()
    assert np.all(np.abs(bounded / typical - 1) <= 0.2 + 1e-9)
    assert skeleton.height_from_bone_lengths(bounded) == pytest.approx(height_m)
    assert "thorax-l_shoulder" in caplog.text and "thorax-r_shoulder" in caplog.text and "±20%" in caplog.text
    with pytest.raises(CalibrationError, match="max_deviation_frac must be in"):
        SubjectOptions(max_deviation_frac=1.5)


def test_input_checks():
    with pytest.raises(CalibrationError, match=r"shape \(F, 17, 3\), got \(5, 17, 2\)"):
        estimate_subject(np.zeros((5, 17, 2)), 1.7)
    with pytest.raises(CalibrationError, match="subject height must be in metres"):
        estimate_subject(np.zeros((5, 17, 3)), 170.0)


def test_from_height_is_typical_and_assumed():
    profile = SubjectProfile.from_height()
    assert profile.height_m == DEFAULT_HEIGHT_M and profile.assumed and profile.frames_used == 0
    np.testing.assert_allclose(profile.as_array(), skeleton.bone_lengths_from_height(DEFAULT_HEIGHT_M))
    assert len(profile.bone_lengths_m) == len(skeleton.BONE_NAMES)
    with pytest.raises(CalibrationError, match="16 positive lengths"):
        SubjectProfile(1.7, (0.1,) * 15)


def test_the_prior_weighs_short_bones_towards_typical_more_than_long_ones():
    """``_towards_typical``: typical lengths stay; a thigh measured 10 % long keeps most of the
    excess, the neck (a short bone whose measurement a joint's placement error dominates) gives up
    most of it; with no placement error every bone stays as measured."""
    from posecast.calibration.subject import _towards_typical

    height_m = 1.7
    typical = skeleton.bone_lengths_from_height(height_m)
    np.testing.assert_allclose(_towards_typical(typical, height_m, SubjectOptions()), typical, rtol=1e-3)
    kept = {}
    for name in ("l_hip-l_knee", "thorax-neck"):
        bone = skeleton.BONE_NAMES.index(name)
        measured = typical.copy()
        measured[bone] *= 1.1
        measured *= height_m / skeleton.height_from_bone_lengths(measured)  # as the calibration measures
        weighed = _towards_typical(measured, height_m, SubjectOptions())
        assert skeleton.height_from_bone_lengths(weighed) == pytest.approx(height_m)
        kept[name] = np.log(weighed[bone] / typical[bone]) / np.log(measured[bone] / typical[bone])
        exact = _towards_typical(measured, height_m, SubjectOptions(joint_placement_sd_m=0.0))
        np.testing.assert_allclose(exact, measured)
    assert kept["l_hip-l_knee"] > 0.7 and 0.0 < kept["thorax-neck"] < 0.5, kept


@pytest.mark.parametrize(("field", "value", "message"), [
    ("joint_placement_sd_m", -0.01, r"joint_placement_sd_m must be in \[0, 0.2\) metres or None, got -0.01"),
    ("joint_placement_sd_m", 0.5, r"joint_placement_sd_m must be in \[0, 0.2\) metres or None, got 0.5"),
    ("proportion_sd", 0.0, r"proportion_sd must be in \(0, 1\), got 0.0"),
])  # fmt: skip
def test_prior_options_are_checked(field: str, value: float, message: str) -> None:
    with pytest.raises(CalibrationError, match=message):
        SubjectOptions(**{field: value})


def test_too_few_frames_say_how_many_it_takes() -> None:
    """A 1-frame clip was told to pass --seconds with a longer time (error-contract QA)."""
    from posecast.calibration.subject import subject_from_lifted

    poses = np.zeros((1, 17, 3))
    with pytest.raises(CalibrationError, match=r"only 1 frames of one\.mp4, and it takes \d+: .*pass a longer one"):
        subject_from_lifted(poses, np.ones((1, 17)), 1.7, source="one.mp4")


def test_a_bone_left_at_the_bound_is_named_limited() -> None:
    """Most bones far out of the plausible range (a clip cut at the hips, then the dance backwards;
    QA): the rounds that keep the height converge slowly, and the last clip to the bound took the
    neck, weighed at +13 %, to +20 % without naming it. A live measurement then took it as
    measured (it ended 27.5 % over typical). Every bone that ends at a bound is named."""
    from posecast.calibration.subject import _within_typical

    typical = skeleton.bone_lengths_from_height(1.70)
    # the QA clip's measurement before the limit, over typical (skeleton.BONE_NAMES order): the neck
    # ends at +19.998 %, never outside the bound in a round
    weighed = np.array([1.236724290394717, 0.7924069456538165, 0.8122257572226669, 1.236724290394717,
                        0.7924069456538165, 0.8122257572226669, 1.342206614230348, 1.343026959031128,
                        1.1410725187000335, 1.1256219449297193, 1.4449853880414711, 1.1380174911426604,
                        1.1863931835276051, 1.4449853880414711, 1.1380174911426604, 1.1863931835276051])  # fmt: skip
    lengths, names = _within_typical(typical * weighed, 1.70, 0.2)
    at_bound = np.isclose(lengths / typical, 1.2, atol=1e-3) | np.isclose(lengths / typical, 0.8, atol=1e-3)
    assert set(np.array(skeleton.BONE_NAMES)[at_bound]) <= set(names), (names, np.round(lengths / typical - 1, 4))
    assert "neck-head" in names

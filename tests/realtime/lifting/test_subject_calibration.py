"""Subject calibration through the real lifting network: a mocap clip with changed proportions,
filmed by a known virtual camera, lifted frame by frame, gives back its bone lengths."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pytest
from posecast.calibration import estimate_subject
from posecast.calibration.errors import CalibrationError
from posecast.calibration.subject import SubjectOptions
from posecast.engines import skeleton
from posecast.realtime.offline import lift_for_calibration

#: conftest's ``filmed_walk``
Walk = Callable[..., tuple[np.ndarray, np.ndarray, float]]


def _lifted_walk(filmed_walk: Walk, **person: object) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The ``filmed_walk`` (conftest) of a ``person`` lifted as the live pipeline lifts: ``(raw
    lifted poses (F, 17, 3), their normalised 2D (F, 17, 2), true bone lengths (16,), height in
    metres)``."""
    keypoints_norm, true_lengths, height_m = filmed_walk(**person)
    poses, posed = lift_for_calibration(keypoints_norm, np.ones(keypoints_norm.shape[:2]), 30.0)
    return poses[posed], keypoints_norm[posed], true_lengths, height_m


def _errors(profile, true_lengths: np.ndarray) -> np.ndarray:
    return np.abs(profile.as_array() / true_lengths - 1.0)


#: What the 2D and the lifter measure, without the prior of typical proportions.
MEASURED = SubjectOptions(joint_placement_sd_m=None)
#: ... with every frame counting for every bone: the calibration before it asked which frames see across a bone.
EVERY_FRAME = SubjectOptions(max_width_angle_deg=90.0, max_bone_angle_deg=90.0, joint_placement_sd_m=None)


def _report(errors: np.ndarray) -> str:
    return str(dict(zip(skeleton.BONE_NAMES, np.round(errors, 3).tolist(), strict=True)))


def test_the_2d_corrects_the_lifters_proportions(filmed_walk: Walk) -> None:
    """Every bone but the two widths: the lifter's own lengths are up to 17 % off (the head, with
    the shin 12 % short); on the viewing rays of every frame within 6.7 %; on the rays of the
    frames that see across each bone (the calibration's way when it has the 2D) within 3.9 %
    (measured: the prior of typical proportions left out; the default model of 2026-12-05)."""
    poses, keypoints_norm, true_lengths, height_m = _lifted_walk(filmed_walk)
    lifted = _errors(estimate_subject(poses, height_m), true_lengths)
    every_frame = _errors(estimate_subject(poses, height_m, keypoints_norm=keypoints_norm, options=EVERY_FRAME),
                          true_lengths)  # fmt: skip
    across = _errors(estimate_subject(poses, height_m, keypoints_norm=keypoints_norm, options=MEASURED), true_lengths)
    seen = np.setdiff1d(np.arange(len(true_lengths)), skeleton.WIDTH_BONES)
    assert lifted[seen].max() > 0.15  # the lifter alone is far off: the rays did the work
    assert every_frame[seen].max() <= 0.08 and every_frame[seen].mean() < 0.6 * lifted[seen].mean(), \
        _report(every_frame)  # fmt: skip
    assert across[seen].max() <= 0.05 and across[seen].mean() < 0.6 * every_frame[seen].mean(), _report(across)
    with pytest.raises(CalibrationError, match=r"keypoints_norm must have shape \(121, 17, 2\)"):
        estimate_subject(poses, height_m, keypoints_norm=keypoints_norm[:, :, :1])


def test_widths_never_seen_across_keep_typical_proportions(filmed_walk: Walk, caplog) -> None:  # noqa: ANN001
    """This walk passes the camera with the hips and shoulders 55-65° out of the image plane in
    every frame: the lifter's widths would be its guess, so the profile keeps typical ones for the
    height, says so, and the other bones are unchanged."""
    poses, keypoints_norm, true_lengths, height_m = _lifted_walk(filmed_walk, hips=0.9, shoulders=1.1)
    with caplog.at_level(logging.WARNING, logger="posecast.calibration.subject"):
        profile = estimate_subject(poses, height_m, keypoints_norm=keypoints_norm)
    widths = list(skeleton.WIDTH_BONES)
    assert profile.typical_bones == tuple(skeleton.BONE_NAMES[b] for b in widths)
    np.testing.assert_allclose(profile.as_array()[widths], skeleton.bone_lengths_from_height(height_m)[widths])
    assert "never saw across pelvis-r_hip, pelvis-l_hip, thorax-l_shoulder, thorax-r_shoulder" in caplog.text
    # counted whatever the angle, the widths are the lifter's overshoot (hips 26 %, shoulders 14 % long
    # against typical's 16 % and 5 %); the other bones do not depend on it
    any_angle = SubjectOptions(max_width_angle_deg=90.0, joint_placement_sd_m=None)
    anywhere = estimate_subject(poses, height_m, keypoints_norm=keypoints_norm, options=any_angle)
    assert anywhere.typical_bones == ()
    guessed = anywhere.as_array()[widths] / true_lengths[widths] - 1.0
    typical = profile.as_array()[widths] / true_lengths[widths] - 1.0
    assert (guessed > np.abs(typical)).all(), (guessed, typical)
    seen = np.setdiff1d(np.arange(len(true_lengths)), widths)
    measured = estimate_subject(poses, height_m, keypoints_norm=keypoints_norm, options=MEASURED)
    np.testing.assert_allclose(measured.as_array()[seen], anywhere.as_array()[seen], rtol=0.01)


def test_every_bone_is_measured_when_the_person_faces_the_camera(filmed_walk: Walk) -> None:
    """The same walk towards the camera by a person with hips 10 % narrower and shoulders 10 %
    wider than typical (typical proportions miss them by 16 % and 5 %): the frames facing the
    camera measure both widths (0.6 % and 2.2 %), and every bone is within 5 % (the shin, 3.7 %;
    from every frame: 11 %). With the prior of typical proportions (the default) the hips, two
    standard deviations narrow and the least well measured bone, end between the two (11.3 %)."""
    poses, keypoints_norm, true_lengths, height_m = _lifted_walk(filmed_walk, hips=0.9, shoulders=1.1, facing=True)
    measured = estimate_subject(poses, height_m, keypoints_norm=keypoints_norm, options=MEASURED)
    widths = list(skeleton.WIDTH_BONES)
    assert measured.typical_bones == () and measured.clipped_bones == ()
    error = _errors(measured, true_lengths)
    typical = np.abs(skeleton.bone_lengths_from_height(height_m) / true_lengths - 1.0)
    assert error.max() <= 0.05 and (error[widths] < typical[widths]).all(), _report(error)
    every_frame = _errors(estimate_subject(poses, height_m, keypoints_norm=keypoints_norm, options=EVERY_FRAME),
                          true_lengths)  # fmt: skip
    assert every_frame.max() > 0.1, _report(every_frame)
    with_prior = estimate_subject(poses, height_m, keypoints_norm=keypoints_norm)
    assert with_prior.typical_bones == () and with_prior.clipped_bones == ()
    between = _errors(with_prior, true_lengths)
    assert (error[widths] < between[widths]).all() and (between[widths] < typical[widths]).all(), _report(between)


def test_subject_bone_lengths_from_lifted_video(filmed_walk: Walk) -> None:
    """The calibration issue's requirement, ≤ 5 % per bone through the lifter, on the walk past
    the camera (a strict expected failure until 2026-12-03), as ``calibrate subject`` does it
    (the defaults: the prior of typical proportions included). The widths pass as typical for the
    height, not measured (this walk never shows them; the profile says so): this person's are
    typical for a slightly shorter one (4.7 % off). Every other bone is measured (within 3.9 %
    alone, 4.7 % with the prior: the upper arms are pulled towards typical)."""
    poses, keypoints_norm, true_lengths, height_m = _lifted_walk(filmed_walk)
    profile = estimate_subject(poses, height_m, keypoints_norm=keypoints_norm)
    error = _errors(profile, true_lengths)
    assert error.max() <= 0.05, _report(error)
    assert set(profile.typical_bones) == {skeleton.BONE_NAMES[b] for b in skeleton.WIDTH_BONES}


def test_the_prior_of_typical_proportions_absorbs_a_constant_joint_offset(filmed_walk: Walk) -> None:
    """A detector puts each joint a little off where the body's joint is (1 cm per axis here, about
    the evaluation's MediaPipe-shaped bias), the same in every frame: it does not average away, and
    on the short bones it is several per cent. Six such detectors on the walk towards the camera:
    weighed against typical proportions by how well each bone can be measured (the default), the
    lengths are closer to the truth than measured alone, on average in each of the six (this
    person's legs 8 % long and arms 6 % short notwithstanding), and the median worst bone is lower
    (8.3 → 5.6 %)."""
    worst_measured, worst_with_prior = [], []
    for seed in range(6):
        offset = np.random.default_rng(seed).normal(0.0, 0.01, (skeleton.NUM_JOINTS, 3))
        poses, keypoints_norm, true_lengths, height_m = _lifted_walk(filmed_walk, facing=True, joint_offset_m=offset)
        measured = _errors(estimate_subject(poses, height_m, keypoints_norm=keypoints_norm, options=MEASURED),
                           true_lengths)  # fmt: skip
        with_prior = _errors(estimate_subject(poses, height_m, keypoints_norm=keypoints_norm), true_lengths)
        assert with_prior.mean() < measured.mean(), (seed, _report(measured), _report(with_prior))
        worst_measured.append(measured.max())
        worst_with_prior.append(with_prior.max())
    assert np.median(worst_with_prior) < np.median(worst_measured), (worst_measured, worst_with_prior)

"""Augmentation for generalisation on real CMU takes: proportions in the adult range and
consistent with posecast's derived joints, joint-centre shifts in the body frame, time warp,
close/wide/edge webcams, MediaPipe-shaped noise."""

from __future__ import annotations

import numpy as np
import pytest
from posecast.engines import metrics, normalize, skeleton
from posecast.engines.training.data import augment
from posecast.engines.training.data.augment import BodyOptions
from posecast.engines.training.data.cameras import CameraOptions, sample_cameras
from posecast.engines.training.data.dataset import Clip
from posecast.engines.training.data.noise import NoiseOptions, add_detector_noise
from posecast.engines.training.data.windows import MocapWindowSampler, SamplerOptions
from posecast.engines.window_slots import SNAP_FRACTION

J = skeleton.JOINT_INDEX
B = {name: i for i, name in enumerate(skeleton.BONE_NAMES)}


@pytest.fixture(scope="module")
def windows(clips: list[Clip]) -> np.ndarray:
    """64 windows of 9 frames from the real takes ``(64, 9, 17, 3)``."""
    frames = clips[0].joints_m.astype(np.float64)
    starts = np.random.default_rng(0).integers(0, len(frames) - 9, 64)
    return np.stack([frames[s : s + 9] for s in starts])


def test_proportions_are_drawn_within_the_adult_ranges(windows: np.ndarray) -> None:
    options = BodyOptions(side_jitter=0.0, height_range=(1.0, 1.0))
    factors = augment.proportion_factors(windows, np.random.default_rng(1), options)
    body = augment.rescale_bones(windows, factors)
    lengths = np.median(skeleton.bone_lengths(body), axis=1)
    leg = augment.leg_length(lengths)
    np.testing.assert_allclose(leg, augment.leg_length(np.median(skeleton.bone_lengths(windows), axis=1)), rtol=1e-3)
    for bones, low, high in augment.PROPORTION_RANGES.values():
        for name in bones:
            ratio = lengths[:, B[name]] / leg
            assert ratio.min() >= low - 0.01 and ratio.max() <= high + 0.01, (name, ratio.min(), ratio.max())
            assert ratio.max() - ratio.min() > 0.5 * (high - low)  # the range is used, not one value
    # left and right the same, the derived joints still midpoints (one person, one definition)
    np.testing.assert_allclose(lengths[:, B["pelvis-l_hip"]], lengths[:, B["pelvis-r_hip"]], rtol=1e-3)
    np.testing.assert_allclose(body[..., J["spine"], :], 0.5 * (body[..., J["pelvis"], :] + body[..., J["thorax"], :]),
                               atol=1e-6)  # fmt: skip
    np.testing.assert_allclose(body[..., J["neck"], :], 0.5 * (body[..., J["thorax"], :] + body[..., J["head"], :]),
                               atol=1e-6)  # fmt: skip
    np.testing.assert_allclose(body[..., J["pelvis"], :], 0.5 * (body[..., J["l_hip"], :] + body[..., J["r_hip"], :]),
                               atol=1e-6)  # fmt: skip
    # constant over the window: every frame got the same factors
    cv = skeleton.bone_lengths(body).std(1) / lengths
    assert cv[:, [B["r_hip-r_knee"], B["l_elbow-l_wrist"]]].max() < 0.01


def test_given_bodies_replace_the_drawn_proportions(windows: np.ndarray) -> None:
    """With ``bodies`` (lengths relative to the leg) every window takes one of them, exactly."""
    typical = skeleton.bone_lengths_from_height(1.75)
    bodies = np.stack([typical, typical * np.linspace(0.9, 1.1, 16)]) / augment.leg_length(typical)
    options = BodyOptions(side_jitter=0.0, height_range=(1.0, 1.0), bodies=bodies)
    body = augment.rescale_bones(windows, augment.proportion_factors(windows, np.random.default_rng(3), options))
    lengths = np.median(skeleton.bone_lengths(body), axis=1)
    ratios = lengths / augment.leg_length(np.median(skeleton.bone_lengths(windows), axis=1))[:, None]
    nearest = np.abs(ratios[:, None, :] - bodies[None]).max(-1).min(-1)
    assert nearest.max() < 2e-3  # each window is one of the given bodies
    assert len({int(np.abs(r - bodies).max(-1).argmin()) for r in ratios}) == 2  # both are used
    with pytest.raises(ValueError, match=r"bodies must be \(K, 16\)"):
        BodyOptions(bodies=np.ones((2, 15)))


def test_height_range_scales_the_whole_body(windows: np.ndarray) -> None:
    options = BodyOptions(proportions=False, side_jitter=0.0, height_range=(0.85, 1.15))
    factors = augment.proportion_factors(windows, np.random.default_rng(2), options)
    assert np.allclose(factors, factors[:, :1], rtol=1e-9)  # one factor per window
    assert factors.min() >= 0.85 and factors.max() <= 1.15 and factors.std() > 0.05


def test_joint_centre_shifts_move_along_the_body_forwards_axis(windows: np.ndarray) -> None:
    shifted = augment.shift_joint_centres(windows, np.random.default_rng(3), 0.04)
    forwards = skeleton.body_frame(windows)[..., 2, :]
    for name in ("l_hip", "r_shoulder", "head"):
        moved = shifted[..., J[name], :] - windows[..., J[name], :]
        along = np.sum(moved * forwards, axis=-1)
        np.testing.assert_allclose(moved, along[..., None] * forwards, atol=1e-9)  # only forwards/backwards
        assert 0.005 < np.abs(along).mean() < 0.1  # metres: a few centimetres
        np.testing.assert_allclose(along, np.broadcast_to(along[:, :1], along.shape), atol=1e-9)  # one shift per window
    np.testing.assert_array_equal(shifted[..., J["l_knee"], :], windows[..., J["l_knee"], :])
    np.testing.assert_allclose(shifted[..., J["pelvis"], :], 0.5 * (shifted[..., J["l_hip"], :]
                                                                     + shifted[..., J["r_hip"], :]))  # fmt: skip


def test_knee_extension_scales_each_knee_flexion_in_the_leg_plane(windows: np.ndarray) -> None:
    before = metrics.knee_bend_deg(windows)
    assert np.median(before) > 10.0  # the real takes' knees are bent: there is something to extend
    for factor in (0.0, 0.4, 1.0):
        out = augment.extend_knees(windows, np.random.default_rng(4), 1.0, (factor, factor))
        np.testing.assert_allclose(metrics.knee_bend_deg(out), factor * before, atol=1e-4)  # arccos near 0
        np.testing.assert_allclose(skeleton.bone_lengths(out), skeleton.bone_lengths(windows), atol=1e-9)
        moved = np.abs(out - windows).max(axis=(0, 1, 3))
        assert set(np.flatnonzero(moved > 1e-9)) <= {J["r_ankle"], J["l_ankle"]}  # only the ankles move
        # the ankle stays in the plane of hip, knee and the old ankle: the leg turns in its own plane
        for hip, knee, ankle in (("r_hip", "r_knee", "r_ankle"), ("l_hip", "l_knee", "l_ankle")):
            normal = np.cross(windows[..., J[knee], :] - windows[..., J[hip], :],
                              windows[..., J[ankle], :] - windows[..., J[knee], :])  # fmt: skip
            offset = np.sum((out[..., J[ankle], :] - windows[..., J[knee], :]) * normal, -1)
            np.testing.assert_allclose(offset, 0.0, atol=1e-9)
    # drawn per window: one factor for both legs and every frame, the rest untouched
    out = augment.extend_knees(windows, np.random.default_rng(5), 0.5, (0.0, 1.0))
    after = metrics.knee_bend_deg(out)
    factor = after.sum(axis=(1, 2)) / before.sum(axis=(1, 2))
    np.testing.assert_allclose(after, factor[:, None, None] * before, atol=1e-3)
    kept = np.isclose(factor, 1.0)
    assert 0.25 < kept.mean() < 0.75
    assert augment.extend_knees(windows, np.random.default_rng(5), 0.0) is windows  # off: no draw, no copy
    with pytest.raises(ValueError, match="knee_extension_range"):
        BodyOptions(knee_extension_range=(0.5, 1.2))


def test_torso_turns_backwards_about_the_hips_axis(windows: np.ndarray) -> None:
    out = augment.lean_torso_back(windows, np.random.default_rng(7), 1.0, 10.0)
    np.testing.assert_allclose(skeleton.bone_lengths(out), skeleton.bone_lengths(windows), atol=1e-9)
    legs = [J[n] for n in ("pelvis", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle")]
    np.testing.assert_array_equal(out[..., legs, :], windows[..., legs, :])
    before, after = skeleton.body_frame(windows), skeleton.body_frame(out)
    np.testing.assert_allclose(after[..., 0, :], before[..., 0, :], atol=1e-9)  # the hips' axis is the pivot
    # the torso's new direction: turned by one angle per window, from up towards backwards
    turn = np.degrees(np.arctan2(-np.sum(after[..., 1, :] * before[..., 2, :], -1),
                                 np.sum(after[..., 1, :] * before[..., 1, :], -1)))  # fmt: skip
    np.testing.assert_allclose(turn, np.broadcast_to(turn[:, :1], turn.shape), atol=1e-6)
    assert turn.min() >= 0.0 and turn.max() <= 10.0 and turn.max() - turn.min() > 5.0
    # the whole upper body turns rigidly: shoulder width and arm pose relative to the torso unchanged
    for a, b in (("l_shoulder", "r_shoulder"), ("head", "l_wrist"), ("spine", "r_elbow")):
        length = np.linalg.norm(windows[..., J[a], :] - windows[..., J[b], :], axis=-1)
        np.testing.assert_allclose(np.linalg.norm(out[..., J[a], :] - out[..., J[b], :], axis=-1), length, atol=1e-9)
    assert augment.lean_torso_back(windows, np.random.default_rng(7), 0.0, 10.0) is windows
    with pytest.raises(ValueError, match="torso_back_max_deg"):
        BodyOptions(torso_back_max_deg=60.0)


def test_crouch_bends_the_legs_over_planted_feet(windows: np.ndarray) -> None:
    """A full-depth crouch, held still: every bone keeps its length, the feet stay (to the leg's
    reach), the knees bend deeply and point forwards, the pelvis goes down and back, the upper
    body leans forwards, the facing direction stays; depth 0 changes nothing."""
    rng = np.random.default_rng(11)
    out = augment.crouch(windows, rng, 1.0, (1.0, 1.0))
    np.testing.assert_allclose(skeleton.bone_lengths(out), skeleton.bone_lengths(windows), atol=1e-6)
    for ankle in ("l_ankle", "r_ankle"):
        assert np.linalg.norm(out[..., J[ankle], :] - windows[..., J[ankle], :], axis=-1).max() < 0.03
    # the windows held still at full depth: crouch draws its depths first, so the same seed tells
    depth = augment.crouch_depths(np.random.default_rng(11), len(windows), 1.0, (1.0, 1.0), windows.shape[1], 30.0)
    held = np.ptp(depth, axis=1) < 1e-12
    assert held.sum() >= 16
    bend = metrics.knee_bend_deg(out)  # (B, T, 2)
    assert np.median(bend[held]) > 70.0 and np.median(metrics.knee_bend_deg(windows)) < 40.0
    height = lambda x: x[..., J["pelvis"], 1] - x[..., [J["l_ankle"], J["r_ankle"]], 1].mean(-1)  # noqa: E731
    assert np.median(height(out)[held] / height(windows)[held]) < 0.6
    frame_in, frame_out = skeleton.body_frame(windows), skeleton.body_frame(out)
    level = lambda f: f / np.linalg.norm(f, axis=-1, keepdims=True)  # noqa: E731
    facing_in, facing_out = (level(f[..., 2, [0, 2]]) for f in (frame_in, frame_out))
    assert np.median(np.degrees(np.arccos(np.clip((facing_in * facing_out).sum(-1), -1, 1)))) < 5.0
    # knees forwards of the hips, the torso leaning forwards of the vertical
    ahead = ((out[..., J["l_knee"], :] - out[..., J["l_hip"], :]) * frame_in[..., 2, :]).sum(-1)
    assert np.median(ahead[held]) > 0.1
    torso = out[..., J["thorax"], :] - out[..., J["pelvis"], :]
    lean = np.degrees(np.arctan2((torso * frame_in[..., 2, :]).sum(-1), torso[..., 1]))
    assert np.median(lean[held]) > np.median(np.degrees(np.arctan2(
        ((windows[..., J["thorax"], :] - windows[..., J["pelvis"], :]) * frame_in[..., 2, :]).sum(-1),
        (windows[..., J["thorax"], :] - windows[..., J["pelvis"], :])[..., 1]))[held]) + 10.0  # fmt: skip
    np.testing.assert_array_equal(augment.crouch(windows, np.random.default_rng(1), 1.0, (0.0, 0.0)), windows)
    assert augment.crouch(windows, np.random.default_rng(1), 0.0) is windows
    with pytest.raises(ValueError, match="crouch_depth"):
        BodyOptions(crouch_depth=(0.5, 1.5))


def test_crouch_planted_only_leaves_a_raised_foot_alone(windows: np.ndarray) -> None:
    """With ``planted_only`` a window with a foot off the ground (one ankle raised by a fifth of
    the leg) is not crouched; the same window with both feet level is."""
    level, raised = windows[:1].copy(), windows[:1].copy()
    for w in (level, raised):
        w[..., [J["l_ankle"], J["r_ankle"]], 1] = w[..., [J["l_ankle"], J["r_ankle"]], 1].min()
    leg = augment.leg_length(np.median(skeleton.bone_lengths(windows[:1]), axis=1))[0]
    raised[..., J["l_ankle"], 1] += 0.2 * leg
    for w, crouched in ((level, True), (raised, False)):
        out = augment.crouch(w, np.random.default_rng(0), 1.0, (1.0, 1.0), planted_only=True)
        assert bool(np.abs(out - w).max() > 0.05) is crouched


def test_crouch_depths_are_still_or_moving_in_their_range() -> None:
    depth = augment.crouch_depths(np.random.default_rng(2), 4000, 0.3, (0.2, 1.0), 27, 30.0)
    crouched = depth.max(axis=1) > 0
    assert 0.27 < crouched.mean() < 0.33
    assert depth.min() >= 0.0 and depth.max() <= 1.0
    still = np.ptp(depth[crouched], axis=1) < 1e-12
    assert 0.45 < still.mean() < 0.55 and depth[crouched][still, 0].min() >= 0.2
    # moving: down and up with a period of 1.5-4 s, so a 0.9 s window moves but never jumps
    moving = depth[crouched][~still]
    fastest_step = 0.5 * 2 * np.pi / 1.5 / 30.0  # amplitude ≤ 1, period ≥ 1.5 s, frames 1/30 s apart
    assert np.abs(np.diff(moving, axis=1)).max() < fastest_step + 1e-9 and np.ptp(moving, axis=1).mean() > 0.1


def test_crouch_depths_without_standing_up_stay_deep() -> None:
    rng_args = (4000, 0.3, (0.5, 1.0), 27, 30.0)
    standing = augment.crouch_depths(np.random.default_rng(2), *rng_args)
    deep = augment.crouch_depths(np.random.default_rng(2), *rng_args, stand_up=False)
    crouched = deep.max(axis=1) > 0
    np.testing.assert_array_equal(crouched, standing.max(axis=1) > 0)  # the same windows, same draws
    assert deep[crouched].min() >= 0.5 - 1e-12 and deep.max() <= 1.0
    assert standing[crouched].min() < 0.1  # standing up passes through shallow depths
    moving = np.ptp(deep[crouched], axis=1) > 1e-12
    assert 0.4 < moving.mean() < 0.6  # still moving, between 0.5 and each window's depth


def test_reach_forwards_holds_the_arms_out_in_front(windows: np.ndarray) -> None:
    """Arms held out in front: arm bones keep their length, wrists end up in front of the chest
    and nearer the midline than the shoulders, the shoulders move forwards and in; legs and torso
    do not move."""
    out = augment.reach_forwards(windows, np.random.default_rng(5), 1.0)
    lengths_in, lengths_out = skeleton.bone_lengths(windows), skeleton.bone_lengths(out)
    arms = [B[n] for n in ("l_shoulder-l_elbow", "r_shoulder-r_elbow", "l_elbow-l_wrist", "r_elbow-r_wrist")]
    np.testing.assert_allclose(lengths_out[..., arms], lengths_in[..., arms], atol=1e-6)
    still = [J[n] for n in ("pelvis", "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle", "spine", "thorax",
                            "neck", "head")]  # fmt: skip
    np.testing.assert_array_equal(out[..., still, :], windows[..., still, :])
    left, _, forwards = np.moveaxis(skeleton.body_frame(windows), -2, 0)
    thorax = windows[..., J["thorax"], :]
    for side, arm in ((1.0, "l"), (-1.0, "r")):
        wrist, shoulder = out[..., J[f"{arm}_wrist"], :] - thorax, out[..., J[f"{arm}_shoulder"], :] - thorax
        assert (np.sum(wrist * forwards, -1) > 0.1).mean() > 0.95  # in front of the chest
        inwards = side * np.sum(wrist * left, -1) < side * np.sum(shoulder * left, -1)
        assert inwards.mean() > 0.95  # nearer the middle than the shoulder
        moved = out[..., J[f"{arm}_shoulder"], :] - windows[..., J[f"{arm}_shoulder"], :]
        assert (np.sum(moved * forwards, -1) >= -1e-9).all() and (side * np.sum(moved * left, -1) <= 1e-9).all()
    assert lengths_out[..., B["thorax-l_shoulder"]].mean() < lengths_in[..., B["thorax-l_shoulder"]].mean()
    assert augment.reach_forwards(windows, np.random.default_rng(5), 0.0) is windows


def test_mix_limbs_gives_a_window_another_window_s_limbs_in_its_own_frame(windows: np.ndarray) -> None:
    """Every window mixed: bone lengths and the torso kept; a mixed limb's bones point, in the
    window's own girdle axes, as the partner's do in theirs; a window turned about the vertical
    as a whole mixed with its unturned self changes nothing."""
    out = augment.mix_limbs(windows, np.random.default_rng(3), 1.0)
    np.testing.assert_allclose(skeleton.bone_lengths(out), skeleton.bone_lengths(windows), atol=1e-9)
    torso = [J[n] for n in ("pelvis", "l_hip", "r_hip", "spine", "thorax", "neck", "head", "l_shoulder", "r_shoulder")]
    np.testing.assert_array_equal(out[..., torso, :], windows[..., torso, :])
    changed = np.abs(out - windows).max(axis=(1, 3))  # (B, 17)
    limbs = [J[n] for n in ("l_elbow", "l_wrist", "r_elbow", "r_wrist", "l_knee", "l_ankle", "r_knee", "r_ankle")]
    assert 0.3 < (changed[:, limbs] > 1e-6).mean() < 0.7  # each limb with even odds
    # the left forearm of a window whose left arm was mixed: its direction in the shoulder
    # girdle's axes is one of the other windows' (the partner's), to rounding
    axes = skeleton.body_frame(windows, "shoulders")
    out_axes = skeleton.body_frame(out, "shoulders")

    def local_forearm(joints: np.ndarray, frame: np.ndarray) -> np.ndarray:
        bone = joints[..., J["l_wrist"], :] - joints[..., J["l_elbow"], :]
        return np.einsum("btij,btj->bti", frame, bone / np.linalg.norm(bone, axis=-1, keepdims=True))

    mixed = np.flatnonzero(changed[:, J["l_wrist"]] > 1e-6)
    theirs, mine = local_forearm(windows, axes), local_forearm(out, out_axes)
    for row in mixed[:8]:
        assert np.abs(theirs - mine[row]).max(axis=(1, 2)).min() < 1e-9
    # turned as a whole: the same pose, nothing to change
    turn = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])  # 90° about y
    pair = np.stack([windows[0], windows[0] @ turn.T])
    np.testing.assert_allclose(augment.mix_limbs(pair, np.random.default_rng(0), 1.0), pair, atol=1e-9)
    assert augment.mix_limbs(windows, np.random.default_rng(3), 0.0) is windows
    # the legs alone (limb_mix_limbs: [legs]): the arms stay the window's own
    legs_only = augment.mix_limbs(windows, np.random.default_rng(3), 1.0, ("legs",))
    arms = [J[n] for n in ("l_elbow", "l_wrist", "r_elbow", "r_wrist")]
    np.testing.assert_array_equal(legs_only[..., arms, :], windows[..., arms, :])
    assert (np.abs(legs_only - windows).max(axis=(1, 3))[:, [J["l_ankle"], J["r_ankle"]]] > 1e-6).any()
    with pytest.raises(ValueError, match="limb_mix_limbs must name arms and/or legs, got"):
        BodyOptions(limb_mix_limbs=("tails",))


def test_two_bone_knees_keep_both_lengths_and_bend_to_the_given_side() -> None:
    rng = np.random.default_rng(4)
    hips, ankles = rng.normal(0, 0.3, (500, 3)), rng.normal(0, 0.3, (500, 3))
    thigh, shin = rng.uniform(0.35, 0.5, 500), rng.uniform(0.35, 0.5, 500)
    bend = rng.normal(0, 1, (500, 3))
    knees, reached = augment.two_bone_knees(hips, ankles, thigh, shin, bend)
    np.testing.assert_allclose(np.linalg.norm(knees - hips, axis=-1), thigh, rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(reached - knees, axis=-1), shin, rtol=1e-5)
    # an ankle within reach stays; one out of reach moves along its line from the hip
    dist = np.linalg.norm(ankles - hips, axis=-1)
    inside = (dist < thigh + shin - 1e-3) & (dist > np.abs(thigh - shin) + 1e-3)
    np.testing.assert_allclose(reached[inside], ankles[inside], atol=1e-9)
    line = (ankles - hips) / dist[:, None]
    np.testing.assert_allclose(((reached - hips) / np.linalg.norm(reached - hips, axis=-1, keepdims=True))[~inside],
                               line[~inside], atol=1e-6)  # fmt: skip
    # the knee is off the line on bend's side
    foot = hips + ((knees - hips) * line).sum(-1, keepdims=True) * line
    assert (((knees - foot) * bend).sum(-1)[inside] > 0).all()


def test_sampler_straightens_the_knees_when_asked(clips: list[Clip]) -> None:
    """The training sampler applies the body's knee extension: with factor 0 every knee of its
    3D targets is straight, without it the takes' own bends remain."""
    options = dict(window_frames=9, noise=False, warmup_prob=0.0)
    straight = BodyOptions(knee_extension_prob=1.0, knee_extension_range=(0.0, 0.0))
    for body, check in ((straight, lambda flex: flex.max() < 0.01), (BodyOptions(), lambda flex: np.median(flex) > 10)):
        sampler = MocapWindowSampler(clips[:1], SamplerOptions(body=body, **options), seed=0)
        batch = sampler.make_batch(np.arange(len(sampler)), np.random.default_rng(6), augment=True, noise=False)
        assert check(metrics.knee_bend_deg(batch.joints_cam_m.astype(np.float64)))


@pytest.mark.parametrize("camera_fps", [5.0, 7.3, 12.0, 30.0])
def test_slow_camera_windows_are_what_the_live_window_makes(camera_fps: float) -> None:
    """Training's slow-camera windows and the live window, fed the same camera frames, agree on
    every slot from the window's first camera frame on (older slots: the window does not hold the
    motion before it, the live one does)."""
    from posecast.realtime.lifting.window import PoseWindow, PoseWindowOptions

    rng = np.random.default_rng(3)
    frames = np.cumsum(rng.normal(0.0, 0.01, (200, 17, 2)), axis=0)  # a 30 fps motion
    t, last = 27, 150.0
    positions = (last - (t - 1) + np.arange(t, dtype=np.float64))[None]
    trained = augment.slow_camera_windows(frames, positions, np.array([camera_fps]), 30.0)[0]

    live = PoseWindow(PoseWindowOptions(t, 30.0, None))
    now_ns, period_ns = 10**12, 1e9 / camera_fps
    back = np.arange(int(3 * camera_fps), -1, -1)  # 3 s of camera frames, oldest first
    for k in back:
        time_ns = now_ns - round(k * period_ns)
        pose = augment.interpolate_frames(frames, np.array([[last - k * period_ns * 30.0 / 1e9]]))[0, 0]
        result = live.process(pose, time_ns)
    first = int(np.ceil((t - 1) - np.floor((t - 1) * camera_fps / 30.0 + 1e-9) * 30.0 / camera_fps - 1e-9))
    np.testing.assert_allclose(trained[first:], result.window[first:], atol=1e-5)
    np.testing.assert_allclose(trained[-1], frames[int(last)], atol=1e-6)  # the newest slot: the frame itself


def test_sampler_windows_from_a_slow_camera_are_piecewise_linear(clips: list[Clip]) -> None:
    """With ``low_rate_prob`` 1 and a 5 fps camera, the 3D of a window moves in straight lines
    between the camera frames (6 slots apart at 30 fps) and turns at them; mocap at its own rate
    does not move in straight lines."""
    fixed = dict(proportions=False, side_jitter=0.0, height_range=(1.0, 1.0), shift_frac=0.0, speed_prob=0.0)
    body = BodyOptions(low_rate_prob=1.0, low_rate_fps=(5.0, 5.0), **fixed)
    common = dict(window_frames=13, noise=False, mirror_prob=0.0, warmup_prob=0.0)
    slow = MocapWindowSampler(clips[:1], SamplerOptions(body=body, **common), seed=0)
    plain = MocapWindowSampler(clips[:1], SamplerOptions(body=BodyOptions(**fixed), **common), seed=0)
    rows = np.arange(20, len(slow), 11)
    a = slow.make_batch(rows, np.random.default_rng(9), augment=True, noise=False).joints_cam_m.astype(np.float64)
    b = plain.make_batch(rows, np.random.default_rng(9), augment=True, noise=False).joints_cam_m.astype(np.float64)
    second = a[:, 2:] - 2 * a[:, 1:-1] + a[:, :-2]  # zero inside each straight piece (slots 1-5, 7-11)
    inside = [i - 1 for i in (2, 3, 4, 5, 8, 9, 10, 11)]
    # straight up to the live rule's weight rounding (SNAP_FRACTION of the step between camera frames)
    step = np.maximum(np.abs(a[:, 6] - a[:, 0]), np.abs(a[:, 12] - a[:, 6]))[:, None]
    assert (np.abs(second[:, inside]) <= 2 * SNAP_FRACTION * step + 1e-6).all()
    assert np.abs(second[:, 6 - 1]).max() > 1e-3  # a camera frame: the motion turns there
    assert np.abs(b[:, 2:] - 2 * b[:, 1:-1] + b[:, :-2])[:, inside].max() > 1e-3  # mocap itself is not


def test_time_warp_spans_speed_times_the_window() -> None:
    last, first = np.array([100, 100, 5]), np.array([0, 0, 0])
    pos = augment.warp_times(last, first, 9, np.array([1.0, 2.0, 1.0]))
    np.testing.assert_array_equal(pos[0], np.arange(92, 101))
    np.testing.assert_array_equal(pos[1], np.arange(84, 101, 2))
    np.testing.assert_array_equal(pos[2], [0, 0, 0, 0, 1, 2, 3, 4, 5])  # clamped at the clip's start
    frames = np.arange(10, dtype=np.float64)[:, None, None] * np.ones((1, 17, 3))
    np.testing.assert_allclose(augment.interpolate_frames(frames, np.array([[2.5, 9.0]]))[0, :, 0, 0], [2.5, 9.0])
    speeds = augment.sample_speeds(np.random.default_rng(4), 4000, BodyOptions())
    assert speeds.min() >= 0.5 and speeds.max() <= 2.0
    assert 0.4 < np.mean(speeds == 1.0) < 0.6 and np.mean(speeds > 1.0) > 0.2 and np.mean(speeds < 1.0) > 0.2


def test_sampler_windows_at_other_speeds_stay_in_their_clip(clips: list[Clip]) -> None:
    body = BodyOptions(proportions=False, side_jitter=0.0, height_range=(1.0, 1.0), shift_frac=0.0, speed_prob=1.0)
    options = SamplerOptions(window_frames=9, noise=False, mirror_prob=0.0, body=body, warmup_prob=0.0)
    sampler = MocapWindowSampler(clips[:1], options, seed=0)
    batch = sampler.make_batch(np.arange(len(sampler)), np.random.default_rng(5), augment=True, noise=False)
    # the body is unchanged (only the timing is): bone lengths as in the mocap
    lengths = skeleton.bone_lengths(batch.joints_cam_m.astype(np.float64))
    reference = np.median(skeleton.bone_lengths(sampler.frames), axis=0)
    rigid = [B["r_hip-r_knee"], B["l_knee-l_ankle"], B["r_elbow-r_wrist"]]
    np.testing.assert_allclose(lengths[..., rigid], np.broadcast_to(reference[rigid], lengths[..., rigid].shape),
                               rtol=0.03)  # fmt: skip


def test_default_cameras_include_close_wide_and_edge_webcams() -> None:
    rng = np.random.default_rng(6)
    targets = np.zeros((4000, 3)) + np.array([0.0, 0.9, 0.0])
    cams = sample_cameras(targets, rng)
    centres = -np.einsum("bji,bj->bi", cams.rotation, cams.translation)
    distance = np.linalg.norm(centres - targets, axis=-1)
    hfov = np.rad2deg(2 * np.arctan(0.5 * cams.image_size[:, 0] / cams.intrinsics[:, 0]))
    offset = (cams.project_px(cams.to_camera(targets[:, None]))[:, 0] - cams.intrinsics[:, 2:]) / cams.image_size
    assert 0.25 < np.mean(distance < 2.5) < 0.35 and distance.min() >= 1.5
    assert 0.15 < np.mean(hfov > 90.0) < 0.25 and hfov.max() <= 120.0 + 1e-9
    assert np.abs(offset).max() > 0.3 and np.mean(np.abs(offset).max(-1) > 0.16) > 0.05
    with pytest.raises(ValueError, match="close_prob"):
        CameraOptions(close_prob=1.5)
    with pytest.raises(ValueError, match="distance"):
        CameraOptions(close_distance_m=(0.1, 1.0))


def test_noise_is_shaped_like_mediapipe() -> None:
    rng = np.random.default_rng(7)
    pixels = np.array([640.0, 360.0]) + rng.normal(0.0, 80.0, (512, 20, 17, 2))
    options = NoiseOptions(bias_frac=0.0, outlier_prob=0.0, limb_prob=0.0)
    noisy, _ = add_detector_noise(pixels, np.random.default_rng(8), options)
    error = np.linalg.norm(noisy - pixels, axis=-1).mean((0, 1))
    assert error[J["l_wrist"]] > 2 * error[J["l_hip"]] and error[J["r_elbow"]] > 1.3 * error[J["r_shoulder"]]
    # gross errors come in runs of frames (a limb lost for a moment), with low confidence
    runs = NoiseOptions(outlier_prob=0.01, outlier_frames=(4, 4), limb_prob=0.0, bias_frac=0.0, jitter_frac=(0, 0))
    noisy, conf = add_detector_noise(pixels, np.random.default_rng(9), runs)
    low = conf < 0.5
    assert 0.02 < low.mean() < 0.06
    following = low[:, 1:][low[:, :-1]].mean()  # after a low-confidence frame, the next is low too
    assert following > 0.6
    # joints outside the image: larger errors, low confidence
    size = np.tile([[1280.0, 720.0]], (512, 1))
    shifted = pixels + np.array([700.0, 0.0])  # right half of the body beyond x = 1280
    quiet = NoiseOptions(bias_frac=0.0, jitter_frac=(0, 0), outlier_prob=0.0, limb_prob=0.0)
    noisy, conf = add_detector_noise(shifted, np.random.default_rng(10), quiet, size)
    outside = shifted[..., 0] > 1280.0
    assert conf[outside].max() <= 0.4 and conf[~outside].min() > 0.4
    assert np.abs(noisy - shifted)[~outside].max() < 1e-9 and np.abs(noisy - shifted)[outside].mean() > 5.0


def test_noisy_batches_stay_finite_and_normalised(clips: list[Clip]) -> None:
    sampler = MocapWindowSampler(clips, SamplerOptions(window_frames=9), seed=1)
    batch = sampler.sample(2048)  # close cameras, fast motion: every joint stays in front
    assert np.isfinite(batch.keypoints_norm).all() and (batch.joints_cam_m[..., 2] >= 0.5 - 1e-6).all()
    canonical = normalize.canonicalize(batch.keypoints_norm.astype(np.float64))
    assert np.isfinite(canonical).all()

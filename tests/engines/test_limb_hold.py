"""The limb hold (engines/limb_hold.py): which joints count as seen, a limb bone held while
unseen and relaxed to rest when it stays unseen, eased back over its time when seen again."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from bone_turns import turn_deg
from posecast.engines import bvh_export, limb_hold, rotations, skeleton
from posecast.engines.training.data.bvh import load_bvh_joints
from scipy.spatial.transform import Rotation

J = skeleton.JOINT_INDEX
OPTIONS = limb_hold.LimbHoldOptions()
UPPER_ARM = limb_hold.LIMB_JOINTS.index(J["r_elbow"])
FRAME_NS = int(1e9 / 30)


def test_a_joint_outside_the_image_at_its_edge_or_scored_low_is_not_seen() -> None:
    points = np.full((17, 2), [300.0, 200.0])
    confidence = np.ones(17)
    points[J["r_elbow"]] = [-4.0, 200.0]  # 4 px outside, as in QA, scored high
    points[J["l_wrist"]] = [635.0, 200.0]  # within 2 % of 480 (9.6 px) of the right edge
    points[J["l_knee"]] = [300.0, 470.0]  # likewise of the bottom
    confidence[J["l_elbow"]] = 0.29  # under the lifting's min_joint_confidence
    points[J["r_ankle"]] = [np.nan, np.nan]
    seen = limb_hold.joints_seen(points, confidence, (640, 480), OPTIONS)
    assert not seen[[J["r_elbow"], J["l_wrist"], J["l_knee"], J["l_elbow"], J["r_ankle"]]].any()
    assert seen.sum() == 12
    bones = limb_hold.limb_bones_seen(seen)  # each bone needs both its joints
    names = [skeleton.JOINT_NAMES[j] for j, s in zip(limb_hold.LIMB_JOINTS, bones, strict=True) if s]
    assert names == ["r_knee"]  # (r_hip → r_knee); the shin ends at the unseen ankle


def turned(degrees: float) -> np.ndarray:
    """Local rotations (17, 4): identity but the right upper arm, turned about z."""
    quats = np.tile([0.0, 0.0, 0.0, 1.0], (17, 1))
    quats[J["r_elbow"]] = Rotation.from_euler("z", degrees, degrees=True).as_quat()
    return quats


def angle_deg(quat: np.ndarray) -> float:
    return float(np.degrees(Rotation.from_quat(quat).as_euler("zyx")[0]))


def run(angles: list[float], seen_upper_arm: list[bool], options: limb_hold.LimbHoldOptions = OPTIONS,
        frame_ns: int = FRAME_NS) -> list[float]:  # fmt: skip
    """The right upper arm's angle sent for each frame (30 fps, or one each ``frame_ns``) of live
    ``angles`` (its rest, on this straight body: 80 degrees about z, the T-pose's -x turned down to
    10 degrees off -y)."""
    state, sent = None, []
    for i, (degrees, seen) in enumerate(zip(angles, seen_upper_arm, strict=True)):
        bones = np.ones(8, bool)
        bones[UPPER_ARM] = seen
        out, state = limb_hold.hold_limbs(turned(degrees), bones, i * frame_ns, state, options)
        np.testing.assert_allclose(np.delete(out, J["r_elbow"], axis=0), np.delete(turned(0), J["r_elbow"], axis=0))
        sent.append(angle_deg(out[J["r_elbow"]]))
    return sent


def test_an_unseen_limb_holds_its_last_seen_rotation_and_eases_back_in_its_time() -> None:
    live = [10.0, 12.0, 170.0, -150.0, 100.0, 40.0, 40.0, 40.0, 40.0, 40.0, 40.0, 40.0, 40.0]
    seen = [True, True, False, False, False, True, True, True, True, True, True, True, True]
    sent = run(live, seen)
    assert sent[:2] == pytest.approx([10.0, 12.0])
    assert sent[2:6] == pytest.approx([12.0] * 4)  # held, and still where it was the frame it is seen again
    # then 0.2 s (6 frames) from 12 to 40 degrees at an even pace, and on the live rotation after
    assert sent[6:12] == pytest.approx([12.0 + 28.0 * k / 6 for k in range(1, 7)])
    assert sent[12] == pytest.approx(40.0)


def test_at_5_fps_the_ease_back_takes_3_frames_not_1() -> None:
    """At 5 fps the 0.2 s ease back was one frame: the arm snapped from where it was held to the
    lifted one (the squats clip slid, her forearm 86 degrees in a frame). An ease goes at most a
    third of its turn a frame (``MIN_EASE_FRAMES``): 3 frames here, 0.6 s."""
    assert limb_hold.MIN_EASE_FRAMES == 3
    live = [10.0, 12.0, 170.0, -150.0, 40.0, 40.0, 40.0, 40.0, 40.0]
    sent = run(live, [True, True, False, False, True, True, True, True, True], frame_ns=200_000_000)
    assert sent[:5] == pytest.approx([10.0, 12.0, 12.0, 12.0, 12.0])  # held, and where it was when seen again
    assert sent[5:] == pytest.approx([12.0 + 28.0 / 3, 12.0 + 56.0 / 3, 40.0, 40.0])


def test_at_5_fps_the_rest_takes_3_frames() -> None:
    # 0.5 s at 5 fps is 2.5 frames: it turned 40 %, 40 %, 20 % of the way; at 2 fps all at once
    sent = run([-30.0] * 2 + [170.0] * 10, [True] * 2 + [False] * 10, frame_ns=200_000_000)
    assert sent[:8] == pytest.approx([-30.0] * 8)  # lost at frame 2, held for 1 s
    assert sent[8:] == pytest.approx([-30.0 + 110.0 / 3, -30.0 + 220.0 / 3, REST_DEG, REST_DEG], abs=1e-4)
    sent = run([-30.0] * 2 + [170.0] * 7, [True] * 2 + [False] * 7, frame_ns=500_000_000)
    assert sent[4:] == pytest.approx([-30.0, -30.0 + 110.0 / 3, -30.0 + 220.0 / 3, REST_DEG, REST_DEG], abs=1e-4)


def test_the_ease_is_timed_by_the_clock_not_by_frames() -> None:
    state = None
    bones = np.ones(8, bool)
    bones[UPPER_ARM] = False
    _, state = limb_hold.hold_limbs(turned(0.0), np.ones(8, bool), 0, state, OPTIONS)
    _, state = limb_hold.hold_limbs(turned(90.0), bones, 10**8, state, OPTIONS)
    out, state = limb_hold.hold_limbs(turned(60.0), np.ones(8, bool), 2 * 10**8, state, OPTIONS)  # seen again
    assert angle_deg(out[J["r_elbow"]]) == pytest.approx(0.0)
    out, state = limb_hold.hold_limbs(turned(60.0), np.ones(8, bool), 2 * 10**8 + 5 * 10**7, state, OPTIONS)
    assert angle_deg(out[J["r_elbow"]]) == pytest.approx(15.0)  # a quarter of 0.2 s: a quarter of the way


def test_a_limb_lost_again_while_easing_holds() -> None:
    sent = run([0.0, 90.0, 90.0, 90.0, 90.0, 90.0], [True, False, True, True, False, False])
    assert sent == pytest.approx([0.0, 0.0, 0.0, 15.0, 15.0, 15.0])


@pytest.mark.parametrize("period", [2, 3])
def test_a_limb_flickering_in_and_out_of_view_still_eases_back_in_its_time(period: int) -> None:
    # held at 10 degrees, then seen again at 80 but lost every 2nd (3rd) frame: its joint hovers
    # about the confidence or the edge margin. Each return restarted the ease at the held rotation,
    # so at every 2nd frame the arm never moved and at every 3rd it took 2 s (review).
    live = [10.0] * 2 + [170.0] * 3 + [80.0] * 40
    flicker = [k % period != period - 1 for k in range(40)]  # seen, (seen,) unseen, ...
    sent = run(live, [True] * 2 + [False] * 3 + flicker)
    assert sent[:6] == pytest.approx([10.0] * 6)  # held, and where it was the frame it is seen again
    assert np.abs(np.array(sent[5 + 9 :]) - 80.0).max() < 1.0  # on the live rotation 0.3 s after
    # never ahead of the uninterrupted ease (10 to 80 degrees over 6 frames), which it catches up
    # with in the frames it is seen; its steps no faster than that ease's pace since the last one
    # it was seen in: one frame lost at a time, at most two of its steps (70 / 6 degrees each)
    uninterrupted = np.minimum(10.0 + 70.0 * np.arange(40) / 6, 80.0)
    assert (np.array(sent[5:]) <= uninterrupted + 1e-6).all()
    seen_at = 5 + np.flatnonzero(flicker)
    np.testing.assert_allclose(np.array(sent)[seen_at], uninterrupted[seen_at - 5], atol=1e-6)
    assert np.diff(sent).max() <= 2 * 70.0 / 6 + 1e-6
    assert np.diff(sent).min() >= -1e-6


@pytest.mark.parametrize("fps", [5, 10, 15])
@pytest.mark.parametrize("period", [2, 3])
def test_below_30_fps_a_flickering_limb_carries_on_its_ease_a_third_of_the_way_each_frame_seen(
        fps: int, period: int) -> None:  # fmt: skip
    """Below 15 fps an ease lasts 3 frames (``MIN_EASE_FRAMES``), longer than ``ease_s``: timed by
    the clock alone, it restarted from the part-eased pose at each return (review: at 5 fps, lost
    every 3rd frame, 30, 50, 63, 72 ... never on the live 90 in 4 s; lost every 2nd it never moved;
    15 fps every 2nd: 3.07 s). An ease not finished carries on when seen again after fewer than 3
    frames out: a third of its turn each frame seen, held in those out."""
    live = [10.0] * 2 + [170.0] * 3 + [80.0] * 12
    flicker = [k % period != period - 1 for k in range(12)]  # seen, (seen,) unseen, ...
    sent = run(live, [True] * 2 + [False] * 3 + flicker, frame_ns=int(1e9 / fps))
    seen_so_far = np.cumsum(flicker) - 1  # the ease's frames seen before each
    expected = 10.0 + 70.0 * np.minimum(seen_so_far, 3) / 3
    assert sent[5:] == pytest.approx(expected.tolist())


def test_a_limb_lost_for_longer_than_its_ease_eases_afresh_when_seen_again() -> None:
    seen = [True, False, True, True] + [False] * 6 + [True] * 7  # lost again 0.2 s, its ease long over
    sent = run([0.0] + [90.0] * 16, seen)
    assert sent[:4] == pytest.approx([0.0, 0.0, 0.0, 15.0])
    assert sent[4:11] == pytest.approx([15.0] * 7)  # held, and held the frame it is seen again
    assert sent[11:] == pytest.approx([15.0 + 75.0 * k / 6 for k in range(1, 7)])


REST_DEG = 80.0  # the right upper arm's rest in run(): -x turned 80 degrees about z, 10 degrees off -y


def test_a_limb_unseen_past_rest_after_s_eases_to_rest_and_back_to_the_lifted_when_seen() -> None:
    # seen at -30 degrees, then 3 s out of view while the lifter's guess swings, then seen at 40
    out = 90
    live = [-30.0] * 3 + [170.0 if k % 2 else -150.0 for k in range(out)] + [40.0] * 8
    sent = np.array(run(live, [True] * 3 + [False] * out + [True] * 8))
    lost_for_s = (np.arange(3, 3 + out) - 3) / 30  # from the first frame out
    during = sent[3 : 3 + out]
    assert during[lost_for_s <= 1.0 + 1e-6] == pytest.approx(-30.0)  # held for rest_after_s
    assert during[lost_for_s >= 1.5 - 1e-6] == pytest.approx(REST_DEG, abs=1e-4)  # at rest after rest_ease_s more
    easing = during[(lost_for_s > 1.0 + 1e-6) & (lost_for_s < 1.5 - 1e-6)]
    assert len(easing) == 14  # 0.5 s at 30 fps (the 15th frame is on the rest)
    # monotone, at an even pace: 110 degrees over 15 frames
    np.testing.assert_allclose(np.diff([-30.0, *easing, REST_DEG]), 110.0 / 15, atol=1e-4)
    # seen again: from the rest to the lifted arm over ease_s (0.2 s, 6 frames), then on it
    back = sent[3 + out :]
    assert back[0] == pytest.approx(REST_DEG)
    assert back[1:7] == pytest.approx([REST_DEG - 40.0 * k / 6 for k in range(1, 7)])
    assert back[7] == pytest.approx(40.0)


def test_a_limb_seen_again_on_its_way_to_rest_eases_back_from_where_it_is() -> None:
    live = [-30.0] * 3 + [170.0] * 38 + [40.0] * 8  # its last frame out 37 frames after the first
    sent = run(live, [True] * 3 + [False] * 38 + [True] * 8)
    way = -30.0 + 110.0 * 7 / 15  # 7 frames of the 15 from -30 to the rest (80)
    assert sent[40] == pytest.approx(way, abs=1e-4)
    assert sent[41:] == pytest.approx([way + (40.0 - way) * k / 6 for k in range(7)] + [40.0], abs=1e-4)


def test_a_limb_never_seen_is_at_rest_from_the_first_frame_and_eases_to_the_lifted_when_seen() -> None:
    # MediaPipe's guess of arms below a desk's view: nothing seen to hold, so no guess shown either
    sent = run([5.0, 50.0, -80.0, 40.0, 40.0, 40.0, 40.0, 40.0, 40.0, 40.0, 40.0], [False] * 3 + [True] * 8)
    assert sent[:4] == pytest.approx([REST_DEG] * 4)
    assert sent[4:] == pytest.approx([REST_DEG - 40.0 * k / 6 for k in range(1, 7)] + [40.0])


def test_a_limb_that_rested_while_lost_does_not_carry_on_the_ease_it_was_lost_in() -> None:
    # lost in its ease back, it rests (the next frame, at once: rest_ease_s 0), and seen again soon
    # after it eases from the rest: carrying on with the old ease would jump from the rest to that ease's place
    options = limb_hold.LimbHoldOptions(ease_s=0.5, rest_after_s=0.02, rest_ease_s=0.0)
    sent = run([0.0, 90.0, 90.0, 90.0, 90.0, 90.0, 90.0, 90.0], [True, False, True, True, False, False, True, True],
               options)  # fmt: skip
    assert sent[:6] == pytest.approx([0.0, 0.0, 0.0, 6.0, 6.0, REST_DEG])
    assert sent[6:] == pytest.approx([REST_DEG, REST_DEG + 10.0 / 15])


def test_a_leg_seen_and_then_lost_stays_held_and_one_never_seen_follows_the_guess_calmly() -> None:
    """A seated person's legs lost below a desk's view keep their bend: straightened to rest from
    the seat they put the feet through the floor (review: 0.41 m below it, the pelvis 0.47 m up).
    A leg never seen follows MediaPipe's guess calmly: through a 1 s low-pass at 45 deg/s at most
    (it followed the guess as it came, which swung the dance's thighs up to 175 deg a frame below
    a desk's view). The right leg is seen bent for a frame and lost for 3 s; the left is never
    seen, its guess bent 10 to 16 degrees and back every 7 frames."""
    thigh, shin = (limb_hold.LIMB_JOINTS.index(J[name]) for name in ("r_knee", "r_ankle"))
    seated = np.tile([0.0, 0.0, 0.0, 1.0], (17, 1))
    seated[J["r_knee"]] = Rotation.from_euler("x", 90, degrees=True).as_quat()  # thigh forward
    seated[J["r_ankle"]] = Rotation.from_euler("x", -90, degrees=True).as_quat()  # shin down
    state, left = None, []
    for i in range(91):
        bones = np.zeros(8, bool)
        bones[[thigh, shin]] = i == 0
        guess = np.tile([0.0, 0.0, 0.0, 1.0], (17, 1))  # the lifter's guess out of view, a little bent
        guess[[J["l_knee"], J["r_knee"]]] = Rotation.from_euler("x", 10 + i % 7, degrees=True).as_quat()
        given = seated if i == 0 else guess
        out, state = limb_hold.hold_limbs(given, bones, i * FRAME_NS, state, OPTIONS)
        np.testing.assert_allclose(out[J["l_ankle"]], given[J["l_ankle"]], atol=1e-12)  # (its guess: straight)
        left.append(out[J["l_knee"]])
    np.testing.assert_allclose(out[[J["r_knee"], J["r_ankle"]]], seated[[J["r_knee"], J["r_ankle"]]], atol=1e-9)
    left = np.array(left)
    np.testing.assert_allclose(left[0], seated[J["l_knee"]], atol=1e-12)  # (the first frame: as given)
    assert turn_deg(left[:-1], left[1:]).max() <= 45.0 / 30 + 1e-6  # the guess jumped 6 degrees a frame
    bent = np.degrees(Rotation.from_quat(left).as_euler("xyz")[:, 0])
    assert bent[-10:].min() > 11.5 and bent[-10:].max() < 14.0  # closing in on the guess's mean, 13 degrees
    assert np.ptp(bent[-30:]) < 1.5  # (the guess: 6 degrees)


@pytest.mark.parametrize("fps", [5, 15, 30, 60])
def test_a_leg_never_seen_turns_to_a_new_guess_alike_at_any_frame_rate(fps: int) -> None:
    """The guess of a leg never seen turns from straight to 120 degrees and stays: the leg follows
    at 45 deg/s, then closes in with a 1 s time constant, the same at 5, 15, 30 and 60 fps (at each
    0.2 s within 0.5 degrees of the curve at 1 kHz), on the stream's clock."""
    thigh = limb_hold.LIMB_JOINTS.index(J["l_knee"])

    def run_at(rate: float) -> np.ndarray:
        state, sent = None, []
        for i in range(int(6 * rate) + 1):
            guess = np.tile([0.0, 0.0, 0.0, 1.0], (17, 1))
            guess[J["l_knee"]] = Rotation.from_euler("x", 0 if i == 0 else 120, degrees=True).as_quat()
            bones = np.ones(8, bool)
            bones[thigh] = False
            out, state = limb_hold.hold_limbs(guess, bones, round(i * 1e9 / rate), state, OPTIONS)
            sent.append(np.degrees(Rotation.from_quat(out[J["l_knee"]]).magnitude()))
        return np.array(sent)

    sent, fine = run_at(fps), run_at(1000.0)
    steps = np.diff(sent)
    assert steps.min() >= -1e-6 and steps.max() <= 45.0 / fps + 1e-6  # at 45 deg/s at most, never back
    every = np.arange(0, 6 * fps + 1, fps // 5)  # each 0.2 s
    np.testing.assert_allclose(sent[every], fine[every * 1000 // fps], atol=0.5)
    assert sent[fps] == pytest.approx(45.0, abs=0.5)  # 45 degrees in the first second
    assert 115.0 < sent[-1] < 120.0  # closing in


def test_a_leg_never_seen_eases_to_the_lifted_one_when_seen() -> None:
    """A leg never seen, calmed away from its flailing guess, seen at last: it turns from where it
    is to the lifted rotation over ``ease_s`` (0.2 s, 6 frames at 30 fps) at an even pace, the
    limbs' own ease back, then follows it."""
    thigh = limb_hold.LIMB_JOINTS.index(J["r_knee"])
    state, sent = None, []
    for i in range(40):
        given = np.tile([0.0, 0.0, 0.0, 1.0], (17, 1))
        seen = i >= 30
        degrees = 40.0 if seen else (170.0 if i % 2 else -60.0)  # the guess flails; the leg, seen, is at 40
        given[J["r_knee"]] = Rotation.from_euler("x", degrees, degrees=True).as_quat()
        bones = np.ones(8, bool)
        bones[thigh] = seen
        out, state = limb_hold.hold_limbs(given, bones, i * FRAME_NS, state, OPTIONS)
        sent.append(out[J["r_knee"]])
    sent, live = np.array(sent), Rotation.from_euler("x", 40, degrees=True).as_quat()
    assert turn_deg(sent[:29], sent[1:30]).max() <= 1.5 + 1e-6  # calmed (the guess: 130 degrees a frame)
    start = sent[29]
    assert turn_deg(start, live) > 20.0
    expected = limb_hold.eased(np.repeat(start[None], 7, 0), np.repeat(live[None], 7, 0), np.arange(7) / 6)
    np.testing.assert_allclose(turn_deg(sent[30:37], expected), 0.0, atol=1e-4)
    np.testing.assert_allclose(turn_deg(sent[36:], live), 0.0, atol=1e-4)


def standing(root_m: float, knee_deg: float = 0.0, thigh_deg: float = 0.0) -> np.ndarray:
    """Local rotations ``(17, 4)`` of an upright T-pose whose thighs are turned ``thigh_deg``
    forward and knees bent ``knee_deg`` (world axes: the person faces +z)."""
    quats = np.tile([0.0, 0.0, 0.0, 1.0], (17, 1))
    for side in "lr":
        quats[J[f"{side}_knee"]] = Rotation.from_euler("x", -thigh_deg, degrees=True).as_quat()
        quats[J[f"{side}_ankle"]] = Rotation.from_euler("x", knee_deg, degrees=True).as_quat()
    return quats


def posed_joints(local: np.ndarray, root_m: float, lengths: np.ndarray) -> np.ndarray:
    return rotations.forward_kinematics(np.array([[0.0, root_m, 0.0]]), local[None], lengths)[0]


@pytest.mark.parametrize("thigh_deg, knee_deg", [(0.0, 0.0), (10.0, 25.0), (-30.0, 20.0)])
def test_a_leg_never_seen_bends_to_keep_its_ankle_above_the_floor(thigh_deg: float, knee_deg: float) -> None:
    """The lifter puts a desk's pelvis too low for its standing guess of the legs (the dance cut to
    head and shoulders: the ankles 0.03 m median, 0.15 m at worst under the floor). Given the
    pelvis's height, a leg never seen bends as a person sits or squats: its ankle raised straight
    up to a standing ankle's height (0.076 of the body's), the knee forward, the bones' lengths
    kept; a leg seen stays as lifted, through the floor or not; one above that height is left."""
    lengths = skeleton.bone_lengths_from_height(1.70)
    ankle_m = 0.076 * skeleton.height_from_bone_lengths(lengths)
    given = standing(0.0, knee_deg, thigh_deg)
    rest = posed_joints(given, 0.0, lengths)
    root_m = ankle_m - rest[J["l_ankle"], 1] - 0.2  # the ankles 0.2 m too low
    unseen_left = np.ones(8, bool)
    unseen_left[[limb_hold.LIMB_JOINTS.index(J["l_knee"]), limb_hold.LIMB_JOINTS.index(J["l_ankle"])]] = False
    out, _ = limb_hold.hold_limbs(given, unseen_left, 0, None, OPTIONS, root_m, lengths)
    joints, lifted = posed_joints(out, root_m, lengths), posed_joints(given, root_m, lengths)
    assert joints[J["l_ankle"], 1] == pytest.approx(ankle_m, abs=1e-9)  # on the floor
    assert joints[J["r_ankle"], 1] == pytest.approx(ankle_m - 0.2, abs=1e-9)  # seen: as lifted
    np.testing.assert_allclose(out[[J["r_knee"], J["r_ankle"]]], given[[J["r_knee"], J["r_ankle"]]], atol=1e-12)
    # straight up: the ankle over where it was, the knee out forward
    np.testing.assert_allclose(joints[J["l_ankle"], [0, 2]], lifted[J["l_ankle"], [0, 2]], atol=1e-9)
    assert joints[J["l_knee"], 2] > lifted[J["l_knee"], 2] + 0.1
    high, _ = limb_hold.hold_limbs(given, unseen_left, 0, None, OPTIONS, root_m + 0.25, lengths)
    np.testing.assert_allclose(high, given, atol=1e-12)  # above the floor: as guessed


def test_a_leg_bent_to_clear_the_floor_moves_no_faster_than_the_pelvis() -> None:
    """The pelvis sinking through the height where the floor starts to lift the ankle, 1 mm at a
    time: the leg turns a little each step, no jump. Swinging the thigh forward until the ankle
    cleared the floor turned a thigh guessed behind the body 73 degrees in a frame (the dance cut
    to head and shoulders at 60 fps), where the floor released it."""
    lengths = skeleton.bone_lengths_from_height(1.70)
    ankle_m = 0.076 * skeleton.height_from_bone_lengths(lengths)
    given = standing(0.0, 40.0, -30.0)  # the thigh behind the body, the knee bent
    release_m = ankle_m - posed_joints(given, 0.0, lengths)[J["l_ankle"], 1]
    unseen = np.zeros(8, bool)
    sent = [limb_hold.hold_limbs(given, unseen, 0, None, OPTIONS, release_m + mm / 1000, lengths)[0]
            for mm in range(10, -11, -1)]  # fmt: skip
    sent = np.array(sent)[:, [J["l_knee"], J["l_ankle"]]]
    np.testing.assert_allclose(sent[:11], np.broadcast_to(given[[J["l_knee"], J["l_ankle"]]], sent[:11].shape),
                               atol=1e-9)  # fmt: skip
    assert turn_deg(sent[:-1], sent[1:]).max() < 1.0


def test_a_restarted_chain_goes_on_from_what_was_last_shown() -> None:
    """The last frame shown of a person: the right upper arm seen at -30 degrees. Their chain
    restarts (their id forgotten and them back, or frames nobody read; a second and more later):
    an arm unseen then turns from -30 to rest over 0.5 s (it was at rest at once, as if never seen);
    one seen eases back from -30 over 0.2 s; with rest_after_s inf it holds."""
    _, shown = limb_hold.hold_limbs(turned(-30.0), np.ones(8, bool), 0, None, OPTIONS)

    def after(seen: bool, options: limb_hold.LimbHoldOptions = OPTIONS) -> list[float]:
        state, sent = limb_hold.restarted(shown, 2 * 10**9, options), []
        for i in range(17):
            bones = np.ones(8, bool)
            bones[UPPER_ARM] = seen
            out, state = limb_hold.hold_limbs(turned(40.0), bones, 2 * 10**9 + i * FRAME_NS, state, options)
            sent.append(angle_deg(out[J["r_elbow"]]))
        return sent

    assert after(False) == pytest.approx([-30.0 + 110.0 * k / 15 for k in range(16)] + [REST_DEG], abs=1e-4)
    assert after(True)[:8] == pytest.approx([-30.0 + 70.0 * k / 6 for k in range(7)] + [40.0], abs=1e-4)
    assert after(False, limb_hold.LimbHoldOptions(rest_after_s=math.inf)) == pytest.approx([-30.0] * 17)


def test_a_restart_soon_after_an_arm_was_lost_holds_it_until_rest_after_s_from_the_loss() -> None:
    """A chain restarted 0.53 s after the last frame shown (64 frames unread at 120 fps) rested an
    arm unseen as if lost ``rest_after_s`` ago: 0.5 s early. It holds until 1 s after it was lost:
    the shown frame's time where it was seen there, its own loss where not; then to rest over 0.5 s."""
    frame_ns = int(1e9 / 120)
    unseen = np.ones(8, bool)
    unseen[UPPER_ARM] = False
    _, seen_shown = limb_hold.hold_limbs(turned(-30.0), np.ones(8, bool), 0, None, OPTIONS)  # seen at 0 s
    _, lost_shown = limb_hold.hold_limbs(turned(170.0), unseen, 12 * frame_ns, seen_shown, OPTIONS)  # lost at 0.1 s
    for shown, shown_ns, lost_s in ((seen_shown, 0, 0.0), (lost_shown, 12 * frame_ns, 0.1)):
        start_ns = shown_ns + (64 + 1) * frame_ns  # the first frame unread
        state, sent, times_s = limb_hold.restarted(shown, start_ns, OPTIONS), [], []
        for i in range(200):
            out, state = limb_hold.hold_limbs(turned(170.0), unseen, start_ns + i * frame_ns, state, OPTIONS)
            sent.append(angle_deg(out[J["r_elbow"]]))
            times_s.append((start_ns + i * frame_ns) / 1e9)
        sent, resting_for_s = np.array(sent), np.array(times_s) - lost_s - 1.0
        assert sent[resting_for_s <= 0.0] == pytest.approx(-30.0)  # held, as shown
        resting = (resting_for_s > 0.0) & (resting_for_s < 0.5)
        assert sent[resting] == pytest.approx(-30.0 + 110.0 * resting_for_s[resting] / 0.5, abs=1e-3)
        assert sent[resting_for_s >= 0.5] == pytest.approx(REST_DEG, abs=1e-4)


def test_a_restarted_chain_starts_with_the_legs_never_seen_unless_it_is_the_same_persons() -> None:
    """The last frame shown: the right leg seen bent (a seat). Someone new's chain: their unseen
    leg follows their own guess, calmed from its first frame (the seat says nothing of their
    body: it was kept 90 degrees off for as long as the legs stayed out); the same person's
    (frames unread): held."""
    thigh = limb_hold.LIMB_JOINTS.index(J["r_knee"])
    seated = np.tile([0.0, 0.0, 0.0, 1.0], (17, 1))
    seated[J["r_knee"]] = Rotation.from_euler("x", 90, degrees=True).as_quat()
    guess = np.tile([0.0, 0.0, 0.0, 1.0], (17, 1))
    guess[J["r_knee"]] = Rotation.from_euler("x", 5, degrees=True).as_quat()
    _, shown = limb_hold.hold_limbs(seated, np.ones(8, bool), 0, None, OPTIONS)
    unseen = np.ones(8, bool)
    unseen[thigh] = False
    state = limb_hold.restarted(shown, 2 * 10**9, OPTIONS, keep_legs=True)
    for i in range(60):
        out, state = limb_hold.hold_limbs(guess, unseen, 2 * 10**9 + i * FRAME_NS, state, OPTIONS)
        np.testing.assert_allclose(out[J["r_knee"]], seated[J["r_knee"]], atol=1e-12)
    state, sent = limb_hold.restarted(shown, 2 * 10**9, OPTIONS), []  # (the default: someone new)
    for i in range(60):
        bent = Rotation.from_euler("x", 5 + 20 * (i == 30), degrees=True).as_quat()  # one frame off by 20
        given = guess.copy()
        given[J["r_knee"]] = bent
        out, state = limb_hold.hold_limbs(given, unseen, 2 * 10**9 + i * FRAME_NS, state, OPTIONS)
        sent.append(out[J["r_knee"]])
    sent = np.array(sent)
    np.testing.assert_allclose(turn_deg(sent[:30], guess[J["r_knee"]]), 0.0, atol=1e-6)  # their own guess
    assert 0.0 < turn_deg(sent[30], guess[J["r_knee"]]) <= 1.5 + 1e-6  # calmed


def test_rest_after_s_inf_holds_for_ever() -> None:
    options = limb_hold.LimbHoldOptions(rest_after_s=math.inf)
    assert run([-30.0] + [170.0] * 150, [True] + [False] * 150, options) == pytest.approx([-30.0] * 151)


@pytest.mark.parametrize("leaning", [False, True])
def test_the_rested_arms_hang_down_along_the_body_on_both_sides(leaning: bool) -> None:
    """Forward kinematics of the rest rotations: each upper arm down the chest's -y, 10 degrees out
    from the body, the forearm straight on it, the hands clear of the hips. On an upright T-pose
    body that is down in the world; on a leaning, turned body with shoulders shrugged (the
    clavicles' own rotation) it is along that body. The legs have no rest (they are held): NaN."""
    lengths = skeleton.bone_lengths_from_height(1.70)
    local = np.tile([0.0, 0.0, 0.0, 1.0], (17, 1))
    limbs = np.array(limb_hold.LIMB_JOINTS)
    local[limbs] = Rotation.from_euler("xyz", [40.0, -70.0, 100.0], degrees=True).as_quat()  # anywhere
    if leaning:  # leaning and turned, shrugged
        local[J["pelvis"]] = Rotation.from_euler("yx", [35.0, 20.0], degrees=True).as_quat()
        local[J["thorax"]] = Rotation.from_euler("zx", [-15.0, 10.0], degrees=True).as_quat()
        local[J["r_shoulder"]] = Rotation.from_euler("z", 20.0, degrees=True).as_quat()
        local[J["l_shoulder"]] = Rotation.from_euler("z", -12.0, degrees=True).as_quat()
    rest = limb_hold.rest_rotations(local)
    legs = np.array([skeleton.JOINT_NAMES[j].endswith(("knee", "ankle")) for j in limb_hold.LIMB_JOINTS])
    assert np.isnan(rest[legs]).all() and np.isfinite(rest[~legs]).all()
    local[limbs[~legs]] = rest[~legs]
    joints = rotations.forward_kinematics(np.zeros((1, 3)), local[None], lengths)[0]
    world = Rotation.from_quat(rotations.world_rotations(local[None])[0])
    chest = world[J["thorax"]]
    abduction = math.radians(limb_hold.REST_ARM_ABDUCTION_DEG)

    def along(a: str, b: str, frame: Rotation) -> np.ndarray:
        v = joints[J[b]] - joints[J[a]]
        return frame.inv().apply(v / np.linalg.norm(v))

    for side, out in (("r", -1.0), ("l", 1.0)):  # the subject's left is +x
        down = [out * math.sin(abduction), -math.cos(abduction), 0.0]
        np.testing.assert_allclose(along(f"{side}_shoulder", f"{side}_elbow", chest), down, atol=1e-9)
        np.testing.assert_allclose(along(f"{side}_elbow", f"{side}_wrist", chest), down, atol=1e-9)
        if not leaning:  # upright: down in the world, the wrist outside the hip
            direction = joints[J[f"{side}_elbow"]] - joints[J[f"{side}_shoulder"]]
            assert direction[1] / np.linalg.norm(direction) < -0.98
            assert out * joints[J[f"{side}_wrist"], 0] > out * joints[J[f"{side}_hip"], 0] + 0.05


def test_the_bvh_export_rests_an_arm_out_of_view_for_3_s(tmp_path: Path) -> None:
    """``joints_to_bvh`` (``posecast export --bvh``'s writer) with the right arm unseen after 0.1 s
    of a T-pose: held level for 1 s, then hanging down beside the body, forearm straight."""
    lengths = skeleton.bone_lengths_from_height(1.70)
    frames = 3 + 90
    joints = np.repeat(rotations.rest_pose(lengths)[None] + [0.0, 1.0, 0.0], frames, axis=0)
    guess = Rotation.from_euler("xz", np.stack([np.linspace(0, 720, frames), np.linspace(0, 300, frames)], axis=1),
                                degrees=True)  # the lifter's arm out of view, swinging about  # fmt: skip
    shoulder = joints[:, J["r_shoulder"]]
    joints[:, J["r_elbow"]] = shoulder + guess.apply([-lengths[J["r_elbow"] - 1], 0.0, 0.0])
    joints[:, J["r_wrist"]] = joints[:, J["r_elbow"]] + guess.apply([-lengths[J["r_wrist"] - 1], 0.0, 0.0])
    joints[:3] = joints[0]  # ... seen level for 3 frames
    joints[:3, J["r_elbow"]] = shoulder[0] + [-lengths[J["r_elbow"] - 1], 0.0, 0.0]
    joints[:3, J["r_wrist"]] = joints[0, J["r_elbow"]] + [-lengths[J["r_wrist"] - 1], 0.0, 0.0]
    seen = np.ones((frames, 8), bool)
    seen[3:, [UPPER_ARM, limb_hold.LIMB_JOINTS.index(J["r_wrist"])]] = False
    text, _ = bvh_export.joints_to_bvh(joints, 30.0, "world", lengths, None, seen, np.arange(frames) * FRAME_NS)
    (tmp_path / "take.bvh").write_text(text)
    read, _ = load_bvh_joints(tmp_path / "take.bvh")
    upper = read[:, J["r_elbow"]] - read[:, J["r_shoulder"]]
    fore = read[:, J["r_wrist"]] - read[:, J["r_elbow"]]
    upper, fore = upper / np.linalg.norm(upper, axis=-1)[:, None], fore / np.linalg.norm(fore, axis=-1)[:, None]
    np.testing.assert_allclose(upper[: 3 + 30], [[-1.0, 0.0, 0.0]] * 33, atol=1e-4)  # held for 1 s
    hanging = [-math.sin(math.radians(10.0)), -math.cos(math.radians(10.0)), 0.0]
    np.testing.assert_allclose(upper[3 + 45 :], [hanging] * 45, atol=1e-4)  # at rest from 1.5 s on
    np.testing.assert_allclose(fore[3 + 45 :], [hanging] * 45, atol=1e-4)


@pytest.mark.parametrize("field, value", [("edge_margin_fraction", 0.5), ("min_confidence", 1.5), ("ease_s", -1.0),
                                          ("rest_after_s", -0.1), ("rest_after_s", math.nan), ("rest_ease_s", -1.0),
                                          ("rest_ease_s", 11.0), ("guess_time_constant_s", -1.0),
                                          ("guess_time_constant_s", math.nan), ("guess_max_speed_deg_s", 0.0),
                                          ("guess_max_speed_deg_s", math.nan)])  # fmt: skip
def test_bad_options_are_refused(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        limb_hold.LimbHoldOptions(**{field: value})


def test_the_confidence_is_the_lifting_s() -> None:
    from posecast.realtime.lifting.metric import LiftingOptions

    assert OPTIONS.min_confidence == LiftingOptions().min_joint_confidence

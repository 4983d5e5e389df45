"""The limb hold (engines/limb_hold.py): which joints count as seen, and a limb bone held while
unseen, eased back over its time when seen again."""

from __future__ import annotations

import numpy as np
import pytest
from posecast.engines import limb_hold, skeleton
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


def run(angles: list[float], seen_upper_arm: list[bool], ease_s: float = 0.2) -> list[float]:
    """The right upper arm's angle sent for each frame (30 fps) of live ``angles``."""
    state, sent = None, []
    for i, (degrees, seen) in enumerate(zip(angles, seen_upper_arm, strict=True)):
        bones = np.ones(8, bool)
        bones[UPPER_ARM] = seen
        out, state = limb_hold.hold_limbs(turned(degrees), bones, i * FRAME_NS, state, ease_s)
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


def test_the_ease_is_timed_by_the_clock_not_by_frames() -> None:
    state = None
    bones = np.ones(8, bool)
    bones[UPPER_ARM] = False
    _, state = limb_hold.hold_limbs(turned(0.0), np.ones(8, bool), 0, state, 0.2)
    _, state = limb_hold.hold_limbs(turned(90.0), bones, 10**8, state, 0.2)
    out, state = limb_hold.hold_limbs(turned(60.0), np.ones(8, bool), 2 * 10**8, state, 0.2)  # seen again
    assert angle_deg(out[J["r_elbow"]]) == pytest.approx(0.0)
    out, state = limb_hold.hold_limbs(turned(60.0), np.ones(8, bool), 2 * 10**8 + 5 * 10**7, state, 0.2)
    assert angle_deg(out[J["r_elbow"]]) == pytest.approx(15.0)  # a quarter of 0.2 s: a quarter of the way


def test_a_limb_never_seen_follows_the_live_rotation_and_one_lost_again_while_easing_holds() -> None:
    assert run([5.0, 50.0, -80.0], [False, False, False]) == pytest.approx([5.0, 50.0, -80.0])  # nothing to hold
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


def test_a_limb_lost_for_longer_than_its_ease_eases_afresh_when_seen_again() -> None:
    seen = [True, False, True, True] + [False] * 6 + [True] * 7  # lost again 0.2 s, its ease long over
    sent = run([0.0] + [90.0] * 16, seen)
    assert sent[:4] == pytest.approx([0.0, 0.0, 0.0, 15.0])
    assert sent[4:11] == pytest.approx([15.0] * 7)  # held, and held the frame it is seen again
    assert sent[11:] == pytest.approx([15.0 + 75.0 * k / 6 for k in range(1, 7)])


@pytest.mark.parametrize("field, value", [("edge_margin_fraction", 0.5), ("min_confidence", 1.5), ("ease_s", -1.0)])
def test_bad_options_are_refused(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        limb_hold.LimbHoldOptions(**{field: value})


def test_the_confidence_is_the_lifting_s() -> None:
    from posecast.realtime.lifting.metric import LiftingOptions

    assert OPTIONS.min_confidence == LiftingOptions().min_joint_confidence

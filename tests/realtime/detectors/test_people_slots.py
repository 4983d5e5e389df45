"""The people-slots bookkeeping (no MediaPipe): when to search, when to open and narrow slots,
and what a frame shows while one tracker takes over from another."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from posecast.engines.layouts import MEDIAPIPE_33
from posecast.realtime.detectors.people_slots import PeopleSlots, SlotWatch, hand_over, people_in, with_newcomers
from posecast.realtime.errors import OptionsError
from posecast.realtime.types import Detections2D

S = 1_000_000_000  # one second in nanoseconds


def test_one_slot_until_a_search_finds_more() -> None:
    slots = PeopleSlots(max_people=3, search_interval_s=1.0)
    assert slots.slots == 1 and slots.search_due(0)  # the first frame is searched
    slots.tracked(0, 1)
    slots.searched(0, 1)
    assert slots.slots == 1
    assert not slots.search_due(S - 1) and slots.search_due(S)  # media time, not calls
    slots.searched(S, 2)
    assert slots.slots == 2
    slots.searched(2 * S, 5)  # more than max_people found: the slots stop at max_people
    assert slots.slots == 3 and not slots.search_due(10 * S)  # all open: nothing to look for


def test_narrowed_after_hold_to_the_most_found_in_it() -> None:
    slots = PeopleSlots(max_people=4, search_interval_s=1.0, hold_s=0.5)
    slots.searched(0, 3)
    assert slots.slots == 3
    slots.tracked(S // 10, 1)  # short from here
    slots.tracked(S // 5, 2)
    slots.tracked(S // 2, 1)  # 0.4 s short: held
    assert slots.slots == 3
    slots.tracked(S // 10 + S // 2, 1)
    assert slots.slots == 2  # the most found while short


def test_a_frame_with_everyone_restarts_the_hold() -> None:
    slots = PeopleSlots(max_people=2, search_interval_s=1.0, hold_s=0.5)
    slots.searched(0, 2)
    slots.tracked(0, 1)
    slots.tracked(S // 4, 2)  # back: the shortfall ends
    slots.tracked(S // 2, 1)
    slots.tracked(S // 2 + S // 4, 0)
    assert slots.slots == 2
    slots.tracked(S, 0)  # nobody for 0.5 s: one slot stays
    assert slots.slots == 1


def test_interval_zero_keeps_every_slot_open() -> None:
    slots = PeopleSlots(max_people=3, search_interval_s=0)
    assert slots.slots == 3 and not slots.search_due(0)
    for t in range(5):
        slots.tracked(t * S, 0)
    assert slots.slots == 3


@pytest.mark.parametrize(("name", "value"), [("search_interval_s", -1.0), ("hold_s", float("nan")), ("hold_s", "1")])
def test_bad_seconds(name: str, value: object) -> None:
    kwargs = {"max_people": 2, "search_interval_s": 1.0, name: value}
    with pytest.raises(OptionsError, match=f"{name} must be a number of seconds >= 0, got {value!r}"):
        PeopleSlots(**kwargs)


def _people(*centres_px: tuple[float, float], offset_px: float = 0.0) -> Detections2D:
    """One frame's people: each a 33-keypoint figure 100 x 200 px around its centre."""
    rng = np.random.default_rng(0)
    shape = rng.uniform([-50, -100], [50, 100], (MEDIAPIPE_33.num_keypoints, 2))
    keypoints = np.array([shape + centre for centre in centres_px], np.float32).reshape(-1, 33, 2) + offset_px
    n = len(centres_px)
    return Detections2D(7, 0, 0, (900, 576), MEDIAPIPE_33, keypoints, np.full((n, 33), 0.9, np.float32),
                        np.full(n, -1, np.int64), np.zeros((n, 33, 3), np.float32))  # fmt: skip


def test_hand_over_keeps_the_followed_people_and_adds_the_new_ones() -> None:
    dancer, squatter, third = (300, 300), (750, 300), (500, 300)
    following = _people(dancer)
    # the incoming tracker has only the newcomer so far: the dancer stays as followed
    people, complete = hand_over(following, _people(squatter), max_people=2)
    assert not complete and people.count == 2
    np.testing.assert_array_equal(people.keypoints_px[0], following.keypoints_px[0])
    assert people.keypoints_px[1, :, 0].min() > 576 and people.world_m.shape == (2, 33, 3)
    # it has everyone now (the dancer a few pixels off, as another tracker's is): it carries on alone
    incoming = _people(squatter, dancer, offset_px=3.0)
    people, complete = hand_over(following, incoming, max_people=2)
    assert complete and people is incoming
    # no more than max_people; nothing new to add: the followed people alone
    people, complete = hand_over(_people(dancer, squatter), _people(dancer, third), max_people=2)
    assert not complete and people.count == 2 and people.keypoints_px[:, :, 0].min() > 200
    assert people.keypoints_px[1, :, 0].min() > 576  # the squatter, not the third person


def test_hand_over_with_nobody_on_either_side() -> None:
    nobody = _people()
    incoming = _people((300, 300))
    people, complete = hand_over(nobody, incoming, 2)
    assert people is incoming and complete  # nobody followed: nothing to wait for
    following = _people((300, 300))
    people, complete = hand_over(following, nobody, 2)
    assert people is following and not complete


def test_one_person_found_twice_is_one_person() -> None:
    """MediaPipe asked for several poses sometimes returns one person twice: a search that did
    would open a slot for nobody."""
    assert people_in(_people()) == 0
    assert people_in(_people((300, 300), (750, 300))) == 2
    assert people_in(_people((300, 300), (302, 301))) == 1


def test_newcomers_are_told_by_place_not_by_number() -> None:
    """The search of a frame may see only the newcomer (QA: it missed the dancer the tracker
    follows): one person found, one tracked, and yet someone new."""
    dancer, squatter = (300, 300), (750, 300)
    tracked = _people(dancer)
    people = with_newcomers(tracked, _people(squatter), max_people=2)
    assert people.count == 2 and people_in(people) == 2
    np.testing.assert_array_equal(people.keypoints_px[0], tracked.keypoints_px[0])  # the tracker's 2D kept
    assert with_newcomers(tracked, _people(dancer, offset_px=4.0), max_people=2) is tracked  # nobody new
    assert with_newcomers(tracked, _people(squatter), max_people=1) is tracked  # no room
    found = _people(dancer, squatter)
    assert with_newcomers(_people(), found, max_people=2) is found  # nobody tracked yet: the search's people


def test_a_person_partly_hidden_is_no_newcomer() -> None:
    """One landmarker fits a partly hidden person whole (legs guessed), the search by what
    shows: the upper body's box lies inside the whole one's with an IoU of a third (QA: taken
    for a newcomer, published as a second person with an id of their own)."""
    whole = _people((300, 300))
    upper = replace(whole, keypoints_px=whole.keypoints_px.copy())
    upper.keypoints_px[..., 1] = 200 + (upper.keypoints_px[..., 1] - 200) / 3  # the top third
    assert with_newcomers(whole, upper, max_people=2) is whole
    people, complete = hand_over(whole, upper, max_people=2)
    assert complete and people is upper


def test_searched_on_every_frame_for_a_second_after_a_slot_was_taken() -> None:
    """QA: the tracker's one slot was taken at once by another person in view when its person
    went; back 0.7 s later, they waited for the next search (1.17 s) and lost their id."""
    frame = S // 30
    slots = PeopleSlots(max_people=2, search_interval_s=0.5)
    slots.tracked(0, 1)
    slots.searched(0, 1)
    slots.tracked(40 * frame, 0)  # gone; the tracker follows someone else from the next frame
    slots.slot_taken(41 * frame)
    for n in range(42, 72):
        slots.tracked(n * frame, 1)
        assert slots.search_due(n * frame), n  # every frame while their id is held
        slots.searched(n * frame, 1)  # (the person in view, tracked already)
    assert not slots.search_due(72 * frame)  # then at the interval again
    assert slots.search_due(71 * frame + S // 2)


def test_a_slot_is_taken_only_by_someone_else() -> None:
    """Review: a person missed for a frame now and then re-armed the every-frame search each time
    (297 searches in 10 s against 20); the search runs when another person fills the slot."""
    squatter, dancer = (750, 300), (300, 300)
    watch = SlotWatch()
    assert not watch.taken(_people(squatter), 1, 1)
    for _ in range(10):  # missed every other frame, found again where they were
        assert not watch.taken(_people(), 0, 1)
        assert not watch.taken(_people(squatter, offset_px=2.0), 1, 1)
    assert not watch.taken(_people(), 0, 1)  # gone ...
    assert watch.taken(_people(dancer), 1, 1)  # ... and the dancer took the slot
    assert not watch.taken(_people(dancer), 1, 1)
    # two slots, one person went, narrowed to one: the one left is no one new
    watch = SlotWatch()
    watch.taken(_people(squatter, dancer), 2, 2)
    assert not watch.taken(_people(dancer), 1, 2)
    assert not watch.taken(_people(dancer), 1, 1)

"""How many people to ask a tracking landmarker for, when up to ``max_people`` may be in view.

MediaPipe's PoseLandmarker (VIDEO mode) runs its person detector on every frame in which it
tracks fewer people than its ``num_poses``, and the 2D of the people it does track moves more:
asked for two with one person in view, it cost 28–30 against 16–17 ms per frame on the dance
clip, with 2.0 times the 2D keypoints' frame-to-frame acceleration (``tools/people_search.py``).
So posecast asks the tracking landmarker for the people it tracks now (its *slots*), and looks
for more only now and then, with a separate landmarker asked for ``max_people``:

* every ``search_interval_s`` of media time while fewer than ``max_people`` slots are open, a
  search; its people who are none of those tracked (:func:`with_newcomers`) are shown in that
  frame, and a slot opens for each from the next;
* a tracker that finds fewer people than its slots for ``hold_s`` (someone left, or hides) is
  narrowed to the most it found in that time, at least one. Until then MediaPipe's detector
  keeps looking on every frame, which brings back a person hidden for a moment at once;
* when a slot the tracker came up short in is filled again by someone else (:class:`SlotWatch`:
  MediaPipe's tracker, short of people, looks for anyone, and takes another person in view at
  once), a search runs on every frame for ``hold_s``, while fewer than ``max_people`` slots are
  open: the one who went, back within the second the lifting holds their id, waited for the next
  search and came back as a new person (QA: back after 0.7 s, found after 1.17 s). A person the
  tracker misses for a frame and finds again in the same place starts no such search (review:
  one dropped every third frame kept the search running on every frame).

A landmarker's ``num_poses`` is fixed, so other slots mean another landmarker, which starts
from its detector alone and can miss, for a while, a person the one before was following (on a
clip where someone walked in, the new one found the newcomer at once and the dancer only 1.5 s
later). So the two run side by side until the new one has everyone the old one follows
(:func:`hand_over`), however long that takes: a person the old one follows and the new one
cannot find (QA: a dancer in the dark, followed from before the light went) is never dropped
for it; until then a frame costs the old tracker's work on top of MediaPipe's own way.

:class:`PeopleSlots` and :func:`hand_over` are that bookkeeping alone (no MediaPipe), in integer
nanoseconds of the frames' timestamps, so a file gives the same decisions at any decoding speed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import OptionsError
from ..lifting.tracks import DUPLICATE_MIN_IOU, box_iou, duplicate_detections, keypoint_boxes
from ..types import Detections2D

#: Keypoints scored this or more outline a person's box when two landmarkers' people are matched.
_BOX_MIN_SCORE = 0.3

#: A person the search found is tracked from the next frame; one who left is dropped from the
#: slots after this long without them (seconds of media time).
DEFAULT_HOLD_S = 1.0


@dataclass
class PeopleSlots:
    """``max_people``: the most slots; ``search_interval_s``: media time between searches
    (0: every slot is always open, MediaPipe's own behaviour); ``hold_s``: how long a tracker
    finds fewer people than its slots before it is narrowed. ``slots`` is the number to ask the
    tracking landmarker for now."""

    max_people: int
    search_interval_s: float
    hold_s: float = DEFAULT_HOLD_S
    slots: int = field(init=False)
    _next_search_ns: int | None = field(default=None, init=False)
    _short_since_ns: int | None = field(default=None, init=False)
    _most_found_while_short: int = field(default=0, init=False)
    _taken_at_ns: int | None = field(default=None, init=False)  # when another person last took a slot

    def __post_init__(self) -> None:
        for name in ("search_interval_s", "hold_s"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise OptionsError(f"{name} must be a number of seconds >= 0, got {value!r}")
        self.slots = 1 if self.search_interval_s > 0 else self.max_people

    def search_due(self, timestamp_ns: int) -> bool:
        """Whether to look for more people in the frame at ``timestamp_ns`` (always on the first)."""
        if self.slots >= self.max_people:
            return False
        if self._taken_at_ns is not None and timestamp_ns - self._taken_at_ns <= round(self.hold_s * 1e9):
            return True  # a slot was taken a moment ago: its person is looked for while their id is held
        return self._next_search_ns is None or timestamp_ns >= self._next_search_ns

    def tracked(self, timestamp_ns: int, people: int) -> None:
        """The tracker found ``people`` in the frame at ``timestamp_ns``."""
        if people >= self.slots or self.search_interval_s == 0:
            self._short_since_ns = None
            return
        if self._short_since_ns is None:
            self._short_since_ns, self._most_found_while_short = timestamp_ns, people
            return
        self._most_found_while_short = max(self._most_found_while_short, people)
        if timestamp_ns - self._short_since_ns >= round(self.hold_s * 1e9):
            self.slots = max(1, self._most_found_while_short)
            self._short_since_ns = None

    def slot_taken(self, timestamp_ns: int) -> None:
        """Someone the tracker followed went, and another person took their slot at the frame at
        ``timestamp_ns`` (:class:`SlotWatch`): search on every frame for ``hold_s``."""
        self._taken_at_ns = timestamp_ns

    def searched(self, timestamp_ns: int, people: int) -> None:
        """The search of the frame at ``timestamp_ns`` found ``people``."""
        self._next_search_ns = timestamp_ns + round(self.search_interval_s * 1e9)
        if people > self.slots:
            self.slots = min(people, self.max_people)
            self._short_since_ns = None


@dataclass
class SlotWatch:
    """Tells when the tracker, short of a person for a frame or more, is full again with someone
    who is none of those it followed before (their slot taken by another person in view), not the
    same people found again (a person missed for a frame) nor fewer slots after a narrowing."""

    _last_full: Detections2D | None = None  # the people of the last frame the tracker filled its slots in
    _before_short: Detections2D | None = None  # those of the frame before it came up short

    def taken(self, detections: Detections2D, people: int, slots: int) -> bool:
        """Whether ``detections`` (``people`` of them, of the tracker asked for ``slots``) hold someone
        in a slot that was another's."""
        if people < slots:
            if self._before_short is None:
                self._before_short = self._last_full
            return False
        before, self._before_short, self._last_full = self._before_short, None, detections
        if before is None or before.count == 0 or detections.count == 0:
            return False
        return not _matches(before, detections).any(axis=0).all()


def with_newcomers(tracked: Detections2D, found: Detections2D, max_people: int) -> Detections2D:
    """``tracked``'s people (their 2D stays continuous), then those of ``found`` whose box
    overlaps none of theirs by :data:`DUPLICATE_MIN_IOU`, at most ``max_people`` in all."""
    if tracked.count == 0 or found.count == 0:
        return found if tracked.count == 0 else tracked
    new = np.flatnonzero(~_matches(tracked, found).any(axis=0))[: max(0, max_people - tracked.count)]
    if len(new) == 0:
        return tracked
    world = None
    if tracked.world_m is not None and found.world_m is not None:
        world = np.concatenate([tracked.world_m, found.world_m[new]])
    return replace(tracked, keypoints_px=np.concatenate([tracked.keypoints_px, found.keypoints_px[new]]),
                   scores=np.concatenate([tracked.scores, found.scores[new]]), world_m=world,
                   track_ids=np.concatenate([tracked.track_ids, found.track_ids[new]]))  # fmt: skip


def hand_over(following: Detections2D, incoming: Detections2D, max_people: int) -> tuple[Detections2D, bool]:
    """The people of one frame while an ``incoming`` landmarker takes over from the one
    ``following`` them (:func:`with_newcomers`), and whether ``incoming`` has everyone
    ``following`` has, so that it can carry on alone (then its people are the frame's)."""
    if following.count == 0 or (incoming.count and _matches(following, incoming).any(axis=1).all()):
        return incoming, True
    return with_newcomers(following, incoming, max_people), False


def _matches(a: Detections2D, b: Detections2D) -> np.ndarray:
    """``(A, B)`` True where a person of ``a`` and one of ``b`` are one person: boxes overlapping
    by :data:`DUPLICATE_MIN_IOU` or more, or the centre of either box inside the other. The
    second is for a person partly hidden, whom one landmarker fits whole (legs guessed) and the
    other by what shows (QA: the upper body's box inside the whole one's, IoU 0.29 to 0.48, was
    taken for a newcomer and published as a second person). Two people side by side are apart
    by both; one standing behind another is found once they step apart."""
    box_a = keypoint_boxes(a.keypoints_px, a.scores, _BOX_MIN_SCORE)
    box_b = keypoint_boxes(b.keypoints_px, b.scores, _BOX_MIN_SCORE)
    return (box_iou(box_a, box_b) >= DUPLICATE_MIN_IOU) | _centre_inside(box_a, box_b) | _centre_inside(box_b, box_a).T


def _centre_inside(inner: np.ndarray, outer: np.ndarray) -> np.ndarray:
    """``(I, O)`` True where the centre of box ``inner[i]`` lies inside box ``outer[o]`` (x0, y0, x1, y1)."""
    centre = (inner[:, None, :2] + inner[:, None, 2:]) / 2
    return ((centre >= outer[None, :, :2]) & (centre <= outer[None, :, 2:])).all(axis=-1)


def people_in(detections: Detections2D) -> int:
    """The people in ``detections``, one found twice counted once (MediaPipe asked for several
    poses returns one person twice now and then: counted twice, a search would open a slot for
    nobody, and the tracker then asked for two would look for the second on every frame)."""
    boxes = keypoint_boxes(detections.keypoints_px, detections.scores, _BOX_MIN_SCORE)
    return detections.count - int(duplicate_detections(boxes, detections.keypoints_px, detections.scores).sum())

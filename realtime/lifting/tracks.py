"""A light multi-person tracker: stable person ids from the 2D boxes, re-identification after short gaps.

Each detection's box is the bounding box of its confident keypoints. Per frame, detections
are matched to the tracks held (seen in the last frame or lost for at most ``max_lost_s``) by
the assignment of least total cost (scipy's ``linear_sum_assignment``), first by box overlap
(IoU at least ``min_iou``), then, among the detections and tracks left, by a centre within
``max_shift_diagonals`` box diagonals of the box last seen and a similar size (re-identification after a
gap, or a fast move).
Unmatched detections start new tracks with new ids (never reused; those of one frame numbered
from left to right); tracks lost for longer than ``max_lost_s`` are forgotten, and the oldest
of more than :data:`MAX_LOST_PER_PERSON` lost per person asked for.

With ``max_people == 1`` the one detection continues the track seen last (MediaPipe with one
pose tracks that person itself), else another held, wherever its box overlaps that track's last
box or lies within ``max_shift_diagonals`` of it plus how far a person goes in the time since
(:data:`MAX_SPEED_DIAGONALS_S`); a box further off is someone else, with a new id, while the one
who went is held as lost: MediaPipe asked for one pose takes whoever else is in view a frame or
two after its person goes. A detector that tracks by itself fills ``track_ids``; those ids are
then used as they are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from ...engines.window_slots import MAX_BRIDGED_GAP_S
from ..errors import OptionsError
from ..option_types import check_field_types


@dataclass(frozen=True)
class TrackerOptions:
    """``max_people``: detections per frame at most (1: no matching needed); ``max_lost_s``:
    how long a lost person keeps their id; ``min_iou``: box overlap that continues a track;
    ``max_shift_diagonals``: re-identification radius in box diagonals; ``min_score``: keypoints
    counted in a box."""

    max_people: int = 1
    max_lost_s: float = 1.0
    min_iou: float = 0.2
    max_shift_diagonals: float = 0.5
    min_score: float = 0.3

    def __post_init__(self) -> None:
        check_field_types(self)
        if not 1 <= self.max_people <= 64:
            raise OptionsError(f"max_people must be from 1 to 64, got {self.max_people}")
        if not self.max_lost_s >= 0:
            raise OptionsError(f"max_lost_s must be >= 0 seconds, got {self.max_lost_s}")
        if not 0 < self.min_iou <= 1:
            raise OptionsError(f"min_iou must be in (0, 1], got {self.min_iou}")
        if not self.max_shift_diagonals > 0:
            raise OptionsError(f"max_shift_diagonals must be > 0 box diagonals, got {self.max_shift_diagonals}")


@dataclass
class Track:
    """``box`` ``(4,)`` x0, y0, x1, y1 pixels when last seen; ``last_seen_ns`` on the stage clock;
    ``velocity_px_s`` ``(2,)``: how its box's centre moved over the frames before (smoothed);
    ``frames_seen``: in how many frames."""

    person_id: int
    box: np.ndarray
    last_seen_ns: int
    seen_now: bool = field(default=True)
    velocity_px_s: np.ndarray = field(default_factory=lambda: np.zeros(2))
    frames_seen: int = 1

    def followed_by(self, box: np.ndarray, timestamp_ns: int, overlapped: bool = False) -> Track:
        """The track seen at ``box`` at ``timestamp_ns``: its velocity from the move since the
        frame before (averaged with the one before: MediaPipe's boxes jitter), none after a gap.
        ``overlapped``: the box overlaps another person's this frame."""
        step_s = (timestamp_ns - self.last_seen_ns) * 1e-9
        size_change = np.abs((box[2:] - box[:2]) / np.maximum(self.box[2:] - self.box[:2], 1e-6) - 1.0)
        if not 0.0 < step_s <= _MAX_VELOCITY_STEP_S:
            velocity = np.zeros(2)
        elif overlapped or size_change.max() > _MAX_SIZE_CHANGE:
            # a box another person eats into, or that changed width or height (a person partly
            # hidden, an arm out, two people's keypoints merged into one), did not move as its centre
            # did: the velocity is kept as it was (review and QA: a person standing still, covered
            # from one side by another walking past, was read as moving away, and the lost box, moved
            # on by it, took the walker's id)
            velocity = self.velocity_px_s
        else:
            moved = (box[:2] + box[2:] - self.box[:2] - self.box[2:]) / 2
            velocity = 0.5 * self.velocity_px_s + 0.5 * moved / step_s
        return Track(self.person_id, box, timestamp_ns, True, velocity, self.frames_seen + 1)

    def box_at(self, timestamp_ns: int) -> np.ndarray:
        """Where its box should be at ``timestamp_ns``, moving on as it moved (at most
        :data:`_MAX_PREDICTION_S` ahead): two people crossing, one hiding the other, kept their
        ids only when matched where they were going, not where they were (QA: swapped after 0.2 s)."""
        ahead_s = min(max((timestamp_ns - self.last_seen_ns) * 1e-9, 0.0), _MAX_PREDICTION_S)
        shift = self.velocity_px_s * ahead_s
        return self.box + np.concatenate([shift, shift])


#: A velocity is measured between frames at most this far apart (seconds)
_MAX_VELOCITY_STEP_S = 0.25
#: A box is moved on by its velocity for at most this long (seconds)
_MAX_PREDICTION_S = 0.5
#: A box whose width or height changed by more than this fraction since the frame before measures no velocity
_MAX_SIZE_CHANGE = 0.15
#: With one person asked for, how fast (box diagonals per second) the one person's box may move
#: while it is not seen and still be them: a sprint across the view near the camera is about 3
MAX_SPEED_DIAGONALS_S = 5.0
#: Lost people held at most, per person asked for: a detection that jumps about (a flicker, a
#: detector's fault) starts a new id each jump, and each was held and published ``lost`` for
#: ``max_lost_s`` (numerics QA: 230 people a frame, whose messages pushed the tracked pose out of a
#: subscriber's queue); those seen in the fewest frames are forgotten first.
MAX_LOST_PER_PERSON = 2


def keypoint_boxes(keypoints_px: np.ndarray, scores: np.ndarray, min_score: float) -> np.ndarray:
    """Boxes ``(N, 4)`` (x0, y0, x1, y1) around each person's keypoints ``(N, K, 2)`` with a
    score of at least ``min_score`` (all keypoints when fewer than two are)."""
    use = scores >= min_score
    use[use.sum(axis=1) < 2] = True
    low = np.where(use[..., None], keypoints_px, np.inf).min(axis=1)
    high = np.where(use[..., None], keypoints_px, -np.inf).max(axis=1)
    return np.concatenate([low, high], axis=1).astype(np.float64)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU ``(N, M)`` of boxes ``a`` ``(N, 4)`` and ``b`` ``(M, 4)``."""
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=-1)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=-1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


#: What leaving one detection or one track unmatched costs, against a pair's cost (``1 - IoU`` by
#: overlap, ``1 + shift`` by position): by overlap, 0.6 each, so that two pairs of middling overlap
#: (two people side by side, stepping together) beat one good pair and two left over, and one
#: pair of high overlap beats two weak ones; by position, more than any pair costs (``1 +
#: max_shift_diagonals``), so as many lost people as can be are found again.
_UNMATCHED_OVERLAP_COST = 0.6


def _assign(cost: np.ndarray, unmatched_cost: float) -> list[tuple[int, int]]:
    """The pairs ``(row, col)`` of least total cost when every row and column left unpaired costs
    ``unmatched_cost`` (``inf``: the pair cannot be): a pair is made only where it costs less than
    leaving both (ByteTrack's assignment with a cost limit, by scipy's ``linear_sum_assignment``)."""
    gain = np.minimum(np.where(np.isfinite(cost), cost - 2.0 * unmatched_cost, 0.0), 0.0)
    rows, cols = linear_sum_assignment(gain)
    return [(r, c) for r, c in zip(rows, cols, strict=True) if gain[r, c] < 0.0]


#: Two detections are one person found twice when their boxes overlap this much (IoU) ...
DUPLICATE_MIN_IOU = 0.5
#: ... and their keypoints lie this close, median over the joints, in diagonals of the larger box
#: (two people crossing overlap as much, but their joints are apart)
DUPLICATE_MAX_KEYPOINT_SHIFT = 0.1


def duplicate_detections(boxes: np.ndarray, keypoints_px: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """``(N,)`` True for each detection that repeats a better one (a higher mean keypoint score):
    boxes ``(N, 4)`` overlapping by :data:`DUPLICATE_MIN_IOU` or more and keypoints ``(N, K, 2)``
    within :data:`DUPLICATE_MAX_KEYPOINT_SHIFT`. MediaPipe asked for several poses sometimes
    returns one person twice, nearly alike: both were published, as two people whose ids then
    traded places."""
    n = len(boxes)
    duplicate = np.zeros(n, bool)
    if n < 2:
        return duplicate
    iou = box_iou(boxes, boxes)
    diagonal = np.linalg.norm(boxes[:, 2:] - boxes[:, :2], axis=-1)
    for k in np.argsort(-scores.mean(axis=1), kind="stable"):  # the best first: it stays
        if duplicate[k]:
            continue
        for j in range(n):
            if j == k or duplicate[j] or iou[k, j] < DUPLICATE_MIN_IOU:
                continue
            shift = np.median(np.linalg.norm(keypoints_px[k] - keypoints_px[j], axis=-1))
            if shift <= DUPLICATE_MAX_KEYPOINT_SHIFT * max(diagonal[k], diagonal[j]):
                duplicate[j] = True
    return duplicate


class Tracker:
    """``update(boxes, timestamp_ns) -> person ids``; :attr:`tracks` holds everyone remembered."""

    def __init__(self, options: TrackerOptions | None = None) -> None:
        self.options = options or TrackerOptions()
        self.tracks: dict[int, Track] = {}
        self._next_id = 0
        self._last_update_ns: int | None = None

    def update(self, boxes: np.ndarray, timestamp_ns: int, track_ids: np.ndarray | None = None) -> list[int]:
        """Person ids for detections with ``boxes`` ``(N, 4)`` at ``timestamp_ns``, in detection
        order; ``track_ids`` ``(N,)``: the detector's own ids (used as they are when all >= 0)."""
        untracked = track_ids is None or not len(track_ids) or track_ids[0] < 0
        if self.options.max_people == 1 and len(boxes) <= 1 and untracked:
            return self._update_one(boxes, timestamp_ns)
        self._age(timestamp_ns)
        self._forget(timestamp_ns)
        for track in self.tracks.values():
            track.seen_now = False
        if track_ids is not None and len(track_ids) and int(track_ids.min()) >= 0:
            ids = [int(i) for i in track_ids]
            self._next_id = max(self._next_id, max(ids) + 1)
        else:
            ids = self._match(boxes, timestamp_ns)
        overlapped = (box_iou(boxes, boxes) > 0.0).sum(axis=1) > 1  # (each box overlaps itself)
        for person_id, box, covered in zip(ids, boxes, overlapped, strict=True):
            old = self.tracks.get(person_id)
            self.tracks[person_id] = Track(person_id, box, timestamp_ns) if old is None else old.followed_by(
                box, timestamp_ns, bool(covered))  # fmt: skip
        return self._hold_few(ids)

    def _update_one(self, boxes: np.ndarray, timestamp_ns: int) -> list[int]:
        """``max_people == 1``: the detection (if any) continues the track seen last when it could
        be that person (:meth:`_continues`), else another one held that it could be, else it is
        someone else, with a new id, and the one who went is held as lost (QA: someone walking
        past took over the id, window and bone lengths of the person who had just left the view,
        and the avatar jumped 3 m to them). Plain Python over at most a few tracks: this runs
        every frame of the common case."""
        self._age(timestamp_ns)
        self._forget(timestamp_ns)
        for held in self.tracks.values():
            held.seen_now = False
        if not len(boxes):
            return []
        box = boxes[0]
        # the one seen last first; then the others held (review: one stray detection far off, a
        # poster for a frame, took the id of the person, who came back as a third)
        held = sorted(self.tracks.values(), key=lambda t: t.last_seen_ns, reverse=True)
        track = next((t for t in held if self._continues(box, t, timestamp_ns)), None)
        if track is None:
            person_id = self._new_id()
            track = self.tracks[person_id] = Track(person_id, box, timestamp_ns)
        else:
            track.frames_seen += 1
        track.box, track.last_seen_ns, track.seen_now = box, timestamp_ns, True
        return self._hold_few([track.person_id])

    def _continues(self, box: np.ndarray, track: Track, timestamp_ns: int) -> bool:
        """Whether ``box`` can be ``track``'s person (one person asked for): it overlaps the box
        last seen at all, or its centre is within ``max_shift_diagonals`` of it plus how far a
        person goes in the time since (:data:`MAX_SPEED_DIAGONALS_S`), in diagonals of the larger
        box, whatever the sizes: a person half hidden behind a pillar has a box of half the size
        (regression check: a walker behind a pillar, a fast zoom, a shaking camera got new ids
        when the size had to match and the gap gave no room)."""
        x0, y0, x1, y1 = (float(v) for v in box)
        a0, b0, a1, b1 = (float(v) for v in track.box)
        if min(x1, a1) > max(x0, a0) and min(y1, b1) > max(y0, b0):
            return True
        diagonal = max(math.hypot(x1 - x0, y1 - y0), math.hypot(a1 - a0, b1 - b0), 1e-6)
        shift = math.hypot((x0 + x1 - a0 - a1) / 2, (y0 + y1 - b0 - b1) / 2) / diagonal
        gap_s = max(timestamp_ns - track.last_seen_ns, 0) * 1e-9
        return shift <= self.options.max_shift_diagonals + MAX_SPEED_DIAGONALS_S * gap_s

    def lost(self) -> list[int]:
        """Ids remembered but not seen in the last update."""
        return sorted(pid for pid, track in self.tracks.items() if not track.seen_now)

    def reset(self) -> None:
        """Forget everybody (ids are not reused)."""
        self.tracks.clear()
        self._last_update_ns = None

    def _age(self, timestamp_ns: int) -> None:
        """A gap in the frames themselves (a camera or stream that stalled, no frame at all) is no
        time the people were seen out of view: the held tracks age by at most
        :data:`MAX_BRIDGED_GAP_S` of it (QA: a 3 s stall of an IP camera gave its one person a new
        id, and an export of the take held the new id's first pose over the earlier motion)."""
        last, self._last_update_ns = self._last_update_ns, timestamp_ns
        excess_ns = 0 if last is None else timestamp_ns - last - int(MAX_BRIDGED_GAP_S * 1e9)
        if excess_ns > 0:
            for track in self.tracks.values():
                track.last_seen_ns += excess_ns

    def _forget(self, timestamp_ns: int) -> None:
        limit_ns = self.options.max_lost_s * 1e9
        for pid in [pid for pid, t in self.tracks.items() if not 0 <= timestamp_ns - t.last_seen_ns <= limit_ns]:
            del self.tracks[pid]

    def _hold_few(self, ids: list[int]) -> list[int]:
        """``ids`` (those seen now), having forgotten the lost beyond :data:`MAX_LOST_PER_PERSON`
        per person asked for: those seen in the fewest frames first (a flicker of one frame before
        a person followed for seconds: review), then the least recently seen."""
        most = self.options.max_people * MAX_LOST_PER_PERSON
        lost = [t for t in self.tracks.values() if not t.seen_now]
        if len(lost) > most:
            for track in sorted(lost, key=lambda t: (t.frames_seen, t.last_seen_ns))[: len(lost) - most]:
                del self.tracks[track.person_id]
        return ids

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def _match(self, boxes: np.ndarray, timestamp_ns: int) -> list[int]:
        tracks = list(self.tracks.values())
        ids: list[int | None] = [None] * len(boxes)
        if tracks and len(boxes):
            cost = self._costs(boxes, np.array([t.box_at(timestamp_ns) for t in tracks]))
            # by overlap first, then by position among what is left: a position match never takes
            # a track from a detection that overlaps it (a person standing still kept their id)
            by_overlap = cost < 1.0
            stages = ((by_overlap, _UNMATCHED_OVERLAP_COST), (~by_overlap, 1.0 + self.options.max_shift_diagonals))
            for stage, unmatched_cost in stages:
                free_d = [d for d in range(len(boxes)) if ids[d] is None]
                taken = {pid for pid in ids if pid is not None}
                free_t = [t for t in range(len(tracks)) if tracks[t].person_id not in taken]
                if free_d and free_t:
                    for d, t in _assign(np.where(stage, cost, np.inf)[np.ix_(free_d, free_t)], unmatched_cost):
                        ids[free_d[d]] = tracks[free_t[t]].person_id
        # people new in the same frame (a run's first frame, a photo) are numbered from left to right
        # (QA: in MediaPipe's order, the lowest id, which drives the VMC avatar, could not be told)
        for d in sorted((d for d in range(len(boxes)) if ids[d] is None), key=lambda d: boxes[d, 0] + boxes[d, 2]):
            ids[d] = self._new_id()
        return [int(pid) for pid in ids]  # type: ignore[arg-type]

    def _costs(self, boxes: np.ndarray, track_boxes: np.ndarray) -> np.ndarray:
        """``(N, M)``: ``1 - IoU`` for overlapping matches, ``1 + shift`` for re-identification
        by position, ``inf`` where neither applies."""
        o = self.options
        iou = box_iou(boxes, track_boxes)
        centres, track_centres = (boxes[:, :2] + boxes[:, 2:]) / 2, (track_boxes[:, :2] + track_boxes[:, 2:]) / 2
        centre = centres[:, None, :] - track_centres[None, :, :]
        diagonal = np.linalg.norm(track_boxes[:, 2:] - track_boxes[:, :2], axis=-1)[None, :]
        shift = np.linalg.norm(centre, axis=-1) / np.maximum(diagonal, 1e-6)
        size = np.linalg.norm(boxes[:, 2:] - boxes[:, :2], axis=-1)[:, None] / np.maximum(diagonal, 1e-6)
        similar = (shift <= o.max_shift_diagonals) & (size > 0.5) & (size < 2.0)
        return np.where(iou >= o.min_iou, 1.0 - iou, np.where(similar, 1.0 + shift, np.inf))

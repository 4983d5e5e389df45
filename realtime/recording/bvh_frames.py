"""A take's BVH frames made a chunk of the take at a time, for :mod:`posecast.realtime.recording.export`.

``posecast export --bvh`` reads a take in passes and keeps nothing of a frame beyond its chunk
but its timestamp and whether it has a pose (:mod:`posecast.realtime.recording.passes`):

1. :func:`survey_take`: one pass over the person's chunks gathers what the BVH needs before its
   first frame: each frame's pose or none (1 byte a frame), the floor's inputs when the take
   published no floor (:class:`FeetSurvey`: the joints the floor's fit reads of each pose whose
   feet were seen below the body, 96 bytes each), each pose's bone lengths when the take recorded
   none (128 bytes each), and, at each chunk's start, the face seen next (:func:`chunk_ear_lines`
   looks ahead to it across a gap of any length).
2. :func:`keyframe_chunks`: a second pass turns each chunk's poses (the hinges' twists and the
   limb hold carried from chunk to chunk), and :class:`KeyframeFeed` hands them to the BVH's
   frames as they are written (:func:`resampled_pose`, :func:`recorded_pose`), keeping the
   rotations of a chunk or two.

Every number is the one the whole take at once gives (each frame's are made alone, the sequential
ones carried): the files are the same, byte for byte.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

from ...calibration import floor as floors
from ...engines import face, limb_hold, skeleton
from ...engines import rotations as rot
from ...engines.limb_hold import LimbHoldOptions
from ...engines.window_slots import MAX_BRIDGED_GAP_S, frames_around
from .arrays import PersonChunk, TakeArrays
from .passes import TakeScan

#: A take as the BVH export reads it: one person's numbers, a chunk at a time.
PersonFrames = TakeArrays | TakeScan


class FeetSurvey:
    """The floor's inputs of a person's camera-frame poses, given a chunk at a time (:meth:`add`):
    the first pose's root (the world's origin is on the floor below it), whether both feet were
    seen, and of each pose whose feet were seen below the body (the ``standing`` count; of those
    that are a body, :func:`~posecast.calibration.floor.has_extent`) the joints the floor's fit
    reads (:data:`~posecast.calibration.floor.BODY_JOINTS`, in the joints' own type)."""

    def __init__(self) -> None:
        self.first_root_m: np.ndarray | None = None
        self.feet_seen = False
        self.standing = 0
        self._bodies: list[np.ndarray] = []

    def add(self, joints_m: np.ndarray, confidence: np.ndarray, posed: np.ndarray) -> None:
        """The next poses ``(n, 17, 3)`` (camera frame, NaN without a pose; kept in their own type:
        float32 as recorded, float64 lifted), their 2D's ``confidence`` ``(n, 17)`` and which have
        a pose ``posed`` ``(n,)``."""
        given = np.asarray(joints_m)
        joints = given.astype(np.float64)
        if self.first_root_m is None and posed.any():
            self.first_root_m = joints[np.argmax(posed), skeleton.ROOT].copy()
        seen = posed & floors.feet_seen(confidence)
        standing = np.flatnonzero(seen & floors.feet_below_body(joints))
        self.feet_seen |= bool(seen.any())
        self.standing += len(standing)
        if len(standing):
            bodies = standing[floors.has_extent(joints[standing])]
            self._bodies.append(given[bodies][:, floors.BODY_JOINTS])

    def floor(self, height_m: float) -> floors.Floor | None:
        """The floor under the poses whose feet were seen below the body of a subject
        ``height_m`` tall (:func:`~posecast.calibration.floor.estimate_floor`), or ``None``
        where there were none."""
        if not self.standing:
            return None
        kept = np.concatenate(self._bodies)
        self._bodies = [kept]  # (the pieces let go before the float64 copy is made)
        if not len(kept):
            raise floors.no_floor_poses(True)
        return floors.floor_of_bodies(kept.astype(np.float64), height_m)


#: A frame without a pose, as :func:`chunk_ear_lines` is told of one before or after a chunk.
LOST = "lost"
#: What :func:`chunk_ear_lines` is told of a frame outside the chunk: ``LOST``, or a face seen
#: there (its ear line ``(3,)`` and ``timestamp_ns``).
FaceEvent = str | tuple[np.ndarray, int]


@dataclass
class TakeSurvey:
    """What :func:`survey_take` found: ``posed`` ``(F,)`` each frame's pose or none; ``feet`` the
    floor's inputs (``None``: not gathered, the take published its floor); ``bone_lengths``
    each chunk's poses' bone lengths ``(p, 16)`` (``None``: not gathered, the take recorded them);
    ``faces_ahead``: for each chunk's start after the first, the first frame from there that
    has a face seen (its index and ear line in camera axes, ``(3,)``) when it comes before any
    frame without a pose, else ``None``."""

    posed: np.ndarray
    feet: FeetSurvey | None
    bone_lengths: list[np.ndarray] | None
    faces_ahead: dict[int, tuple[int, np.ndarray] | None] = field(default_factory=dict)

    def median_bone_lengths(self) -> np.ndarray:
        """``(16,)`` the median of each bone's length over the poses (``np.median(..., axis=0)``
        of them all, a bone at a time: one bone's lengths copied, not every bone's)."""
        rows = self.bone_lengths or [np.zeros((0, len(skeleton.BONES)))]
        return np.array([np.median(np.concatenate([part[:, bone] for part in rows])) for bone in
                         range(len(skeleton.BONES))])  # fmt: skip


def faces_seen(ear_lines: np.ndarray) -> np.ndarray:
    """``(n,)`` where ear lines ``(n, 3)`` are known (:func:`~posecast.engines.face.take_ear_lines`' rule)."""
    return np.isfinite(ear_lines).all(axis=-1)


def survey_take(take: PersonFrames, chunk_frames: int, feet: bool, bones: bool) -> TakeSurvey:
    """One pass over ``take``'s chunks of ``chunk_frames`` frames: its :class:`TakeSurvey`, the
    floor's inputs gathered where ``feet``, each pose's bone lengths where ``bones``."""
    posed = np.zeros(take.frames, bool)
    survey = TakeSurvey(posed, FeetSurvey() if feet else None, [] if bones else None)
    pending: list[int] = []  # chunk starts whose face ahead is not found yet
    for chunk in take.chunks(chunk_frames):
        mine = chunk.posed
        posed[chunk.start : chunk.start + len(mine)] = mine
        if chunk.start:
            pending.append(chunk.start)
        if pending:
            lines = face.ear_lines(chunk.face_m)
            seen = faces_seen(lines)
            ahead = np.flatnonzero(seen | ~mine)
            if len(ahead):
                first = int(ahead[0])
                found = (chunk.start + first, lines[first]) if seen[first] else None
                survey.faces_ahead.update(dict.fromkeys(pending, found))
                pending = []
        if survey.feet is not None:
            survey.feet.add(chunk.joints_m, chunk.confidence, mine)
        if survey.bone_lengths is not None and mine.any():
            survey.bone_lengths.append(skeleton.bone_lengths(chunk.joints_m[mine].astype(np.float64)))
    survey.faces_ahead.update(dict.fromkeys(pending, None))
    return survey


def chunk_ear_lines(ear_lines: np.ndarray, shoulder_lines: np.ndarray, timestamps_ns: np.ndarray,
                    posed: np.ndarray, before: FaceEvent | None, after: FaceEvent | None,
                    ) -> np.ndarray:  # fmt: skip
    """:func:`~posecast.engines.face.take_ear_lines` of a chunk of a take ``(n, ...)``, as the
    whole take's give them: ``before`` the last frame before the chunk that had a face seen or
    no pose (``None``: none), ``after`` the first after it (``None``: the take ends first)."""
    lines, shoulders = np.asarray(ear_lines, np.float64), np.asarray(shoulder_lines, np.float64)
    stamps, posed = np.asarray(timestamps_ns, np.int64), np.asarray(posed, bool)
    pre = [] if before is None else [before]
    post = [] if after is None else [after]
    outside = pre + post
    rows = [np.full(3, np.nan) if event is LOST else np.asarray(event[0], np.float64) for event in outside]
    stamped = [0 if event is LOST else int(event[1]) for event in outside]
    held = [event is not LOST for event in outside]
    at = len(pre)

    def around(inside: np.ndarray, extra: list, dtype: type) -> np.ndarray:
        extra = np.asarray(extra, dtype).reshape(len(extra), *inside.shape[1:])
        return np.concatenate([extra[:at], inside, extra[at:]])

    bridged = face.take_ear_lines(around(lines, rows, np.float64), around(shoulders, [np.full(3, np.nan)] * len(
        outside), np.float64), around(stamps, stamped, np.int64), around(posed, held, bool))  # fmt: skip
    return bridged[at : at + len(lines)]


def last_face_event(ear_lines: np.ndarray, timestamps_ns: np.ndarray, posed: np.ndarray,
                    before: FaceEvent | None) -> FaceEvent | None:  # fmt: skip
    """What :func:`chunk_ear_lines` is to be told of the frames up to a chunk's end: the last
    that had a face seen or no pose among them, else ``before``."""
    seen = faces_seen(ear_lines)
    events = np.flatnonzero(seen | ~posed)
    if not len(events):
        return before
    last = int(events[-1])
    return (np.array(ear_lines[last], np.float64), int(timestamps_ns[last])) if seen[last] else LOST


@dataclass
class KeyframeTally:
    """What the keyframes written hold, counted as they are made: ``within_1mm`` those whose every
    joint of the BVH's skeleton lies within 1 mm of the recording's, ``max_deviation_m`` the
    largest distance of a joint no held limb moves (NaN if any is), and ``limb_held`` those
    holding a limb out of view."""

    within_1mm: int = 0
    max_deviation_m: float = -np.inf
    limb_held: int = 0

    def add(self, pose: rot.BonePose, joints_world: np.ndarray, held_bones: np.ndarray | None) -> None:
        """Keyframes ``pose`` made of the world joints ``(k, 17, 3)``, the limb bones
        ``held_bones`` ``(k, 8)`` held (``None``: no hold)."""
        distance = np.linalg.norm(pose.joints() - joints_world, axis=-1)
        self.within_1mm += int((distance.max(axis=-1) < 1e-3).sum())
        if held_bones is not None:
            distance[limb_hold.joints_moved(held_bones)] = 0.0
            self.limb_held += int(held_bones.any(axis=1).sum())
        self.max_deviation_m = float(np.maximum(self.max_deviation_m, distance.max(axis=-1).max()))


def limbs_seen_in(chunk: PersonChunk, options: LimbHoldOptions) -> np.ndarray:
    """``(n, 8)`` the limb bones the 2D detector saw in each frame of ``chunk``, by its own image
    size (the live avatar's rule: :func:`~posecast.engines.limb_hold.joints_seen`)."""
    seen = np.zeros(chunk.confidence.shape, bool)
    for size in np.unique(chunk.image_sizes, axis=0):  # (a take's frames are of one size or a few)
        rows = (chunk.image_sizes == size).all(axis=1)
        seen[rows] = limb_hold.joints_seen(chunk.keypoints_px[rows], chunk.confidence[rows],
                                           (int(size[0]), int(size[1])), options)  # fmt: skip
    return limb_hold.limb_bones_seen(seen)


def keyframe_chunks(take: PersonFrames, chunk_frames: int, transform: np.ndarray, lengths_m: np.ndarray,
                    rows: np.ndarray, stamps_ns: np.ndarray, options: LimbHoldOptions | None,
                    faces_ahead: dict[int, tuple[int, np.ndarray] | None], tally: KeyframeTally,
                    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:  # fmt: skip
    """The keyframes of ``take`` (its frames ``rows`` ``(F,)``, all with a pose) as ``(root (k,
    3), rotations (k, 17, 4))`` a chunk of ``chunk_frames`` frames at a time, in world axes
    (``transform``), turned with one set of bone lengths ``lengths_m`` and the head's twist from
    the ear lines (bridged as :func:`~posecast.engines.face.take_ear_lines` bridges them), the limb
    bones the 2D detector did not see held as ``options`` say on the keyframes' times
    ``stamps_ns`` ``(P,)`` (``None``: not held); ``tally`` counts them as they are made. The same
    numbers as the whole take turned at once."""
    turner = rot.TakeTurner(lengths_m)
    state: limb_hold.LimbHoldState | None = None
    before: FaceEvent | None = None
    made = 0
    for chunk in take.chunks(chunk_frames):
        n, start = len(chunk.timestamps_ns), chunk.start
        posed = chunk.posed
        world = floors.to_world(chunk.joints_m.astype(np.float64), transform)
        lines = floors.directions_to_world(face.ear_lines(chunk.face_m), transform)
        ahead = faces_ahead.get(start + n) if start + n < take.frames else None
        after: FaceEvent | None = None
        if start + n < take.frames:
            after = LOST if ahead is None else (floors.directions_to_world(ahead[1][None], transform)[0],
                                                int(take.timestamps_ns[ahead[0]]))  # fmt: skip
        bridged = chunk_ear_lines(lines, skeleton.girdle_line(world), chunk.timestamps_ns, posed, before, after)
        before = last_face_event(lines, chunk.timestamps_ns, posed, before)
        keys = rows[start : start + n]
        count = int(keys.sum())
        if not count:
            continue
        pose = turner(world[keys], bridged[keys])
        held = None
        if options is not None:
            held, state = limb_hold.hold_frames_in_place(pose.rotations, limbs_seen_in(chunk, options)[keys],
                                                         stamps_ns[made:made + count], options, state,
                                                         pose.root_m[:, 1], pose.bone_lengths_m)  # fmt: skip
        tally.add(pose, world[keys], held)
        made += count
        yield pose.root_m, pose.rotations


class KeyframeFeed:
    """Keyframes made a chunk at a time (``chunks``: ``(root (k, 3), rotations (k, 17, 4))``, in
    order), handed out by index (:meth:`take`) to the BVH's frames as they are written: it keeps
    the chunks a later :meth:`take` may still ask of, a chunk or two, not the take's."""

    def __init__(self, chunks: Iterator[tuple[np.ndarray, np.ndarray]]) -> None:
        self._chunks = chunks
        self._kept: deque[tuple[int, np.ndarray, np.ndarray]] = deque()  # (first index, root, rotations)
        self._made = 0

    def take(self, index: np.ndarray, keep_from: int) -> tuple[np.ndarray, np.ndarray]:
        """The root ``(n, 3)`` and rotations ``(n, 17, 4)`` of the keyframes ``index`` ``(n,)``;
        no later call asks for one before ``keep_from``."""
        root = np.empty((len(index), 3))
        rotations = np.empty((len(index), skeleton.NUM_JOINTS, 4))
        top = int(index.max()) if len(index) else -1

        def fill(first: int, chunk_root: np.ndarray, chunk_rotations: np.ndarray) -> None:
            mine = (index >= first) & (index < first + len(chunk_root))
            root[mine], rotations[mine] = chunk_root[index[mine] - first], chunk_rotations[index[mine] - first]

        for first, chunk_root, chunk_rotations in self._kept:
            fill(first, chunk_root, chunk_rotations)
        while self._made <= top:
            chunk_root, chunk_rotations = next(self._chunks)
            fill(self._made, chunk_root, chunk_rotations)
            self._kept.append((self._made, chunk_root, chunk_rotations))
            self._made += len(chunk_root)
            self._let_go(keep_from)
        self._let_go(keep_from)
        return root, rotations

    def _let_go(self, keep_from: int) -> None:
        while self._kept and self._kept[0][0] + len(self._kept[0][1]) <= keep_from:
            self._kept.popleft()

    def finish(self) -> None:
        """Make the keyframes no frame asked for (none: their tally, and the rest of the take read)."""
        self._kept.clear()
        for _ in self._chunks:
            pass


def grid_weights(key_times_s: np.ndarray, grid_s: np.ndarray, max_gap_s: float = MAX_BRIDGED_GAP_S,
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """The resampling of keyframes at strictly increasing ``key_times_s`` ``(P,)`` (two at least)
    at the grid times ``grid_s`` ``(n,)``, between the two around each time as the live window
    takes them (:func:`~posecast.engines.window_slots.frames_around`) when they are at most
    ``max_gap_s`` apart, else (inside a longer gap, before the first, after the last) the one
    before it, or the first: ``lower`` ``(n,)`` the keyframe before, the upper one's weight
    ``(n,)``, and how far, in seconds, each grid time is from the pose it holds ``(n,)`` (0 where
    interpolated)."""
    lower, weight = frames_around(key_times_s, grid_s)
    upper = lower + 1
    bridged = key_times_s[upper] - key_times_s[lower] <= max_gap_s
    # across a longer gap: the pose before the time (the one after only once the time is on it)
    weight = np.where(bridged, weight, (weight >= 1.0).astype(np.float64))
    between = (weight > 0.0) & (weight < 1.0)
    held_s = np.where(between, 0.0, np.abs(grid_s - np.where(weight < 0.5, key_times_s[lower], key_times_s[upper])))
    return lower, weight, held_s


def grid_times(start_s: float, fps: float, part: slice) -> np.ndarray:
    """The times of the frames ``part`` of a uniform grid from ``start_s`` at ``fps``
    (:func:`~posecast.engines.window_slots.uniform_grid`'s)."""
    return start_s + np.arange(part.start, part.stop) / fps


def held_grid_frames(key_times_s: np.ndarray, start_s: float, frames: int, fps: float, chunk_frames: int) -> int:
    """How many of ``frames`` grid frames from ``start_s`` at ``fps`` hold a pose more than half a
    frame from their time (:func:`grid_weights`), counted ``chunk_frames`` at a time."""
    held = 0
    for first in range(0, frames, chunk_frames):
        grid_s = grid_times(start_s, fps, slice(first, min(first + chunk_frames, frames)))
        held_s = np.abs(grid_s - key_times_s[0]) if len(key_times_s) == 1 else grid_weights(key_times_s, grid_s)[2]
        held += int((held_s > 0.5 / fps).sum())
    return held


def resampled_pose(feed: KeyframeFeed, key_times_s: np.ndarray, start_s: float, fps: float,
                   ) -> Callable[[slice], tuple[np.ndarray, np.ndarray]]:  # fmt: skip
    """The pose of the grid frames ``part`` from ``start_s`` at ``fps``: the keyframes at
    ``key_times_s`` ``(P,)`` resampled (:func:`grid_weights`): rotations by slerp, the root
    linearly (``pose(part)``: ``(root (n, 3), rotations (n, 17, 4))``, asked for in order)."""

    def pose(part: slice) -> tuple[np.ndarray, np.ndarray]:
        grid_s = grid_times(start_s, fps, part)
        if len(key_times_s) == 1:
            root, rotations = feed.take(np.zeros(1, np.intp), 0)
            return np.repeat(root, len(grid_s), axis=0), np.repeat(rotations, len(grid_s), axis=0)
        lower, weight, _ = grid_weights(key_times_s, grid_s)
        root, rotations = feed.take(np.concatenate([lower, lower + 1]), int(lower.max()))
        n = len(lower)
        root = (1.0 - weight)[:, None] * root[:n] + weight[:, None] * root[n:]
        # slerp of each joint's rotation: from the lower pose, the given fraction of the turn to the upper
        turn_from = Rotation.from_quat(rotations[:n].reshape(-1, 4))
        turn = (turn_from.inv() * Rotation.from_quat(rotations[n:].reshape(-1, 4))).as_rotvec()
        step = Rotation.from_rotvec(turn * np.repeat(weight, skeleton.NUM_JOINTS)[:, None])
        return root, (turn_from * step).as_quat().reshape(n, skeleton.NUM_JOINTS, 4)

    return pose


def recorded_pose(feed: KeyframeFeed, posed: np.ndarray) -> Callable[[slice], tuple[np.ndarray, np.ndarray]]:
    """The pose of the recorded frames ``part`` (a take on its grid: one BVH frame a recorded
    frame): their own keyframe where ``posed`` ``(F,)``, else the last one's, or the first's before
    it (:func:`~posecast.engines.bvh_export.shown_frames`)."""
    shown_before = [0]  # keyframes before the part

    def pose(part: slice) -> tuple[np.ndarray, np.ndarray]:
        mine = posed[part]
        shown = np.maximum(np.cumsum(mine) + shown_before[0] - 1, 0)
        shown_before[0] += int(mine.sum())
        return feed.take(shown, int(shown.max()))

    return pose

"""A recording as numpy arrays: one person's published 3D (for export) and 2D (the
``posecast lift`` input format, to re-lift a take with another model)."""

from __future__ import annotations

import logging
from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...calibration import CameraIntrinsics
from ...engines import normalize, skeleton
from ...engines.errors import PosecastError
from ...engines.face import NUM_FACE_POINTS
from ...engines.lift_input import save_lift_input
from ...engines.runtime.base import DEFAULT_MODEL_NAME, MODELS, resolve_model
from ...engines.runtime.quantize import int8_by_default
from ..schema import decode_meta, decode_pose
from ..types import TRACKING_STATES
from .format import (
    FrameRecord,
    MetaRecord,
    Recording,
    RecordingError,
    RecordingReader,
    TakeClock,
    check_whole,
    read_records,
    say_unfinished,
)

log = logging.getLogger(__name__)


@dataclass
class PersonTrack:
    """One person over a recording, one row per recorded frame (``F`` frames).

    ``joints_m`` ``(F, 17, 3)`` metres in the wire's camera frame, NaN where the person had
    no pose (``lost`` or absent); ``tracking`` ``(F,)`` state strings (``""`` when absent);
    ``timestamp_ns`` and ``frame_id`` ``(F,)``; ``keypoints_px`` ``(F, 17, 2)`` and
    ``confidence`` ``(F, 17)`` the 2D (NaN and 0 when absent); ``bone_lengths_m`` ``(F, 16)``
    the lengths the pipeline used (NaN when not lifted); ``face_m`` ``(F, 5, 3)`` the face points
    of the messages that have them (:mod:`posecast.engines.face`; NaN elsewhere)."""

    person_id: int
    joints_m: np.ndarray
    tracking: np.ndarray
    timestamp_ns: np.ndarray
    frame_id: np.ndarray
    keypoints_px: np.ndarray
    confidence: np.ndarray
    bone_lengths_m: np.ndarray
    face_m: np.ndarray

    @property
    def posed(self) -> np.ndarray:
        """``(F,)`` True where the person has a 3D pose."""
        return np.isfinite(self.joints_m).all(axis=(1, 2))


@dataclass
class PersonChunk:
    """One person in ``n`` frames of a take from frame ``start`` on, as :class:`PersonTrack` keeps
    them (NaN joints, face points and 2D and zero confidence where the person has no pose or
    2D): what ``posecast export --bvh`` reads of a take a chunk at a time. ``timestamps_ns``
    ``(n,)`` and ``image_sizes`` ``(n, 2)`` are each frame's."""

    start: int
    timestamps_ns: np.ndarray
    image_sizes: np.ndarray
    joints_m: np.ndarray
    face_m: np.ndarray
    keypoints_px: np.ndarray
    confidence: np.ndarray

    @property
    def posed(self) -> np.ndarray:
        """``(n,)`` True where the person has a 3D pose."""
        return np.isfinite(self.joints_m).all(axis=(1, 2))


def chosen_person(path: Path, posed: Counter[int], person_id: int | None) -> int:
    """``person_id``, or the person posed in most frames (``posed``: frames with a pose per person
    of the take at ``path``; the first seen of equals), said when the take has others. Raises
    :class:`RecordingError` when the take has nobody, or not that person."""
    ids = [pid for pid, _ in posed.most_common()]
    if not ids:
        raise RecordingError(f"{path} has no frames with a person: nothing to export; record again with "
                             "someone in view")  # fmt: skip
    if person_id is None:
        if len(ids) > 1:  # (QA: the others were left out without a word; one person back after 1 s is a new id)
            log.info("%s: person %d, posed in most frames; the take also has person(s) %s: --person ID exports "
                     "another", path, ids[0], ", ".join(map(str, sorted(ids[1:]))))  # fmt: skip
        return ids[0]
    if person_id not in ids:
        raise RecordingError(f"{path} has no person {person_id}: it has {sorted(ids)}")
    return person_id


def person_ids(recording: Recording) -> list[int]:
    """The people in a recording, the one posed in most frames first."""
    posed: Counter[int] = Counter()
    for frame in recording.frames:
        for person in frame.people:
            posed[person.person_id] += person.tracking != "lost"
    return [pid for pid, _ in posed.most_common()]


def person_track(recording: Recording, person_id: int | None = None) -> PersonTrack:
    """``person_id``'s track (default: the person posed in most frames). Raises
    :class:`RecordingError` when the recording has no frames or not that person."""
    rows = TakeRows()
    for frame in recording.frames:
        rows.add(frame)
    return rows.track(recording.path, person_id)


#: Rows of people a block of :class:`TakeRows` holds (about 2 MB): a take read record by record is
#: kept in blocks of this many, allocated as it goes.
BLOCK_ROWS = 4096
#: The numbers kept of each person in each frame, as the arrays of :class:`PersonTrack` hold them:
#: ``name: (shape, fill where the person has none)``.
_FIELDS: dict[str, tuple[tuple[int, ...], float]] = {
    "joints_m": ((skeleton.NUM_JOINTS, 3), np.nan),
    "face_m": ((NUM_FACE_POINTS, 3), np.nan),
    "keypoints_px": ((skeleton.NUM_JOINTS, 2), np.nan),
    "confidence": ((skeleton.NUM_JOINTS,), 0.0),
    "bone_lengths_m": ((len(skeleton.BONES),), np.nan),
}
#: ``tracking`` as a row keeps it: an index into this (-1: no 2D record of the person in the frame).
_STATES = tuple(TRACKING_STATES)


class TakeRows:
    """A take's frames, given one at a time (:meth:`add`), kept as numbers: each person's joints,
    face points, 2D, confidences and bone lengths in each frame they appear in (float32, as
    recorded: about 0.55 kB a person and frame, where a frame's record read whole takes about 2.2 kB
    for one person), and each
    frame's clocks and image size; :meth:`track` then makes one person's :class:`PersonTrack`, as
    :func:`person_track` makes it of a whole recording."""

    def __init__(self) -> None:
        self.frames = 0
        self._posed: Counter[int] = Counter()  # frames with a pose, per person (person_ids' count)
        self._stamps_ns, self._recorded_ns, self._frame_ids = array("q"), array("q"), array("q")
        self._sizes = array("q")  # width, height, width, ...
        self._blocks: list[dict[str, np.ndarray]] = []
        self._used = BLOCK_ROWS  # rows filled in the last block

    def add(self, frame: FrameRecord) -> None:
        """Keep the numbers of the next frame of the take."""
        rows: dict[int, tuple[dict[str, np.ndarray], int]] = {}  # person_id: their block and row
        for payload in frame.poses:
            message = decode_pose(payload)
            if message.tracking != "lost":
                block, row = rows[message.person_id] = self._row(message.person_id)
                block["joints_m"][row] = message.joints_m
                if message.face_m is not None:
                    block["face_m"][row] = message.face_m
        for person in frame.people:
            self._posed[person.person_id] += person.tracking != "lost"
            block, row = rows.get(person.person_id) or self._row(person.person_id)
            block["tracking"][row] = _STATES.index(person.tracking)
            if person.tracking != "lost":
                block["keypoints_px"][row], block["confidence"][row] = person.keypoints_px, person.confidence
            if person.bone_lengths_m is not None:
                block["bone_lengths_m"][row] = person.bone_lengths_m
        self._stamps_ns.append(frame.timestamp_ns)
        self._recorded_ns.append(frame.t_ns)
        self._frame_ids.append(frame.frame_id)
        self._sizes.extend(frame.image_size)
        self.frames += 1

    def _row(self, person_id: int) -> tuple[dict[str, np.ndarray], int]:
        """A new row for ``person_id`` in the frame being added: its block (a new one when the last
        is full) and its index there."""
        if self._used == BLOCK_ROWS:
            block = {name: np.full((BLOCK_ROWS, *shape), fill, np.float32) for name, (shape, fill) in _FIELDS.items()}
            block["frame"] = np.empty(BLOCK_ROWS, np.int64)
            block["person_id"] = np.empty(BLOCK_ROWS, np.int64)
            block["tracking"] = np.full(BLOCK_ROWS, -1, np.int8)
            self._blocks.append(block)
            self._used = 0
        block, row = self._blocks[-1], self._used
        block["frame"][row], block["person_id"][row] = self.frames, person_id
        self._used += 1
        return block, row

    @property
    def timestamps_ns(self) -> np.ndarray:
        return np.frombuffer(self._stamps_ns, np.int64).copy()

    @property
    def recorded_ns(self) -> np.ndarray:
        return np.frombuffer(self._recorded_ns, np.int64).copy()

    @property
    def image_sizes(self) -> np.ndarray:
        return np.frombuffer(self._sizes, np.int64).reshape(-1, 2).copy()

    def person_ids(self) -> list[int]:
        """The people of the frames given, the one posed in most frames first (:func:`person_ids`)."""
        return [pid for pid, _ in self._posed.most_common()]

    def track(self, path: Path, person_id: int | None = None) -> PersonTrack:
        """``person_id``'s track (default: the person posed in most frames) of the frames given,
        which it takes: the rows are let go, block by block, as the track is made. Raises
        :class:`RecordingError` (naming ``path``) when there is no such person."""
        person_id = chosen_person(path, self._posed, person_id)
        n = self.frames
        dense = {name: np.full((n, *shape), fill, np.float32) for name, (shape, fill) in _FIELDS.items()}
        states = np.full(n, -1, np.int8)
        filled = [BLOCK_ROWS] * (len(self._blocks) - 1) + [self._used]
        self._used = BLOCK_ROWS
        while self._blocks:
            block, used = self._blocks.pop(0), filled.pop(0)
            mine = block["person_id"][:used] == person_id
            at = block["frame"][:used][mine]
            for name in _FIELDS:
                dense[name][at] = block[name][:used][mine]
            states[at] = block["tracking"][:used][mine]
        tracking = np.array([*_STATES, ""], dtype=object)[states].astype(str)  # (-1: the last, "")
        return PersonTrack(person_id, dense["joints_m"], tracking, self.timestamps_ns,
                           np.frombuffer(self._frame_ids, np.int64).copy(), dense["keypoints_px"],
                           dense["confidence"], dense["bone_lengths_m"], dense["face_m"])  # fmt: skip


@dataclass
class TakeArrays(TakeClock):
    """A take as ``posecast export`` uses it, without its records: its metas, each frame's clocks
    and image size, and one person's :class:`PersonTrack`. :func:`read_take` reads it from a file
    record by record, :func:`take_arrays` makes it of a :class:`Recording`."""

    path: Path
    metas: list[MetaRecord]
    complete: bool
    track: PersonTrack
    recorded: np.ndarray  # (F,) each frame's t_ns
    sizes: np.ndarray  # (F, 2) each frame's image_size

    @property
    def frames(self) -> int:
        """How many frames the take has."""
        return len(self.recorded)

    @property
    def timestamps_ns(self) -> np.ndarray:
        return self.track.timestamp_ns

    @property
    def recorded_ns(self) -> np.ndarray:
        return self.recorded

    @property
    def image_sizes(self) -> np.ndarray:
        return self.sizes

    @property
    def person_id(self) -> int:
        """The person whose numbers the take keeps."""
        return self.track.person_id

    @property
    def recorded_bone_lengths_m(self) -> np.ndarray | None:
        """``(16,)`` float32: the bone lengths the pipeline last used for the person, or ``None``
        when the take has none (not lifted live)."""
        lengths = self.track.bone_lengths_m
        recorded = np.flatnonzero(np.isfinite(lengths).all(axis=1))
        return lengths[recorded[-1]] if len(recorded) else None

    def chunks(self, size: int) -> Iterator[PersonChunk]:
        """The person's numbers ``size`` frames at a time, in order (views of the arrays held)."""
        track = self.track
        for start in range(0, self.frames, size):
            part = slice(start, start + size)
            yield PersonChunk(start, track.timestamp_ns[part], self.sizes[part], track.joints_m[part],
                              track.face_m[part], track.keypoints_px[part], track.confidence[part])  # fmt: skip


def read_take(path: str | Path, person_id: int | None = None) -> TakeArrays:
    """One person of the take at ``path`` (default: the one posed in most frames), read record by
    record and kept as numbers (:class:`TakeRows`): an hour's take at 30 fps needs about 65 MB,
    read whole (:func:`~posecast.realtime.recording.format.read_recording`) about 0.24 GB. The take
    is checked as :func:`read_recording` checks it; raises :class:`RecordingError` for a take
    without frames, or without the person."""
    path = Path(path)
    rows = TakeRows()
    with RecordingReader(path) as reader:
        metas, footer = read_records(reader, rows.add)
    check_whole(path, footer, rows.frames)
    if footer is None:
        say_unfinished(path, "read", rows.frames)
    if not rows.frames:  # (QA: "has no camera intrinsics (no frame was processed)")
        raise RecordingError(f"{path} has no frames: nothing to export; record a take with frames "
                             "(posecast run --record FILE)")  # fmt: skip
    track = rows.track(path, person_id)
    return TakeArrays(path, metas, footer is not None, track, rows.recorded_ns, rows.image_sizes)


def take_arrays(recording: Recording | TakeArrays, person_id: int | None = None) -> TakeArrays:
    """``recording`` as :class:`TakeArrays` of ``person_id`` (default: the one posed in most
    frames); a :class:`TakeArrays` as it is, when it is that person's."""
    if isinstance(recording, TakeArrays):
        if person_id is not None and person_id != recording.track.person_id:
            raise RecordingError(f"{recording.path} was read for person {recording.track.person_id}, not "
                                 f"{person_id}: read it again for that person")  # fmt: skip
        return recording
    rows = TakeRows()
    for frame in recording.frames:
        rows.add(frame)
    return TakeArrays(recording.path, recording.metas, recording.complete, rows.track(recording.path, person_id),
                      rows.recorded_ns, rows.image_sizes)  # fmt: skip


def timestamps_s(recording: TakeClock) -> np.ndarray | None:
    """``(F,)`` float64 seconds of each frame from the first, on the clock the live pipeline ran
    on (a camera's capture time, a file's media time), or ``None`` when they do not increase
    strictly (the lift input refuses such; ``lift`` then counts frames at ``fps``)."""
    stamps_ns = recording.timestamps_ns
    if len(stamps_ns) and not (np.diff(stamps_ns) > 0).all():
        log.warning("%s: its frames' timestamps do not increase strictly; the lift input gets fps alone",
                    recording.path)  # fmt: skip
        return None
    return (stamps_ns - stamps_ns[:1]) / 1e9  # from the first: exact in float64, whatever the clock's origin


def lift_input(recording: Recording | TakeArrays, person_id: int | None = None) -> dict[str, np.ndarray]:
    """The ``posecast lift`` input of one person: ``keypoints_2d`` ``(F, 17, 2)`` pixels
    (undistorted when the recording's camera has distortion, as ``lift`` expects),
    ``confidence`` ``(F, 17)`` (0 where the person is absent), ``intrinsics`` ``(4,)`` fx, fy,
    cx, cy, ``fps`` (the take's rate, :attr:`Recording.fps`) and ``timestamps_s`` ``(F,)``
    (:func:`timestamps_s`: a live take's frames are not ``1 / fps`` apart, and ``lift`` lifts on
    this clock as the live pipeline did) and ``height_m`` when the live run was given the
    subject's height (``--subject-height``, a subject file)."""
    intrinsics = recording.intrinsics
    if intrinsics is None:
        raise RecordingError(f"{recording.path} has no camera intrinsics (no frame was processed)")
    track = take_arrays(recording, person_id).track
    cameras = frame_intrinsics(recording)
    if any(camera != intrinsics for camera in cameras):  # images of several sizes: each in its own camera
        keypoints = np.asarray(track.keypoints_px, np.float64).copy()
        last_k = np.array([intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy])
        unique: list[CameraIntrinsics] = []
        for camera in cameras:
            if camera not in unique:
                unique.append(camera)
        for camera in unique:
            rows = [i for i, frame_camera in enumerate(cameras) if frame_camera == camera]
            ideal = camera.undistort_pixels(keypoints[rows])
            # the same rays in the take's last camera, the one lift is given (QA: a folder of two image
            # sizes put the smaller images' person 2.85 m away instead of 1.35 m, exit 0)
            rays = normalize.normalize_pixels(ideal, np.array([camera.fx, camera.fy, camera.cx, camera.cy]))
            keypoints[rows] = normalize.denormalize_pixels(rays, last_k)
    else:
        # as the live stage undistorts them (its criteria, float64: float32 rounding and OpenCV's
        # default 5 iterations moved the re-lifted joints by up to 4.3 mm through the INT8 lifter; QA)
        keypoints = intrinsics.undistort_pixels(track.keypoints_px) if intrinsics.distortion else track.keypoints_px
    arrays = {
        "keypoints_2d": keypoints,
        "confidence": track.confidence,
        "intrinsics": np.asarray([intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy], np.float64),
        "fps": np.float64(recording.fps or 30.0),
    }
    clock_s = timestamps_s(recording)
    if clock_s is not None:
        arrays["timestamps_s"] = clock_s
    settings = live_settings(recording)
    height_m = settings.get("height_m")
    # the height the live run was given (QA: a take at --subject-height 1.85 lifted again at the
    # assumed 1.70, 303 mm from the published 3D, without a word)
    if settings.get("height_assumed") is False and isinstance(height_m, float) and skeleton.height_in_range(height_m):
        arrays["height_m"] = np.float64(height_m)
    return arrays


def live_settings(recording: TakeClock) -> dict:
    """The live run's settings as its last readable meta states them (its ``assumptions``:
    ``height_m``, ``subject_file``, ``one_euro``, ...); empty when no meta decodes."""
    for meta in reversed(recording.metas):
        try:
            return dict(decode_meta(meta.payload).assumptions)
        except PosecastError:
            continue
    return {}


def lift_flags(settings: dict) -> list[str]:
    """The ``posecast lift`` options that lift a take's 2D as its live run did (its
    :func:`live_settings`): its model where not the default, INT8 or float where lift's default
    differs or cannot be known (a model file), without flip averaging, without the live bone
    measurement (QA: the printed command left the model out, and lifted the take 73 mm from its
    3D with the default model, 384 mm for one taken with ``unsupervised-w512``)."""
    flags = []
    model = settings.get("model")
    shipped = not isinstance(model, str) or model in MODELS
    if isinstance(model, str) and model and model != DEFAULT_MODEL_NAME:
        flags += ["--model", model]
    int8 = settings.get("int8")
    if settings.get("backend") == "onnxruntime" and isinstance(int8, bool):
        lift_default = int8_by_default(resolve_model(model if isinstance(model, str) else None)) if shipped else None
        if int8 != lift_default:
            flags.append("--int8" if int8 else "--no-int8")
    if settings.get("flip_average") is False:
        flags.append("--no-flip-average")
    # where the run measured no bones (its meta's None) without a subject file (which measures none
    # either, and is warned about by settings_lift_lacks)
    measured = settings.get("live_subject_calibration_s") is not None or settings.get("subject_file")
    if not measured and "live_subject_calibration_s" in settings:
        flags.append("--no-live-subject")
    return flags


def settings_lift_lacks(settings: dict) -> list[str]:
    """The live run's settings (:func:`live_settings`) that ``posecast lift`` cannot apply to
    the take's lift input, as the options that set them: its 3D differs from the take's there."""
    lacks = []
    if settings.get("subject_file"):
        lacks.append(f"--subject {settings['subject_file']} (its bone lengths)")
    if settings.get("one_euro"):
        lacks.append("--one-euro (a filter of the joints)")
    return lacks


def frame_intrinsics(recording: TakeClock) -> list[CameraIntrinsics]:
    """Each frame's camera: the intrinsics of the last meta recorded before it (the first's for
    frames before any). One camera throughout, unless the take's images changed size."""
    metas = sorted((m for m in recording.metas if m.intrinsics is not None), key=lambda m: m.t_ns)
    if not metas:
        return []
    times = np.array([m.t_ns for m in metas])
    at = np.searchsorted(times, recording.recorded_ns, side="right") - 1
    return [metas[max(i, 0)].intrinsics for i in at]


def write_lift_input(recording: Recording, path: str | Path, person_id: int | None = None) -> Path:
    """Write :func:`lift_input` as an ``.npz`` (atomically)."""
    return save_lift_input(lift_input(recording, person_id), path)

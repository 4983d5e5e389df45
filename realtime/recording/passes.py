"""A take read in passes: ``posecast export --bvh`` in memory that does not grow with the take.

:func:`scan_take` reads a take once, record by record, checking every record as
:func:`~posecast.realtime.recording.format.read_recording` does (a damaged take is refused before
anything is written), and keeps only what must be known of it before its BVH is made
(:class:`TakeScan`): its metas and footer, each frame's ``timestamp_ns`` (8 bytes a frame), the
person to export (the one posed in most frames, as :func:`~posecast.realtime.recording.arrays.
read_take` chooses) and the bone lengths the pipeline last used for them.

:meth:`TakeScan.chunks` reads the take again, as often as it is asked, and gives that person's
numbers a chunk of frames at a time (:class:`~posecast.realtime.recording.arrays.PersonChunk`,
the numbers :func:`read_take` keeps: nothing of a frame outlives its chunk). It takes the
records as the scan checked them, without checking each number again (the checks are most of a
read's time: an hour's take at 30 fps is scanned in 11 s of CPU and read again in 1.8 s), from
the same file (its device and inode; a finished take's size and modification time too), the
frames the scan counted, each stamped as then. A take that changed since is refused
(:class:`~posecast.realtime.recording.format.RecordingError`), and a ``.part`` still being
recorded is read as far as the scan read it.
"""

from __future__ import annotations

import os
from array import array
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import numpy as np

from ...engines import skeleton
from ...engines.face import NUM_FACE_POINTS
from .arrays import PersonChunk, chosen_person
from .format import (
    FrameRecord,
    MetaRecord,
    RecordingError,
    RecordingReader,
    TakeClock,
    check_whole,
    read_records,
    say_unfinished,
)

#: The largest record a read takes (the checking reader's limit).
MAX_RECORD_BYTES = 256 * 1024 * 1024


class _Scanned:
    """What :func:`scan_take` keeps of each frame given (:meth:`add`): its ``timestamp_ns`` and,
    for the first and the last, its ``t_ns``; the frames with a pose and the last recorded bone
    lengths of each person."""

    def __init__(self) -> None:
        self.frames = 0
        self.stamps_ns = array("q")
        self.first_t_ns = self.last_t_ns = 0
        self.posed: Counter[int] = Counter()  # (the count read_take chooses the person by)
        self.bone_lengths: dict[int, np.ndarray] = {}

    def add(self, frame: FrameRecord) -> None:
        for person in frame.people:
            self.posed[person.person_id] += person.tracking != "lost"
            if person.bone_lengths_m is not None:
                self.bone_lengths[person.person_id] = person.bone_lengths_m
        if not self.frames:
            self.first_t_ns = frame.t_ns
        self.last_t_ns = frame.t_ns
        self.stamps_ns.append(frame.timestamp_ns)
        self.frames += 1


class TakeScan(TakeClock):
    """A take scanned by :func:`scan_take` for one person: its ``metas``, whether it is
    ``complete`` (has its footer), each frame's ``timestamp_ns`` (not its ``t_ns`` or image size:
    :attr:`recorded_ns` and :attr:`image_sizes` raise), and :meth:`chunks` of the person's numbers,
    read from the file again."""

    def __init__(self, path: Path, metas: list[MetaRecord], complete: bool, person_id: int,
                 timestamps_ns: np.ndarray, recorded_span_ns: int, bone_lengths_m: np.ndarray | None,
                 opened: os.stat_result) -> None:  # fmt: skip
        self.path = path
        self.metas = metas
        self.complete = complete
        self.person_id = person_id
        self._timestamps_ns = timestamps_ns
        self._timestamps_ns.flags.writeable = False
        self._recorded_span_ns = recorded_span_ns
        #: ``(16,)`` float32: the bone lengths the pipeline last used for the person (``None``: none)
        self.recorded_bone_lengths_m = bone_lengths_m
        self._opened = opened

    @property
    def frames(self) -> int:
        """How many frames the take has."""
        return len(self._timestamps_ns)

    @property
    def timestamps_ns(self) -> np.ndarray:
        return self._timestamps_ns

    @property
    def recorded_ns(self) -> np.ndarray:
        raise NotImplementedError("a scanned take keeps its frames' t_ns span only (recorded_span_ns)")

    @property
    def image_sizes(self) -> np.ndarray:
        raise NotImplementedError("a scanned take keeps no image sizes: they come with its chunks")

    @property
    def recorded_span_ns(self) -> int:
        return self._recorded_span_ns

    def chunks(self, size: int) -> Iterator[PersonChunk]:
        """The person's numbers ``size`` frames at a time, in order, read from the file again
        (module docstring), each record's kept as it is read; raises :class:`RecordingError` where
        the file is not the take scanned."""
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        chunk = _ChunkRows(0, min(size, self.frames))
        for record in self._frame_records():
            try:
                chunk.add(record, self.person_id)
            except (KeyError, TypeError, ValueError, msgpack.UnpackException) as exc:  # (the scan checked them)
                raise self._changed(f"its frame {chunk.end} is not what it was: {exc!r:.80}") from exc
            if chunk.full:
                yield chunk.made()
                if chunk.end < self.frames:
                    chunk = _ChunkRows(chunk.end, min(size, self.frames - chunk.end))

    def _changed(self, what: str) -> RecordingError:
        return RecordingError(f"{self.path} changed while it was exported ({what}): export it again once nothing "
                              "writes it")  # fmt: skip

    def _frame_records(self) -> Iterator[dict[str, Any]]:
        """The take's frame records' maps, the ``frames`` the scan counted, from the same file."""
        try:
            file = open(self.path, "rb")  # noqa: SIM115 (closed below, also when the reader stops early)
        except OSError as exc:
            raise self._changed(f"it cannot be opened again: {exc.strerror}") from exc
        with file:
            now, then = os.fstat(file.fileno()), self._opened
            if (now.st_dev, now.st_ino) != (then.st_dev, then.st_ino):
                raise self._changed("another file has its name now")
            if self.complete and (now.st_size, now.st_mtime_ns) != (then.st_size, then.st_mtime_ns):
                raise self._changed("its size or modification time is not what it was")
            records = msgpack.Unpacker(file, raw=False, max_buffer_size=MAX_RECORD_BYTES)
            read = 0
            while read < self.frames:
                record = _next_record(records)
                if record is None:
                    raise self._changed(f"it ends after {read} of the {self.frames} frames read before")
                if not (isinstance(record, dict) and record.get("type") == "frame"):
                    continue  # the header, metas, records of other types
                if record.get("timestamp_ns") != self._timestamps_ns[read]:
                    raise self._changed(f"its frame {read} is not the one read before")
                yield record
                read += 1


def _next_record(records: msgpack.Unpacker) -> object | None:
    """The next record, or ``None`` at the end of the file or where it cannot be read."""
    try:
        return next(records)
    except (StopIteration, ValueError, msgpack.UnpackException):
        return None


class _ChunkRows:
    """A :class:`~posecast.realtime.recording.arrays.PersonChunk` of ``frames`` frames from frame
    ``start`` on, filled a frame record at a time (:meth:`add`) as
    :class:`~posecast.realtime.recording.arrays.TakeRows` keeps its numbers (float32, as recorded:
    the pose message's joints and face points where it is not ``lost``, the 2D where the person's
    entry is not)."""

    def __init__(self, start: int, frames: int) -> None:
        self.start, self.end = start, start
        self._chunk = PersonChunk(start, np.empty(frames, np.int64), np.empty((frames, 2), np.int64),
                                  np.full((frames, skeleton.NUM_JOINTS, 3), np.nan, np.float32),
                                  np.full((frames, NUM_FACE_POINTS, 3), np.nan, np.float32),
                                  np.full((frames, skeleton.NUM_JOINTS, 2), np.nan, np.float32),
                                  np.zeros((frames, skeleton.NUM_JOINTS), np.float32))  # fmt: skip

    @property
    def full(self) -> bool:
        return self.end - self.start == len(self._chunk.timestamps_ns)

    def add(self, record: dict[str, Any], person_id: int) -> None:
        """The next frame record's numbers of ``person_id``."""
        chunk, row = self._chunk, self.end - self.start
        chunk.timestamps_ns[row], chunk.image_sizes[row] = record["timestamp_ns"], record["image_size"]
        for payload in record["poses"]:
            message = msgpack.unpackb(payload, raw=False)
            if message.get("person_id", 0) == person_id and message["tracking"] != "lost":
                chunk.joints_m[row] = message["joints_m"]
                if "face_m" in message:
                    chunk.face_m[row] = message["face_m"]
        for person in record.get("people", ()):
            if person["person_id"] == person_id and person["tracking"] != "lost":
                # (as the checking reader reads them: numpy's numbers, then float32)
                chunk.keypoints_px[row] = np.asarray(person["keypoints_px"]).astype(np.float32)
                chunk.confidence[row] = np.asarray(person["confidence"]).astype(np.float32)
        self.end += 1

    def made(self) -> PersonChunk:
        return self._chunk


def scan_take(path: str | Path, person_id: int | None = None) -> TakeScan:
    """The take at ``path`` scanned for ``person_id`` (default: the one posed in most frames):
    every record read and checked as :func:`~posecast.realtime.recording.format.read_recording`
    reads it, and raises :class:`RecordingError` as :func:`~posecast.realtime.recording.arrays.
    read_take` does (a take without frames, or without the person)."""
    path = Path(path)
    scanned = _Scanned()
    with RecordingReader(path) as reader:
        metas, footer = read_records(reader, scanned.add)
        opened = reader.opened
    check_whole(path, footer, scanned.frames)
    if footer is None:
        say_unfinished(path, "read", scanned.frames)
    if not scanned.frames:
        raise RecordingError(f"{path} has no frames: nothing to export; record a take with frames "
                             "(posecast run --record FILE)")  # fmt: skip
    person = chosen_person(path, scanned.posed, person_id)
    stamps = np.frombuffer(scanned.stamps_ns, np.int64).copy()
    return TakeScan(path, metas, footer is not None, person, stamps, scanned.last_t_ns - scanned.first_t_ns,
                    scanned.bone_lengths.get(person), opened)  # fmt: skip

"""The ``.posecast`` recording format: every published message and the 2D keypoints, losslessly.

A recording is a stream of msgpack maps, one after the other (read it with any msgpack
library's streaming unpacker):

1. **header**: ``{"format": "posecast-recording", "version": 1, "created_unix_ns": int,
   "posecast_version": str, "schema_version": int, "source": str}``; ``schema_version`` is the
   wire schema of the pose and meta payloads inside (``docs/protocol.md``).
2. **records**, each with a ``"type"``:

   - ``"meta"``: ``t_ns`` (``time.monotonic_ns()`` when recorded), ``payload`` (bytes: the meta
     message exactly as published), ``intrinsics`` (``{"width", "height", "fx", "fy", "cx",
     "cy", "distortion": [...], "assumed"}`` in pixels, or nil before the first frame) and
     ``source_fps`` (0.0 when unknown). Written at the start and whenever the meta changes.
   - ``"frame"``: one per processed frame: ``t_ns`` (when recorded), ``frame_id``, ``capture_ns``
     (monotonic), ``timestamp_ns`` (the clock of the temporal stages: media time for a file
     read as fast as it decodes, else the capture time; replay paces by it), ``image_size``
     ``[width, height]``, ``poses``: the pose messages of this frame, each the exact bytes
     published (one per person; the wire's ``publish_ns`` is when the recorder encoded it),
     and ``people``: per person ``{"person_id", "tracking", "keypoints_px": 17 × [x, y]
     (float32 pixels as detected, posecast joint order, before undistortion), "confidence":
     17 floats, "bone_lengths_m": 16 floats or nil}``.
   - ``"end"`` (the footer, last): ``t_ns``, ``frames`` (count), ``dropped_frames`` (frames the
     recorder could not keep up with, normally 0) and ``index``: ``[frame_id, timestamp_ns,
     byte offset]`` of about one frame per second, for seeking.

Unknown record types and unknown keys are skipped by readers; a new field does not change
``version``, a removed or redefined one does.

Crash safety: the recorder writes ``NAME.part`` beside the target, flushes it to the operating
system at least every second (``fsync`` too), and on a normal end writes the footer and renames
it to ``NAME`` in one step. After a crash ``NAME.part`` is a valid recording without its footer,
missing at most the last second; :func:`read_recording` reads it and says so.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, BinaryIO

import msgpack
import numpy as np

from ...calibration import CameraIntrinsics
from ...engines.errors import PosecastError

log = logging.getLogger(__name__)

FORMAT = "posecast-recording"
VERSION = 1
PART_SUFFIX = ".part"


class RecordingError(PosecastError):
    """A recording that cannot be written or read."""


@dataclass
class PersonRecord:
    """One person's 2D in one frame: ``keypoints_px`` ``(17, 2)``, ``confidence`` ``(17,)``
    float32; ``bone_lengths_m`` ``(16,)`` or ``None`` when not lifted (``lost``)."""

    person_id: int
    tracking: str
    keypoints_px: np.ndarray
    confidence: np.ndarray
    bone_lengths_m: np.ndarray | None = None


@dataclass
class FrameRecord:
    """One processed frame: the published pose payloads and each person's 2D."""

    t_ns: int
    frame_id: int
    capture_ns: int
    timestamp_ns: int
    image_size: tuple[int, int]
    poses: list[bytes]
    people: list[PersonRecord] = field(default_factory=list)


@dataclass
class MetaRecord:
    """The meta message as published, with the intrinsics and source rate behind it."""

    t_ns: int
    payload: bytes
    intrinsics: CameraIntrinsics | None = None
    source_fps: float = 0.0


def _f32(array: np.ndarray) -> list:
    return np.asarray(array, np.float32).tolist()


def _pack(record: dict[str, Any]) -> bytes:
    return msgpack.packb(record, use_bin_type=True, use_single_float=True)


def _intrinsics_map(k: CameraIntrinsics | None) -> dict[str, Any] | None:
    if k is None:
        return None
    return {
        "width": k.width,
        "height": k.height,
        "fx": k.fx,
        "fy": k.fy,
        "cx": k.cx,
        "cy": k.cy,
        "distortion": list(k.distortion),
        "assumed": bool(k.assumed),
    }


class RecordingWriter:
    """Appends records to ``path + ".part"`` and renames it to ``path`` on :meth:`close`.

    ``flush_interval_s``: the most a crash can lose (the file is flushed and fsynced at least
    this often). Not thread-safe: one thread writes (the recording sink's own).
    """

    def __init__(self, path: str | Path, source: str = "", schema_version: int = 0, flush_interval_s: float = 1.0):
        if flush_interval_s <= 0:
            raise RecordingError(f"flush_interval_s must be positive, got {flush_interval_s}")
        self.path = Path(path)
        self.part_path = self.path.with_name(self.path.name + PART_SUFFIX)
        self.flush_interval_s = flush_interval_s
        self.frames = 0
        self.dropped_frames = 0
        self._index: list[list[int]] = []
        self._last_index_ns: int | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file: BinaryIO = open(self.part_path, "wb")  # noqa: SIM115 - closed in close()
        except OSError as exc:
            raise RecordingError(
                f"cannot write the recording {self.part_path} ({exc.strerror}): pass a path in a writable folder"
            ) from exc
        self._offset = 0
        self._last_flush = time.monotonic()
        try:
            version = metadata.version("posecast")
        except metadata.PackageNotFoundError:
            version = "unknown"
        self._append(
            {
                "format": FORMAT,
                "version": VERSION,
                "created_unix_ns": time.time_ns(),
                "posecast_version": version,
                "schema_version": int(schema_version),
                "source": source,
            }
        )
        self._sync()

    def write_meta(self, record: MetaRecord) -> None:
        self._append(
            {
                "type": "meta",
                "t_ns": int(record.t_ns),
                "payload": bytes(record.payload),
                "intrinsics": _intrinsics_map(record.intrinsics),
                "source_fps": float(record.source_fps),
            }
        )

    def write_frame(self, record: FrameRecord) -> None:
        if self._last_index_ns is None or record.timestamp_ns - self._last_index_ns >= 1_000_000_000:
            self._index.append([int(record.frame_id), int(record.timestamp_ns), self._offset])
            self._last_index_ns = record.timestamp_ns
        people = [
            {
                "person_id": int(p.person_id),
                "tracking": p.tracking,
                "keypoints_px": _f32(p.keypoints_px),
                "confidence": _f32(p.confidence),
                "bone_lengths_m": None if p.bone_lengths_m is None else _f32(p.bone_lengths_m),
            }
            for p in record.people
        ]
        self._append(
            {
                "type": "frame",
                "t_ns": int(record.t_ns),
                "frame_id": int(record.frame_id),
                "capture_ns": int(record.capture_ns),
                "timestamp_ns": int(record.timestamp_ns),
                "image_size": [int(v) for v in record.image_size],
                "poses": [bytes(p) for p in record.poses],
                "people": people,
            }
        )
        self.frames += 1

    def _append(self, record: dict[str, Any]) -> None:
        data = _pack(record)
        try:
            self._file.write(data)
            self._offset += len(data)
            if time.monotonic() - self._last_flush >= self.flush_interval_s:
                self._sync()
        except OSError as exc:
            raise self._failed(exc) from exc

    def _failed(self, exc: OSError) -> RecordingError:
        """A write that failed (a full disk): what was written before stays, readable."""
        return RecordingError(f"cannot write the recording {self.part_path} ({exc.strerror or exc}): the frames "
                              "written before stay in it, readable by replay and export; free space before "
                              "recording again")  # fmt: skip

    def _sync(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._last_flush = time.monotonic()

    def discard(self) -> None:
        """Close and remove the unfinished file (a run that recorded nothing)."""
        if not self._file.closed:
            self._file.close()
        self.part_path.unlink(missing_ok=True)

    def close(self) -> Path:
        """Write the footer and move the finished file into place; returns its path."""
        if self._file.closed:
            return self.path
        self._append(
            {
                "type": "end",
                "t_ns": time.monotonic_ns(),
                "frames": self.frames,
                "dropped_frames": int(self.dropped_frames),
                "index": self._index,
            }
        )
        try:
            self._sync()
        except OSError as exc:
            with contextlib.suppress(OSError):
                self._file.close()
            raise self._failed(exc) from exc
        self._file.close()
        os.replace(self.part_path, self.path)
        log.info("recorded %d frames to %s", self.frames, self.path)
        return self.path


@dataclass
class Recording:
    """A recording read back. ``complete`` is False when the footer is missing (the recorder
    did not finish: a crash leaves all but the last second)."""

    path: Path
    header: dict[str, Any]
    metas: list[MetaRecord]
    frames: list[FrameRecord]
    footer: dict[str, Any] | None

    @property
    def complete(self) -> bool:
        return self.footer is not None

    @property
    def intrinsics(self) -> CameraIntrinsics | None:
        """The last intrinsics recorded (they are fixed once the image size is known)."""
        return next((m.intrinsics for m in reversed(self.metas) if m.intrinsics is not None), None)

    @property
    def fps(self) -> float:
        """The source's frame rate: as recorded, or from the frames' timestamps (0.0 if unknown)."""
        rate = next((m.source_fps for m in reversed(self.metas) if m.source_fps > 0), 0.0)
        if rate > 0:
            return rate
        stamps = np.asarray([f.timestamp_ns for f in self.frames], np.float64)
        steps = np.diff(stamps)
        return float(1e9 / np.median(steps)) if len(steps) and np.median(steps) > 0 else 0.0


def _intrinsics(m: dict[str, Any] | None) -> CameraIntrinsics | None:
    if m is None:
        return None
    return CameraIntrinsics(
        width=m["width"],
        height=m["height"],
        fx=m["fx"],
        fy=m["fy"],
        cx=m["cx"],
        cy=m["cy"],
        distortion=tuple(m.get("distortion", ())),
        assumed=bool(m.get("assumed", False)),
        source="recording",
    )


def _person(m: dict[str, Any]) -> PersonRecord:
    lengths = m.get("bone_lengths_m")
    return PersonRecord(
        person_id=m["person_id"],
        tracking=m["tracking"],
        keypoints_px=np.asarray(m["keypoints_px"], np.float32).reshape(-1, 2),
        confidence=np.asarray(m["confidence"], np.float32),
        bone_lengths_m=None if lengths is None else np.asarray(lengths, np.float32),
    )


class RecordingReader:
    """Stream a recording: ``header`` is read on opening; iterating yields each
    :class:`MetaRecord`, :class:`FrameRecord` and the footer map in file order. A file cut
    short (a crash) ends the iteration after its last whole record; anything that is not a
    posecast recording raises :class:`RecordingError`. Use as a context manager."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._file: BinaryIO = open(self.path, "rb")  # noqa: SIM115 - closed in close()
        except OSError as exc:
            part = self.path.with_name(self.path.name + PART_SUFFIX)
            hint = f"; {part} is one a run did not finish, readable as it is" if part.is_file() else ""
            raise RecordingError(f"cannot read the recording {self.path} ({exc.strerror}){hint}") from exc
        self._unpacker = msgpack.Unpacker(self._file, raw=False, max_buffer_size=256 * 1024 * 1024)
        try:
            header = next(self._unpacker)
        except StopIteration:
            self.close()
            raise RecordingError(f"{self.path} is empty or cut short: expected a posecast recording") from None
        except (ValueError, msgpack.UnpackException) as exc:
            self.close()
            raise RecordingError(f"{self.path} is not a posecast recording ({exc})") from exc
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            self.close()
            raise RecordingError(f"{self.path} is not a posecast recording (no {FORMAT!r} header)")
        if not isinstance(header.get("version"), int) or header["version"] > VERSION:
            self.close()
            raise RecordingError(
                f"{self.path} is recording format version {header.get('version')}, this posecast "
                f"reads up to {VERSION}: update posecast"
            )
        self.header: dict[str, Any] = header

    def __iter__(self) -> Iterator[MetaRecord | FrameRecord | dict[str, Any]]:
        while True:
            try:
                record = next(self._unpacker)
            except StopIteration:
                return
            except (ValueError, msgpack.UnpackException) as exc:
                why = str(exc) or type(exc).__name__
                raise RecordingError(f"{self.path} is corrupt after byte {self._unpacker.tell()} ({why})") from exc
            kind = record.get("type") if isinstance(record, dict) else None
            try:
                if kind == "frame":
                    yield FrameRecord(
                        t_ns=record["t_ns"],
                        frame_id=record["frame_id"],
                        capture_ns=record["capture_ns"],
                        timestamp_ns=record["timestamp_ns"],
                        image_size=tuple(record["image_size"]),
                        poses=list(record["poses"]),
                        people=[_person(p) for p in record.get("people", [])],
                    )
                elif kind == "meta":
                    yield MetaRecord(
                        t_ns=record["t_ns"],
                        payload=record["payload"],
                        intrinsics=_intrinsics(record.get("intrinsics")),
                        source_fps=float(record.get("source_fps", 0.0)),
                    )
                elif kind == "end":
                    yield record
            except (KeyError, TypeError, ValueError, PosecastError) as exc:
                raise RecordingError(
                    f"{self.path}: a {kind} record before byte {self._unpacker.tell()} is malformed ({exc})"
                ) from exc

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> RecordingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_recording(path: str | Path) -> Recording:
    """Read a whole recording (a finished ``NAME`` or a crashed ``NAME.part``)."""
    metas: list[MetaRecord] = []
    frames: list[FrameRecord] = []
    footer = None
    with RecordingReader(path) as reader:
        for record in reader:
            if isinstance(record, FrameRecord):
                frames.append(record)
            elif isinstance(record, MetaRecord):
                metas.append(record)
            else:
                footer = record
        recording = Recording(Path(path), reader.header, metas, frames, footer)
    if not recording.complete:
        log.warning("%s has no footer (the recorder did not finish, e.g. a crash): read %d frames", path, len(frames))
    return recording

"""The ``.posecast`` recording format: every published message and the 2D keypoints, losslessly.

A recording is a stream of msgpack maps, one after the other (read it with any msgpack
library's streaming unpacker):

1. **header**: ``{"format": "posecast-recording", "version": 1, "created_unix_ns": int,
   "posecast_version": str, "posecast_commit": str or nil, "schema_version": int, "source": str}``
   (``posecast_commit``, since 2026-12-07: the commit of a posecast run from a git checkout,
   ``+`` at its end when the checkout had changes; nil from a wheel); ``schema_version`` is the
   wire schema of the pose and meta payloads inside (``docs/protocol.md``); ``source`` what was
   filmed, ``--source`` as given (a stream's password starred; empty before 2026-12-04).
2. **records**, each with a ``"type"``:

   - ``"meta"``: ``t_ns`` (``time.monotonic_ns()`` when recorded), ``payload`` (bytes: the meta
     message exactly as published), ``intrinsics`` (``{"width", "height", "fx", "fy", "cx",
     "cy", "distortion": [...], "assumed"}`` in pixels, float64 since 2026-12-04 (float32
     before), or nil before the first frame) and
     ``source_fps`` (the source's rate as the stream's meta states it, ``docs/protocol.md``: a
     file's container's, which for a variable-rate video is an average, not its frames' spacing;
     a camera's or stream's claim until the rate it delivers is measured, after 2 s, where that
     differs by more than 15 %, in a new meta record; 0.0 when unknown. Not the take's rate: that
     comes from its frames' ``timestamp_ns``, :func:`take_fps`). Written at the start and
     whenever the meta changes.
   - ``"frame"``: one per processed frame: ``t_ns`` (when recorded), ``frame_id`` (increasing
     from record to record, and the frame_id of every pose in it), ``capture_ns``
     (monotonic), ``timestamp_ns`` (the clock of the temporal stages: media time for a file
     read as fast as it decodes, else the capture time; replay paces by it), ``image_size``
     ``[width, height]``, ``poses``: the pose messages of this frame, each the bytes published
     less the avatar fields (``root_height_m``, ``foot_contact``, ``frame_pose``: replay makes
     them again) (one per person; the wire's ``publish_ns`` is when the recorder encoded it),
     and ``people`` (each with a pose among ``poses``): per person ``{"person_id", "tracking",
     "keypoints_px": 17 × [x, y] (float32 pixels as detected, posecast joint order, before
     undistortion), "confidence": 17 floats, "bone_lengths_m": 16 floats or nil}``.
   - ``"end"`` (the footer, last): ``t_ns``, ``frames`` (count), ``dropped_frames`` (frames the
     recorder could not keep up with, normally 0), ``index``: ``[frame_id, timestamp_ns,
     byte offset]`` of about one frame per second, for seeking, and ``crc32`` (since 2026-12-06):
     the CRC-32 (zlib's) of every byte before the footer, so that a changed byte is found.

Unknown record types and unknown keys are skipped by readers; a new field does not change
``version``, a removed or redefined one does. A value that is not a map, or any record after the
footer, is damage (below).

Crash safety: the recorder writes ``NAME.part`` beside the target, flushes it to the operating
system at least every second (``fsync`` too), and on a normal end writes the footer and renames
it to ``NAME`` (a hard link, then the part's removal: never over a take already there). After a
crash ``NAME.part`` is a valid recording without its footer,
missing at most the last second; :func:`read_recording` reads it and says so.

Damage: a file cut short (a crash, a copy stopped half way) reads up to its last whole record, as
above. Anything else wrong is damage, and reading stops there with one :class:`RecordingError`
naming the file, the byte where the bad record starts, what is wrong and the fix (re-record, or
cut the file at that byte with ``head -c``: the frames before it then read as a take cut short):
bytes that are not msgpack, and records whose fields are not what this docstring says, checked
as they are read (:class:`RecordingReader`): types, shapes (17 keypoints, joints and
confidences, 16 bone lengths), finite numbers in sane ranges (:data:`MAX_JOINT_DISTANCE_M`,
:data:`MAX_KEYPOINT_PX`, :data:`MAX_BONE_LENGTH_M`, confidences 0..1), clocks and ``frame_id``
ints ``0 <= v < 2**63`` (``frame_id`` below :data:`MAX_FRAME_ID`), ``person_id`` below
:data:`MAX_PERSON_ID`, and every pose payload a valid pose message (``docs/protocol.md``).
A meta ``payload`` must be the bytes of a msgpack map (its fields are the reader's to check).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shlex
import stat
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import msgpack
import numpy as np

try:
    import fcntl
except ImportError:  # Windows: no flock (a take being recorded is not told from one a run left)
    fcntl = None  # type: ignore[assignment]

from ...calibration import CameraIntrinsics
from ...calibration.intrinsics import shown
from ...engines import skeleton
from ...engines.errors import PosecastError, storable
from ...engines.fileio import file_identity, move_into_new
from ...engines.install import code_version
from ..schema import READABLE_VERSIONS, checked_numbers, decode_pose, unpack_map
from ..stop_signals import stop_signals_deferred
from ..types import TRACKING_STATES

log = logging.getLogger(__name__)

FORMAT = "posecast-recording"
#: The fix a file that is no recording is refused with.
_A_TAKE = ": pass a take written by `posecast run --record TAKE.posecast`"
VERSION = 1
PART_SUFFIX = ".part"

#: The most a recorded joint (or root) may be from the camera, per axis, in metres: further is damage.
MAX_JOINT_DISTANCE_M = 1000.0
#: The most a recorded 2D keypoint may be from the image origin, per axis, in pixels.
MAX_KEYPOINT_PX = 1e6
#: The shortest and the longest recorded bone, in metres (a bone of 0 or of metres is damage:
#: the live stage bounds each person's bones to a human's; QA exported zero bones, exit 0).
MIN_BONE_LENGTH_M, MAX_BONE_LENGTH_M = 0.005, 2.0
#: The most a recorded joint may be from its pose's root (pelvis), in metres: no body spans more.
MAX_BODY_SPAN_M = 3.0
#: ``frame_id`` below this (2**53: exact in every JSON reader), ``person_id`` below :data:`MAX_PERSON_ID`.
MAX_FRAME_ID = 2**53
MAX_PERSON_ID = 2**31
#: Clocks (``t_ns``, ``capture_ns``, ``timestamp_ns``) are int64 nanoseconds, never negative.
MAX_CLOCK_NS = 2**63
#: ``source_fps``: 0 (unknown) or within this range.
SOURCE_FPS_RANGE = (0.01, 10_000.0)


def recorded_rate(source_fps: float) -> float:
    """``source_fps`` as a take keeps it: 0 (unknown: the take's rate comes from its timestamps)
    for a rate outside :data:`SOURCE_FPS_RANGE`, which a reader takes for damage (footage QA: a
    0.005 fps timelapse's and a cover picture's 90,000 fps takes were refused as damaged)."""
    low, high = SOURCE_FPS_RANGE
    return float(source_fps) if low <= source_fps <= high else 0.0


#: A take runs at its source's nominal rate when the median step of its timestamps is within this
#: fraction of the nominal period: a file's media time is (to the nanosecond), a paced file's capture
#: time is (its steps scatter around the period); a stream whose rate OpenCV only guesses (25) is not.
#: (A BVH's frame count comes from the take's span, so its duration is right either way.)
NOMINAL_RATE_TOLERANCE = 0.01


class RecordingError(PosecastError):
    """A recording that cannot be written or read."""


def median_step_ns(timestamps_ns: np.ndarray) -> float:
    """The median of the positive steps between consecutive timestamps ``(F,)`` in nanoseconds
    (0.0 without one): a live source's typical frame interval, whatever its drops and stalls."""
    steps = np.diff(np.asarray(timestamps_ns, np.int64))
    steps = steps[steps > 0]  # a repeated or backwards stamp says nothing about the rate
    return float(np.median(steps)) if len(steps) else 0.0


def take_fps(timestamps_ns: np.ndarray, source_fps: float = 0.0) -> float:
    """The frame rate of a take whose frames were stamped ``timestamps_ns`` ``(F,)``: one over the
    median step, or the source's nominal ``source_fps`` when that step is its period (within
    :data:`NOMINAL_RATE_TOLERANCE`: a file gives exactly its fps) or when there are fewer than two
    frames; 0.0 when neither tells. A camera's or stream's nominal rate is only what the driver
    claims (OpenCV says 25 for an MJPEG stream of any rate), so the stamps win over it."""
    step_ns = median_step_ns(timestamps_ns)
    nominal = source_fps if source_fps > 0 else 0.0
    if step_ns <= 0:
        return nominal
    if nominal and abs(step_ns * nominal / 1e9 - 1.0) <= NOMINAL_RATE_TOLERANCE:
        return nominal
    return 1e9 / step_ns


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


def _pack(record: dict[str, Any], single_float: bool = True) -> bytes:
    return msgpack.packb(record, use_bin_type=True, use_single_float=single_float)


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
        code = code_version()  # (upgrade QA: every build's takes said 0.1.0 alone)
        if not self.path.parent.is_dir():  # as --record refuses it (API QA: the library made the folders)
            raise RecordingError(f"cannot write the recording {self.part_path}: the folder {self.path.parent} does "
                                 "not exist; make it first or pass a path in a folder that does")  # fmt: skip
        try:
            # a new file, never through a link or over a file there (QA: a link put at NAME.part after
            # the command's check had the take written over the file it pointed to)
            try:
                fd = os.open(self.part_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                             0o666)  # fmt: skip
            except FileExistsError as exc:
                if being_recorded(self.part_path):
                    raise RecordingError(f"cannot write the recording: another run is recording to {self.part_path} "
                                         "now: pass another path") from exc  # fmt: skip
                raise RecordingError(f"cannot write the recording: {self.part_path} is there already (a take a run "
                                     "did not finish, or a link): move it away or pass another path") from exc
            if fcntl is not None:  # held while the take is written: another run tells it from one a run left (QA)
                with contextlib.suppress(OSError):  # (a file system without locks: as before)
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._file: BinaryIO = os.fdopen(fd, "wb")
        except OSError as exc:
            raise RecordingError(
                f"cannot write the recording {self.part_path} ({exc.strerror}): pass a path in a writable folder"
            ) from exc
        self._offset = 0
        self._crc32 = 0  # of every byte written (the footer's crc32)
        self._broken = False  # a write failed (close then leaves the .part as it is)
        self._last_flush = time.monotonic()
        try:
            self._append(
                {
                    "format": FORMAT,
                    "version": VERSION,
                    "created_unix_ns": time.time_ns(),
                    "posecast_version": code["version"] or "unknown",
                    "posecast_commit": code["git_commit"],
                    "schema_version": int(schema_version),
                    "source": storable(source),  # (a file name that is not UTF-8 refused the take: QA)
                }
            )
            self._sync()  # (the header reaches the disk here: a full one failed now, and left an empty .part; QA)
        except OSError as exc:
            raise self._nothing_recorded(exc) from exc
        except BaseException:  # a stop (Ctrl-C) in the fsync: nobody holds this writer to discard it
            self._remove_part()  # (QA: the header-only .part blocked the next --record)
            raise

    def write_meta(self, record: MetaRecord) -> None:
        # in float64, unlike the frames: the live pipeline normalised the 2D by these intrinsics, and
        # lifting a take again (its lift input) gives the published 3D only from the same numbers
        # (the INT8 lifter turns a float32 rounding of fx into millimetres in some frames)
        self._append(
            {
                "type": "meta",
                "t_ns": int(record.t_ns),
                "payload": bytes(record.payload),
                "intrinsics": _intrinsics_map(record.intrinsics),
                "source_fps": recorded_rate(record.source_fps),
            },
            single_float=False,
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

    def _append(self, record: dict[str, Any], single_float: bool = True) -> None:
        data = _pack(record, single_float)
        try:
            self._file.write(data)
            self._offset += len(data)
            self._crc32 = zlib.crc32(data, self._crc32)
            if time.monotonic() - self._last_flush >= self.flush_interval_s:
                self._sync()
        except OSError as exc:
            self._broken = True  # a record may be cut short: no footer goes behind it (close)
            if not self.frames:
                raise self._nothing_recorded(exc) from exc
            raise self._failed(exc) from exc

    def _nothing_recorded(self, exc: OSError) -> RecordingError:
        """A write that failed before any frame: the file is removed (a .part would block the next --record)."""
        self._remove_part()
        return RecordingError(f"cannot write the recording {self.part_path} ({exc.strerror or exc}): nothing was "
                              "recorded; free space, or pass --record elsewhere")  # fmt: skip

    def _remove_part(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()  # (its buffered bytes cannot be written either)
        self.part_path.unlink(missing_ok=True)

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
        """Close and remove the unfinished file (a run that recorded nothing), if it is still this
        writer's own (not one another run started at its name after it was moved away)."""
        if not self._file.closed:
            written = os.fstat(self._file.fileno())
            self._file.close()
            if _same_file(self.part_path, written):
                self.part_path.unlink(missing_ok=True)

    def close(self) -> Path:
        """Write the footer and move the finished file into place; returns its path. After a
        write that failed, the file stays the ``.part`` it is, without a footer (returned): the
        record being written may be cut short there, and a footer behind it would make a damaged
        file pass for a finished one (the frames before it stay readable, as the error said)."""
        if self._file.closed:
            return self.path if self.path.exists() else self.part_path
        if self._broken:
            with contextlib.suppress(OSError):
                self._file.close()
            return self.part_path
        # one step, the stop signals held: a Ctrl-C between the footer and the rename left the file
        # open, and the clean-up's second close wrote a second footer (a finished take refused; QA)
        with stop_signals_deferred():
            self._append(
                {
                    "type": "end",
                    "t_ns": time.monotonic_ns(),
                    "frames": self.frames,
                    "dropped_frames": int(self.dropped_frames),
                    "index": self._index,
                    "crc32": self._crc32,
                }
            )
            try:
                self._sync()
            except OSError as exc:
                with contextlib.suppress(OSError):
                    self._file.close()
                raise self._failed(exc) from exc
            written = os.fstat(self._file.fileno())  # the file this wrote, whatever is at its name now
            try:
                _rename_without_replacing(self.part_path, self.path, written)
            finally:  # closed after the move: its lock says "being recorded" until the .part is a take (QA)
                self._file.close()
        log.info("recorded %d frames to %s", self.frames, self.path)
        return self.path


def being_recorded(part: str | Path) -> bool:
    """Whether a run is recording to ``part`` now (it holds the file's lock), rather than a run
    having left it (a crash, a kill); ``False`` where the system has no locks. Asked of another
    process's take: on NFS, where Linux emulates ``flock`` with POSIX locks, asking in the
    recording process itself would drop its own lock (nothing in posecast does)."""
    if fcntl is None:
        return False
    try:
        fd = os.open(part, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
    return False


def say_unfinished(path: str | Path, done: str, frames: int) -> None:
    """Log that the take at ``path`` has no footer, ``done`` (``"read"``, ``"replayed"``) up to
    ``frames``: a run recording it now (QA: such a take was said to be a crash's), or a run that
    did not finish."""
    if being_recorded(path):
        log.info("%s is being recorded now: %s its %d frames so far", path, done, frames)
    else:
        log.warning("%s has no footer (the recorder did not finish, e.g. a crash): %s its %d whole frames", path,
                    done, frames)  # fmt: skip


def _same_file(path: Path, written: os.stat_result) -> bool:
    """Whether ``path`` is still the file ``written`` describes (``os.fstat`` of its descriptor;
    the .part is opened without following a link, so a link there now is another file)."""
    return not path.is_symlink() and file_identity(path) == (written.st_dev, written.st_ino)


def _rename_without_replacing(part: Path, take: Path, written: os.stat_result) -> None:
    """Rename the finished ``part`` to ``take``, never over a take there (a rename replaces: one
    another run finished under the same name, chosen in the same instant, would be lost; review):
    a hard link, then the part's removal; where the file system has none (FAT, exFAT), a rename
    after a check."""
    moved = RecordingError(f"{part} was moved away or deleted while this take was being recorded: the take is "
                           "wherever it was moved, whole up to now")  # fmt: skip
    if not _same_file(part, written):  # (review: another run's new .part there was finished as this take)
        raise moved
    try:
        move_into_new(part, take)
    except FileNotFoundError:  # (QA: moved away on another run's advice, it ended in a raw errno line)
        raise moved from None
    except FileExistsError:
        raise RecordingError(f"{take} appeared while this take was being recorded (another run?): this one is kept, "
                             f"whole, as {part}; rename it to a .posecast name") from None  # fmt: skip


class TakeClock:
    """What a take's metas and its frames' clocks tell, whether its records are held
    (:class:`Recording`) or only its numbers (:class:`~posecast.realtime.recording.arrays.TakeArrays`,
    a take read record by record)."""

    path: Path
    metas: list[MetaRecord]

    @property
    def timestamps_ns(self) -> np.ndarray:
        """``(F,)`` int64: each frame's ``timestamp_ns``, the clock the live pipeline ran on."""
        raise NotImplementedError

    @property
    def recorded_ns(self) -> np.ndarray:
        """``(F,)`` int64: each frame's ``t_ns``, when it was recorded."""
        raise NotImplementedError

    @property
    def image_sizes(self) -> np.ndarray:
        """``(F, 2)`` int64: each frame's ``image_size``, width and height in pixels."""
        raise NotImplementedError

    @property
    def intrinsics(self) -> CameraIntrinsics | None:
        """The last intrinsics recorded (they are fixed once the image size is known)."""
        return next((m.intrinsics for m in reversed(self.metas) if m.intrinsics is not None), None)

    @property
    def source_fps(self) -> float:
        """The source's rate as the last meta recorded it (0.0 if unknown): a file's container's
        (a variable-rate video's average), a camera's or stream's as delivered once measured (as
        its driver claims it before, and in a take of under 2 s). The take's own rate is :attr:`fps`."""
        return next((m.source_fps for m in reversed(self.metas) if m.source_fps > 0), 0.0)

    @property
    def fps(self) -> float:
        """The take's frame rate (:func:`take_fps`): from the frames' timestamps, the source's
        nominal rate when they agree with it (a file: exactly its fps) or with fewer than two
        frames; 0.0 if unknown."""
        return take_fps(self.timestamps_ns, self.source_fps)

    @property
    def recorded_span_ns(self) -> int:
        """From the first frame's ``t_ns`` to the last's (0 without frames): how long it was recorded."""
        recorded_ns = self.recorded_ns
        return int(recorded_ns[-1] - recorded_ns[0]) if len(recorded_ns) else 0

    @property
    def duration_s(self) -> float:
        """How long the take lasted: from its first frame's timestamp to its last, plus one frame
        at :attr:`fps` (so a file's F frames last F / fps); 0.0 without frames or a rate."""
        stamps_ns, fps = self.timestamps_ns, self.fps
        if not len(stamps_ns) or not fps > 0:
            return 0.0
        return int(stamps_ns[-1] - stamps_ns[0]) / 1e9 + 1.0 / fps


@dataclass
class Recording(TakeClock):
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
    def timestamps_ns(self) -> np.ndarray:
        return np.asarray([f.timestamp_ns for f in self.frames], np.int64)

    @property
    def recorded_ns(self) -> np.ndarray:
        return np.asarray([f.t_ns for f in self.frames], np.int64)

    @property
    def image_sizes(self) -> np.ndarray:
        return np.asarray([f.image_size for f in self.frames], np.int64).reshape(-1, 2)


class _MalformedError(ValueError):
    """A record field that is not what the format says (the reader adds the file, byte and fix)."""


def _field(record: dict[str, Any], name: str) -> Any:
    if name not in record:
        raise _MalformedError(f"field {name!r} is missing")
    return record[name]


def _int(record: dict[str, Any], name: str, high: int, low: int = 0) -> int:
    """``record[name]``: an int (not a bool, a float or a string) in ``low..high - 1``."""
    value = _field(record, name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _MalformedError(f"field {name!r} must be an int, got {shown(value)}")
    if not low <= value < high:
        raise _MalformedError(f"field {name!r} is {value}, expected {low}..{high - 1}")
    return value


def _numbers(value: Any, name: str, shape: tuple[int, ...], low: float, high: float,
             unseen_nan: bool = False) -> np.ndarray:  # fmt: skip
    """:func:`~posecast.realtime.schema.checked_numbers`, as a malformed record."""
    try:
        return checked_numbers(value, name, shape, low, high, unseen_nan)
    except PosecastError as exc:  # SchemaError
        raise _MalformedError(str(exc)) from exc


def _intrinsics(m: Any) -> CameraIntrinsics | None:
    if m is None:
        return None
    if not isinstance(m, dict):
        raise _MalformedError(f"field 'intrinsics' must be a map or nil, got {type(m).__name__}")
    distortion = m.get("distortion", ())
    if not isinstance(distortion, list | tuple):
        raise _MalformedError(f"field 'intrinsics.distortion' must be a list, got {type(distortion).__name__}")
    try:
        return CameraIntrinsics(
            width=_field(m, "width"),
            height=_field(m, "height"),
            fx=_field(m, "fx"),
            fy=_field(m, "fy"),
            cx=_field(m, "cx"),
            cy=_field(m, "cy"),
            distortion=tuple(distortion),
            assumed=bool(m.get("assumed", False)),
            source="recording",
        )
    except (PosecastError, TypeError, ValueError) as exc:  # a missing field, or what CameraIntrinsics refuses
        raise _MalformedError(f"intrinsics: {exc}") from exc


def _person(m: Any, index: int) -> PersonRecord:
    if not isinstance(m, dict):
        raise _MalformedError(f"people[{index}] must be a map, got {type(m).__name__}")
    try:
        tracking = _field(m, "tracking")
        if tracking not in TRACKING_STATES:
            raise _MalformedError(f"field 'tracking' must be one of {TRACKING_STATES}, got {shown(tracking)}")
        joints, lengths = skeleton.NUM_JOINTS, m.get("bone_lengths_m")
        px = _numbers(_field(m, "keypoints_px"), "keypoints_px", (joints, 2), -MAX_KEYPOINT_PX, MAX_KEYPOINT_PX,
                      unseen_nan=True)  # fmt: skip
        confidence = _numbers(_field(m, "confidence"), "confidence", (joints,), 0.0, 1.0, unseen_nan=True)
        if lengths is not None:
            lengths = _numbers(lengths, "bone_lengths_m", (len(skeleton.BONES),), MIN_BONE_LENGTH_M,
                               MAX_BONE_LENGTH_M)  # fmt: skip
        return PersonRecord(_int(m, "person_id", MAX_PERSON_ID), tracking, px, confidence, lengths)
    except _MalformedError as exc:
        raise _MalformedError(f"people[{index}]: {exc}") from exc


def _check_pose(payload: Any, index: int, frame_id: int) -> int:
    """A recorded pose payload: a valid pose message of frame ``frame_id`` with joints within
    :data:`MAX_JOINT_DISTANCE_M`; returns its ``person_id``."""
    if not isinstance(payload, bytes):
        raise _MalformedError(f"poses[{index}] must be the bytes of a pose message, got {type(payload).__name__}")
    try:
        message = decode_pose(payload)
    except PosecastError as exc:
        raise _MalformedError(f"poses[{index}] is not a valid pose message ({exc})") from exc
    if message.frame_id != frame_id:  # replay would publish the record's, export use the payload's
        raise _MalformedError(f"poses[{index}] is a pose of frame_id {message.frame_id}, not of this frame")
    for name in ("joints_m", "root_m"):
        farthest = float(np.abs(getattr(message, name)).max())
        if farthest > MAX_JOINT_DISTANCE_M:
            raise _MalformedError(f"poses[{index}] has {name} {farthest:.3g} m from the camera, more than "
                             f"{MAX_JOINT_DISTANCE_M:g} m")  # fmt: skip
    joints = np.asarray(message.joints_m, np.float64)
    span = float(np.linalg.norm(joints - joints[skeleton.ROOT], axis=-1).max())
    if span > MAX_BODY_SPAN_M:  # (a flipped bit moved one joint 3.5 m: exported, exit 0; QA)
        raise _MalformedError(f"poses[{index}] has a joint {span:.3g} m from its pelvis, more than a body spans "
                              f"({MAX_BODY_SPAN_M:g} m)")  # fmt: skip
    return message.person_id


def _list(record: dict[str, Any], name: str) -> list:
    value = _field(record, name)
    if not isinstance(value, list):
        raise _MalformedError(f"field {name!r} must be a list, got {type(value).__name__}")
    return value


#: People a frame record may hold (``--max-people`` takes at most 8; people lost a moment ago are
#: published too): more is damage, not a take.
MAX_PEOPLE_PER_FRAME = 64


def _frame(record: dict[str, Any]) -> FrameRecord:
    size = _field(record, "image_size")
    if not (isinstance(size, list) and len(size) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 1 << 20 for v in size)):  # fmt: skip
        raise _MalformedError(f"field 'image_size' must be [width, height] in pixels, got {shown(size)}")
    frame_id = _int(record, "frame_id", MAX_FRAME_ID)
    poses = _list(record, "poses")
    people = record.get("people", [])
    if not isinstance(people, list):
        raise _MalformedError(f"field 'people' must be a list, got {type(people).__name__}")
    if max(len(poses), len(people)) > MAX_PEOPLE_PER_FRAME:  # (QA: 500,000 of one person read as a frame)
        raise _MalformedError(f"it holds {max(len(poses), len(people))} people, more than the "
                              f"{MAX_PEOPLE_PER_FRAME} a frame can")  # fmt: skip
    posed = [_check_pose(payload, i, frame_id) for i, payload in enumerate(poses)]
    people = [_person(p, i) for i, p in enumerate(people)]
    for what, ids in (("poses", posed), ("people", [person.person_id for person in people])):
        if len(set(ids)) != len(ids):  # one message and one 2D per person and frame
            twice = next(i for i in ids if ids.count(i) > 1)
            raise _MalformedError(f"its {what} name person_id {twice} twice")
    posed_ids = set(posed)
    for person in people:  # the recorder publishes a pose for everyone whose 2D it keeps
        if person.person_id not in posed_ids:
            raise _MalformedError(f"person_id {person.person_id} has 2D keypoints but no pose in this frame")
    return FrameRecord(
        t_ns=_int(record, "t_ns", MAX_CLOCK_NS),
        frame_id=frame_id,
        capture_ns=_int(record, "capture_ns", MAX_CLOCK_NS),
        timestamp_ns=_int(record, "timestamp_ns", MAX_CLOCK_NS),
        image_size=(size[0], size[1]),
        poses=list(poses),
        people=people,
    )


def _meta(record: dict[str, Any]) -> MetaRecord:
    payload = _field(record, "payload")
    if not isinstance(payload, bytes):
        raise _MalformedError(f"field 'payload' must be the bytes of a meta message, got {type(payload).__name__}")
    try:
        unpack_map(payload)
    except PosecastError as exc:  # SchemaError
        raise _MalformedError(f"field 'payload': {exc}") from exc
    fps = record.get("source_fps", 0.0)
    low, high = SOURCE_FPS_RANGE
    if not (isinstance(fps, int | float) and not isinstance(fps, bool) and (fps == 0 or low <= fps <= high)):
        raise _MalformedError(f"field 'source_fps' must be 0 (unknown) or {low:g}..{high:g} frames a second, "
                         f"got {shown(fps)}")  # fmt: skip
    return MetaRecord(
        t_ns=_int(record, "t_ns", MAX_CLOCK_NS),
        payload=payload,
        intrinsics=_intrinsics(record.get("intrinsics")),
        source_fps=float(fps),
    )


def _footer(record: dict[str, Any]) -> dict[str, Any]:
    _int(record, "frames", MAX_FRAME_ID)
    if "dropped_frames" in record:
        _int(record, "dropped_frames", MAX_FRAME_ID)
    index = record.get("index", [])
    if not (isinstance(index, list) and all(isinstance(row, list) and len(row) == 3 for row in index)):
        raise _MalformedError(f"field 'index' must be a list of [frame_id, timestamp_ns, byte offset], "
                              f"got {shown(index)}")  # fmt: skip
    if "crc32" in record:  # (takes before 2026-12-06 have none)
        _int(record, "crc32", 2**32)
    return record


_READERS = {"frame": _frame, "meta": _meta, "end": _footer}


def _describe(path: Path) -> str | None:
    """Why ``path`` cannot be a recording (not a regular file), or ``None``."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None  # open() says why
    if stat.S_ISDIR(mode):
        return "it is a folder"
    if stat.S_ISREG(mode):
        return None
    kind = "a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
    return f"it is {kind}, not a file (a recording is read from a file, more than once)"


class RecordingReader:
    """Stream a recording: ``header`` is read on opening; iterating yields each
    :class:`MetaRecord`, :class:`FrameRecord` and the footer map in file order. A file cut
    short (a crash) ends the iteration after its last whole record; anything that is not a
    posecast recording raises :class:`RecordingError` on opening, and a damaged record (bytes
    that are not msgpack, a field that is not what the format says: the module docstring) raises
    it when reached, naming the file, the byte it starts at, what is wrong and the fix. The
    records before it were yielded. Use as a context manager."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        #: the frames yielded so far
        self.frames_read = 0
        self._last_frame_id: int | None = None
        self._ended = False  # the footer was read: nothing may follow it
        problem = _describe(self.path)
        if problem is not None:
            raise RecordingError(f"cannot read the recording {self.path}: {problem}; pass a .posecast file "
                                 "written by `posecast run --record`")  # fmt: skip
        try:
            # O_NONBLOCK: a FIFO put there since the check above does not block the open (reads block, on a
            # regular file it changes nothing)
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except OSError as exc:
            name = self.path.name
            part = self.path.with_name(name + PART_SUFFIX) if name else None
            unfinished = part is not None and exc.errno == errno.ENOENT and part.is_file()  # (a name too long: not)
            hint = f"; {part} is one a run did not finish, readable as it is" if unfinished else ""
            raise RecordingError(f"cannot read the recording {self.path} ({exc.strerror}){hint}") from exc
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise RecordingError(f"cannot read the recording {self.path}: it is not a regular file; pass a .posecast "
                                 "file written by `posecast run --record`")  # fmt: skip
        os.set_blocking(fd, True)
        #: the file as it was opened (``os.fstat``): a reader of it again can tell it is the same
        self.opened: os.stat_result = os.fstat(fd)
        self._file: BinaryIO = os.fdopen(fd, "rb")
        self._unpacker = msgpack.Unpacker(self._file, raw=False, max_buffer_size=256 * 1024 * 1024)
        try:
            header = next(self._unpacker)
        except StopIteration:
            self.close()
            raise RecordingError(f"{self.path} is empty or cut short: expected a posecast recording") from None
        except (ValueError, msgpack.UnpackException) as exc:
            self.close()
            # (msgpack's own words, "int is not allowed for map key when strict_map_key=True", told a
            # user nothing: QA)
            log.debug("%s: its first bytes are no msgpack header: %s", self.path, exc)
            raise RecordingError(f"{self.path} is not a posecast recording (it does not begin with one's header)"
                                 f"{_A_TAKE}") from exc  # fmt: skip
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            self.close()
            raise RecordingError(f"{self.path} is not a posecast recording (no {FORMAT!r} header){_A_TAKE}")
        version = header.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= VERSION:
            self.close()
            if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
                raise RecordingError(f"{self.path} is recording format version {version}, this posecast "
                                     f"reads up to {VERSION}: update posecast")  # fmt: skip
            raise RecordingError(f"{self.path} is not a posecast recording (its header's version is {shown(version)}, "
                                 f"expected an int 1..{VERSION}){_A_TAKE}")  # fmt: skip
        schema_version = header.get("schema_version")
        if type(schema_version) is int and schema_version > READABLE_VERSIONS[-1]:
            # a newer posecast's take: its messages would be refused one by one as damage
            self.close()
            raise RecordingError(f"{self.path} holds messages of wire schema {schema_version}, this posecast reads "
                                 f"{READABLE_VERSIONS[0]} to {READABLE_VERSIONS[-1]}: update posecast")  # fmt: skip
        self.header: dict[str, Any] = header

    def damaged(self, start: int, what: str) -> RecordingError:
        """The error for damage at byte ``start``: what is wrong and the fix."""
        if self.frames_read:
            stem = self.path.name.removesuffix(PART_SUFFIX).removesuffix(".posecast")
            cut = self.path.with_name(f"{stem}-cut.posecast{PART_SUFFIX}")  # a .part: read as a take cut short
            keep = (f"or keep the {self.frames_read} whole frames before it: `head -c {start} "
                    f"{shlex.quote(str(self.path))} > {shlex.quote(str(cut))}` reads as a take cut short")  # fmt: skip
        else:
            keep = "no whole frame comes before it"
        return RecordingError(f"{self.path} is damaged at byte {start}: {what}; re-record the take, {keep}")

    def __iter__(self) -> Iterator[MetaRecord | FrameRecord | dict[str, Any]]:
        while True:
            start = self._unpacker.tell()
            try:
                record = next(self._unpacker)
            except StopIteration:
                return
            except (ValueError, msgpack.UnpackException) as exc:
                log.debug("%s at byte %d: %s", self.path, start, str(exc) or type(exc).__name__)  # (msgpack's words)
                raise self.damaged(start, "the bytes there are not a record") from exc
            # every record is a map and the footer the last (QA: junk between two frames, or behind the
            # footer, was skipped as unknown records and the take passed for whole)
            if not isinstance(record, dict):
                raise self.damaged(start, f"the value there is a msgpack {type(record).__name__}, not a record (a map)")
            if self._ended:
                raise self.damaged(start, "a record follows the footer, which ends every take")
            kind = record.get("type")
            read = _READERS.get(kind) if isinstance(kind, str) else None
            if read is None:  # an unknown record type: skipped, as the format says
                continue
            try:
                item = read(record)
            except _MalformedError as exc:
                frame_id = record.get("frame_id")
                which = f" (frame_id {frame_id})" if type(frame_id) is int and 0 <= frame_id < MAX_FRAME_ID else ""
                raise self.damaged(start, f"its {kind} record{which} is malformed: {exc}") from exc
            if isinstance(item, FrameRecord):  # frame ids increase (the protocol's promise, kept by replay)
                if self._last_frame_id is not None and item.frame_id <= self._last_frame_id:
                    raise self.damaged(start, f"its frame record has frame_id {item.frame_id}, after frame_id "
                                              f"{self._last_frame_id}: frame ids must increase")  # fmt: skip
                self._last_frame_id = item.frame_id
            self._ended = kind == "end"
            if self._ended and "crc32" in item:
                self._check_crc32(start, item["crc32"])
            yield item
            if kind == "frame":
                self.frames_read += 1

    def _check_crc32(self, footer_start: int, recorded: int) -> None:
        """Every byte before the footer against the CRC-32 the recorder wrote (QA: a flipped byte
        in a joint's number replayed and exported as a wrong pose, unnoticed)."""
        crc32, at = 0, 0
        while at < footer_start:
            chunk = os.pread(self._file.fileno(), min(1 << 20, footer_start - at), at)
            if not chunk:
                break
            crc32, at = zlib.crc32(chunk, crc32), at + len(chunk)
        if crc32 != recorded:
            raise RecordingError(f"{self.path} is damaged: its bytes are not those recorded (their CRC-32 is not the "
                                 "footer's: a changed byte, on the disk or in a copy); copy the take again from "
                                 "where it was recorded, or re-record it")  # fmt: skip

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> RecordingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_whole(path: Path, footer: dict[str, Any] | None, frames_read: int) -> None:
    """Raise :class:`RecordingError` when a take read to its end is not what the recorder wrote:
    a footer counting another number of frames (e.g. a frame record whose ``type`` was damaged,
    skipped as an unknown record), or no footer on a finished name (the recorder renames the file
    only once its footer is written: a byte read as the length of a long string swallowed the
    rest). A ``.part`` (a run that did not finish) is read as far as it goes."""
    if footer is not None and footer["frames"] != frames_read:
        raise RecordingError(f"{path} is damaged: its footer counts {footer['frames']} frames and {frames_read} could "
                             "be read; re-record the take")  # fmt: skip
    if footer is None and not path.name.endswith(PART_SUFFIX):
        part = path.with_name(path.name + PART_SUFFIX)
        raise RecordingError(f"{path} is damaged: it has no footer, which every finished take has, and {frames_read} "
                             f"frames could be read; re-record the take, or, to read those frames as a take a run "
                             f"did not finish, rename it to {part.name}")  # fmt: skip


def read_records(
    reader: RecordingReader, on_frame: Callable[[FrameRecord], object]
) -> tuple[list[MetaRecord], dict[str, Any] | None]:
    """Every record of ``reader``: each frame given to ``on_frame`` as it is read (kept whole, or
    as numbers: :func:`~posecast.realtime.recording.arrays.read_take`), the metas and the footer
    (``None``: the take did not finish) returned."""
    metas: list[MetaRecord] = []
    footer = None
    for record in reader:
        if isinstance(record, FrameRecord):
            on_frame(record)
        elif isinstance(record, MetaRecord):
            metas.append(record)
        else:
            footer = record
    return metas, footer


def read_recording(path: str | Path) -> Recording:
    """Read a whole recording (a finished ``NAME`` or a crashed ``NAME.part``)."""
    frames: list[FrameRecord] = []
    with RecordingReader(path) as reader:
        metas, footer = read_records(reader, frames.append)
        recording = Recording(Path(path), reader.header, metas, frames, footer)
    path = Path(path)
    check_whole(path, footer, len(frames))
    if not recording.complete:
        say_unfinished(path, "read", len(frames))
    return recording

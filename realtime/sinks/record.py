"""The recording output (``posecast run --record take.posecast``): every frame's pose messages,
as the ZeroMQ output encodes them, and every person's 2D keypoints, in a ``.posecast`` file
(:mod:`posecast.realtime.recording.format`).

It runs on a thread of its own (the pipeline's drop-oldest queue, :data:`RecordSink.queue_frames`
deep: ten seconds at 30 fps before a stalled disk costs a live frame; any loss is counted in the
file's footer; a file read as fast as it decodes waits for the disk instead). The pose
messages are encoded here, stamped with the time the pipeline handed the frame over (the ZeroMQ
output stamps its own then, usually a fraction of a millisecond apart), not the later time this thread
writes it; every other byte is what the ZeroMQ output sends.
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from ...engines.cli_args import output_file_or_folder
from .. import dated_names
from ..errors import OptionsError
from ..option_types import check_field_types
from ..recording.format import (
    PART_SUFFIX,
    FrameRecord,
    MetaRecord,
    PersonRecord,
    RecordingError,
    RecordingWriter,
    being_recorded,
)
from ..schema import SCHEMA_VERSION, encode_meta, encode_pose, meta_message
from ..sources.stream import without_password
from ..stages import Sink
from ..types import PersonPose, PoseFrame, StreamMeta

log = logging.getLogger(__name__)


@dataclass
class RecordOptions:
    """``path``: the recording to write (``PATH.part`` until it is finished);
    ``flush_interval_s``: the most a crash can lose; ``source``: what was filmed, for the header
    (``--source`` as given: a camera index, a file, a stream URL)."""

    path: str | Path
    flush_interval_s: float = 1.0
    source: str = ""
    #: ``--record FOLDER``: ``path`` is a dated take in it (:func:`dated_take`), named again if
    #: another run takes that name first (QA: two services started in the same second, one failed)
    folder: str | Path | None = None

    def __post_init__(self) -> None:
        check_field_types(self)  # (API QA: RecordOptions(12) failed only at open, after the models loaded)
        if not self.flush_interval_s > 0:
            raise OptionsError(f"flush_interval_s must be positive, got {self.flush_interval_s}")
        if Path(self.path).suffix.lower() != ".posecast":  # (API QA: take.txt was written where --record refuses it)
            raise OptionsError(f"--record (RecordOptions.path) must name a .posecast file (e.g. take.posecast), "
                               f"got {self.path}")  # fmt: skip


def dated_take(folder: Path, now: float | None = None) -> Path:
    """A take's path in ``folder`` named by the time ``now`` (Unix seconds; default: now) in UTC,
    ``take-YYYYmmdd-HHMMSSZ.posecast`` (:mod:`~posecast.realtime.dated_names`: in order and
    unique across a daylight-saving change), with ``_002``, ``_003``… when a take or its ``.part`` is
    there (:func:`~posecast.realtime.dated_names.names_in_second`: sorted after it)."""
    for stem in dated_names.names_in_second("take", now):
        path = folder / f"{stem}.posecast"
        if not path.exists() and not path.with_name(path.name + PART_SUFFIX).exists():
            return path
    raise OptionsError(f"--record {folder}: {stem}.posecast, the last take of that second, is there already; pass "
                       "another folder")  # fmt: skip


class RecordSink(Sink):
    """Writes a ``.posecast`` recording of the run (module docstring)."""

    name = "record"
    queue_frames = 300
    keeps_file_frames = True

    def __init__(self, options: RecordOptions) -> None:
        self.options = options
        self._writer: RecordingWriter | None = None
        self._last_person_id = 0
        self._lock = threading.Lock()  # write (the sink's thread) against a late close

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--record", type=output_file_or_folder, metavar="TAKE.posecast|FOLDER",
                            help="record every published pose and the 2D keypoints to this file, or to a new "
                                 "take-YYYYmmdd-HHMMSSZ.posecast (UTC) in this folder each run (a service a supervisor "
                                 "restarts); replay with `posecast replay`, export with `posecast export`")  # fmt: skip

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> RecordSink | None:
        """``--record``: never over an earlier take, finished or not (a take cannot be filmed again)."""
        path = getattr(args, "record", None)
        if path is None:
            return None
        path, folder = Path(path), None
        if path.is_dir():  # a new take each run, named by its start (ops QA: a fixed name refused every restart)
            now = dated_names.clock()
            path, folder = dated_take(path, now), path
            log.info("recording to %s (named in UTC; %s here)", path, dated_names.local_time_text(now))
        if path.suffix.lower() != ".posecast":  # .part is what
            # an unfinished take is called, and another name hides what the file is
            raise OptionsError(f"--record must name a .posecast file (e.g. take.posecast), got {path}")
        if path.is_file():
            raise OptionsError(f"--record {path} already exists: a take is never replaced; pass another path "
                               "(or delete it first)")  # fmt: skip
        part = path.with_name(path.name + PART_SUFFIX)
        if part.is_symlink():  # (even one to nowhere: the take would be written where it points; QA)
            raise OptionsError(f"--record: {part} is a link: move it away or pass another path")
        if part.exists():
            if being_recorded(part):  # (QA: moved away on the advice below, the live run then failed)
                raise OptionsError(f"--record: another run is recording to {part} now: pass another path")
            raise OptionsError(f"--record: {part} is a take a run did not finish (replay and export read it): move "
                               "it away or pass another path")  # fmt: skip
        return cls(RecordOptions(path, source=without_password(str(getattr(args, "source", None) or "")),
                                 folder=folder))  # fmt: skip

    def output_files(self) -> dict[str, Path]:
        return {"--record": Path(self.options.path)}

    def open(self, meta: StreamMeta) -> None:
        if Path(self.options.path).is_file() and self.options.folder is None:  # as --record refuses it (API QA: a
            # finished take was replaced); in a folder, _new_writer names it again
            raise OptionsError(f"recording {self.options.path} already exists: a take is never replaced; pass another "
                               "path (or delete it first)")  # fmt: skip
        self._writer = self._new_writer()
        self.update_meta(meta)

    def _new_writer(self) -> RecordingWriter:
        """The take's writer; in a ``folder``, under the next free dated name when another run
        made this one's take or its ``.part`` since it was chosen (QA: one started with the same
        name finished first, and this run failed on its take)."""
        for _ in range(100):
            try:
                if self.options.folder is None or not Path(self.options.path).exists():
                    return RecordingWriter(self.options.path, source=self.options.source,
                                           schema_version=SCHEMA_VERSION,
                                           flush_interval_s=self.options.flush_interval_s)  # fmt: skip
            except RecordingError as exc:
                if self.options.folder is None or not isinstance(exc.__cause__, FileExistsError):
                    raise
            self.options = replace(self.options, path=dated_take(Path(self.options.folder)))
            log.info("recording to %s (another run took the first name)", self.options.path)
        raise RecordingError(f"cannot write a take in {self.options.folder}: other runs took 100 names in a row; pass "
                             "another folder")  # fmt: skip

    def update_meta(self, meta: StreamMeta) -> None:
        with self._lock:
            if self._writer is not None:
                payload = encode_meta(meta_message(meta))
                self._writer.write_meta(MetaRecord(time.monotonic_ns(), payload, meta.intrinsics, meta.source_fps))

    def write(self, frame: PoseFrame) -> None:
        people = frame.people or [PersonPose.lost(self._last_person_id)]  # as the ZeroMQ output sends
        self._last_person_id = people[-1].person_id
        # stamped when the pipeline handed the frame over (BackgroundSink), as the ZeroMQ output
        # publishes it then, not when this thread got to it: a replay keeps this latency
        now_ns = time.monotonic_ns()
        handed_ns = frame.delivered_ns or now_ns
        poses = [encode_pose(frame, person, handed_ns, time.time_ns() - (now_ns - handed_ns)) for person in people]
        records = [PersonRecord(p.person_id, p.tracking, p.keypoints_px, p.confidence, p.bone_lengths_m)
                   for p in frame.people]  # fmt: skip
        record = FrameRecord(now_ns, frame.frame_id, frame.capture_ns, frame.timestamp_ns, frame.image_size, poses,
                             records)  # fmt: skip
        with self._lock:
            if self._writer is not None:
                self._writer.write_frame(record)

    def discard(self) -> None:
        with self._lock:
            if self._writer is not None:
                self._writer.discard()
                self._writer = None

    def close(self) -> None:
        with self._lock:
            if self._writer is not None:
                self._writer.dropped_frames = self.dropped_frames
                self._writer.close()
                self._writer = None


"""Recordings (``.posecast`` files): the format (:mod:`.format`) and numpy views of a take
(:mod:`.arrays`). The recording sink is ``realtime/sinks/record.py``; ``posecast replay`` and
``posecast export`` read them."""

from .format import (
    FrameRecord,
    MetaRecord,
    PersonRecord,
    Recording,
    RecordingError,
    RecordingReader,
    RecordingWriter,
    read_recording,
)

__all__ = [
    "FrameRecord",
    "MetaRecord",
    "PersonRecord",
    "Recording",
    "RecordingError",
    "RecordingReader",
    "RecordingWriter",
    "read_recording",
]

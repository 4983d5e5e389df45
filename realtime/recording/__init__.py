"""Recordings (``.posecast`` files): the format (:mod:`.format`), numpy views of a take
(:mod:`.arrays`) and a take read in passes, a chunk of frames at a time (:mod:`.passes`, for
``posecast export --bvh``: :mod:`.export`, :mod:`.bvh_frames`). The recording sink is
``realtime/sinks/record.py``; ``posecast replay`` and ``posecast export`` read them."""

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

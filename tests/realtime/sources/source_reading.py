"""Reading a source to its end, for the source tests (imported as ``source_reading``)."""

from __future__ import annotations

from posecast.realtime.stages import FrameSource


def read_all(source: FrameSource) -> list:
    """Every frame of ``source``, opened and closed here."""
    with source:
        frames = []
        while (frame := source.read()) is not None:
            frames.append(frame)
    return frames

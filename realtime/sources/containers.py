"""What a video file's container says that OpenCV does not read, asked of PyAV (the ``video``
extra, which FFmpeg's own library is behind). Each question is answered "cannot tell" (its
``default``) when PyAV is not installed or cannot open or read the file: the caller then does as
it did without it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

#: Container formats that store no frame count: OpenCV counts their frames as duration × rate, which
#: is the whole file's duration (a longer sound track, a second video stream, a start offset count too)
_COUNTED_BY_DURATION = ("matroska", "webm", "mpegts")
#: How far before the end the header gives a file's last packet may end and the file still be whole
_END_SLACK_S = 0.5
#: How much of a file's end is read to find its last packet (seconds of media time)
_TAIL_S = 10.0

T = TypeVar("T")


def _ask(path: Path, question: Callable[[Any, Any], T], default: T) -> T:
    """``question(av, container)`` of the file opened by PyAV, or ``default`` when it cannot tell."""
    try:
        import av
    except ImportError:
        return default
    try:
        with av.open(str(path)) as container:
            return question(av, container)
    except Exception:  # noqa: BLE001 - PyAV's errors are many types: it cannot tell
        return default


def raw_stream_rate(path: Path) -> float | None:
    """The frame rate a raw H.264 or HEVC stream's own header gives (its SPS timing), which
    OpenCV does not read (it reports FFmpeg's 25: a 30 fps Raspberry Pi stream ran 20 % slow;
    QA); ``None`` for any other file, or where there is none."""

    def rate(av: Any, container: Any) -> float | None:
        if container.format.name not in ("h264", "hevc"):
            return None
        framerate = container.streams.video[0].codec_context.framerate
        return float(framerate) if framerate and 0.1 <= float(framerate) <= 1000.0 else None

    return _ask(path, rate, None)


def video_streams(path: Path) -> tuple[int, int] | None:
    """The file's video streams as ``(moving, covers)``: a cover is an attached picture (an album's
    cover in a .mp3, .m4a or .flac), which OpenCV reads as a one-frame video at 90,000 frames a
    second (footage QA: a song was posed, and its take could not be exported); OpenCV reads the
    first stream of several, which nothing said (footage QA). ``(0, 0)``: a file of sound alone."""

    def counted(av: Any, container: Any) -> tuple[int, int]:
        covers = sum(_is_cover(av, s) for s in container.streams.video)
        return len(container.streams.video) - covers, covers

    return _ask(path, counted, None)


def holds_no_stream(path: Path) -> bool:
    """Whether the file is a container with no stream in it at all: what a writer closed before
    its first frame leaves (an MP4 of 257 bytes, which OpenCV will not open; QA)."""
    return _ask(path, lambda av, c: not c.streams, False)


def has_no_video_stream(path: Path) -> bool:
    """Whether the file has streams but no moving video among them (a sound file, its cover
    picture not counted)."""
    return _ask(path, lambda av, c: bool(c.streams) and all(_is_cover(av, s) for s in c.streams.video), False)


def _is_cover(av: Any, stream: Any) -> bool:
    return bool(int(stream.disposition) & int(av.stream.Disposition.attached_pic))


def whole_though_counted_short(path: Path) -> bool:
    """Whether a file whose video ended before the frame count OpenCV gives is whole all the same:
    its container stores no count (:data:`_COUNTED_BY_DURATION`, where OpenCV's count is the whole
    file's duration × rate) and its data goes on to the end its header gives (a sound track
    longer than the video, a start offset: footage QA, each called "cut short or damaged").
    ``False`` for a file whose count is stored (an MP4's or AVI's: then it was cut short), one of
    several video streams (another stream's length says nothing of the one read: review, a
    one-frame thumbnail read first passed for whole) or one PyAV cannot read."""

    def whole(av: Any, container: Any) -> bool:
        moving = sum(not _is_cover(av, s) for s in container.streams.video)
        if moving != 1 or not set(container.format.name.split(",")) & set(_COUNTED_BY_DURATION):
            return False
        if not container.duration:
            return False
        end_s = container.duration / av.time_base
        container.seek(max(0, int((end_s - _TAIL_S) * av.time_base)), backward=True)
        last_s = max((float((p.pts + (p.duration or 0)) * p.time_base) for p in container.demux()
                      if p.pts is not None and p.time_base is not None), default=0.0)  # fmt: skip
        return last_s >= end_s - _END_SLACK_S

    return _ask(path, whole, False)

"""What a video file's container says that OpenCV does not read, asked of PyAV (the ``video``
extra, which FFmpeg's own library is behind). Each question is answered "cannot tell"
(``None``/``False``) when PyAV is not installed or cannot open the file: the caller then does as
it did without it."""

from __future__ import annotations

from pathlib import Path

#: Container formats that store no frame count: OpenCV counts their frames as duration × rate, which
#: is the whole file's duration (a longer sound track, a second video stream, a start offset count too)
_COUNTED_BY_DURATION = ("matroska", "webm", "mpegts")
#: How far before the end the header gives a file's last packet may end and the file still be whole
_END_SLACK_S = 0.5
#: How much of a file's end is read to find its last packet (seconds of media time)
_TAIL_S = 10.0


def raw_stream_rate(path: Path) -> float | None:
    """The frame rate a raw H.264 or HEVC stream's own header gives (its SPS timing), which
    OpenCV does not read (it reports FFmpeg's 25: a 30 fps Raspberry Pi stream ran 20 % slow;
    QA); ``None`` for any other file, or where there is none."""
    try:
        import av
    except ImportError:
        return None
    try:
        with av.open(str(path)) as container:
            if container.format.name not in ("h264", "hevc"):
                return None
            rate = container.streams.video[0].codec_context.framerate
    except Exception:  # noqa: BLE001 - PyAV's errors are many types: no rate, as without it
        return None
    return float(rate) if rate and 0.1 <= float(rate) <= 1000.0 else None


def has_no_video_stream(path: Path) -> bool:
    """Whether the file has streams but no video among them (a sound file), a cover picture not
    counted as video (:func:`video_streams`)."""
    try:
        import av
    except ImportError:
        return False
    try:
        with av.open(str(path)) as container:
            return bool(container.streams) and all(_is_cover(s) for s in container.streams.video)
    except Exception:  # noqa: BLE001 - PyAV's errors are many types: it cannot tell
        return False


def video_streams(path: Path) -> tuple[int, int] | None:
    """The file's video streams as ``(moving, covers)``: a cover is an attached picture (an album's
    cover in a .mp3, .m4a or .flac), which OpenCV reads as a one-frame video at 90,000 frames a
    second (footage QA: a song was posed, and its take could not be exported); OpenCV reads the
    first stream of several, which nothing said (footage QA)."""
    try:
        import av
    except ImportError:
        return None
    try:
        with av.open(str(path)) as container:
            covers = sum(_is_cover(s) for s in container.streams.video)
            return len(container.streams.video) - covers, covers
    except Exception:  # noqa: BLE001 - PyAV's errors are many types: it cannot tell
        return None


def _is_cover(stream: object) -> bool:
    import av

    return bool(int(stream.disposition) & int(av.stream.Disposition.attached_pic))  # type: ignore[attr-defined]


def whole_though_counted_short(path: Path) -> bool:
    """Whether a file whose video ended before the frame count OpenCV gives is whole all the same:
    its container stores no count (:data:`_COUNTED_BY_DURATION`, where OpenCV's count is the whole
    file's duration × rate) and its data goes on to the end its header gives (a sound track or a
    second video stream longer than the video read, a start offset: footage QA, each called "cut
    short or damaged"). ``False`` for a file whose count is stored (an MP4's or AVI's: then it was
    cut short) or that PyAV cannot read."""
    try:
        import av
    except ImportError:
        return False
    try:
        with av.open(str(path)) as container:
            if not set(container.format.name.split(",")) & set(_COUNTED_BY_DURATION) or not container.duration:
                return False
            end_s = container.duration / av.time_base
            container.seek(max(0, int((end_s - _TAIL_S) * av.time_base)), backward=True)
            last_s = max((float((p.pts + (p.duration or 0)) * p.time_base) for p in container.demux()
                          if p.pts is not None and p.time_base is not None), default=0.0)  # fmt: skip
    except Exception:  # noqa: BLE001 - PyAV's errors are many types: it cannot tell
        return False
    return last_s >= end_s - _END_SLACK_S

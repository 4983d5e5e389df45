"""Frame sources (:class:`~posecast.realtime.stages.FrameSource`): a camera, a network stream, a video
file, an image folder.

Every source is used the same way::

    with open_source("0") as source:          # or a stream URL, a video path, an image folder
        while (frame := source.read()) is not None:
            ...

To add one (e.g. a screen capture): write ``sources/NAME.py`` with a :class:`FrameSource`
subclass whose ``from_spec`` recognises its ``--source`` text, and add one line to
:data:`SOURCES` (tried in order; the first that accepts the spec wins).
"""

from __future__ import annotations

import os

from ..errors import SourceError
from ..stages import FrameSource
from .camera import CameraSource
from .images import ImageFolderSource
from .stream import StreamSource, without_password
from .video import VideoFileSource

#: name → source class, in the order ``open_source`` asks them.
SOURCES: dict[str, type[FrameSource]] = {
    "camera": CameraSource,
    "stream": StreamSource,
    "images": ImageFolderSource,
    "video": VideoFileSource,
}

__all__ = ["SOURCES", "CameraSource", "FrameSource", "ImageFolderSource", "StreamSource", "VideoFileSource",
           "open_source"]  # fmt: skip


def open_source(spec: str | int | os.PathLike[str], realtime: bool = False) -> FrameSource:
    """The source for ``spec`` (unopened; use ``with``): an int or digit string (or
    ``/dev/videoN``) is a camera, an ``rtsp://``/``http(s)://``... URL a network stream (live,
    like a camera), a folder an image folder, an existing file a video. ``realtime`` paces files at
    their native fps (a camera is live anyway). Raises :class:`SourceError` for anything else."""
    text = os.fspath(spec).strip() if isinstance(spec, os.PathLike) else str(spec).strip()
    if not text:  # "" would be the current folder (Path("") is "."), read as images
        raise SourceError(
            "--source is empty (open_source's spec): pass a camera index (e.g. 0), a stream URL, a video file or an "
            "image folder"
        )
    for cls in SOURCES.values():
        source = cls.from_spec(text, realtime=realtime)
        if source is not None:
            return source
    raise SourceError(
        f"source '{without_password(text)}' is neither a camera index (e.g. 0 or /dev/video0), a stream URL "
        "(rtsp://, http://, https://...), an existing video file nor a folder of images"
    )

"""Facts about images and displays shared by the live pipeline and calibration (defined once)."""

from __future__ import annotations

import base64
import os
import re
import socket
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np

from . import max_image_pixels
from .errors import PosecastError

#: A tiny image of each format whose decoder depends on the OpenCV build (GIF from OpenCV 4.11,
#: AVIF with libavif): a blank 1x1 GIF and a grey 2x2 AVIF, decoded once to ask the build
_PROBES = {
    ".gif": "R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==",
    ".avif": (
        "AAAAIGZ0eXBhdmlmAAAAAGF2aWZtaWYxbWlhZk1BMUIAAADrbWV0YQAAAAAAAAAhaGRscgAAAAAAAAAAcGljdAAAAAAAAAAAAAAA"
        "AAAAAAAOcGl0bQAAAAAAAQAAAB5pbG9jAAAAAEQAAAEAAQAAAAEAAAETAAAAGgAAAChpaW5mAAAAAAABAAAAGmluZmUCAAAAAAEA"
        "AGF2MDFDb2xvcgAAAABqaXBycAAAAEtpcGNvAAAAFGlzcGUAAAAAAAAAAgAAAAIAAAAQcGl4aQAAAAADCAgIAAAADGF2MUOBAAwA"
        "AAAAE2NvbHJuY2x4AAEADQAGgAAAABdpcG1hAAAAAAAAAAEAAQQBAoMEAAAAIm1kYXQSAAoIGAA2iAhoNCAyDBEBqkAAeQAAkDWX"
        "8A=="
    ),
}


def _opencv_reads(suffix: str) -> bool:
    """Whether this OpenCV build decodes ``suffix``'s format (decoding, not encoding, is asked:
    a build may read AVIF without writing it; review)."""
    try:
        return cv2.imdecode(np.frombuffer(base64.b64decode(_PROBES[suffix]), np.uint8), cv2.IMREAD_COLOR) is not None
    except cv2.error:
        return False


#: Photo formats a user may hand in that OpenCV may not read: an iPhone's HEIC never, GIF and AVIF
#: where the build has them.
_BUILD_DEPENDENT_SUFFIXES = tuple(_PROBES)
#: File name endings read as images (image-folder sources, calibration photos): JPEG's other
#: endings too (.jfif: WhatsApp's and Windows' saved photos; QA: left out without a word).
IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".jfif", ".jpe", ".bmp", ".tif", ".tiff", ".webp") + tuple(
    suffix for suffix in _BUILD_DEPENDENT_SUFFIXES if _opencv_reads(suffix)
)
#: Photo formats OpenCV does not read here: said, not read.
OTHER_PHOTO_SUFFIXES: tuple[str, ...] = (".heic", ".heif") + tuple(
    suffix for suffix in _BUILD_DEPENDENT_SUFFIXES if suffix not in IMAGE_SUFFIXES
)
#: Video files OpenCV and PyAV read: what a folder given to adapt is searched for besides images and
#: 2D files, and what an image folder holding none is looked at for (said, as the likelier intent)
VIDEO_SUFFIXES: tuple[str, ...] = (
    ".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mpg", ".mpeg", ".wmv", ".ts", ".mts", ".m2ts", ".3gp", ".flv",
    ".mxf", ".ogv", ".h264", ".h265", ".hevc",
)  # fmt: skip


def natural_key(path: Path) -> tuple[tuple[str | int, ...], str]:
    """Sort key for file names with numbers compared as numbers: ``frame2`` before ``frame10``
    (ffmpeg's ``frame%d.jpg`` and many cameras number without zero padding; QA: a sequence was
    read frame1, frame10, frame100, ..., frame2, exit 0)."""
    parts = re.split(r"([0-9]+)", path.name)  # text, digits, text, ...: the types alternate alike in every key
    return tuple(int(part) if i % 2 else part for i, part in enumerate(parts)), path.name


def image_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """The images in ``folder`` OpenCV reads (in name order, numbers by value:
    :func:`natural_key`; macOS's ``._`` resource forks are not images) and the photos in formats
    it does not (:data:`OTHER_PHOTO_SUFFIXES`: to be said, not left out silently)."""
    files: list[Path] = []
    others: list[Path] = []
    for p in sorted(folder.iterdir(), key=natural_key):
        suffix = p.suffix.lower()
        if suffix in IMAGE_SUFFIXES and not p.name.startswith("._") and (p.is_file() or _link_to_nothing(p)):
            files.append(p)  # (a link to nothing too: skipped and counted in its place, not left out unsaid; QA)
        elif suffix in OTHER_PHOTO_SUFFIXES and p.is_file():
            others.append(p)
    return files, others


def _link_to_nothing(path: Path) -> bool:
    """A link whose target is gone, but not an editor's lock (Emacs's ``.#NAME`` links to nothing)."""
    return path.is_symlink() and not path.exists() and not path.name.startswith(".#")


def unread_photos_notice(folder: Path, others: list[Path]) -> str:
    """What to say of the photos :func:`image_files` found in formats OpenCV does not read."""
    return (f"{len(others)} file(s) in formats OpenCV does not read are left out of {folder} (e.g. "
            f"{others[0].name}): convert them to .jpg or .png")


class ImageTooLargeError(PosecastError):
    """An image with more pixels than OpenCV's limit (:func:`~posecast.engines.max_image_pixels`; not decoded)."""


def display_available() -> bool:
    """Whether a window can be opened (:func:`display_problem` finds none in the way)."""
    return display_problem() is None


#: How long an X display has to take a connection (seconds)
X_DISPLAY_TIMEOUT_S = 0.5


def display_problem() -> str | None:
    """:func:`find_display_problem`, asked once per ``DISPLAY`` and ``WAYLAND_DISPLAY`` (a run
    asks several times: a probe that answered differently the second time ended the run)."""
    key = (os.environ.get("DISPLAY"), os.environ.get("WAYLAND_DISPLAY"))
    if key not in _DISPLAY_PROBLEMS:
        _DISPLAY_PROBLEMS[key] = find_display_problem()
    return _DISPLAY_PROBLEMS[key]


_DISPLAY_PROBLEMS: dict[tuple[str | None, str | None], str | None] = {}


def find_display_problem() -> str | None:
    """Why no window can be opened, or ``None``. On Linux OpenCV's windows are Qt's, and the
    wheel's Qt draws on X alone: ``DISPLAY`` must name an X server that answers (QA: a
    ``DISPLAY`` left set by a closed SSH session aborted the run inside Qt, exit 134, its recording
    left as a ``.part``); ``WAYLAND_DISPLAY`` alone serves only an OpenCV built with GTK."""
    if sys.platform == "darwin":  # Cocoa windows open on the logged-in user's screen, not over SSH (review)
        ssh = os.environ.get("SSH_CONNECTION") or os.environ.get("SSH_TTY")
        return "this is an SSH session (its windows would open on the Mac's own screen)" if ssh else None
    if not sys.platform.startswith("linux"):
        return None
    display = os.environ.get("DISPLAY")
    if display:
        return None if x_display_answers(display) else f"DISPLAY={display} does not answer (a closed SSH session?)"
    if not os.environ.get("WAYLAND_DISPLAY"):
        return "DISPLAY and WAYLAND_DISPLAY are unset"
    if "QT:" in cv2.getBuildInformation().split("GUI:", 1)[-1].split("\n\n", 1)[0].replace(" ", ""):
        return "only WAYLAND_DISPLAY is set, and OpenCV's Qt draws on X: set DISPLAY (XWayland)"
    return None


def no_display_words() -> str:
    """"no display found", with the reason when a display was named but cannot be used."""
    problem = display_problem()
    named = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    return f"no display found ({problem})" if problem and named else "no display found"


#: An X11 connection setup request: little-endian, protocol 11.0, no authorisation. Any server
#: answers it with a byte (0: refused, e.g. for want of a cookie; 1: accepted; 2: authenticate)
_X_SETUP_REQUEST = b"l\0\x0b\0\0\0\0\0\0\0\0\0"


def x_display_answers(display: str, timeout_s: float = X_DISPLAY_TIMEOUT_S) -> bool:
    """Whether an X server answers at ``display`` (``[host]:N[.screen]``): the local socket
    (abstract or in /tmp/.X11-unix) for no host, else TCP port 6000 + N, sent a setup request. A
    port that takes the connection and closes it is no server (review: SSH forwarding X from a
    client without one accepts on 6010, and Qt aborted all the same)."""
    host, colon, rest = display.rpartition(":")
    number = rest.split(".", 1)[0]
    if not colon or not number.isdigit():
        return False
    if host in ("", "unix") or host.endswith("/unix"):
        for path in (f"\0/tmp/.X11-unix/X{number}", f"/tmp/.X11-unix/X{number}"):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
                connection.settimeout(timeout_s)
                try:
                    connection.connect(path)
                except OSError:
                    continue
                return _answers(connection)
        return False
    try:
        with socket.create_connection((host.strip("[]"), 6000 + int(number)), timeout=timeout_s) as connection:
            return _answers(connection)
    except (OSError, UnicodeError):
        return False


def _answers(connection: socket.socket) -> bool:
    """Whether the X server at the end of ``connection`` answers a setup request."""
    try:
        connection.sendall(_X_SETUP_REQUEST)
        return len(connection.recv(1)) == 1
    except OSError:
        return False


def opencv_path_problem(path: str | Path) -> str | None:
    """Why OpenCV cannot be given ``path`` by name, or ``None``. A name with bytes that are not
    UTF-8 (Python holds them as surrogates) crashed OpenCV's VideoCapture and VideoWriter with a
    segmentation fault, no message; images are read through Python instead (:func:`read_image`)."""
    name = os.fsencode(path)
    try:
        if str(path).encode("utf-8") == name:  # OpenCV opens the UTF-8 bytes of the name it is given
            return None
    except UnicodeEncodeError:
        pass
    try:
        readable = name.decode("utf-8")
    except UnicodeDecodeError:
        return (f"{name!r}: its name is not valid UTF-8, which OpenCV needs for videos: rename the file (or its "
                "folder) to a UTF-8 name")  # fmt: skip
    # the name is UTF-8, but the locale reads names otherwise: a C/POSIX one without Python's UTF-8
    # mode as ASCII, a Latin-1 one as other characters, whose UTF-8 is another name (QA: a good
    # video under LC_ALL=de_DE.ISO-8859-1 was "damage throughout")
    return (f"{readable}: Python reads file names as {sys.getfilesystemencoding()} under this locale and OpenCV "
            "cannot be given this one: run with PYTHONUTF8=1 or a UTF-8 locale (e.g. LC_ALL=C.UTF-8)")  # fmt: skip


def read_image(path: str | Path, flags: int = cv2.IMREAD_COLOR) -> np.ndarray | None:
    """The image at ``path`` as OpenCV decodes it (``None``: not a readable image, a JPEG or PNG cut short
    included); raises :class:`ImageTooLargeError` past OpenCV's limit. Read through
    Python, so a name that is not UTF-8 works as any other (``cv2.imread`` crashed on one)."""
    try:
        data = np.fromfile(os.fsencode(path), np.uint8)
    except OSError:
        return None
    raw = data.tobytes()
    if not raw or jpeg_cut_short(raw) or png_damaged(raw):
        # libjpeg would print its own line and hand back the image grey below the cut; libpng
        # prints "libpng error: ..." on fd 2, past posecast's log (QA)
        return None
    try:
        return cv2.imdecode(data, flags)
    except cv2.error as exc:
        if "MAX_IMAGE_PIXELS" not in str(exc):
            return None
        raise ImageTooLargeError(f"it has more than {max_image_pixels() / 1e6:.0f} megapixels (not decoded: a "
                                 "decompression bomb, or a panorama: scale it down)") from None  # fmt: skip


def jpeg_cut_short(data: bytes) -> bool:
    """Whether ``data``, a JPEG (it starts with SOI), ends before its end-of-image marker: a copy
    cut short. Walks the segments by their lengths (an EXIF thumbnail's own markers sit inside its
    APP1 segment) and each scan's entropy-coded data to the next marker; bytes after the EOI (a
    phone's motion photo) do not matter. Not a JPEG: ``False``."""
    if not data.startswith(b"\xff\xd8"):
        return False
    i, n = 2, len(data)
    while i + 2 <= n:
        if data[i] != 0xFF:
            return False  # not a marker where one belongs: damaged otherwise, which the decoder judges
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xD9:  # EOI
            return False
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            i += 2
            continue
        if i + 4 > n:
            return True  # a segment's length cut off
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
        if marker == 0xDA:  # SOS: the entropy-coded data runs to the next marker that is not FF00 or a restart
            i = _end_of_scan(data, i)
    return True


#: A PNG file's first bytes.
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_damaged(data: bytes) -> bool:
    """Whether ``data``, a PNG (it starts with the signature), is cut short before its IEND chunk
    or has a critical chunk (IHDR, PLTE, IDAT, IEND: its type's first letter upper-case) whose CRC
    does not match, the two damages that make libpng print its own line and give up. An ancillary
    chunk's bad CRC (a ``tEXt``) libpng only warns about, and decodes the image: not damage here
    (review). Walks the chunks by their lengths; bytes after IEND do not matter. Not a PNG: ``False``."""
    if not data.startswith(PNG_SIGNATURE):
        return False
    i, n, view = len(PNG_SIGNATURE), len(data), memoryview(data)  # (a view: the chunks are not copied)
    while i + 12 <= n:  # length (4), type (4), data, CRC (4)
        end = i + 8 + int.from_bytes(data[i : i + 4], "big")
        if end + 4 > n:
            return True
        critical = data[i + 4] < ord("a")  # (upper case: bit 5 of the type's first byte clear)
        if critical and zlib.crc32(view[i + 4 : end]) != int.from_bytes(data[end : end + 4], "big"):  # type, data
            return True
        if data[i + 4 : i + 8] == b"IEND":
            return False
        i = end + 4
    return True


def _end_of_scan(data: bytes, start: int) -> int:
    """Where the entropy-coded data from ``start`` ends: the next 0xFF that is neither a stuffed
    FF00 nor a restart marker (``len(data)`` when there is none). ``bytes.find`` jumps from one
    0xFF to the next: a byte-by-byte loop in Python took 6x the image's decoding (176 ms, 1.9 MB)."""
    i = start
    while (i := data.find(b"\xff", i)) >= 0 and i + 1 < len(data):
        if data[i + 1] != 0x00 and not 0xD0 <= data[i + 1] <= 0xD7:
            return i
        i += 2
    return len(data)

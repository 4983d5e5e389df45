"""A network stream (``rtsp://``, ``http(s)://``, ...) read like a live camera.

It is live: read on the camera's thread that keeps only the newest frame (frames the pipeline
had no time for are dropped and counted, never queued), opened through OpenCV's FFmpeg backend
with timeouts, so an address that does not answer is one error line, not a hang.
"""

from __future__ import annotations

import http.client
import logging
import re
import urllib.error
import urllib.request
import warnings
from urllib.parse import unquote, urlsplit, urlunsplit

import cv2

from ...engines import uploads
from ...engines.errors import escaped, is_utf8, storable
from ..errors import SourceError
from .camera import CameraSource
from .files import Pacer, PresentationPacer

log = logging.getLogger(__name__)

#: ``--source`` texts read as a network stream: a URL with one of these schemes.
STREAM_SCHEMES: tuple[str, ...] = ("rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "srt", "udp", "tcp")
_STREAM_URL = re.compile(rf"(?:{'|'.join(STREAM_SCHEMES)})://\S+", re.IGNORECASE)
#: How long OpenCV may take to open the stream and to read one frame.
OPEN_TIMEOUT_S = 10.0


#: Names of URL parameters that carry a credential: IP cameras' (``?user=admin&pwd=…``), SRT's
#: ``passphrase`` and signed URLs' (``access_token``, ``X-Amz-Signature``; review: said as given).
_SECRET_NAME = (r"(?:pass|pwd|key|auth|sig|[^/;&=_]*(?:password|passwd|passphrase|token|secret|signature|credential|"
                r"apikey|api[_-]key|access[_-]key|private[_-]key))")
#: ``NAME=VALUE`` of such a name in a URL's path or query, after ``&``, ``;``, ``/`` or ``_``: in the
#: query (``?pwd=…``, ``?channel=1;pwd=…``) and in the path, where XMEye and Dahua cameras take them
#: (``/user=admin&password=…&channel=1``, ``/user=admin_password=…_channel=1``, ``/live;password=…``;
#: review: said as given). A value ends at the next ``&`` or ``;``, in the path at ``/`` too.
_SECRET_IN_QUERY = re.compile(rf"(?i)(?<![^&;_])({_SECRET_NAME}=)[^&;]*")
_SECRET_IN_PATH = re.compile(rf"(?i)(?<![^/&;_])({_SECRET_NAME}=)[^/&;]*")
#: For an address ``urlsplit`` cannot read, or of a scheme no stream has, read as text: ``user:password@``
#: after any scheme, and a secret's value to the next ``&``, ``;`` or space, ``/`` included (more hidden
#: rather than less: its parts are not known).
_USER_PASSWORD_TEXT = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/?#@\s]*?:)[^?#\s]*@")  # (to the last @: p@ss)
_SECRET_TEXT = re.compile(rf"(?i)(?<![^/&;_?])({_SECRET_NAME}=)[^&;\s]*")


def _credentials_starred_as_text(text: str) -> str:
    """``text`` with what looks like a credential in an address starred, without reading it as a URL."""
    return _SECRET_TEXT.sub(r"\1***", _USER_PASSWORD_TEXT.sub(r"\1***@", text))


def without_password(url: str) -> str:
    """``url`` with its credentials replaced by ``***``: the password of its ``user:password@``
    part and the values of parameters named like one (``pwd``, ``password``, ``token``, …) in its
    query or path. What logs, messages and a take's header say (a recording or a log may be shared;
    the camera's is not)."""
    if not _STREAM_URL.fullmatch(url):  # a file, a folder, a camera: as given; another scheme's address as text
        return _credentials_starred_as_text(url) if "://" in url else url
    try:
        parts = urlsplit(url)
    except ValueError:  # (unbalanced brackets: a URL no stream has, starred as text so that it can be shown)
        return _credentials_starred_as_text(url)
    if parts.password is not None:
        host = parts.netloc.rsplit("@", 1)[1]
        parts = parts._replace(netloc=f"{parts.username}:***@{host}")
    parts = parts._replace(path=_SECRET_IN_PATH.sub(r"\1***", parts.path),
                           query=_SECRET_IN_QUERY.sub(r"\1***", parts.query))  # fmt: skip
    return urlunsplit(parts)


class StreamSource(CameraSource):
    """A stream ``url`` read on the latest-frame thread of :class:`CameraSource` (same
    ``width``/``height``/``fps`` requests, which a stream may ignore)."""

    name = "stream"

    def __init__(self, url: str, read_timeout_s: float = OPEN_TIMEOUT_S, **options: object) -> None:
        if not is_utf8(url):  # (QA: OpenCV crashed on it, SIGSEGV, without a word)
            raise SourceError(f"stream URL {storable(without_password(url))} is not valid UTF-8: write its other bytes "
                              "percent-encoded (%E9 for the byte E9)")  # fmt: skip
        try:
            urlsplit(url)
        except ValueError as exc:  # (review: rtsp://[::1/x, a traceback where the window's title or a refusal read it)
            raise SourceError(f"stream URL {escaped(without_password(url))} cannot be read ({exc}): an IPv6 host goes "
                              "in brackets, e.g. rtsp://[::1]:8554/live") from None  # fmt: skip
        super().__init__(-1, read_timeout_s=read_timeout_s, **options)  # type: ignore[arg-type]
        self.url = url
        #: a segmented live stream's frames, released at their presentation times (``_open_capture``)
        self._presentation: PresentationPacer | None = None

    @classmethod
    def from_spec(cls, spec: str, realtime: bool = False) -> StreamSource | None:
        return cls(spec) if _STREAM_URL.fullmatch(spec) else None

    _no_frame_hint = "check that it sends video (try it in ffplay or VLC)"

    @property
    def label(self) -> str:
        return f"stream {without_password(self.url)}"

    def _open_capture(self) -> cv2.VideoCapture:
        timeout_ms = int(OPEN_TIMEOUT_S * 1000)
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms]
        capture = cv2.VideoCapture(self.url, cv2.CAP_FFMPEG, params)
        if not capture.isOpened():
            capture.release()
            # asked at the first opening only, whose error the user reads: a reopening after a stall
            # (self._capture still set) fails quietly and tries again, with no 3 s question each time
            if self._capture is None and (refused := http_refusal(self.url)) is not None:
                raise SourceError(f"{self.label} did not open: {refused}")
            raise SourceError(
                f"{self.label} did not open (refused, no answer within {OPEN_TIMEOUT_S:g} s, or not a video "
                "stream OpenCV's FFmpeg reads): check the address and that the server is up (try it in ffplay or VLC)"
            )
        frames, fps = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0), float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        if frames <= 0 and segmented(self.url) and self._presentation is None:
            # (QA: a live HLS stream comes a 1 s segment at a time, 30 frames in 0.25 s then none: the newest
            # frame of each burst was posed, 2 poses a second, and every gap said as a stall)
            self._presentation = PresentationPacer(sleep=self._stop.wait)
            log.info("%s is a segmented live stream (HLS, DASH): its frames come a segment at a time, so they are "
                     "played at their presentation times, as far behind live as the server's playlist starts (a "
                     "camera's RTSP or MJPEG stream has the least delay)", self.label)  # fmt: skip
        if frames > 0 and fps > 0 and self._file_pacer is None:
            # a video file at a web address (QA: decoded at full speed, so 4 s of motion reached the
            # window in 0.6 s, then reopened at its end and played again, forever)
            self.file_frames, self._file_pacer = frames, Pacer(fps, sleep=self._stop.wait)
            log.info("%s is a video file of %d frames, not a live stream: it plays at its %.4g fps and the run "
                     "ends with it (frames the pipeline has no time for are dropped, as live; to lift every frame, "
                     "download it and pass the file)", self.label, frames, fps)  # fmt: skip
        return capture

    def _pace(self, frame_id: int) -> None:
        if self._presentation is None or self._capture is None:
            super()._pace(frame_id)
            return
        pts_ms = float(self._capture.get(cv2.CAP_PROP_POS_MSEC))
        if pts_ms == pts_ms:  # (NaN: no time, taken as it comes)
            self._presentation.wait(pts_ms / 1e3)


#: How long the question asked of a web address that did not open may take (:func:`http_refusal`).
REFUSAL_PROBE_S = 3.0


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as the error it is (urllib follows them, headers and all)."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class _OneTry:
    """Answers a camera's challenge once: a request that carried the password and was refused again
    ends the probe (urllib's digest handler tries six times, and cameras lock an account after five
    or so failures: one typo had locked the user out; review)."""

    def http_error_401(self, req, fp, code, msg, headers):  # noqa: ANN001, ANN201 - urllib's
        return None if req.has_header("Authorization") else super().http_error_401(req, fp, code, msg, headers)


class _OneTryBasic(_OneTry, urllib.request.HTTPBasicAuthHandler):
    pass


class _OneTryDigest(_OneTry, urllib.request.HTTPDigestAuthHandler):
    pass


class _CredentialsSent(urllib.request.BaseHandler):
    """Notes whether any request of the probe carried the password (a refusal of none is not one of it)."""

    handler_order = 1000  # after the others: it sees the headers they add

    def __init__(self) -> None:
        self.sent = False

    def http_request(self, req: urllib.request.Request) -> urllib.request.Request:
        self.sent |= req.has_header("Authorization")
        return req

    https_request = http_request


def http_refusal(url: str) -> str | None:
    """Why a web camera's ``http(s)://`` address was refused, when its server answers with an
    error status, in words with the fix (401/403: the credentials; 404: the path); ``None`` for
    any other address or answer. OpenCV says only that it did not open (QA: a wrong password
    read "check the address and that the server is up"). The address's own user and password
    are sent as FFmpeg sends them: to that address only, when its server asks (basic or digest),
    and no redirect is followed (security QA: they went, unasked, to the host a redirect named)."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        return None
    host = parts.hostname or ""
    netloc = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
    address = urlunsplit(parts._replace(netloc=netloc))  # the credentials go to a handler, not the URL
    # the user's proxies, not the dead one block_native_uploads() gives the rest of the process
    sent = _CredentialsSent()
    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler(uploads.user_proxies()), _NoRedirect(),
                                                  sent]  # fmt: skip
    if parts.username is not None:
        passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
        passwords.add_password(None, address, unquote(parts.username), unquote(parts.password or ""))
        handlers += [_OneTryBasic(passwords), _OneTryDigest(passwords)]
    try:
        # (urllib warns of a challenge it half understands, a traceback under PYTHONWARNINGS=error: review)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with urllib.request.build_opener(*handlers).open(address, timeout=REFUSAL_PROBE_S):
                return None
    except urllib.error.HTTPError as exc:
        if 300 <= exc.code < 400:  # a redirect, not followed: nothing more to say than OpenCV's words
            return None
        status = f"its server answers HTTP {exc.code} {exc.reason}"
        if exc.code in (401, 403) and parts.username and not sent.sent:  # (review: "refused" of a password never sent)
            return (f"{status} without asking for the user name and password in the address (no basic or digest "
                    "challenge): check the address, and that this user may view the stream")  # fmt: skip
        if exc.code in (401, 403):
            given = "the user name and password in the address are refused" if parts.username else \
                "it asks for a user name and password"  # fmt: skip
            return f"{status}: {given}; put the camera's in the address (http://USER:PASSWORD@HOST/...)"
        if exc.code == 404:
            return f"{status}: no stream at that path; check the path in the camera's manual or web page"
        return f"{status}: check the camera or its server, and try the address in ffplay or VLC"
    except (OSError, ValueError, http.client.HTTPException):  # no answer, or none that says more
        return None


def segmented(url: str) -> bool:
    """Whether ``url`` names a segmented stream's playlist or manifest (HLS ``.m3u8``, DASH ``.mpd``)."""
    return urlsplit(url).path.lower().endswith((".m3u8", ".mpd"))

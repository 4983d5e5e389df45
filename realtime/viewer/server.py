"""``posecast view``'s server: one local port serves the viewer page (static files, three.js
vendored) and a WebSocket that forwards the ZeroMQ stream to the page as JSON.

Flow: ZeroMQ SUB (pose + meta) → schema check → JSON text → every open page. While a page's
connection takes no more, it gets the newest pose of each person: each page has one pose slot
per person that newer poses of that person overwrite (meta messages are always delivered). The
connection takes at most about 32 KiB not yet sent (see PAGE_UNSENT_KERNEL_BYTES), so a page behind
a slow link runs a bounded time behind. What the connection has taken arrives in order, and what
the page's own side holds (its kernel's buffer, its WebSocket library's queue: minutes of poses for
a reader that sleeps) too, so the page itself takes every message and draws each person's newest
(docs/protocol.md). Nothing the page sends is acted on.

Security: the server binds the loopback interface by default and logs a warning when told to
bind anything else (anyone who can reach the port can watch the stream). WebSocket upgrades
whose ``Origin`` is not this server's own page are refused, so another web site open in the
same browser cannot read the stream from localhost; and every request must name this server in
its ``Host`` header (an IP address, ``localhost``, the ``--host`` given, a name given with
``--allow-host`` or, when served beyond loopback, this machine's names; any port),
so a site whose name was made to resolve to 127.0.0.1 (DNS rebinding, where the page's own
origin is that name) cannot either.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import json
import logging
import re
import socket
import sys
import threading
import time
from dataclasses import dataclass
from importlib import resources
from typing import Any

import zmq
import zmq.asyncio
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from ...engines.errors import PosecastError
from ..endpoints import (
    SILENT_RECONNECT_S,
    SilenceReconnect,
    bind_owned,
    check_ipc_free,
    check_port,
    interface_ipv4,
    ipv6_option,
    is_loopback,
    no_ipv4_text,
    open_listener_notice,
    remove_own_ipc_file,
)
from ..errors import OptionsError, SchemaError
from ..schema import DEFAULT_ADDRESS, MAX_MESSAGE_BYTES, TOPIC_META, TOPIC_POSE, unpack_map, validate_pose_message
from ..subscriber import QUIET_NOTICE_S, Subscriber, silence_words

log = logging.getLogger(__name__)

DEFAULT_PORT = 8090
WEBSOCKET_PATH = "/ws"
#: Seconds a closing page has to answer the close handshake before its connection is dropped.
CLOSE_TIMEOUT_S = 1.0
# What one page's connection may hold not yet sent: the kernel's part (TCP_NOTSENT_LOWAT: Linux, macOS)
# and websockets' own buffer. A page's poses are coalesced to each person's newest only while its
# connection takes no more; the kernel's send buffer grows on its own to megabytes, so behind a slow
# link it always took more and the page ran further behind (QA, 50 kB/s: 25 s behind after 39 s, 3.9 MB
# waiting). 16 KiB, as the ZeroMQ publisher's SNDBUF: what is in flight is not counted, so a fast link
# or loopback is not slowed; behind a slow one the page is these 32 KiB and one pose a person behind.
PAGE_UNSENT_KERNEL_BYTES = 16 * 1024
PAGE_WRITE_BUFFER_BYTES = 16 * 1024
_TCP_NOTSENT_LOWAT = getattr(socket, "TCP_NOTSENT_LOWAT", 25 if sys.platform == "linux" else None)  # (Linux's)
STATIC_FILES = {  # URL path → (file under static/, content type)
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/viewer.js": ("viewer.js", "text/javascript; charset=utf-8"),
    "/viewer.css": ("viewer.css", "text/css; charset=utf-8"),
    "/vendor/three-bundle.min.js": ("vendor/three-bundle.min.js", "text/javascript; charset=utf-8"),
    "/vendor/LICENSE-three.txt": ("vendor/LICENSE-three.txt", "text/plain; charset=utf-8"),
}
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'self'; connect-src 'self'; img-src 'self' data:",
}


#: How often the stream's silence is looked at (the quiet notice, a reconnect).
_SILENCE_CHECK_MS = 500


class ViewerError(PosecastError):
    """The viewer cannot start (port in use, bad address)."""


def _bracketed_well(name: str) -> bool:
    """Whether ``name`` can be a Host header's name: an IPv6 address in one pair of brackets at its
    start, or colons only as an IPv6 address's (review: ``[::1`` and ``a:b:c`` were taken, never to
    match; ``fe80::1%eth0`` was refused though an address needs no --allow-host)."""
    if name.startswith("["):
        return name.count("[") == 1 and name.count("]") == 1
    if "[" in name or "]" in name:
        return False
    if name.count(":") <= 1:  # a name, or a name with its port (said below)
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


@dataclass
class ViewerOptions:
    """``stream``: the ZeroMQ stream to watch (``tcp://HOST:PORT``, as ``posecast listen``);
    ``host``/``port``: where the page is served (port 0 picks a free one)."""

    stream: str = DEFAULT_ADDRESS
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    #: more names the page may be opened by (``--allow-host``): a DNS name of this machine, a
    #: reverse proxy's name (IP addresses, ``localhost``, ``host`` and this machine's own names
    #: are allowed without it)
    allowed_hosts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise OptionsError(f"port must be in 0..65535, got {self.port}")
        if not self.host:
            raise OptionsError("host must be an address or host name of this machine, e.g. 127.0.0.1, got ''")
        if self.host.startswith("[") and self.host.endswith("]"):  # an IPv6 address as a URL writes it (QA)
            self.host = self.host[1:-1]
        endpoint = self.stream.removeprefix("bind:").removeprefix("connect:")
        if not endpoint.startswith(("tcp://", "ipc://")):  # (inproc://: no posecast run could publish to it)
            raise OptionsError(f"stream must be tcp://HOST:PORT or ipc://PATH (bind: before either when the "
                               f"publisher connects), got {self.stream!r}")  # fmt: skip
        if self.stream.startswith("bind:"):  # checked, not bound: the viewer binds it when it starts
            try:
                check_port(endpoint, binding=True)
                check_ipc_free(endpoint)
            except PosecastError as exc:
                raise OptionsError(str(exc)) from exc
        else:
            check_endpoint(self.stream)
        for name in self.allowed_hosts:  # a name no Host header can carry would never match: a mistake
            if not re.fullmatch(r"[A-Za-z0-9._:\[\]%-]+", name or "") or not _bracketed_well(name):
                raise OptionsError(f"--allow-host (ViewerOptions.allowed_hosts) {name!r} is not a host name (letters, "
                                   "digits, '.', '-'; an IPv6 address in [ ]): pass the name the page is opened by, "
                                   "e.g. mybox.local")  # fmt: skip
            bare = name.split("]:")[0] + "]" if name.startswith("[") else name.rsplit(":", 1)[0]
            if (name.startswith("[") and "]:" in name) or (not name.startswith("[") and name.count(":") == 1):
                # the Host header's port is not compared, so NAME:PORT never matched (QA: a 403 saying "pass NAME")
                raise OptionsError(f"--allow-host (ViewerOptions.allowed_hosts) {name!r} names a port: pass the name "
                                   f"alone, {bare} (any port is allowed)")  # fmt: skip
        if (address := interface_ipv4(self.host)) is not None:  # an interface's name, as the publisher takes it
            self.host = address
        try:
            socket.getaddrinfo(self.host, None)
        except (OSError, UnicodeError) as exc:  # UnicodeError: a name no DNS label can hold
            if (said := no_ipv4_text(self.host, "--host [ADDRESS]")) is not None:
                raise OptionsError(f"cannot serve the viewer on {self.host}: {said}") from exc
            reason = exc.strerror if isinstance(exc, OSError) else "not a host name"
            raise OptionsError(f"cannot serve the viewer on host {self.host[:80]!r} ({reason}): pass --host an "
                               "address of this machine, e.g. 127.0.0.1") from exc  # fmt: skip


def _listening(host: str, port: int) -> dict[str, object]:
    """Where :func:`serve` listens: ``host`` and ``port``, but for ``::`` a socket made here that
    takes IPv4 too, as ``::`` does for the ZeroMQ publisher (asyncio makes it IPv6 alone: network QA,
    ``--host ::`` refused every IPv4 page while it warned anyone could watch)."""
    if host != "::":
        return {"host": host, "port": port}
    listener = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        listener.bind(("::", port))
    except OSError:
        listener.close()
        raise
    return {"sock": listener}


def check_endpoint(stream: str) -> None:
    """Refuse a ZeroMQ address ``posecast listen`` would refuse, checked as it checks it (the
    :class:`~posecast.realtime.subscriber.Subscriber` it opens: a missing port or one out of
    range, then what ZeroMQ itself refuses). Raises :class:`OptionsError`."""
    try:
        Subscriber(stream, topics=()).close()
    except PosecastError as exc:
        raise OptionsError(str(exc)) from exc


def decode_for_page(topic: bytes, payload: bytes) -> str:
    """One ZeroMQ message → the JSON text the page reads (``topic`` added; unknown keys kept,
    so newer schema fields reach the page). Raises :class:`SchemaError` for a bad message."""
    return _decode(topic, payload)[0]


def _decode(topic: bytes, payload: bytes) -> tuple[str, int]:
    """:func:`decode_for_page`'s text and the pose's ``person_id`` (0 for a meta message)."""
    message = unpack_map(payload)
    if topic == TOPIC_POSE:
        validate_pose_message(message)
    elif topic != TOPIC_META:
        raise SchemaError(f"unknown topic {topic!r}")
    try:
        text = json.dumps({"topic": topic.decode(), **message}, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:  # NaN, bytes: not representable in the page's JSON
        raise SchemaError(f"message cannot be sent as JSON ({exc})") from exc
    return text, int(message.get("person_id", 0)) if topic == TOPIC_POSE else 0


class _Page:
    """One connected page: each person's newest pose not yet sent, the newest meta (after the
    hello, until it is sent)."""

    def __init__(self, connection: ServerConnection) -> None:
        self.connection = connection
        #: person_id → the newest pose not yet sent (one slot per person: with one slot for all,
        #: the second person's pose of a frame overwrote the first's before the page had it)
        self.poses: dict[int, str] = {}
        self.metas: list[str] = []
        self.wake = asyncio.Event()
        self.closed = False


class ViewerServer:
    """Serves the page and forwards ``options.stream`` to it. :meth:`start` runs it on a thread
    of its own and returns the page's URL; :meth:`stop` ends it. ``forwarded`` counts messages
    read from the stream, ``rejected`` messages that failed the schema check."""

    def __init__(self, options: ViewerOptions | None = None) -> None:
        self.options = options or ViewerOptions()
        self.port: int | None = None
        #: the stream as watched: ``bind:`` with the port chosen where it asked for any (once started)
        self.watching = self.options.stream
        self.forwarded = 0
        self.rejected = 0
        self._pages: set[_Page] = set()
        self._hello = json.dumps({"topic": "hello", "stream": self.options.stream})
        self._last_meta: str | None = None
        self._names = self._allowed_names()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._finished = threading.Event()  # the server's thread has ended (its pages are closed)
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.options.host, self.options.host)  # all interfaces
        return f"http://{host if ':' not in host else f'[{host}]'}:{self.port}/"

    def start(self, timeout_s: float = 10.0) -> str:
        """Start serving on a background thread; returns the URL. Raises :class:`ViewerError`."""
        self._thread = threading.Thread(target=self._run_thread, name="posecast-viewer", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout_s) or self._error is not None:
            self.stop()
            if isinstance(self._error, ViewerError):
                raise self._error
            raise ViewerError(f"viewer did not start within {timeout_s:g} s: {self._error}")
        if not is_loopback(self.options.host):
            log.warning("viewer bound to %s: anyone who can reach this machine can watch the stream", self.options.host)
        return self.url

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._finished.wait(timeout=5)  # the pages' close handshakes (see wait)
            log.debug("viewer: %d messages forwarded, %d refused by the schema", self.forwarded, self.rejected)

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C stops it). Waits on an event, not ``Thread.join``:
        Python 3.11's join interrupted by Ctrl-C's exception marks a running thread as stopped
        (bpo-45274's fix releases the lock the thread holds), so a later join returned at once and
        the process exited before the pages were sent their close frames (QA: code 1006 in some runs)."""
        try:
            while self._thread is not None and not self._finished.wait(timeout=0.5):
                pass
        finally:
            self.stop()

    def _run_thread(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to start(); the thread must not die silently
            self._error = exc
            self._started.set()
        finally:
            self._finished.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        context = zmq.asyncio.Context()
        socket = context.socket(zmq.SUB)
        socket.setsockopt(zmq.IPV6, ipv6_option(self.options.stream))
        socket.setsockopt(zmq.LINGER, 0)
        socket.setsockopt(zmq.RCVHWM, 16)
        socket.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
        for topic in (TOPIC_POSE, TOPIC_META):
            socket.setsockopt(zmq.SUBSCRIBE, topic)
        stream = self.options.stream
        endpoint, binding = stream.removeprefix("bind:").removeprefix("connect:"), stream.startswith("bind:")
        ipc_file = None  # the socket file bound here, removed at the end
        try:
            try:
                if binding:  # (a publisher that connects, `posecast run --publish connect:...`; QA)
                    ipc_file = bind_owned(socket, endpoint)  # (checked again: another run may have bound it since)
                    self.watching = "bind:" + socket.getsockopt_string(zmq.LAST_ENDPOINT)  # port 0: the one chosen
                    if (notice := open_listener_notice(self.watching.removeprefix("bind:"))) is not None:
                        log.warning("%s", notice)
                    self._hello = json.dumps({"topic": "hello", "stream": self.watching})  # (QA: the page named port 0)
                else:
                    socket.connect(endpoint)
                # a page that stopped reading (its socket full) cannot answer the close handshake: the
                # stop waited websockets' 10 s for it, cut to 5 s by stop() (QA: Ctrl-C took 6 s)
                listening = _listening(self.options.host, self.options.port)
                try:
                    server = await serve(self._handle, process_request=self._http, close_timeout=CLOSE_TIMEOUT_S,
                                         write_limit=PAGE_WRITE_BUFFER_BYTES, **listening)  # fmt: skip
                except BaseException:
                    if "sock" in listening:  # (review: the socket made for :: was left open)
                        listening["sock"].close()  # type: ignore[attr-defined]
                    raise
            except PosecastError as exc:  # another run bound the stream since its check (review: said as a timeout)
                raise ViewerError(str(exc)) from exc
            except OSError as exc:
                in_use = exc.errno == errno.EADDRINUSE
                fix = "pass --port N (0 picks a free one)" if in_use else "check --host and --port"
                raise ViewerError(
                    f"cannot serve the viewer on {self.options.host}:{self.options.port} ({exc.strerror}): {fix}"
                ) from exc
            except zmq.ZMQError as exc:
                if binding and exc.errno == zmq.EADDRINUSE:
                    raise ViewerError(f"cannot watch {stream!r}: another program uses that address (a subscriber "
                                      "already bound there?); pass another port") from exc  # fmt: skip
                expected = ("an ipc:// path in a folder that exists" if endpoint.startswith("ipc://")
                            else "tcp://HOST:PORT")  # fmt: skip
                raise ViewerError(f"cannot watch {stream!r} ({exc}): expected {expected}") from exc
            async with server:
                self.port = server.sockets[0].getsockname()[1]
                log.info("posecast viewer on %s (watching %s)", self.url, self.watching)
                self._started.set()
                # a path that died silently is connected again (endpoints.SILENT_RECONNECT_S)
                silence = SilenceReconnect(socket, None if binding else endpoint)
                forward = asyncio.create_task(self._forward(socket, silence))
                await self._stop.wait()
                forward.cancel()
        finally:
            socket.close(linger=0)
            remove_own_ipc_file(ipc_file)
            context.term()

    async def _forward(self, socket: zmq.asyncio.Socket, silence: SilenceReconnect) -> None:
        quiet_told = heard_pose = False
        # silence is counted from the last pose, as the page and `posecast listen` count it: the
        # publisher repeats its meta every second, frames or not (a stuck pipeline still sends it)
        pose_s = meta_s = time.monotonic()
        while True:
            # silence is said once, as `posecast listen` says it (QA: a stream nobody published
            # on was waited for without a word; the page says "quiet", the terminal said nothing)
            message_waiting = bool(await socket.poll(_SILENCE_CHECK_MS))
            if not message_waiting:
                silence.check()
            now_s = time.monotonic()
            if not quiet_told and now_s - pose_s >= QUIET_NOTICE_S:
                quiet_told = True
                publisher_up = meta_s > pose_s and now_s - meta_s <= SILENT_RECONNECT_S
                heard, why = silence_words(publisher_up, heard_pose, "--stream")
                log.warning("%s from %s for %g s (a publisher repeats its meta every second): %s; still watching",
                            heard, self.watching, QUIET_NOTICE_S, why)  # fmt: skip
            if not message_waiting:
                continue
            parts = await socket.recv_multipart()
            silence.heard()
            if parts[:1] == [TOPIC_META]:
                meta_s = time.monotonic()
            else:
                if quiet_told:
                    log.info("%s is publishing %s", self.watching, "again" if heard_pose else "now")
                pose_s, quiet_told, heard_pose = time.monotonic(), False, True
            try:
                if len(parts) != 2:
                    raise SchemaError(f"expected [topic, payload], got {len(parts)} parts")
                text, person_id = _decode(parts[0], parts[1])
            except Exception as exc:  # noqa: BLE001 (any message that cannot be read is skipped, never the end
                # of forwarding: review, one bad message froze every page until the viewer was restarted)
                self.rejected += 1
                if self.rejected in (1, 10, 100) or self.rejected % 1000 == 0:
                    schema = isinstance(exc, SchemaError)
                    what = "breaks the schema" if schema else f"could not be read ({type(exc).__name__})"
                    log.warning("skipping a message that %s (%d so far): %s", what, self.rejected, exc,
                                exc_info=not schema and log.isEnabledFor(logging.DEBUG))  # fmt: skip
                continue
            self.forwarded += 1
            is_meta = parts[0] == TOPIC_META
            if is_meta:
                self._last_meta = text
            for page in self._pages:
                if is_meta:  # the newest waits alone behind the page's hello: each meta is the stream's whole
                    # state (security QA: a page that stopped reading held every one, 3 GB in 6 s)
                    page.metas = [*(m for m in page.metas if m is self._hello), text]
                else:
                    page.poses[person_id] = text  # overwrite: a slow page skips to each person's newest pose
                page.wake.set()

    async def _handle(self, connection: ServerConnection) -> None:
        sock = connection.transport.get_extra_info("socket")
        if _TCP_NOTSENT_LOWAT is not None and sock is not None:  # (see PAGE_UNSENT_KERNEL_BYTES)
            with contextlib.suppress(OSError):  # a system without it: the kernel's own buffer
                sock.setsockopt(socket.IPPROTO_TCP, _TCP_NOTSENT_LOWAT, PAGE_UNSENT_KERNEL_BYTES)
        page = _Page(connection)
        page.metas = [self._hello] + ([self._last_meta] if self._last_meta else [])
        page.wake.set()
        self._pages.add(page)
        reader = asyncio.create_task(self._drain(page))
        try:
            while not page.closed:
                await page.wake.wait()
                page.wake.clear()
                metas, page.metas = page.metas, []
                poses, page.poses = page.poses, {}
                for text in [*metas, *poses.values()]:
                    await connection.send(text)
        except (ConnectionClosed, OSError) as exc:  # the page went away
            log.debug("viewer page disconnected: %s", exc)
        except Exception:  # a fault of ours: that page stops updating, so say why (the others go on)
            log.exception("viewer stopped sending to a page")
        finally:
            self._pages.discard(page)
            reader.cancel()

    @staticmethod
    async def _drain(page: _Page) -> None:
        """Read (and ignore) what the page sends; wakes the sender when the page goes away."""
        with contextlib.suppress(Exception):
            async for _ in page.connection:
                pass
        page.closed = True
        page.wake.set()

    def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if not self._names_this_server(request.headers.get_all("Host")):
            return _response(403, "Forbidden", b"the Host header does not name this viewer: open it by an IP "
                             b"address or localhost, or start posecast view with --allow-host NAME\n",
                             "text/plain")  # fmt: skip
        if getattr(request, "method", "GET") != "GET":  # websockets parses a bodiless POST too (QA: it got the page)
            response = _response(405, "Method Not Allowed", b"the viewer serves GET only\n", "text/plain")
            response.headers["Allow"] = "GET"
            return response
        if path == WEBSOCKET_PATH:
            origins, host = request.headers.get_all("Origin"), request.headers.get("Host")  # (one Host: checked)
            # this server's own page, served directly (http) or by an https reverse proxy that keeps the Host;
            # at most one Origin (QA: two raised in the header lookup, a 500 and a traceback in the log each time)
            if len(origins) > 1 or (origins and origins[0] not in (f"http://{host}", f"https://{host}")):
                return _response(403, "Forbidden", b"cross-origin viewer connections are refused\n", "text/plain")
            return None  # go on with the WebSocket handshake
        if path not in STATIC_FILES:
            return _response(404, "Not Found", b"not found\n", "text/plain")
        name, content_type = STATIC_FILES[path]
        body = resources.files(__package__).joinpath("static", *name.split("/")).read_bytes()
        return _response(200, "OK", body, content_type)

    def _allowed_names(self) -> set[str]:
        """The names a request's ``Host`` may give besides an IP address (looked up once: a
        reverse DNS lookup per request would hold up the event loop)."""
        names = {"localhost", self.options.host, *self.options.allowed_hosts}
        if not is_loopback(self.options.host):  # served to other machines: they may use this one's names
            with contextlib.suppress(OSError):
                machine = socket.gethostname()
                names |= {machine, f"{machine}.local", socket.getfqdn()}
        return {name.lower().rstrip(".") for name in names if name}

    def _names_this_server(self, host_values: list[str]) -> bool:
        """Whether a request's ``Host`` header (all its values) names this server: exactly one
        value, an IP address (no DNS lookup can rebind it) or one of :meth:`_allowed_names`, with
        any port (a tunnel, a container or a proxy may forward another port to this one; the
        name is what tells the viewer from a rebound site)."""
        if len(host_values) != 1:
            return False
        host = host_values[0].strip()
        if host.startswith("["):  # [IPv6]:port
            name, _, port = host[1:].partition("]")
            port = port.removeprefix(":")
        else:
            name, _, port = host.partition(":")
        if port and not (port.isascii() and port.isdigit()):
            return False
        name = name.lower().rstrip(".")
        if name in self._names:
            return True
        try:
            ipaddress.ip_address(name.split("%", 1)[0])  # an IPv6 zone id (fe80::1%eth0) is not part of it
        except ValueError:
            return False
        return True


def _response(status: int, reason: str, body: bytes, content_type: str) -> Response:
    headers: dict[str, Any] = {"Content-Type": content_type, "Content-Length": str(len(body)), **SECURITY_HEADERS}
    return Response(status, reason, Headers(headers), body)

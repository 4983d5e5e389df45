"""ZeroMQ endpoints as posecast uses them, for the publisher, the subscriber, the viewer and the
bench's receiver: ``tcp://HOST:PORT`` split and checked before ZeroMQ sees it (its own errors
name neither the host nor the fix), IPv6 turned on where the address needs it, and the socket
file of an ``ipc://`` endpoint owned and removed by the one that bound it."""

from __future__ import annotations

import contextlib
import errno
import functools
import ipaddress
import logging
import os
import socket
import stat
import sys
import time
from pathlib import Path

import zmq

from ..engines.errors import is_utf8, storable
from ..engines.fileio import flock_held
from .errors import PublishError
from .schema import DEFAULT_ADDRESS

log = logging.getLogger(__name__)


def _split_tcp(endpoint: str) -> tuple[str, str] | None:
    """``(host, port)`` of a ``tcp://HOST:PORT`` endpoint (``[::1]`` without brackets), else ``None``."""
    if not endpoint.startswith("tcp://") or ":" not in endpoint[6:]:
        return None
    host, port = endpoint[6:].rsplit(":", 1)
    return host.strip("[]"), port


def check_host(endpoint: str) -> None:
    """Refuse a ``tcp://HOST:PORT`` to connect to whose host name does not resolve: ZeroMQ would
    retry it in the background for ever, and a subscriber would wait without a word."""
    parts = _split_tcp(endpoint)
    if parts is None or parts[0] in ("", "*"):
        return
    host = parts[0].rsplit(";", 1)[-1].strip("[]")  # ZeroMQ's tcp://SOURCE;HOST:PORT names the host last
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(host)
        return  # an address: nothing to resolve
    try:
        socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) else "not a valid host name"
        raise PublishError(f"cannot resolve the host {host!r} of {endpoint} ({reason}): check the name, "
                           f"or pass an IP address, e.g. {DEFAULT_ADDRESS}") from exc  # fmt: skip


def ipv6_option(address: str) -> int:
    """ZeroMQ's ``IPV6`` socket option for ``address``: on for an IPv6 one (``tcp://[::1]:5555``;
    off by default in ZeroMQ, so such a bind failed and a subscriber heard nothing), off otherwise
    (with it on, ZeroMQ names IPv4 endpoints ``[::ffff:127.0.0.1]``)."""
    return int("[" in address)


#: ZeroMQ heartbeats on the publisher's socket: a PING every HEARTBEAT_INTERVAL_MS, and a
#: connection that then hears nothing for HEARTBEAT_TIMEOUT_MS is closed: a subscriber whose path
#: died silently (no FIN, no RST: Wi-Fi roaming, sleep, an access point's reboot, a NAT that forgot
#: the flow) is dropped with its queue, and a publisher that connects (``connect:``) connects again
#: (network QA: it waited for ever). HEARTBEAT_TTL_MS asks a peer that sets no heartbeats of its
#: own to close the connection after that long without traffic from the publisher. A reader that
#: stops reading (a paused program, a breakpoint) answers no PING once its queue is full, so after
#: about 4 s it is dropped too, with the seconds-old poses queued for it: it connects again when it
#: reads again and gets the newest (review: said, not avoided; a 10 s timeout would keep stale poses
#: and make a ``connect:`` publisher take 11 s to come back).
HEARTBEAT_INTERVAL_MS = 1000
HEARTBEAT_TIMEOUT_MS = 3000
HEARTBEAT_TTL_MS = 3000
#: A reader that connects and has heard nothing for this long (a publisher repeats its meta every
#: second) connects again: ZeroMQ reconnects by itself only when a break is signalled, and a path
#: that died silently left the Subscriber, ``posecast listen`` and the viewer without a pose for
#: ever (network QA). Not the readers' heartbeats: libzmq 4.3.5 times out a SUB whose queue is full
#: (a reader that paused for 4 s) and then aborts the process in ``stream_engine_base.cpp``
#: (``Assertion failed: _input_stopped``, zeromq/libzmq#3937); this only acts while the queue is empty.
#: The Node client (clients/node/index.js) does the same.
SILENT_RECONNECT_S = 3.0


def set_heartbeats(socket_: zmq.Socket) -> None:
    """Turn on ZeroMQ's heartbeats (see :data:`HEARTBEAT_INTERVAL_MS`) before ``socket_`` binds or connects."""
    socket_.setsockopt(zmq.HEARTBEAT_IVL, HEARTBEAT_INTERVAL_MS)
    socket_.setsockopt(zmq.HEARTBEAT_TIMEOUT, HEARTBEAT_TIMEOUT_MS)
    socket_.setsockopt(zmq.HEARTBEAT_TTL, HEARTBEAT_TTL_MS)


class SilenceReconnect:
    """Connects a reader's socket to ``endpoint`` again once it has heard nothing for
    :data:`SILENT_RECONNECT_S` (``endpoint`` None: it binds, and the publisher that connects
    reconnects by its heartbeats). :meth:`check` only when nothing is waiting on the socket."""

    def __init__(self, socket_: zmq.Socket, endpoint: str | None) -> None:
        self._socket = socket_
        self._endpoint = endpoint
        self._quiet_since_s = time.monotonic()

    def heard(self) -> None:
        self._quiet_since_s = time.monotonic()

    def check(self) -> None:
        if self._endpoint is None or time.monotonic() - self._quiet_since_s < SILENT_RECONNECT_S:
            return
        self._quiet_since_s = time.monotonic()  # once every SILENT_RECONNECT_S while it stays silent
        with contextlib.suppress(zmq.ZMQError):  # (not connected: nothing to end)
            self._socket.disconnect(self._endpoint)
        try:
            self._socket.connect(self._endpoint)
        except zmq.ZMQError as exc:  # (out of file descriptors, say: tried again at the next check; review)
            log.warning("cannot connect to %s again (%s); trying again in %g s", self._endpoint, exc.strerror,
                        SILENT_RECONNECT_S)  # fmt: skip


#: The longest socket file path (bytes) an ``ipc://`` endpoint may name: ``sun_path`` less its NUL
_IPC_PATH_MAX_BYTES = 103 if sys.platform == "darwin" else 107


def check_port(endpoint: str, binding: bool = True) -> None:
    """Refuse an address ZeroMQ would refuse only in its own words ("Invalid argument", "No such
    device", pyzmq's advice to programmers) or take and then wait on for ever (network QA): no
    transport, spaces around it, a TCP host missing or an IPv6 one without its brackets, an
    ``ipc://`` path too long or, to bind, in a folder that does not exist; a TCP port missing (ZeroMQ
    says only "Invalid argument"), not a number (ZeroMQ reads its leading digits: ``:5822abc`` bound
    5822, ``:1e3`` port 1) or outside 1..65535 (ZeroMQ would bind some other port instead, or wait
    forever to connect); ``binding``: port 0 or ``*`` (any free one) is allowed."""
    _check_shape(endpoint, binding)
    if endpoint.startswith("tcp://"):
        rest = endpoint[6:]
        colon = rest.rfind(":")
        if colon < 0 or colon < rest.rfind("]") or colon == len(rest) - 1:  # an IPv6 address's colons are in []
            raise PublishError(f"{endpoint} has no port: expected tcp://HOST:PORT, e.g. {DEFAULT_ADDRESS}")
    parts = _split_tcp(endpoint)
    if parts is None or (binding and parts[1] == "*"):
        return
    if not parts[1].isascii() or not parts[1].lstrip("+-").isdigit():
        any_free = " (or * for any free one)" if binding else ""
        raise PublishError(f"port {parts[1]!r} of {endpoint} is not a number: pass one from 1 to 65535{any_free}, "
                           f"e.g. {DEFAULT_ADDRESS}")  # fmt: skip
    port = int(parts[1])
    if binding and port == 0 and parts[1] != "0":  # (ZeroMQ takes "0" alone for any free port: QA, ":00")
        raise PublishError(f"port {parts[1]} of {endpoint}: write any free port as 0 (or *)")
    if not 1 <= port <= 65535 and not (binding and port == 0):
        any_free = ", or port 0 for any free one" if binding else ""
        raise PublishError(f"port {parts[1]} of {endpoint} is outside 1..65535: pass e.g. {DEFAULT_ADDRESS}{any_free}")


def _check_shape(endpoint: str, binding: bool) -> None:
    """:func:`check_port`'s checks of the address's shape, before its port's."""
    if endpoint != endpoint.strip():
        raise PublishError(f"address {endpoint!r} has spaces around it: remove them, e.g. {DEFAULT_ADDRESS}")
    if not is_utf8(endpoint):  # (QA: ZeroMQ's UnicodeEncodeError, a traceback)
        raise PublishError(f"address {storable(endpoint)} is not valid UTF-8, which ZeroMQ needs: pass an address "
                           f"or ipc:// path in UTF-8, e.g. {DEFAULT_ADDRESS}")  # fmt: skip
    if "://" not in endpoint:
        raise PublishError(f"address {endpoint!r} names no transport: expected tcp://HOST:PORT or ipc://PATH, e.g. "
                           f"{DEFAULT_ADDRESS}")  # fmt: skip
    parts = _split_tcp(endpoint)
    if parts is not None and not endpoint.endswith("]"):  # (tcp://[::1]: no port, which check_port says)
        written = endpoint[6:].rsplit(":", 1)[0].rsplit(";", 1)[-1]  # the host as written (brackets kept)
        if written == "":
            anywhere = " (or * to bind every interface)" if binding else ""
            raise PublishError(f"address {endpoint} names no host: expected tcp://HOST:PORT, e.g. "
                               f"{DEFAULT_ADDRESS}{anywhere}")  # fmt: skip
        if written.startswith("[") != written.endswith("]") or (":" in written and not written.startswith("[")):
            raise PublishError(f"address {endpoint}: an IPv6 address goes in brackets before the port, e.g. "
                               "tcp://[::1]:5555")  # fmt: skip
    if (path := _ipc_path(endpoint)) is not None:
        size = len(os.fsencode(endpoint[6:]))
        if size > _IPC_PATH_MAX_BYTES:
            raise PublishError(f"ipc:// path {endpoint[6:]} is {size} bytes long, over the system's "
                               f"{_IPC_PATH_MAX_BYTES}: pass a shorter one, e.g. ipc:///tmp/posecast.sock")  # fmt: skip
        if binding and not path.parent.is_dir():
            raise PublishError(f"cannot bind {endpoint}: the folder {path.parent} does not exist; make it or pass a "
                               "path in a folder that does")  # fmt: skip


def _ipc_path(endpoint: str) -> Path | None:
    """The socket file of an ``ipc://PATH`` endpoint (``None``: another transport, or Linux's
    abstract namespace ``ipc://@name``, which has no file)."""
    if endpoint.startswith("ipc://@") and not sys.platform.startswith("linux"):
        # elsewhere ZeroMQ makes a file named "@name" in the current folder (review for macOS)
        raise PublishError(f"{endpoint}: ipc://@NAME (Linux's abstract sockets) is Linux's alone: pass ipc:///PATH")
    if not endpoint.startswith("ipc://") or endpoint.startswith("ipc://@"):
        return None
    if not endpoint[6:].strip():
        raise PublishError(f"{endpoint!r} has no path: expected ipc://PATH, e.g. ipc:///tmp/posecast.sock")
    return Path(endpoint[6:])


def check_ipc_free(endpoint: str) -> None:
    """Refuse to bind an ``ipc://PATH`` another process is bound to, or that is not a socket:
    ZeroMQ removes whatever is at the path and binds anew (a second posecast silently took the
    first one's subscribers; a file of that name would be deleted). A socket file nobody accepts
    on (left by a process that was killed) is fine to replace."""
    path = _ipc_path(endpoint)
    if path is None:
        return
    try:
        mode = path.stat().st_mode
    except OSError:
        return  # nothing there (or nothing we may look at: ZeroMQ's own error follows)
    if not stat.S_ISSOCK(mode):
        raise PublishError(f"{path} exists and is not a socket: pass another ipc:// path (binding would delete it)")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return  # a stale socket file
    raise PublishError(f"address {endpoint} is in use (another posecast is bound there): pass another ipc:// path")


#: How long a bind or a socket file's removal waits for another run's hold on the folder
_FOLDER_LOCK_WAIT_S = 5.0


def _folder_locked(path: Path | None) -> contextlib.AbstractContextManager[bool]:
    """Hold an exclusive lock on the folder of an ``ipc://`` socket file while its path is checked
    and bound, or removed: two runs binding one path at once could both find it free, and the
    second took the first one's place without a word (concurrency QA: 17 of 200 thread pairs).
    The folder, not a lock file beside the socket, so that nothing is left behind; without a lock
    (a file system that has none, another holder past a few seconds) as before (review)."""
    if path is None:
        return contextlib.nullcontext(False)
    return flock_held(path.parent, f"ipc:// folder {path.parent}", wait_s=_FOLDER_LOCK_WAIT_S)


def bind_owned(socket_: zmq.Socket, endpoint: str) -> tuple[Path, int] | None:
    """Bind ``socket_`` to ``endpoint`` after :func:`check_ipc_free`, both under one lock; returns
    the socket file it made, for :func:`remove_own_ipc_file`."""
    path = _ipc_path(endpoint)
    with _folder_locked(path):
        check_ipc_free(endpoint)
        try:
            socket_.bind(endpoint)
        except zmq.ZMQError as exc:
            if exc.errno == errno.ENODEV:  # ZeroMQ's "No such device": a name it could not bind
                check_interface_ipv4(endpoint)
            raise
        return bound_ipc_file(endpoint)


def bound_ipc_file(endpoint: str) -> tuple[Path, int] | None:
    """The socket file a bind to ``endpoint`` just made and its inode (``None``: not an
    ``ipc://`` path on disk), for :func:`remove_own_ipc_file`."""
    path = _ipc_path(endpoint)
    try:
        return None if path is None else (path, path.stat().st_ino)
    except OSError:
        return None


def remove_own_ipc_file(owned: tuple[Path, int] | None) -> None:
    """Remove the socket file ZeroMQ leaves behind after a bound socket is closed, only if it is
    still the one this process bound (another process may have bound the path since)."""
    if owned is None:
        return
    path, inode = owned
    with _folder_locked(path), contextlib.suppress(OSError):  # (not between another run's check and bind)
        if path.stat().st_ino == inode:
            path.unlink()


def exposed(endpoint: str) -> bool:
    """Whether binding ``endpoint`` accepts subscribers from other machines: every transport but
    ipc:// and inproc://, unless bound to a loopback address."""
    if endpoint.startswith(("ipc://", "inproc://")):
        return False
    parts = _split_tcp(endpoint)
    if parts is None:
        return True
    return not is_loopback(parts[0])  # '*', an interface name or a host name: other machines may reach it


def connects_off_machine(endpoint: str) -> bool:
    """Whether connecting to ``endpoint`` sends to another machine: not to a loopback host, nor to
    the unspecified address (``0.0.0.0``, ``::``), which a connection takes as this machine's own
    (QA: ``connect:tcp://0.0.0.0:PORT`` was said to leave the machine); ``SOURCE;HOST`` is judged by
    its HOST."""
    parts = _split_tcp(endpoint)
    if parts is None:
        return exposed(endpoint)
    host = parts[0].rsplit(";", 1)[-1].strip("[]")
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(host).is_unspecified:
            return False
    return not is_loopback(host)


def open_listener_notice(bound: str) -> str | None:
    """What to say of a reader bound at ``bound`` (ZeroMQ's last endpoint) that other machines can
    reach, as a publisher's exposed bind is said; ``None`` when only this machine can (security QA:
    ``listen`` and ``view`` bound 0.0.0.0 without a word, and anyone could feed them messages)."""
    if not exposed(bound):
        return None
    return (f"listening on {bound}: anyone who can reach this machine on that port can send this reader messages "
            "(no authentication); bind tcp://127.0.0.1:PORT to keep it on this machine")


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address, IPv6 without brackets) is this machine's loopback:
    ``localhost``, 127.0.0.0/8, ``::1``, or 127.x written as IPv6 (``::ffff:127.0.0.1``: QA, it was
    said to be open to the network), or a name all of whose addresses are (network QA: the
    machine's own name, at 127.0.0.1, was said to be open to anyone)."""
    if host == "localhost":
        return True
    try:
        return _loopback_address(host)
    except ValueError:
        return _name_at_loopback(host)


def _loopback_address(host: str) -> bool:
    address = ipaddress.ip_address(host)
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


@functools.lru_cache(maxsize=32)
def _name_at_loopback(name: str) -> bool:
    """Whether the host name ``name`` resolves, and to loopback addresses alone (looked up once)."""
    if name in ("", "*"):
        return False
    try:
        found = {info[4][0].split("%")[0] for info in socket.getaddrinfo(name, None)}
    except (OSError, UnicodeError):
        return False  # an interface name, or a name that does not resolve: it may face the network
    return bool(found) and all(_loopback_address(address) for address in found)


#: Linux's ioctl asking an interface's IPv4 address (``<linux/sockios.h>``).
_SIOCGIFADDR = 0x8915


def interface_ipv4(name: str) -> str | None:
    """The IPv4 address of this machine's network interface ``name`` (``eth0``, ``lo``), as ZeroMQ
    binds ``tcp://eth0:PORT``; ``None`` when no interface has that name, it has no IPv4 address,
    or the system cannot say (Linux alone answers; network QA: ``view --host eth0`` was refused
    as a host name that does not resolve, where ``run --publish tcp://eth0:PORT`` binds)."""
    if not is_interface(name):
        return None
    import fcntl
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            answer = fcntl.ioctl(probe.fileno(), _SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
        except OSError:  # no IPv4 address on it
            return None
    return socket.inet_ntoa(answer[20:24])


def is_interface(name: str) -> bool:
    """Whether ``name`` is one of this machine's network interfaces (Linux alone answers)."""
    return sys.platform == "linux" and name in {known for _, known in socket.if_nameindex()}


#: Linux's list of IPv6 addresses, a line each: address, interface index, prefix, scope, flags, interface name.
_IF_INET6 = Path("/proc/net/if_inet6")


def interface_ipv6(name: str) -> str | None:
    """A global IPv6 address of the network interface ``name``, ``None`` where it has none or the
    system cannot say (Linux alone answers): a link-local one (``fe80::``) reaches no farther than
    its link and is written with its interface besides (``%eth0``)."""
    try:
        lines = _IF_INET6.read_text().splitlines()
    except OSError:
        return None
    for fields in map(str.split, lines):
        if len(fields) == 6 and fields[5] == name and fields[3] == "00":  # scope 00: global
            return str(ipaddress.IPv6Address(bytes.fromhex(fields[0])))
    return None


def no_ipv4_text(name: str, written: str) -> str | None:
    """For ``name``, a network interface of this machine with no IPv4 address to serve on, what
    to say and to pass instead, each address written as ``written`` writes ``ADDRESS`` (``--host
    [ADDRESS]``, ``tcp://[ADDRESS]:5555``); ``None`` for any other name (network QA: such an
    interface was said to be a host name that does not resolve)."""
    if not is_interface(name) or interface_ipv4(name) is not None:
        return None
    every = written.replace("ADDRESS", "::")  # (IPv6 and IPv4, in the viewer and in the publisher)
    if (ipv6 := interface_ipv6(name)) is not None:
        return (f"the network interface {name} has no IPv4 address (IPv6 alone): pass its IPv6 address, "
                f"{written.replace('ADDRESS', ipv6)}, or {every} for every interface")  # fmt: skip
    return (f"the network interface {name} has no IPv4 address, nor a global IPv6 one (is it down?): give it an "
            f"address, or pass {every} for every interface, or another address of this machine")  # fmt: skip


def check_interface_ipv4(endpoint: str) -> None:
    """Refuse a ``tcp://NAME:PORT`` to bind whose host is a network interface of this machine with
    no IPv4 address (ZeroMQ says "No such device", and it is not a host name that does not resolve)."""
    parts = _split_tcp(endpoint)
    if parts is not None and (said := no_ipv4_text(parts[0], f"tcp://[ADDRESS]:{parts[1]}")) is not None:
        raise PublishError(f"cannot bind {endpoint}: {said}")

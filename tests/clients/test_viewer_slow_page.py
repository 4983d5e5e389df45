"""``posecast view`` and a page behind a slow link: the page gets each person's newest pose, a
bounded time behind, not everything in order ever further behind. QA, 50 kB/s link: the page's
poses were 25 s old after 39 s, the viewer's kernel send buffer holding 3.9 MB of them, because
the one-slot-per-person coalescing only happens while the connection takes no more, and the
kernel's auto-growing send buffer always took more."""

from __future__ import annotations

import json
import socket
import threading
import time

from posecast.realtime.viewer.server import ViewerOptions, ViewerServer
from test_viewer_page import FakeCamera
from websockets.sync.client import connect

FPS = 30.0
PEOPLE = ((-0.6, 0.1, 3.4), (0.7, 0.1, 3.0), (0.0, 0.1, 4.0))  # about 1.2 kB of JSON each: 110 kB/s
LINK_BYTES_PER_S = 50_000  # the slow link's rate: well under the stream's
READ_S = 8.0


class SlowLink:
    """A TCP proxy on loopback whose viewer-to-page direction carries ``bytes_per_s``, with small
    buffers of its own (as a slow network path, it leaves the queue in the viewer's socket)."""

    def __init__(self, to_port: int, bytes_per_s: int) -> None:
        self.bytes_per_s = bytes_per_s
        self._to_port = to_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = [self._listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        try:
            page, _ = self._listener.accept()
        except OSError:  # closed before a page came
            return
        viewer = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        viewer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: the window it offers
        viewer.connect(("127.0.0.1", self._to_port))
        self._sockets += [page, viewer]
        threading.Thread(target=self._pump, args=(page, viewer, None), daemon=True).start()
        self._pump(viewer, page, self.bytes_per_s)

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket, bytes_per_s: int | None) -> None:
        due = time.monotonic()
        try:
            while data := source.recv(1024):
                if bytes_per_s is not None:
                    due += len(data) / bytes_per_s
                    time.sleep(max(0.0, due - time.monotonic()))
                sink.sendall(data)
        except OSError:  # either end closed
            pass
        for end in (source, sink):
            end.close()

    def close(self) -> None:
        for end in self._sockets:
            end.close()


def _read(url: str, seconds: float, ages_s: list[tuple[float, float]], frames: dict[int, set[int]]) -> None:
    """Read a page's WebSocket for ``seconds``: each pose's (time read, age by the stream's clock)
    and each person's frame ids."""
    # uncompressed: these test poses, alike but for their frame and clock, deflate to 60 bytes each
    with connect(url, open_timeout=10, close_timeout=1, compression=None) as page:
        started = time.monotonic()
        while (now := time.monotonic()) < started + seconds:
            message = json.loads(page.recv(timeout=5.0))
            if message["topic"] == "pose":  # capture_ns: the camera's monotonic clock, this process's
                ages_s.append((now - started, (time.monotonic_ns() - message["capture_ns"]) / 1e9))
                frames.setdefault(message["person_id"], set()).add(message["frame_id"])


def test_a_page_behind_a_slow_link_stays_a_bounded_time_behind_and_a_fast_one_gets_every_frame() -> None:
    camera = FakeCamera(fps=FPS, roots=PEOPLE)
    server = ViewerServer(ViewerOptions(stream=camera.publisher.address, port=0))
    server.start()
    link = SlowLink(server.port, LINK_BYTES_PER_S)
    slow_ages: list[tuple[float, float]] = []
    fast_ages: list[tuple[float, float]] = []
    slow_frames: dict[int, set[int]] = {}
    fast_frames: dict[int, set[int]] = {}
    fast = threading.Thread(target=_read, args=(server.url.replace("http://", "ws://") + "ws", READ_S, fast_ages,
                                                fast_frames))  # fmt: skip
    fast.start()
    try:
        _read(f"ws://127.0.0.1:{link.port}/ws", READ_S, slow_ages, slow_frames)
    finally:
        fast.join(timeout=15)
        link.close()
        server.stop()
        camera.close()
    late = [age for at, age in slow_ages if at >= READ_S / 2]  # after the buffers on the way have filled
    assert len(late) >= 20, slow_ages  # the slow page still gets poses: about 40 a second fit the link
    # measured 0.4-0.6 s behind; without the bound on what the viewer's socket holds, 0.5 s at 1 s, 4.3 s
    # at 8 s and growing
    assert max(late) < 1.5, f"the slow page ran behind: {[(round(t, 1), round(a, 2)) for t, a in slow_ages[::10]]}"
    assert set(slow_frames) == {0, 1, 2}  # each person's newest, none starved

    frames = set().union(*fast_frames.values())
    whole = set(range(min(frames) + 1, max(frames)))  # the edges: joined or left mid-frame
    assert len(whole) >= 0.8 * READ_S * FPS
    for person_id in range(len(PEOPLE)):
        missing = whole - fast_frames.get(person_id, set())
        # a page reading as fast as this one skips nothing; on a starved machine (CI beside a headless
        # Chromium) the newest-pose slots skip some (test_viewer_people.py)
        assert len(missing) <= 0.2 * len(whole), f"the fast page missed {len(missing)} of person {person_id}'s frames"
    fast_median_s = sorted(age for _, age in fast_ages)[len(fast_ages) // 2]
    assert fast_median_s < 0.25, fast_median_s  # a page on loopback is not held back

"""``posecast view`` with several people: a page that keeps up gets every person's poses (one
slot per person; with one slot for all, the second person's pose of a frame overwrote the
first's and person 0 reached the page in about half the frames)."""

from __future__ import annotations

import json
import time

from posecast.realtime.viewer.server import ViewerOptions, ViewerServer
from test_viewer_page import FakeCamera
from websockets.sync.client import connect


def test_a_page_that_keeps_up_gets_every_persons_poses() -> None:
    camera = FakeCamera(fps=30.0, roots=((-0.6, 0.1, 3.4), (0.7, 0.1, 3.0), (0.0, 0.1, 4.0)))
    server = ViewerServer(ViewerOptions(stream=camera.publisher.address, port=0))
    server.start()
    seen: dict[int, set[int]] = {0: set(), 1: set(), 2: set()}
    try:
        with connect(server.url.replace("http://", "ws://") + "ws") as page:
            deadline = time.monotonic() + 4.0
            while time.monotonic() < deadline:
                message = json.loads(page.recv(timeout=2.0))
                if message["topic"] == "pose":
                    seen[message["person_id"]].add(message["frame_id"])
    finally:
        server.stop()
        camera.close()
    frames = set().union(*seen.values())
    first, last = min(frames) + 1, max(frames) - 1  # the edges: joined or left mid-frame
    whole = set(range(first, last + 1))
    assert len(whole) >= 60  # about 4 s at 30 fps
    for person_id, got in seen.items():
        missing = whole - got
        # a page reading as fast as this one skips nothing; on a starved machine (CI beside a headless
        # Chromium: 10 of 96 in bursts) the newest-pose slots skip some. One slot for all lost about half.
        assert len(missing) <= 0.2 * len(whole), f"person {person_id} missed {len(missing)} of {len(whole)} frames"

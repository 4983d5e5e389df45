"""No network at run time: MediaPipe's usage uploads go nowhere, posecast's own download still
goes through the user's proxy (``engines/uploads.py``).

A loopback listener stands in for a proxy and records what arrives (an HTTPS client through a
proxy starts with ``CONNECT host:443``); nothing here leaves the machine.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from posecast.engines import assets, uploads


class Listener:
    """A loopback TCP port that records the first bytes of every connection, then closes it."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(5)
                try:
                    self.received.append(connection.recv(4096))
                except OSError:
                    self.received.append(b"")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._server.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


def _env_with_proxy(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "https_proxy", "all_proxy")}
    env["https_proxy"] = env["HTTPS_PROXY"] = url
    return env


_LANDMARKER_CLOSES = """
import sys
import mediapipe as mp
import numpy as np
from mediapipe.tasks.python import BaseOptions, vision
options = vision.PoseLandmarkerOptions(base_options=BaseOptions(model_asset_path=sys.argv[1]),
                                       running_mode=vision.RunningMode.VIDEO)
landmarker = vision.PoseLandmarker.create_from_options(options)
landmarker.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.zeros((64, 64, 3), np.uint8)), 0)
landmarker.close()
"""


def test_the_premise_mediapipe_uploads_through_https_proxy(listener, pose_model_path: Path) -> None:
    """The installed MediaPipe, left alone, posts to Google's log endpoint when a landmarker closes,
    and takes ``https_proxy``. If this fails after a MediaPipe upgrade, re-check engines/uploads.py."""
    done = subprocess.run([sys.executable, "-c", _LANDMARKER_CLOSES, str(pose_model_path)], capture_output=True,
                          text=True, timeout=120, env=_env_with_proxy(listener.url))  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert any(r.startswith(f"CONNECT {uploads.UPLOAD_HOST}:443".encode()) for r in listener.received), (
        f"MediaPipe sent no upload through https_proxy (received {listener.received!r})")


def test_posecast_run_keeps_mediapipes_upload_off_the_users_proxy(listener, media_dir, pose_model_path) -> None:
    """The same upload under ``posecast run`` reaches neither the proxy it inherited nor anything else."""
    done = subprocess.run([sys.executable, "-m", "posecast.realtime.cli", "run", "--headless", "--source",
                           str(media_dir / "dance_576.mp4"), "--frames", "3", "--publish", "none"],
                          capture_output=True, text=True, timeout=180, env=_env_with_proxy(listener.url))  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert listener.received == []


def test_block_points_https_at_a_port_that_refuses(monkeypatch) -> None:
    monkeypatch.setenv("https_proxy", "http://proxy.example:3128")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    dead = uploads.block_native_uploads()
    assert os.environ["https_proxy"] == os.environ["HTTPS_PROXY"] == dead
    assert uploads.block_native_uploads() == dead  # idempotent
    assert uploads.user_proxies()["https"] == "http://proxy.example:3128"
    host, port = dead.removeprefix("http://").split(":")
    with pytest.raises(ConnectionRefusedError), socket.create_connection((host, int(port)), timeout=5):
        pass


def test_the_asset_download_still_uses_the_users_proxy(listener, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("https_proxy", listener.url)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    uploads.block_native_uploads()
    with pytest.raises(OSError):  # the stand-in proxy hangs up
        assets._download_to_temp("https://assets.example/model.task", tmp_path, [], "model", None)
    assert len(listener.received) == 1 and listener.received[0].startswith(b"CONNECT assets.example:443 ")


def test_a_no_proxy_that_exempts_the_upload_host_is_named(monkeypatch, caplog) -> None:
    monkeypatch.setenv("no_proxy", "localhost,.googleapis.com")
    monkeypatch.setenv("https_proxy", "http://proxy.example:3128")  # not the dead one: the check runs again
    with caplog.at_level(logging.WARNING, logger="posecast.engines.uploads"):
        uploads.block_native_uploads()
    assert "no_proxy exempts play.googleapis.com" in caplog.text


def test_once_the_environment_is_changed_back_its_proxies_are_the_users(monkeypatch) -> None:
    """A program that sets its own proxy after blocking gets its own for posecast's download too
    (a stale copy from the block sent a later download to a proxy that no longer existed)."""
    monkeypatch.setenv("https_proxy", "http://proxy.example:3128")
    uploads.block_native_uploads()
    monkeypatch.setenv("https_proxy", "http://other.example:8080")
    assert uploads.user_proxies()["https"] == "http://other.example:8080"


def test_onnxruntimes_own_telemetry_is_off_in_posecast_run(media_dir: Path, pose_model_path: Path) -> None:
    """Ops QA: onnxruntime 1.32 keeps telemetry of its own; where HOME cannot be written (a service
    with ProtectHome, a read-only container) every start logged its failure to persist a device id,
    in colour codes, into the service's log. The command turns it off before onnxruntime loads."""
    env = {k: v for k, v in os.environ.items() if k != uploads.ORT_TELEMETRY_VARIABLE}
    env["HOME"] = "/dev/null"  # nothing can be written under it
    run = subprocess.run([sys.executable, "-m", "posecast.realtime.cli", "run", "--source",
                          str(media_dir / "dance_576.mp4"), "--headless", "--publish", "none", "--frames", "2",
                          "--model-asset", str(pose_model_path)], capture_output=True, text=True, timeout=300,
                         env=env)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "\x1b" not in run.stderr and "telemetry" not in run.stderr, run.stderr

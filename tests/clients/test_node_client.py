"""The Node.js client (clients/node/) against a live Python publisher: real ZeroMQ sockets on
loopback, the real npm ``zeromq`` and ``@msgpack/msgpack`` packages, compared frame by frame
with the Python client (:class:`posecast.realtime.listen.Subscriber`) on the same stream."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from posecast.realtime.schema import MetaMessage, PoseMessage
from posecast.realtime.sinks.zmq import Publisher, PublisherOptions
from posecast.realtime.subscriber import Subscriber

NODE_DIR = Path(__file__).resolve().parents[2] / "clients" / "node"
LISTEN_JS = NODE_DIR / "bin" / "posecast-listen.js"
NODE = shutil.which("node")
NPM = shutil.which("npm")

pytestmark = pytest.mark.skipif(
    NODE is None or NPM is None, reason="node and npm not installed (Debian: apt-get install -y nodejs npm)"
)


@pytest.fixture(scope="module")
def node_client() -> Path:
    """clients/node with its npm packages installed (``npm ci`` from the lock file when absent)."""
    if not (NODE_DIR / "node_modules" / "zeromq").is_dir():
        npm_ci = [NPM, "ci", "--no-audit", "--no-fund"]
        subprocess.run(npm_ci, cwd=NODE_DIR, check=True, capture_output=True, timeout=600)
    return NODE_DIR


def make_pose(frame_id: int) -> PoseMessage:
    rng = np.random.default_rng(frame_id)
    joints = rng.normal(size=(17, 3)).astype(np.float32) + np.float32([0, 0, 3])
    tracking = ("tracking", "warming", "lost")[frame_id % 3]
    return PoseMessage(
        frame_id=frame_id,
        capture_ns=time.monotonic_ns(),
        tracking=tracking,
        joints_m=joints,
        confidence=rng.uniform(size=17).astype(np.float32),
        root_m=joints[0].copy(),
        latency_ms={"keypoints2d": float(rng.uniform(10, 30)), "lifter": 1.25},
    )


def test_node_unit_tests(node_client: Path) -> None:
    """The package's own schema tests (node --test): v1, v2 with person_id, newer versions,
    every bad field named, exact 64-bit timestamps."""
    result = subprocess.run([NODE, "--test", "test/"], cwd=node_client, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout


def test_node_client_decodes_the_same_frames_as_python(node_client: Path, tmp_path: Path) -> None:
    count = 40
    publisher = Publisher(PublisherOptions(address="tcp://127.0.0.1:0"), assumptions={"height_m": 1.7, "assumed": True})
    address = publisher.address
    out_path, err_path = tmp_path / "node.jsonl", tmp_path / "node.err"
    with open(out_path, "wb") as out_file, open(err_path, "wb") as err_file:  # files: a pipe could fill up
        node = subprocess.Popen(
            [NODE, str(LISTEN_JS), "--address", address, "--count", str(count), "--timeout", "30"],
            stdout=out_file,
            stderr=err_file,
        )
    python_poses: dict[int, PoseMessage] = {}
    python_meta: list[MetaMessage] = []
    stop = threading.Event()

    def publish() -> None:
        frame_id = 0
        while not stop.is_set() and frame_id < 20_000:
            publisher.publish(make_pose(frame_id))
            frame_id += 1
            time.sleep(0.005)

    thread = threading.Thread(target=publish, daemon=True)
    try:
        with Subscriber(address) as subscriber:
            thread.start()
            deadline = time.monotonic() + 60
            while node.poll() is None and time.monotonic() < deadline:
                message = subscriber.recv(timeout_s=0.5)
                if isinstance(message, PoseMessage):
                    python_poses[message.frame_id] = message
                elif isinstance(message, MetaMessage):
                    python_meta.append(message)
            node.wait(timeout=30)
    finally:
        stop.set()
        thread.join(timeout=10)
        if node.poll() is None:
            node.kill()
        publisher.close()
    assert node.returncode == 0, err_path.read_text()

    lines = [json.loads(line) for line in out_path.read_text().splitlines()]
    node_poses = [m for m in lines if m["topic"] == "pose"]
    node_meta = [m for m in lines if m["topic"] == "meta"]
    assert len(node_poses) == count
    assert node_meta, "the node client saw no meta message (sent on subscribe and every second)"
    meta = python_meta[0]
    assert node_meta[0]["joint_names"] == list(meta.joint_names)
    assert node_meta[0]["parents"] == list(meta.parents)
    assert node_meta[0]["assumptions"] == meta.assumptions

    common = [m for m in node_poses if m["frame_id"] in python_poses]
    assert len(common) >= count // 2, f"only {len(common)} of the node client's frames reached the Python client"
    for m in common:
        py = python_poses[m["frame_id"]]
        truth = make_pose(m["frame_id"])  # same seed: the values that were sent
        scalars = ("capture_ns", "publish_ns", "publish_unix_ns", "tracking", "schema_version", "frame", "latency_ms")
        for name in scalars:
            expected = getattr(py, name)
            assert m[name] == expected, (name, m[name], expected)
        for name in ("joints_m", "confidence", "root_m"):
            node_values = np.asarray(m[name], np.float64)
            np.testing.assert_array_equal(node_values.astype(np.float32), getattr(py, name), err_msg=name)
            np.testing.assert_array_equal(node_values, getattr(py, name).astype(np.float64), err_msg=name)
            np.testing.assert_array_equal(getattr(py, name), getattr(truth, name), err_msg=name)
        assert m["tracking"] == truth.tracking
    # 64-bit wall-clock nanoseconds survive exactly (beyond 2**53, where a JS Number would round)
    assert all(m["publish_unix_ns"] > 2**53 for m in common)

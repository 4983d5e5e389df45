"""``posecast run --vmc`` end to end: real MediaPipe and the shipped lifter on a real clip, the
ZeroMQ stream in Unity's frame (``--frame unity``) and the VMC output side by side. A real OSC
receiver in another process rebuilds every VMC frame by forward kinematics; each must match the
ZeroMQ message of the same frame within 1 mm. The meta carries the floor, the poses the root
height and the foot contacts."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import msgpack
import numpy as np
import pytest
import zmq
from posecast.realtime.cli import main
from vmc_osc_receiver import start_receiver


@pytest.mark.slow
def test_run_with_vmc_matches_the_zeromq_stream(media_dir: Path, pose_model_path: Path, free_port) -> None:
    frames = 90  # 3 s of the dance clip at 30 fps: the floor is fixed after 2 s of poses
    address = f"tcp://127.0.0.1:{free_port(socket.SOCK_STREAM)}"
    poses: list[dict] = []
    metas: list[dict] = []
    done = threading.Event()

    def subscribe() -> None:
        sub = zmq.Context.instance().socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.connect(address)
        sub.subscribe(b"")
        while not done.is_set() or sub.poll(200):
            if sub.poll(100):
                topic, payload = sub.recv_multipart()
                (poses if topic == b"pose" else metas).append(msgpack.unpackb(payload))
        sub.close()

    with start_receiver() as start:
        port, collect = start(frames, timeout_s=120)
        thread = threading.Thread(target=subscribe, daemon=True)
        thread.start()
        code = main(["run", "--source", str(media_dir / "dance_576.mp4"), "--headless", "--frames", str(frames),
                     "--model-asset", str(pose_model_path), "--publish", address, "--frame", "unity",
                     "--vmc", f"127.0.0.1:{port}"])  # fmt: skip
        done.set()
        thread.join(timeout=10)
        got = collect()
    assert code == 0 and got["errors"] == []
    vmc = {round(t * 30): f for t, f in got["frames"].items()}  # T is the stream's clock: frame / 30 fps
    assert len(vmc) == frames
    tracked = [p for p in poses if p["tracking"] != "lost" and "frame_pose" in p]
    assert len(tracked) > 60
    for pose in tracked:
        frame = vmc[pose["frame_id"]]
        assert frame["ok"] == (1, 3, 0, 1)
        assert pose["frame_pose"]["frame"] == "unity" and pose["frame_pose"]["units"] == "m"
        # the same frame, two outputs: the VMC avatar and the ZeroMQ pose in Unity's axes
        assert np.abs(frame["joints"] - np.asarray(pose["frame_pose"]["joints"])).max() < 1e-3
        assert len(pose["foot_contact"]) == 2 and 0.5 < pose["root_height_m"] < 1.3
    floors = [m["assumptions"]["floor"] for m in metas if "floor" in m["assumptions"]]
    assert floors and floors[-1]["state"] == "estimated"
    assert np.asarray(floors[-1]["camera_to_world"]).shape == (4, 4)
    assert metas[-1]["assumptions"]["output_frame"]["handedness"] == "left"

"""``posecast run --vmc`` end to end: real MediaPipe and the shipped lifter on a real clip, the
ZeroMQ stream in Unity's frame (``--frame unity``) and the VMC output side by side. A real OSC
receiver in another process rebuilds every VMC frame by forward kinematics; each must match the
ZeroMQ message of the same frame within 1 mm. The meta carries the floor, the poses the root
height and the foot contacts. Frame to frame, both outputs keep every quaternion in the last one's
hemisphere, and the dancer's nearly straight arm does not spin about itself (its twist turned
52 degrees a frame, twice, and back)."""

from __future__ import annotations

import logging
import socket
import threading
from pathlib import Path

import msgpack
import numpy as np
import pytest
import zmq
from posecast.engines import frames as engine_frames
from posecast.engines import skeleton
from posecast.realtime.cli import main
from scipy.spatial.transform import Rotation
from vmc_osc_receiver import start_receiver


def twist_steps_deg(local: np.ndarray, joint: str) -> np.ndarray:
    """How far the bone ending at ``joint`` turns about itself from frame to frame (degrees),
    from consecutive frames' local rotations ``(F, 17, 4)`` in Unity's frame."""
    chain = [skeleton.JOINT_INDEX[joint]]
    while skeleton.PARENTS[chain[-1]] >= 0:
        chain.append(skeleton.PARENTS[chain[-1]])
    world = Rotation.from_quat(local[:, chain[-1]])
    for j in reversed(chain[:-1]):
        world = world * Rotation.from_quat(local[:, j])
    step = (world[:-1].inv() * world[1:]).as_quat()
    along = engine_frames.get_frame("unity").rest_directions[skeleton.JOINT_INDEX[joint]]
    return np.degrees(np.abs(2 * np.arctan2(step[:, :3] @ along, np.abs(step[:, 3]))))


@pytest.mark.slow
def test_run_with_vmc_matches_the_zeromq_stream(media_dir: Path, pose_model_path: Path, free_port,
                                                caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
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
        with caplog.at_level(logging.INFO, "posecast"):
            code = main(["run", "--source", str(media_dir / "dance_576.mp4"), "--headless", "--frames", str(frames),
                         "--model-asset", str(pose_model_path), "--publish", address, "--frame", "unity",
                         "--vmc", f"127.0.0.1:{port}"])  # fmt: skip
        done.set()
        thread.join(timeout=10)
        got = collect()
    assert code == 0 and got["errors"] == []
    # the log says where the avatar goes (UDP tells nothing back), and so does the run's summary
    assert f"driving an avatar over VMC to 127.0.0.1:{port}" in caplog.text
    assert f"VMC to 127.0.0.1:{port};" in caplog.text
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
    # the same rotation as q or -q: each output stays in one hemisphere (a receiver lerping
    # components turned the long way round 7 times in these frames)
    local = np.array([p["frame_pose"]["rotations"] for p in tracked])
    assert [p["frame_id"] for p in tracked] == list(range(tracked[0]["frame_id"], tracked[-1]["frame_id"] + 1))
    assert (np.sum(local[1:] * local[:-1], axis=-1) >= 0).all()
    sent = [vmc[i]["rotations"] for i in sorted(vmc) if vmc[i]["rotations"]]
    for bone in sent[0]:
        quats = np.array([s[bone] for s in sent])
        assert (np.sum(quats[1:] * quats[:-1], axis=-1) >= 0).all(), bone
    # the upper arms, nearly straight at times, turn about themselves at most 35 deg a frame
    for elbow in ("l_elbow", "r_elbow"):
        assert twist_steps_deg(local, elbow).max() < 35, elbow
    floors = [m["assumptions"]["floor"] for m in metas if "floor" in m["assumptions"]]
    assert floors and floors[-1]["state"] == "estimated"
    assert np.asarray(floors[-1]["camera_to_world"]).shape == (4, 4)
    assert metas[-1]["assumptions"]["output_frame"]["handedness"] == "left"

"""Record, replay and export a take: a real CMU run seen by a virtual camera goes through the
recording sink (on its own thread, as in ``posecast run --record``), is replayed through the
real ZeroMQ output to a real subscriber, exported to BVH (read back by the BVH parser and by
real Blender) and to the ``posecast lift`` input (lifted again by the real lifter)."""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import itertools
import json
import logging
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from posecast.calibration import CameraIntrinsics
from posecast.calibration import floor as floors
from posecast.engines import frames as engine_frames
from posecast.engines import rotations as rot
from posecast.engines import skeleton
from posecast.engines.bvh_export import hierarchy
from posecast.engines.training.data.bvh import load_bvh_joints, parse_bvh
from posecast.realtime.avatar import AvatarFrame, AvatarOptions, AvatarWorld, pose_fields
from posecast.realtime.commands import export as export_command
from posecast.realtime.commands import replay as replay_command
from posecast.realtime.recording import RecordingError, read_recording
from posecast.realtime.recording.arrays import write_lift_input
from posecast.realtime.recording.export import export_bvh
from posecast.realtime.recording.export import floor_from_feet as export_floor_from_feet
from posecast.realtime.recording.replay import Replay, ReplayOptions
from posecast.realtime.schema import MetaMessage, PoseMessage, decode_pose, encode_pose_message
from posecast.realtime.sinks.background import BackgroundSink
from posecast.realtime.sinks.record import RecordOptions, RecordSink
from posecast.realtime.sinks.zmq import PublisherOptions, ZmqSink
from posecast.realtime.subscriber import Subscriber
from posecast.realtime.types import PersonPose, PoseFrame, StreamMeta
from scipy.spatial.transform import Rotation
from stream_reader import poses_received

CMU = Path(__file__).resolve().parents[1] / "fixtures" / "cmu"
BLENDER = shutil.which("blender")
BLENDER_SCRIPT = Path(__file__).resolve().parents[1] / "engines" / "blender_read_bvh.py"
K = CameraIntrinsics(width=1280, height=720, fx=900.0, fy=900.0, cx=640.0, cy=360.0)
LOST = range(20, 24)  # frames where the person is lost
#: The virtual camera: 1.6 m above the floor, looking 12 degrees down, the run ~4.5 m ahead.
CAMERA_TO_WORLD = floors.camera_to_world(floors.floor_from_camera_pose(1.6, 12.0), np.array([-2.1, 0.6, 4.5]))


class Take:
    """The run in world and camera frames, its frames as the pipeline would make them."""

    def __init__(self, ankle_confidence: float = 0.9) -> None:
        self.ankle_confidence = ankle_confidence
        joints, _ = load_bvh_joints(CMU / "09_01.bvh")
        joints = joints[::4]  # 120 -> 30 fps
        joints = joints - joints[0, skeleton.ROOT] * np.array([1.0, 0.0, 1.0])  # start above the world origin
        run = joints[-1, skeleton.ROOT] - joints[0, skeleton.ROOT]
        angle = np.arctan2(run[2], run[0])  # turn about y so that the run goes across the view (+x)
        turn = np.array([[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]])
        joints = joints @ turn.T
        self.lengths = np.median(skeleton.bone_lengths(joints), axis=0)
        self.world = rot.joints_to_rotations(joints, self.lengths).joints()  # constant bone lengths, as published
        r, t = CAMERA_TO_WORLD[:3, :3], CAMERA_TO_WORLD[:3, 3]
        self.camera = (self.world - t) @ r  # p_cam = R^T (p_world - t)
        assert self.camera[..., 2].min() > 1.0, "the run must stay in front of the camera"
        uv = self.camera[..., :2] / self.camera[..., 2:]
        self.pixels = (uv * [K.fx, K.fy] + [K.cx, K.cy]).astype(np.float32)
        self.fps = 30.0
        self.frame_lengths = np.tile(self.lengths, (len(self.camera), 1))  # the bone lengths each frame published

    def frames(self) -> list[PoseFrame]:
        out, t0 = [], time.monotonic_ns()
        for i in range(len(self.camera)):
            capture = t0 + int(i * 1e9 / self.fps)
            if i in LOST:
                person = PersonPose.lost(0)
            else:
                j = self.camera[i].astype(np.float32)
                confidence = np.full(17, 0.9, np.float32)
                confidence[[skeleton.JOINT_INDEX["l_ankle"], skeleton.JOINT_INDEX["r_ankle"]]] = self.ankle_confidence
                person = PersonPose(0, "warming" if i < 5 else "tracking", self.pixels[i], confidence,
                                    joints_m=j, joints_rel_m=j - j[0], root_m=j[0].copy(),
                                    bone_lengths_m=self.frame_lengths[i].astype(np.float32))  # fmt: skip
            out.append(PoseFrame(i, capture, capture, (K.width, K.height), [person],
                                 stage_ns={"keypoints2d": 17_000_000, "lift": 800_000}))  # fmt: skip
        return out

    def meta(self, with_floor: bool = True) -> StreamMeta:
        assumptions = {"height_m": float(skeleton.height_from_bone_lengths(self.lengths)), "height_assumed": False}
        if with_floor:
            assumptions["floor"] = {"state": "estimated", "camera_to_world": CAMERA_TO_WORLD.tolist()}
        return StreamMeta(assumptions=assumptions, intrinsics=K, source_fps=self.fps)


@pytest.fixture(scope="module")
def take() -> Take:
    return Take()


def record(take: Take, path: Path, with_floor: bool = True, zmq_sink: ZmqSink | None = None) -> None:
    """Run the take's frames through the recording sink (threaded, as the pipeline does) and,
    beside it, an optional ZeroMQ output (then one frame every 10 ms, a live pace)."""
    sinks = [BackgroundSink(RecordSink(RecordOptions(path)))] + ([zmq_sink] if zmq_sink else [])
    for sink in sinks:
        sink.open(take.meta(with_floor))
    for frame in take.frames():
        for sink in sinks:
            sink.write(frame)
        if zmq_sink is not None:
            time.sleep(0.01)
    for sink in sinks:
        sink.close()


@pytest.fixture(scope="module")
def take_file(take: Take, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("take") / "run.posecast"
    record(take, path)
    return path


def test_recorded_messages_are_what_the_zeromq_output_sends(take: Take, tmp_path: Path) -> None:
    sink = ZmqSink(PublisherOptions(address="tcp://127.0.0.1:0"))
    with Subscriber(sink.address) as subscriber:
        while subscriber.recv(timeout_s=0.2) is None:  # until connected: meta comes on subscribing
            sink.publisher.meta_if_due()
        with poses_received(subscriber) as received:
            record(take, tmp_path / "both.posecast", zmq_sink=sink)
            time.sleep(0.3)
    recorded = {
        m.frame_id: m for f in read_recording(tmp_path / "both.posecast").frames for m in map(decode_pose, f.poses)
    }
    assert sorted(recorded) == list(range(len(take.camera)))
    assert len(received) >= 0.9 * len(recorded)
    for frame_id, sent in received.items():
        kept = recorded[frame_id]
        for name in ("person_id", "capture_ns", "tracking", "frame", "latency_ms", "schema_version"):
            assert getattr(kept, name) == getattr(sent, name), name
        for name in ("joints_m", "confidence", "root_m"):
            np.testing.assert_array_equal(getattr(kept, name), getattr(sent, name))


def test_replay_republishes_every_frame_at_the_recorded_pace(take: Take, take_file: Path, free_port) -> None:
    port = free_port()
    args = argparse.Namespace(recording=take_file, speed=3.0, loop=False, wait=1.0, publish=f"tcp://127.0.0.1:{port}")
    received: list[PoseMessage] = []
    with Subscriber(f"tcp://127.0.0.1:{port}") as subscriber:
        thread = threading.Thread(target=replay_command.replay, args=(args,))
        thread.start()
        while thread.is_alive():
            message = subscriber.recv(timeout_s=0.1)
            if isinstance(message, PoseMessage):
                received.append(message)
        thread.join()
        while (message := subscriber.recv(timeout_s=0.3)) is not None:
            if isinstance(message, PoseMessage):
                received.append(message)
    frames = len(take.camera)
    sent_over_s = (received[-1].publish_ns - received[0].publish_ns) / 1e9
    span = received[-1].frame_id - received[0].frame_id
    assert sent_over_s >= 0.95 * span / take.fps / 3.0  # never faster than the pace asked for
    assert len(received) >= 0.9 * frames
    ids = [m.frame_id for m in received]
    assert ids == sorted(ids) and ids[-1] == frames - 1
    for m in received:
        assert m.person_id == 0
        if m.frame_id in LOST:
            assert m.tracking == "lost"
        else:
            np.testing.assert_array_equal(m.joints_m, take.camera[m.frame_id].astype(np.float32))
            assert m.latency_ms == pytest.approx({"keypoints2d": 17.0, "lift": 0.8})
            assert 0 <= m.publish_ns - m.capture_ns < 50e6  # the recorded latency, on this machine's clock


@contextlib.contextmanager
def _replaying(path: Path, port: int, wait_s: float) -> Iterator[None]:
    """``posecast replay PATH`` (3x its pace, waiting ``wait_s`` first) on a thread, publishing on
    ``port``, from its wait on (0.3 s in) to its end."""
    args = argparse.Namespace(recording=path, speed=3.0, loop=False, wait=wait_s, publish=f"tcp://127.0.0.1:{port}")
    thread = threading.Thread(target=replay_command.replay, args=(args,))
    thread.start()
    try:
        time.sleep(0.3)  # replay is waiting now
        yield
    finally:
        thread.join()


def test_a_subscriber_who_joins_while_replay_waits_gets_the_meta_at_once(take_file: Path, free_port) -> None:
    """`--wait` is there for subscribers to join: one who joins then gets the meta when it
    subscribes and every second, as from `posecast run` (nothing came until the first frame, and
    `listen` said nobody was publishing)."""
    port = free_port()
    with _replaying(take_file, port, wait_s=2.5):
        metas = []
        with Subscriber(f"tcp://127.0.0.1:{port}") as subscriber:
            deadline = time.monotonic() + 2.0  # the wait ends 2.5 s after it began
            while time.monotonic() < deadline:
                message = subscriber.recv(timeout_s=0.1)
                assert not isinstance(message, PoseMessage)  # no pose before the wait is over
                if message is not None:
                    metas.append(time.monotonic())
    assert len(metas) >= 2 and metas[0] < deadline - 1.5  # at once on joining, then every second


def test_replay_says_a_bad_option_before_the_port_it_cannot_bind(take_file: Path, free_port,
                                                                 capsys: pytest.CaptureFixture) -> None:
    """Review: the publisher bound before the other outputs were built, so ``--vmc`` given twice
    while another posecast held the port was reported as the port in use, and a refused output
    left the port bound; as in ``run``, the address-claiming output is built last."""
    from posecast.realtime import cli
    from posecast.realtime.sinks.zmq import Publisher

    address = f"tcp://127.0.0.1:{free_port()}"
    given = ["replay", str(take_file), "--publish", address, "--vmc", "127.0.0.1:39539", "--vmc", "127.0.0.1:39540"]
    holder = Publisher(PublisherOptions(address=address))  # another posecast
    try:
        assert cli.main(given) == 2
    finally:
        holder.close()
    assert "--vmc given 2 times" in capsys.readouterr().err


def test_replay_opens_with_the_meta_of_the_take_s_first_frame(take: Take, tmp_path: Path, free_port) -> None:
    """A live run's first meta comes before its first image, without the intrinsics and the
    rate; the complete one comes with the first frame. QA: a replay handed its subscribers the
    first for the whole ``--wait`` (and again to each who joined then)."""
    path = tmp_path / "live.posecast"
    sink = BackgroundSink(RecordSink(RecordOptions(path)))
    complete = take.meta()
    complete = dataclasses.replace(complete, assumptions={**complete.assumptions, "fx": K.fx})  # as live
    early = {k: v for k, v in complete.assumptions.items() if k not in ("fx", "floor")}
    sink.open(dataclasses.replace(complete, assumptions=early, intrinsics=None, source_fps=0.0))  # before the image
    sink.update_meta(complete)
    for frame in take.frames()[:5]:
        sink.write(frame)
    sink.close()
    port = free_port()
    with _replaying(path, port, wait_s=1.5), Subscriber(f"tcp://127.0.0.1:{port}") as subscriber:
        meta = subscriber.recv(timeout_s=2.0)
        assert meta is not None and not isinstance(meta, PoseMessage)
    assert meta.source_fps == 30.0
    assert meta.assumptions["fx"] == pytest.approx(K.fx) and "floor" in meta.assumptions


def test_a_looped_replay_keeps_time_going_forwards_with_new_people(take: Take, tmp_path: Path) -> None:
    """frame_id and capture_ns never go back across a loop, though the take's first frame was
    slower to publish than its last (a model warming up: its capture went 11 ms back); each pass's
    people come with new ids."""
    from posecast.realtime.recording.format import RecordingWriter
    from posecast.realtime.recording.replay import Replay, ReplayOptions

    record(take, tmp_path / "run.posecast")
    frames = read_recording(tmp_path / "run.posecast").frames
    slow_first = tmp_path / "slow_first.posecast"
    writer = RecordingWriter(slow_first)
    for i, frame in enumerate(frames[:10]):
        capture_ns = frame.capture_ns - (30_000_000 if i == 0 else 0)  # 30 ms more latency
        poses = [encode_pose_message(dataclasses.replace(decode_pose(p), capture_ns=capture_ns)) for p in frame.poses]
        writer.write_frame(dataclasses.replace(frame, capture_ns=capture_ns, poses=poses))
    writer.close()
    replay = Replay(slow_first, ReplayOptions(speed=100.0, loop=True))
    sent = [frame for _, frame in itertools.islice(replay, 35)]
    assert [f.frame_id for f in sent] == sorted(f.frame_id for f in sent) and len({f.frame_id for f in sent}) == 35
    assert all(b.capture_ns > a.capture_ns for a, b in itertools.pairwise(sent))
    # each pass's person is a new one: an id is never reused in a run (QA: a looped take's person
    # jumped from their last pose to their first under the same id, and dropped ids came back)
    assert [f.people[-1].person_id for f in sent] == [0] * 10 + [1] * 10 + [2] * 10 + [3] * 5
    # ... and the one before is said to be gone when the next pass begins (review: the viewer drew
    # them, frozen, for 2 s)
    assert [[(p.person_id, p.tracking) for p in f.people[:-1]] for f in sent[9:12]] == [[], [(0, "lost")], []]


def record_live(take: Take, path: Path, options: AvatarOptions) -> list[AvatarFrame]:
    """The pipeline's last stages on the take: its avatar world (floor, filter, foot contacts),
    the meta stating the world as the pipeline does, and the recording sink on its thread."""
    world = AvatarWorld(options)
    base = take.meta(with_floor=False)
    sink = BackgroundSink(RecordSink(RecordOptions(path)))
    sink.open(dataclasses.replace(base, assumptions={**base.assumptions, **world.assumptions()}))
    stated, live = None, []
    for frame in take.frames():
        frame.world = world.process(frame)
        live.append(frame.world)
        if world.floor is not None and world.floor.state != stated:  # as the pipeline: when the state changes
            stated = world.floor.state
            sink.update_meta(dataclasses.replace(base, assumptions={**base.assumptions, **world.assumptions()}))
        sink.write(frame)
    sink.close()
    return live


def replayed_world(path: Path, speed: float, **arguments: object) -> tuple[list[AvatarFrame], StreamMeta | None]:
    """Replay ``path`` with ``posecast replay``'s avatar options (``floor``, ``floor_camera``,
    ``mirror`` as its parser gives them): every frame's world and the last meta."""
    args = argparse.Namespace(**{"floor": None, "floor_camera": None, "mirror": None, **arguments})
    replay = Replay(path, ReplayOptions(speed=speed))
    replay.world = AvatarWorld(replay_command.replay_avatar_options(args, replay.recorded_meta))
    out, last_meta = [], None
    for meta, frame in replay:
        out.append(frame.world)
        last_meta = meta
    return out, last_meta


@pytest.mark.parametrize("mirror", [False, True])
def test_replay_stands_the_people_on_the_floor_as_the_live_run_did(take: Take, tmp_path: Path, mirror: bool) -> None:
    """Root height, foot contacts and the engine frame's pose of a replay are the live run's,
    whatever the replay's speed (the avatar filter, floor and contacts run on the recorded clock);
    the live run's mirror comes back with the recording, ``--no-mirror`` undoes it."""
    live = record_live(take, tmp_path / "live.posecast", AvatarOptions(mirror=mirror))
    fast, meta = replayed_world(tmp_path / "live.posecast", speed=100.0)
    slow, _ = replayed_world(tmp_path / "live.posecast", speed=20.0)
    assert meta is not None and meta.assumptions["mirror"] is mirror
    assert meta.assumptions["floor"]["state"] == live[-1].floor.state == "estimating"  # a 1.5 s take
    # the floor as it stood when its state last changed (the pipeline states it then, not at each re-estimate)
    first_estimate = next(f.floor for f in live if f.floor is not None and f.floor.state == "estimating")
    np.testing.assert_allclose(meta.assumptions["floor"]["camera_to_world"], first_estimate.camera_to_world, atol=1e-6)
    contacts = []
    for frame_id, (was, fast_frame, slow_frame) in enumerate(zip(live, fast, slow, strict=True)):
        assert len(fast_frame.people) == len(was.people) == (0 if frame_id in LOST else 1)
        for again in (fast_frame, slow_frame):
            for person, replayed in zip(was.people, again.people, strict=True):
                np.testing.assert_allclose(replayed.joints_world_m, person.joints_world_m, atol=1e-5)
                assert replayed.root_height_m == pytest.approx(person.root_height_m, abs=1e-5)
                assert list(replayed.foot_contact) == list(person.foot_contact)
        if was.people:
            contacts.append(list(was.people[0].foot_contact))
            unity_live, unity_again = pose_fields(was, 0, "unity"), pose_fields(fast_frame, 0, "unity")
            np.testing.assert_allclose(unity_again["frame_pose"]["rotations"], unity_live["frame_pose"]["rotations"],
                                       atol=1e-4)  # fmt: skip
    assert [True, True] in contacts or [True, False] in contacts or [False, True] in contacts  # a run touches down
    # the recorded mirror undone: the left foot is where the right one was
    unmirrored, meta = replayed_world(tmp_path / "live.posecast", speed=100.0, mirror=False)
    assert meta.assumptions["mirror"] is False
    left, right = skeleton.JOINT_INDEX["l_ankle"], skeleton.JOINT_INDEX["r_ankle"]
    frame = len(take.camera) - 1
    if mirror:
        np.testing.assert_allclose(unmirrored[frame].people[0].joints_world_m[left] * [-1, 1, 1],
                                   live[frame].people[0].joints_world_m[right], atol=1e-5)  # fmt: skip
    else:
        np.testing.assert_allclose(unmirrored[frame].people[0].joints_world_m, live[frame].people[0].joints_world_m,
                                   atol=1e-5)  # fmt: skip


def test_replay_keeps_a_calibrated_floor_and_takes_a_new_one(take: Take, tmp_path: Path) -> None:
    """A live run on a calibrated floor replays on that floor; ``--floor-camera`` replaces it."""
    floor = floors.floor_from_camera_pose(1.6, 12.0)
    live = record_live(take, tmp_path / "calibrated.posecast", AvatarOptions(floor=floor))
    again, meta = replayed_world(tmp_path / "calibrated.posecast", speed=100.0)
    assert meta.assumptions["floor"]["state"] == "calibrated"
    for was, replayed in zip(live, again, strict=True):
        if was.people:
            assert replayed.people[0].root_height_m == pytest.approx(was.people[0].root_height_m, abs=1e-5)
    lower, meta = replayed_world(tmp_path / "calibrated.posecast", speed=100.0, floor_camera="1.3,12")
    assert meta.assumptions["floor"]["camera_height_m"] == pytest.approx(1.3)
    pairs = zip(live, lower, strict=True)
    dropped = [f.people[0].root_height_m - g.people[0].root_height_m for f, g in pairs if f.people]
    assert np.allclose(dropped, 0.3, atol=1e-3)  # the camera 30 cm lower: the floor 30 cm higher


def test_replay_publishes_the_avatar_fields(take: Take, tmp_path: Path, free_port) -> None:
    """``posecast replay --frame unity`` over real ZeroMQ: the engine frame's pose, root height
    and contacts in every tracked person's message, the floor and mirror in the meta."""
    record_live(take, tmp_path / "live.posecast", AvatarOptions())
    port = free_port()
    args = argparse.Namespace(recording=tmp_path / "live.posecast", speed=5.0, loop=False, wait=1.0,
                              publish=f"tcp://127.0.0.1:{port}", frame="unity", floor=None, floor_camera=None,
                              mirror=None)  # fmt: skip
    poses: list[PoseMessage] = []
    metas: list[MetaMessage] = []
    with Subscriber(f"tcp://127.0.0.1:{port}") as subscriber:
        thread = threading.Thread(target=replay_command.replay, args=(args,))
        thread.start()
        quiet = 0
        while thread.is_alive() or quiet < 3:  # then until 0.3 s pass without a message
            message = subscriber.recv(timeout_s=0.1)
            quiet = 0 if message is not None else quiet + 1
            if isinstance(message, PoseMessage):
                poses.append(message)
            elif isinstance(message, MetaMessage):
                metas.append(message)
        thread.join()
    tracked = [m for m in poses if m.tracking != "lost"]
    assert len(tracked) >= 0.9 * (len(take.camera) - len(LOST))
    for m in tracked:
        assert m.extra["frame_pose"]["frame"] == "unity" and np.isfinite(m.extra["frame_pose"]["rotations"]).all()
        assert 0.5 < m.extra["root_height_m"] < 1.5 and len(m.extra["foot_contact"]) == 2
    assert metas[-1].assumptions["floor"]["state"] == "estimating" and metas[-1].assumptions["mirror"] is False
    assert metas[-1].assumptions["output_frame"]["name"] == "unity"
    # stated when the floor's state changes, as live, not at each of its re-estimates (every 5 poses)
    assert len(metas) <= 4, [m.assumptions["floor"]["state"] for m in metas]


def test_bvh_export_is_within_a_millimetre_of_the_recording(take: Take, take_file: Path, tmp_path: Path) -> None:
    done = export_bvh(read_recording(take_file), tmp_path / "run.bvh")
    assert (done.frames, done.held, done.fps) == (len(take.camera), len(LOST), 30.0)
    assert done.floor_source == "published by the stream" and done.max_deviation_m < 1e-3
    assert done.frames_within_1mm == len(take.camera) - len(LOST)
    np.testing.assert_allclose(done.bone_lengths_m, take.lengths, atol=1e-6)
    motion = parse_bvh(tmp_path / "run.bvh")
    positions = motion.world_positions()
    posed = np.array([i not in LOST for i in range(len(take.camera))])
    worst = 0.0
    for k, joint in enumerate(hierarchy()):
        assert motion.names[k] == joint.name
        worst = max(worst, np.abs(positions[posed, k] - take.world[posed, joint.head_joint]).max())
        held = positions[LOST.start : LOST.stop, k]  # lost frames hold the last pose
        np.testing.assert_allclose(held, positions[[LOST.start - 1] * len(LOST), k], atol=1e-9)
    assert worst < 1e-3, f"{worst * 1000:.3f} mm"


def test_bvh_offsets_are_the_last_bone_lengths_the_pipeline_used(take: Take, tmp_path: Path) -> None:
    """Until frame 25 the person was published with a first live measurement's lengths (thighs 6 %
    long), then with a later measurement's (the take's own): the BVH, which has one set of
    lengths, takes the last ones, so every frame from 25 on is exact and the earlier ones are off
    by the thighs' difference (at the median of the lengths used, none would be exact)."""
    first = take.lengths.copy()
    thighs = [skeleton.BONE_NAMES.index(name) for name in ("r_hip-r_knee", "l_hip-l_knee")]
    first[thighs] *= 1.06
    changed = 25
    remeasured = copy.copy(take)
    world = take.world.copy()
    world[:changed] = rot.joints_to_rotations(take.world[:changed], first).joints()
    r, t = CAMERA_TO_WORLD[:3, :3], CAMERA_TO_WORLD[:3, 3]
    remeasured.camera = (world - t) @ r
    remeasured.frame_lengths = take.frame_lengths.copy()
    remeasured.frame_lengths[:changed] = first
    assert changed < len(take.camera) < 2 * changed  # most frames have the first lengths
    record(remeasured, tmp_path / "remeasured.posecast")
    done = export_bvh(read_recording(tmp_path / "remeasured.posecast"), tmp_path / "run.bvh")
    np.testing.assert_allclose(done.bone_lengths_m, take.lengths, atol=1e-6)
    assert done.frames_within_1mm == len(take.camera) - changed  # LOST lies before the change
    assert 0.01 < done.max_deviation_m < 0.05


def test_without_a_published_floor_legs_never_seen_give_no_floor(tmp_path: Path) -> None:
    """A take from a webcam at a desk: the ankles are MediaPipe's guess (confidence 0.1) in every
    frame. The export stands nobody on a floor made from them (it did; live never does): the floor
    is the assumed one, and it says so."""
    record(Take(ankle_confidence=0.1), tmp_path / "desk.posecast", with_floor=False)
    done = export_bvh(read_recording(tmp_path / "desk.posecast"), tmp_path / "run.bvh")
    assert done.floor_source == "assumed (no recorded frame saw both feet): a level camera 1.5 m up"
    positions = parse_bvh(tmp_path / "run.bvh").world_positions()
    np.testing.assert_allclose(positions[0, 0, [0, 2]], 0.0, atol=1e-6)  # origin below the first root all the same


def test_without_a_published_floor_feet_not_below_the_body_are_not_taken_and_a_steep_camera_s_are(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """As live: ankles the 2D detector folded up to the head (seen) give the export no floor: it
    stands the take on the assumed one and says why. A camera looking 38 degrees down gets its
    floor from the feet, held at the 35-degree limit and said (review: a floor at the limit was
    refused, and the take stood tilted 38 degrees on the assumed level camera)."""
    lengths = skeleton.bone_lengths_from_height(1.70)
    rest = rot.rest_pose(lengths)
    rest -= [0.0, rest[floors.ANKLES[0], 1] - floors.ANKLE_HEIGHT_FRACTION * 1.70, 0.0]  # standing on y = 0
    level = (np.repeat(rest[None], 60, axis=0) - [0.0, 1.2, 3.0]) * [1.0, -1.0, -1.0]  # a level camera 1.2 m up
    confidence, posed = np.ones((60, 17)), np.ones(60, bool)
    _, source = export_floor_from_feet(level, confidence, posed, lengths)
    assert source.startswith("estimated from the recorded feet (camera 1.20 m up")
    folded = level.copy()
    folded[:, list(floors.ANKLES)] = level[:, [skeleton.JOINT_INDEX["head"]]]
    _, source = export_floor_from_feet(folded, confidence, posed, lengths)
    assert source == "assumed (no recorded frame saw both feet below the hips): a level camera 1.5 m up"
    steep = level @ Rotation.from_euler("x", 38.0, degrees=True).as_matrix().T  # the camera looking 38 degrees down
    with caplog.at_level(logging.WARNING, "posecast"):
        transform, source = export_floor_from_feet(steep, confidence, posed, lengths)
    assert source == "estimated from the recorded feet (camera 1.04 m up, tilt 35.0 deg)"
    ankles_m = floors.to_world(steep[0, list(floors.ANKLES)], transform)[:, 1]
    np.testing.assert_allclose(ankles_m, floors.ANKLE_HEIGHT_FRACTION * 1.70, atol=1e-3)  # the feet on the floor
    assert [r.getMessage() for r in caplog.records] == [
        "the floor estimated from the recorded feet: held at its 35-degree limit from a level camera: a camera tilted "
        "or rolled further is not followed (the people lean by the rest; one looking down comes out too low)"]


def test_without_a_published_floor_the_feet_are_put_on_the_floor(take: Take, tmp_path: Path) -> None:
    record(take, tmp_path / "nofloor.posecast", with_floor=False)
    done = export_bvh(read_recording(tmp_path / "nofloor.posecast"), tmp_path / "run.bvh")
    assert done.floor_source.startswith("estimated from the recorded feet")
    positions = parse_bvh(tmp_path / "run.bvh").world_positions()
    names = [j.name for j in hierarchy()]
    lower_ankle = np.minimum(positions[:, names.index("LeftFoot"), 1], positions[:, names.index("RightFoot"), 1])
    height = skeleton.height_from_bone_lengths(take.lengths)
    assert np.quantile(lower_ankle, 0.2) == pytest.approx(floors.ANKLE_HEIGHT_FRACTION * height, abs=0.01)
    np.testing.assert_allclose(positions[0, 0, [0, 2]], 0.0, atol=1e-6)  # origin below the first root

    # the same motion as over the true floor: the body's mean direction within 3 degrees (1.4 measured)
    def mean_direction(vectors: np.ndarray) -> np.ndarray:
        mean = (vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)).mean(axis=0)
        return mean / np.linalg.norm(mean)

    exported = mean_direction(positions[:, names.index("Neck1")] - positions[:, 0])
    truth = mean_direction(take.world[:, skeleton.JOINT_INDEX["neck"]] - take.world[:, skeleton.ROOT])
    assert np.degrees(np.arccos(np.clip(exported @ truth, -1.0, 1.0))) < 3.0


@pytest.mark.skipif(BLENDER is None, reason="blender not installed (Debian: apt-get install -y blender)")
def test_real_blender_imports_the_exported_take(take: Take, take_file: Path, tmp_path: Path) -> None:
    export_bvh(read_recording(take_file), tmp_path / "run.bvh", frame="blender")
    command = [BLENDER, "-b", "--factory-startup", "--python-exit-code", "1", "--python", str(BLENDER_SCRIPT), "--",
               str(tmp_path / "run.bvh"), str(tmp_path / "out.json"), "Y", "Z"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    read = json.loads((tmp_path / "out.json").read_text())
    assert read["fps"] == pytest.approx(30.0, rel=1e-5) and len(read["frames"]) == len(take.camera)
    expected = engine_frames.positions_to_frame(take.world, engine_frames.get_frame("blender"))
    posed = [i for i in range(len(take.camera)) if i not in LOST]
    worst = max(np.abs(np.array([read["frames"][i][j.name] for i in posed]) - expected[posed, j.head_joint]).max()
                for j in hierarchy())  # fmt: skip
    assert worst < 1e-3, f"Blender {read['blender']}: {worst * 1000:.3f} mm"


def test_the_2d_is_the_lift_input_and_lifts_again(take: Take, take_file: Path, tmp_path: Path) -> None:
    from posecast.realtime.lifting import LifterOptions
    from posecast.realtime.offline import lift_file

    npz = write_lift_input(read_recording(take_file), tmp_path / "run_2d.npz")
    lifted = tmp_path / "run_3d.npz"
    height = skeleton.height_from_bone_lengths(take.lengths)
    assert lift_file(npz, lifted, height, LifterOptions()) == len(take.camera)
    with np.load(lifted) as out:
        joints = out["joints_3d"]
    posed = np.array([i not in LOST for i in range(len(take.camera))])
    assert np.isfinite(joints[posed]).all() and np.isnan(joints[~posed]).all()
    # the root placed from the recorded 2D and the subject's size lands near the true root (0.08 m measured)
    error = np.linalg.norm(joints[posed, 0] - take.camera[posed, 0], axis=-1)
    assert np.median(error) < 0.25, f"median root error {np.median(error):.2f} m"


def test_export_errors_are_one_line(take_file: Path, tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="nothing to export: pass --bvh"):
        export_command.export(argparse.Namespace(recording=take_file, bvh=None, lift_input=None, person=None))
    with pytest.raises(RecordingError, match=r"has no person 4: it has \[0\]"):
        export_bvh(read_recording(take_file), tmp_path / "x.bvh", person_id=4)
    assert not (tmp_path / "x.bvh").exists()

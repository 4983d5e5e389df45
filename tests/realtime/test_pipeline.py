"""End to end: real clips → real MediaPipe → shipped networks on ONNX Runtime → real ZeroMQ subscriber."""

from __future__ import annotations

import time
from pathlib import Path

import msgpack
import numpy as np
import pytest
import zmq
from posecast.engines import skeleton
from posecast.engines.runtime import DEFAULT_MODEL
from posecast.realtime.capture import open_source
from posecast.realtime.keypoints2d import Keypoints2DOptions
from posecast.realtime.pipeline import Pipeline, PipelineOptions
from posecast.realtime.publish import TOPIC_META, TOPIC_POSE, validate_pose_message
from posecast.realtime.types import Frame

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lifter_model() -> Path:
    if not DEFAULT_MODEL.is_file():
        pytest.fail(f"shipped model {DEFAULT_MODEL} is missing")
    return DEFAULT_MODEL


def _pipeline(pose_model_path: Path, **kwargs: object) -> Pipeline:
    options = PipelineOptions(
        keypoints=Keypoints2DOptions(model_path=pose_model_path, video_time=True),
        publish_address=kwargs.pop("publish_address", "tcp://127.0.0.1:0"),
        **kwargs,
    )
    return Pipeline(options)


def _subscribe(pipeline: Pipeline) -> zmq.Socket:
    """A raw SUB socket, connected and confirmed by a meta message (bounded wait, no sleeps)."""
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(pipeline.publisher.address)
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        pipeline.publisher.send_meta()
        if sub.poll(50):
            topic, _ = sub.recv_multipart()
            if topic == TOPIC_META:
                return sub
    raise AssertionError("subscriber never received a meta message")


def _run_clip(pipeline: Pipeline, sub: zmq.Socket, clip: Path) -> tuple[list, list[dict]]:
    results, messages = [], []
    with open_source(str(clip)) as source:
        for _, result in pipeline.run(source):
            results.append(result)
            # drain after each frame (the publisher's queue is a few messages deep by design)
            while sub.poll(200):
                topic, payload = sub.recv_multipart()
                if topic == TOPIC_POSE:
                    messages.append(msgpack.unpackb(payload))
                    break
    return results, messages


@pytest.mark.parametrize("clip_name", ["dance_576.mp4", "squats_720x1280.mp4"])
def test_clip_end_to_end(clip_name: str, media_dir: Path, pose_model_path: Path, lifter_model: Path) -> None:
    with _pipeline(pose_model_path) as pipeline:
        sub = _subscribe(pipeline)
        results, messages = _run_clip(pipeline, sub, media_dir / clip_name)
        sub.close()
    assert len(messages) == len(results) > 0
    posed = [m for m in messages if m["tracking"] != "lost"]
    assert len(posed) >= 0.95 * len(messages), f"pose in only {len(posed)}/{len(messages)} frames"
    for message in messages:
        validate_pose_message(message)
    ids = [m["frame_id"] for m in messages]
    assert all(b > a for a, b in zip(ids, ids[1:], strict=False)), "frame ids must increase"
    joints = np.array([m["joints_m"] for m in posed], dtype=np.float64)
    assert np.isfinite(joints).all()
    # metric and in front of the camera: a person 0.5–15 m away, pelvis-to-head 0.3–0.9 m
    root = np.array([m["root_m"] for m in posed])
    assert (root[:, 2] > 0.5).all() and (root[:, 2] < 15).all()
    torso = np.linalg.norm(joints[:, skeleton.HEAD] - joints[:, skeleton.ROOT], axis=-1)
    assert (torso > 0.3).all() and (torso < 0.9).all()
    # bone lengths constant within 1 % once the smoother has converged (2 s of video, + a frame or two)
    fps = 30.0 if clip_name.startswith("dance") else 5.0
    steady = joints[int(2.5 * fps) :]
    lengths = skeleton.bone_lengths(steady)
    spread = (lengths.max(0) - lengths.min(0)) / lengths.mean(0)
    assert spread.max() <= 0.01, f"bone length spread {spread.max():.4f}"
    # capture→publish latency is stamped on the same clock
    latency_ms = [(m["publish_ns"] - m["capture_ns"]) / 1e6 for m in messages]
    assert min(latency_ms) > 0


def test_no_person_gives_lost_and_resets(media_dir: Path, pose_model_path: Path, lifter_model: Path) -> None:
    with (
        _pipeline(pose_model_path, publish_address=None) as pipeline,
        open_source(str(media_dir / "dance_576.mp4")) as source,
    ):
        frames = [source.read() for _ in range(5)]
        for frame in frames:
            assert pipeline.process(frame).tracking in ("warming", "tracking")
        assert pipeline.metric.window.seen == 5
        black = Frame(99, time.monotonic_ns(), np.zeros_like(frames[0].image_bgr), 30.0)
        lost = pipeline.process(black)
        assert lost.tracking == "lost" and lost.joints_m is None
        assert pipeline.metric.window.seen == 0  # window reset: the next pose starts warming again
        again = pipeline.process(Frame(100, time.monotonic_ns(), frames[-1].image_bgr, 30.0))
        assert again.tracking == "warming"


def test_calibrated_subject_fixes_bone_lengths(
    tmp_path: Path, media_dir: Path, pose_model_path: Path, lifter_model: Path
) -> None:
    from posecast.calibration import SubjectProfile, save_subject

    profile = SubjectProfile.from_height(1.60, assumed=False)
    path = save_subject(profile, tmp_path / "subject.yaml")
    with (
        _pipeline(pose_model_path, publish_address=None, subject_path=path) as pipeline,
        open_source(str(media_dir / "squats_720x1280.mp4")) as source,
    ):
        results = [r for _, r in pipeline.run(source, max_frames=10) if r.joints_m is not None]
    assert results
    lengths = skeleton.bone_lengths(np.array([r.joints_rel_m for r in results]))
    np.testing.assert_allclose(lengths, np.broadcast_to(profile.as_array(), lengths.shape), rtol=1e-6)
    assert pipeline.assumptions()["height_assumed"] is False

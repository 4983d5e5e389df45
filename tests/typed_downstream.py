"""A typed program using posecast's public API as the README and the docstrings show it: type-checked
(never run) by ``tests/test_typed_api.py``, since posecast ships ``py.typed``."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from posecast.realtime.assemble import PipelineOptions, build_pipeline
from posecast.realtime.avatar import AvatarFrame
from posecast.realtime.detectors import DETECTORS, MediaPipeOptions
from posecast.realtime.lifting import LIFTINGS, LiftingOptions
from posecast.realtime.schema import PoseMessage
from posecast.realtime.sinks import RecordSink, ZmqSink
from posecast.realtime.sinks.record import RecordOptions
from posecast.realtime.sinks.zmq import PublisherOptions
from posecast.realtime.sources import VideoFileSource, open_source
from posecast.realtime.subscriber import Subscriber
from posecast.realtime.types import PoseFrame

if TYPE_CHECKING:
    from posecast.realtime.types import TrackedPersonPose


def head_m(person: TrackedPersonPose) -> np.ndarray:
    return np.asarray(person.joints_m[10], np.float64)


def world(frame: PoseFrame) -> AvatarFrame | None:
    return frame.world


def use(clip: str) -> None:
    with (
        build_pipeline(PipelineOptions(max_people=2)) as pipeline,
        open_source(clip) as source,
        contextlib.closing(pipeline.run(source, max_frames=3)) as frames,
    ):
        for frame in frames:
            for person in frame.tracked:
                print(person.person_id, person.joints_m[10], head_m(person), world(frame))
    with VideoFileSource(Path(clip)) as video:
        print(video.path)
    with ZmqSink(PublisherOptions("tcp://127.0.0.1:5555")) as sink:
        print(sink.address)
    print(RecordSink(RecordOptions("take.posecast")).output_files())
    print(LIFTINGS["metric"](LiftingOptions(intrinsics_path="camera.yaml", subject_path="subject.yaml")))
    print(DETECTORS["mediapipe"](MediaPipeOptions()))
    with Subscriber("tcp://127.0.0.1:5555", topics=[b"pose"]) as subscriber:
        message = subscriber.recv(timeout_s=0.1)
        if isinstance(message, PoseMessage):
            print(message.tracking == "tracking")

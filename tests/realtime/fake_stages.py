"""A 2D detector and a lifting stage that cost nothing, for tests of the real pipeline's other
parts (its outputs, its sources): nobody is seen, and one person is reported lost each frame."""

from __future__ import annotations

from posecast.engines.layouts import COCO_17
from posecast.realtime.stages import Detector2D, PoseLifting
from posecast.realtime.types import Detections2D, Frame, PersonPose


class Detector(Detector2D):
    name = "fake"
    layout = COCO_17

    def detect(self, frame: Frame) -> Detections2D:
        return Detections2D.empty(frame, self.layout)


class Lifting(PoseLifting):
    name = "fake"

    def process(self, detections, timestamp_ns, stage_ns=None):  # noqa: ANN001, ANN201
        return [PersonPose.lost(0)]

    def assumptions(self) -> dict:
        return {}

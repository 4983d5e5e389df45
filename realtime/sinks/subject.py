"""Collects what subject calibration needs: the lifting network's raw output, the 2D it was lifted
from and the 2D confidence."""

from __future__ import annotations

import numpy as np

from ..stages import Sink
from ..types import PoseFrame


class SubjectCollector(Sink):
    """Keeps, per frame with a pose, the first tracked person's raw lifted joints ``(17, 3)``
    (``joints_lifted``, before bone smoothing), normalised 2D ``(17, 2)`` (``keypoints_norm``)
    and confidence ``(17,)``, for :func:`posecast.calibration.subject_from_lifted`. Inline:
    three list appends."""

    name = "subject"
    inline = True

    def __init__(self) -> None:
        self.poses: list[np.ndarray] = []
        self.keypoints_norm: list[np.ndarray | None] = []
        self.confidences: list[np.ndarray] = []

    def write(self, frame: PoseFrame) -> None:
        for person in frame.tracked[:1]:
            self.poses.append(person.joints_lifted)
            self.keypoints_norm.append(person.keypoints_norm)
            self.confidences.append(person.confidence)

    @property
    def frames(self) -> int:
        return len(self.poses)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``(F, 17, 3)`` lifted poses, ``(F, 17)`` confidences and ``(F, 17, 2)`` normalised 2D
        (``None`` unless every frame has it: poses replayed from a recording do not)."""
        poses = np.array(self.poses).reshape(-1, 17, 3)
        confidences = np.array(self.confidences).reshape(-1, 17)
        if any(k is None for k in self.keypoints_norm):
            return poses, confidences, None
        return poses, confidences, np.array(self.keypoints_norm).reshape(-1, 17, 2)

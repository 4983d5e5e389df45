"""Collects what subject calibration needs: the lifting network's raw output and the 2D confidence."""

from __future__ import annotations

import numpy as np

from ..stages import Sink
from ..types import PoseFrame


class SubjectCollector(Sink):
    """Keeps, per frame with a pose, the first tracked person's raw lifted joints ``(17, 3)``
    (``joints_lifted``, before bone smoothing) and confidence ``(17,)``, for
    :func:`posecast.calibration.estimate_subject`. Inline: two list appends."""

    name = "subject"
    inline = True

    def __init__(self) -> None:
        self.poses: list[np.ndarray] = []
        self.confidences: list[np.ndarray] = []

    def write(self, frame: PoseFrame) -> None:
        for person in frame.tracked[:1]:
            self.poses.append(person.joints_lifted)
            self.confidences.append(person.confidence)

    @property
    def frames(self) -> int:
        return len(self.poses)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """``(F, 17, 3)`` lifted poses and ``(F, 17)`` confidences."""
        return np.array(self.poses).reshape(-1, 17, 3), np.array(self.confidences).reshape(-1, 17)

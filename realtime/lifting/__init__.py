"""2D → metric 3D (:class:`~posecast.realtime.stages.PoseLifting`), one state per tracked person.

``tracks`` (person ids) → ``window`` (causal 2D window) → ``lifter`` (the networks, batched over
people) → ``smoothing`` (bone lengths, One Euro; ``live_subject`` measures them from the first
seconds) → root placement; ``person`` holds one person's
state, ``metric`` wires them. To add another lifting method: a :class:`PoseLifting` subclass in
its own file and one line in :data:`LIFTINGS`.
"""

from __future__ import annotations

from ..stages import PoseLifting
from .lifter import Lifter3D, LifterOptions
from .live_subject import LiveSubjectOptions
from .metric import LiftingOptions, MetricPoseLifting
from .smoothing import BoneLengthSmootherOptions, OneEuroOptions
from .tracks import TrackerOptions

#: name → lifting class; the first is the default.
LIFTINGS: dict[str, type[PoseLifting]] = {
    "metric": MetricPoseLifting,
}

__all__ = [
    "LIFTINGS", "BoneLengthSmootherOptions", "Lifter3D", "LifterOptions", "LiftingOptions", "LiveSubjectOptions",
    "MetricPoseLifting", "OneEuroOptions", "PoseLifting", "TrackerOptions",
]  # fmt: skip

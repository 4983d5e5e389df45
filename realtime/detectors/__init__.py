"""2D detectors (:class:`~posecast.realtime.stages.Detector2D`): one file per detector.

To add one (e.g. RTMPose): write ``detectors/NAME.py`` with a :class:`Detector2D` subclass
whose ``layout`` is one of :mod:`posecast.engines.layouts` (COCO-17 is there) or a new layout
added there, returning :class:`~posecast.realtime.types.Detections2D`; give it
``add_arguments``/``from_args`` for its options; add one line to :data:`DETECTORS`.
``posecast run --detector NAME`` then uses it; nothing downstream changes (the lifting stage
maps any layout to posecast's 17 joints).
"""

from __future__ import annotations

import logging

from ..stages import Detector2D
from .mediapipe import MediaPipeDetector, MediaPipeOptions

#: name → detector class; the first is the default.
DETECTORS: dict[str, type[Detector2D]] = {
    "mediapipe": MediaPipeDetector,
}

__all__ = ["DETECTORS", "Detector2D", "MediaPipeDetector", "MediaPipeOptions", "warn_if_fewer_people"]

log = logging.getLogger(__name__)


def warn_if_fewer_people(detector: Detector2D, asked: int) -> None:
    """Log when ``detector`` finds fewer people than ``asked`` for (a detector without a
    ``max_people`` option finds one; QA: ``--max-people 3`` was ignored silently)."""
    if asked > detector.max_people:
        # (API QA: "finds at most 1" of a detector that found two, its max_people left as declared)
        log.warning("detector %s declares at most %d %s per frame (its max_people), fewer than the %d asked for "
                    "(--max-people): the tracker follows no more (give its options a max_people field: README, "
                    "Where to change what)", detector.name or type(detector).__name__, detector.max_people,
                    "person" if detector.max_people == 1 else "people", asked)  # fmt: skip

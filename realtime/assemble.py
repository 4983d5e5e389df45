"""Options → stages → :class:`Pipeline`, for code that is not the command line (tools, tests).

The cheap, likely-to-fail parts come first (the sinks are built by the caller: a port in use
fails before a model loads), then the lifting networks, then the 2D detector; whatever was
built is closed again when a later part fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .detectors import DETECTORS
from .detectors.mediapipe import MediaPipeOptions
from .errors import OptionsError
from .lifting import LIFTINGS, LiftingOptions
from .pipeline import Pipeline
from .stages import Sink


@dataclass
class PipelineOptions:
    """``detector``: a :data:`DETECTORS` name with its ``detector_options``; ``lifting``: the
    lifting stage's options; ``max_people`` (1..8): people per frame, for the detector and the
    tracker alike."""

    detector: str = "mediapipe"
    detector_options: MediaPipeOptions = field(default_factory=MediaPipeOptions)
    lifting: LiftingOptions = field(default_factory=LiftingOptions)
    max_people: int = 1

    def __post_init__(self) -> None:
        if self.detector not in DETECTORS:
            raise OptionsError(f"detector must be one of {', '.join(DETECTORS)}, got {self.detector!r}")
        if self.detector_options.max_people != self.max_people:
            self.detector_options = type(self.detector_options)(**{**vars(self.detector_options),
                                                                    "max_people": self.max_people})  # fmt: skip
        if self.lifting.tracker.max_people != self.max_people:
            tracker = type(self.lifting.tracker)(**{**vars(self.lifting.tracker), "max_people": self.max_people})
            self.lifting = type(self.lifting)(**{**vars(self.lifting), "tracker": tracker})


def build_pipeline(options: PipelineOptions | None = None, sinks: Sequence[Sink] = ()) -> Pipeline:
    """The pipeline for ``options`` writing to ``sinks`` (unopened: use ``with``)."""
    options = options or PipelineOptions()
    lifting = detector = None
    try:
        lifting = LIFTINGS["metric"](options.lifting)
        detector = DETECTORS[options.detector](options.detector_options)
    except BaseException:
        for stage in (*sinks, lifting):
            if stage is not None:
                stage.close()
        raise
    return Pipeline(detector, lifting, sinks)

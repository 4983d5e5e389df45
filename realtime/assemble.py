"""Options → stages → :class:`Pipeline`, for code that is not the command line (tools, tests).

The cheap, likely-to-fail parts come first (the sinks are built by the caller: a port in use
fails before a model loads), then the lifting networks, then the 2D detector; whatever was
built is closed again when a later part fails, the pipeline's own checks included, and so are the
outputs passed in (but one another open pipeline has: it is that pipeline's).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .avatar import AvatarOptions, AvatarWorld
from .detectors import DETECTORS, warn_if_fewer_people
from .errors import OptionsError
from .lifting import LIFTINGS, LiftingOptions
from .option_types import check_field_types
from .pipeline import Pipeline, output_of_an_open_pipeline
from .stages import Detector2D, PoseLifting, Sink

log = logging.getLogger(__name__)


@dataclass
class PipelineOptions:
    """``detector``: a :data:`DETECTORS` name with its ``detector_options`` (whatever its
    constructor takes; ``None``: its ``options_class()`` when it declares one, e.g.
    ``MediaPipeOptions``, else it is built with no argument);
    ``lifting_method``: a :data:`LIFTINGS` name, whose class is built with ``lifting``, the
    lifting stage's options; ``max_people`` (1..8): people per frame, for the
    tracker, and for the detector when its options have a ``max_people`` field; ``avatar``: the
    avatar stage's (the floor, ``PoseFrame.world``, what ``--frame`` and ``--vmc`` send, as
    ``posecast run`` always has it; ``None``: none)."""

    detector: str = "mediapipe"
    detector_options: Any = None
    lifting: LiftingOptions = field(default_factory=LiftingOptions)
    lifting_method: str = "metric"
    max_people: int = 1
    avatar: AvatarOptions | None = field(default_factory=AvatarOptions)

    def __post_init__(self) -> None:
        check_field_types(self)  # (QA: a string or a boolean went on to fail, or pass, somewhere else)
        if self.lifting_method not in LIFTINGS:  # (QA: one registered was never used: "metric" was built)
            raise OptionsError(f"lifting_method must be one of {', '.join(LIFTINGS)}, got {self.lifting_method!r}")
        if self.detector not in DETECTORS:
            raise OptionsError(f"detector must be one of {', '.join(DETECTORS)}, got {self.detector!r}")
        o, wanted = self.detector_options, DETECTORS[self.detector].options_class
        if o is None and wanted is not None:
            o = self.detector_options = wanted()
        if wanted is not None and not isinstance(o, wanted):  # (QA: {} failed inside MediaPipe's stage)
            raise OptionsError(f"detector_options for {self.detector} must be {wanted.__name__}, got {o!r}")
        if dataclasses.is_dataclass(o) and getattr(o, "max_people", self.max_people) != self.max_people:
            self.detector_options = dataclasses.replace(o, max_people=self.max_people)
        if self.lifting.tracker.max_people != self.max_people:
            tracker = type(self.lifting.tracker)(**{**vars(self.lifting.tracker), "max_people": self.max_people})
            self.lifting = type(self.lifting)(**{**vars(self.lifting), "tracker": tracker})


def build_pipeline(options: PipelineOptions | None = None, sinks: Sequence[Sink] = ()) -> Pipeline:
    """The pipeline for ``options`` writing to ``sinks`` (unopened: use ``with``)."""
    if options is not None and not isinstance(options, PipelineOptions):  # (QA: an AttributeError further on)
        raise TypeError(f"options must be PipelineOptions, got {type(options).__name__}")
    sinks = list(sinks)  # (API QA: a generator was used up by the check below, and no sink ran)
    if not all(isinstance(sink, Sink) for sink in sinks):  # (QA: [None] was taken)
        raise TypeError(f"sinks must be Sink objects, got {[type(sink).__name__ for sink in sinks]}")
    # checked again as they are now (API QA: max_people set after the options were made ran one
    # person, with advice to give the detector a field it has; "nope" as detector was a KeyError)
    options = dataclasses.replace(options) if options is not None else PipelineOptions()
    lifting = detector = None
    try:
        lifting = LIFTINGS[options.lifting_method](options.lifting)
        cls, detector_options = DETECTORS[options.detector], options.detector_options
        detector = cls() if detector_options is None else cls(detector_options)
        warn_if_fewer_people(detector, options.max_people)
        world = AvatarWorld(options.avatar) if options.avatar is not None else None
        for sink in sinks:  # an output with avatar options of its own takes the pipeline's world, as under run
            own = getattr(getattr(sink, "world", None), "options", None)
            if world is None or own is None:
                continue
            if own.mirror != world.options.mirror or own.floor is not world.options.floor:  # (a floor holds an array)
                log.warning("the %s output's avatar options (mirror, floor) give way to the pipeline's: pass them as "
                            "PipelineOptions(avatar=...)", getattr(sink, "name", type(sink).__name__))  # fmt: skip
    except BaseException:
        _close_built(sinks, lifting, detector)
        raise
    try:
        return Pipeline(detector, lifting, sinks, world)
    except BaseException:  # (a sink given twice, one of another open pipeline, too many people for the lifting)
        _close_built(sinks, lifting, detector)
        raise


def _close_built(sinks: Sequence[Sink], *stages: PoseLifting | Detector2D | None) -> None:
    """A build that failed: the outputs passed (each once; not one another open pipeline has, which
    is that pipeline's) and the stages built are closed before the exception goes on: its traceback
    holds them, a live MediaPipe landmarker and its thread among them, for as long as a host program
    keeps it (QA: a Ctrl-C at 0.3 s). An error closing one is not the one to report."""
    outputs = {id(sink): sink for sink in sinks if not output_of_an_open_pipeline(sink)}
    for stage in (*outputs.values(), *stages):
        if stage is not None:
            with contextlib.suppress(Exception):
                stage.close()

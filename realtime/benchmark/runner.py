"""Runs a benchmark: the clip, the baseline and every configuration, interleaved, then the paced
runs and the soak; returns every pass's log for :mod:`.analysis` to summarise.

Phases (one process, one subscriber process for all of them):

1. warm-up: ``warmup_frames`` through the baseline and each configuration, and more for a
   configuration until its floor is fixed (estimated over a stream's first 2 s); not in the
   latency figures, the configurations' kept as ``warmup``: the start-up;
2. latency: ``rounds`` rounds; in each, ``frames / rounds`` frames through MediaPipe alone,
   then the same frames through each configuration, unpaced: the baseline and posecast see the
   same images in the same minutes, so a busy neighbour slows both alike. Each pass starts with
   ``round_warmup_frames`` unrecorded frames (the clip's frames just before the round's): the
   pass before it ran the other MediaPipe instance for a second or more, a pause a live
   pipeline never has, and its first frame would measure that. After each recorded frame
   MediaPipe alone sends a bare message (its send time, 8 bytes) from a PUB socket of this
   process to the same subscriber process: ZeroMQ's own latency between the two under the same
   load, the baseline of publish → received;
3. throughput: the first configuration paced at each of ``paces_fps`` (a virtual camera that drops
   what the pipeline cannot take), ``frames`` frames each;
4. soak (``soak_minutes > 0``): the first configuration paced at ``soak_pace_fps`` for that long,
   looping the clip; :class:`SoakHook` s (e.g. stalled or cycling subscribers) run beside it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import zmq

from ...engines.errors import ModelError, PosecastError
from ...engines.runtime import BACKENDS
from ...engines.runtime.base import USE_ONNXRUNTIME
from ..avatar import AvatarOptions, AvatarWorld
from ..detectors.mediapipe import (
    DEFAULT_SEARCH_INTERVAL_S,
    MAX_PEOPLE,
    MODEL_VARIANTS,
    MediaPipeDetector,
    MediaPipeOptions,
)
from ..errors import OptionsError, SourceError
from ..lifting import LifterOptions, LiftingOptions, MetricPoseLifting, TrackerOptions
from ..pipeline import Pipeline
from ..sinks.zmq import PublisherOptions, ZmqSink
from .baseline import MediaPipeAlone
from .clip import Clip, ClipSource, load_clip
from .machine import ResourceSampler, load_average, others_busy_percent
from .passes import PassLog, baseline_pass, posecast_pass
from .receiver import Received, Receiver

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BenchConfig:
    """One posecast configuration: ``model`` (a path or shipped name; ``None``: the default),
    ``backend`` (a runtime backend name or ``auto``), ``int8`` (onnxruntime; ``None``: as the
    pipeline decides), ``threaded`` (2D on its own thread) or serial."""

    model: str | None = None
    backend: str = "auto"
    int8: bool | None = None
    threaded: bool = True

    @property
    def label(self) -> str:
        fixed = {"tensorrt": " fp16", "torch-cuda": " float"}  # their precision; int8 is onnxruntime's
        precision = fixed.get(self.backend) or {None: "", True: " int8", False: " float"}[self.int8]
        model = Path(self.model).stem if self.model and Path(self.model).suffix else (self.model or "default model")
        return f"{model}, {self.backend}{precision}, {'threaded' if self.threaded else 'serial'}"


class SoakHook(Protocol):
    """Something that runs beside the soak (a stalled subscriber, one that reconnects...):
    ``start(address)`` when the soak starts, ``stop() -> dict`` at its end (goes into the
    report under ``soak.hooks[name]``)."""

    name: str

    def start(self, address: str) -> None: ...

    def stop(self) -> dict: ...


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise OptionsError(f"{name} must be from {_number(low)} to {_number(high)}, got {_number(value)}")


def _number(value: float) -> str:
    """1000000 as ``1,000,000``, not ``1e+06``; fractions as they are."""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


@dataclass
class BenchOptions:
    """``source``: a video file, image folder or camera index; ``frames`` (10..1,000,000):
    frames measured per configuration in the latency phase and per paced run; ``rounds``
    (1..100) baseline/posecast alternations; ``warmup_frames`` (0..10,000): frames run first,
    not in the latency figures (then more until the floor is fixed; 0: no warm-up at all);
    ``round_warmup_frames`` (0..100): unrecorded frames before each pass of a round;
    ``paces_fps``: paced rates in fps (1..240 each; empty:
    no throughput phase); ``soak_minutes`` (0..1440) at ``soak_pace_fps``; ``landmarker``: the
    MediaPipe variant; ``max_people`` 1..8; ``people_search_s`` (0..3600): with ``max_people``
    above 1, seconds between looks for people not yet tracked (0: MediaPipe's own way, as
    MediaPipe alone runs); ``publish``: the ZeroMQ address (a free loopback port by default)."""

    source: str
    configs: list[BenchConfig] = field(default_factory=lambda: [BenchConfig()])
    frames: int = 360
    rounds: int = 6
    warmup_frames: int = 120
    round_warmup_frames: int = 3
    paces_fps: tuple[float, ...] = (30.0, 60.0)
    soak_minutes: float = 0.0
    soak_pace_fps: float = 30.0
    landmarker: str = "full"
    model_asset: Path | None = None
    max_people: int = 1
    people_search_s: float = DEFAULT_SEARCH_INTERVAL_S
    publish: str = "tcp://127.0.0.1:0"
    verbose: bool = False

    def __post_init__(self) -> None:
        # named by the command's options (the fields' names where they differ)
        _check_range("--frames", self.frames, 10, 1_000_000)
        _check_range("--rounds", self.rounds, 1, 100)
        if self.rounds > self.frames:  # (it ran as many one-frame rounds as frames and said rounds=frames)
            raise OptionsError(f"--rounds ({self.rounds}) must not exceed --frames ({self.frames}): each round "
                               "measures at least one frame")  # fmt: skip
        _check_range("--warmup (warmup_frames)", self.warmup_frames, 0, 10_000)
        _check_range("--round-warmup (round_warmup_frames)", self.round_warmup_frames, 0, 100)
        for pace in self.paces_fps:
            _check_range("--pace", pace, 1, 240)
        if len(set(self.paces_fps)) < len(self.paces_fps):  # (it ran twice and kept one)
            raise OptionsError(f"--pace lists a rate twice ({', '.join(f'{p:g}' for p in self.paces_fps)}): give "
                               "each once")  # fmt: skip
        _check_range("--soak (soak_minutes)", self.soak_minutes, 0, 1440)
        _check_range("--soak-pace", self.soak_pace_fps, 1, 240)
        _check_range("--max-people", self.max_people, 1, MAX_PEOPLE)
        _check_range("--people-search", self.people_search_s, 0, 3600)
        if self.landmarker not in MODEL_VARIANTS:
            raise OptionsError(f"landmarker must be one of {', '.join(MODEL_VARIANTS)}, got {self.landmarker!r}")
        if not self.configs:
            raise OptionsError("at least one configuration is needed")
        labels = [config.label for config in self.configs]
        twice = next((label for label in labels if labels.count(label) > 1), None)
        if twice is not None:  # results are kept by label: one of the two was never measured, unsaid (QA)
            models = list(dict.fromkeys(str(config.model) for config in self.configs if config.label == twice))
            if len(models) == 1:
                raise OptionsError(f"--model lists {models[0]} twice: give each model once")
            raise OptionsError(f"--model {' and '.join(models)} would both be measured as '{twice}': give model "
                               "files of one name in two folders different names")  # fmt: skip
        for config in self.configs:
            if config.backend not in ("auto", *BACKENDS):
                raise OptionsError(f"backend must be auto or one of {', '.join(BACKENDS)}, got {config.backend!r}")


@dataclass
class BenchResult:
    """Everything a run measured: the clip, the logs per phase, the subscriber's records, the
    resource samples, and the configurations that could not run (label → reason)."""

    options: BenchOptions
    clip: Clip
    configs: list[BenchConfig]
    devices: dict[str, dict]
    baseline: PassLog
    latency: dict[str, PassLog]
    warmup: dict[str, PassLog]
    paced: dict[float, PassLog]
    soak: PassLog | None
    received: Received
    sampler: ResourceSampler
    phases: dict[str, tuple[float, float]]
    unavailable: dict[str, str]
    hooks: dict[str, dict]
    detector_model: str
    started_unix: float
    #: 1, 5 and 15 minute load averages when the run started (the report's machine block has the end's)
    load_average_start: list[float] | None = None
    #: CPU the other processes used in the half second before the run, in % of one core
    others_cpu_percent_start: float | None = None


#: At most this many warm-up passes (the first, then 30 frames each) while the floor is estimated.
_MAX_FLOOR_WARMUPS = 20


def _floor_estimating(pipeline: Pipeline) -> bool:
    """True while the pipeline's floor is still being estimated (or no pose was seen yet)."""
    floor = None if pipeline.world is None else pipeline.world.floor
    return pipeline.world is not None and (floor is None or floor.state in ("assumed", "estimating"))


def _build_lifting(config: BenchConfig, max_people: int) -> MetricPoseLifting:
    lifter = LifterOptions(model_path=config.model, backend=config.backend, int8=config.int8)
    return MetricPoseLifting(LiftingOptions(lifter=lifter, tracker=TrackerOptions(max_people=max_people)))


class _Run:
    """What every phase uses: the options, the clip, MediaPipe alone, the configurations'
    pipelines and the frame ids each kind of pass has used so far (ids keep increasing across
    passes, as a live stream's do)."""

    def __init__(self, options: BenchOptions, clip: Clip, baseline: MediaPipeAlone,
                 pipelines: dict[str, tuple[BenchConfig, Pipeline]], say: Callable[[str], None]) -> None:  # fmt: skip
        self.options, self.clip, self.baseline, self.pipelines, self.say = options, clip, baseline, pipelines, say
        self._next_id = {"baseline": 0, "posecast": 0}

    def source(self, kind: str, frames: int, fps: float = 0.0, start: int = 0) -> ClipSource:
        src = ClipSource(self.clip, frames, fps, first_id=self._next_id[kind], start=start)
        self._next_id[kind] += frames
        return src

    def first(self) -> tuple[str, BenchConfig, Pipeline]:
        """The configuration the paced runs and the soak measure."""
        label, (config, pipeline) = next(iter(self.pipelines.items()))
        return label, config, pipeline


def _warm_up(run: _Run) -> dict[str, PassLog]:
    """Phase 1 (module docstring): the configurations' warm-up passes, by label."""
    o, warmup = run.options, {}
    if not o.warmup_frames:
        return warmup
    run.say(f"warm-up: {o.warmup_frames} frames through MediaPipe alone and each configuration")
    baseline_pass(run.baseline, run.source("baseline", o.warmup_frames))
    for label, (config, pipeline) in run.pipelines.items():
        passes = [posecast_pass("warmup", pipeline, run.source("posecast", o.warmup_frames), config.threaded)]
        # on a fast machine warmup_frames may not span the floor's estimation (its first 2 s of
        # poses): go on until the floor is fixed, so that it stays out of the latency figures
        while (_floor_estimating(pipeline) and len(passes) < _MAX_FLOOR_WARMUPS
               and any((p.people > 0).any() for p in passes)):  # (no floor without a person)
            passes.append(posecast_pass("warmup", pipeline, run.source("posecast", 30), config.threaded))
        warmup[label] = PassLog.concat("warmup", passes)
        if not (warmup[label].people > 0).any():  # minutes of measuring nothing: say so now
            raise SourceError(f"no person was found in the {warmup[label].frames} warm-up frames of "
                              f"{run.clip.name}: nothing to measure; use a clip with a person in view within its "
                              "first --warmup frames")  # fmt: skip
    return warmup


def _latency_rounds(run: _Run, bare: zmq.Socket) -> tuple[list[PassLog], dict[str, list[PassLog]]]:
    """Phase 2 (module docstring): MediaPipe alone's passes and each configuration's, by label."""
    o, k, images = run.options, run.options.round_warmup_frames, len(run.clip.images)
    per_round = max(1, -(-o.frames // o.rounds))
    base_logs: list[PassLog] = []
    logs: dict[str, list[PassLog]] = {label: [] for label in run.pipelines}
    for r in range(o.rounds):
        frames = min(per_round, o.frames - r * per_round)
        if frames <= 0:
            break
        start = (r * per_round) % images
        before = (start - k) % images  # the motion goes on into the recorded frames
        if k:
            baseline_pass(run.baseline, run.source("baseline", k, start=before))
        base_logs.append(baseline_pass(run.baseline, run.source("baseline", frames, start=start), bare))
        for label, (config, pipeline) in run.pipelines.items():
            if k:
                posecast_pass("warmup", pipeline, run.source("posecast", k, start=before), config.threaded)
            logs[label].append(posecast_pass(label, pipeline, run.source("posecast", frames, start=start),
                                             config.threaded))  # fmt: skip
        run.say(f"latency round {r + 1}/{o.rounds}: {frames} frames each")
    for label, passes in logs.items():  # (with --warmup 0 nothing checked this before: an empty report, exit 0)
        if not any((p.people > 0).any() for p in passes):
            measured = sum(p.frames for p in passes)
            raise SourceError(f"no person was found in the {measured} measured frames of {run.clip.name} "
                              f"({label}): nothing to measure; use a clip with a person in view")  # fmt: skip
    return base_logs, logs


def _paced(run: _Run, sampler: ResourceSampler, phases: dict[str, tuple[float, float]]) -> dict[float, PassLog]:
    """Phase 3 (module docstring): the first configuration at each pace, by pace."""
    label, config, pipeline = run.first()
    paced: dict[float, PassLog] = {}
    for pace in run.options.paces_fps:
        t = sampler.now_s()
        run.say(f"paced at {pace:g} fps: {run.options.frames} frames ({run.options.frames / pace:.0f} s)")
        paced[pace] = posecast_pass(label, pipeline, run.source("posecast", run.options.frames, pace), config.threaded)
        phases[f"paced_{pace:g}"] = (t, sampler.now_s())
    return paced


def _soak(run: _Run, hooks: Sequence[SoakHook], address: str, sampler: ResourceSampler,
          phases: dict[str, tuple[float, float]]) -> tuple[PassLog, dict[str, dict]]:  # fmt: skip
    """Phase 4 (module docstring): the first configuration's soak pass and each hook's result."""
    o = run.options
    label, config, pipeline = run.first()
    frames = max(1, round(o.soak_minutes * 60 * o.soak_pace_fps))
    run.say(f"soak: {o.soak_minutes:g} min at {o.soak_pace_fps:g} fps ({frames} frames)")
    for hook in hooks:
        hook.start(address)
    results: dict[str, dict] = {}
    t = sampler.now_s()
    try:
        soak = posecast_pass(label, pipeline, run.source("posecast", frames, o.soak_pace_fps), config.threaded)
    finally:
        for hook in hooks:
            results[hook.name] = hook.stop()
    phases["soak"] = (t, sampler.now_s())
    return soak, results


def run_benchmark(
    options: BenchOptions,
    hooks: Sequence[SoakHook] = (),
    progress: Callable[[str], None] | None = None,
) -> BenchResult:
    """Run every phase (see the module docstring) and return the raw measurements."""
    say = progress or log.info
    o = options
    started, load_start, busy_start = time.time(), load_average(), others_busy_percent()
    clip = load_clip(o.source, o.frames)
    say(f"clip {clip.name}: {len(clip.images)} frames {clip.image_size[0]}x{clip.image_size[1]} at {clip.fps:g} fps")
    detector = MediaPipeDetector(MediaPipeOptions(model_variant=o.landmarker, model_path=o.model_asset,
                                                  max_people=o.max_people, verbose=o.verbose,
                                                  search_interval_s=o.people_search_s))  # fmt: skip
    stages: list[object] = [detector]
    pipelines: dict[str, tuple[BenchConfig, Pipeline]] = {}
    unavailable: dict[str, str] = {}
    devices: dict[str, dict] = {}
    receiver: Receiver | None = None
    sampler = ResourceSampler()
    try:
        baseline = MediaPipeAlone(detector.model_path, o.max_people, verbose=o.verbose)
        stages.append(baseline)
        sink = ZmqSink(PublisherOptions(address=o.publish))
        stages.append(sink)
        for config in o.configs:
            try:
                lifting = _build_lifting(config, o.max_people)
            except ModelError:  # a model asked for that does not load is the user's to fix: exit 2
                raise
            except PosecastError as exc:  # a backend this machine lacks: that row says why
                reason = str(exc)
                if any(c.backend == "onnxruntime" for c in o.configs):  # measured beside it: no advice to take it
                    reason = reason.removesuffix(USE_ONNXRUNTIME)
                unavailable[config.label] = reason
                say(f"{config.label}: not measured ({reason})")
                continue
            stages.append(lifting)
            # as `posecast run` builds it: the avatar world (floor, contacts) runs for every output;
            # its floor is only timed here, so not said (it was, once per configuration)
            world = AvatarWorld(AvatarOptions(), log_floor=False)
            pipelines[config.label] = (config, Pipeline(detector, lifting, [sink], world,
                                                        sinks_shared=True))  # run in turn, on this thread
            backend = lifting.lifter.backend
            devices[config.label] = {"backend": backend.name, "device": backend.device,
                                     "int8": bool(getattr(backend, "int8", False)),  # as run: null was "auto"
                                     "model_file": str(getattr(backend, "model_path", "")),
                                     "window_frames": lifting.window_frames}  # fmt: skip
        if not pipelines:
            reasons = dict.fromkeys(unavailable.values())  # the runners of one model fail alike: once each
            raise OptionsError("no configuration could be loaded: " + "; ".join(reasons))
        bare = zmq.Context.instance().socket(zmq.PUB)
        stages.append(bare)  # closed with the others (zmq sockets have close())
        bare.setsockopt(zmq.LINGER, 0)
        bare.bind("tcp://127.0.0.1:0")
        receiver = Receiver(sink.address, bare.getsockopt_string(zmq.LAST_ENDPOINT))
        receiver.wait_ready(sink.publisher.send_meta)
        for _, pipeline in pipelines.values():
            pipeline.open()
        sampler.start()
        run = _Run(o, clip, baseline, pipelines, say)
        phases: dict[str, tuple[float, float]] = {}
        t = sampler.now_s()
        warmup = _warm_up(run)
        phases["warmup"] = (t, sampler.now_s())
        t = sampler.now_s()
        base_logs, logs = _latency_rounds(run, bare)
        phases["latency"] = (t, sampler.now_s())
        paced = _paced(run, sampler, phases)
        soak, hook_results = None, {}
        if o.soak_minutes > 0:
            soak, hook_results = _soak(run, hooks, sink.address, sampler, phases)
        sampler.stop(exclude_pids=(receiver.process.pid,))  # "others": not our own subscriber
        received = receiver.stop()
        receiver = None
    finally:
        if sampler.running:
            sampler.stop()
        if receiver is not None:
            receiver.stop()
        for _, pipeline in pipelines.values():
            pipeline.close()
        for stage in stages:
            stage.close()
    return BenchResult(
        options=o, clip=clip, configs=[c for c, _ in pipelines.values()], devices=devices,
        baseline=PassLog.concat("mediapipe_alone", base_logs),
        latency={label: PassLog.concat(label, parts) for label, parts in logs.items()}, warmup=warmup,
        paced=paced, soak=soak, received=received, sampler=sampler, phases=phases, unavailable=unavailable,
        hooks=hook_results, detector_model=str(detector.model_path), started_unix=started,
        load_average_start=load_start,
        others_cpu_percent_start=busy_start,
    )  # fmt: skip

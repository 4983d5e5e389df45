"""Arguments shared by the commands that run the pipeline, and the pipeline they describe.

Options of a detector or a sink are not listed here: each registered class adds its own
(:meth:`~posecast.realtime.stages.Sink.add_arguments`) and builds itself from them
(:meth:`~posecast.realtime.stages.Sink.from_args`).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from ...calibration import DEFAULT_HFOV_DEG
from ...calibration.io import load_intrinsics, load_subject
from ...engines.cli_args import given_path
from ...engines.fileio import check_outputs
from ...engines.host import usable_cores
from ...engines.joint_limits import MAX_BACKWARD_DEG
from ...engines.logs import counted, quieter
from ...engines.media import display_available
from ...engines.metadata import read_onnx_metadata
from ...engines.runtime import BACKENDS
from ...engines.runtime.base import DEFAULT_MODEL_NAME, MODELS, model_files, resolve_model
from ...engines.runtime.quantize import is_int8_copy
from ..avatar import AvatarWorld
from ..avatar_arguments import add_avatar_arguments, avatar_options
from ..detectors import DETECTORS, warn_if_fewer_people
from ..detectors.mediapipe import DEFAULT_SEARCH_INTERVAL_S, MAX_PEOPLE, PEOPLE_SEARCH_HELP
from ..drop_watch import DropWatch
from ..errors import OptionsError, SourceLostError
from ..lifting import LIFTINGS, LifterOptions, LiftingOptions, LiveSubjectOptions, OneEuroOptions, TrackerOptions
from ..nobody_watch import NobodyWatch
from ..pipeline import Pipeline
from ..progress import progress
from ..sinks import SINKS
from ..sinks.stats import StatsSink
from ..sources import open_source
from ..sources.camera import CameraSource
from ..stages import FrameSource, Sink
from ..threaded import MIN_CORES_THREADED, RUNNERS, ThreadedPipeline, make_runner
from .capture import add_capture_arguments, configure_capture

log = logging.getLogger(__name__)


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        metavar="NAME|PATH",
        help=f"a shipped lifting model's name ({', '.join(MODELS)}) or an exported .onnx "
        f"(default: {DEFAULT_MODEL_NAME})",
    )
    parser.add_argument("--backend", default="auto", choices=["auto", *BACKENDS],  # (QA: a new one was refused)
                        help="lifting runtime; auto: the fastest that works here, logged once")  # fmt: skip
    parser.add_argument("--int8", action=argparse.BooleanOptionalAction, default=None,
                        help="onnxruntime: the INT8 dynamic-quantized model (default: if shipped with it)")  # fmt: skip
    parser.add_argument("--flip-average", action=argparse.BooleanOptionalAction, default=True,
                        help="lift each window with its mirror image too and average the two: lower error for "
                             "about 0.1 ms per person on a CPU")  # fmt: skip


def lifter_options(args: argparse.Namespace) -> LifterOptions:
    """The networks' options from :func:`add_model_arguments`' arguments."""
    return LifterOptions(model_path=args.model, backend=args.backend, int8=args.int8,
                         flip_average=getattr(args, "flip_average", True))  # fmt: skip


def add_camera_arguments(parser: argparse.ArgumentParser) -> None:
    camera = parser.add_mutually_exclusive_group()  # a camera file's own field of view would silently win
    camera.add_argument("--intrinsics", type=given_path, help="camera file from `posecast calibrate camera`")
    hfov_help = f"assumed horizontal field of view in degrees, 10..170 (default {DEFAULT_HFOV_DEG:g})"
    camera.add_argument("--hfov", type=float, default=DEFAULT_HFOV_DEG, help=hfov_help)


NO_LIVE_SUBJECT_HELP = ("without --subject, keep the bone lengths the smoother learns from the network instead of "
                        "measuring each person's from their first 2 s as `calibrate subject` does, and again at 4, "
                        "8, 16 and 32 s (README, How the 3D becomes metric)")  # fmt: skip


def add_pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    """Everything ``run`` and ``demo`` take besides ``--source``: the pipeline, every registered
    detector's and sink's options."""
    parser.add_argument("--frames", type=int, help="stop after this many frames processed (with --realtime, the "
                        "frames dropped to keep the pace do not count)")  # fmt: skip
    parser.add_argument("--realtime", action="store_true",
                        help="files: pace frames at their native fps (an image folder's: 30), dropping those the "
                             "pipeline is too late for, as a camera does")  # fmt: skip
    parser.add_argument("--max-people", type=int, default=1, metavar="N",
                        help=f"track up to N people, 1..{MAX_PEOPLE} (default 1)")  # fmt: skip
    parser.add_argument("--people-search", type=float, default=DEFAULT_SEARCH_INTERVAL_S, metavar="SECONDS",
                        help=PEOPLE_SEARCH_HELP)
    parser.add_argument("--detector", default=next(iter(DETECTORS)), choices=list(DETECTORS),
                        help="2D keypoint detector")  # fmt: skip
    parser.add_argument("--lifting", default=next(iter(LIFTINGS)), choices=list(LIFTINGS),
                        help="2D → 3D lifting method")  # fmt: skip
    add_camera_arguments(parser)
    add_capture_arguments(parser)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--subject-height", "--height", dest="height", type=float, metavar="M",
                      help="subject height in metres (default 1.70, assumed); alias --height")  # fmt: skip
    size.add_argument("--subject", type=given_path, help="subject file from `posecast calibrate subject`")
    parser.add_argument("--no-live-subject", action="store_true", help=NO_LIVE_SUBJECT_HELP)
    parser.add_argument("--one-euro", action="store_true", help="also filter joints with a One Euro filter")
    parser.add_argument("--no-knee-limit", action="store_true",
                        help="keep knees the network bends backwards (by default one bent backwards by more than "
                             f"{MAX_BACKWARD_DEG:g} degrees is mirrored in depth to bend forwards)")  # fmt: skip
    parser.add_argument("--runner", default="auto", choices=RUNNERS,
                        help="threaded: the 2D on a thread of its own; auto: threaded from 4 cores (on 2 it measured "
                             "slower; posecast bench compares both)")  # fmt: skip
    add_avatar_arguments(parser)
    add_model_arguments(parser)  # before the stages': a sink declaring --int8 is then named too (review)
    add_stage_arguments(parser, [*DETECTORS.values(), *SINKS.values()])


def add_stage_arguments(parser: argparse.ArgumentParser, stages: Sequence[type]) -> None:
    """Each registered detector's or sink's own options (``add_arguments``); two that declare
    the same option are named (QA: argparse's "conflicting option string: --csv" named neither,
    from every command, ``--version`` too)."""
    for stage in stages:
        try:
            stage.add_arguments(parser)
        except argparse.ArgumentError as exc:
            raise TypeError(f"{stage.__name__} (registered as {stage.name!r}) declares an option that is taken: "
                            f"{exc}; give its options a prefix of its own (README, Where to change what)") from None


def lifting_options(args: argparse.Namespace) -> LiftingOptions:
    """The lifting stage's options (checked here: a bad value is one line before anything loads)."""
    max_people = getattr(args, "max_people", 1)
    if not (isinstance(max_people, int) and 1 <= max_people <= MAX_PEOPLE):
        raise OptionsError(f"--max-people must be from 1 to {MAX_PEOPLE}, got {max_people}")
    return LiftingOptions(
        lifter=lifter_options(args),
        intrinsics_path=args.intrinsics,
        hfov_deg=args.hfov,
        height_m=args.height,
        subject_path=getattr(args, "subject", None),
        one_euro=OneEuroOptions(min_cutoff_hz=1.5, beta=0.5) if getattr(args, "one_euro", False) else None,
        tracker=TrackerOptions(max_people=max_people),
        max_knee_backward_deg=None if getattr(args, "no_knee_limit", False) else MAX_BACKWARD_DEG,
        live_subject=None if getattr(args, "no_live_subject", False) else LiveSubjectOptions(),
    )


def build_sinks(args: argparse.Namespace, source_spec: str) -> list[Sink]:
    """Every registered sink the arguments ask for, in registry order (closed again if one fails).
    The user's own mistakes come first, each one line: the options' values, the outputs' paths
    and the files the arguments name (:func:`check_named_inputs`); a sink that claims an address
    (``claims_address``: the publisher's port) is built last, so a mistyped file is not reported
    as "address in use" while another posecast runs. (Files are read again when the stages load.)"""
    lifting_options(args)
    built: dict[str, Sink] = {}
    try:
        for claims_address in (False, True):
            for key, cls in SINKS.items():
                if cls.claims_address == claims_address and (sink := cls.from_args(args)) is not None:
                    built[key] = sink
            if not claims_address:
                outputs = {k: v for sink in built.values() for k, v in sink.output_files().items()}
                check_outputs(outputs, input_files(args, source_spec))
                check_named_inputs(args, source_spec)
    except BaseException:
        for sink in built.values():
            sink.close()
        raise
    warn_unused_options(args, source_spec)  # once the options hold: a refused one is the only line (QA)
    return [built[key] for key in SINKS if key in built]


def check_named_inputs(args: argparse.Namespace, source_spec: str) -> None:
    """Raise the one-line error of a bad ``--frames``, source, model, floor, camera or subject
    file, or detector option, before the publisher claims its port (read here, and again by the
    stage that uses each: :func:`run_pipeline` checks them itself for the calibrate commands)."""
    check_frames(getattr(args, "frames", None))
    # the files' warnings (a key ignored, ...) are said once, when the stages read them again
    with quieter(logging.ERROR, "posecast.calibration", "posecast.realtime"):
        avatar_options(args)
        configure_capture(open_source(source_spec), args)  # unopened: a source that is not one, or camera
        # options for a file, are refused; it opens in the run
        # read, not only found: a file that is no posecast model is its one line before any notice
        # (QA: `demo --model bad.onnx` first warned that its earlier video would be replaced)
        read_onnx_metadata(resolve_model(getattr(args, "model", None)))
        if getattr(args, "intrinsics", None) is not None:
            load_intrinsics(args.intrinsics)
        if getattr(args, "subject", None) is not None:
            load_subject(args.subject)
        DETECTORS[getattr(args, "detector", next(iter(DETECTORS)))].check_args(args)


def warn_unused_options(args: argparse.Namespace, source_spec: str | None = None) -> None:
    """Say which options given do nothing with the others (QA: they were taken without a word):
    ``run``'s and ``demo``'s, and those of them that ``bench``, ``engines bench`` and ``lift`` take."""
    unused = []
    if getattr(args, "realtime", False) and source_spec and isinstance(open_source(source_spec), CameraSource):
        unused.append("--realtime: a camera or stream delivers frames at its own pace already")  # (unopened)
    models = getattr(args, "model", None)
    for model in [models] if isinstance(models, str) else models or ():  # (bench: --model given again)
        if getattr(args, "int8", None) is False and is_int8_copy(resolve_model(model)):
            unused.append(f"--no-int8: {model} is an INT8 copy itself, and runs as it is (its float model is the file "
                          "without .int8)")  # fmt: skip
    searching = getattr(args, "people_search", DEFAULT_SEARCH_INTERVAL_S) != DEFAULT_SEARCH_INTERVAL_S
    if getattr(args, "max_people", 1) == 1 and searching:
        unused.append("--people-search: with --max-people 1 nobody more is looked for")
    if getattr(args, "no_live_subject", False) and getattr(args, "subject", None) is not None:
        unused.append("--no-live-subject: with --subject the file's bone lengths are used and nothing is measured")
    avatar_outputs = str(getattr(args, "publish", "none") or "none").lower() != "none" or any(
        getattr(args, name, None) for name in ("vmc", "record"))  # fmt: skip
    if getattr(args, "mirror", False) and not avatar_outputs:
        unused.append("--mirror: it mirrors the avatar outputs (published poses, --vmc, --record), and none is on")
    for option, name in (("--floor", "floor"), ("--floor-camera", "floor_camera")):  # (QA: unsaid, as --mirror was)
        if getattr(args, name, None) is not None and not avatar_outputs:
            unused.append(f"{option}: the floor serves the avatar outputs (published poses, --vmc, --record), and "
                          "none is on")  # fmt: skip
    for line in unused:
        log.warning("%s (the option does nothing)", line)


#: How long `calibrate floor` and `calibrate subject` may observe, seconds
OBSERVE_SECONDS = (0.5, 600.0)


def check_observe_seconds(seconds: float) -> float:
    """``--seconds`` of the calibrate commands, or :class:`OptionsError` (NaN and inf included)."""
    low, high = OBSERVE_SECONDS
    if not low <= seconds <= high:
        raise OptionsError(f"--seconds must be from {low:g} to {high:g}, got {seconds:g}")
    return seconds


def observe(args: argparse.Namespace, sinks: Sequence[Sink]) -> int:
    """Run the pipeline over ``--seconds`` of ``args.source`` (at the source's rate) into
    ``sinks`` for a calibrate command, without the avatar world (they read the camera-frame joints
    alone); returns the frames seen. A file shorter than that is said
    (QA: the 4 s dance clip measured for the default 5 s without a word)."""
    file_asked: dict[str, float] = {}  # a file's frames asked and rate (a live source's drops are no end: review)

    def frames_for(source: FrameSource) -> int:
        fps = source.source_fps or 30.0
        if not isinstance(source, CameraSource):
            file_asked.update(frames=int(args.seconds * fps), fps=fps)
        return int(args.seconds * fps)

    frames = run_pipeline(args, args.source, sinks, frames_for, avatar=False)
    if file_asked and frames < file_asked["frames"]:
        log.info("the source ended after %.1f s of the %g s asked (--seconds): measured from those %s",
                 frames / file_asked["fps"], args.seconds, counted(frames, "frame"))  # fmt: skip
    return frames


def input_files(args: argparse.Namespace, source_spec: str | None = None) -> dict[str, Path | None]:
    """The files a pipeline command reads, by the option that names them (for
    :func:`~posecast.engines.fileio.check_outputs`: an output must not overwrite one of them)."""

    def existing(value: object) -> Path | None:
        return Path(value) if value is not None and Path(str(value)).is_file() else None

    model = existing(getattr(args, "model", None))  # a shipped model's name: its folder is refused as a whole
    return {
        "the source": Path(source_spec) if source_spec and Path(source_spec).is_dir() else existing(source_spec),
        "--intrinsics": existing(getattr(args, "intrinsics", None)),
        "--subject": existing(getattr(args, "subject", None)),
        "--floor": existing(getattr(args, "floor", None)),
        **(model_files(model) if model is not None else {}),
        "--model-asset": existing(getattr(args, "model_asset", None)),
    }


def check_frames(max_frames: object) -> None:
    """``--frames``, or :class:`OptionsError` (a function of the source is checked by its caller)."""
    if isinstance(max_frames, int) and max_frames < 1:
        raise OptionsError(f"--frames must be 1 or more, got {max_frames}")


def run_pipeline(
    args: argparse.Namespace,
    source_spec: str,
    sinks: Sequence[Sink],
    max_frames: int | Callable[[FrameSource], int] | None,
    notices: Sequence[tuple[int, str]] = (),
    avatar: bool = True,
) -> int:
    """Open the source, build the lifting stage and the detector, run to the end (or
    ``max_frames``, a number or a function of the opened source, or a sink's stop request);
    returns the frames processed. The sinks are closed whatever happens. ``notices`` (level,
    text) are logged once the source has opened and the stages are built: a refused source or
    model is the only line. ``avatar``: stand the people on the floor (the avatar world: the
    floor in the meta, ``root_height_m``, VMC; its log lines about the floor); the calibrate
    commands read the camera-frame joints alone, and its floor, which is not theirs, went into
    their logs (``calibrate floor`` said one floor and wrote another)."""
    lifting = detector = None
    dropped = 0
    try:
        check_frames(max_frames)
        check_outputs({k: v for sink in sinks for k, v in sink.output_files().items()}, input_files(args, source_spec))
        options = lifting_options(args)
        world = AvatarWorld(avatar_options(args)) if avatar else None
        source = configure_capture(open_source(source_spec, realtime=getattr(args, "realtime", False)), args)
        with source:
            lifting = LIFTINGS[getattr(args, "lifting", next(iter(LIFTINGS)))](options)
            detector = DETECTORS[getattr(args, "detector", "mediapipe")].from_args(args)
            warn_if_fewer_people(detector, getattr(args, "max_people", 1))
            pipeline = Pipeline(detector, lifting, sinks, world)
            lifting = detector = None  # the pipeline owns them now
            for level, notice in notices:
                log.log(level, "%s", notice)
            limit = max_frames(source) if callable(max_frames) else max_frames
            runner = getattr(args, "runner", "auto")
            running = make_runner(pipeline, runner)
            ran = "threaded" if isinstance(running, ThreadedPipeline) else "serial"
            live = isinstance(source, CameraSource) or getattr(args, "realtime", False)
            if runner == "auto" and live:  # (QA: which one ran was not said; on one core serial, as it should)
                log.info("runner: %s (auto: %d usable cores, threaded from %d)", ran, usable_cores(),
                         MIN_CORES_THREADED)  # fmt: skip
            try:
                # closing(): a stop landing in the counting, not inside the runner, would leave the
                # runner's 2D thread running on past the pipeline's and the source's close (review)
                with pipeline, contextlib.closing(running.run(source, limit)) as frames_run:
                    # threaded: the 3D of one frame overlaps the 2D of the next (when cores allow)
                    steps = progress(frames_run, _expected_frames(source, limit), "frames",
                                     enabled=_progress_wanted(args))  # fmt: skip
                    named = getattr(source, "label", None) or getattr(source, "path", None)  # (a camera's, a file's)
                    watch = DropWatch(str(named or "the source"), lambda: source.dropped_frames)
                    nobody = NobodyWatch(str(named or "the source"))
                    frames = 0
                    try:
                        for frame in steps:
                            frames += 1
                            watch.tick(frames)
                            nobody.tick(frame)
                        nobody.finish()
                    except KeyboardInterrupt:  # (how a camera run ends: one stopped within 5 s hears it too)
                        nobody.finish()
                        raise
                    finally:  # before the outputs close (a stop too): the statistics file says it
                        for sink in sinks:
                            if isinstance(sink, StatsSink):
                                sink.note_capture(source.dropped_frames, ran)
            finally:  # also when stopped (Ctrl-C is how a camera run ends): the drops are said
                dropped = source.dropped_frames
            lost_after_s = getattr(source, "lost_after_s", 0.0)
    except BaseException:
        for stage in (*sinks, lifting, detector):
            if stage is not None:
                with contextlib.suppress(Exception):  # the error to report is the one being raised
                    stage.close()
        raise
    finally:
        if dropped:
            log.info("%s dropped at capture (processing was busy or held up when they came)", counted(dropped, "frame"))
    if lost_after_s:  # the outputs are finished; a supervisor must still tell this from an ending file
        raise SourceLostError(f"{source.label} delivered no frame for {lost_after_s:.0f} s, so the run stopped "
                              f"after {frames} frames (its outputs are finished): check the camera or stream, "
                              "and run again")  # fmt: skip
    return frames


def _expected_frames(source: FrameSource, limit: int | None) -> int | None:
    """The frames a run will take, when known (a file's length, ``--frames``), for the progress bar."""
    known = [n for n in (getattr(source, "frame_count", 0), limit) if n]
    return min(known) if known else None


def _progress_wanted(args: argparse.Namespace) -> bool:
    """A progress bar only when no window shows the run and no per-frame lines go to the terminal."""
    window = not getattr(args, "headless", True) and display_available()
    printing = getattr(args, "print_mode", "none") not in (None, "none") and sys.stdout.isatty()
    return not (window or printing)

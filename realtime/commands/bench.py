"""``posecast bench``: what posecast's 3D costs on top of MediaPipe, measured here, in one command.

What it runs and the end-to-end clocks are said once, in :data:`DESCRIPTION` (its ``--help``);
the work is :mod:`posecast.realtime.benchmark`'s.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

from ...engines.cli_args import given_path, nonempty_text, output_folder
from ...engines.fileio import OUT_OF_ROOM, missing_folders, output_file_problem, remove_empty_folders
from ...engines.logs import quieter
from ...engines.metadata import read_onnx_metadata
from ...engines.runtime import BACKENDS, availability
from ...engines.runtime.base import resolve_model
from .. import dated_names
from ..benchmark import (
    BenchConfig,
    BenchOptions,
    BenchResult,
    build_report,
    run_benchmark,
    write_plots,
    write_reports,
)
from ..benchmark.hooks import SOAK_HOOKS
from ..benchmark.report import summary_text
from ..detectors.mediapipe import DEFAULT_SEARCH_INTERVAL_S, MODEL_VARIANTS, PEOPLE_SEARCH_HELP
from ..errors import OptionsError
from ..stop_signals import stop_signals_deferred
from ..threaded import RUNNERS, threaded_by_default
from .arguments import warn_unused_options
from .demo import demo_clip

log = logging.getLogger(__name__)

#: ``posecast bench --help``'s text (the module docstring is for the code's readers)
DESCRIPTION = """\
What posecast's 3D costs on top of MediaPipe, measured on this machine in one command.

Runs the real pipeline (MediaPipe, the lifting networks, smoothing, the avatar world, the ZeroMQ
output) with a real subscriber in another process, and MediaPipe alone on the same frames in the
same run; writes bench.json, bench.md and PNG plots to --output and prints the table. The clip is
decoded once and replayed, so every configuration sees the same images.

End to end, on the host's monotonic clock: capture -> delivered (every output's write returned;
the ratio to MediaPipe alone is taken of it), capture -> published (stamped into the pose message
just before sending) and capture -> received (the subscriber's clock at receipt).
"""
#: ``--soak-pace``'s default, frames per second
SOAK_PACE_FPS = 30.0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench", help="latency per stage and end to end, against MediaPipe alone on the same frames",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--source", type=nonempty_text, help="video file, image folder or camera index (default: "
                        "the demo clip, the dance clip shipped with posecast)")  # fmt: skip
    parser.add_argument("--frames", type=int, default=360, help="frames measured per configuration, and offered "
                        "per paced run (those it drops are counted), 10 or more (default 360)")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=6, help="MediaPipe-alone / posecast alternations (default 6)")
    parser.add_argument("--warmup", type=int, default=120, help="frames run first, not in the latency figures, "
                        "and more until the floor is fixed (estimated over a stream's first 2 s); reported apart "
                        "as start-up (default 120; 0: none)")  # fmt: skip
    parser.add_argument("--round-warmup", type=int, default=3, help="unrecorded frames before each pass of a round "
                        "(default 3: the pass before ran the other MediaPipe, a pause no live run has)")  # fmt: skip
    parser.add_argument("--pace", type=float, action="append", metavar="FPS",
                        help="paced runs, like a camera at FPS, 1..240 (repeatable; default 30 and 60; 0: "
                             "none)")  # fmt: skip
    parser.add_argument("--soak", type=float, default=0.0, metavar="MINUTES",
                        help="then run paced for MINUTES, looping the clip: latency and memory over time")  # fmt: skip
    parser.add_argument("--soak-pace", type=float, metavar="FPS",
                        help=f"the soak's rate (default {SOAK_PACE_FPS:g})")  # fmt: skip
    parser.add_argument("--soak-hook", action="append", default=[], choices=list(SOAK_HOOKS), metavar="NAME",
                        help=f"run beside the soak (repeatable): {', '.join(SOAK_HOOKS)}")  # fmt: skip
    parser.add_argument("--backend", default="auto", choices=["auto", "all", *BACKENDS],
                        help="lifting backend; all: every backend usable here, each measured")  # fmt: skip
    parser.add_argument("--model", action="append", metavar="PATH|NAME",
                        help="lifting model (repeatable: each is measured; default: the shipped one)")  # fmt: skip
    parser.add_argument("--int8", action=argparse.BooleanOptionalAction, default=None,
                        help="onnxruntime: the INT8 model (default: as the pipeline chooses)")  # fmt: skip
    parser.add_argument("--runner", default="both", choices=[*RUNNERS, "both"],
                        help="2D on its own thread or not; both (default): each measured, the one `posecast run` "
                             "picks here (auto) first")  # fmt: skip
    mediapipe_model = parser.add_mutually_exclusive_group()  # both name the model file: one would be ignored
    mediapipe_model.add_argument("--landmarker", default="full", choices=MODEL_VARIANTS, help="MediaPipe model variant")
    mediapipe_model.add_argument("--model-asset", type=given_path, help="MediaPipe pose_landmarker .task file")
    parser.add_argument("--max-people", type=int, default=1, metavar="N", help="people per frame, 1..8 (default 1)")
    parser.add_argument("--people-search", type=float, default=DEFAULT_SEARCH_INTERVAL_S, metavar="SECONDS",
                        help=PEOPLE_SEARCH_HELP)
    parser.add_argument("--publish", default="tcp://127.0.0.1:0",
                        help="ZeroMQ address of the benchmark's publisher (default: a free loopback port)")  # fmt: skip
    parser.add_argument("--output", type=output_folder, default=None,
                        help="folder for the results (default: a new bench-YYYYMMDD-HHMMSSZ, the UTC time, in the "
                             "current folder: an earlier run's results are never replaced)")  # fmt: skip
    parser.add_argument("--no-plots", action="store_true", help="write no PNG plots")
    parser.set_defaults(func=bench)


def configs_from_args(args: argparse.Namespace) -> list[BenchConfig]:
    """The configurations to measure: models × backends × runners (the first is the headline)."""
    auto = threaded_by_default()
    runners = {"threaded": [True], "serial": [False], "auto": [auto], "both": [auto, not auto]}[args.runner]
    models = args.model or [None]
    if args.backend == "all":  # in the order auto tries them, the usable first: the headline is what run uses
        backends: list[tuple[str, bool | None]] = []
        for name in BACKENDS:
            if name != "onnxruntime":
                backends.append((name, None))
            else:
                backends.append(("onnxruntime", args.int8 if args.int8 is not None else True))
                if args.int8 is None:
                    backends.append(("onnxruntime", False))
        usable = {name for name, (ok, _) in availability().items() if ok}
        backends.sort(key=lambda b: b[0] not in usable)
    else:
        backends = [(args.backend, args.int8 if args.backend in ("auto", "onnxruntime") else False)]
    return [BenchConfig(model, backend, int8, threaded)
            for model in models for backend, int8 in backends for threaded in runners]  # fmt: skip


def _check_output(folder: Path, source: str) -> None:
    """Refuse an ``--output`` that cannot be written, before the (minutes long) run rather than
    after it, or that is the image folder ``source`` reads (QA: the results' plots became frames
    of the next run, which measured them, exit 0). Creates nothing: the folder is made once there
    are results to write, so a run that fails leaves no empty folder behind."""
    if folder.exists() and not folder.is_dir():
        raise OptionsError(f"--output {folder} is a file, not a folder: pass --output DIR")
    if folder.is_dir() and Path(source).is_dir() and folder.resolve() == Path(source).resolve():
        raise OptionsError(f"--output {folder} is the image folder --source reads: the results' plots would be frames "
                           "of the next run; pass --output DIR elsewhere")  # fmt: skip
    if folder.is_symlink() and not folder.exists():  # (QA: found only after the run, as "File exists")
        raise OptionsError(f"--output {folder} is a broken symbolic link (or a link loop): pass --output DIR")
    if not folder.exists() and folder.suffix.lower() in (".json", ".md", ".png"):  # (engines bench --json takes a file)
        raise OptionsError(f"--output names the folder the results go in (bench.json, bench.md, plots), got {folder}: "
                           f"pass e.g. --output {folder.with_suffix('')}")  # fmt: skip
    existing = folder
    while not existing.exists():  # the nearest folder that exists: the new ones would go in it
        existing = existing.parent
    if not existing.is_dir():
        raise OptionsError(f"--output {folder}: {existing} is a file, not a folder: pass --output DIR")
    if existing not in (folder, folder.parent):  # a typo made a tree of folders (as other --output refuse)
        raise OptionsError(f"--output {folder}: the folder {folder.parent} does not exist: create it first, or pass "
                           "--output DIR in a folder that does")  # fmt: skip
    # tried, not judged from permission bits (as root they say nothing about /sys or /proc)
    try:
        if existing == folder:
            problem = output_file_problem(folder / "bench.json")
        else:
            os.rmdir(tempfile.mkdtemp(dir=existing))  # the folders to come can be made here
            problem = None
    except OSError as exc:
        problem = f"{existing} takes no new folder ({exc.strerror})"
    if problem is not None:
        raise OptionsError(f"cannot write to {existing} (for --output {folder}): {problem}; pass --output DIR")


#: The files of a results folder: a run leaves all of its own and none of an earlier run's.
RESULT_FILES = ("bench.json", "bench.md", "bench_stages.png", "bench_timeline.png", "bench_resources.png")


def _write_results(report: dict, result: BenchResult, folder: Path, plots: bool) -> list[Path]:
    """``bench.json``, ``bench.md`` and the plots in ``folder``, created now: written in a
    staging folder inside it, then moved in together, a stop signal held meanwhile, and an
    earlier run's :data:`RESULT_FILES` that this run does not write removed (a stop between
    two files left a new ``bench.json`` beside an earlier run's ``bench.md`` and plots: QA).
    A folder this made is removed again when nothing could be written in it."""
    created = missing_folders(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".bench-", dir=folder))
    except OSError as exc:
        raise OptionsError(f"cannot create the output folder {folder} ({exc.strerror}): pass --output DIR") from exc
    try:
        try:
            try:
                staged = write_reports(report, staging) + (write_plots(result, staging) if plots else [])
            except OSError as exc:  # (QA: a full disk's error named the staging folder's file)
                fix = "free space on its disk or pass --output DIR" if exc.errno in OUT_OF_ROOM else "pass --output DIR"
                raise OptionsError(f"cannot write the results in {folder} ({exc.strerror or exc}): {fix}; nothing "
                                   "written, an earlier run's results there are as they were") from exc  # fmt: skip
            earlier = sorted(name for name in RESULT_FILES if (folder / name).exists())
            if earlier:  # said (QA: silently, even the plots a --no-plots run does not write again)
                log.info("replacing an earlier run's results in %s: %s", folder, ", ".join(earlier))
            with stop_signals_deferred():
                for name in set(RESULT_FILES) - {path.name for path in staged}:
                    (folder / name).unlink(missing_ok=True)
                for path in staged:
                    os.replace(path, folder / path.name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        remove_empty_folders(created)
        raise
    return [folder / path.name for path in staged]


def _new_results_folder(now: float | None = None) -> Path:
    """The default ``--output``: a new ``bench-YYYYMMDD-HHMMSSZ`` folder (the UTC time ``now``, default
    now: :mod:`~posecast.realtime.dated_names`) in the current one, made now (``_002``, ``_003``... when
    taken, sorted after it), so that a run started in the same second gets its own."""
    for name in dated_names.names_in_second("bench", now):
        folder = Path(name)
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
        except OSError as exc:
            raise OptionsError(f"cannot make the results folder {folder} here ({exc.strerror}): pass --output DIR") \
                from exc  # fmt: skip
    raise OptionsError(f"{folder}, the last results folder of this second, exists already: pass --output DIR")


def bench(args: argparse.Namespace) -> int:
    bad_paces = [p for p in args.pace or () if not (p == 0 or 1 <= p <= 240)]
    if bad_paces:
        raise OptionsError(f"--pace must be 0 (none) or from 1 to 240 frames per second, got {bad_paces[0]:g}")
    if args.pace and 0 in args.pace and len(args.pace) > 1:
        raise OptionsError("--pace 0 (no paced runs) cannot go with other --pace rates: give one or the other")
    paces = tuple(p for p in (args.pace or [30.0, 60.0]) if p > 0)
    options = BenchOptions(
        source=args.source or str(demo_clip()),
        configs=configs_from_args(args),
        frames=args.frames, rounds=args.rounds, warmup_frames=args.warmup, round_warmup_frames=args.round_warmup,
        paces_fps=paces,
        soak_minutes=args.soak, soak_pace_fps=SOAK_PACE_FPS if args.soak_pace is None else args.soak_pace,
        landmarker=args.landmarker,
        model_asset=args.model_asset, max_people=args.max_people, people_search_s=args.people_search,
        publish=args.publish, verbose=args.verbose,
    )  # fmt: skip
    warn_unused_options(args)
    if args.soak_hook and not args.soak:
        raise OptionsError("--soak-hook needs --soak MINUTES")
    if args.soak_pace is not None and not args.soak:
        raise OptionsError("--soak-pace is the soak's rate: it needs --soak MINUTES")
    if not args.publish.startswith(("tcp://", "ipc://")):  # its subscribers are other processes, they connect
        raise OptionsError(f"--publish must be an address to bind that another process can reach, tcp://HOST:PORT "
                           f"or ipc://PATH, got {args.publish!r}")  # fmt: skip
    if args.model_asset is not None and not args.model_asset.is_file():
        raise OptionsError(f"--model-asset {args.model_asset} is not a file: pass a MediaPipe pose_landmarker .task "
                           "file, or leave it out for the shipped model")  # fmt: skip
    resolved: dict[Path, str] = {}
    for model in args.model or ():
        path = resolve_model(model).resolve()  # a mistyped name or path: one line, exit 2, before minutes of measuring
        read_onnx_metadata(path)  # read, not only found: a file that is no model is refused before the clip is decoded
        if path in resolved:  # (a name and a path, two labels: measured twice; review)
            raise OptionsError(f"--model {resolved[path]} and {model} are the same model ({path}): give it once")
        resolved[path] = model
    made = _new_results_folder() if args.output is None else None
    args.output = made or args.output
    try:
        _check_output(args.output, options.source)
        # every round starts a new track, whose bones are measured after 2 s: a line each time, no news here
        with quieter(logging.WARNING, "posecast.realtime.lifting.live_subject"):
            result = run_benchmark(options, hooks=[SOAK_HOOKS[name]() for name in args.soak_hook])
        report = build_report(result, command=shlex.join(["posecast", *sys.argv[1:]]))
        paths = _write_results(report, result, args.output, plots=not args.no_plots)
    except BaseException as exc:
        if made is not None:
            with contextlib.suppress(OSError):
                made.rmdir()  # only when empty: nothing measured, nothing left
        if isinstance(exc, KeyboardInterrupt):  # (QA: only "stopped by SIGINT" was said)
            kept = "" if made is not None else f" (what {args.output} held before is as it was)"
            log.warning("stopped before the results were written: nothing written%s", kept)
        raise
    print(summary_text(report))
    for problem in report["problems"]:
        log.warning("inconsistent measurement: %s", problem)
    for reason in report["reliability"]["reasons"]:
        log.warning("noisy run, targets not judged: %s", reason)
    log.info("wrote %s", ", ".join(str(p) for p in paths))
    return 0

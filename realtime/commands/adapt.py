"""``posecast adapt``: fine-tune the lifting model on your own footage (its 2D only, no 3D labels).

The one command that reaches into training (``posecast.engines.training``, PyTorch): the CLI is
the composition root, so it may dispatch there, lazily, inside :func:`adapt_command` (the live
path never imports it; ``tests/test_layering.py`` names this module as its only exception).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType

from ...calibration import DEFAULT_HFOV_DEG, load_intrinsics
from ...engines.cli_args import given_path, output_file, output_file_ending, output_folder
from ...engines.errors import PosecastError, escaped, one_line
from ...engines.fileio import (
    atomic_write,
    check_outputs,
    file_identity,
    json_ready,
    missing_folders,
    output_file_problem,
    remove_empty_folders,
)
from ...engines.install import install_hint
from ...engines.logs import counted
from ...engines.runtime.base import WEIGHTS_DIR, adapt_weights_path
from ...engines.runtime.quantize import int8_sibling
from ..detectors.mediapipe import MediaPipeDetector
from ..errors import OptionsError
from ..footage import FootageOptions, expand_inputs, footage_to_2d
from ..lifting import LiftingOptions
from ..stop_signals import stop_signals_deferred
from .arguments import add_camera_arguments

#: the PyTorch the tests and the shipped figures use (the README's test command)
TESTED_TORCH = "2.13.0"
log = logging.getLogger(__name__)

MAX_MINUTES = 24 * 60


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "adapt", help="fine-tune the lifting model on your own footage (2D only; needs the training extra)"
    )
    parser.add_argument("inputs", nargs="+", type=given_path, metavar="INPUT",
                        help="videos, image folders, recordings (.posecast) or 2D .npz files in the `posecast lift` "
                             "input format (or folders of them)")  # fmt: skip
    parser.add_argument("--output", type=output_file, required=True, metavar="ADAPTED.onnx",
                        help="the adapted model (its INT8 copy and .adapt.npz are written beside it); "
                             "run it with `posecast run --model ADAPTED.onnx`")  # fmt: skip
    parser.add_argument("--minutes", type=float, default=5.0,
                        help=f"wall-clock minutes of the teacher's lifting and the training (MediaPipe on videos "
                             f"before, writing after: on top), more than 0 and at most {MAX_MINUTES}")  # fmt: skip
    parser.add_argument("--steps", type=int, default=0, metavar="N",
                        help="also stop after N training steps, whichever comes first (default: --minutes alone); "
                             "steps are the same work on any CPU: about 1,650 did best as measured (at a constant "
                             "learning rate) and twice that did not help (README, Adapting to your own footage; "
                             "5 minutes there, on 36,000 frames of footage, whose lifting counts in --minutes); "
                             "the learning rate warms up over the first 100 steps and falls to 0 at the end; a "
                             "short run still moves the model (50 steps went 70 %% of the way 3,000 went on a real "
                             "clip)")  # fmt: skip
    parser.add_argument("--model", default=None, metavar="NAME|PATH",
                        help="the model to start from: a shipped model's name or an exported .onnx with its "
                             ".adapt.npz beside it (default: the shipped default)")  # fmt: skip
    parser.add_argument("--report", type=output_file_ending(".json"), metavar="JSON",
                        help="also write the before/after figures here")
    parser.add_argument("--save-2d", type=output_folder, metavar="FOLDER",
                        help="keep the 2D made from videos, image folders and recordings here (lift-format .npz: "
                             "adapt again from them without MediaPipe)")  # fmt: skip
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for training (default 1)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the windows and views drawn (default 0): another seed, another draw of the "
                             "same adaptation (written into the model's metadata)")  # fmt: skip
    parser.add_argument("--recipe", choices=("mirror", "ensemble", "paper"), default="mirror",
                        help="mirror (default): distil the start model's answers averaged with their mirror images, "
                             "smoothed over each window's frames, and for each frame over every window of the "
                             "footage that holds it; ensemble: the same over camera rolls (±45°) too, better for a "
                             "model trained on one mocap source only, worse for the shipped default; paper: the "
                             "paper's losses but the adversarial term, anchored to the start model (README: Adapting "
                             "to your own footage)")  # fmt: skip
    add_camera_arguments(parser)
    MediaPipeDetector.add_arguments(parser)
    parser.set_defaults(func=adapt_command)


def training_module() -> ModuleType:
    """``posecast.engines.training.adapt``, or :class:`OptionsError` naming the extra to install
    when PyTorch (or onnx, which writes the model) is missing."""
    import importlib.util

    # both named at once (torch first: the big one), so that one install brings what is missing
    missing = [name for name in ("torch", "onnx") if importlib.util.find_spec(name) is None]
    if missing:
        cpu = (f" (a CPU-only PyTorch is enough and much smaller: pip install torch=={TESTED_TORCH} --index-url "
               "https://download.pytorch.org/whl/cpu, first)" if "torch" in missing else "")  # fmt: skip
        raise OptionsError(f"posecast adapt trains the networks and needs {' and '.join(missing)}, not installed: "
                           f"{install_hint('train')}{cpu}")  # fmt: skip
    from ...engines.training import adapt

    return adapt


def _check_arguments(args: argparse.Namespace) -> list[tuple[Path, str]]:
    """Raise the one-line error of a bad option or input; returns the inputs, folders opened
    (:func:`~posecast.realtime.footage.expand_inputs`), for the checks after it."""
    if not 0 < args.minutes <= MAX_MINUTES:
        raise OptionsError(f"--minutes must be more than 0 and at most {MAX_MINUTES}, got {args.minutes:g}")
    if args.steps < 0:
        raise OptionsError(f"--steps must be a number of steps, at least 1 (or 0: --minutes alone), got {args.steps}")
    if not 0 <= args.seed < 2**32:  # numpy's and torch's seeds
        raise OptionsError(f"--seed must be a whole number from 0 to {2**32 - 1}, got {args.seed}")
    if not 1 <= args.threads <= (os.cpu_count() or 1) * 4:
        raise OptionsError(f"--threads must be from 1 to {(os.cpu_count() or 1) * 4}, got {args.threads}")
    output = args.output
    if output.suffix.lower() != ".onnx":
        raise OptionsError(f"--output must name an .onnx file (e.g. adapted.onnx), got {output}")
    if output.name.lower().endswith(".int8.onnx"):  # its INT8 copy and weights took another model's names (QA)
        model = output.name[: -len(".int8.onnx")] + ".onnx"
        raise OptionsError(f"--output {output} names an INT8 copy: name the model itself (e.g. {model}); its INT8 "
                           "copy is written beside it")  # fmt: skip
    if _inside(output, WEIGHTS_DIR):  # the shipped models: another model's files would be replaced
        raise OptionsError(f"--output {output} is in posecast's own weights folder {WEIGHTS_DIR}: write the adapted "
                           "model elsewhere (e.g. --output adapted.onnx) and run it with --model")  # fmt: skip
    kinds = expand_inputs(args.inputs, say_left_out=False)  # a mistyped input is named before a missing extra
    footage = [path for path, _ in kinds]
    seen: dict[tuple[int, int] | None, Path] = {}
    for path in footage:  # (QA: one footage given twice was trained on twice as much, without a word)
        # the file itself (a link, another spelling of its name, a hard link: one file)
        if (first := seen.setdefault(file_identity(path), path)) is not path:
            twice = f"{path}" if first == path else f"{path} (also as {first})"
            raise OptionsError(f"input {twice} is given twice (directly or in a folder given): give each footage once")
    # nothing written over what it is made from (a --report on the footage's .npz replaced the user's 2D)
    inputs = {f"the input {path}": path for path in footage} | {"--intrinsics": args.intrinsics}
    # (its adaptation weights too: `adapt x.adapt.npz --output x.onnx` replaced the footage with weights; QA)
    written = {"--output": output, "its INT8 copy": int8_sibling(output),
               "its adaptation weights": adapt_weights_path(output), "--report": args.report}  # fmt: skip
    check_outputs(written, inputs)
    if args.save_2d is not None and args.save_2d.exists() and not args.save_2d.is_dir():
        raise OptionsError(f"--save-2d {args.save_2d} is a file, not a folder: pass a folder (made if missing)")
    return kinds


def _make_save_2d_folder(args: argparse.Namespace, kinds: list[tuple[Path, str]]) -> None:
    """``--save-2d``, made once every check has passed (a refused start model left an empty one),
    and only when some input is turned into 2D (QA: an empty folder tree for .npz inputs)."""
    if args.save_2d is not None and all(kind == "npz" for _, kind in kinds):
        log.warning("--save-2d %s: the inputs are 2D .npz files already, so nothing is saved there (the option "
                    "does nothing)", args.save_2d)  # fmt: skip
        args.save_2d = None
    if args.save_2d is not None:
        try:
            args.save_2d.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OptionsError(f"cannot make the --save-2d folder {args.save_2d} ({exc.strerror or exc}); pass a "
                               "writable folder") from None  # fmt: skip
        problem = output_file_problem(args.save_2d / "probe_2d.npz")
        if problem is not None:
            raise OptionsError(f"cannot write the 2D into --save-2d {args.save_2d}: {problem}; pass a writable folder")


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` (existing or not) lies in ``folder`` (links resolved)."""
    return folder.resolve() in path.resolve().parents


def check_start_kept(output: Path, report: Path | None, model: Path) -> None:
    """Raise :class:`~posecast.engines.fileio.OutputPathError` (as ``posecast lift`` does for its
    input) when a file adapt writes (``--output``, its INT8 copy and adaptation weights, ``--report``)
    is one of the start model's files: the model adapted from would be destroyed."""
    written = {"--output": output, "its adaptation weights": adapt_weights_path(output),
               "its INT8 copy": int8_sibling(output), "--report": report}  # fmt: skip
    start = {"the start model (--model)": model, "the start model's adaptation weights": adapt_weights_path(model),
             "the start model's INT8 copy": int8_sibling(model)}  # fmt: skip
    check_outputs(written, start)


def _warn_camera_options_unused(args: argparse.Namespace, kinds: list[tuple[Path, str]]) -> None:
    if args.hfov != DEFAULT_HFOV_DEG or args.intrinsics is not None:  # (ignored without a word; QA)
        own = [path.name for path, kind in kinds if kind in ("npz", "recording")]
        if own:
            log.warning("--hfov and --intrinsics apply to videos and image folders, not to the %d .npz or .posecast "
                        "input(s), which carry their own camera (e.g. %s)", len(own), own[0])  # fmt: skip


def adapt_command(args: argparse.Namespace) -> int:
    kinds = _check_arguments(args)
    camera = LiftingOptions(intrinsics_path=args.intrinsics, hfov_deg=args.hfov)  # checked before any work
    if args.intrinsics is not None:
        load_intrinsics(args.intrinsics)
    training = training_module()
    model = training.check_start(args.model)  # a missing model or adaptation file fails before MediaPipe runs
    check_start_kept(args.output, args.report, model)
    made = missing_folders(args.save_2d) if args.save_2d is not None else []
    try:
        _make_save_2d_folder(args, kinds)
        report, frames = _adapt(args, kinds, camera, model, training)
    except BaseException:  # (QA: a run that failed before any 2D was saved left the folders it made)
        remove_empty_folders(made)
        raise
    report_written = False
    try:
        print(format_report(report, frames))
        if args.report is not None:
            try:
                atomic_write(args.report, json.dumps(json_ready(dataclasses.asdict(report) | {"frames": frames}),
                                                     indent=2).encode())  # fmt: skip
            except PosecastError as exc:  # (QA: the error did not say the model was written all the same)
                raise PosecastError(f"{one_line(exc)}; the adapted model {args.output} was written, only the report "
                                    "was not") from exc  # fmt: skip
            report_written = True
    except KeyboardInterrupt:  # (QA: a stop here said only "stopped by SIGINT", and --report was lost unsaid)
        report_file = ""
        if args.report is not None and not report_written:  # (review: an earlier run's file there passed for it)
            earlier = ", the one there is an earlier run's" if args.report.exists() else ""
            report_file = f"; {args.report} was not written{earlier}"
        log.warning("stopped once the adapted model was written (%s): it is whole, only its report was cut "
                    "short%s", args.output, report_file)  # fmt: skip
        raise
    return 0


def _adapt(args: argparse.Namespace, kinds: list[tuple[Path, str]], camera: LiftingOptions, model: Path,
           training: ModuleType) -> tuple[object, int]:
    """The footage to 2D (MediaPipe, or the 2D given), then the adaptation: its report and frames."""
    _warn_camera_options_unused(args, kinds)  # once every check passed: a refused option is the only line (QA)
    options = training.AdaptOptions.recipe(args.recipe, minutes=args.minutes, max_steps=args.steps,
                                           threads=args.threads, seed=args.seed)  # fmt: skip
    footage_options = FootageOptions(MediaPipeDetector.options_from_args(args), camera)
    with tempfile.TemporaryDirectory(prefix="posecast-adapt-2d-") as tmp:
        footage = footage_to_2d(args.inputs, args.save_2d or Path(tmp), footage_options)
        files = [f.path for f in footage if f.with_person]
        frames = sum(f.with_person for f in footage)
        limit = f"{args.minutes:g} min"
        if args.steps:  # the sooner ends it (QA: "for 5 min" was said of a one-step run)
            limit += f" or {counted(args.steps, 'step')}, whichever comes first"
        log.info("adapting %s to %s with a person (%s) for %s", model.name, counted(frames, "frame"),
                 counted(len(files), "sequence"), limit)  # fmt: skip
        sources = list(dict.fromkeys(f.source for f in footage if f.with_person))  # a take of two people: once
        report = training.adapt(model, files, args.output, options, progress=sys.stderr.isatty(), sources=sources,
                                moving_files=stop_signals_deferred)
    return report, frames


#: The report's figures: (key, label, unit).
FIGURES = (
    ("cycle_2d_error_pct", "2D cycle error (lift, turn 90°, lift, turn back)", "% of body size"),
    ("bone_cv_pct", "bone-length variation within a window", "%"),
    ("scale_mean", "mean scale (the scale network's; adapting keeps its statistics)", ""),
    ("moved_mm", "3D moved from the start model (1.70 m person)", "mm"),
)


def format_report(report: object, frames: int) -> str:
    """The before/after table printed at the end. The footage has no 3D truth: the figures say how
    the model changed on it, not whether its 3D got better (a recipe may train on the very figure:
    the paper's lowers its own cycle error while its 3D gets worse), so none is called better."""
    took = f"{report.seconds:.0f} s" if report.seconds < 60 else f"{report.seconds / 60:.1f} min"  # (QA: "0.0 min")
    lines = [f"adapted {counted(report.steps, 'step')} in {took} on {frames} frames "
             f"({report.windows} windows at the model's frame rate) → {escaped(str(report.output))}",
             "  how the model changed on these windows of the footage (the network alone, no flip averaging; no "
             "3D truth, so not accuracy: README, Adapting to your own footage, says what adapting buys):"]  # fmt: skip
    for key, label, unit in FIGURES:
        before, after = report.before.get(key), report.after.get(key)
        if before is None and after is None:
            continue
        cells = " → ".join("–" if v is None else f"{v:.2f}" for v in (before, after))
        lines.append(f"  {label}: {cells}{' ' + unit if unit else ''}")
    return "\n".join(lines)

"""``posecast run``: the live pipeline on a camera, a video file or an image folder."""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence
from pathlib import Path

from ..sinks.stats import StatsSink
from ..sinks.view import say_no_display
from ..sinks.vmc import VmcSink
from ..sinks.zmq import ZmqSink
from ..stages import Sink, output_labels
from .arguments import add_pipeline_arguments, build_sinks, run_pipeline

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="run the live pipeline on a camera, video file or image folder")
    parser.add_argument("--source", default="0",
                        help="camera index or /dev/videoN, stream URL (rtsp://, http(s)://), video file or image "
                             "folder (default: 0)")  # fmt: skip
    add_pipeline_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    sinks = build_sinks(args, args.source)
    say_no_display(args, sinks)
    return run_and_report(args, args.source, sinks, replaced_outputs(sinks))


def replaced_outputs(sinks: Sequence[Sink], said: Sequence[Path] = ()) -> list[tuple[int, str]]:
    """The notices of the output files already there, which the run replaces when it ends, as
    ``demo``, ``lift`` and ``export`` say it (README QA: a video and a statistics file of an earlier
    run were replaced without a word); ``said``: files a notice of the caller's names already."""
    return [(logging.INFO, f"{path} is replaced when this run ends ({option})") for sink in sinks
            for option, path in sink.output_files().items() if Path(path).is_file() and Path(path) not in said]


def run_and_report(args: argparse.Namespace, source_spec: str, sinks: list[Sink],
                   notices: Sequence[tuple[int, str]] = ()) -> int:  # fmt: skip
    """Run the pipeline into ``sinks`` and log one summary line (from the stats sink), also when
    the run is stopped (Ctrl-C is how a camera run ends) or its live source is lost; ``notices``:
    :func:`run_pipeline`'s."""
    started = time.perf_counter()
    frames = None
    try:
        frames = run_pipeline(args, source_spec, sinks, args.frames, notices)
    except KeyboardInterrupt:  # Ctrl-C, SIGTERM, SIGHUP
        if not any(s.frames for s in sinks if isinstance(s, StatsSink)):  # outputs are made at the first frame
            log.info("stopped before the first frame: no output was written")
        raise
    finally:
        stats = next((s for s in sinks if isinstance(s, StatsSink)), None)
        if stats is not None and stats.frames:  # the sinks are closed: every frame counted
            _log_summary(sinks, stats, stats.frames if frames is None else frames, time.perf_counter() - started)
    return 0


def _log_summary(sinks: list[Sink], stats: StatsSink, frames: int, elapsed_s: float) -> None:
    published = next((f"published on {s.address}" for s in sinks if isinstance(s, ZmqSink)), "not published")
    published += "".join(f", VMC to {s.destination}" for s in sinks if isinstance(s, VmcSink))
    summary = stats.summary()["capture_to_delivered"]
    posed = stats.frames_with_pose
    # every output had the frame (the bench's and the stats file's capture_to_delivered)
    latency = (f"capture→delivered p50 {summary['p50']:.1f} ms p99 {summary['p99']:.1f} ms" if posed
               else "no latency: nobody was posed")  # fmt: skip
    log.info("%d frames in %.1f s, pose in %d (%.0f %%), %s; %s", frames, elapsed_s, posed,
             100 * posed / max(frames, 1), published, latency)  # fmt: skip
    labelled = zip(output_labels(sinks), sinks, strict=True)
    dropped = {label: s.dropped_frames for label, s in labelled if s.dropped_frames}
    if dropped:
        log.warning("outputs that could not keep up dropped frames: %s", dropped)

#!/usr/bin/env python
"""Two revisions of posecast's 3D, side by side in one process: same outputs? how much CPU?

    python tools/bench_ab.py --base HEAD~1 [--new WORKTREE|REV] [--rounds 4] [--swap] [--json out.json]

Everything after MediaPipe (``Pipeline.finish``: window, lift, smoothing + root, avatar world,
ZeroMQ and stats sinks) of ``--base`` (a git revision) and ``--new`` (the working tree by
default, or another revision) is run on the same real detections of the dance clip:

1. **outputs**: with the clocks frozen, every published payload (bytes) and every person's and
   the avatar world's arrays of the two revisions are compared; any difference is listed.
2. **CPU time**: both pipelines in one process, alternating frame by frame (order swapped every
   frame), thread CPU time per frame (``time.thread_time_ns``), ``warm`` (back to back) and
   ``after_mediapipe`` (a real MediaPipe call right before each). A busy neighbour slows both
   alike; the paired median difference is the figure to read. The pipeline built second measured
   faster by 30-220 us after MediaPipe in A/A runs (memory placement): run once with ``--swap``
   (the new one built first) and average the two.

Each revision is exported with ``git archive`` and imported under its own package name (every
import inside posecast is relative), so nothing in the working tree changes.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
from posecast.engines.cli_args import whole_number
from posecast.engines.errors import run_reporting
from posecast.engines.fileio import atomic_write
from posecast.engines.uploads import block_native_uploads

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT / "tests" / "fixtures" / "media" / "dance_576.mp4"


def export(rev: str, folder: Path, name: str) -> None:
    """``rev`` (or the working tree for ``WORKTREE``) as package ``name`` under ``folder``."""
    target = folder / name
    if rev == "WORKTREE":
        files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                               capture_output=True).stdout.decode().split("\0")  # fmt: skip
        for f in filter(None, files):
            if (ROOT / f).is_file():
                (target / f).parent.mkdir(parents=True, exist_ok=True)
                (target / f).write_bytes((ROOT / f).read_bytes())
        return
    target.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)


def build(pkg: str, output_frame: str | None = None):  # noqa: ANN201 - the revision's Pipeline
    m = {n: importlib.import_module(f"{pkg}.realtime.{n}") for n in ("avatar", "lifting", "pipeline")}
    sinks = importlib.import_module(f"{pkg}.realtime.sinks")
    zmq_mod = importlib.import_module(f"{pkg}.realtime.sinks.zmq")
    lifting = m["lifting"].MetricPoseLifting(m["lifting"].LiftingOptions())
    zmq_sink = zmq_mod.ZmqSink(zmq_mod.PublisherOptions(address="tcp://127.0.0.1:0"), output_frame)
    detector = types.SimpleNamespace(max_people=1, reset=lambda: None, close=lambda: None)  # the 2D is given
    # as posecast bench builds it: the floor is timed and compared, not said for each pipeline built
    # (a revision older than log_floor says it)
    quiet = {"log_floor": False} if "log_floor" in inspect.signature(m["avatar"].AvatarWorld).parameters else {}
    pipeline = m["pipeline"].Pipeline(detector, lifting, [zmq_sink, sinks.SINKS["stats"]()],
                                      m["avatar"].AvatarWorld(m["avatar"].AvatarOptions(), **quiet))  # fmt: skip
    return pipeline, zmq_sink


def outputs(pkg: str, frames: list, detections: list) -> list:
    """Every output of two passes over the clip (plain and with ``--frame unity``), clocks frozen."""
    frozen = types.SimpleNamespace(perf_counter_ns=lambda: 1000, monotonic_ns=lambda: 2000, time_ns=lambda: 3000,
                                   perf_counter=lambda: 1.0, monotonic=lambda: 2.0, time=lambda: 3.0)  # fmt: skip
    build(pkg)[0].close()  # every module imported before the clocks are frozen in each
    for name, module in list(sys.modules.items()):
        if name.startswith(pkg + ".") and getattr(module, "time", None) is time:
            module.time = frozen
    records: list = []
    try:
        for output_frame in (None, "unity"):
            pipeline, zmq_sink = build(pkg, output_frame)
            send = zmq_sink.publisher.send_pose
            zmq_sink.publisher.send_pose = lambda payload, _send=send: (records.append(payload), _send(payload))[1]
            with pipeline:
                for _ in range(2):
                    pipeline.reset()
                    for i, (frame, det) in enumerate(zip(frames, detections, strict=True)):
                        frame.capture_ns = 10**12 + i
                        result = pipeline.finish(frame, det, {"keypoints2d": 1})
                        for p in result.people:
                            records.append((p.person_id, p.tracking, p.keypoints_px, p.confidence, p.joints_m,
                                            p.root_m, p.bone_lengths_m, p.scale, p.joints_lifted))  # fmt: skip
                        for a in result.world.people:
                            records.append((a.person_id, a.joints_world_m, a.root_height_m, a.foot_contact))
    finally:
        for name, module in list(sys.modules.items()):
            if name.startswith(pkg + ".") and getattr(module, "time", None) is frozen:
                module.time = time
    return records


def differences(a: list, b: list) -> list[str]:
    if len(a) != len(b):
        return [f"{len(a)} vs {len(b)} records"]
    out = []
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        for j, (u, v) in enumerate(zip(x, y, strict=True) if isinstance(x, tuple) else [(x, y)]):
            same = (isinstance(u, np.ndarray) and isinstance(v, np.ndarray) and u.dtype == v.dtype
                    and np.array_equal(u, v, equal_nan=True)) or (not isinstance(u, np.ndarray) and u == v)  # fmt: skip
            if not same:
                out.append(f"record {i} item {j}: {u!r:.80} vs {v!r:.80}")
    return out


def cpu_times(pipes: dict, frames: list, detections: list, detector, rounds: int) -> dict:  # noqa: ANN001
    times = {(n, c): [] for n in pipes for c in ("warm", "after_mediapipe")}
    names = list(pipes)
    for pipeline in pipes.values():
        pipeline.open()
        for frame, det in zip(frames, detections, strict=True):
            pipeline.finish(frame, det, {"keypoints2d": 1})
    for r in range(rounds):
        for condition in ("warm", "after_mediapipe") if r % 2 == 0 else ("after_mediapipe", "warm"):
            for pipeline in pipes.values():
                pipeline.reset()
            for i, (frame, det) in enumerate(zip(frames, detections, strict=True)):
                for name in names if i % 2 == 0 else names[::-1]:
                    if condition == "after_mediapipe":
                        detector.detect(frame)
                    t = time.thread_time_ns()
                    pipes[name].finish(frame, det, {"keypoints2d": 1})
                    times[(name, condition)].append(time.thread_time_ns() - t)
    for pipeline in pipes.values():
        pipeline.close()
    report = {}
    for condition in ("warm", "after_mediapipe"):
        base, new = (np.asarray(times[(n, condition)]) / 1e3 for n in ("base", "new"))
        report[condition] = {"base_p50_us": round(float(np.median(base))), "new_p50_us": round(float(np.median(new))),
                             "base_p90_us": round(float(np.percentile(base, 90))),
                             "new_p90_us": round(float(np.percentile(new, 90))),
                             "paired_median_diff_us": round(float(np.median(new - base)))}  # fmt: skip
    return report


def main(argv: list[str] | None = None) -> int:
    block_native_uploads()  # MediaPipe's usage-metrics upload stays on this machine (engines/uploads.py)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", required=True, help="git revision to compare against")
    ap.add_argument("--new", default="WORKTREE", help="git revision, or WORKTREE (default)")
    ap.add_argument("--rounds", type=whole_number(1, "a count of rounds"), default=4)
    ap.add_argument("--swap", action="store_true", help="build the new pipeline first")
    ap.add_argument("--no-check", action="store_true", help="skip the output comparison")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        export(args.base, Path(tmp), "posecast_base")
        export(args.new, Path(tmp), "posecast_new")
        sys.path.insert(0, tmp)
        clip_mod = importlib.import_module("posecast_base.realtime.benchmark.clip")
        clip = clip_mod.load_clip(str(CLIP), 120)
        with clip_mod.ClipSource(clip, len(clip.images)) as source:
            frames = [source.read() for _ in range(len(clip.images))]
        detector = importlib.import_module("posecast_base.realtime.detectors.mediapipe").MediaPipeDetector()
        detections = [detector.detect(frame) for frame in frames]
        report: dict = {"base": args.base, "new": args.new, "swap": args.swap, "load_before": os.getloadavg()}
        if not args.no_check:
            base, new = (outputs(f"posecast_{name}", frames, detections) for name in ("base", "new"))
            diffs = differences(base, new)
            report["outputs_identical"], report["differences"] = not diffs, diffs[:50]
            print("outputs identical" if not diffs else f"{len(diffs)} differences, first: {diffs[:5]}")
        order = ("new", "base") if args.swap else ("base", "new")
        pipes = {name: build(f"posecast_{name}")[0] for name in order}
        report["cpu_us"] = cpu_times(pipes, frames, detections, detector, args.rounds)
        report["load_after"] = os.getloadavg()
        detector.close()
    for condition, row in report["cpu_us"].items():
        print(f"{condition:16s} base p50 {row['base_p50_us']:5d} us, new p50 {row['new_p50_us']:5d} us, "
              f"paired median difference {row['paired_median_diff_us']:+d} us")  # fmt: skip
    if args.json:
        atomic_write(args.json, (json.dumps(report, indent=2) + "\n").encode())
    return 0 if report.get("outputs_identical", True) else 1


if __name__ == "__main__":  # (tools QA: missing data and bad values were tracebacks)
    sys.exit(run_reporting(main, "bench_ab"))

#!/usr/bin/env python
"""Where the time after MediaPipe goes: the lifting step and the rest of the 3D, warm and cold.

    python tools/bench_lift.py [--json bench/lift.json] [--iters 300] [--model PATH|NAME]

1. The lifting networks alone, per ONNX Runtime session variant (as shipped: INT8, one
   intra-op thread, no spinning, all graph optimisations; and batch fixed to 1, no memory
   arena, no memory pattern, extended optimisations only, spinning, two threads, float), each
   called back to back (warm), right after 16 MB streamed through the cache, and right after a
   MediaPipe call on the same thread. Variants are interleaved call by call, so a busy
   neighbour slows them alike.
2. Everything after MediaPipe (``Pipeline.finish``: window, lift, smoothing + root, avatar
   world, publish), split by part: warm, right after a MediaPipe call, and right after other
   things that take as long as one (what makes it slow: MediaPipe's use of the caches, or the
   time since the 3D code last ran?): a 20 ms sleep, a 20 ms busy loop of pure Python (a tiny
   working set) and 64 MB streamed through the cache by the same thread. The conditions run
   in blocks of the clip, their order rotated every round.

Times are the calling thread's CPU time (``time.thread_time_ns``): the work itself, not the
time spent waiting for a core, so a shared machine still gives comparable figures (wall-clock
figures are in ``posecast bench``). With one intra-op thread ONNX Runtime runs on the caller's
thread, so its CPU time is the whole call.
"""

from __future__ import annotations

import argparse
import collections
import importlib
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from posecast.engines.cli_args import whole_number
from posecast.engines.errors import run_reporting
from posecast.engines.fileio import atomic_write, check_outputs
from posecast.engines.runtime.base import resolve_model
from posecast.engines.runtime.quantize import cached_int8
from posecast.engines.uploads import block_native_uploads
from posecast.realtime.avatar import AvatarOptions, AvatarWorld
from posecast.realtime.benchmark.clip import ClipSource, load_clip
from posecast.realtime.benchmark.machine import machine_info
from posecast.realtime.detectors.mediapipe import MediaPipeDetector
from posecast.realtime.lifting import LifterOptions, LiftingOptions, MetricPoseLifting
from posecast.realtime.pipeline import Pipeline
from posecast.realtime.sinks.zmq import PublisherOptions, ZmqSink

CLIP = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "media" / "dance_576.mp4"
SWEEP = np.ones(16_000_000 // 8)  # 16 MB, more than this CPU's L2 and its share of L3
SWEEP_64MB = np.ones(64_000_000 // 8)
IDLE_S = 0.020  # about one MediaPipe call


def _spin(seconds: float) -> None:
    """Busy for ``seconds`` in the interpreter alone: the core stays ours, little memory is touched."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def session(path: Path, threads: int = 1, spin: bool = False, arena: bool = True, pattern: bool = True,
            level: str = "all", batch1: bool = False) -> ort.InferenceSession:  # fmt: skip
    o = ort.SessionOptions()
    o.intra_op_num_threads, o.inter_op_num_threads = threads, 1
    o.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    o.graph_optimization_level = {"all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
                                  "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED}[level]  # fmt: skip
    o.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    o.enable_cpu_mem_arena, o.enable_mem_pattern, o.log_severity_level = arena, pattern, 3
    if batch1:
        o.add_free_dimension_override_by_name("batch", 1)
    return ort.InferenceSession(str(path), o, providers=["CPUExecutionProvider"])


def stats(ns: list[int]) -> dict[str, float]:
    v = np.asarray(ns[len(ns) // 10 :], np.float64) / 1e3  # the first tenth is warm-up
    return {"p50_us": round(float(np.median(v)), 1), "p90_us": round(float(np.percentile(v, 90)), 1),
            "p99_us": round(float(np.percentile(v, 99)), 1)}  # fmt: skip


def bench_sessions(model: Path, windows: list[np.ndarray], detector: MediaPipeDetector, frames: list,
                   iters: int) -> dict:  # fmt: skip
    int8 = cached_int8(model)
    variants = {
        "shipped (int8, 1 thread, no spin, all opts)": session(int8),
        "batch fixed to 1": session(int8, batch1=True),
        "no memory arena": session(int8, arena=False),
        "no memory pattern": session(int8, pattern=False),
        "extended optimisations": session(int8, level="extended"),
        "spinning": session(int8, spin=True),
        "2 intra-op threads": session(int8, threads=2),
        "float": session(model),
    }
    out: dict[str, dict[str, list[int]]] = {n: collections.defaultdict(list) for n in variants}
    wall: dict[str, list[int]] = collections.defaultdict(list)
    for i in range(iters):
        x = {"keypoints_norm": windows[i % len(windows)]}
        for name, s in variants.items():
            for condition in ("warm", "after_sweep", "after_mediapipe"):
                if condition == "after_sweep":
                    SWEEP.__iadd__(1.0)
                elif condition == "after_mediapipe":
                    detector.detect(frames[i % len(frames)])
                else:
                    s.run(None, x)  # the same call just before: warm
                t, w = time.thread_time_ns(), time.perf_counter_ns()
                s.run(None, x)
                out[name][condition].append(time.thread_time_ns() - t)
                wall[name].append(time.perf_counter_ns() - w)
    # CPU time counts the caller's thread only: with 2 intra-op threads the pool thread's work is
    # missing from it, so every variant carries its wall-clock p50 (all conditions) as well
    return {name: {**{c: stats(v) for c, v in conds.items()}, "wall_all_p50_us": stats(wall[name])["p50_us"]}
            for name, conds in out.items()}  # fmt: skip


def quiet_world() -> AvatarWorld:
    """The avatar world as ``posecast run`` builds it, its floor timed and not said (as ``posecast
    bench``'s: the log said it for each run of this tool)."""
    return AvatarWorld(AvatarOptions(), log_floor=False)


def bench_parts(pipeline: Pipeline, frames: list, detections: list, detector: MediaPipeDetector,
                rounds: int) -> dict:  # fmt: skip
    """CPU time of ``Pipeline.finish`` and its parts, warm and right after a MediaPipe call."""
    parts = {"window": ("posecast.realtime.lifting.person", "PersonState", "push"),
             "lift": ("posecast.realtime.lifting.lifter", "Lifter3D", "process"),
             "bone smoothing": ("posecast.realtime.lifting.smoothing", "BoneLengthSmoother", "process"),
             "root": ("posecast.realtime.lifting.person", None, "solve_root_translation"),
             "avatar world": ("posecast.realtime.avatar", "AvatarWorld", "process"),
             "encode pose": ("posecast.realtime.sinks.zmq", None, "encode_pose")}  # fmt: skip
    acc: dict[str, list[int]] = collections.defaultdict(list)
    frame_at = {id(det): frame for frame, det in zip(frames, detections, strict=True)}
    before = {
        "warm": lambda det: None,
        "after_mediapipe": lambda det: detector.detect(frame_at[id(det)]),
        "after_sleep_20ms": lambda det: time.sleep(IDLE_S),
        "after_spin_20ms": lambda det: _spin(IDLE_S),
        "after_sweep_64mb": lambda det: SWEEP_64MB.__iadd__(1.0),
    }
    originals = []
    for label, (module, owner, name) in parts.items():
        target = importlib.import_module(module)
        target = getattr(target, owner) if owner else target
        fn = getattr(target, name)
        originals.append((target, name, fn))

        def timed(*a, _fn=fn, _label=label, **k):  # noqa: ANN002, ANN003, ANN202
            t = time.thread_time_ns()
            r = _fn(*a, **k)
            acc[_label].append(time.thread_time_ns() - t)
            return r

        setattr(target, name, timed)
    samples: dict[str, dict[str, list[int]]] = {c: collections.defaultdict(list) for c in before}
    try:
        names = list(before)
        for r in range(rounds):
            for condition in names[r % len(names) :] + names[: r % len(names)]:
                acc.clear()
                pipeline.reset()
                for frame, det in zip(frames, detections, strict=True):
                    before[condition](det)
                    t = time.thread_time_ns()
                    pipeline.finish(frame, det, {"keypoints2d": 0})
                    samples[condition]["everything after MediaPipe"].append(time.thread_time_ns() - t)
                for part, ns in acc.items():
                    samples[condition][part] += ns
    finally:
        for target, name, fn in originals:
            setattr(target, name, fn)
    return {c: {part: stats(ns) for part, ns in parts.items()} for c, parts in samples.items()}


def main(argv: list[str] | None = None) -> int:
    block_native_uploads()  # MediaPipe's usage-metrics upload stays on this machine (engines/uploads.py)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", default=str(CLIP))
    ap.add_argument("--model", help="lifting model .onnx or shipped name (default: the shipped one)")
    ap.add_argument("--iters", type=whole_number(1, "a count of timed frames"), default=300)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    model = resolve_model(args.model)
    check_outputs({"--json": args.json}, {"--model": model})  # (review: the model became JSON)
    clip = load_clip(args.clip, 120)
    with ClipSource(clip, len(clip.images)) as src:
        frames = [src.read() for _ in range(len(clip.images))]
    detector = MediaPipeDetector()
    detections = [detector.detect(f) for f in frames]
    lifting = MetricPoseLifting(LiftingOptions(lifter=LifterOptions(model_path=model)))
    windows: list[np.ndarray] = []
    process = lifting.lifter.process
    lifting.lifter.process = lambda w: (windows.append(w.copy()), process(w))[1]  # real windows of the clip
    sink = ZmqSink(PublisherOptions(address="tcp://127.0.0.1:0"))
    pipeline = Pipeline(detector, lifting, [sink], quiet_world())
    with pipeline:
        for frame, det in zip(frames, detections, strict=True):
            pipeline.finish(frame, det, {"keypoints2d": 0})
        del lifting.lifter.process  # the class's method again (the parts timer wraps it)
        report = {
            "model": str(model), "machine": machine_info(), "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "sessions_us": bench_sessions(model, windows, detector, frames, args.iters),
            "after_mediapipe_us": bench_parts(pipeline, frames, detections, detector, max(5, args.iters // 60)),
        }  # fmt: skip
    report["machine_load_after"] = machine_info()["load_average"]
    for name, conds in report["sessions_us"].items():
        cells = "  ".join(f"{c} {v['p50_us']:5.0f}/{v['p90_us']:5.0f}" for c, v in conds.items() if isinstance(v, dict))
        print(f"{name:44s} {cells}  wall {conds['wall_all_p50_us']:5.0f}  (CPU us p50/p90)")
    for condition, parts in report["after_mediapipe_us"].items():
        print(f"{condition}: " + ", ".join(f"{k} {v['p50_us']:.0f}" for k, v in parts.items()) + " (p50 us)")
    if args.json:
        atomic_write(args.json, (json.dumps(report, indent=2) + "\n").encode())
    return 0


if __name__ == "__main__":  # (tools QA: missing data and bad values were tracebacks)
    sys.exit(run_reporting(main, "bench_lift"))

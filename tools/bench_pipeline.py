#!/usr/bin/env python
"""Latency benchmark of the live pipeline on a clip: p50/p99 per stage and capture→publish.

    python tools/bench_pipeline.py --json bench/pipeline.json [--clip PATH] [--loops 3] [--int8]

Runs the real pipeline (MediaPipe full model, the shipped networks on the chosen backend,
bone smoothing, the ZeroMQ sink publishing to a real subscriber in another process, and the
stats sink) over the clip ``--loops`` times, each loop with a fresh temporal state, and writes
the statistics of every stage (milliseconds), the sum of everything after MediaPipe, and the
machine it ran on. ``publish`` is the time spent handing each frame to the sinks.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import platform
import sys
import time
from pathlib import Path

import zmq
from posecast.engines.fileio import atomic_write
from posecast.engines.runtime import cpu_name
from posecast.realtime.assemble import PipelineOptions, build_pipeline
from posecast.realtime.lifting import LifterOptions, LiftingOptions
from posecast.realtime.sinks.stats import StatsSink
from posecast.realtime.sinks.zmq import PublisherOptions, ZmqSink
from posecast.realtime.sources import open_source

CLIP = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "media" / "dance_576.mp4"


def _drain(address: str, stop, counter) -> None:  # noqa: ANN001 - multiprocessing Event/Value
    """The subscriber, in its own process as in real use (a thread would share the GIL)."""
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"pose")
    sub.connect(address)
    while not stop.is_set():
        if sub.poll(50):
            sub.recv_multipart()
            counter.value += 1
    sub.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", type=Path, default=CLIP)
    ap.add_argument("--loops", type=int, default=3)
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--model", type=Path, help="lifting model .onnx (default: the shipped one)")
    ap.add_argument("--int8", action=argparse.BooleanOptionalAction, default=None, help="default: as the pipeline")
    ap.add_argument("--max-people", type=int, default=1)
    ap.add_argument("--json", type=Path, required=True)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    options = PipelineOptions(
        lifting=LiftingOptions(lifter=LifterOptions(model_path=args.model, backend=args.backend, int8=args.int8)),
        max_people=args.max_people,
    )
    publisher, stats = ZmqSink(PublisherOptions(address="tcp://127.0.0.1:0")), StatsSink()
    ctx = multiprocessing.get_context("spawn")
    received = ctx.Value("i", 0)
    with build_pipeline(options, [publisher, stats]) as pipeline:
        stop = ctx.Event()
        drainer = ctx.Process(target=_drain, args=(publisher.address, stop, received), daemon=True)
        drainer.start()
        time.sleep(1.0)  # let the subscriber join before the first frame
        for _ in range(args.loops):
            pipeline.reset()
            with open_source(str(args.clip)) as source:
                for _ in pipeline.run(source):
                    pass
        summary = stats.summary()
        stop.set()
        drainer.join()
        backend = pipeline.lifting.lifter.backend
        report = {
            "clip": args.clip.name,
            "frames": stats.frames,
            "frames_with_pose": stats.frames_with_pose,
            "max_people": args.max_people,
            "messages_received": received.value,
            "backend": backend.name,
            "backend_device": backend.device,
            "int8": "int8" in backend.device,
            "window_frames": pipeline.lifting.window_frames,
            "cpu": cpu_name(),
            "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d %H:%M:%S"),
            "stages_ms": summary,
        }
    atomic_write(args.json, json.dumps(report, indent=2).encode())
    s = report["stages_ms"]
    for key in ("keypoints2d", "window", "lift", "smooth", "publish", "after_mediapipe", "capture_to_publish_ms"):
        logging.info("%-22s p50 %7.3f ms   p99 %7.3f ms", key, s[key]["p50"], s[key]["p99"])
    return 0


if __name__ == "__main__":
    sys.exit(main())

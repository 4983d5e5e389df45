#!/usr/bin/env python
"""How the lifting stage behaves over time on real clips: warm-up, bone-length settling, dropouts.

    python tools/temporal_metrics.py [--json FILE] [CLIP ...]

Each clip (default: the test clips, ``tests/fixtures/media/*.mp4``) goes through real MediaPipe
once; its detections are then replayed through the lifting stage (the shipped model, default
options), as they are and with the person removed for a while (a dropout: frames with nobody):

- ``warming_s``: clip time from the first pose to the first ``tracking`` frame;
- ``bone_step_max_mm``: the largest change of a published bone length from one posed frame to
  the next (across a dropout too); ``locked_s``: the clip time from which the published lengths
  never change again (``null``: still changing at the end);
- per dropout (one frame, or a gap of ``gap_s`` between the frames with the person around it):
  ``warming_frames_after``, ``bones_vs_uninterrupted_pct`` (the largest relative
  difference of a bone at the clip's end against the run without the dropout), the same
  ``bone_step_max_mm`` and ``locked_s``;
- ``window_cpu_us``: the causal window's own time per frame (``PoseWindow.process``, CPU time
  of the calling thread, median over the clip's frames replayed 20 times; and on synthetic
  sources at 5, 30, 60 and 240 fps).

It only uses interfaces that older versions had too, so the same command measures a checkout
before a change.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
from posecast.engines import normalize, skeleton
from posecast.engines.assets import ensure_asset
from posecast.engines.errors import run_reporting
from posecast.engines.fileio import atomic_write
from posecast.engines.install import code_version
from posecast.engines.uploads import block_native_uploads
from posecast.realtime.detectors.mediapipe import MediaPipeDetector, MediaPipeOptions
from posecast.realtime.lifting import LiftingOptions, MetricPoseLifting
from posecast.realtime.lifting.window import PoseWindow, PoseWindowOptions
from posecast.realtime.sources import open_source
from posecast.realtime.types import Detections2D

ROOT = Path(__file__).resolve().parents[1]
CLIPS = sorted((ROOT / "tests" / "fixtures" / "media").glob("*.mp4"))
#: (start s, gap s) of each dropout: the person is missing from ``start`` on, for as many frames as make
#: a gap of about ``gap`` between the frames with the person around it (``None``: one frame)
DROPOUTS = ((1.0, None), (2.5, None), (2.5, 0.5), (2.5, 0.8), (2.0, 1.5))


def detect(clip: Path) -> tuple[list[Detections2D], float]:
    """Real MediaPipe (full) on every frame of ``clip``; returns the detections and the clip's fps."""
    detector = MediaPipeDetector(MediaPipeOptions(model_path=ensure_asset("pose_landmarker_full")))
    out, fps = [], 30.0
    with open_source(str(clip)) as source:
        while (frame := source.read()) is not None:
            out.append(detector.detect(frame))
            fps = frame.source_fps
    detector.close()
    return out, fps


def without_person(d: Detections2D) -> Detections2D:
    k = d.layout.num_keypoints
    empty = np.zeros((0, k, 2), np.float32), np.zeros((0, k), np.float32), np.zeros(0, np.int64)
    return Detections2D(d.frame_id, d.capture_ns, d.timestamp_ns, d.image_size, d.layout, *empty)


def replay(lifting: MetricPoseLifting, detections: list[Detections2D], dropped: set[int]) -> tuple[list, np.ndarray]:
    """States ``(F,)`` and published bone lengths ``(F, 16)`` (NaN when lost) of the first person."""
    lifting.reset()
    states, lengths = [], np.full((len(detections), len(skeleton.BONES)), np.nan)
    for i, d in enumerate(detections):
        people = lifting.process(without_person(d) if i in dropped else d, d.timestamp_ns)
        person = people[0] if people else None
        states.append(person.tracking if person else "lost")
        if person is not None and person.bone_lengths_m is not None:
            lengths[i] = person.bone_lengths_m
    return states, lengths


def bone_figures(lengths: np.ndarray, fps: float) -> dict[str, float | None]:
    posed = np.flatnonzero(np.isfinite(lengths).all(axis=1))
    steps = np.abs(np.diff(lengths[posed], axis=0)).max(axis=1)
    changing = np.flatnonzero(steps > 1e-9 * lengths[posed[1:]].max(axis=1))
    locked = 0.0 if not len(changing) else (None if changing[-1] == len(steps) - 1 else posed[changing[-1] + 1] / fps)
    return {"bone_step_max_mm": round(1000 * float(steps.max()), 2), "locked_s": locked}


def clip_figures(lifting: MetricPoseLifting, detections: list[Detections2D], fps: float) -> dict:
    states, base = replay(lifting, detections, set())
    first = next(i for i, s in enumerate(states) if s != "lost")
    tracking = next((i for i, s in enumerate(states) if s == "tracking"), None)
    out = {"fps": fps, "frames": len(detections), "warming_s": None if tracking is None else (tracking - first) / fps,
           **bone_figures(base, fps), "dropouts": []}  # fmt: skip
    done = set()
    for start_s, gap_s in DROPOUTS:
        start, missing = round(start_s * fps), 1 if gap_s is None else max(1, int(gap_s * fps + 1e-6) - 1)
        dropped = set(range(start, start + missing))
        if max(dropped) + 2 >= len(detections) or (start, missing) in done:  # too late, or the same frames
            continue
        done.add((start, missing))
        states, lengths = replay(lifting, detections, dropped)
        after = states[max(dropped) + 1 :]
        out["dropouts"].append({
            "start_s": start_s, "frames": missing, "gap_s": round((missing + 1) / fps, 3),
            "states_after": after[:3], "warming_frames_after": after.count("warming"),
            "bones_vs_uninterrupted_pct": round(100 * float(np.abs(lengths[-1] / base[-1] - 1).max()), 2),
            **bone_figures(lengths, fps),
        })  # fmt: skip
    return out


def window_cpu_us(keypoints_norm: np.ndarray, fps: float, repeats: int = 20) -> float:
    """Median CPU time (µs) of ``PoseWindow.process`` per frame for poses ``(F, 17, 2)`` at ``fps``."""
    window = PoseWindow(PoseWindowOptions(window_frames=27, max_gap_s=None))
    times = []
    for r in range(repeats):
        base_ns = r * int(1e9 * (len(keypoints_norm) + 1) / fps)
        for i, pose in enumerate(keypoints_norm):
            t0 = time.thread_time_ns()
            window.process(pose, base_ns + int(i * 1e9 / fps))
            times.append(time.thread_time_ns() - t0)
    return round(float(np.median(times)) / 1000, 1)


def normalised(lifting: MetricPoseLifting, detections: list[Detections2D]) -> np.ndarray:
    """The first person's normalised 2D ``(F, 17, 2)`` as the window gets it (after a replay)."""
    k = lifting.intrinsics.as_array()
    pixels = [x.layout.to_posecast(x.keypoints_px[0].astype(np.float64)) for x in detections if x.count]
    return np.stack([normalize.normalize_pixels(p, k) for p in pixels]).astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    block_native_uploads()  # MediaPipe's usage-metrics upload stays on this machine (engines/uploads.py)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("clips", nargs="*", type=Path, default=CLIPS)
    ap.add_argument("--json", type=Path, default=Path("temporal.json"), help="default: ./temporal.json")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    lifting = MetricPoseLifting(LiftingOptions())
    commit = code_version()["git_commit"] or ""  # "+" when the checkout has changes
    meta = lifting.lifter.metadata
    result: dict = {"commit": commit.strip(), "model_kind": meta.model_kind, "model_commit": meta.git_commit,
                    "clips": {}}  # fmt: skip
    for clip in args.clips:
        detections, fps = detect(clip)
        figures = clip_figures(lifting, detections, fps)
        figures["window_cpu_us"] = window_cpu_us(normalised(lifting, detections), fps)
        result["clips"][clip.name] = figures
        print(clip.name, json.dumps(figures), file=sys.stderr)
    rng = np.random.default_rng(0)
    walk = np.cumsum(rng.normal(0, 1e-3, (300, 17, 2)), axis=0).astype(np.float32)
    result["window_cpu_us"] = {f"{fps:g} fps": window_cpu_us(walk, fps, repeats=5) for fps in (5, 30, 60, 240)}
    print(json.dumps(result["window_cpu_us"]), file=sys.stderr)
    atomic_write(args.json, (json.dumps(result, indent=1) + "\n").encode())
    lifting.close()
    return 0


if __name__ == "__main__":  # (tools QA: missing data and bad values were tracebacks)
    sys.exit(run_reporting(main, "temporal_metrics"))

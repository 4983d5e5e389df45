#!/usr/bin/env python
"""Two figures behind the squats clip's torso lean (docs/accuracy.md, Real video against MediaPipe), with
the truth known: how far the lifter's knees lag a bending or straightening knee, and how far the
training skeletons' torso leans against a standing leg when they stand still.

    python tools/knee_lag.py --json eval/knee_lag.json          # the default model

**Lag**: on the held-out mocap (``in_domain``, ``cross``; ground-truth 2D, seed 2021 webcams, as
``tools/evaluate.py``; flip-averaged INT8, as ``posecast run`` lifts), the mean signed error of
each knee's bend (lifted − true, degrees) by how fast the true knee bends over the last 0.2 s:
a lifter that follows the knee has the same error at every speed; one that lags bends too little
while the knee bends and too much while it straightens. Also as a 5 fps camera films the clips.

**Standing lean**: the torso (pelvis → thorax) against the mean ankle → hip line of the two legs
in every mocap frame where a person stands still on both straight legs (knees bent < 10°, ankles
level within 5 cm and within 8 cm of the clip's floor), per source: the lean a skeleton of that
source has when upright, which the live figure compares with MediaPipe's.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from posecast.engines import metrics, skeleton
from posecast.engines.errors import run_reporting
from posecast.engines.fileio import atomic_write, check_outputs
from posecast.engines.runtime.base import DEFAULT_MODEL_NAME
from posecast.engines.training.config import resolve_data
from posecast.engines.training.data.dataset import load_source
from posecast.engines.training.evaluate import build_eval_clips, camera_windows
from posecast.realtime.compare import torso_lean_deg

sys.path.insert(0, str(Path(__file__).parent))
from evaluate import DEFAULT_DATA, eval_sets, make_predictor, model_inputs  # noqa: E402 - a sibling tool

#: Knee speed bins, degrees per second (negative: straightening).
SPEED_BINS_DEG_S = (-np.inf, -150.0, -50.0, 50.0, 150.0, np.inf)
SPEED_WINDOW_S = 0.2
J = skeleton.JOINT_INDEX


def knee_speed_deg_s(bend_deg: np.ndarray, fps: float) -> np.ndarray:
    """``(F, 2)`` how fast each knee bends over the last :data:`SPEED_WINDOW_S` (NaN before)."""
    lag = max(1, round(SPEED_WINDOW_S * fps))
    speed = np.full_like(bend_deg, np.nan)
    speed[lag:] = (bend_deg[lag:] - bend_deg[:-lag]) * fps / lag
    return speed


def lag_by_speed(errors: np.ndarray, speeds: np.ndarray) -> list[dict]:
    """Mean signed error per knee-speed bin (:data:`SPEED_BINS_DEG_S`)."""
    rows = []
    for low, high in zip(SPEED_BINS_DEG_S[:-1], SPEED_BINS_DEG_S[1:], strict=True):
        chosen = (speeds >= low) & (speeds < high)
        rows.append({"from_deg_s": float(low) if np.isfinite(low) else None,
                     "to_deg_s": float(high) if np.isfinite(high) else None, "knees": int(chosen.sum()),
                     "mean_error_deg": float(errors[chosen].mean()) if chosen.any() else None})  # fmt: skip
    return rows


def standing_lean_deg(joints: np.ndarray) -> np.ndarray:
    """Torso against the legs' ankle → hip line in the frames ``(F, 17, 3)`` (Y up) where the
    person stands still on both straight legs (module docstring)."""
    ankles_y = joints[:, [J["l_ankle"], J["r_ankle"]], 1]
    floor_y = np.quantile(ankles_y.min(axis=1), 0.05)
    standing = ((metrics.knee_bend_deg(joints).max(axis=1) < 10.0) & (np.ptp(ankles_y, axis=1) < 0.05)
                & (ankles_y.max(axis=1) < floor_y + 0.08))  # fmt: skip
    upright = joints[standing]
    return torso_lean_deg(upright, np.ones((len(upright), 2), dtype=bool))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=DEFAULT_MODEL_NAME, help="as tools/evaluate.py (INT8 + flip added)")
    ap.add_argument("--json", type=Path, required=True)
    args = ap.parse_args(argv)
    check_outputs({"--json": args.json}, model_inputs([args.model]))  # (tools QA: the model became JSON)
    clips = [clip for source in DEFAULT_DATA for clip in load_source(resolve_data(source))]
    predict, window_frames = make_predictor(f"{args.model}:int8+flip")
    report: dict = {"model": args.model, "lag": {}, "standing_lean_deg": {}}
    for name, held_out in eval_sets(clips, ["in_domain", "cross"]).items():
        for camera_fps in (None, 5.0):
            errors, speeds = [], []
            for clip in build_eval_clips(held_out, noisy=False):
                windows, truth = camera_windows(clip, window_frames, camera_fps)
                lifted = np.concatenate([predict(windows[i : i + 2048]) for i in range(0, len(windows), 2048)])
                true_bend = metrics.knee_bend_deg(truth)
                errors.append(metrics.knee_bend_deg(lifted.astype(np.float64)) - true_bend)
                speeds.append(knee_speed_deg_s(true_bend, camera_fps or 30.0))
            key = name if camera_fps is None else f"{name}@{camera_fps:g}fps"
            report["lag"][key] = lag_by_speed(np.concatenate(errors).ravel(), np.concatenate(speeds).ravel())
            print(key, [(r["knees"], None if r["mean_error_deg"] is None else round(r["mean_error_deg"], 1))
                        for r in report["lag"][key]])  # fmt: skip
    for source in sorted({clip.source for clip in clips}):
        lean = np.concatenate([standing_lean_deg(c.joints_m.astype(np.float64)) for c in clips if c.source == source])
        median = float(np.median(lean)) if len(lean) else None
        report["standing_lean_deg"][source] = {"frames": len(lean), "median": median}
        print(source, report["standing_lean_deg"][source])
    atomic_write(args.json, (json.dumps(report, indent=1) + "\n").encode())
    return 0


if __name__ == "__main__":  # (tools QA: missing data and bad values were tracebacks)
    sys.exit(run_reporting(main, "knee_lag"))

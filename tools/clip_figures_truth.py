#!/usr/bin/env python
"""The real clips' plausibility figures measured where the truth is known: held-out mocap,
published as ``posecast run`` publishes it, figure by figure against the person's own.

    python tools/clip_figures_truth.py --sets cross,in_domain,untouched --json eval/clip_figures_truth_long.json

``tools/compare_mediapipe.py`` judges posecast against MediaPipe's world landmarks on real clips,
where neither has a truth: a median on MediaPipe's side says the two differ, not which one is
right. Here each held-out clip is filmed as ``tools/evaluate.py`` films it (one webcam draw,
``--seed``; exact and MediaPipe-shaped noisy 2D), every ``30 / fps``-th frame kept, and lifted as
published (``tools/turn_speed_truth.py``'s ``published_rel``: live subject calibration on). The
standing legs are chosen from the 2D as on the clips (:func:`~posecast.realtime.compare.standing_legs`),
and every figure of :func:`~posecast.realtime.compare.frame_values` is taken of the published
skeleton and of the true one on the same frames and legs: per figure the two medians, the
median of the per-frame difference (published − truth: a bias) and of its size. ``--model``: the
shipped default unless named.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from posecast.engines.errors import run_reporting
from posecast.engines.training.data.dataset import TRAINING_FPS
from posecast.engines.training.evaluate import EvalClip
from posecast.realtime.compare import frame_values, standing_legs

sys.path.insert(0, str(Path(__file__).resolve().parent))
from turn_speed_truth import parse_args, published_rel, run_sets, sampled_2d  # noqa: E402


def clip_values(clip: EvalClip, step: int, model: str) -> tuple[dict, dict]:
    """``(published, truth)``: each figure's per-frame values (:func:`frame_values`) of the clip's
    every ``step``-th frame, on the legs its 2D shows standing."""
    standing = standing_legs(*sampled_2d(clip, step))
    fps = TRAINING_FPS / step
    published = frame_values(published_rel(clip, step, model, None), fps, standing)
    truth = frame_values(clip.joints_cam_m[::step].astype(np.float64), fps, standing)
    return published, truth


def scores(clips: list[EvalClip], step: int, model: str) -> dict[str, dict]:
    """Per figure: the published and the true median, the median per-frame difference and its size,
    over every frame (and standing leg) where both measure it."""
    pooled: dict[str, tuple[list, list]] = {}
    for clip in clips:
        if len(clip.joints_cam_m[::step]) < 8:
            continue
        published, truth = clip_values(clip, step, model)
        for name in published:
            both = np.isfinite(published[name]) & np.isfinite(truth[name])
            pooled.setdefault(name, ([], []))
            pooled[name][0].append(published[name][both])
            pooled[name][1].append(truth[name][both])
    out = {}
    for name, (published, truth) in pooled.items():
        p, t = np.concatenate(published), np.concatenate(truth)
        out[name] = {"published": round(float(np.median(p)), 2) if len(p) else None,
                     "truth": round(float(np.median(t)), 2) if len(t) else None,
                     "difference": round(float(np.median(p - t)), 2) if len(p) else None,
                     "error": round(float(np.median(np.abs(p - t))), 2) if len(p) else None,
                     "values": int(len(p))}  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__, argv)
    return run_reporting(lambda: run_sets(args, lambda clips, step: scores(clips, step, args.model)),
                         "clip_figures_truth")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())

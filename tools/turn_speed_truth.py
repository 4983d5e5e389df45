#!/usr/bin/env python
"""How fast the published torso turns against how fast the person's really does, on held-out
mocap, at a camera's full and slow rates, with and without the pipeline's One Euro filters.

    python tools/turn_speed_truth.py --sets cross,in_domain --json eval/turn_speed_truth.json

The real clips' torso turn speed (``tools/compare_mediapipe.py``) has no truth to compare with:
MediaPipe's own world landmarks are smoothed by MediaPipe. Here each held-out clip is filmed as
``tools/evaluate.py`` films it (one webcam draw, ``--seed``; exact and MediaPipe-shaped noisy 2D),
every ``30 / fps``-th frame kept, and lifted as ``posecast run`` publishes it
(:func:`~posecast.realtime.offline.lift_sequence`, live subject calibration on). For each
filter: the median turn speed of the published shoulder line and of the true one
(:func:`~posecast.realtime.compare.turn_speed_per_frame`), the median of their per-frame
difference, and the root-relative MPJPE, which a filter's lag raises.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from posecast.engines import metrics
from posecast.engines.errors import run_reporting
from posecast.engines.fileio import atomic_write, check_outputs
from posecast.engines.runtime.base import DEFAULT_MODEL_NAME
from posecast.engines.training.config import ConfigError, resolve_data
from posecast.engines.training.data.dataset import TRAINING_FPS, load_source
from posecast.engines.training.evaluate import EvalClip, build_eval_clips
from posecast.realtime.compare import turn_speed_per_frame
from posecast.realtime.lifting import LiveSubjectOptions
from posecast.realtime.lifting.smoothing import OneEuroOptions
from posecast.realtime.offline import lift_sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evaluate import DEFAULT_DATA, eval_sets, model_inputs, published_options, webcam_seed  # noqa: E402

log = logging.getLogger("turn_speed_truth")

#: The filters compared: none (the published joints), ``posecast run --one-euro``'s and the
#: avatar outputs' (README, Drive an avatar).
FILTERS: dict[str, OneEuroOptions | None] = {
    "none": None,
    "--one-euro (1.5 Hz, beta 0.5)": OneEuroOptions(1.5, 0.5),
    "avatar filter (0.5 Hz, beta 4)": OneEuroOptions(0.5, 4.0),
}


def sampled_2d(clip: EvalClip, step: int) -> tuple[np.ndarray, np.ndarray]:
    """``clip``'s every ``step``-th frame as the camera gives it: normalised 2D ``(F, 17, 2)`` and
    confidence ``(F, 17)`` (1 where the clip has none), float64."""
    keypoints = clip.keypoints_norm[::step].astype(np.float64)
    confidence = np.ones(keypoints.shape[:2]) if clip.confidence is None else clip.confidence[::step]
    return keypoints, confidence.astype(np.float64)


def published_rel(clip: EvalClip, step: int, model: str, one_euro: OneEuroOptions | None) -> np.ndarray:
    """``clip``'s every ``step``-th frame lifted as published: root-relative joints ``(F, 17, 3)``."""
    keypoints, confidence = sampled_2d(clip, step)
    options = published_options(model, clip.height_m, LiveSubjectOptions(), one_euro=one_euro)
    return lift_sequence(keypoints, confidence, TRAINING_FPS / step, options)[1]


def scores(clips: list[EvalClip], step: int, model: str, one_euro: OneEuroOptions | None) -> dict[str, float]:
    fps = TRAINING_FPS / step
    published, truth, errors = [], [], []
    for clip in clips:
        true_joints = clip.joints_cam_m[::step].astype(np.float64)
        if len(true_joints) < 8:
            continue
        rel = published_rel(clip, step, model, one_euro)
        speed, true_speed = turn_speed_per_frame(rel, fps), turn_speed_per_frame(true_joints, fps)
        both = np.isfinite(speed) & np.isfinite(true_speed)
        published.append(speed[both])
        truth.append(true_speed[both])
        posed = np.isfinite(rel).all(axis=(1, 2))
        errors.append(metrics.mpjpe(rel[posed], true_joints[posed]))  # both taken root-relative
    speed, true_speed = np.concatenate(published), np.concatenate(truth)
    return {"turn_speed_deg_s": round(float(np.median(speed)), 2),
            "true_turn_speed_deg_s": round(float(np.median(true_speed)), 2),
            "turn_speed_error_deg_s": round(float(np.median(np.abs(speed - true_speed))), 2),
            "mpjpe_root_relative_mm": round(1000 * float(np.concatenate(errors).mean()), 1),
            "frames": int(len(speed))}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__, argv)

    def filters(clips: list[EvalClip], step: int) -> dict[str, dict]:
        return {name: scores(clips, step, args.model, one_euro) for name, one_euro in FILTERS.items()}

    return run_reporting(lambda: run_sets(args, filters), "turn_speed_truth")


def parse_args(doc: str, argv: list[str] | None) -> argparse.Namespace:
    """The options of the tools that score published mocap against its truth (this one and
    ``clip_figures_truth.py``); sets up their logging."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--model", default=DEFAULT_MODEL_NAME, help="a shipped model's name or an .onnx file "
                    "(default: the shipped default)")
    ap.add_argument("--data", nargs="*", default=DEFAULT_DATA)
    ap.add_argument("--sets", default="cross,in_domain", help="as tools/evaluate.py")
    ap.add_argument("--fps", default="30,5", help="camera rates, comma-separated, each dividing 30")
    ap.add_argument("--seed", type=webcam_seed, default=2021, help="the webcam draw")
    ap.add_argument("--json", type=Path, required=True)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("posecast").setLevel(logging.WARNING)  # each clip's live calibration: hundreds of lines
    return args


def parse_rates(text: str) -> list[int]:
    """``--fps``' camera rates as frame steps of the 30 fps clips (``"30,5"`` → ``[1, 6]``)."""
    try:
        steps = [round(TRAINING_FPS / float(rate)) for rate in text.split(",")]
    except (ValueError, ZeroDivisionError):
        raise ConfigError(f"--fps takes comma-separated rates dividing {TRAINING_FPS:g}, got {text!r}") from None
    if any(step < 1 or abs(TRAINING_FPS / step - float(rate)) > 1e-6 for step, rate in zip(steps, text.split(","),
                                                                                          strict=True)):  # fmt: skip
        raise ConfigError(f"--fps takes rates dividing {TRAINING_FPS:g} (30, 15, 10, 6, 5, ...), got {text!r}")
    return steps


def run_sets(args: argparse.Namespace, score: Callable[[list[EvalClip], int], dict]) -> int:
    """``score(clips, step)`` of every set, exact and noisy 2D, and camera rate in ``args``, into
    ``--json`` under ``"SET/KIND/RATEfps"``."""
    check_outputs({"--json": args.json}, model_inputs([args.model]))  # (review: the model became JSON)
    steps = parse_rates(args.fps)
    clips = [c for src in args.data for c in load_source(resolve_data(src))]
    result: dict = {"model": args.model, "seed": args.seed, "results": {}}
    for set_name, held in eval_sets(clips, args.sets.split(",")).items():
        for kind, noisy in (("gt2d", False), ("noisy2d", True)):
            eval_clips = build_eval_clips(held, noisy=noisy, seed=args.seed)
            for step in steps:
                key = f"{set_name}/{kind}/{TRAINING_FPS / step:g}fps"
                result["results"][key] = score(eval_clips, step)
                log.info("%s: %s", key, json.dumps(result["results"][key]))
    atomic_write(args.json, (json.dumps(result, indent=1) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())

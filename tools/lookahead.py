#!/usr/bin/env python
"""What looking ahead would buy: the lifter's answer for a frame taken from a later window.

    python tools/lookahead.py --json eval/lookahead.json          # the default model

The lifting network lifts every frame of its window, and the live pipeline publishes the last
(the current frame, lifted from the past alone). A frame ``k`` frames back in the window has
``k`` later frames beside it, at ``k`` frames of latency. On the held-out mocap (``cross``,
``in_domain``; ground-truth and MediaPipe-shaped noisy 2D, seed 2021 webcams, as
``tools/evaluate.py`` films them; the network in float32, flip-averaged), for each ``k``: P-MPJPE
and MPJPE (best-scaled to the person's height, as ``tools/evaluate.py`` scores a network) and
the median torso turn speed against the truth's (``realtime.compare.turn_speed_per_frame``), on
the same frames for every ``k`` (each clip's last ``max(k)`` frames left out). Two ways:
``one`` (slot ``T - 1 - k`` of the window ending ``k`` frames later) and ``mean`` (the mean of
that frame's answers from the ``k + 1`` windows ending at it and the ``k`` after it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from posecast.engines import camera, metrics, normalize, skeleton
from posecast.engines.errors import run_reporting
from posecast.engines.fileio import atomic_write, check_outputs
from posecast.engines.networks import lift_to_3d
from posecast.engines.runtime.base import DEFAULT_MODEL_NAME, resolve_model
from posecast.engines.training.config import resolve_data
from posecast.engines.training.data.dataset import TRAINING_FPS, load_source
from posecast.engines.training.evaluate import build_eval_clips, causal_windows
from posecast.engines.training.export import adapt_weights_path, load_generator_npz
from posecast.realtime.compare import turn_speed_per_frame

sys.path.insert(0, str(Path(__file__).parent))
from evaluate import DEFAULT_DATA, eval_sets, model_inputs  # noqa: E402 - a sibling tool

LOOKAHEAD_FRAMES = (0, 1, 2, 4, 8, 13)


def every_frame_lifted(generator: torch.nn.Module, windows: np.ndarray) -> np.ndarray:
    """Windows ``(N, T, 17, 2)`` (normalised 2D) → root-relative 3D of every window frame in the
    camera's axes ``(N, T, 17, 3)``, canonical units, flip-averaged as ``posecast run`` lifts."""

    def lift(points: np.ndarray) -> np.ndarray:
        out = []
        with torch.no_grad():
            for start in range(0, len(points), 4096):
                batch = torch.from_numpy(np.ascontiguousarray(points[start : start + 4096])).float()
                scaled, _ = generator.scaled_window(normalize.canonicalize(batch))
                joints = skeleton.root_relative(lift_to_3d(scaled, generator.lifter(scaled).float()))
                out.append(normalize.to_camera_axes(joints, batch[:, :, skeleton.ROOT]).numpy())
        return np.concatenate(out).astype(np.float64)

    return (lift(windows) + skeleton.mirror_image(lift(skeleton.mirror_image(windows)))) / 2


def scores(generator: torch.nn.Module, clips: list, way: str) -> dict[int, dict[str, float]]:
    window_frames = generator.cfg.window_frames
    most = max(LOOKAHEAD_FRAMES)
    totals = {k: {"p_mpjpe_mm": [], "mpjpe_mm": [], "turn": [], "true_turn": []} for k in LOOKAHEAD_FRAMES}
    for clip in clips:
        frames = len(clip.keypoints_norm)
        if frames <= most + 8:
            continue
        lifted = every_frame_lifted(generator, causal_windows(clip.keypoints_norm, window_frames))
        truth = skeleton.root_relative(clip.joints_cam_m.astype(np.float64))
        reference = skeleton.bone_lengths_from_height(clip.height_m)
        scored = np.arange(frames - most)
        for k in LOOKAHEAD_FRAMES:
            later = range(k, k + 1) if way == "one" else range(k + 1)
            pred = np.mean([lifted[scored + j, window_frames - 1 - j] for j in later], axis=0)
            pred = pred * camera.metric_scale(pred, reference)[:, None, None]
            true = truth[scored]
            totals[k]["p_mpjpe_mm"] += (metrics.p_mpjpe(pred, true) * 1000).tolist()
            totals[k]["mpjpe_mm"] += (metrics.mpjpe(pred, true) * 1000).tolist()
            speed, true_speed = turn_speed_per_frame(pred, TRAINING_FPS), turn_speed_per_frame(true, TRAINING_FPS)
            both = np.isfinite(speed) & np.isfinite(true_speed)
            totals[k]["turn"] += speed[both].tolist()
            totals[k]["true_turn"] += true_speed[both].tolist()
    return {
        k: {"latency_ms": 1000 * k / TRAINING_FPS, "p_mpjpe_mm": float(np.mean(v["p_mpjpe_mm"])),
            "mpjpe_mm": float(np.mean(v["mpjpe_mm"])), "turn_deg_s": float(np.median(v["turn"])),
            "true_turn_deg_s": float(np.median(v["true_turn"])), "frames": len(v["mpjpe_mm"])}
        for k, v in totals.items()
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=DEFAULT_MODEL_NAME, help="a shipped model's name or an ONNX with its .adapt.npz")
    ap.add_argument("--data", nargs="*", default=DEFAULT_DATA)
    ap.add_argument("--sets", default="cross,in_domain")
    ap.add_argument("--json", type=Path, default=Path("lookahead.json"))
    args = ap.parse_args(argv)
    check_outputs({"--json": args.json}, model_inputs([args.model]))  # (review: the model became JSON)
    torch.set_num_threads(2)
    generator, _ = load_generator_npz(adapt_weights_path(resolve_model(args.model)))
    generator.eval()
    clips = [c for src in args.data for c in load_source(resolve_data(src))]
    result: dict = {"model": args.model, "lookahead_frames_at_fps": TRAINING_FPS}
    for name, held_out in eval_sets(clips, args.sets.split(",")).items():
        for noisy in (False, True):
            filmed = build_eval_clips(held_out, noisy)
            for way in ("one", "mean"):
                key = f"{name}{'_noisy' if noisy else ''}/{way}"
                result[key] = scores(generator, filmed, way)
                for k, row in result[key].items():
                    print(key, k, {a: round(b, 2) for a, b in row.items()}, flush=True)
    atomic_write(args.json, (json.dumps(result, indent=1) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(run_reporting(main, "lookahead"))

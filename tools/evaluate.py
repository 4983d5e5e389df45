#!/usr/bin/env python
"""Evaluate models on the held-out clips (ground-truth and noisy 2D); write JSON and Markdown.

    python tools/evaluate.py --model unsupervised=runs/unsupervised/last.pt \
        --model supervised=runs/supervised/last.pt --model shipped=engines/weights/posecast_lifter.onnx \
        --model shipped-int8=engines/weights/posecast_lifter.onnx:int8 \
        --json eval/results.json --markdown eval/results.md

A model is a training checkpoint (.pt, weights rounded to float16 as exported), an ONNX file
run by ONNX Runtime (``:int8`` for its dynamic-quantized copy), or ``flat``: the 2D with every
joint at one depth, the floor any lifter must beat.
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
from posecast.engines.training.data.dataset import load_clips, split_clips
from posecast.engines.training.evaluate import build_eval_clips, evaluate, markdown_table, per_action_table

log = logging.getLogger("evaluate")
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DEFAULT_DATA = [SHARED / "data/bandai-namco/dataset-1.tar.xz", SHARED / "data/bandai-namco/dataset-2.tar.xz"]


def flat_predictor(windows: np.ndarray) -> np.ndarray:
    """Reference point, not a model: the current 2D with every joint at one depth (in the
    root view, then turned into the camera's axes like every exported model's output)."""
    current = windows[:, -1].astype(np.float64)
    canonical = normalize.canonicalize(current)
    depth = np.full((*canonical.shape[:-1], 1), normalize.CAMERA_DISTANCE)
    flat = np.concatenate([canonical * normalize.CAMERA_DISTANCE, depth], axis=-1)
    return normalize.to_camera_axes(skeleton.root_relative(flat), current[:, skeleton.ROOT])


def make_predictor(spec: str):  # noqa: ANN201 - (predict, window_frames)
    if spec == "flat":
        return flat_predictor, 1
    path, _, variant = spec.partition(":")
    if path.endswith(".pt"):
        import torch

        sys.path.insert(0, str(Path(__file__).parent))
        from export import load_pose_model

        model, cfg, _ = load_pose_model(path)
        torch.set_num_threads(2)

        def predict(windows: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return model(torch.from_numpy(windows))[0].numpy()

        return predict, cfg.model.window_frames
    from posecast.engines.runtime import load_backend

    backend = load_backend("onnxruntime", path, int8=variant == "int8", threads=2)
    return (lambda windows: backend.run(windows).joints_3d), backend.metadata.window_frames


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", required=True, help="LABEL=PATH[.pt|.onnx][:int8]")
    ap.add_argument("--data", nargs="*", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--max-clips", type=int, default=0, help="evaluate on only this many held-out clips")
    ap.add_argument("--json", type=Path, required=True)
    ap.add_argument("--markdown", type=Path)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    clips = [c for src in args.data for c in load_clips(src)]
    _, held_out = split_clips(clips)
    if args.max_clips:
        held_out = held_out[: args.max_clips]
    sets = {"gt2d": build_eval_clips(held_out, noisy=False), "noisy2d": build_eval_clips(held_out, noisy=True)}
    log.info("held-out: %d clips, %d frames", len(held_out), sum(len(c.joints_m) for c in held_out))
    results: dict[str, dict] = {}
    for spec in args.model:
        label, _, path = spec.rpartition("=")  # labels may contain "=" (T=27); paths do not
        predict, window = make_predictor(path)
        for set_name, eval_clips in sets.items():
            start = time.perf_counter()
            results[f"{label} [{set_name}]"] = evaluate(predict, eval_clips, window)
            r = results[f"{label} [{set_name}]"]
            log.info("%-32s MPJPE %6.1f  N-MPJPE %6.1f  P-MPJPE %6.1f mm  (%.0f s)", f"{label} [{set_name}]",
                     r["mpjpe_mm"], r["n_mpjpe_mm"], r["p_mpjpe_mm"], time.perf_counter() - start)  # fmt: skip
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    if args.markdown:
        text = markdown_table(list(results.items()))
        first = next(iter(results))
        text += "\n" + per_action_table(first, results[first])
        args.markdown.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

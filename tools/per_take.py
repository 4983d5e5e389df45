#!/usr/bin/env python
"""Held-out figures per take, next to each person's hip and shoulder widths: where a difference
between two models comes from, and which skeletons the published bone bound cuts.

    python tools/per_take.py --sets cross,untouched --model supervised-w384:flip \\
        --model supervised-current-w384:flip --json eval/per_take.json --markdown eval/per_take.md

Each take is filmed and lifted as ``tools/evaluate.py`` does it (seed 2021 unless ``--seed``;
ground-truth 2D), scored alone (P-MPJPE, mm). The last column is the last model minus the first.
Per person: the hip and shoulder joint-centre widths as multiples of the typical proportions for
their height (``skeleton.bone_lengths_from_height``, Bandai-Namco's); published bone lengths are
held within 20 % of typical, so a width over 1.2 is cut.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np
from posecast.engines import skeleton
from posecast.engines.errors import run_reporting
from posecast.engines.fileio import atomic_write, check_outputs
from posecast.engines.training.config import resolve_data
from posecast.engines.training.data.dataset import Clip, load_source
from posecast.engines.training.evaluate import build_eval_clips, evaluate

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evaluate import check_set_names, eval_sets, make_predictor, model_inputs, webcam_seed  # noqa: E402

CMU_DATA = ["data/cmu-mocap/cmu-mocap.tar.xz", "data/cmu-mocap/cmu-dance.tar.xz"]
#: the bones whose lengths are joint-centre widths: pelvis → hip, thorax → shoulder
WIDTHS = {"hips": "pelvis-r_hip", "shoulders": "thorax-r_shoulder"}


def width_ratios(clip: Clip) -> dict[str, float]:
    """The take's hip and shoulder widths (median over frames) as multiples of typical for the
    height its bones give."""
    lengths = np.median(skeleton.bone_lengths(clip.joints_m), axis=0)
    typical = skeleton.bone_lengths_from_height(skeleton.height_from_bone_lengths(lengths))
    index = {name: i for i, name in enumerate(skeleton.BONE_NAMES)}
    return {kind: round(float(lengths[index[bone]] / typical[index[bone]]), 3) for kind, bone in WIDTHS.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", required=True, help="as tools/evaluate.py (two or more)")
    ap.add_argument("--sets", default="cross,untouched", help="comma-separated CMU sets of tools/evaluate.py")
    ap.add_argument("--data", nargs="*", default=CMU_DATA)
    ap.add_argument("--seed", type=webcam_seed, default=2021)
    ap.add_argument("--json", type=Path, required=True)
    ap.add_argument("--markdown", type=Path)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return run_reporting(lambda: run(args), "per_take")


def run(args: argparse.Namespace) -> int:
    check_outputs({"--json": args.json, "--markdown": args.markdown}, model_inputs(args.model))
    names = args.sets.split(",")
    check_set_names(names)
    predictors = {model: make_predictor(model) for model in args.model}
    clips = [c for source in args.data for c in load_source(resolve_data(source))]
    report: dict = {"seed": args.seed, "models": args.model, "sets": {}}
    for name, held in eval_sets(clips, names).items():
        takes = []
        for clip, filmed in zip(held, build_eval_clips(held, noisy=False, seed=args.seed), strict=True):
            scores = {model: round(evaluate(predict, [filmed], window)["p_mpjpe_mm"], 2)
                      for model, (predict, window) in predictors.items()}  # fmt: skip
            takes.append({"take": clip.name, "subject": clip.subject, "action": clip.action,
                          "frames": len(clip.joints_m), "p_mpjpe_mm": scores, **width_ratios(clip)})  # fmt: skip
        report["sets"][name] = takes
    atomic_write(args.json, (json.dumps(report, indent=1) + "\n").encode())
    if args.markdown:
        atomic_write(args.markdown, markdown(report).encode())
    return 0


def markdown(report: dict) -> str:
    first, last = report["models"][0], report["models"][-1]
    out = [f"Per take, seed {report['seed']}, ground-truth 2D, P-MPJPE in mm (`tools/per_take.py`).", ""]
    for name, takes in report["sets"].items():
        out += [f"### {name}", "",
                "| take | subject | action | frames | " + " | ".join(report["models"]) + f" | {last} − {first} | "
                "hips × typical | shoulders × typical |",
                "|---" * (7 + len(report["models"])) + "|"]  # fmt: skip
        for t in takes:
            scores = t["p_mpjpe_mm"]
            cells = [t["take"], t["subject"], t["action"][:40], str(t["frames"]),
                     *(f"{scores[m]:.1f}" for m in report["models"]), f"{scores[last] - scores[first]:+.1f}",
                     f"{t['hips']:.2f}", f"{t['shoulders']:.2f}"]  # fmt: skip
            out.append("| " + " | ".join(cells) + " |")
        frames = sum(t["frames"] for t in takes)
        means = {m: sum(t["p_mpjpe_mm"][m] * t["frames"] for t in takes) / frames for m in report["models"]}
        out.append(f"| **all, frame-weighted** | | | {frames} | " + " | ".join(f"**{means[m]:.1f}**" for m in means)
                   + f" | **{means[last] - means[first]:+.1f}** | | |")  # fmt: skip
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Does a held-out person's error follow their body or their motion? Each cross-dataset
person's takes rebuilt with every other cross person's bone proportions, scored like the rest.

    python tools/body_swap.py --json eval/body_swap.json

Subject 13's CMU files (Daz BVH) carry the standard figure most CMU training takes share, so its
low error could be its familiar body. Here each person's motion keeps its bone directions and
gets another person's bone lengths, scaled to its own height (``skeleton.with_bone_lengths``),
and is filmed and lifted as ``tools/evaluate.py`` does (ground-truth 2D, ``--seeds`` webcam
draws). P-MPJPE, mm: a row per motion, a column per body.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path

import numpy as np
from posecast.engines import skeleton
from posecast.engines.errors import run_reporting
from posecast.engines.fileio import atomic_write, check_outputs
from posecast.engines.training.config import ConfigError, resolve_data
from posecast.engines.training.data.dataset import Clip, load_source
from posecast.engines.training.evaluate import build_eval_clips, evaluate

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evaluate import CROSS_SUBJECTS, make_predictor, model_inputs, webcam_seed  # noqa: E402

log = logging.getLogger("body_swap")


def subject_lengths(clips: list[Clip]) -> np.ndarray:
    """A person's bone lengths ``(16,)``: the median over every frame of their takes."""
    return np.median(np.concatenate([skeleton.bone_lengths(c.joints_m.astype(np.float64)) for c in clips]), axis=0)


def with_body(clip: Clip, own: np.ndarray, body: np.ndarray) -> Clip:
    """``clip``'s motion with ``body``'s bone proportions at the height of ``own`` lengths."""
    scale = skeleton.height_from_bone_lengths(own) / skeleton.height_from_bone_lengths(body)
    joints = skeleton.with_bone_lengths(clip.joints_m.astype(np.float64), body * scale)
    return dataclasses.replace(clip, joints_m=joints.astype(np.float32))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="supervised-current-w384:flip", help="as tools/evaluate.py")
    ap.add_argument("--data", default="data/cmu-mocap/cmu-mocap.tar.xz")
    ap.add_argument("--seeds", default="2021,1,2,3,4,5", help="webcam draws, comma-separated")
    ap.add_argument("--json", type=Path, required=True)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return run_reporting(lambda: run(args), "body_swap")


def run(args: argparse.Namespace) -> int:
    check_outputs({"--json": args.json}, model_inputs([args.model]))
    try:
        seeds = [webcam_seed(s) for s in args.seeds.split(",")]
    except argparse.ArgumentTypeError:
        raise ConfigError(f"--seeds takes comma-separated whole numbers, 0 or more, got {args.seeds!r}") from None
    predict, window = make_predictor(args.model)
    clips = [c for c in load_source(resolve_data(args.data)) if c.subject in CROSS_SUBJECTS]
    people = {s: [c for c in clips if c.subject == s] for s in CROSS_SUBJECTS}
    missing = [s for s, takes in people.items() if not takes]
    if missing:
        raise ConfigError(f"--data {args.data} has no takes of CMU subject(s) {', '.join(missing)}: pass the CMU "
                          "archive (data/cmu-mocap/cmu-mocap.tar.xz)")  # fmt: skip
    lengths = {s: subject_lengths(takes) for s, takes in people.items()}
    result: dict = {"model": args.model, "seeds": seeds, "bone_lengths_mm": {s: np.round(1000 * v, 1).tolist()
                    for s, v in lengths.items()}, "p_mpjpe_mm": {}}  # fmt: skip
    for motion, takes in people.items():
        for body in people:
            swapped = takes if body == motion else [with_body(c, lengths[motion], lengths[body]) for c in takes]
            scores = [evaluate(predict, build_eval_clips(swapped, noisy=False, seed=s), window)["p_mpjpe_mm"]
                      for s in seeds]  # fmt: skip
            result["p_mpjpe_mm"][f"{motion} motion, {body} body"] = {"mean": float(np.mean(scores)), "seeds": scores}
            log.info("%s's motion, %s's body: P-MPJPE %.1f mm (mean of %d draws)", motion, body, np.mean(scores),
                     len(seeds))  # fmt: skip
    atomic_write(args.json, json.dumps(result, indent=1).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())

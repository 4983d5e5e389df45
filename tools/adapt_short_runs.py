#!/usr/bin/env python
"""How far a few adaptation steps move a model's 3D, at a constant learning rate and with adapt's
warm-up and decay (docs/accuracy.md, "Adapt's learning-rate schedule").

    python tools/adapt_experiment.py --model engines/weights/posecast_lifter_long_w384.onnx \\
        --protocols same-footage --save-footage /tmp/footage
    python tools/adapt_short_runs.py engines/weights/posecast_lifter_long_w384.onnx \\
        /tmp/footage/same-footage --json eval/adapt_short_runs.json
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path

import torch
from posecast.engines.errors import run_reporting
from posecast.engines.fileio import atomic_write, check_outputs
from posecast.engines.runtime.base import resolve_model
from posecast.engines.training.adapt import AdaptOptions, adapt, collect_inputs

SCHEDULES = {"constant (before 2026-12-05)": {"lr_warmup_steps": 0, "lr_decay": False}, "warm-up and decay": {}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="a shipped model's name, or an exported .onnx with its .adapt.npz")
    ap.add_argument("footage", type=Path, help="lift-format 2D: .npz files or a folder of them")
    ap.add_argument("--steps", default="1,2,10,100", help="comma-separated step counts")
    ap.add_argument("--json", type=Path, required=True)
    args = ap.parse_args(argv)
    try:
        counts = [int(s) for s in args.steps.split(",")]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:  # (tools QA: 0, "no limit", ran the runs' 60 minutes each, unsaid)
        ap.error(f"--steps takes comma-separated step counts of 1 or more, got {args.steps!r}")
    model = resolve_model(args.model)  # (tools QA: a shipped model's name was refused, naming itself)
    check_outputs({"--json": args.json}, {"the model": model, "the footage": args.footage})
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(1)
    files = collect_inputs([args.footage])
    moved: dict[str, dict[str, float]] = {}
    for steps in counts:
        for name, schedule in SCHEDULES.items():
            options = AdaptOptions(minutes=60, max_steps=steps, int8=False, **schedule)
            with tempfile.TemporaryDirectory() as tmp:
                report = adapt(model, files, Path(tmp) / "adapted.onnx", options, progress=False)
            moved.setdefault(f"{steps} steps", {})[name] = round(report.after["moved_mm"], 2)
            print(f"{steps} steps, {name}: the 3D moved {moved[f'{steps} steps'][name]} mm", flush=True)
    result = {"model": str(args.model), "footage": str(args.footage), "moved_mm": moved}
    atomic_write(args.json, json.dumps(result, indent=2).encode())
    return 0


if __name__ == "__main__":  # (tools QA: missing data and bad values were tracebacks)
    sys.exit(run_reporting(main, "adapt_short_runs"))

#!/usr/bin/env python
"""Train posecast's scale + lifting networks (unsupervised, or a reference) with progress bars,
resumable checkpoints, a CSV log and a PNG of the loss curves.

    python tools/train.py --config tools/configs/unsupervised.yaml --out runs/unsup
    python tools/train.py --config ... --out runs/unsup --resume     # continue after a stop
    python tools/train.py --data my_bvh_folder/ --recorded-2d clips/*.npz --out runs/mine
    python tools/train.py --config tools/configs/distill_w512.yaml --out runs/w512 # small student

Data: any BVH folder or .tar.xz of BVH files (Bandai-Namco and CMU skeletons are known), and/or
recorded 2D sequences in the ``posecast lift`` input format (2D-only training: no 3D needed).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np
import yaml
from posecast.engines.networks import PoseModel
from posecast.engines.training import metrics
from posecast.engines.training.data.dataset import load_clips, split_clips
from posecast.engines.training.data.windows import MocapWindowSampler, Recorded2DSampler, SamplerOptions
from posecast.engines.training.train import TrainConfig, Trainer

log = logging.getLogger("train")
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DEFAULT_DATA = [
    str(SHARED / "data/bandai-namco/dataset-1.tar.xz"),
    str(SHARED / "data/bandai-namco/dataset-2.tar.xz"),
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, help="YAML with TrainConfig fields (model:, weights: nested)")
    ap.add_argument("--data", nargs="*", help="BVH folders or archives (default: the Bandai-Namco sets)")
    ap.add_argument("--recorded-2d", nargs="*", default=[], help="2D sequences (.npz, lift input format)")
    ap.add_argument("--out", type=Path, required=True, help="run folder: checkpoints, log.csv, losses.png")
    ap.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    ap.add_argument("--steps", type=int)
    ap.add_argument("--mode", choices=["unsupervised", "ablation", "supervised", "distill"])
    ap.add_argument("--teacher", help="distill mode: the teacher's checkpoint (e.g. runs/unsupervised/last.pt)")
    ap.add_argument("--window", type=int, help="window frames T")
    ap.add_argument("--device", default=None, help="cpu or cuda")
    ap.add_argument("--max-clips", type=int, default=0, help="use only this many clips (tiny runs, CI)")
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    raw = yaml.safe_load(args.config.read_text()) if args.config else {}
    if args.resume and (args.out / "config.json").exists():
        raw = json.loads((args.out / "config.json").read_text())
    for key in ("steps", "mode", "device", "teacher"):
        if getattr(args, key) is not None:
            raw[key] = getattr(args, key)
    if args.window:
        raw.setdefault("model", {})["window_frames"] = args.window
    cfg = TrainConfig(**raw)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2))

    options = SamplerOptions(window_frames=max(cfg.model.window_frames, 9 if cfg.model.window_frames == 1 else 0))
    sources = args.data if args.data is not None else DEFAULT_DATA
    clips = [c for src in sources for c in load_clips(src, progress=True)]
    if args.max_clips:
        clips = clips[: args.max_clips]
    train_clips, held_out = split_clips(clips)
    if not held_out:  # tiny subsets: still evaluate on something not trained on
        train_clips, held_out = clips[:-1], clips[-1:]
    log.info("clips: %d train, %d held out", len(train_clips), len(held_out))
    samplers = []
    if train_clips:
        samplers.append(MocapWindowSampler(train_clips, options, seed=cfg.seed))
    if args.recorded_2d:
        if cfg.mode == "supervised":
            log.error("recorded 2D has no 3D: it cannot train the supervised reference")
            return 2
        samplers.append(Recorded2DSampler([Path(p) for p in args.recorded_2d], options, seed=cfg.seed))
    rng = np.random.default_rng(cfg.seed)

    def sample(batch: int):  # noqa: ANN202
        return samplers[int(rng.integers(len(samplers)))].sample(batch)

    evaluate = make_quick_eval(held_out, options) if held_out else None
    trainer = Trainer(cfg, args.out)
    if args.resume and (args.out / "last.pt").exists():
        trainer.load_checkpoint(args.out / "last.pt")
        log.info("resumed at step %d", trainer.step)
    trainer.fit(sample, evaluate, eval_every=args.eval_every, progress=not args.no_progress)
    log.info("done: %s", args.out / "last.pt")
    return 0


def make_quick_eval(held_out, options: SamplerOptions, windows: int = 2048):  # noqa: ANN001, ANN201
    """A fixed held-out batch (ground-truth 2D): N-MPJPE and P-MPJPE in mm, for the log only."""
    import torch

    eval_options = SamplerOptions(window_frames=options.window_frames, noise=False)
    sampler = MocapWindowSampler(held_out, eval_options, seed=123)
    rows = np.random.default_rng(7).integers(0, len(sampler), windows)
    batch = sampler.make_batch(rows, np.random.default_rng(8), augment=False, noise=False)
    gt = batch.joints_cam_m[:, -1].astype(np.float64)
    keypoints = torch.from_numpy(batch.keypoints_norm)

    def evaluate(generator) -> dict[str, float]:  # noqa: ANN001
        with torch.no_grad():  # the exported graph's own maths: canonicalize → lift → camera axes
            joints, scale = PoseModel(generator)(keypoints)
        pred = joints.double().numpy()
        return {
            "eval_n_mpjpe_mm": float(metrics.n_mpjpe(pred, gt).mean() * 1000),
            "eval_p_mpjpe_mm": float(metrics.p_mpjpe(pred, gt).mean() * 1000),
            "eval_scale": float(scale.mean()),
        }

    return evaluate


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Measure the two dataset statistics the trainer's config carries (it never reads 3D itself).

    python tools/scale_prior.py [--config tools/configs/final_semi.yaml] [--samples 20000]

- ``scale_prior`` (μ, σ): the Gaussian the scale network's outputs are pulled to by L_kl. In
  posecast's normalisation the right scale of a pose is ``rms(P_xy) · K / L`` (``P`` the
  root-relative 3D in the camera frame, ``L`` its total bone length, ``K`` below), the ratio of
  its projected size to its bone-length-normalised 3D size: the paper's ``S`` in our units.
- ``CANONICAL_BONE_TOTAL`` ``K``: mean of ``L / rms(P)``, which makes the canonical 3D unit an RMS
  joint distance of ≈ 1 (used for the supervised targets; kept at 7.93 as a unit definition).

Measured on the config's training clips (default: Bandai-Namco) seen by the training cameras with
the training augmentation. Bandai-Namco with the first cameras (2.5–8 m) and ±6 % bones:
K = 7.93, scale prior N(0.94, 0.10); with today's augmentation see the config files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from posecast.engines import skeleton
from posecast.engines.cli_args import whole_number
from posecast.engines.errors import run_reporting
from posecast.engines.training.config import TrainConfig, load_config, resolve_data
from posecast.engines.training.data.dataset import load_source
from posecast.engines.training.data.windows import MocapWindowSampler, SamplerOptions

sys.path.insert(0, str(Path(__file__).parent))
from train import split_data  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, help="training config whose data and held-out sets are used")
    ap.add_argument("--samples", type=whole_number(1, "a count of samples"), default=20000)
    args = ap.parse_args(argv)
    return run_reporting(lambda: run(args), "scale_prior")


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config) if args.config else TrainConfig()
    clips = [c for entry in cfg.data for c in load_source(resolve_data(entry))]
    train, _ = split_data(clips, cfg)
    batch = MocapWindowSampler(train, SamplerOptions(window_frames=1, noise=False)).sample(args.samples)
    rel = skeleton.root_relative(batch.joints_cam_m[:, 0].astype(np.float64))
    total = skeleton.bone_lengths(rel).sum(-1)
    rms = np.sqrt((rel**2).sum(-1).mean(-1))
    rms_xy = np.sqrt((rel[..., :2] ** 2).sum(-1).mean(-1))
    k = float((total / rms).mean())
    scale = rms_xy * 7.93 / total
    print(f"CANONICAL_BONE_TOTAL K = {k:.3f} (the trainer keeps 7.93)")
    print(f"scale_prior = ({scale.mean():.3f}, {scale.std():.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

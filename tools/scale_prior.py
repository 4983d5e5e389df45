#!/usr/bin/env python
"""Measure the two dataset statistics the trainer's config carries (it never reads 3D itself).

    python tools/scale_prior.py [--data DIR_OR_ARCHIVE ...] [--samples 20000]

- ``scale_prior`` (μ, σ): the Gaussian the scale network's outputs are pulled to by L_kl. In
  posecast's normalisation the right scale of a pose is ``rms(P_xy) · K / L`` (``P`` the
  root-relative 3D in the camera frame, ``L`` its total bone length, ``K`` below), the ratio of
  its projected size to its bone-length-normalised 3D size: the paper's ``S`` in our units.
- ``CANONICAL_BONE_TOTAL`` ``K``: mean of ``L / rms(P)``, which makes the canonical 3D unit an RMS
  joint distance of ≈ 1 (used for the supervised reference's targets).

Measured on the Bandai-Namco training clips seen by the training cameras: K = 7.93,
scale prior N(0.94, 0.10).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from posecast.engines import skeleton
from posecast.engines.training.data.dataset import load_clips, split_clips
from posecast.engines.training.data.windows import MocapWindowSampler, SamplerOptions

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = [SHARED / "data/bandai-namco/dataset-1.tar.xz", SHARED / "data/bandai-namco/dataset-2.tar.xz"]
    ap.add_argument("--data", nargs="*", type=Path, default=default)
    ap.add_argument("--samples", type=int, default=20000)
    args = ap.parse_args(argv)
    train, _ = split_clips([c for src in args.data for c in load_clips(src)])
    batch = MocapWindowSampler(train, SamplerOptions(window_frames=1, noise=False)).sample(args.samples)
    rel = skeleton.root_relative(batch.joints_cam_m[:, 0])
    total = skeleton.bone_lengths(rel).sum(-1)
    rms = np.sqrt((rel**2).sum(-1).mean(-1))
    rms_xy = np.sqrt((rel[..., :2] ** 2).sum(-1).mean(-1))
    k = float((total / rms).mean())
    scale = rms_xy * k / total
    print(f"CANONICAL_BONE_TOTAL K = {k:.3f}")
    print(f"scale_prior = ({scale.mean():.3f}, {scale.std():.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

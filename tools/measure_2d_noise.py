#!/usr/bin/env python
"""Measure what MediaPipe's 2D looks like on real clips, to shape the training noise and the
joint-centre shifts (engines/training/data/noise.py, augment.py).

    python tools/measure_2d_noise.py --json eval/mediapipe_2d.json [CLIP.mp4 ...]

Per clip (MediaPipe full model, video mode): detection rate; per joint the visibility
distribution and the fraction of frames below 0.5 (a "dropout"); jitter = the 2D minus its
Savitzky-Golay smoothing (window 7, quadratic), as a fraction of the pose's RMS size, with its
lag-1 autocorrelation and how it spreads over frequency; and from MediaPipe's world landmarks
the body proportions in posecast's joint definitions (bone lengths relative to the leg), to set
against the mocap skeletons'. No ground truth exists for real clips: the jitter figure is an
upper bound (fast real motion leaks into it), the bias of joint centres is read from the
proportions.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import cv2
import numpy as np
from posecast.engines import normalize, skeleton
from posecast.engines.assets import ensure_asset
from posecast.engines.errors import run_reporting
from posecast.engines.fileio import atomic_write, check_outputs
from posecast.engines.uploads import block_native_uploads
from scipy.signal import savgol_filter

log = logging.getLogger("measure_2d_noise")
#: The shared clips, which ship in the repository too (tools QA: a fresh clone found none)
MEDIA = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "media"


def run_mediapipe(path: Path) -> dict[str, np.ndarray]:
    """Landmarks of every frame: pixels (F, 33, 2), visibility (F, 33), world (F, 33, 3), fps;
    NaN where no person was found."""
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    options = vision.PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(ensure_asset("pose_landmarker_full"))),
        running_mode=vision.RunningMode.VIDEO, num_poses=1,
    )  # fmt: skip
    capture = cv2.VideoCapture(str(path))
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 30.0)
    pixels, visibility, world = [], [], []
    with vision.PoseLandmarker.create_from_options(options) as landmarker:
        index = 0
        while True:
            ok, image = capture.read()
            if not ok:
                break
            h, w = image.shape[:2]
            rgb = mp.Image(image_format=mp.ImageFormat.SRGB, data=cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
            result = landmarker.detect_for_video(rgb, round(index * 1000 / fps))
            index += 1
            if not result.pose_landmarks:
                pixels.append(np.full((33, 2), np.nan))
                visibility.append(np.zeros(33))
                world.append(np.full((33, 3), np.nan))
                continue
            lms, wlms = result.pose_landmarks[0], result.pose_world_landmarks[0]
            pixels.append([(lm.x * w, lm.y * h) for lm in lms])
            visibility.append([lm.visibility or 0.0 for lm in lms])
            world.append([(lm.x, lm.y, lm.z) for lm in wlms])
    capture.release()
    return {"pixels": np.asarray(pixels, float), "visibility": np.asarray(visibility, float),
            "world": np.asarray(world, float), "fps": fps}  # fmt: skip


def jitter_stats(keypoints_px: np.ndarray) -> dict:
    """High-frequency residual of ``(F, 17, 2)`` pixels, relative to the pose size."""
    size = normalize.pose_size(keypoints_px)[:, 0, 0]  # (F,)
    smooth = savgol_filter(keypoints_px, 7, 2, axis=0)
    residual = (keypoints_px - smooth) / size[:, None, None]
    r = residual[3:-3]
    lag1 = float(np.mean([np.corrcoef(r[:-1, j, c], r[1:, j, c])[0, 1] for j in range(17) for c in range(2)]))
    spectrum = np.abs(np.fft.rfft(r - r.mean(0), axis=0)) ** 2
    power = spectrum.mean((1, 2))
    bands = np.array_split(power, 4)
    return {
        "residual_std_frac": float(r.std()),
        "residual_std_frac_per_joint": dict(zip(skeleton.JOINT_NAMES, r.std((0, 2)).round(4).tolist(), strict=True)),
        "lag1_autocorrelation": lag1,
        "power_by_frequency_quarter": (np.array([b.sum() for b in bands]) / power.sum()).round(3).tolist(),
    }


def proportions(world: np.ndarray) -> dict:
    """Median bone lengths of MediaPipe's world landmarks in posecast's definitions, relative to
    thigh + shin (the mocap sources agree best on the leg)."""
    joints = skeleton.from_mediapipe(world)
    lengths = np.nanmedian(skeleton.bone_lengths(joints), axis=0)
    legs = ("r_hip-r_knee", "r_knee-r_ankle", "l_hip-l_knee", "l_knee-l_ankle")
    leg = 0.5 * sum(lengths[skeleton.BONE_NAMES.index(n)] for n in legs)
    ratios = dict(zip(skeleton.BONE_NAMES, (lengths / leg).round(4).tolist(), strict=True))
    return {"leg_m": float(leg), "bone_over_leg": ratios}


def main(argv: list[str] | None = None) -> int:
    block_native_uploads()  # MediaPipe's usage-metrics upload stays on this machine (engines/uploads.py)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clips", nargs="*", type=Path,
                    default=[MEDIA / "dance_576.mp4", MEDIA / "squats_720x1280.mp4"])  # fmt: skip
    ap.add_argument("--json", type=Path, required=True)
    args = ap.parse_args(argv)
    # (tools QA: the clip became JSON)
    check_outputs({"--json": args.json}, {f"clip {clip}": clip for clip in args.clips})
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = {}
    for clip in args.clips:
        if not clip.is_file():
            print(f"measure_2d_noise: error: clip {clip} not found: pass the clips to measure", file=sys.stderr)
            return 2
        lm = run_mediapipe(clip)
        found = np.isfinite(lm["pixels"][:, 0, 0])
        kp = skeleton.from_mediapipe(lm["pixels"][found])
        vis = skeleton.from_mediapipe(lm["visibility"][found][..., None])[..., 0]
        out[clip.name] = {
            "frames": int(len(found)), "fps": lm["fps"], "detected_frac": float(found.mean()),
            "visibility_mean_per_joint": dict(zip(skeleton.JOINT_NAMES, vis.mean(0).round(3).tolist(), strict=True)),
            "below_0_5_frac_per_joint": dict(
                zip(skeleton.JOINT_NAMES, (vis < 0.5).mean(0).round(3).tolist(), strict=True)
            ),
            "visibility_quantiles": np.quantile(vis, [0.05, 0.25, 0.5, 0.75, 0.95]).round(3).tolist(),
            "jitter": jitter_stats(kp) if found.sum() > 12 else None,
            "proportions": proportions(lm["world"][found]),
        }  # fmt: skip
        log.info("%s: %s", clip.name, json.dumps(out[clip.name]["jitter"]))
    atomic_write(args.json, json.dumps(out, indent=2).encode())  # (tools QA: written in place, not atomically)
    return 0


if __name__ == "__main__":  # (tools QA: missing data and bad values were tracebacks)
    sys.exit(run_reporting(main, "measure_2d_noise"))

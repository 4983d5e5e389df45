#!/usr/bin/env python
"""How much of the cross-dataset error could knowing the person's body remove? Bounds for adaptation.

    python tools/adapt_bounds.py --model runs/export/xd_supervised.onnx --json eval/adapt_bounds.json

On the cross-dataset set (CMU subjects 09, 13 and 49, ground-truth 2D, the evaluation's webcams),
the model's current-frame 3D is kept as it is, or re-solved: every joint put back on its own
viewing ray (the 2D is exact) at a given bone length from its parent, parents first, taking the
one of the two points on the ray nearer the model's own depth (the model keeps the front/back
choice). The rows say what each kind of knowledge of the body would be worth:

- ``true lengths``: the person's own bone lengths (an oracle, from the 3D);
- ``... x N % noise``: those lengths each off by a random N % (how exact an estimate must be);
- ``network's own median lengths``: the model's lengths on this clip, held constant;
- ``true widths ...`` / ``the network's widths ...``: the true lengths for the hip and shoulder
  widths only, or for every bone but those (how much of it is the joint centres' widths);
- ``population proportions``: the mean proportions of a group of people (the scored people
  themselves, or the other CMU subjects), scaled to the person's true leg;
- ``estimated from the 2D``: each person's lengths from their 2D alone: the 90th percentile of
  each bone's projected length at the model's depths, left and right pooled, over all of that
  person's clips (one skeleton format each), root depths from the model's pose and the 2D.

Root positions are the true ones except in the rows that say otherwise (P-MPJPE is free of the
overall scale). Two rows use nothing but the 2D: the network's own median lengths along its own
directions (what the live bone smoother publishes), and those put on the rays with the root fitted
to the 2D (``engines.camera.solve_root_translation``); ``accel_error_mm`` gives their smoothness.
``--noisy`` scores with MediaPipe-shaped 2D noise instead of exact 2D.

``--finetune-minutes M`` also measures what training on those bodies would buy, at best: the
start model fine-tuned (3D-supervised, on Bandai-Namco's training clips, learning rate 1e-4) for
M minutes with every window's body set to one of the scored people's own proportions (an
oracle), against the same minutes with the usual random bodies (the control), scored on the
cross-dataset set and on every 4th held-out Bandai-Namco clip (in-domain).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path

import numpy as np
from posecast.engines import camera, metrics, skeleton
from posecast.engines.errors import run_reporting
from posecast.engines.fileio import atomic_write, check_outputs
from posecast.engines.training.config import resolve_data
from posecast.engines.training.data.augment import leg_length
from posecast.engines.training.data.dataset import load_source, split_by_subject
from posecast.engines.training.evaluate import build_eval_clips, causal_windows

sys.path.insert(0, str(Path(__file__).parent))
from adapt_experiment import CMU  # noqa: E402
from evaluate import CROSS_SUBJECTS, make_predictor, model_inputs  # noqa: E402

log = logging.getLogger("adapt_bounds")
CHILD = np.array([c for c, _ in skeleton.BONES])
PARENT = np.array([p for _, p in skeleton.BONES])
#: bones that share a length estimate (left and right)
PAIRS: dict[str, list[int]] = {}
for _i, _name in enumerate(skeleton.BONE_NAMES):
    PAIRS.setdefault(_name.replace("l_", "X_").replace("r_", "X_"), []).append(_i)


def resolve_on_rays(joints: np.ndarray, rays: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Joints ``(F, 17, 3)`` (camera frame, root placed) re-solved onto their rays ``(F, 17, 3)``
    (``(x, y, 1)``) at bone ``lengths (16,)`` from their parents; the root stays."""
    out = joints.copy()
    for b, (child, parent) in enumerate(skeleton.BONES):
        p, r = out[:, parent], rays[:, child]
        a, half_b = (r * r).sum(-1), -(r * p).sum(-1)
        c = (p * p).sum(-1) - lengths[b] ** 2
        root = np.sqrt(np.maximum(half_b**2 - a * c, 0.0))  # no real point: the nearest on the ray
        near, far = (-half_b - root) / a, (-half_b + root) / a
        depth = joints[:, child, 2]  # a ray point's depth is its parameter (z = 1 on the ray)
        out[:, child] = np.where(np.abs(near - depth) <= np.abs(far - depth), near, far)[:, None] * r
    return out


def weak_perspective_depth(pose_m: np.ndarray, rays: np.ndarray) -> np.ndarray:
    """Per-frame root depth ``(F,)`` from a root-relative pose ``(F, 17, 3)`` and its 2D: the
    pose's in-image-plane bone extent over the 2D's."""
    extent_3d = np.linalg.norm(pose_m[:, CHILD, :2] - pose_m[:, PARENT, :2], axis=-1).sum(-1)
    extent_2d = np.linalg.norm(rays[:, CHILD, :2] - rays[:, PARENT, :2], axis=-1).sum(-1)
    return extent_3d / np.maximum(extent_2d, 1e-9)


def lengths_from_2d(poses: list[np.ndarray], rays: list[np.ndarray], percentile: float = 90.0) -> np.ndarray:
    """One person's bone lengths ``(16,)`` from the 2D of their clips and a model's poses on them."""
    projected = []
    for pose, ray in zip(poses, rays, strict=True):
        depth = weak_perspective_depth(pose, ray)[:, None] + pose[..., 2]
        xy = ray[..., :2] * depth[..., None]
        projected.append(np.linalg.norm(xy[:, CHILD] - xy[:, PARENT], axis=-1))
    pool = np.concatenate(projected)
    out = np.zeros(len(skeleton.BONES))
    for bones in PAIRS.values():
        out[bones] = np.percentile(pool[:, bones].ravel(), percentile)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="exported .onnx, a shipped name or a training .pt")
    ap.add_argument("--json", type=Path, required=True)
    ap.add_argument("--finetune-minutes", type=float, default=0.0, help="also the fine-tuning bound (minutes each)")
    ap.add_argument("--noisy", action="store_true", help="the 2D with MediaPipe-shaped noise (default: exact)")
    args = ap.parse_args(argv)
    check_outputs({"--json": args.json}, model_inputs([args.model]))  # (tools QA: the model became JSON)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    cmu = [c for src in CMU for c in load_source(resolve_data(src))]
    others, held = split_by_subject(cmu, set(CROSS_SUBJECTS))
    predict, window = make_predictor(args.model)
    clips = []
    for clip, ev in zip(held, build_eval_clips(held, noisy=args.noisy), strict=True):
        pred = predict(causal_windows(ev.keypoints_norm, window)).astype(np.float64)
        truth = ev.joints_cam_m
        pose = skeleton.root_relative(pred) * camera.metric_scale(pred, skeleton.bone_lengths_from_height(
            ev.height_m))[:, None, None]  # fmt: skip
        rays = np.concatenate([ev.keypoints_norm.astype(np.float64), np.ones((len(truth), 17, 1))], -1)
        true_lengths = np.median(skeleton.bone_lengths(truth), 0)
        own = np.median(skeleton.bone_lengths(pose), 0)  # the network's own lengths, held constant
        kept = skeleton.with_bone_lengths(pose, own)  # along its directions: what the live smoother publishes
        clips.append({"person": (clip.subject, clip.skeleton_format), "pose": pose, "truth": truth, "rays": rays,
                      "lengths": true_lengths, "root": truth[:, :1], "own": own, "kept": kept,
                      "fitted_root": camera.solve_root_translation(kept, ev.keypoints_norm)[:, None, :]})  # fmt: skip

    def proportions(group: list) -> np.ndarray:
        lengths = np.array([np.median(skeleton.bone_lengths(c.joints_m), 0) for c in group])
        return (lengths / leg_length(lengths)[:, None]).mean(0)

    def on_rays(c: dict, lengths: np.ndarray, root: np.ndarray) -> np.ndarray:
        """The clip's pose with these bone lengths, each joint on its viewing ray, root-relative."""
        return resolve_on_rays(c["pose"] + root, c["rays"], lengths) - root

    def mean_p_mpjpe(pose_of) -> float:  # noqa: ANN001
        return float(np.concatenate([metrics.p_mpjpe(pose_of(c), c["truth"] - c["root"]) for c in clips]).mean() * 1000)

    def score(lengths_of, root_of=lambda c: c["root"]) -> float:  # noqa: ANN001
        return mean_p_mpjpe(lambda c: on_rays(c, lengths_of(c), root_of(c)))

    def mean_accel(pose_of) -> float:  # noqa: ANN001
        return float(np.mean([metrics.acceleration_error(pose_of(c), c["truth"] - c["root"]) for c in clips]) * 1000)

    rng = np.random.default_rng(0)
    rows = {"network": mean_p_mpjpe(lambda c: c["pose"])}
    rows["true lengths"] = score(lambda c: c["lengths"])
    for noise in (0.02, 0.05, 0.10):
        noisy = score(lambda c, n=noise: c["lengths"] * np.exp(rng.normal(0, n, 16)))
        rows[f"true lengths x {noise:.0%} noise"] = noisy
    rows["network's own median lengths"] = score(lambda c: c["own"])
    # 2D only (no truth): the clip's own lengths along the network's directions, then also on the rays
    accel = {"network": mean_accel(lambda c: c["pose"])}
    name = "network's own median lengths, its directions kept (no rays)"
    rows[name], accel[name] = mean_p_mpjpe(lambda c: c["kept"]), mean_accel(lambda c: c["kept"])
    rows["true lengths, the network's directions kept (no rays)"] = mean_p_mpjpe(
        lambda c: skeleton.with_bone_lengths(c["pose"], c["lengths"])
    )
    name = "network's own median lengths, root fitted to the 2D (no truth)"
    rows[name] = score(lambda c: c["own"], root_of=lambda c: c["fitted_root"])
    accel[name] = mean_accel(lambda c: on_rays(c, c["own"], c["fitted_root"]))
    widths = np.isin(np.arange(len(skeleton.BONES)), skeleton.WIDTH_BONES)
    rows["true widths (hips, shoulders), the network's other lengths"] = score(
        lambda c: np.where(widths, c["lengths"], c["own"])
    )
    rows["the network's widths, true other lengths"] = score(lambda c: np.where(widths, c["own"], c["lengths"]))
    for name, group in (("the scored people's", held), ("the other CMU subjects'", others)):
        mean = proportions(group)
        rows[f"population proportions ({name})"] = score(lambda c, m=mean: m * leg_length(c["lengths"]))
    estimates = {}
    for person in {c["person"] for c in clips}:
        mine = [c for c in clips if c["person"] == person]
        estimates[person] = lengths_from_2d([c["pose"] for c in mine], [c["rays"] for c in mine])
    rows["estimated from the 2D (per person, root depth from the model)"] = score(
        lambda c: estimates[c["person"]],
        root_of=lambda c: weak_perspective_depth(c["pose"], c["rays"])[:, None, None] * c["rays"][:, :1],
    )
    error = [np.median(np.abs(np.log(estimates[c["person"]] / leg_length(estimates[c["person"]])
                                     / (c["lengths"] / leg_length(c["lengths"]))))) for c in clips]  # fmt: skip
    result = {"model": args.model, "set": f"cross (CMU 09/13/49), {'noisy' if args.noisy else 'ground-truth'} 2D",
              "p_mpjpe_mm": rows, "accel_error_mm": accel,
              "estimated_proportions_median_error_pct": float(np.median(error) * 100)}  # fmt: skip
    for name, value in rows.items():
        log.info("%-70s %.1f mm", name, value)
    if args.finetune_minutes > 0:
        result["finetune"] = finetune_on_bodies(args.model, held, args.finetune_minutes)
    atomic_write(args.json, json.dumps(result, indent=2).encode())
    return 0


def finetune_on_bodies(model: str, held: list, minutes: float) -> dict:
    """Supervised fine-tuning on Bandai-Namco with the scored people's bodies (oracle) and with
    random bodies (control): before/after figures of each."""
    import time

    import torch
    from adapt_experiment import BANDAI, scorer
    from posecast.engines.runtime.base import resolve_model
    from posecast.engines.training.config import config_from_dict
    from posecast.engines.training.data.augment import BodyOptions
    from posecast.engines.training.data.dataset import split_clips
    from posecast.engines.training.data.windows import MocapWindowSampler, SamplerOptions
    from posecast.engines.training.export import adapt_weights_path, load_generator_npz
    from posecast.engines.training.train import Trainer

    torch.set_num_threads(1)
    train, in_domain = split_clips([c for src in BANDAI for c in load_source(resolve_data(src))])
    score = scorer({"gt2d": build_eval_clips(held, noisy=False), "noisy2d": build_eval_clips(held, noisy=True),
                    "indomain": build_eval_clips(in_domain[::4], noisy=False)})  # fmt: skip
    lengths = np.array([np.median(skeleton.bone_lengths(c.joints_m), 0) for c in held])
    bodies = {"oracle: the scored people's proportions": BodyOptions(bodies=lengths / leg_length(lengths)[:, None]),
              "control: random proportions": BodyOptions()}  # fmt: skip
    start, _ = load_generator_npz(adapt_weights_path(resolve_model(model)))
    out = {"minutes": minutes, "before": score(start)}
    for name, body in bodies.items():
        sampler = MocapWindowSampler(train, SamplerOptions(window_frames=start.cfg.window_frames, body=body), seed=3)
        cfg = config_from_dict({"mode": "supervised", "model": start.cfg.to_dict(), "batch": 256, "lr_pose": 1e-4,
                                "lr_final_fraction": 1.0, "steps": 10**9, "data": [], "threads": 1})  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            trainer = Trainer(cfg, tmp)
            trainer.generator.load_state_dict(start.state_dict())
            began = time.perf_counter()
            while time.perf_counter() - began < minutes * 60:
                trainer.train_step(sampler.sample(256))
        out[name] = {"steps": trainer.step, "after": score(trainer.generator.eval())}
        log.info("%s: cross P-MPJPE %.1f -> %.1f mm", name, out["before"]["gt2d_p_mpjpe_mm"],
                 out[name]["after"]["gt2d_p_mpjpe_mm"])  # fmt: skip
    return out


if __name__ == "__main__":  # (tools QA: missing data and bad values were tracebacks)
    sys.exit(run_reporting(main, "adapt_bounds"))

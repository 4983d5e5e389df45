#!/usr/bin/env python
"""Measure what adaptation buys across datasets: a model trained on Bandai-Namco only, adapted to
CMU's 2D alone (no 3D), scored on CMU subjects it never saw, before and after.

    python tools/adapt_experiment.py --model runs/xd_semi/export/model.onnx --minutes 20 \\
        --json eval/adapt.json --markdown eval/adapt.md

The 2D to adapt to is CMU motion filmed by random webcams (the evaluation's camera ranges) with
MediaPipe-like noise, written as lift-format .npz files, exactly what a user's footage gives.
Protocols: ``other-people`` adapts to the 2D of the CMU subjects outside the evaluation set
and scores the held-out subjects 09, 13 and 49 (the model meets new people from the same
source); ``same-footage`` adapts to the held-out subjects' own 2D (a user adapting to the very
clips they will run it on) and scores those clips; ``source-control`` runs the same minutes on
Bandai-Namco 2D (the source it was trained on, as many frames as other-people) — what the losses
do without any new footage, so the difference to it is what the target's 2D brought;
``3d-labels`` is not adaptation: the same minutes of 3D-supervised fine-tuning on the other CMU
people's mocap, the labels adaptation does not have — how far the target source's own 3D moves
the model, the yardstick for what 2D alone might reach; ``3d-labels-same-footage`` fine-tunes
on the scored clips' own mocap, a ceiling that no user has (it trains on what it is scored on).
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from posecast.engines import skeleton
from posecast.engines.cli_args import whole_number
from posecast.engines.errors import run_reporting
from posecast.engines.fileio import atomic_write, check_outputs
from posecast.engines.networks import PoseModel
from posecast.engines.training.adapt import RECIPES, TEACHER_CONTEXTS, TEACHERS, AdaptOptions, adapt
from posecast.engines.training.config import config_from_dict, resolve_data
from posecast.engines.training.data.cameras import film, sample_cameras
from posecast.engines.training.data.dataset import Clip, load_source, split_by_subject, split_clips
from posecast.engines.training.data.noise import add_detector_noise
from posecast.engines.training.data.windows import MocapWindowSampler, SamplerOptions
from posecast.engines.training.evaluate import build_eval_clips, evaluate
from posecast.engines.training.export import adapt_weights_path, load_generator_npz
from posecast.engines.training.train import Trainer
from posecast.engines.uploads import block_native_uploads

sys.path.insert(0, str(Path(__file__).parent))
from evaluate import CROSS_SUBJECTS, flip_averaged, model_inputs  # noqa: E402

log = logging.getLogger("adapt_experiment")
CMU = ["data/cmu-mocap/cmu-mocap.tar.xz", "data/cmu-mocap/cmu-dance.tar.xz"]
BANDAI = ["data/bandai-namco/dataset-1.tar.xz", "data/bandai-namco/dataset-2.tar.xz"]


def write_footage(clips: list[Clip], folder: Path, seed: int) -> list[Path]:
    """Each clip filmed by a random webcam, 2D with detector noise → lift-format .npz files."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for clip in clips:
        world = clip.joints_m.astype(np.float64)[None]
        cams = sample_cameras(world[:, :, skeleton.ROOT].mean(1), rng)
        cam = film(cams, world)
        pixels, confidence = add_detector_noise(cams.project_px(cam), rng, image_size=cams.image_size)
        path = folder / f"{clip.name}.npz"
        np.savez(path, keypoints_2d=pixels[0], confidence=confidence[0], intrinsics=cams.intrinsics[0], fps=clip.fps)
        paths.append(path)
    return paths


#: what each protocol adapts (or, for the 3d-labels ones, fine-tunes) to; the module docstring says why
PROTOCOLS = ("other-people", "same-footage", "source-control", "3d-labels", "3d-labels-same-footage")


def fine_tune_on_3d(model: Path, clips: list[Clip], minutes: float, lr: float, score) -> tuple[int, dict, dict]:  # noqa: ANN001
    """``minutes`` of 3D-supervised fine-tuning of ``model`` on ``clips``' mocap (the ``3d-labels``
    protocol, with adapt's batch and learning rate): steps, figures before and after."""
    start, _ = load_generator_npz(adapt_weights_path(model))
    cfg = config_from_dict({"mode": "supervised", "model": start.cfg.to_dict(), "batch": AdaptOptions.batch,
                            "lr_pose": lr, "lr_final_fraction": 1.0, "steps": 10**9, "data": [],
                            "threads": 1})  # fmt: skip
    sampler = MocapWindowSampler(clips, SamplerOptions(window_frames=start.cfg.window_frames), seed=3)
    before = score(start)
    with tempfile.TemporaryDirectory(prefix="posecast-3d-labels-") as tmp:
        trainer = Trainer(cfg, Path(tmp))
        trainer.generator.load_state_dict(start.state_dict())
        began = time.perf_counter()
        while time.perf_counter() - began < minutes * 60:
            trainer.train_step(sampler.sample(AdaptOptions.batch))
    return trainer.step, before, score(trainer.generator.eval())


def scorer(eval_sets: dict[str, list]):  # noqa: ANN201
    def score(generator) -> dict[str, float]:  # noqa: ANN001
        model = PoseModel(generator).eval()

        def predict(windows: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return model(torch.from_numpy(windows))[0].numpy()

        out = {}
        for kind, clips in eval_sets.items():
            for suffix, predictor in (("", predict), ("_flip", flip_averaged(predict))):  # _flip: as posecast run
                r = evaluate(predictor, clips, generator.cfg.window_frames)
                out |= {f"{kind}{suffix}_{k}": r[k] for k in ("mpjpe_mm", "n_mpjpe_mm", "p_mpjpe_mm", "p_mpjpe_15_mm")}
        return out

    return score


def main(argv: list[str] | None = None) -> int:
    block_native_uploads()  # MediaPipe's usage-metrics upload stays on this machine (engines/uploads.py)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="exported .onnx with its .adapt.npz (trained without CMU)")
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument(
        "--max-steps",
        type=whole_number(0, "a count of steps"),
        default=0,
        help="stop after this many steps (0: minutes only); the same compute on a slower or faster CPU",
    )
    ap.add_argument("--protocols", default="other-people,same-footage", help=f"comma-separated: {', '.join(PROTOCOLS)}")
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--lr-warmup-steps", type=whole_number(0, "a count of steps"),
                    default=AdaptOptions.lr_warmup_steps,
                    help="linear warm-up of the learning rate over this many steps (0: none, as before 2026-12-05)")
    ap.add_argument("--no-lr-decay", action="store_true",
                    help="a constant learning rate after the warm-up (as before 2026-12-05), not a linear decay to 0")
    ap.add_argument("--anchor", type=float, default=1.0)
    ap.add_argument("--distill", type=float, default=1.0)
    ap.add_argument("--recipe", default="ensemble", choices=list(RECIPES), help="engines/training/adapt.py RECIPES")
    ap.add_argument(
        "--weights",
        default=None,
        help="loss weights changed by name (default: the recipe's), JSON, e.g. '{\"w_adv\": 0}'",
    )
    ap.add_argument(
        "--teacher", choices=sorted(TEACHERS), default=None, help="the distillation target (default: the recipe's)"
    )
    ap.add_argument("--teacher-context", choices=TEACHER_CONTEXTS, default=None,
                    help="footage: each frame's teacher over every window holding it; window: per window "
                         "(default: the recipe's)")  # fmt: skip
    ap.add_argument("--label", default="", help="suffix of the result's name (variants of one protocol)")
    ap.add_argument("--seed", type=whole_number(0, "a seed"), default=0,
                    help="adaptation's seed (windows and views drawn)")
    ap.add_argument(
        "--in-domain-every",
        type=whole_number(0, "a count of clips"),
        default=4,
        help="also score every Nth held-out Bandai-Namco clip (does adaptation cost in-domain?); 0: not",
    )
    ap.add_argument(
        "--eval-seeds",
        default="2021",
        help="comma-separated webcam draws of the scored clips (tools/evaluate.py --seed): the first "
        "is scored as gt2d / noisy2d, each other one as gt2d@S / noisy2d@S (default: 2021, eval/'s)",
    )
    ap.add_argument("--json", type=Path, help="results, added to the file's entries (required unless --save-footage)")
    ap.add_argument("--markdown", type=Path)
    ap.add_argument("--save-footage", type=Path, metavar="FOLDER",
                    help="only write each protocol's 2D footage to FOLDER/<protocol> (lift-format .npz, as "
                         "adaptation sees it; `posecast adapt FOLDER/other-people` uses it), then stop")  # fmt: skip
    args = ap.parse_args(argv)
    check_outputs({"--json": args.json, "--markdown": args.markdown}, model_inputs([args.model]))  # (review)
    try:
        eval_seeds = [int(s) for s in args.eval_seeds.split(",")]
    except ValueError:
        ap.error(f"--eval-seeds takes comma-separated integers, got {args.eval_seeds!r}")
    if args.json is None and args.save_footage is None:
        ap.error("--json is required (or --save-footage)")
    unknown = sorted(set(args.protocols.split(",")) - set(PROTOCOLS))
    if unknown:
        ap.error(f"unknown protocol(s) {', '.join(unknown)}: choose from {', '.join(PROTOCOLS)}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(1)
    cmu = [c for src in CMU for c in load_source(resolve_data(src))]
    others, held = split_by_subject(cmu, set(CROSS_SUBJECTS))
    bandai: list[Clip] = []
    all_bandai = [c for src in BANDAI for c in load_source(resolve_data(src))] if (
        "source-control" in args.protocols or args.in_domain_every) else []  # fmt: skip
    if "source-control" in args.protocols:
        pool = split_clips(all_bandai)[0]
        order = np.random.default_rng(5).permutation(len(pool))
        budget = sum(len(c.joints_m) for c in others)
        for i in order:  # as many frames as the other-people footage
            if budget <= 0:
                break
            bandai.append(pool[i])
            budget -= len(pool[i].joints_m)
    sources = dict(zip(PROTOCOLS, (others, held, bandai, others, held), strict=True))
    if args.save_footage:
        for protocol in args.protocols.split(","):
            paths = write_footage(sources[protocol], args.save_footage / protocol, seed=11)
            log.info("%s: %d files in %s", protocol, len(paths), args.save_footage / protocol)
        return 0
    eval_sets = {}
    for i, seed in enumerate(eval_seeds):
        tag = "" if i == 0 else f"@{seed}"
        eval_sets |= {f"gt2d{tag}": build_eval_clips(held, noisy=False, seed=seed),
                      f"noisy2d{tag}": build_eval_clips(held, noisy=True, seed=seed)}  # fmt: skip
    if args.in_domain_every:
        in_domain = split_clips(all_bandai)[1][:: args.in_domain_every]
        eval_sets["indomain"] = build_eval_clips(in_domain, noisy=False)
    score = scorer(eval_sets)
    results = json.loads(args.json.read_text()) if args.json.exists() else {}
    changed = {} if args.weights is None else {"weights": json.loads(args.weights)}
    if args.teacher_context is not None:
        changed["teacher_context"] = args.teacher_context
    if args.teacher is not None:
        changed["teacher"] = args.teacher
    options = AdaptOptions.recipe(args.recipe, minutes=args.minutes, max_steps=args.max_steps, lr=args.lr,
                                  anchor_weight=args.anchor, distill_weight=args.distill, seed=args.seed,
                                  lr_warmup_steps=args.lr_warmup_steps, lr_decay=not args.no_lr_decay,
                                  **changed)  # fmt: skip
    for protocol in args.protocols.split(","):
        source = sources[protocol]
        name = f"{protocol}{' ' + args.label if args.label else ''}"
        frames = sum(len(c.joints_m) for c in source)
        entry = {"model": str(args.model), "minutes": args.minutes, "adapt_clips": len(source), "adapt_frames": frames,
                 "lr": args.lr, "lr_warmup_steps": args.lr_warmup_steps, "lr_decay": not args.no_lr_decay,
                 "seed": args.seed, "eval_seeds": eval_seeds, "max_steps": args.max_steps}  # fmt: skip
        if protocol.startswith("3d-labels"):
            steps, b, a = fine_tune_on_3d(args.model, source, args.minutes, args.lr, score)
            entry["recipe"] = "3D-supervised"
        else:
            with tempfile.TemporaryDirectory(prefix="posecast-adapt-exp-") as tmp:
                footage = write_footage(source, Path(tmp) / "footage", seed=11)
                report = adapt(args.model, footage, Path(tmp) / "adapted.onnx", options, progress=False, evaluate=score)
            steps, b, a = report.steps, report.before, report.after
            entry |= {"anchor": args.anchor, "distill": args.distill, "recipe": args.recipe, "teacher": options.teacher,
                      "teacher_smooth_frames": options.teacher_smooth_frames, "weights": options.weights,
                      "teacher_context": options.teacher_context}  # fmt: skip
        results[name] = entry | {"steps": steps, "before": b, "after": a}
        log.info("%s: cross P-MPJPE %.1f -> %.1f mm (gt 2D), %.1f -> %.1f (noisy)", name, b["gt2d_p_mpjpe_mm"],
                 a["gt2d_p_mpjpe_mm"], b["noisy2d_p_mpjpe_mm"], a["noisy2d_p_mpjpe_mm"])  # fmt: skip
        atomic_write(args.json, json.dumps(results, indent=2).encode())
    if args.markdown:
        write_markdown(args.markdown, results)
    return 0


def write_markdown(path: Path, results: dict) -> None:
    """The table of :func:`markdown` into ``path``, after the hand-written preamble the file has
    (what the entries are, how they were run), which stays."""
    preamble = path.read_text().split("| protocol |")[0] if path.exists() else ""
    atomic_write(path, (preamble + markdown(results)).encode())


def markdown(results: dict) -> str:
    lines = ["| protocol | 2D | MPJPE before → after | N-MPJPE before → after | P-MPJPE before → after | change | "
             "in-domain P-MPJPE |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for protocol, r in results.items():
        # gt2d, noisy2d (and gt2d@S, noisy2d@S: other webcam draws); _flip: as posecast run lifts (older runs lack it)
        kinds = [k.removesuffix("_p_mpjpe_mm") for k in r["before"] if k.endswith("_p_mpjpe_mm")]
        for kind in (k for k in kinds if not k.startswith("indomain")):
            b, a = r["before"], r["after"]
            metrics = ("mpjpe_mm", "n_mpjpe_mm", "p_mpjpe_mm")
            cells = [f"{b[f'{kind}_{m}']:.1f} → {a[f'{kind}_{m}']:.1f}" for m in metrics]
            change = 100 * (a[f"{kind}_p_mpjpe_mm"] / b[f"{kind}_p_mpjpe_mm"] - 1)
            key = "indomain_p_mpjpe_mm"
            in_domain = f"{b[key]:.1f} → {a[key]:.1f}" if kind == "gt2d" and key in b else "–"
            lines.append(f"| {protocol} ({r['adapt_frames']} frames, {r['minutes']:g} min, {r['steps']} steps) | "
                         f"{kind} | " + " | ".join(cells) + f" | {change:+.1f} % | {in_domain} |")  # fmt: skip
        lines += draws_mean_rows(protocol, r)
    return "\n".join(lines) + "\n"


def draws_mean_rows(protocol: str, r: dict) -> list[str]:
    """For an entry scored on several webcam draws (``--eval-seeds``): per 2D kind, the figures
    averaged over the draws, the change of those means, and the range of the single draws' changes
    (the README quotes these); no rows for an entry with one draw."""
    b, a = r["before"], r["after"]
    seeds = r.get("eval_seeds", [])[1:]
    rows = []
    for base, suffix in itertools.product(("gt2d", "noisy2d"), ("", "_flip")):
        kinds = [f"{base}{suffix}"] + [f"{base}@{s}{suffix}" for s in seeds]
        if not seeds or any(f"{k}_p_mpjpe_mm" not in b for k in kinds):
            continue
        mean = {(side, m): float(np.mean([f[f"{k}_{m}"] for k in kinds]))
                for side, f in (("b", b), ("a", a)) for m in ("mpjpe_mm", "n_mpjpe_mm", "p_mpjpe_mm")}  # fmt: skip
        cells = [f"{mean['b', m]:.1f} → {mean['a', m]:.1f}" for m in ("mpjpe_mm", "n_mpjpe_mm", "p_mpjpe_mm")]
        singles = [100 * (a[f"{k}_p_mpjpe_mm"] / b[f"{k}_p_mpjpe_mm"] - 1) for k in kinds]
        change = 100 * (mean["a", "p_mpjpe_mm"] / mean["b", "p_mpjpe_mm"] - 1)
        rows.append(f"| {protocol} ({r['steps']} steps) | **{base}{suffix}, mean of {len(kinds)} webcam draws** "
                    f"(single draws {min(singles):+.1f} to {max(singles):+.1f} %) | " + " | ".join(cells)
                    + f" | **{change:+.1f} %** | – |")  # fmt: skip
    return rows


if __name__ == "__main__":  # (tools QA: missing data and bad values were tracebacks)
    sys.exit(run_reporting(main, "adapt_experiment"))

#!/usr/bin/env python
"""Evaluate models in-domain and cross-dataset (ground-truth and noisy 2D); write JSON and Markdown.

    python tools/evaluate.py --model semi=runs/semi/last.pt --model supervised-current-w384 \\
        --model supervised-current-w384:int8 --model flat \\
        --json eval/results.json --markdown eval/results.md

Sets (never trained on by any model in eval/results): ``in_domain``, the held-out Bandai-Namco
clips (10 % by clip); ``cross``, CMU subjects 09, 13 and 49 (runs, jumps, a leap, balancing on one
leg; MotionBuilder BVH, Daz BVH and ASF/AMC), held out of every model's training as whole
people; ``cross_own_bodies``, the cross set without subject 13, whose Daz BVH files carry the
standard figure most CMU training takes share (so its body is not new to a CMU-trained model);
``untouched``, CMU subject 08 (11 walking takes), held out of every CMU-trained model
like the cross set but never scored to choose a model or recipe, as ``cross`` and the real clips
were (its walk 08_04, rescaled, is the subject-calibration tests' walk: the calibration prior and
the published bone bound were argued on it); ``cmu_all``,
every CMU take, for models trained on Bandai-Namco only (``--sets``).
``--camera-fps 5,10`` also scores each set as a slower camera films it (``SET@5fps``): only that
camera's frames, each window blended from them as the live window does.

A model is a training checkpoint (.pt, weights rounded to float16 as exported), an ONNX file run
by ONNX Runtime (``:int8`` for its dynamic-quantized copy), a shipped model's registry name, or
``flat``: the 2D with every joint at one depth, the floor any lifter must beat. ``:flip`` (or
``:int8+flip``) lifts each window with its mirror image and averages, as the live pipeline does
by default; ``:ensemble`` also averages over cameras rolled about their optical axis (−45° to 45°,
``posecast adapt --recipe ensemble``'s teacher, here rolled about the real camera's axis).
``:published`` scores what ``posecast run`` publishes instead of the network's answer: each clip
through the live lifting stage frame by frame (``posecast lift``'s path: the INT8 copy where one
ships, flip averaging, the knee limit, the bone lengths settling from the subject's true height
and measured live from the first 2 s and again later, the root placed from the 2D, the plausibility gate), the
metres as published. ``:published+height`` publishes the same way without the live measurement
(the bone smoother's own lengths: ``posecast run`` before 2026-12-03 evening).
``:published+subject`` publishes the same way with a subject file (``--subject``) that
``posecast calibrate subject``'s maths made from the clip's first 5 s and the true height.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
from posecast.engines import normalize, skeleton
from posecast.engines.errors import run_reporting
from posecast.engines.fileio import check_outputs, json_ready
from posecast.engines.training.config import ConfigError, resolve_data
from posecast.engines.training.data.dataset import TRAINING_FPS, Clip, load_source, split_by_subject, split_clips
from posecast.engines.training.data.framing import FramingOptions
from posecast.engines.training.evaluate import build_eval_clips, evaluate, per_action_table

log = logging.getLogger("evaluate")
DEFAULT_DATA = ["data/bandai-namco/dataset-1.tar.xz", "data/bandai-namco/dataset-2.tar.xz",
                "data/cmu-mocap/cmu-mocap.tar.xz", "data/cmu-mocap/cmu-dance.tar.xz"]  # fmt: skip
#: CMU subjects no model of eval/results was trained on.
CROSS_SUBJECTS = ("09", "13", "49")
#: the cross subjects whose files keep the person's own bone lengths (MotionBuilder BVH, ASF/AMC):
#: 13's Daz BVH carries one standard figure for every subject, the very skeleton of 98.6 % of the
#: CMU frames the default trained on (subjects 10, 12, 14 and the dance takes), so only these two
#: are bodies no model saw
OWN_BODY_SUBJECTS = ("09", "49")
#: a CMU subject no CMU-trained model saw (held out because the tests lift its walk) and that no
#: choice between models or recipes scored: the cross set was used for those
UNTOUCHED_SUBJECTS = ("08",)
#: ``--legs-cut``: every upright clip cut at the bottom between the chest and the knees (drawn per clip)
LEGS_CUT = FramingOptions(prob=1.0)
#: ``:published+subject``: seconds of each clip that ``calibrate subject`` measures first.
CALIBRATION_S = 5.0
#: the variants that score what the live lifting stage publishes (module docstring)
PUBLISHED_MODES = ("published", "published+height", "published+subject")


def flat_predictor(windows: np.ndarray) -> np.ndarray:
    """Reference point, not a model: the current 2D with every joint at one depth (in the
    root view, then turned into the camera's axes like every exported model's output)."""
    current = windows[:, -1].astype(np.float64)
    canonical = normalize.canonicalize(current)
    depth = np.full((*canonical.shape[:-1], 1), normalize.CAMERA_DISTANCE)
    flat = np.concatenate([canonical * normalize.CAMERA_DISTANCE, depth], axis=-1)
    return normalize.to_camera_axes(skeleton.root_relative(flat), current[:, skeleton.ROOT])


def flip_averaged(predict):  # noqa: ANN001, ANN201 - windows → 3D, the same signature back
    """``predict`` lifting each window with its mirror image in one call and averaging, as the live
    lifter does (:mod:`posecast.realtime.lifting.lifter`)."""
    return lambda windows: skeleton.average_mirrored(predict(skeleton.with_mirror_images(windows)))


def webcam_seed(text: str) -> int:
    """``--seed``: a whole number, 0 or more (numpy's generators take no negative seed: tools QA)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"a webcam draw's seed is a whole number, 0 or more, got {text!r}")
    return value


def model_inputs(specs: list[str]) -> dict[str, Path]:
    """The files ``--model`` specs (``[LABEL=]PATH[:VARIANT]``) name, as :func:`check_outputs`'
    inputs: an output written over one destroyed the model (tools QA: a 30 MB checkpoint became a
    576-byte table)."""
    named = {}
    for spec in specs:
        path = Path(spec.rpartition("=")[2].partition(":")[0])  # (labels may hold "=", as run() reads them)
        if path.is_file():
            named[f"--model {spec}"] = path
    return named


def make_predictor(spec: str):  # noqa: ANN201 - (predict, window_frames)
    if spec == "flat":
        return flat_predictor, 1
    path, _, variant = spec.partition(":")
    variants = set(variant.split("+")) - {""}
    if variants - {"int8", "flip", "ensemble"}:
        raise ConfigError(f"unknown model variant {variant!r}: use int8, flip or ensemble, or int8+ one of them")
    if "int8" in variants and path.endswith(".pt"):  # it scored the float network
        raise ConfigError(f"{spec}: :int8 needs an ONNX model (a training checkpoint has no INT8 copy): export it "
                          "with tools/export.py --int8 and name the .onnx")  # fmt: skip
    predict, window_frames = _network_predictor(path, "int8" in variants)
    if "ensemble" in variants:
        from posecast.engines.training.adapt import ENSEMBLE_ROLLS_DEG

        def ensemble(windows: np.ndarray) -> np.ndarray:
            return skeleton.view_ensemble(predict, windows, ENSEMBLE_ROLLS_DEG, mirror=True)

        return ensemble, window_frames
    if "flip" not in variants:
        return predict, window_frames
    return flip_averaged(predict), window_frames


def published_options(path: str, height_m: float | None, live, **other: object):  # noqa: ANN001, ANN201
    """The lifting stage's options as ``posecast run`` publishes a held-out clip: its normalised 2D
    as pixels of a camera with fx = fy = 1 and the centre at 0, no gap restarting the window,
    ``live`` the live subject calibration (``None``: off); ``other``: further LiftingOptions fields."""
    from posecast.realtime.lifting import LifterOptions, LiftingOptions

    return LiftingOptions(lifter=LifterOptions(model_path=path), fixed_intrinsics=(1.0, 1.0, 0.0, 0.0),
                          height_m=height_m, max_gap_s=None, live_subject=live, **other)  # fmt: skip


def published_lifter(path: str, mode: str = "published", calibration_s: float = CALIBRATION_S):  # noqa: ANN201 - EvalClip → (F, 17, 3) metres, NaN without a pose
    """Each clip as ``posecast run`` / ``posecast lift`` publish it (module docstring, ``:published``):
    its normalised 2D given as pixels of a camera with fx = fy = 1 and the centre at 0.
    ``mode`` ``published+height``: without the live subject calibration; ``published+subject``:
    with a subject file that ``posecast calibrate subject`` made from the clip's first
    ``calibration_s`` seconds and its true height (the height alone where the calibration refuses)."""
    import tempfile

    from posecast.calibration import subject_from_lifted
    from posecast.calibration.errors import CalibrationError
    from posecast.calibration.io import save_subject
    from posecast.realtime.lifting import LifterOptions, LiftingOptions, LiveSubjectOptions
    from posecast.realtime.offline import lift_for_calibration, lift_sequence

    if mode not in PUBLISHED_MODES:
        raise ConfigError(f"unknown published variant {mode!r}: use one of {', '.join(PUBLISHED_MODES)}")
    live = None if mode == "published+height" else LiveSubjectOptions()
    # the subject files: removed with the lifter (the closures hold the folder)
    scratch = tempfile.TemporaryDirectory(prefix="posecast-eval-") if mode == "published+subject" else None

    def options(clip, subject: Path | None = None) -> LiftingOptions:  # noqa: ANN001
        return published_options(path, None if subject else clip.height_m, live, subject_path=subject)

    def subject_file(clip, keypoints: np.ndarray, confidence: np.ndarray) -> Path | None:  # noqa: ANN001
        """As ``calibrate subject``: the live stage's raw lifted poses of the first seconds, their 2D."""
        frames = int(calibration_s * TRAINING_FPS)
        keypoints, confidence = keypoints[:frames], confidence[:frames]
        poses, posed = lift_for_calibration(keypoints, confidence, TRAINING_FPS, LifterOptions(model_path=path),
                                            clip.height_m)  # fmt: skip
        try:
            profile = subject_from_lifted(poses[posed], confidence[posed], clip.height_m,
                                          keypoints_norm=keypoints[posed])  # fmt: skip
        except CalibrationError as exc:
            log.info("%s: calibration refused (%s): the height alone", clip.name, exc)
            return None
        assert scratch is not None
        return save_subject(profile, Path(scratch.name) / f"{clip.name}.yaml")

    def lift(clip) -> np.ndarray:  # noqa: ANN001
        keypoints = clip.keypoints_norm.astype(np.float64)
        confidence = np.ones(keypoints.shape[:2]) if clip.confidence is None else clip.confidence.astype(np.float64)
        subject = subject_file(clip, keypoints, confidence) if mode == "published+subject" else None
        return lift_sequence(keypoints, confidence, TRAINING_FPS, options(clip, subject))[1]

    return lift


def from_seconds(lift_clip, start_s: float):  # noqa: ANN001, ANN201 - the same, NaN before start_s
    """``lift_clip`` with the frames before ``start_s`` left out (NaN: counted as without a pose)."""

    def lift(clip) -> np.ndarray:  # noqa: ANN001
        poses = lift_clip(clip).astype(np.float64)
        poses[: int(round(start_s * TRAINING_FPS))] = np.nan
        return poses

    return lift


def _network_predictor(path: str, int8: bool):  # noqa: ANN202 - (predict, window_frames)
    if path.endswith(".pt"):
        import torch

        sys.path.insert(0, str(Path(__file__).parent))
        from export import load_pose_model

        model, cfg, _ = load_pose_model(path)
        torch.set_num_threads(1)

        def predict(windows: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return model(torch.from_numpy(windows))[0].numpy()

        return predict, cfg.model.window_frames
    from posecast.engines.runtime import load_backend
    from posecast.engines.runtime.base import resolve_model

    backend = load_backend("onnxruntime", resolve_model(path), int8=int8, threads=1)
    return (lambda windows: backend.run(windows).joints_3d), backend.metadata.window_frames


SET_NAMES = ("in_domain", "cross", "cross_own_bodies", "untouched", "cmu_all")


def eval_sets(clips: list[Clip], names: list[str]) -> dict[str, list[Clip]]:
    """The named held-out sets of ``clips``."""
    bandai = [c for c in clips if c.source != "cmu"]
    cmu = [c for c in clips if c.source == "cmu"]
    sets = {"in_domain": split_clips(bandai)[1], "cross": split_by_subject(cmu, set(CROSS_SUBJECTS))[1],
            "cross_own_bodies": split_by_subject(cmu, set(OWN_BODY_SUBJECTS))[1],
            "untouched": split_by_subject(cmu, set(UNTOUCHED_SUBJECTS))[1], "cmu_all": cmu}  # fmt: skip
    check_set_names(names)
    if not any(sets[name] for name in names):
        raise ConfigError(f"the sets {', '.join(names)} have no clips in the given data (CMU data is read from "
                          "folders or archives named cmu*; in_domain needs Bandai-Namco's held-out clips)")  # fmt: skip
    for name in names:
        if not sets[name]:
            log.warning("set %s has no clips in the given data: not scored", name)
    return {name: sets[name] for name in names if sets[name]}


#: The CMU subjects each held-out set scores (``cmu_all``: every one).
SET_SUBJECTS = {"cross": CROSS_SUBJECTS, "cross_own_bodies": OWN_BODY_SUBJECTS, "untouched": UNTOUCHED_SUBJECTS,
                "cmu_all": None}  # fmt: skip


def trained_on_sets(checkpoint: str, names: list[str]) -> list[str]:
    """The sets in ``names`` whose CMU people a training checkpoint (``.pt``) saw: it trained on
    CMU without holding out their subjects (QA: a model trained on the whole CMU archive was
    scored on "cross" and "untouched" without a word). Nothing for an ONNX model or a name."""
    path = checkpoint.partition(":")[0]
    if not path.endswith(".pt") or not Path(path).is_file():
        return []
    from posecast.engines.training.checkpoint import read_checkpoint
    from posecast.engines.training.config import config_from_dict

    state = read_checkpoint(path)
    if "cmu" not in (state.get("trained_on") or {}).get("clips", {}):
        return []
    held_out = set(config_from_dict(state["config"]).held_out_subjects)
    return [n for n in names if n in SET_SUBJECTS and (SET_SUBJECTS[n] is None or set(SET_SUBJECTS[n]) - held_out)]


def check_set_names(names: list[str]) -> None:
    unknown = [name for name in names if name not in SET_NAMES]
    if unknown:
        raise ConfigError(f"--sets: unknown set {unknown[0]!r}; the sets are {', '.join(SET_NAMES)}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", required=True,
                    help="LABEL=PATH[.pt|.onnx][:int8|:flip|:ensemble|:int8+flip|:published|:published+height|"
                         ":published+subject], NAME, or flat; flip: flip averaging, as the live pipeline lifts; "
                         "ensemble: also over camera rolls of ±45°; published: what posecast run publishes (the live "
                         "lifting stage; +height: without the live subject calibration; +subject: with a subject "
                         "file from the clip's first seconds)")  # fmt: skip
    ap.add_argument("--data", nargs="*", default=DEFAULT_DATA)
    ap.add_argument("--sets", default="in_domain,cross", help="comma-separated: " + ", ".join(SET_NAMES))
    ap.add_argument("--max-clips", type=int, default=0, help="evaluate on only this many clips per set")
    ap.add_argument("--camera-fps", default="",
                    help="comma-separated camera rates (e.g. 5,10): also score each set as a camera at that rate "
                         "films it, windows made as the live window makes them (sets named SET@5fps)")  # fmt: skip
    ap.add_argument(
        "--seed",
        type=webcam_seed,
        default=2021,
        help="draws each clip's webcam and 2D noise (default 2021: the figures in eval/; another "
        "seed films the same clips from other webcams, to see how much the figures depend on them)",
    )
    ap.add_argument(
        "--legs-cut",
        action="store_true",
        help="also score noisy 2D with the legs cut off at the image's bottom and guessed as MediaPipe "
        "guesses them, as a webcam at a desk sees people (kind legs_cut; score upper_n_mpjpe_mm)",
    )
    ap.add_argument("--score-from-s", type=float, default=0.0, metavar="S",
                    help="published models: score each clip's frames from S seconds on (e.g. once the bone "
                         "lengths have settled); the frames before count as without a pose")  # fmt: skip
    ap.add_argument("--calibration-s", type=float, default=CALIBRATION_S, metavar="S",
                    help=f":published+subject: seconds of each clip that calibrate subject measures (default "
                         f"{CALIBRATION_S:g}; with --score-from-s S too, no frame scored was seen by it)")  # fmt: skip
    ap.add_argument("--json", type=Path, required=True, help="results (merged into an existing file)")
    ap.add_argument("--markdown", type=Path)
    args = ap.parse_args(argv)
    try:
        rates = [None] + [float(r) for r in args.camera_fps.split(",") if r.strip()]
    except ValueError:
        ap.error(f"--camera-fps takes comma-separated numbers, got {args.camera_fps!r}")
    if any(r is not None and not 0 < r <= TRAINING_FPS for r in rates):
        ap.error(f"--camera-fps: each rate must be in (0, {TRAINING_FPS:g}] (the clips' rate), got {args.camera_fps!r}")
    if args.score_from_s < 0 or (args.score_from_s > 0 and not all(
            m.rpartition(":")[2] in PUBLISHED_MODES for m in args.model)):  # fmt: skip
        ap.error(f"--score-from-s takes seconds >= 0 and :published models only, got {args.score_from_s}")
    if not args.calibration_s > 0:  # (tools QA: 0 refused every clip's calibration, -1 took a slice from the end)
        ap.error(f"--calibration-s takes seconds above 0, got {args.calibration_s:g}")
    if args.max_clips < 0:  # (-1 scored all but the last clip of each set; QA)
        ap.error(f"--max-clips must be 0 (every clip) or more, got {args.max_clips}")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return run_reporting(lambda: run(args, rates), "evaluate")


def run(args: argparse.Namespace, rates: list[float | None]) -> int:
    check_outputs({"--json": args.json, "--markdown": args.markdown}, model_inputs(args.model))
    check_set_names(args.sets.split(","))
    try:
        results: dict[str, dict] = json.loads(args.json.read_text()) if args.json.exists() else {}
        results = {key: {k: (np.nan if v is None and k not in ("seed", "max_clips") else v) for k, v in row.items()}
                   if isinstance(row, dict) else row for key, row in results.items()}  # (null: no figure, as NaN)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--json {args.json} exists but is not readable JSON ({exc}): results are merged into "
                          "it; pass another file") from exc  # fmt: skip
    models = []  # every model loaded before any data: a bad one is said at once, not minutes later
    for spec in args.model:
        label, _, path = spec.rpartition("=")  # labels may contain "=" (T=27); paths do not
        label = label or path
        published = path.rpartition(":")[2] in PUBLISHED_MODES
        if published:
            base, _, mode = path.rpartition(":")
            predict, window, lift_clip = None, 0, published_lifter(base, mode, args.calibration_s)
            if args.score_from_s > 0:
                lift_clip = from_seconds(lift_clip, args.score_from_s)
            if len(rates) > 1:
                log.info("%s: scored at the clips' own rate only (the live stage lifts whole clips)", label)
        else:
            (predict, window), lift_clip = make_predictor(path), None
        seen = trained_on_sets(path, args.sets.split(","))
        if seen:
            log.warning("%s trained on the CMU people of %s (its held_out_subjects leave them in): those figures are "
                        "not held out", label, ", ".join(seen))  # fmt: skip
        models.append((label, published, predict, window, lift_clip))
    clips = [c for src in args.data for c in load_source(resolve_data(src))]
    sets = eval_sets(clips, args.sets.split(","))
    prepared = {}
    for name, held in sets.items():
        held = held[: args.max_clips] if args.max_clips else held
        log.info("%s: %d clips, %d frames", name, len(held), sum(len(c.joints_m) for c in held))
        prepared[name] = {"gt2d": build_eval_clips(held, noisy=False, seed=args.seed),
                          "noisy2d": build_eval_clips(held, noisy=True, seed=args.seed)}  # fmt: skip
        if args.legs_cut:
            prepared[name]["legs_cut"] = build_eval_clips(held, noisy=True, seed=args.seed, framing=LEGS_CUT)
    for label, published, predict, window, lift_clip in models:
        for (set_name, kinds), rate in itertools.product(prepared.items(), rates[:1] if published else rates):
            for kind, eval_clips in kinds.items():
                start = time.perf_counter()
                key = f"{label} [{set_name}{'' if rate is None else f'@{rate:g}fps'}/{kind}]"
                results[key] = evaluate(predict, eval_clips, window, camera_fps=rate, lift_clip=lift_clip)
                results[key] |= {"seed": args.seed, "max_clips": args.max_clips}  # which webcams, which clips
                r = results[key]
                log.info("%-48s MPJPE %6.1f  N-MPJPE %6.1f  P-MPJPE %6.1f mm (15 joints %5.1f)  knee bend error "
                         "%4.1f°, straight knees bent %4.1f° (%d)  (%.0f s)", key, r["mpjpe_mm"], r["n_mpjpe_mm"],
                         r["p_mpjpe_mm"], r["p_mpjpe_15_mm"], r["knee_bend_error_deg"], r["straight_knee_bend_deg"],
                         r["straight_knees"], time.perf_counter() - start)  # fmt: skip
    scored_as = {(r["seed"], r["max_clips"]) for r in results.values() if isinstance(r, dict) and "seed" in r}
    if len(scored_as) > 1:  # (QA: rows of other subsets or webcams sat in one table, unsaid)
        log.warning("--json %s now holds rows scored with other --seed / --max-clips (%s): compare rows of one "
                    "kind only", args.json,
                    "; ".join(f"seed {a}, max-clips {b or 'all'}" for a, b in sorted(scored_as)))  # fmt: skip
    args.json.parent.mkdir(parents=True, exist_ok=True)
    from posecast.engines.fileio import atomic_write

    # strict JSON: a figure with nothing to average (no straight knee in the set) is null, not NaN
    atomic_write(args.json, json.dumps(json_ready(results), indent=2, allow_nan=False).encode())
    if args.markdown:
        atomic_write(args.markdown, results_markdown(results).encode())
    return 0


def results_markdown(results: dict[str, dict]) -> str:
    """Two tables (ground-truth and noisy 2D): one row per model, in-domain and cross-dataset; the
    knee figures; the upper body with the legs cut off; models scored at slower camera rates; the
    first cross-dataset row per action."""
    labels = list(dict.fromkeys(k.rsplit(" [", 1)[0] for k in results))
    all_sets = list(dict.fromkeys(k.rsplit(" [", 1)[1].split("/")[0] for k in results))
    sets = [s for s in all_sets if "@" not in s]  # the clip's own rate; slower cameras: their own table
    out = []
    for kind, title in (("gt2d", "ground-truth 2D"), ("noisy2d", "noisy 2D")):
        head = (
            "| model ("
            + title
            + ") | "
            + " | ".join(f"{s} MPJPE | {s} N-MPJPE | {s} P-MPJPE | {s} P-MPJPE (15 j.)" for s in sets)
            + " |"
        )
        out += [head, "|---" * (1 + 4 * len(sets)) + "|"]
        for label in labels:
            cells = []
            for s in sets:
                r = results.get(f"{label} [{s}/{kind}]")
                keys = ("mpjpe_mm", "n_mpjpe_mm", "p_mpjpe_mm", "p_mpjpe_15_mm")
                cells += ["–"] * 4 if r is None else [f"{r[k]:.1f}" for k in keys]
            out.append(f"| {label} | " + " | ".join(cells) + " |")
        out.append("")
    knees = [label for label in labels if "knee_bend_error_deg" in results.get(f"{label} [cross/gt2d]", {})]
    if knees:  # rows evaluated since the knee figures exist
        out += ["| model (ground-truth 2D): knee bend | " + " | ".join(f"{s} knee bend error ° | {s} straight knees "
                                                                         "bent ° (count)" for s in sets) + " |",
                "|---" * (1 + 2 * len(sets)) + "|"]  # fmt: skip
        for label in knees:
            cells = []
            for s in sets:
                r = results.get(f"{label} [{s}/gt2d]") or {}
                if "knee_bend_error_deg" in r:
                    straight = f"{r['straight_knee_bend_deg']:.1f} ({r['straight_knees']})"
                    cells += [f"{r['knee_bend_error_deg']:.1f}", straight]
                else:
                    cells += ["–", "–"]
            out.append(f"| {label} | " + " | ".join(cells) + " |")
        out.append("")
    out += legs_cut_table(results, labels, sets)
    out += camera_rate_table(results, labels, sets, all_sets)
    first = next((k for k in results if k.endswith("[cross/gt2d]")), next(iter(results)))
    out.append(per_action_table(first, results[first]))
    return "\n".join(out)


def legs_cut_table(results: dict[str, dict], labels: list[str], sets: list[str]) -> list[str]:
    """Markdown lines: the upper body's N-MPJPE about the thorax with noisy 2D, whole and with the
    legs cut off (``--legs-cut``), for the models scored both ways; no lines when none was."""
    cut = [label for label in labels if any(f"{label} [{s}/legs_cut]" in results for s in sets)]
    if not cut:
        return []
    out = ["| model: upper body about the thorax, N-MPJPE mm | "
           + " | ".join(f"{s} noisy 2D | {s} legs cut" for s in sets) + " |",
           "|---" * (1 + 2 * len(sets)) + "|"]  # fmt: skip
    for label in cut:
        cells = []
        for s in sets:
            for kind in ("noisy2d", "legs_cut"):
                r = results.get(f"{label} [{s}/{kind}]") or {}
                cells.append(f"{r['upper_n_mpjpe_mm']:.1f}" if "upper_n_mpjpe_mm" in r else "–")
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    return [*out, ""]


def camera_rate_table(results: dict[str, dict], labels: list[str], sets: list[str], all_sets: list[str]) -> list[str]:
    """Markdown lines: MPJPE / N / P per set for each model scored at slower camera rates
    (``--camera-fps``), next to its figures at the clip's rate; no lines when none was."""
    rates = sorted({s.split("@")[1] for s in all_sets if "@" in s}, key=lambda r: -float(r.removesuffix("fps")))
    if not rates:
        return []
    columns = [s for s in sets if any(f"{s}@{r}" in all_sets for r in rates)]
    out = ["| model | 2D | camera | " + " | ".join(f"{s} MPJPE / N / P" for s in columns) + " |",
           "|---" * (3 + len(columns)) + "|"]  # fmt: skip
    for label, kind in itertools.product(labels, ("gt2d", "noisy2d")):
        if not any(f"{label} [{s}@{r}/{kind}]" in results for s in columns for r in rates):
            continue
        for rate in ["clip (30 fps)", *rates]:
            cells = []
            for s in columns:
                r = results.get(f"{label} [{s}/{kind}]" if rate.startswith("clip") else f"{label} [{s}@{rate}/{kind}]")
                cells.append("–" if r is None else " / ".join(f"{r[k]:.1f}" for k in ("mpjpe_mm", "n_mpjpe_mm",
                                                                                         "p_mpjpe_mm")))  # fmt: skip
            out.append(f"| {label} | {kind} | {rate} | " + " | ".join(cells) + " |")
    return [*out, ""]


if __name__ == "__main__":
    sys.exit(main())

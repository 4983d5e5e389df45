#!/usr/bin/env python
"""Export a training checkpoint to the self-describing ONNX file posecast runs.

    python tools/export.py runs/unsupervised/last.pt runs/unsupervised/model.onnx

(Writing into ``engines/weights/`` replaces a shipped model: ``posecast_lifter.onnx`` there is
``supervised-w256``.)

The weights are rounded to float16 first and stored as float16 (half the file size); the
graph computes in float32, and the rounded model is the one evaluated and shipped, so ONNX
Runtime and PyTorch agree to float32 precision.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
import torch
from posecast.engines import metadata, skeleton
from posecast.engines.camera import metric_scale
from posecast.engines.errors import run_reporting
from posecast.engines.fileio import OutputPathError, check_outputs
from posecast.engines.install import code_version
from posecast.engines.networks import PoseModel, fold_batchnorm
from posecast.engines.runtime.quantize import quantize_int8
from posecast.engines.training.checkpoint import load_generator, read_checkpoint
from posecast.engines.training.config import ConfigError, TrainConfig, config_from_dict, resolve_data
from posecast.engines.training.data.cmu import CREDIT as CMU_CREDIT
from posecast.engines.training.data.dataset import TRAINING_FPS
from posecast.engines.training.export import adapt_weights_path, export_onnx, save_generator_npz

log = logging.getLogger("export")
BANDAI_LICENSE = "CC BY-NC 4.0 (weights trained on the Bandai-Namco Research Motion Dataset inherit its licence)"
CMU_LICENSE = f"CMU data: free for all uses. {CMU_CREDIT}"


def describe_data(cfg: TrainConfig, trained_on: dict | None = None) -> tuple[str, str]:
    """(training data, licence) for the model's metadata: from what the run loaded
    (``trained_on``, in checkpoints since 2026-12-05), else from what the config's paths name."""
    if trained_on:
        try:
            return _described(cfg, trained_on)
        except (AttributeError, TypeError, ValueError):  # a damaged record: the config's paths, as before it
            log.warning("the checkpoint's record of its training data is damaged: described from the config")
    return _described(cfg, _named_by_paths(cfg))


def _named_by_paths(cfg: TrainConfig) -> dict:
    """A ``trained_on`` record (no counts) for a checkpoint that has none: guessed from its
    config's data paths, as export did before runs recorded what they loaded."""
    known = ("bandai", "dataset-", "cmu")
    names = " ".join(cfg.data).lower()
    clips: dict[str, int | None] = {}
    if "bandai" in names or "dataset-" in names:
        clips["bandai-namco"] = None
    if "cmu" in names and "cmu" not in cfg.held_out_sources:
        clips["cmu"] = None
    clips |= {d: None for d in cfg.data if not any(k in d.lower() for k in known)}
    return {"clips": clips, "bandai_datasets": ["dataset-1", "dataset-2"],
            "recorded_2d": [Path(p).name for p in cfg.recorded_2d]}  # fmt: skip


def _start_model_license(init: str) -> str | None:
    """The licence a start model's ``.onnx`` states, for ``init`` its ``.adapt.npz`` (the
    ``.onnx`` beside it), else ``None``. A fine-tune of a shipped model on the user's own BVH
    said only "the licence of the data the weights it started from saw applies too": no CC BY-NC,
    no CMU credit (QA)."""
    try:
        path = resolve_data(init, "init checkpoint")
    except ConfigError:
        return None
    onnx = path.with_name(path.name.removesuffix(".adapt.npz") + ".onnx") if path.name.endswith(".adapt.npz") else None
    if onnx is None or not onnx.is_file():
        return None
    try:
        return metadata.read_onnx_metadata(onnx).license or None
    except Exception:  # noqa: BLE001 - a start model without readable metadata: the general sentence
        return None


def _described(cfg: TrainConfig, trained_on: dict) -> tuple[str, str]:
    parts, licences = [], []
    for source, count in trained_on.get("clips", {}).items():
        if source == "bandai-namco":
            datasets = " + ".join(d.removeprefix("dataset-") for d in trained_on.get("bandai_datasets", [])) or "?"
            size = f"{count} clips, " if count else ""
            parts.append(f"Bandai-Namco Research Motion Dataset {datasets} (BVH, 30 fps; {size}held-out clips "
                         "excluded)")  # fmt: skip
            licences.append(BANDAI_LICENSE)
        elif source == "cmu":
            size = f"{count} takes" if count else "cmu-mocap + cmu-dance"
            held = f"; CMU subjects {', '.join(cfg.held_out_subjects)} held out" if cfg.held_out_subjects else ""
            parts.append(f"CMU Graphics Lab Motion Capture Database subset ({size}, resampled to 30 fps){held}")
            licences.append(CMU_LICENSE)
        else:
            parts.append(source if count is None else f"{source} ({count} clips)")
    if trained_on.get("recorded_2d"):
        parts.append(f"recorded 2D: {', '.join(trained_on['recorded_2d'])}")
    if cfg.init is not None:  # the weights it started from: their data and licence carry over
        parts.append(f"started from the networks of {Path(cfg.init).name}")
        inherited = _start_model_license(cfg.init)
        licences.append(f"It started from {Path(cfg.init).name}, whose licence applies too: {inherited}" if inherited
                        else "The licence of the data the weights it started from saw applies too.")  # fmt: skip
    if cfg.teacher is not None:
        parts.append(f"distilled from {Path(cfg.teacher).name}")
        licences.append("The licence of the data its teacher saw applies too.")
    return "; ".join(parts) or "unknown", " ".join(licences) or "see the training data's licence"


def load_pose_model(checkpoint: str | Path | dict, fp16_round: bool = True) -> tuple[PoseModel, TrainConfig, int]:
    """The exportable model from a training checkpoint (a path, or its already read dict; eval
    mode, weights optionally fp16-rounded), its training config and the step it was saved at."""
    state = checkpoint if isinstance(checkpoint, dict) else read_checkpoint(checkpoint)
    cfg = config_from_dict(state["config"])
    # folded as exported, so the rounding hits the final weights
    model = fold_batchnorm(PoseModel(load_generator(state)).eval())
    if fp16_round:
        with torch.no_grad():
            for tensor in list(model.parameters()) + list(model.buffers()):
                if tensor.dtype == torch.float32:
                    tensor.copy_(tensor.half().float())
    return model, cfg, int(state["step"])


def model_kind(cfg: TrainConfig) -> str:
    """The metadata's model kind: the training mode; a distilled student names its teacher's."""
    if cfg.mode != "distill":
        return cfg.mode
    teacher = Path(cfg.teacher)
    if not teacher.is_file():
        return "distilled"
    return f"{read_checkpoint(teacher)['config']['mode']}-distilled"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("output", type=Path)
    ap.add_argument("--training-data", help="override the description derived from the checkpoint's config")
    ap.add_argument("--license", help="override the licence derived from the training data")
    ap.add_argument("--name", help="registry name of the model (metadata extra.model_name)")
    ap.add_argument("--int8", action="store_true", help="also write the INT8 copy beside it (<stem>.int8.onnx)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return run_reporting(lambda: run(args), "export")


def run(args: argparse.Namespace) -> int:
    if args.output.suffix.lower() != ".onnx":
        raise OutputPathError(f"the output must name an .onnx file (e.g. model.onnx), got {args.output}")
    if args.output.name.lower().endswith(".int8.onnx"):  # x.int8.int8.onnx beside it, and another model's names
        model = args.output.name[: -len(".int8.onnx")] + ".onnx"
        raise OutputPathError(f"the output {args.output} names an INT8 copy: name the model itself (e.g. {model}); "
                              "--int8 writes its copy beside it")  # fmt: skip
    int8 = args.output.parent / f"{args.output.stem}.int8.onnx"
    check_outputs({"the output": args.output, "its INT8 copy": int8 if args.int8 else None}, shipped_weights=True)
    state = read_checkpoint(args.checkpoint)
    model, cfg, step = load_pose_model(state)
    if not state.get("trained_on"):  # before 2026-12-05: the subjects as that run compared them ([9] held out none)
        cfg.held_out_subjects = [str(s) for s in state["config"].get("held_out_subjects", [])]
    data, licence = describe_data(cfg, state.get("trained_on"))
    extra = {"train_steps": str(step), "frame_rate": f"{TRAINING_FPS:g}"}
    if cfg.teacher:
        extra["teacher"] = Path(cfg.teacher).name  # its name: a path says whose machine it was
    if args.name:
        extra["model_name"] = args.name
    if "averaged_from" in state:  # tools/average_checkpoints.py: a soup of these runs
        extra["averaged_from"] = ", ".join(state["averaged_from"])
    meta = metadata.ModelMetadata(
        window_frames=cfg.model.window_frames,
        model_kind=model_kind(cfg),
        training_data=args.training_data or data,
        license=args.license or licence,
        git_commit=code_version()["git_commit"] or "",
        extra=extra,
    )
    export_onnx(model, args.output, meta, fp16_weights=True)
    # what `posecast adapt` starts from: the full generator (batch norm unfolded, all window rows)
    save_generator_npz(load_generator(state), adapt_weights_path(args.output),
                       cfg.scale_prior)  # fmt: skip
    if args.int8:
        quantize_int8(args.output, int8)
    # parity: ONNX Runtime against PyTorch on random plausible windows, in canonical units
    import onnxruntime as ort

    rng = np.random.default_rng(0)
    base = rng.normal(0, 0.05, (64, 1, skeleton.NUM_JOINTS, 2))
    windows = (base + rng.normal(0, 0.002, (64, cfg.model.window_frames, skeleton.NUM_JOINTS, 2))).astype(np.float32)
    session = ort.InferenceSession(str(args.output), providers=["CPUExecutionProvider"])
    onnx_joints, _ = session.run(None, {metadata.INPUT_NAME: windows})
    with torch.no_grad():
        torch_joints, _ = model(torch.from_numpy(windows))
    # in millimetres, for a 1.70 m subject (the pipeline's metric scaling of the torch output)
    to_m = metric_scale(torch_joints.numpy(), skeleton.bone_lengths_from_height(1.70))[:, None, None]
    diff_mm = float((np.abs(onnx_joints - torch_joints.numpy()) * to_m).max() * 1000)
    log.info("ONNX Runtime vs PyTorch: max |diff| %.4f mm", diff_mm)
    return 0


if __name__ == "__main__":
    sys.exit(main())

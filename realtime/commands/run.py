"""``posecast run | demo | lift`` and ``posecast calibrate subject``: thin handlers over the pipeline."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

from ..calibration import DEFAULT_HEIGHT_M, DEFAULT_HFOV_DEG, estimate_subject, save_subject
from ..calibration.io import check_writable
from ..engines import normalize, skeleton
from ..engines.assets import ensure_asset
from ..engines.errors import PosecastError
from .capture import open_source
from .errors import SourceError
from .keypoints2d import Keypoints2DOptions
from .lifter import Lifter3D, LifterOptions
from .metric3d import MetricLifting
from .pipeline import FrameResult, Pipeline, PipelineOptions
from .smoothing import BoneLengthSmootherOptions, OneEuroOptions
from .view import LiveView, LiveViewOptions, display_available

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction, calibrate: argparse._SubParsersAction | None) -> None:
    run = subparsers.add_parser("run", help="run the live pipeline on a camera, video file or image folder")
    run.add_argument("--source", default="0", help="camera index, video file or image folder (default: 0)")
    _pipeline_arguments(run)
    run.set_defaults(func=_run)

    demo = subparsers.add_parser("demo", help="the whole pipeline on a sample clip (downloaded once, cached)")
    demo.add_argument("--source", help="a clip to use instead of the sample")
    demo.add_argument("--output-video", type=Path, default=Path("posecast_demo.mp4"),
                      help="annotated video written when there is no display (default: posecast_demo.mp4)")  # fmt: skip
    _pipeline_arguments(demo, with_output=False)
    demo.set_defaults(func=_demo)

    lift = subparsers.add_parser("lift", help="lift a recorded 2D sequence (.npz) to metric 3D offline")
    lift.add_argument("--input", type=Path, required=True, help="npz: keypoints_2d (F,17,2) px, intrinsics (4,), ...")
    lift.add_argument("--output", type=Path, required=True, help="npz: joints_3d (F,17,3) m, joints_3d_rel (F,17,3) m")
    lift.add_argument("--height", type=float, default=None, help="subject height in metres (default 1.70, assumed)")
    _model_arguments(lift)
    lift.set_defaults(func=_lift)

    if calibrate is not None:
        subject = calibrate.add_parser("subject", help="measure the subject's bone lengths from a few seconds of video")
        subject.add_argument("--source", default="0", help="camera index, video file or image folder")
        subject.add_argument("--height", type=float, required=True, help="the subject's height in metres")
        subject.add_argument("--seconds", type=float, default=5.0, help="how long to observe (default 5 s)")
        subject.add_argument("-o", "--output", type=Path, default=Path("subject.yaml"))
        subject.add_argument("--intrinsics", type=Path, help="camera file from `posecast calibrate camera`")
        subject.add_argument("--hfov", type=float, default=DEFAULT_HFOV_DEG)
        subject.add_argument("--model-asset", type=Path, help="MediaPipe pose_landmarker .task file")
        _model_arguments(subject)
        subject.set_defaults(func=_calibrate_subject)


def _model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, help="lifting model .onnx (default: the shipped one)")
    parser.add_argument("--backend", default="auto", choices=["auto", "tensorrt", "torch-cuda", "onnxruntime"])
    parser.add_argument("--int8", action=argparse.BooleanOptionalAction, default=None,
                        help="onnxruntime: the INT8 dynamic-quantized model (default: if shipped with it)")  # fmt: skip


def _pipeline_arguments(parser: argparse.ArgumentParser, with_output: bool = True) -> None:
    parser.add_argument("--frames", type=int, help="stop after this many frames")
    parser.add_argument("--realtime", action="store_true", help="files: pace frames at their native fps")
    parser.add_argument("--headless", action="store_true", help="no live view window")
    parser.add_argument("--publish", default="tcp://127.0.0.1:5555",
                        help="ZeroMQ address to bind (or connect:ADDR); 'none' to not publish")  # fmt: skip
    parser.add_argument("--intrinsics", type=Path, help="camera file from `posecast calibrate camera`")
    parser.add_argument("--hfov", type=float, default=DEFAULT_HFOV_DEG, help="assumed horizontal FOV (deg)")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--height", type=float, help="subject height in metres (default 1.70, assumed)")
    size.add_argument("--subject", type=Path, help="subject file from `posecast calibrate subject`")
    parser.add_argument("--one-euro", action="store_true", help="also filter joints with a One Euro filter")
    parser.add_argument("--model-asset", type=Path, help="MediaPipe pose_landmarker .task file")
    parser.add_argument("--landmarker", default="full", choices=["lite", "full", "heavy"])
    parser.add_argument("--print", dest="print_mode", choices=["none", "text", "json"], default="none",
                        help="per-frame results on stdout")  # fmt: skip
    parser.add_argument("--stats-json", type=Path, help="write per-stage latency statistics here at the end")
    if with_output:
        parser.add_argument("--output-video", type=Path, help="also write the annotated view to this video")
    _model_arguments(parser)


def _options(args: argparse.Namespace, offline: bool) -> PipelineOptions:
    return PipelineOptions(
        keypoints=Keypoints2DOptions(model_variant=args.landmarker, model_path=args.model_asset,
                                     verbose=args.verbose, video_time=offline),
        lifter=LifterOptions(model_path=args.model, backend=args.backend, int8=args.int8),
        intrinsics_path=args.intrinsics,
        hfov_deg=args.hfov,
        height_m=args.height,
        subject_path=args.subject,
        one_euro=OneEuroOptions(min_cutoff_hz=1.5, beta=0.5) if args.one_euro else None,
        publish_address=None if args.publish.lower() == "none" else args.publish,
    )  # fmt: skip


def _run(args: argparse.Namespace) -> int:
    show = not args.headless and display_available()
    if not args.headless and not show:
        log.info("no display found: running without the live view (use --output-video to record it)")
    return _run_source(args, args.source, getattr(args, "output_video", None), show=show)


def _demo(args: argparse.Namespace) -> int:
    source = args.source or str(ensure_asset("demo_clip"))
    show = not args.headless and display_available()
    if args.print_mode == "none" and not show:
        args.print_mode = "text"
    return _run_source(args, source, None if show else args.output_video, show=show)


def _run_source(args: argparse.Namespace, source_spec: str, output_video: Path | None, show: bool) -> int:
    source = open_source(source_spec, realtime=args.realtime)
    is_file = not source_spec.isdigit()
    view = None
    if show or output_video is not None:
        view = LiveView(LiveViewOptions(show=show, output_path=output_video))
    results: list[FrameResult] = []
    started = time.perf_counter()
    with source, Pipeline(_options(args, offline=is_file and not args.realtime)) as pipeline:
        fps = 0.0
        for frame, result in pipeline.run(source, args.frames):
            results.append(result)
            fps = 0.9 * fps + 0.1 * (1e9 / max(result.stage_ns["keypoints2d"] + result.stage_ns["lift"], 1))
            if args.print_mode != "none":
                sys.stdout.write(_format_result(result, args.print_mode) + "\n")
            if view is not None:
                stats = {"fps": fps, "capture_to_publish_ms": result.capture_to_publish_ms,
                         "lift_ms": result.stage_ns["lift"] / 1e6}  # fmt: skip
                view.process(frame.image_bgr, result.keypoints.keypoints_px, result.keypoints.confidence,
                             result.joints_m, stats, state=result.tracking)  # fmt: skip
                if view.stop_requested:
                    break
        dropped = source.dropped_frames
        published = pipeline.publisher.address if pipeline.publisher else "not published"
    if view is not None:
        view.close()
    summary = latency_summary(results)
    elapsed = time.perf_counter() - started
    tracked = sum(r.tracking != "lost" for r in results)
    log.info(
        "%d frames in %.1f s, pose in %d (%.0f %%), %d dropped at capture, %s; capture→publish p50 %.1f ms p99 %.1f ms",
        len(results), elapsed, tracked, 100 * tracked / max(len(results), 1), dropped, published,
        summary["capture_to_publish_ms"]["p50"], summary["capture_to_publish_ms"]["p99"],
    )  # fmt: skip
    if output_video is not None and view is not None:
        log.info("annotated video: %s", output_video)
    if args.stats_json:
        args.stats_json.write_text(json.dumps(summary, indent=2))
    return 0


def latency_summary(results: list[FrameResult]) -> dict[str, dict[str, float]]:
    """p50/p99/mean per stage, capture→publish, and everything after MediaPipe (ms)."""
    tracked = [r for r in results if r.joints_m is not None]
    series: dict[str, list[float]] = {}
    for r in tracked:
        for stage, ns in r.stage_ns.items():
            series.setdefault(stage, []).append(ns / 1e6)
        after = sum(ns for stage, ns in r.stage_ns.items() if stage != "keypoints2d")
        series.setdefault("after_mediapipe", []).append(after / 1e6)
        series.setdefault("capture_to_publish_ms", []).append(r.capture_to_publish_ms)
    out = {}
    for key, values in series.items():
        v = np.asarray(values)
        out[key] = {"p50": float(np.percentile(v, 50)), "p99": float(np.percentile(v, 99)),
                    "mean": float(v.mean()), "n": len(v)}  # fmt: skip
    out.setdefault("capture_to_publish_ms", {"p50": float("nan"), "p99": float("nan"), "mean": float("nan"), "n": 0})
    return out


def _format_result(r: FrameResult, mode: str) -> str:
    if mode == "json":
        return json.dumps({
            "frame_id": r.frame_id, "tracking": r.tracking,
            "joints_m": None if r.joints_m is None else np.round(r.joints_m, 4).tolist(),
            "latency_ms": {k: round(v / 1e6, 3) for k, v in r.stage_ns.items()},
        })  # fmt: skip
    if r.joints_m is None:
        return f"frame {r.frame_id:5d}  {r.tracking:8s}"
    root, head = r.root_m, r.joints_m[skeleton.HEAD]
    return (f"frame {r.frame_id:5d}  {r.tracking:8s}  root [{root[0]:+.2f} {root[1]:+.2f} {root[2]:+.2f}] m  "
            f"head [{head[0]:+.2f} {head[1]:+.2f} {head[2]:+.2f}] m  "
            f"capture→publish {r.capture_to_publish_ms:.1f} ms")  # fmt: skip


def _lift(args: argparse.Namespace) -> int:
    """Offline lifting of a recorded 2D sequence (format in the README, "Offline lifting")."""
    keypoints, confidence, intrinsics, fps = _read_lift_input(args.input)
    folder = args.output.resolve().parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise SourceError(f"cannot write {args.output}: folder {folder} does not exist or is not writable")
    height = args.height or DEFAULT_HEIGHT_M
    lifter = Lifter3D(LifterOptions(model_path=args.model, backend=args.backend, int8=args.int8))
    metric = MetricLifting(lifter, BoneLengthSmootherOptions.from_height(height), max_gap_s=None)
    keypoints_norm = normalize.normalize_pixels(keypoints, intrinsics)
    frames = len(keypoints)
    joints = np.full((frames, skeleton.NUM_JOINTS, 3), np.nan)
    joints_rel = np.full_like(joints, np.nan)
    valid = np.isfinite(keypoints).all(axis=(1, 2)) & (confidence.max(axis=1) > 0)
    for f in range(frames):
        pose = metric.process(keypoints_norm[f], confidence[f], int(f * 1e9 / fps)) if valid[f] else None
        if pose is None:  # a frame with no person: like a lost track live
            metric.reset()
            continue
        joints[f], joints_rel[f] = pose.joints_m, pose.joints_rel_m
    metric.close()
    np.savez(args.output, joints_3d=joints.astype(np.float32), joints_3d_rel=joints_rel.astype(np.float32),
             joint_names=np.array(skeleton.JOINT_NAMES), fps=fps, height_m=height)  # fmt: skip
    log.info("lifted %d frames (%d without a person) → %s", frames, int((~valid).sum()), args.output)
    return 0


def _read_lift_input(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    if not path.is_file():
        raise SourceError(f"lift input {path} not found: expected an .npz with keypoints_2d and intrinsics")
    try:
        data = np.load(path)
        keys = set(data.files)
    except (OSError, ValueError) as exc:
        raise SourceError(f"cannot read {path} as .npz ({exc}); save it with numpy.savez") from exc
    missing = {"keypoints_2d", "intrinsics"} - keys
    if missing:
        raise SourceError(f"{path} lacks arrays {sorted(missing)}: expected keypoints_2d (F,17,2) pixels and "
                          "intrinsics (fx, fy, cx, cy)")  # fmt: skip
    keypoints = np.asarray(data["keypoints_2d"], dtype=np.float64)
    if keypoints.ndim != 3 or keypoints.shape[1:] != (skeleton.NUM_JOINTS, 2):
        raise SourceError(f"{path}: keypoints_2d must be (F, 17, 2) pixels in posecast joint order, got "
                          f"{keypoints.shape}")  # fmt: skip
    intrinsics = np.asarray(data["intrinsics"], dtype=np.float64).reshape(-1)
    if intrinsics.shape != (4,) or not np.all(intrinsics[:2] > 0):
        raise SourceError(f"{path}: intrinsics must be 4 numbers fx, fy, cx, cy with fx, fy > 0, got {intrinsics}")
    confidence = (
        np.asarray(data["confidence"], dtype=np.float64) if "confidence" in keys else np.ones(keypoints.shape[:2])
    )
    if confidence.shape != keypoints.shape[:2]:
        raise SourceError(f"{path}: confidence must be (F, 17) like keypoints_2d, got {confidence.shape}")
    fps = float(data["fps"]) if "fps" in keys else 30.0
    return keypoints, confidence, intrinsics, fps


def _calibrate_subject(args: argparse.Namespace) -> int:
    check_writable(args.output)
    source = open_source(args.source)
    options = PipelineOptions(
        keypoints=Keypoints2DOptions(
            model_path=args.model_asset, verbose=args.verbose, video_time=not args.source.isdigit()
        ),
        lifter=LifterOptions(model_path=args.model, backend=args.backend, int8=args.int8),
        intrinsics_path=args.intrinsics, hfov_deg=args.hfov, height_m=args.height, publish_address=None,
    )  # fmt: skip
    poses, confidences = [], []
    with source, Pipeline(options) as pipeline:
        fps = source.source_fps or 30.0
        for _, result in pipeline.run(source, max_frames=int(args.seconds * fps)):
            if result.joints_lifted is not None:
                poses.append(result.joints_lifted)
                confidences.append(result.keypoints.confidence)
    if len(poses) < 10:
        raise PosecastError(f"saw a person in only {len(poses)} frames of {args.source}: stand fully in view "
                            "and move naturally for a few seconds, or pass --seconds with a longer time")  # fmt: skip
    profile = estimate_subject(np.array(poses), args.height, np.array(confidences), source=str(args.source))
    save_subject(profile, args.output)
    log.info("subject: %d frames used → %s", profile.frames_used, args.output)
    return 0

"""Evaluation on held-out clips: MPJPE, N-MPJPE, P-MPJPE per action, jitter, bone-length CV.

Each held-out clip is filmed by one fixed virtual webcam (seeded by the clip name, so every
model sees the same views; the training cameras' ranges, close and wide-angle webcams
included) and lifted frame by frame with causal windows, edge-padded at the start exactly like
the live pipeline; or, with ``camera_fps``, as a slower camera films it: the camera's frames
only, each window blended from them by the live window's rule (:func:`camera_windows`).
"Noisy" adds the training noise model with a fixed seed. Metric MPJPE scales each predicted
pose to metres from the subject's height the way the pipeline is told it (``--height``): the
true height gives reference bone lengths via :func:`skeleton.bone_lengths_from_height`, and
:func:`camera.metric_scale` fits the pose to them. Errors are in millimetres, on the 17 joints;
the ``*_15`` figures leave out spine and neck, as checks with 15-joint skeletons do (pelvis and
thorax are midpoints of other joints too, but 15-joint skeletons have a pelvis and a neck
base). ``upper_n_mpjpe_mm`` scores the upper body alone, about the thorax and at its best scale
(a turn of the whole upper body counts): what a webcam at a desk shows, and with ``framing`` (the
legs cut off and guessed) what is left to score.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import camera, metrics, normalize, skeleton
from .data.augment import interpolate_frames, slow_camera_windows
from .data.cameras import CameraOptions, film, sample_cameras
from .data.dataset import TRAINING_FPS, Clip
from .data.framing import FramingOptions, cut_at_bottom
from .data.noise import add_detector_noise

#: windows (N, T, 17, 2) → current-frame root-relative 3D (N, 17, 3), any unit
Predictor = Callable[[np.ndarray], np.ndarray]
#: The 15-joint variant: every joint but the two midpoint-only ones (spine, neck).
JOINTS_15 = np.array([j for j, n in enumerate(skeleton.JOINT_NAMES) if n not in ("spine", "neck")])
#: A true knee bend under this is a straight leg (``straight_knee_bend_deg``: what the model gives those).
STRAIGHT_KNEE_DEG = 10.0


@dataclass
class EvalClip:
    name: str
    action: str
    keypoints_norm: np.ndarray  # (F, 17, 2)
    joints_cam_m: np.ndarray  # (F, 17, 3)
    height_m: float
    confidence: np.ndarray | None = None  # (F, 17) in [0, 1], as the 2D detector would give it; None: all seen


def build_eval_clips(
    clips: list[Clip], noisy: bool, seed: int = 2021, cameras: CameraOptions | None = None,
    framing: FramingOptions | None = None,
) -> list[EvalClip]:  # fmt: skip
    """One fixed camera (and, if ``noisy``, fixed 2D noise) per held-out clip; ``framing``: the
    legs cut off at the image's bottom and guessed as MediaPipe guesses them (its ``prob`` of
    the clips, the edge drawn per clip), after the noise."""
    out = []
    for clip in clips:
        clip_seed = int.from_bytes(hashlib.sha1(clip.name.encode()).digest()[:4], "little") ^ seed
        rng = np.random.default_rng(clip_seed)
        world = clip.joints_m.astype(np.float64)[None]  # (1, F, 17, 3)
        cams = sample_cameras(world[:, :, skeleton.ROOT].mean(1), rng, cameras)
        joints_cam = film(cams, world)  # as in training: a close camera steps back
        pixels = cams.project_px(joints_cam)
        confidence = np.ones(pixels.shape[:-1])
        if noisy:
            pixels, confidence = add_detector_noise(pixels, np.random.default_rng(clip_seed + 1),
                                                    image_size=cams.image_size)  # fmt: skip
        if framing is not None:
            pixels, _, _ = cut_at_bottom(pixels, confidence, np.random.default_rng(clip_seed + 2), framing)
        keypoints = normalize.normalize_pixels(pixels, cams.intrinsics[:, None, :])[0]
        true_lengths = np.median(skeleton.bone_lengths(clip.joints_m), axis=0)
        out.append(
            EvalClip(clip.name, clip.action, keypoints.astype(np.float32), joints_cam[0],
                     skeleton.height_from_bone_lengths(true_lengths), confidence[0].astype(np.float32))
        )  # fmt: skip
    return out


def causal_windows(sequence: np.ndarray, window_frames: int) -> np.ndarray:
    """All causal windows ``(F, T, ...)`` of a sequence ``(F, ...)``, edge-padded at the start."""
    index = np.arange(len(sequence))[:, None] + np.arange(-window_frames + 1, 1)[None, :]
    return sequence[np.maximum(index, 0)]


def camera_windows(
    clip: EvalClip, window_frames: int, camera_fps: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The windows ``(N, T, 17, 2)`` the live window makes of ``clip`` and the true camera-frame
    poses of their newest frames ``(N, 17, 3)``. ``camera_fps`` ``None``: every frame of the clip
    (at :data:`TRAINING_FPS`, the model's rate), :func:`causal_windows`. Otherwise a camera at
    ``camera_fps`` films the clip from its first frame: its frames are the clip at their times
    (interpolated between the clip's frames), and each window's slots are blended from the camera
    frames by the live window's rule (:func:`~.data.augment.slow_camera_windows`), the newest slot
    a camera frame exactly; older slots than the first camera frame repeat it."""
    if camera_fps is None:
        return causal_windows(clip.keypoints_norm, window_frames), clip.joints_cam_m
    if not camera_fps > 0:
        raise ValueError(f"camera_fps must be positive, got {camera_fps}")
    times = np.arange(0.0, len(clip.keypoints_norm) - 1 + 1e-9, TRAINING_FPS / camera_fps)  # clip frames
    positions = np.maximum(times[:, None] + np.arange(-window_frames + 1, 1)[None, :], 0.0)
    windows = slow_camera_windows(clip.keypoints_norm.astype(np.float64), positions, np.full(len(times), camera_fps),
                                  TRAINING_FPS)  # fmt: skip
    return windows.astype(np.float32), interpolate_frames(clip.joints_cam_m, times[None])[0]


def evaluate(predict: Predictor | None, clips: list[EvalClip], window_frames: int, batch: int = 2048,
             camera_fps: float | None = None,
             lift_clip: Callable[[EvalClip], np.ndarray] | None = None) -> dict:  # fmt: skip
    """Metrics over all frames of ``clips`` (or those a camera at ``camera_fps`` gives:
    :func:`camera_windows`); returns totals and a per-action breakdown. Besides the joint errors
    (mm): ``knee_bend_error_deg``, the mean error of each knee's bend, and
    ``straight_knee_bend_deg``, the mean bend given to knees that are straight
    (< :data:`STRAIGHT_KNEE_DEG`; NaN when the set has none). ``accel_error_mm`` is per frame² of
    the frames scored (a camera's, with ``camera_fps``).

    ``lift_clip`` instead of ``predict``: a whole clip → its root-relative 3D ``(F, 17, 3)`` in
    metres, NaN where it gave no pose (the live lifting stage, ``tools/evaluate.py``'s
    ``:published``); its metres are scored as they are, the frames without a pose left out and
    counted (``frames_without_pose``)."""
    per_action: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    totals: dict[str, list[float]] = defaultdict(list)
    if (predict is None) == (lift_clip is None) or (lift_clip is not None and camera_fps is not None):
        raise ValueError("evaluate takes predict or lift_clip (the latter at the clip's own rate)")
    without_pose = 0
    totals["accel_error_mm"] = []  # NaN when no clip is scored whole (a clip with frames left out is not)
    for clip in clips:
        if lift_clip is not None:
            pred_m, gt = lift_clip(clip).astype(np.float64), skeleton.root_relative(clip.joints_cam_m)
            posed = np.isfinite(pred_m).all(axis=(1, 2))
            without_pose += int((~posed).sum())
            pred_m, gt = pred_m[posed], gt[posed]
            if not len(pred_m):
                continue
        else:
            windows, joints_cam_m = camera_windows(clip, window_frames, camera_fps)
            pred = np.concatenate([predict(windows[i : i + batch]) for i in range(0, len(windows), batch)])
            pred = pred.astype(np.float64)
            gt = skeleton.root_relative(joints_cam_m)
            reference = skeleton.bone_lengths_from_height(clip.height_m)
            pred_m = skeleton.root_relative(pred) * camera.metric_scale(pred, reference)[:, None, None]
        sub_pred, sub_gt = pred_m[:, JOINTS_15], gt[:, JOINTS_15]
        upper_pred, upper_gt = skeleton.upper_body_about_thorax(pred_m), skeleton.upper_body_about_thorax(gt)
        frame_errors = {
            "mpjpe_mm": metrics.mpjpe(pred_m, gt) * 1000,
            "n_mpjpe_mm": metrics.n_mpjpe(pred_m, gt) * 1000,
            "p_mpjpe_mm": metrics.p_mpjpe(pred_m, gt) * 1000,
            "mpjpe_15_mm": metrics.mpjpe(sub_pred, sub_gt) * 1000,  # root (pelvis) is joint 0 of both
            "n_mpjpe_15_mm": metrics.n_mpjpe(sub_pred, sub_gt) * 1000,
            "p_mpjpe_15_mm": metrics.p_mpjpe(sub_pred, sub_gt) * 1000,
            # the upper body about the thorax, best scale only: a turn of the whole upper body counts
            "upper_n_mpjpe_mm": metrics.n_mpjpe(upper_pred, upper_gt) * 1000,
        }
        for key, values in frame_errors.items():
            totals[key].extend(values.tolist())
            per_action[clip.action][key].extend(values.tolist())
        # the knees' bend, which a leg's 2D barely shows: its error, and the bend given to legs that are straight
        pred_bend, true_bend = metrics.knee_bend_deg(pred_m), metrics.knee_bend_deg(gt)
        totals["knee_bend_error_deg"].extend(np.abs(pred_bend - true_bend).ravel().tolist())
        totals["straight_knee_bend_deg"].extend(pred_bend[true_bend < STRAIGHT_KNEE_DEG].tolist())
        if len(pred_m) == len(clip.joints_cam_m) or camera_fps is not None:  # no frame left out: a whole motion
            totals["accel_error_mm"].append(metrics.acceleration_error(pred_m, gt) * 1000)
        totals["bone_cv"].append(metrics.bone_length_cv(pred_m))
    result = {key: float(np.nanmean(values)) if values else float("nan") for key, values in totals.items()}
    result["frames"] = len(totals["mpjpe_mm"])
    result["straight_knees"] = len(totals["straight_knee_bend_deg"])
    result["clips"] = len(clips)
    if lift_clip is not None:
        result["frames_without_pose"] = without_pose
    result["per_action"] = {
        action: {k: float(np.mean(v)) for k, v in values.items()} | {"frames": len(values["mpjpe_mm"])}
        for action, values in sorted(per_action.items())
    }
    return result


def markdown_table(rows: list[tuple[str, dict]]) -> str:
    """Rows of (label, result) → a Markdown table of the headline metrics."""
    header = ("| model | MPJPE mm | N-MPJPE mm | P-MPJPE mm | accel. err. mm/f² | bone CV |\n"
              "|---|---|---|---|---|---|\n")  # fmt: skip
    lines = [
        f"| {label} | {r['mpjpe_mm']:.1f} | {r['n_mpjpe_mm']:.1f} | {r['p_mpjpe_mm']:.1f} | "
        f"{r['accel_error_mm']:.2f} | {r['bone_cv']:.3f} |"
        for label, r in rows
    ]
    return header + "\n".join(lines) + "\n"


def per_action_table(label: str, result: dict) -> str:
    lines = [f"| {label}: action | frames | MPJPE mm | N-MPJPE mm | P-MPJPE mm |", "|---|---|---|---|---|"]
    for action, r in result["per_action"].items():
        lines.append(
            f"| {action} | {r['frames']} | {r['mpjpe_mm']:.1f} | {r['n_mpjpe_mm']:.1f} | {r['p_mpjpe_mm']:.1f} |"
        )
    return "\n".join(lines) + "\n"

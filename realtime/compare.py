"""posecast's 3D next to MediaPipe's world landmarks on a real clip: plausibility figures for both.

:func:`collect` runs a clip through the real pipeline (MediaPipe, the lifting stage) and keeps,
per frame, posecast's published pose and MediaPipe's own metric 3D (its world landmarks,
:attr:`Detections2D.world_m`, mapped to the 17 joints with the same layout as the 2D), both
root-relative in metres. :func:`clip_figures` gives the same figures for both; no ground truth
is needed, so they say how *plausible* each is, not how accurate:

- ``bone_length_cv``: per bone, the standard deviation of its length over the clip divided by
  its mean, averaged over the 16 bones (a person's bones do not change);
- ``jitter_m_s2``: mean joint acceleration ``|x(t+1) − 2x(t) + x(t−1)| · fps²``, root-relative,
  over frames whose neighbours are posed too;
- ``torso_tilt_deg``: angle between the torso (pelvis → thorax) and the image's up direction
  (the camera's −y): uprightness for a level camera (a camera pitched by θ tilts an upright
  person by θ);
- ``torso_lean_deg`` (uprightness in the body's own terms, whatever the camera): angle between
  the torso and the line from the ankle to the hip of the standing leg(s) (below);
- ``shoulder_depth_gap_cm``: ``|z_l − z_r|`` of the shoulders along the camera's optical axis,
  and ``shoulder_turn_deg``, the shoulder line's angle out of the image plane (the same without
  the skeleton's shoulder width);
- ``standing_knee_bend_deg``: the knee bend (0° = straight) of a standing leg, one whose 2D is
  straight (hip-knee-ankle within :data:`STRAIGHT_2D_DEG` of a line) and not foreshortened (2D
  length at least :data:`FULL_LENGTH` of that leg's longest in the clip), and confidently seen;
  ``over_30_deg_pct`` of them bent more than 30°;
- ``knee_backward_over_10_deg_pct``: frames in which a knee bends backwards (behind the
  hip–ankle line, against the body's facing direction) by more than 10°, which knees do not;
- ``torso_turn_speed_deg_s``: how fast the shoulder line turns about the vertical (a person
  does not spin in a frame);
- ``p_mpjpe_mm``: per frame, the mean joint distance between posecast's pose and MediaPipe's
  after the best rotation, scale and translation (Procrustes); also for the *flat* pose (the 2D
  on the viewing rays at one depth), the baseline a lifter must beat.

Every figure is computed the same way for both skeletons, on the frames where both have a pose.
MediaPipe's world landmarks are in the person's own view (as if the camera looked straight at
them: the same picture anywhere in the image gives the same landmarks); they are turned into the
camera's axes with the rotation that turns posecast's lifted joints (:func:`posecast.engines.
normalize.to_camera_axes`, the pelvis's ray). Until 2026-12-06 they were taken as they are, which
turned MediaPipe's skeleton by the pelvis's angle off the axis (5.9° on the squats clip).
``posecast_minus_mediapipe`` gives, for each median figure, posecast's median minus MediaPipe's
with a 90 % interval (:func:`median_difference`: a paired block bootstrap over the clip's
frames, 1 s blocks). A clip of a few seconds measures a median only roughly; an interval that
contains 0 says the clip cannot tell the two apart on that figure.

With the legs out of view (a webcam at a desk), :class:`CroppedSource` cuts each frame at the
person's hips (:func:`hips_row_px`) and :func:`upper_body_change` says how far each skeleton's
upper body moves from where it put it with the whole body in view: the person is the same, so
a steady 3D moves little. The cut frames keep the whole frame's intrinsics (the camera did not
change; its optical centre now lies near the bottom edge): with intrinsics assumed afresh for the
smaller image, every viewing ray would turn by up to ``atan(rows cut / 2 / f)``, and posecast's
3D with them (about 10° more on the shared clips), which MediaPipe's world landmarks do not
depend on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from ..engines import joint_limits, metrics, normalize, skeleton
from .assemble import PipelineOptions, build_pipeline
from .lifting import LiftingOptions
from .sources import open_source
from .stages import FrameSource
from .types import Frame

J = skeleton.JOINT_INDEX
LEGS = metrics.LEGS  # (hip, knee, ankle) of the left and the right leg
STRAIGHT_2D_DEG = 10.0
FULL_LENGTH = 0.9
MIN_CONFIDENCE = 0.5


@dataclass
class ClipPoses:
    """One clip's poses, frame by frame (NaN where there is none): ``posecast_m`` and
    ``mediapipe_m`` ``(F, 17, 3)`` root-relative metres, camera axes (x right, y down, z
    forward); ``flat`` ``(F, 17, 3)`` the 2D on the viewing rays at depth 1 (root-relative);
    ``keypoints_px`` ``(F, 17, 2)``, ``confidence`` ``(F, 17)``; ``images`` the frames kept for
    pictures (``{frame index: BGR image}``); ``intrinsics_k`` the ``(fx, fy, cx, cy)`` used."""

    name: str
    fps: float
    posecast_m: np.ndarray
    mediapipe_m: np.ndarray
    flat: np.ndarray
    keypoints_px: np.ndarray
    confidence: np.ndarray
    images: dict[int, np.ndarray]
    intrinsics_k: np.ndarray


class CroppedSource(FrameSource):
    """Another source's frames with everything from row ``bottom_px`` down cut off: the same
    scene framed like a webcam that does not see the legs."""

    name = "cropped"

    def __init__(self, inner: FrameSource, bottom_px: int) -> None:
        if bottom_px < 1:
            raise ValueError(f"bottom_px must be at least 1, got {bottom_px}")
        self.inner, self.bottom_px = inner, int(bottom_px)

    def open(self) -> None:
        self.inner.open()
        self.source_fps = self.inner.source_fps

    def read(self) -> Frame | None:
        frame = self.inner.read()
        if frame is None:
            return None
        return replace(frame, image_bgr=np.ascontiguousarray(frame.image_bgr[: self.bottom_px]))

    def close(self) -> None:
        self.inner.close()


def collect(clip: Path, model: str | Path | None = None, max_frames: int | None = None, keep_images: int = 4,
            image_height: int = 240, lifting: LiftingOptions | None = None,
            crop_bottom_px: int | None = None) -> ClipPoses:  # fmt: skip
    """Run ``clip`` through MediaPipe and the lifting stage (``model``: a shipped model's name or
    a file; ``None``: the default; ``lifting``: the stage's other options, default ones when
    ``None``) and keep both 3D poses of the first person per frame, and ``keep_images`` frames
    spread over the clip (scaled to ``image_height``) for pictures. ``crop_bottom_px``: the
    frames cut off from that row down (:class:`CroppedSource`)."""
    lifting = lifting or LiftingOptions()
    if model is not None:
        lifting = replace(lifting, lifter=replace(lifting.lifter, model_path=model))
    options = PipelineOptions(lifting=lifting, avatar=None)  # the figures take the published joints_m
    nan3, nan2 = np.full((skeleton.NUM_JOINTS, 3), np.nan), np.full((skeleton.NUM_JOINTS, 2), np.nan)
    rows: list[tuple] = []
    thumbnails: list[np.ndarray] = []
    source = open_source(str(clip))
    if crop_bottom_px is not None:
        source = CroppedSource(source, crop_bottom_px)
    with build_pipeline(options) as pipeline, source:
        for result in pipeline.run(source, max_frames):
            d, people = result.detections, result.tracked
            seen = d is not None and d.world_m is not None and d.count > 0
            k = pipeline.lifting.intrinsics_k
            mediapipe = nan3
            if seen:  # its world landmarks are in the person's own view: into the camera's axes as posecast's are,
                # by its own pelvis's ray (the squatting woman stands 5.9 deg off the axis)
                pelvis_px = d.layout.to_posecast(d.keypoints_px[0].astype(np.float64))[skeleton.ROOT]
                mediapipe = normalize.to_camera_axes(d.layout.to_posecast(d.world_m[0].astype(np.float64)),
                                                     normalize.normalize_pixels(pelvis_px[None], k)[0])  # fmt: skip
            if people:
                p = people[0]
                rays = np.concatenate([normalize.normalize_pixels(p.keypoints_px.astype(np.float64), k),
                                       np.ones((skeleton.NUM_JOINTS, 1))], axis=1)  # fmt: skip
                rows.append((p.joints_rel_m, mediapipe, rays - rays[0], p.keypoints_px, p.confidence))
            else:
                rows.append((nan3, mediapipe, nan3, nan2, np.zeros(skeleton.NUM_JOINTS)))
            thumbnails.append(_thumbnail(result.image_bgr, rows[-1][3], image_height))
        fps = pipeline.meta().source_fps or 30.0
        intrinsics_k = pipeline.lifting.intrinsics_k
    if not rows:
        raise ValueError(f"{clip}: no frames")
    posecast, mediapipe, flat, keypoints, confidence = (np.asarray(c, np.float64) for c in zip(*rows, strict=True))
    mediapipe -= mediapipe[:, :1]  # MediaPipe's origin is mid-hips, the pelvis (to float error)
    posed = np.flatnonzero(both_posed(posecast, mediapipe))
    count = min(keep_images, len(posed))
    picks = posed[np.round(np.linspace(0, len(posed) - 1, count)).astype(int)] if count else []
    return ClipPoses(clip.name, float(fps), posecast, mediapipe, flat, keypoints, confidence,
                     {int(i): thumbnails[i] for i in picks}, intrinsics_k)  # fmt: skip


def _thumbnail(image: np.ndarray, keypoints_px: np.ndarray, height: int) -> np.ndarray:
    """The person's part of ``image`` (their 2D box, a quarter larger each way, else all of it),
    scaled to ``height`` pixels."""
    h, w = image.shape[:2]
    if np.isfinite(keypoints_px).all():
        (x0, y0), (x1, y1) = keypoints_px.min(0), keypoints_px.max(0)
        cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0) * 0.75
        left, top = int(np.clip(cx - half, 0, w)), int(np.clip(cy - half, 0, h))
        right, bottom = int(np.clip(cx + half, 0, w)), int(np.clip(cy + half, 0, h))
        if right - left > 8 and bottom - top > 8:
            image = image[top:bottom, left:right]
    scale = height / image.shape[0]
    return cv2.resize(image, (max(1, round(image.shape[1] * scale)), height), interpolation=cv2.INTER_AREA)


def both_posed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(F,)`` frames in which both ``(F, 17, 3)`` sequences have a whole pose."""
    return np.isfinite(a).all(axis=(1, 2)) & np.isfinite(b).all(axis=(1, 2))


# -- figures (pure numpy; every array (F, 17, 3) root-relative, camera axes, NaN = no pose) ------


def jitter_m_s2(joints: np.ndarray, fps: float) -> float:
    """Mean joint acceleration (m/s²) over frames whose neighbours are posed too."""
    accel = metrics.acceleration(joints)
    valid = np.isfinite(accel).all(axis=(1, 2))
    return float(np.linalg.norm(accel[valid], axis=-1).mean() * fps**2) if valid.any() else float("nan")


def torso_tilt_deg(joints: np.ndarray) -> np.ndarray:
    """``(F,)`` angle between pelvis → thorax and the image's up (−y)."""
    return metrics.angle_deg(joints[:, J["thorax"]] - joints[:, J["pelvis"]], np.array([0.0, -1.0, 0.0]))


def shoulder_turn_deg(joints: np.ndarray) -> np.ndarray:
    """``(F,)`` angle of the shoulder line out of the image plane: the depth gap without the
    skeleton's size (two skeletons with different shoulder widths can agree on it)."""
    line = skeleton.girdle_line(joints)
    return np.degrees(np.arctan2(np.abs(line[:, 2]), np.hypot(line[:, 0], line[:, 1])))


def torso_lean_deg(joints: np.ndarray, standing: np.ndarray) -> np.ndarray:
    """``(F,)`` angle between the torso (pelvis → thorax) and the standing legs' line (ankle →
    hip; both legs: their mean), NaN without a standing leg: uprightness in the body's own terms,
    whatever the camera's pitch."""
    lines = np.stack([joints[:, h] - joints[:, a] for h, _, a in LEGS], axis=1)  # (F, 2, 3)
    lines /= np.maximum(np.linalg.norm(lines, axis=-1, keepdims=True), 1e-12)
    count = standing.sum(axis=1)
    leg = (lines * standing[..., None]).sum(axis=1) / np.maximum(count, 1)[:, None]
    return np.where(count > 0, metrics.angle_deg(joints[:, J["thorax"]] - joints[:, J["pelvis"]], leg), np.nan)


def shoulder_depth_gap_m(joints: np.ndarray) -> np.ndarray:
    """``(F,)`` ``|z_l − z_r|`` of the shoulders, along the camera's optical axis."""
    return np.abs(joints[:, J["l_shoulder"], 2] - joints[:, J["r_shoulder"], 2])


knee_bend_deg = metrics.knee_bend_deg


knee_backward_deg = joint_limits.knee_backward_deg


def standing_legs(keypoints_px: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """``(F, 2)`` legs straight in 3D by the 2D alone: straight in the image, as long as that leg
    gets in the clip (not foreshortened), confidently seen (module docstring)."""
    straight = knee_bend_deg(keypoints_px) < STRAIGHT_2D_DEG
    length = np.stack(
        [
            np.linalg.norm(keypoints_px[:, k] - keypoints_px[:, h], axis=-1)
            + np.linalg.norm(keypoints_px[:, a] - keypoints_px[:, k], axis=-1)
            for h, k, a in LEGS
        ],
        -1,
    )
    full = length >= FULL_LENGTH * np.nanmax(np.where(np.isfinite(length), length, np.nan), axis=0)
    seen = np.stack([confidence[:, list(leg)].min(axis=-1) >= MIN_CONFIDENCE for leg in LEGS], axis=-1)
    return straight & full & seen


def torso_turn_speed_deg_s(joints: np.ndarray, fps: float) -> np.ndarray:
    """Turn speed (°/s) of the shoulder line about the image's vertical, between posed frames."""
    speed = turn_speed_per_frame(joints, fps)
    return speed[np.isfinite(speed)]


def turn_speed_per_frame(joints: np.ndarray, fps: float) -> np.ndarray:
    """``(F,)`` turn speed (°/s) of the shoulder line about the image's vertical since the frame
    before; NaN on the first frame and on a frame after an unposed one."""
    line = skeleton.girdle_line(joints)
    yaw = np.arctan2(line[:, 2], line[:, 0])
    # each step the shorter way round; np.unwrap would carry a gap's NaN on to every later frame
    step = (np.diff(yaw) + np.pi) % (2 * np.pi) - np.pi
    return np.concatenate([[np.nan], np.abs(np.degrees(step)) * fps])


def p_mpjpe_m(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``(F,)`` mean joint distance (target units) after the best rotation, scale and translation
    (:func:`posecast.engines.metrics.p_mpjpe`, the evaluation's), NaN where either has no pose."""
    out = np.full(len(pred), np.nan)
    posed = both_posed(pred, target)
    if posed.any():
        out[posed] = metrics.p_mpjpe(pred[posed], target[posed])
    return out


def _summary(values: np.ndarray, scale: float = 1.0) -> dict[str, float | int]:
    """Median, p90 and ``frames``: how many values were measured, one a frame but for the standing
    knee, one a standing leg (two in a frame where both stand: QA read it as frames, 125 of 120)."""
    values = values[np.isfinite(values)] * scale
    if not len(values):
        return {"median": None, "p90": None, "frames": 0}
    return {"median": round(float(np.median(values)), 2), "p90": round(float(np.percentile(values, 90)), 2),
            "frames": int(len(values))}  # fmt: skip


def frame_values(joints: np.ndarray, fps: float, standing: np.ndarray) -> dict[str, np.ndarray]:
    """The per-frame values behind each median figure of :func:`skeleton_figures`: ``(F,)``, or
    ``(F, 2)`` per leg for the standing knee; NaN where the frame does not measure it."""
    return {
        "torso_tilt_deg": torso_tilt_deg(joints),
        "torso_lean_deg": torso_lean_deg(joints, standing),
        "shoulder_depth_gap_cm": 100.0 * shoulder_depth_gap_m(joints),
        "shoulder_turn_deg": shoulder_turn_deg(joints),
        "standing_knee_bend_deg": np.where(standing, knee_bend_deg(joints), np.nan),
        "torso_turn_speed_deg_s": turn_speed_per_frame(joints, fps),
    }


def skeleton_figures(joints: np.ndarray, fps: float, standing: np.ndarray) -> dict:
    """The plausibility figures of one skeleton (module docstring); ``standing`` ``(F, 2)``."""
    figures = {name: _summary(values) for name, values in frame_values(joints, fps, standing).items()}
    bend = knee_bend_deg(joints)[standing]
    over_30 = round(float(100 * (bend > 30).mean()), 1) if len(bend) else None
    figures["standing_knee_bend_deg"]["over_30_deg_pct"] = over_30
    posed = np.isfinite(joints).all(axis=(1, 2))
    backward = knee_backward_deg(joints[posed])
    return {
        "bone_length_cv": round(metrics.bone_length_cv(joints[posed]), 4),
        "jitter_m_s2": round(jitter_m_s2(joints, fps), 3),
        **figures,
        "knee_backward_over_10_deg_pct": round(float(100 * (backward > 10).any(axis=1).mean()), 1)
        if len(backward)
        else None,
    }


def median_difference(a: np.ndarray, b: np.ndarray, fps: float, block_s: float = 1.0, rounds: int = 2000,
                      level: float = 0.9, seed: int = 0) -> dict:  # fmt: skip
    """``median(a) − median(b)`` of two frame-aligned series ``(F, ...)`` (NaN: not measured)
    and its ``level`` interval from a circular moving-block bootstrap: frames drawn in blocks of
    ``block_s`` of video, the same frames for both (paired). Written here rather than with
    ``scipy.stats.bootstrap``, which draws single frames: neighbouring frames are not independent,
    so that would understate the spread. ``interval`` is None when too few draws measure both."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    frames = len(a)
    median_a, median_b = _nanmedian(a.reshape(-1)), _nanmedian(b.reshape(-1))
    if frames == 0 or median_a is None or median_b is None:
        return {"difference": None, "interval": None, "level": level, "block_s": block_s}
    block = min(frames, max(1, round(block_s * fps)))
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, frames, size=(rounds, -(-frames // block)))
    draws = ((starts[..., None] + np.arange(block)) % frames).reshape(rounds, -1)[:, :frames]
    differences = []
    for index in draws:
        da, db = _nanmedian(a[index].reshape(-1)), _nanmedian(b[index].reshape(-1))
        if da is not None and db is not None:
            differences.append(da - db)
    interval = None
    if len(differences) >= 0.9 * rounds:  # a figure most draws cannot measure has no interval worth stating
        tail = 50.0 * (1.0 - level)
        interval = [round(float(v), 2) for v in np.percentile(differences, [tail, 100.0 - tail])]
    return {"difference": round(median_a - median_b, 2), "interval": interval, "level": level, "block_s": block_s}


def _nanmedian(values: np.ndarray) -> float | None:
    values = values[np.isfinite(values)]
    return float(np.median(values)) if len(values) else None


def clip_figures(poses: ClipPoses) -> dict:
    """Every figure for posecast and MediaPipe on the frames where both have a pose, and the
    P-MPJPE between them (and between the flat pose and MediaPipe)."""
    keep = both_posed(poses.posecast_m, poses.mediapipe_m)
    masked = {name: np.where(keep[:, None, None], joints, np.nan)
              for name, joints in (("posecast", poses.posecast_m), ("mediapipe", poses.mediapipe_m))}  # fmt: skip
    standing = standing_legs(poses.keypoints_px, poses.confidence) & keep[:, None]
    return {
        "clip": poses.name, "fps": poses.fps, "frames": len(keep), "frames_compared": int(keep.sum()),
        "standing_leg_frames": int(standing.any(axis=1).sum()),
        **{name: skeleton_figures(joints, poses.fps, standing) for name, joints in masked.items()},
        "posecast_minus_mediapipe": {
            name: median_difference(value, frame_values(masked["mediapipe"], poses.fps, standing)[name], poses.fps)
            for name, value in frame_values(masked["posecast"], poses.fps, standing).items()
        },
        "p_mpjpe_mm": {"posecast": _summary(p_mpjpe_m(masked["posecast"], masked["mediapipe"]), 1000.0),
                       "flat": _summary(p_mpjpe_m(np.where(keep[:, None, None], poses.flat, np.nan),
                                                  masked["mediapipe"]), 1000.0)},
    }  # fmt: skip


def hips_row_px(poses: ClipPoses) -> int:
    """The image row of the person's hips, the median over the clip's posed frames (2D)."""
    hips = poses.keypoints_px[:, [J["l_hip"], J["r_hip"]], 1].mean(axis=1)  # NaN without a person
    if not np.isfinite(hips).any():
        raise ValueError(f"{poses.name}: no person in any frame")
    return int(round(float(np.nanmedian(hips))))


def upper_body_change(whole: np.ndarray, cut: np.ndarray) -> dict:
    """How a skeleton's upper body ``(F, 17, 3)`` (relative to the thorax) moves when the same
    frames are seen with the legs cut off: median over the frames both have of the rotation
    between the two (degrees), of the size ratio (cut / whole), of the mean joint distance and
    of the P-MPJPE (mm; shape alone)."""
    posed = both_posed(whole, cut)
    if not posed.any():
        return {"frames": 0, "rotation_deg": None, "size_ratio": None, "distance_mm": None, "p_mpjpe_mm": None}
    a, b = skeleton.upper_body_about_thorax(whole[posed]), skeleton.upper_body_about_thorax(cut[posed])
    rotation = [Rotation.align_vectors(x, y)[0].magnitude() for x, y in zip(a, b, strict=True)]
    return {
        "frames": int(posed.sum()),
        "rotation_deg": round(float(np.degrees(np.median(rotation))), 1),
        "size_ratio": round(float(np.median(np.linalg.norm(b, axis=(1, 2)) / np.linalg.norm(a, axis=(1, 2)))), 3),
        "distance_mm": round(float(np.median(np.linalg.norm(b - a, axis=-1).mean(axis=-1)) * 1000), 1),
        "p_mpjpe_mm": round(float(np.median(metrics.p_mpjpe(b, a)) * 1000), 1),
    }

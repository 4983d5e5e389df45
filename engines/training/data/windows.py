"""Training batches of causal windows: mocap seen by random webcams, or recorded 2D.

Both samplers return :class:`WindowBatch`. The 2D always goes through the live pipeline's
own :func:`posecast.engines.normalize.normalize_pixels`, so training sees exactly what the
live path feeds the network. Only the mocap sampler has 3D (``joints_cam_m``), used by the
supervised reference and by evaluation — never by the unsupervised trainer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ... import normalize, skeleton
from .cameras import sample_cameras
from .dataset import Clip
from .noise import NoiseOptions, add_detector_noise


@dataclass
class WindowBatch:
    keypoints_norm: np.ndarray  # (B, T, 17, 2) float32, intrinsics-normalised
    confidence: np.ndarray  # (B, T, 17) float32
    joints_cam_m: np.ndarray | None = None  # (B, T, 17, 3) float32, camera frame, metres


@dataclass
class SamplerOptions:
    window_frames: int = 27
    noise: bool = True
    noise_options: NoiseOptions | None = None
    mirror_prob: float = 0.5
    bone_scale_std: float = 0.06  # per-bone length change, so one mocap body becomes many
    warmup_prob: float = 0.05  # windows padded like the live start-up (first frame repeated)


def _index_windows(lengths: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat index of every window's frames ``(N, T)``, oldest first, clamped at clip starts."""
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    ends = []
    first = []
    for s, n in zip(starts, lengths, strict=True):
        ends.append(np.arange(s, s + n))
        first.append(np.full(n, s))
    last, clip_first = np.concatenate(ends), np.concatenate(first)
    offsets = np.arange(-window + 1, 1)
    return np.maximum(last[:, None] + offsets[None, :], clip_first[:, None]), clip_first


def rescale_bones(joints: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Change each bone's length by ``factors (B, 16)`` keeping directions: ``(B, T, 17, 3)``."""
    out = joints.copy()
    for b, (child, parent) in enumerate(skeleton.BONES):
        out[..., child, :] = out[..., parent, :] + factors[:, None, None, b] * (
            joints[..., child, :] - joints[..., parent, :]
        )
    return out


def _symmetric_bone_factors(rng: np.random.Generator, batch: int, std: float) -> np.ndarray:
    factors = np.exp(rng.normal(0.0, std, (batch, len(skeleton.BONES))))
    index = {name: i for i, name in enumerate(skeleton.BONE_NAMES)}
    for name, i in index.items():
        if "l_" in name:
            factors[:, i] = factors[:, index[name.replace("l_", "r_")]]
    return factors


class MocapWindowSampler:
    """Random windows of mocap clips, seen by random virtual webcams."""

    def __init__(self, clips: list[Clip], options: SamplerOptions, seed: int = 0) -> None:
        if not clips:
            raise ValueError("no clips to sample from")
        self.options = options
        self.rng = np.random.default_rng(seed)
        self.frames = np.concatenate([c.joints_m for c in clips]).astype(np.float64)
        self.windows, self.clip_first = _index_windows(
            np.array([len(c.joints_m) for c in clips]), options.window_frames
        )

    def __len__(self) -> int:
        return len(self.windows)

    def sample(self, batch: int) -> WindowBatch:
        rows = self.rng.integers(0, len(self.windows), batch)
        return self.make_batch(rows, self.rng, augment=True, noise=self.options.noise)

    def make_batch(self, rows: np.ndarray, rng: np.random.Generator, augment: bool, noise: bool) -> WindowBatch:
        o = self.options
        index = self.windows[rows].copy()
        if augment and o.warmup_prob > 0 and o.window_frames > 1:
            warm = rng.random(len(rows)) < o.warmup_prob
            cut = rng.integers(1, o.window_frames, len(rows))
            for r in np.flatnonzero(warm):
                index[r, : cut[r]] = index[r, cut[r]]
        world = self.frames[index]  # (B, T, 17, 3)
        if augment:
            mirror = rng.random(len(rows)) < o.mirror_prob
            world[mirror] = skeleton.mirror(world[mirror]) * np.array([-1.0, 1.0, 1.0])
            if o.bone_scale_std > 0:
                world = rescale_bones(world, _symmetric_bone_factors(rng, len(rows), o.bone_scale_std))
        cameras = sample_cameras(world[:, :, skeleton.ROOT].mean(1), rng)
        joints_cam = cameras.to_camera(world)
        pixels = cameras.project_px(joints_cam)
        if noise:
            pixels, confidence = add_detector_noise(pixels, rng, o.noise_options)
        else:
            confidence = np.ones(pixels.shape[:-1])
        keypoints_norm = normalize.normalize_pixels(pixels, cameras.intrinsics[:, None, :])
        return WindowBatch(
            keypoints_norm.astype(np.float32), confidence.astype(np.float32), joints_cam.astype(np.float32)
        )


def load_recorded_2d(path: str | Path) -> tuple[np.ndarray, np.ndarray, float]:
    """A recorded 2D sequence in ``posecast lift`` input format → (normalised (F,17,2), conf (F,17), fps)."""
    with np.load(path) as data:
        if "keypoints_2d" not in data or "intrinsics" not in data:
            raise ValueError(f"{path}: expected arrays 'keypoints_2d' (F,17,2) and 'intrinsics' (4,)")
        keypoints = np.asarray(data["keypoints_2d"], dtype=np.float64)
        intrinsics = np.asarray(data["intrinsics"], dtype=np.float64)
        confidence = np.asarray(data["confidence"]) if "confidence" in data else np.ones(keypoints.shape[:2])
        fps = float(data["fps"]) if "fps" in data else 30.0
    if keypoints.ndim != 3 or keypoints.shape[1:] != (skeleton.NUM_JOINTS, 2):
        raise ValueError(f"{path}: keypoints_2d must be (F, 17, 2), got {keypoints.shape}")
    return normalize.normalize_pixels(keypoints, intrinsics), confidence, fps


class Recorded2DSampler:
    """Windows of recorded 2D sequences (a user's own footage): no 3D at all."""

    def __init__(self, paths: list[Path], options: SamplerOptions, seed: int = 0) -> None:
        if not paths:
            raise ValueError("no recorded 2D sequences given")
        sequences = [load_recorded_2d(p) for p in paths]
        self.rng = np.random.default_rng(seed)
        self.frames = np.concatenate([s[0] for s in sequences])
        self.confidence = np.concatenate([s[1] for s in sequences])
        self.windows, _ = _index_windows(np.array([len(s[0]) for s in sequences]), options.window_frames)
        self.mirror_prob = options.mirror_prob

    def __len__(self) -> int:
        return len(self.windows)

    def sample(self, batch: int) -> WindowBatch:
        rows = self.rng.integers(0, len(self.windows), batch)
        keypoints = self.frames[self.windows[rows]].copy()
        confidence = self.confidence[self.windows[rows]]
        mirror = self.rng.random(batch) < self.mirror_prob
        keypoints[mirror] = skeleton.mirror(keypoints[mirror]) * np.array([-1.0, 1.0])
        confidence[mirror] = skeleton.mirror(confidence[mirror][..., None])[..., 0]  # follows its joint
        return WindowBatch(keypoints.astype(np.float32), confidence.astype(np.float32))

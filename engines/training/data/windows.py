"""Training batches of causal windows: mocap seen by random webcams, or recorded 2D.

Both samplers return :class:`WindowBatch`. The 2D always goes through the live pipeline's
own :func:`posecast.engines.normalize.normalize_pixels`, so training sees exactly what the
live path feeds the network. Only the mocap sampler has 3D (``joints_cam_m``), used by the
supervised reference and by evaluation — never by the unsupervised trainer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ... import normalize, skeleton
from ...lift_input import load_lift_input, posed_frames
from ...window_slots import MAX_BRIDGED_GAP_S, frames_around, shorten_gaps, uniform_grid
from .augment import (
    BodyOptions,
    crouch,
    extend_knees,
    interpolate_frames,
    lean_torso_back,
    mix_limbs,
    proportion_factors,
    reach_forwards,
    rescale_bones,
    sample_speeds,
    shift_joint_centres,
    slow_camera_windows,
    warp_times,
)
from .cameras import CameraOptions, film, sample_cameras
from .dataset import TRAINING_FPS, Clip, resample
from .framing import FramingOptions, cut_at_bottom
from .noise import NoiseOptions, add_detector_noise

__all__ = ["MocapWindowSampler", "Recorded2DSampler", "SamplerOptions", "WindowBatch", "rescale_bones"]


@dataclass
class WindowBatch:
    keypoints_norm: np.ndarray  # (B, T, 17, 2) float32, intrinsics-normalised
    confidence: np.ndarray  # (B, T, 17) float32
    joints_cam_m: np.ndarray | None = None  # (B, T, 17, 3) float32, camera frame, metres
    #: recorded 2D: each slot's frame in the sampler's ``frames`` (B, T), and the windows seen in a mirror (B,)
    frame_index: np.ndarray | None = None
    mirrored: np.ndarray | None = None
    #: mocap: each joint's weight in the 3D loss (B, T, 17) float32; None: all 1
    target_weight: np.ndarray | None = None

    @staticmethod
    def concatenate(parts: list[WindowBatch]) -> WindowBatch:
        """Mocap batches one after the other (rows of each, in order)."""
        weights = None
        if any(p.target_weight is not None for p in parts):
            weights = np.concatenate([np.ones(p.confidence.shape, np.float32) if p.target_weight is None
                                      else p.target_weight for p in parts])  # fmt: skip
        return WindowBatch(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("keypoints_norm", "confidence",
                                                                                      "joints_cam_m")),
                           target_weight=weights)  # fmt: skip


#: The window length every model, config and tool uses unless told otherwise (frames at
#: :data:`~.dataset.TRAINING_FPS`: 0.9 s).
DEFAULT_WINDOW_FRAMES = 27


@dataclass
class SamplerOptions:
    window_frames: int = DEFAULT_WINDOW_FRAMES
    noise: bool = True
    noise_options: NoiseOptions | None = None
    mirror_prob: float = 0.5
    #: per-window body (proportions, joint-centre shifts, speed); None keeps the mocap body as is
    body: BodyOptions | None = field(default_factory=BodyOptions)
    cameras: CameraOptions = field(default_factory=CameraOptions)
    #: windows cut at the image's bottom edge, legs guessed as MediaPipe guesses them (:mod:`.framing`)
    framing: FramingOptions | None = None
    warmup_prob: float = 0.05  # windows padded like the live start-up (first frame repeated)

    def __post_init__(self) -> None:
        if self.window_frames < 1:
            raise ValueError(f"window_frames must be >= 1, got {self.window_frames}")
        for name in ("mirror_prob", "warmup_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")


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
        o, body = self.options, self.options.body
        b = len(rows)
        index = self.windows[rows].astype(np.float64)
        if augment and body is not None and body.speed_prob > 0:
            index = warp_times(index[:, -1], self.clip_first[rows], o.window_frames, sample_speeds(rng, b, body))
        if augment and o.warmup_prob > 0 and o.window_frames > 1:
            warm = rng.random(b) < o.warmup_prob
            cut = rng.integers(1, o.window_frames, b)
            for r in np.flatnonzero(warm):
                index[r, : cut[r]] = index[r, cut[r]]
        world = interpolate_frames(self.frames, index)  # (B, T, 17, 3)
        if augment and body is not None and body.low_rate_prob > 0:
            slow = np.flatnonzero(rng.random(b) < body.low_rate_prob)
            if len(slow):
                low, high = np.log(body.low_rate_fps[0]), np.log(body.low_rate_fps[1])
                fps = np.minimum(np.exp(rng.uniform(low, high, len(slow))), TRAINING_FPS)
                world[slow] = slow_camera_windows(self.frames, index[slow], fps, TRAINING_FPS)
        if augment and body is not None:
            world = mix_limbs(world, rng, body.limb_mix_prob, body.limb_mix_limbs)
        if augment:
            mirror = rng.random(b) < o.mirror_prob
            world[mirror] = skeleton.mirror_image(world[mirror])
            if body is not None:
                world = rescale_bones(world, proportion_factors(world, rng, body))
                world = shift_joint_centres(world, rng, body.shift_frac)
                # last: the knees' bend is what the targets finally show (hip shifts change it too)
                world = extend_knees(world, rng, body.knee_extension_prob, body.knee_extension_range)
                world = lean_torso_back(world, rng, body.torso_back_prob, body.torso_back_max_deg)
                world = crouch(world, rng, body.crouch_prob, body.crouch_depth, TRAINING_FPS, body.crouch_planted_only,
                               body.crouch_stand_up)  # fmt: skip
                world = reach_forwards(world, rng, body.reach_prob)
        cameras = sample_cameras(world[:, :, skeleton.ROOT].mean(1), rng, o.cameras)
        joints_cam = film(cameras, world)
        pixels = cameras.project_px(joints_cam)
        if noise:
            pixels, confidence = add_detector_noise(pixels, rng, o.noise_options, cameras.image_size)
        else:
            confidence = np.ones(pixels.shape[:-1])
        weight = None
        if augment and o.framing is not None and o.framing.prob > 0:
            pixels, confidence, weight = cut_at_bottom(pixels, confidence, rng, o.framing)
        keypoints_norm = normalize.normalize_pixels(pixels, cameras.intrinsics[:, None, :])
        return WindowBatch(
            keypoints_norm.astype(np.float32), confidence.astype(np.float32), joints_cam.astype(np.float32),
            target_weight=weight,
        )  # fmt: skip


def load_recorded_2d(path: str | Path, fps: float | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """A recorded 2D sequence in ``posecast lift`` input format (read and checked as ``posecast
    lift`` reads it: :func:`~posecast.engines.lift_input.load_lift_input`) → (normalised
    ``(F, 17, 2)``, confidence ``(F, 17)``, fps); with ``fps`` given, resampled to that rate: on
    the file's ``timestamps_s`` when it has them (a live take's frames are not ``1 / fps`` apart:
    :func:`resample_on_times`), else from its ``fps``. Raises
    :class:`~posecast.engines.errors.LiftInputError` (a ``ValueError``) naming the file and the problem."""
    data = load_lift_input(Path(path))
    norm, confidence = normalize.normalize_pixels(data.keypoints, data.intrinsics), data.confidence
    if fps is None:
        return norm, confidence, data.fps
    if data.timestamps_s is not None:
        return resample_on_times(norm, confidence, data.timestamps_s, fps) + (fps,)
    return resample(norm, data.fps, fps), resample(confidence, data.fps, fps), fps


def resample_on_times(keypoints: np.ndarray, confidence: np.ndarray, times_s: np.ndarray,
                      fps: float) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """``keypoints`` ``(F, 17, 2)`` and ``confidence`` ``(F, 17)`` stamped ``times_s`` ``(F,)``
    (strictly increasing) → the same on a uniform grid at ``fps`` (:func:`uniform_grid`), each
    grid time between the two frames around it as the live window takes them
    (:func:`frames_around`). A grid time inside a gap longer than :data:`MAX_BRIDGED_GAP_S`, or
    drawing on a frame without the person, has no person (NaN keypoints, confidence 0): no window
    spans it, nothing is made up. Such a gap is kept no longer than twice that."""
    if len(times_s) < 2:
        return keypoints, confidence
    # a gap no window bridges stays one (no person across it) but no longer than that: one of days
    # made a grid of millions of empty frames (6 GB in 6 s)
    times_s = shorten_gaps(times_s, 2 * MAX_BRIDGED_GAP_S)[0]
    lower, weight = frames_around(times_s, uniform_grid(times_s, fps))
    upper = lower + 1
    out_kp = (1 - weight)[:, None, None] * keypoints[lower] + weight[:, None, None] * keypoints[upper]
    out_conf = (1 - weight)[:, None] * confidence[lower] + weight[:, None] * confidence[upper]
    seen = posed_frames(keypoints, confidence)
    between = (weight > 0) & (weight < 1)
    gone = ((weight < 1) & ~seen[lower]) | ((weight > 0) & ~seen[upper])
    gone |= between & (times_s[upper] - times_s[lower] > MAX_BRIDGED_GAP_S)
    out_kp[gone], out_conf[gone] = np.nan, 0.0
    return out_kp, out_conf


def person_runs(keypoints: np.ndarray, confidence: np.ndarray, min_frames: int = 2) -> list[tuple[np.ndarray, ...]]:
    """The runs of consecutive frames with a person in ``keypoints (F, 17, 2)``, ``confidence
    (F, 17)`` (:func:`~posecast.engines.lift_input.posed_frames`, as ``posecast lift`` counts them), at
    least ``min_frames`` long: a window never spans a frame without the person."""
    seen = posed_frames(keypoints, confidence)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], seen.astype(np.int8), [0]])))
    return [(keypoints[a:b], np.nan_to_num(confidence[a:b])) for a, b in zip(edges[::2], edges[1::2], strict=True)
            if b - a >= min_frames]  # fmt: skip


class Recorded2DSampler:
    """Windows of recorded 2D sequences (a user's own footage): no 3D at all."""

    def __init__(self, paths: list[Path], options: SamplerOptions, seed: int = 0) -> None:
        if not paths:
            raise ValueError("no recorded 2D sequences given")
        sequences = [run for p in paths for run in person_runs(*load_recorded_2d(p, TRAINING_FPS)[:2])]
        if not sequences:
            raise ValueError(f"no two consecutive frames with a person in {len(paths)} recorded 2D sequence(s): "
                             "training on 2D needs a person in at least two frames in a row; give longer footage")
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
        keypoints[mirror] = skeleton.mirror_image(keypoints[mirror])
        confidence[mirror] = skeleton.mirror(confidence[mirror][..., None])[..., 0]  # follows its joint
        return WindowBatch(keypoints.astype(np.float32), confidence.astype(np.float32),
                           frame_index=self.windows[rows], mirrored=mirror)  # fmt: skip

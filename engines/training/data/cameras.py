"""Virtual webcams for training: place a camera around a mocap subject and project to pixels.

World frame: mocap, Y up, metres. Camera frame: x right, y down, z forward (OpenCV).
Ranges (per window, :class:`CameraOptions`): azimuth over the full circle, elevation
−10°…+30° (camera above the subject looking down is common for webcams), roll ±5°; distance
2.5–8 m, or for a share of cameras a close webcam at 1.5–2.5 m (a laptop or a desk, the person
partly out of the frame); horizontal field of view 50–90°, or wide-angle 90–120° for a share;
common webcam frame sizes; principal point within ±3 % of the centre; the subject off-centre by
up to ±15 % of the frame, or for a share up to ±40 % (near an edge).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from ... import skeleton

FRAME_SIZES = np.array([(640, 480), (1280, 720), (1920, 1080), (720, 1280), (960, 540)], dtype=np.float64)


@dataclass
class CameraOptions:
    """The webcams training (and evaluation) film with; ranges in metres and degrees."""

    distance_m: tuple[float, float] = (2.5, 8.0)
    close_distance_m: tuple[float, float] = (1.5, 2.5)
    close_prob: float = 0.3
    hfov_deg: tuple[float, float] = (50.0, 90.0)
    wide_hfov_deg: tuple[float, float] = (90.0, 120.0)
    wide_prob: float = 0.2
    elevation_deg: tuple[float, float] = (-10.0, 30.0)
    roll_deg: float = 5.0
    off_centre: float = 0.15  # fraction of the frame
    edge_off_centre: float = 0.40
    edge_prob: float = 0.2

    def __post_init__(self) -> None:
        for name in ("distance_m", "close_distance_m", "hfov_deg", "wide_hfov_deg", "elevation_deg"):
            low, high = getattr(self, name)
            if not low <= high:
                raise ValueError(f"{name} must be (low, high) with low <= high, got {(low, high)}")
        if min(self.close_distance_m[0], self.distance_m[0]) < 0.3:
            raise ValueError(f"camera distances must be >= 0.3 m, got {self.close_distance_m}, {self.distance_m}")
        if min(self.hfov_deg[0], self.wide_hfov_deg[0]) < 1.0 or max(self.hfov_deg[1], self.wide_hfov_deg[1]) >= 170.0:
            raise ValueError(f"fields of view must be in [1, 170) degrees, got {self.hfov_deg}, {self.wide_hfov_deg}")
        for name in ("close_prob", "wide_prob", "edge_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if not 0.0 <= self.off_centre <= self.edge_off_centre <= 0.5:
            raise ValueError(f"need 0 <= off_centre <= edge_off_centre <= 0.5, got {self.off_centre}, "
                             f"{self.edge_off_centre}")  # fmt: skip


#: The cameras of posecast's earlier models (2.5–8 m, 50–90°, ±15 %): one row of the evaluation.
LEGACY_CAMERAS = CameraOptions(close_prob=0.0, wide_prob=0.0, edge_prob=0.0)


@dataclass
class CameraBatch:
    """``B`` cameras: world→camera rotation ``(B, 3, 3)``, translation ``(B, 3)``, intrinsics ``(B, 4)``."""

    rotation: np.ndarray
    translation: np.ndarray
    intrinsics: np.ndarray  # fx, fy, cx, cy (pixels)
    image_size: np.ndarray  # (B, 2) width, height

    def to_camera(self, joints_world: np.ndarray) -> np.ndarray:
        """``(B, ..., 3)`` world → camera frame."""
        shape = joints_world.shape
        flat = joints_world.reshape(shape[0], -1, 3)
        cam = np.einsum("bij,bnj->bni", self.rotation, flat) + self.translation[:, None, :]
        return cam.reshape(shape)

    def project_px(self, joints_cam: np.ndarray) -> np.ndarray:
        """``(B, ..., 3)`` camera frame → pixels ``(B, ..., 2)``."""
        z = np.maximum(joints_cam[..., 2], 1e-3)
        k = self.intrinsics.reshape(self.intrinsics.shape[0], *([1] * (joints_cam.ndim - 2)), 4)
        x = joints_cam[..., 0] / z * k[..., 0] + k[..., 2]
        y = joints_cam[..., 1] / z * k[..., 1] + k[..., 3]
        return np.stack([x, y], axis=-1)


def look_at_rotation(forward: np.ndarray, roll_rad: np.ndarray) -> np.ndarray:
    """World→camera rotations ``(B, 3, 3)`` for unit viewing directions ``(B, 3)`` (world Y up)."""
    up = np.array([0.0, 1.0, 0.0])
    right = np.cross(forward, up)
    right /= np.linalg.norm(right, axis=-1, keepdims=True)
    down = np.cross(forward, right)
    rot = np.stack([right, down, forward], axis=1)  # rows: camera axes in world coordinates
    c, s = np.cos(roll_rad), np.sin(roll_rad)
    roll = np.zeros((len(c), 3, 3))
    roll[:, 0, 0], roll[:, 0, 1], roll[:, 1, 0], roll[:, 1, 1], roll[:, 2, 2] = c, -s, s, c, 1.0
    return roll @ rot


def _mixture(rng: np.random.Generator, b: int, usual: tuple[float, float], other: tuple[float, float],
             prob: float) -> np.ndarray:  # fmt: skip
    """``b`` values uniform in ``usual``, or in ``other`` with probability ``prob``."""
    return np.where(rng.random(b) < prob, rng.uniform(*other, b), rng.uniform(*usual, b))


#: No joint comes closer to its camera than this (training windows, evaluation clips, footage).
MIN_DEPTH_M = 0.5


def film(cameras: CameraBatch, world: np.ndarray, min_depth_m: float = MIN_DEPTH_M) -> np.ndarray:
    """``world`` ``(B, F, 17, 3)`` metres in each camera's frame, each camera first stepped back
    along its optical axis (``cameras.translation`` moved) until every joint of its sequence is at
    least ``min_depth_m`` in front of it: a close webcam and a person walking towards it (or a
    time-warped fast move) can meet."""
    joints_cam = cameras.to_camera(world)
    step_back = np.maximum(min_depth_m - joints_cam[..., 2].min(axis=(1, 2)), 0.0)
    if step_back.any():
        cameras.translation[:, 2] += step_back
        joints_cam[..., 2] += step_back[:, None, None]
    return joints_cam


def sample_cameras(
    targets_world: np.ndarray, rng: np.random.Generator, options: CameraOptions | None = None
) -> CameraBatch:
    """One random webcam per target point ``(B, 3)`` (the subject's mean pelvis)."""
    o = options or CameraOptions()
    b = targets_world.shape[0]
    azimuth = rng.uniform(0.0, 2 * np.pi, b)
    elevation = np.deg2rad(rng.uniform(*o.elevation_deg, b))
    roll = np.deg2rad(rng.uniform(-o.roll_deg, o.roll_deg, b))
    distance = _mixture(rng, b, o.distance_m, o.close_distance_m, o.close_prob)
    size = FRAME_SIZES[rng.integers(0, len(FRAME_SIZES), b)]
    hfov = np.deg2rad(_mixture(rng, b, o.hfov_deg, o.wide_hfov_deg, o.wide_prob))
    fx = 0.5 * size[:, 0] / np.tan(0.5 * hfov)
    fy = fx * rng.uniform(0.99, 1.01, b)
    cx = size[:, 0] * (0.5 + rng.uniform(-0.03, 0.03, b))
    cy = size[:, 1] * (0.5 + rng.uniform(-0.03, 0.03, b))
    # direction from the subject to the camera, then the camera looks back at a point near the subject
    to_camera = np.stack(
        [np.cos(elevation) * np.sin(azimuth), np.sin(elevation), np.cos(elevation) * np.cos(azimuth)], -1
    )
    position = targets_world + distance[:, None] * to_camera
    forward = -to_camera
    rotation = look_at_rotation(forward, roll)
    # shift the subject off-centre: turn the view slightly (exact yaw then pitch, so the
    # world→camera transform stays rigid and the body keeps its bone lengths)
    reach = np.where(rng.random(b) < o.edge_prob, o.edge_off_centre, o.off_centre)[:, None]
    off = np.arctan(rng.uniform(-1.0, 1.0, (b, 2)) * reach * size / np.stack([fx, fy], -1))
    cos, sin = np.cos(off), np.sin(off)
    yaw = np.zeros((b, 3, 3))
    yaw[:, 1, 1] = 1.0
    yaw[:, 0, 0], yaw[:, 0, 2], yaw[:, 2, 0], yaw[:, 2, 2] = cos[:, 0], -sin[:, 0], sin[:, 0], cos[:, 0]
    pitch = np.zeros((b, 3, 3))
    pitch[:, 0, 0] = 1.0
    pitch[:, 1, 1], pitch[:, 1, 2], pitch[:, 2, 1], pitch[:, 2, 2] = cos[:, 1], -sin[:, 1], sin[:, 1], cos[:, 1]
    rotation = pitch @ yaw @ rotation
    translation = -np.einsum("bij,bj->bi", rotation, position)
    return CameraBatch(rotation, translation, np.stack([fx, fy, cx, cy], -1), size)


def turned_to_face(joints_world: np.ndarray, cameras: CameraBatch, offset_deg: float = 0.0) -> np.ndarray:
    """A clip ``(F, 17, 3)`` (world frame, Y up) turned about the vertical through its mean
    pelvis so that its median facing points at the camera (``cameras``: the first), then
    ``offset_deg`` further about the vertical."""
    centre = joints_world[:, skeleton.ROOT].mean(0)
    camera_position = -cameras.rotation[0].T @ cameras.translation[0]
    to_camera = np.arctan2(*(camera_position - centre)[[0, 2]])  # azimuth about Y, from +Z towards +X
    forward = np.median(skeleton.body_forward(joints_world), axis=0)
    angle = to_camera - np.arctan2(forward[0], forward[2]) + np.deg2rad(offset_deg)
    return (
        Rotation.from_euler("y", angle).apply((joints_world - centre).reshape(-1, 3)).reshape(joints_world.shape)
        + centre
    )

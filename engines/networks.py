"""The paper's networks in PyTorch: scale network and causal temporal lifter (the 2D
discriminator, used only in training, is in :mod:`posecast.engines.training.discriminator`).

Shared by training and the torch-cuda runtime backend (which rebuilds the exported graph from
the ONNX weights); imports torch, so the CPU live path never imports it.

Shapes: a *window* is ``(B, T, 17, 2)`` of intrinsics-normalised 2D (see
:mod:`posecast.engines.normalize`), oldest frame first, the current frame last. Only the
past is seen, so the lifter adds no latency.

The lifter maps the whole window to one depth per joint *for every frame of the window*
(``(B, T, 17)``): the self-supervised cycle needs 3D for all window frames to re-project a
rotated window, and the motion/bone losses compare frames inside it. At run time only the
last frame's output is used (:class:`PoseModel`), which sees frames ``t-T+1 … t`` only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from . import normalize, skeleton

J = skeleton.NUM_JOINTS


@dataclass
class ModelConfig:
    """Architecture; saved in every checkpoint and in the ONNX metadata."""

    window_frames: int = 27
    width: int = 1024
    blocks: int = 3
    scale_width: int = 256
    dropout: float = 0.25
    use_scale_net: bool = True

    def __post_init__(self) -> None:
        if self.window_frames < 1:
            raise ValueError(f"window_frames must be >= 1, got {self.window_frames}")
        if self.width < 8 or self.blocks < 0:
            raise ValueError(f"width must be >= 8 and blocks >= 0, got {self.width}, {self.blocks}")

    def to_dict(self) -> dict:
        return asdict(self)


class ResidualBlock(nn.Module):
    def __init__(self, width: int, dropout: float, batch_norm: bool = True) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(2):
            layers.append(nn.Linear(width, width))
            if batch_norm:
                layers.append(nn.BatchNorm1d(width))
            layers += [nn.ReLU(inplace=True) if batch_norm else nn.LeakyReLU(0.2), nn.Dropout(dropout)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def mlp(in_dim: int, width: int, blocks: int, out_dim: int, dropout: float, bn: bool) -> nn.Sequential:
    stem: list[nn.Module] = [nn.Linear(in_dim, width)]
    if bn:
        stem.append(nn.BatchNorm1d(width))
    stem += [nn.ReLU(inplace=True) if bn else nn.LeakyReLU(0.2), nn.Dropout(dropout)]
    head = nn.Linear(width, out_dim)
    return nn.Sequential(*stem, *[ResidualBlock(width, dropout, bn) for _ in range(blocks)], head)


class ScaleNet(nn.Module):
    """One frame's canonical 2D ``(B, 17, 2)`` → scale ``(B, 1)`` in about [0.37, 2.7].

    The scale multiplies the canonical 2D before lifting (the paper); it starts at exactly 1.
    """

    def __init__(self, width: int, dropout: float) -> None:
        super().__init__()
        self.net = mlp(J * 2, width, 1, 1, dropout, bn=True)
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, pose_2d: torch.Tensor) -> torch.Tensor:
        return torch.exp(torch.tanh(self.net(pose_2d.flatten(1))))


class Lifter(nn.Module):
    """Scaled canonical window ``(B, T, 17, 2)`` → depth per joint per frame ``(B, T, 17)``."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.window_frames = cfg.window_frames
        self.current_frame_only = False  # see keep_current_frame_only
        self.net = mlp(cfg.window_frames * J * 2, cfg.width, cfg.blocks, cfg.window_frames * J,
                        cfg.dropout, bn=True)  # fmt: skip

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        if self.current_frame_only:
            raise RuntimeError("this lifter keeps only the current frame's output layer: use current_depth")
        b, t = window.shape[:2]
        if t != self.window_frames:
            # A single-frame lifter applied to every frame of a longer window (the T = 1 ablation).
            if self.window_frames != 1:
                raise ValueError(f"lifter expects {self.window_frames} frames, got {t}")
            return self.net(window.reshape(b * t, J * 2)).reshape(b, t, J)
        return self.net(window.reshape(b, t * J * 2)).reshape(b, t, J)

    def current_depth(self, window: torch.Tensor) -> torch.Tensor:
        """Depth of the window's last frame only ``(B, 17)``: same numbers as ``forward(...)[:, -1]``.

        Run time needs only the current frame, so only the output layer's last 17 rows are used
        (for width 512 that is ~11 % fewer multiply-adds and weights to read).
        """
        b, t = window.shape[:2]
        if t != self.window_frames:
            return self.forward(window)[:, -1]
        flat = window.reshape(b, t * J * 2)
        if self.current_frame_only:
            return self.net(flat)
        head = self.net[-1]
        return nn.functional.linear(self.net[:-1](flat), head.weight[-J:], head.bias[-J:])

    def keep_current_frame_only(self) -> None:
        """Cut the output layer to the current frame's 17 rows, in place (export, inference).

        Afterwards only :meth:`current_depth` works; the exported file stores the cut layer
        under its usual name, so a rebuild from the file does the same cut first.
        """
        if self.current_frame_only:
            return
        head = self.net[-1]
        cut = nn.Linear(head.in_features, J).to(head.weight)
        with torch.no_grad():
            cut.weight.copy_(head.weight[-J:])
            cut.bias.copy_(head.bias[-J:])
        self.net[-1] = cut
        self.current_frame_only = True


def lift_to_3d(scaled_2d: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
    """The paper's depth model: ``(…, 17, 2)`` + ``(…, 17)`` → camera-frame ``(…, 17, 3)``.

    ``d' = max(1, d + c)``, ``X = d'·x``, ``Y = d'·y``, ``Z = d'``.
    """
    d = (depth + normalize.CAMERA_DISTANCE).clamp_min(1.0)
    return torch.cat([scaled_2d * d[..., None], d[..., None]], dim=-1)


class PoseGenerator(nn.Module):
    """Scale network + lifter: intrinsics-normalised window → 3D of every window frame."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.scale_net = ScaleNet(cfg.scale_width, cfg.dropout) if cfg.use_scale_net else None
        self.lifter = Lifter(cfg)

    def forward(self, canonical: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Canonical window ``(B, T, 17, 2)`` → (3D ``(B, T, 17, 3)`` at depth ≈ c, scale ``(B, T)``).

        The scale network sees each frame on its own, so every frame of the window gets its
        own scale (the 2D of each frame was size-normalised on its own by ``canonicalize``).
        """
        scaled, scale = self.scaled_window(canonical)
        # network outputs back to float32: under bf16 autocast, depth + c (c = 10) would be
        # quantised to steps of 1/16 and the geometry of the cycle would run at 3 digits
        return lift_to_3d(scaled, self.lifter(scaled).float()), scale

    def scaled_window(self, canonical: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Canonical window → (the lifter's input: each frame times its scale, scale ``(B, T)``)."""
        b, t = canonical.shape[:2]
        if self.scale_net is not None:
            scale = self.scale_net(canonical.reshape(b * t, J, 2)).reshape(b, t).float()
        else:
            scale = torch.ones(b, t, dtype=canonical.dtype, device=canonical.device)
        return canonical * scale[:, :, None, None], scale


class PoseModel(nn.Module):
    """The exported graph: ``keypoints_norm (B, T, 17, 2)`` → ``joints_3d (B, 17, 3)``, ``scale (B, 1)``.

    ``joints_3d`` is the current (last) frame, root-relative, camera axes (x right, y down,
    z forward), in canonical units (RMS joint distance ≈ scale); posecast makes it metric
    with the subject's size. The lifter works in the root view (the 2D is centred by turning the
    view onto the pelvis, :func:`~posecast.engines.normalize.canonicalize`); the graph's last
    step turns its pose back into the camera's axes (:func:`~posecast.engines.normalize.to_camera_axes`).
    """

    def __init__(self, generator: PoseGenerator) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, keypoints_norm: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scaled, scale = self.generator.scaled_window(normalize.canonicalize(keypoints_norm))
        current = lift_to_3d(scaled[:, -1], self.generator.lifter.current_depth(scaled))
        root_norm = keypoints_norm[:, -1, skeleton.ROOT]
        return normalize.to_camera_axes(skeleton.root_relative(current), root_norm), scale[:, -1:]


def fold_batchnorm(module: nn.Module) -> nn.Module:
    """Fuse every ``Linear → BatchNorm1d`` pair (eval statistics) into the Linear, in place.

    The BatchNorm becomes an ``nn.Identity``, so parameter names of every other layer stay
    the same; the exported graph then has one Gemm where it had Gemm + BatchNormalization.
    """
    for child in module.children():
        fold_batchnorm(child)
    if isinstance(module, nn.Sequential):
        layers = list(module)
        for i in range(len(layers) - 1):
            linear, bn = layers[i], layers[i + 1]
            if isinstance(linear, nn.Linear) and isinstance(bn, nn.BatchNorm1d):
                with torch.no_grad():
                    factor = bn.weight / torch.sqrt(bn.running_var + bn.eps)
                    linear.weight.mul_(factor[:, None])
                    linear.bias.copy_((linear.bias - bn.running_mean) * factor + bn.bias)
                module[i + 1] = nn.Identity()
    return module

"""The paper's 2D discriminator (least-squares GAN), used only in training."""

from __future__ import annotations

import torch
from torch import nn

from ..networks import mlp
from ..skeleton import NUM_JOINTS as J


class Discriminator(nn.Module):
    """Canonical single-frame 2D ``(N, 17, 2)`` → realness score ``(N, 1)`` (least-squares GAN)."""

    def __init__(self, width: int = 1024) -> None:
        super().__init__()
        self.net = mlp(J * 2, width, 2, 1, 0.0, bn=False)

    def forward(self, pose_2d: torch.Tensor) -> torch.Tensor:
        return self.net(pose_2d.flatten(1))

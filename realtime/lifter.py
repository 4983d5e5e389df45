"""The lifting stage: a causal window of normalised 2D → the current frame's root-relative 3D.

Runs the exported scale + lifting networks through :mod:`posecast.engines.runtime` (ONNX
Runtime on the CPU, TensorRT or torch-cuda on an NVIDIA GPU).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..engines.runtime import RuntimeBackend, load_backend


@dataclass
class LifterOptions:
    model_path: Path | None = None  # None: the shipped model
    backend: str = "auto"
    threads: int = 1  # onnxruntime intra-op threads (1 measured best on small machines)
    int8: bool = False  # onnxruntime: the dynamic-quantized copy of the model


@dataclass
class LiftResult:
    joints_rel: np.ndarray  # (17, 3) root-relative, canonical units, camera axes
    scale: float  # the scale network's output for this frame


class Lifter3D:
    """``process(window (T, 17, 2)) -> LiftResult``; ``window_frames`` comes from the model file."""

    def __init__(self, options: LifterOptions | None = None) -> None:
        self.options = options or LifterOptions()
        kwargs: dict[str, object] = {"threads": self.options.threads}
        if self.options.int8:
            kwargs["int8"] = True
        self.backend: RuntimeBackend = load_backend(self.options.backend, self.options.model_path, **kwargs)
        self.window_frames = self.backend.metadata.window_frames
        self._batch = np.empty((1, self.window_frames, 17, 2), dtype=np.float32)

    @property
    def metadata(self):  # noqa: ANN201 - engines.metadata.ModelMetadata
        return self.backend.metadata

    def process(self, window: np.ndarray) -> LiftResult:
        self._batch[0] = window
        out = self.backend.run(self._batch)
        return LiftResult(out.joints_3d[0].astype(np.float64), float(out.scale[0, 0]))

    def reset(self) -> None:
        """Stateless: nothing to forget between subjects."""

    def close(self) -> None:
        self.backend.close()

"""The lifting networks: causal windows of normalised 2D → the current frame's root-relative 3D.

Runs the exported scale + lifting networks through :mod:`posecast.engines.runtime` (ONNX
Runtime on the CPU, TensorRT or torch-cuda on an NVIDIA GPU).

Flip averaging (on by default, as VideoPose3D evaluates): each window is lifted together with
its mirror image in the same network call, and the two answers (the second mirrored back) are
averaged. A person and their mirror image have mirrored poses, so where the network's errors
differ between the two they partly cancel: held-out P-MPJPE 51.9 → 50.4 mm cross-dataset and
32.0 → 31.1 mm in-domain for the shipped default, for twice the rows in one call.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...engines import skeleton
from ...engines.metadata import ModelMetadata
from ...engines.runtime import RuntimeBackend, backend_accepts, load_backend
from ...engines.runtime.base import model_label, resolve_model
from ...engines.runtime.quantize import int8_by_default
from ..errors import OptionsError
from ..option_types import check_field_types

log = logging.getLogger(__name__)


@dataclass
class LifterOptions:
    model_path: str | Path | None = None  # a shipped model's name or a file; None: the default
    backend: str = "auto"
    threads: int = 1  # onnxruntime intra-op threads (1 measured best on small machines)
    #: onnxruntime: run the INT8 dynamic-quantized copy. None (auto): when a copy made from this
    #: exact model ships beside it (it ships only when its accuracy loss measured ≤ 1 mm MPJPE).
    int8: bool | None = None
    #: lift each window with its mirror image too and average the two (module docstring)
    flip_average: bool = True

    def __post_init__(self) -> None:
        check_field_types(self)  # (QA: int8="no" ran the INT8 copy)
        if self.threads < 1:
            raise OptionsError(f"threads must be 1 or more, got {self.threads}")


@dataclass
class LiftResult:
    """``joints_rel`` ``(B, 17, 3)`` float64 root-relative, canonical units, camera axes;
    ``scale`` ``(B,)`` float64, the scale network's output per window."""

    joints_rel: np.ndarray
    scale: np.ndarray


class Lifter3D:
    """``process(windows (B, T, 17, 2)) -> LiftResult``: every person of a frame in one network
    call; ``window_frames`` (``T``) comes from the model file."""

    def __init__(self, options: LifterOptions | None = None) -> None:
        self.options = options or LifterOptions()
        kwargs: dict[str, object] = {}
        backend = self.options.backend
        if backend_accepts(backend, "threads"):  # the GPU backends take neither option
            kwargs["threads"] = self.options.threads
        if backend_accepts(backend, "int8"):
            int8 = self.options.int8
            if int8 is None:
                int8 = int8_by_default(resolve_model(self.options.model_path))
            if int8:
                kwargs["int8"] = True  # a GPU runs the float model
        self.backend: RuntimeBackend = load_backend(self.options.backend, self.options.model_path, **kwargs)
        #: the INT8 copy quantizes its activations over the whole batch, so each person is lifted
        #: in a call of their own: with one call for all, a person's 3D moved with the others in the
        #: batch (up to 26 mm, 1.5 % of body height, measured), and lifting costs about the same per
        #: person either way (0.8 ms, measured with 1-8 people). Wherever it runs, asked for or
        #: given as the model; a GPU's float model takes a frame's people in one call (review)
        self._per_person = bool(getattr(self.backend, "int8", False))
        self.window_frames = self.backend.metadata.window_frames
        # which model runs, and on a CPU whether its INT8 copy does (QA: only --stats-json and the meta said)
        runs = ("its INT8 copy" if getattr(self.backend, "int8", False) else "float32") \
            if self.backend.name == "onnxruntime" else self.backend.name  # fmt: skip
        log.info("model: %s (%s)", model_label(self.options.model_path), runs)

    @property
    def metadata(self) -> ModelMetadata:
        return self.backend.metadata

    def process(self, windows: np.ndarray) -> LiftResult:
        """Lift ``windows`` ``(B, T, 17, 2)`` float32 (C-contiguous; ``B >= 1``); blocks for one
        network call (of ``2B`` windows with flip averaging; more only past the backend's max batch),
        or one per window with the INT8 model (each person's 3D as if lifted alone)."""
        if self._per_person and len(windows) > 1:
            lifted = [self._lift(windows[i : i + 1]) for i in range(len(windows))]
            return LiftResult(np.concatenate([r.joints_rel for r in lifted]), np.concatenate([r.scale for r in lifted]))
        return self._lift(windows)

    def _lift(self, windows: np.ndarray) -> LiftResult:
        if not self.options.flip_average:
            return LiftResult(*self._run(windows))
        joints, scale = self._run(skeleton.with_mirror_images(windows))
        return LiftResult(skeleton.average_mirrored(joints), (scale[: len(windows)] + scale[len(windows) :]) / 2)

    def _run(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(joints (B, 17, 3), scale (B,))`` float64, in calls of at most the backend's max batch
        (TensorRT's is fixed when its plan is built: 16 by default, twice MediaPipe's 8 people)."""
        limit = getattr(self.backend, "max_batch", None) or len(windows)
        outs = [self.backend.run(np.ascontiguousarray(windows[i : i + limit])) for i in range(0, len(windows), limit)]
        return (np.concatenate([o.joints_3d for o in outs]).astype(np.float64),
                np.concatenate([o.scale[:, 0] for o in outs]).astype(np.float64))  # fmt: skip

    def reset(self) -> None:
        """Stateless: nothing to forget between subjects."""

    def close(self) -> None:
        self.backend.close()

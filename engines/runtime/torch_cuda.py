"""The same network on a CUDA GPU through PyTorch, rebuilt from the exported ONNX file.

The exporter stores the architecture (``ModelConfig.to_dict()`` as JSON) in the model's
metadata (``extra.model_config``); :func:`build_torch_model` rebuilds the
:class:`~posecast.engines.networks.PoseModel` from it and loads the ONNX initialisers by name:
``torch.onnx.export`` keeps the ``state_dict`` names, and where it deduplicated equal tensors
the kept name is reached through an ``Identity`` node (and through a ``Cast`` for files
exported with float16 weights). The rebuilt model is checked against ONNX Runtime on a probe
window before use, so a naming change in a future exporter fails loudly instead of silently.

The batch-1 step is captured once in a ``torch.cuda.CUDAGraph`` on static input/output
tensors and replayed per frame; other batch sizes run eagerly. torch is imported only here.
"""

from __future__ import annotations

import ast
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BackendError, ModelError
from ..install import install_hint
from ..metadata import ModelMetadata, read_onnx_metadata
from .base import USE_ONNXRUNTIME, LiftOutput, RuntimeBackend, check_float_model, check_window, resolve_model
from .gpu import cuda_device_available

log = logging.getLogger(__name__)

#: Largest allowed difference to ONNX Runtime on the probe window, relative to the output scale.
VERIFY_TOLERANCE = 1e-3


def _import_torch():  # noqa: ANN202 - the torch module
    try:
        import torch
    except ImportError as exc:
        raise BackendError(f"the torch-cuda backend needs PyTorch, not installed here ({exc}); "
                           f"{install_hint('train')} with a CUDA build of torch") from exc  # fmt: skip
    return torch


def onnx_weights(path: str | Path) -> dict[str, np.ndarray]:
    """Every float tensor reachable by name in the graph: initialisers, then Identity/Cast aliases."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError as exc:
        raise BackendError(f"reading ONNX weights needs the onnx package ({exc}); {install_hint('train')}") from exc
    graph = onnx.load(str(path)).graph
    values = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:
        if node.op_type in ("Identity", "Cast") and node.input and node.input[0] in values:
            values[node.output[0]] = values[node.input[0]].astype(np.float32)
    return values


def model_config(meta: ModelMetadata) -> dict[str, Any]:
    """The architecture stored by the exporter in ``meta.extra["model_config"]``."""
    text = meta.extra.get("model_config")
    if not text:
        raise ModelError("the model carries no architecture (metadata extra.model_config); "
                         "re-export it with this posecast to use the torch-cuda backend")  # fmt: skip
    try:
        config = json.loads(text)
    except (ValueError, RecursionError):  # JSONDecodeError, too many digits, nesting
        try:
            config = ast.literal_eval(text)  # a dict written with str() instead of JSON (literals only, no code)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            config = None
    if not isinstance(config, dict):
        raise ModelError(f"the model's architecture (metadata extra.model_config) is not a mapping: {text[:80]!r}; "
                         "re-export the model with this posecast")  # fmt: skip
    return config


def build_torch_model(path: str | Path, meta: ModelMetadata | None = None):  # noqa: ANN201 - PoseModel
    """Rebuild the exported :class:`PoseModel` (eval mode, CPU) from an ONNX file."""
    import torch

    from ..networks import ModelConfig, PoseGenerator, PoseModel, fold_batchnorm

    meta = meta or read_onnx_metadata(path)
    try:
        config = ModelConfig(**model_config(meta))
    except (TypeError, ValueError) as exc:  # unknown keys, wrong types
        raise ModelError(f"{path}: the model's architecture (extra.model_config) is not one this posecast "
                         f"builds ({exc}); re-export the model with this posecast") from None  # fmt: skip
    model = PoseModel(PoseGenerator(config)).eval()
    if meta.extra.get("batchnorm_folded") == "1":  # the file holds the fused Linear weights
        model = fold_batchnorm(model)
    if meta.extra.get("current_frame_head") == "1":  # the file holds the current frame's output rows only
        model.generator.lifter.keep_current_frame_only()
    weights = onnx_weights(path)
    state = model.state_dict()
    for name, tensor in state.items():
        if name.endswith("num_batches_tracked"):
            continue
        if name not in weights or tuple(weights[name].shape) != tuple(tensor.shape):
            found = weights[name].shape if name in weights else "nothing"
            raise ModelError(f"{path}: weight {name} should be {tuple(tensor.shape)}, found {found}; "
                             "the file and its model_config disagree, re-export the model")  # fmt: skip
        tensor.copy_(torch.from_numpy(np.array(weights[name], dtype=np.float32)))
    return model


class TorchCudaBackend(RuntimeBackend):
    """``keypoints_norm (B, T, 17, 2)`` → :class:`LiftOutput` with PyTorch on a CUDA GPU."""

    name = "torch-cuda"

    def __init__(self, model_path: str | Path | None = None, cuda_graph: bool = True, device_index: int = 0,
                 verify: bool = True) -> None:  # fmt: skip
        ok, reason = cuda_device_available()  # cheap; spares a torch import without a GPU
        if not ok:
            raise BackendError(f"the torch-cuda backend needs an NVIDIA GPU, none usable here ({reason})"
                               + USE_ONNXRUNTIME)  # fmt: skip
        torch = _import_torch()
        if not torch.cuda.is_available():
            raise BackendError(f"torch {torch.__version__} cannot use the GPU (its CUDA build: "
                               f"{torch.version.cuda}); install a CUDA build of torch")  # fmt: skip
        self._torch = torch
        self.model_path = resolve_model(model_path)
        check_float_model("torch-cuda", self.model_path)
        self.metadata = read_onnx_metadata(self.model_path)
        self._dev = torch.device("cuda", device_index)
        self._model = build_torch_model(self.model_path, self.metadata).to(self._dev)
        self._graph = None
        if verify:
            self._verify()
        if cuda_graph:
            self._capture_single()
        graph_txt = ", CUDA graph" if self._graph is not None else ""
        self.device = f"{torch.cuda.get_device_name(self._dev)} (torch {torch.__version__}{graph_txt})"

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        ok, reason = cuda_device_available()
        if not ok:
            return False, f"no CUDA GPU ({reason})"
        import importlib.util

        if importlib.util.find_spec("torch") is None or importlib.util.find_spec("onnx") is None:
            return False, f"torch and onnx are not installed; {install_hint('train')}"
        import torch

        if not torch.cuda.is_available():
            return False, f"torch {torch.__version__} has no CUDA support here"
        return True, reason

    def _forward(self, x):  # noqa: ANN001, ANN202
        with self._torch.no_grad():
            return self._model(x)

    def _verify(self) -> None:
        from .onnxruntime_backend import OnnxRuntimeBackend

        rng = np.random.default_rng(0)
        probe = rng.normal(0.0, 0.1, (2, self.metadata.window_frames, 17, 2)).astype(np.float32)
        with OnnxRuntimeBackend(self.model_path) as ref_backend:
            ref = ref_backend.run(probe)
        got = self._eager(probe)
        err = float(np.abs(got.joints_3d - ref.joints_3d).max())
        if err > VERIFY_TOLERANCE * max(1.0, float(np.abs(ref.joints_3d).max())):
            raise ModelError(f"{self.model_path}: torch rebuild differs from ONNX Runtime by {err:.3g}; "
                             "the exporter's weight names changed, use --backend onnxruntime")  # fmt: skip

    def _capture_single(self) -> None:
        torch = self._torch
        shape = (1, self.metadata.window_frames, 17, 2)
        self._static_in = torch.zeros(shape, device=self._dev)
        self._host_in = torch.zeros(shape, pin_memory=True)
        side = torch.cuda.Stream(self._dev)
        side.wait_stream(torch.cuda.current_stream(self._dev))
        with torch.cuda.stream(side), torch.no_grad():  # warm-up before capture (PyTorch's recipe)
            for _ in range(3):
                self._model(self._static_in)
        torch.cuda.current_stream(self._dev).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.no_grad(), torch.cuda.graph(graph):
            self._static_out = self._model(self._static_in)
        self._host_out = tuple(torch.zeros(t.shape, pin_memory=True) for t in self._static_out)
        self._graph = graph

    def _eager(self, x: np.ndarray) -> LiftOutput:
        joints, scale = self._forward(self._torch.from_numpy(x).to(self._dev))
        return LiftOutput(joints_3d=joints.float().cpu().numpy(), scale=scale.float().cpu().numpy())

    def run(self, keypoints_norm: np.ndarray) -> LiftOutput:
        x = check_window(keypoints_norm, self.metadata.window_frames)
        if x.shape[0] != 1 or self._graph is None:
            return self._eager(x)
        self._host_in.numpy()[...] = x
        self._static_in.copy_(self._host_in, non_blocking=True)
        self._graph.replay()
        for host, dev in zip(self._host_out, self._static_out, strict=True):
            host.copy_(dev, non_blocking=True)
        self._torch.cuda.current_stream(self._dev).synchronize()
        joints, scale = (t.numpy().copy() for t in self._host_out)
        return LiftOutput(joints_3d=joints, scale=scale)

    def close(self) -> None:
        self._graph = None
        self._model = None

"""ONNX Runtime on the CPU: the default backend, and the reference every other one is checked against.

Tuned for one small MLP called once per video frame: one intra-op thread (the network is too
small for a second thread to pay for its synchronisation), sequential execution, all graph
optimisations, no spin-waiting (a spinning worker burns a core between frames). Inputs and
outputs go through an I/O binding onto preallocated arrays, which skips the per-call output
allocation of ``InferenceSession.run``. No torch here: this module is on the live path.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from ..errors import BackendError
from ..host import cpu_name
from ..metadata import INPUT_NAME, OUTPUT_NAMES, ModelMetadata, check_graph, onnx_cpu_session
from .base import LiftOutput, RuntimeBackend, check_window, resolve_model

log = logging.getLogger(__name__)


def _import_ort():  # noqa: ANN202 - the onnxruntime module
    try:
        import onnxruntime
    except ImportError as exc:
        raise BackendError(f"onnxruntime is not installed ({exc}); pip install onnxruntime") from exc
    return onnxruntime


class OnnxRuntimeBackend(RuntimeBackend):
    """``keypoints_norm (B, T, 17, 2)`` → :class:`LiftOutput` with ONNX Runtime's CPU provider.

    ``threads``: intra-op threads (1 is fastest for this model, see the benchmark).
    ``int8``: run the dynamically quantised copy (made and cached by
    :func:`posecast.engines.runtime.quantize.cached_int8` on first use). ``spin``: let idle workers spin
    (only matters with ``threads > 1``). ``io_binding``: bind preallocated outputs.
    """

    name = "onnxruntime"

    def __init__(
        self,
        model_path: str | Path | None = None,
        threads: int = 1,
        int8: bool = False,
        spin: bool = False,
        io_binding: bool = True,
    ) -> None:
        ort = _import_ort()
        most = 4 * (os.cpu_count() or 1)  # more only queue on the cores (100,000 made 32,000 threads and 17 GB)
        if not 1 <= threads <= most:
            raise BackendError(f"--threads (onnxruntime's threads) must be from 1 to {most} here, got {threads}")
        source = resolve_model(model_path)
        if int8:
            from .quantize import cached_int8, is_int8_copy  # the onnx package only when building

            if not is_int8_copy(source):  # (an INT8 copy given as the model runs as it is)
                source = cached_int8(source)
        self.model_path = source
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        self._session = onnx_cpu_session(source, options)
        props = self._session.get_modelmeta().custom_metadata_map
        self.metadata: ModelMetadata = ModelMetadata.from_props(props, str(source))
        check_graph(self._session, self.metadata, str(source))
        # what runs, as a bench and the meta report it: an INT8 copy given as --model too (QA: it said float)
        self.int8 = "int8_source_sha256" in self.metadata.extra
        self._ort = ort
        self._io_binding = io_binding
        self._bindings: dict[int, tuple[object, np.ndarray, np.ndarray, object]] = {}
        threads_txt = f"{threads} thread{'s' if threads > 1 else ''}"
        precision = ", int8" if self.int8 else ""
        self.device = f"CPU ({cpu_name()}, onnxruntime {ort.__version__}, {threads_txt}{precision})"

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        try:
            ort = _import_ort()
        except BackendError as exc:
            return False, str(exc)
        return True, f"onnxruntime {ort.__version__} (CPU)"

    def run(self, keypoints_norm: np.ndarray) -> LiftOutput:
        x = check_window(keypoints_norm, self.metadata.window_frames)
        if not self._io_binding:
            joints, scale = self._session.run(list(OUTPUT_NAMES), {INPUT_NAME: x})
            return LiftOutput(joints_3d=joints, scale=scale)
        binding, joints, scale, in_value = self._binding_for(x.shape[0])
        in_value.update_inplace(x)
        self._session.run_with_iobinding(binding)
        return LiftOutput(joints_3d=joints.copy(), scale=scale.copy())

    def _binding_for(self, batch: int) -> tuple[object, np.ndarray, np.ndarray, object]:
        """An I/O binding with preallocated input and outputs for one batch size (cached)."""
        if batch not in self._bindings:
            ort = self._ort
            shape = (batch, self.metadata.window_frames, len(self.metadata.joint_names), 2)
            in_value = ort.OrtValue.ortvalue_from_numpy(np.zeros(shape, np.float32))
            joints = np.empty((batch, len(self.metadata.joint_names), 3), np.float32)
            scale = np.empty((batch, 1), np.float32)
            binding = self._session.io_binding()
            binding.bind_ortvalue_input(INPUT_NAME, in_value)
            for name, arr in zip(OUTPUT_NAMES, (joints, scale), strict=True):
                binding.bind_output(name, "cpu", 0, np.float32, arr.shape, arr.ctypes.data)
            if len(self._bindings) >= 8:  # a handful of batch sizes in practice; bound the memory
                self._bindings.pop(next(iter(self._bindings)))
            self._bindings[batch] = (binding, joints, scale, in_value)
        return self._bindings[batch]

    def close(self) -> None:
        self._bindings.clear()
        self._session = None

"""TensorRT on an NVIDIA GPU (TensorRT 10.x and 11.x Python API, cuda-python for memory).

Build: the ONNX graph is parsed into a network (explicit batch, the only mode since 10.x) with
two optimisation profiles, ``0``: batch 1 exactly (the per-frame step without flip averaging) and
``1``: batch 1..``max_batch``. FP16: TensorRT 10 gets the FP16 builder flag; TensorRT 11 builds
strongly typed networks only, so it is given a mixed-precision graph instead
(:func:`~posecast.engines.runtime.fp16.convert_mlp_to_fp16`). Plans and TensorRT's timing cache
are kept by :mod:`~posecast.engines.runtime.plan_cache`, private and verified against a recorded
sha256 before TensorRT reads them.

Run: device and pinned host buffers sized for ``max_batch`` are allocated once with
cuda-python's runtime API (``cuda.bindings.runtime``; chosen over torch so this backend needs
no torch); each I/O tensor's address is set once; inference is ``execute_async_v3`` on a
dedicated stream, with host↔device copies on the same stream. The batch-1 step (one context on
profile 0) is captured once into a CUDA graph and replayed (with flip averaging the live step is
batch 2: a window and its mirror); other batch sizes run on a second
context (profile 1).

No TensorRT object is created before :func:`~posecast.engines.runtime.gpu.cuda_device_available`
has confirmed a GPU: creating one without a GPU can crash the process.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import BackendError
from ..install import install_hint
from ..metadata import INPUT_NAME, read_onnx_metadata
from .base import USE_ONNXRUNTIME, LiftOutput, RuntimeBackend, check_float_model, check_window, resolve_model
from .gpu import cuda_device_available, cuda_devices
from .plan_cache import PlanCache, PlanKey, read_verified, write_verified

log = logging.getLogger(__name__)

#: The version of :func:`build_plan`'s recipe (profiles, flags, the FP16 graph), in every plan's
#: key: a posecast that builds plans another way never loads one built the old way (review).
#: 2: fp32 without TF32.
PLAN_RECIPE = 2

EXTRA = install_hint("tensorrt")


def _import_tensorrt():  # noqa: ANN202 - the tensorrt module
    try:
        import tensorrt
    except ImportError as exc:
        raise BackendError(f"the tensorrt backend needs TensorRT, not installed here ({exc}); {EXTRA}") from exc
    return tensorrt


def _import_cudart():  # noqa: ANN202 - cuda-python's runtime module
    try:
        from cuda.bindings import runtime as cudart  # cuda-python >= 12.6
    except ImportError:
        try:
            from cuda import cudart  # older cuda-python
        except ImportError as exc:
            raise BackendError(f"the tensorrt backend needs cuda-python, not installed here ({exc}); {EXTRA}") from exc
    return cudart


def _cuda(cudart, result):  # noqa: ANN001, ANN202 - cuda-python returns (error, *values)
    err, *values = result if isinstance(result, tuple) else (result,)
    if err != cudart.cudaError_t.cudaSuccess:
        raise BackendError(f"CUDA runtime call failed with {err!r}; check the driver and free GPU memory")
    return values[0] if len(values) == 1 else values


def trt_major(trt) -> int:  # noqa: ANN001
    return int(str(trt.__version__).split(".")[0])


@dataclass(frozen=True)
class TensorRTBuildOptions:
    """What a plan is built for (every field is part of the plan's cache key)."""

    precision: str = "fp16"  # "fp16" | "fp32"
    max_batch: int = 16
    workspace_mib: int = 512

    def __post_init__(self) -> None:
        if self.precision not in ("fp16", "fp32"):
            raise BackendError(f"precision must be 'fp16' or 'fp32', got {self.precision!r}")
        if not 1 <= self.max_batch <= 4096:
            raise BackendError(f"max_batch must be in 1..4096, got {self.max_batch}")
        if self.workspace_mib < 16:
            raise BackendError(f"workspace_mib must be >= 16, got {self.workspace_mib}")


def build_plan(trt, onnx_bytes: bytes, window_frames: int, options: TensorRTBuildOptions,  # noqa: ANN001
               logger, timing_cache: Path | None = None) -> bytes:  # fmt: skip
    """Parse ``onnx_bytes`` and build a serialised plan (see the module docstring)."""
    strongly_typed = trt_major(trt) >= 11
    if strongly_typed and options.precision == "fp16":
        import onnx

        from .fp16 import convert_mlp_to_fp16

        onnx_bytes = convert_mlp_to_fp16(onnx.load_from_string(onnx_bytes)).SerializeToString()
    builder = trt.Builder(logger)
    flags = 0
    if strongly_typed and hasattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED"):
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_bytes):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise BackendError(f"TensorRT {trt.__version__} could not parse the model: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, options.workspace_mib << 20)
    if options.precision == "fp16" and not strongly_typed:
        config.set_flag(trt.BuilderFlag.FP16)
    if options.precision == "fp32" and hasattr(trt.BuilderFlag, "TF32"):
        config.clear_flag(trt.BuilderFlag.TF32)  # on by default: fp32 would multiply in TF32 on Ampere on (review)
    single = (1, window_frames, 17, 2)
    largest = (options.max_batch, window_frames, 17, 2)
    for low, opt, high in ((single, single, single), (single, largest, largest)):
        profile = builder.create_optimization_profile()
        profile.set_shape(INPUT_NAME, low, opt, high)
        config.add_optimization_profile(profile)
    timing_made_from = {"timing_cache": timing_cache.name} if timing_cache is not None else {}
    cache_bytes = (read_verified(timing_cache, timing_made_from) if timing_cache is not None else None) or b""
    config.set_timing_cache(config.create_timing_cache(cache_bytes), False)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise BackendError(f"TensorRT {trt.__version__} failed to build the engine; see its log above")
    if timing_cache is not None:
        write_verified(timing_cache, bytes(memoryview(config.get_timing_cache().serialize())), timing_made_from)
    return bytes(memoryview(serialized))


class TensorRTBackend(RuntimeBackend):
    """``keypoints_norm (B, T, 17, 2)`` → :class:`LiftOutput` with TensorRT; B ≤ ``max_batch``."""

    name = "tensorrt"

    def __init__(
        self,
        model_path: str | Path | None = None,
        precision: str = "fp16",
        max_batch: int = 16,
        workspace_mib: int = 512,
        cuda_graph: bool = True,
        cache_dir: str | Path | None = None,
        device_index: int = 0,
    ) -> None:
        ok, reason = cuda_device_available()  # before any TensorRT object exists
        if not ok:
            raise BackendError(f"the tensorrt backend needs an NVIDIA GPU, none usable here ({reason})"
                               + USE_ONNXRUNTIME)  # fmt: skip
        trt, cudart = _import_tensorrt(), _import_cudart()
        self._trt, self._cudart = trt, cudart
        self._buffers: list[int] = []
        self._device_ptr: dict[str, int] = {}
        self._graph_exec = self._graph = self._stream = None
        self._ctx_single = self._ctx_batch = self._engine = None
        options = TensorRTBuildOptions(precision, max_batch, workspace_mib)
        self.model_path = resolve_model(model_path)
        check_float_model("tensorrt", self.model_path)
        self.metadata = read_onnx_metadata(self.model_path)
        self.max_batch = max_batch
        try:  # what was allocated is freed when a later step fails (review: buffers and a stream leaked)
            self._start(trt, cudart, options, cache_dir, device_index, cuda_graph)
        except BaseException:
            self.close()
            raise

    def _start(self, trt, cudart, options: TensorRTBuildOptions, cache_dir: str | Path | None,  # noqa: ANN001
               device_index: int, cuda_graph: bool) -> None:  # fmt: skip
        precision, max_batch, workspace_mib = options.precision, options.max_batch, options.workspace_mib
        gpu = cuda_devices()[device_index]
        _cuda(cudart, cudart.cudaSetDevice(device_index))
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        cache = PlanCache(cache_dir)
        onnx_bytes = self.model_path.read_bytes()  # hashed and built from the same bytes
        key = PlanKey(hashlib.sha256(onnx_bytes).hexdigest(), str(trt.__version__), gpu.name, gpu.compute_capability,
                      precision, max_batch, workspace_mib, PLAN_RECIPE)  # fmt: skip
        timing = cache.timing_cache_path(key.trt_version, gpu.name, gpu.compute_capability)
        self._engine, built = cache.load_or_build(
            key,
            lambda: build_plan(trt, onnx_bytes, self.metadata.window_frames, options, self._logger, timing),
            self._runtime.deserialize_cuda_engine,
        )
        self._stream = _cuda(cudart, cudart.cudaStreamCreate())
        self._allocate()
        self._ctx_single = self._context(profile=0, batch=1)
        self._ctx_batch = self._context(profile=1, batch=max_batch)
        self._batch_shape = max_batch
        if cuda_graph:
            self._capture_single()
        graph_txt = ", CUDA graph" if self._graph_exec is not None else ""
        self.device = f"{gpu.name} (TensorRT {trt.__version__}, {precision}{graph_txt})"
        log.debug("tensorrt engine ready (%s plan)", "new" if built else "cached")

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        ok, reason = cuda_device_available()
        if not ok:
            return False, f"no CUDA GPU ({reason})"
        import importlib.util

        if importlib.util.find_spec("tensorrt") is None:
            return False, f"TensorRT is not installed; {EXTRA}"
        try:  # (review: "cuda" alone is also another package's namespace, e.g. cuda-pathfinder's)
            _import_cudart()
        except BackendError:
            return False, f"cuda-python is not installed; {EXTRA}"
        return True, reason

    def _allocate(self) -> None:
        """Pinned host + device buffers for ``max_batch`` per I/O tensor."""
        trt, cudart, engine = self._trt, self._cudart, self._engine
        self._host: dict[str, np.ndarray] = {}
        self._device_ptr: dict[str, int] = {}
        self._inputs: list[str] = []
        self._outputs: list[str] = []
        for i in range(engine.num_io_tensors):
            name = engine.get_tensor_name(i)
            dtype = np.dtype(trt.nptype(engine.get_tensor_dtype(name)))
            shape = (self.max_batch, *tuple(engine.get_tensor_shape(name))[1:])
            nbytes = int(np.prod(shape)) * dtype.itemsize
            host_ptr = _cuda(cudart, cudart.cudaMallocHost(nbytes))
            self._buffers.append(host_ptr)
            raw = (ctypes.c_byte * nbytes).from_address(int(host_ptr))
            self._host[name] = np.frombuffer(raw, dtype=dtype).reshape(shape)
            dev_ptr = _cuda(cudart, cudart.cudaMalloc(nbytes))
            self._device_ptr[name] = int(dev_ptr)
            is_input = engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
            (self._inputs if is_input else self._outputs).append(name)
        if self._inputs != [INPUT_NAME] or set(self._outputs) != {"joints_3d", "scale"}:
            raise BackendError(f"engine has I/O {self._inputs} → {self._outputs}, expected "
                               f"['{INPUT_NAME}'] → ['joints_3d', 'scale']; re-export the model")  # fmt: skip

    def _context(self, profile: int, batch: int):  # noqa: ANN202 - IExecutionContext
        ctx = self._engine.create_execution_context()
        if ctx is None:
            raise BackendError("TensorRT could not create an execution context (out of GPU memory?)")
        ctx.set_optimization_profile_async(profile, int(self._stream))
        _cuda(self._cudart, self._cudart.cudaStreamSynchronize(self._stream))
        ctx.set_input_shape(INPUT_NAME, (batch, self.metadata.window_frames, 17, 2))
        for name, ptr in self._device_ptr.items():
            ctx.set_tensor_address(name, ptr)
        return ctx

    def _enqueue(self, ctx, batch: int) -> None:  # noqa: ANN001
        """Copies in, inference, copies out, all queued on the stream (nothing waits here)."""
        cudart, kind = self._cudart, self._cudart.cudaMemcpyKind
        for name in self._inputs:
            nbytes = self._host[name][:batch].nbytes
            _cuda(cudart, cudart.cudaMemcpyAsync(self._device_ptr[name], self._host[name].ctypes.data, nbytes,
                                                 kind.cudaMemcpyHostToDevice, self._stream))  # fmt: skip
        if not ctx.execute_async_v3(int(self._stream)):
            raise BackendError("TensorRT execute_async_v3 failed; see its log above")
        for name in self._outputs:
            nbytes = self._host[name][:batch].nbytes
            _cuda(cudart, cudart.cudaMemcpyAsync(self._host[name].ctypes.data, self._device_ptr[name], nbytes,
                                                 kind.cudaMemcpyDeviceToHost, self._stream))  # fmt: skip

    def _capture_single(self) -> None:
        """Capture the batch-1 step into a CUDA graph; on failure keep running it eagerly."""
        cudart = self._cudart
        self._enqueue(self._ctx_single, 1)  # a first run does shape-dependent setup outside capture
        _cuda(cudart, cudart.cudaStreamSynchronize(self._stream))
        mode = cudart.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal
        try:
            _cuda(cudart, cudart.cudaStreamBeginCapture(self._stream, mode))
            try:
                self._enqueue(self._ctx_single, 1)
            finally:
                self._graph = _cuda(cudart, cudart.cudaStreamEndCapture(self._stream))
            self._graph_exec = _cuda(cudart, cudart.cudaGraphInstantiate(self._graph, 0))
        except BackendError as exc:
            log.warning("CUDA graph capture failed (%s): running batch 1 without it", exc)
            self._graph_exec = None

    def run(self, keypoints_norm: np.ndarray) -> LiftOutput:
        x = check_window(keypoints_norm, self.metadata.window_frames, self.max_batch)
        batch, cudart = x.shape[0], self._cudart
        np.copyto(self._host[INPUT_NAME][:batch], x)
        if batch == 1 and self._graph_exec is not None:
            _cuda(cudart, cudart.cudaGraphLaunch(self._graph_exec, self._stream))
        else:
            ctx = self._ctx_single if batch == 1 else self._ctx_batch
            if ctx is self._ctx_batch and batch != self._batch_shape:
                ctx.set_input_shape(INPUT_NAME, x.shape)
                self._batch_shape = batch
            self._enqueue(ctx, batch)
        _cuda(cudart, cudart.cudaStreamSynchronize(self._stream))
        return LiftOutput(joints_3d=self._host["joints_3d"][:batch].copy(), scale=self._host["scale"][:batch].copy())

    def close(self) -> None:
        cudart = self._cudart
        if self._stream is not None:
            cudart.cudaStreamSynchronize(self._stream)
        if self._graph_exec is not None:
            cudart.cudaGraphExecDestroy(self._graph_exec)
        if self._graph is not None:
            cudart.cudaGraphDestroy(self._graph)
        self._graph_exec = self._graph = None
        self._ctx_single = self._ctx_batch = self._engine = None
        for ptr in getattr(self, "_device_ptr", {}).values():
            cudart.cudaFree(ptr)
        for ptr in self._buffers:
            cudart.cudaFreeHost(ptr)
        self._device_ptr, self._buffers, self._host = {}, [], {}
        if self._stream is not None:
            cudart.cudaStreamDestroy(self._stream)
            self._stream = None

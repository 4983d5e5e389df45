"""Runtime backends for the exported lifter, behind one interface (:class:`RuntimeBackend`).

``load_backend("auto")`` picks the fastest that works here, in the order of :data:`BACKENDS`
(tensorrt → torch-cuda → onnxruntime), and logs its choice once. Importing this package
imports neither torch nor TensorRT.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import numpy as np

from ..errors import BackendError, ModelError, PosecastError
from ..host import cpu_name
from ..metadata import EXPORTER, load_error_text
from .base import DEFAULT_MODEL, USE_ONNXRUNTIME, LiftOutput, RuntimeBackend, check_window
from .gpu import cuda_device_available
from .onnxruntime_backend import OnnxRuntimeBackend
from .tensorrt_backend import TensorRTBackend
from .torch_cuda import TorchCudaBackend

log = logging.getLogger(__name__)

#: name → backend class, fastest first (the order "auto" tries them in where a CUDA GPU is found;
#: without one "auto" takes onnxruntime). A new backend is one entry here: ``--backend NAME``
#: takes it, and gets the options its constructor accepts (``threads``, ``int8``).
BACKENDS: dict[str, type[RuntimeBackend]] = {
    "tensorrt": TensorRTBackend,
    "torch-cuda": TorchCudaBackend,
    "onnxruntime": OnnxRuntimeBackend,
}

#: posecast's own backends: a failure of theirs on the test window is the model's
_BUILT_IN = (TensorRTBackend, TorchCudaBackend, OnnxRuntimeBackend)

__all__ = [
    "BACKENDS", "DEFAULT_MODEL", "LiftOutput", "RuntimeBackend", "availability", "backend_accepts", "check_window",
    "cpu_name", "cuda_device_available", "load_backend",
]  # fmt: skip


def availability() -> dict[str, tuple[bool, str]]:
    """Each backend's ``(usable here, why or why not)``, without loading a model."""
    return {name: cls.availability() for name, cls in BACKENDS.items()}


#: Whether the CPU fallback was said already (it is the same for every model of a process).
_told_no_gpu = False


def load_backend(name: str = "auto", model_path: str | Path | None = None, **options: object) -> RuntimeBackend:
    """Load ``model_path`` (default: the shipped model) on backend ``name`` or the best one ("auto").

    ``options`` go to the chosen backend's constructor (e.g. ``threads=2`` for onnxruntime,
    ``max_batch=32`` for tensorrt); with "auto" each backend gets only the options it accepts.
    Raises :class:`BackendError` for an unknown or unusable backend.
    """
    if name != "auto":
        if name not in BACKENDS:
            raise BackendError(f"unknown backend {name!r}; choose one of auto, {', '.join(BACKENDS)}")
        return _checked(_started(name, BACKENDS[name], model_path, options))
    global _told_no_gpu
    gpu_ok, gpu_reason = cuda_device_available()
    if not gpu_ok:
        backend = OnnxRuntimeBackend(model_path, **_accepted(OnnxRuntimeBackend, options))
        # once a process: `bench` loads a lifter per configuration and said it for each (QA)
        log.log(logging.DEBUG if _told_no_gpu else logging.INFO, "backend: onnxruntime (CPU): no CUDA GPU found (%s)",
                gpu_reason)  # fmt: skip
        _told_no_gpu = True
        return _checked(backend)
    for candidate, cls in BACKENDS.items():
        try:  # a GPU backend that gives no finite numbers (e.g. an FP16 overflow) falls back like one missing
            backend = _checked(_started(candidate, cls, model_path, _accepted(cls, options)))
        except PosecastError as exc:  # e.g. no TensorRT, or a model torch-cuda cannot rebuild
            if cls is OnnxRuntimeBackend:
                raise
            log.warning("backend %s unavailable: %s; trying the next", candidate, exc)
            continue
        log.info("backend: %s on %s", candidate, backend.device)
        return backend
    raise AssertionError("unreachable: onnxruntime either loads or raises")


def _started(name: str, cls: type[RuntimeBackend], model_path: str | Path | None, options: dict) -> RuntimeBackend:
    """``cls(model_path, **options)``; a GPU backend's own failure to start (TensorRT unable to
    initialise CUDA under an older driver raises pybind11's ``TypeError``; torch raises
    ``RuntimeError`` for a GPU its wheel has no kernels for, or out of memory) as one
    :class:`BackendError`, so that ``auto`` goes on to the next (review: a traceback, no fallback)."""
    try:
        return cls(model_path, **options)
    except PosecastError:
        raise
    except Exception as exc:
        if cls is OnnxRuntimeBackend:
            raise
        reason = (str(exc).strip().splitlines() or [""])[0]
        raise BackendError(f"the {name} backend could not start on this GPU ({type(exc).__name__}: {reason}); check "
                           "that the NVIDIA driver is new enough for its CUDA" + USE_ONNXRUNTIME) from exc


def _checked(backend: RuntimeBackend) -> RuntimeBackend:
    """``backend`` once one window has lifted to finite numbers. A model whose weights hold NaN or
    infinity loads and runs, and every pose came out not a number: ``posecast run`` published
    nobody (exit 0) and calibration blamed the footage. Any healthy model gives finite numbers
    for any spread-out input; this one is fixed (seeded), a few body sizes across the image."""
    window = np.random.default_rng(0).normal(0.0, 0.2, (1, backend.metadata.window_frames, 17, 2))
    path = getattr(backend, "model_path", "the model")
    try:
        out = backend.run(window.astype(np.float32))
        finite = bool(np.isfinite(out.joints_3d).all() and np.isfinite(out.scale).all())
    except BaseException as exc:
        with contextlib.suppress(Exception):  # the error to report is the probe's
            backend.close()
        if isinstance(exc, Exception) and not isinstance(exc, PosecastError) and type(backend) not in _BUILT_IN:
            # a backend added to BACKENDS: its own code, not the model (QA: "re-export the model" was the advice)
            raise BackendError(f"backend {backend.name or type(backend).__name__} fails on a test window of the model "
                               f"{path} ({type(exc).__name__}: {exc}): its run() must return a LiftOutput for "
                               "windows (B, T, 17, 2) (README, Where to change what)") from None  # fmt: skip
        if isinstance(exc, Exception) and not isinstance(exc, PosecastError):
            # a graph its metadata does not describe (an output's real shape, an op this runtime
            # lacks) loads and fails only when run: the runtime's own error, in one line
            gpu = backend.name != "onnxruntime"
            device = "; a fault of the device (memory, driver): --backend onnxruntime" if gpu else ""
            raise ModelError(
                f"the model {path} fails on a test window on {backend.name} ({load_error_text(exc)}): re-export it "
                f"with {EXPORTER}, or run a shipped model (--model NAME){device}"
            ) from None
        raise
    if not finite:
        with contextlib.suppress(Exception):
            backend.close()
        raise ModelError(f"the model {path} gives no finite 3D on {backend.name} (its weights hold NaN or infinity?): "
                         "re-export it, or run a shipped model (--model NAME: README, Models)")  # fmt: skip
    return backend


def backend_accepts(name: str, option: str) -> bool:
    """Whether backend ``name``'s constructor takes ``option`` ("auto": the CPU one's do)."""
    cls = OnnxRuntimeBackend if name == "auto" else BACKENDS.get(name)
    return cls is not None and option in _accepted(cls, {option: None})


def _accepted(cls: type[RuntimeBackend], options: dict[str, object]) -> dict[str, object]:
    import inspect

    params = inspect.signature(cls.__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):  # **options: takes them all (review)
        return dict(options)
    return {k: v for k, v in options.items() if k in params}

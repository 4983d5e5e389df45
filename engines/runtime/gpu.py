"""Is there a usable NVIDIA GPU? Asked of the CUDA driver directly, through ctypes.

TensorRT (and some CUDA libraries) can crash the process when their objects are created on a
machine without a GPU, so every GPU backend calls :func:`cuda_device_available` *before*
importing them. Nothing here needs ``nvidia-smi``, torch or cuda-python: it loads the driver
library (``libcuda.so.1`` / ``nvcuda.dll``), calls ``cuInit`` and ``cuDeviceGetCount``.
``CUDA_VISIBLE_DEVICES=""`` hides the GPUs from it as from every CUDA program.
"""

from __future__ import annotations

import ctypes
import sys
from dataclasses import dataclass
from functools import lru_cache

# CUdevice_attribute values from cuda.h (stable across CUDA versions).
_ATTR_CC_MAJOR = 75
_ATTR_CC_MINOR = 76


@dataclass(frozen=True)
class CudaDevice:
    """One CUDA device as the driver reports it."""

    index: int
    name: str
    compute_capability: str  # e.g. "9.0"
    total_memory_mib: int


def _load_driver() -> ctypes.CDLL:
    if sys.platform == "darwin":  # (review: every run on a Mac named a Linux library it lacked)
        raise OSError("macOS has no CUDA")
    names = ("nvcuda.dll",) if sys.platform == "win32" else ("libcuda.so.1", "libcuda.so")
    for name in names:
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    # (README QA: the list of library names read like a failure on every machine without an NVIDIA GPU)
    raise OSError(f"no NVIDIA driver installed: {names[0]} not found")


@lru_cache(maxsize=1)
def _probe() -> tuple[tuple[CudaDevice, ...], str]:
    try:
        cuda = _load_driver()
    except OSError as exc:
        return (), str(exc)
    status = cuda.cuInit(0)
    if status != 0:
        return (), f"cuInit failed with CUDA driver error {status} (no usable GPU or driver)"
    count = ctypes.c_int(0)
    status = cuda.cuDeviceGetCount(ctypes.byref(count))
    if status != 0 or count.value == 0:
        return (), f"the CUDA driver reports no devices (error {status}, CUDA_VISIBLE_DEVICES may hide them)"
    devices = []
    for index in range(count.value):
        handle = ctypes.c_int(0)
        if cuda.cuDeviceGet(ctypes.byref(handle), index) != 0:
            continue
        name = ctypes.create_string_buffer(256)
        cuda.cuDeviceGetName(name, len(name), handle)
        major, minor, total = ctypes.c_int(0), ctypes.c_int(0), ctypes.c_size_t(0)
        cuda.cuDeviceGetAttribute(ctypes.byref(major), _ATTR_CC_MAJOR, handle)
        cuda.cuDeviceGetAttribute(ctypes.byref(minor), _ATTR_CC_MINOR, handle)
        total_mem = getattr(cuda, "cuDeviceTotalMem_v2", None) or cuda.cuDeviceTotalMem
        total_mem(ctypes.byref(total), handle)
        devices.append(CudaDevice(index, name.value.decode(errors="replace"), f"{major.value}.{minor.value}",
                                  total.value // 2**20))  # fmt: skip
    if not devices:
        return (), "the CUDA driver lists devices but none could be queried"
    return tuple(devices), f"{len(devices)} CUDA device(s): {devices[0].name}"


def cuda_devices() -> tuple[CudaDevice, ...]:
    """The CUDA devices the driver reports (empty without a GPU/driver); cached per process."""
    return _probe()[0]


def cuda_device_available() -> tuple[bool, str]:
    """``(True, "1 CUDA device(s): NVIDIA H100 ...")`` or ``(False, why not)``; never raises."""
    devices, reason = _probe()
    return bool(devices), reason

"""Facts about the machine this runs on, read once: the CPU's model and feature flags
(``/proc/cpuinfo`` on Linux), the cores this process may use and the memory. Backends name the
CPU, training chooses bf16 from the flags, the benchmark records them all."""

from __future__ import annotations

import os
import platform
from functools import lru_cache


@lru_cache(maxsize=1)
def cpuinfo() -> dict[str, str]:
    """The first CPU's ``model name``, ``flags`` (``features`` on ARM) and ``cache size`` from
    ``/proc/cpuinfo``; empty off Linux."""
    info: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip().lower()
                if key in ("model name", "flags", "features", "cache size") and key not in info:
                    info[key] = value.strip()
    except OSError:
        pass
    return info


def cpu_name() -> str:
    """The CPU model (``/proc/cpuinfo`` "model name" on Linux), else :func:`platform.processor`."""
    return cpuinfo().get("model name") or platform.processor() or platform.machine() or "unknown CPU"


def cpu_flags() -> set[str] | None:
    """The CPU's feature flags (Linux), else ``None``."""
    info = cpuinfo()
    text = info.get("flags") or info.get("features")
    return set(text.split()) if text is not None else None


#: CPU feature flags worth knowing for the networks (SIMD widths, int8 dot products, bf16, AMX).
FLAGS_OF_INTEREST = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16",
                     "amx_tile", "amx_int8", "amx_bf16", "neon", "asimd", "asimddp")  # fmt: skip


def flags_of_interest() -> list[str]:
    """Those of :data:`FLAGS_OF_INTEREST` this CPU has (empty where the flags cannot be read): two
    CPUs of one model name may differ here (an AVX2-only and an AVX-512 "AMD EPYC")."""
    flags = cpu_flags() or set()
    return [flag for flag in FLAGS_OF_INTEREST if flag in flags]


def usable_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages (``None`` where the OS has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):  # (Windows has no getloadavg)
        return None


def memory_gb() -> float | None:
    """Total memory in GiB (``/proc/meminfo``), else ``None``."""
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None

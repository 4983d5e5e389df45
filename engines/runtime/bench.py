"""Latency benchmark of runtime backends: p50/p99 per call, host↔device copies included.

Each record is one (backend, batch size): warm-up calls first, then ``iters`` timed calls of
:meth:`RuntimeBackend.run` (which returns host arrays, so GPU copies and synchronisation are
inside the timing). A backend that cannot run here is one record with ``status`` ``skipped``,
the ``reason`` and no timings (:func:`skipped`). Results go to JSON (a list of records) and a
Markdown table.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..fileio import file_sha256
from ..host import flags_of_interest, load_average
from ..install import installed_versions
from .base import RuntimeBackend

#: ``BenchRecord.status`` of a measured record and of a backend that could not run here
MEASURED, SKIPPED = "measured", "skipped"


@dataclass
class BenchRecord:
    """One backend at one batch size (times in milliseconds per call unless named per frame), or
    a backend not measured: ``status`` :data:`SKIPPED`, the ``reason``, ``None`` for the batch,
    the timings and the device."""

    backend: str
    batch: int | None
    iters: int | None
    p50_ms: float | None
    p99_ms: float | None
    mean_ms: float | None
    p50_ms_per_frame: float | None
    p99_ms_per_frame: float | None
    device: str | None
    host: str
    date: str
    model: str
    window_frames: int | None
    status: str = MEASURED
    reason: str = ""
    #: the model file's sha256 (two records measured the same model when these match, whatever its
    #: name) and the versions the times depend on: to compare records of two runs
    model_sha256: str | None = None
    versions: dict[str, str] | None = None
    #: the CPU's flags of interest (two CPUs of one name, AVX2-only or AVX-512, differ here: QA) and
    #: the untimed calls before the timed ones
    cpu_flags: list[str] | None = None
    warmup: int | None = None
    #: whether the INT8 copy ran (onnxruntime on the CPU by default; ``None`` when not measured)
    int8: bool | None = None
    #: the system's 1-minute load average as the record was measured (``None`` where there is none):
    #: records of runs on a busy machine differ (QA: batch 1 p50 0.094 or 0.164 ms, six runs in a row)
    load_average_1min: float | None = None


def benchmark(backend: RuntimeBackend, batches: tuple[int, ...] = (1, 4, 16), iters: int = 200,
              warmup: int = 20, seed: int = 0) -> list[BenchRecord]:  # fmt: skip
    """Time ``backend.run`` on random windows ``(B, T, 17, 2)`` for each batch size ``B``."""
    if iters < 1 or warmup < 0:
        raise ValueError(f"iters must be >= 1 and warmup >= 0, got {iters}, {warmup}")
    rng = np.random.default_rng(seed)
    frames = backend.metadata.window_frames
    records = []
    for batch in batches:
        x = rng.normal(0.0, 0.1, (batch, frames, 17, 2)).astype(np.float32)
        for _ in range(warmup):
            backend.run(x)
        times_ns = np.empty(iters, dtype=np.int64)
        for i in range(iters):
            start = time.perf_counter_ns()
            backend.run(x)
            times_ns[i] = time.perf_counter_ns() - start
        ms = times_ns / 1e6
        p50, p99 = float(np.percentile(ms, 50)), float(np.percentile(ms, 99))
        records.append(BenchRecord(
            backend=backend.name, batch=batch, iters=iters, p50_ms=round(p50, 4), p99_ms=round(p99, 4),
            mean_ms=round(float(ms.mean()), 4), p50_ms_per_frame=round(p50 / batch, 4),
            p99_ms_per_frame=round(p99 / batch, 4), device=backend.device, host=platform.node(),
            date=_now_iso(),
            model=backend.model_path.name, window_frames=frames, model_sha256=file_sha256(backend.model_path),
            versions=installed_versions(("posecast", "numpy", "onnxruntime", "onnxruntime-gpu", "tensorrt", "torch")),
            cpu_flags=flags_of_interest(), warmup=warmup, int8=bool(getattr(backend, "int8", False)),
            load_average_1min=(load_average() or [None])[0],
        ))  # fmt: skip
    return records



def skipped(backend: str, reason: str, model: str | Path) -> BenchRecord:
    """The record of ``backend``, not measured because of ``reason`` (``no NVIDIA GPU ...``)."""
    return BenchRecord(
        backend=backend, batch=None, iters=None, p50_ms=None, p99_ms=None, mean_ms=None, p50_ms_per_frame=None,
        p99_ms_per_frame=None, device=None, host=platform.node(), date=_now_iso(), model=Path(model).name,
        window_frames=None, status=SKIPPED, reason=reason,
    )  # fmt: skip


def _now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def json_bytes(records: list[BenchRecord]) -> bytes:
    """The records as the JSON ``engines bench --json`` writes."""
    return (json.dumps([asdict(r) for r in records], indent=2) + "\n").encode()


def to_markdown(records: list[BenchRecord]) -> str:
    """A Markdown table, one row per record (a skipped backend: dashes, and the reason as its device)."""
    models = len({r.model for r in records}) > 1  # a column for the model when several were measured
    lines = [
        ("| model " if models else "") + "| backend | batch | p50 ms | p99 ms | p50 ms/frame | p99 ms/frame | device |",
        ("|---" if models else "") + "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in records:
        if r.status == SKIPPED:
            cells = (r.backend, "–", "–", "–", "–", "–", f"skipped: {' '.join(r.reason.split())}")
        else:
            cells = (r.backend, r.batch, f"{r.p50_ms:.3f}", f"{r.p99_ms:.3f}", f"{r.p50_ms_per_frame:.3f}",
                     f"{r.p99_ms_per_frame:.3f}", r.device)  # fmt: skip
        cells = ((r.model,) if models else ()) + cells
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    measured = [r for r in records if r.status != SKIPPED]
    if measured:
        first = measured[0]
        model = "Models in the first column" if models else f"Model {first.model} (T = {first.window_frames})"
        lines.append(f"\n{model}, host {first.host}, {first.date}, {first.iters} timed calls each after "
                     "warm-up.")  # fmt: skip
    return "\n".join(lines) + "\n"

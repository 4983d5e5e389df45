"""Latency benchmark of runtime backends: p50/p99 per call, host↔device copies included.

Each record is one (backend, batch size): warm-up calls first, then ``iters`` timed calls of
:meth:`RuntimeBackend.run` (which returns host arrays, so GPU copies and synchronisation are
inside the timing). Results go to JSON (a list of records) and a Markdown table.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..fileio import atomic_write
from .base import RuntimeBackend


@dataclass
class BenchRecord:
    """One backend at one batch size (times in milliseconds per call unless named per frame)."""

    backend: str
    batch: int
    iters: int
    p50_ms: float
    p99_ms: float
    mean_ms: float
    p50_ms_per_frame: float
    p99_ms_per_frame: float
    device: str
    host: str
    date: str
    model: str
    window_frames: int


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
            date=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            model=backend.model_path.name, window_frames=frames,
        ))  # fmt: skip
    return records


def write_json(records: list[BenchRecord], path: str | Path) -> Path:
    return atomic_write(path, (json.dumps([asdict(r) for r in records], indent=2) + "\n").encode())


def to_markdown(records: list[BenchRecord]) -> str:
    """A Markdown table, one row per record."""
    lines = [
        "| backend | batch | p50 ms | p99 ms | p50 ms/frame | p99 ms/frame | device |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in records:
        cells = (r.backend, r.batch, f"{r.p50_ms:.3f}", f"{r.p99_ms:.3f}", f"{r.p50_ms_per_frame:.3f}",
                 f"{r.p99_ms_per_frame:.3f}", r.device)  # fmt: skip
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    if records:
        lines.append(f"\nModel {records[0].model} (T = {records[0].window_frames}), host {records[0].host}, "
                     f"{records[0].date}, {records[0].iters} timed calls each after warm-up.")  # fmt: skip
    return "\n".join(lines) + "\n"

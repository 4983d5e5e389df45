"""``posecast bench``: the live pipeline's latency per stage and end to end, against MediaPipe
alone on the same frames in the same run.

``clip`` (the frames, decoded once, replayed unpaced or like a camera) → ``runner`` (phases:
warm-up, interleaved latency rounds, paced runs, soak) with ``passes`` (one pass through
posecast or the ``baseline``), a ``receiver`` (the subscriber process) and ``machine``
(resources, the machine) → ``analysis`` (the report) → ``report`` (JSON, Markdown, the table)
and ``plots`` (PNGs). ``stats`` holds the percentile maths and the report's consistency checks.
"""

from __future__ import annotations

from .analysis import build_report
from .plots import write_plots
from .report import write_reports
from .runner import BenchConfig, BenchOptions, BenchResult, SoakHook, run_benchmark
from .stats import check_report, summarise_ms

__all__ = [
    "BenchConfig", "BenchOptions", "BenchResult", "SoakHook", "build_report", "check_report", "run_benchmark",
    "summarise_ms", "write_plots", "write_reports",
]  # fmt: skip

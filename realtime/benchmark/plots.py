"""The benchmark's pictures (matplotlib, optional): per-stage latency distributions, latency over
time, and queue depth, CPU and memory over time. Small PNGs (about 50 kB each).

matplotlib is not a dependency of the live pipeline: ``pip install "posecast[bench]"`` adds
it; without it :func:`write_plots` says so and writes nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ...engines.fileio import atomic_path
from ...engines.plotting import pyplot
from .analysis import STAGE_ORDER, STAGE_TITLES, message_times_ns
from .runner import BenchResult

log = logging.getLogger(__name__)

MISSING = 'plots skipped: matplotlib is not installed (pip install "posecast[bench]")'


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".")[:2] if p.isdigit())


def _save(fig, path: Path) -> Path:  # noqa: ANN001 - a matplotlib Figure
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=80)
    return path


def _stage_series(result: BenchResult) -> list[tuple[str, np.ndarray]]:
    log_ = result.latency[result.configs[0].label]
    posed = log_.people > 0
    series = [(STAGE_TITLES["capture_decode"].split(" (")[0], result.clip.decode_ns / 1e6)]
    series += [(STAGE_TITLES.get(k, k), log_.stage_ns[k][posed] / 1e6) for k in STAGE_ORDER[1:] if k in log_.stage_ns]
    before = sum(np.nan_to_num(log_.stage_ns.get(k, np.zeros(log_.frames))) for k in ("handoff_2d", "keypoints2d"))
    series.append(("everything after MediaPipe", (log_.delivered_ns - log_.capture_ns - before)[posed] / 1e6))
    series.append(("capture → delivered", (log_.delivered_ns - log_.capture_ns)[posed] / 1e6))
    t = message_times_ns(log_, result.received, posed)  # the same messages: published ≤ received
    series.append(("capture → published", (t["publish"] - t["capture"]) / 1e6))
    series.append(("capture → received", (t["receive"] - t["capture"]) / 1e6))
    base = result.baseline
    series.append(("MediaPipe alone (baseline)", base.stage_ns["keypoints2d"][base.people > 0] / 1e6))
    return [(name, v[np.isfinite(v) & (v > 0)]) for name, v in series if len(v)]


def plot_stages(plt, result: BenchResult, path: Path) -> Path:  # noqa: ANN001 - matplotlib.pyplot
    series = _stage_series(result)
    fig, ax = plt.subplots(figsize=(8, 0.42 * len(series) + 1.2))
    import matplotlib

    horizontal = {"orientation": "horizontal"} if _version(matplotlib.__version__) >= (3, 10) else {"vert": False}
    ax.boxplot([v for _, v in series], whis=(1, 99), showfliers=True, widths=0.6,
               flierprops={"markersize": 2, "alpha": 0.4}, **horizontal)  # fmt: skip
    ax.set_yticks(range(1, len(series) + 1), [name for name, _ in series], fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("milliseconds per frame (box: quartiles, whiskers: p1–p99)")
    ax.set_title(f"posecast per-stage latency — {result.configs[0].label}", fontsize=9)
    ax.grid(axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def _phase_logs(result: BenchResult) -> list[tuple[str, object]]:
    """Every measured phase's frame log: each configuration's latency run (the first alone was
    plotted: a --backend all run showed one backend over time), the paced runs, the soak."""
    logs = [(f"latency ({c.label})", result.latency[c.label]) for c in result.configs if c.label in result.latency]
    logs += [(f"paced {pace:g} fps", pl) for pace, pl in result.paced.items()]
    if result.soak is not None:
        logs.append((f"soak {result.options.soak_pace_fps:g} fps", result.soak))
    return logs


def plot_timeline(plt, result: BenchResult, path: Path) -> Path:  # noqa: ANN001 - matplotlib.pyplot
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5.5), sharex=True)
    t0 = result.sampler.t0_ns
    base = result.baseline
    if base.frames:
        top.plot((base.capture_ns - t0) / 1e9, base.stage_ns["keypoints2d"] / 1e6, ".", ms=1.5, color="0.6",
                 label="MediaPipe alone")  # fmt: skip
    for name, pl in _phase_logs(result):
        if not pl.frames:
            continue
        t = (pl.capture_ns - t0) / 1e9
        before = sum(np.nan_to_num(pl.stage_ns.get(k, np.zeros(pl.frames))) for k in ("handoff_2d", "keypoints2d"))
        top.plot(t, (pl.delivered_ns - pl.capture_ns) / 1e6, ".", ms=1.5, label=name)
        bottom.plot(t, (pl.delivered_ns - pl.capture_ns - before) / 1e6, ".", ms=1.5, label=name)
    top.set_ylabel("capture → delivered, ms")
    bottom.set_ylabel("after MediaPipe, ms")
    bottom.set_xlabel("seconds since the start")
    top.legend(fontsize=7, markerscale=5, loc="upper right")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    top.set_title("latency over time", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def plot_resources(plt, result: BenchResult, path: Path) -> Path:  # noqa: ANN001 - matplotlib.pyplot
    fig, (mem, cpu, depth) = plt.subplots(3, 1, figsize=(8, 6), sharex=True)
    samples = result.sampler.samples
    t = [s.time_s for s in samples]
    mem.plot(t, [s.rss_mb for s in samples], color="C0")
    mem.set_ylabel("resident MB")
    cpu.plot(t, [s.cpu_percent for s in samples], color="C1")
    cpu.set_ylabel("CPU % of a core")
    for name, (a, b) in result.phases.items():
        for ax in (mem, cpu, depth):
            ax.axvspan(a, b, alpha=0.06, color="k")
        mem.annotate(name, (a, 1.0), xycoords=("data", "axes fraction"), fontsize=7, va="top")
    t0_ns = result.sampler.t0_ns
    for name, pl in _phase_logs(result):
        for depths, what, lift in ((pl.capture_depth, "capture", 0.04), (pl.handoff_depth, "2D → 3D", 0.0)):
            if depths:
                times = (np.array([ns for ns, _ in depths]) - t0_ns) / 1e9
                depth.step(times, np.array([d for _, d in depths]) + lift, where="post", lw=0.8,
                           label=f"{what}, {name}")  # fmt: skip
    depth.set_ylim(-0.1, 1.5)
    depth.set_ylabel("frames waiting")
    depth.set_xlabel("seconds since the start")
    if depth.get_legend_handles_labels()[0]:
        depth.legend(fontsize=6, loc="upper right", ncol=2)
    for ax in (mem, cpu, depth):
        ax.grid(alpha=0.3)
    mem.set_title("memory, CPU and hand-off depth over the run", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def write_plots(result: BenchResult, folder: Path) -> list[Path]:
    """``bench_stages.png``, ``bench_timeline.png``, ``bench_resources.png`` in ``folder``;
    none (and one log line) without matplotlib."""
    plt = pyplot()
    if plt is None:
        log.warning(MISSING)
        return []
    paths = []
    for name, plot in (("bench_stages.png", plot_stages), ("bench_timeline.png", plot_timeline),
                       ("bench_resources.png", plot_resources)):  # fmt: skip
        try:
            paths.append(plot(plt, result, folder / name))
        finally:
            plt.close("all")
    return paths

"""The training log: ``log.csv`` (one row per logged step, columns added as they appear) and
``losses.png`` (loss curves and evaluation metrics)."""

from __future__ import annotations

import csv
import functools
import logging
import math
from pathlib import Path

import numpy as np

from ..fileio import atomic_path
from ..plotting import pyplot

log = logging.getLogger(__name__)


def _rewrite(path: Path, fields: list[str], rows: list[dict[str, str]]) -> None:
    """``path`` written anew, whole or not at all (an interrupt never leaves half a log)."""
    with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def truncate_csv(path: Path, last_step: int) -> float:
    """Drop the rows after ``last_step``: on resuming from a checkpoint the steps logged after it
    are trained (and logged) again. Returns the training time logged at the last row kept (0 for
    none), where a resumed run's ``time_s`` goes on from."""
    if not path.exists():
        return 0.0
    with path.open() as f:
        reader = csv.DictReader(f)
        rows, fields = list(reader), list(reader.fieldnames or [])
    kept = [r for r in rows if float(r.get("step") or 0) <= last_step]
    if len(kept) != len(rows):
        _rewrite(path, fields, kept)
    try:
        return float(kept[-1]["time_s"]) if kept else 0.0
    except (KeyError, TypeError, ValueError):  # a log without the column: the clock starts again
        return 0.0


def append_csv(path: Path, row: dict[str, float]) -> None:
    new = not path.exists()
    fields = list(row)
    if not new:
        with path.open() as f:
            header = next(csv.reader(f), [])
        fields = header + [k for k in row if k not in header]
        if fields != header:  # new columns (an evaluation): rewrite with the wider header
            with path.open() as f:
                rows = list(csv.DictReader(f))
            _rewrite(path, fields, rows)
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        if new:
            writer.writeheader()
        writer.writerow(row)


@functools.cache
def _say_no_matplotlib() -> None:
    """Once a run (the loss plot is redrawn at every checkpoint)."""
    log.warning('the loss plot is not drawn: matplotlib is not installed (pip install "posecast[train]")')


def plot_history(csv_path: Path, png_path: Path) -> None:
    """Loss curves (log scale) and evaluation metrics from ``log.csv`` (nothing before its first
    row: a checkpoint may come before the first log line; QA, a FileNotFoundError traceback)."""
    if not csv_path.is_file():
        return
    plt = pyplot()
    if plt is None:  # (training's extra brings it; a run without it still trains)
        _say_no_matplotlib()
        return
    with csv_path.open() as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    fig = history_figure(rows)
    fig.tight_layout()
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, dpi=80)
    plt.close(fig)


def history_figure(rows: list[dict[str, str]]):  # noqa: ANN201 - a matplotlib Figure, imported lazily
    """The figure of :func:`plot_history`: the losses on the left; the evaluation metrics on the
    right, those in millimetres (``*_mm``) on its left axis and the others (``eval_scale``, a
    ratio) on a second axis of their own (they were drawn against the mm axis: review)."""
    import matplotlib.pyplot as plt

    steps = np.array([float(r["step"]) for r in rows])
    loss_keys = [k for k in rows[0] if k.startswith("l_") or k == "loss"]
    eval_keys = [k for k in rows[-1] if k.startswith("eval_")]
    fig, axes = plt.subplots(1, 2 if eval_keys else 1, figsize=(12 if eval_keys else 7, 4), squeeze=False)
    for k in loss_keys:
        values = np.array([float(r[k]) if r.get(k) not in (None, "") else math.nan for r in rows])
        axes[0, 0].plot(steps, np.abs(values), label=k)
    axes[0, 0].set_yscale("log")
    axes[0, 0].set_xlabel("step")
    axes[0, 0].legend(fontsize=7)
    if not eval_keys:
        return fig
    mm_axis = axes[0, 1]
    mm_axis.set_xlabel("step")
    mm_axis.set_ylabel("mm")
    other_keys = [k for k in eval_keys if not k.endswith("_mm")]
    other_axis = mm_axis.twinx() if other_keys else None
    if other_axis is not None:
        other_axis.set_ylabel(", ".join(other_keys))
    for number, k in enumerate(eval_keys):  # one colour cycle over both axes
        pts = [(float(r["step"]), float(r[k])) for r in rows if r.get(k) not in (None, "")]
        if pts:
            on_mm = k.endswith("_mm")
            (mm_axis if on_mm else other_axis).plot(*zip(*pts, strict=True), marker="o" if on_mm else "s",
                                                    linestyle="-" if on_mm else "--", color=f"C{number}",
                                                    label=k)  # fmt: skip
    handles, labels = mm_axis.get_legend_handles_labels()
    if other_axis is not None:
        more_handles, more_labels = other_axis.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    mm_axis.legend(handles, labels, fontsize=7)
    return fig

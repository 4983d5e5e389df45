"""Latency statistics: a sink that records every frame's stage times, and their summary."""

from __future__ import annotations

import argparse
import json
from array import array
from pathlib import Path

import numpy as np

from ...engines.cli_args import output_file_ending
from ...engines.fileio import atomic_write, output_file_problem
from ..errors import OptionsError, SinkError
from ..stages import Sink
from ..stop_signals import stop_signals_deferred
from ..types import PoseFrame, StreamMeta


def summarise(series: dict[str, list[float] | array]) -> dict[str, dict[str, float]]:
    """p50/p99/mean/n per key of millisecond ``series``."""
    out = {}
    for key, values in series.items():
        v = np.asarray(values)
        out[key] = {"p50": float(np.percentile(v, 50)), "p99": float(np.percentile(v, 99)),
                    "mean": float(v.mean()), "n": len(v)}  # fmt: skip
    out.setdefault("capture_to_delivered", {"p50": float("nan"), "p99": float("nan"), "mean": float("nan"), "n": 0})
    return out


#: Not after the 2D: the 2D itself and the wait for it (threaded runner).
_BEFORE_3D = ("keypoints2d", "handoff_2d")


def _ms(value: float) -> float | None:
    """Milliseconds rounded to the microsecond; ``None`` (JSON ``null``) when nothing was measured."""
    return None if value != value else round(value, 3)  # NaN: no frame had it


def _writable(path: Path) -> Path:
    """``path`` when a file can be written there (checked before the run, not after it)."""
    problem = output_file_problem(path)
    if problem is not None:
        raise OptionsError(f"cannot write statistics to {path}: {problem}; pass a file in a writable folder")
    return path


class StatsSink(Sink):
    """Per-stage latency (ms) of the frames with a pose: each stage of ``stage_ns``, everything
    after the 2D detector (``after_keypoints2d``: capture → every sink had it, less the 2D and the
    wait for it, as ``posecast bench`` measures it) and capture → every sink had it
    (``capture_to_delivered``, as ``posecast bench`` names it; until 2026-12-05 this file called it
    ``capture_to_publish``, which in the bench's report is capture → the message's stamp). A
    frame's times are complete once every sink has it, so each is recorded when the next arrives
    (or at close). Writes :meth:`report` to ``json_path`` at close.

    The file (``--stats-json``), one key style, snake_case, the unit in the name of the group::

        {"frames": 120, "frames_with_pose": 118, "dropped_at_capture": 0, "runner": "serial",
         "model": "supervised-long-w384", "int8": true, "backend": "onnxruntime",
         "latency_ms": {"keypoints2d": {"p50": 17.8, "p99": 22.3, "mean": 18.1, "count": 118},
                        "window": {...}, "lift": {...}, "smooth": {...}, "publish": {...},
                        "after_keypoints2d": {...}, "capture_to_delivered": {...}}}
    """

    name = "stats"
    inline = True  # a few list appends

    def __init__(self, json_path: Path | None = None) -> None:
        self.json_path = _writable(Path(json_path)) if json_path is not None else None
        self.frames = 0
        self.frames_with_pose = 0
        # milliseconds as 8-byte doubles (a list kept a 24-byte float object per value: ~250 bytes a
        # frame, 0.2 GB over 8 hours live); percentiles only when asked
        self._series: dict[str, array] = {}
        self._pending: PoseFrame | None = None
        self._started = False  # a run that never started writes no statistics
        self._ran: dict[str, object] = {}  # which model, INT8 or not, on which backend (the stream's meta)
        self._captured: dict[str, object] = {}  # frames dropped at capture and the runner (note_capture)

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--stats-json", type=output_file_ending(".json"),
                            help="write per-stage latency statistics here at the end")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> StatsSink:
        return cls(getattr(args, "stats_json", None))  # always on: the run's summary line needs it

    def output_files(self) -> dict[str, Path]:
        return {} if self.json_path is None else {"--stats-json": self.json_path}

    def open(self, meta: StreamMeta) -> None:
        self._started = True
        self._ran = {key: meta.assumptions[key] for key in ("model", "int8", "backend") if key in meta.assumptions}

    def write(self, frame: PoseFrame) -> None:
        if self._pending is not None:
            self._record(self._pending)
        self._pending = frame

    def _record(self, frame: PoseFrame) -> None:
        self.frames += 1
        if not frame.tracked:
            return
        self.frames_with_pose += 1
        for stage, ns in frame.stage_ns.items():
            self._add(stage, ns / 1e6)
        before_ns = sum(frame.stage_ns.get(stage, 0) for stage in _BEFORE_3D)
        if frame.delivered_ns:
            # elapsed, as `posecast bench` measures it: the untimed work between the stages too (QA: the
            # sum of the timed stages read 4 % less than the bench's figure of the same name)
            self._add("after_keypoints2d", (frame.delivered_ns - frame.capture_ns - before_ns) / 1e6)
            self._add("capture_to_delivered", (frame.delivered_ns - frame.capture_ns) / 1e6)
        else:
            self._add("after_keypoints2d", (sum(frame.stage_ns.values()) - before_ns) / 1e6)

    def _add(self, key: str, ms: float) -> None:
        column = self._series.get(key)
        if column is None:
            column = self._series[key] = array("d")
        column.append(ms)

    def _flush(self) -> None:
        if self._pending is not None:
            self._record(self._pending)
            self._pending = None

    def summary(self) -> dict[str, dict[str, float]]:
        """p50/p99/mean/n per stage so far (see the class docstring)."""
        self._flush()
        return summarise(self._series)

    def report(self) -> dict:
        """What ``--stats-json`` writes (see the class docstring): milliseconds rounded to µs."""
        latency = {
            key: {**{k: _ms(values[k]) for k in ("p50", "p99", "mean")}, "count": int(values["n"])}
            for key, values in self.summary().items()
        }
        return {"frames": self.frames, "frames_with_pose": self.frames_with_pose, **self._captured, **self._ran,
                "latency_ms": latency}  # fmt: skip

    def note_capture(self, dropped_at_capture: int, runner: str) -> None:
        """What the source and the runner did, for the file: the frames dropped at capture (a live
        source's, processing slower than it) and the runner (``serial`` or ``threaded``) (weak-machine
        QA: 42 % of a run dropped, and the file said nothing of it)."""
        self._captured = {"dropped_at_capture": int(dropped_at_capture), "runner": runner}

    def discard(self) -> None:
        self.json_path = None

    def close(self) -> None:
        report = self.report()
        path, self.json_path = self.json_path, None  # written once, also when the write fails
        if path is not None and self._started:
            try:
                with stop_signals_deferred():  # a Ctrl-C here lost the file, unsaid (QA): written, then raised
                    atomic_write(path, json.dumps(report, indent=2).encode())
            except OSError as exc:  # a full disk: nothing half-written stays (atomic_write)
                raise SinkError(f"cannot write statistics to {path}: {exc.strerror or exc}; free space on its disk or "
                                "pass --stats-json elsewhere") from exc  # fmt: skip

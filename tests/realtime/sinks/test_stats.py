"""``--stats-json``: the latency statistics sink, on the frames the pipeline hands it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from posecast.realtime.sinks.stats import StatsSink
from posecast.realtime.types import PersonPose, PoseFrame, StreamMeta


def _frame(frame_id: int, delivered_after_ms: float) -> PoseFrame:
    joints = np.zeros((17, 3)) + [0.0, 0.0, 3.0]
    person = PersonPose(0, "tracking", np.zeros((17, 2), np.float32), np.full(17, 0.9, np.float32), joints,
                        joints - joints[0], joints[0], np.ones(16), 1.0, joints)  # fmt: skip
    capture_ns = 1_000_000_000 * (frame_id + 1)
    stages = {"handoff_2d": 1_000_000, "keypoints2d": 18_000_000, "lift": 700_000, "publish": 100_000}
    return PoseFrame(frame_id, capture_ns, capture_ns, (640, 480), [person], stages,
                     delivered_ns=capture_ns + int(delivered_after_ms * 1e6))  # fmt: skip


def test_after_keypoints2d_is_the_elapsed_time_bench_names_so(tmp_path: Path) -> None:
    """QA: ``--stats-json`` added up the timed stages after the 2D (0.8 ms here) where ``posecast
    bench`` takes capture → delivered less the 2D and the wait for it (2.5 ms: the untimed work
    between stages too), both named ``after_keypoints2d``; the stats read 4 % lower than bench."""
    sink = StatsSink(tmp_path / "stats.json")
    sink.open(StreamMeta())
    for i in range(4):
        sink.write(_frame(i, delivered_after_ms=21.5))
    sink.close()
    latency = json.loads((tmp_path / "stats.json").read_text())["latency_ms"]
    assert latency["after_keypoints2d"]["p50"] == pytest.approx(2.5)
    assert latency["capture_to_delivered"]["p50"] == pytest.approx(21.5) and latency["lift"]["p50"] == 0.7

"""The benchmark's statistics and the checks every report must pass."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from posecast.realtime.benchmark.stats import check_report, ratio, summarise_ms, windows_ms


def test_summary_percentiles() -> None:
    s = summarise_ms(np.arange(1, 101, dtype=float))
    assert (s["p50_ms"], s["p90_ms"], s["p99_ms"], s["max_ms"], s["n"]) == (50.5, 90.1, 99.01, 100.0, 100)
    assert s["p50_ms"] <= s["p90_ms"] <= s["p99_ms"] <= s["max_ms"]
    assert summarise_ms([1.0, float("nan"), 3.0])["n"] == 2
    empty = summarise_ms([])
    assert empty["n"] == 0 and math.isnan(empty["p50_ms"])


def test_windows_split_by_time_and_merge_a_short_tail() -> None:
    t = np.arange(0, 155, 0.5)  # two full minutes and a 35 s tail (over half a window: its own)
    v = np.where(t < 60, 1.0, 2.0)
    w = windows_ms(t, v, 60.0)
    assert [x["start_s"] for x in w] == [0.0, 60.0, 120.0] and w[0]["p99_ms"] == 1.0 and w[1]["p50_ms"] == 2.0
    w = windows_ms(np.arange(0, 130, 0.5), np.ones(260), 60.0)  # 10 s tail: merged into the last minute
    assert len(w) == 2 and w[1]["n"] == 140


def test_ratio() -> None:
    assert ratio(21.0, 20.0) == 1.05
    assert math.isnan(ratio(1.0, 0.0)) and math.isnan(ratio(float("nan"), 1.0))


def _report() -> dict:
    def entry(p50: float, spread: float = 1.0) -> dict:
        return {"p50_ms": p50, "p90_ms": p50 + spread, "p99_ms": p50 + 2 * spread, "max_ms": p50 + 3 * spread,
                "mean_ms": p50 + 0.1, "n": 100}  # fmt: skip

    return {
        "stages": {
            "keypoints2d": entry(20.0),
            "lift": entry(0.5, 0.1),
            "publish": entry(0.2, 0.05),
            "after_keypoints2d": entry(0.8, 0.1),
        },  # fmt: skip
        "path_stages": ["keypoints2d", "lift", "publish"],
        "end_to_end": {
            "capture_to_delivered": entry(21.0),
            "capture_to_publish": entry(20.9),
            "capture_to_receive": entry(21.2),
            "frames_not_received": 0,
        },  # fmt: skip
        "configs": [
            {"label": "default", "end_to_end": {"capture_to_publish": entry(20.9), "capture_to_receive": entry(21.2)}}
        ],
        "throughput": {
            "unpaced": {"posecast_fps": 50.0},
            "paced_30": {"capture_to_publish": entry(20.9), "capture_to_receive": entry(21.2)},
        },
        "soak": {"capture_to_publish": entry(20.9), "capture_to_receive": entry(21.2)},  # fmt: skip
        "baseline": {"mediapipe_alone": entry(20.0)},
        "ratio_p50": 1.05,
    }


def test_a_sound_report_has_no_problems() -> None:
    assert check_report(_report()) == []


@pytest.mark.parametrize(
    "spoil, problem",
    [
        (lambda r: r["stages"]["lift"].update(p99_ms=0.1), "not ordered"),
        (lambda r: r["stages"]["keypoints2d"].update(mean_ms=30.0), "sum to"),
        (lambda r: r["stages"]["after_keypoints2d"].update(mean_ms=40.0), "after_keypoints2d"),
        (lambda r: r.update(ratio_p50=1.2), "ratio_p50"),
        (lambda r: r["baseline"].pop("mediapipe_alone"), "baseline"),
        (lambda r: r["end_to_end"]["capture_to_receive"].pop("p99_ms"), "missing p99_ms"),
        # received before published: the two are no longer of the same messages
        (lambda r: r["end_to_end"]["capture_to_receive"].update(p50_ms=20.8), "capture→published p50_ms 20.9 >"),
        (lambda r: r["end_to_end"]["capture_to_publish"].update(max_ms=30.0), "capture→published max_ms 30.0 >"),
        (lambda r: r["end_to_end"]["capture_to_publish"].update(n=99), "expected the same frames"),
        (lambda r: r["configs"][0]["end_to_end"]["capture_to_publish"].update(mean_ms=25.0), "configs[default]"),
        (lambda r: r["throughput"]["paced_30"]["capture_to_receive"].update(p90_ms=21.0), "throughput.paced_30"),
        (lambda r: r["soak"]["capture_to_publish"].update(p99_ms=24.0), "soak: capture→published p99_ms"),
    ],
)
def test_an_inconsistent_report_is_caught(spoil, problem: str) -> None:  # noqa: ANN001
    report = copy.deepcopy(_report())
    spoil(report)
    assert any(problem in p for p in check_report(report)), check_report(report)


def test_a_paced_pass_is_never_faster_than_its_pace() -> None:
    """QA: ``bench --frames 10 --pace 30`` said "paced 30: 31.4 fps": N frames over the pass's
    wall time, while N frames paced at 30 fps span (N - 1) / 30 s. The rate is taken between the
    first and the last processed frame's capture."""
    from posecast.realtime.benchmark.analysis import processed_fps

    paced_30 = np.arange(10, dtype=np.int64) * round(1e9 / 30)
    assert processed_fps(paced_30) == pytest.approx(30.0, rel=1e-6)
    assert processed_fps(paced_30[::2]) == pytest.approx(15.0, rel=1e-6)  # every other frame dropped
    assert np.isnan(processed_fps(paced_30[:1])) and np.isnan(processed_fps(np.zeros(3, np.int64)))


def test_the_soak_line_shows_its_memory_as_its_growth_was_taken() -> None:
    """QA: "resident memory 544 → 547 MB (2.6 MB after warm-up)": whole MB beside a growth taken
    from tenths."""
    from posecast.realtime.benchmark.report import soak_text

    soak = {"minutes": 0.5, "pace_fps": 30, "frames_processed": 900, "dropped_capture": 0,
            "first_minute_p99_ms": 28.0, "last_minute_p99_ms": 27.5, "rss_mb_after_warmup": 544.2,
            "rss_mb_end": 546.8, "rss_growth_mb": 2.6}  # fmt: skip
    assert "resident memory 544.2 → 546.8 MB (2.6 MB after warm-up)" in soak_text(soak)


def test_an_image_folder_has_a_fingerprint_as_a_file_does(tmp_path) -> None:  # noqa: ANN001
    """QA: ``--source FOLDER`` gave ``"sha256": null``, so two reports could not be told to have
    measured the same frames; a camera still has none."""
    from posecast.realtime.benchmark.machine import source_sha256

    (tmp_path / "a.png").write_bytes(b"first")
    (tmp_path / "b.png").write_bytes(b"second")
    before = source_sha256(tmp_path)
    assert len(before) == 64 and source_sha256(tmp_path) == before
    (tmp_path / "b.png").write_bytes(b"other")
    assert source_sha256(tmp_path) != before
    assert source_sha256(tmp_path / "a.png") != source_sha256(tmp_path) and source_sha256("0") is None

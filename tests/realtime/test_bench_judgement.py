"""What ``posecast bench`` concludes, as someone measuring latency relies on it: a disturbed run
says so and judges no target; the rounds reported are those that ran; ``--backend all`` puts
first what ``posecast run`` would use; a mistyped model and a clip without a person are one-line
errors before minutes of measuring."""

from __future__ import annotations

import argparse
import calendar
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from posecast.realtime import dated_names
from posecast.realtime.benchmark.analysis import reliability, rounds_run, targets
from posecast.realtime.benchmark.report import people_text
from posecast.realtime.cli import main
from posecast.realtime.commands import bench as bench_command


def _report(inside_p50: float, inside_p99: float, alone_p50: float = 20.0, alone_p99: float = 24.0,
            others: tuple[float, ...] = (6.0,), n: int = 360, others_cpu: float | None = None,
            before: float = 3.0) -> dict:  # fmt: skip
    return {
        # a quiet start after a busy minute: load average 2.42 on 2 cores, a noisy run until 2026-12-04 (QA)
        "load_average_start": [2.42, 1.2, 0.8],
        "others_cpu_percent_start": before,
        # the load at the end counts the benchmark's own threads: not a reason (3.4 on 2 cores here)
        "machine": {"cpu_cores": 2, "cpu_cores_usable": 2, "load_average": [3.4, 0.5, 0.5]},
        "others_running": [{"name": f"p{i}", "pid": 100 + i, "cpu_percent": c} for i, c in enumerate(others)],
        "others_cpu_percent": others_cpu if others_cpu is not None else sum(others),
        "stages": {"keypoints2d": {"p50_ms": inside_p50, "p99_ms": inside_p99},
                   "after_keypoints2d": {"p99_ms": 0.9, "n": n}},  # fmt: skip
        "baseline": {"mediapipe_alone": {"p50_ms": alone_p50, "p99_ms": alone_p99}},
        "ratio_p50": 1.04,
        "end_to_end": {"publish_to_receive": {"p99_ms": 0.4}},
        "throughput": {"paced_30": {"dropped_capture": 0}},
    }


def test_a_quiet_run_is_judged() -> None:
    report = _report(20.5, 25.0)
    report["reliability"] = reliability(report)
    assert report["reliability"] == {"noisy": False, "reasons": []}
    assert [t["met"] for t in targets(report)] == [True, True, True, True]


def test_the_ratio_is_not_judged_when_mediapipe_s_own_spread_decides_it() -> None:
    """QA round 8: in runs judged sound (MediaPipe inside and alone within 10 %), the ratio to
    MediaPipe alone swung from 1.04 to 1.14 with that spread while posecast's own work stayed at
    1.5 ms, and a run was called met at 1.041 that was 1.087 without the spread. The ratio is not
    judged when the spread alone puts it on the other side of 1.05; judged when it does not."""
    report = _report(19.08, 23.0)  # 4.6 % faster inside than alone: ratio 1.04, 1.086 without that
    report["reliability"] = reliability(report)
    assert not report["reliability"]["noisy"]
    ratio, *others = targets(report)
    assert ratio["met"] is None and ratio["value"] == 1.04
    assert ratio["not_judged"].startswith("MediaPipe took 19.08 ms p50 inside posecast and 20.00 ms alone (-4.6%); "
                                          "without that difference the ratio would be 1.086, on the other side of 1.05")
    assert [t["met"] for t in others] == [True, True, True]
    report = _report(20.5, 25.0)  # 2.5 % slower inside: 1.015 without it, met either way
    report["reliability"] = reliability(report)
    assert targets(report)[0]["met"] is True
    report = _report(21.6, 25.0)  # 8 % slower inside, a ratio of 2.5: missed either way (review: it was hidden)
    report["ratio_p50"] = 2.5
    report["reliability"] = reliability(report)
    assert targets(report)[0]["met"] is False and "not_judged" not in targets(report)[0]


@pytest.mark.parametrize(
    ("report", "reason"),
    [
        # the QA run: MediaPipe alone slowed at p99 by a neighbour, posecast's not: ratio p99 0.49
        (_report(17.8, 22.9, alone_p50=19.0, alone_p99=50.5), "22.90 ms p99 inside posecast and 50.50 ms alone"),
        (_report(22.5, 25.0), "22.50 ms p50 inside posecast and 20.00 ms alone"),
        (_report(20.0, 24.0, others=(40.0, 30.0)), "other processes used 70 % of a core during the run (the "
         "busiest: p0 (pid 100) 40 %"),
        # a CI's short test processes: none busy throughout, together most of a core
        (_report(20.0, 24.0, others=(), others_cpu=80.0), "used 80 % of a core during the run (the busiest: "
         "many small ones)"),
        (_report(20.0, 24.0, before=95.0), "other processes used 95 % of a core in the half second before it "
         "started"),
        (_report(20.0, 24.0, n=20), "20 frames with a pose: a p99 over fewer than 100 is nearly the maximum"),
    ],
)
def test_a_disturbed_run_says_why_and_judges_no_target(report: dict, reason: str) -> None:
    report["reliability"] = reliability(report)
    assert report["reliability"]["noisy"] and any(reason in r for r in report["reliability"]["reasons"]), report
    assert [t["met"] for t in targets(report)] == [None] * 4


def test_with_room_for_several_people_mediapipe_alone_does_other_work() -> None:
    """--max-people 2, one dancer (measured): posecast's MediaPipe asks for the one person in
    view, MediaPipe alone for two, looking for the second on every frame. Not a disturbance."""
    report = _report(16.24, 30.0, alone_p50=27.72, alone_p99=31.0)
    report["landmarker"] = {"max_people": 2}
    report["reliability"] = reliability(report)
    assert report["reliability"] == {"noisy": False, "reasons": []}
    # nor is the ratio to it an overhead (0.65 measured, QA: "met" by 11 ms of headroom)
    judged = targets(report)
    assert [t["met"] for t in judged] == [None, True, True, True]
    assert judged[0]["not_judged"] == "MediaPipe alone does other work with --max-people above 1 (unless " \
        "--people-search 0)"
    for same_work in ({"max_people": 1}, {"max_people": 2, "people_search_s": 0}):  # MediaPipe's own way
        report["landmarker"] = same_work
        assert reliability(report)["noisy"]


def test_a_noisy_run_with_room_for_several_people_gives_both_reasons() -> None:
    """QA: a noisy ``--max-people 2`` run named the noise alone, and its bench.md did not say it
    had room for two (the runs with one and two could not be told apart)."""
    report = _report(16.24, 30.0, alone_p50=27.72, alone_p99=31.0, others=(80.0,))
    report["landmarker"] = {"max_people": 2, "people_search_s": 0.5}
    report["reliability"] = reliability(report)
    why = [t.get("not_judged") for t in targets(report)]
    assert why == ["noisy run; MediaPipe alone does other work with --max-people above 1 (unless --people-search "
                   "0)", "noisy run", "noisy run", "noisy run"]  # fmt: skip
    assert people_text(report["landmarker"]) == ", up to 2 people (a search every 0.5 s)"
    assert people_text({"max_people": 3, "people_search_s": 0}) == (", up to 3 people (MediaPipe's own way, "
                                                                     "--people-search 0)")  # fmt: skip
    assert people_text({"max_people": 1, "people_search_s": 0.5}) == ""


def test_the_rounds_reported_are_the_rounds_run() -> None:
    assert rounds_run(360, 6) == 6 and rounds_run(10, 100) == 10 and rounds_run(13, 6) == 5


def _args(**kw: object) -> argparse.Namespace:
    return argparse.Namespace(**{"runner": "serial", "model": None, "backend": "all", "int8": None, **kw})


def test_backend_all_measures_first_what_run_would_use(monkeypatch: pytest.MonkeyPatch) -> None:
    no_gpu = {"tensorrt": (False, "no CUDA GPU"), "torch-cuda": (False, "no CUDA GPU"), "onnxruntime": (True, "")}
    monkeypatch.setattr(bench_command, "availability", lambda: no_gpu)
    labels = [c.label for c in bench_command.configs_from_args(_args())]
    assert labels == ["default model, onnxruntime int8, serial", "default model, onnxruntime float, serial",
                      "default model, tensorrt fp16, serial", "default model, torch-cuda float, serial"]  # fmt: skip
    gpu = {**no_gpu, "tensorrt": (True, "H200"), "torch-cuda": (True, "H200")}
    monkeypatch.setattr(bench_command, "availability", lambda: gpu)
    first = bench_command.configs_from_args(_args())[0]
    assert (first.backend, first.label) == ("tensorrt", "default model, tensorrt fp16, serial")


def test_a_mistyped_model_is_refused_before_the_run(tmp_path: Path, media_dir: Path,
                                                    capsys: pytest.CaptureFixture) -> None:  # fmt: skip
    code = main(["bench", "--source", str(media_dir / "dance_576.mp4"), "--model", "supervised-w256", "--model",
                 "typo-model", "--output", str(tmp_path / "out")])  # fmt: skip
    assert code == 2 and not (tmp_path / "out").exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model file not found: typo-model" in err[0], err  # nothing ran: no other line


def test_a_damaged_model_beside_another_is_an_error_not_a_row(tmp_path: Path, media_dir: Path, pose_model_path: Path,
                                                               capsys: pytest.CaptureFixture,
                                                               caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    """It was measured as "not measured (cannot be loaded)", exit 0 (QA); alone, or missing, exit 2;
    refused before the clip is decoded (it was read only when its pass came)."""
    damaged = tmp_path / "mine.onnx"
    damaged.write_bytes(b"not a model")
    code = main(["bench", "--source", str(media_dir / "dance_576.mp4"), "--model", "supervised-w256", "--model",
                 str(damaged), "--model-asset", str(pose_model_path), "--frames", "10", "--warmup", "0", "--pace", "0",
                 "--output", str(tmp_path / "out")])  # fmt: skip
    assert code == 2 and not (tmp_path / "out").exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"model file {damaged} cannot be loaded" in err[0], err
    assert not [r.getMessage() for r in caplog.records if r.levelno < logging.ERROR]  # nothing ran: no clip decoded


@pytest.mark.slow
def test_a_clip_without_a_person_is_an_error_not_a_report(tmp_path: Path, pose_model_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:  # fmt: skip
    frames = tmp_path / "empty_room"
    frames.mkdir()
    for i in range(12):
        cv2.imwrite(str(frames / f"{i:03d}.png"), np.full((240, 320, 3), 128, np.uint8))
    code = main(["bench", "--source", str(frames), "--model-asset", str(pose_model_path), "--frames", "10",
                 "--warmup", "4", "--runner", "serial", "--output", str(tmp_path / "out")])  # fmt: skip
    assert code == 2 and not (tmp_path / "out").exists()
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 1 and "no person was found in the 4 warm-up frames" in errors[0], errors
    # without a warm-up, after the measuring (it wrote a report of dashes, exit 0; QA)
    code = main(["bench", "--source", str(frames), "--model-asset", str(pose_model_path), "--frames", "10",
                 "--warmup", "0", "--pace", "0", "--runner", "serial", "--output", str(tmp_path / "out")])  # fmt: skip
    assert code == 2 and not (tmp_path / "out").exists()
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 1 and "no person was found in the 10 measured frames of empty_room" in errors[0], errors


@pytest.mark.slow
def test_the_floor_is_timed_not_said(tmp_path: Path, media_dir: Path, pose_model_path: Path,
                                     caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    """Each configuration's avatar world (timed as `posecast run` runs it) said its floor: "floor
    estimated from 61 poses ..." once per configuration, each with figures of its own (review).
    The world is still timed; its floor is not said."""
    with caplog.at_level(logging.INFO, "posecast"):
        code = main(["bench", "--source", str(media_dir / "dance_576.mp4"), "--model-asset", str(pose_model_path),
                     "--frames", "90", "--warmup", "30", "--rounds", "1", "--pace", "0", "--runner", "serial",
                     "--no-plots", "--output", str(tmp_path / "out")])  # fmt: skip
    assert code == 0
    timed = json.loads((tmp_path / "out" / "bench.json").read_text())["stages"]["world"]
    assert timed["n"] == 90  # (timed all the same)
    said = [r.getMessage() for r in caplog.records]
    assert not [m for m in said if "floor estimated" in m or "floor stays" in m], said


def _standing_frames(count: int) -> list:
    """``count`` frames at 30 fps of a person standing 3 m before a level camera 1.2 m up, every
    joint seen (their floor is fixed after 2 s)."""
    from posecast.engines import rotations, skeleton
    from posecast.realtime.types import PersonPose, PoseFrame

    lengths = skeleton.bone_lengths_from_height(1.70)
    world = rotations.rest_pose(lengths)
    world = world - [0.0, world[skeleton.JOINT_INDEX["l_ankle"], 1] - 0.13, 0.0]
    cam = (world - [0.0, 1.2, 3.0]) * [1.0, -1.0, -1.0]
    frames = []
    for i in range(count):
        person = PersonPose(0, "tracking", np.full((17, 2), [640.0, 360.0], np.float32), np.ones(17, np.float32))
        person.joints_m, person.root_m, person.bone_lengths_m = cam, cam[0], lengths
        t_ns = int(i * 1e9 / 30)
        frames.append(PoseFrame(i, t_ns, t_ns, (1280, 720), [person]))
    return frames


def test_the_bench_tools_time_the_floor_without_saying_it(
    load_tool: Callable, caplog: pytest.LogCaptureFixture
) -> None:
    """tools/bench_ab.py and tools/bench_lift.py built their avatar worlds as `posecast run` does and
    said each one's floor ("floor estimated from 61 poses ...": bench_ab builds six); they run and
    time it as `posecast bench` does, unsaid."""
    pipeline, _ = load_tool("bench_ab").build("posecast")  # (the tool builds each revision's package so)
    worlds = {"bench_ab": pipeline.world, "bench_lift": load_tool("bench_lift").quiet_world()}
    try:
        with caplog.at_level(logging.INFO, "posecast"):
            for name, world in worlds.items():
                for frame in _standing_frames(70):
                    state = world.process(frame).floor.state
                assert state == "estimated", name  # (found all the same)
    finally:
        pipeline.close()
    said = [r.getMessage() for r in caplog.records if r.name.endswith("ground")]
    assert said == [], said


def test_two_runs_in_one_second_get_a_folder_each(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default folder is made when the run starts (review 2: named then, made minutes later, two
    runs of one second shared it and the later replaced the other's results)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(dated_names, "clock", lambda: calendar.timegm((2026, 12, 4, 17, 0, 0)))
    first, second = bench_command._new_results_folder(), bench_command._new_results_folder()
    assert (first.name, second.name) == ("bench-20261204-170000Z", "bench-20261204-170000Z_002")
    assert first.is_dir() and second.is_dir()


def test_folders_of_runs_in_one_second_sort_in_the_order_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The folders after the first were named -1, -2…, and -10 sorted before -2. Named as takes
    are, _002, _003…, they sort in the order made, and before the next second's."""
    monkeypatch.chdir(tmp_path)
    at = calendar.timegm((2026, 12, 4, 17, 0, 0))
    made = [bench_command._new_results_folder(at).name for _ in range(12)]
    assert made[0] == "bench-20261204-170000Z" and made[-1] == "bench-20261204-170000Z_012"
    assert sorted(p.name for p in tmp_path.iterdir()) == made == sorted(made, key=os.fsencode)
    assert sorted([*made, bench_command._new_results_folder(at + 1).name])[-1] == "bench-20261204-170001Z"


def test_results_folders_sort_in_order_across_a_fall_back_and_a_time_zone_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, time_zone: Callable[[str], None]
) -> None:
    """Named in local time without an offset, the default results folders of runs in Berlin the
    night the clocks go back (01:00 UTC, 03:00 CEST → 02:00 CET) sorted out of order, the second
    02:30 took the first's name with -1, and a laptop flown to New York named its next run hours
    "earlier". Named in UTC, a listing of them is in the order they were run."""
    monkeypatch.chdir(tmp_path)
    fall_back = calendar.timegm((2026, 10, 25, 1, 0, 0))
    runs = [("Europe/Berlin", fall_back - 1800), ("Europe/Berlin", fall_back + 900),  # 02:30 CEST, 02:15 CET
            ("Europe/Berlin", fall_back + 1800), ("America/New_York", fall_back + 3 * 3600)]  # 02:30 CET, 00:00 EDT
    made = []
    for zone, now in runs:
        time_zone(zone)
        monkeypatch.setattr(dated_names, "clock", lambda now=now: now)  # the wall clock names are taken from
        made.append(bench_command._new_results_folder().name)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == made
    assert made == ["bench-20261025-003000Z", "bench-20261025-011500Z", "bench-20261025-013000Z",
                    "bench-20261025-040000Z"]  # fmt: skip


def test_a_process_busy_now_is_seen_and_one_started_during_the_run_is_named() -> None:
    """Real processes: a busy one is measured as it runs, where the load average would still be
    counting the minute before; one started after the sampler is named with its CPU (it was counted
    in the total but reported as "many small ones", and bench.md said "nothing busy": QA)."""
    import subprocess
    import sys
    import time

    from posecast.realtime.benchmark.machine import ResourceSampler, others_busy_percent

    sampler = ResourceSampler(interval_s=0.1).start()
    time.sleep(0.2)
    for_a_while = "import time\nend = time.time() + 1.5\nwhile time.time() < end: pass"
    busy = subprocess.Popen([sys.executable, "-c", for_a_while])
    try:
        time.sleep(0.3)
        assert others_busy_percent(0.5) >= 30  # most of a core while it runs
        busy.wait(timeout=30)
        time.sleep(0.1)
    finally:
        busy.kill()
    sampler.stop()
    # it has ended by the sampler's stop: its CPU is in the total; a process still running is named
    assert sampler.others_cpu_percent >= 20
    sampler = ResourceSampler(interval_s=0.1).start()
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1.0)
        sampler.stop()
    finally:
        busy.kill()
        busy.wait()
    assert any(p["cpu_percent"] >= 30 and p["pid"] == busy.pid for p in sampler.others), sampler.others


def test_a_run_shorter_than_one_sample_interval_still_has_its_memory() -> None:
    """README QA: the smallest bench measured for 0.41 s, under the 0.5 s between samples, and
    said "peak RSS – MB" with rss_mb null. A run that short is sampled once, at its end."""
    from posecast.realtime.benchmark.machine import ResourceSampler

    sampler = ResourceSampler(interval_s=0.5).start()
    sampler.stop()
    assert len(sampler.samples) == 1 and sampler.samples[0].rss_mb > 10

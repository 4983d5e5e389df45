"""Usable cores count a control group's CPU quota (constrained-machine QA: a container given one
CPU's time on a many-core host counted every core). Fake cgroup trees in a temporary folder, as
the kernel lays them out for v1 and v2."""

from __future__ import annotations

from pathlib import Path

import pytest
from posecast.engines import host


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        _write(root / name, text)


def test_cgroup_v2_quota_is_the_least_of_the_group_and_those_above(tmp_path) -> None:
    mount = tmp_path / "cgroup"
    _write(tmp_path / "self", "0::/user.slice/app.scope\n")
    _write(mount / "user.slice/app.scope/cpu.max", "max 100000\n")
    _write(mount / "user.slice/cpu.max", "150000 100000\n")  # 1.5 CPUs above it
    _write(mount / "cpu.max", "max 100000\n")
    assert host.cgroup_cpu_quota(str(tmp_path / "self"), str(mount)) == pytest.approx(1.5)
    _write(mount / "user.slice/app.scope/cpu.max", "50000 100000\n")
    assert host.cgroup_cpu_quota(str(tmp_path / "self"), str(mount)) == pytest.approx(0.5)


def test_cgroup_v1_quota_and_no_quota(tmp_path) -> None:
    mount = tmp_path / "cgroup"
    _write(tmp_path / "self", "5:memory:/x\n3:cpu,cpuacct:/docker/abc\n0::/\n")
    _tree(mount / "cpu,cpuacct", {"docker/abc/cpu.cfs_quota_us": "200000\n", "docker/abc/cpu.cfs_period_us": "100000\n",
                                  "cpu.cfs_quota_us": "-1\n", "cpu.cfs_period_us": "100000\n"})
    assert host.cgroup_cpu_quota(str(tmp_path / "self"), str(mount)) == pytest.approx(2.0)
    _write(mount / "cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "-1\n")
    assert host.cgroup_cpu_quota(str(tmp_path / "self"), str(mount)) is None
    assert host.cgroup_cpu_quota(str(tmp_path / "missing"), str(mount)) is None


def test_usable_cores_round_a_quota_up_and_never_exceed_the_cores(monkeypatch) -> None:
    monkeypatch.setattr(host.os, "sched_getaffinity", lambda pid: set(range(16)))
    monkeypatch.setattr(host, "cgroup_cpu_quota", lambda: 1.0)
    assert host.usable_cores() == 1
    monkeypatch.setattr(host, "cgroup_cpu_quota", lambda: 2.5)
    assert host.usable_cores() == 3
    monkeypatch.setattr(host, "cgroup_cpu_quota", lambda: 0.2)
    assert host.usable_cores() == 1
    monkeypatch.setattr(host, "cgroup_cpu_quota", lambda: 64.0)
    assert host.usable_cores() == 16
    monkeypatch.setattr(host, "cgroup_cpu_quota", lambda: None)
    assert host.usable_cores() == 16


def test_a_pids_limit_is_the_least_left_up_the_hierarchy(tmp_path) -> None:
    """Constrained-machine QA: under a container's pids limit of 12 ``run`` waited for ever in
    MediaPipe; of 10 it aborted without a word; of 6 a video was said not to decode."""
    mount = tmp_path / "cgroup"
    _write(tmp_path / "self", "8:pids:/docker/abc\n0::/\n")
    _tree(mount / "pids/docker", {"abc/pids.max": "40\n", "abc/pids.current": "31\n", "pids.max": "max\n",
                                  "pids.current": "100\n"})
    assert host.cgroup_tasks_left(str(tmp_path / "self"), str(mount)) == 9
    _write(tmp_path / "self2", "0::/app\n")
    _write(mount / "app/pids.max", "max\n")
    _write(mount / "app/pids.current", "3\n")
    assert host.cgroup_tasks_left(str(tmp_path / "self2"), str(mount)) is None


def test_a_small_ulimit_u_counts_the_user_s_threads(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    import resource

    for pid, uid, threads in ((10, 1000, 5), (11, 1000, 30), (12, 0, 99)):
        _write(tmp_path / str(pid) / "status", f"Name:\tx\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\nThreads:\t{threads}\n")
    monkeypatch.setattr(resource, "getrlimit", lambda which: (50, 50))
    monkeypatch.setattr(host.os, "getuid", lambda: 1000)
    monkeypatch.setattr(host.os, "geteuid", lambda: 1000)
    assert host.user_tasks_left(str(tmp_path)) == 15
    monkeypatch.setattr(host.os, "geteuid", lambda: 0)  # root: not bound by it
    assert host.user_tasks_left(str(tmp_path)) is None


def test_too_few_threads_left_is_one_line(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(host, "cgroup_tasks_left", lambda: 7)
    monkeypatch.setattr(host, "user_tasks_left", lambda: None)
    assert host.tasks_too_few("run") == ("this process may start only 7 more threads (a container's pids limit), and "
                                         "posecast run starts about 16 with these options: raise the limit")
    assert host.tasks_too_few("listen") is None and host.tasks_too_few(None) is None  # (few threads: review)
    monkeypatch.setattr(host, "cgroup_tasks_left", lambda: 16)
    assert host.tasks_too_few("run") is None and host.tasks_too_few("run", ["--max-people", "1"]) is None
    # measured with every output, threaded, a window: 25 for one person (a run with 23 left failed), 34 for two;
    # one more since, the publisher's meta keep-alive
    every_output = ["--output-video", "v.mp4", "--record", "takes/", "--print", "json", "--vmc"]
    assert host.command_tasks("run", every_output) == 26 and host.command_tasks("demo", every_output) == 26
    assert host.command_tasks("run", [*every_output, "--max-people", "2"]) == 35
    # read as argparse reads them (review): an abbreviation, the last value, values that start nothing
    assert host.command_tasks("run", ["--max-p", "3", "--output", "x.mp4"]) == 32
    assert host.command_tasks("run", ["--m", "2"]) == 25
    assert host.command_tasks("run", ["--max-people", "2", "--max-people", "1"]) == 16
    assert host.command_tasks("run", ["--print", "none"]) == 16 and host.command_tasks("bench", ["--soak", "0"]) == 21
    assert host.command_tasks("run", ["--max-people", "\u00b2"]) == 25  # (isdigit, but int() refuses it: no traceback)
    assert "posecast run starts about 26 with these options" in host.tasks_too_few("run", every_output)
    monkeypatch.setattr(host, "cgroup_tasks_left", lambda: 22)
    assert "posecast demo starts about 24" in host.tasks_too_few("demo")  # (its video and lines: 21 headless, serial)
    monkeypatch.setattr(host, "user_tasks_left", lambda: 3)
    assert "only 3 more threads (ulimit -u)" in host.tasks_too_few("run")
    monkeypatch.setattr(host, "cgroup_tasks_left", lambda: 40)
    monkeypatch.setattr(host, "user_tasks_left", lambda: None)
    assert host.tasks_too_few("bench") is None

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
    _write(mount / "cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "200000\n")
    _write(mount / "cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n")
    _write(mount / "cpu,cpuacct/cpu.cfs_quota_us", "-1\n")
    _write(mount / "cpu,cpuacct/cpu.cfs_period_us", "100000\n")
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

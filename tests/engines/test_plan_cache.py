"""The plan cache's keys, atomic writes and rebuild of bad plans, without TensorRT."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest
from posecast.engines.errors import BackendError
from posecast.engines.fileio import atomic_write
from posecast.engines.runtime import plan_cache
from posecast.engines.runtime.plan_cache import PlanCache, PlanKey

KEY = PlanKey(onnx_sha256="ab" * 32, trt_version="10.9.0", gpu_name="NVIDIA H100 80GB HBM3",
              compute_capability="9.0", precision="fp16", max_batch=16, workspace_mib=512)  # fmt: skip


class FakeTRT:
    """Counts builds; 'deserialises' only bytes that start with the right magic."""

    def __init__(self) -> None:
        self.builds = 0

    def build(self) -> bytes:
        self.builds += 1
        return b"PLAN" + bytes(range(16))

    @staticmethod
    def deserialize(data: bytes) -> object | None:
        return {"engine": data} if data.startswith(b"PLAN") else None


@pytest.mark.parametrize(
    "field,value",
    [("onnx_sha256", "cd" * 32), ("trt_version", "11.0.0"), ("gpu_name", "NVIDIA RTX 4090"),
     ("compute_capability", "8.9"), ("precision", "fp32"), ("max_batch", 32), ("workspace_mib", 1024)],
)  # fmt: skip
def test_key_changes_with_every_input(field: str, value: object) -> None:
    other = dataclasses.replace(KEY, **{field: value})
    assert other.digest() != KEY.digest()
    assert other.filename() != KEY.filename()
    assert dataclasses.replace(other, **{field: getattr(KEY, field)}).filename() == KEY.filename()


def test_cache_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("POSECAST_CACHE", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert plan_cache.engines_dir() == tmp_path / "explicit" / "engines"
    monkeypatch.delenv("POSECAST_CACHE")
    assert plan_cache.engines_dir() == tmp_path / "xdg" / "posecast" / "engines"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert plan_cache.engines_dir() == tmp_path / "home" / ".cache" / "posecast" / "engines"


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "a.plan"
    atomic_write(target, b"old")
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in target.parent.iterdir()] == ["a.plan"]
    plain = tmp_path / "plain"
    plain.write_bytes(b"x")  # the mode open() gives under this umask, not mkstemp's private 0600
    assert target.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777


def test_atomic_write_failure_keeps_old_file(tmp_path: Path) -> None:
    target = tmp_path / "a.plan"
    atomic_write(target, b"old")
    with pytest.raises(TypeError):
        atomic_write(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.plan"]


def test_builds_once_then_loads(tmp_path: Path) -> None:
    trt, cache = FakeTRT(), PlanCache(tmp_path)
    first, built = cache.load_or_build(KEY, trt.build, trt.deserialize)
    second, built_again = cache.load_or_build(KEY, trt.build, trt.deserialize)
    assert (built, built_again, trt.builds) == (True, False, 1)
    assert first == second
    assert cache.path_for(KEY).is_file() and cache.path_for(KEY).with_suffix(".json").is_file()


@pytest.mark.parametrize("corrupt", [b"", b"garbage", b"PLA"])
def test_corrupt_plan_is_deleted_and_rebuilt(tmp_path: Path, corrupt: bytes,
                                             caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    trt, cache = FakeTRT(), PlanCache(tmp_path)
    atomic_write(cache.path_for(KEY), corrupt)
    with caplog.at_level(logging.WARNING, logger="posecast.engines.runtime.plan_cache"):
        loaded, built = cache.load_or_build(KEY, trt.build, trt.deserialize)
    assert built and trt.builds == 1 and loaded == {"engine": trt.build()}
    assert cache.path_for(KEY).read_bytes().startswith(b"PLAN")
    assert "failed to deserialise" in caplog.text and "rebuilding" in caplog.text


def test_deserializer_exception_also_rebuilds(tmp_path: Path) -> None:
    trt, cache = FakeTRT(), PlanCache(tmp_path)
    atomic_write(cache.path_for(KEY), b"stale")

    def strict(data: bytes) -> object:
        if not data.startswith(b"PLAN"):
            raise RuntimeError("serialization version mismatch")
        return data

    loaded, built = cache.load_or_build(KEY, trt.build, strict)
    assert built and loaded.startswith(b"PLAN")


def test_fresh_plan_that_fails_raises(tmp_path: Path) -> None:
    cache = PlanCache(tmp_path)
    with pytest.raises(BackendError, match="freshly built plan could not be deserialised"):
        cache.load_or_build(KEY, lambda: b"junk", FakeTRT.deserialize)
    assert not cache.path_for(KEY).exists()
    with pytest.raises(BackendError, match="produced nothing"):
        cache.load_or_build(KEY, lambda: b"", FakeTRT.deserialize)


def test_timing_cache_is_per_gpu_and_version(tmp_path: Path) -> None:
    cache = PlanCache(tmp_path)
    a = cache.timing_cache_path("10.9.0", "NVIDIA H100", "9.0")
    assert a.parent == tmp_path
    assert a != cache.timing_cache_path("10.9.0", "NVIDIA A100", "8.0")
    assert a != cache.timing_cache_path("11.0.0", "NVIDIA H100", "9.0")

"""The plan cache's keys, atomic writes and rebuild of bad plans, without TensorRT."""

from __future__ import annotations

import dataclasses
import logging
import os
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
    (tmp_path / "home").mkdir()
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
    assert cache.path_for(KEY).is_file() and plan_cache.record_path(cache.path_for(KEY)).is_file()


@pytest.mark.parametrize("corrupt", [b"", b"garbage", b"PLA"])
def test_corrupt_plan_is_deleted_and_rebuilt(tmp_path: Path, corrupt: bytes,
                                             caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    trt, cache = FakeTRT(), PlanCache(tmp_path)
    atomic_write(cache.path_for(KEY), corrupt)
    with caplog.at_level(logging.WARNING, logger="posecast.engines.runtime.plan_cache"):
        loaded, built = cache.load_or_build(KEY, trt.build, trt.deserialize)
    assert built and trt.builds == 1 and loaded == {"engine": trt.build()}
    assert cache.path_for(KEY).read_bytes().startswith(b"PLAN")
    assert "does not match its record" in caplog.text and "rebuilding" in caplog.text


def test_deserializer_exception_also_rebuilds(tmp_path: Path) -> None:
    trt, cache = FakeTRT(), PlanCache(tmp_path)
    plan_cache.write_verified(cache.path_for(KEY), b"stale", PlanCache.made_from(KEY))  # recorded, yet unusable

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


# --- issue 15, defect 8: the cache verifies what it finds and is private --------------------------


def test_plan_swapped_for_another_valid_plan_is_rebuilt(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A file that deserialises fine but is not the plan recorded for this key is never used."""
    trt, cache = FakeTRT(), PlanCache(tmp_path)
    cache.load_or_build(KEY, trt.build, trt.deserialize)
    cache.path_for(KEY).write_bytes(b"PLAN from another model")  # valid for the deserialiser
    with caplog.at_level(logging.WARNING, logger="posecast.engines.runtime.plan_cache"):
        loaded, built = cache.load_or_build(KEY, trt.build, trt.deserialize)
    assert built and trt.builds == 2 and loaded == {"engine": trt.build()}
    assert "does not match its record" in caplog.text and "rebuilding" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="posecast.engines.runtime.plan_cache"):
        _, built = cache.load_or_build(KEY, trt.build, trt.deserialize)
    assert not built and caplog.text == ""  # rebuilt once, then trusted again


def test_plan_without_its_record_is_not_deserialised(tmp_path: Path) -> None:
    trt, cache = FakeTRT(), PlanCache(tmp_path)
    cache.load_or_build(KEY, trt.build, trt.deserialize)
    plan_cache.record_path(cache.path_for(KEY)).unlink()
    seen: list[bytes] = []

    def spy(data: bytes) -> object | None:
        seen.append(data)
        return trt.deserialize(data)

    _, built = cache.load_or_build(KEY, trt.build, spy)
    assert built and len(seen) == 1  # only the freshly built plan was deserialised


def test_record_of_another_model_is_refused(tmp_path: Path) -> None:
    """A plan recorded for another ONNX file, renamed to this key's file name, is rebuilt."""
    trt, cache = FakeTRT(), PlanCache(tmp_path)
    other = dataclasses.replace(KEY, onnx_sha256="cd" * 32)
    cache.load_or_build(other, lambda: b"PLAN other", trt.deserialize)
    for src in (cache.path_for(other), plan_cache.record_path(cache.path_for(other))):
        dst = cache.path_for(KEY) if src == cache.path_for(other) else plan_cache.record_path(cache.path_for(KEY))
        src.rename(dst)
    loaded, built = cache.load_or_build(KEY, trt.build, trt.deserialize)
    assert built and loaded == {"engine": trt.build()}


def test_verified_record_but_failing_plan_is_rebuilt(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A plan that matches its record but no longer deserialises (e.g. a driver update) is rebuilt."""
    trt, cache = FakeTRT(), PlanCache(tmp_path)
    cache.load_or_build(KEY, lambda: b"PLAN old", lambda data: data)
    with caplog.at_level(logging.WARNING, logger="posecast.engines.runtime.plan_cache"):
        loaded, built = cache.load_or_build(KEY, trt.build, lambda d: trt.deserialize(d) if d != b"PLAN old" else None)
    assert built and loaded == {"engine": trt.build()}
    assert "failed to deserialise" in caplog.text


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_cache_is_private_whatever_the_umask(tmp_path: Path) -> None:
    """Folders 0700 and files 0600 even under umask 000 (which would give 0777/0666)."""
    trt, cache = FakeTRT(), PlanCache(tmp_path / "home" / "cache" / "engines")
    old = os.umask(0)
    try:
        cache.load_or_build(KEY, trt.build, trt.deserialize)
        timing = cache.timing_cache_path("10.9.0", "GPU", "9.0")
        plan_cache.write_verified(timing, b"timing", {"source_sha256": "x"})
    finally:
        os.umask(old)
    assert _mode(cache.directory) == 0o700 and _mode(cache.directory.parent) == 0o700
    files = sorted(cache.directory.iterdir())  # two files, their records, and the folder's lock (.lock)
    assert len(files) == 5 and all(_mode(f) == 0o600 for f in files), [(f.name, oct(_mode(f))) for f in files]
    assert ".lock" in {f.name for f in files}


def test_open_cache_folder_is_tightened(tmp_path: Path) -> None:
    folder = tmp_path / "engines"
    folder.mkdir()
    folder.chmod(0o777)
    trt = FakeTRT()
    PlanCache(folder).load_or_build(KEY, trt.build, trt.deserialize)
    assert _mode(folder) == 0o700


def test_read_verified_rejects_every_mismatch(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    plan_cache.write_verified(path, b"data", {"source_sha256": "aa"})
    assert plan_cache.read_verified(path, {"source_sha256": "aa"}) == b"data"
    assert plan_cache.read_verified(path, {"source_sha256": "bb"}) is None  # another source
    assert not path.exists()  # a rejected file is removed with its record
    plan_cache.write_verified(path, b"data", {"source_sha256": "aa"})
    path.write_bytes(b"dat")  # truncated
    assert plan_cache.read_verified(path, {"source_sha256": "aa"}) is None
    plan_cache.write_verified(path, b"data", {"source_sha256": "aa"})
    plan_cache.record_path(path).write_text("{not json")
    assert plan_cache.read_verified(path, {"source_sha256": "aa"}) is None
    assert plan_cache.read_verified(tmp_path / "missing.bin", {"source_sha256": "aa"}) is None


def test_a_reader_between_the_file_and_its_record_waits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Multi-process QA: a reader (another process's `run --int8`) landing between a builder's two
    writes saw the new file without its record, deleted it, and the builder failed with a
    traceback (3 of 9 first builds). The folder's lock makes the two writes one step for readers."""
    import threading

    path, made_from = tmp_path / "engines" / "model.int8.onnx", {"source_sha256": "ab" * 32}
    real_write, readers, read = plan_cache.atomic_write, [], []

    def write_then_another_reads(target: Path, data: bytes, mode: int) -> None:
        real_write(target, data, mode=mode)
        if Path(target) == path:  # the file is there, its record not yet
            reader = threading.Thread(target=lambda: read.append(plan_cache.read_verified(path, made_from)))
            reader.start()
            reader.join(0.5)  # (it waits for the lock: this writer goes on)
            readers.append(reader)

    monkeypatch.setattr(plan_cache, "atomic_write", write_then_another_reads)
    plan_cache.write_verified(path, b"int8 model bytes", made_from)
    readers[0].join(10)
    assert read == [b"int8 model bytes"]
    assert path.read_bytes() == b"int8 model bytes" and plan_cache.record_path(path).is_file()


def test_a_cache_folder_made_meanwhile_by_another_process_is_used(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Multi-process QA: 4 processes starting at once on a fresh cache, 4 of 20 trials: "cannot use
    the engine cache folder … (File exists)", naming a fix that was no fix."""
    real_mkdir = Path.mkdir

    def made_by_another_first(self: Path, *args: object, **kwargs: object) -> None:
        real_mkdir(self, *args, **kwargs)  # type: ignore[arg-type]
        raise FileExistsError(17, "File exists", str(self))

    monkeypatch.setattr(Path, "mkdir", made_by_another_first)
    folder = plan_cache.private_dir(tmp_path / "cache" / "engines")
    assert folder.is_dir()


def test_a_killed_writer_s_temporary_file_is_removed_once_stale(tmp_path: Path) -> None:
    """Concurrency QA: an ``engines build --int8`` killed while it wrote the cache left its
    ``.NAME.XXXX.tmp`` beside the file for good; the next write removes one over an hour old (a
    younger one may be another run's, going on)."""
    old, young = tmp_path / ".m.int8.onnx.json.j1_33pga.tmp", tmp_path / ".m.int8.onnx.k2_44qhb.tmp"
    for leftover in (old, young):
        leftover.write_bytes(b"half")
    two_hours_ago = os.path.getmtime(old) - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    plan_cache.write_verified(tmp_path / "m.int8.onnx", b"model", {"source_sha256": "ab"})
    assert not old.exists() and young.exists()
    assert plan_cache.read_verified(tmp_path / "m.int8.onnx", {"source_sha256": "ab"}) == b"model"

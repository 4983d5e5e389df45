"""The INT8 copy's cache (issue 15, defect 8): verified against the recorded sha256 of its source
and of itself, rebuilt once when it does not match, private whatever the umask. Real
quantisation of the shipped model with ONNX Runtime; no torch needed."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from posecast.engines.fileio import file_sha256
from posecast.engines.runtime import DEFAULT_MODEL, OnnxRuntimeBackend, plan_cache
from posecast.engines.runtime.quantize import SOURCE_KEY, cached_int8, int8_path_for, shipped_int8

pytest.importorskip("onnx")  # making an INT8 copy needs the onnx package (the train extra)

LOGGER = "posecast.engines.runtime"


@pytest.fixture
def model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the shipped float model with no INT8 copy beside it, and a private cache folder."""
    monkeypatch.setenv("POSECAST_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "models" / "lifter.onnx"
    path.parent.mkdir()
    shutil.copy(DEFAULT_MODEL, path)
    return path


def _windows(backend: OnnxRuntimeBackend) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.normal(0.0, 0.1, (2, backend.metadata.window_frames, 17, 2)).astype(np.float32)


def _lift(model: Path) -> tuple[Path, np.ndarray]:
    with OnnxRuntimeBackend(model, int8=True) as backend:
        return backend.model_path, backend.run(_windows(backend)).joints_3d


def _made_from(path: Path) -> str:
    import onnx

    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}[SOURCE_KEY]


def test_truncated_cached_copy_is_rebuilt_once(model: Path, caplog: pytest.LogCaptureFixture) -> None:
    cached, first = _lift(model)
    assert cached.parent == model.parent.parent / "cache" / "engines"
    cached.write_bytes(cached.read_bytes()[: cached.stat().st_size // 2])  # an interrupted copy, a full disk
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        again, second = _lift(model)
    assert again == cached and np.array_equal(first, second)
    assert caplog.text.count("does not match its record") == 1
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        _lift(model)  # repaired: no further warning
    assert caplog.text == ""


def test_another_model_at_the_cache_path_is_not_used(model: Path, caplog: pytest.LogCaptureFixture) -> None:
    cached, first = _lift(model)
    shutil.copy(DEFAULT_MODEL, cached)  # a valid model, but not this model's INT8 copy
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        _, second = _lift(model)
    assert "does not match its record" in caplog.text
    assert np.array_equal(first, second)
    assert _made_from(cached) == file_sha256(model)
    assert cached.stat().st_size < 0.7 * model.stat().st_size  # the INT8 copy again, not the float model


def test_copy_of_another_source_is_not_used(model: Path, tmp_path: Path) -> None:
    """Cached copy and record of model A renamed to model B's cache name: B gets its own copy."""
    import onnx

    other = tmp_path / "models" / "other.onnx"
    proto = onnx.load(str(model))
    proto.producer_version = "other"  # another valid file: another sha256
    other.write_bytes(proto.SerializeToString())
    a = cached_int8(model)
    b_path = int8_path_for(other)
    shutil.copy(a, b_path)
    shutil.copy(plan_cache.record_path(a), plan_cache.record_path(b_path))
    b = cached_int8(other)
    assert b == b_path and _made_from(b) == file_sha256(other)


def test_cache_is_private_under_umask_000(model: Path) -> None:
    old = os.umask(0)
    try:
        cached = cached_int8(model)
    finally:
        os.umask(old)
    for folder in (cached.parent, cached.parent.parent):
        assert folder.stat().st_mode & 0o777 == 0o700, folder
    for file in (cached, plan_cache.record_path(cached)):
        assert file.stat().st_mode & 0o777 == 0o600, file


def test_rebuild_replaces_a_good_copy(model: Path) -> None:
    cached = cached_int8(model)
    before = cached.stat().st_mtime_ns
    assert cached_int8(model).stat().st_mtime_ns == before  # reused
    assert cached_int8(model, rebuild=True).stat().st_mtime_ns != before


def test_corrupt_copy_shipped_beside_the_model_is_ignored(model: Path, caplog: pytest.LogCaptureFixture) -> None:
    sibling = model.with_name("lifter.int8.onnx")
    sibling.write_bytes(b"\x08\x07 not a model")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert shipped_int8(model) is None
        cached, _ = _lift(model)
    assert "lifter.int8.onnx" in caplog.text and "cannot be read" in caplog.text
    assert cached.parent.name == "engines"

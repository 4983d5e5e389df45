"""Runtime backends against the PyTorch reference on windows made from real mocap."""

from __future__ import annotations

import json
import logging
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from posecast.engines import metadata, normalize
from posecast.engines.errors import BackendError, ModelError
from posecast.engines.networks import ModelConfig, PoseGenerator, PoseModel
from posecast.engines.runtime import DEFAULT_MODEL, OnnxRuntimeBackend, cuda_device_available, load_backend
from posecast.engines.runtime.quantize import cached_int8
from posecast.engines.runtime.torch_cuda import build_torch_model
from posecast.engines.training import export

HAS_GPU = cuda_device_available()[0]
WINDOW = 9


def make_model(path: Path, window: int = WINDOW, width: int = 64, blocks: int = 1, config: bool = True,
               fp16_weights: bool = False, seed: int = 0) -> PoseModel:  # fmt: skip
    """Export a random model with non-trivial batch-norm statistics (as after training)."""
    torch.manual_seed(seed)
    cfg = ModelConfig(window_frames=window, width=width, blocks=blocks)
    model = PoseModel(PoseGenerator(cfg)).eval()
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.normal_(0.0, 0.1)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.normal_(0.0, 0.1)
    head = model.generator.scale_net.net[-1]  # zero-initialised: give the scale output a range
    head.weight.data.normal_(0.0, 0.05)
    extra = {"model_config": json.dumps(cfg.to_dict())} if config else {}
    export.export_onnx(model, path, metadata.ModelMetadata(window_frames=window, extra=extra), fp16_weights)
    return model


def mocap_windows(joints_m: np.ndarray, window: int, count: int = 24) -> np.ndarray:
    """``(count, window, 17, 2)`` normalised 2D of a real clip ``joints_m`` ``(F, 17, 3)`` (metres,
    Y up; the ``walk_joints`` fixture) seen from 4 m (camera y down)."""
    cam = joints_m - joints_m[:, :1].mean(axis=0, keepdims=True)  # clip centred on the pelvis
    cam = cam * np.array([1.0, -1.0, 1.0], np.float32) + np.array([0.0, 0.0, 4.0], np.float32)
    keypoints = normalize.project(cam).astype(np.float32)  # (F, 17, 2)
    starts = np.linspace(0, len(keypoints) - window, count).astype(int)
    return np.stack([keypoints[s : s + window] for s in starts])


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PoseModel]:
    path = tmp_path_factory.mktemp("model") / "small.onnx"
    return path, make_model(path)


@pytest.fixture(scope="module")
def windows(walk_joints: np.ndarray) -> np.ndarray:
    return mocap_windows(walk_joints, WINDOW)


def reference(model: PoseModel, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with torch.no_grad():
        joints, scale = model(torch.from_numpy(x))
    return joints.numpy(), scale.numpy()


def test_mocap_windows_are_realistic(windows: np.ndarray) -> None:
    assert windows.shape == (24, WINDOW, 17, 2)
    height = windows[..., 1].max(-1) - windows[..., 1].min(-1)  # ≈ 1.7 m / 4 m
    assert 0.2 < float(np.median(height)) < 0.6


def test_onnxruntime_matches_torch(small: tuple[Path, PoseModel], windows: np.ndarray) -> None:
    path, model = small
    ref_joints, ref_scale = reference(model, windows)
    with OnnxRuntimeBackend(path) as backend:
        out = backend.run(windows)
    assert out.joints_3d.shape == (len(windows), 17, 3) and out.joints_3d.dtype == np.float32
    tolerance = 1e-4 * float(np.abs(ref_joints).max())
    assert float(np.abs(out.joints_3d - ref_joints).max()) <= tolerance
    assert float(np.abs(out.scale - ref_scale).max()) <= 1e-4 * float(np.abs(ref_scale).max())


def test_onnxruntime_options_agree(small: tuple[Path, PoseModel], windows: np.ndarray) -> None:
    path, _ = small
    with OnnxRuntimeBackend(path) as default, OnnxRuntimeBackend(path, threads=2, io_binding=False) as other:
        for batch in (1, 4, 1, len(windows)):  # cached bindings per batch size, reused
            a, b = default.run(windows[:batch]), other.run(windows[:batch])
            np.testing.assert_allclose(a.joints_3d, b.joints_3d, atol=1e-5)
    assert "2 threads" in other.device


def test_run_returns_fresh_arrays(small: tuple[Path, PoseModel], windows: np.ndarray) -> None:
    with OnnxRuntimeBackend(small[0]) as backend:
        first = backend.run(windows[:1])
        kept = first.joints_3d.copy()
        backend.run(windows[5:6])
    np.testing.assert_array_equal(first.joints_3d, kept)


@pytest.mark.parametrize("shape", [(9, 17, 2), (1, 8, 17, 2), (1, 9, 33, 2), (0, 9, 17, 2)])
def test_run_rejects_wrong_shape(small: tuple[Path, PoseModel], shape: tuple[int, ...]) -> None:
    with OnnxRuntimeBackend(small[0]) as backend, pytest.raises(BackendError, match=r"\(B, 9, 17, 2\)"):
        backend.run(np.zeros(shape, np.float32))


def test_int8_runs_close_and_is_cached(small: tuple[Path, PoseModel], windows: np.ndarray, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("POSECAST_CACHE", str(tmp_path))
    path, model = small
    ref_joints, _ = reference(model, windows)
    with OnnxRuntimeBackend(path, int8=True) as backend:
        out = backend.run(windows)
        assert "int8" in backend.device and backend.model_path.parent == tmp_path / "engines"
    rms = float(np.sqrt((ref_joints**2).mean()))
    assert float(np.abs(out.joints_3d - ref_joints).max()) < 0.05 * rms
    cached = cached_int8(path)
    mtime = cached.stat().st_mtime_ns
    assert cached_int8(path).stat().st_mtime_ns == mtime  # reused, not rebuilt


def test_torch_rebuild_matches_onnx(tmp_path: Path, windows: np.ndarray) -> None:
    for fp16_weights in (False, True):  # float16 storage reaches the weights through Cast nodes
        path = tmp_path / f"m{int(fp16_weights)}.onnx"
        make_model(path, fp16_weights=fp16_weights, seed=3)
        rebuilt = build_torch_model(path)
        with OnnxRuntimeBackend(path) as backend:
            out = backend.run(windows)
        joints, _ = reference(rebuilt, windows)
        assert float(np.abs(joints - out.joints_3d).max()) <= 1e-4 * float(np.abs(joints).max())


def test_torch_rebuild_needs_model_config(tmp_path: Path) -> None:
    import onnx

    path = tmp_path / "noconfig.onnx"
    make_model(path)
    proto = onnx.load(str(path))  # a file from an exporter that did not record the architecture
    kept = [p for p in proto.metadata_props if p.key != "posecast.extra.model_config"]
    del proto.metadata_props[:]
    proto.metadata_props.extend(kept)
    onnx.save(proto, str(path))
    with pytest.raises(ModelError, match="model_config"):
        build_torch_model(path)


def test_fp16_graph_stays_close(small: tuple[Path, PoseModel], windows: np.ndarray, tmp_path: Path) -> None:
    import onnx
    from posecast.engines.runtime.fp16 import convert_mlp_to_fp16

    path, model = small
    half = convert_mlp_to_fp16(onnx.load(str(path)))
    onnx.checker.check_model(half, full_check=True)
    types = {t.name: t.type.tensor_type.elem_type for t in [*half.graph.input, *half.graph.output]}
    assert set(types.values()) == {onnx.TensorProto.FLOAT}  # float32 I/O kept
    assert any(i.data_type == onnx.TensorProto.FLOAT16 for i in half.graph.initializer)
    onnx.save(half, str(tmp_path / "half.onnx"))
    with OnnxRuntimeBackend(tmp_path / "half.onnx") as backend:
        out = backend.run(windows)
    ref_joints, _ = reference(model, windows)
    assert float(np.abs(out.joints_3d - ref_joints).max()) < 5e-3 * float(np.abs(ref_joints).max())


def test_unknown_backend_and_missing_model(small: tuple[Path, PoseModel], tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="unknown backend 'openvino'"):
        load_backend("openvino", small[0])
    with pytest.raises(ModelError, match="model file not found"):
        load_backend("onnxruntime", tmp_path / "missing.onnx")


@pytest.mark.skipif(HAS_GPU, reason="checks the GPU-less fallback")
def test_auto_without_gpu_gives_onnxruntime_and_one_log_line(
    small: tuple[Path, PoseModel], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from posecast.engines import runtime

    monkeypatch.setattr(runtime, "_told_no_gpu", False)  # as in a fresh process
    with caplog.at_level(logging.INFO, logger="posecast.engines.runtime"):
        backend = load_backend("auto", small[0], threads=1, max_batch=4)  # options the backend lacks are dropped
        load_backend("auto", small[0])  # a second lifter (bench's configurations): said once a process
    assert isinstance(backend, OnnxRuntimeBackend)
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("posecast.engines.runtime")]
    assert len(lines) == 1 and lines[0].startswith("backend: onnxruntime (CPU): no CUDA GPU found")


@pytest.mark.skipif(HAS_GPU, reason="checks the GPU-less error")
@pytest.mark.parametrize("name", ["tensorrt", "torch-cuda"])
def test_gpu_backends_without_gpu_raise_before_importing(name: str, small: tuple[Path, PoseModel]) -> None:
    with pytest.raises(BackendError, match=f"the {name} backend needs an NVIDIA GPU.*--backend onnxruntime"):
        load_backend(name, small[0])
    assert "tensorrt" not in sys.modules


@pytest.mark.skipif(not DEFAULT_MODEL.is_file(), reason="shipped weights not present yet")
def test_shipped_model_runs(walk_joints: np.ndarray) -> None:
    with load_backend("onnxruntime") as backend:
        x = mocap_windows(walk_joints, backend.metadata.window_frames, count=8)
        out = backend.run(x)
    assert out.joints_3d.shape == (8, 17, 3) and np.isfinite(out.joints_3d).all()
    np.testing.assert_allclose(out.joints_3d[:, 0], 0.0, atol=1e-6)  # root-relative
    if "model_config" in backend.metadata.extra:
        joints, _ = reference(build_torch_model(DEFAULT_MODEL), x)
        assert float(np.abs(joints - out.joints_3d).max()) <= 1e-4 * float(np.abs(joints).max())


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_GPU, reason="needs an NVIDIA GPU")
def test_torch_cuda_parity_and_cuda_graph(small: tuple[Path, PoseModel], windows: np.ndarray) -> None:
    path, model = small
    ref_joints, _ = reference(model, windows)
    tolerance = 1e-3 * float(np.abs(ref_joints).max())
    with load_backend("torch-cuda", path) as backend:
        assert "CUDA graph" in backend.device
        for batch_slice in (slice(0, 1), slice(0, 4), slice(3, 4), slice(None)):  # graph, eager, graph, eager
            out = backend.run(windows[batch_slice])
            assert float(np.abs(out.joints_3d - ref_joints[batch_slice]).max()) <= tolerance


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_GPU, reason="needs an NVIDIA GPU")
@pytest.mark.parametrize("precision,rel_tol", [("fp32", 1e-3), ("fp16", 2e-2)])
def test_tensorrt_parity(small: tuple[Path, PoseModel], windows: np.ndarray, tmp_path: Path, precision: str,
                         rel_tol: float) -> None:  # fmt: skip
    pytest.importorskip("tensorrt")
    path, model = small
    ref_joints, _ = reference(model, windows)
    with load_backend("tensorrt", path, precision=precision, max_batch=32, cache_dir=tmp_path) as backend:
        for batch_slice in (slice(0, 1), slice(0, 4), slice(3, 4), slice(None)):
            out = backend.run(windows[batch_slice])
            assert float(np.abs(out.joints_3d - ref_joints[batch_slice]).max()) <= rel_tol * np.abs(ref_joints).max()
    assert len(list(tmp_path.glob("*.plan"))) == 1


def test_a_gpu_backend_that_cannot_start_is_one_error_and_auto_goes_on() -> None:
    """GPU review: TensorRT unable to initialise CUDA under an older driver raises pybind11's
    TypeError (torch a RuntimeError for a GPU its wheel has no kernels for): a traceback, and
    ``auto`` did not fall back. It is one BackendError naming the backend, the reason and the fix;
    ONNX Runtime's own faults are not hidden so."""
    from posecast.engines.runtime import _started

    class NoCuda:  # a GPU backend whose start fails in the library under it
        def __init__(self, model_path, **options) -> None:  # noqa: ANN001, ANN003
            raise TypeError("pybind11::init(): factory function returned nullptr\nmore")

    said = (r"^the tensorrt backend could not start on this GPU \(TypeError: pybind11::init\(\): factory function "
            r"returned nullptr\); check that the NVIDIA driver is new enough for its CUDA; use --backend onnxruntime$")
    with pytest.raises(BackendError, match=said):
        _started("tensorrt", NoCuda, None, {})
    with pytest.raises(TypeError):
        _started("onnxruntime", OnnxRuntimeBackend, None, {"no_such_option": 1})


def test_a_gpu_backend_given_the_int8_copy_names_the_float_model() -> None:
    """GPU review: TensorRT's parser would meet MatMulInteger, torch-cuda asked to re-export."""
    from posecast.engines.runtime.base import check_float_model
    from posecast.engines.runtime.quantize import int8_sibling

    check_float_model("tensorrt", DEFAULT_MODEL)  # the float model: fine
    said = f"INT8 copy for ONNX Runtime on the CPU; the torch-cuda backend runs the float model: pass {DEFAULT_MODEL}"
    with pytest.raises(BackendError, match=re.escape(said) + "; use --backend onnxruntime$"):
        check_float_model("torch-cuda", int8_sibling(DEFAULT_MODEL))


def test_people_are_lifted_one_call_each_only_where_the_int8_copy_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """GPU review: ``auto`` asked for the INT8 copy, got TensorRT's float model on a GPU, and still
    lifted each person in a call of their own."""
    from posecast.realtime.lifting import lifter as lifter_module

    real = lifter_module.load_backend
    monkeypatch.setattr(lifter_module, "load_backend", lambda name, path, **kw: real("onnxruntime", path))  # float
    assert not lifter_module.Lifter3D(lifter_module.LifterOptions(int8=True))._per_person
    monkeypatch.setattr(lifter_module, "load_backend", real)
    assert lifter_module.Lifter3D(lifter_module.LifterOptions(int8=True))._per_person  # the INT8 copy runs
    from posecast.engines.runtime.quantize import int8_sibling  # (review: given as the model, it ran in one batch)

    given = lifter_module.LifterOptions(model_path=str(int8_sibling(DEFAULT_MODEL)), int8=False)
    assert lifter_module.Lifter3D(given)._per_person


def test_a_plan_built_by_another_recipe_is_another_file() -> None:
    from posecast.engines.runtime.plan_cache import PlanKey
    from posecast.engines.runtime.tensorrt_backend import PLAN_RECIPE

    key = PlanKey("ab" * 32, "10.9.0", "NVIDIA H100", "9.0", "fp32", 16, 512, PLAN_RECIPE)
    assert key.filename() != PlanKey("ab" * 32, "10.9.0", "NVIDIA H100", "9.0", "fp32", 16, 512, 1).filename()

"""The load-time probe (``engines.runtime.load_backend``): a backend that gives no finite numbers
for a window is refused, closed, and, in ``auto``, passed over for the next one (a GPU backend's
FP16 overflow must not end the run while ONNX Runtime would lift)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from posecast.engines import runtime
from posecast.engines.errors import ModelError
from posecast.engines.runtime.base import LiftOutput
from posecast.engines.runtime.onnxruntime_backend import OnnxRuntimeBackend


class NanBackend:
    """A backend that loads and runs, and gives NaN (as a model with NaN weights, or FP16 overflow)."""

    name = "nan-gpu"
    closed = 0

    def __init__(self, model_path: object = None) -> None:
        self.metadata = SimpleNamespace(window_frames=27)
        self.device = "fake GPU"

    def run(self, windows: np.ndarray) -> LiftOutput:
        return LiftOutput(np.full((len(windows), 17, 3), np.nan, np.float32), np.ones((len(windows), 1), np.float32))

    def close(self) -> None:
        NanBackend.closed += 1


def test_auto_passes_over_a_backend_that_gives_no_finite_3d(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "cuda_device_available", lambda: (True, "fake GPU"))
    monkeypatch.setattr(runtime, "BACKENDS", {"nan-gpu": NanBackend, "onnxruntime": OnnxRuntimeBackend})
    NanBackend.closed = 0
    backend = runtime.load_backend("auto")
    try:
        assert isinstance(backend, OnnxRuntimeBackend) and NanBackend.closed == 1
    finally:
        backend.close()


def test_a_backend_named_that_gives_no_finite_3d_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "BACKENDS", {"nan-gpu": NanBackend, "onnxruntime": OnnxRuntimeBackend})
    NanBackend.closed = 0
    with pytest.raises(ModelError, match="gives no finite 3D on nan-gpu"):
        runtime.load_backend("nan-gpu")
    assert NanBackend.closed == 1


def test_an_added_backend_that_fails_on_the_test_window_is_blamed_not_the_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """QA: a backend added to BACKENDS whose run() returned a tuple was reported as the model
    failing ("re-export it with tools/export.py")."""
    from posecast.engines.errors import BackendError

    class TupleBackend(OnnxRuntimeBackend):
        name = "tuple-ort"

        def run(self, keypoints_norm: np.ndarray):  # noqa: ANN201
            out = super().run(keypoints_norm)
            return out.joints_3d, out.scale

    monkeypatch.setitem(runtime.BACKENDS, "tuple-ort", TupleBackend)
    with pytest.raises(BackendError, match=r"backend tuple-ort fails on a test window of the model .*AttributeError.*"
                                           r"its run\(\) must return a LiftOutput") as refused:
        runtime.load_backend("tuple-ort")
    assert "re-export" not in str(refused.value)


def test_tools_report_a_stop_signal_by_its_number() -> None:
    """A tool stopped by SIGTERM (a job scheduler: raised as Ctrl-C is) exits 143 as the shell
    says it, not Ctrl-C's 130 (tools/train.py did)."""
    import signal

    from posecast.engines.errors import run_reporting
    from posecast.realtime.stop_signals import Interrupted

    def stopped(error: BaseException) -> int:
        def work() -> int:
            raise error

        return run_reporting(work, "tool")

    assert stopped(Interrupted(signal.SIGTERM)) == 143 and stopped(KeyboardInterrupt()) == 130

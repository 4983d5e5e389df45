"""A small or locked-down machine (constrained-machine QA): a low address-space limit (``ulimit
-v``, ``prlimit --as``) and memory running out are one line and exit 2, never a hang, a traceback
or a file called corrupt."""

from __future__ import annotations

import resource
import subprocess
import sys

import pytest
from posecast.realtime import cli


def _limited(mib: int):  # noqa: ANN202 - a preexec_fn
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (mib * 2**20, mib * 2**20))

    return limit


def test_the_command_loads_under_an_800_mib_address_space_limit(tmp_path) -> None:  # noqa: ANN001
    """OpenBLAS's thread pool (a thread and buffer per core) failed to start under 800 MB ("Memory
    allocation still failed after 10 retries") and hung for ever, deaf to signals, at 700 MB: the
    command line asks for one BLAS thread (posecast's matrices are small) unless the user set it."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "posecast.realtime", "--version"], capture_output=True, text=True,
                          timeout=120, preexec_fn=_limited(800), env=env, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0 and done.stdout.startswith("posecast ") and done.stderr == "", done.stderr


def test_running_out_of_memory_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """A ``MemoryError`` anywhere in a command was a traceback (850 MB); an ``ImportError`` of a
    native library whose mapping was refused too (400 MB)."""
    from posecast.realtime.commands import lift

    for failure in (MemoryError(), ImportError("libxcb.so.0: failed to map segment from shared object")):

        def fails(args, failure=failure) -> int:  # noqa: ANN001
            raise failure

        monkeypatch.setattr(lift, "lift", fails)
        assert cli.main(["lift", "--input", "x.npz", "--output", "y.npz"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("posecast: error: out of memory") and err.count("\n") == 1, err
    monkeypatch.setattr(lift, "lift", lambda args: (_ for _ in ()).throw(ImportError("No module named x")))
    with pytest.raises(ImportError):  # a missing module is not memory's
        cli.main(["lift", "--input", "x.npz", "--output", "y.npz"])


def test_a_model_that_does_not_fit_is_not_called_corrupt(monkeypatch: pytest.MonkeyPatch) -> None:
    """ONNX Runtime's ``std::bad_alloc`` (850 MB) was "corrupt ... re-export or re-download it"."""
    import onnxruntime as ort
    from posecast.engines import host, metadata
    from posecast.engines.errors import ModelError
    from posecast.engines.runtime.base import DEFAULT_MODEL

    def no_room(*args: object, **kwargs: object) -> None:
        raise RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Exception during initialization: "
                           "std::bad_alloc")  # fmt: skip

    monkeypatch.setattr(ort, "InferenceSession", no_room)
    monkeypatch.setattr(host, "address_space_limit_mib", lambda: 850.0)
    with pytest.raises(ModelError, match=r"cannot load model file .*: out of memory within this process's "
                                         r"address-space limit of 850 MiB \(ulimit -v\)") as raised:  # fmt: skip
        metadata.onnx_cpu_session(DEFAULT_MODEL)
    assert "corrupt" not in str(raised.value)


def test_an_undecodable_video_under_a_memory_limit_names_it(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """A decoder that could not allocate (700 MB) was said to be a file to re-encode, only."""
    from posecast.engines import host
    from posecast.realtime.errors import SourceError
    from posecast.realtime.sources import open_source

    (tmp_path / "clip.mp4").write_bytes(b"not a video at all" * 100)
    monkeypatch.setattr(host, "address_space_limit_mib", lambda: 700.0)
    source = open_source(str(tmp_path / "clip.mp4"))
    with pytest.raises(SourceError, match=r"\(or memory: this process's address-space limit is 700 MiB, ulimit -v\)"):
        source.open()

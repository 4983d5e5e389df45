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


def test_a_limit_too_small_to_load_in_is_one_line_before_anything_loads(tmp_path) -> None:  # noqa: ANN001
    """Between about 480 and 515 MiB scipy's OpenBLAS retried a refused 32 MiB buffer for ever as it
    loaded (100 % CPU, deaf to every signal); at 450 and 520 MiB, tracebacks: below the least any
    command works in, the command line says so before it loads a library. ``demo`` and ``bench``
    crashed or aborted now and then below 1.3 GiB: they say so too."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    for mib in (500, 300):
        done = subprocess.run([sys.executable, "-m", "posecast.realtime", "--version"], capture_output=True,
                              text=True, timeout=60, preexec_fn=_limited(mib), env=env, cwd=tmp_path)  # fmt: skip
        assert done.returncode == 2 and done.stdout == "", done.stderr
        assert done.stderr == (f"posecast: error: this process's address-space limit of {mib} MiB (ulimit -v) is below "
                               "the 768 MiB posecast needs to load its libraries: raise the limit (posecast run needs "
                               "about 1.1 GiB of it)\n")  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "posecast.realtime", "-v", "demo", "--headless"], capture_output=True,
                          text=True, timeout=60, preexec_fn=_limited(1100), env=env, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2 and done.stderr == ("posecast: error: this process's address-space limit of 1100 MiB "
                                                    "(ulimit -v) is below the 1300 MiB posecast demo needs: raise the "
                                                    "limit\n"), done.stderr  # fmt: skip


def test_run_works_under_a_1300_mib_limit(tmp_path, media_dir, pose_model_path) -> None:  # noqa: ANN001
    """glibc's malloc reserves 64 MiB of address space for each thread's arena: under a 1.4 GiB limit
    MediaPipe could not start a thread, and waited for ever or aborted without a word. Under a
    limit the command line asks for two arenas (it works from about 1.1 GiB)."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    clip = str(media_dir / "dance_576.mp4")
    done = subprocess.run([sys.executable, "-m", "posecast.realtime", "run", "--source", clip, "--model-asset",
                           str(pose_model_path), "--headless", "--frames", "5", "--publish",
                           f"ipc://{tmp_path / 'pose.sock'}"], capture_output=True, text=True, timeout=120,
                          preexec_fn=_limited(1300), env=env, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "5 frames in" in done.stderr


def test_mediapipe_without_room_to_start_is_out_of_memory(monkeypatch: pytest.MonkeyPatch, pose_model_path) -> None:  # noqa: ANN001
    """With 144 MiB of address space left MediaPipe failed to start, and with less it waited for
    ever, aborted or crashed without a word: it is not started without the room it needs."""
    from posecast.realtime.detectors import mediapipe
    from posecast.realtime.detectors.mediapipe import MediaPipeDetector, MediaPipeOptions

    asked = []
    monkeypatch.setattr(mediapipe, "address_space_left", lambda mib: asked.append(mib) or False)
    with pytest.raises(MemoryError, match="MediaPipe needs about 160 MiB more address space to start"):
        MediaPipeDetector(MediaPipeOptions(model_path=pose_model_path))
    assert asked == [160]


def test_address_space_left_is_tried_not_guessed() -> None:
    """The room is found by mapping it (the size mapped adapts to the limit: the process's mapped
    size said 28 MiB were left where 144 could be mapped), in a child under a 900 MiB limit."""
    code = ("import resource; from posecast.engines.host import address_space_left as left; "
            "resource.setrlimit(resource.RLIMIT_AS, (900 << 20, 900 << 20)); print(left(100), left(900))")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["True", "False"], done.stderr


def test_a_library_that_calls_memory_something_else_is_still_memory() -> None:
    """scipy re-raises a refused mapping as "The scipy install you are using seems to be broken"
    (450 MiB: a traceback); the memory error is in what it was raised from."""
    from posecast.engines.host import memory_import_error

    try:
        try:
            raise ImportError("libscipy_openblas.so: failed to map segment from shared object")
        except ImportError as cause:
            raise ImportError("The `scipy` install you are using seems to be broken") from cause
    except ImportError as exc:
        assert memory_import_error(exc)
    assert not memory_import_error(ImportError("No module named 'scipy'"))


def test_a_thread_that_cannot_start_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """Under a limit on threads or memory, ``bench`` ended in two tracebacks: "can't start new
    thread", then its sampler joined the thread that had not started."""
    import threading

    from posecast.realtime.benchmark.machine import ResourceSampler
    from posecast.realtime.commands import lift

    def no_thread(self) -> None:  # noqa: ANN001
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", no_thread)
    sampler = ResourceSampler()
    with pytest.raises(RuntimeError, match="can't start new thread"):
        sampler.start()
    sampler.stop()  # nothing to join
    monkeypatch.setattr(lift, "lift", lambda args: threading.Thread(target=print).start())
    assert cli.main(["lift", "--input", "x.npz", "--output", "y.npz"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("posecast: error: cannot start another thread: this process is at a limit on threads "
                          "(ulimit -u, a container's pids limit) or on memory") and err.count("\n") == 1, err


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


def test_too_few_threads_left_is_said_before_anything_loads(monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # noqa: ANN001
    """Under a pids limit MediaPipe waited for ever (12), aborted without a word (10) or a video
    was said not to decode (6): the command line says so before it starts a library's threads."""
    from posecast.engines import host
    from posecast.realtime import launch

    monkeypatch.setattr(host, "cgroup_tasks_left", lambda: 5)
    monkeypatch.setattr(launch.sys, "argv", ["posecast", "run"])
    assert launch.main() == 2
    err = capsys.readouterr().err
    assert err == ("posecast: error: this process may start only 5 more threads (a container's pids limit), and "
                   "posecast run starts about 16 with these options: raise the limit\n")  # fmt: skip
    # the options are counted: a video output's encoder and a second person's landmarkers
    monkeypatch.setattr(host, "cgroup_tasks_left", lambda: 20)
    monkeypatch.setattr(launch.sys, "argv", ["posecast", "-v", "run", "--output-video", "v.mp4", "--max-people=2"])
    assert launch.main() == 2
    assert "posecast run starts about 32 with these options" in capsys.readouterr().err

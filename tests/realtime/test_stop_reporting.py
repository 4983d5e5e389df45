"""SIGHUP (the terminal or SSH session closing) finishes a run's outputs like Ctrl-C, unless the
run was started ignoring it (``nohup``); in real ``posecast`` processes on the real clip."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

needs_proc = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")


def _start(*args: str, hangup: object = signal.SIG_DFL) -> subprocess.Popen:
    def signals() -> None:
        # a test run started with nohup or in the background ignores these, and a child inherits that
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, hangup)

    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCV_")}
    return subprocess.Popen([sys.executable, "-m", "posecast.realtime.cli", *args], stderr=subprocess.PIPE, text=True,
                            env=env, preexec_fn=signals)  # fmt: skip


def _wait_for_first_frame(process: subprocess.Popen) -> list[str]:
    lines = []
    for line in process.stderr:  # the intrinsics line comes with the first frame
        lines.append(line)
        if line.startswith("intrinsics:"):
            return lines
    pytest.fail("".join(lines))


def _paced_run(tmp_path: Path, media_dir: Path, pose_model_path: Path, hangup: object) -> subprocess.Popen:
    return _start("run", "--source", str(media_dir / "squats_720x1280.mp4"), "--realtime", "--headless", "--publish",
                  "none", "--stats-json", str(tmp_path / "stats.json"), "--record", str(tmp_path / "take.posecast"),
                  "--model-asset", str(pose_model_path), hangup=hangup)  # fmt: skip


@needs_proc
def test_sighup_finishes_every_output(tmp_path: Path, media_dir: Path, pose_model_path: Path) -> None:
    """Before, SIGHUP killed the run at once: a hidden temporary video, a ``.part`` take that the
    next ``--record`` refused, no statistics."""
    process = _paced_run(tmp_path, media_dir, pose_model_path, signal.SIG_DFL)
    lines = _wait_for_first_frame(process)
    time.sleep(1.0)
    process.send_signal(signal.SIGHUP)
    err = "".join(lines) + process.communicate(timeout=120)[1]
    assert process.returncode == 128 + signal.SIGHUP, err
    assert "Traceback" not in err and "stopped by SIGHUP" in err, err
    assert json.loads((tmp_path / "stats.json").read_text())["frames"] > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stats.json", "take.posecast"]  # no .part, no temporary


@needs_proc
def test_an_ignored_sighup_stays_ignored(tmp_path: Path, media_dir: Path, pose_model_path: Path) -> None:
    """``nohup posecast run ...``: the hang-up is ignored, as nohup asks; SIGTERM still stops it."""
    process = _paced_run(tmp_path, media_dir, pose_model_path, signal.SIG_IGN)
    lines = _wait_for_first_frame(process)
    process.send_signal(signal.SIGHUP)
    time.sleep(1.0)
    assert process.poll() is None, "".join(lines)
    process.send_signal(signal.SIGTERM)
    err = "".join(lines) + process.communicate(timeout=120)[1]
    assert process.returncode == 128 + signal.SIGTERM, err
    assert "stopped by SIGTERM" in err and "SIGHUP" not in err


@needs_proc
def test_a_run_stopped_while_loading_says_no_output_was_written(
    tmp_path: Path, media_dir: Path, pose_model_path: Path
) -> None:
    """Outputs are made at the first frame: stopped before it, nothing is written (nothing
    half-written either), and the log says so instead of leaving a wrapper to look for files."""
    process = _paced_run(tmp_path, media_dir, pose_model_path, signal.SIG_DFL)
    lines = []
    for line in process.stderr:  # the lifting backend is chosen while loading, before the first frame
        lines.append(line)
        if line.startswith("backend:"):
            break
    process.send_signal(signal.SIGTERM)
    err = "".join(lines) + process.communicate(timeout=120)[1]
    assert process.returncode == 128 + signal.SIGTERM, err
    if "intrinsics:" in err:  # the first frame beat the signal on this machine: the other test's case
        pytest.skip("the first frame came before the signal")
    assert "Traceback" not in err and "stopped before the first frame: no output was written" in err, err
    assert list(tmp_path.iterdir()) == []


def test_a_mediapipe_object_cut_short_by_a_stop_is_not_a_traceback() -> None:
    """CI: a Ctrl-C inside MediaPipe's ``Image.__init__`` left an object whose ``__del__`` failed
    (no ``_image_ptr``), printed as "Exception ignored … Traceback" after "stopped by SIGINT".
    Such an error of a MediaPipe object is logged at debug level; any other goes on as before."""
    script = """if True:
        import gc, sys
        from posecast.realtime import cli

        class Image:  # as MediaPipe's: its __del__ reads what __init__ did not get to set
            def __del__(self):
                self._image_ptr

        Image.__module__ = Image.__del__.__module__ = "mediapipe.tasks.python.vision.core.image"

        class Other:
            def __del__(self):
                self.missing

        def command(argv):
            Image()
            Other()
            gc.collect()
            return 0

        cli._stoppable_main = command
        sys.exit(cli.main([]))
    """
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "_image_ptr" not in done.stderr and "'Other' object has no attribute 'missing'" in done.stderr, done.stderr


def test_a_stop_in_the_frame_count_stops_the_2d_thread_before_the_pipeline_closes(
    media_dir: Path, pose_model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review: a Ctrl-C landing in the progress count, not inside the threaded runner, left the
    runner suspended: its 2D thread ran on, blocked for ever, past the pipeline's and the source's
    close."""
    import threading

    import posecast.realtime.commands.arguments as arguments
    from posecast.realtime.cli import build_parser

    clip = str(media_dir / "dance_576.mp4")
    args = build_parser().parse_args(["run", "--source", clip, "--runner", "threaded", "--publish", "none",
                                      "--model-asset", str(pose_model_path)])  # fmt: skip

    def progress(items, *_, **__):  # noqa: ANN001, ANN202 (progress's own way, stopped at the 10th frame)
        for n, item in enumerate(items):
            if n == 10:
                raise KeyboardInterrupt
            yield item

    from posecast.realtime.pipeline import Pipeline

    alive_at_close = []  # whether a 2D thread still ran when the pipeline was closed
    close = Pipeline.close

    def watched_close(self: Pipeline, *args: object, **kwargs: object) -> None:
        alive_at_close.append(any(t.name == "posecast-2d" and t.is_alive() for t in threading.enumerate()))
        close(self, *args, **kwargs)

    monkeypatch.setattr(arguments, "progress", progress)
    monkeypatch.setattr(Pipeline, "close", watched_close)
    with pytest.raises(KeyboardInterrupt):
        arguments.run_pipeline(args, clip, [], None)
    assert alive_at_close and not any(alive_at_close)

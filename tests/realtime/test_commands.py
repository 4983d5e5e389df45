"""The CLI as a user meets it: real files, real sockets, one-line errors (exit code 2)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import zmq
from posecast.calibration import CameraIntrinsics
from posecast.engines import skeleton
from posecast.engines.fileio import OutputPathError, check_outputs
from posecast.engines.runtime.base import DEFAULT_MODEL_NAME
from posecast.realtime.cli import build_parser, main
from posecast.realtime.commands.run import run_and_report
from posecast.realtime.sinks.stats import StatsSink
from posecast.realtime.sinks.zmq import PublisherOptions, ZmqSink
from posecast.realtime.stages import Sink
from posecast.realtime.types import PersonPose, PoseFrame, StreamMeta


def _lift_input(media_dir: Path, path: Path) -> Path:
    """The reference MediaPipe 2D of the squats clip in the ``posecast lift`` input format."""
    landmarks = np.array(json.loads((media_dir / "squats_720x1280.mediapipe_full_2d.json").read_text()))
    keypoints = skeleton.from_mediapipe(landmarks)[..., :2]
    intrinsics = CameraIntrinsics.from_hfov(60.0, 720, 1280).as_array()
    np.savez(path, keypoints_2d=keypoints, intrinsics=intrinsics, fps=5.0)
    return path


def test_lift_round_trip(tmp_path: Path, media_dir: Path, assert_lengths_locked) -> None:  # noqa: ANN001
    source = _lift_input(media_dir, tmp_path / "squats_2d.npz")
    out = tmp_path / "squats_3d.npz"
    assert main(["lift", "--input", str(source), "--output", str(out), "--height", "1.65"]) == 0
    with np.load(out) as data:
        joints, rel = data["joints_3d"], data["joints_3d_rel"]
    assert joints.shape == rel.shape == (65, 17, 3)
    assert np.isfinite(joints).all()
    np.testing.assert_allclose(rel[:, skeleton.ROOT], 0.0, atol=1e-6)
    assert (joints[:, skeleton.ROOT, 2] > 0.5).all()  # in front of the camera
    # measured live after 2 or 3 s (10 frames at 5 fps), again at 4 and 8 s, each reached at 20 % of
    # a bone per second at most
    assert_lengths_locked(rel, fps=5.0, first_s=3.0)
    assert skeleton.height_from_bone_lengths(skeleton.bone_lengths(rel[-1])) == pytest.approx(1.65, rel=0.01)


def test_lift_says_where_the_height_comes_from(tmp_path: Path, media_dir: Path, caplog) -> None:  # noqa: ANN001
    """Upgrade QA: a take's 2D exported by an older posecast holds no height_m, and was lifted at
    the assumed 1.70 m without a word (120 mm from the height the live run had)."""
    source = _lift_input(media_dir, tmp_path / "squats_2d.npz")
    with caplog.at_level(logging.INFO, "posecast"):
        assert main(["lift", "--input", str(source), "--output", str(tmp_path / "a.npz")]) == 0
    assert f"subject height 1.70 m, assumed: {source} names none; pass --subject-height" in caplog.text
    caplog.clear()
    with np.load(source) as arrays:
        np.savez(tmp_path / "with_height.npz", **arrays, height_m=1.62)
    with caplog.at_level(logging.INFO, "posecast"):
        assert main(["lift", "--input", str(tmp_path / "with_height.npz"), "--output", str(tmp_path / "b.npz")]) == 0
        assert main(["lift", "--input", str(source), "--output", str(tmp_path / "c.npz"), "--height", "1.8"]) == 0
    assert "subject height 1.62 m, from" in caplog.text and "names none" not in caplog.text


def test_the_one_euro_filter_keeps_the_locked_bone_lengths(media_dir: Path, assert_lengths_locked) -> None:  # noqa: ANN001
    """`--one-euro` filters each joint on its own: the subject's lengths are put back after it
    (before, bones changed by up to 31 mm from frame to frame on the dance clip, never locking)."""
    from posecast.realtime.lifting import LiftingOptions, OneEuroOptions
    from posecast.realtime.offline import lift_sequence

    landmarks = np.array(json.loads((media_dir / "squats_720x1280.mediapipe_full_2d.json").read_text()))
    keypoints = skeleton.from_mediapipe(landmarks)[..., :2]
    fixed = tuple(float(v) for v in CameraIntrinsics.from_hfov(60.0, 720, 1280).as_array())
    options = LiftingOptions(fixed_intrinsics=fixed, one_euro=OneEuroOptions(min_cutoff_hz=1.5, beta=0.5))
    _, rel, valid, _ = lift_sequence(keypoints, np.ones(keypoints.shape[:2]), 5.0, options)
    assert valid.all()
    assert_lengths_locked(rel, fps=5.0, first_s=3.0)


def test_lift_reprojects_onto_the_2d(tmp_path: Path, media_dir: Path) -> None:
    source = _lift_input(media_dir, tmp_path / "squats_2d.npz")
    out = tmp_path / "squats_3d.npz"
    assert main(["lift", "--input", str(source), "--output", str(out)]) == 0
    with np.load(source) as s, np.load(out) as o:
        fx, fy, cx, cy = s["intrinsics"]
        joints = o["joints_3d"].astype(np.float64)
        keypoints = s["keypoints_2d"]
    projected = np.stack([joints[..., 0] / joints[..., 2] * fx + cx, joints[..., 1] / joints[..., 2] * fy + cy], -1)
    error_px = np.linalg.norm(projected - keypoints, axis=-1)
    # the root placement makes the metric 3D land on the observed 2D; the rest is lifting error
    assert np.median(error_px) < 0.06 * 1280


def test_lift_writes_the_motion_as_bvh_on_the_floor_under_the_feet(
    tmp_path: Path, media_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """QA: 2D from another detector had no way to BVH (``export`` takes only recordings). ``lift
    --bvh`` writes it beside the 3D: every frame, the lifted pose (one set of bone lengths) and the
    lower ankle at about the floor's ankle height."""
    from posecast.calibration import floor as floors
    from posecast.engines.bvh_export import hierarchy
    from posecast.engines.metrics import p_mpjpe
    from posecast.engines.training.data.bvh import parse_bvh

    source = _lift_input(media_dir, tmp_path / "squats_2d.npz")
    out, bvh = tmp_path / "squats_3d.npz", tmp_path / "squats.bvh"
    assert main(["lift", "--input", str(source), "--output", str(out), "--bvh", str(bvh), "--frame", "world"]) == 0
    motion = parse_bvh(bvh)
    assert motion.motion.shape[0] == 65 and motion.fps == pytest.approx(5.0)
    positions, names = motion.world_positions(), [j.name for j in hierarchy()]
    with np.load(out) as lifted:
        joints, height = lifted["joints_3d"].astype(np.float64), float(lifted["height_m"])
    heads = [j.head_joint for j in hierarchy()]
    # one set of bone lengths (the median) where the lifted frames' vary a little, else the same pose
    assert p_mpjpe(positions, joints[:, heads]).max() < 0.015
    lower_ankle = np.minimum(positions[:, names.index("LeftFoot"), 1], positions[:, names.index("RightFoot"), 1])
    assert np.median(lower_ankle) == pytest.approx(floors.ANKLE_HEIGHT_FRACTION * height, abs=0.04)  # on the floor
    assert main(["lift", "--input", str(source), "--output", str(out), "--bvh", str(bvh), "--frame", "unity"]) == 2
    with np.load(source) as arrays:  # 4 s at 5 fps: a floor from 20 poses is said to be rough (review)
        np.savez(tmp_path / "short.npz", **{k: v[:20] if k == "keypoints_2d" else v for k, v in arrays.items()})
    with caplog.at_level("WARNING"):
        assert main(["lift", "--input", str(tmp_path / "short.npz"), "--output", str(tmp_path / "short_3d.npz"),
                     "--bvh", str(tmp_path / "short.bvh")]) == 0  # fmt: skip
    assert "the floor comes from only 20 poses with both feet in view (under 45)" in caplog.text


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"keypoints_2d": np.zeros((5, 17, 2))}, "lacks arrays \\['intrinsics'\\]"),
        ({"keypoints_2d": np.zeros((5, 25, 2)), "intrinsics": np.ones(4)}, "must be \\(F, 17, 2\\)"),
        ({"keypoints_2d": np.zeros((5, 17, 2)), "intrinsics": np.ones(3)}, "intrinsics must be 4 numbers"),
    ],
)
def test_lift_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture, arrays: dict, message: str) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    assert main(["lift", "--input", str(path), "--output", str(tmp_path / "o.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert pytest.importorskip("re").search(message, err)


def test_run_missing_video_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["run", "--source", str(tmp_path / "nope.mp4"), "--headless", "--publish", "none"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("posecast: error:") and "nope.mp4" in err and "\n" not in err


def test_run_unreadable_video(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "garbage.mp4"
    bad.write_bytes(b"not a video at all" * 100)
    assert main(["run", "--source", str(bad), "--headless", "--publish", "none"]) == 2
    assert "garbage.mp4" in capsys.readouterr().err


def test_run_camera_that_does_not_open(capsys: pytest.CaptureFixture) -> None:
    assert main(["run", "--source", "57", "--headless", "--publish", "none"]) == 2
    err = capsys.readouterr().err
    assert "57" in err and "\n" not in err.strip()


def _run_with_the_port_taken(options: list[str], media_dir: Path) -> int:
    """``posecast run`` on the test clip publishing on a port another socket holds; its exit code."""
    blocker = zmq.Context.instance().socket(zmq.PUB)
    blocker.setsockopt(zmq.LINGER, 0)
    port = blocker.bind_to_random_port("tcp://127.0.0.1")
    try:
        return main(["run", "--source", str(media_dir / "dance_576.mp4"), "--headless",
                     "--publish", f"tcp://127.0.0.1:{port}", *options])  # fmt: skip
    finally:
        blocker.close()


def test_run_port_in_use(media_dir: Path, pose_model_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert _run_with_the_port_taken(["--frames", "2", "--model-asset", str(pose_model_path)], media_dir) == 2
    assert "in use" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--floor", "/nonexistent/floor.json"], "/nonexistent/floor.json"),
        (["--floor-camera", "1,2,3,4"], "--floor-camera needs HEIGHT,TILT"),
        (["--intrinsics", "/nonexistent/camera.json"], "/nonexistent/camera.json"),
        (["--model", "/nonexistent/model.onnx"], "model file not found"),
        (["--frames", "0"], "--frames must be 1 or more"),
        (["--output-video", "/nonexistent/dir/out.mp4"], "/nonexistent/dir"),
        (["--source", "/nonexistent/clip.mp4"], "/nonexistent/clip.mp4"),
        # the detector's own (review)
        (["--model-asset", "/nonexistent/pose.task"], "/nonexistent/pose.task does not exist"),
        (["--max-people", "2", "--people-search", "-1"], "--people-search must be from 0 to 3600 seconds, got -1"),
    ],
)
def test_run_names_a_bad_file_before_a_port_in_use(
    options: list[str], message: str, media_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    """With another posecast on the port, a mistyped file is what the user hears about, not the
    port: fixing the port first only led to the next error (QA)."""
    assert _run_with_the_port_taken(options, media_dir) == 2
    err = capsys.readouterr().err
    assert message in err and "in use" not in err


def test_run_unwritable_output_video(media_dir: Path, pose_model_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["run", "--source", str(media_dir / "dance_576.mp4"), "--headless", "--publish", "none",
                 "--model-asset", str(pose_model_path), "--output-video", "/nonexistent/dir/out.mp4"])  # fmt: skip
    assert code == 2
    assert "/nonexistent/dir" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--output-video", "{source}"], "--output-video .*clip.mp4 is the source: writing it would destroy it"),
        # refused by its name now, before any other check (a .json is neither a video nor a take)
        (["--output-video", "{tmp}/a.webm", "--stats-json", "{tmp}/a.webm"],
         "argument --stats-json: expected a .json file"),
        (["--stats-json", "{tmp}/b.posecast", "--record", "{tmp}/b.posecast"],
         "argument --stats-json: expected a .json file"),
        (["--record", "{tmp}/take.posecast.part"], r"--record must name a .posecast file \(e.g. take.posecast\), got "
         ".*/take.posecast.part"),
        (["--record", "{tmp}/take.txt"], "--record must name a .posecast file"),
        (["--record", "/dev/full"], "--record must name a .posecast file .*, got /dev/full$"),  # it said "got full"
        (["--record", "{tmp}/missing/take.posecast"], "folder .*missing does not exist"),  # (a folder: a take in it)
        (["--output-video", "/proc/x.webm"], "folder /proc (takes no new files|does not exist)"),  # even as root
        (["--frames", "0"], "--frames must be 1 or more, got 0"),
    ],
)
def test_run_refuses_bad_outputs_before_it_starts(options: list[str], message: str, tmp_path: Path, media_dir: Path,
                                                  capsys: pytest.CaptureFixture) -> None:  # fmt: skip
    """An output that would destroy the source or another output, or that cannot be written, is
    one line before anything runs: the source is intact and nothing is left behind."""
    source = tmp_path / "clip.mp4"
    source.write_bytes((media_dir / "dance_576.mp4").read_bytes())
    argv = [a.format(source=source, tmp=tmp_path) for a in options]
    try:
        code = main(["run", "--source", str(source), "--headless", "--publish", "none", *argv])
    except SystemExit as refused:  # by argparse, while the arguments are read
        code = refused.code
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("posecast")
    assert " error: " in err and "\n" not in err and pytest.importorskip("re").search(message, err)
    assert source.read_bytes() == (media_dir / "dance_576.mp4").read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]


@pytest.mark.parametrize("existing", ["take.posecast", "take.posecast.part"])
def test_record_never_replaces_a_take(existing: str, tmp_path: Path, media_dir: Path,
                                      capsys: pytest.CaptureFixture) -> None:  # fmt: skip
    """A finished take or one a crash left (``.part``, readable as it is) is not overwritten (it
    was, silently, and the ``.part`` deleted): one line, exit 2, the file intact."""
    (tmp_path / existing).write_bytes(b"an earlier take")
    argv = ["run", "--source", str(media_dir / "dance_576.mp4"), "--headless", "--publish", "none", "--frames", "3",
            "--record", str(tmp_path / "take.posecast")]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and ("already exists: a take is never replaced" in err or "a run did not finish" in err)
    assert [p.name for p in tmp_path.iterdir()] == [existing]
    assert (tmp_path / existing).read_bytes() == b"an earlier take"


def test_a_take_says_what_was_filmed_without_a_stream_password(tmp_path: Path) -> None:
    """The header's ``source`` was always empty: nothing in a take said which clip or camera it
    came from. A stream's password stays out of it, as out of the log."""
    import argparse

    from posecast.realtime.errors import SourceError
    from posecast.realtime.recording.format import read_recording
    from posecast.realtime.sinks.record import RecordSink
    from posecast.realtime.sources import open_source
    from posecast.realtime.sources.stream import StreamSource, without_password

    url = "rtsp://admin:hunter2@192.168.1.20:554/stream1"
    for source, said in (("clips/dance.mp4", "clips/dance.mp4"), (url, "rtsp://admin:***@192.168.1.20:554/stream1")):
        path = tmp_path / f"take{len(said)}.posecast"
        sink = RecordSink.from_args(argparse.Namespace(record=str(path), source=source))
        sink.open(StreamMeta())
        sink.close()
        assert read_recording(path).header["source"] == said
    assert StreamSource(url).label == "stream rtsp://admin:***@192.168.1.20:554/stream1"
    # credentials in the query, as many IP cameras take them (review); files and cameras as given
    assert (StreamSource("http://192.168.1.5/videostream.cgi?user=admin&pwd=hunter2&rate=0").label
            == "stream http://192.168.1.5/videostream.cgi?user=admin&pwd=***&rate=0")  # fmt: skip
    for as_given in ("C:/clips/take:1.mp4", "0", "frames/"):
        assert without_password(as_given) == as_given
    # unreadable (review: a traceback), or of a scheme no stream has: starred as text, the rest shown
    assert without_password("rtsp://admin:pw@[::1/x?pwd=a/b") == "rtsp://admin:***@[::1/x?pwd=***"
    assert without_password("rtspx://me:hunter2@cam/live?token=abc") == "rtspx://me:***@cam/live?token=***"
    assert without_password("rtsp://admin:p@ss@[::1/x") == "rtsp://admin:***@[::1/x"  # (to the last @: review)
    with pytest.raises(SourceError, match=r"stream URL rtsp://\[::1/x cannot be read \(Invalid IPv6 URL\)"):
        StreamSource("rtsp://[::1/x")
    with pytest.raises(SourceError) as unreadable:
        StreamSource("rtsp://admin:hunter2@[::1/x")
    assert "rtsp://admin:***@[::1/x cannot be read" in str(unreadable.value) and "hunter2" not in str(unreadable.value)
    with pytest.raises(SourceError) as unknown:
        open_source("rtspx://admin:hunter2@cam/live")
    assert "source 'rtspx://admin:***@cam/live' is neither" in str(unknown.value), unknown.value
    # SRT's passphrase, signed URLs' tokens and signatures (review: said as given, in logs and takes)
    assert without_password("srt://cam:9000?mode=caller&passphrase=abcdefghij") == "srt://cam:9000?mode=caller&passphrase=***"
    assert (without_password("https://cdn.example/live.m3u8?access_token=abc&X-Amz-Signature=f00&X-Amz-Date=1&keyint=2")
            == "https://cdn.example/live.m3u8?access_token=***&X-Amz-Signature=***&X-Amz-Date=1&keyint=2")  # fmt: skip
    # in the path, as XMEye and Dahua cameras take them, and after ";" (review: said as given)
    for url, said in (
        ("rtsp://192.168.1.10:554/user=admin&password=secret&channel=1&stream=0.sdp?real_stream",
         "rtsp://192.168.1.10:554/user=admin&password=***&channel=1&stream=0.sdp?real_stream"),
        ("rtsp://192.168.1.10:554/user=admin_password=secret_channel=1_stream=0.sdp?real_stream",
         "rtsp://192.168.1.10:554/user=admin_password=***?real_stream"),  # (where the password ends is not known)
        ("rtsp://cam/live;user=admin;password=secret", "rtsp://cam/live;user=admin;password=***"),
        ("rtsp://cam/PWD=secret/live", "rtsp://cam/PWD=***/live"),
        ("rtsp://cam/live?channel=1;pwd=secret", "rtsp://cam/live?channel=1;pwd=***"),
        ("rtmp://live.example/app/stream_key=secret", "rtmp://live.example/app/stream_key=***"),
        ("http://cam/a?next=/x/y&passwd=se/cret&keyframe=1", "http://cam/a?next=/x/y&passwd=***&keyframe=1"),
        ("rtsp://cam/keyint=2/user=admin&sigma=1", "rtsp://cam/keyint=2/user=admin&sigma=1"),  # not secrets
    ):  # fmt: skip
        assert without_password(url) == said


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--count", "0"], "--count must be 1 or more, got 0"),
        (["--timeout", "-1"], "--timeout must be more than 0 and at most 604800 seconds .a week., got -1"),
        (["--timeout", "inf"], "--timeout must be .* got inf: leave it out to wait forever"),
        (["--timeout", "1e10"], "--timeout must be .* got 1e[+]10"),
        (["--address", "tcp://127.0.0.1:99999"], "port 99999 of tcp://127.0.0.1:99999 is outside 1..65535: pass e.g. "
                                                 "tcp://127.0.0.1:5555$"),
    ],
)
def test_listen_refuses_bad_options_at_once(options: list[str], message: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["listen", "--timeout", "30", *options]) == 2  # at once, not after the 30 s
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and pytest.importorskip("re").search(message, err)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_listen_to_a_full_disk_is_one_line(free_port) -> None:  # noqa: ANN001
    """``posecast listen --json > /dev/full`` on a real stream: one line, exit 2, no traceback."""
    address = f"tcp://127.0.0.1:{free_port()}"
    sink = ZmqSink(PublisherOptions(address=address))
    sink.open(StreamMeta())
    command = [sys.executable, "-m", "posecast.realtime.cli", "listen", "--address", address, "--json",
               "--timeout", "20"]  # fmt: skip
    full = open("/dev/full", "w")  # noqa: SIM115 - closed below, after the listener
    with full, subprocess.Popen(command, stdout=full, stderr=subprocess.PIPE, text=True) as run:
        frame_id = 0
        while run.poll() is None and frame_id < 2000:  # until it has read one and failed
            sink.write(PoseFrame(frame_id, 0, 0, (640, 480), [PersonPose.lost(0)]))
            frame_id += 1
            time.sleep(0.01)
        err = run.communicate(timeout=20)[1]
    sink.close()
    assert run.returncode == 2
    assert err.strip().splitlines()[-1] == (
        "posecast: error: cannot write to standard output (No space left on device): send it to a disk with space"
    )
    assert "Traceback" not in err


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("args", [["assets", "list"], ["engines", "info"], ["--version"], ["listen", "--help"]])
def test_any_command_printing_to_a_full_disk_is_one_line(args: list[str]) -> None:
    """A bare print to a full stdout was a traceback (exit 1) in export, assets, engines and bench,
    and --help / --version exited 0 with nothing written (error-contract QA)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # stdout block-buffered, as usual
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "posecast.realtime.cli", *args], stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=120, env=env)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "posecast: error: cannot write to standard output (No space left on device): send it to a disk with space"]


@pytest.mark.parametrize("args", [["assets", "list"], ["--version"]])
def test_a_command_without_stdout_writes_nowhere(args: list[str]) -> None:
    """stdout closed (``>&-``, pythonw, a service): Python's sys.stdout is None, and a command
    writing to it raised AttributeError (review)."""
    done = subprocess.run([sys.executable, "-c", "import sys; from posecast.realtime.cli import main; "
                           f"sys.stdout = None; sys.exit(main({args!r}))"], stderr=subprocess.PIPE, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr


def test_corrupt_lifting_model(tmp_path: Path, media_dir: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"\x08\x01garbage")
    source = _lift_input(media_dir, tmp_path / "in.npz")
    assert main(["lift", "--input", str(source), "--output", str(tmp_path / "o.npz"), "--model", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "model.onnx" in err and "\n" not in err


def test_run_writes_stats(tmp_path: Path, media_dir: Path, pose_model_path: Path) -> None:
    stats = tmp_path / "stats.json"
    code = main(["run", "--source", str(media_dir / "dance_576.mp4"), "--headless", "--publish", "none",
                 "--frames", "12", "--stats-json", str(stats), "--model-asset", str(pose_model_path)])  # fmt: skip
    assert code == 0
    report = json.loads(stats.read_text())
    assert report["frames"] == 12 and report["frames_with_pose"] == 12
    # which model ran, as --model takes it, and whether its INT8 copy did (the shipped default has one)
    assert (report["model"], report["int8"], report["backend"]) == (DEFAULT_MODEL_NAME, True, "onnxruntime")
    summary = report["latency_ms"]
    stages = {"keypoints2d", "window", "lift", "smooth", "publish", "after_keypoints2d", "capture_to_delivered"}
    assert stages <= set(summary)
    # capture → every output had it: the bench's capture_to_delivered (this file called it capture_to_publish,
    # which in the bench's report is capture → the message's stamp; review)
    assert "capture_to_publish" not in summary and summary["capture_to_delivered"]["count"] == 12
    assert summary["lift"]["count"] == 12 and 0 < summary["lift"]["p50"] <= summary["lift"]["p99"]
    # one key style: snake_case; the unit is named once, in the group
    assert all(key == key.lower() and " " not in key for key in (*report, *summary, *summary["lift"]))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--hfov", "200"], "--hfov (LiftingOptions.hfov_deg) must be between 10 and 170 degrees, got 200.0"),
        (["--hfov", "nan"], "--hfov (LiftingOptions.hfov_deg) must be between 10 and 170 degrees, got nan"),
        (["--height", "0"], "--subject-height (LiftingOptions.height_m) must be in metres from 0.5 to 2.8, got 0.0"),
        (["--max-people", "0"], "--max-people must be from 1 to 8, got 0"),
        (["--max-people", "2", "--people-search", "-1"], "--people-search must be from 0 to 3600 seconds, got -1"),
        (["--people-search", "nan"], "--people-search must be from 0 to 3600 seconds, got nan"),
        (["--people-search", "1e20"], "--people-search must be from 0 to 3600 seconds, got 1e+20"),  # taken (QA)
        (["--stats-json", "/nonexistent/dir/s.json"], "cannot write statistics to /nonexistent/dir/s.json"),
    ],
)
def test_run_configuration_error_is_one_line_with_the_range(
    media_dir: Path, capsys: pytest.CaptureFixture, argv: list[str], message: str
) -> None:
    code = main(["run", "--source", str(media_dir / "dance_576.mp4"), "--headless", "--publish", "none", *argv])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err == f"posecast: error: {message}" or (err.startswith("posecast: error: ") and message in err)
    assert "\n" not in err


class _SlowSink(Sink):
    """A threaded output slower than the clip: its queue of 2 overflows and frames are dropped."""

    name = "slow"
    queue_frames = 2

    def write(self, frame: PoseFrame) -> None:
        time.sleep(0.2)  # (MediaPipe takes 20-40 ms a frame here: frames arrive 5-10 times as fast)


def test_run_summary_names_outputs_that_dropped_frames(
    media_dir: Path, pose_model_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Two outputs of one name are told apart in the run's summary, as in its errors (``slow``,
    ``slow#2``), each with its own count of dropped frames."""
    args = build_parser().parse_args(["run", "--source", str(media_dir / "dance_576.mp4"), "--headless",
                                      "--publish", "none", "--frames", "40", "--runner", "serial",
                                      "--model-asset", str(pose_model_path)])  # fmt: skip
    sinks = [_SlowSink(), _SlowSink(), StatsSink()]
    with caplog.at_level(logging.INFO, logger="posecast"):
        assert run_and_report(args, args.source, sinks) == 0
    summary = [r.getMessage() for r in caplog.records if "could not keep up" in r.getMessage()]
    assert summary == [f"outputs that could not keep up dropped frames: "
                       f"{{'slow': {sinks[0].dropped_frames}, 'slow#2': {sinks[1].dropped_frames}}}"]  # fmt: skip
    assert sinks[0].dropped_frames > 0 and sinks[1].dropped_frames > 0
    assert any(r.getMessage().startswith("40 frames in ") for r in caplog.records)


@pytest.mark.parametrize("command", ["run", "adapt"])
def test_an_output_over_a_file_of_an_image_folder_input_is_refused(
    command: str, tmp_path: Path, media_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    """``--stats-json`` (run) or ``--report`` (adapt) naming a frame of the image folder read
    replaced it with JSON, exit 0 (QA): refused like an output over a video source (a new image
    there too: it would be a frame of the next run)."""
    from clip_frames import dance_frames_folder

    frames = dance_frames_folder(tmp_path / "frames", 3)
    before = {p.name: p.read_bytes() for p in frames.iterdir()}
    frame = frames / "001.png"
    argv = {"run": ["run", "--source", str(frames), "--headless", "--publish", "none", "--stats-json", str(frame)],
            "adapt": ["adapt", str(frames), "--output", str(tmp_path / "a.onnx"), "--report", str(frame)]}[command]
    with pytest.raises(SystemExit) as refused:  # by its name (a .json is no frame), while the arguments are read
        main(argv)
    err = capsys.readouterr().err.strip()
    assert refused.value.code == 2 and "\n" not in err and f"expected a .json file, got '{frame}'" in err, err
    assert {p.name: p.read_bytes() for p in frames.iterdir()} == before
    # the same check is there for a new image among the frames (--output-video names a video)
    with pytest.raises(OutputPathError, match=f"--stats-json {frames}/new.png would be a frame of the source, an "
                                              "image folder"):  # fmt: skip
        check_outputs({"--stats-json": frames / "new.png"}, {"the source": frames})
    # a file beside the frames is not one of them, and the same run again may replace it (review)
    for _ in range(2):
        assert main(["run", "--source", str(frames), "--headless", "--publish", "none", "--stats-json",
                     str(frames / "stats.json")]) == 0  # fmt: skip


def test_a_camera_file_s_warning_is_said_once(tmp_path: Path, media_dir: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    """The files a run names are read before the publisher binds and again by their stage: a
    warning of the file (a key ignored) came twice (review)."""
    from posecast.calibration.io import save_intrinsics

    camera = save_intrinsics(CameraIntrinsics(576, 576, 500.0, 500.0, 288.0, 288.0), tmp_path / "camera.yaml")
    camera.write_text(camera.read_text() + "lens_model: my notes\n")
    with caplog.at_level(logging.WARNING, logger="posecast"):
        assert main(["run", "--source", str(media_dir / "dance_576.mp4"), "--headless", "--publish", "none",
                     "--frames", "2", "--intrinsics", str(camera)]) == 0  # fmt: skip
    said = [r.getMessage() for r in caplog.records if "lens_model" in r.getMessage()]
    assert len(said) == 1, said


def test_the_log_names_the_model_and_whether_its_int8_copy_runs(media_dir, pose_model_path, caplog) -> None:  # noqa: ANN001
    """QA: which model ran, and whether its INT8 copy did, was only in --stats-json and the meta."""
    import logging

    from posecast.realtime.cli import main

    for flags, said in (([], "model: supervised-long-w384 (its INT8 copy)"),
                        (["--model", "unsupervised-w512", "--no-int8"], "model: unsupervised-w512 (float32)")):
        caplog.clear()
        with caplog.at_level(logging.INFO):
            assert main(["run", "--source", str(media_dir / "dance_576.mp4"), "--headless", "--publish", "none",
                         "--model-asset", str(pose_model_path), "--frames", "2", *flags]) == 0  # fmt: skip
        assert said in caplog.text

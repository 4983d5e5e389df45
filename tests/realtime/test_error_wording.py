"""One-line errors that said something untrue about the input (QA, issue 10's stop): a device
called missing, a warning line before the error for a file that is no model, a publisher of
other messages taken for a silent address, a NaN bounded by "-inf to inf"."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import msgpack
import numpy as np
import pytest
import zmq
from posecast.realtime.cli import main
from posecast.realtime.errors import SchemaError, SourceError
from posecast.realtime.footage import input_kind
from posecast.realtime.schema import PoseMessage, decode_pose, encode_pose_message


def test_a_device_is_not_called_missing(media_dir: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["run", "--source", str(media_dir / "dance_576.mp4"), "--headless", "--publish", "none",
                 "--frames", "2", "--model-asset", "/dev/zero"])  # fmt: skip
    assert code == 2
    assert "file /dev/zero is not a regular file (a device or a pipe)" in capsys.readouterr().err
    with pytest.raises(SourceError, match="adapt input /dev/zero is not a regular file"):
        input_kind(Path("/dev/zero"))


def test_a_file_that_is_no_model_is_one_line_without_a_warning_first(
    media_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture
) -> None:
    bad = tmp_path / "bad.task"
    bad.write_bytes(np.random.default_rng(0).bytes(5000))
    code = main(["run", "--source", str(media_dir / "dance_576.mp4"), "--headless", "--publish", "none",
                 "--frames", "2", "--model-asset", str(bad)])  # fmt: skip
    assert code == 2 and "MediaPipe could not load" in capsys.readouterr().err
    assert not [r for r in caplog.records if r.levelname == "WARNING"], caplog.records


def test_a_training_checkpoint_given_as_the_model_points_at_the_export(
    media_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """A training run's ``last.pt`` passed to ``--model`` was "corrupt or not an exported
    posecast .onnx: re-export or re-download it" (QA): it is fine, and the export is the fix."""
    torch = pytest.importorskip("torch")
    checkpoint = tmp_path / "last.pt"
    torch.save({"model": {"weight": torch.zeros(2, 2)}, "step": 10}, checkpoint)
    code = main(["run", "--source", str(media_dir / "dance_576.mp4"), "--headless", "--publish", "none",
                 "--frames", "2", "--model", str(checkpoint)])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1] == (f"posecast: error: model file {checkpoint} is a PyTorch checkpoint, not an ONNX "
                                     f"model: export it with `python tools/export.py {checkpoint} model.onnx` in "
                                     "posecast's source tree and pass model.onnx")  # fmt: skip
    not_a_model = tmp_path / "notes.pt"
    not_a_model.write_bytes(b"PK\x03\x04 not a zip")
    assert main(["run", "--source", str(media_dir / "dance_576.mp4"), "--headless", "--publish", "none",
                 "--frames", "2", "--model", str(not_a_model)]) == 2  # fmt: skip
    assert "it is corrupt or not an exported posecast .onnx" in capsys.readouterr().err


def test_a_nan_joint_is_named_without_infinite_bounds() -> None:
    joints = np.zeros((17, 3), np.float32)
    joints[3, 1] = np.nan
    payload = encode_pose_message(PoseMessage(frame_id=1, capture_ns=1, tracking="tracking", joints_m=joints,
                                              confidence=np.ones(17, np.float32), root_m=np.zeros(3, np.float32),
                                              publish_ns=2, publish_unix_ns=3))  # fmt: skip
    with pytest.raises(SchemaError) as caught:
        decode_pose(payload)
    assert "must hold finite numbers" in str(caught.value) and "inf" not in str(caught.value)


@contextlib.contextmanager
def other_messages(address: str) -> Iterator[None]:
    """While inside, a ZeroMQ publisher bound at ``address`` sends messages that are not
    posecast's (a ``pose`` topic, a payload that is not msgpack) 20 times a second."""
    publisher = zmq.Context.instance().socket(zmq.PUB)
    publisher.setsockopt(zmq.LINGER, 0)
    publisher.bind(address)
    stop = threading.Event()

    def send() -> None:
        while not stop.wait(0.05):
            publisher.send_multipart([b"pose", b"\xc1 not msgpack"])

    sender = threading.Thread(target=send)
    sender.start()
    try:
        yield
    finally:
        stop.set()
        sender.join()
        publisher.close()


def test_listen_to_a_publisher_of_other_messages_says_so(free_port) -> None:  # noqa: ANN001
    """A stream of messages that are not posecast's kept ``--timeout`` from ever ending the wait (each
    reset it) and logged a warning for each; run in a child process, so that a wait for ever fails."""
    address = f"tcp://127.0.0.1:{free_port()}"
    with other_messages(address):
        began = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "posecast.realtime.cli", "listen", "--address", address,
                               "--timeout", "1"], capture_output=True, text=True, timeout=60)  # fmt: skip
    err = done.stderr.strip().splitlines()
    assert done.returncode == 2 and time.monotonic() - began < 30, done.stderr
    assert sum("skipping a message" in line for line in err) == 1  # said once, not 20 times a second
    assert "others skipped, warned above): is a posecast publisher of this version there?" in err[-1], err[-1]


def test_listen_s_quiet_notice_does_not_blame_silence_when_other_messages_come(
    free_port, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture  # noqa: ANN001
) -> None:
    """Without --timeout, after 5 s of other messages, it said "no message … is posecast run
    publishing there?" (QA); and `connect:` is taken as `--publish` takes it (refused as a
    protocol ZeroMQ lacks)."""
    from posecast.realtime import cli
    from posecast.realtime.commands import listen

    monkeypatch.setattr(listen, "QUIET_NOTICE_S", 0.5)
    port = free_port()
    with other_messages(f"tcp://127.0.0.1:{port}"), caplog.at_level("WARNING"):
        code = cli.main(["listen", "--address", f"connect:tcp://127.0.0.1:{port}", "--timeout", "1.5"])
    assert code == 2
    quiet = [r.getMessage() for r in caplog.records if "for 0 s" in r.getMessage() or "for 1 s" in r.getMessage()]
    assert len(quiet) == 1 and quiet[0].startswith("no posecast message (") and "others skipped, warned above) " \
        f"from connect:tcp://127.0.0.1:{port}" in quiet[0] and "publisher of this version there?" in quiet[0], quiet


def _good_pose(frame_id: int = 1) -> dict:
    joints = np.zeros((17, 3), np.float32) + np.float32([0, 0, 3])
    return msgpack.unpackb(encode_pose_message(PoseMessage(
        frame_id=frame_id, capture_ns=1, tracking="tracking", joints_m=joints, confidence=np.ones(17, np.float32),
        root_m=joints[0].copy(), publish_ns=2, publish_unix_ns=3)))  # fmt: skip


def _listen_while_sending(address: str, payloads: Callable[[int], list[bytes]],
                          count: int) -> subprocess.CompletedProcess:  # fmt: skip
    """``posecast listen --count COUNT`` in a process of its own while a real publisher sends
    ``payloads(tick)`` as pose messages every 50 ms."""
    publisher = zmq.Context.instance().socket(zmq.PUB)
    publisher.setsockopt(zmq.LINGER, 0)
    publisher.bind(address)
    stop = threading.Event()

    def send() -> None:
        tick = 0
        while not stop.wait(0.05):
            tick += 1
            for payload in payloads(tick):
                publisher.send_multipart([b"pose", payload])

    sender = threading.Thread(target=send)
    sender.start()
    try:
        command = ["listen", "--address", address, "--count", str(count), "--timeout", "20"]
        return subprocess.run([sys.executable, "-m", "posecast.realtime.cli", *command], capture_output=True,
                              text=True, timeout=60)  # fmt: skip
    finally:
        stop.set()
        sender.join()
        publisher.close()


def test_listen_warns_once_however_the_bad_messages_come(free_port) -> None:  # noqa: ANN001
    """Bad and good messages in turn: the warning said "further ones are skipped silently" and came
    again after every good one (review)."""
    good = msgpack.packb(_good_pose())
    done = _listen_while_sending(f"tcp://127.0.0.1:{free_port()}", lambda tick: [b"\xc1 not msgpack", good], 6)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 6 and done.stderr.count("skipping a message") == 1, done.stderr


def test_listen_says_each_kind_of_bad_message_once(free_port) -> None:  # noqa: ANN001
    """QA: after the first bad message, one of another kind (a wrong shape after a newer schema)
    was skipped without a word; each kind is said once, a kind being the same problem whatever
    its numbers."""
    good = _good_pose()

    def payloads(tick: int) -> list[bytes]:
        bad = ({"schema_version": 3}, {"joints_m": [[0, 0, 1]] * (3 + tick % 4)})
        return [msgpack.packb({**good, **change}) for change in bad] + [msgpack.packb({**good, "frame_id": tick})]

    done = _listen_while_sending(f"tcp://127.0.0.1:{free_port()}", payloads, 8)
    assert done.returncode == 0, done.stderr
    said = [line for line in done.stderr.splitlines() if "skipping a message" in line]
    assert len(said) == 2, done.stderr
    assert any("schema_version" in line for line in said) and any("joints_m" in line for line in said), said


def test_a_zip_that_is_no_landmarker_bundle_is_one_line(media_dir: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """MediaPipe raises FileNotFoundError ("No file with name: pose_detector.tflite") for any zip
    that is not a landmarker bundle, e.g. an .npz: it was a 49-line traceback (error-contract QA)."""
    bundle = tmp_path / "not_a_landmarker.task"
    np.savez(tmp_path / "arrays.npz", a=np.zeros(3))
    (tmp_path / "arrays.npz").rename(bundle)
    code = main(["run", "--source", str(media_dir / "dance_576.mp4"), "--headless", "--publish", "none",
                 "--frames", "2", "--model-asset", str(bundle)])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("posecast: error: MediaPipe could not load"), err
    assert "pose_landmarker .task" in err[-1] and not any("Traceback" in line for line in err)


@pytest.mark.parametrize("argv", [
    ["lift", "--input", "", "--output", "o.npz"],
    ["lift", "--input", "in.npz", "--output", ""],  # wrote ./in_3d.npz into the current folder, exit 0
    ["adapt", "", "--output", "a.onnx"],  # adapted on whatever the current folder held
    ["run", "--intrinsics", ""],
    ["replay", ""],
    ["bench", "--source", ""],  # ran the whole bench on the demo clip
    ["calibrate", "camera", "--images", "", "--board", "9x6", "--square", "0.02", "-o", "c.yaml"],
])  # fmt: skip
def test_an_empty_argument_is_refused_not_taken_for_the_current_folder(argv: list[str], tmp_path: Path,
                                                                       capsys, monkeypatch) -> None:  # noqa: ANN001
    """``Path("")`` is ``.``: an unset shell variable (``--output "$OUT"``) wrote into, or read, the
    current folder (error-contract QA)."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as refused:
        main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert refused.value.code == 2 and len(err) == 1 and "(an empty argument: an unset shell variable?)" in err[0]
    assert list(tmp_path.iterdir()) == []


def test_an_empty_model_name_is_refused() -> None:
    from posecast.engines.errors import ModelError
    from posecast.engines.runtime.base import resolve_model

    with pytest.raises(ModelError, match="--model is empty"):
        resolve_model("")


def test_publishing_where_no_other_process_can_listen_is_refused(media_dir: Path, capsys) -> None:  # noqa: ANN001
    """``--publish inproc://x``: "publishing poses on inproc://x", exit 0, and nobody can receive
    them; bench refused it already (error-contract QA)."""
    code = main(["run", "--source", str(media_dir / "dance_576.mp4"), "--headless", "--frames", "2",
                 "--publish", "inproc://x"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("posecast: error: --publish inproc://x: inproc:// is reachable only"), err

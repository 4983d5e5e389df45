"""File names whose bytes are not UTF-8 (Latin-1 names from an old camera, a Windows share):
OpenCV's video reader and writer crashed on them with a segmentation fault and no message. Images
are now read through Python (any name works); a video OpenCV would open by name is one line,
exit 2, saying to rename it. Run as real commands in a child process (a crash must not take the
test run with it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from posecast.engines.media import read_image

LATIN1 = b"lat\xe9"  # "laté" in Latin-1: not UTF-8


def _name(folder: Path, suffix: str) -> Path:
    return folder / os.fsdecode(LATIN1 + suffix.encode())


def _posecast(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "posecast.realtime.cli", *map(str, args)], capture_output=True,
                          text=True, errors="replace", timeout=300)  # fmt: skip


def _shown(path: str | Path) -> str:
    """``path`` as posecast says a name that is not UTF-8 (``storable``): its byte E9 as ``\\xe9``."""
    return str(path).replace("\udce9", "\\xe9")


def test_log_and_error_lines_say_such_a_name_as_bench_md_does(tmp_path: Path) -> None:
    """Log lines said the byte E9 of a name as ``\\udce9`` (stderr's backslashreplace), as did the
    errors not written with storable(), where bench.md and the others said ``\\xe9`` (review): every
    line says ``\\xe9`` now, and nothing else in it changes (a line break is still ``\\n``)."""
    floor = _name(tmp_path, "\n.yaml")
    said = ("floor: camera 1.50 m above it, tilt 0.0 deg, roll 0.0 deg (given: camera 1.5 m above the floor, tilt "
            f"0.0, roll 0.0 deg) → {_shown(floor)}").replace("\n", "\\n")  # fmt: skip
    done = _posecast("calibrate", "floor", "--camera-height", "1.5", "-o", floor)
    assert done.returncode == 0 and floor.is_file(), done.stderr
    assert done.stderr == said + "\n"
    verbose = _posecast("calibrate", "floor", "-v", "--camera-height", "1.5", "-o", floor)
    assert f"INFO posecast.realtime.commands.floor: {said}\n" in verbose.stderr, verbose.stderr
    missing = _posecast("replay", _name(tmp_path, ".posecast"))
    assert missing.returncode == 2
    assert missing.stderr == f"posecast: error: cannot read the recording {_shown(_name(tmp_path, '.posecast'))} " \
        "(No such file or directory)\n"  # fmt: skip


def test_a_video_with_such_a_name_is_one_line(media_dir: Path, tmp_path: Path) -> None:
    clip = _name(tmp_path, ".mp4")
    shutil.copy(media_dir / "dance_576.mp4", clip)
    done = _posecast("run", "--source", clip, "--headless", "--publish", "none", "--frames", "2")
    assert done.returncode == 2, (done.returncode, done.stderr[-500:])
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and ": its name is not valid UTF-8, which OpenCV needs for videos: rename" in lines[0]


def test_a_webm_output_with_such_a_name_is_refused_before_the_run(media_dir: Path, tmp_path: Path) -> None:
    done = _posecast("run", "--source", media_dir / "dance_576.mp4", "--headless", "--publish", "none", "--frames",
                     "2", "--output-video", _name(tmp_path, ".webm"))  # fmt: skip
    assert done.returncode == 2, (done.returncode, done.stderr[-500:])
    assert "rename the file" in done.stderr and list(tmp_path.iterdir()) == []


def test_images_with_such_names_are_read(media_dir: Path, pose_model_path: Path, tmp_path: Path) -> None:
    clip = cv2.VideoCapture(str(media_dir / "dance_576.mp4"))
    image = clip.read()[1]
    clip.release()
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(3):
        cv2.imencode(".png", image)[1].tofile(os.fsencode(_name(folder, f"_{i}.png")))
    np.testing.assert_array_equal(read_image(_name(folder, "_0.png")), image)
    assert read_image(_name(folder, "_missing.png")) is None
    done = _posecast("run", "--source", folder, "--headless", "--publish", "none", "--model-asset", pose_model_path,
                     "--print", "json")  # fmt: skip
    assert done.returncode == 0, done.stderr[-500:]
    assert len([line for line in done.stdout.splitlines() if '"topic": "pose"' in line]) == 3


@pytest.mark.parametrize("content", [b"", b"not an image"])
def test_an_unreadable_image_is_none(content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "x.png"
    path.write_bytes(content)
    assert read_image(path) is None


def test_a_utf8_name_under_an_ascii_locale_names_the_locale(media_dir: Path, tmp_path: Path) -> None:
    """Under LC_ALL=C without Python's UTF-8 mode, a valid UTF-8 name was called "not valid UTF-8"
    and the user told to rename a file whose name was fine: the locale is the problem."""
    clip = tmp_path / "\u00fcn\u00ef.mp4"
    shutil.copy(media_dir / "dance_576.mp4", clip)
    env = {**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": "utf-8"}
    env.pop("LANG", None)
    done = subprocess.run([sys.executable, "-m", "posecast.realtime.cli", "run", "--source", os.fsencode(clip),
                           "--headless", "--publish", "none", "--frames", "2"], capture_output=True, env=env,
                          timeout=300)  # fmt: skip
    stderr = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 2, (done.returncode, stderr[-500:])
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "PYTHONUTF8=1 or a UTF-8 locale" in lines[0] and "rename" not in lines[0], lines


def test_a_utf8_name_under_a_latin1_locale_names_the_locale(media_dir: Path, tmp_path: Path, made_locale) -> None:  # noqa: ANN001
    """QA: under LC_ALL=de_DE.ISO-8859-1 a good video with a UTF-8 name was "damage throughout":
    Python read its name as other characters, whose UTF-8 OpenCV opened, another name."""
    made_locale("de_DE", "ISO-8859-1", tmp_path)
    clip = tmp_path / "\u00e9t\u00e9.mp4"
    shutil.copy(media_dir / "dance_576.mp4", clip)
    env = {**os.environ, "LOCPATH": str(tmp_path), "LC_ALL": "de_DE.ISO-8859-1", "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run([sys.executable, "-m", "posecast.realtime.cli", "run", "--source", os.fsencode(clip),
                           "--headless", "--publish", "none", "--frames", "2"], capture_output=True, env=env,
                          timeout=300)  # fmt: skip
    lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, (done.returncode, lines)
    assert "as iso8859-1 under this locale" in lines[0] and "PYTHONUTF8=1 or a UTF-8 locale" in lines[0], lines


@pytest.mark.parametrize(
    ("args", "said"),
    [  # (QA: OpenCV crashed on the URL, SIGSEGV without a word; ZeroMQ's UnicodeEncodeError, a traceback)
        (["run", "--source", os.fsdecode(b"rtsp://127.0.0.1:9/caf\xe9"), "--headless", "--publish", "none"],
         r"stream URL rtsp://127.0.0.1:9/caf\xe9 is not valid UTF-8: write its other bytes percent-encoded"),
        (["listen", "--stream", os.fsdecode(b"ipc:///tmp/s\xe9.sock")],
         r"address ipc:///tmp/s\xe9.sock is not valid UTF-8, which ZeroMQ needs"),
    ],
)
def test_an_address_not_in_utf8_is_one_line(args: list[str], said: str) -> None:
    done = _posecast(*args)
    assert done.returncode == 2, (done.returncode, done.stderr[-500:])
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and said in lines[0], done.stderr


def test_models_takes_and_results_with_such_names_work(media_dir: Path, pose_model_path: Path, tmp_path: Path) -> None:
    """QA: a lifting model so named was called corrupt, MediaPipe's could not start (naming no
    fix), a take so named could not be replayed (msgpack's traceback), bench over images so named
    ended in a traceback after measuring, and adapt failed at its export after the whole training.
    ONNX Runtime and MediaPipe are given such a file's bytes, names are stored as \\xNN."""
    from posecast.engines.runtime import DEFAULT_MODEL

    folder = _name(tmp_path, "")
    folder.mkdir()
    model, landmarker = _name(folder, ".onnx"), _name(folder, ".task")
    shutil.copy(DEFAULT_MODEL, model)
    shutil.copy(pose_model_path, landmarker)
    take = _name(folder, ".posecast")
    done = _posecast("run", "--source", media_dir / "dance_576.mp4", "--headless", "--publish", "none", "--frames",
                     "3", "--model", model, "--model-asset", landmarker, "--record", take)  # fmt: skip
    assert done.returncode == 0 and take.is_file(), done.stderr[-1000:]
    replayed = _posecast("replay", take, "--publish", "tcp://127.0.0.1:0", "--wait", "0")
    assert replayed.returncode == 0 and "replayed 3 frames" in replayed.stderr, replayed.stderr[-1000:]
    images = _name(tmp_path, "_images")
    images.mkdir()
    capture = cv2.VideoCapture(str(media_dir / "dance_576.mp4"))
    for index in range(12):
        ok, image = capture.read()
        assert ok
        _name(images, f"{index:02d}.jpg").write_bytes(cv2.imencode(".jpg", image)[1].tobytes())
    capture.release()
    bench = _posecast("bench", "--source", images, "--frames", "10", "--rounds", "1", "--pace", "0", "--output",
                      _name(tmp_path, "_bench"), "--no-plots", "--model-asset", pose_model_path)  # fmt: skip
    assert bench.returncode == 0 and (_name(tmp_path, "_bench") / "bench.md").is_file(), bench.stderr[-1000:]
    # bench.json and the log say the name as bench.md does, \xe9 (they said a lone \udce9: review)
    report = (_name(tmp_path, "_bench") / "bench.json").read_bytes().decode("utf-8")  # strict UTF-8 JSON
    assert json.loads(report)["source"]["name"] == _shown(images.name) and "\\udc" not in report
    assert f"clip {_shown(images.name)}: 10 frames 576x576 at 30 fps\n" in bench.stderr, bench.stderr[-1000:]
    assert "\\udc" not in bench.stderr, bench.stderr[-1000:]
    pytest.importorskip("torch")
    adapted = _name(folder, "_adapted.onnx")
    adapt = _posecast("adapt", images, "--output", adapted, "--steps", "2", "--minutes", "1", "--model-asset",
                      pose_model_path, "--report", _name(folder, "_report.json"))  # fmt: skip
    assert adapt.returncode == 0 and adapted.is_file(), adapt.stderr[-1000:]
    # its report says the model's name as bench.json does (it wrote a lone \udce9)
    report = _name(folder, "_report.json").read_bytes().decode("utf-8")
    assert json.loads(report)["output"] == _shown(str(adapted)) and "\\udc" not in report, report


def test_a_model_so_named_with_weights_beside_it_is_refused_not_read_from_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review: given a model's bytes (its name not UTF-8), ONNX Runtime looked for weights kept in
    files beside it in the current folder, and loaded another model's there."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper
    from posecast.engines.errors import ModelError
    from posecast.engines.metadata import onnx_cpu_session

    weights = numpy_helper.from_array(np.ones((4, 4), np.float32), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], [weights])  # fmt: skip
    (tmp_path / "ascii").mkdir()
    onnx.save(helper.make_model(graph), str(tmp_path / "ascii" / "m.onnx"), save_as_external_data=True,
              location="m.data", size_threshold=0)  # fmt: skip
    folder = _name(tmp_path, "")
    shutil.copytree(tmp_path / "ascii", folder)
    shutil.copy(tmp_path / "ascii" / "m.data", tmp_path / "m.data")  # another model's weights, where it runs
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelError, match=r"keeps weights in files beside it, which are not read where its name is not"):
        onnx_cpu_session(folder / "m.onnx")
    onnx_cpu_session(tmp_path / "ascii" / "m.onnx")  # (named in UTF-8: read beside it, as before)

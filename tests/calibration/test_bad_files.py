"""Camera, subject and floor files that are hostile or simply wrong, and calibrate options that
contradict each other: each is one short line naming the problem and the fix (``posecast: error:``,
exit 2), at once: never a traceback, a hang, a multi-gigabyte message or exit 0 with input ignored."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from posecast.calibration.errors import CalibrationError
from posecast.calibration.floor import floor_from_camera_pose
from posecast.calibration.floor_file import load_floor, save_floor
from posecast.calibration.intrinsics import MAX_SHOWN_CHARS, CameraIntrinsics, finite_number, shown
from posecast.calibration.io import MAX_DEPTH, MAX_VALUES, load_intrinsics, load_subject, save_intrinsics, save_subject
from posecast.calibration.subject import SubjectProfile
from posecast.realtime.cli import build_parser, main
from posecast.realtime.commands.floor import measuring_options

#: the longest message a bad file may give (its path included)
MAX_MESSAGE = 400

#: nine levels of nine aliases: 611 bytes that PyYAML expands into 9**9 (387 million) strings
BOMB = "".join(
    f"{name}: &{name} [{', '.join(['x'] * 9 if prev is None else [f'*{prev}'] * 9)}]\n"
    for prev, name in zip([None, *"abcdefgh"], "abcdefghi", strict=True)
)

LOADERS = {"camera": load_intrinsics, "subject": load_subject, "floor": load_floor}
CLI_OPTION = {"camera": "--intrinsics", "subject": "--subject", "floor": "--floor"}


def _good_file(kind: str, folder: Path, suffix: str = ".yaml") -> Path:
    path = folder / f"good_{kind}{suffix}"
    if kind == "camera":
        return save_intrinsics(CameraIntrinsics.from_hfov(60.0, 640, 480), path)
    if kind == "subject":
        return save_subject(SubjectProfile.from_height(1.75), path)
    return save_floor(floor_from_camera_pose(1.4, 5.0, 0.0), path)


def _with(kind: str, folder: Path, name: str, **raw: str) -> Path:
    """A valid ``kind`` file with each key of ``raw`` replaced by (or given) that raw YAML text."""
    lines = [line for line in _good_file(kind, folder).read_text().splitlines() if line.split(":")[0] not in raw]
    path = folder / name
    path.write_text("\n".join([*lines, *(f"{key}: {value}" for key, value in raw.items())]) + "\n")
    return path


def _refused(load: Callable[[Path], object], path: Path, within_s: float = 5.0) -> str:
    """The one-line message ``load`` refuses ``path`` with, within ``within_s`` (a bound on a
    blow-up, not a timing: the alias bomb took 51 s; 1 s failed once in CI on a machine at load 7,
    the 400 kB nesting refused in 1.05 s)."""
    start = time.perf_counter()
    with pytest.raises(CalibrationError) as refused:
        load(path)
    elapsed = time.perf_counter() - start
    message = str(refused.value)
    assert elapsed < within_s, f"{elapsed:.2f} s: {message}"
    assert "\n" not in message and len(message) <= MAX_MESSAGE, message[:1000]
    return message


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith("posecast: error: "), err[:2000]
    assert len(lines[0]) <= MAX_MESSAGE + len("posecast: error: "), lines[0][:1000]
    return lines[0]


# --- 1. YAML aliases: the billion laughs ---------------------------------------------------------


@pytest.mark.parametrize("field", ["format", "version", "assumed", "source"])
@pytest.mark.parametrize("kind", ["camera", "subject", "floor"])
def test_alias_bombs_are_refused_at_once(tmp_path: Path, kind: str, field: str) -> None:
    path = tmp_path / f"bomb_{field}.yaml"
    good = [line for line in _good_file(kind, tmp_path).read_text().splitlines() if not line.startswith(f"{field}:")]
    path.write_text(BOMB + "\n".join(good) + f"\n{field}: *i\n")
    assert path.stat().st_size < 2000
    message = _refused(LOADERS[kind], path)
    assert message.startswith(f"calibration file {path} uses the YAML alias *a (line 2)")
    assert "write the value itself" in message


def test_a_single_alias_is_refused_too(tmp_path: Path) -> None:
    path = _with("floor", tmp_path, "alias.yaml", tilt_deg="&t 5.0", roll_deg="*t")
    assert "uses the YAML alias *t" in _refused(load_floor, path)


@pytest.mark.parametrize("kind", ["camera", "subject", "floor"])
def test_alias_bombs_through_the_cli(tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    """``posecast run --intrinsics/--subject/--floor bomb.yaml``: one line, exit 2, seconds (was: 51 s,
    6 GB and a 2 GB line for the floor, a timeout for the others)."""
    bomb = tmp_path / "bomb.yaml"
    good = _good_file(kind, tmp_path).read_text().replace("format:", "old_format:")
    bomb.write_text(BOMB + good + "format: *i\n")
    images = tmp_path / "images"
    images.mkdir()
    cv2.imwrite(str(images / "a.png"), np.zeros((48, 64, 3), np.uint8))
    start = time.perf_counter()
    code = main(["run", "--source", str(images), "--headless", "--publish", "none", "--frames", "1",
                 CLI_OPTION[kind], str(bomb)])  # fmt: skip
    elapsed = time.perf_counter() - start
    assert code == 2
    assert "uses the YAML alias *a" in _one_error_line(capsys.readouterr().err)
    assert elapsed < 20.0


# --- 1. every value of a file is shown shortened --------------------------------------------------


def test_shown_is_short_whatever_the_value() -> None:
    nested: object = ["x"] * 9
    for _ in range(9):  # what the bomb expands to: 9**10 strings, shared
        nested = [nested] * 9
    start = time.perf_counter()
    values = [nested, "y" * 10**6, 10**4000, {"k" * 1000: ["v" * 1000] * 1000}, "1\n2", b"\x00" * 10**5]
    texts = [shown(value) for value in values]
    assert time.perf_counter() - start < 0.5
    assert all(len(text) <= MAX_SHOWN_CHARS and "\n" not in text for text in texts), texts
    assert shown("1\n2") == repr("1\n2") and shown(True) == "True" and shown([1, 2]) == "[1, 2]"
    with pytest.raises(CalibrationError, match=r"^fx is \[\[\[.*expected a number$") as refused:
        finite_number("fx", nested)
    assert len(str(refused.value)) < 200


@pytest.mark.parametrize(
    ("kind", "field", "value", "message"),
    [
        ("camera", "format", ["x"] * 100_000, r": format is \['x', 'x', 'x', 'x', \.\.\.\], expected 'posecast-"),
        ("camera", "format", "x" * 500_000, r" is a 'x+\.\.\.x+' file, expected 'posecast-camera'"),
        ("camera", "version", "1\n" * 100_000, r" has format version '1\\n1\\n.*\.\.\..*', expected 1"),
        ("camera", "assumed", list(range(100_000)), r"assumed is \[0, 1, 2, 3, \.\.\.\], expected true or false"),
        ("camera", "distortion", {str(i): i for i in range(50_000)}, r"distortion is \{.*\.\.\.\}, expected a list"),
        ("camera", "fx", "5" * 500_000, r"fx is '5+\.\.\.5+', expected a number$"),
        ("camera", "width", [[1] * 1000] * 100, r"image width is \[\[1, 1, 1, 1, \.\.\.\], .*\], expected a whole"),
        ("subject", "frames_used", "z" * 500_000, r"frames_used is 'z+\.\.\.z+', expected a whole number of frames"),
        ("subject", "clipped_bones", [1] * 100_000, r"clipped_bones is \[1, 1, 1, 1, \.\.\.\], expected a list of"),
        ("subject", "typical_bones", ["no_bone"] * 60_000, r"typical_bones names unknown bones \['no_bone', .*\.\]"),
        ("floor", "tilt_deg", ["t" * 1000] * 1000, r"tilt_deg is \['t+\.\.\.t+', .*, expected a number"),
        ("floor", "source", ["s"] * 100_000, r"^floor file .*: source is a list, expected text"),
    ],
)  # fmt: skip
def test_huge_values_are_named_in_a_short_line(tmp_path: Path, kind: str, field: str, value: object,
                                               message: str) -> None:  # fmt: skip
    """JSON has no aliases, but a megabyte of one value did go into the message whole."""
    data = json.loads(json.dumps(yaml.safe_load(_good_file(kind, tmp_path).read_text())))
    path = tmp_path / "huge.json"
    path.write_text(json.dumps(data | {field: value}))
    assert path.stat().st_size < 1 << 20
    got = _refused(LOADERS[kind], path)
    assert re.search(message, got), got


def test_a_4000_digit_number_is_shortened(tmp_path: Path) -> None:
    path = _with("camera", tmp_path, "fx.yaml", fx="1" + "0" * 4000)
    assert re.search(r"fx is 1000+\.\.\.0+, expected a finite number$", _refused(load_intrinsics, path))


# --- 1. what else a small file never needs: many values, deep nesting, a key twice ---------------


def test_many_values_and_deep_nesting_are_refused_at_once(tmp_path: Path) -> None:
    many = _with("camera", tmp_path, "many.yaml", distortion="[" + ", ".join(["0"] * 300_000) + "]")
    assert many.stat().st_size < 1 << 20
    assert f"holds more than {MAX_VALUES} values" in _refused(load_intrinsics, many)
    keys = tmp_path / "keys.yaml"
    keys.write_text(_good_file("floor", tmp_path).read_text() + "".join(f"k{i}: {i}\n" for i in range(50_000)))
    assert f"holds more than {MAX_VALUES} values" in _refused(load_floor, keys)
    deep = _with("subject", tmp_path, "deep.yaml", source="[" * 200_000 + "]" * 200_000)
    assert f"nests lists or mappings more than {MAX_DEPTH} deep" in _refused(load_subject, deep)


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_a_key_given_twice_is_refused(tmp_path: Path, suffix: str) -> None:
    """The last one silently won (a hand-edited file with the old value left below the new one)."""
    path = tmp_path / f"twice{suffix}"
    if suffix == ".yaml":
        path.write_text(_good_file("floor", tmp_path).read_text() + "tilt_deg: 30.0\n")
    else:
        text = _good_file("floor", tmp_path, ".json").read_text()
        path.write_text(text.replace('"tilt_deg"', '"tilt_deg": 30.0, "tilt_deg"'))
    message = _refused(load_floor, path)
    assert "the key 'tilt_deg' " in message and "twice" in message


# --- 2. not a regular file ----------------------------------------------------------------------


def _within(seconds: float, call: Callable[[], object], fifo: Path | None = None) -> object:
    """``call()``'s result (or exception) in a thread; fails, releasing a reader blocked on ``fifo``,
    when it takes longer than ``seconds`` (a reader of a named pipe waits for a writer forever)."""
    result: dict[str, object] = {}

    def run() -> None:
        try:
            result["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        if fifo is not None:
            os.close(os.open(fifo, os.O_WRONLY))  # the blocked open returns, reads end of file
        thread.join(5)
        pytest.fail(f"still reading after {seconds} s")
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return result.get("value")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
@pytest.mark.parametrize("kind", ["camera", "subject", "floor"])
def test_a_named_pipe_is_refused_without_waiting(tmp_path: Path, kind: str) -> None:
    fifo = tmp_path / f"{kind}.yaml"
    os.mkfifo(fifo)
    with pytest.raises(CalibrationError) as refused:
        _within(5.0, lambda: LOADERS[kind](fifo), fifo)
    assert str(refused.value) == (f"calibration file {fifo} is a named pipe, not a file; pass a {kind} file (.yaml, "
                                  f".yml or .json) written by posecast calibrate {kind} --output FILE")  # fmt: skip


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    # --publish none: the default port is bound before --floor is read (two test processes, QA)
    command = ["run", "--publish", "none", "--source", str(tmp_path / "x.mp4"), "--floor", str(fifo)]
    code = _within(30.0, lambda: main(command), fifo)
    assert code == 2
    assert "is a named pipe, not a file" in _one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("name", ["yaml", "camera.yaml"])
def test_a_folder_is_named_a_folder(tmp_path: Path, name: str) -> None:
    """Was: ``calibration files end in .yaml, .yml or .json, got 'yaml'`` for a folder named yaml."""
    (tmp_path / name).mkdir()
    message = _refused(load_intrinsics, tmp_path / name)
    assert message.startswith(f"calibration file {tmp_path / name} is a folder, not a file; pass a camera file")


@pytest.mark.skipif(not Path("/dev/null").exists(), reason="no /dev/null")
def test_a_device_is_refused() -> None:
    assert " is a device, not a file; " in _refused(load_subject, Path("/dev/null"))


def test_missing_files_and_wrong_suffixes_still_say_so(tmp_path: Path) -> None:
    assert "cannot read calibration file" in _refused(load_floor, tmp_path / "absent.yaml")
    (tmp_path / "floor.txt").write_text("camera_height_m: 1.2\n")
    assert "end in .yaml, .yml or .json, got 'floor.txt'" in _refused(load_floor, tmp_path / "floor.txt")


# --- 3. numbers YAML reads as text --------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "key", "raw", "hint"),
    [
        ("camera", "fx", "5e2", "fx is '5e2', expected a number; YAML reads 5e2 (an exponent without a dot) as text: "
                                "write 500.0"),
        ("camera", "distortion", "[1e-3, 0, 0, 0]", "distortion[0] is '1e-3', expected a number; YAML reads 1e-3 "),
        ("camera", "fy", "'500.5'", "fy is '500.5', expected a number; it is text: write 500.5, without quotes"),
        ("camera", "width", '"640"', "image width is '640', expected a whole number of pixels in 1..32768; it is "
                                     "text: write 640, without quotes"),
        ("floor", "camera_height_m", "1e300", "camera_height_m is '1e300', expected a number; YAML reads 1e300 (an "
                                              "exponent without a dot) as text: write 1.0e+300"),
        ("subject", "height_m", "17e-1", "height_m is '17e-1', expected a number; YAML reads 17e-1 (an exponent "
                                         "without a dot) as text: write 1.7"),
    ],
)  # fmt: skip
def test_numbers_read_as_text_say_how_to_write_them(tmp_path: Path, kind: str, key: str, raw: str, hint: str) -> None:
    message = _refused(LOADERS[kind], _with(kind, tmp_path, "text.yaml", **{key: raw}))
    assert message.endswith(hint) or hint in message, message


def test_the_suggested_spelling_loads(tmp_path: Path) -> None:
    message = _refused(load_intrinsics, _with("camera", tmp_path, "a.yaml", fx="5e2", fy="5e2"))
    written = message.rsplit("write ", 1)[1]
    loaded = load_intrinsics(_with("camera", tmp_path, "b.yaml", fx=written, fy=written))
    assert (loaded.fx, loaded.fy) == (500.0, 500.0)


@pytest.mark.parametrize("raw", ["nan", "'inf'", "-1e999", "tall"])
def test_text_that_is_no_finite_number_gets_no_spelling_hint(tmp_path: Path, raw: str) -> None:
    message = _refused(load_floor, _with("floor", tmp_path, "f.yaml", tilt_deg=raw))
    assert message.endswith("expected a number") and "write" not in message


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("'1'", r"has format version '1', expected 1; it is text: write 1, without quotes$"),
        ("-99999999999999999999", r"has format version -99999999999999999999, expected 1$"),
        ("0", r"has format version 0, expected 1$"),
        ("2", r"has format version 2, this posecast reads up to 1; upgrade posecast$"),
    ],
)
def test_odd_versions(tmp_path: Path, raw: str, message: str) -> None:
    """A version that is text said "upgrade posecast"; a negative one was accepted."""
    assert re.search(message, _refused(load_subject, _with("subject", tmp_path, "v.yaml", version=raw)))


# --- 4. calibrate options that the chosen way would ignore --------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--hfov", "60", "--size", "640x480", "--board", "9x6"],
         "--hfov assumes no board, so --board would be ignored: pass either --hfov and --size, or --images/--camera "
         "with --board and --square"),
        (["--hfov", "60", "--size", "640x480", "--board", "9x6", "--square", "0.02", "--charuco"],
         "--hfov assumes no board, so --board, --square and --charuco would be ignored"),
        (["--hfov", "60", "--size", "640x480", "--min-views", "5", "--fix-k3"],
         "--hfov measures nothing, so --min-views and --fix-k3 would be ignored: leave them out"),
        (["--hfov", "60", "--size", "640x480", "--min-sharpness", "1"], "--hfov measures nothing, so --min-sharpness"),
        (["--images", "{tmp}", "--board", "9x6", "--square", "0.02", "--views", "30"],
         "--views would be ignored with --images (for a live camera, --camera): leave it out"),
        (["--images", "{tmp}", "--board", "9x6", "--square", "0.02", "--size", "640x480", "--no-window"],
         "--no-window and --size would be ignored with --images"),
    ],
)  # fmt: skip
def test_calibrate_camera_refuses_options_it_would_ignore(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          args: list[str], message: str) -> None:  # fmt: skip
    output = tmp_path / "camera.yaml"
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    assert main(["calibrate", "camera", *argv, "-o", str(output)]) == 2
    assert message in _one_error_line(capsys.readouterr().err)
    assert not output.exists()


@pytest.mark.parametrize("index", ["-1", "-5", "2147483648", "10000", "3x"])
def test_calibrate_camera_refuses_a_camera_index_out_of_range(tmp_path: Path, index: str) -> None:
    """``--camera -1`` crashed OpenCV (SIGSEGV, no output) and 2147483648 gave its overload
    traceback; ``run --source`` already said the range (error-contract QA). A process of its own:
    the old crash would take the test run with it."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "posecast.realtime.cli", "calibrate", "camera", f"--camera={index}",
                           "--board", "9x6", "--square", "0.025", "--no-window", "-o", str(tmp_path / "c.yaml")],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    expected = (f"posecast calibrate camera: error: argument --camera: expected a camera index from 0 to 9999 "
                f"(0 is the first; on Linux see ls /dev/video*), got '{index}'")  # fmt: skip
    assert lines[0].startswith(expected), lines


def test_calibrate_camera_defaults_are_unchanged(tmp_path: Path) -> None:
    args = build_parser().parse_args(["calibrate", "camera", "--hfov", "60", "--size", "64x48", "-o", "c.yaml"])
    assert (args.min_views, args.views, args.min_sharpness) == (None, None, None)  # given or not: told apart
    assert main(["calibrate", "camera", "--hfov", "60", "--size", "640x480", "-o", str(tmp_path / "c.yaml")]) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--camera-height", "1.4", "--height", "2.5", "--seconds", "100"],
         "--camera-height gives the floor, so --seconds and --subject-height/--height (for measuring it from the "
         "feet) would be ignored: pass either --camera-height (and --tilt, --roll) or --source with them, not both"),
        (["--camera-height", "1.4", "--subject-height", "1.8"], "so --subject-height/--height (for measuring it"),
        (["--camera-height", "1.4", "--tilt", "5", "--seconds", "3"], "so --seconds (for measuring it from the feet)"),
        (["--camera-height", "1.4", "--hfov", "70"], "so --hfov (for measuring"),
        (["--camera-height", "1.4", "--model-asset", "pose.task", "--backend", "onnxruntime"],
         "so --model-asset and --backend (for measuring"),
        (["--camera-height", "1.4", "--source", "x.mp4", "--seconds", "3"], "either --camera-height"),
    ],
)  # fmt: skip
def test_calibrate_floor_refuses_measuring_options_with_camera_height(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    output = tmp_path / "floor.yaml"
    assert main(["calibrate", "floor", *args, "-o", str(output)]) == 2
    assert message in _one_error_line(capsys.readouterr().err)
    assert not output.exists()


def test_calibrate_floor_defaults_are_told_from_given_options(tmp_path: Path) -> None:
    parser = build_parser()
    assert measuring_options(parser.parse_args(["calibrate", "floor", "--camera-height", "1.2", "--tilt", "9"])) == []
    assert measuring_options(parser.parse_args(["calibrate", "floor", "--source", "clip.mp4"])) == []
    measured = parser.parse_args(["calibrate", "floor", "--source", "c.mp4", "--seconds", "4", "--height", "1.6"])
    assert measuring_options(measured) == ["--seconds", "--subject-height/--height"]
    output = tmp_path / "floor.yaml"
    assert main(["calibrate", "floor", "--camera-height", "1.2", "--tilt", "9", "-o", str(output)]) == 0
    assert load_floor(output).tilt_deg == pytest.approx(9.0)


def test_an_opencv_filestorage_file_is_named_as_one(tmp_path: Path) -> None:
    """QA: OpenCV's own calibration output said only "could not determine a constructor for the
    tag 'tag:yaml.org,2002:opencv-matrix'"."""
    path = tmp_path / "opencv.yaml"
    storage = cv2.FileStorage(str(path), cv2.FILE_STORAGE_WRITE)
    storage.write("camera_matrix", np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]]))
    storage.write("distortion_coefficients", np.zeros((1, 5)))
    storage.release()
    with pytest.raises(CalibrationError, match="is an OpenCV FileStorage file, not posecast's: write its camera"):
        load_intrinsics(path)
    as_json = tmp_path / "opencv.json"  # its JSON form too (review)
    storage = cv2.FileStorage(str(as_json), cv2.FILE_STORAGE_WRITE)
    storage.write("camera_matrix", np.eye(3))
    storage.release()
    with pytest.raises(CalibrationError, match="is an OpenCV FileStorage file"):
        load_intrinsics(as_json)


def test_a_file_that_is_not_the_one_asked_for_says_which_to_pass(tmp_path: Path) -> None:
    """QA: "No such file or directory", "is a 'posecast-subject' file, expected 'posecast-floor'" and
    "found list" named the problem only."""
    subject = _good_file("subject", tmp_path)
    with pytest.raises(CalibrationError, match=r"No such file or directory; pass a camera file \(.yaml, .yml or "
                                               r"\.json\) written by posecast calibrate camera --output FILE$"):
        load_intrinsics(tmp_path / "absent.yaml")
    with pytest.raises(CalibrationError, match=r"is a 'posecast-subject' file, expected 'posecast-floor'; pass a "
                                               r"floor file .* written by posecast calibrate floor"):
        load_floor(subject)
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    with pytest.raises(CalibrationError, match=r"found list; pass a subject file .* posecast calibrate subject"):
        load_subject(listed)

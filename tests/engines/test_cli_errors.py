"""``posecast engines info|build|bench`` and ``--int8`` on broken model files (issue 15, defect 3):
one line on stderr and exit code 2, never a traceback. Real files, the real CLI; no torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from posecast.engines.cli_args import frame_size
from posecast.engines.runtime import DEFAULT_MODEL
from posecast.realtime.cli import main


def _tampered(path: Path, **props: str) -> Path:
    """The shipped model with some ``posecast.*`` metadata values replaced (a valid ONNX file)."""
    onnx = pytest.importorskip("onnx")
    proto = onnx.load(str(DEFAULT_MODEL))
    for entry in proto.metadata_props:
        key = entry.key.removeprefix("posecast.")
        if key in props:
            entry.value = props[key]
    if props.get("drop_all"):
        del proto.metadata_props[:]
    path.write_bytes(proto.SerializeToString())
    return path


def _written(data: bytes):  # noqa: ANN202 - a maker for BROKEN
    def make(path: Path) -> Path:
        path.write_bytes(data)
        return path

    return make


SHIPPED = DEFAULT_MODEL.read_bytes()
BROKEN = {
    "truncated": _written(SHIPPED[:3000]),
    "half": _written(SHIPPED[: len(SHIPPED) // 2]),
    "empty": _written(b""),
    "text": _written(b"this is not a model\n"),
    "no_metadata": lambda p: _tampered(p, drop_all="1"),
    "window_not_a_number": lambda p: _tampered(p, window_frames="twenty-seven"),
    "window_zero": lambda p: _tampered(p, window_frames="0"),
    "window_huge": lambda p: _tampered(p, window_frames="1000000000"),
    "schema_not_a_number": lambda p: _tampered(p, schema_version="2.5"),
}

COMMANDS = {
    "info": ["engines", "info"],
    "build_int8": ["engines", "build", "--backend", "onnxruntime", "--int8"],
    "bench_int8": ["engines", "bench", "--int8", "--iters", "1", "--warmup", "0", "--batch", "1"],
    "bench": ["engines", "bench", "--iters", "1", "--warmup", "0", "--batch", "1"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("broken", sorted(BROKEN))
def test_broken_model_is_one_line_and_exit_2(broken: str, command: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    monkeypatch.setenv("POSECAST_CACHE", str(tmp_path / "cache"))
    model = BROKEN[broken](tmp_path / "model.onnx")
    assert model.is_file()
    assert main([*COMMANDS[command], "--model", str(model)]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("posecast: error:") and str(model) in lines[0], err
    assert not list((tmp_path / "cache").rglob("*.onnx"))  # nothing cached from a broken model


def test_broken_model_in_a_real_process(tmp_path: Path) -> None:
    """The console as a user sees it: stderr holds one line, no traceback, exit status 2."""
    model = BROKEN["truncated"](tmp_path / "model.onnx")
    for command in (COMMANDS["info"], COMMANDS["build_int8"]):
        proc = subprocess.run([sys.executable, "-m", "posecast.realtime.cli", *command, "--model", str(model)],
                              capture_output=True, text=True, timeout=120,
                              env={"POSECAST_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"})  # fmt: skip
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert "is not a readable ONNX model" in proc.stderr or "cannot be loaded" in proc.stderr


@pytest.mark.parametrize(("text", "size"), [
    ("1280x720", (1280, 720)), (" 640 X 480 ", (640, 480)), ("16x32768", (16, 32768)),
    ("15x720", None), ("1280x32769", None), ("1x1", None), ("１２８０x720", None), ("1280*720", None), ("", None),
])  # fmt: skip
def test_frame_size_is_ascii_wxh_within_the_sides(text: str, size: tuple[int, int] | None) -> None:
    """One parser for --camera-size and calibrate camera --size (each had its own copy; review)."""
    assert frame_size(text) == size


def test_the_tools_errors_are_one_line_as_the_command_s(capsys: pytest.CaptureFixture[str]) -> None:
    """tools/ run through run_reporting: a line break in a name split their error, and a name of
    thousands of characters was printed whole; the ``posecast`` command's rule now serves both."""
    from posecast.engines.errors import PosecastError, run_reporting

    def work() -> int:
        raise PosecastError(f"cannot read {'d/' * 3000}new\nline.npz: pass another")

    assert run_reporting(work, "tool") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("tool: error: cannot read d/d/") and len(err) < 400
    assert "new\\nline.npz (6013 characters): pass another" in err


def test_an_abbreviated_name_keeps_its_closing_bracket() -> None:
    """Punctuation after a long name goes after its count, but a bracket of the name is the name's
    ("video(1" and "(312 characters))" before; review)."""
    from posecast.engines.errors import one_line

    name = "v" * 300 + "(1).mp4"
    assert one_line(ValueError(f"cannot read {name}: rename it")).endswith("v(1).mp4 (307 characters): rename it")
    assert one_line(ValueError(f"in {'w' * 300}(1)")).endswith("w(1) (303 characters)")


def test_control_characters_in_a_name_are_written_out() -> None:
    """Security QA: a file name holding ESC sequences reached the terminal raw in the error line
    (its title set, its screen cleared); line breaks as \\n and \\r, every other control character
    as \\xNN, the rest of the text (é) as it is."""
    from posecast.engines.errors import escaped

    assert escaped("a\nb\rc\x1b]0;T\x07d\te\x9bf é") == "a\\nb\\rc\\x1b]0;T\\x07d\\x09e\\x9bf é"
    # environment QA: U+2028 is a line break to Python's splitlines(), U+202E shows a name backwards
    assert escaped("x\u2028posecast: error: fake\u202egpj.posecast\u2066\u200f") == (
        "x\\u2028posecast: error: fake\\u202egpj.posecast\\u2066\\u200f")


def test_a_name_s_bytes_that_are_not_utf8_are_stored_each_as_it_was() -> None:
    """Environment QA, review: each undecodable byte of a file name (a surrogate Python holds for
    it) is ``\\xNN``, whatever else the text holds; any other lone surrogate is ``\\udNNN``."""
    from posecast.engines.errors import storable

    assert storable("bad/im\udce9gs é") == "bad/im\\xe9gs é"
    assert storable("a\udce9b\ud800") == "a\\xe9b\\ud800"
    assert storable("a\udce9b\ud800").encode("utf-8")  # valid UTF-8 now

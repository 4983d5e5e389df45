"""``posecast lift`` on whatever a user hands it (issue 15.3-15.5): a valid result or one line and exit 2,
never a traceback, NaN output or a half-written file; real model, real files, a real full disk
(``RLIMIT_FSIZE``) in a subprocess."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import resource
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from posecast.calibration import CameraIntrinsics
from posecast.engines import skeleton
from posecast.realtime.cli import main

INTRINSICS = CameraIntrinsics.from_hfov(60.0, 720, 1280).as_array()


@pytest.fixture(scope="module")
def squats_2d(media_dir: Path) -> np.ndarray:
    """The squats clip's reference MediaPipe 2D, ``(65, 17, 2)`` pixels."""
    landmarks = np.array(json.loads((media_dir / "squats_720x1280.mediapipe_full_2d.json").read_text()))
    return skeleton.from_mediapipe(landmarks)[..., :2]


def _lift(input_path: Path, output: Path, *extra: str) -> tuple[int, str]:
    """``posecast lift`` in this process; returns the exit code and what it printed on stderr
    (its error line; log lines too when logging writes to this stderr)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["lift", "--input", str(input_path), "--output", str(output), *extra])
    return code, err.getvalue()


def _assert_refused(code: int, err: str, message: str, folder: Path) -> None:
    assert code == 2, err
    assert _one_error_line(err), err
    assert message in err, err
    assert not list(folder.glob("out*")) and not list(folder.glob(".*tmp*")), list(folder.iterdir())


def _one_error_line(err: str) -> bool:
    """Exactly one error line, the last, and no traceback."""
    lines = err.strip().splitlines()
    errors = [line for line in lines if line.startswith("posecast: error: ")]
    return "Traceback" not in err and len(errors) == 1 and lines[-1] == errors[0]


def _corrupt(kind: str, good: Path, folder: Path) -> Path:
    path = folder / "in.npz"
    if kind == "empty file":
        path.write_bytes(b"")
    elif kind == "truncated":
        data = good.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "text":  # numpy would say "pickled data" and suggest allow_pickle
        path.write_text("keypoints_2d,intrinsics\n1,2\n")
    elif kind == ".npy":
        path = folder / "in.npy"
        np.save(path, np.load(good)["keypoints_2d"])
    elif kind == "member not .npy":  # numpy hands back the member's bytes
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("keypoints_2d.npy", b"garbage")
            archive.writestr("intrinsics.npy", b"garbage")
    elif kind == "header too large":  # declares 10^12 frames, holds a few bytes
        header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000, 17, 2), }"
        data = b"\x93NUMPY\x01\x00" + len(header.ljust(118) + "\n").to_bytes(2, "little") + \
            (header.ljust(118) + "\n").encode() + bytes(64)  # fmt: skip
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("keypoints_2d.npy", data)
            archive.writestr("intrinsics.npy", data)
    elif kind == "header unclosed":  # a damaged header numpy's parser chokes on (QA: a tokenize traceback)
        header = "{'descr': '<f4', 'fortran_order': False, 'shape': (60, 17, 2),  "
        data = b"\x93NUMPY\x01\x00" + len(header.ljust(118) + "\n").to_bytes(2, "little") + \
            (header.ljust(118) + "\n").encode() + bytes(60 * 17 * 2 * 4)  # fmt: skip
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("keypoints_2d.npy", data)
            archive.writestr("intrinsics.npy", data)
    elif kind in ("encrypted", "Deflate64"):  # a password-protected zip, Windows' Deflate64, named .npz
        data = bytearray(good.read_bytes())
        for signature, flags_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):  # local, central
            start = 0
            while (start := data.find(signature, start)) != -1:
                if kind == "encrypted":
                    data[start + flags_at] |= 1
                else:
                    data[start + method_at : start + method_at + 2] = (9).to_bytes(2, "little")
                start += 4
        path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"keypoints_2d": np.array([object()] * 3, dtype=object)}, "Object arrays cannot be loaded"),
        ({"keypoints_2d": np.array(["a", "b"])}, "keypoints_2d must hold numbers, got an array of str32"),
        ({"intrinsics": np.array(["1", "2", "3", "4"])}, "intrinsics must hold numbers"),
        ({"keypoints_2d": np.zeros((0, 17, 2))}, "with F >= 1, got shape (0, 17, 2)"),
        ({"fps": 0.0}, "fps must be one number from 0.1 to 1000, got 0"),  # one number as one ("[0]" before)
        ({"fps": np.nan}, "got nan"),
        ({"fps": np.array([30.0, 25.0])}, "got [30, 25]"),
        ({"fps": -30.0}, "got -30"),
        ({"height_m": 9.0}, "height_m must be one number, the subject's height in metres from 0.5 to 2.8, got 9; or "
                            "leave it out"),
        ({"height_m": np.array([1.7, 1.8])}, "height_m must be one number"),
        ({"fps": np.inf}, "got inf"),
        ({"intrinsics": INTRINSICS * [1, 1, np.nan, 1]}, "intrinsics must be 4 numbers fx, fy, cx, cy, finite"),
        ({"intrinsics": INTRINSICS * [np.inf, 1, 1, 1]}, "got [inf, 623.538, 360, 640]"),
        ({"intrinsics": INTRINSICS * [1e-300, 1, 1, 1]}, "fx, fy in 0.001..1e+07"),
        # the same four numbers in another shape: which is fx is a guess (QA: a (2, 2) array was lifted)
        ({"intrinsics": INTRINSICS.reshape(2, 2)}, "intrinsics must be 4 numbers fx, fy, cx, cy of shape (4,), got "
                                                   "shape (2, 2)"),
        # the unseen marks throughout: blamed on the confidence, and 0s on the pose (QA)
        ({"keypoints_2d": "zeros"}, "keypoints_2d has no keypoint seen (every one NaN or (0, 0), the marks of an "
                                    "unseen keypoint): give the joints' pixels"),
        ({"keypoints_2d": "NaN"}, "keypoints_2d has no keypoint seen"),
        ({"keypoints_2d": "x1e20"}, "keypoints_2d all lie more than 1e+07 px from the image's corner (up to 9.6e+22): "
                                    "expected pixels"),
        ({"keypoints_2d": "x1e12"}, "keypoints_2d all lie more than 1e+07 px"),
        # overflowed the torso's length: "not in posecast's joint order ... a median nan" and numpy's warnings (QA)
        ({"keypoints_2d": "x1e154"}, "keypoints_2d all lie more than 1e+07 px"),
        ({"keypoints_2d": "head at 1e4 px"}, "gave a plausible pose"),
        ({"confidence": np.full((65, 17), 90.0)}, "confidence must be in [0, 1] (NaN: not seen), got values from 90 "
                                                  "to 90; divide percentages by 100"),
        ({"confidence": np.full((65, 17), -0.5)}, "got values from -0.5 to -0.5"),
        # the keypoints are fine, the scores are not: the message named the keypoints (QA)
        ({"confidence": np.zeros((65, 17))}, "has a person seen: its confidence is at most 0 (1 = seen); give each "
                                             "keypoint's score in [0, 1], or leave confidence out"),
        ({"confidence": np.full((65, 17), np.nan)}, "its confidence is at most 0 (1 = seen)"),
        # blamed on the pixels and joint order (scores all below those that place a person), and on
        # the scores (fewer than 8 joints seen, no scores given) (QA)
        ({"confidence": np.full((65, 17), 0.2)}, "has a joint scored 0.3 or more (up to 0.2), the least that places "
                                                 "a person: give scores in [0, 1] as probabilities"),
        ({"keypoints_2d": "upper body NaN"}, "has a person: each needs 8 of the 13 joints a detector sees"),
        # another detector's layout, named (README, Offline lifting)
        ({"layout": "openpose-25"}, "unknown layout 'openpose-25': known are coco-17, mediapipe-33, posecast-17"),
        ({"layout": np.array([17.0])}, "layout must be one string naming the keypoints' layout"),
        ({"layout": np.array(["coco-17", "coco-17"])}, "layout must be one string"),
        ({"layout": "mediapipe-33"}, "keypoints_2d must be (F, 33, 2) pixels in mediapipe-33 order (layout) with F "
                                     ">= 1, got shape (65, 17, 2)"),
        ({"keypoints_2d": np.zeros((65, 33, 2)), "confidence": np.ones((65, 17))},
         "confidence must be (F, 33) like keypoints_2d, one score per keypoint, got (65, 17); or leave confidence "
         "out"),
        ({"keypoints_2d": np.zeros((65, 33, 2)) + 5.0, "layout": "coco-17"},
         "must be (F, 17, 2) pixels in coco-17 order (layout) with F >= 1, got shape (65, 33, 2) (33 keypoints: "
         "layout='mediapipe-33'?)"),
        ({"keypoints_2d": "fractions"}, "keypoints_2d all lie within 0..1 while the intrinsics are in pixels: "
                                        "fractions of the image (MediaPipe's normalised landmarks?); multiply x"),
        ({"keypoints_2d": np.zeros((65, 25, 2))}, "keypoints_2d must be (F, 17, 2) pixels in posecast joint order"),
    ],
)  # fmt: skip
def test_bad_content_is_one_line_and_nothing_written(tmp_path, squats_2d, arrays, message, caplog) -> None:
    keypoints = {"zeros": np.zeros_like(squats_2d), "NaN": np.full_like(squats_2d, np.nan),
                 "x1e20": squats_2d * 1e20, "x1e12": squats_2d * 1e12, "x1e154": squats_2d * 1e154,
                 "head at 1e4 px": np.where(np.arange(17)[:, None] == skeleton.HEAD, 1e4, squats_2d),
                 "fractions": squats_2d / [720.0, 1280.0],
                 "upper body NaN": np.where(np.arange(17)[:, None] >= 7, np.nan, squats_2d)}  # fmt: skip
    content = {"keypoints_2d": squats_2d, "intrinsics": INTRINSICS, "fps": 5.0, **arrays}
    if isinstance(content["keypoints_2d"], str):
        content["keypoints_2d"] = keypoints[content["keypoints_2d"]]
    np.savez(tmp_path / "in.npz", **content)
    code, err = _lift(tmp_path / "in.npz", tmp_path / "out.npz")
    _assert_refused(code, err, message, tmp_path)
    # warnings about frames of an input refused whole: not said before its error (QA)
    assert not [r.getMessage() for r in caplog.records if "implausible" in r.getMessage()]


@pytest.mark.parametrize(
    ("kind", "message"),
    [("empty file", "(No data left in file)"), ("truncated", "File is not a zip file"), (".npy", "holds one array"),
     ("text", "is not an .npz (numpy's zip of named arrays)"),
     ("member not .npy", "keypoints_2d is not a numpy array"),  # AttributeError, exit 1
     ("header too large", "an array's header declares more than fits in memory"),  # MemoryError, exit 1
     ("header unclosed", "(an array's header is damaged); save it with numpy.savez"),  # TokenError, exit 1 (QA)
     ("encrypted", "is encrypted, password required"),  # RuntimeError, exit 1 (QA)
     ("Deflate64", "compression method is not supported")],  # NotImplementedError, exit 1 (QA)
)
def test_unreadable_files_are_one_line(tmp_path, squats_2d, kind, message) -> None:
    good = tmp_path / "good.npz"
    np.savez(good, keypoints_2d=squats_2d, intrinsics=INTRINSICS)
    _assert_refused(*_lift(_corrupt(kind, good, tmp_path), tmp_path / "out.npz"), message, tmp_path)


def test_an_input_that_unpacks_to_too_much_is_refused_before_loading(tmp_path, monkeypatch) -> None:
    """A compressed file of zeros can declare terabytes: refused from the zip's directory."""
    from posecast.engines import lift_input

    np.savez_compressed(tmp_path / "in.npz", keypoints_2d=np.zeros((20_000, 17, 2)), intrinsics=INTRINSICS)
    monkeypatch.setattr(lift_input, "MAX_UNPACKED_BYTES", 1 << 20)  # 5.4 MB unpacked, 1 MB allowed
    message = "unpacks to 5 MiB, more than the 1 MiB a 2D input may hold"
    _assert_refused(*_lift(tmp_path / "in.npz", tmp_path / "out.npz"), message, tmp_path)


def test_the_limit_on_what_an_input_unpacks_to_is_below_a_gigabyte(tmp_path) -> None:
    """Security QA: 2 GiB of zeros, allowed, in a 2 MB file took lift to 9.6 GB before its refusal.
    The limit is 768 MiB (ten hours at 60 fps in float64 is 0.6 GB): 800 MiB of zeros, deflated to
    under a megabyte, are refused from the zip's directory."""
    frames = (800 << 20) // (17 * 2 * 8)
    header = np.lib.format.header_data_from_array_1_0(np.zeros((1, 17, 2)))
    header["shape"] = (frames, 17, 2)
    chunk = bytes(8 << 20)
    with zipfile.ZipFile(tmp_path / "in.npz", "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("keypoints_2d.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(member, header)
            for _ in range(100):
                member.write(chunk)
        archive.writestr("intrinsics.npy", _npy_bytes(INTRINSICS))
    assert (tmp_path / "in.npz").stat().st_size < 2 << 20
    _assert_refused(*_lift(tmp_path / "in.npz", tmp_path / "out.npz"), "more than the 768 MiB a 2D input may hold",
                    tmp_path)  # fmt: skip


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize("height", ["nan", "-1.7", "0", "inf"])
def test_impossible_height_is_one_line(tmp_path, squats_2d, height) -> None:
    np.savez(tmp_path / "in.npz", keypoints_2d=squats_2d, intrinsics=INTRINSICS)
    result = _lift(tmp_path / "in.npz", tmp_path / "out.npz", f"--height={height}")
    _assert_refused(*result, "--subject-height (LiftingOptions.height_m) must be in metres from 0.5 to 2.8", tmp_path)


@pytest.mark.parametrize("output", ["in.npz", "/dev/null"])
def test_an_output_that_is_the_input_or_a_device_is_refused(tmp_path, squats_2d, output) -> None:
    np.savez(tmp_path / "in.npz", keypoints_2d=squats_2d, intrinsics=INTRINSICS)
    before = (tmp_path / "in.npz").read_bytes()
    code, err = _lift(tmp_path / "in.npz", tmp_path / output)
    assert code == 2 and err.count("\n") <= 1
    assert ("is the input: writing it would destroy it" if output == "in.npz" else "it is not a regular file") in err
    assert (tmp_path / "in.npz").read_bytes() == before and Path("/dev/null").is_char_device()


@pytest.mark.parametrize("output", ["out.json", "out.csv", "out"])
def test_an_output_that_is_not_an_npz_is_refused(tmp_path, squats_2d, output) -> None:
    """A .json asked for got an npz under that name, exit 0 (``export`` refuses its wrong names)."""
    np.savez(tmp_path / "in.npz", keypoints_2d=squats_2d, intrinsics=INTRINSICS)
    _assert_refused(*_lift(tmp_path / "in.npz", tmp_path / output), "--output must name an .npz file", tmp_path)


def test_output_folder_gets_a_file_inside(tmp_path, squats_2d) -> None:
    np.savez(tmp_path / "walk_2d.npz", keypoints_2d=squats_2d[:10], intrinsics=INTRINSICS, fps=5.0)
    (tmp_path / "results").mkdir()
    code, err = _lift(tmp_path / "walk_2d.npz", tmp_path / "results")
    assert code == 0, err
    assert [p.name for p in (tmp_path / "results").iterdir()] == ["walk_2d_3d.npz"]
    assert not (tmp_path / "results.npz").exists()
    with np.load(tmp_path / "results" / "walk_2d_3d.npz") as out:
        assert np.isfinite(out["joints_3d"]).all()


def test_a_lifted_file_says_what_it_measured_and_has_its_timestamps_rate(tmp_path, squats_2d, caplog) -> None:
    """The stages' lines, held back while lifting, are said once the file is written; with
    ``timestamps_s`` and no ``fps`` the output's ``fps`` is theirs (QA: 30 for frames 0.2 s apart)."""
    stamps = 1000.0 + 0.2 * np.arange(len(squats_2d))
    np.savez(tmp_path / "in.npz", keypoints_2d=squats_2d, intrinsics=INTRINSICS, timestamps_s=stamps)
    with caplog.at_level(logging.INFO):
        code, err = _lift(tmp_path / "in.npz", tmp_path / "out.npz")
    assert code == 0, err
    assert any(r.getMessage().startswith("live subject calibration:") for r in caplog.records)
    with np.load(tmp_path / "out.npz") as out:
        assert float(out["fps"]) == pytest.approx(5.0) and np.array_equal(out["timestamps_s"], stamps)


def test_an_fps_that_disagrees_with_the_timestamps_is_said_and_theirs_is_written(tmp_path, squats_2d,
                                                                                  caplog) -> None:  # fmt: skip
    """QA: ``fps=60`` beside 30 Hz ``timestamps_s`` was lifted at the stamps and written out as 60
    fps, without a word: anything animated from the output's ``fps`` played twice as fast."""
    stamps = np.arange(len(squats_2d)) / 30.0
    np.savez(tmp_path / "in.npz", keypoints_2d=squats_2d, intrinsics=INTRINSICS, timestamps_s=stamps, fps=60.0)
    with caplog.at_level(logging.WARNING):
        code, err = _lift(tmp_path / "in.npz", tmp_path / "out.npz")
    assert code == 0, err
    assert "fps 60 disagrees with timestamps_s, whose rate is 30: the frames are lifted at their times" in caplog.text
    with np.load(tmp_path / "out.npz") as out:
        assert float(out["fps"]) == pytest.approx(30.0)


def test_an_infinite_keypoint_is_unseen_as_nan_is_and_said(tmp_path, squats_2d, caplog) -> None:
    """QA: one joint at +inf made its whole frame poseless (all NaN in the output), without a word."""
    keypoints = squats_2d.copy()
    keypoints[5, 13] = np.inf
    np.savez(tmp_path / "in.npz", keypoints_2d=keypoints, intrinsics=INTRINSICS, fps=5.0)
    with caplog.at_level(logging.WARNING):
        code, err = _lift(tmp_path / "in.npz", tmp_path / "out.npz")
    assert code == 0, err
    assert "1 keypoint(s) in keypoints_2d are infinite: taken as unseen, as NaN is" in caplog.text
    with np.load(tmp_path / "out.npz") as out:
        assert np.isfinite(out["joints_3d"][5]).all()


def test_a_shipped_model_is_chosen_by_name(tmp_path, squats_2d) -> None:
    """``--model NAME`` takes a shipped model (it was read as a path); an unknown name lists them."""
    np.savez(tmp_path / "in.npz", keypoints_2d=squats_2d[:40], intrinsics=INTRINSICS, fps=5.0)
    joints = {}
    for name in ("supervised-w256", "unsupervised-w512"):
        code, err = _lift(tmp_path / "in.npz", tmp_path / f"{name}.npz", "--model", name)
        assert code == 0, err
        with np.load(tmp_path / f"{name}.npz") as out:
            joints[name] = out["joints_3d"]
    assert np.isfinite(joints["supervised-w256"][-1]).all()
    assert np.abs(joints["supervised-w256"][-1] - joints["unsupervised-w512"][-1]).max() > 0.01
    _assert_refused(*_lift(tmp_path / "in.npz", tmp_path / "out.npz", "--model", "nonesuch"),
                    "shipped model's name (supervised-w256", tmp_path)  # fmt: skip


def test_full_disk_leaves_nothing_and_says_so(tmp_path, squats_2d) -> None:
    """The output cannot be written (a file-size limit of 4 kB, as a full disk): exit 2, one line, no
    file and no temporary file left. The model is read, not written, so only the output hits the limit."""
    np.savez(tmp_path / "in.npz", keypoints_2d=squats_2d, intrinsics=INTRINSICS, fps=5.0)
    out = tmp_path / "out" / "o.npz"
    out.parent.mkdir()

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    command = [sys.executable, "-m", "posecast.realtime.cli", "lift", "--input", str(tmp_path / "in.npz"),
               "--output", str(out)]  # fmt: skip
    run = subprocess.run(command, preexec_fn=limit, capture_output=True, text=True, timeout=300)
    assert run.returncode == 2, run.stderr
    assert _one_error_line(run.stderr), run.stderr
    assert run.stderr.strip().endswith(f"cannot write {out}: File too large; free space on its disk or pass a file "
                                       "elsewhere (nothing written)")  # (QA: the fix was left out)
    assert list(out.parent.iterdir()) == []


# --- property: any .npz content -------------------------------------------------------------

_shapes = st.one_of(
    st.tuples(st.integers(1, 6), st.just(17), st.just(2)),
    hnp.array_shapes(min_dims=0, max_dims=3, max_side=5),
)
_floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.floats(min_value=0.0, max_value=1500.0),
    st.sampled_from([0.0, 1e-300, 1e12, -1e20, 1e38, 5.0, 30.0, 360.0, 640.0, 623.5]),
)
_dtypes = st.sampled_from(["float64", "float32", "int64", "uint8", "bool", "complex128", "U3"])


@st.composite
def _array(draw: st.DrawFn, shape: st.SearchStrategy) -> np.ndarray:
    dtype = draw(_dtypes)
    shape = draw(shape)
    if dtype == "U3":
        return draw(hnp.arrays(dtype, shape, elements=st.text(alphabet="ab01.-", max_size=3)))
    values = draw(hnp.arrays("float64", shape, elements=_floats))
    with np.errstate(all="ignore"):
        return values.astype(dtype)


@st.composite
def _npz_content(draw: st.DrawFn, squats: np.ndarray) -> dict[str, np.ndarray]:
    """Mostly near-valid inputs (real 2D, a few fields replaced or scaled), some wild ones."""
    frames = draw(st.integers(1, 6))
    start = draw(st.integers(0, len(squats) - frames))
    content = {"keypoints_2d": squats[start : start + frames] * draw(st.sampled_from([1.0, 1.0, 0.5, -1.0, 1e9])),
               "intrinsics": INTRINSICS.copy(), "fps": np.float64(5.0)}  # fmt: skip
    for name in draw(st.lists(st.sampled_from(["keypoints_2d", "intrinsics", "fps", "confidence", "extra", "layout"]),
                              max_size=3, unique=True)):  # fmt: skip
        if name == "layout":  # a layout named (right, wrong or not a string) for keypoints of any shape
            names = st.sampled_from(["coco-17", "mediapipe-33", "posecast-17", "COCO-17", "nope", ""])
            content[name] = draw(st.one_of(names, names.map(str.encode), _array(_shapes)))
        elif draw(st.booleans()):
            content[name] = draw(_array(_shapes))
        elif name in content:
            with np.errstate(all="ignore"):
                content[name] = content[name] * draw(_floats)  # one field scaled, also by NaN or 1e38
        else:
            content[name] = draw(_array(st.just((frames, 17))))
    for name in draw(st.lists(st.sampled_from(sorted(content)), max_size=1)):
        del content[name]
    return content


def test_any_npz_content_gives_a_result_or_one_line(squats_2d: np.ndarray, tmp_path: Path) -> None:
    folder = tmp_path

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(content=_npz_content(squats_2d))
    def check(content: dict[str, np.ndarray]) -> None:
        source, out = folder / "in.npz", folder / "out.npz"
        out.unlink(missing_ok=True)
        with np.errstate(all="ignore"):
            np.savez(source, **content)
        code, err = _lift(source, out)
        leftovers = [p.name for p in folder.iterdir() if p.name not in ("in.npz", "out.npz")]
        assert not leftovers, leftovers
        if code == 2:
            event("refused")
            assert _one_error_line(err), err
            assert not out.exists()
            return
        event("lifted")
        assert code == 0 and "Traceback" not in err and "error" not in err, (code, err)
        with np.load(out) as data:
            joints = data["joints_3d"]
            assert joints.shape == (len(content["keypoints_2d"]), 17, 3)
            posed = np.isfinite(joints).all(axis=(1, 2))
            assert posed.any()
            assert np.isnan(joints[~posed]).all()  # a frame is a whole pose or no pose, never part
            assert np.abs(joints[posed]).max() < 60.0  # metres: the gate keeps the root within 50 m
            assert 0.1 <= float(data["fps"]) <= 1000.0

    check()


def test_keypoints_all_on_one_point_are_no_person(squats_2d) -> None:
    """Zeros written for a frame without anyone (as a user's exporter might) are not a pose, so
    `adapt` does not train on them; normalised units (fx = 1, a person 0.3 wide) still are."""
    from posecast.engines.lift_input import posed_frames

    seen = np.ones(squats_2d.shape[:2])
    assert not posed_frames(np.zeros_like(squats_2d), seen).any()
    assert not posed_frames(np.full_like(squats_2d, 412.0), seen).any()
    assert posed_frames(squats_2d, seen).all() and posed_frames(squats_2d / 2000.0, seen).all()


def test_a_model_that_loads_but_does_not_fit_posecast_is_one_line(tmp_path, squats_2d) -> None:
    """A float16 input (as some converters export) and a graph that fails only when run (an output
    computed in another shape than declared) gave ONNX Runtime's traceback, exit 1."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper
    from posecast.engines.runtime.base import DEFAULT_MODEL

    np.savez(tmp_path / "in.npz", keypoints_2d=squats_2d[:30], intrinsics=INTRINSICS, fps=5.0)
    half = onnx.load(str(DEFAULT_MODEL))
    name = half.graph.input[0].name
    half.graph.input[0].type.tensor_type.elem_type = TensorProto.FLOAT16
    for node in half.graph.node:
        node.input[:] = ["as_float" if x == name else x for x in node.input]
    half.graph.node.insert(0, helper.make_node("Cast", [name], ["as_float"], to=TensorProto.FLOAT))
    failing = onnx.load(str(DEFAULT_MODEL))
    out = failing.graph.output[0].name
    for node in failing.graph.node:
        node.output[:] = ["full" if x == out else x for x in node.output]
    failing.graph.initializer.append(helper.make_tensor("shape", TensorProto.INT64, [3], [-1, 17, 5]))
    failing.graph.node.append(helper.make_node("Reshape", ["full", "shape"], ["reshaped"]))
    for tensor, value in (("start", 0), ("end", 3), ("axis", 2)):  # back to 3 wide: shape inference is satisfied
        failing.graph.initializer.append(helper.make_tensor(tensor, TensorProto.INT64, [1], [value]))
    failing.graph.node.append(helper.make_node("Slice", ["reshaped", "start", "end", "axis"], [out]))
    refusals = ((half, "is tensor(float16), posecast feeds and reads float32"), (failing, "fails on a test window"))
    for proto, said in refusals:
        model = tmp_path / "model.onnx"
        model.write_bytes(proto.SerializeToString())
        code, err = _lift(tmp_path / "in.npz", tmp_path / "out.npz", "--model", str(model), "--no-int8")
        _assert_refused(code, err, said, tmp_path)


def test_a_model_that_gives_no_usable_3d_is_named(tmp_path, squats_2d, media_dir) -> None:
    """A model whose weights are NaN: the error blamed the input alone ("expected keypoints_2d in pixels"),
    and ``posecast run`` published nobody, exit 0. Now the model is refused when it loads, by every command."""
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper
    from posecast.engines.runtime.base import DEFAULT_MODEL

    proto = onnx.load(str(DEFAULT_MODEL))
    for tensor in proto.graph.initializer:
        values = numpy_helper.to_array(tensor)
        if values.dtype.kind == "f":
            tensor.CopyFrom(numpy_helper.from_array(np.full_like(values, np.nan), tensor.name))
    model = tmp_path / "broken.onnx"
    model.write_bytes(proto.SerializeToString())
    np.savez(tmp_path / "in.npz", keypoints_2d=squats_2d[:30], intrinsics=INTRINSICS, fps=5.0)
    code, err = _lift(tmp_path / "in.npz", tmp_path / "out.npz", "--model", str(model), "--no-int8")
    _assert_refused(code, err, f"the model {model} gives no finite 3D on onnxruntime (its weights hold NaN", tmp_path)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["run", "--source", str(media_dir / "dance_576.mp4"), "--headless", "--publish", "none",
                     "--frames", "3", "--model", str(model), "--no-int8", "--stats-json", str(tmp_path / "out.json")])
    _assert_refused(code, err.getvalue(), "gives no finite 3D", tmp_path)


def test_a_full_disk_on_the_bvh_names_the_bvh(tmp_path, squats_2d) -> None:
    """QA: with the .npz written and the .bvh out of room, the error named the .npz (the .bvh's
    OutputWriteError carried no file name) and no fix. A 40 kB limit: the .npz (about 30 kB) is
    written, the .bvh (about 47 kB) is not."""
    np.savez(tmp_path / "in.npz", keypoints_2d=squats_2d, intrinsics=INTRINSICS, fps=5.0)
    out, bvh = tmp_path / "out" / "o.npz", tmp_path / "out" / "o.bvh"
    out.parent.mkdir()

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (40_000, 40_000))

    command = [sys.executable, "-m", "posecast.realtime.cli", "lift", "--input", str(tmp_path / "in.npz"),
               "--output", str(out), "--bvh", str(bvh)]  # fmt: skip
    run = subprocess.run(command, preexec_fn=limit, capture_output=True, text=True, timeout=300)
    assert run.returncode == 2 and _one_error_line(run.stderr), run.stderr
    assert run.stderr.strip().endswith(f"cannot write {bvh}: File too large; free space on its disk or pass a file "
                                       "elsewhere (nothing written)"), run.stderr  # fmt: skip
    assert list(out.parent.iterdir()) == []

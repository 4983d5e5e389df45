"""INT8 copies: real quantisation of float16-stored models, and the shipped-beside-the-model rule."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from posecast.engines import metadata
from posecast.engines.networks import ModelConfig, PoseGenerator, PoseModel
from posecast.engines.runtime import load_backend
from posecast.engines.runtime.quantize import cached_int8, int8_sibling, quantize_int8, shipped_int8
from posecast.engines.training.export import export_onnx


def _export(path: Path, fp16: bool) -> PoseModel:
    torch.manual_seed(0)
    model = PoseModel(PoseGenerator(ModelConfig(window_frames=9, width=256, blocks=1, scale_width=64))).eval()
    export_onnx(model, path, metadata.ModelMetadata(window_frames=9), fp16_weights=fp16)
    return model


def test_float16_stored_model_is_really_quantised(tmp_path: Path) -> None:
    src = tmp_path / "m.onnx"
    _export(src, fp16=True)
    dst = quantize_int8(src, tmp_path / "m.int8.onnx")
    # int8 weights: about half of the float16 file (a copy that was not quantised would not shrink)
    assert dst.stat().st_size < 0.7 * src.stat().st_size
    x = (np.random.default_rng(0).normal(0, 0.05, (4, 9, 17, 2))).astype(np.float32)
    with load_backend("onnxruntime", src) as ref, load_backend("onnxruntime", dst) as q:
        a, b = ref.run(x).joints_3d, q.run(x).joints_3d
    assert np.abs(a - b).max() < 0.05 * np.abs(a).max()


def test_shipped_copy_is_used_only_for_its_source(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    src = tmp_path / "posecast_lifter.onnx"
    _export(src, fp16=True)
    quantize_int8(src, tmp_path / "posecast_lifter.int8.onnx")
    assert shipped_int8(src) == tmp_path / "posecast_lifter.int8.onnx"
    assert cached_int8(src) == tmp_path / "posecast_lifter.int8.onnx"
    # another model under the same name: the sibling was made from something else, so not used
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(tmp_path / "posecast_lifter.int8.onnx", other / "posecast_lifter.int8.onnx")
    _export(other / "posecast_lifter.onnx", fp16=False)
    with caplog.at_level(logging.WARNING, "posecast"):
        assert shipped_int8(other / "posecast_lifter.onnx") is None
    assert "the INT8 copy posecast_lifter.int8.onnx was not made from posecast_lifter.onnx" in caplog.text


def test_the_int8_copy_has_one_name_whatever_the_case_of_the_suffix() -> None:
    """``posecast adapt`` writes its INT8 copy where the runtime looks (``adapt --output A.ONNX``
    wrote ``A.ONNX.int8.onnx``, which nothing ever loaded)."""
    assert int8_sibling(Path("w/adapted.onnx")) == Path("w/adapted.int8.onnx")
    assert int8_sibling(Path("w/A.ONNX")) == Path("w/A.int8.onnx")


def test_an_int8_copy_given_as_the_model_runs_as_it_is_and_says_so(capsys) -> None:  # noqa: ANN001
    """QA: ``--model X.int8.onnx`` was reported as float (``int8: false``), and ``engines build
    --int8`` on it quantised it again into a larger file."""
    from posecast.engines.runtime.base import DEFAULT_MODEL
    from posecast.realtime.cli import main

    copy = int8_sibling(DEFAULT_MODEL)
    for asked in (False, True):
        with load_backend("onnxruntime", copy, int8=asked) as backend:
            assert backend.int8 and backend.model_path == copy
    with load_backend("onnxruntime", DEFAULT_MODEL) as backend:
        assert not backend.int8
    assert main(["engines", "build", "--int8", "--model", str(copy)]) == 2
    assert "is already an INT8 copy" in capsys.readouterr().err


def test_a_model_with_its_weights_beside_it_gets_no_int8_copy(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """Security QA: an ONNX keeping weights in a file beside it had them read from the current
    folder (a traceback there, or a copy quantised from another folder's file, then cached)."""
    import onnx
    from posecast.engines.errors import ModelError

    src = tmp_path / "models" / "inside.onnx"
    src.parent.mkdir()
    _export(src, fp16=False)
    proto = onnx.load(str(src))
    onnx.save(proto, str(src), save_as_external_data=True, all_tensors_to_one_file=True, location="inside.bin",
              size_threshold=0)  # fmt: skip
    decoy = tmp_path / "cwd"
    decoy.mkdir()
    (decoy / "inside.bin").write_bytes((src.parent / "inside.bin").read_bytes())
    monkeypatch.chdir(decoy)
    with pytest.raises(ModelError, match=r"keeps weights in files beside it .*: run it without --int8"):
        quantize_int8(src, tmp_path / "inside.int8.onnx")
    assert not (tmp_path / "inside.int8.onnx").exists()


def test_a_killed_build_s_temporary_folder_is_removed_by_the_next(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """QA: SIGKILL during `engines build --int8` left /tmp/tmpXXXXXXXX/float32.onnx (4 MB) for good; the
    folder is named posecast-int8-*, and the next build removes one untouched for an hour."""
    import os
    import tempfile
    import time

    from posecast.engines.runtime.quantize import INT8_TEMP_PREFIX

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    killed, going_on = tmp_path / f"{INT8_TEMP_PREFIX}killed", tmp_path / f"{INT8_TEMP_PREFIX}going"
    for folder in (killed, going_on):
        folder.mkdir()
        (folder / "float32.onnx").write_bytes(b"x")
    two_hours_ago = time.time() - 7200
    os.utime(killed, (two_hours_ago, two_hours_ago))
    src = tmp_path / "m.onnx"
    _export(src, fp16=True)
    quantize_int8(src, tmp_path / "m.int8.onnx")
    assert not killed.exists() and going_on.is_dir()


def test_names_in_bytes_that_are_not_utf8_are_stored_in_a_model_s_metadata(tmp_path: Path) -> None:
    """Environment QA: ``adapt`` on an input whose name is not UTF-8 (Python holds its bytes as
    surrogates) trained for its whole budget, then failed with UnicodeEncodeError writing the
    names into the model's metadata. They are stored as ``\\xNN``."""
    torch.manual_seed(0)
    model = PoseModel(PoseGenerator(ModelConfig(window_frames=9, width=256, blocks=1, scale_width=64))).eval()
    meta = metadata.ModelMetadata(window_frames=9, extra={"adapted_on": "bad/x\udce9y.posecast"})
    export_onnx(model, tmp_path / "m.onnx", meta)
    assert metadata.read_onnx_metadata(tmp_path / "m.onnx").extra["adapted_on"] == "bad/x\\xe9y.posecast"


def test_quantising_mutes_the_quantiser_alone_not_the_program_s_other_threads(tmp_path: Path) -> None:
    """API QA: the INT8 build set the root logger to ERROR to mute the quantiser's advice, and a
    host program's warnings from another thread were lost meanwhile (13 of 40)."""
    import threading

    _export(tmp_path / "m.onnx", fp16=True)
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    root, keep, done, sent = logging.getLogger(), Keep(logging.DEBUG), threading.Event(), []
    root.addHandler(keep)
    previous, root.level = root.level, logging.INFO

    def host_program() -> None:
        while not done.is_set():
            sent.append(len(sent))
            logging.getLogger("host").warning("host warning %d", sent[-1])
            done.wait(0.002)

    worker = threading.Thread(target=host_program)
    worker.start()
    try:
        quantize_int8(tmp_path / "m.onnx", tmp_path / "m.int8.onnx")
    finally:
        done.set()
        worker.join()
        root.removeHandler(keep)
        root.level = previous
    host = [r for r in records if r.name == "host"]
    assert len(host) == len(sent) > 10
    assert not [r for r in records if "onnxruntime" in r.pathname and r.levelno < logging.ERROR], records[:3]

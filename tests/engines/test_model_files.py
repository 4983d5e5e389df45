"""What a model file says about itself is checked, never trusted (issue 15): any metadata gives a
valid :class:`ModelMetadata` or a one-line :class:`ModelMetadataError`; the torch-cuda rebuild's
architecture text is parsed as data only. No torch needed."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from posecast.engines import metadata
from posecast.engines.errors import ModelError
from posecast.engines.metadata import MAX_WINDOW_FRAMES, ModelMetadata, ModelMetadataError
from posecast.engines.runtime.torch_cuda import model_config

GOOD = ModelMetadata(window_frames=27).to_props()
KEYS = sorted(GOOD) + ["posecast.extra.model_config", "posecast.extra.frame_rate", "other.key"]


@settings(max_examples=300, deadline=None)
@given(
    replaced=st.dictionaries(st.sampled_from(KEYS), st.one_of(st.text(max_size=40), st.sampled_from(
        ["0", "-1", "27", "1e9", "nan", "inf", "-inf", "2", "2.5", "", " 27", "27 ", "0x1b", "1_000"]))),
    dropped=st.sets(st.sampled_from(KEYS)),
)  # fmt: skip
def test_any_metadata_is_valid_or_one_line_error(replaced: dict[str, str], dropped: set[str]) -> None:
    props = {k: v for k, v in {**GOOD, **replaced}.items() if k not in dropped}
    try:
        meta = ModelMetadata.from_props(props, "m.onnx")
    except ModelMetadataError as exc:
        text = str(exc)
        assert "\n" not in text and text.startswith("m.onnx"), text
        return
    assert 1 <= meta.window_frames <= MAX_WINDOW_FRAMES
    assert meta.schema_version == metadata.SCHEMA_VERSION and meta.camera_distance == GOOD_DISTANCE


GOOD_DISTANCE = float(GOOD["posecast.camera_distance"])


@pytest.mark.parametrize(
    "field,value,message",
    [("window_frames", "0", "window_frames is 0, expected 1..1024"),
     ("window_frames", "abc", "metadata window_frames is 'abc', expected an integer"),
     ("window_frames", "100000", "expected 1..1024"),
     ("schema_version", "2.0", "schema_version is '2.0', expected an integer"),
     ("camera_distance", "inf", "camera_distance is inf"),
     ("extra.frame_rate", "0", "extra.frame_rate is '0', expected a number from 1 to 1000 Hz"),
     ("extra.frame_rate", "fast", "extra.frame_rate is 'fast', expected a number")],
)  # fmt: skip
def test_bad_metadata_names_the_field(field: str, value: str, message: str) -> None:
    with pytest.raises(ModelMetadataError, match=message):
        ModelMetadata.from_props({**GOOD, f"posecast.{field}": value}, "m.onnx")


def test_frame_rate_from_the_file_or_30() -> None:
    assert ModelMetadata.from_props(GOOD, "m.onnx").frame_rate_hz == 30.0  # files from before it was written
    assert ModelMetadata.from_props({**GOOD, "posecast.extra.frame_rate": "25"}, "m.onnx").frame_rate_hz == 25.0


@pytest.mark.parametrize("text", ["__import__('os').system('true')", "[1, 2]", "{'a': (1,) * 3", "1" * 5000,
                                  "(" * 200 + ")" * 200, json.dumps([{"width": 1}])])  # fmt: skip
def test_architecture_text_is_data_only(text: str) -> None:
    meta = ModelMetadata(window_frames=9, extra={"model_config": text})
    with pytest.raises(ModelError, match="not a mapping"):
        model_config(meta)


def test_architecture_text_as_json_or_python_literal() -> None:
    for text in ('{"width": 64}', "{'width': 64}"):
        assert model_config(ModelMetadata(window_frames=9, extra={"model_config": text})) == {"width": 64}


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"window_frames": "81"}, "its metadata says keypoints_norm is (batch, 81, 17, 2), its graph has shape "
                                  "['batch', 27, 17, 2]"),
        ({"window_frames": "9"}, "keypoints_norm is (batch, 9, 17, 2)"),
    ],
)
def test_a_graph_unlike_its_metadata_is_refused_when_loaded(props: dict[str, str], message: str, tmp_path) -> None:
    """A graph and metadata from different exports: one line at load (every backend, `engines
    info` and `build`), not ONNX Runtime's rank error at the first lift."""
    onnx = pytest.importorskip("onnx")
    from posecast.engines.runtime.base import resolve_model
    from posecast.engines.runtime.onnxruntime_backend import OnnxRuntimeBackend
    from posecast.engines.runtime.quantize import quantize_int8

    model = onnx.load(str(resolve_model(None)))
    for prop in model.metadata_props:
        prop.value = props.get(prop.key.removeprefix("posecast."), prop.value)
    path = tmp_path / "mismatch.onnx"
    onnx.save(model, str(path))
    for load in (metadata.read_onnx_metadata, OnnxRuntimeBackend, lambda p: quantize_int8(p, tmp_path / "q.onnx")):
        with pytest.raises(ModelMetadataError, match=re.escape(message)):
            load(path)
    assert not (tmp_path / "q.onnx").exists()


def test_a_home_folder_path_is_taken_as_the_shell_would_take_it(tmp_path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture) -> None:  # fmt: skip
    """QA: ``--model=~/a.onnx`` (which no shell expands) was "model file not found: ~/a.onnx", and
    adapt's and lift's paths the same, while ``--source`` took ``~``."""
    import shutil

    from posecast.engines.runtime.base import DEFAULT_MODEL, resolve_model
    from posecast.realtime.cli import main

    monkeypatch.setenv("HOME", str(tmp_path))
    shutil.copy(DEFAULT_MODEL, tmp_path / "a.onnx")
    assert resolve_model("~/a.onnx") == tmp_path / "a.onnx"
    assert main(["engines", "info", "--model=~/a.onnx"]) == 0
    assert str(tmp_path / "a.onnx") in capsys.readouterr().out
    assert main(["lift", "--input", "~/none.npz", "--output", "~/out.npz"]) == 2
    assert f"lift input {tmp_path / 'none.npz'} does not exist" in capsys.readouterr().err
    assert main(["engines", "info", "--model", "~nosuchuser-posecast/a.onnx"]) == 2  # (no such user: one line)
    assert capsys.readouterr().err.startswith("posecast: error: model file not found: ~nosuchuser-posecast/a.onnx")

"""Shipped models by name (``--model NAME``): every registered model is present and describes
itself; a path still works; an unknown name says which names exist."""

from __future__ import annotations

from pathlib import Path

import pytest
from posecast.engines import metadata
from posecast.engines.errors import ModelError
from posecast.engines.runtime.base import DEFAULT_MODEL, DEFAULT_MODEL_NAME, MODELS, WEIGHTS_DIR, resolve_model


def test_default_and_names_resolve_to_shipped_files() -> None:
    assert resolve_model(None) == DEFAULT_MODEL == WEIGHTS_DIR / MODELS[DEFAULT_MODEL_NAME]
    for name, file in MODELS.items():
        path = resolve_model(name)
        assert path == WEIGHTS_DIR / file and path.is_file()
        meta = metadata.read_onnx_metadata(path)  # every shipped model describes itself
        assert meta.license and meta.training_data


def test_paths_still_work_and_unknown_names_list_the_known(tmp_path: Path) -> None:
    assert resolve_model(str(DEFAULT_MODEL)) == DEFAULT_MODEL
    assert resolve_model(DEFAULT_MODEL) == DEFAULT_MODEL
    with pytest.raises(ModelError, match=r"model file not found: nonesuch; .*shipped model.s name \("):
        resolve_model("nonesuch")

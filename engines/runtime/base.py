"""The one interface every runtime backend implements: a window in, the current 3D pose out.

A backend wraps one exported ONNX model (see :mod:`posecast.engines.training.export`): input
``keypoints_norm`` ``(B, T, 17, 2)`` float32 (intrinsics-normalised 2D, oldest frame first),
outputs ``joints_3d`` ``(B, 17, 3)`` and ``scale`` ``(B, 1)``. ``T`` is fixed by the model's
metadata; the batch is dynamic.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .. import skeleton
from ..errors import BackendError, ModelError, storable
from ..fileio import home_expanded
from ..metadata import ModelMetadata
from .quantize import int8_sibling, is_int8_copy

if TYPE_CHECKING:
    from typing_extensions import Self  # (typing's from Python 3.11; posecast runs on 3.10)

#: Where the shipped models live.
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
#: Shipped models by name (``--model NAME``), each a file in :data:`WEIGHTS_DIR` with its INT8
#: copy beside it and a model card (``engines/weights/MODEL_CARD.md`` lists them).
MODELS: dict[str, str] = {
    # supervised on Bandai-Namco + CMU, width 256 (distilled from supervised-w384): the default before
    # the upright model (it kept the file name every posecast release had for its default)
    "supervised-w256": "posecast_lifter.onnx",
    "supervised-w384": "posecast_lifter_supervised_w384.onnx",
    # supervised-w384 trained further with straighter knees, a more upright torso and slow cameras:
    # the default before the crouch model
    "supervised-upright-w384": "posecast_lifter_upright_w384.onnx",
    # the mean of two fine-tunes of supervised-upright-w384, with and without crouched legs in
    # training (tools/average_checkpoints.py): the default before the framing model
    "supervised-crouch-w384": "posecast_lifter_crouch_w384.onnx",
    # supervised-crouch-w384 trained further with a fifth of its windows cut off at the image's
    # bottom like a webcam at a desk, the legs guessed as MediaPipe guesses them: the default
    # before the current-frame model
    "supervised-framing-w384": "posecast_lifter_framing_w384.onnx",
    # supervised-framing-w384 trained further on its own recipe with the supervised loss weighing
    # each window's current frame (the one published) as much as its 26 earlier ones: the default
    # before the long model
    "supervised-current-w384": "posecast_lifter_current_w384.onnx",
    # supervised-current-w384 trained further on its own recipe with limb mixing (a window's arms
    # and legs moving as another window's): a little more accurate across datasets, not the
    # default (its upper arms miss the 5 % subject calibration; README, Models)
    "supervised-mix-w384": "posecast_lifter_mix_w384.onnx",
    # supervised-current-w384 trained 9,000 steps further on its own recipe (nothing added): 1.0-1.6 mm
    # more accurate on every held-out set: the default since 2026-12-05 (README, Models)
    "supervised-long-w384": "posecast_lifter_long_w384.onnx",
    # semi-supervised (3D + the paper's losses), Bandai-Namco only: the three-way comparison's
    "semi-w384": "posecast_lifter_semi_w384.onnx",
    # the paper's unsupervised method (2D only), Bandai-Namco: the default before issue 10
    "unsupervised-w512": "posecast_lifter_unsupervised_w512.onnx",
}
#: The name ``--model`` defaults to: the most accurate cross-dataset that is also plausible on real
#: video (README, Models).
DEFAULT_MODEL_NAME = "supervised-long-w384"
#: The advice a GPU backend's "not here" error ends with (``posecast bench --backend all``, which
#: measures onnxruntime beside it, leaves it out).
USE_ONNXRUNTIME = "; use --backend onnxruntime"
#: The shipped default lifter; an explicit path or another name always wins over it.
DEFAULT_MODEL = WEIGHTS_DIR / MODELS[DEFAULT_MODEL_NAME]


def check_float_model(backend: str, model_path: Path) -> None:
    """Raise :class:`BackendError` when ``model_path`` is an INT8 copy, which only ONNX Runtime on
    the CPU runs (review: TensorRT's parser met MatMulInteger, torch-cuda asked to re-export)."""
    if is_int8_copy(model_path):
        float_model = model_path.with_name(model_path.name.removesuffix(".int8.onnx") + ".onnx")
        raise BackendError(f"{model_path} is an INT8 copy for ONNX Runtime on the CPU; the {backend} backend runs the "
                           f"float model: pass {float_model}" + USE_ONNXRUNTIME)


@dataclass
class LiftOutput:
    """One backend call's result (arrays owned by the caller, float32)."""

    joints_3d: np.ndarray  # (B, 17, 3) current frame, root-relative, canonical units
    scale: np.ndarray  # (B, 1)


class RuntimeBackend(ABC):
    """One model on one runtime. Use as a context manager or call :meth:`close`."""

    #: Name in :data:`posecast.engines.runtime.BACKENDS` (``"onnxruntime"``, ...).
    name: str = ""
    metadata: ModelMetadata
    #: Human description of where it runs, e.g. ``"CPU (AMD EPYC, onnxruntime 1.32.0, 1 thread)"``.
    device: str = ""
    model_path: Path

    @classmethod
    @abstractmethod
    def availability(cls) -> tuple[bool, str]:
        """``(usable here, why or why not)`` without loading a model; cheap, never raises."""

    @abstractmethod
    def run(self, keypoints_norm: np.ndarray) -> LiftOutput:
        """Lift windows ``(B, T, 17, 2)`` float32 to :class:`LiftOutput`; blocks until done.

        Raises :class:`BackendError` for a wrongly shaped input (see :func:`check_window`).
        """

    def close(self) -> None:  # noqa: B027 - optional hook, most backends free on garbage collection
        """Release the runtime's resources; the backend is unusable afterwards."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model_path.name!r}, device={self.device!r})"


def check_window(keypoints_norm: np.ndarray, window_frames: int, max_batch: int | None = None) -> np.ndarray:
    """Validate a batch of windows and return it as C-contiguous float32 ``(B, T, 17, 2)``."""
    arr = np.asarray(keypoints_norm)
    expected = f"(B, {window_frames}, {skeleton.NUM_JOINTS}, 2)"
    if arr.ndim != 4 or arr.shape[1:] != (window_frames, skeleton.NUM_JOINTS, 2) or arr.shape[0] < 1:
        raise BackendError(
            f"keypoints_norm must have shape {expected} (batch of windows, model window "
            f"{window_frames} frames), got {arr.shape}; add a batch axis with x[None] for one window"
        )
    if not np.issubdtype(arr.dtype, np.floating):
        raise BackendError(f"keypoints_norm must be floating point (float32), got dtype {arr.dtype}")
    if max_batch is not None and arr.shape[0] > max_batch:
        raise BackendError(
            f"batch of {arr.shape[0]} windows is larger than this backend's max batch {max_batch}; "
            "split the batch or rebuild with a larger --max-batch"
        )
    return np.ascontiguousarray(arr, dtype=np.float32)


def model_label(model: str | Path | None) -> str:
    """The model ``--model`` named (``None``: the default), for a stream's meta and statistics:
    a shipped model's name, else the file's name (not its folder: the meta goes to every
    subscriber, and a path can say whose machine it is), its bytes that are not UTF-8 written
    out (:func:`storable`; QA: such a name failed the recorder's and the publisher's msgpack)."""
    path = resolve_model(model).resolve()
    for name, file in MODELS.items():
        if path == (WEIGHTS_DIR / file).resolve():
            return name
    return storable(path.name)


#: Suffix of the file beside an exported model that holds what adaptation needs: the full
#: generator (batch norm unfolded, every window frame's output rows) and its architecture.
ADAPT_SUFFIX = ".adapt.npz"


def adapt_weights_path(model_path: str | Path) -> Path:
    """``model.onnx`` (or ``.ONNX``, as its INT8 copy takes it) → ``model.adapt.npz`` beside it."""
    model_path = Path(model_path)
    stem = model_path.name
    for suffix in (".onnx", ".int8"):  # either case (adapted.ONNX gave adapted.ONNX.adapt.npz; QA)
        stem = stem[: -len(suffix)] if stem.lower().endswith(suffix) else stem
    return model_path.with_name(stem + ADAPT_SUFFIX)


def model_files(model_path: str | Path, option: str = "--model") -> dict[str, Path]:
    """A model's files by what they are, for :func:`~posecast.engines.fileio.check_outputs`'
    inputs: the model, its INT8 copy (the file a run reads) and its adaptation weights (what
    ``posecast adapt`` needs). An output over any of them broke the model (QA)."""
    model_path = Path(model_path)
    return {option: model_path, f"{option}'s INT8 copy": int8_sibling(model_path),
            f"{option}'s adaptation weights": adapt_weights_path(model_path)}  # fmt: skip


def resolve_model(model: str | Path | None) -> Path:
    """The model file for ``--model``: ``None`` → the default, a shipped model's name (see
    :data:`MODELS`) → its file, anything else → a path. Raises :class:`ModelError` if missing."""
    if model is None:
        model = DEFAULT_MODEL_NAME
    if isinstance(model, str) and not model.strip():  # Path("") is the current folder
        raise ModelError(f"--model is empty (an unset shell variable?): pass an exported posecast .onnx or a shipped "
                         f"model's name ({', '.join(MODELS)})")  # fmt: skip
    if isinstance(model, str) and model in MODELS:
        path = WEIGHTS_DIR / MODELS[model]
        if not path.is_file():
            raise ModelError(f"shipped model {model!r} ({path}) is missing from this install; reinstall posecast")
        return path
    path = home_expanded(model)  # (``~``: as every path option takes it)
    if not path.is_file():
        names = ", ".join(MODELS)
        problem = "model file not found" if not path.exists() else "model is not a regular file (a folder or a device)"
        raise ModelError(f"{problem}: {path}; pass an exported posecast .onnx or a shipped model's name ({names})")
    return path

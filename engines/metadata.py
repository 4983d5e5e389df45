"""Self-description of an exported model, stored in ONNX ``metadata_props``.

The exporter writes it, every runtime reads it back and checks it, so a file from another
version, with another joint order or normalisation, fails fast instead of giving bad 3D.
"""

from __future__ import annotations

import json
import os
import shlex
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import normalize, skeleton
from .errors import ModelError, is_utf8, storable
from .fileio import input_file_problem
from .host import out_of_memory_text

#: Bumped whenever the graph's inputs, outputs or normalisation change meaning.
#: 2: 2D centred by turning the view onto the pelvis, ``joints_3d`` turned back into the camera's
#: axes (version 1 shifted the 2D and left the 3D in the shifted view).
SCHEMA_VERSION = 2
INPUT_NAME = "keypoints_norm"
OUTPUT_NAMES = ("joints_3d", "scale")
NORMALIZATION = "intrinsics;pelvis-view-rotated;rms-size=1/c"
#: The exporter that writes this metadata, as the errors name it: it is not installed with the
#: package (it needs torch and a training checkpoint), so the errors say where it is.
EXPORTER = "tools/export.py (in posecast's source tree, with the training extra)"
#: Longest window a model may declare (frames): 34 s at 30 fps, far beyond any real lifter.
MAX_WINDOW_FRAMES = 1024
#: The frame rate a model's window is sampled at when its file does not say (``extra.frame_rate``):
#: training resamples every clip to 30 fps.
DEFAULT_FRAME_RATE_HZ = 30.0
#: Frame rates a model may declare (Hz).
FRAME_RATE_RANGE_HZ = (1.0, 1000.0)


class ModelMetadataError(ModelError):
    """A model file whose metadata is missing or does not match this posecast."""


@dataclass(frozen=True)
class ModelMetadata:
    """What a model file says about itself (all strings in ONNX ``metadata_props``)."""

    window_frames: int
    joint_names: tuple[str, ...] = skeleton.JOINT_NAMES
    camera_distance: float = normalize.CAMERA_DISTANCE
    normalization: str = NORMALIZATION
    schema_version: int = SCHEMA_VERSION
    model_kind: str = "unsupervised"
    training_data: str = ""
    license: str = ""
    git_commit: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def frame_rate_hz(self) -> float:
        """The rate of the frames in the model's window (``extra.frame_rate``; 30 for older files):
        the live window is resampled to it."""
        return float(self.extra.get("frame_rate", DEFAULT_FRAME_RATE_HZ))

    def to_props(self) -> dict[str, str]:
        props = {k: str(v) for k, v in asdict(self).items() if k not in ("joint_names", "extra")}
        props["joint_names"] = ",".join(self.joint_names)
        props.update({f"extra.{k}": str(v) for k, v in self.extra.items()})
        return {f"posecast.{k}": v for k, v in props.items()}

    @classmethod
    def from_props(cls, props: dict[str, str], source: str = "model") -> ModelMetadata:
        """Parse and :meth:`check` ``posecast.*`` metadata; raises :class:`ModelMetadataError`
        naming the field for anything missing, unparsable or out of range."""
        p = {k.removeprefix("posecast."): v for k, v in props.items() if k.startswith("posecast.")}
        if "schema_version" not in p or "window_frames" not in p:
            raise ModelMetadataError(f"{source} carries no posecast metadata: export it with {EXPORTER}")
        meta = cls(
            window_frames=_number(p, "window_frames", int, source),
            joint_names=tuple(p.get("joint_names", "").split(",")),
            camera_distance=_number(p, "camera_distance", float, source, default="nan"),
            normalization=p.get("normalization", ""),
            schema_version=_number(p, "schema_version", int, source),
            model_kind=p.get("model_kind", ""),
            training_data=p.get("training_data", ""),
            license=p.get("license", ""),
            git_commit=p.get("git_commit", ""),
            extra={k.removeprefix("extra."): v for k, v in p.items() if k.startswith("extra.")},
        )
        meta.check(source)
        return meta

    def check(self, source: str = "model") -> None:
        """Raise :class:`ModelMetadataError` if this posecast cannot run the model correctly."""
        expected = {
            "schema_version": (SCHEMA_VERSION, self.schema_version),
            "joint_names": (skeleton.JOINT_NAMES, self.joint_names),
            "camera_distance": (normalize.CAMERA_DISTANCE, self.camera_distance),
            "normalization": (NORMALIZATION, self.normalization),
        }
        for name, (want, got) in expected.items():
            if want != got:
                raise ModelMetadataError(
                    f"{source}: {name} is {got!r}, this posecast expects {want!r}; "
                    "re-export the model with this version of posecast"
                )
        if not 1 <= self.window_frames <= MAX_WINDOW_FRAMES:
            raise ModelMetadataError(
                f"{source}: window_frames is {self.window_frames}, expected 1..{MAX_WINDOW_FRAMES} frames; "
                f"re-export the model with {EXPORTER}"
            )
        if "frame_rate" in self.extra:
            low, high = FRAME_RATE_RANGE_HZ
            try:
                rate = float(self.extra["frame_rate"])
            except ValueError:
                rate = float("nan")
            if not low <= rate <= high:
                raise ModelMetadataError(
                    f"{source}: extra.frame_rate is {self.extra['frame_rate']!r}, expected a number from {low:g} "
                    f"to {high:g} Hz; re-export the model with {EXPORTER}"
                )

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def _number(props: dict[str, str], name: str, kind: type, source: str, default: str | None = None) -> int | float:
    """``props[name]`` as ``kind`` (int or float), or :class:`ModelMetadataError` naming the field."""
    text = props.get(name, default)
    try:
        return kind(text)
    except (TypeError, ValueError):
        what = "an integer" if kind is int else "a number"
        raise ModelMetadataError(f"{source}: metadata {name} is {text!r}, expected {what}; "
                                 f"re-export the model with {EXPORTER}") from None  # fmt: skip


def read_onnx_metadata(path: str | Path) -> ModelMetadata:
    """Read and check metadata with onnxruntime (no torch, no onnx package needed).

    Raises :class:`ModelError` for a missing file or one ONNX Runtime cannot load (corrupt,
    truncated, not ONNX), :class:`ModelMetadataError` for missing or mismatching metadata."""
    path = Path(path)
    if (problem := input_file_problem(path)) is not None:
        said = f"not found: {path};" if problem == "does not exist" else f"{path} {problem}:"
        raise ModelError(f"model file {said} pass an exported .onnx (see README, Models)")
    session = onnx_cpu_session(path)
    meta = ModelMetadata.from_props(session.get_modelmeta().custom_metadata_map, str(path))
    check_graph(session, meta, str(path))
    return meta


def check_graph(session: Any, meta: ModelMetadata, source: str) -> None:
    """Raise :class:`ModelMetadataError` when an ONNX Runtime session's input and outputs are
    not what ``meta`` says (a graph and metadata from different exports fail at the first lift
    otherwise, with ONNX Runtime's rank error); ``batch`` may be any size or name."""
    joints = len(meta.joint_names)
    expected = {INPUT_NAME: [meta.window_frames, joints, 2], OUTPUT_NAMES[0]: [joints, 3], OUTPUT_NAMES[1]: [1]}
    nodes = (*session.get_inputs(), *session.get_outputs())
    found = {node.name: list(node.shape) for node in nodes}
    for node in nodes:  # posecast feeds and reads float32: a float16 input failed at the first lift
        if node.name in expected and node.type != "tensor(float)":
            raise ModelMetadataError(f"{source}: {node.name} is {node.type}, posecast feeds and reads float32 "
                                     f"(tensor(float)); re-export the model with {EXPORTER}")  # fmt: skip
    for name, shape in expected.items():
        got = found.get(name)
        # a dimension an exporter left symbolic (a name, or None) is not checked: ONNX Runtime checks it
        if got is None or len(got) != len(shape) + 1 or any(
            isinstance(g, int) and g != e for g, e in zip(got[1:], shape, strict=True)
        ):
            has = "no such tensor" if got is None else f"shape {got}"
            said = f"(batch, {', '.join(map(str, shape))})"
            raise ModelMetadataError(f"{source}: its metadata says {name} is {said}, its graph has {has}; re-export "
                                     f"the model with {EXPORTER}")  # fmt: skip


def onnx_cpu_session(path: str | Path, options: Any = None) -> Any:
    """An ONNX Runtime CPU session of the model at ``path`` (``options``: an
    ``onnxruntime.SessionOptions``; its log level is set to errors only). Raises
    :class:`ModelError` when the file cannot be loaded (corrupt, truncated, not ONNX)."""
    import onnxruntime as ort

    if options is None:
        options = ort.SessionOptions()
    options.log_severity_level = 4  # fatal only: its errors come back as exceptions, which posecast reports in one line
    try:
        # a name that is not UTF-8 is read here, its bytes given (ONNX Runtime refuses such a name, and it
        # was called corrupt: QA); posecast's models hold their weights in the one file
        model = str(path) if is_utf8(str(path)) else Path(path).read_bytes()
        if isinstance(model, bytes):  # weights in files beside it: never looked for where it runs (review: the
            # current folder's were read), but in a folder that cannot exist, so that such a model is refused
            options.add_session_config_entry("session.model_external_initializers_file_folder_path",
                                             os.path.join(os.devnull, "none"))  # fmt: skip
        return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors for corrupt files
        if "External data" in str(exc) and not is_utf8(str(path)):
            raise ModelError(f"model file {storable(str(path))} keeps weights in files beside it, which are not read "
                             "where its name is not UTF-8: rename it (and its folder) to UTF-8") from None  # fmt: skip
        if _torch_checkpoint(path):  # a training run's last.pt: the fix is the export, not a download
            command = f"python tools/export.py {shlex.quote(str(path))} model.onnx"
            raise ModelError(f"model file {path} is a PyTorch checkpoint, not an ONNX model: export it with "
                             f"`{command}` in posecast's source tree and pass model.onnx") from None  # fmt: skip
        if "bad_alloc" in str(exc):  # (constrained-machine QA: a model that did not fit was called corrupt)
            raise ModelError(f"cannot load model file {path}: {out_of_memory_text()}") from None
        raise ModelError(f"model file {path} cannot be loaded ({load_error_text(exc)}); it is corrupt or not an "
                         "exported posecast .onnx: re-export or re-download it") from None  # fmt: skip


def _torch_checkpoint(path: str | Path) -> bool:
    """Whether ``path`` is a zip holding a ``data.pkl`` (``torch.save``'s format); not unpickled."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith("/data.pkl") or name == "data.pkl" for name in archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def load_error_text(exc: BaseException, limit: int = 200) -> str:
    """The first line of a runtime's load error, shortened (their messages repeat the path)."""
    lines = str(exc).strip().splitlines() or [type(exc).__name__]
    return lines[0][:limit]

"""Export a trained :class:`~posecast.engines.networks.PoseModel` to a self-describing ONNX file."""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import logging
import warnings
import zipfile
from pathlib import Path

import numpy as np
import torch

from .. import metadata, skeleton
from ..errors import storable
from ..fileio import atomic_path, save_npz, zip_unpacked_bytes
from ..networks import PoseModel, fold_batchnorm
from ..runtime.base import adapt_weights_path  # (defined with the runtime, which reads no torch)

log = logging.getLogger(__name__)

OPSET = 17


def export_onnx(model: PoseModel, path: str | Path, meta: metadata.ModelMetadata, fp16_weights: bool = False) -> Path:
    """Write ``model`` to ``path`` (ONNX, dynamic batch) with ``meta`` in ``metadata_props``.

    BatchNorm layers are folded into the preceding Linear layers (``batchnorm_folded`` in the
    metadata), which ONNX Runtime does not do itself for Gemm.

    ``fp16_weights`` stores initializers as float16 with Cast nodes to float32, halving the
    file while keeping float32 maths (so every runtime runs it unchanged).
    """
    import onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = fold_batchnorm(copy.deepcopy(model).eval().float())
    model.generator.lifter.keep_current_frame_only()  # run time needs the current frame's depths only
    architecture = json.dumps(model.generator.cfg.to_dict())
    extra = {"model_config": architecture, **meta.extra, "batchnorm_folded": "1", "current_frame_head": "1"}
    meta = dataclasses.replace(meta, extra=extra)
    dummy = torch.zeros(1, meta.window_frames, skeleton.NUM_JOINTS, 2)
    dummy[..., 0] = torch.linspace(-0.1, 0.1, skeleton.NUM_JOINTS)
    dummy[..., 1] = torch.linspace(-0.2, 0.2, skeleton.NUM_JOINTS)
    # the window-length check in the network is constant for one export: torch's TracerWarning
    # about it (and the legacy exporter's deprecation notes) printed on every export (QA)
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        exported = io.BytesIO()  # (in memory, then written by Python: torch refused a name that is not UTF-8, QA)
        torch.onnx.export(
            model, (dummy,), exported, input_names=[metadata.INPUT_NAME],
            output_names=list(metadata.OUTPUT_NAMES), opset_version=OPSET, dynamo=False,
            dynamic_axes={metadata.INPUT_NAME: {0: "batch"}, "joints_3d": {0: "batch"}, "scale": {0: "batch"}},
        )  # fmt: skip
        proto = onnx.load_model_from_string(exported.getvalue())
        if fp16_weights:
            proto = _store_initializers_fp16(proto)
        del proto.metadata_props[:]
        for key, value in meta.to_props().items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, storable(value)  # (an input named in bytes that are not UTF-8: QA)
        onnx.checker.check_model(proto)
        Path(tmp).write_bytes(proto.SerializeToString())
    log.info("exported %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return path


def _store_initializers_fp16(proto):  # noqa: ANN001, ANN202 - onnx types are imported lazily
    """Large float32 initializers → float16 storage + a Cast back to float32 where used."""
    import onnx
    from onnx import helper, numpy_helper

    graph = proto.graph
    new_inits, casts = [], []
    for init in graph.initializer:
        arr = numpy_helper.to_array(init)
        if arr.dtype == np.float32 and arr.size >= 1024:
            half = numpy_helper.from_array(arr.astype(np.float16), init.name + "_fp16")
            new_inits.append(half)
            casts.append(helper.make_node("Cast", [half.name], [init.name], to=onnx.TensorProto.FLOAT))
        else:
            new_inits.append(init)
    del graph.initializer[:]
    graph.initializer.extend(new_inits)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)
    return proto


def save_generator_npz(generator, path: str | Path, scale_prior: tuple[float, float]) -> Path:  # noqa: ANN001
    """Write a :class:`~posecast.engines.networks.PoseGenerator` as an ``.npz`` of float16/float32
    arrays plus its architecture and scale prior as JSON text (no pickle: read back with
    ``allow_pickle=False``), atomically."""

    arrays = {}
    for name, tensor in generator.state_dict().items():
        value = tensor.detach().cpu().numpy()
        arrays[name] = value.astype(np.float16) if value.dtype == np.float32 and value.size >= 1024 else value
    meta = {"model_config": generator.cfg.to_dict(), "scale_prior": list(scale_prior)}
    arrays["__meta__"] = np.array(json.dumps(meta))
    return save_npz(path, arrays)


#: The most an adaptation file may unpack to (the shipped ones: under 25 MB)
MAX_ADAPT_FILE_BYTES = 256 << 20


def load_generator_npz(path: str | Path):  # noqa: ANN201 - (PoseGenerator in eval mode, scale prior)
    """Read what :func:`save_generator_npz` wrote. Raises :class:`~posecast.engines.errors.ModelError`
    naming the file when it is missing or not one."""
    from ..errors import ModelError
    from ..networks import ModelConfig, PoseGenerator

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"adaptation weights {path} not found: adapt needs a model exported by "
                         f"{metadata.EXPORTER} (it writes <model>.adapt.npz beside the .onnx)")  # fmt: skip
    if not zipfile.is_zipfile(path):  # (np.load calls any other file pickled data, which it need not be)
        raise ModelError(f"{path} is not a posecast adaptation file (not an .npz: truncated, or another file); "
                         f"re-export the model with {metadata.EXPORTER}, which writes it beside the .onnx")  # fmt: skip
    unpacked = zip_unpacked_bytes(path)
    if unpacked is not None and unpacked > MAX_ADAPT_FILE_BYTES:  # (a compressed file of zeros can declare terabytes)
        raise ModelError(f"{path} unpacks to {unpacked / 2**20:,.0f} MiB, more than the {MAX_ADAPT_FILE_BYTES >> 20} "
                         "MiB an adaptation file may hold: not a posecast adaptation file")  # fmt: skip
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        meta = json.loads(str(arrays.pop("__meta__")))
        config = ModelConfig(**meta["model_config"])
        # the residual blocks' weights alone, before the network is made of them (security QA: 654 bytes
        # naming width 12000 took adapt to 3.2 GB before its refusal)
        needed, held = 2 * config.blocks * config.width**2, sum(int(a.size) for a in arrays.values())
        if held < needed:
            raise ValueError(f"its model (width {config.width}, {config.blocks} blocks) has at least {needed:,} "
                             f"weights, the file holds {held:,}")  # fmt: skip
        generator = PoseGenerator(config)
        state = {k: torch.from_numpy(np.asarray(v, dtype=np.float32 if v.dtype == np.float16 else v.dtype))
                 for k, v in arrays.items()}  # fmt: skip
        generator.load_state_dict(state)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, NotImplementedError, EOFError,
            zipfile.BadZipFile) as exc:  # fmt: skip
        said = " ".join(str(exc).split())  # torch's missing-weights message spans lines
        raise ModelError(f"{path} is not a posecast adaptation file ({type(exc).__name__}: {said[:300]})") from None
    return generator.eval(), tuple(meta["scale_prior"])


#: Largest difference (the lifter's units: RMS joint distance 1) between a model's ONNX graph and
#: the network in its ``.adapt.npz`` on the same windows: the graph's float16 weights and folded
#: batch norm differ from the network by 3e-4 to 5e-4; the shipped networks differ from each
#: other by 0.2 to 0.55.
ADAPT_WEIGHTS_TOLERANCE = 0.02


def check_adapt_weights(generator, model_path: str | Path) -> None:  # noqa: ANN001 - a PoseGenerator
    """Raise :class:`~posecast.engines.errors.ModelError` unless ``generator`` (read from the
    ``.adapt.npz`` beside ``model_path``) lifts as the ``.onnx`` does: a weights file left from
    another export was trained, and the result labelled with this model's name and data."""
    from ..errors import ModelError
    from ..networks import PoseModel

    windows = np.random.default_rng(0).normal(0.0, 0.2, (8, generator.cfg.window_frames, skeleton.NUM_JOINTS, 2))
    windows = windows.astype(np.float32)
    with torch.no_grad():
        joints = PoseModel(generator).eval()(torch.from_numpy(windows))[0].numpy()
    try:
        graph = metadata.onnx_cpu_session(model_path).run(["joints_3d"], {metadata.INPUT_NAME: windows})[0]
        off = float(np.abs(graph - joints).max())
    except Exception as exc:  # noqa: BLE001 - ONNX Runtime's untyped errors: another window length, say
        off, reason = np.inf, metadata.load_error_text(exc)
    else:
        reason = f"they lift a test window {off:.2f} apart"
    if not off <= ADAPT_WEIGHTS_TOLERANCE:
        raise ModelError(f"{adapt_weights_path(model_path)} does not hold the network of {model_path} ({reason}): "
                         f"it was left from another model; re-export the model with {metadata.EXPORTER}, which writes "
                         "both")  # fmt: skip

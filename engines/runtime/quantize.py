"""INT8 dynamic quantisation of an exported model for the ONNX Runtime CPU backend.

Weights of the fully connected layers are stored as int8 (per output channel); activations are
quantised on the fly per call (ONNX Runtime's ``quantize_dynamic``). No calibration data is
needed. The graph's metadata is kept, so the quantised file describes itself like the original.
Its accuracy against the float model is measured by the evaluation, not assumed.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from pathlib import Path

from ..errors import BackendError, ModelError
from ..fileio import atomic_write, file_sha256, remove_stale
from ..install import install_hint
from ..logs import quieter_code
from ..metadata import EXPORTER, load_error_text, onnx_cpu_session, read_onnx_metadata
from .plan_cache import engines_dir, read_verified, write_verified

log = logging.getLogger(__name__)

#: metadata key: sha256 of the float model an INT8 copy was quantised from
SOURCE_KEY = "posecast.extra.int8_source_sha256"
#: The temporary folder an INT8 copy is made in (in the system's temporary folder)
INT8_TEMP_PREFIX = "posecast-int8-"


def is_int8_copy(path: str | Path) -> bool:
    """Whether the model file at ``path`` is itself an INT8 copy (its metadata names the float
    model it was quantised from)."""
    return SOURCE_KEY.removeprefix("posecast.extra.") in read_onnx_metadata(path).extra


def quantize_int8(src: str | Path, dst: str | Path, per_channel: bool = True) -> Path:
    """Write an INT8 dynamically quantised copy of ``src`` to ``dst`` (atomically); returns ``dst``."""
    src, dst = Path(src), Path(dst)
    atomic_write(dst, _quantized_bytes(src, per_channel)[0])
    _log_made(src, dst)
    return dst


def _quantized_bytes(src: Path, per_channel: bool = True) -> tuple[bytes, str]:
    """``(the INT8 copy of src as ONNX bytes, the sha256 of the src bytes it was made from)``;
    the copy's metadata says which float model it came from.

    Raises :class:`ModelError` when ``src`` is missing or not a readable ONNX model."""
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        read_onnx_metadata(src)  # a missing or broken model is the first thing to say (ModelError)
        raise BackendError(f"INT8 quantisation needs the onnx package ({exc}): pip install onnx (or the training "
                           f"extra, which brings PyTorch too: {install_hint('train')})") from exc  # fmt: skip
    if not src.is_file():
        raise ModelError(f"cannot quantise {src}: file not found; pass an exported posecast .onnx")
    import onnx

    data = src.read_bytes()  # hashed and quantised from the same bytes
    try:
        proto = onnx.load_from_string(data)
    except Exception as exc:  # protobuf's DecodeError and friends: the file is not ONNX
        raise ModelError(f"{src} is not a readable ONNX model ({type(exc).__name__}: {load_error_text(exc)}); "
                         f"re-export it with {EXPORTER} or pass another --model") from None  # fmt: skip
    external = [t.name for t in proto.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    if external:  # (security QA: read from the current folder, not the model's; a traceback, or a copy of other data)
        raise ModelError(f"{src} keeps weights in files beside it ({external[0]}...), which its INT8 copy is not made "
                         f"from: run it without --int8, or export it whole with {EXPORTER}")  # fmt: skip
    if is_int8_copy(src):  # a posecast model, its graph as its metadata says? Not quantised already?
        raise ModelError(f"{src} is already an INT8 copy (quantising it again made a larger, no faster file; QA): "
                         "run it as it is, or pass the float model it was made from")  # fmt: skip
    # a killed build's folder is named, and removed by the next build once an hour old (QA: it was
    # /tmp/tmpXXXXXXXX/float32.onnx, 4 MB, for good)
    remove_stale(Path(tempfile.gettempdir()), f"{INT8_TEMP_PREFIX}*", "by an INT8 build that was killed")
    with tempfile.TemporaryDirectory(prefix=INT8_TEMP_PREFIX) as tmp:
        out, float_src = Path(tmp) / "int8.onnx", Path(tmp) / "float32.onnx"
        onnx.save(_float32_initializers(proto), str(float_src))
        try:  # the quantiser advises pre-processing on the root logger, every time
            with quieter_code(logging.ERROR, Path(quantize_dynamic.__code__.co_filename).parent):
                quantize_dynamic(float_src, out, weight_type=QuantType.QInt8, per_channel=per_channel)
        except Exception as exc:  # ONNX Runtime's quantiser raises untyped errors on graphs it cannot handle
            raise ModelError(f"cannot quantise {src} to INT8 ({type(exc).__name__}: {load_error_text(exc)}); "
                             "run it without --int8") from None  # fmt: skip
        proto = onnx.load(str(out))
    entry = proto.metadata_props.add()  # which float model this copy was made from
    entry.key, entry.value = SOURCE_KEY, hashlib.sha256(data).hexdigest()
    return proto.SerializeToString(), entry.value


def _log_made(src: Path, dst: Path) -> None:
    log.info("quantised %s → %s (%.1f → %.1f MB)", src.name, dst, src.stat().st_size / 1e6, dst.stat().st_size / 1e6)


def _float32_initializers(proto):  # noqa: ANN001, ANN202 - onnx.ModelProto
    """Undo float16 weight storage (initializer → Cast to float): the quantiser only sees
    weights that are float32 initializers feeding the MatMul/Gemm directly."""
    import onnx
    from onnx import numpy_helper

    graph = proto.graph
    half = {i.name: i for i in graph.initializer if i.data_type == onnx.TensorProto.FLOAT16}
    casts = [n for n in graph.node if n.op_type == "Cast" and len(n.input) == 1 and n.input[0] in half]
    if not casts:
        return proto
    restored = []
    for node in casts:
        array = numpy_helper.to_array(half[node.input[0]]).astype("float32")
        restored.append(numpy_helper.from_array(array, node.output[0]))
    keep_nodes = [n for n in graph.node if n not in casts]
    used = {name for n in keep_nodes for name in n.input}
    keep_inits = [i for i in graph.initializer if i.name not in half or i.name in used]
    del graph.node[:]
    graph.node.extend(keep_nodes)
    del graph.initializer[:]
    graph.initializer.extend(keep_inits + restored)
    return proto


def int8_path_for(src: str | Path, directory: str | Path | None = None) -> Path:
    """Cache location of ``src``'s INT8 copy, keyed by the source's sha256."""
    src = Path(src)
    folder = Path(directory) if directory is not None else engines_dir()
    return folder / f"{src.stem}-{file_sha256(src)[:16]}.int8.onnx"


def int8_sibling(src: str | Path) -> Path:
    """Where ``src``'s INT8 copy lies beside it, ``<stem>.int8.onnx``: the one name that
    ``posecast adapt`` writes and the runtime looks for."""
    src = Path(src)
    return src.with_name(f"{src.stem}.int8.onnx")


def shipped_int8(src: str | Path) -> Path | None:
    """:func:`int8_sibling` of ``src`` when it was quantised from exactly this ``src``
    (an unreadable one is logged and ignored: the cached copy is used instead)."""
    src = Path(src)
    sibling = int8_sibling(src)
    if not sibling.is_file():
        return None
    try:
        session = onnx_cpu_session(sibling)
    except ModelError as exc:
        log.warning("the INT8 copy beside the model cannot be read, so it is ignored: %s", exc)
        return None
    made_from = session.get_modelmeta().custom_metadata_map.get(SOURCE_KEY)
    if made_from != file_sha256(src):
        log.warning("the INT8 copy %s was not made from %s (another model, or one changed since), so it is "
                    "ignored (the float model runs, or with --int8 a copy of this one made in the cache)",
                    sibling.name, src.name)  # fmt: skip
        return None
    return sibling


def int8_by_default(src: str | Path) -> bool:
    """Whether ``posecast run`` (and ``engines bench``) use the INT8 copy of ``src`` when not told:
    when a copy made from exactly this model ships beside it (it ships only when its accuracy
    loss measured within 1 mm MPJPE)."""
    return shipped_int8(src) is not None


def cached_int8(src: str | Path, directory: str | Path | None = None, rebuild: bool = False) -> Path:
    """The INT8 copy of ``src``: the one shipped beside it, else the cached one, made now if
    missing, if it does not match its record (truncated, replaced, made from another model) or if
    ``rebuild`` (making one needs the ``onnx`` package). Cached copies are private (0600 in a
    0700 folder) and recorded with their sha256 and their source's
    (:func:`~posecast.engines.runtime.plan_cache.write_verified`)."""
    src = Path(src)
    if not rebuild and directory is None and (shipped := shipped_int8(src)) is not None:
        return shipped
    dst = int8_path_for(src, directory)
    made_from = {"source_sha256": file_sha256(src), "kind": "onnxruntime-int8-dynamic"}
    if not rebuild and read_verified(dst, made_from) is not None:
        return dst
    data, source_sha256 = _quantized_bytes(src)
    write_verified(dst, data, {**made_from, "source_sha256": source_sha256})  # what it was really made from
    _log_made(src, dst)
    return dst

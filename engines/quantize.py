"""INT8 dynamic quantisation of an exported model for the ONNX Runtime CPU backend.

Weights of the fully connected layers are stored as int8 (per output channel); activations are
quantised on the fly per call (ONNX Runtime's ``quantize_dynamic``). No calibration data is
needed. The graph's metadata is kept, so the quantised file describes itself like the original.
Its accuracy against the float model is measured by the evaluation, not assumed.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from .errors import BackendError
from .runtime.plan_cache import atomic_write, engines_dir, file_sha256

log = logging.getLogger(__name__)


def quantize_int8(src: str | Path, dst: str | Path, per_channel: bool = True) -> Path:
    """Write an INT8 dynamically quantised copy of ``src`` to ``dst`` (atomically); returns ``dst``."""
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise BackendError(f"INT8 quantisation needs the onnx package ({exc}); pip install posecast[train]") from exc
    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise BackendError(f"cannot quantise {src}: file not found; pass an exported posecast .onnx")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "int8.onnx"
        quantize_dynamic(src, out, weight_type=QuantType.QInt8, per_channel=per_channel)
        atomic_write(dst, out.read_bytes())
    log.info(
        "quantised %s → %s (%.1f → %.1f MB)",
        src.name,
        dst,
        src.stat().st_size / 1e6,
        dst.stat().st_size / 1e6,
    )
    return dst


def int8_path_for(src: str | Path, directory: str | Path | None = None) -> Path:
    """Cache location of ``src``'s INT8 copy, keyed by the source's sha256."""
    src = Path(src)
    folder = Path(directory) if directory is not None else engines_dir()
    return folder / f"{src.stem}-{file_sha256(src)[:16]}.int8.onnx"


def cached_int8(src: str | Path, directory: str | Path | None = None, rebuild: bool = False) -> Path:
    """The cached INT8 copy of ``src``, made now if missing (or if ``rebuild``)."""
    dst = int8_path_for(src, directory)
    if rebuild or not dst.is_file():
        quantize_int8(src, dst)
    return dst

"""On-disk cache of built engines (TensorRT plans, quantised models), independent of TensorRT.

A plan is only valid for the exact ONNX bytes, TensorRT version, GPU model, compute capability
and build options it was built with, so its file name is a hash of all of them
(:class:`PlanKey`). Files are written atomically (temporary file + ``os.replace``) so a crash
never leaves half a plan; a cached plan that fails to deserialise (truncated, from a driver
update, ...) is deleted and rebuilt. The build and deserialise steps are passed in, which
keeps this module testable without a GPU.

Cache directory: ``$POSECAST_CACHE``, else ``$XDG_CACHE_HOME/posecast``, else
``~/.cache/posecast``; engines live in its ``engines/`` folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

from ..errors import BackendError
from ..fileio import atomic_write

log = logging.getLogger(__name__)

T = TypeVar("T")


def cache_root() -> Path:
    """posecast's cache folder (see the module docstring); not created here."""
    if os.environ.get("POSECAST_CACHE"):
        return Path(os.environ["POSECAST_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "posecast"


def engines_dir() -> Path:
    """Where built engines are cached: ``cache_root() / "engines"``."""
    return cache_root() / "engines"


@dataclass(frozen=True)
class PlanKey:
    """Everything a built plan depends on; any change gives another file."""

    onnx_sha256: str
    trt_version: str
    gpu_name: str
    compute_capability: str
    precision: str  # "fp16" | "fp32"
    max_batch: int
    workspace_mib: int

    def digest(self) -> str:
        """Hex sha256 over all fields (stable across runs and Python versions)."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()

    def filename(self) -> str:
        return f"lifter-{self.onnx_sha256[:12]}-{self.precision}-{self.digest()[:16]}.plan"


class PlanCache:
    """Load a plan from ``directory`` or build, store and load it."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory) if directory is not None else engines_dir()

    def path_for(self, key: PlanKey) -> Path:
        return self.directory / key.filename()

    def timing_cache_path(self, trt_version: str, gpu_name: str, compute_capability: str) -> Path:
        """TensorRT's timing cache for one TensorRT version and GPU, kept beside the plans."""
        tag = hashlib.sha256(f"{trt_version}|{gpu_name}|{compute_capability}".encode()).hexdigest()[:16]
        return self.directory / f"timing-{tag}.cache"

    def load_or_build(
        self, key: PlanKey, build: Callable[[], bytes], deserialize: Callable[[bytes], T]
    ) -> tuple[T, bool]:
        """``(deserialised plan, True if it was built now)``.

        ``build()`` returns the serialised plan; ``deserialize(data)`` returns the loaded
        object and raises (or returns None) on a bad plan. A cached plan that fails is deleted
        and rebuilt once; a freshly built plan that fails raises :class:`BackendError`.
        """
        path = self.path_for(key)
        if path.is_file():
            try:
                loaded = deserialize(path.read_bytes())
                if loaded is None:
                    raise ValueError("deserialiser returned nothing")
                log.debug("loaded cached plan %s", path)
                return loaded, False
            except Exception as exc:  # any failure means the cached file is unusable
                log.warning("cached plan %s failed to deserialise (%s): deleting it and rebuilding", path, exc)
                path.unlink(missing_ok=True)
        data = bytes(build())
        if not data:
            raise BackendError(f"building the plan for {key.filename()} produced nothing; see the log above")
        atomic_write(path, data)
        atomic_write(path.with_suffix(".json"), json.dumps(asdict(key), indent=2).encode())
        log.info("built and cached plan %s (%.1f MB)", path, len(data) / 1e6)
        loaded = deserialize(data)
        if loaded is None:
            path.unlink(missing_ok=True)
            raise BackendError(f"a freshly built plan could not be deserialised ({path}); see the log above")
        return loaded, True

"""On-disk cache of built engines (TensorRT plans, quantised models), independent of TensorRT.

A plan is only valid for the exact ONNX bytes, TensorRT version, GPU model, compute capability
and build options it was built with, so its file name is a hash of all of them
(:class:`PlanKey`). The build and deserialise steps are passed in, which keeps this module
testable without a GPU.

Nothing found in the cache is trusted by its name: every cached file has a record beside it
(``<file>.json``, :func:`record_path`) holding the sha256 of the file and what it was made from
(the source model's sha256, the plan key). :func:`read_verified` hands out a file's bytes only
when both match; anything else (truncated, replaced by another model, no record) is logged once,
deleted and rebuilt, and a plan is deserialised only from verified bytes. Files are written
atomically (temporary file + ``os.replace``), so a crash never leaves half a plan; a verified
plan that still fails to deserialise (a driver update, ...) is deleted and rebuilt too.

The cache is private: folders 0700, files 0600, whatever the umask (a plan is code the GPU runs).

Cache directory: ``$POSECAST_CACHE``, else ``$XDG_CACHE_HOME/posecast``, else
``~/.cache/posecast``; engines live in its ``engines/`` folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

from ..assets import cache_dir
from ..errors import BackendError
from ..fileio import OUT_OF_ROOM, atomic_write, flock_held, remove_stale

log = logging.getLogger(__name__)

T = TypeVar("T")


def engines_dir() -> Path:
    """Where built engines are cached: ``engines/`` in posecast's cache folder (one rule for every
    cache: :func:`posecast.engines.assets.cache_dir`)."""
    return cache_dir() / "engines"


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
    recipe: int = 1  # posecast's way of building it (tensorrt_backend.PLAN_RECIPE)

    def digest(self) -> str:
        """Hex sha256 over all fields (stable across runs and Python versions)."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()

    def filename(self) -> str:
        return f"lifter-{self.onnx_sha256[:12]}-{self.precision}-{self.digest()[:16]}.plan"


#: Modes of the cache's folders and files (a plan is code the GPU runs: nobody else may write it).
DIR_MODE, FILE_MODE = 0o700, 0o600
RECORD_FORMAT = "posecast-cache-record"


def private_dir(directory: str | Path) -> Path:
    """Create ``directory`` (and missing parents) with mode 0700; tighten it if it is ours and
    open to others. Raises :class:`BackendError` when it cannot be used."""
    directory = Path(directory)
    hint = "set POSECAST_CACHE to a folder of your own"
    try:
        for folder in [*reversed(directory.parents), directory]:
            if not folder.exists():
                try:
                    folder.mkdir(mode=DIR_MODE)
                except FileExistsError:  # another process made it meanwhile (QA: 4 of 20 first starts of 4)
                    continue
                os.chmod(folder, DIR_MODE)  # mkdir's mode is masked by the umask; be exact
        info = directory.stat()
        if hasattr(os, "getuid") and info.st_uid != os.getuid():
            raise BackendError(f"the engine cache folder {directory} belongs to another user; {hint}")
        if info.st_mode & 0o777 != DIR_MODE:
            os.chmod(directory, DIR_MODE)
    except OSError as exc:
        raise BackendError(f"cannot use the engine cache folder {directory} ({exc.strerror}); {hint}") from None
    return directory


def record_path(path: str | Path) -> Path:
    """The record kept beside cached file ``path``: ``<path>.json``."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def _folder_locked(folder: Path) -> contextlib.AbstractContextManager[bool]:
    """Hold the cache folder's lock (``.lock`` in it; an exclusive ``flock`` where the system has
    one): a cached file and its record are written, and read and judged, as one step. A reader
    between another process's two writes saw a file without its record and deleted it, and that
    process then failed with a traceback (QA: 3 of 9 first builds beside a reader). Without a lock
    (a read-only cache, a file system without locks, Windows) as before."""
    return flock_held(folder / ".lock", f"engine cache {folder}", mode=FILE_MODE)


def write_verified(path: str | Path, data: bytes, made_from: dict[str, str]) -> Path:
    """Cache ``data`` at ``path`` (0600, atomically) with a record of its sha256 and ``made_from``
    (e.g. ``{"source_sha256": ...}``); the data first, so a crash between leaves no valid record,
    and both under the folder's lock, so no reader sees one without the other."""
    path = Path(path)
    record = {"format": RECORD_FORMAT, "version": 1, "sha256": hashlib.sha256(data).hexdigest(),
              "size": len(data), "made_from": dict(made_from)}  # fmt: skip
    try:
        private_dir(path.parent)
        with _folder_locked(path.parent):
            # a run killed while it wrote left its temporary file (concurrency QA: it stayed for good)
            remove_stale(path.parent, ".*.tmp", "by a run killed while it wrote to the engine cache")
            atomic_write(path, data, mode=FILE_MODE)
            atomic_write(record_path(path), json.dumps(record, indent=2, sort_keys=True).encode(), mode=FILE_MODE)
    except OSError as exc:
        fix = ("free some space" if exc.errno in OUT_OF_ROOM
               else f"check that {path.parent} is a folder you can write")  # fmt: skip
        raise BackendError(f"cannot write the engine cache file {path} ({exc.strerror}); {fix}, or set "
                           "POSECAST_CACHE to another folder") from None  # fmt: skip
    return path


def read_verified(path: str | Path, made_from: dict[str, str]) -> bytes | None:
    """The bytes cached at ``path`` if they match their record and the record says they were made
    from ``made_from``; else ``None`` (a file that fails is logged once and deleted with its record)."""
    path = Path(path)
    try:
        if not path.is_file():
            return None
    except OSError as exc:  # the cache folder cannot be searched (its permissions)
        raise BackendError(f"cannot read the engine cache {path.parent} ({exc.strerror}): give yourself access to it "
                           "(chmod u+rwx), or set POSECAST_CACHE to another folder") from None  # fmt: skip
    with _folder_locked(path.parent):  # (exclusive: a reader may delete what fails)
        return _read_judged(path, made_from)


def _read_judged(path: Path, made_from: dict[str, str]) -> bytes | None:
    """:func:`read_verified`'s reading and judging, the file there."""
    reason = ""
    try:
        data = path.read_bytes()
        record = json.loads(record_path(path).read_text(encoding="utf-8"))
        if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
            reason = "its record is not a posecast cache record"
        elif record.get("made_from") != dict(made_from):
            reason = f"it was made from {record.get('made_from')}, not {dict(made_from)}"
        elif record.get("sha256") != hashlib.sha256(data).hexdigest():
            reason = f"its sha256 differs from the recorded one ({len(data)} bytes, recorded {record.get('size')})"
    except FileNotFoundError:
        reason = "it has no record"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        reason = f"its record cannot be read ({exc})"
    if not reason:
        return data
    log.warning("cached file %s does not match its record (%s): deleting it and rebuilding", path, reason)
    discard(path)
    return None


def discard(path: str | Path) -> None:
    """Delete a cached file and its record (missing ones are fine)."""
    for p in (Path(path), record_path(path)):
        with contextlib.suppress(OSError):
            p.unlink()


class PlanCache:
    """Load a verified plan from ``directory`` or build, store and load it."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory) if directory is not None else engines_dir()

    def path_for(self, key: PlanKey) -> Path:
        return self.directory / key.filename()

    def timing_cache_path(self, trt_version: str, gpu_name: str, compute_capability: str) -> Path:
        """TensorRT's timing cache for one TensorRT version and GPU, kept beside the plans."""
        tag = hashlib.sha256(f"{trt_version}|{gpu_name}|{compute_capability}".encode()).hexdigest()[:16]
        return self.directory / f"timing-{tag}.cache"

    @staticmethod
    def made_from(key: PlanKey) -> dict[str, str]:
        """What a plan's record must say: the source model's sha256 and the whole key."""
        return {"source_sha256": key.onnx_sha256, "key_sha256": key.digest(), **{
            k: str(v) for k, v in asdict(key).items() if k != "onnx_sha256"}}  # fmt: skip

    def load_or_build(
        self, key: PlanKey, build: Callable[[], bytes], deserialize: Callable[[bytes], T]
    ) -> tuple[T, bool]:
        """``(deserialised plan, True if it was built now)``.

        ``build()`` returns the serialised plan; ``deserialize(data)`` returns the loaded
        object and raises (or returns None) on a bad plan. Only bytes that match their record
        are deserialised; a cached plan that fails either check is deleted and rebuilt once; a
        freshly built plan that fails raises :class:`BackendError`.
        """
        private_dir(self.directory)
        path, made_from = self.path_for(key), self.made_from(key)
        data = read_verified(path, made_from)
        if data is not None:
            try:
                loaded = deserialize(data)
                if loaded is None:
                    raise ValueError("deserialiser returned nothing")
                log.debug("loaded cached plan %s", path)
                return loaded, False
            except Exception as exc:  # any failure means the cached file is unusable
                log.warning("cached plan %s failed to deserialise (%s): deleting it and rebuilding", path, exc)
                discard(path)
        data = bytes(build())
        if not data:
            raise BackendError(f"building the plan for {key.filename()} produced nothing; see the log above")
        write_verified(path, data, made_from)
        log.info("built and cached plan %s (%.1f MB)", path, len(data) / 1e6)
        loaded = deserialize(data)
        if loaded is None:
            discard(path)
            raise BackendError(f"a freshly built plan could not be deserialised ({path}); see the log above")
        return loaded, True

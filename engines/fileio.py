"""Files written whole or not at all, and their checksums: the one atomic-write helper.

Every artefact posecast writes (models, caches, calibration files, recordings, reports) goes
through :func:`atomic_write` or :func:`atomic_path`: a temporary file in the same folder,
fsynced, then ``os.replace`` d over the target, so a crash, a full disk or Ctrl-C never leaves a
half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import math
import os
import re
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO

import numpy as np

from .errors import PosecastError, storable

try:
    import fcntl
except ImportError:  # Windows: no flock
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)


class OutputPathError(PosecastError, ValueError):
    """An output path that cannot be written, or that would overwrite an input or another output."""


class OutputWriteError(PosecastError, OSError):
    """A write that failed part way (a full disk, a quota, a file size limit): one line naming the
    file, and nothing half-written left. Still an :class:`OSError` (``errno`` and ``strerror`` the
    system's) for callers that say more about what was being written."""

    @classmethod
    def of(cls, path: Path, exc: OSError) -> OutputWriteError:
        error = cls(f"cannot write {path}: {exc.strerror or exc}; free space on its disk or pass a file elsewhere")
        error.errno, error.strerror, error.filename = exc.errno, exc.strerror, str(path)  # (QA: lift named another)
        return error

    def __str__(self) -> str:  # the one line, not OSError's "[Errno N] ..."
        return str(self.args[0])


#: What a write that has begun fails with when its disk, quota or size limit is reached
OUT_OF_ROOM = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})


class InputReadError(PosecastError, OSError):
    """A file posecast must read (a model, a cached asset) that cannot be: one line naming it."""

    def __str__(self) -> str:  # the one line, not OSError's "[Errno N] ..."
        return str(self.args[0])


def home_expanded(path: str | Path) -> Path:
    """``path`` with a leading ``~`` or ``~user`` made the home folder, as a shell would (a
    ``~user`` of no such user, or no home at all, is left as written: a not-found error names it)."""
    try:
        return Path(path).expanduser()
    except RuntimeError:  # "Could not determine home directory."
        return Path(path)


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes; :class:`InputReadError` (one line) when it cannot be read
    (QA: an unreadable ``--model`` or cached MediaPipe model gave a PermissionError traceback)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except PermissionError as exc:
        raise InputReadError(f"{path} {unreadable(exc)}") from exc
    return digest.hexdigest()


def point_at_devnull(stream: IO) -> None:
    """Point ``stream``'s file descriptor at the null device, once its reader is gone (a closed
    pipe) or its disk is full: Python's own flush at exit would fail on it again, with a traceback."""
    with contextlib.suppress(OSError, ValueError):  # ValueError: a stream without a descriptor
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, stream.fileno())
        finally:
            os.close(null)


def input_file_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot be read as an input file, worded to follow its name ("does not exist",
    "is a folder", "is not a regular file (a device or a pipe)", "cannot be read (permission
    denied; ...)"), or ``None`` when it is a regular file this process can open: a device such as
    ``/dev/zero`` exists, and was called missing; an unreadable file was called corrupt by the
    library that then failed on it."""
    path = Path(path)
    try:
        if path.is_dir():
            return "is a folder"
        if not path.exists():
            return "does not exist"
        if not path.is_file():
            return "is not a regular file (a device or a pipe)"
        with open(path, "rb"):
            return None
    except OSError as exc:  # a folder on the way without search permission raises here too
        return unreadable(exc)


def input_folder_problem(path: str | Path) -> str | None:
    """Why the folder ``path`` cannot be listed ("does not exist", "is not a folder", "cannot be
    read (permission denied; ...)"), or ``None``."""
    path = Path(path)
    try:
        if not path.exists():
            return "does not exist"
        if not path.is_dir():
            return "is not a folder"
        with os.scandir(path) as entries:
            for entry in entries:  # listing needs read permission, looking at what is listed search (x)
                entry.stat(follow_symlinks=False)  # a link's target may be gone (an editor's lock file): footage QA
                break
        return None
    except OSError as exc:
        return unreadable(exc, folder=True)


def unreadable(exc: OSError, folder: bool = False) -> str:
    """``exc`` (raised opening or listing an input) worded to follow the input's name."""
    if isinstance(exc, PermissionError):
        access = "chmod u+rx" if folder else "chmod u+r"
        return f"cannot be read (permission denied: give yourself read access, e.g. {access}, or copy it)"
    return f"cannot be read ({exc.strerror or exc})"


#: A posecast file's ``format`` line (YAML or JSON): ``format: posecast-camera``
_FORMAT_LINE = re.compile(rb"""(?:^|[{,])\s*["']?format["']?\s*:\s*["']?(posecast-[a-z0-9-]+)""", re.MULTILINE)


def posecast_file_kind(path: str | Path) -> str | None:
    """The ``format`` a posecast file at ``path`` states in its first 4 KB (``posecast-camera``,
    ``posecast-subject``, ``posecast-floor``), or ``None`` (no such file, unreadable, another kind
    of file): an output must not replace a file of another kind unsaid (QA: ``calibrate camera -o``
    over a subject file, ``--stats-json`` over a camera file, each exit 0)."""
    try:
        if not os.path.isfile(path):  # (review: a FIFO named as an output hung the command here)
            return None
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return None
    match = _FORMAT_LINE.search(head)
    return match.group(1).decode() if match else None


def output_file_problem(path: str | Path) -> str | None:
    """Why no file can be written at ``path``, or ``None`` when one can: for a check before slow
    work (a run, a training) rather than after it. Nothing is left behind: the probe is a nameless
    temporary file in the folder (as root, permission bits alone say nothing about ``/proc``)."""
    path = Path(path)
    folder = Path(os.path.abspath(path)).parent  # where the writers put their temporary file
    try:
        if path.is_dir():
            return "it is a folder"
        if folder.exists() and not folder.is_dir():
            return f"{folder} is a file, not a folder"
        if not folder.is_dir():
            return _missing_folder(folder)
        if path.exists() and not path.is_file():  # a device or a pipe would be replaced by a file
            return "it is not a regular file"
        if path.exists() and not os.access(path, os.W_OK):
            return "the file is read-only"
    except OSError as exc:  # a folder on the way that this user may not enter
        return f"cannot reach it ({exc.strerror})"
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return f"folder {folder} takes no new files ({exc.strerror})"
    return None


def _missing_folder(folder: Path) -> str:
    """Why ``folder`` is not there: a link loop or a link to nothing was called missing (QA)."""
    try:
        os.stat(folder)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return f"folder {folder} cannot be reached: links on its path form a loop"
    if os.path.islink(folder):
        return f"folder {folder} is a link to {os.readlink(folder)}, which does not exist"
    return f"folder {folder} does not exist"


def file_identity(path: str | Path) -> tuple[int, int] | None:
    """``(device, inode)`` of the file at ``path`` (a link followed), or None when there is none:
    one file under any name, and a file renamed over ``path`` is another, whatever the clocks."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two paths name the same file, existing or not (links and ``..`` resolved)."""
    a, b = Path(a), Path(b)
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
        return a.resolve() == b.resolve()
    except (OSError, RuntimeError):  # unreachable, or a link loop (RuntimeError on Python < 3.13): said where opened
        return False


def _frame_of_image_folder(path: Path, folder: Path) -> bool:
    """Whether ``path`` is an image directly in ``folder``, an existing folder: one of its frames
    when it is read as an image folder (the only folder an input stays: adapt opens the others)."""
    from .media import IMAGE_SUFFIXES  # (here: media imports OpenCV, which most callers never need)

    try:
        return (path.suffix.lower() in IMAGE_SUFFIXES and folder.is_dir()
                and path.resolve().parent == folder.resolve())  # fmt: skip
    except (OSError, RuntimeError):  # unreachable, or a link loop: said where opened
        return False


def check_outputs(
    outputs: Mapping[str, str | Path | None],
    inputs: Mapping[str, str | Path | None] | None = None,
    shipped_weights: bool = False,
) -> None:
    """Raise :class:`OutputPathError` (one line) when an output cannot be written, names an
    input or an image in an input that is an image folder, names the same file as another output
    or a posecast calibration file (:func:`posecast_file_kind`), or lies in posecast's own weights
    folder (``shipped_weights``: allowed, for the export that ships a model); keys are what the
    user passed (an option such as ``--record``, or a description), ``None`` values are skipped."""
    from .runtime.base import WEIGHTS_DIR  # (the runtime reads files through this module)

    named = [(what, Path(path)) for what, path in outputs.items() if path is not None]
    inputs = {**(inputs or {}), **_cached_assets()}
    for i, (what, path) in enumerate(named):
        try:
            path.resolve()
        except (OSError, RuntimeError):  # (QA: a RuntimeError traceback from every command that writes)
            raise OutputPathError(f"cannot write {what} {path}: it is a symbolic link loop; "
                                  "pass another file") from None
        problem = output_file_problem(path)
        if problem is not None:
            raise OutputPathError(f"cannot write {what} {path}: {problem}; pass a file in a writable folder")
        if not shipped_weights and WEIGHTS_DIR.resolve() in path.resolve().parents:  # (QA: a report over a model)
            raise OutputPathError(f"{what} {path} is in posecast's own weights folder {WEIGHTS_DIR}, where it could "
                                  "replace a shipped model: pass a file elsewhere")  # fmt: skip
        for source, source_path in inputs.items():
            if source_path is not None and same_file(path, source_path):
                raise OutputPathError(f"{what} {path} is {source}: writing it would destroy it; "
                                      f"pass another file name")  # fmt: skip
            if source_path is not None and _frame_of_image_folder(path, Path(source_path)):
                # (QA: --stats-json over a frame of the source, exit 0)
                raise OutputPathError(f"{what} {path} would be a frame of {source}, an image folder: writing it "
                                      "would replace or add one; pass a file elsewhere")  # fmt: skip
        for other, other_path in named[:i]:
            if same_file(path, other_path):
                raise OutputPathError(f"{other} and {what} are both {path}: one would overwrite the other; "
                                      "pass two file names")  # fmt: skip
        if (kind := posecast_file_kind(path)) is not None:  # (QA: --stats-json over a camera file, exit 0)
            raise OutputPathError(f"{what} {path} is a {kind} file: writing it would replace it; pass another file")


def _cached_assets() -> dict[str, Path]:
    """The downloaded assets in posecast's cache (the MediaPipe models), as inputs no output may
    replace: ``--stats-json`` over the cached model replaced it with JSON, exit 0, and offline
    posecast could not run again (QA). Nothing when the cache cannot be named (said where it is used)."""
    from .assets import ASSETS, cache_dir  # (assets reads and writes files through this module)

    try:
        folder = cache_dir()
    except Exception:  # noqa: BLE001 - an unusable POSECAST_CACHE is reported by what uses the cache
        return {}
    return {f"posecast's cached {name} model": folder / asset.filename for name, asset in ASSETS.items()}


def json_ready(value: object) -> object:
    """``value`` with every NaN or infinity as ``None`` (strict JSON has neither) and every text as
    :func:`~.errors.storable` writes it (a name that is not UTF-8: ``\\xe9``, as ``bench.md``, the
    errors and the log say it, not a lone ``\\udce9``, which strict readers refuse): for the
    reports written with ``json.dumps(..., allow_nan=False)`` (``posecast bench``, ``tools/evaluate.py``)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {json_ready(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value


def current_umask() -> int:
    """The process's umask. ``os.umask`` can only be read by setting it: setting it to 0 for a
    moment gave files that another thread (a sink's writer) created in that moment mode 0666.
    Linux states it in /proc, read without changing it; elsewhere (macOS) it is set for a moment
    to the strictest usual mask, 0o077, so such a file is private rather than open to all."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0o077)
    os.umask(umask)
    return umask


#: The longest file name most file systems take (bytes)
NAME_MAX_BYTES = 255


def temporary_name_parts(name: str, suffix: str) -> tuple[str, str]:
    """``mkstemp``'s prefix and suffix for a temporary file beside one called ``name``
    (``.NAME.XXXXXXXX`` then ``suffix``), ``name`` cut short so that the whole stays within
    :data:`NAME_MAX_BYTES`: a legal name of 242 bytes or more failed with "File name too long",
    the run's work done, naming a file the user never gave (QA)."""
    room = NAME_MAX_BYTES - len(f"..{'x' * 8}{suffix}".encode(errors="surrogateescape"))
    while name and len(name.encode(errors="surrogateescape")) > room:  # (a suffix longer than all: mkstemp says so)
        name = name[:-1]
    return f".{name}.", suffix


def move_into_new(finished: Path, path: Path) -> None:
    """Move the ``finished`` file to ``path``, never over a file there (a rename replaces: one that
    another run wrote meanwhile would be lost): a hard link, then ``finished``'s removal; where the
    file system has none (FAT, exFAT), a rename after a check. :class:`FileExistsError` when
    ``path`` exists (``finished`` is left as it is)."""
    try:
        os.link(finished, path)
    except (FileExistsError, FileNotFoundError):
        raise
    except OSError:  # no hard links here
        if path.exists() or path.is_symlink():
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(path)) from None
        os.replace(finished, path)
        return
    os.unlink(finished)


def atomic_write(path: str | Path, data: bytes, mode: int | None = None, replace: bool = True) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``.

    ``mode``: the final file mode, e.g. ``0o600`` for a private cache (default: what a plain
    ``open()`` would give under the umask). ``replace=False``: never over a file there, one that
    appeared while the caller worked included (:func:`move_into_new`; :class:`OutputPathError`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix, suffix = temporary_name_parts(path.name, ".tmp")
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=path.parent)
    if mode is None:
        mode = 0o666 & ~current_umask()  # mkstemp makes 0600: give the mode a plain open() would
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            try:
                move_into_new(Path(tmp), path)
            except FileExistsError:
                raise OutputPathError(f"{path} appeared while this ran (another run?): it is kept, and nothing was "
                                      "written over it; pass another name") from None  # fmt: skip
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, PosecastError):
            raise OutputWriteError.of(path, exc) from exc
        raise
    return path


@contextlib.contextmanager
def atomic_path(path: str | Path, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for a writer that needs a file name (numpy,
    OpenCV, a YAML dumper); on success it replaces ``path``, on any error it is removed.

    ``mode``: the final file mode (default: what a plain ``open()`` would give under the umask).
    The temporary name keeps ``path``'s suffix, for writers that choose a format by it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix, suffix = temporary_name_parts(path.stem, f".tmp{path.suffix}")
    fd, tmp_name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if mode is None:
            mode = 0o666 & ~current_umask()
        os.chmod(tmp, mode)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno in OUT_OF_ROOM and not isinstance(exc, PosecastError):
            raise OutputWriteError.of(path, exc) from exc  # the writer's other errors are its own to name
        raise


#: A leftover untouched this long is a killed process's (SIGKILL, the OOM killer); a younger one may
#: be another process's, going on (a download, a staging folder: seconds to minutes).
STALE_LEFTOVER_S = 3600.0


def remove_stale(folder: Path, pattern: str, left_by: str) -> None:
    """Remove what matches ``pattern`` in ``folder`` (files and folders) untouched for
    :data:`STALE_LEFTOVER_S`, each said: "removed NAME, left ``left_by``"."""
    now = time.time()
    for leftover in Path(folder).glob(pattern):
        with contextlib.suppress(OSError):  # gone meanwhile, or not ours to remove: left
            if now - leftover.lstat().st_mtime > STALE_LEFTOVER_S:
                if leftover.is_dir() and not leftover.is_symlink():
                    shutil.rmtree(leftover)
                else:
                    leftover.unlink()
                log.info("removed %s, left %s", leftover.name, left_by)


def missing_folders(folder: Path) -> list[Path]:
    """The folders ``folder.mkdir(parents=True)`` would create, outermost first."""
    missing = []
    while not folder.exists() and folder.parent != folder:  # (a missing drive or share is its own parent)
        missing.append(folder)
        folder = folder.parent
    return missing[::-1]


def remove_empty_folders(made: list[Path]) -> None:
    """Remove the folders of :func:`missing_folders` that a failed run made, innermost first, as
    long as they are empty (what a run left in one is kept, and the folders around it)."""
    for folder in reversed(made):
        try:
            folder.rmdir()
        except OSError:
            break


def write_together(
    files: Mapping[Path, bytes | Callable[[IO[bytes]], object]],
    held: Callable[[], contextlib.AbstractContextManager[object]] = contextlib.nullcontext,
) -> None:
    """Write each file beside its name first (its bytes, or what a writer given the open file
    writes: ``np.savez`` streams, where bytes made first would double the memory), then move them in
    together: one that cannot be written (a full disk) leaves every one as it was (QA: ``engines
    bench --json A --markdown B`` replaced A when B failed). An existing file is said as replaced.
    ``held``: what the temporaries are made, moved in and (on a failure) removed inside, but not
    written (the command line's stop-signal deferral: a writer that takes long, a BVH made as it is
    written, stays stoppable, and a stop leaves no temporary behind)."""
    replaced = [path for path in files if Path(path).exists()]
    outputs = contextlib.ExitStack()
    try:
        with held():
            targets = {path: outputs.enter_context(atomic_path(path)) for path in files}
        for path, data in files.items():
            if isinstance(data, bytes):
                targets[path].write_bytes(data)
            else:
                with open(targets[path], "wb") as fh:
                    data(fh)
    except BaseException as exc:
        with held():  # the temporaries removed (atomic_path suppresses nothing)
            outputs.__exit__(type(exc), exc, exc.__traceback__)
        raise
    with held():
        outputs.close()
    for path in replaced:  # said once done (review: "replacing" came before a failure that kept it)
        log.info("replaced %s", path)


def zip_unpacked_bytes(path: str | Path) -> int | None:
    """What a zip's members (an ``.npz``'s arrays) unpack to, as its directory says, before anything
    is unpacked (a compressed file of zeros can declare terabytes); ``None``: not a readable zip."""
    try:
        with zipfile.ZipFile(path) as archive:
            return sum(info.file_size for info in archive.infolist())
    except (OSError, zipfile.BadZipFile, ValueError):
        return None


def save_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``arrays`` as an uncompressed ``.npz`` at ``path``, atomically (nothing half-written
    stays). Numeric and string arrays only: what ``np.load(allow_pickle=False)`` reads back."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    return Path(path)


@contextlib.contextmanager
def flock_held(path: Path, what: str, wait_s: float | None = None, mode: int = 0o600) -> Iterator[bool]:
    """Hold an exclusive ``flock`` on ``path`` while inside (a folder, opened to read; else a lock
    file, made with ``mode`` if missing); yields whether it is held. Without it (no flock here,
    Windows; a file system that refuses it on a folder, NFS; one we may not open; or another
    holder past ``wait_s``, e.g. a shell's ``flock /tmp CMD``) the block runs all the same, as it
    would with no other process, and ``what`` and why are logged at debug level."""
    fd = None
    if fcntl is not None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY) if path.is_dir() else os.open(path, os.O_RDWR | os.O_CREAT,
                                                                                                mode)  # fmt: skip
            _flock(fd, wait_s)
        except OSError as exc:
            log.debug("%s: no lock (%s)", what, exc)
            if fd is not None:
                os.close(fd)
            fd = None
    try:
        yield fd is not None
    finally:
        if fd is not None:
            os.close(fd)  # (closing releases the lock)


def _flock(fd: int, wait_s: float | None) -> None:
    if wait_s is None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise TimeoutError(errno.ETIMEDOUT, f"held by another process for over {wait_s:g} s") from None
            time.sleep(0.01)

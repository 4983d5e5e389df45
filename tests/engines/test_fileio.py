"""The output checks every command makes before its work (engines/fileio.py)."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
from posecast.engines import fileio
from posecast.engines.fileio import OutputPathError, check_outputs, output_file_problem, same_file


def test_what_cannot_be_written_is_named(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    assert output_file_problem(tmp_path / "new.json") is None
    assert output_file_problem(tmp_path) == "it is a folder"
    assert output_file_problem(tmp_path / "file" / "x.json") == f"{tmp_path / 'file'} is a file, not a folder"
    assert output_file_problem(tmp_path / "no" / "x.json") == f"folder {tmp_path / 'no'} does not exist"
    assert output_file_problem("/dev/null") == "it is not a regular file"
    assert list(tmp_path.iterdir()) == [tmp_path / "file"]  # the probe left nothing


def test_a_folder_that_is_a_link_loop_or_a_dead_link_is_not_called_missing(tmp_path: Path) -> None:
    """QA: an output in a folder that is a link loop was reported as a missing folder."""
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "dead").symlink_to(tmp_path / "gone")
    assert output_file_problem(tmp_path / "loop" / "x.json") == (f"folder {tmp_path / 'loop'} cannot be reached: "
                                                                 "links on its path form a loop")  # fmt: skip
    assert output_file_problem(tmp_path / "loop" / "deeper" / "x.json").endswith("links on its path form a loop")
    dead = f"folder {tmp_path / 'dead'} is a link to {tmp_path / 'gone'}, which does not exist"
    assert output_file_problem(tmp_path / "dead" / "x.json") == dead


def test_a_folder_this_user_may_not_enter_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """For a user who is not root, stat on a path inside a folder without x permission raises
    PermissionError (Python 3.11's Path.exists lets it through): said, not a traceback."""
    def refused(self: Path) -> bool:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "is_dir", refused)
    assert output_file_problem(tmp_path / "x.json") == "cannot reach it (Permission denied)"
    monkeypatch.setattr(Path, "exists", refused)
    assert not same_file(tmp_path / "a", tmp_path / "b")


def test_outputs_against_inputs_and_each_other(tmp_path: Path) -> None:
    source = tmp_path / "clip.mp4"
    source.write_bytes(b"video")
    os.symlink(source, tmp_path / "link.mp4")
    with pytest.raises(OutputPathError, match="--output-video .*link.mp4 is the source: writing it would destroy it"):
        check_outputs({"--output-video": tmp_path / "link.mp4"}, {"the source": source})
    with pytest.raises(OutputPathError, match="--a and --b are both"):
        check_outputs({"--a": tmp_path / "x.json", "--b": tmp_path / "sub" / ".." / "x.json", "--c": None})
    check_outputs({"--a": tmp_path / "x.json", "--b": tmp_path / "y.json"}, {"the source": source})


def test_nothing_is_written_into_the_shipped_weights_folder(tmp_path: Path) -> None:
    """QA: ``posecast engines bench --json <weights>/posecast_lifter_long_w384.onnx`` replaced the
    default model. An output in posecast's own weights folder is refused, unless asked for (the
    export that ships a model)."""
    from posecast.engines.runtime.base import WEIGHTS_DIR

    report = WEIGHTS_DIR / "never-written.json"  # only checked here, never written
    with pytest.raises(OutputPathError, match=r"--json .*never-written.json is in posecast's own weights folder"):
        check_outputs({"--json": report})
    os.symlink(WEIGHTS_DIR, tmp_path / "link")
    with pytest.raises(OutputPathError, match="own weights folder"):
        check_outputs({"--json": tmp_path / "link" / "x.json"})
    check_outputs({"the output": report}, shipped_weights=True)
    check_outputs({"--json": tmp_path / "x.json"})
    assert not report.exists()


def test_the_cached_models_and_link_loops_are_no_outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """QA: ``--stats-json <cache>/pose_landmarker_full.task`` replaced the downloaded MediaPipe
    model with JSON, exit 0 (offline, posecast could not run again); an output that is a link
    to itself gave a RuntimeError traceback from every command that writes."""
    from posecast.engines.assets import cached_path

    monkeypatch.setenv("POSECAST_CACHE", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    cached = cached_path("pose_landmarker_full")
    cached.write_bytes(b"model")
    with pytest.raises(OutputPathError, match="--stats-json .* is posecast's cached pose_landmarker_full model"):
        check_outputs({"--stats-json": cached})
    assert cached.read_bytes() == b"model"
    os.symlink("loop.json", tmp_path / "loop.json")
    with pytest.raises(OutputPathError, match="cannot write --json .*loop.json: it is a symbolic link loop"):
        check_outputs({"--json": tmp_path / "loop.json"})
    assert not same_file(tmp_path / "loop.json", tmp_path / "x.json")  # an input loop: said where it is opened
    check_outputs({"--json": tmp_path / "cache" / "report.json"})  # the cache folder itself is not refused


def test_a_cache_named_by_an_unknown_users_home_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from posecast.engines.assets import cache_dir
    from posecast.engines.errors import AssetError

    monkeypatch.setenv("POSECAST_CACHE", "~nosuchuser-posecast/x")
    with pytest.raises(AssetError, match="cannot name posecast's cache folder: .*set POSECAST_CACHE to a folder"):
        cache_dir()
    check_outputs({"--json": Path("never-written.json")})  # the output check goes on without the cache


@pytest.mark.parametrize("helper", ["atomic_write", "atomic_path"])
def test_a_write_past_the_disk_is_one_line_and_leaves_nothing(tmp_path: Path, helper: str) -> None:
    """A real failed write (a file size limit, as a full disk) in a process of its own: an
    OutputWriteError (a PosecastError the CLI prints as one line, and still an OSError) naming
    the file, and neither the file nor a temporary file left."""
    import subprocess
    import sys

    target = tmp_path / "out.npz"
    write = {
        "atomic_write": "fileio.atomic_write(target, bytes(100_000))",
        "atomic_path": "with fileio.atomic_path(target) as tmp, open(tmp, 'wb') as fh:\n"
                       "        np.savez(fh, a=np.zeros(100_000))",
    }[helper]  # fmt: skip
    code = (
        "import resource, sys\nimport numpy as np\nfrom pathlib import Path\n"
        "from posecast.engines import fileio\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
        f"target = Path({str(target)!r})\n"
        "try:\n"
        f"    {write}\n"
        "except fileio.OutputWriteError as exc:\n"
        "    assert isinstance(exc, OSError) and exc.errno == 27, exc.errno\n"
        "    print(exc)\n"
        "    sys.exit(3)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 3, done.stderr
    assert done.stdout.strip() == f"cannot write {target}: File too large; free space on its disk or pass a file " \
                                  "elsewhere"  # fmt: skip
    assert list(tmp_path.iterdir()) == []


def test_a_writer_s_own_errors_stay_its_own(tmp_path: Path) -> None:
    """Inside atomic_path only running out of room is a write error: a missing input the writer
    reads is reported as it is (not as 'cannot write')."""
    from posecast.engines.fileio import OutputWriteError, atomic_path

    with pytest.raises(FileNotFoundError) as raised, atomic_path(tmp_path / "out.txt"):
        open(tmp_path / "absent.txt").close()  # noqa: SIM115
    assert not isinstance(raised.value, OutputWriteError) and list(tmp_path.iterdir()) == []


def test_files_get_the_umask_s_mode_without_the_umask_being_changed(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading the umask by setting it to 0 gave files another thread created meanwhile (a sink's
    writer) mode 0666: the writers read it without setting it."""
    old = os.umask(0o027)
    try:
        assert fileio.current_umask() == 0o027
        calls: list[int] = []
        real_umask = os.umask
        monkeypatch.setattr(os, "umask", lambda mask: calls.append(mask) or real_umask(mask))
        written = fileio.atomic_write(tmp_path / "a.bin", b"x")
        with fileio.atomic_path(tmp_path / "b.npz") as tmp:
            tmp.write_bytes(b"y")
        if Path("/proc/self/status").is_file():  # elsewhere it can only be read by setting it
            assert calls == []
        assert stat.S_IMODE(written.stat().st_mode) == stat.S_IMODE((tmp_path / "b.npz").stat().st_mode) == 0o640
    finally:
        os.umask(old)


def test_an_unreadable_model_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """QA (as a user without read access, root's DAC override dropped): ``--model m.onnx`` gave a
    PermissionError traceback in run, lift and engines bench, from the model's checksum."""
    import shutil

    from posecast.engines.fileio import InputReadError
    from posecast.engines.runtime.base import DEFAULT_MODEL
    from posecast.realtime.cli import main

    model = tmp_path / "m.onnx"
    shutil.copy(DEFAULT_MODEL, model)
    real_open = open

    def as_another_user(path, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202 - open's signature
        if Path(path) == model:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(fileio, "open", as_another_user, raising=False)  # what file_sha256 opens with
    with pytest.raises(InputReadError, match=r"m.onnx cannot be read \(permission denied: .*chmod u\+r"):
        fileio.file_sha256(model)
    capsys.readouterr()
    assert main(["engines", "bench", "--model", str(model), "--iters", "3", "--batch", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("posecast: error: ") and "m.onnx cannot be read (permission denied" in err
    assert "\n" not in err and "Traceback" not in err


@pytest.mark.parametrize("stem", ["c" * 243, "é" * 120])  # 243 and 240 bytes: legal names
def test_a_long_legal_name_is_written_through_a_temporary_name_that_fits(tmp_path: Path, stem: str) -> None:
    """QA: the temporary name beside a legal name of 242 bytes or more passed the system's 255
    and the write failed with "File name too long", after the run's work, naming a file the user
    never gave."""
    from posecast.engines.fileio import atomic_path, atomic_write

    atomic_write(tmp_path / f"{stem}.json", b"{}")
    with atomic_path(tmp_path / f"{stem}.npz") as tmp:
        assert len(tmp.name.encode()) <= 255 and tmp.name.endswith(".tmp.npz")
        tmp.write_bytes(b"x")
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{stem}.json", f"{stem}.npz"]


def test_a_posecast_file_is_known_however_its_json_is_laid_out_and_a_fifo_is_not_read(tmp_path: Path) -> None:
    """Review: compact JSON with ``format`` after another key went unrecognised, and a FIFO named
    as an output hung the command in the read; a suffix longer than a name may be looped for ever."""
    from posecast.engines.fileio import posecast_file_kind, temporary_name_parts

    (tmp_path / "c.json").write_text('{"version":1,"format":"posecast-camera"}')
    (tmp_path / "s.yaml").write_text("# posecast calibration\nformat: posecast-subject\nversion: 1\n")
    (tmp_path / "other.json").write_text('{"frames": 3, "note": "format: posecast-camera in a string"}')
    os.mkfifo(tmp_path / "fifo")
    kinds = [posecast_file_kind(tmp_path / name) for name in ("c.json", "s.yaml", "other.json", "fifo", "absent")]
    assert kinds == ["posecast-camera", "posecast-subject", None, None, None]
    assert temporary_name_parts("a", ".tmp." + "y" * 250) == ("..", ".tmp." + "y" * 250)  # it ends


def test_files_written_together_are_all_or_none(tmp_path: Path) -> None:
    """The second file failing leaves the first as it was and no temporary beside it (QA: ``engines
    bench --markdown`` out of room, its ``--json`` had replaced the earlier file)."""
    first, blocker = tmp_path / "a.json", tmp_path / "not_a_folder"
    first.write_text("earlier")
    blocker.write_text("a file where a folder would be")
    with pytest.raises(OSError):
        fileio.write_together({first: b"new", blocker / "b.md": b"table"})
    assert first.read_text() == "earlier" and sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "not_a_folder"]
    fileio.write_together({first: b"new", tmp_path / "b.md": b"table"})
    assert (first.read_bytes(), (tmp_path / "b.md").read_bytes()) == (b"new", b"table")


def test_files_written_together_are_made_and_moved_in_with_the_stops_held_but_not_written(tmp_path: Path) -> None:
    """``posecast export`` makes an hour's BVH as it writes it (half a minute): the stop signals are
    held (``held``) while the temporaries are made, moved in or removed, not while a file is
    written, and a stop while it is written leaves the files as they were, without a temporary."""
    events: list[str] = []

    @contextlib.contextmanager
    def held() -> Iterator[None]:
        events.append("held")
        try:
            yield
        finally:
            events.append("let go")

    def bvh(fh: IO[bytes]) -> None:
        events.append("written")
        fh.write(b"motion")

    first = tmp_path / "take.bvh"
    fileio.write_together({first: bvh, tmp_path / "take.npz": b"2d"}, held=held)
    assert events == ["held", "let go", "written", "held", "let go"]
    assert (first.read_bytes(), (tmp_path / "take.npz").read_bytes()) == (b"motion", b"2d")

    def stopped(fh: IO[bytes]) -> None:
        fh.write(b"half a BVH")
        raise KeyboardInterrupt

    events.clear()
    with pytest.raises(KeyboardInterrupt):
        fileio.write_together({tmp_path / "other.npz": b"2d", first: stopped}, held=held)
    assert events == ["held", "let go", "held", "let go"]  # made, then removed
    assert first.read_bytes() == b"motion" and sorted(p.name for p in tmp_path.iterdir()) == ["take.bvh", "take.npz"]


def test_a_folder_whose_first_entry_is_a_dangling_link_can_be_read(tmp_path: Path) -> None:
    """Footage QA: an image folder listing a link to nothing first (an editor's lock file,
    ``.#name``) was refused as unreadable ("No such file or directory"); a folder holding only
    such links too."""
    (tmp_path / ".#lock").symlink_to(tmp_path / "gone")
    assert next(os.scandir(tmp_path)).name == ".#lock"
    assert fileio.input_folder_problem(tmp_path) is None


def test_missing_folders_ends_at_a_root_that_is_not_there() -> None:
    """Review: on Windows a missing drive or share (``Z:\\``, ``\\\\nas\\share\\``) is its own parent
    and does not exist, and the walk up never ended (simulated: a path type where nothing exists)."""

    class Unmounted(type(Path())):  # type: ignore[misc]
        def exists(self, *args: object, **kwargs: object) -> bool:
            return False

    assert [str(p) for p in fileio.missing_folders(Unmounted("/share/a/b"))] == ["/share", "/share/a", "/share/a/b"]


def test_a_folder_lock_held_elsewhere_or_refused_lets_the_block_run_without_it(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """Review: the ipc:// folder lock waited for ever behind a shell's ``flock /tmp CMD``, and a
    file system refusing flock on a folder (NFS: EBADF) raised out of the bind as a traceback."""
    import errno
    import fcntl
    import os
    import time

    from posecast.engines import fileio

    holder = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(holder, fcntl.LOCK_EX)  # another holder (a separate open: flock excludes it)
    started = time.monotonic()
    with fileio.flock_held(tmp_path, "test folder", wait_s=0.2) as held:
        assert not held
    assert time.monotonic() - started < 2
    os.close(holder)
    with fileio.flock_held(tmp_path, "test folder", wait_s=0.2) as held:
        assert held
    monkeypatch.setattr(fcntl, "flock", lambda fd, op: (_ for _ in ()).throw(OSError(errno.EBADF, "Bad file")))
    with fileio.flock_held(tmp_path, "test folder") as held:
        assert not held

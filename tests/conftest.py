"""Shared fixtures: the test clips and mocap takes in ``tests/fixtures`` and the cached MediaPipe model.

Everything here is in the repository (``tests/fixtures/*/README.md`` give each file's source and
licence) except the MediaPipe model, which is fetched once, checksummed, like the demo's.
"""

from __future__ import annotations

import importlib.util
import itertools
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from posecast.engines.errors import AssetError

# The suite started with SIGINT ignored (a background job of a non-interactive shell: `( .ci/run & )`)
# gives Ctrl-C back to Python: posecast keeps an ignored signal ignored, as `nohup` wants, so the
# tests that stop a command with SIGINT (and their children, which inherit it) failed or hung.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TOOLS = Path(__file__).resolve().parents[1] / "tools"

#: Test modules that need an optional package (the training extra's PyTorch and ONNX), most of them
#: at import. ``pip install -e ".[test]"`` alone does not bring them: these modules are then not
#: collected and the report's header says so; every other test runs
#: (``tests/test_optional_dependencies.py`` checks that the modules importing them are listed).
NEEDS: dict[str, tuple[str, ...]] = {
    "torch": ("engines/test_adapt.py", "engines/test_bench.py", "engines/test_config.py", "engines/test_evaluate.py",
              "engines/test_export.py", "engines/test_losses.py", "engines/test_models.py", "engines/test_normalize.py",
              "engines/test_quantize.py", "engines/test_runtime.py", "engines/test_train.py",
              "engines/test_train_2d_only.py"),
    "onnx": ("engines/test_export.py",),
}  # fmt: skip
INSTALL_HINT = 'pip install torch==2.13.0 -e ".[train,test]"'


def installed(name: str) -> bool:
    """Whether ``import name`` can work (``False`` also when a test blocks it in ``sys.modules``)."""
    try:
        return importlib.util.find_spec(name) is not None
    except ValueError:  # sys.modules[name] is None: blocked
        return False


MISSING = [name for name in NEEDS if not installed(name)]
collect_ignore = sorted({module for name in MISSING for module in NEEDS[name]})


def pytest_report_header(config: pytest.Config) -> str | None:
    if not collect_ignore:
        return None
    return (f"not installed: {', '.join(MISSING)}; {len(collect_ignore)} test modules that need it are not "
            f"collected ({', '.join(collect_ignore)}): {INSTALL_HINT} runs them")  # fmt: skip


#: The walking take behind ``walk_joints``: CMU subject 8, trial 4, a slow walk (4.0 s).
WALK_TAKE = "08_04"


def cmu_take(name: str, fps: float = 30.0) -> np.ndarray:
    """A CMU take of ``tests/fixtures/cmu`` as posecast joints ``(F, 17, 3)``, metres, mocap world
    frame (Y up), at ``fps``: the T-pose the BVH conversion put before the take is dropped and the
    120 fps capture is subsampled (``fps`` must divide 120)."""
    from posecast.engines.training.data.bvh import load_bvh_joints

    joints, file_fps = load_bvh_joints(FIXTURES / "cmu" / f"{name}.bvh")
    # The added T-pose is ~0.5 m away from the first real frame; 1/120 s of motion is < 3 cm.
    if float(np.abs(joints[0] - joints[1]).max()) > 0.1:
        joints = joints[1:]
    step = file_fps / fps
    if abs(step - round(step)) > 1e-3:
        raise ValueError(f"cannot resample {name} from {file_fps:.3f} to {fps} fps by dropping frames")
    return joints[:: round(step)]


def made_locale(name: str, charset: str, folder: Path) -> str:
    """``NAME.CHARSET`` compiled into ``folder`` (give it as ``LOCPATH``), as the locale tests need
    one this machine may not have installed; the test is skipped, saying why, where glibc's
    ``localedef`` or the locale's sources are missing (another C library, a slim image)."""
    import shutil
    import subprocess

    if shutil.which("localedef") is None:
        pytest.skip("needs glibc's localedef to compile a locale")
    made = subprocess.run(["localedef", "-i", name, "-f", charset, str(folder / f"{name}.{charset}")],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    if made.returncode not in (0, 1):  # 1: made with warnings
        pytest.skip(f"localedef could not make {name}.{charset}: {made.stderr.strip()[:200]}")
    return f"{name}.{charset}"


@pytest.fixture(autouse=True)
def _posecast_log_levels() -> Iterator[None]:
    """A tool's ``main()`` quiets posecast's loggers for its run (``turn_speed_truth``: each clip's
    live calibration); put their levels back after every test, or a later test's ``caplog`` misses
    their INFO records."""
    def levels() -> dict[str, int]:
        return {name: logging.getLogger(name).level for name in list(logging.root.manager.loggerDict)
                if name == "posecast" or name.startswith("posecast.")}  # fmt: skip

    before = levels()
    yield
    for name in levels():
        logging.getLogger(name).setLevel(before.get(name, logging.NOTSET))


#: The proxy variables as the test run started: ``posecast``'s ``main()``, run in this process by
#: many tests and session fixtures, points them at a dead port (``engines/uploads.py``).
_PROXY_ENVIRONMENT = {name: os.environ.get(name) for name in ("https_proxy", "HTTPS_PROXY")}


@pytest.fixture(autouse=True)
def _proxy_environment() -> Iterator[None]:
    """Put the proxy variables back as the run found them after every test."""
    yield
    for name, value in _PROXY_ENVIRONMENT.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def load_tool() -> Callable[[str], object]:
    """``load_tool(NAME)``: the module of ``tools/NAME.py`` (tools are scripts, not a package),
    registered in ``sys.modules`` so that its dataclasses resolve their own module."""

    def load(name: str) -> object:
        spec = importlib.util.spec_from_file_location(f"posecast_tools_{name}", TOOLS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(scope="session")
def media_dir() -> Path:
    """Folder of the real test clips (``tests/fixtures/media``)."""
    return FIXTURES / "media"


@pytest.fixture(scope="session")
def pose_model_path() -> Path:
    """The MediaPipe ``pose_landmarker_full`` model from the posecast cache (downloaded once;
    skips the test when it is neither cached nor downloadable)."""
    from posecast.engines.assets import ensure_asset

    try:
        return ensure_asset("pose_landmarker_full")
    except AssetError as exc:
        pytest.skip(f"MediaPipe model unavailable: {exc}")


@pytest.fixture
def time_zone() -> Iterator[Callable[[str], None]]:
    """``set(zone)``: the process's local time is ``zone``'s (``Europe/Berlin``: not UTC all year) until
    the test ends, the machine's again after; skips where it cannot be set (Windows, no zone data)."""
    if not hasattr(time, "tzset"):
        pytest.skip("time.tzset: not on this platform")
    before = os.environ.get("TZ")

    def set_zone(zone: str) -> None:
        os.environ["TZ"] = zone
        time.tzset()
        if all(time.localtime(t).tm_gmtoff == 0 for t in (1767225600, 1782864000)):  # 2026-01-01, 2026-07-01
            pytest.skip(f"no time zone data for {zone} here")  # (glibc falls back to UTC silently)

    yield set_zone
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.fixture(scope="session")
def dance_take(media_dir: Path, pose_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A recording (``posecast run --record``) of the dance clip's first 60 frames, made once:
    read it, never change it."""
    from posecast.realtime import cli

    path = tmp_path_factory.mktemp("take") / "dance.posecast"
    code = cli.main(["run", "--source", str(media_dir / "dance_576.mp4"), "--headless", "--publish", "none",
                     "--model-asset", str(pose_model_path), "--frames", "60", "--record", str(path)])  # fmt: skip
    assert code == 0
    return path


@pytest.fixture(scope="session")
def side_by_side(media_dir: Path, tmp_path_factory: pytest.TempPathFactory, load_tool: Callable) -> Path:
    """Two people in one video the whole time, 4 s (``tools/people_search.py``,
    ``two_people_video``: the dancer left of x = 576, the squatting person on the right)."""
    path = tmp_path_factory.mktemp("two") / "side_by_side.mp4"
    return load_tool("people_search").two_people_video(media_dir, path, lambda i: 1.0)


@pytest.fixture(scope="session")
def walk_in_and_out(media_dir: Path, tmp_path_factory: pytest.TempPathFactory, load_tool: Callable) -> Path:
    """The dancer alone for 1 s; the squatting person walks in from the right edge over the
    next two seconds (frames 30 to 90) and stays until frame 129; the dancer alone again from
    frame 130 to 179 (``tools/people_search.py``, ``walk_in_and_out_shown``)."""
    tool = load_tool("people_search")
    path = tmp_path_factory.mktemp("walk_in") / "walk_in_and_out.mp4"
    return tool.two_people_video(media_dir, path, tool.walk_in_and_out_shown, 180)


@pytest.fixture(scope="session")
def dancer_in_the_dark(media_dir: Path, tmp_path_factory: pytest.TempPathFactory, load_tool: Callable) -> Path:
    """The dancer, lit at a third from frame 30; the squatting person beside her from frame 60,
    8 s in all (``tools/people_search.py``, ``two_people_video``; QA's clip, shortened)."""
    tool, path = load_tool("people_search"), tmp_path_factory.mktemp("dark") / "dancer_in_the_dark.mp4"
    return tool.two_people_video(media_dir, path, lambda i: float(i >= 60), 240, tool.dancer_in_the_dark_light)


@pytest.fixture(scope="session")
def walk_joints() -> np.ndarray:
    """A real walk (CMU take 08_04, 4.0 s at 30 fps) as posecast joints ``(F, 17, 3)``, metres,
    mocap world frame (Y up), with each bone set to posecast's typical proportions for the
    subject's height (1.56 m) and the motion (every bone's direction, frame by frame) kept.

    Why the bones are set: CMU's marker-based joint centres mapped onto posecast's joints put the
    shoulders 78 % and the hips 51 % wider than the typical skeleton (measured on Bandai-Namco,
    ``engines/skeleton.py``), outside the ±20 % that the bone smoother and subject calibration
    allow and outside what the shipped lifter learned; the tests using this clip need a person
    within those bounds, as the Bandai-Namco walk they were written with was."""
    from posecast.engines import skeleton
    from posecast.engines.training.data.windows import rescale_bones

    joints = cmu_take(WALK_TAKE).astype(np.float64)
    assert joints.shape == (121, 17, 3)
    measured = np.median(skeleton.bone_lengths(joints), axis=0)
    typical = skeleton.bone_lengths_from_height(skeleton.height_from_bone_lengths(measured))
    return rescale_bones(joints[None], (typical / measured)[None])[0].astype(np.float32)


#: Test ports come from a block per pytest-xdist worker below Linux's ephemeral range (32768-60999
#: by default): a port found by binding port 0 was free only until the probe closed, and before the
#: code under test bound it another worker's bind or connection could be given the same one.
PORT_BLOCK = 1000
PORT_BASE = 20000  # 12 workers' blocks below 32768 (a 13th, beyond --maxprocesses 4, takes any free port)
_port_offsets = itertools.count()


def port_block() -> range:
    """This pytest-xdist worker's ports (``gw0``, or no xdist: the first block)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    first = PORT_BASE + PORT_BLOCK * (int(worker) if worker.isdigit() else 0)
    return range(first, first + PORT_BLOCK)


def ephemeral_low() -> int:
    """The lowest port the system hands out for port 0 and outgoing connections."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 1024  # unknown (not Linux): no block is outside it


def _free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A free loopback port (TCP, or UDP with ``socket.SOCK_DGRAM``), from this worker's block
    (:data:`PORT_BLOCK`) or, where the block would overlap the ephemeral range, any free one.
    Probed with a plain socket, closed synchronously: a ZeroMQ socket releases its port later, on
    the context's I/O thread, so an immediate bind by the code under test could fail."""
    block = port_block()
    in_block = block.stop <= ephemeral_low()
    for _ in range(PORT_BLOCK if in_block else 1):
        port = block[next(_port_offsets) % PORT_BLOCK] if in_block else 0  # each offset once per lap of the block
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:  # taken (or in TIME_WAIT): the next
                continue
            return probe.getsockname()[1]
    raise RuntimeError(f"no free loopback port in {block.start}..{block.stop - 1}")


@pytest.fixture(name="port_block")
def port_block_fixture() -> range:
    """:func:`port_block` (a test module cannot import this conftest by name: there are several)."""
    return port_block()


@pytest.fixture(name="made_locale")
def made_locale_fixture() -> Callable[[str, str, Path], str]:
    """:func:`made_locale` (a test module cannot import this conftest by name: there are several)."""
    return made_locale


@pytest.fixture
def free_port() -> Callable[..., int]:
    """:func:`_free_port`: call it for each port a test needs."""
    return _free_port


def _assert_lengths_locked(
    joints: np.ndarray, fps: float, first_s: float = 2.0, reach_s: float = 1.3, tolerance: float = 0.01
) -> None:
    """A person's published poses ``(F, 17, 3)``, one every ``1 / fps`` s of being seen: the bone
    lengths stay within ``tolerance`` (relative spread) from ``reach_s`` after each live subject
    measurement (``first_s``, then ``LiveSubjectOptions().again_at_s``) until the next, where a new
    one may move them at the smoother's 20 % a second; those stretches hold most frames from
    ``first_s + reach_s`` on. ``first_s`` 3: a first measurement that may be refused at 2 s (10
    frames at 5 fps, as few as it takes) and made at the retry a second later."""
    from posecast.engines import skeleton
    from posecast.realtime.lifting import LiveSubjectOptions

    times = (first_s, *LiveSubjectOptions().again_at_s)
    seconds = np.arange(len(joints)) / fps
    lengths = skeleton.bone_lengths(joints)
    checked = 0
    for start, end in zip(times, (*times[1:], np.inf), strict=True):
        stretch = lengths[(seconds >= start + reach_s) & (seconds < end)]
        if len(stretch) >= 2:
            spread = (stretch.max(0) - stretch.min(0)) / stretch.mean(0)
            assert spread.max() <= tolerance, f"bone length spread {spread.max():.4f} from {start + reach_s:.1f} s"
            checked += len(stretch)
    assert checked >= 0.6 * np.count_nonzero(seconds >= first_s + reach_s) > 0, checked


@pytest.fixture(scope="session")
def assert_lengths_locked() -> Callable[..., None]:
    """:func:`_assert_lengths_locked`."""
    return _assert_lengths_locked

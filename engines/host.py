"""Facts about the machine this runs on, read once: the CPU's model and feature flags
(``/proc/cpuinfo`` on Linux), the cores this process may use and the memory. Backends name the
CPU, training chooses bf16 from the flags, the benchmark records them all. And the limits it runs
under (address space, threads, open files, a control group's CPU time), with the one lines that
say which is too small."""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def cpuinfo() -> dict[str, str]:
    """The first CPU's ``model name``, ``flags`` (``features`` on ARM) and ``cache size`` from
    ``/proc/cpuinfo``; empty off Linux."""
    info: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip().lower()
                if key in ("model name", "flags", "features", "cache size") and key not in info:
                    info[key] = value.strip()
    except OSError:
        pass
    return info


def cpu_name() -> str:
    """The CPU model (``/proc/cpuinfo`` "model name" on Linux), else :func:`platform.processor`."""
    return cpuinfo().get("model name") or platform.processor() or platform.machine() or "unknown CPU"


def cpu_flags() -> set[str] | None:
    """The CPU's feature flags (Linux), else ``None``."""
    info = cpuinfo()
    text = info.get("flags") or info.get("features")
    return set(text.split()) if text is not None else None


#: CPU feature flags worth knowing for the networks (SIMD widths, int8 dot products, bf16, AMX).
FLAGS_OF_INTEREST = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16",
                     "amx_tile", "amx_int8", "amx_bf16", "neon", "asimd", "asimddp")  # fmt: skip


def flags_of_interest() -> list[str]:
    """Those of :data:`FLAGS_OF_INTEREST` this CPU has (empty where the flags cannot be read): two
    CPUs of one model name may differ here (an AVX2-only and an AVX-512 "AMD EPYC")."""
    flags = cpu_flags() or set()
    return [flag for flag in FLAGS_OF_INTEREST if flag in flags]


def usable_cores() -> int:
    """CPU cores this process may run on: those it may be scheduled on, fewer where its control
    group's CPU quota allows less (constrained-machine QA: a container given one CPU's time on a
    16-core host counted 16, so the threaded runner would be chosen for it)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
    quota = cgroup_cpu_quota()
    return cores if quota is None else max(1, min(cores, math.ceil(quota)))


def cgroup_cpu_quota(proc_cgroup: str = "/proc/self/cgroup", mount: str = "/sys/fs/cgroup") -> float | None:
    """The CPUs' worth of time this process's control group and those above it allow, the least
    of them (cgroup v2's ``cpu.max``, v1's ``cpu.cfs_quota_us`` over ``cpu.cfs_period_us``);
    ``None`` without a quota or off Linux."""
    folders = _cgroup_folders("cpu", proc_cgroup, mount)
    known = [q for q in (_v2_quota(f) if v == 2 else _v1_quota(f) for f, v in folders) if q is not None]
    return min(known) if known else None


def cgroup_tasks_left(proc_cgroup: str = "/proc/self/cgroup", mount: str = "/sys/fs/cgroup") -> int | None:
    """How many more threads or processes this process's control group and those above it may
    start (``pids.max`` less ``pids.current``, the least of them: a container's pids limit);
    ``None`` without a limit or off Linux."""
    left = []
    for folder, _ in _cgroup_folders("pids", proc_cgroup, mount):
        try:
            most = (folder / "pids.max").read_text(encoding="utf-8").strip()
            if most != "max":
                left.append(int(most) - int((folder / "pids.current").read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return min(left) if left else None


def user_tasks_left(proc: str = "/proc") -> int | None:
    """How many more threads or processes this user may start under a small ``ulimit -u``
    (``RLIMIT_NPROC`` less the user's threads now; ``None``: no limit under 1,000, root, whom it
    does not bind, or no ``/proc`` to count in)."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NPROC)[0]
    except (ImportError, AttributeError, OSError, ValueError):
        return None
    if soft == resource.RLIM_INFINITY or soft >= 1000 or os.geteuid() == 0:  # (a large one: not worth the count)
        return None
    uid, threads = str(os.getuid()), 0
    for status in Path(proc).glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text(encoding="utf-8").splitlines() if ":" in line)
        except (OSError, UnicodeDecodeError):
            continue  # (gone meanwhile)
        if fields.get("Uid", "").split()[:1] == [uid]:
            threads += int(fields.get("Threads", "1").strip() or 1)
    return soft - threads if threads else None


#: Threads a command starts besides its own, the most at once, for the commands that run
#: MediaPipe, with what they start unasked and one person in view (measured on 2 cores with the
#: stderr writer's thread, 2026-12-07, /proc sampled every 5 ms; no margin: under ulimit -u a run
#: with ZeroMQ alone hung with 10 and 11 left and ran with 12, one with every output failed with 23
#: and ran with 24). run: ZeroMQ 13 headless, its window and the threaded runner 1 each; demo: the
#: same with its lines and a video (its H.264 encoder's 6 and a writer) beside a window; bench 20;
#: adapt 14 from a video with --threads 2; calibrate 12. More cores start more in the libraries'
#: pools; the other commands start few. run, demo and bench: one more since, the publisher's meta
#: keep-alive (``sinks.zmq``); measured again 2026-12-08 (the same sampling): run 14 headless, 15
#: with the threaded runner; bench 17 with --runner both
COMMAND_TASKS = {"run": 16, "demo": 24, "bench": 21, "adapt": 14, "calibrate": 12}
#: Threads an option adds (measured as above; ``--max-people`` above 1: the search's landmarker and
#: the second person's, 22 against 13; each person past two adds one more as they come); demo's
#: lines and video are in its own count
OPTION_TASKS = {
    "run": {"--output-video": 7, "--record": 1, "--print": 1, "--vmc": 1, "--max-people": 9},
    "demo": {"--record": 1, "--vmc": 1, "--max-people": 9},
    "bench": {"--soak": 6, "--max-people": 9},  # (the soak's subscribers: 26 with its three hooks)
}


def command_tasks(command: str | None, args: Sequence[str] = ()) -> int | None:
    """About how many threads ``posecast COMMAND ARGS...`` starts besides its own (``None``: few),
    from the options it is given, read before the command line is parsed (as argparse reads them:
    ``--opt VALUE``, ``--opt=VALUE``, a prefix of the option, the last one given)."""
    needed = COMMAND_TASKS.get(command or "")
    if needed is None:
        return None
    for option, threads in OPTION_TASKS.get(command or "", {}).items():
        value = _option_value(option, args)
        if value is None or value == _ADDS_NO_THREADS.get(option) or (
                option == "--max-people" and value.isdecimal() and int(value) <= 1):  # fmt: skip
            continue
        needed += threads
    return needed


#: An option's value that starts nothing (``--print none``, ``--soak 0``)
_ADDS_NO_THREADS = {"--print": "none", "--soak": "0"}


def _option_value(option: str, args: Sequence[str]) -> str | None:
    """The value the last ``option`` in ``args`` is given ("" where none follows), ``None`` when it
    is not there; an abbreviation argparse takes (``--max-p 3``, ``--m 3``) counts."""
    value = None
    for at, arg in enumerate(args):
        name, equals, given = arg.partition("=")
        if len(name) >= 3 and option.startswith(name):
            value = given if equals else (args[at + 1] if at + 1 < len(args) else "")
    return value


def tasks_too_few(command: str | None = None, args: Sequence[str] = ()) -> str | None:
    """The one line for a limit on threads too small for ``posecast COMMAND ARGS...`` to start
    (asked before any library loads: under one MediaPipe and ZeroMQ waited for ever, aborted, or
    were taken for a video OpenCV could not decode; constrained-machine QA), else ``None``."""
    needed = command_tasks(command, args)
    if needed is None:
        return None
    cgroup, user = cgroup_tasks_left(), user_tasks_left()
    limits = ((cgroup, "a container's pids limit"), (user, "ulimit -u"))
    known = [(left, how) for left, how in limits if left is not None]
    if not known:
        return None
    left, how = min(known)
    if left >= needed:
        return None
    return (f"this process may start only {max(left, 0)} more threads ({how}), and posecast {command} starts about "
            f"{needed} with these options: raise the limit")


def _cgroup_folders(controller: str, proc_cgroup: str, mount: str) -> list[tuple[Path, int]]:
    """The folders of this process's control group and of those above it where ``controller``'s
    files may be, each with its cgroup version (v2: the one unified hierarchy; v1: the
    controller's own, the cpu one often mounted with cpuacct)."""
    try:
        lines = Path(proc_cgroup).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    folders = []
    for line in lines:
        _, controllers, group = (line.split(":", 2) + ["", ""])[:3]
        if line.startswith("0::"):
            folders += [(folder, 2) for folder in _groups_up(Path(mount), group)]
        elif controller in controllers.split(","):
            names = (controller, f"{controller},cpuacct", f"cpuacct,{controller}")
            for root in filter(Path.is_dir, (Path(mount, name) for name in names)):  # (often links to one)
                folders += [(folder, 1) for folder in _groups_up(root, group)]
    return folders


def _groups_up(root: Path, group: str) -> list[Path]:
    """``root/group`` and each folder above it up to ``root`` (in a container the group is often
    ``/`` and ``root`` is already the container's own)."""
    folder, folders = root / group.strip("/"), []
    while True:
        folders.append(folder)
        if folder == root or root not in folder.parents:
            return folders
        folder = folder.parent


def _v2_quota(folder: Path) -> float | None:
    try:
        quota, period = (folder / "cpu.max").read_text(encoding="utf-8").split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        return None


def _v1_quota(folder: Path) -> float | None:
    try:
        quota = int((folder / "cpu.cfs_quota_us").read_text(encoding="utf-8"))
        period = int((folder / "cpu.cfs_period_us").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return None if quota <= 0 or period <= 0 else quota / period  # (-1: no quota)


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages (``None`` where the OS has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):  # (Windows has no getloadavg)
        return None


def memory_gb() -> float | None:
    """Total memory in GiB (``/proc/meminfo``), else ``None``."""
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


#: Open files below which a run is refused (a run with a video, a recording, the statistics file,
#: ZeroMQ, VMC and two people ran at 18 and failed at 17; ZeroMQ aborts the process when it runs out)
MIN_OPEN_FILES = 64
#: The soft limit raised to, as far as the hard limit allows (a shell's `ulimit -n` sets both)
WANTED_OPEN_FILES = 1024


def raise_open_file_limit() -> str | None:
    """Raise this process's soft limit on open files to :data:`WANTED_OPEN_FILES` where it is lower
    and the hard limit allows; the one-line problem when even the hard limit is under
    :data:`MIN_OPEN_FILES` (QA: `ulimit -n 16` aborted with no word, 14 was a traceback, 12 blamed
    the output's folder and 13 the model), else ``None``."""
    try:
        import resource
    except ImportError:  # Windows: no such limit
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    ceiling = WANTED_OPEN_FILES if hard == resource.RLIM_INFINITY else min(hard, WANTED_OPEN_FILES)
    if soft != resource.RLIM_INFINITY and soft < ceiling:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (ceiling, hard))
            soft = ceiling
        except (ValueError, OSError):
            pass
    if soft != resource.RLIM_INFINITY and soft < MIN_OPEN_FILES:
        return (f"this process may open only {soft} files at once (ulimit -n), and posecast needs "
                f"{MIN_OPEN_FILES}: raise the limit, e.g. `ulimit -n {WANTED_OPEN_FILES}`")
    return None


def address_space_limit_mib() -> float | None:
    """This process's address-space limit (``ulimit -v``, ``prlimit --as``) in MiB, or ``None``."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
    except (ImportError, OSError, ValueError):  # (Windows: no resource module)
        return None
    return None if soft == resource.RLIM_INFINITY else soft / 2**20


def address_space_left(mib: float) -> bool:
    """Whether ``mib`` MiB more address space can be mapped now under this process's limit (tried:
    a mapping made and let go at once, which takes no memory); ``True`` without a limit."""
    if address_space_limit_mib() is None:
        return True
    import mmap

    flags = mmap.MAP_PRIVATE | getattr(mmap, "MAP_ANONYMOUS", 0)
    try:
        mmap.mmap(-1, int(mib * 2**20), flags=flags, prot=mmap.PROT_READ).close()
    except OSError:
        return False
    return True


def out_of_memory_text() -> str:
    """The one line for a command that ran out of memory, naming the address-space limit where one
    is set (constrained-machine QA: a ``MemoryError`` traceback at 850 MB, an ``ImportError`` one
    at 400 MB, and a model called corrupt at 850 MB)."""
    limit = address_space_limit_mib()
    if limit is None:
        return "out of memory: close other programs"
    return (f"out of memory within this process's address-space limit of {limit:.0f} MiB (ulimit -v): raise the "
            "limit (posecast run needs about 1.1 GiB of it)")


#: The least address space (MiB) posecast loads in: its libraries alone map about 500 MiB, and the
#: least any command was measured to work in is 860 (``lift``, ``export``); between about 480 and
#: 515 scipy's OpenBLAS retried a refused 32 MiB buffer for ever as it loaded (constrained-machine QA)
MIN_ADDRESS_SPACE_MIB = 768


#: The least address space (MiB) the commands that run MediaPipe and the lifter with a video writer
#: or a subscriber process beside them were measured to work in, with two malloc arenas (2 cores):
#: under it ``demo`` and ``bench`` crashed, aborted in ZeroMQ or MediaPipe, or stopped at a
#: MemoryError now and then (1,060-1,150 MiB); both ran at 1,300 (constrained-machine QA)
COMMAND_ADDRESS_SPACE_MIB = {"demo": 1300, "bench": 1300}


def address_space_too_small(command: str | None = None) -> str | None:
    """The one line for an address-space limit too small for posecast to load, or for
    ``command`` to run (asked before any library loads: under it some hang, deaf to signals, or
    crash rather than fail), else ``None``."""
    limit = address_space_limit_mib()
    needed = COMMAND_ADDRESS_SPACE_MIB.get(command or "", MIN_ADDRESS_SPACE_MIB)
    if limit is None or limit >= needed:
        return None
    if needed > MIN_ADDRESS_SPACE_MIB:
        what = f"posecast {command} needs: raise the limit"
    else:
        what = "posecast needs to load its libraries: raise the limit (posecast run needs about 1.1 GiB of it)"
    return f"this process's address-space limit of {limit:.0f} MiB (ulimit -v) is below the {needed} MiB {what}"


def fewer_malloc_arenas(arenas: int = 2) -> bool:
    """Under an address-space limit, ask glibc's malloc for at most ``arenas`` arenas: it reserves
    64 MiB of address space for each thread's own (MediaPipe, ONNX Runtime and OpenCV start a dozen),
    and under a 1.4 GiB limit a thread MediaPipe could not start left it waiting for ever, or aborted
    without a word (constrained-machine QA; with two arenas ``run`` works from 1.05 GiB). Returns
    whether it was asked (not without a limit, nor off glibc)."""
    if address_space_limit_mib() is None:
        return False
    try:
        import ctypes

        return bool(ctypes.CDLL(None).mallopt(_M_ARENA_MAX, arenas))
    except (AttributeError, OSError):  # no mallopt: not glibc
        return False


_M_ARENA_MAX = -8  # glibc's malloc.h


def thread_start_failed(exc: BaseException) -> bool:
    """Whether ``exc`` is Python's failure to start a thread (a limit on threads or memory)."""
    return isinstance(exc, RuntimeError) and str(exc) == "can't start new thread"


def thread_limit_text() -> str:
    """The one line for a command that could not start a thread (QA: a traceback under a limit)."""
    return ("cannot start another thread: this process is at a limit on threads (ulimit -u, a container's pids "
            f"limit) or on memory{memory_limit_hint()}: raise it")


def limit_error_text(exc: BaseException) -> str | None:
    """The one line for an error a limit on memory or threads caused (a ``MemoryError``, a native
    module whose mapping was refused, a thread that could not start), else ``None``: one answer
    for the command line's loading and for its commands."""
    if isinstance(exc, MemoryError) or (isinstance(exc, ImportError) and memory_import_error(exc)):
        return out_of_memory_text()
    return thread_limit_text() if thread_start_failed(exc) else None


def memory_limit_hint() -> str:
    """Said beside a library's failure that may be memory's under an address-space limit (a decoder
    that cannot allocate says it cannot decode): ``""`` without a limit."""
    limit = address_space_limit_mib()
    return "" if limit is None else f" (or memory: this process's address-space limit is {limit:.0f} MiB, ulimit -v)"


def memory_import_error(exc: ImportError) -> bool:
    """Whether a native module failed to load for want of memory (its mapping refused) rather than
    being missing; asked of the errors it was raised from too (scipy re-raises a refused mapping as
    "the scipy install you are using seems to be broken"; constrained-machine QA)."""
    seen: BaseException | None = exc
    for _ in range(8):  # (a chain is short; a cycle is possible)
        if seen is None:
            return False
        if isinstance(seen, MemoryError):
            return True
        text = str(seen).lower()
        if "cannot allocate memory" in text or "failed to map segment" in text or "memoryerror" in text:
            return True
        seen = seen.__cause__ or seen.__context__
    return False

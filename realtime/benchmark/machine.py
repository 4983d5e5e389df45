"""The machine a benchmark ran on, and its process's CPU use and resident memory over time.

Linux first (``/proc``), with portable fallbacks (``platform``, ``resource``) elsewhere; nothing
here needs a package beyond the standard library. What else was running is recorded as the
load average and the busiest other processes' names (never their command lines).
"""

from __future__ import annotations

import hashlib
import os
import platform
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ...engines.fileio import file_sha256
from ...engines.host import cpu_name, cpuinfo, flags_of_interest, load_average, memory_gb, usable_cores
from ...engines.install import installed_versions

_PACKAGES = ("posecast", "numpy", "onnxruntime", "onnxruntime-gpu", "mediapipe", "opencv-contrib-python", "pyzmq",
             "msgpack", "tensorrt", "torch")  # fmt: skip


def versions() -> dict[str, str]:
    """Installed versions of the packages a benchmark depends on (absent ones left out)."""
    return installed_versions(_PACKAGES)


def machine_info() -> dict:
    """CPU model, cores (and those this process may use), flags of interest, memory, OS,
    versions, load average."""
    return {
        "hostname": platform.node(),
        "cpu_model": cpu_name(),
        "cpu_cores": os.cpu_count(),
        "cpu_cores_usable": usable_cores(),
        "cpu_flags": flags_of_interest(),
        "cache": cpuinfo().get("cache size"),
        "memory_gb": memory_gb(),
        "os": f"{platform.system()} {platform.release()}",
        "arch": platform.machine(),
        "versions": versions(),
        "load_average": load_average(),
    }


def sha256_if_file(path: str | Path) -> str | None:
    """The sha256 of the file at ``path`` (a model, the clip; ``None`` when it is no file, such as
    a camera index): two reports used the same file when these match, whatever it was called."""
    return file_sha256(path) if path and Path(path).is_file() else None


def source_sha256(path: str | Path) -> str | None:
    """A clip's fingerprint: its file's sha256, or an image folder's, over each file's name and
    sha256 in name order (QA: a folder had none, and two reports could not be told to have measured
    the same frames); ``None`` for a camera or stream."""
    if not path or not Path(path).is_dir():
        return sha256_if_file(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in Path(path).iterdir() if p.is_file()):
        digest.update(os.fsencode(file.name) + f"\0{file_sha256(file)}\n".encode())  # (the name's own bytes: QA)
    return digest.hexdigest()


def rss_mb() -> float:
    """This process's resident memory now, MB (peak so far where ``/proc`` is missing)."""
    try:
        with open("/proc/self/statm", encoding="utf-8") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 1e6 if platform.system() == "Darwin" else peak / 1e3


def cpu_seconds() -> float:
    """User + system CPU time of this process so far (all threads)."""
    t = os.times()
    return t.user + t.system


def others_busy_percent(seconds: float = 0.5) -> float | None:
    """CPU the other processes use now, in % of one core: the machine's busy time over the next
    ``seconds`` less this process's (``None`` without ``/proc/stat``). What the load average
    cannot say: it still counts, for a minute and more, work that has ended."""
    hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    system0, own0, t0 = _system_busy_ticks(), cpu_seconds(), time.monotonic()
    if system0 is None:
        return None
    time.sleep(seconds)
    system1, own1, elapsed = _system_busy_ticks(), cpu_seconds(), max(time.monotonic() - t0, 1e-9)
    return round(max(0.0, 100.0 * ((system1 - system0) / hz - (own1 - own0)) / elapsed), 1)


def _process_ticks() -> dict[int, tuple[str, int]]:
    """pid → (name, user + system clock ticks) of every process readable in ``/proc``."""
    out = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as fh:
                text = fh.read()
        except OSError:
            continue
        name = text[text.find("(") + 1 : text.rfind(")")]
        fields = text[text.rfind(")") + 2 :].split()
        out[int(entry)] = (name, int(fields[11]) + int(fields[12]))
    return out


def _system_busy_ticks() -> int | None:
    """Clock ticks every CPU spent busy since boot (``/proc/stat``; ``None`` where there is none)."""
    try:
        with open("/proc/stat", encoding="utf-8") as fh:
            fields = [int(v) for v in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return user + nice + system + irq + softirq + steal


@dataclass
class Sample:
    """One resource sample: seconds since the sampler started, resident MB, CPU % of one core
    since the previous sample."""

    time_s: float
    rss_mb: float
    cpu_percent: float


@dataclass
class ResourceSampler:
    """Samples this process's resident memory and CPU use every ``interval_s`` on a thread of
    its own (a few microseconds a sample), and at :meth:`stop` the busiest other processes over
    the whole run. ``with`` starts and stops it."""

    interval_s: float = 0.5
    samples: list[Sample] = field(default_factory=list)
    others: list[dict] = field(default_factory=list)
    #: CPU every other process used over the run, in % of one core (the machine's busy time less
    #: this process's and ``exclude_pids``'): also the processes ended meanwhile, and the many
    #: small ones that :attr:`others` (the busiest, 5 % and more, alive at the end) leaves out
    others_cpu_percent: float | None = None

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = time.monotonic()
        self._cpu0 = 0.0
        self._ticks0: dict[int, tuple[str, int]] = {}
        self._system0: int | None = None

    @property
    def t0_ns(self) -> int:
        """``time.monotonic_ns()`` at :meth:`start` (time 0 of the samples)."""
        return int(self._t0 * 1e9)

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> ResourceSampler:
        self._t0 = time.monotonic()
        self._cpu0 = cpu_seconds()
        self._ticks0 = _process_ticks()
        self._system0 = _system_busy_ticks()
        thread = threading.Thread(target=self._loop, name="bench-sampler", daemon=True)
        thread.start()  # (kept once started: stop() joined one that could not start, a second traceback)
        self._thread = thread
        return self

    def now_s(self) -> float:
        """Seconds since :meth:`start` (the time axis of the samples)."""
        return time.monotonic() - self._t0

    def _loop(self) -> None:
        last_t, last_cpu = time.monotonic(), cpu_seconds()
        while not self._stop.wait(self.interval_s):
            t, cpu = time.monotonic(), cpu_seconds()
            self.samples.append(Sample(t - self._t0, rss_mb(), 100.0 * (cpu - last_cpu) / max(t - last_t, 1e-9)))
            last_t, last_cpu = t, cpu

    def stop(self, exclude_pids: tuple[int, ...] = ()) -> None:
        """Stop sampling; record the busiest other processes (not this one nor ``exclude_pids``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        elapsed = max(self.now_s(), 1e-9)
        if not self.samples:  # a run shorter than one interval: one sample at its end (README QA: "peak RSS –")
            self.samples.append(Sample(elapsed, rss_mb(), 100.0 * (cpu_seconds() - self._cpu0) / elapsed))
        ticks1, hz = _process_ticks(), os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        busy = []
        for pid, (name, ticks) in ticks1.items():
            if pid == os.getpid() or pid in exclude_pids:
                continue
            # a process started during the run used all its CPU time in it (it was left unnamed: QA)
            percent = 100.0 * (ticks - self._ticks0.get(pid, ("", 0))[1]) / hz / elapsed
            if percent >= 5.0:
                busy.append({"name": name, "pid": pid, "cpu_percent": round(percent, 1)})
        self.others = sorted(busy, key=lambda p: -p["cpu_percent"])[:8]
        system1 = _system_busy_ticks()
        if system1 is not None and self._system0 is not None:
            own = sum(ticks1.get(pid, ("", 0))[1] - self._ticks0.get(pid, ("", 0))[1]
                      for pid in (os.getpid(), *exclude_pids))  # fmt: skip
            self.others_cpu_percent = round(max(0.0, 100.0 * (system1 - self._system0 - own) / hz / elapsed), 1)

    def __enter__(self) -> ResourceSampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def process_text(process: dict) -> str:
    """One of ``others_running`` as reports say it: ``posecast (pid 812) 10 %``, with the pid where
    recorded (QA: another user's benchmark read "posecast 10 %", as if it were this one)."""
    pid = f" (pid {process['pid']})" if "pid" in process else ""
    return f"{process['name']}{pid} {process['cpu_percent']:.0f} %"

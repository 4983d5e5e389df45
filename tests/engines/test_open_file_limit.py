"""The open-file limit: a low soft limit is raised, a low hard limit refused in one line (QA:
`ulimit -n 16` aborted a run with no word, 14 was a traceback, 12 blamed the output's folder and 13
the model). Run in child processes whose limits are set before they start."""

from __future__ import annotations

import resource
import subprocess
import sys

from posecast.engines.host import MIN_OPEN_FILES, WANTED_OPEN_FILES


def _limited(soft: int, hard: int, *argv: str) -> subprocess.CompletedProcess:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    return subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=120, preexec_fn=limit)


def test_a_low_soft_limit_is_raised_as_far_as_the_hard_one_allows() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    code = ("import resource; from posecast.engines.host import raise_open_file_limit as p; "
            "print(p(), resource.getrlimit(resource.RLIMIT_NOFILE)[0])")  # fmt: skip
    done = _limited(16, hard, "-c", code)
    wanted = WANTED_OPEN_FILES if hard == resource.RLIM_INFINITY else min(hard, WANTED_OPEN_FILES)
    assert done.returncode == 0 and done.stdout.split() == ["None", str(wanted)], done.stderr
    done = _limited(16, 40, "-c", code)  # raised to the hard limit, under the minimum: said
    assert done.stdout.startswith("this process may open only 40 files at once (ulimit -n)"), done.stdout


def test_a_hard_limit_too_low_is_one_line_before_any_work() -> None:
    done = _limited(16, 16, "-m", "posecast.realtime.cli", "assets", "list")
    assert done.returncode == 2 and done.stdout == "", done.stderr
    said = (f"posecast: error: this process may open only 16 files at once (ulimit -n), and posecast needs "
            f"{MIN_OPEN_FILES}: raise the limit, e.g. `ulimit -n {WANTED_OPEN_FILES}`\n")
    assert done.stderr == said

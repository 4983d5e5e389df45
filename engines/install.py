"""How to install what an optional feature needs, worded for the way posecast itself was installed."""

from __future__ import annotations

import functools
import subprocess
from importlib import metadata
from pathlib import Path

#: The source checkout posecast runs from, when it runs from one (an editable install,
#: ``pip install -e .``): the folder holding ``pyproject.toml`` above the ``engines`` package.
_CHECKOUT = Path(__file__).resolve().parent.parent


def source_checkout() -> Path | None:
    """The checkout folder of an editable install (``pip install -e .``), else ``None`` (a wheel)."""
    return _CHECKOUT if (_CHECKOUT / "pyproject.toml").is_file() else None


def install_hint(extra: str) -> str:
    """The pip command that adds the optional dependencies ``extra`` (e.g. ``"train"``):
    ``pip install -e ".[train]"`` in the checkout for an editable install, else
    ``pip install "posecast[train]"``."""
    checkout = source_checkout()
    if checkout is not None:
        return f'pip install -e ".[{extra}]" (in {checkout})'
    return f'pip install "posecast[{extra}]"'


def installed_versions(names: tuple[str, ...]) -> dict[str, str]:
    """Python's version and each package of ``names`` that is installed (absent ones left out):
    what a benchmark's times depend on."""
    import platform

    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def code_version() -> dict[str, str | None]:
    """posecast's version and, when it runs from a git checkout, the commit (``+`` when the
    checkout has changes) and its date (``git_date``, YYYY-MM-DD): which code a measurement
    measured, to compare two of them. Asked of git once a process (every take's header asks)."""
    return dict(_code_version())


@functools.cache
def _code_version() -> dict[str, str | None]:
    try:
        version = metadata.version("posecast")
    except metadata.PackageNotFoundError:
        version = None
    checkout, commit, date = source_checkout(), None, None
    if checkout is not None:
        # (--no-optional-locks: `git status` takes no index.lock in the checkout, which a user's git may want)
        git = ["git", "--no-optional-locks", "-C", str(checkout)]
        try:
            head = subprocess.run([*git, "log", "-1", "--format=%H %cd", "--date=short"], capture_output=True,
                                  text=True, timeout=5)  # fmt: skip (%cd with --date=short: git before 2.21 has no %cs)
            if head.returncode == 0 and len(fields := head.stdout.split()) == 2:
                dirty = subprocess.run([*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                                       text=True, timeout=5).stdout.strip()  # fmt: skip
                commit, date = fields[0] + ("+" if dirty else ""), fields[1]
        except (OSError, subprocess.SubprocessError):  # no git here: the version alone
            pass
    return {"version": version, "git_commit": commit, "git_date": date}


def version_text() -> str:
    """posecast's version as ``--version`` says it: with the commit and its date when it runs from
    a git checkout, as the README dates its changes (upgrade QA: every build said 0.1.0)."""
    code = code_version()
    text = code["version"] or "unknown (not installed)"
    if code["git_commit"]:
        changed = ", with local changes" if code["git_commit"].endswith("+") else ""
        text += f" (commit {code['git_commit'][:10]} of {code['git_date']}{changed})"
    return text

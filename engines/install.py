"""How to install what an optional feature needs, worded for the way posecast itself was installed."""

from __future__ import annotations

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

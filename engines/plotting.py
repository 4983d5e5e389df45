"""matplotlib, imported once for the pictures posecast writes (``bench``'s plots, training's losses).

Where the home folder cannot be written (a container, a service account), matplotlib makes a
temporary configuration folder, removes it at exit and says so in two warnings that advise
setting ``MPLCONFIGDIR``: noise on a command's output about a tool the user never asked for, so
they are muted while it is imported.
"""

from __future__ import annotations

import logging
from types import ModuleType

from .logs import quieter


def pyplot() -> ModuleType | None:
    """``matplotlib.pyplot`` on the file-only Agg backend, or ``None`` when matplotlib is not installed."""
    with quieter(logging.ERROR, "matplotlib"):
        try:
            import matplotlib
        except ImportError:
            return None
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    return plt

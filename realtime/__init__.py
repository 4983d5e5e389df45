"""The live pipeline: source → 2D detector → lifting → sinks (see ``stages.py`` and the README's
Architecture section), and the ``posecast`` command line (``cli.py``, ``commands/``)."""

from .. import engines as _engines  # noqa: F401 - first: it sets OpenCV's image limit before cv2 loads

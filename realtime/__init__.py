"""The live pipeline: source → 2D detector → lifting → sinks (see ``stages.py`` and the README's
Architecture section), and the ``posecast`` command line (``cli.py``, ``commands/``)."""

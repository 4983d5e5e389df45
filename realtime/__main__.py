"""``python -m posecast.realtime``: the ``posecast`` command where its console script is not on
``PATH`` (a venv not activated, a user install on Windows)."""

import sys

from .launch import main

sys.exit(main())

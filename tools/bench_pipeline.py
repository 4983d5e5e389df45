#!/usr/bin/env python
"""The live pipeline's latency benchmark: now ``posecast bench`` (this script forwards to it).

    python tools/bench_pipeline.py --source tests/fixtures/media/dance_576.mp4 --output bench/
    # is
    posecast bench --source tests/fixtures/media/dance_576.mp4 --output bench/

Per stage and end to end (capture → published → received by a subscriber process), against
MediaPipe alone on the same frames in the same run; ``posecast bench --help`` lists the options.
"""

from __future__ import annotations

import sys

from posecast.realtime.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))

"""Benchmark the runtime backends: ``python tools/bench_engines.py [posecast engines bench options]``.

A thin wrapper over ``posecast engines bench`` (see :mod:`posecast.realtime.commands.engines`), e.g.
``python tools/bench_engines.py --backend all --batch 1,4,16 --json bench.json --markdown bench.md``.
"""

from __future__ import annotations

import sys

from posecast.realtime.cli import main

if __name__ == "__main__":
    sys.exit(main(["engines", "bench", *sys.argv[1:]]))

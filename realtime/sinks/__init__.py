"""Sinks: where poses go (:class:`~posecast.realtime.stages.Sink`). One file per output.

To add one: write ``sinks/NAME.py`` with a :class:`Sink` subclass (``name``, ``write``; optional
``open``, ``update_meta``, ``close``, and ``add_arguments``/``from_args`` for its command-line
options), then add one line to :data:`SINKS`. ``posecast run`` offers every registered sink's
options and builds the ones the arguments ask for, in registry order.
"""

from __future__ import annotations

from ..stages import Sink
from .console import ConsoleSink
from .record import RecordSink
from .stats import StatsSink
from .video import VideoSink
from .view import ViewSink
from .vmc import VmcSink
from .zmq import ZmqSink

#: name → sink class, in the order the pipeline writes to them (the stats sink last: it times them).
SINKS: dict[str, type[Sink]] = {
    "zmq": ZmqSink,
    "vmc": VmcSink,
    "console": ConsoleSink,
    "view": ViewSink,
    "video": VideoSink,
    "record": RecordSink,
    "stats": StatsSink,
}

__all__ = ["SINKS", "ConsoleSink", "RecordSink", "Sink", "StatsSink", "VideoSink", "ViewSink", "VmcSink", "ZmqSink"]

"""Runs a sink's ``write`` on a thread of its own, so a slow or blocked sink never stalls the pipeline.

The pipeline wraps every sink with ``inline = False`` in a :class:`BackgroundSink`: ``write``
puts the frame in a queue of ``sink.queue_frames`` and returns at once; when the queue is full
the oldest frame is dropped and counted in the sink's ``dropped_frames``. An exception in the
sink's ``write`` is kept and raised from the next ``write`` or ``close`` (the pipeline then
detaches the sink). ``close`` waits up to ``close_timeout_s`` for the queue to drain, then closes
the sink.
"""

from __future__ import annotations

import collections
import logging
import threading

from ..stages import Sink
from ..types import PoseFrame, StreamMeta

log = logging.getLogger(__name__)


class BackgroundSink(Sink):
    """``sink`` behind a drop-oldest queue and a worker thread (see the module docstring)."""

    inline = True  # the wrapper itself never blocks

    def __init__(self, sink: Sink, close_timeout_s: float = 2.0) -> None:
        self.sink = sink
        self.name = sink.name  # type: ignore[misc] - the wrapped sink's registry name
        self.close_timeout_s = close_timeout_s
        self._queue: collections.deque[tuple[str, object]] = collections.deque()
        self._limit = max(1, int(sink.queue_frames))
        self._ready = threading.Condition()
        self._closing = False
        self._busy = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name=f"sink-{sink.name}", daemon=True)
        self._thread.start()

    def open(self, meta: StreamMeta) -> None:
        self.sink.open(meta)

    def update_meta(self, meta: StreamMeta) -> None:
        self._put("meta", meta)

    def write(self, frame: PoseFrame) -> None:
        self._put("frame", frame)

    def source_stalled(self, notice: PoseFrame) -> None:
        self._put("stalled", notice)

    def _put(self, kind: str, item: object) -> None:
        with self._ready:
            self._raise_pending()
            frames = sum(k == "frame" for k, _ in self._queue)
            if kind == "frame" and frames >= self._limit:
                for i, (k, _) in enumerate(self._queue):  # drop the oldest frame, keep meta updates
                    if k == "frame":
                        del self._queue[i]
                        break
                self.sink.dropped_frames += 1
            self._queue.append((kind, item))
            self._ready.notify()

    def _raise_pending(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _work(self) -> None:
        while True:
            with self._ready:
                self._ready.wait_for(lambda: self._queue or self._closing)
                if not self._queue:
                    return
                kind, item = self._queue.popleft()
                self._busy = True
            try:
                if kind == "frame":
                    self.sink.write(item)  # type: ignore[arg-type]
                elif kind == "stalled":
                    self.sink.source_stalled(item)  # type: ignore[arg-type]
                else:
                    self.sink.update_meta(item)  # type: ignore[arg-type]
            except BaseException as exc:  # handed to the pipeline's thread, raised there
                with self._ready:
                    self._error = exc
                    self._queue.clear()
            finally:
                with self._ready:
                    self._busy = False
                    self._ready.notify_all()

    @property
    def dropped_frames(self) -> int:  # type: ignore[override]
        return self.sink.dropped_frames

    @property
    def stop_requested(self) -> bool:
        return self.sink.stop_requested

    def close(self) -> None:
        """Drain the queue (up to ``close_timeout_s``), stop the thread, close the sink; raises
        the sink's pending error, if any."""
        with self._ready:
            self._closing = True
            self._ready.notify_all()
            drained = self._ready.wait_for(lambda: not self._queue and not self._busy, self.close_timeout_s)
        if not drained:  # the sink is stuck in write: give up on what is queued, close it anyway
            with self._ready:
                left = sum(k == "frame" for k, _ in self._queue)
                self.sink.dropped_frames += left
                self._queue.clear()
            log.warning("output %s did not finish within %.1f s: %d queued frames not written; closing it anyway",
                        self.name, self.close_timeout_s, left)  # fmt: skip
        else:
            self._thread.join(timeout=self.close_timeout_s)
        try:
            self._raise_pending()
        finally:
            self.sink.close()

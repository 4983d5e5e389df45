"""Runs a sink's ``write`` on a thread of its own, so a slow or blocked sink never stalls the pipeline.

The pipeline wraps every sink with ``inline = False`` in a :class:`BackgroundSink`: ``write``
puts the frame in a queue of ``sink.queue_frames`` and returns at once; when the queue is full
the oldest frame is dropped and counted in the sink's ``dropped_frames`` — except a file's frame
(:attr:`~posecast.realtime.types.PoseFrame.on_media_time`) for a sink with
``keeps_file_frames``, which waits for room (a file has no live deadline: ``--print json | slow
reader`` used to lose the lines the reader had not taken, exit 0), saying so once it has waited
:data:`WAIT_WARNING_S`, until a stop (:meth:`BackgroundSink.hurry`: Ctrl-C, or
``Pipeline.close()`` from another thread) ends the wait. An exception in the sink's
``write`` is kept and raised from the next ``write`` or ``close`` (the pipeline then detaches the
sink). ``close`` (:meth:`BackgroundSink.begin_close` first, which the pipeline calls on every
output at once, so that stalled outputs cost one timeout, not one each) lets the queue drain:

- a data output (``keeps_file_frames``) while it makes progress, so that a slow recorder's take
  ends whole however long that takes, and until it has written nothing for ``close_timeout_s``;
  a file's frames for it wait without a bound, like any Unix pipe, until a stop (Ctrl-C, or
  ``Pipeline.close()`` from another thread) or progress;
- any other output for ``close_timeout_s`` in all: its frames are live ones it may drop anyway.

The frames not written then are counted (``dropped_frames``) and logged, naming the output; the
write under way is waited for while it makes progress. Then the sink is closed on the caller's
thread, a data output's always (its file's footer is never cut short: a recorder whose disk does
not answer holds the close until it does, or until Ctrl-C, which leaves the take its ``.part``).
Another output whose write is stuck is closed beside it for at most ``close_timeout_s``: a
``close`` that does not return by then is logged and left to finish on its own thread (its error
logged), and ``close`` returns.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
import time
from collections.abc import Callable

from ..stages import Sink, output_labels
from ..types import PoseFrame, StreamMeta

log = logging.getLogger(__name__)

#: A file's frame waiting this long for a sink that keeps them is logged (once per sink): a reader
#: that stopped reading holds the run, which otherwise looked hung with nothing said (QA).
WAIT_WARNING_S = 10.0


class BackgroundSink(Sink):
    """``sink`` behind a drop-oldest queue and a worker thread (see the module docstring)."""

    inline = True  # the wrapper itself never blocks
    #: how long :meth:`close` waits for a sink that makes no progress
    close_timeout_default_s = 2.0

    def __init__(self, sink: Sink, close_timeout_s: float = close_timeout_default_s, label: str = "") -> None:
        self.sink = sink
        #: the wrapped sink's name in messages (the pipeline's :func:`~posecast.realtime.stages.output_labels`)
        self.name = label or output_labels([sink])[0]  # type: ignore[misc]
        self.close_timeout_s = close_timeout_s
        self._queue: collections.deque[tuple[str, object]] = collections.deque()
        self._limit = max(1, int(sink.queue_frames))
        self._ready = threading.Condition()
        self._closing = False
        self._hurried = False  # stopped: a file's frame no longer waits for room
        self._warned_wait = False
        self._busy = False
        self._error: BaseException | None = None
        #: the frame whose ``write`` raised (``None``: none did, or it was a meta update)
        self.failed_frame_id: int | None = None
        #: what raised when it was not a frame: "meta" (``update_meta``) or "stalled" (``source_stalled``)
        self.failed_on: str | None = None
        self._progress_at = time.monotonic()  # when the worker last finished one
        self._close_began: float | None = None  # begin_close(): the drain's clock starts there
        self._file_frames = False  # a file's frames for a sink that keeps them: close() waits for all
        self._thread = threading.Thread(target=self._work, name=f"sink-{self.name}", daemon=True)
        self._thread.start()

    def open(self, meta: StreamMeta) -> None:
        self.sink.open(meta)

    def update_meta(self, meta: StreamMeta) -> None:
        self._put("meta", meta)

    def write(self, frame: PoseFrame) -> None:
        # the frame as handed over: the pipeline goes on to add its "publish" stage to stage_ns and
        # to stamp delivered_ns, which the worker, writing later, must not take for this frame's;
        # delivered_ns here is when this sink had the frame (the inline ZeroMQ output publishes then)
        self._put("frame", dataclasses.replace(frame, stage_ns=dict(frame.stage_ns), delivered_ns=time.monotonic_ns()))

    def source_stalled(self, notice: PoseFrame) -> None:
        self._put("stalled", notice)

    def _put(self, kind: str, item: object) -> None:
        with self._ready:
            self._raise_pending()
            keeps = kind == "frame" and self.sink.keeps_file_frames and item.on_media_time  # type: ignore[attr-defined]
            if keeps and not self._hurried:
                self._file_frames = True
                began = time.monotonic()
                while self._frames_queued() >= self._limit and self._error is None and not self._hurried:
                    self._ready.wait(0.5)  # (a timeout: Ctrl-C is taken between waits)
                    if self._may_warn_of_wait(began):
                        self._warn_of_wait()
                self._raise_pending()
            if keeps and self._hurried and self._frames_queued() >= self._limit:
                self.sink.dropped_frames += 1  # stopped: a file's output ends at the frames it had, none skipped
                return
            if kind == "frame" and self._frames_queued() >= self._limit:
                for i, (k, _) in enumerate(self._queue):  # drop the oldest frame, keep meta updates
                    if k == "frame":
                        del self._queue[i]
                        break
                self.sink.dropped_frames += 1
            self._queue.append((kind, item))
            self._ready.notify()

    def _may_warn_of_wait(self, since: float) -> bool:
        return not self._warned_wait and time.monotonic() - since >= WAIT_WARNING_S

    def _warn_of_wait(self) -> None:
        self._warned_wait = True
        log.warning("output %s has taken no frame for %.0f s: the run waits for it (it keeps every frame of a "
                    "file); Ctrl-C stops the run", self.name, WAIT_WARNING_S)  # fmt: skip

    def _frames_queued(self) -> int:
        return sum(k == "frame" for k, _ in self._queue)

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
                    if kind == "frame":  # the pipeline notices later, at a newer frame: name this one
                        self.failed_frame_id = item.frame_id  # type: ignore[attr-defined]
                    else:  # (QA: a meta update's failure before frame 0 read "failed at frame 1")
                        self.failed_on = kind
                    self._queue.clear()
            finally:
                with self._ready:
                    self._busy = False
                    self._progress_at = time.monotonic()
                    self._ready.notify_all()

    @property
    def dropped_frames(self) -> int:  # type: ignore[override]
        return self.sink.dropped_frames

    @property
    def stop_requested(self) -> bool:
        return self.sink.stop_requested

    def discard(self) -> None:
        """Stop the thread (nothing was queued: no frame reached the outputs), discard the sink."""
        with self._ready:
            self._closing = True
            self._queue.clear()
            self._ready.notify_all()
        self._thread.join(timeout=self.close_timeout_s)
        self._finish_sink(self.sink.discard, beside_a_write=self._thread.is_alive())

    def on_its_thread(self) -> bool:
        """Whether the caller is this output's own thread (inside its sink's write)."""
        return threading.current_thread() is self._thread

    def hurry(self) -> None:
        """The run was stopped (Ctrl-C, SIGTERM, a close from another thread): a file's frame no
        longer waits for room, and :meth:`close` waits at most ``close_timeout_s`` for a stalled
        sink, a file's frames too."""
        with self._ready:
            self._file_frames = False
            self._hurried = True
            self._ready.notify_all()

    def begin_close(self) -> None:
        """Start draining towards :meth:`close` (its clock starts here; safe to call twice)."""
        with self._ready:
            if self._close_began is None:
                self._close_began = time.monotonic()
            self._closing = True
            self._ready.notify_all()

    def _drain_deadline(self) -> float:
        """When :meth:`close` stops waiting for the queue (module docstring)."""
        began = self._close_began if self._close_began is not None else time.monotonic()
        if not self.sink.keeps_file_frames:  # live frames it may drop: no longer than the timeout in all
            return began + self.close_timeout_s
        return max(began, self._progress_at) + self.close_timeout_s  # a recording: while it makes progress

    def close(self) -> None:
        """Drain the queue (module docstring), stop the thread, close the sink; raises the sink's
        pending error, if any. A stop signal while it waits for a stalled sink ends the wait: the
        sink is closed, then the signal's exception raised."""
        self.begin_close()
        stopped: KeyboardInterrupt | None = None
        with self._ready:
            while (self._queue or self._busy) and (self._file_frames or time.monotonic() < self._drain_deadline()):
                try:
                    self._ready.wait(max(0.5 if self._file_frames else 0.0, self._drain_deadline() - time.monotonic()))
                except KeyboardInterrupt as stop:  # (the lock is held again: wait re-acquires it)
                    stopped = stop
                    break
                if self._file_frames and self._may_warn_of_wait(self._progress_at):  # (QA: said in _put only)
                    self._warn_of_wait()
            drained = not self._queue and not self._busy
        stuck = False
        if drained:
            self._thread.join(timeout=self.close_timeout_s)
        else:  # stuck in write, or out of time: give up on what is queued, close it anyway
            self._give_up(stopped is not None)
            stuck = stopped is None and not self._write_finished()
        try:
            self._raise_pending()
        finally:
            self._finish_sink(self.sink.close, beside_a_write=stuck)
        if stopped is not None:
            raise stopped

    def _write_finished(self) -> bool:
        """Wait for the write under way, if any, while it makes progress (the queue given up: the
        frame being written is not cut off; review: a user's file output slower than the camera
        had its file closed under a write that was about to finish, the frame lost unsaid);
        False when it wrote nothing for ``close_timeout_s``."""
        with self._ready:
            while self._busy and time.monotonic() < self._progress_at + self.close_timeout_s:
                self._ready.wait(self._progress_at + self.close_timeout_s - time.monotonic())
            return not self._busy

    def _give_up(self, stopped: bool) -> None:
        """Count and log the frames still queued, which are not written."""
        with self._ready:
            left = self._frames_queued()
            self.sink.dropped_frames += left
            self._queue.clear()
            idle_s = time.monotonic() - self._progress_at
        if stopped:
            why = "was stopped while it waited"
        elif idle_s >= self.close_timeout_s:
            why = f"wrote nothing for {self.close_timeout_s:g} s"
        else:
            why = f"did not finish its queue in {self.close_timeout_s:g} s (it keeps no file's every frame)"
        log.warning("output %s %s: %d queued frames not written; closing it anyway", self.name, why, left)

    def _finish_sink(self, finish: Callable[[], None], beside_a_write: bool) -> None:
        """``finish`` (the sink's close or discard). Beside a write that is stuck, an output that
        keeps no file's every frame gets ``close_timeout_s``: one that has not returned by then is
        left to finish on its own thread, said (its error then logged). A data output (a recorder)
        is finished here, however long its disk takes: its file is worth the wait, and Ctrl-C ends
        it (review: given up after 2 s, a take on a slow disk was left a .part, exit 0)."""
        if not beside_a_write or self.sink.keeps_file_frames:
            finish()
            return
        outcome: dict[str, object] = {}
        lock = threading.Lock()

        def run() -> None:
            try:
                finish()
            except BaseException as exc:  # raised on the caller's thread if it still waits, else logged
                with lock:
                    outcome["error"] = exc
                    late = outcome.get("left") is True
                if late:
                    log.warning("output %s failed as it finished closing: %s", self.name, exc)

        finisher = threading.Thread(target=run, name=f"sink-{self.name}-close", daemon=True)
        finisher.start()
        finisher.join(self.close_timeout_s)
        with lock:
            if finisher.is_alive():
                outcome["left"] = True
        if outcome.get("left"):
            log.warning("output %s did not finish closing in %g s (its write is stuck): it is left to finish on its "
                        "own thread, if it ever can", self.name, self.close_timeout_s)  # fmt: skip
            return
        if "error" in outcome:
            raise outcome["error"]  # type: ignore[misc]

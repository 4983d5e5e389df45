"""The live pipeline, wiring only: source → 2D detector → lifting → every sink.

::

    FrameSource ─Frame─▶ Detector2D ─Detections2D─▶ PoseLifting ─[PersonPose]─▶ PoseFrame ─▶ Sink, Sink, ...

Per frame (:meth:`Pipeline.process`): ``keypoints2d`` (the detector), then the lifting stage's
``window``, ``lift`` and ``smooth``, with an avatar world ``world`` (the people stood on the
floor, :mod:`posecast.realtime.avatar`, in ``PoseFrame.world``), then ``publish``: the frame is
handed to every sink in order (inline sinks are called, threaded ones get it queued; see
:class:`~posecast.realtime.stages.Sink`). When the image size or the floor's state changes
every sink gets the new :class:`StreamMeta` (the floor in its assumptions). A sink whose ``write`` raises
is detached (logged once) and the others go on; :meth:`Pipeline.run` then ends after that
frame with a :class:`SinkError`.

The stages are built elsewhere (:mod:`posecast.realtime.assemble` from options, the commands
from arguments, tests from fakes) and handed in; the pipeline owns them and closes them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
import weakref
from collections.abc import Generator, Iterator, Sequence

from ..engines.errors import PosecastError
from ..engines.fileio import check_outputs
from .avatar import AvatarWorld
from .errors import OptionsError, SinkError, SourceStalledError, StageError
from .sinks.background import BackgroundSink
from .sinks.inline import InlineWriteWatch
from .stages import Detector2D, FrameSource, PoseLifting, Sink, output_labels
from .stop_signals import raise_dropped_stop
from .types import Detections2D, Frame, PersonPose, PoseFrame, StreamMeta

log = logging.getLogger(__name__)

#: While the floor is estimated, the meta is sent again with the provisional floor at most this often.
_FLOOR_META_INTERVAL_NS = 1_000_000_000
#: How long :meth:`Pipeline.reset` from another thread waits for the stage under way.
RESET_WAIT_S = 10.0
#: id(sink) → the pipeline it is an output of, until that pipeline closes: one sink given to two
#: pipelines had two threads send on one ZeroMQ socket (corrupt messages), and the first to finish
#: closed it under the other (concurrency QA)
_SINK_OWNERS: dict[int, weakref.ReferenceType[Pipeline]] = {}
_SINK_OWNERS_LOCK = threading.Lock()


def output_of_an_open_pipeline(sink: Sink) -> bool:
    """Whether ``sink`` is an output of a pipeline that is not closed (or is closing it): another
    pipeline refuses it, and it is that pipeline's to close."""
    with _SINK_OWNERS_LOCK:
        return _claimed(sink)


def _claimed(sink: Sink) -> bool:
    owner = _SINK_OWNERS.get(id(sink))
    other = owner() if owner is not None else None
    return other is not None and not other._closed_done.is_set()  # (review: not while it closes it)


def _close_dropped_outputs(outputs: list[Sink]) -> None:
    """A pipeline garbage-collected (or left at exit) unclosed: its opened outputs closed as
    :meth:`Pipeline.close` closes them, errors logged (a finalizer has nobody to raise to)."""
    if not outputs:
        return
    log.warning("a Pipeline was dropped without close(): its outputs are closed now (close it, or use `with`, "
                "to choose when)")  # fmt: skip
    _begin_closing(outputs)
    for output in list(outputs):
        try:
            output.close()
        except Exception as exc:  # noqa: BLE001 - the others are closed all the same
            log.warning("output %s could not be finished: %s", getattr(output, "name", type(output).__name__),
                        _reason(exc))  # fmt: skip
    outputs.clear()


def _begin_closing(outputs: Sequence[Sink]) -> None:
    """Every threaded output starts draining now, side by side: stalled ones cost one
    ``close_timeout_s`` in all, not one each (QA: three stuck outputs held a close 6 s)."""
    for output in outputs:
        if isinstance(output, BackgroundSink):
            output.begin_close()


def _reason(exc: BaseException) -> str:
    """What went wrong in a sink, for its one-line error: an OS error or posecast's own says it in
    words; any other exception is named too (QA: a KeyError read "failed at frame 3: 'missing'").
    Its first line only: the error is one line (QA: scipy's printed a matrix; -v shows all)."""
    lines = str(exc).strip().splitlines() or [""]
    text = lines[0] + (" …" if len(lines) > 1 else "")
    return text if isinstance(exc, OSError | PosecastError) else f"{type(exc).__name__}: {text}"


def _stage_name(stage: object) -> str:
    """A detector's or lifting stage's name in messages: its ``name``, else its class's."""
    return getattr(stage, "name", "") or type(stage).__name__


@contextlib.contextmanager
def _stage_failure(kind: str, stage: object, frame_id: int) -> Iterator[None]:
    """An exception of a stage's own (a plugin's fault, its library's) as one :class:`StageError`
    naming the stage and the frame (QA: a detector's RuntimeError was a 30-line traceback, exit
    1); posecast's own errors (one line already) and stop signals pass as they are."""
    try:
        yield
    except PosecastError:
        raise
    except Exception as exc:
        raise StageError(f"{kind} {_stage_name(stage)} failed at frame {frame_id}: {_reason(exc)} (-v shows "
                         "where)") from exc  # fmt: skip


class Pipeline:
    """``open()`` the sinks, ``process(frame)`` one frame or ``run(source)`` a whole source,
    ``close()`` everything (or use ``with``, which opens and closes)."""

    def __init__(
        self,
        detector: Detector2D,
        lifting: PoseLifting,
        sinks: Sequence[Sink] = (),
        world: AvatarWorld | None = None,
        *,
        sinks_shared: bool = False,
    ) -> None:
        """``sinks_shared``: the sinks are outputs of other pipelines too, run one at a time on one
        thread (the benchmark's configurations); else a sink another open pipeline has is refused."""
        self.detector = detector
        self.lifting = lifting
        self.sinks: list[Sink] = list(sinks)
        if len({id(sink) for sink in self.sinks}) < len(self.sinks):  # (API QA: opened, fed and closed twice)
            raise TypeError("sinks holds one Sink object twice: give each output once (build two for two files)")
        tracked = getattr(lifting, "max_people", None)  # (a stage not made from PoseLifting: unknown)
        if tracked is not None and detector.max_people > tracked:  # (API QA: person 1 was dropped unsaid)
            n = detector.max_people
            raise OptionsError(f"the detector finds up to {n} people a frame but the lifting tracks {tracked}: pass "
                               f"--max-people {n} (in Python: build the lifting with LiftingOptions(tracker="
                               f"TrackerOptions(max_people={n})), or the pipeline with build_pipeline(PipelineOptions("
                               f"max_people={n})))")  # fmt: skip
        #: the people on the floor (``PoseFrame.world``; the floor in the meta's assumptions)
        self.world = world
        self._floor_state: tuple[str, bool] | None = None
        self._floor_sent: tuple[object, int] | None = None  # the floor last in the meta, and its frame's time
        self.failed: dict[str, BaseException] = {}
        #: where an output failed, when not at the frame that noticed it: a threaded output's frame
        #: id (noticed later), or "meta" / "stalled" for its update_meta / source_stalled
        self._failed_at: dict[str, int | str | None] = {}
        self.frames = 0
        self._outputs: list[Sink] = []
        #: the sinks were opened (an empty ``_outputs`` may be every one failed and detached: opened
        #: again, a failed recorder met its own leftover file and closed the pipeline; review)
        self._opened = False
        self._image_size: tuple[int, int] | None = None
        self._source_fps = 0.0
        self._last: PoseFrame | None = None
        #: Stall notices handed to the sinks (a live source silent and retrying; see source_stalled).
        self.stall_notices = 0
        self.closed = False  # the detector and the lifting stage are closed: build another pipeline
        #: the threads inside a stage now (thread id → depth): a close from another thread (a game
        #: loop's) waits for them, then the runs end (QA: ONNX Runtime's AttributeError came instead)
        self._in_stage: dict[int, int] = {}
        self._resets_waiting = 0  # resets waiting for the stages under way (none starts meanwhile)
        self._stages = threading.Condition()
        self._closer: int | None = None  # the thread that closes it
        self._closed_done = threading.Event()
        self._restamped = False  # a detector's detections were given the frame's times (logged once)
        self._run_token: object | None = None  # the latest run's (begin_run)
        self._frame_thread: int | None = None  # the thread processing a run's frame now
        self._threaded_run = False  # a threaded run's 2D thread is running
        self._inline_watch = InlineWriteWatch()  # an inline sink that holds a live frame is said
        self._detached: set[int] = set()  # id(sink) of each output that failed (closed by _detach)
        # dropped unclosed: its outputs are finished all the same (QA: each threaded output's thread,
        # holding its sink, lived on, and a recorder's take stayed a .part for ever)
        self._finish_dropped = weakref.finalize(self, _close_dropped_outputs, self._outputs)
        if not sinks_shared:
            self._claim_sinks()  # last: a pipeline refused above claims none

    def meta(self) -> StreamMeta:
        """The stream's meta data now (intrinsics once the first frame was seen)."""
        # which 2D the 3D was lifted from: a subscriber can tell MediaPipe's from another detector's
        layout = getattr(self.detector, "layout", None)  # (a detector may give it only on its detections)
        assumptions = {"detector": _stage_name(self.detector),
                       "keypoint_layout": getattr(layout, "name", None), **self.lifting.assumptions()}  # fmt: skip
        if self.world is not None:
            assumptions = {**assumptions, **self.world.assumptions()}
        return StreamMeta(
            assumptions=assumptions,
            intrinsics=self.lifting.intrinsics,
            source_fps=self._source_fps,
            max_people=self.detector.max_people,
        )

    def _claim_sinks(self) -> None:
        """Each sink is an output of one pipeline at a time (:data:`_SINK_OWNERS`)."""
        with _SINK_OWNERS_LOCK:
            for sink in self.sinks:
                if _claimed(sink):
                    raise OptionsError(f"output {_stage_name(sink)} is an output of another pipeline that is not "
                                       "closed (or is closing it): give each pipeline its own (one ZmqSink per "
                                       "address, one RecordSink per file)")  # fmt: skip
            for key in [key for key, owner in _SINK_OWNERS.items() if owner() is None]:  # dropped unclosed
                del _SINK_OWNERS[key]
            for sink in self.sinks:
                _SINK_OWNERS[id(sink)] = weakref.ref(self)

    def _release_sinks(self) -> None:
        with _SINK_OWNERS_LOCK:
            for sink in self.sinks:
                if (owner := _SINK_OWNERS.get(id(sink))) is not None and owner() in (self, None):
                    del _SINK_OWNERS[id(sink)]

    def open(self) -> Pipeline:
        """Open every sink with the current meta data; threaded sinks get their thread. A sink
        that cannot open raises (after the ones opened are closed again)."""
        if self._stopped_elsewhere():
            return self
        self._check_open()
        if self._opened:
            return self
        self._opened = True
        meta = self.meta()
        try:
            for sink, label in zip(self.sinks, output_labels(self.sinks), strict=True):
                output = sink if sink.inline else BackgroundSink(sink, label=label)
                self._outputs.append(output)
                try:
                    output.open(meta)
                except PosecastError:
                    raise
                except Exception as exc:  # e.g. an OSError of a file it opens: one line naming the output
                    raise SinkError(f"output {self._label(sink)} could not start: {_reason(exc)}") from exc
        except BaseException:
            self.close(discard=True)  # no frame written: outputs opened before leave no empty file (QA)
            raise
        return self

    def _stopped_elsewhere(self) -> bool:
        """Closed by another thread before any frame was processed: a run that had not begun yet
        ends as one under way does (QA: a game loop that quit before its worker thread reached
        ``with pipeline`` got an error there). A pipeline closed after its frames (a finished
        run's ``with`` block on one worker) stays an error on another (review: a thread pool's next
        job ran 0 frames without a word)."""
        return self.closed and self._closer != threading.get_ident() and self.frames == 0

    def _check_open(self) -> None:
        """Raise :class:`PosecastError` once closed (QA: ONNX Runtime's AttributeError came instead)."""
        if self.closed:
            raise PosecastError("this Pipeline is closed (its models are released): build a new one with "
                                "build_pipeline to run again")  # fmt: skip

    @contextlib.contextmanager
    def _stage(self) -> Iterator[None]:
        """A stage's work, which :meth:`close` from another thread waits for; raises
        :class:`PosecastError` once closed (or closing)."""
        me = threading.get_ident()
        with self._stages:
            self._check_open()
            if me not in self._in_stage:  # (a stage inside one of this thread's goes on)
                self._stages.wait_for(lambda: not self._resets_waiting or self.closed)  # a reset goes first
                self._check_open()
            self._in_stage[me] = self._in_stage.get(me, 0) + 1
        try:
            yield
        finally:
            with self._stages:
                self._in_stage[me] -= 1
                if not self._in_stage[me]:
                    del self._in_stage[me]
                self._stages.notify_all()

    def process(self, frame: Frame) -> PoseFrame:
        """Detect, lift and hand one frame to every sink; returns the :class:`PoseFrame` (each
        stage is one that :meth:`close` waits for)."""
        if not isinstance(frame, Frame):  # (QA: None was an AttributeError inside the detector)
            raise TypeError(f"process takes a Frame (a source's read()), got {type(frame).__name__}")
        stage_ns: dict[str, int] = {}
        return self.finish(frame, self.detect(frame, stage_ns), stage_ns)

    def detect(self, frame: Frame, stage_ns: dict[str, int]) -> Detections2D:
        """The 2D stage alone (timed in ``stage_ns["keypoints2d"]``, and the frame's wait since
        its capture in ``handoff_2d``); the threaded runner (:mod:`posecast.realtime.threaded`)
        calls it on a thread of its own."""
        # a live frame waits while the previous one is processed: latency before the 2D
        stage_ns.setdefault("handoff_2d", max(0, time.monotonic_ns() - frame.capture_ns))
        with self._stage(), _stage_failure("detector", self.detector, frame.frame_id):
            t0 = time.perf_counter_ns()
            detections = self.detector.detect(frame)
            stage_ns["keypoints2d"] = time.perf_counter_ns() - t0
        if not isinstance(detections, Detections2D):  # (QA: None gave an AttributeError naming no detector)
            raise StageError(f"detector {_stage_name(self.detector)}'s detect() returned {type(detections).__name__}, "
                             "not Detections2D (Detections2D.empty(frame, layout) when nobody is seen)")  # fmt: skip
        return detections

    def finish(self, frame: Frame, detections: Detections2D, stage_ns: dict[str, int]) -> PoseFrame:
        """Everything after the 2D stage: lift ``detections`` and hand the frame to every sink."""
        with self._stage():
            return self._finish(frame, detections, stage_ns)

    def _finish(self, frame: Frame, detections: Detections2D, stage_ns: dict[str, int]) -> PoseFrame:
        if not self._opened:
            self.open()
        if detections.timestamp_ns != frame.timestamp_ns or detections.frame_id != frame.frame_id:
            detections = self._stamped(frame, detections)
        with _stage_failure("lifting stage", self.lifting, frame.frame_id):
            people = self.lifting.process(detections, detections.timestamp_ns, stage_ns)
        result = PoseFrame(frame.frame_id, frame.capture_ns, detections.timestamp_ns, detections.image_size, people,
                           stage_ns, frame.image_bgr, detections)  # fmt: skip
        self.frames += 1
        self._last = result
        if self.world is not None:
            t_world = time.perf_counter_ns()
            result.world = self.world.process(result)
            stage_ns["world"] = time.perf_counter_ns() - t_world
        floor = None if result.world is None else result.world.floor
        floor_state = None if floor is None else (floor.state, floor.origin_placed)  # either changes the meta
        changed = detections.image_size != self._image_size or frame.source_fps != self._source_fps
        # a provisional floor moves every few poses: the meta follows it at most once a second (it kept
        # the first one for the whole estimate: joints read through it were 0.19 m off; QA)
        moved = (floor is not None and floor.state == "estimating" and self._floor_sent is not None
                 and floor is not self._floor_sent[0]
                 and detections.timestamp_ns - self._floor_sent[1] >= _FLOOR_META_INTERVAL_NS)  # fmt: skip
        if changed or floor_state != self._floor_state or moved:
            self._image_size, self._source_fps = detections.image_size, frame.source_fps
            self._floor_state = floor_state
            self._floor_sent = (floor, detections.timestamp_ns)
            self._deliver("update_meta", self.meta())
        t_sinks = time.perf_counter_ns()
        self._deliver("write", result)
        stage_ns["publish"] = time.perf_counter_ns() - t_sinks
        result.delivered_ns = time.monotonic_ns()
        return result

    def _stamped(self, frame: Frame, detections: Detections2D) -> Detections2D:
        """``detections`` with ``frame``'s times, which the temporal stages run on (QA: a
        detector that stamped ``capture_ns`` as ``timestamp_ns`` never left ``warming`` and a
        file's frames were dropped, with nothing said). Logged once. Detections of another frame
        are refused."""
        name = _stage_name(self.detector)
        if detections.frame_id != frame.frame_id:  # another frame's 2D lifted at this one's time: refused (review)
            raise StageError(f"detector {name} returned detections of frame {detections.frame_id} for frame "
                             f"{frame.frame_id}: detect(frame) gives that frame's (copy frame_id, capture_ns and "
                             "timestamp_ns from it)")  # fmt: skip
        if not self._restamped:
            log.warning("detector %s stamped frame %d at %d ns, the frame is at %d ns: the frame's time is used (copy "
                        "capture_ns and timestamp_ns from the frame)", name, frame.frame_id,
                        detections.timestamp_ns, frame.timestamp_ns)  # fmt: skip
            self._restamped = True
        return dataclasses.replace(detections, capture_ns=frame.capture_ns, timestamp_ns=frame.timestamp_ns)

    def _deliver(self, method: str, item: object) -> None:
        for output in list(self._outputs):
            if self.closed:  # a sink (or code it calls) closed the pipeline: the others are closed too (review)
                return
            timed = method == "write" and not isinstance(output, BackgroundSink)
            started_s = time.perf_counter() if timed else 0.0
            try:
                getattr(output, method)(item)
            except Exception as exc:  # one sink's failure must not stop the others
                self._detach(output, exc, {"update_meta": "meta", "source_stalled": "stalled"}.get(method))
            else:  # (outside the try: the pipeline's own bookkeeping must not detach a sink that worked)
                if timed:
                    self._inline_watch.check(output, item, time.perf_counter() - started_s, self._label)  # type: ignore[arg-type]

    def _detach(self, output: Sink, exc: BaseException, failed_on: str | None = None) -> None:
        if output in self._outputs:  # (closed meanwhile: the list is empty)
            self._outputs.remove(output)
        label = self._label(output)
        self.failed[label] = exc
        self._detached.add(id(output.sink if isinstance(output, BackgroundSink) else output))
        at = getattr(output, "failed_frame_id", None)  # a threaded output's: noticed at a later frame
        if at is None:
            at = failed_on or getattr(output, "failed_on", None)
        self._failed_at[label] = at
        # the reason is said once, by the SinkError this frame ends with (:meth:`should_stop`): a full
        # disk while recording was printed twice (QA)
        log.warning("output %s failed and was stopped; the run ends after this frame, with the reason", label)
        try:
            output.close()
        except Exception as close_exc:  # noqa: BLE001 - already failing; say so and go on
            log.debug("closing the failed output %s: %s", label, close_exc)

    def _label(self, output: Sink) -> str:
        """The output's name in messages (:func:`output_labels`); ``output`` may be its wrapper."""
        sink = output.sink if isinstance(output, BackgroundSink) else output
        for candidate, label in zip(self.sinks, output_labels(self.sinks), strict=True):
            if candidate is sink:
                return label
        return output_labels([sink])[0]  # (not one of self.sinks: a caller's own)

    def source_stalled(self, stalled_s: float) -> None:
        """Tell every sink that the live source has delivered nothing for ``stalled_s`` seconds and
        is retrying: a :class:`PoseFrame` notice with the last frame's ids and every person
        ``lost`` (``source_stalled_s``), through :meth:`Sink.source_stalled`. Nothing before the
        first frame (there is no frame to refer to). Raises a stop signal Python dropped, as
        :meth:`should_stop` does."""
        raise_dropped_stop()  # a run waits here for as long as the source is silent (review)
        last = self._last
        if last is None:
            return
        people = [PersonPose.lost(person.person_id) for person in last.people]
        notice = PoseFrame(last.frame_id, last.capture_ns, last.timestamp_ns, last.image_size, people,
                           source_stalled_s=float(stalled_s))  # fmt: skip
        try:
            with self._stage():  # a close from another thread waits for it (review: sinks were closed
                # while a notice was on its way to them: the ZeroMQ socket used from two threads)
                self.stall_notices += 1
                self._deliver("source_stalled", notice)
        except PosecastError:
            if not self.closed:
                raise

    def run(self, source: FrameSource, max_frames: int | None = None) -> Generator[PoseFrame, None, None]:
        """Yield a :class:`PoseFrame` per frame of an opened ``source`` until it ends,
        ``max_frames`` were processed or a sink asks to stop; while a live source stalls
        (:class:`SourceStalledError`) the sinks get :meth:`source_stalled` notices. Raises
        :class:`SinkError` after the frame in which a sink failed. Closed from another thread (a
        game loop's stop), before it began too, it ends with no error."""
        if self._stopped_elsewhere():
            return
        self._check_open()
        self.check_run_arguments(source, max_frames)
        self.check_outputs_against(source)
        yield from self._run(source, max_frames, self.begin_run())

    @staticmethod
    def check_run_arguments(source: FrameSource, max_frames: int | None) -> None:
        """Raise :class:`TypeError` for a ``run``'s arguments that are not a source and a count
        (every runner checks them)."""
        if max_frames is not None and not (isinstance(max_frames, int) and not isinstance(max_frames, bool)
                                           and max_frames >= 0):  # (QA: "3" failed on a comparison, 2.5 ran 3)
            raise TypeError(f"max_frames must be a whole number of frames (or None: to the end), got {max_frames!r}")
        if not callable(getattr(source, "read", None)):  # (QA: a path gave "'str' object has no attribute 'read'")
            raise TypeError(f"source must be an opened frame source (open_source(...)), got {type(source).__name__}")

    def begin_run(self) -> object:
        """A new run's token (every runner takes one; :meth:`frame_turn`): a run takes over from
        one left suspended (a loop left with ``break``, its generator kept), which raises if it is
        resumed; refused while another thread is processing a frame or a threaded run's 2D thread
        runs (API QA: two runs interleaved gave one person 11 ids and a KeyError; review: a run
        after a ``break`` was refused while the first generator was still referenced)."""
        with self._stages:
            busy = self._frame_thread not in (None, threading.get_ident())
            if busy or self._threaded_run:
                raise PosecastError("this Pipeline is running a source on another thread: one run at a time (end "
                                    "that run first), or build another pipeline")  # fmt: skip
            self._run_token = token = object()
        return token

    @contextlib.contextmanager
    def frame_turn(self, token: object) -> Iterator[None]:
        """Around each frame of the run holding ``token``: raises once a later run began."""
        with self._stages:
            if self._run_token is not token:
                raise PosecastError("a later run of this Pipeline began, which ended this one: one run at a time")
            self._frame_thread = threading.get_ident()
        try:
            yield
        finally:
            with self._stages:
                self._frame_thread = None

    def _run(self, source: FrameSource, max_frames: int | None, token: object) -> Generator[PoseFrame, None, None]:
        count = 0
        while (max_frames is None or count < max_frames) and not self.closed:  # closed from another thread: ended
            with self.frame_turn(token):
                try:
                    frame = source.read()
                except SourceStalledError as stall:  # (a close meanwhile ends the run, not the source giving up)
                    self.source_stalled(stall.stalled_s)
                    continue
                if frame is None:
                    return
                count += 1
                try:
                    result = self.process(frame)
                except PosecastError:
                    if self.closed:  # closed from another thread as this frame began: the run ends there
                        return
                    raise
            yield result
            if self.should_stop(frame):
                return

    def check_outputs_against(self, source: FrameSource) -> None:
        """Raise :class:`~posecast.engines.fileio.OutputPathError` when an output would write over
        the file ``source`` reads (QA: from Python, ``VideoSink(the clip)`` replaced the video
        being read; the command checks its options before it builds anything). Every runner
        calls it before the first frame of each source."""
        # keyed by each output's label too: two recorders' "--record" kept one path, and the other
        # wrote over the clip being read (API QA)
        check_outputs({f"{k} ({label})": v for label, sink in zip(output_labels(self.sinks), self.sinks, strict=True)
                       for k, v in sink.output_files().items()},
                      {"the source": getattr(source, "path", None)})  # fmt: skip

    def should_stop(self, frame: Frame) -> bool:
        """After ``frame`` was delivered: True when a sink asks to stop; raises
        :class:`SinkError` when a sink failed, and a stop signal Python dropped
        (:func:`~posecast.realtime.stop_signals.raise_dropped_stop`)."""
        raise_dropped_stop()
        if self.failed:
            name, exc = next(iter(self.failed.items()))
            at = self._failed_at.get(name)
            where = {"meta": "on the stream's meta data", "stalled": "on a stalled source's notice"}.get(
                at, f"at frame {frame.frame_id if at is None else at}")  # type: ignore[arg-type]
            raise SinkError(f"output {name} failed {where}: {_reason(exc)}") from exc
        return any(output.stop_requested for output in self._outputs)

    @property
    def dropped_frames(self) -> dict[str, int]:
        """Frames each sink lost (it could not keep up), keyed by :func:`output_labels`."""
        return {label: sink.dropped_frames for label, sink in zip(output_labels(self.sinks), self.sinks, strict=True)}

    def reset(self) -> None:
        """Forget every tracked person (a new clip); the sinks go on. From another thread it waits
        for the stage under way (a frame's 2D or 3D) and goes before the next (API QA: a reset
        beside a run ended it in a KeyError or the detector's AttributeError); once closed it
        raises :class:`PosecastError` (it had loaded MediaPipe again, and leaked its threads)."""
        me = threading.get_ident()
        with self._stages:
            self._check_open()
            self._resets_waiting += 1  # no stage starts meanwhile (review: a run's next frame came first, always)
            try:
                if not self._stages.wait_for(lambda: not (self._in_stage.keys() - {me}), timeout=RESET_WAIT_S):
                    raise PosecastError(f"cannot reset the pipeline: a stage on another thread has not finished in "
                                        f"{RESET_WAIT_S:g} s (an output that stopped taking frames?)")  # fmt: skip
                self.lifting.reset()
                self.detector.reset()
                if self.world is not None:
                    self.world.reset()
            finally:
                self._resets_waiting -= 1
                self._stages.notify_all()

    def close(self, discard: bool = False) -> None:
        """Close the sinks (finishing their files; ``discard``: removing them, for a run that
        failed; before any frame reached them, always: an empty recording or statistics of nothing
        would pass for a result, API QA), then the lifting stage and the detector.
        Raises the first error a sink raised on closing, after closing everything else (one that
        is not a :class:`PosecastError`, e.g. a full disk's OSError, as a :class:`SinkError`
        naming the output). From another thread it waits for the frame being processed, and
        :meth:`run` ends before the next one.

        The threaded outputs finish side by side (:mod:`~posecast.realtime.sinks.background`): a
        data output (``keeps_file_frames``: a recorder) writes what is queued for it while it makes
        progress, so a slow disk's take ends whole; any other output gets 2 s in all; one that
        writes nothing for 2 s is given up; each is logged, naming the output. A data output's own
        close is waited for (a recorder's, for a disk that does not answer, until it does or
        Ctrl-C); another's stuck beside its write gets 2 s, then is left to finish on its thread.
        A file's frames for a data output wait for
        it without a bound, as the run does (a reader of ``--print`` that pauses): a stop, Ctrl-C
        or a ``close()`` from another thread while this one waits, ends that wait."""
        me = threading.get_ident()
        if any(isinstance(output, BackgroundSink) and output.on_its_thread() for output in self._outputs):
            # (API QA: it waited for the very write it was called from, 2 s or for ever)
            raise PosecastError("an output cannot close its pipeline from its own write: set its stop_requested, and "
                                "the run ends after this frame")  # fmt: skip
        with self._stages:
            closing = not self.closed  # once: a game loop's close and its `with` block's both come here
            if closing:
                self.closed, self._closer = True, me  # no stage starts from now on

                def others_done() -> bool:
                    return not (self._in_stage.keys() - {me})

                # a run on another thread may wait for an output that stopped reading (QA: it hung the run
                # and this close): hurried once the frame has had an output's close time; a healthy
                # output takes its frame before then (review: hurrying at once cost every close a frame)
                if not self._stages.wait_for(others_done, timeout=BackgroundSink.close_timeout_default_s):
                    self._hurry_outputs()
                    self._stages.wait_for(others_done)
        if not closing:
            if self._closer != me:  # another thread is closing it: a stop (no output waits without a bound
                self._hurry_outputs()  # for a file's frames), and returns once that close is done
                self._closed_done.wait()
            return
        try:
            self._close(discard or self.frames == 0)
        finally:
            self._release_sinks()
            self._closed_done.set()

    def _close(self, discard: bool) -> None:
        self._finish_dropped.detach()
        errors: list[BaseException] = []
        if not discard:  # (discarded: their queues are dropped, not drained)
            _begin_closing(self._outputs)
        for output in self._outputs:
            try:
                output.discard() if discard else output.close()
            except KeyboardInterrupt as exc:  # stopped while an output finished: finish the others first
                self._hurry_outputs()
                errors.insert(0, exc)
            except PosecastError as exc:
                errors.append(exc)
            except Exception as exc:  # noqa: BLE001 - close the rest first, raise after
                error = SinkError(f"output {self._label(output)} could not be finished: {_reason(exc)}")
                error.__cause__ = exc
                errors.append(error)
            except BaseException as exc:  # SystemExit, GeneratorExit: the others are finished first (API QA:
                errors.insert(0, exc)  # the outputs after it stayed open, a take a .part, their threads alive)
        opened = {id(o.sink) if isinstance(o, BackgroundSink) else id(o) for o in self._outputs}
        for sink in self.sinks:
            if id(sink) not in opened and id(sink) not in self._detached:
                sink.close()  # built but never opened
        self._outputs = []
        self.lifting.close()
        self.detector.close()
        if errors:
            raise errors[0]

    def __enter__(self) -> Pipeline:
        return self.open()

    def _hurry_outputs(self) -> None:
        """The run was stopped: no output waits long for a stalled reader (:meth:`BackgroundSink.hurry`)."""
        for output in self._outputs:
            if isinstance(output, BackgroundSink):
                output.hurry()

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is not None and issubclass(exc_type, KeyboardInterrupt):
            self._hurry_outputs()
        try:  # (before any frame reached the outputs, close leaves no empty recording or statistics)
            self.close()
        except Exception as exc:
            if exc_type is None:
                raise
            # the error that ended the run stays the one raised; this one is said beside it (QA: a
            # full disk's recording error was replaced by the statistics file's, and never said)
            log.warning("%s", exc)

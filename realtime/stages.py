"""The four interfaces of the live pipeline; every implementation is one file and one registry line.

::

    FrameSource.read() ─Frame─▶ Detector2D.detect() ─Detections2D─▶ PoseLifting.process()
        ─list[PersonPose]─▶ Pipeline ─PoseFrame─▶ Sink.write() (every sink)

=============  =====================================  ==============================================
interface      registry                               implementations
=============  =====================================  ==============================================
FrameSource    ``realtime.sources.SOURCES``           camera, network stream, video file, image folder
Detector2D     ``realtime.detectors.DETECTORS``       MediaPipe PoseLandmarker (33 landmarks)
PoseLifting    ``realtime.lifting.LIFTINGS``          window → networks → bone smoothing → root,
                                                      one state per tracked person
Sink           ``realtime.sinks.SINKS``               ZeroMQ, VMC, console, live view, video,
                                                      recording, stats
=============  =====================================  ==============================================

Every stage is closed with ``close()`` (safe to call twice) or a ``with`` block. Errors a user
can cause (a missing file, a port in use, a bad option) raise a
:class:`~posecast.engines.errors.PosecastError` subclass with a one-line message; the CLI prints
it and exits 2.

Command-line options: a detector or sink declares its own options in ``add_arguments`` and
builds itself from the parsed arguments in ``from_args``; ``posecast run`` calls both for every
registered class, so a new one needs no edit anywhere else. Give options a prefix of your own
(``--vmc-address``) to avoid clashes.
"""

from __future__ import annotations

import argparse
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from ..calibration import CameraIntrinsics
from ..engines.layouts import KeypointLayout
from .types import Detections2D, Frame, PersonPose, PoseFrame, StreamMeta

if TYPE_CHECKING:
    from typing_extensions import Self  # (typing's from Python 3.11; posecast runs on 3.10)

    from .lifting import LiftingOptions  # (the lifting package implements this module's interface)


class FrameSource(ABC):
    """Where frames come from: ``open() / read() -> Frame | None / close()`` and ``with`` use.

    ``open`` acquires the device or file and raises :class:`~posecast.realtime.errors.SourceError`
    when it cannot be read. ``read`` blocks until the next frame (a camera: until a newer frame
    than the last one returned arrives; a paced file: until its time has come) and returns
    ``None`` at the end of the stream; it raises ``SourceError`` when a live device does not
    answer, and ``SourceStalledError`` (a ``SourceError``) while a live device that delivered
    before is silent but being retried: the pipeline reports it and reads again. ``close``
    releases everything and may be called twice.
    """

    #: the registry key (``realtime.sources.SOURCES``)
    name: ClassVar[str] = ""
    #: Frames captured but never returned by :meth:`read` (live cameras only).
    dropped_frames: int = 0
    #: Nominal frame rate of the source (0.0 when unknown).
    source_fps: float = 0.0

    @classmethod
    def from_spec(cls, spec: str, realtime: bool = False) -> FrameSource | None:
        """This source for the user's ``--source`` text (unopened), or ``None`` when ``spec`` is
        not for this kind of source. ``realtime`` paces files at their native rate."""
        return None

    @abstractmethod
    def open(self) -> None:
        """Acquire the device or file. Raises :class:`SourceError` when it cannot be read."""

    @abstractmethod
    def read(self) -> Frame | None:
        """Return the next frame, or ``None`` at the end of the stream."""

    @abstractmethod
    def close(self) -> None:
        """Release the device or file (safe to call more than once)."""

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Detector2D(ABC):
    """2D keypoints of up to ``max_people`` people per frame, in the detector's :attr:`layout`.

    The constructor loads the model and raises :class:`~posecast.engines.errors.ModelError` (or
    ``AssetError``) when it cannot. ``detect`` blocks for one inference and returns
    :class:`Detections2D` (possibly with no person, never ``None``), stamped with
    ``frame.timestamp_ns``; a detector that tracks fills ``track_ids``, others leave -1.
    """

    #: the registry key (``realtime.detectors.DETECTORS``)
    name: ClassVar[str] = ""
    layout: KeypointLayout
    max_people: int = 1
    #: the dataclass of options the constructor takes, if any (``assemble.PipelineOptions`` makes
    #: its defaults and sets its ``max_people`` field when it has one)
    options_class: ClassVar[type | None] = None

    def __init__(self, options: object | None = None) -> None:  # noqa: B027 - what a subclass's takes
        """Load the model with ``options``, an :attr:`options_class` instance (a detector without
        one is built with no argument)."""

    @classmethod  # noqa: B027 - an optional hook
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Add this detector's own command-line options (default: none)."""

    @classmethod  # noqa: B027 - an optional hook
    def check_args(cls, args: argparse.Namespace) -> None:
        """Raise the one-line error of a bad option or a missing file of this detector, without
        loading anything: called before the publisher claims its port (default: nothing)."""

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Detector2D:
        """Build from ``posecast run``'s parsed arguments (``args.max_people``, ``args.verbose``
        and the options of :meth:`add_arguments`). Default: the constructor with no argument (a
        detector with options or several people overrides this)."""
        return cls()

    @abstractmethod
    def detect(self, frame: Frame) -> Detections2D:
        """The people in ``frame``; blocks for one inference."""

    def reset(self) -> None:  # noqa: B027 - an optional hook
        """Forget what was tracked (a new clip); default: nothing to forget."""

    def close(self) -> None:  # noqa: B027 - an optional hook
        """Release the model (safe to call twice)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PoseLifting(ABC):
    """2D detections → metric 3D per tracked person.

    Keeps one state per person (temporal window, bone-length estimate, filter) and lifts every
    person of a frame in one batched network call. ``process`` blocks for that call (about a
    millisecond on a CPU); it raises only for misuse (a layout it cannot map).
    """

    #: the registry key (``realtime.lifting.LIFTINGS``)
    name: ClassVar[str] = ""

    def __init__(self, options: LiftingOptions | None = None) -> None:  # noqa: B027 - what a subclass's takes
        """Build with ``options`` (``None``: the defaults): every registered lifting is built so
        (``PipelineOptions.lifting``, ``posecast run``'s options)."""

    @abstractmethod
    def process(
        self, detections: Detections2D, timestamp_ns: int, stage_ns: dict[str, int] | None = None
    ) -> list[PersonPose]:
        """One :class:`PersonPose` per person the tracker holds, seen or recently lost (state
        ``lost``), in person-id order. ``timestamp_ns`` is the clock of the temporal stages;
        ``stage_ns`` (optional) receives the time spent per stage (``window``, ``lift``,
        ``smooth``)."""

    @abstractmethod
    def assumptions(self) -> dict:
        """What the published 3D rests on (subject size, intrinsics, model, backend), for
        :class:`StreamMeta`."""

    @property
    def intrinsics(self) -> CameraIntrinsics | None:
        """The camera intrinsics for the current image size (``None`` before the first frame)."""
        return None

    @property
    def max_people(self) -> int | None:
        """The people it tracks per frame at most (``None``: every person detected)."""
        return None

    def reset(self) -> None:  # noqa: B027 - an optional hook
        """Forget every person (a new clip)."""

    def close(self) -> None:  # noqa: B027 - an optional hook
        """Release the networks (safe to call twice)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Sink(ABC):
    """Where poses go: ``open(meta)``, ``write(frame)`` per frame, ``update_meta(meta)``, ``close()``.

    A sink never stalls the pipeline or another sink. By default (``inline = False``) the
    pipeline calls ``write`` on a thread of the sink's own with a queue of ``queue_frames``
    frames: when the sink falls behind the oldest queued frame is dropped and counted in
    :attr:`dropped_frames`, so a slow or blocked ``write`` (a disk, a terminal, a network)
    costs only that sink its frames. A sink whose ``write`` is quick and must run on the
    pipeline's thread (a non-blocking socket, OpenCV's window) sets ``inline = True`` and must
    itself drop rather than block (one that holds a live frame, its first excepted, 0.1 s or more
    is logged, once). A data output (``--print``, ``--record``) sets ``keeps_file_frames``: for a
    file read as fast as it decodes (no live deadline,
    :attr:`PoseFrame.on_media_time`) the pipeline then waits for room in its queue instead
    (logged after 10 s; a stop, Ctrl-C or ``Pipeline.close()`` from another thread, ends the wait).

    ``open`` may raise a :class:`~posecast.engines.errors.PosecastError` (the run does not start);
    an exception from ``write`` detaches the sink (logged once, the other sinks go on) and the
    run ends with a :class:`~posecast.realtime.errors.SinkError` after the frame was delivered to
    the others. ``close`` finalises files and may block briefly. Sinks must not modify the
    frame (see :mod:`posecast.realtime.types`).
    """

    #: the registry key (``realtime.sinks.SINKS``)
    name: ClassVar[str] = ""
    #: True: ``write`` runs on the pipeline's thread and must return quickly.
    inline: bool = False
    #: Frames queued for a threaded sink before the oldest is dropped.
    queue_frames: int = 8
    #: True: a file's frames (on media time) wait for room in the queue; none is dropped.
    keeps_file_frames: bool = False
    #: Frames this sink lost (counted by the pipeline for threaded sinks, by the sink when inline).
    dropped_frames: int = 0
    #: True: ``from_args`` claims something another program may hold (a port): built after the
    #: files the arguments name are checked, so a mistyped file is not reported as a port in use.
    claims_address: ClassVar[bool] = False

    @classmethod  # noqa: B027 - an optional hook
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Add this sink's own command-line options (default: none)."""

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Sink | None:
        """This sink as the parsed arguments ask for it, or ``None`` when they do not (default)."""
        return None

    def output_files(self) -> dict[str, Path]:
        """The files this sink will write, keyed by the option that names each (e.g.
        ``--record``): checked before the run (:func:`posecast.engines.fileio.check_outputs`)."""
        return {}

    def open(self, meta: StreamMeta) -> None:  # noqa: B027 - an optional hook
        """Start: the stream's meta data is known (intrinsics may still be ``None``)."""

    @abstractmethod
    def write(self, frame: PoseFrame) -> None:
        """Take one frame (see the class docstring for what may block)."""

    def update_meta(self, meta: StreamMeta) -> None:  # noqa: B027 - an optional hook
        """The meta data changed (e.g. the intrinsics once the image size is known); default: ignore."""

    def source_stalled(self, notice: PoseFrame) -> None:  # noqa: B027 - an optional hook
        """The live source has delivered nothing for ``notice.source_stalled_s`` seconds and is
        retrying (repeated every half second or so while that lasts; every person ``lost``);
        default: ignore. The ZeroMQ sink publishes it."""

    def idle(self) -> None:  # noqa: B027 - an optional hook
        """Called every 50 ms or so while no frame is on its way yet (a replay
        waiting ``--wait`` seconds for subscribers); default: nothing. The ZeroMQ sink answers a
        subscriber who joins with the meta and repeats it every second, as while it publishes."""

    def close(self) -> None:  # noqa: B027 - an optional hook
        """Finish (flush files, close sockets); safe to call twice. For a threaded sink whose
        ``write`` has made no progress for 2 s (or, one that keeps no file's every frame, that has
        not written its queue in 2 s), the pipeline gives up and calls ``close`` while that
        ``write`` may still be running on the sink's thread: a sink whose ``write`` can block (a
        socket) makes ``close`` safe then, e.g. by closing the socket, which ends the write. Its
        ``close`` that has not returned 2 s later is left to finish on its own thread (logged),
        unless it sets ``keeps_file_frames`` (a file's sink: its close is waited for)."""

    def discard(self) -> None:
        """Close without leaving a file behind: the run failed, or no frame reached the outputs
        (an empty recording or statistics of nothing would pass for a result). Default:
        :meth:`close` (a sink that writes no file)."""
        self.close()

    @property
    def stop_requested(self) -> bool:
        """True when the user asked this sink to end the run (the live view's ``q`` key)."""
        return False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def output_labels(sinks: Sequence[Sink]) -> list[str]:
    """How each output is named in messages and in :attr:`Pipeline.dropped_frames`: its ``name``,
    its class's name when it has none (a sink a user wrote), and ``#2``, ``#3`` … after a name met
    before (two video files): a failure must say which output, and no count may hide another."""
    labels: list[str] = []
    for sink in sinks:
        base = sink.name or type(sink).__name__
        label, n = base, 1
        while label in labels:
            n += 1
            label = f"{base}#{n}"
        labels.append(label)
    return labels

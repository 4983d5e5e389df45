"""``--print text|json``: one line per person per frame on stdout."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from typing import TextIO

import numpy as np

from ...engines import skeleton
from ...engines.fileio import point_at_devnull
from ..stages import Sink
from ..types import PersonPose, PoseFrame, StreamMeta

log = logging.getLogger(__name__)


class ConsoleSink(Sink):
    """Prints each frame: ``text`` (root and head in metres, latency) or ``json`` lines.

    JSON lines, like ``posecast listen --json``, carry a ``topic``: ``"pose"`` lines (one per
    person per frame) hold ``joints_m`` ``(17, 3)``, ``keypoints_px`` ``(17, 2)`` (pixels as
    detected, distortion not removed), ``confidence`` ``(17,)`` and ``timestamp_ns``; a
    ``"meta"`` line comes first and again whenever its content changes, with ``source_fps``,
    ``image_size`` and the camera: ``intrinsics`` ``[fx, fy, cx, cy]`` pixels, ``distortion``
    and whether they were ``intrinsics_assumed`` (from the first frame on). A frame with nobody
    tracked gives one ``"lost"`` line with the ``person_id`` of the last person seen (0 before
    anyone was), as the ZeroMQ stream's ``lost`` message (:class:`~.zmq.ZmqSink`); a ``lost``
    line's ``joints_m``, ``keypoints_px`` and ``confidence`` are ``null`` (the text mode says
    ``nobody``). Pose and meta lines together are what ``posecast lift`` needs (README, Offline
    lifting). A terminal or pipe may block: runs on its own thread with a long queue; a file read
    as fast as it decodes waits for the reader (no line lost), a live source does not (a reader
    that stalls for seconds loses the oldest lines, counted)."""

    name = "console"
    queue_frames = 256
    keeps_file_frames = True

    def __init__(self, mode: str = "text", stream: TextIO | None = None) -> None:
        if mode not in ("text", "json"):
            raise ValueError(f"print mode must be text or json, got {mode!r}")
        self.mode = mode
        self.stream = stream
        self._last_meta: dict | None = None  # the last meta line printed: an unchanged one is not repeated
        self._last_person_id = 0  # the id a frame with nobody is printed with, as ZmqSink sends it
        self._reader_gone = False

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--print", dest="print_mode", choices=["none", "text", "json"], default="none",
                            help="per-frame results on stdout (default: none)")  # fmt: skip

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ConsoleSink | None:
        mode = getattr(args, "print_mode", "none")
        return None if mode == "none" else cls(mode)

    def open(self, meta: StreamMeta) -> None:
        self._last_meta = None
        self.update_meta(meta)

    def update_meta(self, meta: StreamMeta) -> None:
        k = meta.intrinsics
        if self.mode != "json" or k is None:  # the camera is known once the first frame was seen
            return
        line = {
            "topic": "meta", "source_fps": round(float(meta.source_fps), 4),
            "image_size": [k.width, k.height], "intrinsics": _rounded([k.fx, k.fy, k.cx, k.cy], 4),
            "distortion": list(k.distortion), "intrinsics_assumed": bool(k.assumed),
            "joint_names": list(meta.joint_names),
        }  # fmt: skip
        if line == self._last_meta:  # the pipeline also calls this when what it does not print changed
            return
        self._last_meta = line
        self._emit(json.dumps(line) + "\n")

    def write(self, frame: PoseFrame) -> None:
        lines = [self._line(frame, person) for person in frame.people] or [self._line(frame, None)]
        self._emit("\n".join(lines) + "\n")
        if frame.people:
            self._last_person_id = frame.people[-1].person_id

    def _emit(self, text: str) -> None:
        """Write and flush ``text``; a reader that closed the pipe (``| head``) has all it wanted:
        the run stops, exit 0, as ``posecast listen | head`` does (it was an output failure, exit 2)."""
        if self._reader_gone:
            return
        stream = self.stream or sys.stdout  # looked up now: tests and tools replace sys.stdout
        try:
            stream.write(text)
            stream.flush()
        except BrokenPipeError:
            self._reader_gone = True
            point_at_devnull(stream)
            log.info("the reader of --print closed its end: stopping")

    @property
    def stop_requested(self) -> bool:
        return self._reader_gone

    def _line(self, frame: PoseFrame, person: PersonPose | None) -> str:
        tracking = person.tracking if person is not None else "lost"
        posed = person is not None and person.joints_m is not None
        latency_ms = (time.monotonic_ns() - frame.capture_ns) / 1e6
        if self.mode == "json":
            return json.dumps({
                "topic": "pose", "frame_id": frame.frame_id,
                "person_id": self._last_person_id if person is None else person.person_id,
                "timestamp_ns": frame.timestamp_ns, "tracking": tracking,
                "joints_m": _rounded(person.joints_m, 4) if posed else None,
                "keypoints_px": _rounded(person.keypoints_px, 2) if posed else None,
                "confidence": _rounded(person.confidence, 3) if posed else None,
                **({"face_m": _rounded(person.face_m, 4)} if posed and person.face_m is not None else {}),
                "latency_ms": {k: round(v / 1e6, 3) for k, v in frame.stage_ns.items()},
            })  # fmt: skip
        who = f"person {person.person_id:2d}" if person is not None else "nobody   "
        if not posed:
            return f"frame {frame.frame_id:5d}  {who}  {tracking:8s}"
        root, head = person.root_m, person.joints_m[skeleton.HEAD]
        return (f"frame {frame.frame_id:5d}  {who}  {tracking:8s}  root {_xyz(root)} m  head {_xyz(head)} m  "
                f"capture→print {latency_ms:.1f} ms")  # fmt: skip


def _rounded(values: np.ndarray | list[float], decimals: int) -> list:
    return np.round(np.asarray(values, np.float64), decimals).tolist()  # float64: 0.9, not 0.8999999762


def _xyz(v: np.ndarray) -> str:
    return f"[{v[0]:+.2f} {v[1]:+.2f} {v[2]:+.2f}]"

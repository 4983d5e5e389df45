"""Replay a recording: its frames back as :class:`~posecast.realtime.types.PoseFrame` s at the
recorded pace, for the pipeline's sinks (the ZeroMQ output, VMC, …) as if a camera were live.

Pace: a frame is handed over when ``(timestamp_ns − first timestamp_ns) / speed`` has passed
since the first (``timestamp_ns`` is the recorded clock of the temporal stages: capture time
for a camera, media time for a file).

Gaps: the wait between two frames is capped. A step longer than :data:`MAX_GAP_S` (the recorder
paused, a clock that jumped: a damaged timestamp of 10^18 ns was a wait of 30 years) is
replayed as a pause of :data:`GAP_PAUSE_S`, and a step back in time (a source whose media time
started again) or none (two frames stamped alike) as one frame period; one warning names the
first such gap. Every frame is still sent, in order, with its ``frame_id``; only the pace changes
there (the avatar world below keeps the recorded clock).

Clocks: ``capture_ns`` and ``timestamp_ns`` are moved to the replaying machine's monotonic
clock, keeping each frame's recorded latency (its pose messages' ``publish_ns − capture_ns``),
so ``latency_ms`` and ``publish_ns − capture_ns`` read as they did live. With ``loop`` the
take repeats, ``frame_id`` keeps increasing and each pass's people come with new ids (one more
than the highest before): a ``person_id`` is never reused in a run, so a reader starts each
pass's people afresh (QA: a looped take's second pass took ids dropped in the first back, and
one person jumped from their last pose to their first under the same id).

Avatar fields: with an :class:`~posecast.realtime.avatar.AvatarWorld` the frames are stood on
the floor again, as the live pipeline did (``root_height_m``, ``foot_contact``, ``frame_pose``,
the VMC output's floor), on the *recorded* clock: the avatar filter, the floor estimate and the
foot contacts see the times they saw live whatever the ``speed`` (and a loop's next pass
continues that clock, one frame period on, with the people's filters started again). With the
live run's options (:meth:`~posecast.realtime.avatar.AvatarOptions.from_assumptions`) that
gives the live fields again; the meta handed on states the world's floor and mirror.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ...engines.errors import PosecastError, storable
from ..avatar import AvatarWorld
from ..schema import decode_meta, decode_pose
from ..sources.files import GAP_PAUSE_S, MAX_GAP_S
from ..types import PersonPose, PoseFrame, StreamMeta
from .format import FrameRecord, MetaRecord, RecordingError, RecordingReader, check_whole, say_unfinished

log = logging.getLogger(__name__)

#: A step between two recorded frames longer than MAX_GAP_S (seconds of the recorded clock) is not
#: waited for but replayed as a pause of GAP_PAUSE_S (recorded seconds, divided by the speed as the
#: rest), as a paced file plays one


@dataclass
class ReplayOptions:
    """``speed``: 1.0 = the recorded pace, 2.0 twice as fast (0.01 to 100); ``loop``: repeat."""

    speed: float = 1.0
    loop: bool = False

    def __post_init__(self) -> None:
        if not 0.01 <= self.speed <= 100.0:
            raise PosecastError(f"replay speed must be in 0.01..100, got {self.speed}")


def stream_meta(record: MetaRecord, source: str, path: str | Path | None = None) -> StreamMeta:
    """The :class:`StreamMeta` of a recorded meta record (``replay_of`` added to the assumptions);
    raises :class:`RecordingError` naming the recording (``path``, else ``source``) when its
    payload is not a meta message."""
    try:
        meta = decode_meta(record.payload)
    except PosecastError as exc:
        raise RecordingError(f"{path or source} is damaged: a meta record's payload is not a meta message ({exc}); "
                             "re-record the take") from exc  # fmt: skip
    return StreamMeta(assumptions={**meta.assumptions, "replay_of": source}, intrinsics=record.intrinsics,
                      source_fps=record.source_fps or meta.source_fps, max_people=meta.max_people,
                      joint_names=tuple(meta.joint_names), parents=tuple(meta.parents),
                      bone_names=tuple(meta.bone_names), units=meta.units, frame=meta.frame)  # fmt: skip


def pose_frame(record: FrameRecord, capture_ns: int, timestamp_ns: int, frame_id: int,
               person_id_offset: int = 0) -> PoseFrame:  # fmt: skip
    """A recorded frame as the pipeline made it (3D from the recorded pose messages, 2D and
    bone lengths from the person records), stamped with the given clocks, its people's ids
    ``person_id_offset`` on from the recorded ones."""
    messages = {m.person_id: m for m in map(decode_pose, record.poses)}
    people = []
    for person in record.people:
        message = messages.get(person.person_id)
        if message is None or message.tracking == "lost":
            lost = PersonPose.lost(person.person_id + person_id_offset)
            lost.keypoints_px, lost.confidence = person.keypoints_px, person.confidence
            people.append(lost)
            continue
        joints = message.joints_m
        people.append(PersonPose(person_id=person.person_id + person_id_offset, tracking=message.tracking,
                                 keypoints_px=person.keypoints_px, confidence=message.confidence, joints_m=joints,
                                 joints_rel_m=joints - joints[0], root_m=message.root_m,
                                 bone_lengths_m=person.bone_lengths_m, face_m=message.face_m))  # fmt: skip
    latency = next((m.latency_ms for m in messages.values() if m.latency_ms), None) or {}
    stage_ns = {name: int(ms * 1e6) for name, ms in latency.items()}
    return PoseFrame(frame_id=frame_id, capture_ns=capture_ns, timestamp_ns=timestamp_ns,
                     image_size=tuple(record.image_size), people=people, stage_ns=stage_ns)  # fmt: skip


def _recorded_latency_ns(record: FrameRecord) -> int:
    if not record.poses:
        return 0
    message = decode_pose(record.poses[0])
    return max(0, message.publish_ns - message.capture_ns)


class Replay:
    """Iterate ``(meta, frame)`` pairs of a recording at its pace (module docstring); ``meta``
    is the newest :class:`StreamMeta`, ``None`` before the take's first meta record."""

    def __init__(self, path: str | Path, options: ReplayOptions | None = None) -> None:
        self.path = Path(path)
        self.options = options or ReplayOptions()
        #: set it to stand the people on the floor (``PoseFrame.world``) on the recorded clock, with
        #: the live options :attr:`recorded_meta` states (module docstring)
        self.world: AvatarWorld | None = None
        # The whole take is read once now (about 0.1 ms a frame): a file that is not a recording, a damaged
        # record or a take without frames fails here, with one line, before any output opens or any frame is sent.
        # the meta the first frame was published under: a live run's first meta comes before its
        # first image, without the intrinsics, image size and rate (QA: a replay's subscribers got
        # that one for the whole --wait, and again when they joined)
        opening: MetaRecord | None = None
        seen_frame = False
        footer = None
        with RecordingReader(self.path) as reader:
            for record in reader:
                if isinstance(record, MetaRecord) and not seen_frame:
                    opening = record
                elif isinstance(record, FrameRecord):
                    seen_frame = True
                elif isinstance(record, dict):
                    footer = record
            frames = reader.frames_read
        check_whole(self.path, footer, frames)  # as export reads it: whole or refused
        if not frames:
            raise _no_frames(self.path)
        #: The take's meta at its first frame as recorded (``None`` when a frame comes first): the
        #: live run's options.
        self.recorded_meta = None if opening is None else stream_meta(opening, storable(self.path.name), self.path)
        self.frames_sent = 0

    @property
    def first_meta(self) -> StreamMeta | None:
        """The meta to open the outputs with: the take's at its first frame, with the world stated."""
        return None if self.recorded_meta is None else self._with_world(self.recorded_meta)

    def _with_world(self, meta: StreamMeta) -> StreamMeta:
        """``meta`` with the replay's own world stated (its floor as it stands, its mirror)."""
        if self.world is None:
            return meta
        return dataclasses.replace(meta, assumptions={**meta.assumptions, **self.world.assumptions()})

    def __iter__(self) -> Iterator[tuple[StreamMeta | None, PoseFrame]]:
        meta: StreamMeta | None = None  # what is handed on: the recorded meta with the world stated
        recorded: StreamMeta | None = None
        floor_state: str | None = None  # the world's floor is stated again when this changes, as live
        base_ns: int | None = None  # when the current pass's first frame is due
        last_due_ns, id_offset, next_id, last_capture_ns = 0, 0, 0, 0
        person_id_offset, next_person_id = 0, 0  # a loop's pass gives its people new ids, as frame ids
        shown_ids: set[int] = set()  # the people the last frame sent showed
        pass_media_ns, media_ns = 0, 0  # the recorded clock, continued across loops, for the world
        warned_unfinished = warned_gap = False
        while True:
            pass_first_ts: int | None = None
            paced_ns, last_ts = 0, 0  # the pass's recorded clock with its gaps shortened (module docstring)
            footer = False
            with RecordingReader(self.path) as reader:
                for record in reader:
                    if isinstance(record, dict):  # the footer: the recorder finished the file
                        footer = True
                        continue
                    if isinstance(record, MetaRecord):
                        recorded = stream_meta(record, storable(self.path.name), self.path)
                        meta = self._with_world(recorded)
                        continue
                    if not isinstance(record, FrameRecord):
                        continue
                    starts_pass = pass_first_ts is None
                    if starts_pass:
                        pass_first_ts = record.timestamp_ns
                        id_offset = next_id - record.frame_id if base_ns is not None else 0
                        person_id_offset = next_person_id
                        period_ns = 1e9 / (meta.source_fps if meta is not None and meta.source_fps > 0 else 30.0)
                        if base_ns is not None and self.world is not None:  # a loop: the take starts again
                            self.world.reset()
                            pass_media_ns = media_ns + int(period_ns)
                        base_ns = (
                            time.monotonic_ns()
                            if base_ns is None
                            else last_due_ns + int(period_ns / self.options.speed)
                        )
                    else:
                        step_ns = record.timestamp_ns - last_ts
                        # a clock standing still is paced as one going back: two frames stamped alike
                        # were sent at once, a take of them looped at 780 frames a second
                        if not 0 < step_ns <= MAX_GAP_S * 1e9:
                            paced = int(GAP_PAUSE_S * 1e9) if step_ns > 0 else int(period_ns)
                            how = "jumps" if step_ns > 0 else "goes back" if step_ns < 0 else "stands still"
                            (log.debug if warned_gap else log.warning)(
                                "%s: the recorded clock %s %.3g s before frame_id %d: replayed as a %.3g s pause "
                                "(a replay waits at most %g s between two frames)", self.path, how,
                                abs(step_ns) / 1e9, record.frame_id, paced / 1e9 / self.options.speed,
                                MAX_GAP_S)  # fmt: skip
                            warned_gap, step_ns = True, paced
                        paced_ns += step_ns
                    last_ts = record.timestamp_ns
                    last_due_ns = base_ns + int(paced_ns / self.options.speed)
                    frame_id = record.frame_id + id_offset
                    frame = pose_frame(record, 0, 0, frame_id, person_id_offset)  # made now, stamped when due
                    if starts_pass and shown_ids:
                        # the pass before's people are gone, as the live tracker says it (review: the
                        # viewer drew them, frozen, beside the new pass's for its 2 s)
                        lost = [PersonPose.lost(pid) for pid in shown_ids]
                        frame.people = sorted(frame.people + lost, key=lambda p: p.person_id)  # (as live)
                    shown_ids = {p.person_id for p in frame.people if p.tracking != "lost"}
                    next_person_id = max([next_person_id, *(p.person_id + 1 for p in frame.people)])
                    if self.world is not None:
                        media_ns = pass_media_ns + record.timestamp_ns - pass_first_ts
                        frame.world = self.world.process(dataclasses.replace(frame, timestamp_ns=media_ns))
                        state = None if self.world.floor is None else self.world.floor.state
                        if state != floor_state and recorded is not None:  # not every re-estimate: as live
                            floor_state, meta = state, self._with_world(recorded)
                    wait_s = (last_due_ns - time.monotonic_ns()) / 1e9
                    if wait_s > 0:
                        time.sleep(wait_s)
                    now = time.monotonic_ns()
                    # the capture time the recorded latency implies, never before the last one's (a
                    # loop's first frame carried the model's warm-up: its capture went 11 ms back)
                    last_capture_ns = max(now - _recorded_latency_ns(record), last_capture_ns + 1)
                    frame.capture_ns, frame.timestamp_ns = last_capture_ns, now
                    yield meta, frame
                    next_id = frame_id + 1
                    self.frames_sent += 1
            if pass_first_ts is None:
                raise _no_frames(self.path)
            if not footer and not warned_unfinished:  # as read_recording says it, once
                say_unfinished(self.path, "replayed", self.frames_sent)
                warned_unfinished = True
            if not self.options.loop:
                return


def _no_frames(path: Path) -> RecordingError:
    """The error of a take without frames (QA: it named no fix)."""
    return RecordingError(f"{path} has no frames to replay: record a take with frames (posecast run --record FILE)")

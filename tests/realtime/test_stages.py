"""The four interfaces wired by the pipeline, with fakes: a detector returning fixed detections,
sinks that record, raise, block or ask to stop; and a COCO-layout detector through the real
lifting stage (a new detector fits without touching the rest)."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time

import numpy as np
import pytest
from posecast.engines import skeleton
from posecast.engines.layouts import COCO_17
from posecast.realtime.errors import SinkError, SourceStalledError
from posecast.realtime.lifting import LiftingOptions, MetricPoseLifting, TrackerOptions
from posecast.realtime.pipeline import Pipeline
from posecast.realtime.sinks.inline import INLINE_WRITE_WARNING_S
from posecast.realtime.stages import Detector2D, FrameSource, PoseLifting, Sink
from posecast.realtime.types import Detections2D, Frame, PersonPose, PoseFrame, StreamMeta

IMAGE = np.zeros((480, 640, 3), np.uint8)


def coco_person(centre_x: float, scale: float = 1.0) -> np.ndarray:
    """A standing person's COCO-17 keypoints ``(17, 2)`` in pixels, facing the camera."""
    x, y = np.array([
        (0, -75), (-4, -79), (4, -79), (-8, -77), (8, -77), (-20, -60), (20, -60), (-24, -30), (24, -30),
        (-26, 0), (26, 0), (-12, 0), (12, 0), (-12, 45), (12, 45), (-12, 90), (12, 90),
    ], dtype=np.float32).T * scale  # fmt: skip
    return np.stack([x + centre_x, y + 240], axis=-1)


class FakeDetector(Detector2D):
    """Returns the scripted people (COCO-17 keypoints per person) for each frame id."""

    name = "fake"
    layout = COCO_17

    def __init__(self, script: dict[int, list[np.ndarray]], max_people: int = 2) -> None:
        self.script, self.max_people, self.closed = script, max_people, False

    def detect(self, frame: Frame) -> Detections2D:
        people = self.script.get(frame.frame_id, [])
        if not people:
            return Detections2D.empty(frame, COCO_17)
        keypoints = np.stack(people).astype(np.float32)
        return Detections2D(frame.frame_id, frame.capture_ns, frame.timestamp_ns, frame.image_size, COCO_17,
                            keypoints, np.full(keypoints.shape[:2], 0.9, np.float32),
                            np.full(len(people), -1, np.int64))  # fmt: skip

    def close(self) -> None:
        self.closed = True


class FakeLifting(PoseLifting):
    """One fixed pose per detection, person ids = detection order."""

    name = "fake"

    def __init__(self) -> None:
        self.calls: list[int] = []

    def process(self, detections, timestamp_ns, stage_ns=None):  # noqa: ANN001, ANN201
        self.calls.append(timestamp_ns)
        joints = np.zeros((17, 3)) + [0, 0, 3]
        return [PersonPose(i, "tracking", np.zeros((17, 2), np.float32), np.ones(17, np.float32), joints)
                for i in range(detections.count)]  # fmt: skip

    def assumptions(self) -> dict:
        return {"fake": True}


class RecordingSink(Sink):
    name = "recording"
    inline = True

    def __init__(self) -> None:
        self.meta: list[StreamMeta] = []
        self.frames: list[PoseFrame] = []
        self.closed = 0

    def open(self, meta: StreamMeta) -> None:
        self.meta.append(meta)

    def update_meta(self, meta: StreamMeta) -> None:
        self.meta.append(meta)

    def write(self, frame: PoseFrame) -> None:
        self.frames.append(frame)

    def close(self) -> None:
        self.closed += 1


class ThreadedRecordingSink(RecordingSink):
    name = "threaded"
    inline = False

    def write(self, frame: PoseFrame) -> None:
        self.frames.append(frame)
        self.thread = threading.current_thread()


class RaisingSink(RecordingSink):
    name = "raising"

    def write(self, frame: PoseFrame) -> None:
        if frame.frame_id == 2:
            raise OSError("disk full")
        super().write(frame)


class BlockingSink(RecordingSink):
    """Blocks in its first ``write`` until released (a stalled network or terminal)."""

    name = "blocking"
    inline = False
    queue_frames = 2

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def write(self, frame: PoseFrame) -> None:
        self.release.wait()
        super().write(frame)


class StoppingSink(RecordingSink):
    name = "stopping"

    @property
    def stop_requested(self) -> bool:
        return len(self.frames) >= 3


class ListSource(FrameSource):
    def __init__(self, count: int, fps: float = 30.0) -> None:
        self.count, self.source_fps, self.next = count, fps, 0

    def open(self) -> None:
        self.next = 0

    def read(self) -> Frame | None:
        if self.next >= self.count:
            return None
        self.next += 1
        return Frame(self.next - 1, time.monotonic_ns(), IMAGE, self.source_fps, on_media_time=True)

    def close(self) -> None:
        pass


def two_people(frames: int) -> dict[int, list[np.ndarray]]:
    return {f: [coco_person(200), coco_person(440)] for f in range(frames)}


def test_every_sink_gets_every_frame_and_the_meta() -> None:
    inline, threaded = RecordingSink(), ThreadedRecordingSink()
    lifting = FakeLifting()
    with Pipeline(FakeDetector(two_people(5)), lifting, [inline, threaded]) as pipeline, ListSource(5) as source:
        results = list(pipeline.run(source))
    assert [f.frame_id for f in results] == list(range(5))
    assert inline.frames == results  # the very same records, in order
    # a sink on its own thread gets each record as it was handed over: the same people, the stages
    # so far (not the "publish" the pipeline adds once every sink had it), stamped when handed over
    assert [f.frame_id for f in threaded.frames] == list(range(5))
    for got, result in zip(threaded.frames, results, strict=True):
        assert got.people is result.people and got.image_bgr is result.image_bgr
        assert got.stage_ns == {k: v for k, v in result.stage_ns.items() if k != "publish"}
        assert result.capture_ns <= got.delivered_ns <= result.delivered_ns
    assert threaded.thread is not threading.main_thread()
    assert inline.closed == threaded.closed == 1
    # open with the meta known before a frame, then the image size and rate once known
    assert inline.meta[0].source_fps == 0.0 and inline.meta[-1].source_fps == 30.0
    assert inline.meta[-1].max_people == 2
    assert inline.meta[-1].assumptions == {"detector": "fake", "keypoint_layout": "coco-17", "fake": True}
    frame = results[0]
    assert frame.image_bgr is IMAGE and frame.detections.count == 2 and len(frame.people) == 2
    assert frame.timestamp_ns == 0 and results[3].timestamp_ns == 100_000_000  # media time at 30 fps
    assert lifting.calls == [f.timestamp_ns for f in results]  # the one clock, from the detections
    assert set(frame.stage_ns) == {"handoff_2d", "keypoints2d", "publish"} and frame.delivered_ns >= frame.capture_ns


def test_a_raising_sink_is_detached_and_the_others_get_the_frame() -> None:
    before, raising, after = RecordingSink(), RaisingSink(), RecordingSink()
    pipeline = Pipeline(FakeDetector(two_people(10)), FakeLifting(), [before, raising, after])
    with pipeline, ListSource(10) as source:
        seen = []
        with pytest.raises(SinkError, match="output raising failed at frame 2: disk full"):
            for frame in pipeline.run(source):
                seen.append(frame.frame_id)
    assert seen == [0, 1, 2]  # the run ends after the frame in which the sink failed ...
    assert [f.frame_id for f in after.frames] == [0, 1, 2]  # ... which the later sink still got
    assert [f.frame_id for f in before.frames] == [0, 1, 2]
    assert raising.closed >= 1 and after.closed == 1


def test_a_sink_that_failed_is_not_opened_again_by_the_next_frame() -> None:
    """Review: with its only output failed, ``process`` took the pipeline for never opened and
    opened every sink again (a failed recorder met its own leftover file and closed the pipeline)."""
    raising = RaisingSink()
    pipeline = Pipeline(FakeDetector(two_people(6)), FakeLifting(), [raising])
    with pipeline:
        for i in range(6):
            pipeline.process(Frame(i, time.monotonic_ns(), IMAGE, 30.0))
        assert not pipeline.closed and list(pipeline.failed) == ["raising"]
    assert [f.frame_id for f in raising.frames] == [0, 1] and raising.closed == 1


class SlowStallSink(RecordingSink):
    """Takes a while over a stall notice, saying when it starts and ends, and when it is closed."""

    name = "slow-stall"

    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []

    def source_stalled(self, notice: PoseFrame) -> None:
        self.events.append("stall begins")
        time.sleep(0.3)
        self.events.append("stall ends")

    def close(self) -> None:
        self.events.append("closed")
        super().close()


class StallingSource(ListSource):
    """One frame, then a stall reported on every read."""

    def read(self) -> Frame | None:
        if self.next == 0:
            return super().read()
        time.sleep(0.02)
        raise SourceStalledError("no frame", 0.5)


def test_a_close_from_another_thread_waits_for_a_stall_notice_on_its_way() -> None:
    """Review: ``close`` closed the sinks while a stall notice was still inside one (the ZeroMQ
    socket used from two threads)."""
    sink = SlowStallSink()
    pipeline = Pipeline(FakeDetector({}), FakeLifting(), [sink])

    def run() -> None:
        with pipeline, StallingSource(1) as source:
            for _ in pipeline.run(source):
                pass

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 10
    while "stall begins" not in sink.events and time.monotonic() < deadline:
        time.sleep(0.005)
    pipeline.close()
    thread.join(10)
    assert not thread.is_alive()
    assert sink.events[:3] == ["stall begins", "stall ends", "closed"], sink.events


def test_a_stop_signal_python_dropped_ends_a_stalled_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Review: a stop Python dropped was raised again only after a frame; a stalled source gives
    none, so the run waited for frames to come back or the source to give up (30 s)."""
    import signal

    from posecast.realtime import stop_signals

    class DroppingStallingSource(StallingSource):
        """One frame, then a stall during which a stop signal is dropped; gives up after 20."""

        def read(self) -> Frame | None:
            if self.next >= 20:
                return None
            if self.next == 1:  # the stop came, and Python dropped it in a finaliser
                monkeypatch.setattr(stop_signals, "_raised_stop", signal.SIGINT)
            try:
                return super().read()
            except SourceStalledError:
                self.next += 1
                raise

    with Pipeline(FakeDetector({}), FakeLifting(), [RecordingSink()]) as pipeline, DroppingStallingSource(1) as source:
        seen = []
        with pytest.raises(stop_signals.Interrupted):
            seen.extend(frame.frame_id for frame in pipeline.run(source))
        assert source.next == 2  # at the first stall notice after it


def test_a_sinks_error_that_is_not_an_os_error_is_named() -> None:
    """QA: a sink's KeyError ended the run with "failed at frame 2: 'missing'"."""

    class KeyErrorSink(RecordingSink):
        name = "lookup"

        def write(self, frame: PoseFrame) -> None:
            if frame.frame_id == 2:
                raise KeyError("missing")

    failed = pytest.raises(SinkError, match=r"^output lookup failed at frame 2: KeyError: 'missing'$")
    pipeline = Pipeline(FakeDetector(two_people(5)), FakeLifting(), [KeyErrorSink()])
    with failed, pipeline, ListSource(5) as source:
        list(pipeline.run(source))


def _run_until_it_fails(sink: Sink, match: str, frames: int = 40) -> None:
    """Run ``frames`` frames into ``sink``, which must end the run with a :class:`SinkError`
    matching ``match``; 20 ms a frame, as a threaded sink's failure is noticed at a later frame."""
    pipeline = Pipeline(FakeDetector(two_people(frames)), FakeLifting(), [sink])
    with pytest.raises(SinkError, match=match), pipeline, ListSource(frames) as source:
        for _ in pipeline.run(source):
            time.sleep(0.02)


@pytest.mark.parametrize("inline", [True, False])
def test_a_sink_without_a_name_is_named_by_its_class(inline: bool) -> None:
    """QA round 10: a user's sink that set no ``name`` failed as "output  failed at frame 2"."""

    class Unnamed(Sink):
        def write(self, frame: PoseFrame) -> None:
            if frame.frame_id == 2:
                raise OSError("disk full")

    Unnamed.inline = inline
    _run_until_it_fails(Unnamed(), r"^output Unnamed failed at frame 2: disk full$")


def test_a_threaded_sink_without_a_name_is_named_by_its_class_when_it_stops(caplog: pytest.LogCaptureFixture) -> None:
    """The wrapper that gives a sink its thread names it as the pipeline does (review: "output  wrote
    nothing for 2.0 s")."""

    class Stuck(BlockingSink):
        name = ""

    stuck = Stuck()
    pipeline = Pipeline(FakeDetector(two_people(3)), FakeLifting(), [stuck])
    with caplog.at_level(logging.WARNING), pipeline, ListSource(3) as source:
        list(pipeline.run(source))
    stuck.release.set()
    said = [r.getMessage() for r in caplog.records if "closing it anyway" in r.getMessage()]
    # (which of the two it says depends on whether a frame was still queued when the close began: under load, the
    # queue's; the name is the point)
    assert len(said) == 1 and said[0].startswith(("output Stuck wrote nothing", "output Stuck did not finish")), said


def test_two_outputs_of_one_name_are_told_apart() -> None:
    """Two sinks of one kind (two files from Python): each keeps its own dropped count, and the
    failing one is the one named."""
    blocked_first, blocked_second = BlockingSink(), BlockingSink()
    with Pipeline(FakeDetector(two_people(30)), FakeLifting(), [blocked_first, blocked_second]) as pipeline:
        with ListSource(30) as source:
            list(pipeline.run(source))
        assert set(pipeline.dropped_frames) == {"blocking", "blocking#2"}
        assert pipeline.dropped_frames["blocking#2"] == blocked_second.dropped_frames > 0
        blocked_first.release.set()
        blocked_second.release.set()

    class Fails(RecordingSink):
        name = "raising"

        def write(self, frame: PoseFrame) -> None:
            if frame.frame_id == 1:
                raise OSError("disk full")

    first, second = RaisingSink(), Fails()
    pipeline = Pipeline(FakeDetector(two_people(5)), FakeLifting(), [first, second])
    failed = pytest.raises(SinkError, match=r"^output raising#2 failed at frame 1: disk full$")
    with failed, pipeline, ListSource(5) as source:
        list(pipeline.run(source))


@pytest.mark.parametrize("inline", [True, False])
def test_a_sink_failing_on_the_meta_data_says_so(inline: bool) -> None:
    """QA: a threaded sink whose update_meta raised before frame 0 was reported "failed at frame 1"."""

    class MetaFails(RecordingSink):
        name = "meta-fails"

        def update_meta(self, meta: StreamMeta) -> None:
            raise ValueError("no intrinsics")

    MetaFails.inline = inline
    _run_until_it_fails(MetaFails(), r"^output meta-fails failed on the stream's meta data: ValueError: no intr")


@pytest.mark.parametrize("live", [True, False])
def test_an_inline_sink_that_holds_a_live_frame_is_said_once(live: bool, caplog: pytest.LogCaptureFixture) -> None:
    """QA round 10: an inline sink that blocked slowed the whole pipeline with nothing said. Its
    first frame (OpenCV opens its window there) and a file's frames (a data output's
    backpressure) are not timed."""

    class SlowInline(RecordingSink):
        name = "slow-inline"

        def write(self, frame: PoseFrame) -> None:
            if frame.frame_id in (0, 3, 4):
                time.sleep(1.5 * INLINE_WRITE_WARNING_S)
            super().write(frame)

    class Live(ListSource):
        def read(self) -> Frame | None:
            frame = super().read()
            return frame if frame is None else dataclasses.replace(frame, on_media_time=not live)

    sink = SlowInline()
    pipeline = Pipeline(FakeDetector(two_people(6)), FakeLifting(), [sink])
    with caplog.at_level(logging.WARNING), pipeline, Live(6) as source:
        assert len(list(pipeline.run(source))) == 6
    said = [r.getMessage() for r in caplog.records if "inline sink must return at once" in r.getMessage()]
    if live:
        assert len(said) == 1 and said[0].startswith("output slow-inline took "), said
        assert "to take frame 3 on the pipeline's thread" in said[0], said
    else:
        assert said == []
    assert len(sink.frames) == 6


def test_a_blocked_sink_stalls_neither_the_pipeline_nor_the_others() -> None:
    blocked, other = BlockingSink(), RecordingSink()
    with Pipeline(FakeDetector(two_people(50)), FakeLifting(), [blocked, other]) as pipeline, ListSource(50) as source:
        started = time.monotonic()
        frames = list(pipeline.run(source))
        elapsed = time.monotonic() - started
        assert len(other.frames) == 50 and len(frames) == 50
        assert elapsed < 5.0  # the pipeline never waited for the blocked sink (it would wait forever)
        assert blocked.dropped_frames >= 50 - 1 - blocked.queue_frames  # one in write, two queued, the rest dropped
        assert pipeline.dropped_frames["blocking"] == blocked.dropped_frames
        blocked.release.set()  # unblocked: it gets the frames still queued, the newest last
    assert [f.frame_id for f in blocked.frames][-1] == 49
    assert blocked.closed == 1


def test_a_sink_can_end_the_run() -> None:
    stopping = StoppingSink()
    with Pipeline(FakeDetector(two_people(10)), FakeLifting(), [stopping]) as pipeline, ListSource(10) as source:
        assert len(list(pipeline.run(source))) == 3


def test_a_failing_open_closes_what_was_built() -> None:
    class Unopenable(RecordingSink):
        name = "unopenable"

        def open(self, meta: StreamMeta) -> None:
            raise SinkError("cannot open")

    first, detector = RecordingSink(), FakeDetector({})
    with pytest.raises(SinkError, match="cannot open"):
        Pipeline(detector, FakeLifting(), [first, Unopenable()]).open()
    assert first.closed == 1 and detector.closed


@pytest.fixture(scope="module")
def coco_lifting() -> MetricPoseLifting:
    lifting = MetricPoseLifting(LiftingOptions(tracker=TrackerOptions(max_people=2)))
    yield lifting
    lifting.close()


def test_a_coco_detector_fits_the_real_lifting_stage(coco_lifting: MetricPoseLifting) -> None:
    """Two people in COCO-17 keypoints, through the real networks: two metric poses, one batch."""
    sink = RecordingSink()
    coco_lifting.reset()
    pipeline = Pipeline(FakeDetector(two_people(30)), coco_lifting, [sink])
    with pipeline.open(), ListSource(30) as source:
        frames = list(pipeline.run(source))
    ids = [[p.person_id for p in f.people] for f in frames]
    assert ids == [[0, 1]] * 30
    last = frames[-1]
    assert [p.tracking for p in last.people] == ["tracking", "tracking"]  # 30 frames > T = 27
    left, right = last.people
    assert left.root_m[0] < 0 < right.root_m[0]  # left of the optical axis, right of it
    assert 1.0 < left.root_m[2] < 15.0 and 1.0 < right.root_m[2] < 15.0
    np.testing.assert_allclose(left.keypoints_px[skeleton.JOINT_INDEX["l_wrist"]], coco_person(200)[9])
    np.testing.assert_allclose(left.keypoints_px[skeleton.ROOT], (coco_person(200)[11] + coco_person(200)[12]) / 2)
    assert left.bone_lengths_m.shape == (16,) and left.joints_lifted.shape == (17, 3)
    assert sink.meta[-1].intrinsics.width == 640


def test_one_person_asked_for_and_two_detected_publishes_the_better_scored_one() -> None:
    """Review: with ``max_people`` 1 and a detector that gives more than asked, each detection was
    published under an id of its own."""

    class TwoAlways(FakeDetector):
        def detect(self, frame: Frame) -> Detections2D:
            found = super().detect(frame)
            scores = found.scores.copy()
            scores[0] = 0.6  # the right-hand one is surer
            return dataclasses.replace(found, scores=scores)

    lifting = MetricPoseLifting(LiftingOptions(tracker=TrackerOptions(max_people=1)))
    pipeline = Pipeline(TwoAlways(two_people(5), max_people=1), lifting, [])
    with pipeline.open(), ListSource(5) as source:
        frames = list(pipeline.run(source))
    assert [[p.person_id for p in f.people] for f in frames] == [[0]] * 5
    np.testing.assert_allclose(frames[-1].people[0].keypoints_px[skeleton.JOINT_INDEX["l_wrist"]],
                               coco_person(440)[9])  # fmt: skip


def test_the_meta_is_sent_again_when_the_worlds_origin_is_placed() -> None:
    """A calibrated floor keeps its state name from the first frame; the world's origin is placed
    below the first person's root when one appears. The meta says so then: subscribers kept the
    transform of the origin assumed before anyone was seen (review)."""
    from posecast.calibration import floor as fl
    from posecast.realtime.avatar import AvatarOptions, AvatarWorld

    class Aside(FakeLifting):  # the person 2 m ahead, off the axis (the origin assumed is 3 m ahead on it)
        def process(self, detections, timestamp_ns, stage_ns=None):  # noqa: ANN001, ANN201
            people = super().process(detections, timestamp_ns, stage_ns)
            for p in people:
                p.joints_m = p.joints_m + [0.5, 0.0, -1.0]
            return people

    sink = RecordingSink()
    person = {f: [coco_person(320)] for f in range(3, 6)}  # nobody in frames 0-2
    world = AvatarWorld(AvatarOptions(floor=fl.floor_from_camera_pose(1.2, 0.0)))
    with Pipeline(FakeDetector(person), Aside(), [sink], world) as pipeline, ListSource(6) as source:
        list(pipeline.run(source))
    transforms = [np.asarray(m.assumptions["floor"]["camera_to_world"]) for m in sink.meta if "floor" in m.assumptions]
    assert [m.assumptions["floor"]["state"] for m in sink.meta if "floor" in m.assumptions][-1] == "calibrated"
    assert len(transforms) >= 2 and not np.allclose(transforms[0], transforms[-1])
    # the last one is the world the poses are in: the first root at its origin
    np.testing.assert_allclose((transforms[-1] @ [0.5, 0.0, 2.0, 1.0])[[0, 2]], 0.0, atol=1e-9)


def test_the_meta_follows_a_provisional_floor_once_a_second() -> None:
    """While the floor is estimated its transform moves every few poses; the meta sent every
    second kept the first one for the whole 2 s (joints read through it 0.19 m off; QA). It now
    carries the floor of the moment, at most once a second."""
    from posecast.engines import rotations
    from posecast.realtime.avatar import AvatarWorld

    lengths = skeleton.bone_lengths_from_height(1.70)
    standing = rotations.rest_pose(lengths)
    ankle_y = standing[skeleton.JOINT_INDEX["l_ankle"], 1]
    standing = (standing - [0.0, ankle_y - 0.13, 0.0] - [0, 1.2, 3.0]) * [1, -1, -1]  # world -> a level camera

    class Standing(FakeLifting):  # a person 3 m ahead, swaying, whose lifted depth creeps (as a lifter's does)
        def process(self, detections, timestamp_ns, stage_ns=None):  # noqa: ANN001, ANN201
            t_s = timestamp_ns / 1e9
            sway = 0.03 * np.sin(t_s * 3.0)
            return [PersonPose(0, "tracking", np.zeros((17, 2), np.float32), np.ones(17, np.float32),
                               standing + [sway, -0.1 * t_s, 2 * sway + 0.2 * t_s], bone_lengths_m=lengths)
                    for _ in range(detections.count)]  # fmt: skip

    sink = RecordingSink()
    person = {f: [coco_person(320)] for f in range(90)}  # 3 s at 30 fps, media time
    with Pipeline(FakeDetector(person), Standing(), [sink], AvatarWorld()) as pipeline, ListSource(90) as source:
        list(pipeline.run(source))
    floors = [m.assumptions["floor"] for m in sink.meta if "floor" in m.assumptions]
    estimating = [f["camera_to_world"] for f in floors if f["state"] == "estimating"]
    assert floors[-1]["state"] == "estimated"
    assert 2 <= len(estimating) <= 3, len(estimating)  # its first, then once a second of the 2 s
    assert not np.allclose(estimating[0], estimating[-1])

"""The Python API misused as developers embedding it do (API QA, 2026-12-07): each is refused in
words, or works, instead of a wrong result, a lost file or a crash. Real sinks and files; the
detector and lifting are the stage tests' scripted ones where MediaPipe is not the point."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from posecast.engines.errors import PosecastError
from posecast.engines.fileio import OutputPathError
from posecast.realtime.pipeline import Pipeline
from posecast.realtime.recording.format import read_recording
from posecast.realtime.sinks import RecordSink
from posecast.realtime.sinks.record import RecordOptions
from test_stages import FakeDetector, FakeLifting, ListSource, RecordingSink, two_people


class PosedLifting(FakeLifting):
    """The stage tests' lifting with every 3D field a recording keeps."""

    def process(self, detections, timestamp_ns, stage_ns=None):  # noqa: ANN001, ANN201
        people = super().process(detections, timestamp_ns, stage_ns)
        for person in people:
            person.root_m = person.joints_m[0].copy()
            person.joints_rel_m = person.joints_m - person.root_m
            person.bone_lengths_m = np.full(16, 0.1)
        return people


class PathSource(ListSource):
    """A source reading a file (its ``path``), as a video source does."""

    def __init__(self, path: Path, count: int) -> None:
        super().__init__(count)
        self.path = path


def test_two_recorders_are_both_checked_against_the_source(tmp_path: Path) -> None:
    """Both reported their file as "--record": the last one alone was checked, and the first wrote
    its take over the clip being read (a take is a .posecast: here one linked to the clip)."""
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"the user's video")
    (tmp_path / "linked.posecast").hardlink_to(clip)
    sinks = [RecordSink(RecordOptions(tmp_path / "linked.posecast")),
             RecordSink(RecordOptions(tmp_path / "other.posecast"))]
    pipeline = Pipeline(FakeDetector(two_people(3)), PosedLifting(), sinks)
    with pytest.raises(OutputPathError, match="linked.posecast is the source"):
        pipeline.check_outputs_against(PathSource(clip, 3))
    with pytest.raises(PosecastError, match="linked.posecast"), pipeline, PathSource(clip, 3) as source:
        list(pipeline.run(source))
    assert clip.read_bytes() == b"the user's video"


def test_one_sink_given_twice_is_refused() -> None:
    sink = RecordingSink()
    with pytest.raises(TypeError, match="sinks holds one Sink object twice"):
        Pipeline(FakeDetector(two_people(3)), FakeLifting(), [sink, sink])


class GatedSource(ListSource):
    """Its first read waits until released (a camera's frame on its way)."""

    def __init__(self, count: int) -> None:
        super().__init__(count)
        self.reading, self.release = threading.Event(), threading.Event()

    def read(self):  # noqa: ANN201
        self.reading.set()
        self.release.wait(10)
        return super().read()


def test_a_run_on_another_thread_while_a_frame_is_processed_is_refused() -> None:
    """Two runs interleaved on two threads gave one person 11 ids, and a KeyError in the other."""
    pipeline = Pipeline(FakeDetector(two_people(6)), FakeLifting(), [RecordingSink()])
    gated = GatedSource(3)
    with pipeline, gated, ListSource(6) as other:
        worker = threading.Thread(target=lambda: list(pipeline.run(gated)))
        worker.start()
        assert gated.reading.wait(10)  # the worker's run is inside a frame
        with pytest.raises(PosecastError, match="this Pipeline is running a source on another thread: one run at a "
                                                "time"):  # fmt: skip
            next(pipeline.run(other))
        gated.release.set()
        worker.join(10)
        assert len(list(pipeline.run(other))) == 6  # after it: fine


def test_a_later_run_takes_over_from_one_left_with_break() -> None:
    """Review: a run after a ``break`` was refused while the first generator was still referenced
    (a game object holding it). The later run goes on; the earlier one, resumed, says it ended."""
    pipeline = Pipeline(FakeDetector(two_people(6)), FakeLifting(), [RecordingSink()])
    with pipeline, ListSource(6) as first, ListSource(6) as second:
        frames = pipeline.run(first)
        for _ in frames:
            break
        assert len(list(pipeline.run(second))) == 6
        with pytest.raises(PosecastError, match="a later run of this Pipeline began, which ended this one"):
            next(frames)
        for _ in range(3):  # a frame a tick, each its own run, as a game loop may ask
            assert len(list(pipeline.run(first, max_frames=1))) == 1


class ExitsOnClose(RecordingSink):
    def close(self) -> None:
        super().close()
        raise SystemExit(3)


def test_a_sink_raising_system_exit_on_close_leaves_the_others_finished(tmp_path: Path) -> None:
    """The outputs after it stayed open: a take stayed a .part, its thread alive."""
    take = tmp_path / "take.posecast"
    pipeline = Pipeline(FakeDetector(two_people(3)), PosedLifting(), [ExitsOnClose(), RecordSink(RecordOptions(take))])
    with pytest.raises(SystemExit), pipeline, ListSource(3) as source:
        list(pipeline.run(source))
    assert read_recording(take).complete and not (tmp_path / "take.posecast.part").exists()


def test_sinks_given_as_a_generator_all_run(tmp_path: Path, pose_model_path: Path) -> None:
    """The type check used the generator up, and no sink ran."""
    from posecast.realtime.assemble import PipelineOptions, build_pipeline
    from posecast.realtime.detectors import MediaPipeOptions

    sink = RecordingSink()
    options = PipelineOptions(detector_options=MediaPipeOptions(model_path=pose_model_path))
    with build_pipeline(options, (s for s in [sink])) as pipeline, ListSource(2) as source:
        list(pipeline.run(source))
    assert len(sink.frames) == 2


@pytest.mark.parametrize("interrupted", ["detector", "after_detector"])
def test_an_exception_while_building_closes_what_was_built(
    interrupted: str, pose_model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """API QA: a Ctrl-C as a host program built the pipeline (0.23-0.34 s in) left a live MediaPipe
    landmarker and its thread for as long as the KeyboardInterrupt was kept (a variable, or
    Jupyter's ``sys.last_traceback``). Cut inside the detector (its third landmarker made, its
    workers not) or after it, every landmarker made is closed before the exception goes on."""
    from posecast.realtime import assemble
    from posecast.realtime.assemble import PipelineOptions, build_pipeline
    from posecast.realtime.detectors import MediaPipeOptions, mediapipe

    made: list[mediapipe._Landmarker] = []
    real_init = mediapipe._Landmarker.__init__

    def init(self, *args, **kwargs) -> None:  # noqa: ANN001, ANN002, ANN003
        real_init(self, *args, **kwargs)
        made.append(self)

    def interrupt(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(mediapipe._Landmarker, "__init__", init)
    if interrupted == "detector":
        monkeypatch.setattr(mediapipe, "ThreadPoolExecutor", interrupt)
    else:
        monkeypatch.setattr(assemble, "warn_if_fewer_people", interrupt)
    threads_before = set(threading.enumerate())
    options = PipelineOptions(max_people=3, detector_options=MediaPipeOptions(model_path=pose_model_path))
    sink = RecordingSink()
    with pytest.raises(KeyboardInterrupt) as kept:  # kept, as a host program keeps it
        build_pipeline(options, [sink])
    assert kept.value is not None and len(made) == 3  # trackers for 1 and 2 people, and the search
    assert not any(landmarker._close_native.alive for landmarker in made)
    assert sink.closed
    deadline = time.monotonic() + 5  # (MediaPipe's thread ends as its landmarker closes)
    while set(threading.enumerate()) - threads_before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not set(threading.enumerate()) - threads_before


def test_a_pipeline_its_constructor_refuses_closes_the_outputs_passed(pose_model_path: Path) -> None:
    """``build_pipeline`` closed the outputs passed to it when a part built before the pipeline
    failed (README), not when ``Pipeline()`` itself refused them: a ZmqSink given twice kept its port
    bound, and a host program that fixed the list and built again on that address was refused
    ("in use"). An output of another open pipeline stays open: it is that pipeline's."""
    from posecast.realtime.assemble import PipelineOptions, build_pipeline
    from posecast.realtime.detectors import MediaPipeOptions
    from posecast.realtime.errors import OptionsError
    from posecast.realtime.sinks.zmq import PublisherOptions, ZmqSink

    options = PipelineOptions(detector_options=MediaPipeOptions(model_path=pose_model_path))
    sink = ZmqSink(PublisherOptions(address="tcp://127.0.0.1:0"))
    with pytest.raises(TypeError, match="sinks holds one Sink object twice"):
        build_pipeline(options, [sink, sink])
    assert sink.publisher.closed
    ZmqSink(PublisherOptions(address=sink.address)).close()  # the port is free again

    other = ZmqSink(PublisherOptions(address="tcp://127.0.0.1:0"))
    running = Pipeline(FakeDetector(two_people(3)), FakeLifting(), [other])
    mine = ZmqSink(PublisherOptions(address="tcp://127.0.0.1:0"))
    with pytest.raises(OptionsError, match="output zmq is an output of another pipeline"):
        build_pipeline(options, [mine, other])
    assert mine.publisher.closed and not other.publisher.closed
    running.close()
    assert other.publisher.closed


def test_options_are_checked_as_they_are_when_built_and_copied_by_the_stages(pose_model_path: Path) -> None:
    """max_people set after the options were made ran one person (with advice to give the detector
    a field it has); hfov_deg changed after the build moved the joints by metres."""
    from posecast.realtime.assemble import PipelineOptions, build_pipeline
    from posecast.realtime.detectors import MediaPipeOptions
    from posecast.realtime.errors import OptionsError

    options = PipelineOptions(detector_options=MediaPipeOptions(model_path=pose_model_path))
    with build_pipeline(options) as pipeline:
        options.lifting.hfov_deg = 30.0
        options.detector_options.min_detection_confidence = 0.9
        assert pipeline.lifting.options.hfov_deg == 60.0
        assert pipeline.detector.options.min_detection_confidence == 0.5
    options.max_people = 2
    with build_pipeline(options) as pipeline:
        assert pipeline.detector.max_people == 2 and pipeline.lifting.tracker.options.max_people == 2
    options.detector = "nope"
    with pytest.raises(OptionsError, match="detector must be one of mediapipe, got 'nope'"):
        build_pipeline(options)


def test_a_recorder_does_not_replace_a_finished_take(tmp_path: Path) -> None:
    """From Python a second run over a take's path replaced it (the command refuses it)."""
    take = tmp_path / "take.posecast"
    with Pipeline(FakeDetector(two_people(3)), PosedLifting(), [RecordSink(RecordOptions(take))]) as pipeline, \
            ListSource(3) as source:  # fmt: skip
        list(pipeline.run(source))
    again = Pipeline(FakeDetector(two_people(2)), PosedLifting(), [RecordSink(RecordOptions(take))])
    with pytest.raises(PosecastError, match="already exists: a take is never replaced"):
        again.open()
    assert len(read_recording(take).frames) == 3


def test_two_pipelines_run_at_once_on_two_threads() -> None:
    """The one-run guard is each pipeline's own."""
    results: list[int] = []

    def run() -> None:
        with Pipeline(FakeDetector(two_people(5)), FakeLifting(), []) as pipeline, ListSource(5) as source:
            results.append(len(list(pipeline.run(source))))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert results == [5, 5]


def test_the_floor_handed_out_with_each_frame_cannot_be_changed_in_place() -> None:
    """A program turning ``frame.world.floor.camera_to_world`` to its engine's axes in place moved
    every later frame's world joints by metres: the estimator's own array was handed out."""
    from posecast.calibration.ground import FloorEstimator

    floor = FloorEstimator(1.7).state
    with pytest.raises(ValueError, match="read-only"):
        floor.camera_to_world[:3, 1] *= -1
    turned = floor.camera_to_world.copy()  # as the README says: copy, then change
    turned[:3, 1] *= -1


def test_a_lifting_that_tracks_fewer_people_than_the_detector_finds_is_refused() -> None:
    """API QA: ``Pipeline(two-person detector, LIFTINGS["metric"](None))`` published person 0 alone,
    its meta saying two people, with nothing said."""
    from posecast.realtime.errors import OptionsError
    from posecast.realtime.lifting.metric import LiftingOptions, MetricPoseLifting
    from posecast.realtime.lifting.tracks import TrackerOptions

    with MetricPoseLifting() as one, pytest.raises(OptionsError, match=r"finds up to 2 people a frame but the "
                                                   r"lifting tracks 1: .*TrackerOptions\(max_people=2\)"):  # fmt: skip
        Pipeline(FakeDetector({}, max_people=2), one)
    two = MetricPoseLifting(LiftingOptions(tracker=TrackerOptions(max_people=2)))
    with Pipeline(FakeDetector(two_people(3), max_people=2), two) as pipeline, ListSource(3) as source:
        frames = list(pipeline.run(source))
    assert [len(frame.people) for frame in frames] == [2, 2, 2] and pipeline.meta().max_people == 2


def test_a_pipeline_closed_before_any_frame_leaves_no_take(tmp_path: Path) -> None:
    """API QA: ``with Pipeline(..., [RecordSink(...)]): pass`` left a finished take of no frame,
    which would pass for a result (a run stopped before its first frame writes none)."""
    path = tmp_path / "take.posecast"
    with Pipeline(FakeDetector({}), FakeLifting(), [RecordSink(RecordOptions(path))]) as pipeline:
        assert pipeline.frames == 0
    assert list(tmp_path.iterdir()) == []
    with Pipeline(FakeDetector({}), FakeLifting(), [RecordSink(RecordOptions(path))]) as pipeline, \
            ListSource(2) as source:  # fmt: skip
        assert len(list(pipeline.run(source))) == 2
    assert len(read_recording(path).frames) == 2


def test_a_closed_zeromq_output_given_again_says_so() -> None:
    """API QA: a ZmqSink closed and handed to a new pipeline failed with ZeroMQ's "Socket operation
    on non-socket"."""
    from posecast.realtime.sinks.zmq import PublisherOptions, ZmqSink

    sink = ZmqSink(PublisherOptions(address="tcp://127.0.0.1:0"))
    sink.close()
    with pytest.raises(PosecastError, match=r"the ZeroMQ output on tcp://127\.0\.0\.1:\d+ was closed: make a new "
                                            r"ZmqSink for another run"):  # fmt: skip
        Pipeline(FakeDetector({}), FakeLifting(), [sink]).open()


@pytest.mark.parametrize(
    ("fps", "timestamps_s", "intrinsics", "message"),
    [
        (0.0, None, (500.0, 500.0, 320.0, 240.0), "fps must be a number of frames a second from 0.1 to 1000, got 0.0"),
        (float("nan"), None, (500.0, 500.0, 320.0, 240.0), "fps must be a number .* got nan"),
        ("30", None, (500.0, 500.0, 320.0, 240.0), "fps must be a number .* got '30'"),  # (review: a TypeError later)
        (1e-300, None, (500.0, 500.0, 320.0, 240.0), "fps must be a number .* got 1e-300"),  # (review: OverflowError)
        (30.0, [0.0, 0.2, 0.1], (500.0, 500.0, 320.0, 240.0), "lift_sequence: timestamps_s must increase strictly"),
        (30.0, [0.0, 0.2, 0.2 + 1e-12], (500.0, 500.0, 320.0, 240.0), "at least 1 ns apart"),  # (review)
        (30.0, None, None, r"lift_sequence needs the camera: LiftingOptions\(fixed_intrinsics="),
    ],
)
def test_lift_sequence_refuses_what_its_docstring_rules_out(fps, timestamps_s, intrinsics, message) -> None:  # noqa: ANN001
    """API QA: fps 0 was a ZeroDivisionError, NaN "cannot convert float NaN to integer", no intrinsics
    "image width is 0", and decreasing timestamps were lifted."""
    from posecast.realtime.errors import OptionsError
    from posecast.realtime.lifting import LiftingOptions
    from posecast.realtime.offline import lift_sequence

    keypoints, confidence = np.zeros((3, 17, 2)), np.ones((3, 17))
    with pytest.raises(OptionsError, match=message):
        lift_sequence(keypoints, confidence, fps, LiftingOptions(fixed_intrinsics=intrinsics), timestamps_s)


def test_lift_sequence_takes_fps_as_numpy_holds_it() -> None:
    """Review: the fps check refused a 0-d array (``np.load(f)["fps"]``), which it had taken."""
    from posecast.realtime.lifting import LiftingOptions
    from posecast.realtime.offline import lift_sequence

    keypoints, confidence = np.zeros((3, 17, 2)), np.zeros((3, 17))
    joints = lift_sequence(keypoints, confidence, np.array(30.0), LiftingOptions(fixed_intrinsics=(1.0, 1.0, 0, 0)))[0]
    assert joints.shape == (3, 17, 3)


def test_one_sink_is_an_output_of_one_pipeline_at_a_time(tmp_path: Path) -> None:
    """Concurrency QA: one ZmqSink given to two pipelines run on two threads: two threads sent on
    one ZeroMQ socket (messages of 3 parts reached the subscriber), and the first to finish closed
    it under the other. The second pipeline is refused; once the first is closed, it is free."""
    from posecast.realtime.sinks.zmq import PublisherOptions, ZmqSink

    sink = ZmqSink(PublisherOptions(address="tcp://127.0.0.1:0"))
    first = Pipeline(FakeDetector(two_people(3)), FakeLifting(), [sink])
    with pytest.raises(PosecastError, match=r"output zmq is an output of another pipeline that is not closed \(or is "
                                            r"closing it\): give each pipeline its own \(one ZmqSink per"):  # fmt: skip
        Pipeline(FakeDetector(two_people(3)), FakeLifting(), [sink])
    first.close()
    again = Pipeline(FakeDetector(two_people(3)), FakeLifting(), [sink])  # free again (a closed sink says so itself)
    again.close()
    fresh = ZmqSink(PublisherOptions(address="tcp://127.0.0.1:0"))
    Pipeline(FakeDetector(two_people(3)), FakeLifting(), [fresh])  # a pipeline dropped unclosed holds nothing
    import gc

    gc.collect()
    Pipeline(FakeDetector(two_people(3)), FakeLifting(), [fresh]).close()


class ClosesSlowly(RecordingSink):
    """An output whose close waits until ``release`` is set (a file being finished)."""

    def __init__(self) -> None:
        super().__init__()
        self.closing, self.release = threading.Event(), threading.Event()

    def close(self) -> None:
        self.closing.set()
        self.release.wait(10)
        super().close()


def test_a_sink_is_not_given_out_while_its_pipeline_closes_it() -> None:
    """Review: a pipeline's ``closed`` is set as its close begins, so a second pipeline took the
    sink while the first was still closing it."""
    sink = ClosesSlowly()
    first = Pipeline(FakeDetector(two_people(3)), FakeLifting(), [sink])
    first.open()
    with ListSource(3) as source:
        list(first.run(source))
    closer = threading.Thread(target=first.close)
    closer.start()
    assert sink.closing.wait(10)
    with pytest.raises(PosecastError, match="another pipeline that is not closed \\(or is closing it\\)"):
        Pipeline(FakeDetector(two_people(3)), FakeLifting(), [sink])
    sink.release.set()
    closer.join(10)
    Pipeline(FakeDetector(two_people(3)), FakeLifting(), [sink]).close()


class GatedDetector(FakeDetector):
    """The scripted detector, held inside its detect() until released; counts the resets that
    came while it was inside."""

    def __init__(self) -> None:
        super().__init__(two_people(6))
        self.inside, self.release = threading.Event(), threading.Event()
        self.busy, self.resets, self.resets_while_busy = False, 0, 0

    def detect(self, frame):  # noqa: ANN001, ANN201
        self.busy = True
        self.inside.set()
        self.release.wait(10)
        try:
            return super().detect(frame)
        finally:
            self.busy = False

    def reset(self) -> None:
        self.resets += 1
        self.resets_while_busy += self.busy


def test_a_reset_from_another_thread_waits_for_the_frame_and_a_closed_pipeline_refuses_it() -> None:
    """API QA: ``reset()`` beside a run on another thread ended the run in 8 of 10 tries (a KeyError
    in the lifting, the detector's AttributeError); after ``close()`` it loaded MediaPipe again."""
    import time

    detector = GatedDetector()
    pipeline = Pipeline(detector, FakeLifting(), [RecordingSink()])
    with pipeline, ListSource(6) as source:
        worker = threading.Thread(target=lambda: list(pipeline.run(source)))
        worker.start()
        assert detector.inside.wait(10)  # the run is inside a frame's detection
        resetting = threading.Thread(target=pipeline.reset)
        resetting.start()
        time.sleep(0.2)
        assert detector.resets == 0  # waiting for the frame
        detector.release.set()
        resetting.join(10)
        worker.join(10)
        assert detector.resets == 1 and detector.resets_while_busy == 0
    with pytest.raises(PosecastError, match="this Pipeline is closed"):
        pipeline.reset()


def test_a_reset_from_another_thread_goes_before_a_continuous_run_s_next_stage() -> None:
    """Review: a reset waited for a moment with no stage under way, which a run going frame after
    frame never gives (the run's thread takes the lock back first): it waited the whole run."""
    import time

    class SlowDetector(GatedDetector):
        def detect(self, frame):  # noqa: ANN001, ANN201
            self.release.set()
            time.sleep(0.01)  # (the GIL let go, as MediaPipe does)
            return super().detect(frame)

    detector = SlowDetector()
    detector.script = {i: detector.script[i % 6] for i in range(600) if i % 6 in detector.script}
    pipeline = Pipeline(detector, FakeLifting(), [RecordingSink()])
    with pipeline, ListSource(600) as source:
        worker = threading.Thread(target=lambda: list(pipeline.run(source)))
        worker.start()
        assert detector.inside.wait(10)
        started = time.monotonic()
        pipeline.reset()
        waited = time.monotonic() - started
        assert worker.is_alive()  # the run goes on
        worker.join(30)
    assert waited < 1.0 and detector.resets == 1 and detector.resets_while_busy == 0, waited


def test_an_output_closing_its_pipeline_from_its_own_write_is_refused_not_a_stall() -> None:
    """API QA: a threaded output's write calling ``pipeline.close()`` waited for itself: for ever
    with file frames kept, 2 s and a warning without. It is refused, naming stop_requested."""
    import time

    class Closer(RecordingSink):
        inline = False
        keeps_file_frames = True

        def write(self, frame) -> None:  # noqa: ANN001
            super().write(frame)
            if len(self.frames) == 2:
                self.pipeline.close()

    closer = Closer()
    pipeline = Pipeline(FakeDetector(two_people(6)), FakeLifting(), [closer])
    closer.pipeline = pipeline
    started = time.monotonic()
    refused = pytest.raises(PosecastError, match="an output cannot close its pipeline from its own write: set its "
                                                 "stop_requested")  # fmt: skip
    with refused, pipeline, ListSource(6) as source:
        list(pipeline.run(source))
    assert time.monotonic() - started < 1.5


def test_output_options_of_the_wrong_kind_are_refused_as_they_are_built() -> None:
    """API QA: ``VmcSink(("127.0.0.1", 70000))`` sent to port 4464 while its log said 70000, and
    "HOST:PORT" as a string failed only at open; ``PublisherOptions(send_hwm="64")`` was a
    comparison's TypeError; ``RecordOptions(12)`` failed at open, after the models had loaded."""
    from posecast.realtime.errors import OptionsError
    from posecast.realtime.sinks.vmc import VmcSink
    from posecast.realtime.sinks.zmq import PublisherOptions

    with pytest.raises(OptionsError, match=r"VMC port 70000 is outside 1\.\.65535"):
        VmcSink(("127.0.0.1", 70000))
    for address in ("127.0.0.1:39539", ("127.0.0.1", 1.5), ("127.0.0.1", True)):
        with pytest.raises(TypeError, match=r"address must be \(host, port\), e\.g\. \('127\.0\.0\.1', 39539\)"):
            VmcSink(address)  # type: ignore[arg-type]
    with pytest.raises(OptionsError, match="PublisherOptions.send_hwm must be a whole number, got '64'"):
        PublisherOptions(send_hwm="64")  # type: ignore[arg-type]
    with pytest.raises(OptionsError, match="RecordOptions.path must be str or a path, got 12"):
        RecordOptions(12)  # type: ignore[arg-type]
    with pytest.raises(OptionsError, match="flush_interval_s must be positive, got 0"):
        RecordOptions("take.posecast", flush_interval_s=0)
    for name in ("take.txt", "take.posecast.part", "take"):  # (API QA: written where --record refuses it)
        with pytest.raises(OptionsError, match=r"--record \(RecordOptions.path\) must name a .posecast file"):
            RecordOptions(name)

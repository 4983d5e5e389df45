"""End to end: real clips → real MediaPipe → shipped networks on ONNX Runtime → real ZeroMQ subscriber."""

from __future__ import annotations

import time
from pathlib import Path

import msgpack
import numpy as np
import pytest
import zmq
from posecast.engines import skeleton
from posecast.engines.runtime import DEFAULT_MODEL
from posecast.realtime.assemble import PipelineOptions, build_pipeline
from posecast.realtime.avatar import AvatarOptions
from posecast.realtime.detectors.mediapipe import MediaPipeOptions
from posecast.realtime.errors import StageError
from posecast.realtime.lifting import LifterOptions, LiftingOptions
from posecast.realtime.pipeline import Pipeline
from posecast.realtime.schema import TOPIC_META, TOPIC_POSE, validate_pose_message
from posecast.realtime.sinks.zmq import PublisherOptions, ZmqSink
from posecast.realtime.sources import open_source
from posecast.realtime.types import Frame

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lifter_model() -> Path:
    if not DEFAULT_MODEL.is_file():
        pytest.fail(f"shipped model {DEFAULT_MODEL} is missing")
    return DEFAULT_MODEL


def _pipeline(pose_model_path: Path, publish: bool = True, **lifting: object) -> Pipeline:
    options = PipelineOptions(detector_options=MediaPipeOptions(model_path=pose_model_path),
                              lifting=LiftingOptions(**lifting))  # fmt: skip
    sinks = [ZmqSink(PublisherOptions(address="tcp://127.0.0.1:0"))] if publish else []
    return build_pipeline(options, sinks)


def _subscribe(pipeline: Pipeline) -> zmq.Socket:
    """A raw SUB socket, connected and confirmed by a meta message (bounded wait, no sleeps)."""
    publisher = pipeline.sinks[0].publisher
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(publisher.address)
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        publisher.send_meta()
        if sub.poll(50):
            topic, _ = sub.recv_multipart()
            if topic == TOPIC_META:
                return sub
    raise AssertionError("subscriber never received a meta message")


def _run_clip(pipeline: Pipeline, sub: zmq.Socket, clip: Path) -> tuple[list, list[dict]]:
    results, messages = [], []
    with open_source(str(clip)) as source:
        for result in pipeline.run(source):
            results.append(result)
            # drain after each frame (the publisher's queue is a few messages deep by design)
            while sub.poll(200):
                topic, payload = sub.recv_multipart()
                if topic == TOPIC_POSE:
                    messages.append(msgpack.unpackb(payload))
                    break
    return results, messages


@pytest.mark.parametrize("clip_name", ["dance_576.mp4", "squats_720x1280.mp4"])
def test_clip_end_to_end(
    clip_name: str, media_dir: Path, pose_model_path: Path, lifter_model: Path, assert_lengths_locked
) -> None:
    with _pipeline(pose_model_path) as pipeline:
        sub = _subscribe(pipeline)
        results, messages = _run_clip(pipeline, sub, media_dir / clip_name)
        sub.close()
    assert len(messages) == len(results) > 0
    posed = [m for m in messages if m["tracking"] != "lost"]
    assert len(posed) >= 0.95 * len(messages), f"pose in only {len(posed)}/{len(messages)} frames"
    for message in messages:
        validate_pose_message(message)
    ids = [m["frame_id"] for m in messages]
    assert all(b > a for a, b in zip(ids, ids[1:], strict=False)), "frame ids must increase"
    joints = np.array([m["joints_m"] for m in posed], dtype=np.float64)
    assert np.isfinite(joints).all()
    # metric and in front of the camera: a person 0.5–15 m away, pelvis-to-head 0.3–0.9 m
    root = np.array([m["root_m"] for m in posed])
    assert (root[:, 2] > 0.5).all() and (root[:, 2] < 15).all()
    torso = np.linalg.norm(joints[:, skeleton.HEAD] - joints[:, skeleton.ROOT], axis=-1)
    assert (torso > 0.3).all() and (torso < 0.9).all()
    # bone lengths constant within 1 % once measured (2 s of video, again at 4 and 8 s) and reached
    dance = clip_name.startswith("dance")
    assert_lengths_locked(joints, fps=30.0 if dance else 5.0, first_s=2.0 if dance else 3.0)
    # capture→publish latency is stamped on the same clock
    latency_ms = [(m["publish_ns"] - m["capture_ns"]) / 1e6 for m in messages]
    assert min(latency_ms) > 0


def test_a_dropout_is_lost_and_the_person_is_held(media_dir: Path, pose_model_path: Path, lifter_model: Path) -> None:
    # issue 10.7: one frame without the person is `lost` (no pose made up), but the window and the
    # bone lengths survive; after a longer gap the same person keeps their bones, the window restarts
    with (
        _pipeline(pose_model_path, publish=False) as pipeline,
        open_source(str(media_dir / "dance_576.mp4")) as source,
    ):
        frames = [source.read() for _ in range(100)]  # 3.3 s at 30 fps: tracking, bone lengths measured, locked
        for frame in frames:
            (person,) = pipeline.process(frame).people
            assert person.tracking in ("warming", "tracking") and person.person_id == 0
        assert person.tracking == "tracking"
        bones, state = person.bone_lengths_m, pipeline.lifting.states[0]
        image = frames[-1].image_bgr

        def at(frame_id: int, image_bgr: np.ndarray = image):  # noqa: ANN202 - the one person of that frame
            (p,) = pipeline.process(Frame(frame_id, time.monotonic_ns(), image_bgr, 30.0, on_media_time=True)).people
            return p

        lost = at(100, np.zeros_like(image))
        assert lost.tracking == "lost" and lost.joints_m is None and lost.person_id == 0
        again = at(101)  # the window bridged the gap: tracking at once, the same bones
        assert again.tracking == "tracking" and again.person_id == 0
        assert np.array_equal(again.bone_lengths_m, bones)
        assert pipeline.lifting.states[0] is state and state.window.seen == 101
        later = at(125)  # 0.8 s later (more than max_gap_s): the window restarts, the bones stay
        assert later.tracking == "warming" and later.person_id == 0
        assert np.array_equal(later.bone_lengths_m, bones)
        held = at(190)  # after 1.3 s without frames (a stalled source): no time out of view, the same person
        assert held.tracking == "warming" and held.person_id == 0
        for frame_id in range(191, 231):  # 1.3 s of frames without anyone (more than the tracker's max_lost_s)
            pipeline.process(Frame(frame_id, time.monotonic_ns(), np.zeros_like(image), 30.0, on_media_time=True))
        stranger = at(231)  # whoever comes then is a new person
        assert stranger.tracking == "warming" and stranger.person_id == 1 and 0 not in pipeline.lifting.states


def test_calibrated_subject_fixes_bone_lengths(
    tmp_path: Path, media_dir: Path, pose_model_path: Path, lifter_model: Path
) -> None:
    from posecast.calibration import SubjectProfile, load_subject, save_subject

    path = save_subject(SubjectProfile.from_height(1.60, assumed=False), tmp_path / "subject.yaml")
    profile = load_subject(path)  # the lengths as the file holds them (to the millimetre)
    with (
        _pipeline(pose_model_path, publish=False, subject_path=path) as pipeline,
        open_source(str(media_dir / "squats_720x1280.mp4")) as source,
    ):
        results = [p for r in pipeline.run(source, max_frames=10) for p in r.tracked]
    assert results
    lengths = skeleton.bone_lengths(np.array([r.joints_rel_m for r in results]))
    np.testing.assert_allclose(lengths, np.broadcast_to(profile.as_array(), lengths.shape), rtol=1e-6)
    np.testing.assert_allclose(results[-1].bone_lengths_m, profile.as_array())
    assert pipeline.meta().assumptions["height_assumed"] is False


def test_subject_collector_keeps_the_2d_each_pose_was_lifted_from(media_dir: Path, pose_model_path: Path) -> None:
    """``calibrate subject`` gets, per frame, the normalised 2D the lifter saw (the stream's
    intrinsics applied to the published pixels), so it can put each lifted pose onto its rays."""
    from posecast.engines.camera import onto_rays
    from posecast.realtime.sinks.subject import SubjectCollector

    collector = SubjectCollector()
    options = PipelineOptions(detector_options=MediaPipeOptions(model_path=pose_model_path))
    with build_pipeline(options, [collector]) as pipeline, open_source(str(media_dir / "squats_720x1280.mp4")) as src:
        people = [p for r in pipeline.run(src, max_frames=8) for p in r.tracked]
        k = pipeline.meta().intrinsics
    poses, confidences, keypoints_norm = collector.arrays()
    assert len(people) == len(poses) == len(keypoints_norm) == len(confidences) > 0
    pixels = np.array([p.keypoints_px for p in people], np.float64)
    np.testing.assert_allclose(keypoints_norm, (pixels - [k.cx, k.cy]) / [k.fx, k.fy], atol=1e-6)
    on_rays = onto_rays(poses, keypoints_norm, confidences)
    np.testing.assert_allclose(on_rays[..., :2] / on_rays[..., 2:], keypoints_norm, atol=1e-9)


def test_a_closed_pipeline_says_so(media_dir: Path, pose_model_path: Path) -> None:
    """QA: run() after the ``with`` block, or entering it again, raised ONNX Runtime's
    ``AttributeError: 'NoneType' object has no attribute 'io_binding'``; now one clear error."""
    from posecast.engines.errors import PosecastError

    pipeline = _pipeline(pose_model_path, publish=False)
    with pipeline, open_source(str(media_dir / "dance_576.mp4")) as source:
        assert len(list(pipeline.run(source, max_frames=2))) == 2
    with open_source(str(media_dir / "dance_576.mp4")) as source:
        with pytest.raises(PosecastError, match="this Pipeline is closed .*build a new one"):
            next(pipeline.run(source))
        with pytest.raises(PosecastError, match="this Pipeline is closed"):
            pipeline.process(source.read())
    with pytest.raises(PosecastError, match="this Pipeline is closed"), pipeline:
        pass


def test_closing_the_pipeline_from_another_thread_ends_the_run(media_dir: Path, pose_model_path: Path) -> None:
    """A game loop runs the pipeline on a thread of its own and closes it from another (QA: the
    loop died with ONNX Runtime's ``AttributeError: 'NoneType' object has no attribute
    'io_binding'``). The close waits for the frame being processed; ``run`` then ends, no error."""
    import threading

    from posecast.realtime.stages import Sink

    closing = threading.Event()
    closed_after_s: list[float] = []

    class CloseMidFrame(Sink):
        name = "close-mid-frame"
        inline = True
        closes = 0

        def close(self) -> None:
            type(self).closes += 1

        def write(self, frame) -> None:  # noqa: ANN001
            if frame.frame_id == 3:  # another thread closes while this frame is still being handed out
                def close() -> None:
                    started = time.monotonic()
                    closing.set()
                    pipeline.close()
                    closed_after_s.append(time.monotonic() - started)

                threading.Thread(target=close).start()
                closing.wait(5)
                time.sleep(0.3)

    options = PipelineOptions(detector_options=MediaPipeOptions(model_path=pose_model_path))
    pipeline = build_pipeline(options, [CloseMidFrame()])
    with pipeline, open_source(str(media_dir / "dance_576.mp4")) as source:
        frames = [frame.frame_id for frame in pipeline.run(source, max_frames=20)]
    assert frames == [0, 1, 2, 3] and pipeline.closed
    assert CloseMidFrame.closes == 1  # the `with` block's close after the thread's: nothing closed twice
    assert closed_after_s and closed_after_s[0] >= 0.2  # it waited for frame 3 to be done


def test_a_close_from_another_thread_before_the_run_began_ends_it_with_no_error(media_dir: Path,
                                                                                pose_model_path: Path) -> None:
    """QA: a game loop that quit before its worker thread reached ``with pipeline`` got "this
    Pipeline is closed" in the worker, where a run under way ends with no error. The thread that
    closed it still gets the error if it runs it again."""
    import threading

    from posecast.engines.errors import PosecastError

    pipeline = build_pipeline(PipelineOptions(detector_options=MediaPipeOptions(model_path=pose_model_path)))
    pipeline.close()  # the player quits at once
    ran: list[object] = []

    def work() -> None:
        try:
            with pipeline, open_source(str(media_dir / "dance_576.mp4")) as source:
                ran.append(sum(1 for _ in pipeline.run(source)))
        except Exception as exc:  # noqa: BLE001 - what the worker would have met
            ran.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(timeout=60)
    assert ran == [0]
    with pytest.raises(PosecastError, match="this Pipeline is closed"), pipeline:
        pass
    # closed after its frames, by a finished run's `with` block: run again on another thread, an error
    # (review: a thread pool's next job ran 0 frames without a word)
    pipeline = build_pipeline(PipelineOptions(detector_options=MediaPipeOptions(model_path=pose_model_path)))
    ran.clear()
    for _ in range(2):
        worker = threading.Thread(target=work)
        worker.start()
        worker.join(timeout=60)
    assert ran[0] == 120 and isinstance(ran[1], PosecastError) and "this Pipeline is closed" in str(ran[1])


def test_a_close_from_another_thread_ends_a_run_held_by_an_output_that_stopped_reading(
    media_dir: Path, pose_model_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """QA: an output that keeps a file's every frame and whose write blocks (a TCP peer that
    stopped reading) held the run for good with nothing said, and ``close()`` from another
    thread, the documented way to stop it, never returned."""
    import threading

    from posecast.realtime.sinks import background
    from posecast.realtime.stages import Sink

    release = threading.Event()
    entered = threading.Event()

    class StoppedReader(Sink):
        name = "stopped-reader"
        inline = False
        keeps_file_frames = True
        queue_frames = 1

        def write(self, frame) -> None:  # noqa: ANN001
            entered.set()
            release.wait(60)  # the peer never reads again (released when the test ends)

    options = PipelineOptions(detector_options=MediaPipeOptions(model_path=pose_model_path))
    pipeline = build_pipeline(options, [StoppedReader()])
    frames: list[int] = []
    original_wait_warning_s = background.WAIT_WARNING_S
    background.WAIT_WARNING_S = 1.0  # the wait is said (10 s in a real run)
    try:
        with open_source(str(media_dir / "dance_576.mp4")) as source:
            pipeline.open()
            runner = threading.Thread(target=lambda: frames.extend(f.frame_id for f in pipeline.run(source)))
            runner.start()
            assert entered.wait(30)
            time.sleep(2.0)  # frame 0 is in write, frame 1 queued: frame 2 waits for room
            assert frames == [0, 1] and runner.is_alive()
            closer = threading.Thread(target=pipeline.close)  # (on a thread: a hang fails the test)
            closer.start()
            closer.join(8)  # the output's close_timeout_s (2 s) and a margin, not forever
            closed_in_time = not closer.is_alive()
            runner.join(10)
    finally:
        background.WAIT_WARNING_S = original_wait_warning_s
        release.set()
    assert closed_in_time and not runner.is_alive() and pipeline.closed
    assert "output stopped-reader has taken no frame for 1 s: the run waits for it" in caplog.text


def test_a_close_from_another_thread_costs_a_healthy_file_output_no_frame(
    media_dir: Path, pose_model_path: Path
) -> None:
    """Review: the close hurried every output at once, so a healthy output that keeps a file's
    frames (a queue of 2) missed the frame the run was handing out, 20 of 20."""
    import threading

    from posecast.realtime.stages import Sink

    class SlowRecorder(Sink):
        name = "slow-recorder"
        keeps_file_frames = True
        queue_frames = 2
        written: list[int] = []

        def write(self, frame) -> None:  # noqa: ANN001
            time.sleep(0.1)  # slower than the frames come: the run waits for it, inside a stage
            self.written.append(frame.frame_id)

    options = PipelineOptions(detector_options=MediaPipeOptions(model_path=pose_model_path))
    pipeline = build_pipeline(options, [SlowRecorder()])
    yielded: list[int] = []
    with open_source(str(media_dir / "dance_576.mp4")) as source:
        pipeline.open()
        runner = threading.Thread(target=lambda: yielded.extend(f.frame_id for f in pipeline.run(source)))
        runner.start()
        while len(yielded) < 20 and runner.is_alive():
            time.sleep(0.01)
        time.sleep(0.07)  # frame 20 detected (~30 ms) and waiting for room in the output's queue
        pipeline.close()
        runner.join(10)
    assert 20 <= len(yielded) < 120 and SlowRecorder.written == yielded


def test_from_python_an_output_over_the_source_video_is_refused_before_a_frame(
    media_dir: Path, pose_model_path: Path, tmp_path: Path
) -> None:
    """QA: the command refuses ``--output-video`` naming the source, but from Python
    ``VideoSink(the clip read)`` replaced the 65-frame video with the 3 frames it had written."""
    import shutil

    from posecast.engines.fileio import OutputPathError, file_sha256
    from posecast.realtime.sinks.video import VideoSink

    clip = tmp_path / "in.mp4"
    shutil.copy(media_dir / "dance_576.mp4", clip)
    before = file_sha256(clip)
    options = PipelineOptions(detector_options=MediaPipeOptions(model_path=pose_model_path))
    pipeline = build_pipeline(options, [VideoSink(clip)])
    refused = pytest.raises(OutputPathError, match=r"--output-video .*in\.mp4 is the source: writing it would destroy")
    with refused, pipeline, open_source(str(clip)) as source:
        next(pipeline.run(source))
    assert file_sha256(clip) == before and sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]
    from posecast.realtime.threaded import ThreadedPipeline  # the drop-in runner checks it too (review)

    pipeline = build_pipeline(options, [VideoSink(clip)])
    with refused, pipeline, open_source(str(clip)) as source:
        next(ThreadedPipeline(pipeline).run(source))
    assert file_sha256(clip) == before and sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_a_keypoint_that_is_not_a_number_costs_only_its_frames(
    media_dir: Path, pose_model_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """QA: a detector's NaN position (a common "not seen" marker) made the person ``lost``
    with nothing logged (in every frame, when the detector marks a wrist so throughout). Such a
    person is left out of those frames alone, said once, and the run holds through the gap."""
    options = PipelineOptions(detector_options=MediaPipeOptions(model_path=pose_model_path))
    pipeline = build_pipeline(options)
    mediapipe = pipeline.detector

    class MarksUnseenWithNaN:
        name, layout, max_people = "nan-marker", mediapipe.layout, 1

        def detect(self, frame: Frame):  # noqa: ANN202
            detections = mediapipe.detect(frame)
            if 30 <= frame.frame_id <= 32 and detections.count:
                detections.keypoints_px[0, 15] = np.nan  # a wrist "not seen"
            if frame.frame_id >= 40 and detections.count:
                detections.keypoints_px[0, 19] = np.nan  # a finger, which no joint is made from (review)
            return detections

        def reset(self) -> None:
            mediapipe.reset()

        def close(self) -> None:
            mediapipe.close()

    pipeline.detector = MarksUnseenWithNaN()
    with pipeline, open_source(str(media_dir / "dance_576.mp4")) as source:
        frames = list(pipeline.run(source, max_frames=60))
    posed = [f.frame_id for f in frames if f.people and f.people[0].joints_m is not None]
    assert not set(posed) & {30, 31, 32}
    assert set(range(40, 60)) <= set(posed), posed  # (before the review: none from frame 40)
    assert pipeline.lifting.non_finite_detections == 3
    assert caplog.text.count("gave a keypoint position that is not a finite number (frame 30)") == 1


def test_detections_stamped_with_another_time_get_the_frames_and_a_detector_must_return_detections(
    media_dir: Path, pose_model_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """QA: a detector that filled ``timestamp_ns`` with the frame's ``capture_ns`` (both fields
    are there to fill) never left ``warming``, with nothing said; one returning ``None`` gave an
    ``AttributeError`` that named no detector."""
    import dataclasses

    options = PipelineOptions(detector_options=MediaPipeOptions(model_path=pose_model_path))
    pipeline = build_pipeline(options)
    mediapipe = pipeline.detector

    class StampsCaptureTime:
        name, layout, max_people = "capture-stamper", mediapipe.layout, 1
        gives_none = False
        frame_ahead = False

        def detect(self, frame: Frame):  # noqa: ANN202
            if self.gives_none:
                return None
            detections = dataclasses.replace(mediapipe.detect(frame), timestamp_ns=frame.capture_ns)
            return dataclasses.replace(detections, frame_id=frame.frame_id + 1) if self.frame_ahead else detections

        def reset(self) -> None:
            mediapipe.reset()

        def close(self) -> None:
            mediapipe.close()

    pipeline.detector = stamper = StampsCaptureTime()
    with pipeline, open_source(str(media_dir / "dance_576.mp4")) as source:
        frames = list(pipeline.run(source, max_frames=40))
        assert frames[-1].people and frames[-1].people[0].tracking == "tracking"  # (before: warming throughout)
        stamper.gives_none = True
        with pytest.raises(StageError, match=r"detector capture-stamper's detect\(\) returned NoneType, not Detec"):
            pipeline.process(source.read())
        stamper.gives_none, stamper.frame_ahead = False, True  # another frame's 2D is not lifted at this time
        with pytest.raises(StageError, match=r"capture-stamper returned detections of frame 42 for frame 41"):
            pipeline.process(source.read())
    assert caplog.text.count("detector capture-stamper stamped frame 0 at") == 1


def test_the_python_api_names_wrong_arguments(media_dir: Path, pose_model_path: Path) -> None:
    """QA: ``build_pipeline("x")`` and ``PipelineOptions(lifting="x")`` raised AttributeErrors,
    ``sinks=[None]`` and ``max_people=True`` were taken, ``run("clip.mp4")`` said "'str' object
    has no attribute 'read'", ``run(max_frames="3")`` failed on a comparison and 2.5 ran 3."""
    from posecast.realtime.errors import OptionsError

    with pytest.raises(TypeError, match="options must be PipelineOptions, got str"):
        build_pipeline("x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="sinks must be Sink objects"):
        build_pipeline(None, [None])  # type: ignore[list-item]
    with pytest.raises(OptionsError, match=r"^PipelineOptions.lifting must be LiftingOptions, got 'x'$"):
        PipelineOptions(lifting="x")  # type: ignore[arg-type]
    with pytest.raises(OptionsError, match=r"^PipelineOptions.max_people must be a whole number, got True$"):
        PipelineOptions(max_people=True)
    with _pipeline(pose_model_path, publish=False) as pipeline:
        with pytest.raises(TypeError, match="source must be an opened frame source"):
            next(pipeline.run(str(media_dir / "dance_576.mp4")))  # type: ignore[arg-type]
        with open_source(str(media_dir / "dance_576.mp4")) as source:
            for bad in ("3", 2.5, -1, True):
                with pytest.raises(TypeError, match="max_frames must be a whole number of frames"):
                    next(pipeline.run(source, max_frames=bad))  # type: ignore[arg-type]


@pytest.mark.parametrize(("make", "said"), [
    (lambda: AvatarOptions(mirror="no"), r"AvatarOptions.mirror must be True or False, got 'no'"),  # (mirrored)
    (lambda: LifterOptions(int8="no"), r"LifterOptions.int8 must be True or False or None, got 'no'"),  # (ran INT8)
    (lambda: PipelineOptions(avatar=True), r"PipelineOptions.avatar must be AvatarOptions or None, got True"),
    (lambda: AvatarOptions(floor="x"), r"AvatarOptions.floor must be Floor or None, got 'x'"),
    (lambda: PipelineOptions(detector_options={}),
     r"detector_options for mediapipe must be MediaPipeOptions, got \{\}"),
    (lambda: LiftingOptions(hfov_deg="60"), r"LiftingOptions.hfov_deg must be a number, got '60'"),
    (lambda: LiftingOptions(height_m="1.8"), r"LiftingOptions.height_m must be a number or None, got '1.8'"),
    (lambda: LifterOptions(threads="2"), r"LifterOptions.threads must be a whole number, got '2'"),
    (lambda: LiftingOptions(one_euro=True), r"LiftingOptions.one_euro must be OneEuroOptions or None, got True"),
    (lambda: LiftingOptions(max_gap_s=-1), r"max_gap_s must be 0 or more seconds, or None, got -1"),
])  # fmt: skip
def test_options_of_the_wrong_kind_are_named_where_they_are_made(make, said: str) -> None:  # noqa: ANN001
    """QA: these were taken (a string for a bool is true), or failed later inside a stage (an
    AttributeError, a TypeError from a comparison, a StageError at the first frame)."""
    from posecast.realtime.errors import OptionsError

    with pytest.raises(OptionsError, match=f"^{said}$"):
        make()


def test_options_of_the_right_kind_in_other_forms_are_taken() -> None:
    """Review: intrinsics as a list or a numpy array were refused as "not a tuple", numpy's whole
    numbers passed one check and failed MediaPipe's, and a subclass annotated with a name that
    exists only for type checkers could not be built."""
    import dataclasses
    from typing import TYPE_CHECKING

    for k in ([800, 800, 320, 240], np.array([800.0, 800.0, 320.0, 240.0])):
        assert LiftingOptions(fixed_intrinsics=k).fixed_intrinsics is k
    assert PipelineOptions(max_people=np.int64(2)).detector_options.max_people == 2
    if TYPE_CHECKING:
        from decimal import Decimal

    @dataclasses.dataclass(frozen=True)
    class MyAvatar(AvatarOptions):
        tag: Decimal | None = None

    assert MyAvatar(mirror=True).mirror


def test_process_names_what_is_not_a_frame(pose_model_path: Path) -> None:
    with _pipeline(pose_model_path, publish=False) as pipeline, pytest.raises(TypeError, match="takes a Frame"):
        pipeline.process(None)  # type: ignore[arg-type]


_FORGOTTEN_PIPELINES = """
import gc, sys, threading, weakref
from pathlib import Path
from posecast.realtime.assemble import PipelineOptions, build_pipeline
from posecast.realtime.detectors.mediapipe import MediaPipeDetector, MediaPipeOptions
from posecast.realtime.sinks.record import RecordOptions, RecordSink
from posecast.realtime.sources import open_source

options = MediaPipeOptions(model_path=sys.argv[1])
kept = []

def forgetful():  # builds, breaks out of the loop, never closes
    take = Path(sys.argv[3]) / f"take{len(kept)}.posecast"
    pipeline = build_pipeline(PipelineOptions(detector_options=options), sinks=[RecordSink(RecordOptions(take))])
    kept.append(weakref.ref(pipeline))
    with open_source(sys.argv[2]) as source:
        for frame in pipeline.run(source):
            if frame.frame_id == 3:
                break

forgetful()  # mediapipe is first imported in here
gc.collect()
print("the first pipeline kept:", kept[0]() is not None, flush=True)
gc.disable()
forgetful()
print("the second left to the garbage collector:", kept[1]() is not None, flush=True)
print("threads:", sorted(t.name for t in threading.enumerate()), flush=True)
print("takes:", sorted(p.name for p in Path(sys.argv[3]).iterdir()), flush=True)
gc.enable()
for _ in range(2):  # a detector in a reference cycle, then a collection
    detector = MediaPipeDetector(options)
    detector.itself = detector
    del detector
    gc.collect()
print("collected", flush=True)
"""


def test_a_pipeline_left_unclosed_is_freed_and_never_hangs_the_garbage_collector(
    tmp_path: Path, media_dir: Path, pose_model_path: Path
) -> None:
    """QA: a pipeline a program forgot to close hung it at a later garbage collection, in
    MediaPipe's own ``__del__`` (its dispatcher's thread already told to stop). Every pipeline
    was a reference cycle (through the inline-sink watch), and the first one built in a function
    was kept alive by MediaPipe's stored import error; now both are freed as soon as they are
    dropped, and a detector the collector does free closes its landmarkers while it can. Its
    outputs are closed then too (QA: each threaded output's thread lived on, holding its sink, and
    a recorder's take stayed a ``.part``), and MediaPipe's native lines stay muted."""
    import subprocess
    import sys

    script = tmp_path / "forgetful.py"
    script.write_text(_FORGOTTEN_PIPELINES)
    try:
        done = subprocess.run([sys.executable, str(script), str(pose_model_path), str(media_dir / "dance_576.mp4"),
                               str(tmp_path)], capture_output=True, text=True, timeout=150)  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"hung: {exc.stdout}")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "the first pipeline kept: False" in done.stdout
    assert "the second left to the garbage collector: False" in done.stdout
    assert "collected" in done.stdout
    assert "Exception ignored" not in done.stderr, done.stderr[-2000:]
    assert "threads: ['MainThread']" in done.stdout
    assert "takes: ['forgetful.py', 'take0.posecast', 'take1.posecast']" in done.stdout
    assert done.stderr.count("a Pipeline was dropped without close(): its outputs are closed now") == 2
    assert "DestroyAccelerator" not in done.stderr, done.stderr[-2000:]

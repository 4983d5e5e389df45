"""Sources that fail for a while (issue 15.6, 15.7): a camera that drops out is reopened with backoff
and resumes, reporting ``source_stalled_s`` to a real ZeroMQ subscriber meanwhile (serial and
threaded runners); a short blip is not even a stall; a camera gone for good ends the stream; a
video file that ends, ends at once; an image folder skips (and counts) images it cannot decode.
The devices are fakes of ``cv2.VideoCapture`` playing real frames of the dance clip."""

from __future__ import annotations

import logging
import threading
import time

import cv2
import numpy as np
import pytest
import zmq
from posecast.engines.layouts import COCO_17
from posecast.realtime.errors import SourceError, SourceStalledError
from posecast.realtime.pipeline import Pipeline
from posecast.realtime.schema import decode_pose
from posecast.realtime.sinks.zmq import PublisherOptions, ZmqSink
from posecast.realtime.sources import CameraSource, ImageFolderSource, VideoFileSource, stall_log
from posecast.realtime.stages import Detector2D, PoseLifting
from posecast.realtime.threaded import ThreadedPipeline
from posecast.realtime.types import Detections2D, Frame, PersonPose


@pytest.fixture(scope="module")
def clip(dance_frames: list[np.ndarray]) -> list[np.ndarray]:
    return dance_frames


class FlakyDevice:
    """A fake ``cv2.VideoCapture`` (the class and its instances): frames at ``fps``, but every
    read fails during ``[dropout_start_s, dropout_start_s + dropout_s)`` after the first read,
    and from ``gone_after_s`` on (a camera unplugged for good). Counts opens and reads."""

    def __init__(self, frames, fps=100.0, dropout_start_s=0.3, dropout_s=0.0, gone_after_s=1e9, fail_reads=0,
                 hang_s=0.0):  # fmt: skip
        self.frames, self.period_s = frames, 1.0 / fps
        self.dropout = (dropout_start_s, dropout_start_s + dropout_s)
        self.gone_after_s, self.fail_reads = gone_after_s, fail_reads
        self.hang_s = hang_s  # one read at dropout_start_s blocks this long, then succeeds (a hung stream)
        self.opens = self.reads = self.delivered = 0
        self.start: float | None = None

    def __call__(self, *args: object) -> FlakyDevice:  # cv2.VideoCapture(index)
        self.opens += 1
        return self

    def isOpened(self) -> bool:
        return True

    def set(self, prop: int, value: float) -> bool:
        return True

    def get(self, prop: int) -> float:
        return 1 / self.period_s if prop == cv2.CAP_PROP_FPS else 0.0

    def read(self) -> tuple[bool, np.ndarray | None]:
        time.sleep(self.period_s)
        self.reads += 1
        now = time.monotonic()
        self.start = self.start or now
        elapsed = now - self.start
        if self.hang_s and elapsed >= self.dropout[0]:
            time.sleep(self.hang_s)
            self.hang_s = 0.0
        if self.dropout[0] <= elapsed < self.dropout[1] or elapsed >= self.gone_after_s:
            return False, None
        if self.delivered == 10 and self.fail_reads:  # a blip: this many failed reads in a row
            self.fail_reads -= 1
            return False, None
        self.delivered += 1
        return True, self.frames[self.delivered % len(self.frames)]

    def release(self) -> None:
        pass


def _read_for(camera: CameraSource, seconds: float) -> tuple[list[Frame], list[float], bool]:
    """Frames, stall reports (seconds stalled) and whether the stream ended, over ``seconds``."""
    frames, stalls, ended = [], [], False
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            frame = camera.read()
        except SourceStalledError as stall:
            stalls.append(stall.stalled_s)
            continue
        if frame is None:
            ended = True
            break
        frames.append(frame)
    return frames, stalls, ended


def test_camera_dropout_is_retried_reported_and_resumed(clip, monkeypatch, caplog) -> None:
    """1.5 s without frames: the device is reopened with backoff, read() reports the stall every
    0.5 s, then frames come back with increasing ids."""
    device = FlakyDevice(clip, dropout_start_s=0.3, dropout_s=1.5)
    monkeypatch.setattr(cv2, "VideoCapture", device)
    with caplog.at_level(logging.WARNING), CameraSource(0) as camera:
        frames, stalls, ended = _read_for(camera, 3.0)
        assert camera.stalls == 1
    assert not ended
    gaps_s = np.diff([f.capture_ns for f in frames]) / 1e9
    assert 1.4 < gaps_s.max() < 3.0, gaps_s.max()  # the dropout, and the backoff's last pause at most
    assert (np.sort(gaps_s)[-2] < 0.5) and frames[-1].capture_ns > frames[int(gaps_s.argmax())].capture_ns
    assert [f.frame_id for f in frames] == sorted({f.frame_id for f in frames})  # increasing, no repeats
    assert 2 <= len(stalls) <= 4 and stalls == sorted(stalls) and 0.5 <= stalls[0] < 1.0, stalls
    assert device.opens >= 3  # reopened while it was gone (first open + retries)
    messages = [r.getMessage() for r in caplog.records]
    assert any("stopped delivering frames: reopening it" in m for m in messages), messages
    assert any("is back after" in m for m in messages), messages


def test_a_read_that_hangs_is_logged_when_it_starts_and_ends(clip, monkeypatch, caplog) -> None:
    """A stream that keeps its connection and sends nothing: the device's read blocks (until its
    own timeout, 10 s for a stream) instead of failing, so the grab loop never reopens it. The log
    says so at the first stall report, not when the read returns (QA: nothing for 10 s, and
    nothing at all for a stall under 10 s)."""
    device = FlakyDevice(clip, dropout_start_s=0.3, hang_s=2.0)
    monkeypatch.setattr(cv2, "VideoCapture", device)
    said_at_s: list[float] = []

    class Timed(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            said_at_s.append(time.monotonic())

    handler = Timed(logging.WARNING)
    logging.getLogger("posecast.realtime.sources.camera").addHandler(handler)
    try:
        with caplog.at_level(logging.WARNING), CameraSource(0) as camera:
            frames, stalls, ended = _read_for(camera, 3.5)
            assert camera.stalls == 1
    finally:
        logging.getLogger("posecast.realtime.sources.camera").removeHandler(handler)
    assert not ended and len(stalls) >= 3 and device.opens == 1  # reported, never reopened
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages
    assert "has delivered no frame for 0.5 s; waiting for it (at most 30 s)" in messages[0]
    assert "is back after 2." in messages[1]
    gap_start_s = frames[int(np.argmax(np.diff([f.capture_ns for f in frames])))].capture_ns / 1e9
    assert said_at_s[0] - gap_start_s < 1.0  # said while the read still hung


class FlappingDevice(FlakyDevice):
    """A camera on a loose cable: no frame for ``dropout_s`` of every ``flap_s`` after
    ``dropout_start_s``, until ``steady_after_s`` (then it delivers steadily)."""

    def __init__(self, frames, flap_s: float, steady_after_s: float, **kwargs) -> None:  # noqa: ANN001
        super().__init__(frames, **kwargs)
        self.flap_period_s, self.steady_after_s = flap_s, steady_after_s

    def read(self) -> tuple[bool, np.ndarray | None]:
        time.sleep(self.period_s)
        now = time.monotonic()
        self.start = self.start or now
        elapsed = now - self.start
        phase_s = (elapsed - self.dropout[0]) % self.flap_period_s
        if self.dropout[0] <= elapsed < self.steady_after_s and phase_s < self.dropout[1] - self.dropout[0]:
            return False, None
        self.delivered += 1
        return True, self.frames[self.delivered % len(self.frames)]


def test_a_flapping_camera_is_summarised_in_the_log(clip, monkeypatch, caplog) -> None:
    """Ops QA: a camera that stalls every second or two logged two lines a stall (80 a minute).
    The first three are told one by one; then the log says the camera keeps stalling and counts
    the rest in one line a window (5 s here instead of 60), and says when it has been steady for a
    window. read() still reports every stall (the subscribers' `lost` messages)."""
    monkeypatch.setattr(stall_log, "WINDOW_S", 5.0)
    device = FlappingDevice(clip, flap_s=1.0, steady_after_s=6.3, dropout_start_s=0.3, dropout_s=0.7)
    monkeypatch.setattr(cv2, "VideoCapture", device)
    with caplog.at_level(logging.WARNING), CameraSource(0) as camera:
        frames, stalls, ended = _read_for(camera, 12.5)
        stalls_counted = camera.stalls
    assert not ended and frames[-1].capture_ns / 1e9 > time.monotonic() - 0.5
    messages = [r.getMessage() for r in caplog.records]
    assert 5 <= stalls_counted <= 7, (stalls_counted, messages)
    assert len(stalls) >= stalls_counted  # every stall reported to read()'s caller
    told_ends = [i for i, m in enumerate(messages) if "is back after" in m]
    assert len(told_ends) == 3, messages  # with up to two lines for each start (read() and the reopening)
    assert sum("keeps stalling (4 times in" in m for m in messages[told_ends[-1]:]) == 1, messages
    summarised = [int(m.split(" stalled ")[1].split()[0]) for m in messages if " more time" in m]
    assert summarised and sum(summarised) == stalls_counted - 3, messages
    assert "has delivered without a stall for 5 s: its stalls are told one by one again" in messages[-1], messages
    assert len(messages) - told_ends[-1] - 1 == 1 + len(summarised) + 1, messages  # nothing else since


def test_a_short_blip_is_not_the_end(clip, monkeypatch) -> None:
    """The issue's probe: 15 failed reads in a row used to end the stream for good."""
    device = FlakyDevice(clip, fail_reads=15)
    monkeypatch.setattr(cv2, "VideoCapture", device)
    with CameraSource(0) as camera:
        frames, stalls, ended = _read_for(camera, 1.0)
    assert not ended and not stalls
    assert device.delivered > 20 and device.fail_reads == 0
    assert frames[-1].frame_id > 10


def test_a_camera_gone_for_good_ends_the_stream(clip, monkeypatch) -> None:
    device = FlakyDevice(clip, gone_after_s=0.3)
    monkeypatch.setattr(cv2, "VideoCapture", device)
    with CameraSource(0, max_stall_s=1.2) as camera:
        frames, stalls, ended = _read_for(camera, 10.0)
    assert frames and ended
    assert 1 <= len(stalls) <= 3, stalls


def test_a_video_file_that_ends_ends_at_once(clip, monkeypatch, media_dir) -> None:
    """A file's failed read is its end: no retry, no reopening, no stall."""
    device = FlakyDevice(clip)
    served = iter(range(5))

    def read() -> tuple[bool, np.ndarray | None]:
        device.reads += 1
        i = next(served, None)
        return (True, clip[i]) if i is not None else (False, None)

    device.read = read  # type: ignore[method-assign]
    monkeypatch.setattr(cv2, "VideoCapture", device)
    with VideoFileSource(media_dir / "dance_576.mp4") as video:
        frames = []
        while (frame := video.read()) is not None:
            frames.append(frame)
        assert video.read() is None  # and stays ended
    assert [f.frame_id for f in frames] == [0, 1, 2, 3, 4]
    assert device.opens == 1 and device.reads <= 7


def test_image_folder_skips_and_counts_what_it_cannot_decode(clip, tmp_path, caplog) -> None:
    for i in range(5):
        cv2.imwrite(str(tmp_path / f"frame_{i:03d}.png"), clip[i])
    (tmp_path / "frame_001.png").write_bytes(b"")  # empty
    (tmp_path / "frame_003.png").write_bytes((tmp_path / "frame_004.png").read_bytes()[:200])  # truncated
    logger = "posecast.realtime.sources.images"
    with caplog.at_level(logging.WARNING, logger=logger), ImageFolderSource(tmp_path) as source:
        frames = []
        while (frame := source.read()) is not None:
            frames.append(frame)
        assert source.skipped_images == 2
    assert [f.frame_id for f in frames] == [0, 2, 4]  # each image keeps its place in time
    np.testing.assert_array_equal(frames[1].image_bgr, cv2.imread(str(tmp_path / "frame_002.png")))
    messages = [r.getMessage() for r in caplog.records]
    assert sum("could not decode it" in m for m in messages) == 1  # logged once
    assert "2 of 5 images" in messages[-1]


def test_image_folder_where_nothing_decodes_is_an_error(tmp_path, caplog) -> None:
    """One line, the first image's reason and its fix (QA: "convert them to PNG or JPEG" for a
    PNG too large to decode, after a warning and a count that said the same)."""
    for i in range(3):
        (tmp_path / f"bad_{i}.jpg").write_bytes(b"not a jpeg")
    with caplog.at_level(logging.WARNING), ImageFolderSource(tmp_path) as source, pytest.raises(
        SourceError, match=r"no image in .* could be read: bad_0\.jpg \(and 2 more\): OpenCV could not decode it "
                           r"\(empty, corrupt or cut short\?\): convert them to PNG or JPEG$"):  # fmt: skip
        source.read()
    assert not caplog.records


def test_a_video_of_no_frames_is_said_to_have_none(tmp_path) -> None:  # noqa: ANN001
    """A valid video without a frame was "OpenCV could not decode video ...: re-encode it"
    (error-contract QA)."""
    writer = cv2.VideoWriter(str(tmp_path / "empty.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 30, (64, 48))
    writer.release()
    with pytest.raises(SourceError, match=r"empty\.avi has no frames: pass a video with at least one$"):
        VideoFileSource(tmp_path / "empty.avi").open()


def test_an_mp4_closed_before_its_first_frame_is_said_to_have_none(tmp_path) -> None:  # noqa: ANN001
    """An MP4 writer closed without a frame leaves a container with no stream, which OpenCV will
    not open: it was "could not decode ... re-encode it" (QA)."""
    pytest.importorskip("av", reason='needs PyAV: pip install -e ".[video]"')
    writer = cv2.VideoWriter(str(tmp_path / "empty.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 30, (64, 48))
    writer.release()
    with pytest.raises(SourceError, match=r"empty\.mp4 has no frames, nor any stream \(a recording stopped before its "
                                          r"first frame\?\): pass a video with at least one$"):  # fmt: skip
        VideoFileSource(tmp_path / "empty.mp4").open()


class _OnePerson(Detector2D):
    name = "one"
    layout = COCO_17

    def detect(self, frame: Frame) -> Detections2D:
        keypoints = np.full((1, 17, 2), 100.0, np.float32)
        return Detections2D(frame.frame_id, frame.capture_ns, frame.timestamp_ns, frame.image_size, COCO_17,
                            keypoints, np.ones((1, 17), np.float32), np.full(1, -1, np.int64))  # fmt: skip


class _Fixed(PoseLifting):
    name = "fixed"

    def process(self, detections, timestamp_ns, stage_ns=None):  # noqa: ANN001, ANN201
        joints = np.zeros((17, 3)) + [0, 0, 3]
        return [PersonPose(4, "tracking", np.zeros((17, 2), np.float32), np.ones(17, np.float32), joints,
                           joints - joints[0], joints[0])]  # fmt: skip

    def assumptions(self) -> dict:
        return {}


@pytest.mark.parametrize("runner", ["serial", "threaded"])
def test_subscribers_hear_about_the_stall(clip, monkeypatch, runner) -> None:
    """A real subscriber gets poses, then ``lost`` notices with ``source_stalled_s`` (the last
    frame's id, about every 0.5 s), then poses again."""
    monkeypatch.setattr(cv2, "VideoCapture", FlakyDevice(clip, dropout_start_s=0.3, dropout_s=1.6))
    sink = ZmqSink(PublisherOptions(address="tcp://127.0.0.1:0"))
    subscriber = zmq.Context.instance().socket(zmq.SUB)
    subscriber.setsockopt(zmq.LINGER, 0)
    subscriber.setsockopt(zmq.RCVHWM, 100_000)
    subscriber.connect(sink.address)
    subscriber.subscribe(b"pose")
    time.sleep(0.3)  # the subscription reaches the publisher
    received = []
    stop = threading.Event()

    def listen() -> None:
        while not stop.is_set():
            if subscriber.poll(50):
                received.append(decode_pose(subscriber.recv_multipart()[1]))

    listener = threading.Thread(target=listen)
    listener.start()
    pipeline = Pipeline(_OnePerson(), _Fixed(), [sink])
    runs = pipeline if runner == "serial" else ThreadedPipeline(pipeline)
    with CameraSource(0) as camera, pipeline:
        deadline = time.monotonic() + 3.0
        for _ in runs.run(camera):
            if time.monotonic() > deadline:
                break
    time.sleep(0.2)
    stop.set()
    listener.join()
    subscriber.close()
    at = [i for i, m in enumerate(received) if m.source_stalled_s > 0]
    notices = [received[i] for i in at]
    assert 2 <= len(notices) <= 6 and at == list(range(at[0], at[-1] + 1)), [m.source_stalled_s for m in notices]
    assert all(m.tracking == "lost" and m.person_id == 4 and not m.joints_m.any() for m in notices)
    last_pose, next_pose = received[at[0] - 1], received[at[-1] + 1]
    assert last_pose.tracking == "tracking" and next_pose.tracking == "tracking"
    assert {m.frame_id for m in notices} == {last_pose.frame_id}  # the last frame's id
    assert next_pose.frame_id > last_pose.frame_id
    assert pipeline.stall_notices == len(notices)


def test_listen_shows_the_stall() -> None:
    from posecast.realtime.message_text import format_line, to_json
    from posecast.realtime.schema import PoseMessage, encode_pose_message

    zeros = np.zeros((17, 3), np.float32)
    stalled = decode_pose(encode_pose_message(PoseMessage(41, 7, "lost", zeros, np.zeros(17, np.float32),
                                                          np.zeros(3, np.float32), source_stalled_s=1.5)))  # fmt: skip
    assert stalled.source_stalled_s == 1.5
    assert "the source has delivered no frame for 1.5 s" in format_line(stalled)
    assert to_json(stalled)["source_stalled_s"] == 1.5
    normal = decode_pose(encode_pose_message(PoseMessage(42, 8, "lost", zeros, np.zeros(17, np.float32),
                                                         np.zeros(3, np.float32))))  # fmt: skip
    assert "source_stalled_s" not in to_json(normal) and "frame     42" in format_line(normal)


def test_a_video_of_frames_past_the_limit_is_refused_before_any_is_decoded(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """Security QA: a 6.9 MB MJPEG file of 12000x12000 frames took a run to 3 GB (images had a cap,
    videos none). The frame size the file declares is checked before a frame is decoded (here with
    the limit lowered, so that the test's video is small)."""
    from posecast.realtime.sources import video

    path = tmp_path / "big.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5, (200, 120))
    for _ in range(2):
        writer.write(np.full((120, 200, 3), 128, np.uint8))
    writer.release()
    monkeypatch.setattr(video, "MAX_VIDEO_PIXELS", 200 * 119)
    with pytest.raises(SourceError, match=r"has 200x120 frames, more than 0 megapixels .*: pass a smaller video"):
        VideoFileSource(path).open()
    monkeypatch.setattr(video, "MAX_VIDEO_PIXELS", 200 * 120)
    source = VideoFileSource(path)
    source.open()
    try:
        assert source.read() is not None
    finally:
        source.close()


def test_on_macos_a_camera_that_does_not_open_names_the_permission(monkeypatch) -> None:  # noqa: ANN001
    """Review for macOS (simulated): the advice was Linux's (`ls /dev/video*`, v4l2-ctl); a Mac's
    camera fails to open most often for want of the terminal's permission. And no CUDA probe runs
    there to name a Linux library."""
    from posecast.engines.runtime import gpu

    monkeypatch.setattr("sys.platform", "darwin")
    with pytest.raises(SourceError, match=r"camera index 97 did not open: allow the terminal to use the camera "
                                          r"\(System Settings, Privacy & Security, Camera\)"):  # fmt: skip
        CameraSource(97).open()
    with pytest.raises(OSError, match="macOS has no CUDA"):
        gpu._load_driver()

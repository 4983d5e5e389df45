"""Frame sources on the real clips, the latest-frame camera thread on a fake camera."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest
from posecast.realtime.errors import SourceError
from posecast.realtime.sources import (
    SOURCES,
    CameraSource,
    ImageFolderSource,
    VideoFileSource,
    open_source,
)
from source_reading import read_all


@pytest.mark.parametrize(("name", "count", "fps", "size"), [
    ("dance_576.mp4", 120, 30.0, None),
    ("squats_720x1280.mp4", 65, 5.0, (720, 1280)),
])  # fmt: skip
def test_video_file_reads_every_frame(media_dir, name, count, fps, size):
    frames = read_all(open_source(str(media_dir / name)))
    assert len(frames) == count
    assert [f.frame_id for f in frames] == list(range(count))
    assert all(b.capture_ns >= a.capture_ns for a, b in zip(frames, frames[1:], strict=False))
    first = frames[0]
    # read as fast as they decode, file frames carry media time (independent of the machine's speed)
    assert all(f.on_media_time and f.timestamp_ns == int(f.frame_id * 1e9 / f.source_fps) for f in frames)
    assert first.image_bgr.dtype == np.uint8 and first.image_bgr.ndim == 3 and first.image_bgr.shape[2] == 3
    assert first.source_fps == pytest.approx(fps, rel=1e-3)
    if size:
        assert first.image_size == size


def test_a_damaged_video_is_read_past_its_damage_with_warnings(media_dir, tmp_path, caplog):
    """The dance clip with 20 kB zeroed in its middle: H.264 cannot decode 25 frames there. They are
    skipped with a warning and the frames after them keep their media time; the clip's last frames,
    lost with the damaged ones they referred to, end it short of the header's 120 with a warning.
    A run used to stop at the first damaged frame (27 of 120), silently."""
    data = bytearray((media_dir / "dance_576.mp4").read_bytes())
    middle = len(data) // 2
    data[middle : middle + 20_000] = bytes(20_000)
    (tmp_path / "damaged.mp4").write_bytes(data)
    with caplog.at_level("WARNING"):
        source = VideoFileSource(tmp_path / "damaged.mp4")
        frames = read_all(source)
    ids = [f.frame_id for f in frames]
    assert 60 <= len(frames) < 120 and ids[-1] > 100 and source.damaged_frames > 0
    gap = next(i for i, (a, b) in enumerate(zip(ids, ids[1:], strict=False)) if b != a + 1)
    assert ids[gap + 1] - ids[gap] - 1 == source.damaged_frames  # the damaged frames' numbers stay used
    # their media time is the file's: its presentation times (the frames after the damage are
    # later than their numbers, a few too low, say; a time the decoder gives twice: half a frame on)
    stamps = np.array([f.timestamp_ns for f in frames]) * 30e-9
    assert np.all(np.diff(stamps) > 0.49) and stamps[-1] == pytest.approx(119, abs=0.01)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(f"{source.damaged_frames} damaged frame(s) skipped at frame {ids[gap] + 1}" in w for w in warnings)
    # the frames read, as a loop counts them (QA: "ended at frame 50" of 49 read and 1 damaged)
    ended = f"ended after {len(frames)} frames read (and {source.damaged_frames} damaged, skipped) of the 120"
    assert any(ended in w for w in warnings), warnings


def _mjpeg_damaged_at_start(path, frames: int, damaged: int, grey_step: int) -> None:  # noqa: ANN001
    """A 25 fps Motion-JPEG AVI of ``frames`` grey frames (frame i at grey ``i * grey_step``) whose
    first ``damaged`` frames' JPEG data is overwritten (each: its start of image marker, then its tables)."""
    whole = path.with_name("whole.avi")
    writer = cv2.VideoWriter(str(whole), cv2.VideoWriter_fourcc(*"MJPG"), 25, (160, 120))
    for i in range(frames):
        writer.write(np.full((120, 160, 3), i * grey_step, np.uint8))
    writer.release()
    data = bytearray(whole.read_bytes())
    at = data.find(b"movi")
    for _ in range(damaged):
        at = data.find(b"\xff\xd8\xff", at + 1)
        data[at + 2 : at + 200] = b"A" * 198
    path.write_bytes(bytes(data))


def test_a_video_whose_first_frames_are_damaged_is_read_from_the_first_that_decodes(tmp_path, caplog):
    """QA: a Motion-JPEG AVI whose first 5 frames' JPEG data is overwritten was refused whole ("reads
    no first frame"). It is read from frame 5, numbered and timed as the frames they are, with
    the damage said as damage further on is."""
    _mjpeg_damaged_at_start(tmp_path / "damaged_start.avi", frames=30, damaged=5, grey_step=8)
    with caplog.at_level("WARNING"):
        source = VideoFileSource(tmp_path / "damaged_start.avi")
        frames = read_all(source)
    assert [f.frame_id for f in frames] == list(range(5, 30)) and source.damaged_frames == 5
    assert [f.timestamp_ns for f in frames] == [i * 40_000_000 for i in range(5, 30)]
    assert [f.image_bgr.mean() for f in frames[:2]] == pytest.approx([40, 48], abs=3)  # frames 5 and 6 (JPEG's)
    assert any("5 damaged frame(s) skipped at frame 0" in r.getMessage() for r in caplog.records)


def test_an_h264_damaged_start_is_numbered_by_the_frames_presentation_time(tmp_path, media_dir):  # noqa: ANN001
    """QA: an H.264 clip with a keyframe every 10 frames and its first 6 kB zeroed: the decoder
    goes on to a keyframe, dropping the frames before it without failing a read, and the first
    frame read (frame 20) was numbered 11 and timed 0.3 s early. Its number and time are now the
    file's."""
    av = pytest.importorskip("av")
    reader = cv2.VideoCapture(str(media_dir / "dance_576.mp4"))
    images = [cv2.resize(reader.read()[1], (192, 96)) for _ in range(60)]
    reader.release()
    with av.open(str(tmp_path / "gop10.mp4"), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 192, 96, "yuv420p"
        stream.codec_context.gop_size, stream.codec_context.options = 10, {"sc_threshold": "0", "bf": "0"}
        for image in images:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        out.mux(stream.encode())
    data = bytearray((tmp_path / "gop10.mp4").read_bytes())
    start = data.find(b"mdat") + 4
    data[start : start + 6000] = bytes(6000)
    (tmp_path / "damaged.mp4").write_bytes(data)
    with VideoFileSource(tmp_path / "damaged.mp4") as source:
        first = source.read()
    shown = int(np.argmin([np.abs(first.image_bgr.astype(int) - image).mean() for image in images]))
    assert shown >= 10 and first.frame_id == shown and source.damaged_frames == shown
    assert first.timestamp_ns == pytest.approx(shown / 30 * 1e9, abs=1e6)


def test_a_damaged_start_read_at_its_pace_starts_at_once(tmp_path):
    """Review: with ``--realtime`` the first frame that decodes, frame 60, waited its 60 frame
    periods (2.4 s at 25 fps) as if the damaged ones had been shown; the pace starts at it."""
    import time

    _mjpeg_damaged_at_start(tmp_path / "damaged_start.avi", frames=70, damaged=60, grey_step=3)
    with VideoFileSource(tmp_path / "damaged_start.avi", realtime=True) as source:
        began = time.monotonic()
        first = source.read()
        first_s = time.monotonic() - began
        while source.read() is not None:
            pass
        all_s = time.monotonic() - began
    assert first.frame_id == 60 and first_s < 1.0, first_s
    assert 0.3 < all_s < 1.5  # the 10 frames after it at their pace: 0.36 s


def test_a_video_cut_short_says_where_it_ended(tmp_path, caplog):
    """A Motion-JPEG AVI cut in half: its header still counts 60 frames."""
    writer = cv2.VideoWriter(str(tmp_path / "whole.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 30, (160, 120))
    for i in range(60):
        writer.write(np.full((120, 160, 3), i * 4, np.uint8))
    writer.release()
    data = (tmp_path / "whole.avi").read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[: len(data) // 2])
    assert len(read_all(VideoFileSource(tmp_path / "whole.avi"))) == 60
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
    with caplog.at_level("WARNING"):
        frames = read_all(VideoFileSource(tmp_path / "cut.avi"))
    assert 10 < len(frames) < 50
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        f"video {tmp_path / 'cut.avi'} ended after {len(frames)} frames read of the 60 its header counts: trimmed "
        "without re-encoding (a phone's trim, ffmpeg -c copy), a file counts frames it does not show; otherwise it is "
        "cut short or damaged (re-copy it for the rest)"
    ]


def test_realtime_file_is_paced_at_native_fps(media_dir):
    with VideoFileSource(media_dir / "squats_720x1280.mp4", realtime=True) as source:
        first, _, third = source.read(), source.read(), source.read()
    assert third.capture_ns - first.capture_ns >= 2 * 200_000_000 - 1_000_000  # 5 fps
    assert not third.on_media_time and third.timestamp_ns == third.capture_ns  # paced like a camera: capture time


def test_image_folder_in_name_order(media_dir, tmp_path):
    clip = cv2.VideoCapture(str(media_dir / "dance_576.mp4"))
    originals = [clip.read()[1] for _ in range(5)]
    clip.release()
    for i, image in enumerate(originals):
        cv2.imwrite(str(tmp_path / f"frame_{i:03d}.png"), image)
    (tmp_path / "notes.txt").write_text("not an image")
    source = open_source(str(tmp_path))
    assert isinstance(source, ImageFolderSource)
    frames = read_all(source)
    assert [f.frame_id for f in frames] == list(range(5))
    for frame, original in zip(frames, originals, strict=True):
        np.testing.assert_array_equal(frame.image_bgr, original)


def test_open_source_picks_by_spec(media_dir, tmp_path):
    assert list(SOURCES) == ["camera", "stream", "images", "video"]  # the order open_source asks them
    assert isinstance(open_source("0"), CameraSource)
    assert isinstance(open_source(2), CameraSource) and open_source(2).index == 2
    assert isinstance(open_source(str(media_dir / "dance_576.mp4")), VideoFileSource)


def test_bad_inputs_raise_one_line_errors(tmp_path):
    with pytest.raises(SourceError, match="neither a camera index"):
        open_source(str(tmp_path / "missing.mp4"))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"this is not a video" * 100)
    with pytest.raises(SourceError, match=r"OpenCV could not decode video .*broken\.mp4"):
        open_source(str(broken)).open()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SourceError, match="holds no images"):
        open_source(str(empty)).open()
    for blank in ("", "  "):  # not the current folder's images
        with pytest.raises(SourceError, match=r"--source is empty \(open_source's spec\): pass a camera index"):
            open_source(blank)
    for index in ("2147483648", "/dev/video10000"):  # OpenCV's assertion on a C int, before
        with pytest.raises(SourceError, match=r"camera index \d+ is out of range: cameras are numbered 0\.\.9999"):
            open_source(index)


def test_camera_that_does_not_open(monkeypatch):
    class ClosedCamera:
        def __init__(self, index):
            self.index = index

        def isOpened(self):
            return False

        def release(self):
            pass

    monkeypatch.setattr(cv2, "VideoCapture", ClosedCamera)
    with pytest.raises(SourceError, match=r"camera index 7 did not open.*/dev/video\*"):
        open_source("7").open()
    # named as the user named it (it said "camera index 9" for /dev/video9)
    with pytest.raises(SourceError, match=r"^/dev/video9 \(camera index 9\) did not open"):
        open_source("/dev/video9").open()


class GatedClip:
    """A fake ``cv2.VideoCapture`` playing a clip; each grab needs a permit from the test, so
    the test decides how many frames the camera produces between two reads."""

    def __init__(self, frames):
        self.frames = frames
        self.permits = threading.Semaphore(0)
        self.grabbed = 0
        self.blocked = False  # a grab is waiting for a permit
        self.state = threading.Condition()

    def __call__(self, index):  # used as the VideoCapture class
        return self

    def isOpened(self):
        return True

    def set(self, prop, value):
        return True

    def get(self, prop):
        return 30.0 if prop == cv2.CAP_PROP_FPS else 0.0

    def read(self):
        with self.state:
            self.blocked = True
            self.state.notify_all()
        self.permits.acquire()
        with self.state:
            self.blocked = False
            if self.grabbed >= len(self.frames):
                return False, None
            self.grabbed += 1
            return True, self.frames[self.grabbed - 1]

    def release(self):
        self.permits.release(1000)

    def produce(self, n):
        """Let the camera grab ``n`` frames and wait until it asks for the next one (by then
        the grab thread has stored the n-th frame)."""
        with self.state:
            target = self.grabbed + n
        self.permits.release(n)
        with self.state:
            assert self.state.wait_for(lambda: self.grabbed >= target and self.blocked, timeout=10)


def test_camera_thread_keeps_only_newest_frame(media_dir, monkeypatch):
    clip = cv2.VideoCapture(str(media_dir / "dance_576.mp4"))
    frames = [clip.read()[1] for _ in range(30)]
    clip.release()
    fake = GatedClip(frames)
    monkeypatch.setattr(cv2, "VideoCapture", fake)
    with CameraSource(0, max_stall_s=0.3) as camera:  # gives up (ends) before a stall is reported
        fake.produce(1)
        first = camera.read()
        assert first.frame_id == 0 and camera.dropped_frames == 0
        fake.produce(5)  # five frames arrive while the pipeline is busy
        newest = camera.read()
        assert newest.frame_id == 5
        np.testing.assert_array_equal(newest.image_bgr, frames[5])
        assert camera.dropped_frames == 4
        assert newest.source_fps == 30.0
        fake.produce(24)  # the clip runs out: the last frame, then end of stream
        assert camera.read().frame_id == 29
        fake.permits.release(100)
        assert camera.read() is None
        assert camera.dropped_frames == 4 + 23


class RaisingCapture:
    """A capture whose read raises after two frames, as a backend's ``cv2.error`` does."""

    def __init__(self, *args: object) -> None:
        self.reads = 0

    def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
        return True

    def set(self, *args: object) -> bool:
        return True

    def get(self, prop: int) -> float:
        return 30.0 if prop == cv2.CAP_PROP_FPS else 0.0

    def release(self) -> None:
        pass

    def read(self) -> tuple[bool, np.ndarray]:
        self.reads += 1
        if self.reads > 2:
            raise cv2.error('OpenCV(5.1.0) color.cpp:199: error: (-215) in function\n "cvtColor"\n')  # lines
        return True, np.zeros((48, 64, 3), np.uint8)


def test_a_capture_that_raises_ends_the_camera_with_one_error(monkeypatch):
    """Review: the grab thread died alone, and read() said a stall every 0.5 s for ever."""
    monkeypatch.setattr(cv2, "VideoCapture", RaisingCapture)
    with CameraSource(0, max_stall_s=1.0) as camera:
        frames = []
        with pytest.raises(SourceError, match=r"^camera 0 failed while reading \(error: OpenCV\(5.1.0\) color.cpp:199: "
                                              r"[^\n]*\); check the device or stream and run again$"):  # fmt: skip
            for _ in range(10):
                frames.append(camera.read())
        assert [f.frame_id for f in frames if f is not None][-1] <= 1


def test_damage_in_several_places_is_logged_once_and_totalled(media_dir, tmp_path, caplog):
    """A file overwritten while it was read gave a warning per damaged place (188 lines in 50 s):
    the first place is logged, the others counted in one total when the source closes."""
    data = bytearray((media_dir / "dance_576.mp4").read_bytes())
    for start in (len(data) // 2, len(data) * 3 // 4):
        data[start : start + 8_000] = bytes(8_000)
    (tmp_path / "damaged.mp4").write_bytes(data)
    with caplog.at_level("DEBUG", logger="posecast"):
        source = VideoFileSource(tmp_path / "damaged.mp4")
        read_all(source)
    places = [r for r in caplog.records if "damaged frame(s) skipped at frame" in r.getMessage()]
    assert len(places) >= 2, [r.getMessage() for r in caplog.records]
    assert [r.levelname for r in places] == ["WARNING"] + ["DEBUG"] * (len(places) - 1)
    assert places[0].getMessage().endswith("; later ones are counted")
    total = [r.getMessage() for r in caplog.records if "skipped in all" in r.getMessage()]
    assert total == [f"video {tmp_path / 'damaged.mp4'}: {source.damaged_frames} damaged frames skipped in all, "
                     f"in {len(places)} places"]  # fmt: skip


def test_a_header_that_counts_billions_of_frames_ends_where_the_frames_do(tmp_path, caplog):
    """QA: an AVI whose header claims 2·10⁹ frames (10 in the file) kept the source reading
    nothing at 100 % CPU for about half an hour. A run of unreadable frames that long is its end."""
    import struct
    import time

    writer = cv2.VideoWriter(str(tmp_path / "ten.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 30, (160, 120))
    for i in range(10):
        writer.write(np.full((120, 160, 3), i * 20, np.uint8))
    writer.release()
    data = bytearray((tmp_path / "ten.avi").read_bytes())
    struct.pack_into("<I", data, data.find(b"avih") + 8 + 16, 2_000_000_000)  # dwTotalFrames
    struct.pack_into("<I", data, data.find(b"strh") + 8 + 32, 2_000_000_000)  # dwLength
    (tmp_path / "lying.avi").write_bytes(bytes(data))
    start = time.monotonic()
    with caplog.at_level("WARNING"):
        frames = read_all(VideoFileSource(tmp_path / "lying.avi"))
    assert len(frames) == 10 and time.monotonic() - start < 30
    assert any("ended after 10 frames read of the 2000000000 its header" in r.getMessage() for r in caplog.records)


def test_damaged_frames_skipped_one_at_a_time_are_one_place(tmp_path):
    """``--realtime`` skips a frame at a time when behind: a run of damaged frames skipped that way
    is one place in the closing total, not one per frame (review)."""
    source = VideoFileSource(tmp_path / "any.mp4")
    for frame_id in (10, 11, 12, 40):  # frames 10-12 one at a time, then frame 40
        source._next_id = frame_id
        source._skip_damaged(1)
    assert source.damaged_frames == 4 and source._damaged_places == 2


def test_a_variable_rate_video_carries_its_presentation_times(tmp_path, caplog) -> None:  # noqa: ANN001
    """Frames were stamped frame_id / average fps: after a 1.5 s freeze a phone-style video's
    frames came 0.75 s early and the window never restarted (QA). A constant-rate file keeps its
    exact frame_id / fps."""
    from fractions import Fraction

    av = pytest.importorskip("av")
    from posecast.realtime.sources.video import VideoFileSource

    def write(path, times_s) -> None:  # noqa: ANN001
        with av.open(str(path), "w") as out:
            stream = out.add_stream("libx264", rate=30)
            stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
            stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)
            for k, t in enumerate(times_s):
                frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 8 * k % 256, np.uint8), format="rgb24")
                frame.pts, frame.time_base = round(t * 1000), Fraction(1, 1000)
                for packet in stream.encode(frame):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)

    frozen = [k / 30 for k in range(20)] + [20 / 30 + 1.5 + k / 30 for k in range(20)]
    write(tmp_path / "vfr.mp4", frozen)
    write(tmp_path / "cfr.mp4", [k / 30 for k in range(40)])
    with VideoFileSource(tmp_path / "vfr.mp4") as source:
        stamps = [frame.timestamp_ns * 1e-9 for frame in iter(source.read, None)]
    assert len(stamps) == 40 and stamps[20] - stamps[19] == pytest.approx(1.5 + 1 / 30, abs=0.002)
    np.testing.assert_allclose(stamps, frozen, atol=0.002)
    with VideoFileSource(tmp_path / "cfr.mp4") as source:
        frames = list(iter(source.read, None))
    assert [f.timestamp_ns for f in frames] == [int(f.frame_id * 1e9 / f.source_fps) for f in frames]
    # paced (--realtime), a gap of a minute (an NVR's export; time QA: the run was silent, no meta, for
    # the whole gap) is played as a 1 s pause, said once; the frames before and after keep their spacing
    gapped = [k / 30 for k in range(10)] + [10 / 30 + 60 + k / 30 for k in range(10)]
    write(tmp_path / "gap.mp4", gapped)
    with caplog.at_level("WARNING"), VideoFileSource(tmp_path / "gap.mp4", realtime=True) as source:
        started = time.monotonic()
        stamps = [frame.timestamp_ns * 1e-9 for frame in iter(source.read, None)]
    assert len(stamps) == 20 and time.monotonic() - started < 5
    assert stamps[10] - stamps[9] == pytest.approx(1.0, abs=0.1)
    assert stamps[19] - stamps[10] == pytest.approx(9 / 30, abs=0.1)
    said = [r.getMessage() for r in caplog.records if "jumps" in r.getMessage()]
    assert said == ["the file's time jumps 60.0 s before frame 10: played as a 1 s pause (a paced file waits at most "
                    "5 s between two frames)"], said


def test_frames_a_paced_file_skipped_after_a_stop_are_no_gap(monkeypatch: pytest.MonkeyPatch, caplog) -> None:  # noqa: ANN001
    """Review: after a run stopped 8 s, the frames a constant-rate file skipped to catch up were
    taken for a gap in the file ("time jumps 8.0 s"), and the frame due now for a slipped clock
    ("slipped 7.0 s behind real time")."""
    from posecast.realtime.sources import files

    clock = [10**12]
    monkeypatch.setattr(files.time, "monotonic_ns", lambda: clock[0])

    def sleep(seconds: float) -> None:
        clock[0] += int(seconds * 1e9)

    pacer, index = files.Pacer(30.0, sleep=sleep), 0
    with caplog.at_level("DEBUG", logger="posecast"):
        for _ in range(60):
            pacer.wait(index)
            index += 1
            clock[0] += 1_000_000
        clock[0] += 8_000_000_000  # stopped 8 s
        index += max(0, pacer.due() - index)  # skipped, as the file sources do
        for _ in range(30):
            pacer.wait(index)
            index += 1
            clock[0] += 1_000_000
    assert not [r.getMessage() for r in caplog.records if "jumps" in r.getMessage() or "slipped" in r.getMessage()]
    assert pacer.slipped_ns == 0 and index > 300

"""Inputs users have that the first sources misread (a QA round of videos and photos from phones,
cameras and the web): files numbered without padding, JPEG's other endings, one EXIF-turned
photo, a raw stream without presentation times, joined segments whose clock jumps back, a video
file at a web address. Real files, real decoders, a real HTTP server."""

from __future__ import annotations

import contextlib
import functools
import http.server
import logging
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from posecast.calibration import CameraIntrinsics
from posecast.calibration.errors import CalibrationError
from posecast.engines.media import IMAGE_SUFFIXES, OTHER_PHOTO_SUFFIXES, image_files
from posecast.realtime.footage import expand_inputs
from posecast.realtime.sources import ImageFolderSource, StreamSource, VideoFileSource, open_source
from source_reading import read_all


@contextlib.contextmanager
def _http_server(port: int, handler: type[http.server.BaseHTTPRequestHandler] | None = None,
                 folder: Path | None = None) -> Iterator[str]:  # fmt: skip
    """A real HTTP server on ``port``, serving ``folder``'s files (as Python's file server does:
    no byte ranges) or ``handler``'s answers, on a thread of its own; yields its address."""
    if handler is None:
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
        handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_numbers_in_names_are_read_in_order(tmp_path: Path, dance_frames: list[np.ndarray]) -> None:
    """ffmpeg's frame%d.jpg: frame2 before frame10 (they were read 1, 10, 11, 12, 2, ..., exit 0)."""
    for i, image in enumerate(dance_frames, start=1):
        cv2.imwrite(str(tmp_path / f"frame{i}.png"), image)
    assert [p.name for p in image_files(tmp_path)[0]][:3] == ["frame1.png", "frame2.png", "frame3.png"]
    frames = read_all(open_source(str(tmp_path)))
    for frame, image in zip(frames, dance_frames, strict=True):
        np.testing.assert_array_equal(frame.image_bgr, image)


def test_jpegs_other_endings_are_images(tmp_path: Path, dance_frames: list[np.ndarray]) -> None:
    """.jfif (WhatsApp's and Windows' saved photos) was left out without a word; HEIC is named."""
    (tmp_path / "a.jfif").write_bytes(cv2.imencode(".jpg", dance_frames[0])[1].tobytes())
    (tmp_path / "b.jpe").write_bytes(cv2.imencode(".jpg", dance_frames[1])[1].tobytes())
    (tmp_path / "c.heic").write_bytes(b"\x00\x00\x00\x18ftypheic")
    images, others = image_files(tmp_path)
    assert [p.name for p in images] == ["a.jfif", "b.jpe"] and [p.name for p in others] == ["c.heic"]
    assert len(read_all(open_source(str(tmp_path)))) == 2
    assert {".heic", ".heif"} <= set(OTHER_PHOTO_SUFFIXES) and not set(IMAGE_SUFFIXES) & set(OTHER_PHOTO_SUFFIXES)


def _exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    """``jpeg`` with an EXIF segment saying its pixels are to be turned (6: 90° clockwise, as a
    phone held upright stores its photos)."""
    tiff = (b"II*\x00" + (8).to_bytes(4, "little") + (1).to_bytes(2, "little")
            + (0x0112).to_bytes(2, "little") + (3).to_bytes(2, "little") + (1).to_bytes(4, "little")
            + orientation.to_bytes(2, "little") + bytes(2) + bytes(4))  # fmt: skip
    payload = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload + jpeg[2:]


def test_one_photo_is_read_upright_as_in_a_folder(tmp_path: Path, dance_frames: list[np.ndarray]) -> None:
    """A phone's portrait photo is stored landscape with EXIF orientation 6: given alone it went
    through the video decoder, which ignores EXIF, and the person was posed sideways (exit 0)."""
    landscape = np.ascontiguousarray(np.rot90(dance_frames[0][:, :400], k=1))  # 400 wide, 576 high → turned
    path = tmp_path / "IMG_0001.JPG"
    path.write_bytes(_exif_orientation(cv2.imencode(".jpg", landscape)[1].tobytes(), 6))
    source = open_source(str(path))
    assert isinstance(source, ImageFolderSource)
    frames = read_all(source)
    assert len(frames) == 1 and frames[0].image_size == (400, 576)  # upright: 400 wide, 576 high
    assert np.abs(frames[0].image_bgr.astype(int) - dance_frames[0][:, :400]).mean() < 3  # (JPEG's loss)
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / path.name).write_bytes(path.read_bytes())
    np.testing.assert_array_equal(read_all(open_source(str(folder)))[0].image_bgr, frames[0].image_bgr)
    gif = tmp_path / "moving.gif"  # an animated GIF stays a video: all its frames
    gif.write_bytes(b"GIF89a")
    assert isinstance(open_source(str(gif)), VideoFileSource)


class _ClockedVideo(VideoFileSource):
    """The real clip through the real decoder, its presentation times replaced by ``clock_ms(i)``
    (frame ``i`` just read): what a raw stream and joined segments give."""

    def __init__(self, path: Path, clock_ms) -> None:  # noqa: ANN001
        super().__init__(path)
        self._clock_ms = clock_ms

    def _position_ms(self) -> float:
        return self._clock_ms(self._next_id)  # (the frame just read: _next_id counts up when it is handed on)


def test_a_raw_stream_without_presentation_times_runs_at_its_rate(media_dir: Path, caplog) -> None:  # noqa: ANN001
    """A raw H.264 stream's frames all say 0 ms: taken for a variable rate, each was stamped half
    a frame after the last, a clock twice too fast. Now frame / fps, and the log says so."""
    with caplog.at_level(logging.INFO):
        frames = read_all(_ClockedVideo(media_dir / "dance_576.mp4", lambda i: 0.0))
    assert [f.timestamp_ns for f in frames] == [int(f.frame_id * 1e9 / 30.0) for f in frames]
    assert ("gives presentation times that do not advance (a raw stream, or one time repeated): frames are stamped "
            "at its nominal 30 fps") in caplog.text  # fmt: skip


def test_joined_segments_whose_clock_goes_back_keep_it_going_forwards(media_dir: Path) -> None:
    """Two segments joined (HLS, dash cams): the times restart at 0 at frame 60. The clock went
    back 2 s there (and the person got a new id); now every frame is a frame after the last."""
    frames = read_all(_ClockedVideo(media_dir / "dance_576.mp4", lambda i: (i if i < 60 else i - 60) * 1000 / 30))
    steps_ms = np.diff([f.timestamp_ns for f in frames]) / 1e6
    assert len(frames) == 120 and steps_ms == pytest.approx(np.full(119, 1000 / 30), abs=0.01)


def test_one_wrong_time_after_damage_is_not_a_jump(media_dir: Path) -> None:
    """A decoder's one early time after damage: that frame a frame after the last, the next on its own time."""
    clock = {i: i * 1000 / 30 for i in range(120)} | {50: 20 * 1000 / 30}
    frames = read_all(_ClockedVideo(media_dir / "dance_576.mp4", clock.__getitem__))
    stamps_ms = np.array([f.timestamp_ns for f in frames]) / 1e6
    assert stamps_ms[50] == pytest.approx(50 * 1000 / 30, abs=0.01)
    assert stamps_ms[51:] == pytest.approx(np.arange(51, 120) * 1000 / 30, abs=0.01)


def test_a_video_file_at_a_web_address_plays_at_its_rate_and_ends(tmp_path: Path, dance_frames: list[np.ndarray],
                                                                  free_port) -> None:  # noqa: ANN001
    """A video file over HTTP was read as a live stream: decoded at full speed (4 s of motion in
    0.6 s), then reopened at its end and played again, forever. Now at its own rate, to its end."""
    writer = cv2.VideoWriter(str(tmp_path / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 30, (576, 576))
    for image in dance_frames * 5:  # 60 frames, 2 s; an AVI reads front to back (an .mp4 may need seeking)
        writer.write(image)
    writer.release()
    with _http_server(free_port(), folder=tmp_path) as address:
        source = open_source(f"{address}/clip.avi")
        assert isinstance(source, StreamSource)
        frames = read_all(source)  # ends: the file is over
    assert source.file_frames == 60 and 50 <= len(frames) <= 60
    seconds = (frames[-1].capture_ns - frames[0].capture_ns) / 1e9
    assert seconds >= 0.9 * (frames[-1].frame_id - frames[0].frame_id) / 30.0  # its own pace, not the decoder's


def test_a_calibration_turned_against_the_video_is_named_so() -> None:
    """A landscape calibration on a phone's portrait video was called a crop ("the aspect ratio differs")."""
    landscape = CameraIntrinsics.from_hfov(60.0, 1280, 720)
    with pytest.raises(CalibrationError, match=r"1280x720 cannot be used for 720x1280 images: they are turned 90"):
        landscape.rescaled(720, 1280)
    with pytest.raises(CalibrationError, match="the aspect ratio differs"):
        landscape.rescaled(640, 640)


def test_adapt_folders_take_camcorder_and_phone_videos_and_say_what_they_leave(tmp_path: Path, media_dir: Path,
                                                                              caplog) -> None:  # noqa: ANN001
    """.MTS and .3gp were left out of a folder without a word; the run then failed for want of footage."""
    for name in ("a.mp4", "b.MTS", "c.3gp"):
        (tmp_path / name).write_bytes((media_dir / "dance_576.mp4").read_bytes())
    (tmp_path / "notes.txt").write_text("not footage")
    with caplog.at_level(logging.INFO):
        taken = expand_inputs([tmp_path])
    assert [path.name for path, _ in taken] == ["a.mp4", "b.MTS", "c.3gp"]
    assert "1 file(s) left out, not footage posecast reads by its ending (e.g. notes.txt)" in caplog.text


def test_a_folder_of_videos_given_as_the_source_names_them(tmp_path: Path) -> None:
    """Footage QA: a folder of phone clips given to ``run --source`` was told only which image
    endings it lacked."""
    from posecast.realtime.errors import SourceError

    for name in ("b.MOV", "a.mp4", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    with pytest.raises(SourceError, match=r"holds no images but 2 video file\(s\) \(e\.g\. a\.mp4\): pass one video as "
                                          r"the source \(posecast adapt takes the folder\)"):  # fmt: skip
        read_all(open_source(str(tmp_path)))


def test_an_empty_video_file_is_called_empty(tmp_path: Path) -> None:
    from posecast.realtime.errors import SourceError

    (tmp_path / "clip.mp4").write_bytes(b"")
    with pytest.raises(SourceError, match=r"clip\.mp4 is empty \(0 bytes\)"):
        read_all(open_source(str(tmp_path / "clip.mp4")))


def _four_three_pixel_clip(path: Path, frames: list[np.ndarray]) -> None:
    """``frames`` (576x576) stored 432x576 in pixels 4:3 wide, as DV and HDV camcorders store them."""
    from fractions import Fraction

    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 432, 576, "yuv420p"
        stream.codec_context.sample_aspect_ratio = Fraction(4, 3)
        for image in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(cv2.resize(image, (432, 576)), format="bgr24")))
        out.mux(stream.encode())


def test_non_square_pixels_are_read_as_shown(tmp_path: Path, dance_frames: list[np.ndarray]) -> None:
    """A clip of 4:3 pixels (DV, HDV, camcorders) stored 432 wide is shown 576 wide: read so (its
    person was lifted stretched, 38 mm median off the square clip's, without a word)."""
    pytest.importorskip("av", reason='needs PyAV: pip install -e ".[video]"')
    _four_three_pixel_clip(tmp_path / "dv.mp4", dance_frames)
    frames = read_all(open_source(str(tmp_path / "dv.mp4")))
    assert len(frames) == 12 and {f.image_size for f in frames} == {(576, 576)}
    assert np.abs(frames[5].image_bgr.astype(int) - dance_frames[5]).mean() < 12  # the clip, as shown


def _turned_a_quarter(mp4: Path) -> None:
    """Give an MP4's track a 90° display matrix (what a phone writes for a portrait clip; this
    FFmpeg's muxer no longer takes a ``rotate`` tag): its ``tkhd`` box's 3x3 matrix, 16.16 fixed."""
    import struct

    data = bytearray(mp4.read_bytes())
    box = data.find(b"tkhd")
    assert box > 0 and data[box + 4] == 0  # version 0: the matrix is 40 bytes into the box's fields
    matrix = box + 4 + 40
    data[matrix : matrix + 36] = struct.pack(">9i", 0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000)
    mp4.write_bytes(bytes(data))


def test_non_square_pixels_of_a_turned_clip_are_read_as_shown(tmp_path: Path, dance_frames: list[np.ndarray]) -> None:
    """Footage QA: a phone's portrait clip of 4:3 pixels, stored 432x576 and turned a quarter, was
    stretched across (the ratio is the stored frame's, OpenCV hands the frame turned): 576x432
    read as 768x432, its 3D 138 mm off the square clip's."""
    pytest.importorskip("av", reason='needs PyAV: pip install -e ".[video]"')
    path = tmp_path / "portrait.mp4"
    _four_three_pixel_clip(path, dance_frames)
    _turned_a_quarter(path)
    frames = read_all(open_source(str(path)))
    assert len(frames) == 12 and {f.image_size for f in frames} == {(576, 576)}
    upright = cv2.rotate(frames[5].image_bgr, cv2.ROTATE_90_COUNTERCLOCKWISE)  # back as stored, shown
    assert np.abs(upright.astype(int) - dance_frames[5]).mean() < 12


def test_a_song_with_a_cover_picture_is_called_sound(tmp_path: Path) -> None:
    """Footage QA: an .m4a or .mp3 with its album's cover was posed as a one-frame video at
    90,000 fps, exit 0 (its take was then refused as damaged)."""
    av = pytest.importorskip("av", reason='needs PyAV: pip install -e ".[video]"')
    from posecast.realtime.errors import SourceError

    path = tmp_path / "song.mp4"
    with av.open(str(path), "w") as out:
        sound, cover = out.add_stream("aac", rate=16000), out.add_stream("mjpeg")
        cover.width, cover.height, cover.pix_fmt = 64, 64, "yuvj420p"
        cover.disposition = av.stream.Disposition.attached_pic
        for _ in range(20):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate = 16000
            out.mux(sound.encode(frame))
        out.mux(sound.encode())
        out.mux(cover.encode(av.VideoFrame.from_ndarray(np.full((64, 64, 3), 128, np.uint8), format="bgr24")))
        out.mux(cover.encode())
    with pytest.raises(SourceError, match=r"song\.mp4 holds sound and a cover picture but no video: pass a video"):
        read_all(open_source(str(path)))


def _matroska_with_longer_sound(path: Path, frames: list[np.ndarray], sound_s: float) -> None:
    import av

    with av.open(str(path), "w") as out:
        video, sound = out.add_stream("libx264", rate=30), out.add_stream("aac", rate=16000)
        video.width, video.height, video.pix_fmt = 576, 576, "yuv420p"
        video.codec_context.options = {"tune": "zerolatency"}  # a packet per frame, interleaved with the sound
        sound_frames = round(sound_s * 16000 / 1024)
        for i in range(max(len(frames), sound_frames)):
            if i < len(frames):
                out.mux(video.encode(av.VideoFrame.from_ndarray(frames[i], format="bgr24")))
            if i < sound_frames:
                frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
                frame.sample_rate = 16000
                out.mux(sound.encode(frame))
        out.mux(video.encode())
        out.mux(sound.encode())


def test_a_file_of_two_video_streams_says_which_is_read(tmp_path: Path, dance_frames: list[np.ndarray],
                                                        caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    """Footage QA: OpenCV reads the first of a file's video streams, and nothing said so."""
    av = pytest.importorskip("av", reason='needs PyAV: pip install -e ".[video]"')
    path = tmp_path / "two.mkv"
    with av.open(str(path), "w") as out:
        first, second = out.add_stream("libx264", rate=30), out.add_stream("libx264", rate=30)
        first.width, first.height, second.width, second.height = 576, 576, 288, 288
        for image in dance_frames:
            out.mux(first.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
            out.mux(second.encode(av.VideoFrame.from_ndarray(cv2.resize(image, (288, 288)), format="bgr24")))
        out.mux(first.encode())
        out.mux(second.encode())
    with caplog.at_level(logging.INFO, logger="posecast"):
        frames = read_all(open_source(str(path)))
    assert {f.image_size for f in frames} == {(576, 576)}
    assert "holds 2 video streams: reading the first" in caplog.text


def test_a_thumbnail_read_before_the_video_is_warned_about(tmp_path: Path, dance_frames: list[np.ndarray],
                                                            caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    """Review: a Matroska file whose first video stream is a one-frame thumbnail (Matroska has no
    cover flag) was read as one frame, the other stream's length taken for the file being whole."""
    av = pytest.importorskip("av", reason='needs PyAV: pip install -e ".[video]"')
    path = tmp_path / "thumbnail_first.mkv"
    with av.open(str(path), "w") as out:
        thumbnail, video = out.add_stream("mjpeg", rate=30), out.add_stream("libx264", rate=30)
        thumbnail.width, thumbnail.height, thumbnail.pix_fmt = 64, 64, "yuvj420p"
        video.width, video.height = 576, 576
        out.mux(thumbnail.encode(av.VideoFrame.from_ndarray(cv2.resize(dance_frames[0], (64, 64)), format="bgr24")))
        out.mux(thumbnail.encode())
        for image in dance_frames * 5:
            out.mux(video.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        out.mux(video.encode())
    with caplog.at_level(logging.WARNING, logger="posecast"):
        assert len(read_all(open_source(str(path)))) == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("holds 2 video streams: reading the first" in w for w in warnings), warnings
    assert any("ended after 1 frame read of the 60 its header counts" in w for w in warnings), warnings


def test_a_whole_matroska_file_with_longer_sound_is_not_called_cut_short(
    tmp_path: Path, dance_frames: list[np.ndarray], caplog: pytest.LogCaptureFixture
) -> None:
    """Footage QA: OpenCV counts a Matroska/WebM file's frames as its whole duration × rate, so a
    clip whose sound runs on (a screen recording's) was said to be "cut short or damaged"; one cut
    in half still is."""
    pytest.importorskip("av", reason='needs PyAV: pip install -e ".[video]"')
    path = tmp_path / "talk.mkv"
    _matroska_with_longer_sound(path, dance_frames * 5, sound_s=6.0)  # 60 frames (2 s), 6 s of sound
    with caplog.at_level(logging.WARNING, logger="posecast"):
        assert len(read_all(open_source(str(path)))) == 60
    assert not [r for r in caplog.records if "its header counts" in r.getMessage()]
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="posecast"):
        read_all(open_source(str(cut)))
    assert any("its header counts" in r.getMessage() and "cut short or damaged" in r.getMessage()
               for r in caplog.records)  # fmt: skip


def test_a_video_still_being_written_is_said_to_have_grown(tmp_path: Path, dance_frames: list[np.ndarray],
                                                           caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    """Footage QA: a recording still being written was read up to where it was, exit 0 without a
    word; a file larger at its end than when it was opened is said to have grown."""
    pytest.importorskip("av", reason='needs PyAV: pip install -e ".[video]"')
    path = tmp_path / "recording.mkv"
    _matroska_with_longer_sound(path, dance_frames, sound_s=0.1)
    source = open_source(str(path))
    with caplog.at_level(logging.WARNING, logger="posecast"), source:
        assert source.read() is not None
        with path.open("ab") as still_recording:
            still_recording.write(bytes(4096))
        while source.read() is not None:
            pass
    assert any("grew while it was read (still being recorded or copied?)" in r.getMessage() for r in caplog.records)


def test_realtime_paces_a_variable_rate_video_by_its_own_times(tmp_path: Path, dance_frames: list[np.ndarray]) -> None:
    """20 frames at 30 fps, then 20 at 15 fps: --realtime counted frames at the average 20 fps, so
    the first part played slow and the second fast (0.9-1 s each); now 0.63 s and 1.27 s."""
    av = pytest.importorskip("av", reason='needs PyAV: pip install -e ".[video]"')
    from fractions import Fraction

    with av.open(str(tmp_path / "vfr.mp4"), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 576, 576, "yuv420p"
        stream.codec_context.time_base = stream.time_base = Fraction(1, 90_000)
        stamps_s = [i / 30 for i in range(20)] + [20 / 30 + i / 15 for i in range(20)]
        for i, t in enumerate(stamps_s):
            frame = av.VideoFrame.from_ndarray(dance_frames[i % 12], format="bgr24")
            frame.pts, frame.time_base = round(t * 90_000), Fraction(1, 90_000)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    frames = read_all(VideoFileSource(tmp_path / "vfr.mp4", realtime=True))
    at_s = {f.frame_id: f.capture_ns / 1e9 for f in frames}
    assert len(frames) == 40, len(frames)
    first, second = at_s[19] - at_s[0], at_s[39] - at_s[20]
    assert second / first > 1.6 and second > 1.15, (first, second)  # 0.63 and 1.27 s: twice (counted: alike)


def test_one_image_that_does_not_decode_is_one_error_naming_it(tmp_path: Path) -> None:
    from posecast.realtime.errors import SourceError

    (tmp_path / "photo.jpg").write_bytes(b"not a jpeg at all")
    with pytest.raises(SourceError, match=r"image .*photo\.jpg: OpenCV could not decode it \(empty, corrupt or cut"):
        read_all(open_source(str(tmp_path / "photo.jpg")))


def test_a_live_mjpeg_stream_stays_live(free_port, dance_frames: list[np.ndarray]) -> None:  # noqa: ANN001
    """An IP camera's MJPEG over HTTP has no frame count: read live (newest frame), not paced as a file."""
    jpegs = [cv2.imencode(".jpg", image)[1].tobytes() for image in dance_frames]

    class Camera(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.end_headers()
            try:
                for i in range(90):  # 3 s at 30 fps
                    jpeg = jpegs[i % len(jpegs)]
                    self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n"
                                     % (len(jpeg), jpeg))  # fmt: skip
                    time.sleep(1 / 30)
            except OSError:  # the reader went away
                pass

        def log_message(self, *args: object) -> None:
            pass

    with _http_server(free_port(), Camera) as address:
        source = open_source(f"{address}/video")
        with source:
            frames = [source.read() for _ in range(10)]
    assert isinstance(source, StreamSource) and source.file_frames == 0 and source._file_pacer is None
    assert all(frame is not None for frame in frames)


def test_a_web_video_whose_index_cannot_be_reached_is_one_error(media_dir: Path, free_port) -> None:  # noqa: ANN001
    """The dance clip keeps its index at its end, and Python's file server does not let a reader
    jump there: no frame came, and the run ended with exit 0 (QA). One error naming both fixes."""
    from posecast.realtime.errors import SourceError

    with _http_server(free_port(), folder=media_dir) as address:
        source = open_source(f"{address}/dance_576.mp4")
        with pytest.raises(SourceError, match=r"gave no frame of the 120 its file counts: .* download the file and "
                                              r"pass it, or put its index first \(ffmpeg -i IN -c copy -movflags"):
            read_all(source)


def test_a_real_raw_h264_stream_runs_at_its_headers_rate(tmp_path: Path, dance_frames: list[np.ndarray]) -> None:
    """A raw .h264 (a Raspberry Pi's) at 30 fps: OpenCV says 25 and gives no times; its frames
    were stamped half a frame apart (a clock twice too fast), then at 25 fps (20 % slow)."""
    av = pytest.importorskip("av", reason='needs PyAV: pip install -e ".[video]"')

    with av.open(str(tmp_path / "pi.h264"), "w", format="h264") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 576, 576, "yuv420p"
        for image in dance_frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        out.mux(stream.encode())
    frames = read_all(open_source(str(tmp_path / "pi.h264")))
    assert len(frames) == 12 and frames[0].source_fps == pytest.approx(30.0)
    assert np.diff([f.timestamp_ns for f in frames]) == pytest.approx(np.full(11, 1e9 / 30), abs=1)


def test_a_sound_file_is_called_one(tmp_path: Path) -> None:
    av = pytest.importorskip("av", reason='needs PyAV: pip install -e ".[video]"')
    from posecast.realtime.errors import SourceError

    with av.open(str(tmp_path / "voice.m4a"), "w") as out:
        stream = out.add_stream("aac", rate=16000)
        for _ in range(20):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate = 16000
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    with pytest.raises(SourceError, match=r"voice\.m4a holds sound but no video: pass a video file"):
        read_all(open_source(str(tmp_path / "voice.m4a")))


def _live_hls_segments(dance_frames: list[np.ndarray], count: int) -> list[bytes]:
    """``count`` 1 s MPEG-TS segments of a 30 fps stream (the dance frames, small), times going on
    from segment to segment, as a live HLS server's encoder cuts them."""
    av = pytest.importorskip("av", reason='needs PyAV: pip install -e ".[video]"')
    import io

    small = [cv2.resize(image, (192, 192)) for image in dance_frames]
    segments = []
    for k in range(count):
        buffer = io.BytesIO()
        with av.open(buffer, "w", format="mpegts") as out:
            stream = out.add_stream("libx264", rate=30, options={"g": "30"})
            stream.width, stream.height, stream.pix_fmt = 192, 192, "yuv420p"
            for i in range(30):
                frame = av.VideoFrame.from_ndarray(small[(30 * k + i) % len(small)], format="bgr24")
                frame.pts = 30 * k + i
                out.mux(stream.encode(frame))
            out.mux(stream.encode())
        segments.append(buffer.getvalue())
    return segments


def test_a_live_hls_stream_is_played_at_its_pace(free_port, dance_frames: list[np.ndarray]) -> None:  # noqa: ANN001
    """QA: a live HLS stream (a rolling playlist of 1 s segments) came a segment at a time, 30
    frames in a quarter of a second and then none: the newest frame of each burst was posed, 2 a
    second of 30, and every gap between segments was said as a stall. Its frames are now released
    at their presentation times."""
    from posecast.realtime.errors import SourceStalledError

    segments = _live_hls_segments(dance_frames, 10)
    started = time.monotonic()

    class Server(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            published = min(len(segments), 3 + int(time.monotonic() - started))  # one more each second
            if self.path.startswith("/live.m3u8"):
                first = max(0, published - 3)
                entries = "".join(f"#EXTINF:1.000,\nseg{k}.ts\n" for k in range(first, published))
                body = f"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:{first}\n{entries}"
                body = body.encode()
                kind = "application/vnd.apple.mpegurl"
            else:
                body, kind = segments[int(self.path.removeprefix("/seg").removesuffix(".ts"))], "video/mp2t"
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with _http_server(free_port(), Server) as address:
        source = open_source(f"{address}/live.m3u8")
        arrivals, stalls = [], 0
        with source:
            while len(arrivals) < 120:
                try:
                    arrivals.append((source.read(), time.monotonic()))
                except SourceStalledError:
                    stalls += 1
    times = np.array([t for _, t in arrivals])
    assert isinstance(source, StreamSource) and source._presentation is not None
    assert stalls == 0 and all(frame is not None for frame, _ in arrivals)
    assert 3.0 < times[-1] - times[0] < 5.0  # 120 frames at 30 fps: 4 s (newest-frame bursts: a minute)
    assert np.diff(times[30:]).max() < 0.2  # no gap between segments


@pytest.mark.parametrize(("path", "said"), [
    ("/video", "its server answers HTTP 401 Unauthorized: it asks for a user name and password; put the camera's in "
               "the address (http://USER:PASSWORD@HOST/...)"),
    ("/video?wrong", "its server answers HTTP 401 Unauthorized: the user name and password in the address are "
                     "refused"),
    ("/nothing", "its server answers HTTP 404 Not Found: no stream at that path; check the path in the camera's"),
])  # fmt: skip
def test_a_web_camera_s_refusal_is_named(free_port, path: str, said: str) -> None:  # noqa: ANN001
    """QA: a camera answering 401 (no or a wrong password), 404 or 500 read "did not open (refused,
    no answer ...): check the address and that the server is up": the fix, the password, unnamed."""
    import base64

    from posecast.realtime.errors import SourceError

    class Camera(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            good = "Basic " + base64.b64encode(b"admin:right").decode()
            if not self.path.startswith("/video"):
                self.send_error(404)
            elif self.headers.get("Authorization") != good:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="camera"')
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                self.send_error(500)

        def log_message(self, *args: object) -> None:
            pass

    with _http_server(free_port(), Camera) as address:
        url = address + path
        if path.endswith("?wrong"):
            url = url.replace("http://", "http://admin:nope@").removesuffix("?wrong")
        with pytest.raises(SourceError, match=re.escape(said)) as refused, open_source(url):
            pass
    assert "nope" not in str(refused.value)  # the password starred, as everywhere


def test_a_web_camera_s_password_goes_to_its_own_server_only_when_asked(free_port) -> None:  # noqa: ANN001
    """Security QA: the probe sent ``Authorization: Basic`` unasked, and urllib carried it to the
    host a redirect named (the password reached another server). Now: to the address given, after
    its server's 401, and no redirect is followed."""
    from posecast.realtime.sources.stream import http_refusal

    seen: list[tuple[int, str | None]] = []
    elsewhere_port = free_port()

    class Elsewhere(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            seen.append((elsewhere_port, self.headers.get("Authorization")))
            self.send_error(404)

        def log_message(self, *args: object) -> None:
            pass

    class Redirecting(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            seen.append((0, self.headers.get("Authorization")))
            if self.path == "/asks":
                if self.headers.get("Authorization") is None:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="camera"')
                else:
                    self.send_response(403)
            else:
                self.send_response(302)
                self.send_header("Location", f"http://127.0.0.1:{elsewhere_port}/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with _http_server(free_port(), Redirecting) as address, _http_server(elsewhere_port, Elsewhere):
        assert http_refusal(address.replace("http://", "http://camuser:s3cret@") + "/video") is None
        assert seen == [(0, None)]  # asked once, no password unasked, the redirect not followed
        seen.clear()
        said = http_refusal(address.replace("http://", "http://camuser:s3cret@") + "/asks")
    assert said is not None and "HTTP 403" in said
    assert [header is None for _, header in seen] == [True, False] and all(port == 0 for port, _ in seen)


def test_a_wrong_digest_password_is_tried_once_and_a_refusal_unasked_is_not_blamed_on_it(free_port) -> None:  # noqa: ANN001
    """Review: urllib answered a digest challenge six times with a wrong password (cameras lock an
    account after five or so failures), and a 403 that asked for nothing was said as the password
    refused, though it was never sent."""
    from posecast.realtime.sources.stream import http_refusal

    tries: list[str | None] = []

    class DigestCamera(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            tries.append(self.headers.get("Authorization"))
            if self.path.startswith("/forbidden"):
                self.send_response(403)
            else:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Digest realm="camera", nonce="abc123", qop="auth"')
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with _http_server(free_port(), DigestCamera) as address:
        with_password = address.replace("http://", "http://admin:typo@")
        said = http_refusal(with_password + "/video")
        assert said is not None and "the user name and password in the address are refused" in said
        assert len(tries) == 2 and tries[0] is None and tries[1].startswith("Digest "), tries  # once, not six times
        said = http_refusal(with_password + "/forbidden")
    assert said is not None and "403 Forbidden without asking for the user name and password" in said, said

"""A recording keeps each pose message as the live stream sent it, through the real pipeline:
the recorder writes on its own thread, later, but encodes the frame as it was handed over (it
used to add the pipeline's own ``publish`` stage to ``latency_ms``, and its ``publish_ns`` came
some milliseconds after the stream's, so a replay read slower than the live run)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from posecast.realtime.cli import main
from posecast.realtime.recording import read_recording
from posecast.realtime.schema import decode_pose
from posecast.realtime.sinks.record import RecordSink
from posecast.realtime.subscriber import Subscriber
from posecast.realtime.types import PoseFrame
from stream_reader import poses_received

#: How late the recorder's thread writes each frame here: a stamp taken when it writes would be
#: this much after the stream's, one taken at the hand-over is not (a margin a loaded machine's
#: thread switches, a few milliseconds, cannot blur; a 1 ms bound failed under load).
WRITER_LATE_S = 0.025


def test_recorded_messages_match_the_live_stream(media_dir: Path, tmp_path: Path, free_port,  # noqa: ANN001
                                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    port = free_port()
    take = tmp_path / "take.posecast"
    write = RecordSink.write

    def late_write(self: RecordSink, frame: PoseFrame) -> None:
        time.sleep(WRITER_LATE_S)
        write(self, frame)

    monkeypatch.setattr(RecordSink, "write", late_write)
    with Subscriber(f"tcp://127.0.0.1:{port}") as subscriber, poses_received(subscriber) as live:
        # --realtime: paced, so the subscriber is connected long before the frames that count
        code = main(["run", "--source", str(media_dir / "dance_576.mp4"), "--headless", "--realtime",
                     "--frames", "45", "--publish", f"tcp://127.0.0.1:{port}", "--record", str(take)])  # fmt: skip
    assert code == 0
    recorded = {m.frame_id: m for f in read_recording(take).frames for m in map(decode_pose, f.poses)}
    shared = sorted(set(live) & set(recorded))
    assert len(shared) >= 30
    gaps_ms = []
    for frame_id in shared:
        sent, kept = live[frame_id], recorded[frame_id]
        assert kept.latency_ms is not None and sent.latency_ms is not None
        assert set(kept.latency_ms) == set(sent.latency_ms), frame_id  # no "publish" stage the stream lacks
        assert "publish" not in kept.latency_ms
        assert kept.latency_ms == sent.latency_ms
        gaps_ms.append((kept.publish_ns - sent.publish_ns) / 1e6)
    # both stamped when the pipeline hands the frame over, on its thread, one output after the
    # other: well inside the recorder's own lateness
    assert float(np.median(np.abs(gaps_ms))) < 0.4 * WRITER_LATE_S * 1e3, gaps_ms


def test_a_take_of_a_variable_rate_video_states_its_claimed_rate_and_reads_its_frames_rate(tmp_path: Path) -> None:
    """Issue QA: "a take's meta keeps the rate the source claimed": a variable-rate video (frames
    1/30 s apart, a 1.5 s freeze in the middle) whose container claims an average, 14.1 fps. The
    meta states that claim, as the live stream did (``source_fps``: the source's, in the format
    and in ``docs/protocol.md``); the take's own rate is its frames' (``Recording.fps``), which
    its duration, ``posecast export`` and the lift input use."""
    from fractions import Fraction

    import cv2
    from posecast.realtime.pipeline import Pipeline
    from posecast.realtime.sinks.record import RecordOptions
    from posecast.realtime.sources.video import VideoFileSource
    from test_stages import FakeDetector, FakeLifting

    av = pytest.importorskip("av")
    clip, take = tmp_path / "vfr.mp4", tmp_path / "take.posecast"
    times_s = [k / 30 for k in range(20)] + [20 / 30 + 1.5 + k / 30 for k in range(20)]
    with av.open(str(clip), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)
        for k, t in enumerate(times_s):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 6 * k, np.uint8), format="rgb24")
            frame.pts, frame.time_base = round(t * 1000), Fraction(1, 1000)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    claimed = cv2.VideoCapture(str(clip)).get(cv2.CAP_PROP_FPS)
    outputs = [RecordSink(RecordOptions(take))]
    with VideoFileSource(clip) as source, Pipeline(FakeDetector({}), FakeLifting(), outputs) as run:
        assert len(list(run.run(source))) == 40
    recording = read_recording(take)
    assert abs(claimed - 30.0) > 5.0 and recording.source_fps == pytest.approx(claimed)
    assert recording.fps == pytest.approx(30.0, rel=0.02)  # (the file's times are in whole milliseconds)
    assert recording.duration_s == pytest.approx(times_s[-1] + 1 / 30, abs=0.005)

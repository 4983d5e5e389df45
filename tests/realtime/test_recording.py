"""The ``.posecast`` recording format: lossless round trip, crash safety (a killed recorder
loses at most the last second), files cut at any byte, wrong files, and the ``posecast lift``
input it gives."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import msgpack
import numpy as np
import pytest
from posecast.calibration import CameraIntrinsics
from posecast.engines import skeleton
from posecast.realtime.recording import (
    FrameRecord,
    MetaRecord,
    PersonRecord,
    RecordingError,
    RecordingWriter,
    read_recording,
)
from posecast.realtime.recording.arrays import lift_input, person_ids, person_track, read_take, write_lift_input
from posecast.realtime.schema import decode_pose, encode_meta, encode_pose, meta_message
from posecast.realtime.types import PersonPose, PoseFrame, StreamMeta

INTRINSICS = CameraIntrinsics(width=640, height=480, fx=600.0, fy=600.0, cx=320.0, cy=240.0, assumed=True)


def person(pid: int, frame_id: int, tracking: str = "tracking") -> PersonPose:
    if tracking == "lost":
        return PersonPose.lost(pid)
    rng = np.random.default_rng(1000 * pid + frame_id)
    joints = (rng.normal(scale=0.3, size=(17, 3)) + [0.5 * pid, 0, 3]).astype(np.float32)
    return PersonPose(
        person_id=pid, tracking=tracking, keypoints_px=rng.uniform(0, 480, size=(17, 2)).astype(np.float32),
        confidence=rng.uniform(size=17).astype(np.float32), joints_m=joints, joints_rel_m=joints - joints[0],
        root_m=joints[0].copy(), bone_lengths_m=skeleton.bone_lengths(joints).astype(np.float32),
    )  # fmt: skip


def frame_record(frame_id: int, people: list[PersonPose], fps: float = 30.0) -> FrameRecord:
    capture_ns = 5_000_000_000 + int(frame_id * 1e9 / fps)
    frame = PoseFrame(frame_id=frame_id, capture_ns=capture_ns, timestamp_ns=capture_ns, image_size=(640, 480),
                      people=people, stage_ns={"keypoints2d": 17_000_000})  # fmt: skip
    poses = [encode_pose(frame, p, capture_ns + 20_000_000, time.time_ns()) for p in people]
    records = [PersonRecord(p.person_id, p.tracking, p.keypoints_px, p.confidence, p.bone_lengths_m) for p in people]
    return FrameRecord(time.monotonic_ns(), frame_id, capture_ns, capture_ns, (640, 480), poses, records)


def meta_record() -> MetaRecord:
    meta = StreamMeta(assumptions={"height_m": 1.7}, intrinsics=INTRINSICS, source_fps=30.0, max_people=2)
    return MetaRecord(time.monotonic_ns(), encode_meta(meta_message(meta)), INTRINSICS, 30.0)


def write_take(path: Path, frames: int = 60) -> list[FrameRecord]:
    writer = RecordingWriter(path, source="test", schema_version=2)
    writer.write_meta(meta_record())
    written = []
    for i in range(frames):
        people = [person(0, i, "lost" if 20 <= i < 25 else "tracking")] + ([person(3, i)] if i % 2 else [])
        written.append(frame_record(i, people))
        writer.write_frame(written[-1])
    assert writer.close() == path
    return written


def test_a_take_is_never_finished_over_another(tmp_path: Path) -> None:
    """Review: a take finished with a rename replaced one another run had finished under the same
    name meanwhile (chosen in the same instant). The take there stays; this one stays whole as its
    .part, and the error says so."""
    from posecast.realtime.recording.format import RecordingError

    path = tmp_path / "take.posecast"
    writer = RecordingWriter(path)
    path.write_bytes(b"the other run's take")
    with pytest.raises(RecordingError, match=r"take.posecast appeared while this take was being recorded .* kept, "
                       r"whole, as .*take.posecast.part"):  # fmt: skip
        writer.close()
    assert path.read_bytes() == b"the other run's take"
    assert read_recording(tmp_path / "take.posecast.part").complete


def test_round_trip_is_lossless(tmp_path: Path) -> None:
    path = tmp_path / "take.posecast"
    written = write_take(path)
    assert not path.with_name("take.posecast.part").exists()
    take = read_recording(path)
    assert take.complete and take.header["format"] == "posecast-recording" and take.header["schema_version"] == 2
    # which code made it: from a git checkout its commit too (upgrade QA: every take said 0.1.0 alone)
    from posecast.engines.install import code_version

    assert take.header["posecast_commit"] == code_version()["git_commit"]
    assert take.footer["frames"] == 60 and take.footer["dropped_frames"] == 0
    assert [i[0] for i in take.footer["index"]] == [0, 30]  # one entry a second
    assert take.intrinsics == CameraIntrinsics(**{**vars(INTRINSICS), "source": "recording"})
    assert take.fps == 30.0
    for a, b in zip(written, take.frames, strict=True):
        assert a.poses == b.poses  # the published bytes, exactly
        assert (a.frame_id, a.capture_ns, a.timestamp_ns, a.image_size) == (b.frame_id, b.capture_ns, b.timestamp_ns,
                                                                            b.image_size)  # fmt: skip
        for pa, pb in zip(a.people, b.people, strict=True):
            np.testing.assert_array_equal(pa.keypoints_px, pb.keypoints_px)
            np.testing.assert_array_equal(pa.confidence, pb.confidence)
            if pa.bone_lengths_m is None:
                assert pb.bone_lengths_m is None
            else:
                np.testing.assert_array_equal(pa.bone_lengths_m, pb.bone_lengths_m)


@pytest.mark.parametrize("claimed_fps", [0.005, 90_000.0, float("nan")])
def test_a_source_rate_a_reader_refuses_is_kept_as_unknown(tmp_path: Path, claimed_fps: float) -> None:
    """Footage QA: a 0.005 fps timelapse's take, and a cover picture's at 90,000 fps, were written
    with that rate and then refused by export, replay and adapt as damaged; the take keeps 0
    (unknown) and its rate comes from its timestamps."""
    path = tmp_path / "take.posecast"
    writer = RecordingWriter(path, source="test", schema_version=2)
    meta = meta_record()
    writer.write_meta(MetaRecord(meta.t_ns, meta.payload, meta.intrinsics, claimed_fps))
    for i in range(10):
        writer.write_frame(frame_record(i, [person(0, i)]))
    writer.close()
    take = read_recording(path)
    assert take.metas[0].source_fps == 0.0 and take.fps == pytest.approx(30.0)


def test_person_track_and_lift_input(tmp_path: Path) -> None:
    path = tmp_path / "take.posecast"
    write_take(path)
    take = read_recording(path)
    assert person_ids(take) == [0, 3]
    track = person_track(take)
    assert track.person_id == 0 and track.joints_m.shape == (60, 17, 3)
    assert np.isnan(track.joints_m[20:25]).all() and list(track.tracking[19:26]) == ["tracking"] + ["lost"] * 5 + [
        "tracking"
    ]
    np.testing.assert_array_equal(track.joints_m[7], person(0, 7).joints_m)
    other = person_track(take, 3)
    assert np.isnan(other.joints_m[0::2]).all() and other.posed[1::2].all()
    with pytest.raises(RecordingError, match=r"has no person 5: it has \[0, 3\]"):
        person_track(take, 5)

    npz = write_lift_input(take, tmp_path / "take_2d.npz")
    with np.load(npz) as data:
        assert data["keypoints_2d"].shape == (60, 17, 2) and data["confidence"].shape == (60, 17)
        np.testing.assert_array_equal(data["keypoints_2d"][3], person(0, 3).keypoints_px)
        assert (data["confidence"][20:25] == 0).all()
        np.testing.assert_array_equal(data["intrinsics"], [600, 600, 320, 240])
        assert float(data["fps"]) == 30.0


@pytest.mark.parametrize("block_rows", [7, 4096])
def test_a_take_read_record_by_record_is_the_take_read_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             block_rows: int) -> None:  # fmt: skip
    """``posecast export`` reads a take record by record and keeps one person's numbers
    (:func:`read_take`, about 0.55 kB a person and frame, where a frame's record read whole takes
    about 2.2 kB): each person's track, the frames' clocks and sizes and the lift input are those of the
    take read whole, also where a block of rows fills between two people of a frame."""
    from posecast.realtime.recording import arrays

    monkeypatch.setattr(arrays, "BLOCK_ROWS", block_rows)
    path = tmp_path / "take.posecast"
    write_take(path)
    whole = read_recording(path)
    for person_id in (None, 0, 3):
        take = read_take(path, person_id)
        expected = person_track(whole, person_id)
        for name, value in vars(expected).items():
            if isinstance(value, np.ndarray):
                got = getattr(take.track, name)
                assert got.dtype == value.dtype, name
                np.testing.assert_array_equal(got, value, err_msg=name)
        assert take.track.person_id == expected.person_id and take.frames == len(whole.frames) == 60
        np.testing.assert_array_equal(take.timestamps_ns, whole.timestamps_ns)
        np.testing.assert_array_equal(take.recorded_ns, [frame.t_ns for frame in whole.frames])
        np.testing.assert_array_equal(take.image_sizes, [frame.image_size for frame in whole.frames])
        assert (take.fps, take.duration_s, take.intrinsics, take.complete) == (whole.fps, whole.duration_s,
                                                                               whole.intrinsics, True)  # fmt: skip
        for key, value in lift_input(whole, person_id).items():
            np.testing.assert_array_equal(lift_input(take)[key], value, err_msg=key)
    with pytest.raises(RecordingError, match=r"has no person 5: it has \[0, 3\]"):
        read_take(path, 5)


def test_lift_input_undistorts_like_opencv(tmp_path: Path) -> None:
    import cv2

    distorted = CameraIntrinsics(width=640, height=480, fx=600.0, fy=600.0, cx=320.0, cy=240.0,
                                 distortion=(-0.2, 0.05, 0.0, 0.0, 0.0))  # fmt: skip
    path = tmp_path / "d.posecast"
    writer = RecordingWriter(path)
    writer.write_meta(MetaRecord(0, b"\x80", distorted, 30.0))
    writer.write_frame(frame_record(0, [person(0, 0)]))
    writer.close()
    keypoints = lift_input(read_recording(path))["keypoints_2d"][0]
    k = np.array([[600.0, 0, 320], [0, 600, 240], [0, 0, 1]])
    # distorting the undistorted points again gives back the recorded pixels
    rays = cv2.undistortPoints(keypoints.reshape(-1, 1, 2).astype(np.float64), k, None)
    redistorted, _ = cv2.projectPoints(np.c_[rays.reshape(-1, 2), np.ones(17)], np.zeros(3), np.zeros(3), k,
                                       np.asarray(distorted.distortion))  # fmt: skip
    np.testing.assert_allclose(redistorted.reshape(-1, 2), person(0, 0).keypoints_px, atol=0.05)


def test_a_file_cut_at_any_byte_reads_its_whole_records(tmp_path: Path) -> None:
    path = tmp_path / "take.posecast"
    write_take(path, frames=8)
    data = path.read_bytes()
    cut = tmp_path / "cut.posecast.part"
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(data)
    next(unpacker)
    header_size = unpacker.tell()
    previous = -1
    for size in range(header_size, len(data), 97):
        cut.write_bytes(data[:size])
        take = read_recording(cut)
        assert len(take.frames) >= previous  # more bytes never give fewer frames
        previous = len(take.frames)
        assert not take.complete or size == len(data)
    assert previous >= 7


def test_replaying_a_file_without_its_footer_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A take cut short (a crash) replays its whole frames with one warning, as export reads it; a
    finished one replays without."""
    from posecast.realtime.recording.replay import Replay, ReplayOptions

    path = tmp_path / "take.posecast"
    write_take(path, frames=8)
    data = path.read_bytes()
    cut = tmp_path / "cut.posecast.part"
    cut.write_bytes(data[: len(data) * 3 // 4])
    caplog.clear()
    with caplog.at_level("WARNING"):
        whole = list(Replay(path, ReplayOptions(speed=100.0)))
        assert not [r for r in caplog.records if r.levelname == "WARNING"]
        replayed = list(Replay(cut, ReplayOptions(speed=100.0)))
    assert len(whole) == 8 and 0 < len(replayed) < 8
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        f"{cut} has no footer (the recorder did not finish, e.g. a crash): replayed its {len(replayed)} whole frames"
    ]


def test_a_killed_recorder_loses_at_most_the_last_second(tmp_path: Path) -> None:
    """A recorder process writing 100 frames a second is killed (SIGKILL, no close): its
    ``.part`` file holds every frame written more than ``flush_interval_s`` (1 s) before the last
    one it wrote."""
    path = tmp_path / "crash.posecast"
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_recording import frame_record, meta_record, person
        from posecast.realtime.recording import RecordingWriter
        writer = RecordingWriter({str(path)!r}, flush_interval_s=1.0)
        writer.write_meta(meta_record())
        for i in range(250):
            record = frame_record(i, [person(0, i)])
            writer.write_frame(record)
            print(i, record.t_ns, flush=True)
            time.sleep(0.01)
        time.sleep(60)  # killed here, before close()
    """)  # noqa: E501
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    written = {}
    for line in child.stdout:
        frame_id, t_ns = map(int, line.split())
        written[frame_id] = t_ns
        if frame_id == 249:
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert not path.exists()
    take = read_recording(path.with_name("crash.posecast.part"))
    assert not take.complete
    recovered = {f.frame_id for f in take.frames}
    last_t = max(written.values())
    must_have = {i for i, t in written.items() if t < last_t - 1.05e9}
    assert must_have <= recovered, sorted(must_have - recovered)[:5]
    assert len(must_have) > 100
    assert recovered <= set(written)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty or cut short"),
        (b"\xc1garbage", "is not a posecast recording"),
        (msgpack.packb({"format": "other"}), "no 'posecast-recording' header"),
        (
            msgpack.packb({"format": "posecast-recording", "version": 99}),
            "format version 99, this posecast reads up to 1",
        ),
    ],
)
def test_wrong_files_are_one_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.posecast"
    path.write_bytes(content)
    with pytest.raises(RecordingError, match=message):
        read_recording(path)


def test_unwritable_and_missing_paths(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(RecordingError, match="the folder .*file does not exist; make it first"):
        RecordingWriter(tmp_path / "file" / "take.posecast")
    with pytest.raises(RecordingError, match="the folder .*missing does not exist; make it first"):
        RecordingWriter(tmp_path / "missing" / "take.posecast")  # (API QA: made, as mkdir -p)
    assert not (tmp_path / "missing").exists()
    with pytest.raises(RecordingError, match="cannot read the recording"):
        read_recording(tmp_path / "none.posecast")


def test_pose_payloads_decode_with_the_wire_schema(tmp_path: Path) -> None:
    path = tmp_path / "take.posecast"
    write_take(path, frames=3)
    messages = [decode_pose(p) for f in read_recording(path).frames for p in f.poses]
    assert [m.person_id for m in messages] == [0, 0, 3, 0]
    assert json.dumps([m.frame_id for m in messages]) == "[0, 1, 1, 2]"


def test_a_take_being_recorded_is_told_from_one_a_run_left(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Concurrency QA: a second run on the same --record was told the live run's .part was "a take a
    run did not finish: move it away"; moved away, the live run then ended in a raw errno line; and
    export called the take being recorded a crash's."""
    import argparse
    import logging

    from posecast.engines.errors import PosecastError
    from posecast.realtime.recording.format import being_recorded
    from posecast.realtime.sinks.record import RecordSink

    path = tmp_path / "take.posecast"
    part = tmp_path / "take.posecast.part"
    writer = RecordingWriter(path, source="test", schema_version=2)
    writer.write_meta(meta_record())
    writer.write_frame(frame_record(0, [person(0, 0)]))
    writer._sync()  # noqa: SLF001 - on the disk, as a second run would read it a second later
    assert being_recorded(part)
    with pytest.raises(RecordingError, match=r"another run is recording to .*take\.posecast\.part now: pass another"):
        RecordingWriter(path, source="test", schema_version=2)
    with pytest.raises(PosecastError, match=r"--record: another run is recording to .*take\.posecast\.part now"):
        RecordSink.from_args(argparse.Namespace(record=str(path), source="x.mp4"))
    with caplog.at_level(logging.INFO, logger="posecast"):
        assert len(read_recording(part).frames) == 1
    assert "is being recorded now: read its 1 frames so far" in caplog.text and "crash" not in caplog.text
    part.rename(tmp_path / "moved.posecast.part")  # as the old advice said
    with pytest.raises(RecordingError, match=r"take\.posecast\.part was moved away or deleted while this take was "
                                             r"being recorded: the take is wherever it was moved"):
        writer.close()
    assert not being_recorded(tmp_path / "moved.posecast.part")  # the recorder let go of it
    left = RecordingWriter(tmp_path / "left.posecast", source="test", schema_version=2)
    left._file.close()  # noqa: SLF001 - a run killed mid-take: its lock goes with it
    assert not being_recorded(tmp_path / "left.posecast.part")


def test_a_source_named_in_bytes_that_are_not_utf8_is_recorded(tmp_path: Path) -> None:
    """Environment QA: ``run --source`` of a folder whose name is not UTF-8 (Python holds its bytes
    as surrogates) with ``--record`` was refused: "UnicodeEncodeError ... surrogates not allowed"."""
    path = tmp_path / "take.posecast"
    writer = RecordingWriter(path, source="bad/im\udce9gs", schema_version=2)
    writer.write_meta(meta_record())
    writer.close()
    assert read_recording(path).header["source"] == "bad/im\\xe9gs"


def test_a_take_stays_locked_until_it_is_moved_into_place(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """Concurrency QA: the recorder let go of its lock a moment before the rename, so a run looking
    then took the finished .part for one a crashed run left."""
    from posecast.realtime.recording import format as recording_format

    seen = []

    def looking_move(part: Path, take: Path, move=recording_format.move_into_new) -> None:  # noqa: ANN001
        seen.append(recording_format.being_recorded(part))
        move(part, take)

    monkeypatch.setattr(recording_format, "move_into_new", looking_move)
    path = tmp_path / "take.posecast"
    writer = RecordingWriter(path, source="test", schema_version=2)
    writer.write_meta(meta_record())
    assert writer.close() == path
    assert seen == [True]
    assert read_recording(path).complete and not recording_format.being_recorded(path)


def test_a_recorder_whose_part_was_replaced_by_another_run_s_finishes_neither(tmp_path: Path) -> None:
    """Review: writer 1's .part moved away and writer 2 started a new .part at its name; writer 1's
    close finished writer 2's unfinished file as its take ("recorded 5 frames"), and writer 2's
    close then said its file was moved away."""
    path, part = tmp_path / "take.posecast", tmp_path / "take.posecast.part"
    first = RecordingWriter(path, source="test", schema_version=2)
    first.write_meta(meta_record())
    part.rename(tmp_path / "moved.posecast.part")
    second = RecordingWriter(path, source="test", schema_version=2)
    second.write_meta(meta_record())
    with pytest.raises(RecordingError, match="was moved away or deleted while this take was being recorded"):
        first.close()
    assert not path.exists() and part.exists()  # the second run's file is left to it
    first.discard()  # (closed already: nothing of the second run's is removed)
    assert part.exists()
    second.write_frame(frame_record(0, [person(0, 0)]))
    assert second.close() == path and read_recording(path).complete


def test_a_discarded_recorder_leaves_another_run_s_part_at_its_name(tmp_path: Path) -> None:
    """Review: discard() removed whatever was at its .part's name, another run's take included."""
    path, part = tmp_path / "take.posecast", tmp_path / "take.posecast.part"
    first = RecordingWriter(path, source="test", schema_version=2)
    part.rename(tmp_path / "moved.posecast.part")
    second = RecordingWriter(path, source="test", schema_version=2)
    first.discard()
    assert part.exists() and (tmp_path / "moved.posecast.part").exists()
    second.discard()
    assert not part.exists()

"""Damage a recording's own structure cannot show is caught by what a finished take promises: its
footer's frame count (a frame whose ``type`` byte was damaged was skipped as an unknown record:
export and replay went on, exit 0, a frame short) and the footer itself (a byte read as the length
of a long string swallows the rest: the finished take was read as a crashed one, most frames lost,
exit 0). A take a run did not finish (``.part``) is still read as far as it goes."""

from __future__ import annotations

import re
from pathlib import Path

import msgpack
import pytest
from posecast.realtime.cli import main
from posecast.realtime.recording.format import RecordingError, read_recording

FRAME_TYPE = b"\xa4type\xa5frame"  # msgpack: the key "type", the value "frame"


def without_crc32(data: bytes) -> bytes:
    """A take as recorded before its footer had a ``crc32`` (2026-12-06)."""
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(data)
    footer_start = end = 0
    for _ in unpacker:
        footer_start, end = end, unpacker.tell()
    footer = msgpack.unpackb(data[footer_start:], raw=False)
    del footer["crc32"]
    return data[:footer_start] + msgpack.packb(footer)


def test_a_frame_lost_to_damage_is_caught_by_the_footer_count(dance_take: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture) -> None:  # fmt: skip
    """In a take without a checksum (as recorded before 2026-12-06)."""
    data = without_crc32(dance_take.read_bytes())
    assert data.count(FRAME_TYPE) == 60
    at = data.index(FRAME_TYPE, len(data) // 2) + len(FRAME_TYPE) - 2
    damaged = tmp_path / "take.posecast"
    damaged.write_bytes(data[:at] + b"X" + data[at + 1:])  # "frame" → "frXme": an unknown record type
    with pytest.raises(RecordingError, match=r"is damaged: its footer counts 60 frames and 59 could be read"):
        read_recording(damaged)
    assert main(["export", str(damaged), "--bvh", str(tmp_path / "a.bvh")]) == 2
    assert "footer counts 60 frames" in capsys.readouterr().err and not (tmp_path / "a.bvh").exists()
    replay = ["replay", str(damaged), "--publish", "tcp://127.0.0.1:0", "--wait", "0", "--speed", "100"]
    assert main(replay) == 2  # replay too
    assert "footer counts 60 frames" in capsys.readouterr().err


def test_a_changed_byte_is_caught_by_the_footer_s_checksum(dance_take: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:  # fmt: skip
    """QA: a flipped bit in a keypoint's number (a float32, 0xca and 4 bytes) exported and replayed
    a wrong pose, exit 0; the frame type damaged above is caught the same way."""
    data = dance_take.read_bytes()
    number = data.index(b"\xca", len(data) // 2) + 3  # a float32's mantissa: still a number, another one
    damaged = tmp_path / "take.posecast"
    for changed in (data[:number] + bytes([data[number] ^ 0x10]) + data[number + 1:],
                    data.replace(FRAME_TYPE, FRAME_TYPE[:-2] + b"Xe", 1)):  # fmt: skip
        damaged.write_bytes(changed)
        with pytest.raises(RecordingError, match=r"take.posecast is damaged: its bytes are not those recorded \(their "
                                                 r"CRC-32 is not the footer's"):  # fmt: skip
            read_recording(damaged)
    assert main(["export", str(damaged), "--bvh", str(tmp_path / "a.bvh")]) == 2
    assert "CRC-32" in capsys.readouterr().err and not (tmp_path / "a.bvh").exists()
    replay = ["replay", str(damaged), "--publish", "tcp://127.0.0.1:0", "--wait", "0", "--speed", "100"]
    assert main(replay) == 2  # before it publishes anything: replay reads the take through first
    assert "CRC-32" in capsys.readouterr().err
    assert read_recording(tmp_path.joinpath("whole.posecast").write_bytes(data) and tmp_path / "whole.posecast")


def test_a_write_that_failed_leaves_the_part_without_a_footer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A transient write error (EIO on a stalled disk) left the frame's bytes in the file uncounted;
    the footer written behind them then counted one frame less than there were (review)."""
    import errno
    import os

    from posecast.realtime.recording.format import FrameRecord, RecordingWriter

    writer = RecordingWriter(tmp_path / "take.posecast", flush_interval_s=1e-9)
    real_fsync, failed = os.fsync, []

    def fsync_once_failing(fd: int) -> None:
        if writer.frames == 2 and not failed:
            failed.append(fd)
            raise OSError(errno.EIO, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync_once_failing)
    for i in range(4):
        record = FrameRecord(t_ns=i, frame_id=i, capture_ns=i, timestamp_ns=i, image_size=(64, 48), poses=[],
                             people=[])  # fmt: skip
        if i == 2:
            with pytest.raises(RecordingError, match="the frames written before stay in it"):
                writer.write_frame(record)
            break
        writer.write_frame(record)
    assert writer.close() == tmp_path / "take.posecast.part"  # left as it is: no footer behind a failed write
    assert not (tmp_path / "take.posecast").exists()
    take = read_recording(tmp_path / "take.posecast.part")
    assert not take.complete and len(take.frames) == 3  # the frame whose sync failed was written whole


def test_a_finished_take_without_its_footer_is_damage_and_a_part_is_read(dance_take: Path, tmp_path: Path) -> None:
    data = dance_take.read_bytes()
    cut = data[: data.index(FRAME_TYPE, len(data) // 2) - 40]  # mid-record, half the frames before it
    finished = tmp_path / "take.posecast"
    finished.write_bytes(cut)
    with pytest.raises(RecordingError, match=r"it has no footer, which every finished take has, and (\d+) frames") \
            as caught:  # fmt: skip
        read_recording(finished)
    frames = int(re.search(r"and (\d+) frames", str(caught.value)).group(1))
    assert 20 <= frames <= 40 and "rename it to take.posecast.part" in str(caught.value)
    unfinished = finished.rename(tmp_path / "take.posecast.part")  # as the message says
    take = read_recording(unfinished)
    assert not take.complete and len(take.frames) == frames
    assert read_recording(dance_take).complete and len(read_recording(dance_take).frames) == 60  # intact: as ever


def test_a_write_that_failed_before_any_frame_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No frame to keep: the error said the frames before "stay readable" while replay and export
    refused the empty .part, and the .part blocked the next --record to that path (review 2)."""
    import errno
    import os

    from posecast.realtime.recording.format import FrameRecord, RecordingWriter

    writer = RecordingWriter(tmp_path / "take.posecast", flush_interval_s=1e-9)

    def fsync_failing(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", fsync_failing)
    record = FrameRecord(t_ns=0, frame_id=0, capture_ns=0, timestamp_ns=0, image_size=(64, 48), poses=[], people=[])
    with pytest.raises(RecordingError, match="No space left on device\\): nothing was recorded; free space"):
        writer.write_frame(record)
    writer.close()
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_when_the_take_starts_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The header reaching a full disk: the raw ``[Errno 28]`` came out, with no fix, and an empty
    ``.part`` blocked the next ``--record`` to that path (QA)."""
    import errno
    import os

    from posecast.realtime.recording.format import RecordingWriter

    def fsync_failing(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", fsync_failing)
    with pytest.raises(RecordingError, match="No space left on device\\): nothing was recorded; free space, or pass "
                                             "--record elsewhere"):  # fmt: skip
        RecordingWriter(tmp_path / "take.posecast")
    assert list(tmp_path.iterdir()) == []


def test_a_stop_while_the_take_starts_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C landing in the header's fsync (QA: 6 of 20 stops as the outputs started): the
    writer was never handed to the recorder, so nothing discarded its header-only ``.part``, and
    the next ``--record`` to that path was refused for it."""
    import os

    from posecast.realtime.recording.format import RecordingWriter

    def fsync_interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", fsync_interrupted)
    with pytest.raises(KeyboardInterrupt):
        RecordingWriter(tmp_path / "take.posecast")
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    RecordingWriter(tmp_path / "take.posecast").close()  # the next take to that path starts
    assert read_recording(tmp_path / "take.posecast").complete

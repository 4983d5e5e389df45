"""Damage a recording's own structure cannot show is caught by what a finished take promises: its
footer's frame count (a frame whose ``type`` byte was damaged was skipped as an unknown record:
export and replay went on, exit 0, a frame short) and the footer itself (a byte read as the length
of a long string swallows the rest: the finished take was read as a crashed one, most frames lost,
exit 0). A take a run did not finish (``.part``) is still read as far as it goes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from posecast.realtime.cli import main
from posecast.realtime.recording.format import RecordingError, read_recording

FRAME_TYPE = b"\xa4type\xa5frame"  # msgpack: the key "type", the value "frame"


def test_a_frame_lost_to_damage_is_caught_by_the_footer_count(dance_take: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture) -> None:  # fmt: skip
    data = dance_take.read_bytes()
    assert data.count(FRAME_TYPE) == 60
    at = data.index(FRAME_TYPE, len(data) // 2) + len(FRAME_TYPE) - 2
    damaged = tmp_path / "take.posecast"
    damaged.write_bytes(data[:at] + b"X" + data[at + 1:])  # "frame" → "frXme": an unknown record type
    with pytest.raises(RecordingError, match=r"is damaged: its footer counts 60 frames and 59 could be read"):
        read_recording(damaged)
    assert main(["export", str(damaged), "--bvh", str(tmp_path / "a.bvh")]) == 2
    assert "footer counts 60 frames" in capsys.readouterr().err and not (tmp_path / "a.bvh").exists()


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

"""The output checks every command makes before its work (engines/fileio.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from posecast.engines.fileio import OutputPathError, check_outputs, output_file_problem, same_file


def test_what_cannot_be_written_is_named(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    assert output_file_problem(tmp_path / "new.json") is None
    assert output_file_problem(tmp_path) == "it is a folder"
    assert output_file_problem(tmp_path / "file" / "x.json") == f"{tmp_path / 'file'} is a file, not a folder"
    assert output_file_problem(tmp_path / "no" / "x.json") == f"folder {tmp_path / 'no'} does not exist"
    assert output_file_problem("/dev/null") == "it is not a regular file"
    assert list(tmp_path.iterdir()) == [tmp_path / "file"]  # the probe left nothing


def test_a_folder_this_user_may_not_enter_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """For a user who is not root, stat on a path inside a folder without x permission raises
    PermissionError (Python 3.11's Path.exists lets it through): said, not a traceback."""
    def refused(self: Path) -> bool:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "is_dir", refused)
    assert output_file_problem(tmp_path / "x.json") == "cannot reach it (Permission denied)"
    monkeypatch.setattr(Path, "exists", refused)
    assert not same_file(tmp_path / "a", tmp_path / "b")


def test_outputs_against_inputs_and_each_other(tmp_path: Path) -> None:
    source = tmp_path / "clip.mp4"
    source.write_bytes(b"video")
    os.symlink(source, tmp_path / "link.mp4")
    with pytest.raises(OutputPathError, match="--output-video .*link.mp4 is the source: writing it would destroy it"):
        check_outputs({"--output-video": tmp_path / "link.mp4"}, {"the source": source})
    with pytest.raises(OutputPathError, match="--a and --b are both"):
        check_outputs({"--a": tmp_path / "x.json", "--b": tmp_path / "sub" / ".." / "x.json", "--c": None})
    check_outputs({"--a": tmp_path / "x.json", "--b": tmp_path / "y.json"}, {"the source": source})

"""``posecast adapt`` on a recording of several people (``--max-people``): every person is footage,
one 2D file each, so no window mixes two people; and what adapting says about how little
footage it had and what it adapted (the ``--report`` JSON's start model, recipe and seed)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from posecast.engines import skeleton
from posecast.engines.lift_input import posed_frames
from posecast.realtime.cli import main
from posecast.realtime.footage import expand_inputs, footage_to_2d

pytestmark = pytest.mark.slow

DANCER_SIDE_PX = 576  # the side-by-side clip's dancer is left of this x, the squatting person right


@pytest.fixture(scope="module")
def two_people_take(side_by_side: Path, pose_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("take") / "two.posecast"
    code = main(["run", "--source", str(side_by_side), "--headless", "--publish", "none", "--max-people", "2",
                 "--model-asset", str(pose_model_path), "--frames", "45", "--record", str(path)])  # fmt: skip
    assert code == 0
    return path


def _roots_x(path: Path) -> np.ndarray:
    with np.load(path) as data:
        keypoints, confidence = data["keypoints_2d"], data["confidence"]
    return keypoints[posed_frames(keypoints, confidence), skeleton.ROOT, 0]


def test_each_person_of_a_recording_is_footage_of_their_own(two_people_take: Path, tmp_path: Path) -> None:
    footage = footage_to_2d([two_people_take], tmp_path)
    assert [f.path.name for f in footage][0] == "000_two_2d.npz"  # the person seen most keeps the plain name
    assert len(footage) == 2 and footage[1].path.name.startswith("000_two_person")
    assert all(f.source == two_people_take and f.with_person >= 35 for f in footage), footage
    # one person per file, the whole take: each file's root stays on one side of the image
    sides = sorted(bool((_roots_x(f.path) < DANCER_SIDE_PX).all()) for f in footage)
    assert sides == [False, True] and all(
        (_roots_x(f.path) < DANCER_SIDE_PX).all() or (_roots_x(f.path) > DANCER_SIDE_PX).all() for f in footage
    )
    # the folder given to adapt again stands for the recording, not the 2D adapt wrote beside it
    (tmp_path / two_people_take.name).write_bytes(two_people_take.read_bytes())
    assert [p.name for p, _ in expand_inputs([tmp_path])] == ["two.posecast"]


def test_adapting_to_both_people_reports_what_it_adapted(two_people_take: Path, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from posecast.engines.runtime.base import DEFAULT_MODEL
    from posecast.engines.training.adapt import AdaptOptions, adapt

    files = [f.path for f in footage_to_2d([two_people_take], tmp_path) if f.with_person]
    options = AdaptOptions.recipe("mirror", minutes=5, max_steps=2, seed=7)
    report = adapt(DEFAULT_MODEL, files, tmp_path / "adapted.onnx", options, progress=False)
    frames = sum(int(posed_frames(*[np.load(f)[k] for k in ("keypoints_2d", "confidence")]).sum()) for f in files)
    assert report.steps == 2 and report.windows >= 0.9 * frames  # both people's frames are windows
    assert (report.start_model, report.recipe, report.seed) == ("supervised-long-w384", "mirror", 7)


def test_too_little_footage_is_adapted_to_with_a_warning(two_people_take: Path, tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from posecast.engines.runtime.base import DEFAULT_MODEL
    from posecast.engines.training.adapt import AdaptOptions, adapt

    (first, *_) = footage_to_2d([two_people_take], tmp_path)
    with np.load(first.path) as data:
        seen = np.flatnonzero(posed_frames(data["keypoints_2d"], data["confidence"]))[:12]
        short = {k: (data[k][seen] if data[k].ndim and len(data[k]) == len(data["keypoints_2d"]) else data[k])
                 for k in data.files}  # fmt: skip
    np.savez(tmp_path / "short_2d.npz", **short)
    with caplog.at_level(logging.WARNING, logger="posecast"):
        report = adapt(DEFAULT_MODEL, [tmp_path / "short_2d.npz"], tmp_path / "a.onnx",
                       AdaptOptions.recipe("mirror", minutes=5, max_steps=1), progress=False)  # fmt: skip
    assert report.steps == 1
    warned = [r.getMessage() for r in caplog.records if "unlikely to help" in r.getMessage()]
    assert len(warned) == 1 and "only 12 frames with a person" in warned[0], warned


@pytest.mark.parametrize("person", ["first", "second"])
def test_the_2d_made_is_never_written_over_a_2d_file_given(two_people_take: Path, tmp_path: Path, person: str) -> None:
    """QA: ``adapt take.mp4 s/000_take_2d.npz --save-2d s`` wrote the video's 2D over the user's
    file of that name, then adapted to it twice (exit 0). The name of the person seen most is
    refused before any work, another person's when that person is found."""
    from posecast.realtime.errors import SourceError

    first = footage_to_2d([two_people_take], tmp_path / "made")
    given = tmp_path / (first[0] if person == "first" else first[1]).path.name
    given.write_bytes(b"the user's own 2D")  # refused before it is read
    with pytest.raises(SourceError, match=f"would be written to {given}, which is one of the inputs: save the 2D"):
        footage_to_2d([two_people_take, given], tmp_path)
    assert given.read_bytes() == b"the user's own 2D"


def test_exporting_one_person_of_several_names_the_others(two_people_take: Path, caplog: pytest.LogCaptureFixture,
                                                          tmp_path: Path) -> None:  # fmt: skip
    """QA: ``export --lift-input`` (and ``--bvh``) took the person posed in most frames and left
    the others out without a word (one person back after more than 1 s is a new id)."""
    with caplog.at_level(logging.INFO, logger="posecast.realtime.recording"):
        assert main(["export", str(two_people_take), "--lift-input", str(tmp_path / "one.npz")]) == 0
    said = [r.getMessage() for r in caplog.records if "posed in most frames" in r.getMessage()]
    assert len(said) == 1 and "the take also has person(s) " in said[0] and "--person ID exports another" in said[0]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="posecast.realtime.recording"):
        assert main(["export", str(two_people_take), "--lift-input", str(tmp_path / "two.npz"), "--person", "1"]) == 0
    assert "posed in most frames" not in caplog.text


def test_2d_made_from_footage_keeps_the_footage_s_name(two_people_take: Path, tmp_path: Path) -> None:
    """QA: adapted again from the --save-2d files, the model's adapted_on named those files
    (000_take_2d.npz, ...), not the footage they came from."""
    made = footage_to_2d([two_people_take], tmp_path)
    assert {f.source for f in made} == {two_people_take}
    again = footage_to_2d([f.path for f in made], tmp_path / "unused")
    assert {f.source for f in again} == {Path(two_people_take.name)}
    keys = dict(np.load(made[0].path))  # a file of the user's own: named as it is
    del keys["footage_name"]
    np.savez(tmp_path / "mine.npz", **keys)
    assert footage_to_2d([tmp_path / "mine.npz"], tmp_path / "unused")[0].source == tmp_path / "mine.npz"

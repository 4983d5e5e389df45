"""Options that would be silently ignored, or checked only after a port is bound, are refused up
front: one line naming the option, exit 2, nothing opened."""

from __future__ import annotations

from pathlib import Path

import pytest
import zmq
from posecast.realtime.cli import main


def _refused(capsys: pytest.CaptureFixture, argv: list[str]) -> str:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own refusals exit from the parser
        code = exc.code
    captured = capsys.readouterr()
    assert code == 2, captured
    err = captured.err.strip()
    assert err.startswith("posecast") and "error:" in err and "\n" not in err, err
    assert "Traceback" not in captured.err
    return err + captured.out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--hfov", "200"], "--hfov (LiftingOptions.hfov_deg) must be between 10 and 170 degrees, got 200.0"),
        (["--subject-height", "5"],
         "--subject-height (LiftingOptions.height_m) must be in metres from 0.5 to 2.8, got 5.0"),
    ],
)
def test_a_bad_lifting_option_is_refused_before_the_publisher_binds(
    media_dir: Path, capsys: pytest.CaptureFixture, argv: list[str], message: str
) -> None:
    """Before, the publisher bound its port and said so, then the run failed on the option."""
    context = zmq.Context.instance()
    probe = context.socket(zmq.PUB)
    port = probe.bind_to_random_port("tcp://127.0.0.1")
    probe.close(linger=0)
    argv = ["run", "--source", str(media_dir / "dance_576.mp4"), "--headless",
            "--publish", f"tcp://127.0.0.1:{port}", *argv]  # fmt: skip
    output = _refused(capsys, argv)
    assert message in output
    assert "publishing poses" not in output
    # and the port is free again (it was never bound)
    again = context.socket(zmq.PUB)
    try:
        again.bind(f"tcp://127.0.0.1:{port}")
    finally:
        again.close(linger=0)


def test_landmarker_and_model_asset_together_are_refused(
    media_dir: Path, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    """``--model-asset`` wins over ``--landmarker``: given both, one would be ignored."""
    asset = tmp_path / "pose.task"
    asset.write_bytes(b"not read")
    for command in (["run", "--source", str(media_dir / "dance_576.mp4"), "--headless", "--publish", "none"],
                    ["bench", "--frames", "5"]):  # fmt: skip
        output = _refused(capsys, [*command, "--landmarker", "lite", "--model-asset", str(asset)])
        assert "--model-asset" in output and "--landmarker" in output and "not allowed with" in output


def test_frame_without_a_publisher_is_refused(media_dir: Path, capsys: pytest.CaptureFixture) -> None:
    argv = ["run", "--source", str(media_dir / "dance_576.mp4"), "--headless", "--publish", "none", "--frame", "unity"]
    output = _refused(capsys, argv)
    assert "--frame unity" in output and "--publish none" in output


def test_statistics_over_a_calibration_file_are_refused(media_dir: Path, capsys: pytest.CaptureFixture,
                                                        tmp_path: Path) -> None:  # fmt: skip
    """QA: ``--stats-json camera.json`` replaced the camera file with the run's statistics, exit 0."""
    camera = tmp_path / "camera.json"
    camera.write_text('{"format": "posecast-camera", "version": 1, "width": 576}\n')
    argv = ["run", "--source", str(media_dir / "dance_576.mp4"), "--headless", "--publish", "none", "--stats-json",
            str(camera)]  # fmt: skip
    assert f"--stats-json {camera} is a posecast-camera file: writing it would replace it" in _refused(capsys, argv)
    assert camera.read_text().startswith('{"format": "posecast-camera"')


def test_soak_pace_without_a_soak_is_refused(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    output = _refused(capsys, ["bench", "--soak-pace", "10", "--output", str(tmp_path / "b")])
    assert "--soak-pace" in output and "--soak MINUTES" in output
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("extra", [["--precision", "fp32"], ["--max-batch", "4"], ["--workspace-mib", "256"]])
def test_tensorrt_build_options_with_onnxruntime_are_refused(capsys: pytest.CaptureFixture, extra: list[str]) -> None:
    output = _refused(capsys, ["engines", "build", "--backend", "onnxruntime", "--int8", *extra])
    assert f"{extra[0]} is for --backend tensorrt" in output


def test_options_that_do_nothing_with_the_others_are_said(caplog: pytest.LogCaptureFixture) -> None:
    """QA: ``--people-search`` with one person, ``--no-live-subject`` with ``--subject`` and
    ``--mirror`` and ``--floor`` with no avatar output were taken without a word."""
    import argparse
    import logging

    from posecast.realtime.commands.arguments import warn_unused_options

    given = argparse.Namespace(max_people=1, people_search=2.0, no_live_subject=True, subject="me.yaml", mirror=True,
                               publish="none", vmc=None, record=None, floor="floor.yaml")  # fmt: skip
    with caplog.at_level(logging.WARNING):
        warn_unused_options(given, "clip.mp4")
    said = [r.getMessage() for r in caplog.records]
    assert [line.split(":")[0] for line in said] == ["--people-search", "--no-live-subject", "--mirror", "--floor"]
    caplog.clear()
    used = argparse.Namespace(max_people=2, people_search=2.0, no_live_subject=True, subject=None, mirror=True,
                              publish="tcp://127.0.0.1:5555", vmc=None, record=None, floor="floor.yaml")  # fmt: skip
    with caplog.at_level(logging.WARNING):
        warn_unused_options(used, "clip.mp4")
    assert not caplog.records

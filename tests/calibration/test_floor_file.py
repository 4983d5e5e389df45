"""Floor files and ``posecast calibrate floor``: from numbers, measured on a real clip (real
MediaPipe and the shipped lifter), read back by ``posecast run --floor``; one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from posecast.calibration import floor as fl
from posecast.calibration.errors import CalibrationError
from posecast.calibration.floor_file import load_floor, save_floor
from posecast.realtime.cli import main
from posecast.realtime.commands.avatar_arguments import parse_floor_camera


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_round_trip(tmp_path: Path, suffix: str) -> None:
    floor = fl.floor_from_camera_pose(1.35, 12.5, -2.0)
    path = save_floor(floor, tmp_path / f"floor{suffix}", "test")
    back = load_floor(path)
    assert np.allclose(back.up_cam, floor.up_cam, atol=1e-4) and back.level_m == pytest.approx(floor.level_m)
    assert "calibrated" in back.source


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"format": "posecast-floor", "tilt_deg": 3}, "lacks camera_height_m"),
        ({"format": "posecast-floor", "camera_height_m": -1, "tilt_deg": 3}, "camera height"),
        ({"format": "posecast-floor", "camera_height_m": 1.2, "tilt_deg": ".nan"}, "tilt_deg"),
        ({"format": "posecast-subject", "camera_height_m": 1.2, "tilt_deg": 3}, "expected 'posecast-floor'"),
    ],
)
def test_bad_files_are_one_line(tmp_path: Path, content: dict, message: str) -> None:
    path = tmp_path / "floor.yaml"
    path.write_text(yaml.safe_dump(content))
    with pytest.raises(CalibrationError, match=message):
        load_floor(path)


def test_floor_camera_option() -> None:
    floor = parse_floor_camera("1.2,10")
    assert floor.camera_height_m == pytest.approx(1.2) and floor.tilt_deg == pytest.approx(10.0)
    assert parse_floor_camera("1.2,10,-3").roll_deg == pytest.approx(-3.0)
    for bad in ("1.2", "a,b", "1,2,3,4"):
        with pytest.raises(CalibrationError, match="HEIGHT,TILT"):
            parse_floor_camera(bad)


def test_calibrate_floor_from_numbers(tmp_path: Path) -> None:
    out = tmp_path / "floor.yaml"
    assert main(["calibrate", "floor", "--camera-height", "1.1", "--tilt", "8", "-o", str(out)]) == 0
    assert load_floor(out).camera_height_m == pytest.approx(1.1)
    data = yaml.safe_load(out.read_text())
    assert data["format"] == "posecast-floor" and data["tilt_deg"] == pytest.approx(8.0)


def test_run_options_are_checked(tmp_path: Path, media_dir: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["run", "--source", str(media_dir / "dance_576.mp4"), "--headless", "--publish", "none",
                 "--floor-camera", "1.2"])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "HEIGHT,TILT" in err[0]
    code = main(["run", "--source", str(media_dir / "dance_576.mp4"), "--headless", "--publish", "none",
                 "--vmc", "127.0.0.1:0"])  # fmt: skip
    assert code == 2 and "port in 1..65535" in capsys.readouterr().err


@pytest.mark.slow
def test_calibrate_floor_measured_on_a_real_clip(tmp_path: Path, media_dir: Path, pose_model_path: Path) -> None:
    """The dancer's feet over 2 s: a camera above the floor looking slightly down (the clip's
    camera is at about chest height), the same floor the live estimate finds."""
    out = tmp_path / "floor.yaml"
    code = main(["calibrate", "floor", "--source", str(media_dir / "dance_576.mp4"), "--seconds", "2",
                 "--model-asset", str(pose_model_path), "-o", str(out)])  # fmt: skip
    assert code == 0
    floor = load_floor(out)
    assert 1.0 < floor.camera_height_m < 2.5 and 0.0 < floor.tilt_deg < 30.0 and abs(floor.roll_deg) < 5.0

import pytest
import yaml
from calib_synthetic import TRUE_K
from posecast.calibration.io import load_intrinsics
from posecast.realtime.cli import main


def test_calibrate_camera_from_images_writes_yaml(image_dir, tmp_path):
    output = tmp_path / "camera.yaml"
    code = main(["calibrate", "camera", "--images", str(image_dir), "--board", "9x6", "--square", "0.03",
                 "--output", str(output)])  # fmt: skip
    assert code == 0
    data = yaml.safe_load(output.read_text())
    assert data["format"] == "posecast-camera" and data["assumed"] is False
    assert (data["width"], data["height"]) == (640, 480) and len(data["distortion"]) == 5
    assert data["rms_px"] < 0.5
    intrinsics = load_intrinsics(output)
    assert intrinsics.fx == pytest.approx(TRUE_K[0, 0], rel=0.01)
    assert intrinsics.cy == pytest.approx(TRUE_K[1, 2], rel=0.01)


def test_calibrate_camera_from_hfov(tmp_path):
    output = tmp_path / "camera.json"
    assert main(["calibrate", "camera", "--hfov", "60", "--size", "1280x720", "-o", str(output)]) == 0
    intrinsics = load_intrinsics(output)
    assert intrinsics.assumed and intrinsics.source == "hfov 60" and intrinsics.width == 1280


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--images", "{tmp}/none", "--board", "9x6", "--square", "0.03"],
            "image directory .* does not exist",
        ),
        (["--images", "{tmp}", "--square", "0.03"], "needs --board COLSxROWS and --square METRES"),
        (["--hfov", "60"], "--hfov needs the frame size: add --size WxH"),
        (["--hfov", "60", "--size", "1280x720", "-o", "{tmp}/no/camera.yaml"], "folder .* does not exist"),
    ],
)
def test_errors_are_one_line(tmp_path, capsys, args, message):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "-o" not in args:
        args += ["-o", str(tmp_path / "camera.yaml")]
    assert main(["calibrate", "camera", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("posecast: error: ") and "\n" not in err
    assert __import__("re").search(message, err)

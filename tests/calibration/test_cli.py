import re
import subprocess
import sys

import pytest
import yaml
from calib_synthetic import BARREL_K, TRUE_K
from posecast.calibration.floor_file import load_floor
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
    assert re.search(message, err)


@pytest.mark.parametrize("flags", [["--fix-k3"], []])
def test_face_on_photos_are_refused_whatever_the_flags(tmp_path, capsys, flags):
    """QA: 12 photos of a board parallel to the image, only moved and scaled, calibrated with
    --fix-k3 to fx 11164 at 1280x720 (a 6.6 degree field of view), exit 0 and no warning: the fit
    put the board 6-11 m away, where its tilts of up to 5.7 degrees passed the 3 degree minimum. These
    calibrated so with and without --fix-k3 (fx 10988, exit 0). The depth across the board, which
    no focal length changes, refuses them, with one message whatever the flags."""
    from calib_synthetic import face_on_photos

    folder = face_on_photos(tmp_path / "face_on", seed=5)
    output = tmp_path / "camera.yaml"
    code = main(["calibrate", "camera", "--images", str(folder), "--board", "9x6", "--square", "0.025",
                 "-o", str(output), *flags])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and not output.exists()
    assert re.fullmatch(r"posecast: error: the board faces the camera squarely in every view \(the depth across it "
                        r"is 0\.\d % of its distance at most, 2 views need 4 % or more\): a board parallel to the "
                        r"image shows no focal length \(the fit's fx \d+ is a guess\); photograph the board tilted "
                        r"30-45 degrees in several directions, and calibrate again", err[-1])  # fmt: skip


def test_tilted_photos_are_calibrated_with_fix_k3_too(image_dir, tmp_path):
    output = tmp_path / "camera.yaml"
    assert main(["calibrate", "camera", "--images", str(image_dir), "--board", "9x6", "--square", "0.03",
                 "-o", str(output), "--fix-k3"]) == 0  # fmt: skip
    intrinsics = load_intrinsics(output)
    assert intrinsics.fx == pytest.approx(TRUE_K[0, 0], rel=0.01) and intrinsics.source.endswith("k3 fixed at 0")


def _posecast(*argv: str, cwd=None) -> subprocess.CompletedProcess:
    """The real command in its own process, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "posecast.realtime.cli", *argv], capture_output=True, text=True,
                          timeout=300, cwd=cwd)  # fmt: skip


def test_a_barrel_lens_is_calibrated_with_k3_fixed_when_the_free_k3_folds(barrel_image_dir, tmp_path):
    """The free k3 folds the model at the corners: the command fits again with k3 fixed, says so,
    and writes a camera file that loads (it used to refuse its own result and advise a rerun)."""
    output = tmp_path / "camera.yaml"
    run = _posecast("calibrate", "camera", "--images", str(barrel_image_dir), "--board", "9x6", "--square", "0.03",
                    "-o", str(output))  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "calibrating again with k3 fixed at 0, as --fix-k3 does" in run.stderr and "Traceback" not in run.stderr
    data = yaml.safe_load(output.read_text())
    assert data["distortion"][4] == 0.0 and data["source"].endswith("k3 fixed at 0")
    intrinsics = load_intrinsics(output)
    assert intrinsics.fx == pytest.approx(BARREL_K[0, 0], rel=0.01) and intrinsics.distortion[0] < -0.25


def test_a_lens_folding_even_with_k3_fixed_is_refused_in_one_line(folding_image_dir, tmp_path, capsys):
    output = tmp_path / "camera.yaml"
    for fix_k3 in ([], ["--fix-k3"]):
        code = main(["calibrate", "camera", "--images", str(folding_image_dir), "--board", "9x6", "--square", "0.03",
                     *fix_k3, "-o", str(output)])  # fmt: skip
        assert code == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("posecast: error: the calibrated distortion") and "\n" not in err
        assert "even with k3 fixed at 0 (--fix-k3)" in err and "add photos with the board close to each corner" in err
        assert not list(tmp_path.iterdir())  # nothing written, not even a temporary file


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["camera", "--images", "{images}", "--board", "9x6", "--square", "inf"],
         "argument --square: expected a finite number of metres, got 'inf' (e.g. 0.025)"),
        (["camera", "--images", "{images}", "--board", "9x6", "--square", "nan"],
         "argument --square: expected a finite number of metres, got 'nan'"),
        (["camera", "--images", "{images}", "--board", "9x6", "--square", "0"],
         "argument --square: expected a number of metres above 0, got '0'"),
        (["camera", "--images", "{images}", "--board", "9x6", "--square=-0.03"],
         "argument --square: expected a number of metres above 0, got '-0.03'"),
        (["camera", "--images", "{images}", "--board", "7x5", "--square", "0.04", "--charuco", "--marker", "inf"],
         "argument --marker: expected a finite number of metres, got 'inf'"),
        (["camera", "--hfov", "nan", "--size", "640x480"], "argument --hfov: expected a finite number of degrees"),
        (["camera", "--hfov", "0", "--size", "640x480"], "argument --hfov: expected a number of degrees above 0"),
        (["floor", "--camera-height", "inf"], "argument --camera-height: expected a finite number of metres"),
        (["floor", "--camera-height", "0"], "argument --camera-height: expected a number of metres above 0"),
        (["floor", "--camera-height", "1.2", "--tilt", "nan"], "argument --tilt: expected a finite number of degrees"),
        (["floor", "--camera-height", "1.2", "--roll=-inf"], "argument --roll: expected a finite number"),
        (["floor", "--source", "x.mp4", "--height=-1.7"],
         "argument --subject-height/--height: expected a number of metres above 0"),
        (["camera", "--images", "{images}", "--board", "9x6", "--square", "0.025", "--min-views", "0"],
         "argument --min-views: expected a whole number of views, 3 or more, got '0'"),  # it said min_views
    ],
)  # fmt: skip
def test_numbers_that_are_not_finite_or_not_positive_are_refused_by_the_parser(argv, message, image_dir, tmp_path,
                                                                               capsys):  # fmt: skip
    output = tmp_path / ("camera.yaml" if argv[0] == "camera" else "floor.yaml")
    argv = [a.replace("{images}", str(image_dir)) for a in argv]
    with pytest.raises(SystemExit) as stop:  # argparse: before any image is read or file opened
        main(["calibrate", *argv, "-o", str(output)])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err and f"(see `posecast calibrate {argv[0]} --help`)" in err
    assert not output.exists()


def test_square_inf_in_a_real_process_is_one_line(image_dir, tmp_path):
    """It used to reach an OpenCV assertion (a traceback) after reading every image."""
    run = _posecast("calibrate", "camera", "--images", str(image_dir), "--board", "9x6", "--square", "inf",
                    "-o", str(tmp_path / "camera.yaml"))  # fmt: skip
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.count("\n") == 1 and "argument --square: expected a finite number of metres" in run.stderr
    assert not list(tmp_path.iterdir())


def test_calibrate_floor_never_replaces_one_another_run_wrote_while_it_measured(tmp_path, capsys, monkeypatch):
    """Concurrency QA: a second run wrote ./floor.yaml while the first measured from the feet (20 s);
    the first then replaced it, saying only "replacing" at INFO level."""
    from posecast.realtime.commands import floor as floor_command

    checked = floor_command.default_output

    def another_run_writes_meanwhile(output):  # noqa: ANN001, ANN202
        chosen = checked(output)
        if output is None:  # this run, not the other
            assert main(["calibrate", "floor", "--camera-height", "1.5", "-o", "floor.yaml"]) == 0  # the other run
        return chosen

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(floor_command, "default_output", another_run_writes_meanwhile)
    assert main(["calibrate", "floor", "--camera-height", "1.2", "--tilt", "10"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == ("posecast: error: floor.yaml appeared while this ran (another run?): it is kept; write this floor "
                   "elsewhere with `posecast calibrate floor --camera-height 1.2000 --tilt 10.000 --roll 0.000 -o "
                   "OTHER.yaml`")  # fmt: skip
    assert [p.name for p in tmp_path.iterdir()] == ["floor.yaml"]
    assert load_floor(tmp_path / "floor.yaml").camera_height_m == pytest.approx(1.5)


def test_calibrate_floor_never_replaces_a_floor_file_it_was_not_told_to(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["calibrate", "floor", "--camera-height", "1.2", "--tilt", "10"]) == 0  # the default: ./floor.yaml
    first = (tmp_path / "floor.yaml").read_bytes()
    assert load_floor(tmp_path / "floor.yaml").camera_height_m == pytest.approx(1.2)
    capsys.readouterr()
    assert main(["calibrate", "floor", "--camera-height", "1.5"]) == 2  # would silently replace it
    err = capsys.readouterr().err.strip()
    assert err.startswith("posecast: error: floor.yaml already exists in ") and "\n" not in err
    assert "pass -o floor.yaml to replace it" in err
    assert (tmp_path / "floor.yaml").read_bytes() == first and [p.name for p in tmp_path.iterdir()] == ["floor.yaml"]
    assert main(["calibrate", "floor", "--camera-height", "1.5", "-o", "floor.yaml"]) == 0  # named: replaced
    assert load_floor(tmp_path / "floor.yaml").camera_height_m == pytest.approx(1.5)
    run = _posecast("calibrate", "floor", "--camera-height", "1.7", cwd=tmp_path)  # the same in a real process
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "already exists" in run.stderr
    assert load_floor(tmp_path / "floor.yaml").camera_height_m == pytest.approx(1.5)


def test_a_camera_file_that_does_not_fit_the_video_is_named(media_dir, tmp_path, capsys):
    """QA: "camera calibrated at 1280x720 cannot be rescaled to 576x576" did not say which file."""
    camera = tmp_path / "office_cam.yaml"
    assert main(["calibrate", "camera", "--hfov", "70", "--size", "1280x720", "-o", str(camera)]) == 0
    capsys.readouterr()
    assert main(["run", "--source", str(media_dir / "dance_576.mp4"), "--frames", "1", "--publish", "none",
                 "--intrinsics", str(camera)]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"error: {camera}: camera calibrated at 1280x720 cannot be rescaled to 576x576" in err

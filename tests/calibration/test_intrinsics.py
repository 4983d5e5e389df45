import math
from dataclasses import replace

import cv2
import numpy as np
import pytest
from posecast.calibration.errors import CalibrationError
from posecast.calibration.intrinsics import CameraIntrinsics
from posecast.engines.errors import PosecastError
from posecast.engines.normalize import normalize_pixels

DIST = (-0.28, 0.11, 0.0012, -0.0009, -0.02)


def make(**kw) -> CameraIntrinsics:
    values = dict(width=640, height=480, fx=600.0, fy=590.0, cx=322.0, cy=238.0, distortion=DIST, rms_px=0.2)
    values.update(kw)
    return CameraIntrinsics(**values)


def test_from_hfov_is_marked_assumed():
    k = CameraIntrinsics.from_hfov(60.0, 640, 480)
    assert k.fx == pytest.approx(320.0 / math.tan(math.radians(30.0)))
    assert k.fy == k.fx and (k.cx, k.cy) == (320.0, 240.0)
    assert k.assumed and k.source == "hfov 60" and k.distortion == () and k.rms_px is None
    assert k.hfov_deg == pytest.approx(60.0)
    assert k.date.endswith("Z")


def test_as_array_feeds_normalize_pixels():
    k = make()
    assert k.as_array().dtype == np.float64 and k.as_array().shape == (4,)
    norm = normalize_pixels(np.array([[[922.0, 828.0]]]), k.as_array())
    np.testing.assert_allclose(norm, [[[1.0, 1.0]]])


def test_rescaled_scales_each_axis_and_keeps_distortion():
    k = make()
    big = k.rescaled(1280, 960)
    assert (big.width, big.height) == (1280, 960)
    assert big.fx == pytest.approx(1200.0) and big.fy == pytest.approx(1180.0)
    # pixel-centre convention: the same physical point maps to (x + 0.5) * s - 0.5
    assert big.cx == pytest.approx(644.5) and big.cy == pytest.approx(476.5)
    assert big.distortion == k.distortion
    back = big.rescaled(640, 480)
    assert back.fx == pytest.approx(k.fx) and back.cx == pytest.approx(k.cx) and back.cy == pytest.approx(k.cy)
    assert k.rescaled(640, 480) is k
    # said once, in the run's own brackets (QA: "((rescaled from 1152x1152))" for a file without a source)
    assert replace(k, source="").rescaled(1280, 960).source == "rescaled from 640x480"
    assert replace(k, source="board").rescaled(1280, 960).source == "board, rescaled from 640x480"


def test_an_assumed_camera_rescaled_is_the_one_assumed_at_that_size():
    """QA: an --hfov file made at 1152x1152 and used on 576x576 frames put the principal point at
    287.75 (the pixel-centre mapping of 576.0), where the 576 file (and no file) put it at 288.0:
    joints 1.8 cm apart. An assumed camera's centre is the image's at any size."""
    for (w, h), (w2, h2) in (((1152, 1152), (576, 576)), ((360, 640), (720, 1280))):
        rescaled = CameraIntrinsics.from_hfov(60.0, w, h).rescaled(w2, h2)
        direct = CameraIntrinsics.from_hfov(60.0, w2, h2)
        assert (rescaled.fx, rescaled.fy, rescaled.cx, rescaled.cy) == pytest.approx(
            (direct.fx, direct.fy, direct.cx, direct.cy))  # fmt: skip
    # a measured principal point (or an assumed camera whose centre was moved by hand) maps as pixels do
    moved = replace(CameraIntrinsics.from_hfov(60.0, 640, 480), cx=330.0).rescaled(1280, 960)
    assert moved.cx == pytest.approx(660.5) and moved.cy == pytest.approx(480.5)


def test_rescaled_refuses_another_aspect_ratio():
    with pytest.raises(CalibrationError, match=r"640x480 cannot be rescaled to 1280x720: the aspect ratio"):
        make().rescaled(1280, 720)


def test_undistort_round_trip_within_a_tenth_of_a_pixel():
    k = make()
    rng = np.random.default_rng(1)
    points = np.column_stack([rng.uniform(-0.5, 0.5, 200), rng.uniform(-0.38, 0.38, 200), np.ones(200)])
    distorted, _ = cv2.projectPoints(points, np.zeros(3), np.zeros(3), k.camera_matrix(), k.dist_coeffs())
    distorted = distorted.reshape(10, 20, 2)
    ideal = points[:, :2].reshape(10, 20, 2) * [k.fx, k.fy] + [k.cx, k.cy]
    assert np.abs(distorted - ideal).max() > 5.0  # the distortion is not negligible
    undistorted = k.undistort_pixels(distorted)
    assert undistorted.shape == (10, 20, 2)
    assert np.abs(undistorted - ideal).max() < 0.1


def test_undistort_is_identity_without_distortion_and_keeps_nan():
    points = np.array([[[10.0, 20.0], [np.nan, np.nan], [600.0, 400.0]]])
    np.testing.assert_array_equal(make(distortion=()).undistort_pixels(points), points)
    out = make().undistort_pixels(points)
    assert np.isnan(out[0, 1]).all() and np.isfinite(out[0, [0, 2]]).all()


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"fx": 0.0}, r"fx is 0 px, expected 2.793..3.667e\+04 px for a 640 px horizontal image side"),
        ({"width": 0}, r"image width is 0, expected a whole number of pixels in 1..32768"),
        ({"distortion": (0.1, 0.2, 0.3)}, "distortion must have 0, 4, 5"),
        # issue 15: what used to be accepted and made every frame `lost` (or a traceback)
        ({"width": math.inf}, r"image width is inf, expected a whole number of pixels in 1..32768"),
        ({"height": 480.5}, r"image height is 480.5, expected a whole number"),
        ({"width": True}, r"image width is True, expected a whole number"),
        ({"fx": 1e-300}, r"fx is 1e-300 px, expected 2.793..3.667e\+04 px .* field of view of 1..179 degrees"),
        ({"fx": math.inf}, r"fx is inf, expected a finite number"),
        ({"fy": math.nan}, r"fy is nan, expected a finite number"),
        ({"fy": 5000.0, "fx": 600.0}, r"fy/fx is 8.333 .*expected 0.25..4"),
        ({"cx": math.nan}, r"cx is nan, expected a finite number"),
        ({"cy": 1e9}, r"principal point cy is 1e\+09 px, expected -240..720 px"),
        ({"distortion": (math.nan, 0.0, 0.0, 0.0)}, r"distortion\[0\] is nan, expected a finite number"),
        ({"distortion": (0.0, 0.0, 0.0, 0.0, 1e9)}, r"distortion\[4\] is 1e\+09, expected -1000..1000"),
        ({"distortion": (900.0, 0.0, 0.0, 0.0)}, r"moves image points by up to .*x .*expected at most 3x"),
        ({"distortion": (-1.0, 0.0, 0.0, 0.0)}, r"cannot be inverted over the 640x480 image"),
        ({"distortion": (-5.0, 0.0, 0.0, 0.0)}, r"distortion \[-5.0, 0.0, 0.0, 0.0\]"),
        ({"rms_px": -1.0}, r"rms_px is -1, expected 0..1000 px"),
    ],
)
def test_invalid_values_are_refused(kw, message):
    with pytest.raises(PosecastError, match=message):
        make(**kw)


@pytest.mark.parametrize(
    "distortion",
    [(-0.236, 0.054, 0.0007, -0.0009, 0.051), (-0.45, 0.2, 0.0, 0.0, -0.05), (0.1, -0.2, 0.0, 0.0, 0.1),
     (2.5, -10.0, 0.0, 0.0, 30.0, 2.6, -9.0, 29.0)],
)  # fmt: skip
def test_real_lens_distortions_are_accepted(distortion):
    """Webcam, wide-angle and rational-model calibrations stay accepted by the invertibility check."""
    assert make(distortion=distortion).distortion == distortion
    assert make(distortion=distortion).rescaled(1280, 960).distortion == distortion


def test_hfov_out_of_range_is_refused():
    """One range for run's --hfov and calibrate camera's (175 was written by one, refused by the other)."""
    for hfov in (0.5, 175.0):
        with pytest.raises(CalibrationError, match=rf"--hfov \(hfov_deg\) must be between 10 and 170 degrees, "
                                                   rf"got {hfov}"):
            CameraIntrinsics.from_hfov(hfov, 640, 480)
    assert CameraIntrinsics.from_hfov(170.0, 640, 480).fx > 0


@pytest.mark.parametrize(("width", "height", "vertical"), [(4000, 16, "0.2646"), (16, 4000, "179.2")])
def test_a_frame_no_camera_has_names_its_shape_and_the_fix(width: int, height: int, vertical: str) -> None:
    """A valid 4000×16 video assumed at 60° said "fy is 3464.1 px, expected 0.06981..916.7 px",
    naming neither the video's shape nor a way out (error-contract QA)."""
    with pytest.raises(CalibrationError) as refused:
        CameraIntrinsics.from_hfov(60.0, width, height)
    message = str(refused.value)
    assert message.startswith(f"a {width}x{height} px image seen with a horizontal field of view of 60 degrees "
                              f"would see {vertical} degrees vertically, outside 1..179")  # fmt: skip
    assert "crop or scale the frames" in message and "posecast calibrate camera" in message

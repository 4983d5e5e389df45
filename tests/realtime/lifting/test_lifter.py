"""The lifting stage with the shipped model: a subject anywhere in the view, in the camera's axes."""

from __future__ import annotations

import numpy as np
import pytest
from posecast.engines import metrics, normalize, skeleton
from posecast.engines.training.data.cameras import sample_cameras
from posecast.realtime.lifting.lifter import Lifter3D, LifterOptions
from posecast.realtime.lifting.window import PoseWindow, PoseWindowOptions


def _yaw(degrees: float) -> np.ndarray:
    """Camera-frame points as seen by the camera turned about its vertical axis by ``degrees``
    (positive: the subject moves towards the left of the image)."""
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    return np.array([[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]])


def _lift(lifter: Lifter3D, keypoints_norm: np.ndarray) -> np.ndarray:
    window = PoseWindow(PoseWindowOptions(window_frames=lifter.window_frames, max_gap_s=None))
    return np.array([
        lifter.process(window.process(kp, int(f * 1e9 / 30)).window[None]).joints_rel[0]
        for f, kp in enumerate(keypoints_norm)
    ])  # fmt: skip


def test_subject_at_the_edge_of_the_view_is_lifted_like_one_in_the_middle(walk_joints: np.ndarray) -> None:
    """A walking person filmed by three webcams, each first turned so the person walks through
    the middle of the view, then 35° further (the edge of a wide webcam's image): the error stays
    the same. The released code's centring (a shift of the 2D, the 3D left in the shifted view)
    does worse there: fed 2D already shifted to the pelvis, the model does exactly that."""
    world = walk_joints.astype(np.float64)[None]
    lifter = Lifter3D()
    errors: dict[str, float] = {"middle": 0.0, "edge": 0.0, "edge, shifted": 0.0}
    for seed in (11, 12, 13):
        camera = sample_cameras(world[:, :, skeleton.ROOT].mean(1), np.random.default_rng(seed))
        joints_cam = camera.to_camera(world)[0]
        centre_yaw = np.degrees(np.arctan(normalize.project(joints_cam)[:, skeleton.ROOT, 0])).mean()
        for name, off_axis_deg in [("middle", 0.0), ("edge", 35.0)]:
            view = np.einsum("ij,fnj->fni", _yaw(centre_yaw + off_axis_deg), joints_cam)
            keypoints_norm = normalize.project(view)
            seen_at = np.degrees(np.arctan(-keypoints_norm[:, skeleton.ROOT, 0])).mean()
            assert abs(seen_at - off_axis_deg) < 2.0, seen_at
            lifted, gt = _lift(lifter, keypoints_norm), skeleton.root_relative(view)
            errors[name] += metrics.n_mpjpe(lifted, gt).mean() / 3
            if name == "edge":
                shifted = _lift(lifter, keypoints_norm - keypoints_norm[:, skeleton.ROOT : skeleton.ROOT + 1])
                errors["edge, shifted"] += metrics.n_mpjpe(shifted, gt).mean() / 3
    lifter.close()
    assert errors["edge"] < 1.1 * errors["middle"], errors
    assert errors["edge"] < 0.8 * errors["edge, shifted"], errors


@pytest.mark.parametrize(("int8", "tolerance"), [(False, 1e-5), (True, 0.0)])
def test_a_batch_of_people_is_lifted_like_each_alone(walk_joints: np.ndarray, int8: bool, tolerance: float) -> None:
    """Several people of a frame give each person's own result. The float model lifts them in
    one network call: the same numbers (3e-7). The INT8 model quantizes its activations over the
    whole batch, so each person is lifted in a call of their own: exactly as alone (in one call a
    person's 3D moved with the others: 0.41 % of the height on this walk, 1.5 % on QA's dancers).
    Tolerance: a fraction of the height."""
    lifter = Lifter3D(LifterOptions(int8=int8))
    t = lifter.window_frames
    cameras = sample_cameras(walk_joints[:, skeleton.ROOT].mean(0)[None], np.random.default_rng(3))
    keypoints_norm = normalize.project(cameras.to_camera(walk_joints[None].astype(np.float64)))[0]
    windows = np.stack([keypoints_norm[i : i + t] for i in (0, 30, 60, 90)]).astype(np.float32)  # (4, T, 17, 2)
    together = lifter.process(windows)
    alone = [lifter.process(np.ascontiguousarray(w[None])) for w in windows]
    lifter.close()
    assert together.joints_rel.shape == (4, 17, 3) and together.scale.shape == (4,)
    for k, single in enumerate(alone):
        height = skeleton.height_from_bone_lengths(skeleton.bone_lengths(single.joints_rel[0]))
        assert np.abs(together.joints_rel[k] - single.joints_rel[0]).max() <= tolerance * height
        assert together.scale[k] == pytest.approx(single.scale[0], rel=tolerance)
    assert np.abs(together.joints_rel[0] - together.joints_rel[2]).max() > 0.05 * height  # different poses


def test_flip_averaging_treats_a_person_and_their_mirror_image_alike(walk_joints: np.ndarray) -> None:
    """With flip averaging a window and its mirror image are lifted to mirror-image poses (the
    same network rows, each averaged with the other), which the network alone does not do; the
    result is the network's two answers averaged, the scale too. (The float model: INT8 quantizes
    activations over the whole batch, so its rows also move with the batch's size.)"""
    assert LifterOptions().flip_average  # on by default
    flip, raw = Lifter3D(LifterOptions(int8=False)), Lifter3D(LifterOptions(int8=False, flip_average=False))
    t = flip.window_frames
    cameras = sample_cameras(walk_joints[:, skeleton.ROOT].mean(0)[None], np.random.default_rng(5))
    keypoints_norm = normalize.project(cameras.to_camera(walk_joints[None].astype(np.float64)))[0]
    windows = np.stack([keypoints_norm[i : i + t] for i in (0, 40)]).astype(np.float32)
    mirrored = np.ascontiguousarray(skeleton.mirror_image(windows))
    averaged, averaged_mirror = flip.process(windows), flip.process(mirrored)
    once, once_mirror = raw.process(windows), raw.process(mirrored)
    flip.close()
    raw.close()
    np.testing.assert_allclose(averaged_mirror.joints_rel, skeleton.mirror_image(averaged.joints_rel), atol=1e-6)
    np.testing.assert_allclose(averaged_mirror.scale, averaged.scale, rtol=1e-6)
    asymmetry = np.abs(once_mirror.joints_rel - skeleton.mirror_image(once.joints_rel)).max()
    assert asymmetry > 1e-3  # the network alone answers a mirror image differently
    expected = (once.joints_rel + skeleton.mirror_image(once_mirror.joints_rel)) / 2
    np.testing.assert_allclose(averaged.joints_rel, expected, atol=1e-6)
    np.testing.assert_allclose(averaged.scale, (once.scale + once_mirror.scale) / 2, rtol=1e-6)


def test_a_batch_over_the_backends_limit_is_lifted_in_several_calls(walk_joints: np.ndarray) -> None:
    """A backend with a fixed max batch (TensorRT's plan) gets calls of at most that many rows;
    the result is the same as in one call (the float model: rows do not depend on the batch)."""
    lifter = Lifter3D(LifterOptions(int8=False))
    t = lifter.window_frames
    cameras = sample_cameras(walk_joints[:, skeleton.ROOT].mean(0)[None], np.random.default_rng(7))
    keypoints_norm = normalize.project(cameras.to_camera(walk_joints[None].astype(np.float64)))[0]
    windows = np.stack([keypoints_norm[i : i + t] for i in (0, 20, 40)]).astype(np.float32)  # 6 rows flip-averaged
    whole = lifter.process(windows)
    calls: list[int] = []
    run = lifter.backend.run
    lifter.backend.max_batch = 4  # as a TensorRT plan built for 4

    def counted(rows: np.ndarray):  # noqa: ANN202 - the backend's LiftOutput
        calls.append(len(rows))
        return run(rows)

    lifter.backend.run = counted
    parts = lifter.process(windows)
    lifter.close()
    assert calls == [4, 2]
    np.testing.assert_allclose(parts.joints_rel, whole.joints_rel, atol=1e-6)
    np.testing.assert_allclose(parts.scale, whole.scale, rtol=1e-6)


def test_mirror_image_twice_is_the_input() -> None:
    points = np.random.default_rng(0).normal(size=(3, 17, 2)).astype(np.float32)
    once = skeleton.mirror_image(points)
    assert once.dtype == np.float32
    assert once[0, skeleton.JOINT_INDEX["l_knee"], 0] == -points[0, skeleton.JOINT_INDEX["r_knee"], 0]
    np.testing.assert_array_equal(skeleton.mirror_image(once), points)


@pytest.mark.parametrize(("file_hfov", "option_hfov"), [(70.0, 60.0), (45.0, 90.0)])
def test_the_meta_names_the_field_of_view_the_intrinsics_assume(tmp_path, file_hfov: float, option_hfov: float) -> None:  # noqa: ANN001
    """A camera file made from a field of view: the meta says that one, not --hfov's (before: 60,
    the option's default, beside the file's fx)."""
    from posecast.calibration import CameraIntrinsics
    from posecast.calibration.io import save_intrinsics
    from posecast.realtime.lifting import LiftingOptions, MetricPoseLifting

    camera = save_intrinsics(CameraIntrinsics.from_hfov(file_hfov, 576, 576), tmp_path / "camera.yaml")
    with MetricPoseLifting(LiftingOptions(intrinsics_path=camera, hfov_deg=option_hfov)) as lifting:
        lifting._set_image_size(576, 576)
        assumptions = lifting.assumptions()
    assert assumptions["intrinsics_assumed"] and assumptions["hfov_deg"] == pytest.approx(file_hfov)
    assert assumptions["fx"] == pytest.approx(288 / np.tan(np.radians(file_hfov / 2)))


def test_the_meta_names_the_model_by_its_file_even_once_the_file_is_gone(tmp_path) -> None:  # noqa: ANN001
    """A user's model is named by its file's name (the meta goes to every subscriber: no folder),
    worked out once when it loads: a file moved while the run goes on stopped it at the next meta."""
    import shutil

    from posecast.engines.runtime.base import DEFAULT_MODEL, DEFAULT_MODEL_NAME
    from posecast.realtime.lifting import LiftingOptions, MetricPoseLifting

    model = tmp_path / "mine.onnx"
    shutil.copy(DEFAULT_MODEL, model)
    with MetricPoseLifting(LiftingOptions(lifter=LifterOptions(model_path=model, int8=False))) as lifting:
        model.unlink()
        assumptions = lifting.assumptions()
    assert (assumptions["model"], assumptions["int8"]) == ("mine.onnx", False)
    with MetricPoseLifting(LiftingOptions()) as lifting:
        assert (lifting.assumptions()["model"], lifting.assumptions()["int8"]) == (DEFAULT_MODEL_NAME, True)


def test_the_intrinsics_line_is_logged_once_per_process(caplog) -> None:  # noqa: ANN001
    """`posecast bench` builds a lifting stage per configuration on the same frames: the
    intrinsics line came once per stage (8 times for 2 models × 4 backends). The same line now
    comes once at INFO, then at DEBUG; another image size is another line."""
    import logging

    from posecast.realtime.lifting import LiftingOptions, MetricPoseLifting

    width, height = 613, 407  # a size no other test logs in this process
    with caplog.at_level(logging.DEBUG, logger="posecast.realtime.lifting.metric"):
        for size in ((width, height), (width, height), (height, width)):
            with MetricPoseLifting(LiftingOptions()) as lifting:
                lifting._set_image_size(*size)
    messages = [(r.levelno, r.getMessage()) for r in caplog.records]
    lines = [(level, text.split()[1]) for level, text in messages if text.startswith("intrinsics: ")]
    assert lines == [(logging.INFO, "613x407"), (logging.DEBUG, "613x407"), (logging.INFO, "407x613")]

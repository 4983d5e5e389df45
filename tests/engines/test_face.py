"""The face points at the head (engines/face.py) and the head's twist from the ear line
(engines/rotations.py): a face turned from the chest turns the head bone, and moves no joint."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from posecast.engines import face, layouts, normalize, rotations, skeleton
from scipy.spatial.transform import Rotation

HEAD = skeleton.JOINT_INDEX["head"]
LENGTHS = skeleton.bone_lengths_from_height(1.7)


def _head_yaw_deg(pose: rotations.BonePose) -> np.ndarray:
    """The head bone's turn about the neck (its local rotation's yaw about y), degrees, per frame."""
    return Rotation.from_quat(pose.rotations[:, HEAD]).as_euler("YXZ", degrees=True)[:, 0]


def test_face_points_are_moved_to_the_head_as_the_detector_placed_them() -> None:
    rng = np.random.default_rng(0)
    points = rng.normal(0.0, 0.1, (4, 5, 3)) + np.array([0.2, -0.6, 0.1])
    head = rng.normal(0.0, 1.0, (4, 3))
    placed = face.face_at_head(points, head)
    mid_ears = 0.5 * (placed[:, face.LEFT_EAR] + placed[:, face.RIGHT_EAR])
    np.testing.assert_allclose(mid_ears, head, atol=1e-12)
    np.testing.assert_allclose(placed - placed[:, :1], points - points[:, :1], atol=1e-12)  # not turned or scaled
    np.testing.assert_allclose(face.ear_lines(placed), points[:, face.LEFT_EAR] - points[:, face.RIGHT_EAR], atol=1e-12)


def test_layouts_name_the_face_points() -> None:
    for layout in (layouts.MEDIAPIPE_33, layouts.COCO_17):
        assert tuple(layout.keypoint_names[i] for i in layout.face) == face.FACE_POINT_NAMES
    assert layouts.POSECAST_17.face is None  # no face among posecast's joints


@pytest.mark.parametrize(("scores", "seen"), [
    ([0.9, 0.9, 0.9, 0.9, 0.9], True),
    ([0.2, 0.1, 0.9, 0.1, 0.7], True),  # turned to profile: one ear seen, the nose and the other hidden
    ([0.6, 0.0, 0.0, 0.1, 0.1], True),  # facing the camera, ears in shadow
    ([0.4, 0.9, 0.9, 0.3, 0.49], False),  # nose and ears guessed (the eyes do not count)
    ([float("nan"), 0.1, 0.1, float("nan"), 0.2], False),
    ([float("nan")] * 5, False),
])  # fmt: skip
def test_the_face_is_seen_where_the_nose_or_an_ear_is(scores: list[float], seen: bool) -> None:
    inside = np.array([[320.0, 100.0], [330.0, 90.0], [310.0, 90.0], [345.0, 95.0], [295.0, 95.0]])
    assert face.face_seen(np.array(scores), inside, (640, 480), 20.0) is seen


def test_the_face_is_found_among_a_layout_s_keypoints() -> None:
    """MediaPipe's 33 keypoints: the ears at 7 and 8 (the face points' own order, 3 and 4, would
    read two eye corners)."""
    scores, pixels = np.zeros(33), np.full((33, 2), 200.0)
    scores[[7, 8]] = 0.9  # the ears seen, the nose not (turned to profile)
    index = layouts.MEDIAPIPE_33.face
    assert face.face_seen(scores, pixels, (640, 480), 20.0, index)
    assert not face.face_seen(scores, pixels, (640, 480), 20.0)  # read at 0, 3, 4: nothing seen
    pixels[7] = [5.0, 200.0]  # the left ear at the image's edge
    assert not face.face_seen(scores, pixels, (640, 480), 20.0, index)


def test_a_face_outside_the_image_or_not_a_head_s_size_is_not_seen() -> None:
    """QA: MediaPipe scored a head above the image's top edge 0.92-0.98, and the face it guessed
    turned the head 114 deg in one frame; a face cut at the edge had its ears 1.4-5 cm apart."""
    scores = np.full(5, 0.95)
    pixels = np.array([[320.0, 100.0], [330.0, 90.0], [310.0, 90.0], [345.0, 95.0], [295.0, 95.0]])
    assert face.face_seen(scores, pixels, (640, 480), 20.0)
    for point, where in ((face.NOSE, [320.0, -3.0]), (face.LEFT_EAR, [640.0, 95.0]), (face.RIGHT_EAR, [-0.5, 95.0]),
                         (face.LEFT_EAR, [330.0, 19.0]), (face.NOSE, [621.0, 200.0])):  # fmt: skip
        cut = pixels.copy()
        cut[point] = where
        assert not face.face_seen(scores, cut, (640, 480), 20.0), where
    assert face.face_seen(scores, pixels, (640, 480), 96.0) is False  # a head 96 px round, its ears 95 px down
    points = np.zeros((5, 3))
    for width, sized in ((0.05, False), (0.09, True), (0.16, True), (0.3, False)):
        points[face.LEFT_EAR, 0], points[face.RIGHT_EAR, 0] = width / 2, -width / 2
        assert (face.placed_face(points, np.eye(3), np.zeros(3)) is not None) is sized, width
    points[face.NOSE] = np.nan
    assert face.placed_face(points, np.eye(3), np.zeros(3)) is None


def test_the_face_is_turned_into_the_camera_s_axes_as_the_lifted_joints_are() -> None:
    """The matrix form of the view's turn (for the five face points, every frame) is the graph's."""
    rng = np.random.default_rng(2)
    points = rng.normal(0.0, 0.02, (5, 3)) + [[0.0, 0.0, -0.1], [0.03, 0.0, -0.08], [-0.03, 0.0, -0.08],
                                             [0.07, 0.0, 0.0], [-0.07, 0.0, 0.0]]  # fmt: skip
    for root_norm in ([0.0, 0.0], [0.4, -0.2], [-0.7, 0.5]):
        matrix = normalize.camera_axes_matrix(np.array(root_norm))
        np.testing.assert_allclose(points @ matrix.T, normalize.to_camera_axes(points, np.array(root_norm)),
                                   atol=1e-12)  # fmt: skip
        np.testing.assert_allclose(matrix @ matrix.T, np.eye(3), atol=1e-12)
        head = np.array([0.1, -0.5, 3.0])
        placed = face.placed_face(points, matrix, head)
        np.testing.assert_allclose(placed, face.face_at_head(points @ matrix.T, head), atol=1e-12)


def test_the_mirror_of_a_turned_head_is_the_head_of_the_mirrored_body() -> None:
    """What the avatar's selfie mirror does to the ear line ((x, y, z) → (x, -y, -z): reflected and
    the ears swapped) gives the rotations of the mirrored joints exactly."""
    from posecast.engines import frames

    rng = np.random.default_rng(1)
    joints = rotations.rest_pose(LENGTHS)[None] + rng.normal(0.0, 0.03, (5, 17, 3))
    turns = Rotation.from_euler("y", rng.uniform(-80, 80, (5, 1)), degrees=True)
    ears = turns.apply(np.tile([0.15, 0.02, 0.0], (5, 1)))
    mirrored = rotations.joints_to_rotations(frames.mirror_joints(joints), ear_lines=ears * [1.0, -1.0, -1.0])
    expected = frames.mirror_bone_pose(rotations.joints_to_rotations(joints, ear_lines=ears))
    angle = (Rotation.from_quat(mirrored.rotations.reshape(-1, 4)).inv()
             * Rotation.from_quat(expected.rotations.reshape(-1, 4))).magnitude()  # fmt: skip
    assert np.degrees(angle).max() < 1e-6


@pytest.mark.parametrize("yaw_deg", [-75.0, -20.0, 0.0, 35.0, 80.0])
def test_the_head_turns_on_the_neck_as_the_ear_line_does(yaw_deg: float) -> None:
    """A standing body with its neck leant 15 deg sideways and its chest turned 30 deg: the head
    bone turns by the face's yaw from the chest, whatever the chest does, and no joint moves."""
    joints = rotations.rest_pose(LENGTHS)[None].repeat(2, axis=0)
    chest = Rotation.from_euler("y", 30.0, degrees=True)
    upper = [skeleton.JOINT_INDEX[n] for n in ("thorax", "neck", "head", "l_shoulder", "r_shoulder", "l_elbow",
                                               "r_elbow", "l_wrist", "r_wrist")]  # fmt: skip
    spine = joints[:, skeleton.JOINT_INDEX["spine"]]
    offsets = (joints[:, upper] - spine[:, None]).reshape(-1, 3)
    joints[:, upper] = spine[:, None] + chest.apply(offsets).reshape(2, -1, 3)
    neck = joints[:, skeleton.JOINT_INDEX["neck"]]
    lean = Rotation.from_euler("z", 15.0, degrees=True)
    joints[:, HEAD] = neck + lean.apply(joints[:, HEAD] - neck)
    ears = (chest * Rotation.from_euler("y", yaw_deg, degrees=True)).apply([1.0, 0.0, 0.0])
    ear_lines = np.stack([ears * 0.15, np.full(3, np.nan)])  # the second frame: the face not known
    pose = rotations.joints_to_rotations(joints, LENGTHS, ear_lines=ear_lines)
    plain = rotations.joints_to_rotations(joints, LENGTHS)
    np.testing.assert_allclose(pose.joints(), joints, atol=1e-9)  # the twist moves no joint
    # the head's own turn about the neck → head bone: the face's yaw (the lean is a swing of the bone)
    head_twist = Rotation.from_quat(pose.rotations[0, HEAD]) * Rotation.from_quat(plain.rotations[0, HEAD]).inv()
    bone = joints[0, HEAD] - neck[0]
    turned = head_twist.as_rotvec()
    assert abs(np.degrees(np.linalg.norm(turned)) - abs(yaw_deg)) < 1.5
    if yaw_deg:
        assert abs(abs(np.dot(turned / np.linalg.norm(turned), bone / np.linalg.norm(bone))) - 1.0) < 0.01
    # without a face the head swings like the neck, as before
    np.testing.assert_allclose(pose.rotations[1], plain.rotations[1], atol=1e-12)
    np.testing.assert_allclose(np.delete(pose.rotations[0], HEAD, axis=0), np.delete(plain.rotations[0], HEAD, axis=0),
                               atol=1e-12)  # fmt: skip


def test_the_ear_lines_must_have_a_row_a_frame() -> None:
    joints = rotations.rest_pose(LENGTHS)[None].repeat(3, axis=0)
    with pytest.raises(ValueError, match=r"ear lines of shape \(3, 3\)"):
        rotations.joints_to_rotations(joints, LENGTHS, ear_lines=np.ones((2, 3)))


def test_a_face_turned_in_the_rest_pose_reads_back_as_its_yaw() -> None:
    joints = rotations.rest_pose(LENGTHS)[None].repeat(4, axis=0)
    yaws = np.array([-60.0, -10.0, 25.0, 90.0])
    ears = Rotation.from_euler("y", yaws[:, None], degrees=True).apply(np.tile([0.15, 0.0, 0.0], (4, 1)))
    np.testing.assert_allclose(_head_yaw_deg(rotations.joints_to_rotations(joints, LENGTHS, ear_lines=ears)), yaws,
                               atol=1e-9)  # fmt: skip


def test_a_take_holds_a_face_lost_for_a_moment_as_the_live_avatar_does() -> None:
    stamps = np.arange(8) * 100_000_000 + 7  # 10 fps, nanoseconds
    lines = np.full((8, 3), np.nan)
    lines[0], lines[7] = [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]
    shoulders = np.tile([0.0, 0.0, 1.0], (8, 1))
    posed = np.ones(8, bool)
    held = face.take_ear_lines(lines, shoulders, stamps, posed)
    np.testing.assert_array_equal(held[1:6, 0], [1.0] * 5)  # 0.1 to 0.5 s after it was seen (0.5 s held too)
    posed[3] = False  # the person lost in frame 3: the live avatar forgets them, and their face
    bridged = face.take_ear_lines(lines, shoulders, stamps, posed)
    assert np.isnan(bridged[3]).all()
    np.testing.assert_allclose(bridged[4], [0.0, 0.0, 1.0])  # after the loss: only the face to come, not yet
    assert np.isnan(face.take_ear_lines(np.full((3, 3), np.nan), shoulders[:3], stamps[:3], posed[:3])).all()


def test_a_take_eases_a_face_lost_longer_to_the_shoulders_and_into_the_face_seen_again() -> None:
    fps = 100
    stamps = np.arange(201) * (1_000_000_000 // fps)
    lines = np.full((201, 3), np.nan)
    lines[0], lines[200] = [1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]  # the face turned 90 deg one way, then the other
    shoulders = np.tile([0.0, 0.0, 1.0], (201, 1))
    bridged = face.take_ear_lines(lines, shoulders, stamps, np.ones(201, bool))
    np.testing.assert_allclose(np.linalg.norm(bridged, axis=-1), 1.0)
    turn_deg = np.degrees(np.unwrap(np.arctan2(bridged[:, 2], bridged[:, 0])))
    np.testing.assert_array_equal(turn_deg[:51], 0.0)  # held for 0.5 s
    ease_frames = int(face.FACE_EASE_S * fps)
    np.testing.assert_allclose(turn_deg[51 + ease_frames:200 - ease_frames], 90.0)  # at the shoulders' line
    assert np.all(np.diff(turn_deg[50:51 + ease_frames]) > 0)  # turned there frame by frame
    assert np.abs(np.diff(turn_deg)).max() < 12.0  # no snap anywhere (a whole 90 deg without the ease)
    np.testing.assert_allclose(turn_deg[200], 180.0)
    assert np.all(np.diff(turn_deg[200 - ease_frames:]) > 0)  # and turned to the face before it is seen again


def test_a_take_turns_a_face_seen_the_other_way_round_at_once_without_nan() -> None:
    """Lines about 180 deg apart (the ears read the other way round) blended through nearly
    nothing: a NaN row, or a flip in one frame anyway (review). Made at once half way instead; a
    shoulder line of no length gives no line, without numpy's warnings."""
    stamps = np.arange(101) * 10_000_000  # 100 fps
    lines = np.full((101, 3), np.nan)
    lines[0], lines[100] = [1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]
    shoulders = np.tile([1.0, 0.0, 0.0], (101, 1))
    shoulders[60] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bridged = face.take_ear_lines(lines, shoulders, stamps, np.ones(101, bool))
    assert np.isnan(bridged).any(axis=1).nonzero()[0].tolist() == [60]
    ease = int(face.FACE_EASE_S * 100)
    np.testing.assert_array_equal(bridged[100 - ease + 1:100 - ease // 2, 0], 1.0)  # the shoulders' way
    np.testing.assert_array_equal(bridged[100 - ease // 2 + 1:, 0], -1.0)  # then the face's, at once

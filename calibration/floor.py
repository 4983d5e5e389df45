"""The floor under the subject: ground plane from the feet, camera→world transform, foot contacts.

Everything here is in the **camera frame** of the live pipeline (OpenCV: x right, y down,
z forward, metres) until :func:`camera_to_world` makes the **world frame**: right-handed, y up,
metres, origin on the floor below the subject's first root (pelvis) position, x the camera's
right laid flat on the floor, z towards the camera (so a subject facing the camera faces +z,
their left at +x: the rest pose of :mod:`posecast.engines.rotations`).

**Up** (:func:`estimate_up`) comes from the body and the feet, checked against the camera's
gravity guess (a level camera: up = −y): the mean direction from where the body stands to the
head over the frames where the body is most extended (the top 20 % of that distance: standing
straight). It stands on the mid-ankles or, for a person standing on one leg, on the lower
ankle (:func:`support_points`: balance keeps a body on one leg over that foot; a raised foot,
which the lifter often gets short, tilts the mid-ankles' line towards it: 19.5° on the shared
dance clip, 4.7–6.0° this way, the camera's 4.3° read off the image; unchanged on the mocap
below); then, when the standing feet (the lower ankle in the lower half of the frames) spread along the
floor, their plane's normal (spread both ways) or up made perpendicular to their line (a walk
or a run: this removes the runner's forward lean); finally kept within ``max_tilt_deg`` of the
camera's guess. Measured on 33 mocap clips (CMU and Bandai-Namco, the first 2 s of each, true up
known): median error 1.9°, 90 % within 5.7°, worst 11.8° (an arm-waving clip); the body's plain
mean vertical: 4.9° / 12.4° / 25.4° (a dash). Through the shipped lifter (19 clips seen by a
virtual webcam with MediaPipe-like 2D noise): median 2.0°, worst 5.8°. Re-measured on
2026-12-03 with the one-leg rule, as before it: 622 windows of 399 CMU and held-out Bandai-Namco
clips, median 3.2°, 90 % 5.6°, worst 11.4°; 14 clips through the lifter, median 3.4°, worst 6.3°.

**Floor** (:func:`estimate_floor`): along up, the height of the lower ankle in each frame; the
``contact_quantile`` (0.2) of those heights over the first seconds is where a standing ankle
is (a jump or a raised foot lifts the lower ankle in a minority of frames only; a person who
stays in place is taken where the lower leg is straight, :func:`standing_frames`); the floor is
:data:`ANKLE_HEIGHT_FRACTION` of the subject's height below it.

Only poses whose ankles lie below the body tell where the floor is (:func:`feet_below_body`): a
clip turned upside down or on its side, or legs the 2D detector folded up, tell nothing of it. A
floor whose up was held at ``max_tilt_deg`` is taken, and said (:func:`tilt_limit_notice`; live,
once fixed: :mod:`posecast.calibration.ground`).

**Contacts** (:func:`foot_contacts`): a foot is on the floor while its ankle is within
``contact_height_m`` of the standing ankle level and moves slower than ``contact_speed_m_s``
along the floor.

A floor can also come from the camera's height and tilt (:func:`floor_from_camera_pose`) or a
file written by ``posecast calibrate floor`` (:func:`save_floor`, :func:`load_floor`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..engines import skeleton
from ..engines.metrics import LEGS, angle_deg
from .errors import CalibrationError

_J = skeleton.JOINT_INDEX
ANKLES = (_J["l_ankle"], _J["r_ankle"])  # feet order of every (F, 2) array here: left, right
#: An ankle below this confidence was not seen (MediaPipe guesses legs out of view at 0.01–0.2,
#: standing straight below the hips): a pose without both ankles seen says nothing about the floor.
MIN_ANKLE_CONFIDENCE = 0.5


def ankles_seen(confidence: np.ndarray) -> np.ndarray:
    """Whether each ankle was seen: ``(..., 2)`` bool (left, right) for the 2D detector's
    confidences ``(..., 17)`` (NaN: not seen)."""
    with np.errstate(invalid="ignore"):
        return np.asarray(confidence, dtype=np.float64)[..., list(ANKLES)] >= MIN_ANKLE_CONFIDENCE


def feet_seen(confidence: np.ndarray) -> np.ndarray:
    """Whether each pose's two ankles were seen: ``(...)`` bool (:func:`ankles_seen`)."""
    return ankles_seen(confidence).all(axis=-1)


#: The ankle joint of a standing person is this fraction of their height above the floor
#: (:data:`posecast.engines.skeleton.ANKLE_HEIGHT_FRACTION`, where the limb hold keeps a guessed leg above it).
ANKLE_HEIGHT_FRACTION = skeleton.ANKLE_HEIGHT_FRACTION
#: The camera's guess of up when nothing else is known: a level camera (camera axes, y down).
CAMERA_UP = (0.0, -1.0, 0.0)


#: A pose tells where the floor is only with both ankles at least this fraction of its legs'
#: length (thigh and shin) below the pelvis, along a level camera's up. Measured 2026-12-07 through
#: the lifter: the dance's and the squats' ankles lie 0.52 and 0.43 legs below at the least (a
#: squat's bottom, the camera 3 degrees down); MediaPipe, shown the dance with all but the top
#: 45 % of the image blanked, folded the ankles up to her head at confidence 0.5-0.66: 0.8-0.9 legs
#: *above*; the clips turned upside down, -0.7 to -1.0; on their side, -0.3 to 0.26. A camera
#: looking down shortens it by the cosine of its tilt: a standing person's feet are refused from
#: 76 degrees down, a squat's bottom (the pelvis 0.35 m down) from 69, some of a walk's strides
#: towards the camera from 42 (a stride's back foot lies further off, higher in the image).
FEET_BELOW_PELVIS_LEGS = 0.25
#: ... and only with the body upright across a level camera's image: the head within this angle
#: of straight above the mid-ankles in the plane of the image's x and a level camera's up (a
#: camera's tilt turns the body out of that plane, never across it; a roll or a clip turned on its
#: side does). Measured 2026-12-07: the real clips' poses lean 14 degrees at most, the tests' 6 CMU
#: takes seen 5-65 degrees down 50 at most (57 with the camera rolled 20 degrees); the clips turned
#: on their side or upside down 85-178, among them 4 poses of the squats turned a quarter
#: clockwise whose squatting ankles lay 0.25-0.26 legs below the pelvis (93 degrees: their floor
#: came out rolled 33.5 degrees, the camera 0.11 m up).
MAX_BODY_ROLL_DEG = 65.0
_HIPS, _KNEES = [_J["l_hip"], _J["r_hip"]], [_J["l_knee"], _J["r_knee"]]
#: The joints of a pose the floor's fit reads (:func:`floor_of_bodies`): the pelvis, the legs
#: (:data:`~posecast.engines.metrics.LEGS`' joints, left and right) and the head.
BODY_JOINTS: tuple[int, ...] = (skeleton.ROOT, *sorted({j for leg in LEGS for j in leg}), _J["head"])
_B_PELVIS, _B_HEAD = 0, len(BODY_JOINTS) - 1
_B_ANKLES = [BODY_JOINTS.index(j) for j in ANKLES]
_B_LEGS = tuple(tuple(BODY_JOINTS.index(j) for j in leg) for leg in LEGS)
_LEVEL_UP, _LEVEL_ACROSS = np.array(CAMERA_UP), np.array([1.0, 0.0, 0.0])


def feet_below_body(joints_cam: np.ndarray, camera_up: np.ndarray = CAMERA_UP) -> np.ndarray:
    """Whether each pose's ``(..., 17, 3)`` two ankles lie where feet can stand: both at least
    :data:`FEET_BELOW_PELVIS_LEGS` of the legs' mean length below the pelvis along ``camera_up``
    (a level camera's, the guess the floor's tilt is held near; not along the optical axis), and
    the head within :data:`MAX_BODY_ROLL_DEG` of straight above the mid-ankles across the image:
    ``(...)`` bool. Not so: the 2D detector folded the legs up, or the video is turned (upside down,
    on its side) or the person not upright, and their ankles say nothing of the floor."""
    joints = np.asarray(joints_cam, dtype=np.float64)
    if camera_up is CAMERA_UP:
        up, across = _LEVEL_UP, _LEVEL_ACROSS
    else:
        up = _unit(np.asarray(camera_up, dtype=np.float64))
        across = _unit(np.cross(up, [0.0, 0.0, 1.0]))
    hips, knees, ankles = joints[..., _HIPS, :], joints[..., _KNEES, :], joints[..., list(ANKLES), :]
    thighs, shins = knees - hips, ankles - knees  # (sums of squares: np.linalg.norm costs more, a call a pose)
    legs_m = (np.sqrt((thighs * thighs).sum(axis=-1)) + np.sqrt((shins * shins).sum(axis=-1))).mean(axis=-1)
    below_m = (joints[..., skeleton.ROOT, :] @ up)[..., None] - ankles @ up
    body = joints[..., _J["head"], :] - ankles.mean(axis=-2)
    upright = np.arctan2(np.abs(body @ across), body @ up) <= np.radians(MAX_BODY_ROLL_DEG)
    return (below_m >= FEET_BELOW_PELVIS_LEGS * legs_m[..., None]).all(axis=-1) & upright  # (NaN: False, unsaid)


@dataclass(frozen=True)
class FloorOptions:
    """How the floor and the foot contacts are found (module docstring).

    ``window_s``: seconds of poses gathered before the floor is fixed; ``contact_quantile``:
    the quantile of the lower ankle's height taken as standing; ``max_tilt_deg``: the largest
    angle between up and the camera's guess; ``min_travel_m``: the pelvis's spread (standard
    deviation along its main direction) from which its travel is taken as horizontal;
    ``contact_height_m`` / ``contact_speed_m_s``: a foot is in contact below both;
    ``raised_foot_m``: an ankle this much higher than the other is raised; one raised in at least
    half the frames makes a person standing on one leg (up then comes from the other foot);
    ``straight_knee_deg``: a person in place stands where their lower leg is this straight
    (:func:`standing_frames`).
    """

    window_s: float = 2.0
    contact_quantile: float = 0.2
    max_tilt_deg: float = 35.0
    min_travel_m: float = 0.25
    contact_height_m: float = 0.05
    contact_speed_m_s: float = 0.5
    raised_foot_m: float = 0.15
    straight_knee_deg: float = 25.0

    def __post_init__(self) -> None:
        checks = {
            "window_s": (self.window_s, 0.1, 60.0), "contact_quantile": (self.contact_quantile, 0.0, 0.5),
            "max_tilt_deg": (self.max_tilt_deg, 0.0, 90.0), "min_travel_m": (self.min_travel_m, 0.0, 10.0),
            "contact_height_m": (self.contact_height_m, 0.0, 1.0),
            "contact_speed_m_s": (self.contact_speed_m_s, 0.0, 10.0),
            "raised_foot_m": (self.raised_foot_m, 0.0, 1.0),
            "straight_knee_deg": (self.straight_knee_deg, 0.0, 180.0),
        }  # fmt: skip
        for name, (value, low, high) in checks.items():
            if not low <= value <= high:
                raise CalibrationError(f"floor option {name} must be in [{low:g}, {high:g}], got {value!r}")


@dataclass(frozen=True)
class Floor:
    """A ground plane in camera coordinates: points ``p`` with ``up · p = level_m`` (metres).

    ``up_cam`` ``(3,)`` unit vector; ``ankle_level_m``: ``up · ankle`` of a standing ankle
    (``None`` when the floor did not come from the feet); ``source``: how it was found.
    """

    up_cam: np.ndarray
    level_m: float
    ankle_level_m: float | None = None
    source: str = "estimated from the feet"

    def __post_init__(self) -> None:
        up = np.asarray(self.up_cam, dtype=np.float64).reshape(3)
        if not np.isclose(np.linalg.norm(up), 1.0, atol=1e-6):
            raise CalibrationError(f"floor up vector must have unit length, got {up.tolist()}")
        object.__setattr__(self, "up_cam", up)

    def heights_m(self, points_cam: np.ndarray) -> np.ndarray:
        """Height above the floor of camera-frame points ``(..., 3)`` → ``(...)`` metres."""
        return np.asarray(points_cam, dtype=np.float64) @ self.up_cam - self.level_m

    @property
    def camera_height_m(self) -> float:
        """Height of the camera's centre above the floor."""
        return -self.level_m

    @property
    def tilt_deg(self) -> float:
        """How far the camera looks down (positive) or up from level, degrees."""
        return float(np.degrees(np.arcsin(np.clip(-self.up_cam[2], -1.0, 1.0))))

    @property
    def roll_deg(self) -> float:
        """The camera's roll about its optical axis, degrees (positive: up leans towards the image's +x)."""
        return float(np.degrees(np.arctan2(self.up_cam[0], -self.up_cam[1])))


def estimate_up(
    joints_cam: np.ndarray, options: FloorOptions | None = None, camera_up: np.ndarray = CAMERA_UP
) -> np.ndarray:
    """Up ``(3,)`` in camera coordinates from poses ``(F, 17, 3)`` (module docstring)."""
    opts = options or FloorOptions()
    joints = _finite(joints_cam)
    guess = _unit(np.asarray(camera_up, dtype=np.float64))
    if len(joints) == 0:
        return guess
    return _up_of_bodies(joints[:, BODY_JOINTS], opts, guess)


def _up_of_bodies(bodies: np.ndarray, opts: FloorOptions, guess: np.ndarray) -> np.ndarray:
    """:func:`estimate_up` of poses that are bodies (:func:`has_extent`), as their
    :data:`BODY_JOINTS` ``(F, 8, 3)``, at least one, from the camera's guess ``guess``."""
    body = bodies[:, _B_HEAD] - support_points(bodies[:, _B_ANKLES], guess, opts.raised_foot_m)
    extent = np.linalg.norm(body, axis=-1)
    if not (extent > 1e-6).any():  # (QA: a take whose joints all sat at one point: NaN up, a LinAlgError)
        raise CalibrationError("no pose to find the floor from has its head apart from its feet (every joint at "
                               "one point): the poses are damaged")  # fmt: skip
    extended = extent >= np.quantile(extent, 0.8)
    up = _unit(_unit(body[extended]).mean(axis=0))
    # the standing feet lie on the floor: where they spread out, they tell up better than the body
    ankles = bodies[:, _B_ANKLES]
    lower = ankles[np.arange(len(ankles)), np.argmin(ankles @ up, axis=-1)]
    stance = lower[lower @ up <= np.quantile(lower @ up, 0.5)]
    if len(stance) >= 3:
        centred = stance - stance.mean(axis=0)
        values, vectors = np.linalg.eigh(centred.T @ centred / len(stance))
        spread = np.sqrt(np.maximum(values, 0.0))
        if spread[1] > opts.min_travel_m:  # spread in two directions: the floor's normal
            normal = vectors[:, 0] * np.sign(vectors[:, 0] @ up)
            up = normal if normal @ up > np.cos(np.radians(opts.max_tilt_deg)) else up
        elif spread[2] > opts.min_travel_m and abs(vectors[:, 2] @ up) < 0.5:  # along a line on the floor
            travel = vectors[:, 2]
            up = _unit(up - (travel @ up) * travel)
    return _clamp_towards(guess, up, np.radians(opts.max_tilt_deg))


def support_points(ankles: np.ndarray, up: np.ndarray, raised_foot_m: float) -> np.ndarray:
    """Where the body stands ``(F, 3)`` from ankles ``(F, 2, 3)``: the mid-ankles, or, for a
    person standing on one leg (one foot more than ``raised_foot_m`` above the other in at least
    half the frames; a walk raises each foot in fewer), the lower ankle in the frames where it is."""
    heights = ankles @ up
    lower = ankles[np.arange(len(ankles)), np.argmin(heights, axis=-1)]
    raised = np.abs(heights[:, 0] - heights[:, 1]) > raised_foot_m
    one_leg = max(np.mean(heights[:, 0] - heights[:, 1] > raised_foot_m),
                  np.mean(heights[:, 1] - heights[:, 0] > raised_foot_m)) >= 0.5  # fmt: skip
    return np.where((raised & one_leg)[:, None], lower, ankles.mean(axis=1))


#: Fewer poses with both feet seen than this and a floor from them is rough (QA, the dance clip:
#: from 15 and 30 poses, 0.5 and 1 s, the camera came out 1.86-1.89 m up and tilted 12.7 degrees;
#: from 60-120, 2-4 s, 1.39-1.46 m and 4-5 degrees).
ROUGH_FLOOR_POSES = 45


def rough_floor_notice(poses: int) -> str | None:
    """What to say of a floor from ``poses`` poses with both feet seen, when they are too few."""
    if poses >= ROUGH_FLOOR_POSES:
        return None
    return (f"the floor comes from only {poses} poses with both feet in view (under {ROUGH_FLOOR_POSES}): it can be "
            "tens of centimetres and several degrees off")  # fmt: skip


#: An up this close to ``max_tilt_deg`` from the camera's guess, degrees, was held there
#: (:func:`estimate_up`; a fit just inside the limit is not).
_AT_TILT_LIMIT_DEG = 0.01


def tilt_limit_notice(
    floor: Floor, options: FloorOptions | None = None, camera_up: np.ndarray = CAMERA_UP
) -> str | None:
    """What to say of a floor from the feet whose up :func:`estimate_up` held at ``max_tilt_deg``
    from the camera's guess, or ``None``: the body's up was that far or further from a level
    camera's, and a camera turned further than that is not followed. Its floor is still the
    better guess (the standing feet are on it, the body leans by the tilt beyond the limit; on an
    assumed level floor it leans by the whole tilt and floats metres up), but it lies too low for
    a camera looking down (2.5 m up: 38 degrees down gives 2.30 m, 45 degrees 1.78 m, 60 degrees
    0.60 m; measured 2026-12-07 on a synthetic standing person). A video turned upside down or on
    its side, or legs folded up, do not get here: :func:`feet_below_body` keeps their feet out."""
    opts = options or FloorOptions()
    if opts.max_tilt_deg <= 0:  # up is the camera's guess: nothing was fitted
        return None
    cosine = float(np.clip(_unit(np.asarray(camera_up, dtype=np.float64)) @ floor.up_cam, -1.0, 1.0))
    if np.degrees(np.arccos(cosine)) < opts.max_tilt_deg - _AT_TILT_LIMIT_DEG:
        return None
    return (f"held at its {opts.max_tilt_deg:g}-degree limit from a level camera: a camera tilted or rolled further is "
            "not followed (the people lean by the rest; one looking down comes out too low)")  # fmt: skip


def estimate_floor(
    joints_cam: np.ndarray, height_m: float, options: FloorOptions | None = None, up_cam: np.ndarray | None = None
) -> Floor:
    """The floor under poses ``(F, 17, 3)`` of a subject ``height_m`` tall (module docstring);
    ``up_cam``: a known up direction (default: :func:`estimate_up`)."""
    joints = _finite(joints_cam)
    if len(joints) == 0:
        raise no_floor_poses(bool(np.isfinite(np.asarray(joints_cam, dtype=np.float64)).all(axis=(-2, -1)).any()))
    return floor_of_bodies(joints[:, BODY_JOINTS], height_m, options, up_cam)


def no_floor_poses(finite: bool) -> CalibrationError:
    """The error of a floor asked of no pose that is a body: ``finite``, there were finite poses,
    every joint of each at one point (:func:`has_extent`)."""
    if finite:
        return CalibrationError("no pose to find the floor from has its joints apart (every joint at one point): "
                                "the poses are damaged")  # fmt: skip
    return CalibrationError("no pose to find the floor from: the subject's feet must be in view")


def floor_of_bodies(bodies: np.ndarray, height_m: float, options: FloorOptions | None = None,
                    up_cam: np.ndarray | None = None) -> Floor:  # fmt: skip
    """:func:`estimate_floor` of poses known to be bodies (finite, :func:`has_extent`), given as
    their :data:`BODY_JOINTS` ``(F, 8, 3)`` float64, at least one: the joints the fit reads, kept
    of a take read in passes (12 floats a pose, not 51)."""
    opts = options or FloorOptions()
    guess = _unit(np.asarray(CAMERA_UP, dtype=np.float64))
    up = _up_of_bodies(bodies, opts, guess) if up_cam is None else _unit(np.asarray(up_cam, dtype=np.float64))
    heights = bodies[:, _B_ANKLES] @ up
    lower = np.argmin(heights, axis=-1)
    lower_ankle = heights[np.arange(len(bodies)), lower]
    standing = _standing_bodies(bodies, up, lower, opts)
    ankle_level = float(np.quantile(lower_ankle[standing], opts.contact_quantile))
    return Floor(up, ankle_level - ANKLE_HEIGHT_FRACTION * height_m, ankle_level)


def standing_frames(joints: np.ndarray, up: np.ndarray, lower: np.ndarray, options: FloorOptions) -> np.ndarray:
    """The frames ``(F,)`` bool whose lower ankle (``lower`` ``(F,)``: 0 left, 1 right) tells
    where a standing ankle is. For a person who stays in place (the pelvis spreads less than
    ``min_travel_m`` along the floor): those whose lower leg is straight within
    ``straight_knee_deg`` (25°), when a quarter of the frames (3 at least) are. The lifter puts a
    crouching person's ankles lower than a standing one's (4–5 cm in the shared squats clip's
    squats, her feet still), so a level taken over squats left her standing feet out of contact
    (30° let in the frames of a rise, where the ankles are still low: 2.5 cm under the level for a
    clip that starts in a squat, QA). Otherwise every frame: a walker's or runner's standing knee
    is bent, and a straight leg pushes off with the heel up (on the mocap dash, straight legs alone
    put the floor 6 cm off). The provisional floor follows the same rule, so fixing it does not
    move the feet (every frame there: a 4.4 cm drop at 30 fps; QA)."""
    return _standing_bodies(np.asarray(joints)[:, BODY_JOINTS], up, lower, options)


def _standing_bodies(bodies: np.ndarray, up: np.ndarray, lower: np.ndarray, options: FloorOptions) -> np.ndarray:
    """:func:`standing_frames` of poses as their :data:`BODY_JOINTS` ``(F, 8, 3)``."""
    every = np.ones(len(bodies), dtype=bool)
    pelvis = bodies[:, _B_PELVIS]
    along_floor = pelvis - np.outer(pelvis @ up, up)
    if len(bodies) < 3 or np.linalg.eigvalsh(np.cov(along_floor.T)).max() > options.min_travel_m**2:
        return every
    # each knee's bend (0 deg: a straight leg), as engines.metrics.knee_bend_deg measures it
    bends = np.stack([angle_deg(bodies[..., k, :] - bodies[..., h, :], bodies[..., a, :] - bodies[..., k, :])
                      for h, k, a in _B_LEGS], axis=-1)  # fmt: skip
    straight = bends[np.arange(len(bodies)), lower] <= options.straight_knee_deg
    return straight if straight.sum() >= max(3, 0.25 * len(bodies)) else every


#: The steepest camera tilt or roll taken, degrees: towards ±90 the roll is undefined and a floor
#: file could not hold the angle (89.999999 was written as 90.0 and refused when read; review).
MAX_CAMERA_ANGLE_DEG = 89.9


def floor_from_camera_pose(camera_height_m: float, tilt_deg: float, roll_deg: float = 0.0) -> Floor:
    """The floor seen by a camera ``camera_height_m`` above it, looking ``tilt_deg`` down
    (negative: up) and rolled by ``roll_deg`` (see :attr:`Floor.roll_deg`)."""
    if not 0.0 < camera_height_m < 20.0:
        raise CalibrationError(f"camera height must be in metres above 0 and under 20, got {camera_height_m}")
    if not (abs(tilt_deg) <= MAX_CAMERA_ANGLE_DEG and abs(roll_deg) <= MAX_CAMERA_ANGLE_DEG):
        raise CalibrationError(
            f"camera tilt and roll must be in degrees from -{MAX_CAMERA_ANGLE_DEG} to {MAX_CAMERA_ANGLE_DEG} (level: "
            f"0; looking straight down or up, the roll is undefined), got {tilt_deg}, {roll_deg}"
        )
    tilt, roll = np.radians(tilt_deg), np.radians(roll_deg)
    up = np.array([np.sin(roll) * np.cos(tilt), -np.cos(roll) * np.cos(tilt), -np.sin(tilt)])
    source = f"camera {camera_height_m:g} m above the floor, tilt {tilt_deg:g} deg"
    if roll_deg:
        source += f", roll {roll_deg:g} deg"
    return Floor(up, -camera_height_m, None, source)


def camera_to_world(floor: Floor, origin_cam: np.ndarray, camera_right: np.ndarray = (1.0, 0.0, 0.0)) -> np.ndarray:
    """The camera→world transform ``(4, 4)`` (``p_world = T @ [p_cam, 1]``): y = the floor's up,
    x = the camera's right laid on the floor, z = x × y (towards the camera), origin on the
    floor below ``origin_cam`` (the first root position)."""
    up = floor.up_cam
    x = np.asarray(camera_right, dtype=np.float64)
    x = _unit(x - (x @ up) * up)
    z = np.cross(x, up)
    rotation = np.stack([x, up, z])  # rows: the world's axes in camera coordinates
    origin = np.asarray(origin_cam, dtype=np.float64)
    origin = origin - floor.heights_m(origin) * up
    transform = np.eye(4)
    transform[:3, :3] = rotation
    transform[:3, 3] = -rotation @ origin
    return transform


def floor_from_transform(transform: np.ndarray, source: str = "calibrated") -> Floor:
    """The floor a :func:`camera_to_world` matrix ``(4, 4)`` stands on (its world y is the floor's
    up and the origin lies on the floor): the inverse of building the transform, exact."""
    transform = np.asarray(transform, dtype=np.float64)
    if transform.shape != (4, 4) or not np.isfinite(transform).all():
        raise CalibrationError(f"camera_to_world must be a finite 4 x 4 matrix, got shape {transform.shape}")
    return Floor(transform[1, :3], -float(transform[1, 3]), None, source)


def floor_between(start: Floor, end: Floor, fraction: float) -> Floor:
    """The floor ``fraction`` (0..1) of the way from ``start`` to ``end`` at an even pace: up
    turned along the great circle between theirs, the camera's height moved linearly (``end``'s
    source; no standing ankle level)."""
    cosine = float(np.clip(start.up_cam @ end.up_cam, -1.0, 1.0))
    angle = float(np.arccos(cosine))
    if angle < 1e-9 or angle > np.pi - 1e-6:  # (the same up; opposite ups, which no estimate gives: the end's)
        up = end.up_cam
    else:
        up = _unit((np.sin((1.0 - fraction) * angle) * start.up_cam + np.sin(fraction * angle) * end.up_cam)
                   / np.sin(angle))  # fmt: skip
    return Floor(up, start.level_m + fraction * (end.level_m - start.level_m), None, end.source)


def to_world(points_cam: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """Camera-frame points ``(..., 3)`` → world ``(..., 3)`` with a :func:`camera_to_world` matrix."""
    return np.asarray(points_cam, dtype=np.float64) @ transform[:3, :3].T + transform[:3, 3]


def directions_to_world(vectors_cam: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """Camera-frame directions ``(..., 3)`` (a line between two points) → world axes ``(..., 3)``."""
    return np.asarray(vectors_cam, dtype=np.float64) @ transform[:3, :3].T


def foot_contacts(
    ankle_heights_m: np.ndarray, ankle_speeds_m_s: np.ndarray, options: FloorOptions | None = None
) -> np.ndarray:
    """Contact flags ``(F, 2)`` from ankle heights above the standing ankle level and their
    horizontal speeds ``(F, 2)`` (left, right)."""
    opts = options or FloorOptions()
    heights, speeds = np.asarray(ankle_heights_m), np.asarray(ankle_speeds_m_s)
    return (heights < opts.contact_height_m) & (speeds < opts.contact_speed_m_s)


def ankle_motion(joints_world: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """World poses ``(F, 17, 3)`` → ankle heights above the floor ``(F, 2)`` and horizontal
    speeds ``(F, 2)`` in m/s (a backward difference; the first frame repeats the second's)."""
    ankles = np.asarray(joints_world, dtype=np.float64)[:, ANKLES]
    step = np.diff(ankles[..., [0, 2]], axis=0)
    speed = np.linalg.norm(step, axis=-1) * fps
    speed = np.concatenate([speed[:1], speed]) if len(speed) else np.zeros((len(ankles), 2))
    return ankles[..., 1], speed


def foot_metrics(
    joints_world: np.ndarray, fps: float, ankle_level_m: float, options: FloorOptions | None = None
) -> dict[str, float]:
    """How well feet stay put on the floor over world poses ``(F, 17, 3)`` at ``fps``.

    ``sliding_mm_s``: mean horizontal speed of the ankles in contact (0 for a perfect stance);
    ``penetration_mm``: mean depth of the ankles below their standing level ``ankle_level_m``
    (height above the floor), over every ankle and frame (``penetration_max_mm`` the largest);
    ``contact_fraction``: share of ankle-frames in contact.
    """
    heights, speeds = ankle_motion(joints_world, fps)
    contact = foot_contacts(heights - ankle_level_m, speeds, options)
    below = np.maximum(ankle_level_m - heights, 0.0)
    return {
        "sliding_mm_s": float(1000 * speeds[contact].mean()) if contact.any() else float("nan"),
        "penetration_mm": float(1000 * below.mean()),
        "penetration_max_mm": float(1000 * below.max()),
        "contact_fraction": float(contact.mean()),
    }


def has_extent(joints: np.ndarray) -> np.ndarray:
    """Whether each pose ``(..., 17, 3)`` is a body, its joints not all at one point (a damaged
    take's: a few among good poses crashed the floor's estimate or put it 0.8 m off; review)."""
    return np.ptp(np.asarray(joints, dtype=np.float64), axis=-2).max(axis=-1) > 1e-6


def _finite(joints: np.ndarray) -> np.ndarray:
    """The poses that are a body: finite and :func:`has_extent`."""
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (skeleton.NUM_JOINTS, 3):
        raise ValueError(f"expected poses of shape (F, 17, 3), got {joints.shape}")
    finite = joints[np.isfinite(joints).all(axis=(1, 2))]
    return finite[has_extent(finite)]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _clamp_towards(guess: np.ndarray, up: np.ndarray, max_angle: float) -> np.ndarray:
    """``up``, or the direction ``max_angle`` from ``guess`` towards it when further."""
    angle = float(np.arccos(np.clip(guess @ up, -1.0, 1.0)))
    if angle <= max_angle:
        return up
    side = up - (guess @ up) * guess
    if np.linalg.norm(side) < 1e-12:
        return guess
    return np.cos(max_angle) * guess + np.sin(max_angle) * _unit(side)

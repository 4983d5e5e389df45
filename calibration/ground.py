"""The floor in a live stream: :class:`FloorEstimator` (one per camera) and :class:`FootContacts`
(one per person), built on the pure functions of :mod:`posecast.calibration.floor`.

The floor belongs to the camera, not to a person, but it is estimated from one person's poses
at a time: each person's depth comes from their own assumed or measured height, so two people's
feet need not lie on one plane, and pooling them made a provisional floor that jumped by 0.8 m
every few poses (QA, two people filmed apart). The estimator keeps each person's poses with
both feet seen; the floor comes from the person with the most of them, re-estimated every 5th
pose (state ``estimating``, a provisional floor), and is fixed (``estimated``) once that
person's poses span ``window_s`` seconds (a passer-by seen in fewer frames does not fix it),
until the stream ends. A floor given by calibration is
fixed from the start (``calibrated``); it is checked once against the standing feet of the
first person whose poses span ``window_s``. Each person's feet are placed by their own height.
The world origin is on the floor below the first root position it saw, and stays
there: people who come and go keep one world.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

import numpy as np

from ..engines import skeleton
from . import floor as fl

#: Before any pose with both feet seen: a level camera 1.5 m above the floor (the origin 3 m in
#: front of it until a person is seen).
ASSUMED_FLOOR = fl.floor_from_camera_pose(1.5, 0.0)
_DEFAULT_ORIGIN = np.array([0.0, 0.0, 3.0])
#: While estimating, the provisional floor is re-estimated every this many poses (it changes
#: slowly; each estimate costs a few tenths of a millisecond).
_EVERY = 5
#: The horizontal axes of the world frame (y is up).
_XZ = [0, 2]
#: A given floor whose standing feet are further than this from it (metres, over the first
#: ``window_s`` of poses) is said to be wrong: a camera height or tilt off (10° at 3 m is 0.5 m).
GIVEN_FLOOR_TOLERANCE_M = 0.15

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FloorState:
    """The floor as it stands: ``state`` (``assumed`` before any pose with both feet seen, ``estimating``,
    ``estimated``, ``calibrated``), the :class:`~posecast.calibration.floor.Floor` and the
    ``camera_to_world`` ``(4, 4)`` transform; ``origin_placed``: the world's origin is below the
    first person's root (before, a point 3 m in front of the camera): a stream's meta is sent
    again when either this or ``state`` changes."""

    state: str
    floor: fl.Floor
    camera_to_world: np.ndarray
    origin_placed: bool = True

    def __post_init__(self) -> None:
        # read-only: every frame's world hands this array out, and an edit in place (a program
        # turning it to its engine's axes) moved every later frame's joints by metres (API QA)
        self.camera_to_world.flags.writeable = False

    def describe(self) -> dict[str, object]:
        """Plain data for a ``meta`` message."""
        return {
            "state": self.state, "source": self.floor.source, "camera_to_world": self.camera_to_world.tolist(),
            "camera_height_m": round(self.floor.camera_height_m, 4), "camera_tilt_deg": round(self.floor.tilt_deg, 2),
            "camera_roll_deg": round(self.floor.roll_deg, 2),
        }  # fmt: skip


class FloorEstimator:
    """The stream's floor: ``add(joints_cam, timestamp_ns)`` per tracked person and frame,
    ``state`` for the current floor. ``height_m``: the height of a person ``add`` is given none
    for (the ankle's height above the floor is a fraction of it; ``None``: every ``add`` gives
    one, else a given floor is not checked); ``floor``: a calibrated floor (nothing estimated)."""

    def __init__(self, height_m: float | None, options: fl.FloorOptions | None = None,
                 floor: fl.Floor | None = None) -> None:  # fmt: skip
        self.options = options or fl.FloorOptions()
        self.height_m = height_m
        self._poses: dict[int, list[np.ndarray]] = {}  # person id → poses with both feet seen
        self._first_ns: dict[int, int] = {}  # person id → the first of them
        self._heights_m: dict[int, float] = {}  # person id → their height, as last given
        self._origin: np.ndarray | None = None
        self._fixed = floor is not None
        # a given floor's check: person id → their ankles' heights above it; None once checked
        self._given_heights: dict[int, list[float]] | None = {} if floor is not None else None
        floor = floor or ASSUMED_FLOOR
        name = "calibrated" if self._fixed else "assumed"
        self._state = FloorState(name, floor, fl.camera_to_world(floor, _DEFAULT_ORIGIN), origin_placed=False)

    @property
    def state(self) -> FloorState:
        return self._state

    def add(self, joints_cam: np.ndarray, timestamp_ns: int, feet_seen: bool = True, person_id: int = 0,
            height_m: float | None = None) -> FloorState:  # fmt: skip
        """Take one person's pose ``(17, 3)`` (camera frame, metres); returns the floor state.
        ``feet_seen``: both ankles were seen (:func:`~posecast.calibration.floor.feet_seen`); a
        pose without places the world's origin, if it is the first, and says nothing of the floor
        (legs out of view are MediaPipe's guess). ``person_id``: whose pose (module docstring);
        ``height_m``: theirs (else the estimator's ``height_m``)."""
        joints = np.asarray(joints_cam, dtype=np.float64)
        if not np.isfinite(joints).all():
            return self._state
        if self._origin is None:  # the world's origin: on the floor below the first root seen
            self._origin = joints[skeleton.ROOT].copy()
            floor = self._state.floor
            self._state = FloorState(self._state.state, floor, fl.camera_to_world(floor, self._origin))
        height_m = self.height_m if height_m is None else height_m
        if (not feet_seen or height_m is None or (self._fixed and self._given_heights is None)
                or not fl.has_extent(joints)):  # fmt: skip
            # (fixed, and checked if given: nothing more to learn from the feet; every joint at one
            # point: a damaged pose, which ended a replay's run. Tested in that order: a fixed floor,
            # every frame from 2 s on, returns first)
            return self._state
        self._heights_m[person_id] = height_m
        first_ns = self._first_ns.setdefault(person_id, timestamp_ns)
        if self._fixed:
            self._check_given(joints, timestamp_ns, person_id)
            return self._state
        poses = self._poses.setdefault(person_id, [])
        poses.append(joints)
        if poses is not max(self._poses.values(), key=len):  # the floor is the best-seen person's
            return self._state
        done = (timestamp_ns - first_ns) * 1e-9 >= self.options.window_s
        if not done and len(poses) % _EVERY != 1:  # the provisional floor: every few poses
            return self._state
        floor = fl.estimate_floor(np.stack(poses), height_m, self.options)
        self._state = FloorState("estimated" if done else "estimating", floor, fl.camera_to_world(floor, self._origin))
        if done:
            self._fixed = True
            self._poses.clear()
            self._first_ns.clear()
            self._heights_m.clear()
        return self._state

    def _check_given(self, joints: np.ndarray, timestamp_ns: int, person_id: int) -> None:
        """Over the first ``window_s`` of one person's poses on a given floor (the first person
        to span it: one who leaves sooner does not hold the check up): warn once when the
        standing ankles (the lower one's ``contact_quantile``, as an estimate takes it) are far
        from where the floor puts them (the user's numbers are kept: they may know better than
        the lifter)."""
        floor = self._state.floor
        heights = self._given_heights.setdefault(person_id, [])
        heights.append(float(floor.heights_m(joints[list(fl.ANKLES)]).min()))
        if (timestamp_ns - self._first_ns[person_id]) * 1e-9 < self.options.window_s:
            return
        standing_m = float(np.quantile(heights, self.options.contact_quantile))
        expected_m = fl.ANKLE_HEIGHT_FRACTION * self._heights_m[person_id]
        self._given_heights = None  # checked: nothing more is kept (add returns at once from now on)
        self._first_ns.clear()
        self._heights_m.clear()
        off_m = standing_m - expected_m
        if abs(off_m) > GIVEN_FLOOR_TOLERANCE_M:
            log.warning("the given floor (%s) puts the standing feet %.2f m %s it: check the camera's height and "
                        "tilt (--floor-camera, or the --floor file), or leave them out to estimate the floor",
                        floor.source, abs(off_m), "below" if off_m < 0 else "above")  # fmt: skip


class FootContacts:
    """One person's foot contacts, causally: ``update(ankles_world, timestamp_ns)`` with the two
    ankles ``(2, 3)`` (left, right) in the world frame → flags ``(2,)``. The horizontal speed is
    taken over the last ``speed_window_s`` (a single frame's difference is mostly the lifter's
    jitter)."""

    def __init__(self, ankle_height_m: float, options: fl.FloorOptions | None = None, speed_window_s: float = 0.1):
        self.options = options or fl.FloorOptions()
        self.ankle_height_m = ankle_height_m
        self.speed_window_s = speed_window_s
        self._history: deque[tuple[int, np.ndarray]] = deque()

    def reset(self) -> None:
        self._history.clear()

    def update(self, ankles_world: np.ndarray, timestamp_ns: int) -> np.ndarray:
        ankles = np.asarray(ankles_world, dtype=np.float64)
        horizontal = ankles[:, _XZ]  # a new array: kept in the history as it is
        self._history.append((timestamp_ns, horizontal))
        while len(self._history) > 2 and (timestamp_ns - self._history[1][0]) * 1e-9 >= self.speed_window_s:
            self._history.popleft()
        first_ns, first = self._history[0]
        span_s = (timestamp_ns - first_ns) * 1e-9
        if span_s > 0:
            moved = horizontal - first
            speeds = np.sqrt(np.add.reduce(moved * moved, axis=-1)) / span_s  # np.linalg.norm's sum, less overhead
        else:
            speeds = np.zeros(2)
        return fl.foot_contacts(ankles[:, 1] - self.ankle_height_m, speeds, self.options)

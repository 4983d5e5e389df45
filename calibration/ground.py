"""The floor in a live stream: :class:`FloorEstimator` (one per camera) and :class:`FootContacts`
(one per person), built on the pure functions of :mod:`posecast.calibration.floor`.

The floor belongs to the camera, not to a person, but it is estimated from one person's poses at a
time: each person's depth comes from their own assumed or measured height, so two people's feet
need not lie on one plane, and pooling them made a provisional floor that jumped by 0.8 m every few
poses (QA, two people filmed apart). The estimator keeps each person's poses with both feet seen
below the body (:func:`~posecast.calibration.floor.feet_below_body`); the floor comes from the
person with the most of them, from the first such pose on, re-estimated every 5th pose (state
``estimating``, a provisional floor), and is fixed (``estimated``) once that person's poses span
``window_s`` seconds (a passer-by seen in fewer frames does not fix it), until the stream ends. A
provisional floor is confirmed once its person's poses number :data:`CONFIRM_POSES` over
:data:`CONFIRM_SPAN_S`; one not confirmed is dropped, those poses forgotten, when its person is seen
without the feet below the body over :data:`UNCONFIRMED_HOLD_S` after their last such pose (stray
poses, whose ankles MediaPipe put below a body cut off at the chest), or nobody gives one for that
long and :data:`UNCONFIRMED_HOLD_FRAMES` frames, or the clock goes back
(:meth:`FloorEstimator.advance`): the floor is the best-seen person's left, else assumed again (and
why it stays assumed is said ``window_s`` of poses on). A provisional floor held at its tilt limit
(:func:`~posecast.calibration.floor.tilt_limit_notice`) is not taken: the floor stays as it was
until ``window_s`` of such poses fix it (a camera turned further than the limit; a stray pose or
two never do). The log says once when the floor is fixed, once when a provisional floor is dropped,
and once why it stays assumed (no feet below the body after ``window_s`` of poses, or their floor
held), unless ``log_state`` is off (a floor no output stands anyone on: ``posecast bench``'s, which
runs it only to time it). A floor given by calibration is fixed from the start (``calibrated``); it
is checked once against the standing feet of the first person whose poses span ``window_s``. Each
person's feet are placed by their own height. The world origin is on the floor below the first root
position it saw, and stays there: people who come and go keep one world. :class:`FloorEase` carries
the people from one floor to the next.
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
#: A provisional floor is confirmed once its person has this many poses with both feet below the
#: body, spanning :data:`CONFIRM_SPAN_S` (a person standing in view: 13 in 0.4 s at 30 fps, 3 at
#: 5 fps); until then it is dropped when that person is seen without the feet below the body over
#: :data:`UNCONFIRMED_HOLD_S` after their last pose with them, or nobody gives one for that long and
#: :data:`UNCONFIRMED_HOLD_FRAMES` frames (QA: the dance blanked below the chest in a 1280 x 720
#: frame stood on the floor of one pose whose ankles MediaPipe put below the body, 0.75 m up against
#: the clip's 1.46 m, for the rest of the clip; blanked below 60 %, 8 poses over 0.23 s: 4.29 m up).
CONFIRM_POSES = 3
CONFIRM_SPAN_S = 0.4
UNCONFIRMED_HOLD_S = 0.5
#: With nobody seen, the hold is this many of the stream's frames as well (the clock alone, 0.5 s,
#: dropped the floor of a person standing in view at under 2 fps every frame: never fixed).
UNCONFIRMED_HOLD_FRAMES = 3
_CLOCK_SLACK_NS = 1_000_000  # (a 30 fps clock's 13th frame may land a few nanoseconds short of 0.4 s)
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


@dataclass
class _WhyAssumed:
    """Why the floor is still assumed: the poses whose ankles were unseen, ``folded`` (seen but
    not below the body), and ``held`` (below it, their provisional floor at its tilt limit)."""

    unseen: int = 0
    folded: int = 0
    held: int = 0


class FloorEstimator:
    """The stream's floor: ``add(joints_cam, timestamp_ns)`` per tracked person and frame,
    ``state`` for the current floor. ``height_m``: the height of a person ``add`` is given none
    for (the ankle's height above the floor is a fraction of it; ``None``: every ``add`` gives
    one, else a given floor is not checked); ``floor``: a calibrated floor (nothing estimated);
    ``log_state``: say when the floor is fixed, why it stays assumed, and a given floor far off
    the feet (module docstring)."""

    def __init__(self, height_m: float | None, options: fl.FloorOptions | None = None,
                 floor: fl.Floor | None = None, log_state: bool = True) -> None:  # fmt: skip
        self.options = options or fl.FloorOptions()
        self.height_m = height_m
        self.log_state = log_state
        self._poses: dict[int, list[np.ndarray]] = {}  # person id → poses with both feet seen
        self._first_ns: dict[int, int] = {}  # person id → the first of them
        self._heights_m: dict[int, float] = {}  # person id → their height, as last given
        self._last_ns: dict[int, int] = {}  # person id → the last of their poses with both feet below
        # whose poses the provisional floor is from, while it is not confirmed (None: none, or confirmed)
        self._unconfirmed: int | None = None
        self._said_dropped = False
        self._clock_ns: int | None = None  # the stream's last timestamp
        self._frames = 0  # the stream's frames (timestamps that moved on) so far
        self._last_frame: dict[int, int] = {}  # person id → self._frames at _last_ns
        self._origin: np.ndarray | None = None
        # why the floor is still assumed, said once after window_s of poses (None: said, or not assumed)
        self._why_assumed: _WhyAssumed | None = None if floor is not None or not log_state else _WhyAssumed()
        self._why_said = False
        self._origin_ns = 0  # when the origin was placed: the first pose
        self._why_from_ns: int | None = None  # window_s of poses from here, why is said (None: the first pose)
        self._fixed = floor is not None
        # a given floor's check: person id → their ankles' heights above it; None once checked
        self._given_heights: dict[int, list[float]] | None = {} if floor is not None else None
        floor = floor or ASSUMED_FLOOR
        name = "calibrated" if self._fixed else "assumed"
        self._state = FloorState(name, floor, fl.camera_to_world(floor, _DEFAULT_ORIGIN), origin_placed=False)

    @property
    def state(self) -> FloorState:
        return self._state

    @property
    def origin_cam(self) -> np.ndarray | None:
        """The world's origin, before it is laid on the floor: the first root position seen
        (camera frame; ``None`` before)."""
        return self._origin

    def add(self, joints_cam: np.ndarray, timestamp_ns: int, feet_seen: bool = True, person_id: int = 0,
            height_m: float | None = None) -> FloorState:  # fmt: skip
        """Take one person's pose ``(17, 3)`` (camera frame, metres); returns the floor state.
        ``feet_seen``: both ankles were seen (:func:`~posecast.calibration.floor.feet_seen`); a
        pose without, or whose ankles are not below the body, places the world's origin, if it is
        the first, and says nothing of the floor (legs out of view are MediaPipe's guess; legs it
        folded up, its mistake). ``person_id``: whose pose (module docstring);
        ``height_m``: theirs (else the estimator's ``height_m``)."""
        joints = np.asarray(joints_cam, dtype=np.float64)
        self.advance(timestamp_ns)
        if not np.isfinite(joints).all():
            return self._state
        if self._origin is None:  # the world's origin: on the floor below the first root seen
            self._origin = joints[skeleton.ROOT].copy()
            self._origin_ns = timestamp_ns
            floor = self._state.floor
            self._state = FloorState(self._state.state, floor, fl.camera_to_world(floor, self._origin))
        height_m = self.height_m if height_m is None else height_m
        if (self._fixed and self._given_heights is None) or height_m is None or not fl.has_extent(joints):
            # (fixed, and checked if given: nothing more to learn from the feet; every joint at one
            # point: a damaged pose, which ended a replay's run. Tested in that order: a fixed floor,
            # every frame from 2 s on, returns first)
            return self._state
        self._take(joints, timestamp_ns, feet_seen, person_id, height_m)
        if self._why_assumed is not None:
            self._say_why_assumed(timestamp_ns)
        return self._state

    def advance(self, timestamp_ns: int) -> FloorState:
        """The stream's clock (once a frame, people seen or not; :meth:`add` calls it too): drops a
        provisional floor not confirmed whose person gave no pose with both feet below the body
        for :data:`UNCONFIRMED_HOLD_S` and :data:`UNCONFIRMED_HOLD_FRAMES` of the stream's frames,
        or at once when the clock goes back (a clip started again after ``pipeline.reset()``, a
        replay's next pass: the gap is unknown). Module docstring."""
        back = self._clock_ns is not None and timestamp_ns < self._clock_ns
        self._frames += self._clock_ns is None or timestamp_ns > self._clock_ns
        self._clock_ns = timestamp_ns
        if back and self._unconfirmed is not None:
            self._drop(timestamp_ns, "the stream's clock went back")
        while (
            (person_id := self._unconfirmed) is not None
            and self._frames - self._last_frame[person_id] >= UNCONFIRMED_HOLD_FRAMES
            and (timestamp_ns - self._last_ns[person_id]) * 1e-9 > UNCONFIRMED_HOLD_S
        ):
            # (frames too: under 2 fps each frame is over the hold after the last; and the floor
            # taken from the next person instead may be as stale)
            self._drop(timestamp_ns, f"none more in {UNCONFIRMED_HOLD_S:g} s")
        return self._state

    def _drop(self, timestamp_ns: int, reason: str) -> None:
        """Forget the poses of the unconfirmed provisional floor's person; the floor is the best-seen
        person's left, if any (QA: the one confirmed went to assumed until their next 5th pose),
        else assumed again."""
        person_id = self._unconfirmed
        poses, span_s = len(self._poses[person_id]), (self._last_ns[person_id] - self._first_ns[person_id]) * 1e-9
        for kept in (self._poses, self._first_ns, self._last_ns, self._last_frame, self._heights_m):
            kept.pop(person_id, None)
        self._unconfirmed = None
        dropped = self._state.floor
        self._state = FloorState("assumed", ASSUMED_FLOOR, fl.camera_to_world(ASSUMED_FLOOR, self._origin))
        if self._poses:
            best = max(self._poses, key=lambda p: len(self._poses[p]))
            floor = fl.estimate_floor(np.stack(self._poses[best]), self._heights_m[best], self.options)
            if not fl.tilt_limit_notice(floor, self.options):
                self._state = FloorState("estimating", floor, fl.camera_to_world(floor, self._origin))
                confirmed = _confirms(len(self._poses[best]), self._last_ns[best] - self._first_ns[best])
                self._unconfirmed = None if confirmed else best
        if self._state.state == "assumed" and self.log_state and not self._why_said:
            # why it stays assumed: said window_s of poses from here (a stray's floor had cleared it)
            self._why_assumed, self._why_from_ns = _WhyAssumed(), timestamp_ns
        if self.log_state and not self._said_dropped:
            self._said_dropped = True
            now = self._state.floor
            taken = (
                f"the floor is assumed again (a level camera {now.camera_height_m:g} m up)"
                if now is ASSUMED_FLOOR
                else f"the floor is person {best}'s again (camera {now.camera_height_m:.2f} m above it)"
            )
            log.info("the provisional floor (camera %.2f m above it, tilt %.1f deg) from %d pose%s of person %d "
                     "with both ankles seen below the body, over %.2f s, is dropped: %s, and %d over %g s confirm "
                     "one (stray poses?); %s", dropped.camera_height_m, dropped.tilt_deg, poses,
                     "" if poses == 1 else "s", person_id, span_s, reason, CONFIRM_POSES, CONFIRM_SPAN_S,
                     taken)  # fmt: skip

    def _take(self, joints: np.ndarray, timestamp_ns: int, feet_seen: bool, person_id: int, height_m: float) -> None:
        """:meth:`add`'s work on a pose that can tell of the floor."""
        why = self._why_assumed
        # legs out of view are MediaPipe's guess; legs it folded up (at her head, QA), or a camera
        # turned or a person not upright, say nothing of the floor either
        if not (feet_seen and fl.feet_below_body(joints)):
            if why is not None:
                why.folded += feet_seen
                why.unseen += not feet_seen
            if person_id == self._unconfirmed and (timestamp_ns - self._last_ns[person_id]) * 1e-9 > UNCONFIRMED_HOLD_S:
                # seen again, the feet not below the body (a stray: the body cut off at the chest); at
                # any frame rate, where the clock alone waits UNCONFIRMED_HOLD_FRAMES frames
                gap_s = (timestamp_ns - self._last_ns[person_id]) * 1e-9
                self._drop(timestamp_ns, f"seen again {gap_s:.2f} s on without them")
            return
        self._heights_m[person_id] = height_m
        first_ns = self._first_ns.setdefault(person_id, timestamp_ns)
        if self._fixed:
            self._check_given(joints, timestamp_ns, person_id)
            return
        poses = self._poses.setdefault(person_id, [])
        poses.append(joints)
        self._last_ns[person_id], self._last_frame[person_id] = timestamp_ns, self._frames
        if person_id == self._unconfirmed and _confirms(len(poses), timestamp_ns - first_ns):
            self._unconfirmed = None
        if why is not None:  # (still assumed when said: their floor was held)
            why.held += 1
        if poses is not max(self._poses.values(), key=len):  # the floor is the best-seen person's
            return
        done = (timestamp_ns - first_ns) * 1e-9 >= self.options.window_s
        if not done and len(poses) % _EVERY != 1:  # the provisional floor: every few poses
            return
        floor = fl.estimate_floor(np.stack(poses), height_m, self.options)
        if not done and fl.tilt_limit_notice(floor, self.options):
            # a provisional floor held at the limit: a camera turned further, whose floor is taken
            # (and said) once window_s of its poses are seen, or stray poses (QA: the dance blanked
            # below the shoulders, one pose 11.7 m away leaning back: a floor 6.19 m up, tilted
            # 34.8 degrees, for the rest of the clip); the floor stays as it was until then
            return
        self._why_assumed = None
        self._state = FloorState("estimated" if done else "estimating", floor, fl.camera_to_world(floor, self._origin))
        self._unconfirmed = None if done or _confirms(len(poses), timestamp_ns - first_ns) else person_id
        if done:
            if self.log_state:
                self._say_fixed(floor, len(poses), person_id, (timestamp_ns - first_ns) * 1e-9)
            self._fixed = True
            self._poses.clear()
            self._first_ns.clear()
            self._last_ns.clear()
            self._last_frame.clear()
            self._heights_m.clear()

    def _say_fixed(self, floor: fl.Floor, poses: int, person_id: int, span_s: float) -> None:
        """Say once that the floor is fixed, with its figures (a warning when it is held at its
        tilt limit)."""
        rough = fl.rough_floor_notice(poses)
        limit = fl.tilt_limit_notice(floor, self.options)  # (a camera looking down further than the limit)
        log.log(logging.WARNING if limit else logging.INFO, "floor estimated from %d poses of person %d over %.1f s: "
                "camera %.2f m above it, tilt %.1f deg, roll %.1f deg%s%s", poses, person_id, span_s,
                floor.camera_height_m, floor.tilt_deg, floor.roll_deg, f" ({rough})" if rough else "",
                f"; {limit}: pass --floor-camera HEIGHT,TILT[,ROLL] or --floor FILE" if limit else "")  # fmt: skip

    def _say_why_assumed(self, timestamp_ns: int) -> None:
        """Once the poses since the first span ``window_s`` and the floor is still assumed, say why,
        once (a run at a desk said nothing, its avatar's height a guess)."""
        span_s = (timestamp_ns - (self._origin_ns if self._why_from_ns is None else self._why_from_ns)) * 1e-9
        if span_s < self.options.window_s:
            return
        why, self._why_assumed, self._why_said = self._why_assumed, None, True
        assumed = f"the floor stays assumed (a level camera {ASSUMED_FLOOR.camera_height_m:g} m up)"
        given = "pass --floor-camera HEIGHT,TILT[,ROLL] or --floor FILE"
        if not why.folded and not why.held:
            log.info("%s: in %.1f s of poses none had both ankles seen (the legs out of view?), and the avatar's "
                     "height is a guess until they are; or %s", assumed, span_s, given)  # fmt: skip
            return
        parts = []
        if why.held:
            parts.append(f"{why.held} had both ankles seen below the body, but their floor is held at its "
                         f"{self.options.max_tilt_deg:g}-degree tilt limit, taken only once {self.options.window_s:g} "
                         "s of them are seen (a camera turned further, or stray poses)")  # fmt: skip
        if why.folded:
            parts.append(f"{why.folded} had both ankles seen but not below the body (under "
                         f"{fl.FEET_BELOW_PELVIS_LEGS:g} of the legs below the pelvis, or the head over "
                         f"{fl.MAX_BODY_ROLL_DEG:g} degrees off straight above the feet, in a level camera's view: the "
                         "2D detector folded the legs up, or the camera is turned, or the person is not "
                         "upright)")  # fmt: skip
        parts.append(f"{why.unseen} had them unseen")
        log.warning("%s: in %.1f s of poses, %s; %s", assumed, span_s, ", ".join(parts[:-1]) + " and " + parts[-1],
                    given)  # fmt: skip

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
        if abs(off_m) > GIVEN_FLOOR_TOLERANCE_M and self.log_state:
            log.warning("the given floor (%s) puts the standing feet %.2f m %s it: check the camera's height and "
                        "tilt (--floor-camera, or the --floor file), or leave them out to estimate the floor",
                        floor.source, abs(off_m), "below" if off_m < 0 else "above")  # fmt: skip


#: A change of floor reaches the people stood on it within this long, at an even pace (stream
#: clock, seconds). The limbs' 0.2 s would carry a floor found 0.67 m off (the squats shifted half
#: out of the image, on the assumed floor, QA) at 3.4 m/s, a fall, and at that clip's 5 fps in one
#: frame; over 1 s it goes at 0.67 m/s, slower than a person sits down, and the feet are on the new
#: floor a second after it is found.
FLOOR_EASE_S = 1.0


class FloorEase:
    """The camera→world transform the people are stood with: the floor's, and when the floor
    changes (``assumed`` to ``estimating``, each provisional floor, ``estimated``), from where
    they stand to it at an even pace (:func:`~posecast.calibration.floor.floor_between`), within
    ``ease_s``. A change while one eases goes on from where it is at the pace it had (faster where
    it would take longer than ``ease_s``): restarted over ``ease_s`` at each provisional floor (every
    5 poses), the people never quite reached the floor. The world's origin stays below the same
    point. ``update(floor_state, origin_cam, timestamp_ns)`` once a frame."""

    def __init__(self, ease_s: float = FLOOR_EASE_S) -> None:
        self.ease_s = ease_s
        self._target: FloorState | None = None
        self._start: fl.Floor | None = None  # the floor eased from (None: on the target)
        self._start_ns = 0
        self._duration_s = ease_s
        self._pace = (0.0, 0.0)  # the ease's camera height m/s and turn rad/s

    def update(self, target: FloorState, origin_cam: np.ndarray | None, timestamp_ns: int) -> np.ndarray:
        """The transform ``(4, 4)`` to stand this frame's people with (``origin_cam``: the
        :attr:`FloorEstimator.origin_cam` of ``target``)."""
        if self._target is None or not self._target.origin_placed or origin_cam is None or self.ease_s <= 0:
            self._target, self._start = target, None  # nobody stood on the last floor: this one at once
            return target.camera_to_world
        if target.floor is not self._target.floor:
            self._ease_to(target.floor, timestamp_ns)
        self._target = target
        floor = self._floor_at(timestamp_ns)
        if floor is target.floor:
            return target.camera_to_world
        transform = fl.camera_to_world(floor, origin_cam)
        transform.flags.writeable = False  # (handed out with the frame, as the floor's own)
        return transform

    def _ease_to(self, floor: fl.Floor, timestamp_ns: int) -> None:
        """Start easing from where the people stand now to ``floor``."""
        easing = self._start is not None and self._floor_at(timestamp_ns) is not self._target.floor
        start = self._floor_at(timestamp_ns)
        distances = (abs(floor.level_m - start.level_m), _angle(start.up_cam, floor.up_cam))
        duration_s = self.ease_s
        if easing:  # at the pace of the ease under way, arriving within ease_s all the same
            duration_s = max((min(self.ease_s, d / pace) if pace > 0 else (self.ease_s if d > 0 else 0.0))
                             for d, pace in zip(distances, self._pace, strict=True))  # fmt: skip
        self._start, self._start_ns, self._duration_s = start, timestamp_ns, duration_s
        self._pace = tuple(d / duration_s if duration_s > 0 else 0.0 for d in distances)

    def _floor_at(self, timestamp_ns: int) -> fl.Floor:
        if self._start is None or self._duration_s <= 0:
            self._start = None
            return self._target.floor
        done = (timestamp_ns - self._start_ns) * 1e-9 / self._duration_s
        if not 0.0 <= done < 1.0:  # (done; or a clock that went back: a replay's next pass)
            self._start = None
            return self._target.floor
        return fl.floor_between(self._start, self._target.floor, done)


def _confirms(poses: int, span_ns: int) -> bool:
    """Whether a person's ``poses`` with both feet below the body over ``span_ns`` confirm their
    provisional floor (:data:`CONFIRM_POSES`, :data:`CONFIRM_SPAN_S`)."""
    return poses >= CONFIRM_POSES and span_ns >= CONFIRM_SPAN_S * 1e9 - _CLOCK_SLACK_NS


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    """The angle between unit vectors ``a`` and ``b``, radians."""
    return float(np.arccos(np.clip(a @ b, -1.0, 1.0)))


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

"""Poses for avatars and engines: the camera-frame poses of a :class:`~posecast.realtime.types.
PoseFrame` stood on the floor, in the world frame, and as bone rotations.

:class:`AvatarWorld` (one per stream) keeps the floor (:class:`~posecast.calibration.ground.
FloorEstimator`: estimated from the feet over the first seconds in which both ankles are seen,
never from the standing legs MediaPipe guesses out of view; or calibrated) and each
person's filter and foot contacts, and turns every tracked person into an
:class:`AvatarPerson`: world joints (right-handed, y up, metres, origin on the floor below the
first root position; see :mod:`posecast.calibration.floor`), the root's height above the floor,
per-foot contact flags and the bone rotations of :mod:`posecast.engines.rotations`, made when
an output first reads them, on its thread. A knee's or elbow's twist carries from frame to
frame, so each person's frames are chained: reading a frame's rotations makes those of the
frames before it that nobody read first (at most :data:`MAX_UNREAD_FRAMES`), the same rotations
whichever output reads which frame when. The world pose is the published one through the
avatar One Euro filter (:data:`AVATAR_ONE_EURO`) with the person's own bone lengths kept; ``mirror``
(selfie views) reflects the world through its yz plane and swaps left and right
(:func:`posecast.engines.frames.mirror_joints`). Pure computation, no I/O; without the
rotations it costs about a tenth of a millisecond a person, so the pipeline runs it for every
output (the floor in the meta, root height and contacts in the poses) and the avatar outputs
(VMC, engine frames) share its result.

A limb the 2D detector does not see (:mod:`posecast.engines.limb_hold`: a joint outside the image
or near its edge, or scored under the lifting's ``min_joint_confidence``; an arm out at a side of a
webcam's view) keeps its last seen rotation in :attr:`AvatarPerson.bones` (an arm relaxes to rest,
hanging, when it stays out over 1 s or was never seen; a leg never seen follows the guess through a
1 s low-pass at 45 deg/s at most, bent to keep its ankle above the floor), and
eases back to the
lifted one over 0.2 s when seen again (``limb_hold``; the lifter's guess there swung the avatar's
arm 165 deg in a frame, QA); :attr:`AvatarPerson.posed_joints_world_m` are the joints so posed,
what ``frame_pose`` sends. Where a person's chain restarts (their id forgotten by the tracker, over
1 s unseen, and them back as someone new: the next person new takes on the limbs of the one
forgotten last; or more than :data:`MAX_UNREAD_FRAMES` frames unread) the limbs go on from those
last made for them (:func:`~posecast.engines.limb_hold.restarted`): an arm unseen then holds
until 1 s after it was lost and turns to rest over 0.5 s from where the avatar showed it, where it
was put at rest in one frame as if never seen (147 deg on the dance clip). The legs go on so only
in the same person's chain (frames unread): someone new starts with the legs never seen, following
their own guess, calmed, until seen, where they kept the seat of the person forgotten before them.

When the floor changes (found from the feet, each provisional floor, fixed) the people reach it
over :data:`~posecast.calibration.ground.FLOOR_EASE_S` (:class:`~posecast.calibration.ground.
FloorEase`): the avatar dropped 0.67 m in one frame when the squats' floor was found (QA).
"""

from __future__ import annotations

import dataclasses
import math
import threading
from dataclasses import dataclass, field

import numpy as np

from ..calibration import floor as fl
from ..calibration.ground import FloorEase, FloorEstimator, FloorState, FootContacts
from ..engines import face, frames, limb_hold, rotations, skeleton
from ..engines.limb_hold import LimbHoldOptions
from .lifting.smoothing import OneEuroFilter, OneEuroOptions
from .option_types import check_field_types
from .types import PersonPose, PoseFrame

#: The avatar outputs' One Euro filter on the world pose (root included), tuned for stillness
#: against added latency (README "Drive an avatar", ``tools/avatar_metrics.py``): at rest 0.5 Hz,
#: rising 4 Hz per m/s of joint speed. Measured (default model of 2026-12-04): a still person's
#: bone rotations jitter 0.13 deg/frame instead of 0.43 (real MediaPipe on a still webcam image)
#: for a median 24 ms of added pose latency; the pipeline's ``--one-euro`` (1.5 Hz, 0.5): 0.16
#: deg/frame, 49.5 ms.
AVATAR_ONE_EURO = OneEuroOptions(min_cutoff_hz=0.5, beta=4.0, d_cutoff_hz=1.0)
#: The ear line's length fed to the avatar filter, metres (a head's width: the filter's speed term
#: is in metres per second), whether it follows the face or, the face lost, the shoulders.
EAR_LINE_M = 0.15
#: A person's frames whose rotations nobody read, kept chained for the next read (about 2 s at
#: 30 fps: an output's thread that lags further starts the limbs' twists afresh; making them all
#: takes that thread about 85 ms). Without an output that reads rotations the chain restarts every
#: so many frames: nothing grows.
MAX_UNREAD_FRAMES = 64


@dataclass(frozen=True)
class AvatarOptions:
    """``mirror``: selfie mirror; ``floor``: a calibrated floor (``None``: estimate it);
    ``floor_options``: how the floor and contacts are found; ``one_euro``: the filter of the
    world pose (``None``: the published joints as they are); ``limb_hold``: how limbs the 2D
    detector does not see are held (:mod:`posecast.engines.limb_hold`; ``None``: they follow the
    lifted joints)."""

    mirror: bool = False
    floor: fl.Floor | None = None
    floor_options: fl.FloorOptions = field(default_factory=fl.FloorOptions)
    one_euro: OneEuroOptions | None = AVATAR_ONE_EURO
    limb_hold: LimbHoldOptions | None = field(default_factory=LimbHoldOptions)

    def __post_init__(self) -> None:
        check_field_types(self)  # (QA: mirror="no" mirrored)

    @classmethod
    def from_assumptions(cls, assumptions: dict) -> AvatarOptions:
        """The options a stream's meta ``assumptions`` state (:meth:`AvatarWorld.assumptions`):
        its ``mirror`` and, when its floor was calibrated, that floor (an estimated floor is
        estimated again: from the same poses at the same times it comes out the same)."""
        floor = assumptions.get("floor")
        calibrated = None
        if isinstance(floor, dict) and floor.get("state") == "calibrated" and "camera_to_world" in floor:
            calibrated = fl.floor_from_transform(np.asarray(floor["camera_to_world"]), str(floor.get("source", "")))
        return cls(mirror=bool(assumptions.get("mirror", False)), floor=calibrated)


@dataclass(frozen=True)
class LimbView:
    """A person's 2D in one frame, as the limb hold reads it: ``keypoints_px`` ``(17, 2)``,
    ``confidence`` ``(17,)`` in an image ``image_size`` (width, height), ``mirror``: the world
    mirrored (its left the person's right). Kept as it came and read only when the bones are made
    (an output that turns no bone pays nothing a frame)."""

    keypoints_px: np.ndarray
    confidence: np.ndarray
    image_size: tuple[int, int]
    options: LimbHoldOptions
    mirror: bool = False

    def bones_seen(self) -> np.ndarray:
        """``(8,)`` the limb bones seen (:func:`posecast.engines.limb_hold.limb_bones_seen`), in the world's sides."""
        seen = limb_hold.joints_seen(self.keypoints_px, self.confidence, self.image_size, self.options)
        return limb_hold.limb_bones_seen(seen[skeleton.MIRROR_ORDER] if self.mirror else seen)


@dataclass
class AvatarPerson:
    """One tracked person in the world frame: ``joints_world_m`` ``(17, 3)``; ``root_height_m``
    above the floor; ``foot_contact`` ``(2,)`` bool (left, right); :attr:`bones` the one-frame
    :class:`~posecast.engines.rotations.BonePose` (world axes) whose forward kinematics gives
    ``joints_world_m``, made when first read (about a millisecond; module docstring)."""

    person_id: int
    tracking: str
    joints_world_m: np.ndarray
    root_height_m: float
    foot_contact: np.ndarray
    #: ``(2,)`` bool (left, right): the ankles the 2D detector saw (an unseen one is its guess)
    ankles_seen: np.ndarray = field(default_factory=lambda: np.ones(2, bool))
    #: ``(3,)`` world axes: right ear → left ear, the head's twist (NaN: the face is not known)
    ear_line_world: np.ndarray = field(default_factory=lambda: np.full(3, np.nan))
    #: what the 2D detector saw of the limbs (``None``: no hold, the bones follow the joints), read
    #: only when the bones are made, and the frame's time
    limb_view: LimbView | None = None
    timestamp_ns: int = 0
    #: the same person's previous frame while this one's rotations are not made (it carries the
    #: twists), and the lock of that person's chain (one per person: an output making a long
    #: chain holds up neither the pipeline nor the other people)
    _previous: AvatarPerson | None = field(default=None, repr=False)
    _unread: int = field(default=0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _bones: rotations.BonePose | None = field(default=None, repr=False)
    _limbs: limb_hold.LimbHoldState | None = field(default=None, repr=False)
    _posed: np.ndarray | None = field(default=None, repr=False)
    #: what the person's avatar limbs were last given, under the chain's lock (``None``: no hold)
    _shown: _Shown | None = field(default=None, repr=False)

    @property
    def bones(self) -> rotations.BonePose:
        if self._bones is None:
            with self._lock:
                self._made_bones()
        return self._bones

    @property
    def posed_joints_world_m(self) -> np.ndarray:
        """``(17, 3)``: the joints of :attr:`bones` (forward kinematics): ``joints_world_m`` but
        for the limbs held out of view. Made once (VMC and ``frame_pose`` both read it)."""
        if self._posed is None:
            self._posed = self.bones.joints()[0]  # (two outputs at once may both make it: the same)
        return self._posed

    def _made_bones(self) -> rotations.BonePose:
        """(Under the chain's lock.) This frame's rotations, the unread frames before it first."""
        if self._bones is None:
            previous = None if self._previous is None else self._previous._made_bones()
            joints = self.joints_world_m[None]
            bones = rotations.joints_to_rotations(joints, skeleton.bone_lengths(joints)[0],
                                                  None if previous is None else previous.hinge_twists,
                                                  self.ear_line_world[None])  # fmt: skip
            if self.limb_view is not None:
                view, shown = self.limb_view, self._shown
                if self._previous is not None:
                    held = self._previous._limbs
                elif shown is not None and shown.limbs is not None and shown.timestamp_ns < self.timestamp_ns:
                    # a chain restarted: the legs kept where it is this person's (frames nobody read)
                    held = limb_hold.restarted(shown.limbs, self.timestamp_ns, view.options,
                                               keep_legs=shown.person_id == self.person_id)  # fmt: skip
                else:  # the person's first frame
                    held = None
                local, self._limbs = limb_hold.hold_limbs(bones.rotations[0], view.bones_seen(), self.timestamp_ns,
                                                          held, view.options, self.root_height_m,
                                                          bones.bone_lengths_m)  # fmt: skip
                if shown is not None and (shown.limbs is None or shown.timestamp_ns < self.timestamp_ns):
                    shown.limbs, shown.timestamp_ns, shown.person_id = self._limbs, self.timestamp_ns, self.person_id
                bones = dataclasses.replace(bones, rotations=local[None])
            self._bones = bones
            self._previous = None  # made: the chain before it is no longer needed
        return self._bones


@dataclass
class _Shown:
    """What a person's avatar limbs were last given: the limb hold's state of their newest frame
    made, its time and whose they are (module docstring: a restarted chain goes on from it)."""

    limbs: limb_hold.LimbHoldState | None = None
    timestamp_ns: int = 0
    person_id: int | None = None


@dataclass
class AvatarFrame:
    """The floor as it stands (as the meta states it) and every tracked person of one frame, in
    person-id order; ``camera_to_world`` ``(4, 4)``: the transform the people were stood with, the
    floor's or, for :data:`~posecast.calibration.ground.FLOOR_EASE_S` after it changed, on the way
    to it (``None``: the floor's)."""

    frame_id: int
    timestamp_ns: int
    floor: FloorState | None
    people: list[AvatarPerson]
    camera_to_world: np.ndarray | None = None


class AvatarWorld:
    """:class:`PoseFrame` → :class:`AvatarFrame` (module docstring); ``reset`` forgets the people
    but keeps the floor (it belongs to the camera). ``log_floor``: the log says when the floor is
    fixed or why it stays assumed (off where no output stands anyone on it: ``posecast bench``
    runs a world per configuration only to time it)."""

    def __init__(self, options: AvatarOptions | None = None, log_floor: bool = True) -> None:
        self.options = options or AvatarOptions()
        self.log_floor = log_floor
        self._floor: FloorEstimator | None = None
        if self.options.floor is not None:  # stated from the start
            self._floor = FloorEstimator(None, self.options.floor_options, self.options.floor, log_floor)
        # a new floor is eased into: it dropped the avatar 0.67 m in one frame (QA)
        self._floor_ease = FloorEase()
        self._contacts: dict[int, FootContacts] = {}
        self._filters: dict[int, OneEuroFilter] = {}
        self._ears: dict[int, _Ears] = {}  # the head's twist: each person's ear line, filtered and held
        self._last: dict[int, AvatarPerson] = {}  # each person's last frame: the next one's previous
        self._chain_locks: dict[int, threading.Lock] = {}  # outputs read rotations on their own threads
        self._shown: dict[int, _Shown] = {}  # each person's limbs as last made, for a chain that restarts
        # the chain lock and limbs shown of the person forgotten last, for the next one new (them back)
        self._forgotten: tuple[threading.Lock, _Shown] | None = None

    @property
    def floor(self) -> FloorState | None:
        """The floor so far (``None`` before the first tracked person)."""
        return None if self._floor is None else self._floor.state

    def reset(self) -> None:
        self._contacts.clear()
        self._filters.clear()
        self._ears.clear()
        self._last.clear()
        self._chain_locks.clear()
        self._shown.clear()
        self._forgotten = None

    def assumptions(self) -> dict[str, object]:
        """What a stream's meta states about the world: ``mirror`` and, once a person was seen,
        the ``floor`` (:meth:`~posecast.calibration.ground.FloorState.describe`)."""
        stated: dict[str, object] = {"mirror": self.options.mirror}
        if self.floor is not None:
            stated["floor"] = self.floor.describe()
        return stated

    def process(self, frame: PoseFrame) -> AvatarFrame:
        tracked = [p for p in frame.tracked if np.isfinite(p.joints_m).all()]
        if tracked and self._floor is None:
            self._floor = FloorEstimator(None, self.options.floor_options, self.options.floor, self.log_floor)
        if self._floor is not None:  # (a provisional floor not confirmed is dropped in time, people seen or not)
            self._floor.advance(frame.timestamp_ns)
        for person in tracked:  # legs out of view are MediaPipe's guess: no floor under them
            feet_seen = bool(fl.feet_seen(person.confidence))
            height_m = skeleton.height_from_bone_lengths(_lengths(person))  # each person's feet by their own size
            self._floor.add(person.joints_m, frame.timestamp_ns, feet_seen, person.person_id, height_m)
        state = self.floor
        stood = None if state is None else self._floor_ease.update(state, self._floor.origin_cam, frame.timestamp_ns)
        held = {p.person_id for p in frame.people}  # a frame missed (lost, id held) keeps the twists
        gone = sorted(set(self._last) - held)  # forgotten by the tracker: their chains end
        for person_id in gone:
            del self._last[person_id]
        # the limbs of the one shown last go on in the next person new (module docstring): forgotten
        # after a second or more unseen, someone back gets a new id, and their unseen arm was put
        # at rest in one frame from wherever their avatar had it (147 deg on the dance clip)
        ended = [(self._chain_locks.pop(i), self._shown.pop(i)) for i in gone if i in self._chain_locks]
        shown = [chain for chain in ended if chain[1].limbs is not None]
        if shown:
            self._forgotten = max(shown, key=lambda chain: chain[1].timestamp_ns)
        people = [self._person(p, stood, frame.timestamp_ns, frame.image_size) for p in tracked]
        for gone in set(self._contacts) - {p.person_id for p in tracked}:
            self._contacts.pop(gone, None)
            self._filters.pop(gone, None)
            self._ears.pop(gone, None)
        # chain each person's frames (module docstring), on this thread alone, before any output has
        # them: reading _bones unlocked can only count a frame being made as unread (a shorter chain)
        for person in people:
            previous = self._last.get(person.person_id)
            unread = 0 if previous is None or previous._bones is not None else previous._unread + 1
            if previous is not None and unread <= MAX_UNREAD_FRAMES:
                person._previous, person._unread = previous, unread
            self._last[person.person_id] = person
        return AvatarFrame(frame.frame_id, frame.timestamp_ns, state, people, stood)

    def _person(self, person: PersonPose, camera_to_world: np.ndarray, timestamp_ns: int,
                image_size: tuple[int, int]) -> AvatarPerson:  # fmt: skip
        joints = fl.to_world(person.joints_m, camera_to_world)
        lengths = _lengths(person)
        # (a person's filter and contacts are built once, not on every frame as setdefault would)
        if self.options.one_euro is not None:
            one_euro = self._filters.get(person.person_id)
            if one_euro is None:
                one_euro = self._filters[person.person_id] = OneEuroFilter(self.options.one_euro)
            # the person's own bone lengths again: a filter shortens bones a little in fast moves
            joints = skeleton.with_bone_lengths(one_euro.process(joints, timestamp_ns), lengths)
        ears = self._ear_line(person, joints, camera_to_world, timestamp_ns)
        if self.options.mirror:
            joints = frames.mirror_joints(joints)
            ears = ears * np.array([1.0, -1.0, -1.0])  # the mirror image's left ear is the right one reflected
        contacts = self._contacts.get(person.person_id)
        if contacts is None:
            ankle_height = skeleton.standing_ankle_height_m(lengths)
            contacts = self._contacts[person.person_id] = FootContacts(ankle_height, self.options.floor_options)
        # a foot the 2D detector did not see is MediaPipe's guess (legs out of view: standing, up to
        # 0.3 m through the floor): not on it (QA: flagged in contact, flickering)
        seen = fl.ankles_seen(person.confidence)
        if self.options.mirror:
            seen = seen[::-1]
        flags = contacts.update(joints[_ANKLES], timestamp_ns) & seen
        lock = self._chain_locks.get(person.person_id)
        if lock is None:  # someone new (not setdefault: that would make a lock every frame)
            lock, shown = self._forgotten or (threading.Lock(), _Shown())
            self._forgotten = None
            self._chain_locks[person.person_id], self._shown[person.person_id] = lock, shown
        hold = self.options.limb_hold
        view = None if hold is None else LimbView(person.keypoints_px, person.confidence, image_size, hold,
                                                  self.options.mirror)  # fmt: skip
        return AvatarPerson(person.person_id, person.tracking, joints, float(joints[skeleton.ROOT, 1]), flags,
                            seen, ears, view, timestamp_ns, _lock=lock,
                            _shown=self._shown[person.person_id])  # fmt: skip

    def _ear_line(self, person: PersonPose, joints_world: np.ndarray, camera_to_world: np.ndarray,
                  timestamp_ns: int) -> np.ndarray:  # fmt: skip
        """The person's right ear → left ear in the world's axes ``(3,)``, :data:`EAR_LINE_M` long,
        through the avatar filter as the joints are (unfiltered, a still person's head turned 0.17
        deg a frame against 0.04-0.11 for the other bones). A face not seen is held as last seen
        for up to :data:`~posecast.engines.face.FACE_HOLD_S` (a hand over it: the head snapped
        back to the neck's turn for one frame, review), then eased through the filter to the
        shoulder line of ``joints_world`` (``(17, 3)``; the neck's own turn to within 3 deg with
        the head tilted 20-25 deg: the head snapped 13-16 deg there and back, QA); NaN while the
        face was never seen (and, unfiltered, after the hold)."""
        ears = self._ears.get(person.person_id)
        if person.face_m is not None:
            target = fl.directions_to_world(face.ear_lines(person.face_m), camera_to_world)
            if ears is None:
                one_euro = None if self.options.one_euro is None else OneEuroFilter(self.options.one_euro)
                ears = self._ears[person.person_id] = _Ears(one_euro)
            ears.seen_line, ears.seen_ns = target, timestamp_ns
        elif ears is None:
            return np.full(3, np.nan)
        elif timestamp_ns - ears.seen_ns <= face.FACE_HOLD_S * 1e9:
            target = ears.seen_line
        elif ears.one_euro is not None:
            target = skeleton.girdle_line(joints_world)
        else:
            del self._ears[person.person_id]
            return np.full(3, np.nan)
        target = EAR_LINE_M * target / max(math.sqrt(float(target @ target)), 1e-9)  # one length, whichever it follows
        ears.line = target if ears.one_euro is None else ears.one_euro.process(target, timestamp_ns)
        return ears.line


@dataclass
class _Ears:
    """One person's ear line (world axes) as sent, as last seen and when, and its filter (``None``:
    unfiltered)."""

    one_euro: OneEuroFilter | None
    line: np.ndarray = field(default_factory=lambda: np.full(3, np.nan))
    seen_line: np.ndarray = field(default_factory=lambda: np.full(3, np.nan))
    seen_ns: int = 0


_ANKLES = list(fl.ANKLES)


def _lengths(person: PersonPose) -> np.ndarray:
    """The bone lengths the person's joints were built with (the smoother's), else measured."""
    if person.bone_lengths_m is not None:
        return np.asarray(person.bone_lengths_m, dtype=np.float64)
    return skeleton.bone_lengths(np.asarray(person.joints_m, dtype=np.float64))


def pose_fields(world: AvatarFrame | None, person_id: int, frame: frames.Frame | str | None = None,
                signs: rotations.SignContinuity | None = None) -> dict:  # fmt: skip
    """The avatar world's fields of one person's pose message (empty when the person is not in
    ``world``): ``root_height_m``, ``foot_contact`` ``[left, right]`` and, with an output
    ``frame`` (a :class:`~posecast.engines.frames.Frame` or a name of
    :data:`~posecast.engines.frames.FRAME_NAMES`), ``frame_pose``: the world pose in that frame's
    axes and units, ``joints`` ``17 × 3`` and ``rotations`` ``17 × [x, y, z, w]`` (the root's in
    the frame, every other bone's relative to its parent bone; :mod:`posecast.engines.rotations`),
    each in the hemisphere of the person's last ones when the output keeps its ``signs``."""
    person = None if world is None else next((p for p in world.people if p.person_id == person_id), None)
    if person is None:
        return {}
    contacts = np.asarray(person.foot_contact, bool).tolist()  # plain bools
    fields: dict = {"root_height_m": person.root_height_m, "foot_contact": contacts}
    if frame is not None:
        if isinstance(frame, str):
            stood = world.camera_to_world  # (the people's, on the way to a new floor)
            if stood is None and world.floor is not None:
                stood = world.floor.camera_to_world
            frame = frames.get_frame(frame, stood)
        quats = frames.bone_pose_to_frame(person.bones, frame).rotations[0]
        if signs is not None:
            quats = signs(person_id, quats)
        fields["frame_pose"] = {
            "frame": frame.name,
            "units": frame.units,
            "joints": np.asarray(frames.positions_to_frame(person.posed_joints_world_m, frame), np.float32).tolist(),
            "rotations": np.asarray(quats, np.float32).tolist(),
        }
    return fields

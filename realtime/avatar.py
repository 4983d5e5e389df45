"""Poses for avatars: the camera-frame poses of a :class:`~posecast.realtime.types.PoseFrame`
stood on the floor, in the world frame, as bone rotations.

:class:`AvatarWorld` (one per stream) keeps the floor (:class:`~posecast.calibration.ground.
FloorEstimator`: estimated from the feet over the first seconds, or calibrated) and each
person's foot contacts, and turns every tracked person into an :class:`AvatarPerson`: world
joints (right-handed, y up, metres, origin on the floor below the first root position; see
:mod:`posecast.calibration.floor`), the root's height above the floor, per-foot contact flags
and the bone rotations of :mod:`posecast.engines.rotations` with the person's bone lengths.
``mirror`` (selfie views) reflects the world through its yz plane and swaps left and right
(:func:`posecast.engines.frames.mirror_joints`). Pure computation, no I/O: the avatar sinks
(VMC, ...) and the engine frames of other outputs share it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..calibration import floor as fl
from ..calibration.ground import FloorEstimator, FloorState, FootContacts
from ..engines import frames, rotations, skeleton
from .lifting.smoothing import OneEuroFilter, OneEuroOptions
from .types import PoseFrame

#: The avatar outputs' One Euro filter on the world pose (root included), tuned for stillness
#: against added latency (README "Drive an avatar"): at rest 0.5 Hz, rising 2 Hz per m/s of
#: joint speed. Measured: a still person's bone rotations jitter 0.06 deg/frame instead of 0.41
#: (real MediaPipe on a still webcam image), for a median 31 ms of added pose latency.
AVATAR_ONE_EURO = OneEuroOptions(min_cutoff_hz=0.5, beta=2.0, d_cutoff_hz=1.0)


@dataclass(frozen=True)
class AvatarOptions:
    """``mirror``: selfie mirror; ``floor``: a calibrated floor (``None``: estimate it);
    ``floor_options``: how the floor and contacts are found; ``one_euro``: the filter of the
    world pose (``None``: none)."""

    mirror: bool = False
    floor: fl.Floor | None = None
    floor_options: fl.FloorOptions = field(default_factory=fl.FloorOptions)
    one_euro: OneEuroOptions | None = AVATAR_ONE_EURO


@dataclass
class AvatarPerson:
    """One tracked person in the world frame: ``joints_world_m`` ``(17, 3)``; ``root_height_m``
    above the floor; ``foot_contact`` ``(2,)`` bool (left, right); ``bones`` the one-frame
    :class:`~posecast.engines.rotations.BonePose` (world axes) whose forward kinematics gives
    ``joints_world_m``."""

    person_id: int
    tracking: str
    joints_world_m: np.ndarray
    root_height_m: float
    foot_contact: np.ndarray
    bones: rotations.BonePose


@dataclass
class AvatarFrame:
    """The floor as it stands and every tracked person of one frame, in person-id order."""

    frame_id: int
    timestamp_ns: int
    floor: FloorState
    people: list[AvatarPerson]


class AvatarWorld:
    """:class:`PoseFrame` → :class:`AvatarFrame` (module docstring); ``reset`` forgets the people
    but keeps the floor (it belongs to the camera)."""

    def __init__(self, options: AvatarOptions | None = None) -> None:
        self.options = options or AvatarOptions()
        self._floor: FloorEstimator | None = None
        self._contacts: dict[int, FootContacts] = {}
        self._filters: dict[int, OneEuroFilter] = {}

    @property
    def floor(self) -> FloorState | None:
        """The floor so far (``None`` before the first tracked person)."""
        return None if self._floor is None else self._floor.state

    def reset(self) -> None:
        self._contacts.clear()
        self._filters.clear()

    def process(self, frame: PoseFrame) -> AvatarFrame:
        tracked = [p for p in frame.tracked if p.joints_m is not None and np.isfinite(p.joints_m).all()]
        if self._floor is None and tracked:
            height = skeleton.height_from_bone_lengths(_lengths(tracked[0]))
            self._floor = FloorEstimator(height, self.options.floor_options, self.options.floor)
        if self._floor is None:
            return AvatarFrame(frame.frame_id, frame.timestamp_ns, FloorEstimator(1.7).state, [])
        for person in tracked:
            self._floor.add(person.joints_m, frame.timestamp_ns)
        state = self._floor.state
        people = [self._person(p, state, frame.timestamp_ns) for p in tracked]
        for gone in set(self._contacts) - {p.person_id for p in tracked}:
            self._contacts.pop(gone, None)
            self._filters.pop(gone, None)
        return AvatarFrame(frame.frame_id, frame.timestamp_ns, state, people)

    def _person(self, person, state: FloorState, timestamp_ns: int) -> AvatarPerson:  # noqa: ANN001 - PersonPose
        joints = fl.to_world(person.joints_m, state.camera_to_world)
        if self.options.one_euro is None:
            lengths = skeleton.bone_lengths(joints)  # exactly the joints given
        else:
            one_euro = self._filters.setdefault(person.person_id, OneEuroFilter(self.options.one_euro))
            joints = one_euro.process(joints, timestamp_ns)
            lengths = _lengths(person)  # the person's own bones again (a filter shortens them in fast moves)
        bones = rotations.joints_to_rotations(joints[None], lengths)
        if self.options.mirror:
            bones = frames.mirror_bone_pose(bones)
        joints = bones.joints()[0]
        ankle_height = fl.ANKLE_HEIGHT_FRACTION * skeleton.height_from_bone_lengths(_lengths(person))
        contacts = self._contacts.setdefault(person.person_id, FootContacts(ankle_height, self.options.floor_options))
        flags = contacts.update(joints[list(fl.ANKLES)], timestamp_ns)
        return AvatarPerson(person.person_id, person.tracking, joints, float(joints[skeleton.ROOT, 1]), flags, bones)


def _lengths(person) -> np.ndarray:  # noqa: ANN001 - PersonPose
    """The bone lengths the person's joints were built with (the smoother's), else measured."""
    if person.bone_lengths_m is not None:
        return np.asarray(person.bone_lengths_m, dtype=np.float64)
    return skeleton.bone_lengths(np.asarray(person.joints_m, dtype=np.float64))

"""The lifting stage: 2D detections → metric 3D per tracked person, everybody in one network call.

Per frame (:meth:`MetricPoseLifting.process`):

1. ``window``: map the detector's layout to the 17 joints, track (person ids), undistort
   (calibrated cameras), normalise with the intrinsics
   (:func:`posecast.engines.normalize.normalize_pixels`), push into each person's causal window.
2. ``lift``: one batched call of the exported networks for every person seen.
3. ``smooth``: per person, bone-length smoothing makes the pose metric from the subject's
   height or profile (without a profile, with the lengths that live subject calibration,
   :mod:`.live_subject`, measures from the person's first seconds and again later), a knee bent backwards is
   mirrored to bend forwards (:mod:`posecast.engines.joint_limits`), the optional One Euro
   filter, and the root placed from the focal length and the 2D
   (:func:`posecast.engines.camera.solve_root_translation`).

Tracking policy: a person not seen in a frame is ``lost`` in that frame (no pose is made up),
but their state is held: the tracker keeps their id for ``tracker.max_lost_s``
(re-identification), a dropout of up to ``max_gap_s`` is bridged by the window (the next pose
is ``tracking`` again at once), after a longer one the window restarts (``warming``) and the
bone lengths are kept for the same id. A person whose root cannot be placed, or whose pose
fails the plausibility gate of :mod:`.plausibility` (counted in ``implausible_poses``, logged
once), is ``lost`` too, and their window, bone estimate and filter are reset: that frame's 2D is
not to be trusted. A person whose 2D the detector collapsed onto the shoulders (:mod:`.collapse`)
is ``lost`` from that frame until ``collapse_hold_s`` after the last such frame, their state held
as in a dropout (counted in ``collapsed_frames``, logged once). Until the window spans the
model's whole window time the state is ``warming`` (joints valid, from a partly padded window).
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...calibration import (
    DEFAULT_HEIGHT_M,
    DEFAULT_HFOV_DEG,
    CameraIntrinsics,
    SubjectProfile,
    load_intrinsics,
    load_subject,
)
from ...calibration.errors import CalibrationError
from ...calibration.intrinsics import ASSUMED_HFOV_DEG
from ...engines import normalize, skeleton
from ...engines.face import HEAD_RADIUS_M, face_seen, placed_face
from ...engines.joint_limits import MAX_BACKWARD_DEG
from ...engines.logs import counted
from ...engines.runtime.base import model_label
from ...engines.window_slots import MAX_BRIDGED_GAP_S
from ..errors import OptionsError
from ..option_types import check_field_types
from ..stages import PoseLifting
from ..types import Detections2D, PersonPose
from .collapse import HOLD_S as COLLAPSE_HOLD_S
from .lifter import Lifter3D, LifterOptions
from .live_subject import LiveSubjectOptions
from .person import MetricPose, PersonState
from .plausibility import PlausibilityOptions, implausibility
from .smoothing import BoneLengthSmootherOptions, OneEuroOptions
from .tracks import Tracker, TrackerOptions, duplicate_detections, keypoint_boxes

log = logging.getLogger(__name__)

#: The intrinsics lines logged at INFO so far in this process (the same line again goes to DEBUG).
_LOGGED_INTRINSICS: set[str] = set()


@dataclass
class LiftingOptions:
    """``intrinsics_path``: a camera file (else intrinsics are assumed from ``hfov_deg``, 10..170);
    ``fixed_intrinsics``: fx, fy, cx, cy in pixels for any image (``posecast lift``);
    ``height_m`` (0.5..2.8; ``None``: 1.70, flagged as assumed) or ``subject_path``;
    ``min_joint_confidence``: joints below it get no weight when placing the root;
    ``max_gap_s``: a longer gap between a person's frames restarts their window (``None``: never;
    shorter dropouts are bridged);
    ``plausibility``: the limits beyond which a pose is published as ``lost``;
    ``max_knee_backward_deg``: a knee bent backwards by more is mirrored in depth to bend
    forwards (:mod:`posecast.engines.joint_limits`; ``None``: off);
    ``collapse_hold_s``: a person whose 2D the detector collapsed onto the shoulders is not lifted
    (``lost``, held as a dropout) until this many seconds have passed without such a frame
    (:mod:`.collapse`; ``None``: off);
    ``live_subject``: without a subject file, measure each person's bone lengths from their first
    seconds as ``calibrate subject`` does, and again later (:mod:`.live_subject`; ``None``: the
    smoother's own)."""

    lifter: LifterOptions = field(default_factory=LifterOptions)
    intrinsics_path: str | Path | None = None
    fixed_intrinsics: tuple[float, float, float, float] | None = None
    hfov_deg: float = DEFAULT_HFOV_DEG
    height_m: float | None = None
    subject_path: str | Path | None = None
    one_euro: OneEuroOptions | None = None
    min_joint_confidence: float = 0.3
    max_gap_s: float | None = MAX_BRIDGED_GAP_S
    tracker: TrackerOptions = field(default_factory=TrackerOptions)
    plausibility: PlausibilityOptions = field(default_factory=PlausibilityOptions)
    max_knee_backward_deg: float | None = MAX_BACKWARD_DEG
    collapse_hold_s: float | None = COLLAPSE_HOLD_S
    live_subject: LiveSubjectOptions | None = field(default_factory=LiveSubjectOptions)

    def __post_init__(self) -> None:
        check_field_types(self)  # (QA: hfov_deg="60" was a TypeError from the comparison below)
        if self.max_gap_s is not None and not self.max_gap_s >= 0:  # (QA: failed at the first frame)
            raise OptionsError(f"max_gap_s must be 0 or more seconds, or None, got {self.max_gap_s}")
        low, high = ASSUMED_HFOV_DEG
        if not low <= self.hfov_deg <= high:
            raise OptionsError(f"--hfov (LiftingOptions.hfov_deg) must be between {low:g} and {high:g} degrees, "
                               f"got {self.hfov_deg}")  # fmt: skip
        if self.height_m is not None and not skeleton.height_in_range(self.height_m):
            low, high = skeleton.HEIGHT_RANGE_M
            raise OptionsError(f"--subject-height (LiftingOptions.height_m) must be in metres from {low} to {high}, "
                               f"got {self.height_m}")  # fmt: skip
        if self.height_m is not None and self.subject_path is not None:
            raise OptionsError("give either a height or a subject file, not both")
        if not 0.0 <= self.min_joint_confidence <= 1.0:
            raise OptionsError(f"min_joint_confidence must be between 0 and 1, got {self.min_joint_confidence}")
        if self.collapse_hold_s is not None and not 0.0 <= self.collapse_hold_s < math.inf:
            raise OptionsError(f"collapse_hold_s must be 0 or more seconds, or None, got {self.collapse_hold_s}")
        limit = self.max_knee_backward_deg
        if limit is not None and not 0.0 <= limit < 90.0:
            raise OptionsError(f"max_knee_backward_deg must be from 0 to 90 degrees, got {limit}")
        k = self.fixed_intrinsics
        if k is not None and not (len(k) == 4 and all(math.isfinite(v) for v in k) and k[0] > 0 and k[1] > 0):
            raise OptionsError(f"intrinsics must be 4 finite numbers fx, fy, cx, cy with fx, fy > 0, got {k}")


class MetricPoseLifting(PoseLifting):
    """The :class:`PoseLifting` of posecast's networks (see the module docstring).

    The constructor loads the networks (raises :class:`~posecast.engines.errors.ModelError` or
    ``BackendError``) and the camera and subject files (``CalibrationError``).
    """

    name = "metric"

    def __init__(self, options: LiftingOptions | None = None) -> None:
        # a copy: the caller's options changed later must not change a built stage (API QA: hfov_deg
        # set after the build moved joints by metres, with nothing said)
        self.options = o = copy.deepcopy(options) if options is not None else LiftingOptions()
        self._intrinsics_file = load_intrinsics(o.intrinsics_path) if o.intrinsics_path else None
        if o.subject_path is not None:
            self.subject = load_subject(o.subject_path)
            self._smoother = BoneLengthSmootherOptions(
                tuple(self.subject.as_array()), self.subject.height_m, fixed_lengths=True
            )
        else:
            self.subject = SubjectProfile.from_height(o.height_m or DEFAULT_HEIGHT_M, assumed=o.height_m is None)
            self._smoother = BoneLengthSmootherOptions.from_height(self.subject.height_m)
        self._live_subject = None if self._smoother.fixed_lengths else o.live_subject  # a subject file's are kept
        self.lifter = Lifter3D(o.lifter)
        self._model_label = model_label(o.lifter.model_path)  # once: the file may move while it runs
        self._model_fps = self.lifter.metadata.frame_rate_hz
        self.tracker = Tracker(o.tracker)
        self.states: dict[int, PersonState] = {}
        self._batch = np.zeros((o.tracker.max_people, self.lifter.window_frames, skeleton.NUM_JOINTS, 2), np.float32)
        self._intrinsics: CameraIntrinsics | None = None
        self._undistort = False
        self._image_size: tuple[int, int] | None = None
        self._k = np.asarray(o.fixed_intrinsics, np.float64) if o.fixed_intrinsics is not None else np.zeros(4)
        #: Poses the plausibility gate turned into ``lost`` (the first is logged with its reason).
        self.implausible_poses = 0
        self._reported = False
        #: Frames of a person held as lost because their 2D collapsed (:mod:`.collapse`; the first is logged).
        self.collapsed_frames = 0
        #: Detections dropped for a keypoint position that is not a finite number (the first is logged).
        self.non_finite_detections = 0
        #: whether a person looked turned round in the image (said once a run: lifting/upright.py)
        self.turned_said = False

    @property
    def max_people(self) -> int:
        return self.options.tracker.max_people

    @property
    def intrinsics(self) -> CameraIntrinsics | None:
        return self._intrinsics

    @property
    def intrinsics_k(self) -> np.ndarray:
        """``(fx, fy, cx, cy)`` in pixels that the 2D is normalised with (zeros before the first
        frame, unless fixed)."""
        return self._k.copy()

    @property
    def window_frames(self) -> int:
        return self.lifter.window_frames

    def _set_image_size(self, width: int, height: int) -> None:
        self._image_size = (width, height)
        if self.options.fixed_intrinsics is not None:
            return
        if self._intrinsics_file is not None:
            k = self._intrinsics_file
            try:
                self._intrinsics = k if (k.width, k.height) == (width, height) else k.rescaled(width, height)
            except CalibrationError as exc:  # the file named (QA: which camera file did not fit was not said)
                raise CalibrationError(f"{self.options.intrinsics_path}: {exc}") from None
        else:
            self._intrinsics = CameraIntrinsics.from_hfov(self.options.hfov_deg, width, height)
        self._k = self._intrinsics.as_array()
        self._undistort = self._intrinsics.has_distortion
        k = self._intrinsics
        source = f" (assumed: {k.source})" if k.assumed else f" ({k.source})" if k.source else ""
        line = (f"intrinsics: {width}x{height} fx={k.fx:.1f} fy={k.fy:.1f}{source}; subject height "
                f"{self.subject.height_m:.2f} m{' (assumed)' if self.subject.assumed else ''}")  # fmt: skip
        # once per process and line: an image folder of mixed sizes changes size at every frame,
        # and `posecast bench` builds a lifting stage per configuration on the same frames
        log.log(logging.DEBUG if line in _LOGGED_INTRINSICS else logging.INFO, "%s", line)
        _LOGGED_INTRINSICS.add(line)

    def assumptions(self) -> dict:
        k, meta = self._intrinsics, self.lifter.metadata
        out = {
            "height_m": self.subject.height_m,
            "height_assumed": self.subject.assumed,
            "subject_source": self.subject.source or ("default" if self.subject.assumed else "height"),
            "live_subject_calibration_s": None if self._live_subject is None else self._live_subject.after_s,
            "live_subject_again_at_s": None if self._live_subject is None else list(self._live_subject.again_at_s),
            "subject_file": None if self.options.subject_path is None else str(self.options.subject_path),
            "flip_average": self.options.lifter.flip_average,
            "max_knee_backward_deg": self.options.max_knee_backward_deg,
            "one_euro": self.options.one_euro is not None,
            "model": self._model_label,  # a shipped model's name, else the file's name
            "int8": bool(getattr(self.lifter.backend, "int8", False)),  # its INT8 copy ran
            "model_kind": meta.model_kind,
            "window_frames": meta.window_frames,
            "model_commit": meta.git_commit,
            "backend": self.lifter.backend.name,
        }
        if k is not None:
            out.update(
                intrinsics_assumed=k.assumed, intrinsics_source=k.source, fx=k.fx, fy=k.fy, cx=k.cx, cy=k.cy,
                image_width=k.width, image_height=k.height,
            )  # fmt: skip
            if k.assumed:  # the field of view these intrinsics assume (a camera file may assume another)
                out["hfov_deg"] = round(k.hfov_deg, 6)
        return out

    def process(
        self, detections: Detections2D, timestamp_ns: int, stage_ns: dict[str, int] | None = None
    ) -> list[PersonPose]:
        t0 = time.perf_counter_ns()
        if detections.image_size != self._image_size:
            self._set_image_size(*detections.image_size)
        if not np.isfinite(detections.keypoints_px).all():  # (QA: one NaN lost the person in every frame, silently)
            detections = self._without_non_finite(detections)
        n = detections.count
        # pixels and scores mapped to the 17 joints in one go: (N, 17, 3) → (N, 17, 2) and (N, 17)
        mapped = detections.layout.to_posecast(np.concatenate([detections.keypoints_px,
                                                               detections.scores[..., None]], axis=-1))  # fmt: skip
        # the schema promises [0, 1]; a detector's NaN or 2.0 must not reach the weights or the wire
        # (fmax puts NaN at 0: clip(nan_to_num(c), 0, 1) in two ufunc calls, ~100 us less after MediaPipe)
        keypoints_px, confidence = mapped[..., :2], np.minimum(np.fmax(mapped[..., 2], 0.0), 1.0)
        track_ids, rows = detections.track_ids, range(n)  # rows: each person's in ``detections``
        detected_px, scores = detections.keypoints_px, detections.scores
        unseen = ~(confidence >= self.options.min_joint_confidence).any(axis=1)
        if unseen.any():  # no joint to place them by: not seen this frame, as a frame without them is (their
            # window bridged; numerics QA: such a frame reset the window and the bones, one in four kept a
            # person warming for good)
            keep = np.flatnonzero(~unseen)
            keypoints_px, confidence, detected_px, scores = keypoints_px[keep], confidence[keep], \
                detected_px[keep], scores[keep]  # fmt: skip
            track_ids, rows, n = None if track_ids is None else track_ids[keep], keep, len(keep)
        if self.tracker.options.max_people == 1 and n > 1:  # a detector that gave more than asked: its best
            # (review: each was published with an id of its own; before, the first alone was lifted)
            best = slice(k := int(np.argmax(scores.mean(axis=1))), k + 1)
            keypoints_px, confidence, detected_px, scores = keypoints_px[best], confidence[best], detected_px[best], \
                scores[best]  # fmt: skip
            track_ids, rows, n = None if track_ids is None else track_ids[best], [rows[k]], 1
        boxes = keypoint_boxes(detected_px, scores, self.options.tracker.min_score)
        if self.tracker.options.max_people > 1:
            duplicate = duplicate_detections(boxes, detected_px, scores)
            if duplicate.any():  # one person found twice: the better one stays
                keep = ~duplicate
                boxes, keypoints_px, confidence = boxes[keep], keypoints_px[keep], confidence[keep]
                track_ids = None if track_ids is None else track_ids[keep]
                rows = np.asarray(rows)[keep]
                n = len(boxes)
        # in fractions of the image's longer side: the same person in an image of another size (a
        # folder of mixed sizes) is where they were (CI: with one person asked for, every change of
        # size gave them a new id)
        ids = self.tracker.update(boxes / max(*detections.image_size, 1), timestamp_ns, track_ids)
        if n > len(self._batch):
            self._batch = np.zeros((n, *self._batch.shape[1:]), np.float32)
        keypoints_norm, lifted_rows = [], []  # lifted_rows: the people lifted, in the batch's order (k)
        people: dict[int, PersonPose] = {}
        for k, person_id in enumerate(ids):
            pixels = keypoints_px[k].astype(np.float64)
            if self._undistort:
                pixels = self._intrinsics.undistort_pixels(pixels)
            keypoints_norm.append(normalize.normalize_pixels(pixels, self._k))
            state = self._state(person_id)
            if state.collapse is not None and self._held(state, keypoints_norm[k], confidence[k], timestamp_ns):
                people[person_id] = PersonPose.lost(person_id)  # not lifted: the state held, as in a dropout
                continue
            self._batch[len(lifted_rows)] = state.push(keypoints_norm[k], timestamp_ns).window
            lifted_rows.append(k)
        t1 = time.perf_counter_ns()
        lifted = self.lifter.process(self._batch[: len(lifted_rows)]) if lifted_rows else None
        t2 = time.perf_counter_ns()
        for row, k in enumerate(lifted_rows):
            person_id = ids[k]
            state = self.states[person_id]
            pose = state.finish(lifted.joints_rel[row], keypoints_norm[k], confidence[k], timestamp_ns,
                                self.options.min_joint_confidence)  # fmt: skip
            joints_m = None if pose is None else pose.joints_rel_m + pose.root_m
            if pose is not None and self._implausible(pose, joints_m, keypoints_norm[k], confidence[k]):
                pose = None
            if pose is None:  # the root cannot be placed, or the pose is absurd: forget what it fed in
                state.reset()
                people[person_id] = PersonPose.lost(person_id)
                continue
            state.accept(lifted.joints_rel[row], keypoints_norm[k], confidence[k], timestamp_ns)
            if not state.upright.done and (notice := state.upright.observe(keypoints_px[k], confidence[k])):
                if not self.turned_said:  # once a run: one turned video turns everyone in it
                    log.warning("%s", notice)
                self.turned_said = True
            people[person_id] = PersonPose(
                person_id, pose.state, keypoints_px[k], confidence[k], joints_m=joints_m,
                joints_rel_m=pose.joints_rel_m, root_m=pose.root_m, bone_lengths_m=pose.bone_lengths_m,
                scale=float(lifted.scale[row]), joints_lifted=lifted.joints_rel[row], keypoints_norm=keypoints_norm[k],
                face_m=self._face(detections, rows[k], joints_m[skeleton.HEAD], keypoints_norm[k][skeleton.ROOT]),
            )  # fmt: skip
        if len(self.tracker.tracks) > len(ids):  # someone remembered but not seen: lost now, state held
            for person_id in self.tracker.lost():
                people[person_id] = PersonPose.lost(person_id)
        if len(self.states) > len(self.tracker.tracks):  # someone forgotten: the id is never used again
            for person_id in [pid for pid in self.states if pid not in self.tracker.tracks]:
                del self.states[person_id]
        if stage_ns is not None:
            stage_ns.update(window=t1 - t0, lift=t2 - t1, smooth=time.perf_counter_ns() - t2)
        return [people[pid] for pid in sorted(people)] if len(people) > 1 else list(people.values())

    def _face(self, detections: Detections2D, row: int, head_m: np.ndarray, root_norm: np.ndarray) -> np.ndarray | None:
        """The detector's 3D face points of ``detections``' person ``row`` at ``head_m``, or ``None``
        (no 3D landmarks, a layout without a face, the face not seen or not a head's size: the
        ear line is the head's twist, :mod:`posecast.engines.face`). MediaPipe's world landmarks
        are in the person's view, as if the camera looked at them (``root_norm``, the pelvis's
        normalised 2D): turned into the camera's axes as the lifted joints are (QA: the same
        person at the image's left, centre and right had the head turned 28, 7 and -11 deg)."""
        face = detections.layout.face
        if detections.world_m is None or face is None:
            return None
        margin_px = HEAD_RADIUS_M * float(self._k[0]) / max(float(head_m[2]), 1e-3)  # the head's radius at its depth
        if not face_seen(detections.scores[row], detections.keypoints_px[row], detections.image_size, margin_px, face):
            return None
        return placed_face(detections.world_m[row, list(face)], normalize.camera_axes_matrix(root_norm), head_m)

    def _held(self, state: PersonState, keypoints_norm: np.ndarray, confidence: np.ndarray, timestamp_ns: int) -> bool:
        """Whether the person's 2D collapsed onto the shoulders this frame or less than the hold
        before (:mod:`.collapse`): counted in ``collapsed_frames``, the first logged."""
        if not state.collapse.held(keypoints_norm, confidence >= self.options.min_joint_confidence, timestamp_ns):
            return False
        if not self.collapsed_frames:
            log.warning("the 2D detector drew a person's skeleton collapsed onto the shoulders (the hips and head "
                        "on the shoulder line, every joint within 1.2 shoulder widths of it), as MediaPipe does with "
                        "the body below the chest out of sight: such frames, and every frame until %g s after the "
                        "last of them, are given as lost, not lifted metres away; later ones are counted, not logged",
                        state.collapse.hold_s)  # fmt: skip
        self.collapsed_frames += 1
        return True

    def _implausible(self, pose: MetricPose, joints_m: np.ndarray, keypoints_norm: np.ndarray,
                     confidence: np.ndarray) -> bool:  # fmt: skip
        seen = confidence >= self.options.min_joint_confidence
        reason = implausibility(joints_m, pose.root_m, keypoints_norm, seen,
                                pose.bone_lengths_m, self.options.plausibility)  # fmt: skip
        if reason is None:
            return False
        if not self.implausible_poses:
            log.warning("an implausible pose was given as lost (%s); later ones are counted, not logged", reason)
        self.implausible_poses += 1
        return True

    def _state(self, person_id: int) -> PersonState:
        if person_id not in self.states:
            o = self.options
            who = f" (person {person_id})" if self.tracker.options.max_people > 1 else ""  # whose log lines
            self.states[person_id] = PersonState(self.lifter.window_frames, self._smoother, o.one_euro, o.max_gap_s,
                                                 self._model_fps, o.max_knee_backward_deg,
                                                 self._live_subject, who, o.collapse_hold_s)  # fmt: skip
        return self.states[person_id]

    def _without_non_finite(self, detections: Detections2D) -> Detections2D:
        """``detections`` without the people with a position that is not a number in a keypoint a
        joint is made from (every window holding it would lift to nothing; logged once); such a
        position in a keypoint no joint reads (MediaPipe's fingers) is taken as unseen (score 0;
        review: a NaN finger lost the person)."""
        finite = np.isfinite(detections.keypoints_px).all(axis=-1)  # (N, K)
        kept = finite[:, list(detections.layout.used_keypoints)].all(axis=1)
        if not kept.all():
            if not self.non_finite_detections:
                log.warning("the 2D detector gave a keypoint position that is not a finite number (frame %d): that "
                            "person is left out of such frames; a detector gives every keypoint a position, an "
                            "unseen one its best guess with score 0", detections.frame_id)  # fmt: skip
            self.non_finite_detections += int((~kept).sum())
        pixels = np.where(finite[..., None], detections.keypoints_px, 0.0).astype(np.float32)[kept]
        scores = np.where(finite, detections.scores, 0.0).astype(np.float32)[kept]
        world = None if detections.world_m is None else detections.world_m[kept]
        return dataclasses.replace(detections, keypoints_px=pixels, scores=scores,
                                   track_ids=detections.track_ids[kept], world_m=world)  # fmt: skip

    def reset(self) -> None:
        self.tracker.reset()
        self.states.clear()

    def close(self) -> None:
        if self.implausible_poses and not self._reported:
            log.warning("%s given as lost", counted(self.implausible_poses, "implausible pose") + (
                " was" if self.implausible_poses == 1 else " were"))  # (QA: "1 implausible poses were")
        if self.collapsed_frames and not self._reported:
            log.warning("%s with a collapsed 2D skeleton (or within %g s after one) given as lost",
                        counted(self.collapsed_frames, "frame"), self.options.collapse_hold_s)  # fmt: skip
        self._reported = True
        self.lifter.close()

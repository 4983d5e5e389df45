"""A recording as numpy arrays: one person's published 3D (for export) and 2D (the
``posecast lift`` input format, to re-lift a take with another model)."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...calibration import CameraIntrinsics
from ...engines import normalize, skeleton
from ...engines.errors import PosecastError
from ...engines.face import NUM_FACE_POINTS
from ...engines.lift_input import save_lift_input
from ...engines.runtime.base import DEFAULT_MODEL_NAME, MODELS, resolve_model
from ...engines.runtime.quantize import int8_by_default
from ..schema import decode_meta, decode_pose
from .format import Recording, RecordingError

log = logging.getLogger(__name__)


@dataclass
class PersonTrack:
    """One person over a recording, one row per recorded frame (``F`` frames).

    ``joints_m`` ``(F, 17, 3)`` metres in the wire's camera frame, NaN where the person had
    no pose (``lost`` or absent); ``tracking`` ``(F,)`` state strings (``""`` when absent);
    ``timestamp_ns`` and ``frame_id`` ``(F,)``; ``keypoints_px`` ``(F, 17, 2)`` and
    ``confidence`` ``(F, 17)`` the 2D (NaN and 0 when absent); ``bone_lengths_m`` ``(F, 16)``
    the lengths the pipeline used (NaN when not lifted); ``face_m`` ``(F, 5, 3)`` the face points
    of the messages that have them (:mod:`posecast.engines.face`; NaN elsewhere)."""

    person_id: int
    joints_m: np.ndarray
    tracking: np.ndarray
    timestamp_ns: np.ndarray
    frame_id: np.ndarray
    keypoints_px: np.ndarray
    confidence: np.ndarray
    bone_lengths_m: np.ndarray
    face_m: np.ndarray

    @property
    def posed(self) -> np.ndarray:
        """``(F,)`` True where the person has a 3D pose."""
        return np.isfinite(self.joints_m).all(axis=(1, 2))


def person_ids(recording: Recording) -> list[int]:
    """The people in a recording, the one posed in most frames first."""
    posed: Counter[int] = Counter()
    for frame in recording.frames:
        for person in frame.people:
            posed[person.person_id] += person.tracking != "lost"
    return [pid for pid, _ in posed.most_common()]


def person_track(recording: Recording, person_id: int | None = None) -> PersonTrack:
    """``person_id``'s track (default: the person posed in most frames). Raises
    :class:`RecordingError` when the recording has no frames or not that person."""
    ids = person_ids(recording)
    if not ids:
        raise RecordingError(f"{recording.path} has no frames with a person: nothing to export; record again with "
                             "someone in view")  # fmt: skip
    if person_id is None:
        person_id = ids[0]
        if len(ids) > 1:  # (QA: the others were left out without a word; one person back after 1 s is a new id)
            log.info("%s: person %d, posed in most frames; the take also has person(s) %s: --person ID exports "
                     "another", recording.path, person_id, ", ".join(map(str, sorted(ids[1:]))))  # fmt: skip
    elif person_id not in ids:
        raise RecordingError(f"{recording.path} has no person {person_id}: it has {sorted(ids)}")
    n, j = len(recording.frames), skeleton.NUM_JOINTS
    joints = np.full((n, j, 3), np.nan, np.float32)
    keypoints = np.full((n, j, 2), np.nan, np.float32)
    confidence = np.zeros((n, j), np.float32)
    lengths = np.full((n, len(skeleton.BONES)), np.nan, np.float32)
    faces = np.full((n, NUM_FACE_POINTS, 3), np.nan, np.float32)
    tracking = np.full(n, "", dtype=object)
    for i, frame in enumerate(recording.frames):
        for payload in frame.poses:
            message = decode_pose(payload)
            if message.person_id == person_id and message.tracking != "lost":
                joints[i] = message.joints_m
                if message.face_m is not None:
                    faces[i] = message.face_m
        for person in frame.people:
            if person.person_id == person_id:
                tracking[i] = person.tracking
                if person.tracking != "lost":
                    keypoints[i], confidence[i] = person.keypoints_px, person.confidence
                if person.bone_lengths_m is not None:
                    lengths[i] = person.bone_lengths_m
    stamps = np.asarray([f.timestamp_ns for f in recording.frames], np.int64)
    frame_ids = np.asarray([f.frame_id for f in recording.frames], np.int64)
    return PersonTrack(person_id, joints, tracking.astype(str), stamps, frame_ids, keypoints, confidence, lengths,
                       faces)  # fmt: skip


def timestamps_s(recording: Recording) -> np.ndarray | None:
    """``(F,)`` float64 seconds of each frame from the first, on the clock the live pipeline ran
    on (a camera's capture time, a file's media time), or ``None`` when they do not increase
    strictly (the lift input refuses such; ``lift`` then counts frames at ``fps``)."""
    stamps_ns = recording.timestamps_ns
    if len(stamps_ns) and not (np.diff(stamps_ns) > 0).all():
        log.warning("%s: its frames' timestamps do not increase strictly; the lift input gets fps alone",
                    recording.path)  # fmt: skip
        return None
    return (stamps_ns - stamps_ns[:1]) / 1e9  # from the first: exact in float64, whatever the clock's origin


def lift_input(recording: Recording, person_id: int | None = None) -> dict[str, np.ndarray]:
    """The ``posecast lift`` input of one person: ``keypoints_2d`` ``(F, 17, 2)`` pixels
    (undistorted when the recording's camera has distortion, as ``lift`` expects),
    ``confidence`` ``(F, 17)`` (0 where the person is absent), ``intrinsics`` ``(4,)`` fx, fy,
    cx, cy, ``fps`` (the take's rate, :attr:`Recording.fps`) and ``timestamps_s`` ``(F,)``
    (:func:`timestamps_s`: a live take's frames are not ``1 / fps`` apart, and ``lift`` lifts on
    this clock as the live pipeline did) and ``height_m`` when the live run was given the
    subject's height (``--subject-height``, a subject file)."""
    intrinsics = recording.intrinsics
    if intrinsics is None:
        raise RecordingError(f"{recording.path} has no camera intrinsics (no frame was processed)")
    track = person_track(recording, person_id)
    cameras = frame_intrinsics(recording)
    if any(camera != intrinsics for camera in cameras):  # images of several sizes: each in its own camera
        keypoints = np.asarray(track.keypoints_px, np.float64).copy()
        last_k = np.array([intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy])
        unique: list[CameraIntrinsics] = []
        for camera in cameras:
            if camera not in unique:
                unique.append(camera)
        for camera in unique:
            rows = [i for i, frame_camera in enumerate(cameras) if frame_camera == camera]
            ideal = camera.undistort_pixels(keypoints[rows])
            # the same rays in the take's last camera, the one lift is given (QA: a folder of two image
            # sizes put the smaller images' person 2.85 m away instead of 1.35 m, exit 0)
            rays = normalize.normalize_pixels(ideal, np.array([camera.fx, camera.fy, camera.cx, camera.cy]))
            keypoints[rows] = normalize.denormalize_pixels(rays, last_k)
    else:
        # as the live stage undistorts them (its criteria, float64: float32 rounding and OpenCV's
        # default 5 iterations moved the re-lifted joints by up to 4.3 mm through the INT8 lifter; QA)
        keypoints = intrinsics.undistort_pixels(track.keypoints_px) if intrinsics.distortion else track.keypoints_px
    arrays = {
        "keypoints_2d": keypoints,
        "confidence": track.confidence,
        "intrinsics": np.asarray([intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy], np.float64),
        "fps": np.float64(recording.fps or 30.0),
    }
    clock_s = timestamps_s(recording)
    if clock_s is not None:
        arrays["timestamps_s"] = clock_s
    settings = live_settings(recording)
    height_m = settings.get("height_m")
    # the height the live run was given (QA: a take at --subject-height 1.85 lifted again at the
    # assumed 1.70, 303 mm from the published 3D, without a word)
    if settings.get("height_assumed") is False and isinstance(height_m, float) and skeleton.height_in_range(height_m):
        arrays["height_m"] = np.float64(height_m)
    return arrays


def live_settings(recording: Recording) -> dict:
    """The live run's settings as its last readable meta states them (its ``assumptions``:
    ``height_m``, ``subject_file``, ``one_euro``, ...); empty when no meta decodes."""
    for meta in reversed(recording.metas):
        try:
            return dict(decode_meta(meta.payload).assumptions)
        except PosecastError:
            continue
    return {}


def lift_flags(settings: dict) -> list[str]:
    """The ``posecast lift`` options that lift a take's 2D as its live run did (its
    :func:`live_settings`): its model where not the default, INT8 or float where lift's default
    differs or cannot be known (a model file), without flip averaging, without the live bone
    measurement (QA: the printed command left the model out, and lifted the take 73 mm from its
    3D with the default model, 384 mm for one taken with ``unsupervised-w512``)."""
    flags = []
    model = settings.get("model")
    shipped = not isinstance(model, str) or model in MODELS
    if isinstance(model, str) and model and model != DEFAULT_MODEL_NAME:
        flags += ["--model", model]
    int8 = settings.get("int8")
    if settings.get("backend") == "onnxruntime" and isinstance(int8, bool):
        lift_default = int8_by_default(resolve_model(model if isinstance(model, str) else None)) if shipped else None
        if int8 != lift_default:
            flags.append("--int8" if int8 else "--no-int8")
    if settings.get("flip_average") is False:
        flags.append("--no-flip-average")
    # where the run measured no bones (its meta's None) without a subject file (which measures none
    # either, and is warned about by settings_lift_lacks)
    measured = settings.get("live_subject_calibration_s") is not None or settings.get("subject_file")
    if not measured and "live_subject_calibration_s" in settings:
        flags.append("--no-live-subject")
    return flags


def settings_lift_lacks(settings: dict) -> list[str]:
    """The live run's settings (:func:`live_settings`) that ``posecast lift`` cannot apply to
    the take's lift input, as the options that set them: its 3D differs from the take's there."""
    lacks = []
    if settings.get("subject_file"):
        lacks.append(f"--subject {settings['subject_file']} (its bone lengths)")
    if settings.get("one_euro"):
        lacks.append("--one-euro (a filter of the joints)")
    return lacks


def frame_intrinsics(recording: Recording) -> list[CameraIntrinsics]:
    """Each frame's camera: the intrinsics of the last meta recorded before it (the first's for
    frames before any). One camera throughout, unless the take's images changed size."""
    metas = sorted((m for m in recording.metas if m.intrinsics is not None), key=lambda m: m.t_ns)
    if not metas:
        return []
    times = np.array([m.t_ns for m in metas])
    at = np.searchsorted(times, [frame.t_ns for frame in recording.frames], side="right") - 1
    return [metas[max(i, 0)].intrinsics for i in at]


def write_lift_input(recording: Recording, path: str | Path, person_id: int | None = None) -> Path:
    """Write :func:`lift_input` as an ``.npz`` (atomically)."""
    return save_lift_input(lift_input(recording, person_id), path)

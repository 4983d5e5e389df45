"""``posecast lift``'s work: a recorded 2D sequence (.npz) → metric 3D, through the live lifting stage.

The frames go through the same :class:`~posecast.realtime.lifting.MetricPoseLifting` as the
live pipeline (one person, the posecast-17 layout, fixed intrinsics), so offline and live 3D are
made the same way. Its clock (the window is time-based) is the input's ``timestamps_s`` when it
has them, as live, with the live gap restarts; else frame / fps, with none. Formats are in the
README ("Offline lifting").
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

from ..calibration import DEFAULT_HEIGHT_M
from ..engines import skeleton
from ..engines.errors import LiftInputError
from ..engines.fileio import OutputWriteError, check_outputs, write_together
from ..engines.keypoint_gaps import MIN_SEEN_JOINTS
from ..engines.layouts import POSECAST_17
from ..engines.lift_input import FPS_RANGE, checked_timestamps, load_lift_input, posed_frames
from ..engines.logs import held_back
from ..engines.runtime.base import model_files, resolve_model
from .errors import OptionsError, SourceError
from .lifting import LifterOptions, LiftingOptions, LiveSubjectOptions, MetricPoseLifting
from .progress import progress
from .recording.export import camera_joints_bvh, check_bvh_output
from .stop_signals import stop_signals_deferred
from .types import Detections2D

log = logging.getLogger(__name__)


def output_file(input_path: Path, output_path: Path, model: str | Path | None = None) -> Path:
    """The file ``posecast lift`` writes: ``output_path``, or ``DIR/<input name>_3d.npz`` when
    it is an existing folder. Raises :class:`SourceError` when its folder cannot be written, it
    is one of the input's or ``model``'s files (``--model``: a name or a file) or it is not an
    ``.npz`` (an npz written under another name would pass for that format)."""
    if output_path.is_dir():
        output_path = output_path / f"{input_path.stem}_3d.npz"
    check_outputs({"--output": output_path}, {"the input": input_path} | model_files(resolve_model(model)))
    if output_path.suffix.lower() != ".npz":  # a .json or .csv asked for would get an npz under its name
        raise SourceError(f"--output must name an .npz file (e.g. {input_path.stem}_3d.npz) or an existing folder, "
                          f"got {output_path.name}")  # fmt: skip
    return output_path


def lift_file(
    input_path: Path, output_path: Path, height_m: float | None, lifter: LifterOptions, live_subject: bool = True,
    bvh: tuple[Path, str] | None = None,
) -> int:
    """Lift ``input_path`` into ``output_path`` (a file, or a folder to write ``<input>_3d.npz``
    into; written whole or not at all); returns the frames. ``live_subject``: measure the bone
    lengths from the first 2 s and again later (:mod:`posecast.realtime.lifting.live_subject`).
    ``bvh``: (path, frame) to write the motion as BVH too, on the floor under the person's feet
    (:func:`~posecast.realtime.recording.export.camera_joints_bvh`), the two written together.
    Raises :class:`SourceError` for a bad input, an unwritable output, or an input in which no
    frame gives a plausible pose."""
    data = load_lift_input(input_path)
    keypoints, confidence, fps, timestamps_s = data.keypoints, data.confidence, data.fps, data.timestamps_s
    output_path = output_file(input_path, output_path, lifter.model_path)
    if bvh is not None:
        check_bvh_output(*bvh)
        check_outputs({"--output": output_path, "--bvh": bvh[0]},
                      {"the input": input_path} | model_files(resolve_model(lifter.model_path)))  # fmt: skip
    if height_m is None and data.height_m is not None:
        height_m = data.height_m
        log.info("subject height %.2f m, from %s (--subject-height replaces it)", height_m, input_path)
    elif height_m is None:  # (upgrade QA: 2D exported before 2026-12-06 holds no height: lifted at 1.70 unsaid)
        log.info("subject height %.2f m, assumed: %s names none; pass --subject-height for the person's own",
                 DEFAULT_HEIGHT_M, input_path)  # fmt: skip
    # a gap between frames with a person restarts the window as it did live, on either clock (QA: counted
    # frames were bridged across any gap, and a video's 2D lifted up to 260 mm away from its live run)
    options = LiftingOptions(lifter=lifter, fixed_intrinsics=tuple(float(v) for v in data.intrinsics),
                             height_m=height_m,
                             live_subject=LiveSubjectOptions() if live_subject else None)  # fmt: skip
    # the stages' warnings about frames are said once the file is lifted, not before its refusal (QA)
    with held_back(*(f"posecast.realtime.lifting.{name}" for name in ("metric", "live_subject"))) as held:
        joints, joints_rel, valid, _ = lift_sequence(keypoints, confidence, fps, options, timestamps_s)
    posed = np.isfinite(joints).all(axis=(1, 2))
    if posed.any():
        held.release()
    else:
        people = int(valid.sum())
        if not data.scored:  # (NaN is read as 0) the keypoints were blamed for the scores (QA)
            raise SourceError(f"no frame of {input_path} has a person seen: its confidence is at most 0 (1 = seen); "
                              "give each keypoint's score in [0, 1], or leave confidence out if there is none; nothing "
                              "written")  # fmt: skip
        if people == 0:  # (QA: blamed on the scores, with none given)
            raise SourceError(f"no frame of {input_path} has a person: each needs {MIN_SEEN_JOINTS} of the 13 joints "
                              "a detector sees (the head, shoulders, elbows, wrists, hips, knees, ankles) seen (finite "
                              "pixels, not (0, 0), score above 0); nothing written")  # fmt: skip
        trusted = options.min_joint_confidence
        if not (confidence[valid] >= trusted).any():  # (QA: every score 0.2: blamed on pixels and joint order)
            raise SourceError(f"no frame of {input_path} has a joint scored {trusted:g} or more (up to "
                              f"{confidence.max():.2g}), the least that places a person: give scores in [0, 1] as "
                              "probabilities that the keypoint is seen (MediaPipe's visibility), or leave confidence "
                              "out if there is none; nothing written")  # fmt: skip
        model = f", or the model {lifter.model_path} gives no usable 3D" if lifter.model_path and people else ""
        raise SourceError(
            f"no frame of {input_path} gave a plausible pose ({len(keypoints)} frames, {len(keypoints) - people} "
            "without a person): expected keypoints_2d in pixels (not 0-1 fractions of the image), in posecast joint "
            f"order or the one `layout` names, seen by a camera with these intrinsics{model}; nothing written"
        )
    arrays = {
        "joints_3d": joints.astype(np.float32),
        "joints_3d_rel": joints_rel.astype(np.float32),
        "joint_names": np.array(skeleton.JOINT_NAMES),
        "fps": fps,
        "height_m": height_m or DEFAULT_HEIGHT_M,
        "filled_2d": data.filled,  # the joints the input marked unseen, placed from other frames
    }
    if timestamps_s is not None:
        arrays["timestamps_s"] = timestamps_s
    motion = None
    if bvh is not None:
        times_s = frame_clock_ns(len(joints), fps, timestamps_s) / 1e9
        motion = camera_joints_bvh(joints, confidence, times_s, fps, bvh[1])
    files = {output_path: lambda fh: np.savez(fh, **arrays)}
    if motion is not None:
        files[bvh[0]] = lambda fh: fh.writelines(motion[0])  # each piece as it is made
    try:  # both or neither: a full disk leaves every file as it was
        # the temporaries made, moved in and removed with the stop signals held, the files written (the
        # BVH's rows made as they are written: seconds an hour) with them not, as `export` writes them
        write_together(files, held=stop_signals_deferred)
    except OutputWriteError as exc:  # a full disk, a quota: the temporary files are gone, nothing half-written stays
        raise SourceError(f"{exc} (nothing written)") from exc
    except OSError as exc:
        raise SourceError(f"cannot write {getattr(exc, 'filename', None) or output_path}: {exc.strerror or exc}; "
                          "nothing written") from exc  # fmt: skip
    log.info("lifted %d frames (%d without a pose) → %s", len(keypoints), int((~posed).sum()), output_path)
    if motion is not None:
        log.info("wrote %s: %d frames at %g fps, frame %s; floor %s", bvh[0], motion[1], fps, bvh[1], motion[2])
    return len(keypoints)


def frame_clock_ns(frames: int, fps: float, timestamps_s: np.ndarray | None = None) -> np.ndarray:
    """``(frames,)`` int64: the pipeline's clock for each frame, in nanoseconds: ``timestamps_s``
    from the first (a live take's own clock, exact to the nanosecond) or frame / ``fps``."""
    if timestamps_s is None:
        return np.array([int(f * 1e9 / fps) for f in range(frames)], np.int64)
    return np.rint((np.asarray(timestamps_s, np.float64) - timestamps_s[0]) * 1e9).astype(np.int64)


def _check_sequence(keypoints: np.ndarray, confidence: np.ndarray, fps: float, options: LiftingOptions,
                    timestamps_s: np.ndarray | None) -> None:  # fmt: skip
    """:func:`lift_sequence`'s arguments as its docstring says them, or one :class:`OptionsError`
    (API QA: fps 0 was a ZeroDivisionError, NaN "cannot convert float NaN to integer", no
    intrinsics "image width is 0", and decreasing timestamps were taken)."""
    frames, joints = len(keypoints), skeleton.NUM_JOINTS
    if np.shape(keypoints) != (frames, joints, 2) or np.shape(confidence) != (frames, joints):
        raise OptionsError(f"expected keypoints (F, {joints}, 2) and confidence (F, {joints}), got "
                           f"{np.shape(keypoints)} and {np.shape(confidence)}")  # fmt: skip
    low, high = FPS_RANGE  # as a 2D file's are checked (review: "30" and 1e-300 failed further on)
    try:
        rate = math.nan if isinstance(fps, (str, bytes)) else float(fps)  # (a 0-d array from np.load is one)
    except (TypeError, ValueError):
        rate = math.nan
    if timestamps_s is None and not low <= rate <= high:
        raise OptionsError(f"fps must be a number of frames a second from {low:g} to {high:g}, got {fps!r}")
    if timestamps_s is not None:
        try:
            checked_timestamps("lift_sequence", np.asarray(timestamps_s, np.float64), frames)
        except LiftInputError as exc:
            raise OptionsError(str(exc)) from None
    if options.fixed_intrinsics is None:  # the image's size is not known here: nothing to assume a camera from
        raise OptionsError("lift_sequence needs the camera: LiftingOptions(fixed_intrinsics=(fx, fy, cx, cy)), in "
                           "the keypoints' pixels")  # fmt: skip


def lift_sequence(
    keypoints: np.ndarray,
    confidence: np.ndarray,
    fps: float,
    options: LiftingOptions,
    timestamps_s: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``keypoints`` ``(F, 17, 2)`` pixels, ``confidence`` ``(F, 17)`` → joints ``(F, 17, 3)`` metres in
    the camera frame, root-relative joints ``(F, 17, 3)`` (NaN without a pose), the frames
    with a person ``(F,)`` (finite keypoints within range, some confidence) and the lifting
    network's raw output ``(F, 17, 3)`` (before bone smoothing: what subject calibration takes;
    NaN without a pose). The frames are ``timestamps_s`` ``(F,)`` seconds apart (strictly
    increasing) when given, else ``1 / fps``: :func:`frame_clock_ns`."""
    _check_sequence(keypoints, confidence, fps, options, timestamps_s)
    frames = len(keypoints)
    clock_ns = frame_clock_ns(frames, fps, timestamps_s)
    joints = np.full((frames, skeleton.NUM_JOINTS, 3), np.nan)
    joints_rel = np.full_like(joints, np.nan)
    joints_lifted = np.full_like(joints, np.nan)
    valid = posed_frames(keypoints, confidence)
    lifting = MetricPoseLifting(options)
    try:
        for f in progress(range(frames), frames, "lifting"):  # a bar on a terminal, nothing in logs
            n = int(valid[f])  # a frame with no person: like a lost track live
            timestamp_ns = int(clock_ns[f])
            detections = Detections2D(f, timestamp_ns, timestamp_ns, (0, 0), POSECAST_17, keypoints[f : f + n],
                                      confidence[f : f + n], np.full(n, -1, np.int64))  # fmt: skip
            for person in lifting.process(detections, timestamp_ns):
                if person.joints_m is not None:
                    joints[f], joints_rel[f] = person.joints_m, person.joints_rel_m
                    joints_lifted[f] = person.joints_lifted
    finally:
        lifting.close()
    return joints, joints_rel, valid, joints_lifted


def lift_for_calibration(
    keypoints_norm: np.ndarray,
    confidence: np.ndarray,
    fps: float,
    lifter: LifterOptions | None = None,
    height_m: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """What ``posecast calibrate subject`` measures, from normalised 2D ``(F, 17, 2)`` and
    confidences ``(F, 17)``: the live lifting stage's raw network output ``(F, 17, 3)`` (no live
    subject calibration: the command measures the whole take itself) and the frames it gave a
    pose in ``(F,)``, the ones the command keeps."""
    options = LiftingOptions(lifter=lifter or LifterOptions(), fixed_intrinsics=(1.0, 1.0, 0.0, 0.0),
                             height_m=height_m, max_gap_s=None, live_subject=None)  # fmt: skip
    poses = lift_sequence(keypoints_norm, confidence, fps, options)[3]
    return poses, np.isfinite(poses).all(axis=(1, 2))

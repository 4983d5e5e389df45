"""The ``posecast lift`` input format, read one way by everything that takes it: ``posecast lift``,
``posecast adapt``'s footage and the training sampler of recorded 2D.

An ``.npz`` (no pickle) with ``keypoints_2d`` ``(F, 17, 2)`` pixels in posecast joint order,
``intrinsics`` ``(fx, fy, cx, cy)`` pixels, optional ``confidence`` ``(F, 17)`` in [0, 1],
``fps`` and ``timestamps_s`` ``(F,)``, each frame's time in seconds (strictly increasing: a live
take's clock, whose frames are not ``1 / fps`` apart; README, "Offline lifting"). Keypoints in
another detector's layout (:data:`~posecast.engines.layouts.LAYOUTS`: COCO-17, MediaPipe-33) are
``(F, K, 2)`` with ``layout`` naming it (MediaPipe's 33 need no name) and mapped to the 17 joints
here, as the live pipeline maps them.
:func:`load_lift_input` reads it all, :func:`read_lift_input` what every reader needs;
:func:`posed_frames` says which frames show a person.
"""

from __future__ import annotations

import logging
import math
import shlex
import tokenize
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import skeleton
from .errors import LiftInputError
from .fileio import input_file_problem, save_npz, zip_unpacked_bytes
from .keypoint_gaps import MAX_CARRY_S, to_posecast_filled
from .layouts import LAYOUTS, POSECAST_17, KeypointLayout

log = logging.getLogger(__name__)

#: The frame rates a 2D sequence (or a recorded take) may have, fps.
FPS_RANGE = (0.1, 1000.0)
#: Keypoints further than this from the image origin, in pixels, are not a detection (a frame with
#: one is a frame without a person); it also keeps every later step far from float overflow.
MAX_PIXELS = 1e7
#: fx, fy accepted, in pixels (1 allows keypoints already in normalised units with fx = fy = 1).
_FOCAL_RANGE = (1e-3, 1e7)
#: The most an input's arrays may hold, unpacked: ten hours at 60 fps in float64 is 0.6 GB. Checking
#: one takes about twice this at its peak (760 MiB of zeros in a 0.8 MB file: 1.5 GB; the limit was 2 GiB,
#: which a 2 MB file took to 9.6 GB: security QA).
MAX_UNPACKED_BYTES = 768 << 20
#: The longest ``timestamps_s`` may span, in seconds (31 years): longer is nanoseconds or
#: microseconds written as seconds, and the nanosecond clock stays far within int64.
MAX_TIMESTAMP_SPAN_S = 1e9
#: The longest median step between frames ``timestamps_s`` may have, in seconds: longer is
#: milliseconds written as seconds (33 "s" at 30 fps), and frames even 0.5 s apart make no window.
MAX_MEDIAN_STEP_S = 5.0


@dataclass(frozen=True)
class LiftInput:
    """A checked lift input: ``keypoints`` ``(F, 17, 2)`` pixels, ``confidence`` ``(F, 17)`` in
    [0, 1], ``intrinsics`` ``(4,)`` fx, fy, cx, cy, ``fps`` and ``timestamps_s`` ``(F,)`` float64
    seconds, strictly increasing at least 1 ns apart, or ``None`` (frames ``1 / fps`` apart)."""

    keypoints: np.ndarray
    confidence: np.ndarray
    intrinsics: np.ndarray
    fps: float
    timestamps_s: np.ndarray | None = None
    #: the subject's height in metres, when the input gives it (``export --lift-input`` of a take
    #: lifted with a known height); ``lift`` takes it unless ``--subject-height`` is given
    height_m: float | None = None
    #: ``(F, 17)`` bool: the joints the input marked unseen, filled (:mod:`.keypoint_gaps`)
    filled: np.ndarray = field(default_factory=lambda: np.zeros((0, skeleton.NUM_JOINTS), bool))
    #: whether any keypoint's score in the input is above 0 (no ``confidence``: every one is 1)
    scored: bool = True


def in_pixel_range(values: np.ndarray) -> np.ndarray:
    """Elementwise: finite and within :data:`MAX_PIXELS` of 0 (NaN is not)."""
    return np.abs(np.nan_to_num(values, nan=np.inf)) <= MAX_PIXELS


def posed_frames(keypoints: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """``(F,)`` frames with a person: every keypoint finite and within :data:`MAX_PIXELS`, some
    confidence, and the keypoints not all on one point (zeros written for a frame without anyone)."""
    in_range = in_pixel_range(keypoints)
    finite = np.where(in_range, keypoints, 0.0)
    spread = np.ptp(finite, axis=1).max(axis=-1) > 0
    return in_range.all(axis=(1, 2)) & (np.nan_to_num(confidence).max(axis=1, initial=0.0) > 0) & spread


def save_lift_input(arrays: dict[str, np.ndarray], path: str | Path) -> Path:
    """Write a 2D sequence's ``arrays`` (``keypoints_2d``, ``confidence``, ``intrinsics``, ``fps``,
    optionally ``timestamps_s``: what :func:`load_lift_input` reads) as an ``.npz``, atomically."""
    return save_npz(path, arrays)


def read_lift_input(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """``keypoints_2d`` ``(F, 17, 2)``, ``confidence`` ``(F, 17)`` in [0, 1] (NaN → 0),
    ``intrinsics`` ``(4,)``, ``fps`` from an .npz (:func:`load_lift_input`, checked whole: a bad
    ``timestamps_s`` is refused here too); raises :class:`LiftInputError` naming what is wrong."""
    data = load_lift_input(path)
    return data.keypoints, data.confidence, data.intrinsics, data.fps


def load_lift_input(path: Path) -> LiftInput:
    """The lift input in ``path``, every field checked; raises :class:`LiftInputError` naming
    what is wrong. The file is read without pickle (an object array is refused, never run)."""
    if (problem := input_file_problem(path)) is not None:
        raise LiftInputError(f"lift input {path} {problem}: expected an .npz with keypoints_2d and intrinsics")
    with open(path, "rb") as fh:
        magic = fh.read(6)
    if magic and not magic.startswith((b"\x93NUMPY", b"PK")) and path.name.endswith((".posecast", ".posecast.part")):
        lift_input = shlex.quote(f"{path.name.split('.')[0]}_2d.npz")  # (pasted into a shell: quoted)
        raise LiftInputError(f"{path} is a posecast recording, not a lift input: make one with `posecast export "
                             f"{shlex.quote(str(path))} --lift-input {lift_input}`")  # fmt: skip
    if magic and not magic.startswith((b"\x93NUMPY", b"PK")):  # neither .npy nor a zip (maybe cut short)
        # numpy would call it "pickled data" and suggest loading it unsafely: it is only not an .npz
        raise LiftInputError(f"{path} is not an .npz (numpy's zip of named arrays); save the input with "
                             "numpy.savez(path, keypoints_2d=..., intrinsics=..., fps=...)")  # fmt: skip
    _check_unpacked_size(path)
    try:
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.ndarray):
            raise LiftInputError(f"{path} holds one array (.npy), not named arrays: save the input with "
                              "numpy.savez(path, keypoints_2d=..., intrinsics=..., fps=...)")  # fmt: skip
        with data:
            arrays = {name: data[name] for name in data.files}
    except LiftInputError:
        raise
    except MemoryError as exc:  # a header that declares more than the file holds
        raise LiftInputError(f"cannot read {path} as .npz: an array's header declares more than fits in memory; "
                             "the file is damaged: save it again with numpy.savez") from exc  # fmt: skip
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, RuntimeError, NotImplementedError, SyntaxError,
            tokenize.TokenError) as exc:
        # numpy's own words for an empty, truncated or pickled file, zipfile's for an encrypted one or one
        # packed by a method it lacks (Deflate64), on one line; an array header numpy's parser chokes on
        # gives a TokenError or SyntaxError (QA: a traceback)
        reason = " ".join(str(exc).split()) or type(exc).__name__
        if isinstance(exc, (SyntaxError, tokenize.TokenError)):
            reason = "an array's header is damaged"
        raise LiftInputError(f"cannot read {path} as .npz ({reason}); save it with numpy.savez") from exc
    missing = {"keypoints_2d", "intrinsics"} - set(arrays)
    if missing:
        raise LiftInputError(f"{path} lacks arrays {sorted(missing)}: expected keypoints_2d (F,17,2) pixels and "
                             "intrinsics (fx, fy, cx, cy)")  # fmt: skip
    keypoints = _numbers(path, "keypoints_2d", arrays["keypoints_2d"])
    layout = _layout(path, arrays.get("layout"), keypoints.shape)
    if keypoints.ndim != 3 or keypoints.shape[1:] != (layout.num_keypoints, 2) or not len(keypoints):
        order = "posecast joint order" if layout is POSECAST_17 else f"{layout.name} order (layout)"
        count = keypoints.shape[1] if keypoints.ndim == 3 else None
        other = [name for name, known in LAYOUTS.items() if known.num_keypoints == count and known is not layout]
        fix = f" ({count} keypoints: layout={other[0]!r}?)" if other and keypoints.shape[2:] == (2,) else ""
        raise LiftInputError(f"{path}: keypoints_2d must be (F, {layout.num_keypoints}, 2) pixels in {order} with "
                             f"F >= 1, got shape {keypoints.shape}{fix}")  # fmt: skip
    intrinsics = _numbers(path, "intrinsics", arrays["intrinsics"])
    if intrinsics.shape != (4,):  # a (2, 2) or (1, 4) array would pass flattened, in an order nobody checked
        raise LiftInputError(f"{path}: intrinsics must be 4 numbers fx, fy, cx, cy of shape (4,), "
                             f"got shape {intrinsics.shape}")  # fmt: skip
    low, high = _FOCAL_RANGE
    if not (np.isfinite(intrinsics).all() and np.abs(intrinsics[2:]).max() <= MAX_PIXELS
            and all(low <= f <= high for f in intrinsics[:2])):  # fmt: skip
        raise LiftInputError(f"{path}: intrinsics must be 4 numbers fx, fy, cx, cy, finite, in pixels, with fx, fy in "
                             f"{low:g}..{high:g}, got {_listed(intrinsics)}")  # fmt: skip
    if "confidence" in arrays:
        confidence = _numbers(path, "confidence", arrays["confidence"])
        if confidence.shape != keypoints.shape[:2]:
            raise LiftInputError(f"{path}: confidence must be (F, {layout.num_keypoints}) like keypoints_2d, one "
                                 f"score per keypoint, got {confidence.shape}; or leave confidence out")  # fmt: skip
        confidence = np.nan_to_num(confidence, nan=0.0, posinf=np.inf, neginf=-np.inf)
        if confidence.size and not (confidence.min() >= -0.01 and confidence.max() <= 1.01):
            low, high = confidence.min(), confidence.max()
            raise LiftInputError(f"{path}: confidence must be in [0, 1] (NaN: not seen), got values from {low:g} "
                                 f"to {high:g}; divide percentages by 100")  # fmt: skip
        confidence = np.clip(confidence, 0.0, 1.0)  # rounding noise of a score that is a probability
    else:
        confidence = np.ones(keypoints.shape[:2])
    fps = 30.0
    if "fps" in arrays:
        value = _numbers(path, "fps", arrays["fps"])
        fps = float(value.reshape(-1)[0]) if value.size == 1 else math.nan
        if not FPS_RANGE[0] <= fps <= FPS_RANGE[1]:
            got = f"{fps:g}" if value.size == 1 else _listed(value)  # (a number, not "[0]")
            raise LiftInputError(f"{path}: fps must be one number from {FPS_RANGE[0]:g} to {FPS_RANGE[1]:g}, got "
                                 f"{got}")  # fmt: skip
    height_m = None
    if "height_m" in arrays:
        value = _numbers(path, "height_m", arrays["height_m"])
        height_m = float(value.reshape(-1)[0]) if value.size == 1 else math.nan
        if not skeleton.height_in_range(height_m):
            low, high = skeleton.HEIGHT_RANGE_M
            got = f"{height_m:g}" if value.size == 1 else _listed(value)
            raise LiftInputError(f"{path}: height_m must be one number, the subject's height in metres from {low:g} "
                                 f"to {high:g}, got {got}; or leave it out")  # fmt: skip
    stamps = None
    if "timestamps_s" in arrays:
        _check_timestamp_precision(path, arrays["timestamps_s"])
        stamps = checked_timestamps(path, _numbers(path, "timestamps_s", arrays["timestamps_s"]), len(keypoints))
        rate = 1.0 / float(np.median(np.diff(stamps))) if len(stamps) > 1 else math.nan
        if FPS_RANGE[0] <= rate <= FPS_RANGE[1] and "fps" in arrays and abs(rate / fps - 1.0) > FPS_DISAGREEMENT:
            # (QA: fps=60 beside 30 Hz stamps: lifted at the stamps, written out as 60 fps, played twice as fast)
            log.warning("%s: fps %g disagrees with timestamps_s, whose rate is %.4g: the frames are lifted at their "
                        "times, and the output's fps is theirs", path, fps, rate)  # fmt: skip
            fps = rate
        if "fps" not in arrays and FPS_RANGE[0] <= rate <= FPS_RANGE[1]:  # (QA: lift wrote 30 for 5 Hz stamps)
            fps = rate  # the frames' own rate, one over their median step
    if infinite := int(np.isinf(keypoints).any(axis=-1).sum()):  # (QA: one made its frame poseless, unsaid)
        log.warning("%s: %d keypoint(s) in keypoints_2d are infinite: taken as unseen, as NaN is", path, infinite)
        keypoints = np.where(np.isinf(keypoints), np.nan, keypoints)
    marked = np.isfinite(keypoints).all(axis=-1) & (keypoints != 0).any(axis=-1)  # (NaN, (0, 0): unseen)
    if not marked.any():  # (QA: blamed on the confidence)
        raise LiftInputError(f"{path}: keypoints_2d has no keypoint seen (every one NaN or (0, 0), the marks of an "
                             "unseen keypoint): give the joints' pixels")  # fmt: skip
    if not (marked & in_pixel_range(keypoints).all(axis=-1)).any():
        largest = float(np.abs(keypoints[marked]).max())
        raise LiftInputError(f"{path}: keypoints_2d all lie more than {MAX_PIXELS:g} px from the image's corner "
                             f"(up to {largest:.3g}): expected pixels")  # fmt: skip
    if (problem := _fractions_problem(keypoints, intrinsics)) is not None:
        raise LiftInputError(f"{path}: {problem}")
    # mapped as the live pipeline maps a detector's keypoints (scores: their mean), with the
    # keypoints marked unseen (NaN, or (0, 0) as COCO and YOLO-pose write them) placed from the
    # person's other frames: lifted as they were, one wrecked the whole pose
    times_s = np.arange(len(keypoints)) / fps if stamps is None else stamps
    scored = bool((confidence > 0).any())
    joints = to_posecast_filled(keypoints, confidence, layout, times_s, MAX_PIXELS)
    keypoints, confidence = joints.keypoints, joints.confidence
    if filled := int(joints.filled.sum()):
        people = int(np.isfinite(keypoints).all(axis=(1, 2)).sum())
        log.info("%s: %d of the %d joints of frames with a person were unseen (NaN or at (0, 0)): placed from "
                 "the person's other frames, with confidence 0", path, filled,
                 people * skeleton.NUM_JOINTS)  # fmt: skip
    if joints.hung:
        log.warning("%s: %s: unseen further than %g s from any frame where the joint and the one it hangs from "
                    "were both seen, and placed there at a typical length straight below that one (a head: above "
                    "the shoulders); the 3D there is a guess", path, ", ".join(joints.hung), MAX_CARRY_S)  # fmt: skip
    # what the keypoints mean, for every reader (lift, adapt, training): only `lift` asked before,
    # and adapt and train took COCO-ordered or y-up keypoints as they came
    if (problem := _joint_order_problem(keypoints, confidence)) is not None:
        raise LiftInputError(f"{path}: {problem}")
    if (share := _upside_down_share(keypoints, confidence)) > MAX_UPSIDE_DOWN_SHARE:
        log.warning("%s: the head is below the ankles in %.0f %% of the frames: keypoints_2d must be image pixels, "
                    "y growing downwards (flip y as height - y if yours grows upwards), or the video they came from "
                    "is upside down (turn it half round: ffmpeg -i IN -vf hflip,vflip OUT.mp4)", path,
                    100 * share)  # fmt: skip
    return LiftInput(keypoints, confidence, intrinsics, fps, stamps, height_m, joints.filled, scored)


#: The spine joint lies between the pelvis and the thorax in every skeleton posecast reads (the
#: midpoint where it is derived): keypoints whose "spine" is further than this fraction of the
#: torso from that midpoint, in most frames, are in another joint order.
MAX_SPINE_OFF_TORSO = 0.5
_PELVIS, _SPINE, _THORAX = (skeleton.JOINT_INDEX[n] for n in ("pelvis", "spine", "thorax"))


def _joint_order_problem(keypoints: np.ndarray, confidence: np.ndarray) -> str | None:
    """Why ``keypoints`` ``(F, 17, 2)`` are not in posecast's joint order, or ``None`` (too few
    frames to tell: ``None``). COCO-17 (YOLO, RTMPose) has the same shape, and lifted a person
    1.1 m from the camera with the head level with the pelvis, exit 0 (QA)."""
    torso_joints = [_PELVIS, _SPINE, _THORAX]
    seen = _seen(keypoints, confidence, torso_joints)
    if seen.sum() < 5:
        return None
    pelvis, spine, thorax = (keypoints[seen, j].astype(np.float64) for j in torso_joints)
    torso = np.linalg.norm(thorax - pelvis, axis=-1)
    off = np.linalg.norm(spine - 0.5 * (pelvis + thorax), axis=-1) / np.maximum(torso, 1e-9)
    median = float(np.median(off))
    if median <= MAX_SPINE_OFF_TORSO:
        return None
    return (f"keypoints_2d are not in posecast's joint order: its spine (joint 7) lies between the pelvis (0) and "
            f"the thorax (8), here a median {median:.2g} torso lengths off their midpoint; if they are COCO-17 "
            "(YOLO, RTMPose, ViTPose), save them with numpy.savez(..., layout='coco-17'); reorder any other order "
            "(README, Offline lifting)")


def _seen(keypoints: np.ndarray, confidence: np.ndarray, joints: list[int]) -> np.ndarray:
    """``(F,)`` the frames whose ``joints`` are all seen: scored above 0, finite and within
    :data:`MAX_PIXELS` (keypoints of 1e154 px overflowed the torso's length: the input was called
    another joint order, "a median nan torso lengths off", under numpy's warnings; QA)."""
    inside = in_pixel_range(keypoints[:, joints]).all(axis=(1, 2))
    return inside & (confidence[:, joints] > 0).all(axis=1)


#: More than this share of frames upside down (:func:`_upside_down_share`) is warned about, not
#: refused: a handstand is upside down too.
MAX_UPSIDE_DOWN_SHARE = 0.9
_HEAD, _ANKLES = skeleton.JOINT_INDEX["head"], [skeleton.JOINT_INDEX["l_ankle"], skeleton.JOINT_INDEX["r_ankle"]]


def _upside_down_share(keypoints: np.ndarray, confidence: np.ndarray) -> float:
    """The share of frames (with head and ankles seen) whose head is below both ankles in the
    image: near 1 for keypoints whose y grows upwards (a y-up input lifted an upside-down person
    without a word; QA), or a handstand."""
    joints = [_HEAD, *_ANKLES]
    seen = _seen(keypoints, confidence, joints)
    if not seen.any():
        return 0.0
    head_y, ankles_y = keypoints[seen, _HEAD, 1], keypoints[seen][:, _ANKLES, 1]
    return float(np.mean(head_y > ankles_y.max(axis=1)))


#: ``fps`` and the rate of ``timestamps_s`` further apart than this (a share) disagree.
FPS_DISAGREEMENT = 0.1


def _check_timestamp_precision(path: Path, stamps: np.ndarray) -> None:
    """Refuse timestamps stored in a float too short for their size: float32 keeps 128 s steps at
    a Unix time (1.7e9 s), so the frames' times collapsed and were refused as out of order, with
    nothing said about why."""
    if stamps.dtype.kind != "f" or stamps.dtype.itemsize >= 8 or not stamps.size:
        return
    with np.errstate(invalid="ignore"):
        largest = float(np.nanmax(np.abs(stamps))) if np.isfinite(stamps).any() else 0.0
    step_s = float(np.spacing(stamps.dtype.type(largest)))
    if step_s > 1e-3:
        raise LiftInputError(f"{path}: timestamps_s are {stamps.dtype} and reach {largest:.4g} s, where that type "
                             f"keeps only {step_s:g} s steps: save them as float64, or as seconds from the first "
                             "frame")  # fmt: skip


def checked_timestamps(path: Path | str, stamps_s: np.ndarray, frames: int) -> np.ndarray:
    """``timestamps_s`` checked (``path``: what its errors name): ``(F,)`` finite seconds, at least
    1 ns apart (``lift`` runs the pipeline on a nanosecond clock), spanning at most
    :data:`MAX_TIMESTAMP_SPAN_S`, a median :data:`MAX_MEDIAN_STEP_S` apart at most."""
    if stamps_s.shape != (frames,):
        raise LiftInputError(f"{path}: timestamps_s must be (F,) seconds, one per frame of keypoints_2d "
                             f"(F = {frames}), got shape {stamps_s.shape}; or leave it out to count frames at "
                             "fps")  # fmt: skip
    bad = np.flatnonzero(~np.isfinite(stamps_s))
    if len(bad):
        raise LiftInputError(f"{path}: timestamps_s must be finite seconds, got {stamps_s[bad[0]]:g} at frame "
                             f"{bad[0]}")  # fmt: skip
    span_s = float(stamps_s[-1] - stamps_s[0])
    if span_s > MAX_TIMESTAMP_SPAN_S:
        raise LiftInputError(f"{path}: timestamps_s spans {span_s:g} s, more than {MAX_TIMESTAMP_SPAN_S:g}: write "
                             "seconds (divide nanoseconds by 1e9)")  # fmt: skip
    with np.errstate(over="ignore", invalid="ignore"):  # a wild value overflows to inf: refused just below
        steps_ns = np.diff(np.rint((stamps_s - stamps_s[0]) * 1e9))
    if len(steps_ns) and not steps_ns.min() >= 1:
        i = int(np.argmax(~(steps_ns >= 1))) + 1  # the first frame out of order (NaN steps count too)
        raise LiftInputError(f"{path}: timestamps_s must increase strictly (at least 1 ns apart), but frame {i} is "
                             f"at {stamps_s[i]:.9g} s after frame {i - 1} at {stamps_s[i - 1]:.9g} s; "
                             "sort the frames or leave timestamps_s out to count frames at fps")  # fmt: skip
    if len(steps_ns) and (median_s := float(np.median(steps_ns)) * 1e-9) > MAX_MEDIAN_STEP_S:
        raise LiftInputError(f"{path}: timestamps_s are a median {median_s:.4g} s apart, more than "
                             f"{MAX_MEDIAN_STEP_S:g}: write seconds (divide milliseconds by 1000)")  # fmt: skip
    # (numerics QA: 1 ns steps were lifted as 30 fps and 90 poses made a 1-frame BVH; export refuses
    # them) a 1000 fps camera's clock may run 1 % fast (review)
    if len(steps_ns) and (median_s := float(np.median(steps_ns)) * 1e-9) < 0.99 / FPS_RANGE[1]:
        raise LiftInputError(f"{path}: timestamps_s are a median {median_s:.4g} s apart, {1.0 / median_s:.6g} frames "
                             f"per second, more than {FPS_RANGE[1]:g}: write seconds, or leave timestamps_s out to "
                             "count frames at fps")  # fmt: skip
    return stamps_s


def _check_unpacked_size(path: Path) -> None:
    """Refuse a zip whose members unpack to more than :data:`MAX_UNPACKED_BYTES` (a compressed
    file of zeros can declare terabytes) before numpy allocates them."""
    unpacked = zip_unpacked_bytes(path)
    if unpacked is not None and unpacked > MAX_UNPACKED_BYTES:
        raise LiftInputError(f"{path} unpacks to {unpacked / 2**20:,.0f} MiB, more than the "
                             f"{MAX_UNPACKED_BYTES / 2**20:,.0f} MiB a 2D input may hold: split the sequence into "
                             "several files")  # fmt: skip


def _fractions_problem(keypoints: np.ndarray, intrinsics: np.ndarray) -> str | None:
    """Why ``keypoints`` are fractions of the image rather than pixels (MediaPipe's normalised
    landmarks: x/width, y/height, all within 0..1) for pixel ``intrinsics``; ``None`` when not (a
    person in normalised camera units, fx = fy = 1, is within -1..1 and is read)."""
    finite = keypoints[np.isfinite(keypoints).all(axis=-1) & ~(keypoints == 0).all(axis=-1)]
    if not len(finite) or min(intrinsics[0], intrinsics[1]) < 10.0:
        return None
    if finite.min() < -0.1 or finite.max() > 1.1 or np.ptp(finite) == 0:
        return None
    # (QA: lifted 1.6 km away, every pose then given as lost, and an error listing every possible cause)
    return ("keypoints_2d all lie within 0..1 while the intrinsics are in pixels: fractions of the image (MediaPipe's "
            "normalised landmarks?); multiply x by the image's width and y by its height")


def _layout(path: Path, value: object, keypoints_shape: tuple[int, ...]) -> KeypointLayout:
    """The keypoints' layout: the one ``layout`` names (a string), else posecast's 17 joints, or
    the one other layout with as many keypoints as ``keypoints_2d`` has (MediaPipe's 33; COCO's
    17 cannot be told from posecast's by their number, so it is named)."""
    names = ", ".join(sorted(LAYOUTS))
    if value is None:
        count = keypoints_shape[1] if len(keypoints_shape) == 3 else None
        if count == POSECAST_17.num_keypoints:
            return POSECAST_17
        same = [layout for layout in LAYOUTS.values() if layout.num_keypoints == count]
        return same[0] if len(same) == 1 else POSECAST_17
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "US" or value.size != 1:
        raise LiftInputError(f"{path}: layout must be one string naming the keypoints' layout ({names}), "
                             f"saved as numpy.savez(..., layout='coco-17')")  # fmt: skip
    name = value.reshape(-1)[0]
    name = name.decode("ascii", "replace") if isinstance(name, bytes) else str(name)
    if name.strip().lower() not in LAYOUTS:
        raise LiftInputError(f"{path}: unknown layout {name[:40]!r}: known are {names}")
    return LAYOUTS[name.strip().lower()]


def _numbers(path: Path, name: str, array: object) -> np.ndarray:
    """``array`` as float64, or :class:`LiftInputError` when it does not hold plain numbers."""
    if not isinstance(array, np.ndarray):  # a zip member that is no .npy: numpy hands back its bytes
        raise LiftInputError(f"{path}: {name} is not a numpy array (a file in the zip numpy did not write); save "
                             "the input with numpy.savez")  # fmt: skip
    if array.dtype.kind not in "iuf":
        raise LiftInputError(f"{path}: {name} must hold numbers, got an array of {array.dtype.name}")
    with np.errstate(over="ignore"):  # float128 beyond float64 becomes inf, refused or unused later
        return np.asarray(array, dtype=np.float64)


def _listed(values: np.ndarray) -> str:
    """A few numbers for a one-line message: ``[623.5, nan, 360, 640]`` or ``[1, 2, 3, ... 100 numbers]``."""
    flat = values.reshape(-1)
    shown = ", ".join(f"{v:g}" for v in flat[:4].tolist())
    return f"[{shown}]" if flat.size <= 4 else f"[{shown}, ... {flat.size} numbers]"

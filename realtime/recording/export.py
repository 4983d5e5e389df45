"""``posecast export``'s work: a recorded person as BVH (via :mod:`posecast.engines.bvh_export`)
and as the ``posecast lift`` input.

The recording holds joints in the camera frame; BVH wants a world standing on the floor. The
camera→world transform is the one the stream published (``camera_to_world`` in the meta's
``assumptions``, from ``posecast calibrate floor`` or the live floor estimate) or, when the take
has none, estimated from the recorded feet with :func:`posecast.calibration.floor.estimate_floor`
(origin on the floor below the first root position, y up, z towards the camera).

BVH has one frame time, a live take has none: its frames were stamped as a camera or stream
delivered them and the pipeline kept up (steps of one or two source frames, stalls). Such a take
is resampled onto a uniform grid at its rate (:attr:`Recording.fps`: the median step) from its
first frame to its last, so that the BVH lasts as long as the take: each bone's rotation
interpolated by slerp, the root linearly, between the two recorded poses around each grid time
(the live window's rule, :func:`~posecast.engines.window_slots.frames_around`), and the last pose
held across a gap longer than :data:`~posecast.engines.window_slots.MAX_BRIDGED_GAP_S`. A gap
longer than :data:`MAX_HELD_S` (a stalled or suspended source, a clock that jumped) is held for
that long only: the BVH is shorter than the take by the rest, and the summary says so (held in
full, a take stamped 11 days apart made 30 million frames and 18 GB). A take already on such a
grid (a file: media time) keeps its frames as they are. Timestamps that do not increase for most
frames, or that give a rate no camera has, are refused: the take's timing is damaged.

A limb the 2D detector did not see (outside the image or at its edge, or scored low) is held at
its last seen rotation, relaxed to rest when it stays out over 1 s, and eased back when seen again,
on the take's own timestamps, as the live avatar outputs hold it (:mod:`posecast.engines.limb_hold`;
:func:`~posecast.realtime.recording.bvh_frames.limbs_seen_in`), before the rotations are resampled.

``posecast export --bvh`` reads a take in passes (:func:`bvh_pieces`): once, checking every
record, for its clocks, metas and people (:func:`~posecast.realtime.recording.passes.scan_take`),
then twice more from the file, :data:`~posecast.engines.bvh_export.CHUNK_FRAMES` frames at a time:
for what the BVH needs before its first frame (each frame's pose or none, the floor's inputs
where the take published no floor, each chunk's next face: :func:`~posecast.realtime.recording.
bvh_frames.survey_take`), and to turn, hold, resample and write the frames, each piece as it is
made (:mod:`~posecast.realtime.recording.bvh_frames`), each hinge's twist, the limb hold and the
head's last face carried across a chunk's end as across a frame's. It keeps each frame's
timestamp, whether it has a pose and its keyframe's time (30 to 60 bytes a frame; a take without a
published floor also the floor's joints of each pose whose feet were seen, 96 bytes, and one
without recorded bone lengths each pose's, 128) beside one chunk's working arrays: the bytes of
the take made whole at once (an hour at 30 fps needed 0.35 GB kept record by record, 1.5 GB read
and turned whole at once).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import msgpack
import numpy as np

from ...calibration import floor as floors
from ...calibration.ground import ASSUMED_FLOOR
from ...engines import bvh_export, limb_hold, skeleton
from ...engines import frames as engine_frames
from ...engines import rotations as rot
from ...engines.fileio import atomic_path
from ...engines.lift_input import FPS_RANGE
from ...engines.limb_hold import LimbHoldOptions
from ...engines.window_slots import grid_frames, shorten_gaps, uniform_grid
from .arrays import TakeArrays, take_arrays
from .bvh_frames import (
    FeetSurvey,
    KeyframeFeed,
    KeyframeTally,
    PersonFrames,
    held_grid_frames,
    keyframe_chunks,
    recorded_pose,
    resampled_pose,
    survey_take,
)
from .format import Recording, RecordingError, TakeClock
from .passes import TakeScan

log = logging.getLogger(__name__)

#: The meta ``assumptions`` key of a published camera→world transform (4 × 4, metres).
CAMERA_TO_WORLD_KEY = "camera_to_world"
#: A recorded frame this close to its grid time, in frames, is on the grid (a file's media time
#: is within a nanosecond).
ON_GRID_FRAMES = 0.01
#: The longest a BVH holds one pose across a gap in the take (seconds; module docstring).
MAX_HELD_S = 5.0
#: A BVH holds at most this many times a take's recorded frames (or them and 10 minutes more):
#: beyond, the rate from the median step is not the take's (frames stamped in bursts).
MAX_FRAMES_PER_RECORDED = 10
#: How an export holds the limbs the 2D detector did not see: as the live avatar outputs do.
LIMB_HOLD = LimbHoldOptions()


@dataclass
class BVHExport:
    """What :func:`export_bvh` wrote: ``frames`` at ``fps`` (``held`` of them hold the last pose, or
    the first before the person's first: no pose there, or a gap too long to interpolate), made from
    ``recorded_frames`` (``posed`` of them with a pose) lasting ``duration_s``; ``resampled`` when
    the take was not on a uniform grid (a live take; module docstring). The bone lengths used;
    ``frames_within_1mm``: the recorded frames with a pose (those the BVH is made of) whose every
    joint of the BVH's skeleton, limbs held as written, lies within 1 mm of the recording's; and
    ``max_deviation_m``, the largest distance between a joint of the skeleton and the recording
    in those frames, the joints that a limb held out of view moves left out (``limb_held`` frames
    hold one). Elsewhere a frame deviates only where the live pipeline's bone lengths were not yet
    its last: its first seconds of tracking, and before a later live measurement moved them (BVH
    has one set of bone lengths). These three are counted as the frames are made
    (:func:`bvh_pieces`): known once the file is written."""

    path: Path
    person_id: int
    frames: int
    held: int
    fps: float
    bone_lengths_m: np.ndarray
    max_deviation_m: float
    frames_within_1mm: int
    floor_source: str
    recorded_frames: int = 0
    posed: int = 0
    duration_s: float = 0.0
    resampled: bool = False
    #: gaps longer than :data:`MAX_HELD_S` held for that long only, and the seconds left out
    gaps_shortened: int = 0
    shortened_s: float = 0.0
    #: recorded frames with a pose in which a limb out of view is held (or rests, eases back, or is a
    #: leg never seen, calmed)
    limb_held: int = 0

    def summary(self) -> str:
        """What the frames are, for ``posecast export``'s line: ``"332 frames at 51.5 fps
        (resampled: 240 recorded frames → 332 at 51.5 fps, the take's 6.45 s)"``."""
        text = f"{self.frames} frames at {self.fps:g} fps"
        if self.resampled:
            text += (f" (resampled: {self.recorded_frames} recorded frames → {self.frames} at {self.fps:.3g} fps, "
                     f"the take's {self.duration_s:.2f} s)")  # fmt: skip
        if self.gaps_shortened:
            text += (f"; {self.gaps_shortened} gap(s) longer than {MAX_HELD_S:g} s held for {MAX_HELD_S:g} s: "
                     f"{self.shortened_s:.3g} s of the take left out")  # fmt: skip
        return text


def published_camera_to_world(recording: TakeClock) -> np.ndarray | None:
    """The last camera→world transform the stream published, or ``None``: a meta message's
    ``floor.camera_to_world`` (the live floor estimate, used once its state is ``estimated`` or
    ``calibrated``) or ``assumptions.camera_to_world``."""
    for meta in reversed(recording.metas):
        try:
            message = msgpack.unpackb(meta.payload, raw=False)
        except (ValueError, msgpack.UnpackException):
            continue
        if not isinstance(message, dict):
            continue
        assumptions = message.get("assumptions") if isinstance(message.get("assumptions"), dict) else {}
        for floor in (message.get("floor"), assumptions.get("floor"), assumptions):
            if not isinstance(floor, dict) or floor.get("state") in ("assumed", "estimating"):
                continue
            value = floor.get(CAMERA_TO_WORLD_KEY)
            if value is not None and np.asarray(value, dtype=np.float64).shape == (4, 4):
                return np.asarray(value, dtype=np.float64)
    return None








def check_bvh_output(path: Path, frame: str) -> None:
    """Refuse a ``--bvh`` that is not a ``.bvh`` name, or a left-handed ``--frame`` (BVH is read as
    right-handed: QA, Blender showed a mirror image): one line each."""
    if path.suffix.lower() != ".bvh":
        raise RecordingError(f"--bvh must name a .bvh file (e.g. take.bvh), got {path.name}")
    if engine_frames.ENGINE_FRAMES[frame].handedness == "left":
        raise RecordingError(f"--frame {frame} is left-handed and BVH files are read as right-handed, so the take "
                             "would import as its mirror image: pass --frame world (or blender, godot) and let the "
                             "importer turn the axes")  # fmt: skip


def floor_from_feet(joints_m: np.ndarray, confidence: np.ndarray, posed: np.ndarray,
                    lengths_m: np.ndarray) -> tuple[np.ndarray, str]:  # fmt: skip
    """The camera → world transform ``(4, 4)`` of a person's camera-frame joints ``(F, 17, 3)``: the
    floor under the frames with a pose (``posed``) whose 2D saw both feet (``confidence`` ``(F,
    17)``; not the legs MediaPipe guesses out of view) below the body
    (:func:`~posecast.calibration.floor.feet_below_body`), else an assumed level camera, as the
    live floor; and where the floor came from, in words."""
    feet = FeetSurvey()
    feet.add(joints_m, confidence, np.asarray(posed, bool))
    return feet_floor(feet, lengths_m)


def feet_floor(feet: FeetSurvey, lengths_m: np.ndarray) -> tuple[np.ndarray, str]:
    """:func:`floor_from_feet` of the floor's inputs gathered a chunk at a time
    (:class:`~posecast.realtime.recording.bvh_frames.FeetSurvey`), the subject's bones ``lengths_m``."""
    floor = feet.floor(skeleton.height_from_bone_lengths(lengths_m))
    if floor is not None:
        source = (f"estimated from the recorded feet (camera {floor.camera_height_m:.2f} m up, tilt "
                  f"{floor.tilt_deg:.1f} deg)")  # fmt: skip
        if notice := floors.rough_floor_notice(feet.standing):  # (review: said of calibrate floor only)
            log.warning("%s: the motion may stand tilted or above or below it", notice)
        if limit := floors.tilt_limit_notice(floor):
            log.warning("the floor estimated from the recorded feet: %s", limit)
    else:
        why = "no recorded frame saw both feet" + (" below the hips" if feet.feet_seen else "")
        floor, source = ASSUMED_FLOOR, f"assumed ({why}): a level camera 1.5 m up"
    return floors.camera_to_world(floor, feet.first_root_m), source


def camera_joints_bvh(joints_m: np.ndarray, confidence: np.ndarray, times_s: np.ndarray, fps: float, frame: str,
                      chunk_frames: int = bvh_export.CHUNK_FRAMES) -> tuple[Iterator[bytes], int, str]:  # fmt: skip
    """The BVH file in ``frame`` of one person's camera-frame joints ``(F, 17, 3)`` (NaN without a
    pose) stamped ``times_s`` ``(F,)``, at ``fps`` (resampled onto a uniform grid when the times
    are not on one, as a take is), standing on the floor under their feet
    (:func:`floor_from_feet`), with the median bone lengths of the frames with a pose, as the
    bytes of its pieces, each made when it is asked for (:func:`encoded`; ``chunk_frames`` frames
    each); and the BVH's frame count and where its floor came from (``posecast lift --bvh``:
    another detector's 2D)."""
    posed = np.isfinite(joints_m).all(axis=(1, 2))
    joints = np.asarray(joints_m, np.float64)  # (one copy of float32 joints, not one for each use)
    lengths = np.median(skeleton.bone_lengths(joints[posed]), axis=0)
    transform, source = floor_from_feet(joints, confidence, posed, lengths)
    joints = floors.to_world(joints, transform)
    times_s = np.asarray(times_s, np.float64) - times_s[0]
    if on_grid(times_s, fps):
        pieces, _ = bvh_export.joints_to_bvh_pieces(joints, fps, frame, lengths, chunk_frames=chunk_frames)
        return encoded(pieces), len(joints), source
    pieces, frames, *_ = resampled_bvh_pieces(joints, times_s, fps, frame, lengths, np.full((len(joints), 3), np.nan),
                                              chunk_frames=chunk_frames)  # fmt: skip
    return encoded(pieces), frames, source


def encoded(pieces: Iterable[str]) -> Iterator[bytes]:
    """A BVH document's text pieces as bytes, each made and encoded when it is asked for
    (``fh.writelines`` writes each as it comes): one piece in memory at a time, not the file."""
    return (piece.encode() for piece in pieces)


def increasing(times_s: np.ndarray) -> np.ndarray:
    """``(F,)`` True for the frames whose time is before every later frame's: a strictly
    increasing subsequence (of two frames stamped alike the later stays, as in the live window;
    frames a clock going backwards overtook are left out)."""
    later_min = np.minimum.accumulate(np.append(np.asarray(times_s, np.float64), np.inf)[::-1])[::-1]
    return times_s < later_min[1:]


def on_grid(times_s: np.ndarray, fps: float) -> bool:
    """Whether every recorded time is its time on the take's uniform grid (within
    :data:`ON_GRID_FRAMES`): the take needs no resampling. (The grid is made only when it has
    as many frames as the take.)"""
    if len(times_s) != grid_frames(times_s, fps):
        return False
    return bool(np.abs(times_s - uniform_grid(times_s, fps)).max() <= ON_GRID_FRAMES / fps)




def resampled_bvh_pieces(joints_world: np.ndarray, times_s: np.ndarray, fps: float, frame: str,
                         lengths_m: np.ndarray, ear_lines: np.ndarray, limbs: np.ndarray | None = None,
                         limb_hold_options: LimbHoldOptions = LIMB_HOLD,
                         chunk_frames: int = bvh_export.CHUNK_FRAMES,
                         ) -> tuple[Iterator[str], int, int, int, float]:  # fmt: skip
    """World joints ``(F, 17, 3)`` (NaN without a pose) and ear lines ``(F, 3)`` (the head's twist,
    NaN where not known) stamped ``times_s`` ``(F,)``, the limb bones ``limbs`` ``(F, 8)`` not seen
    held as ``limb_hold_options`` say (``None``: none) → (the BVH text in ``frame`` at ``fps`` on
    the take's uniform grid as pieces of ``chunk_frames`` frames, each turned, resampled and
    written when it is made; its frame count; how many hold a pose more than half a frame from the
    pose they show; the gaps held for :data:`MAX_HELD_S` only and the seconds that left out)."""
    rows = resampled_rows(joints_world, times_s)
    keys = keyframes(joints_world, ear_lines, rows, lengths_m, limbs, _stamps_ns(times_s, rows), limb_hold_options,
                     chunk_frames)  # fmt: skip
    return _resampled_pieces(keys, times_s, fps, frame, chunk_frames)


@dataclass
class Keyframes:
    """The recorded frames a take's BVH is made of: ``rows`` ``(P,)`` their indices in the take,
    ``pose`` their :class:`~posecast.engines.rotations.BonePose` (the limbs out of view held), and
    ``held_bones`` ``(P, 8)`` the limb bones (:data:`~posecast.engines.limb_hold.LIMB_JOINTS`) the
    hold turned away from the rotation their recorded joints give (``None``: not held)."""

    rows: np.ndarray
    pose: rot.BonePose
    held_bones: np.ndarray | None


def keyframes(joints_world: np.ndarray, ear_lines: np.ndarray, rows: np.ndarray, lengths_m: np.ndarray,
              limbs: np.ndarray | None, stamps_ns: np.ndarray, limb_hold_options: LimbHoldOptions,
              chunk_frames: int) -> Keyframes:  # fmt: skip
    """The frames ``rows`` ``(F,)`` (bool; all with a pose) of world joints ``(F, 17, 3)`` turned
    :data:`~posecast.engines.bvh_export.CHUNK_FRAMES` at a time with their ear lines ``(F, 3)`` and
    one set of bone lengths ``(16,)``, the limb bones not seen in ``limbs`` ``(F, 8)`` held as
    ``limb_hold_options`` say on their times ``stamps_ns`` ``(P,)`` (``limbs`` ``None``: not held)."""
    pose = rot.take_pose(_rows(joints_world, rows), lengths_m, _rows(ear_lines, rows), chunk_frames)
    if limbs is None:
        return Keyframes(np.flatnonzero(rows), pose, None)
    held_bones = limb_hold.hold_track_in_place(pose.rotations, limbs[rows], stamps_ns, limb_hold_options,
                                               pose.root_m[:, 1], pose.bone_lengths_m)  # fmt: skip
    return Keyframes(np.flatnonzero(rows), pose, held_bones)


def resampled_rows(joints_world: np.ndarray, times_s: np.ndarray) -> np.ndarray:
    """``(F,)`` the frames a resampled BVH is made of: those with a pose stamped before every
    later frame (:func:`increasing`)."""
    return increasing(times_s) & np.isfinite(joints_world).all(axis=(1, 2))


def _stamps_ns(times_s: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The nanoseconds of the take's own times (before gaps are shortened) of the frames ``rows``."""
    return np.round(times_s[rows] * 1e9).astype(np.int64)


def _resampled_pieces(keys: Keyframes, times_s: np.ndarray, fps: float, frame: str,
                      chunk_frames: int) -> tuple[Iterator[str], int, int, int, float]:  # fmt: skip
    """:func:`resampled_bvh_pieces` of its :func:`keyframes` (the take's frames stamped ``times_s``)."""
    feed = KeyframeFeed(iter([(keys.pose.root_m, keys.pose.rotations)]))
    rows = np.zeros(len(times_s), bool)
    rows[keys.rows] = True
    grid = ResampledGrid.of(times_s, rows, fps)
    pieces = bvh_export.pose_bvh_pieces(keys.pose.bone_lengths_m, grid.frames,
                                        resampled_pose(feed, grid.key_times_s, grid.start_s, fps), fps, frame,
                                        chunk_frames)  # fmt: skip
    return pieces, grid.frames, grid.held(fps, chunk_frames), grid.shortened, grid.shortened_s


@dataclass
class ResampledGrid:
    """The uniform grid a resampled take's BVH is made on: ``frames`` from ``start_s`` (seconds on
    the take's clock, the gaps longer than :data:`MAX_HELD_S` cut to it: ``shortened`` of them,
    ``shortened_s`` left out), and the times of its keyframes there ``key_times_s`` ``(P,)``."""

    start_s: float
    frames: int
    key_times_s: np.ndarray
    shortened: int
    shortened_s: float

    @classmethod
    def of(cls, times_s: np.ndarray, rows: np.ndarray, fps: float) -> ResampledGrid:
        """The grid at ``fps`` of a take's frames stamped ``times_s`` ``(F,)``, its keyframes
        ``rows`` ``(F,)`` (bool: frames with a pose stamped before every later frame)."""
        keep = increasing(times_s)
        kept_s, shortened, shortened_s = shorten_gaps(times_s[keep], MAX_HELD_S)
        return cls(kept_s[0], grid_frames(kept_s, fps), kept_s[rows[keep]], shortened, shortened_s)

    def held(self, fps: float, chunk_frames: int) -> int:
        """How many of its frames hold a pose: more than half a frame from the pose they show."""
        return held_grid_frames(self.key_times_s, self.start_s, self.frames, fps, chunk_frames)


def _rows(array: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``array[rows]`` for a boolean ``rows``, or ``array`` itself when every row is (no copy of a
    whole take's joints)."""
    return array if rows.all() else array[rows]


def check_take_timing(recording: TakeClock, times_s: np.ndarray, posed: np.ndarray, fps: float) -> None:
    """Raise :class:`RecordingError` when the take's timestamps cannot time a BVH: a rate outside
    the lift input's ``FPS_RANGE``, or most frames with a pose stamped at or before an earlier frame; log
    the frames left out when a few are."""
    low, high = FPS_RANGE
    if not low <= fps <= high:
        # (footage QA: a 0.005 fps timelapse's take, whole, was called damaged)
        raise RecordingError(f"{recording.path}: its timestamps give {fps:.3g} frames per second, outside the "
                             f"{low:g}..{high:g} a BVH is made at (frames {1 / fps:.3g} s apart): a timelapse's or a "
                             "burst's frames, or damaged timestamps (then record the take again)")  # fmt: skip
    out_of_order = int((~increasing(times_s) & posed).sum())
    if out_of_order * 2 > int(posed.sum()):
        raise RecordingError(f"{recording.path}: {out_of_order} of its {int(posed.sum())} frames with a pose are "
                             "stamped at or before an earlier frame: its timestamps are damaged; record the take "
                             "again")  # fmt: skip
    if out_of_order:
        log.warning("%s: %d frames with a pose are stamped at or before an earlier frame: left out of the BVH",
                    recording.path, out_of_order)  # fmt: skip


def bounded_rate(recording: TakeClock, times_s: np.ndarray, fps: float) -> float:
    """``fps`` (the take's median step), or the take's mean rate when a BVH at ``fps`` would hold
    more than :data:`MAX_FRAMES_PER_RECORDED` times the recorded frames (and 10 minutes more):
    frames stamped in bursts gave 1000 fps and a 3.6 million frame BVH of a 1-hour take."""
    kept = shorten_gaps(times_s[increasing(times_s)], MAX_HELD_S)[0]  # the times the BVH is made on
    frames = grid_frames(kept, fps)
    if frames <= max(MAX_FRAMES_PER_RECORDED * len(kept), len(kept) + 600 * fps) or len(kept) < 2:
        return fps
    mean_fps = (len(kept) - 1) / (kept[-1] - kept[0])
    log.warning("%s: its frames come in bursts (%.3g fps between frames of a burst, %.3g fps on average): the BVH "
                "is at the average rate", recording.path, fps, mean_fps)  # fmt: skip
    return float(mean_fps)


def bvh_text(recording: Recording | TakeArrays | TakeScan, path: str | Path, frame: str = "world",
             person_id: int | None = None,
             limb_hold_options: LimbHoldOptions | None = LIMB_HOLD) -> tuple[str, BVHExport]:  # fmt: skip
    """The BVH :func:`export_bvh` writes to ``path``, and what it holds, without writing anything
    (``posecast export`` makes every output before it writes any); raises
    :class:`RecordingError` when there is nothing to export. A take whose frames are not on a
    uniform grid at its rate is resampled onto one, the limbs out of view held as
    ``limb_hold_options`` says (``None``: they follow the recorded joints; module docstring)."""
    pieces, done = bvh_pieces(recording, path, frame, person_id, limb_hold_options)
    return b"".join(pieces).decode(), done


def person_frames(recording: Recording | TakeArrays | TakeScan, person_id: int | None = None) -> PersonFrames:
    """``recording`` as the BVH export reads it: one person's numbers a chunk at a time (a
    :class:`~posecast.realtime.recording.passes.TakeScan`, or a :class:`TakeArrays` held)."""
    if isinstance(recording, TakeScan):
        if person_id is not None and person_id != recording.person_id:
            raise RecordingError(f"{recording.path} was read for person {recording.person_id}, not {person_id}: "
                                 "read it again for that person")  # fmt: skip
        return recording
    return take_arrays(recording, person_id)


def bvh_pieces(recording: Recording | TakeArrays | TakeScan, path: str | Path, frame: str = "world",
               person_id: int | None = None, limb_hold_options: LimbHoldOptions | None = LIMB_HOLD,
               chunk_frames: int | None = None) -> tuple[Iterator[bytes], BVHExport]:  # fmt: skip
    """:func:`bvh_text`'s file as the bytes of its pieces, in order, each made when it is asked for
    (``fh.writelines`` writes them as they come), and what the file holds: everything that can
    refuse the take does so here, before any piece is made; what the file's frames hold of the
    recording (``frames_within_1mm``, ``max_deviation_m``, ``limb_held``) is counted as they are
    made, once the last piece has been. The take (a :class:`Recording`, a :class:`TakeArrays` of
    one person, or :func:`~posecast.realtime.recording.passes.scan_take`'s :class:`TakeScan`, read
    from its file again for each pass) is read ``chunk_frames`` frames at a time: once for what
    the BVH needs to know before its first frame (:func:`~posecast.realtime.recording.bvh_frames.
    survey_take`: each frame's pose or none, the floor's inputs where the take published no
    floor, the face seen next at each chunk's start), and once as its frames are turned, held,
    resampled and written (module docstring); ``None``: :data:`~posecast.engines.bvh_export.CHUNK_FRAMES`."""
    chunk_frames = bvh_export.CHUNK_FRAMES if chunk_frames is None else chunk_frames
    take = person_frames(recording, person_id)
    recorded_lengths = take.recorded_bone_lengths_m
    transform = published_camera_to_world(take)
    survey = survey_take(take, chunk_frames, transform is None, recorded_lengths is None)
    posed = survey.posed
    if not posed.any():
        raise RecordingError(f"{take.path}: person {take.person_id} has no frame with a pose")
    fps = take.fps
    if not fps > 0:
        raise RecordingError(f"{take.path}: cannot tell the frame rate (fewer than two frames); record a "
                             "longer take")  # fmt: skip
    # the last the pipeline used (its latest live measurement, locked; earlier ones rest on fewer
    # frames), or the median of the joints' own when the take has none
    lengths = survey.median_bone_lengths() if recorded_lengths is None else recorded_lengths.astype(np.float64)
    floor_source = "published by the stream"
    if transform is None:
        transform, floor_source = feet_floor(survey.feet, lengths)
    survey.bone_lengths = survey.feet = None  # (let go before the frames are written)
    stamps_ns = take.timestamps_ns
    times_s = (stamps_ns - stamps_ns[0]) / 1e9
    check_take_timing(take, times_s, posed, fps)
    fps = bounded_rate(take, times_s, fps)
    resampled = not on_grid(times_s, fps)
    # the frames the BVH is made of (a resampled take's in time order), on the take's own clock
    rows = increasing(times_s) & posed if resampled else posed
    key_stamps_ns = _stamps_ns(times_s, rows) if resampled else stamps_ns[rows]
    tally = KeyframeTally()
    feed = KeyframeFeed(keyframe_chunks(take, chunk_frames, transform, lengths, rows, key_stamps_ns,
                                        limb_hold_options, survey.faces_ahead, tally))  # fmt: skip
    shortened, shortened_s = 0, 0.0
    if resampled:
        grid = ResampledGrid.of(times_s, rows, fps)
        frames, held, shortened, shortened_s = grid.frames, grid.held(fps, chunk_frames), grid.shortened, \
            grid.shortened_s  # fmt: skip
        pose = resampled_pose(feed, grid.key_times_s, grid.start_s, fps)
    else:  # one BVH frame per recorded frame, as recorded
        frames, held = take.frames, int((~posed).sum())
        pose = recorded_pose(feed, posed)
    del times_s  # (8 bytes a frame that the writing does not need)
    done = BVHExport(Path(path), take.person_id, frames, held, fps, lengths, np.nan, 0, floor_source, take.frames,
                     int(posed.sum()), take.duration_s, resampled, shortened, shortened_s, 0)  # fmt: skip
    pieces = bvh_export.pose_bvh_pieces(lengths, frames, pose, fps, frame, chunk_frames)

    def written() -> Iterator[str]:
        yield from pieces
        feed.finish()  # (every keyframe counted, the rest of the take read)
        done.max_deviation_m, done.frames_within_1mm, done.limb_held = (tally.max_deviation_m, tally.within_1mm,
                                                                         tally.limb_held)  # fmt: skip

    return encoded(written()), done


def export_bvh(recording: Recording | TakeArrays | TakeScan, path: str | Path, frame: str = "world",
               person_id: int | None = None,
               limb_hold_options: LimbHoldOptions | None = LIMB_HOLD) -> BVHExport:  # fmt: skip
    """Write one person of ``recording`` as BVH in ``frame`` (``engines.frames`` names), atomically,
    each piece as it is made (:func:`bvh_pieces`); raises :class:`RecordingError` when there is
    nothing to export."""
    pieces, done = bvh_pieces(recording, path, frame, person_id, limb_hold_options)
    with atomic_path(path) as temporary, open(temporary, "wb") as fh:
        fh.writelines(pieces)
    return done

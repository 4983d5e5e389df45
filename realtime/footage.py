"""A user's footage as 2D sequences in the ``posecast lift`` input format, for ``posecast adapt``.

An input is one of:

- a video file or a folder of images: run through the live pipeline (the MediaPipe detector,
  the lifting stage's intrinsics: assumed from ``hfov_deg`` or a camera file) into a temporary
  recording, exactly as ``posecast run --record`` would write it;
- a camera recording (``.posecast``, from ``posecast run --record``);
- a lift-format ``.npz`` (checked like ``posecast lift`` checks it);
- a folder of videos, recordings and ``.npz`` files (a folder with images is an image folder).

Recordings become lift input the way ``posecast export --lift-input`` makes it (undistorted
keypoints, intrinsics, fps, timestamps), one file per person in them (``--max-people`` takes: every
person is footage of the camera; the person seen most keeps the plain name), so every path ends
in the same files.
"""

from __future__ import annotations

import logging
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..engines.errors import escaped
from ..engines.fileio import input_file_problem, same_file
from ..engines.lift_input import posed_frames, read_lift_input, save_lift_input
from ..engines.logs import quieter
from ..engines.media import IMAGE_SUFFIXES, VIDEO_SUFFIXES, natural_key
from .assemble import PipelineOptions, build_pipeline
from .detectors.mediapipe import MediaPipeOptions
from .errors import SourceError
from .lifting import LiftingOptions
from .progress import progress
from .recording.arrays import lift_input, person_ids
from .recording.format import read_recording
from .sinks.record import RecordOptions, RecordSink
from .sources import open_source

log = logging.getLogger(__name__)

RECORDING_SUFFIX = ".posecast"


@dataclass
class FootageOptions:
    """How videos and image folders are turned into 2D: the detector's options and the lifting
    stage's, whose camera (``intrinsics_path``, else ``hfov_deg`` assumed, as ``posecast run``
    does) gives the intrinsics the 2D is stored with."""

    detector: MediaPipeOptions = field(default_factory=MediaPipeOptions)
    lifting: LiftingOptions = field(default_factory=LiftingOptions)


#: The array of a 2D file adapt made that names the footage it came from (a video's file name)
FOOTAGE_NAME_KEY = "footage_name"


@dataclass
class Footage2D:
    """One input's 2D: ``path`` (a lift-format ``.npz``), the input it came from, its frames and
    how many of them show a person."""

    path: Path
    source: Path
    frames: int
    with_person: int


def input_kind(path: Path) -> str:
    """``"npz"``, ``"recording"``, ``"images"`` (a folder) or ``"video"``; raises
    :class:`SourceError` for a path that does not exist."""
    if path.is_dir():
        return "images"
    if (problem := input_file_problem(path)) is not None:
        raise SourceError(f"adapt input {path} {problem}: give videos, image folders, recordings "
                          "(.posecast) or 2D .npz files in the `posecast lift` input format")  # fmt: skip
    suffix = path.suffix.lower()
    if suffix == ".npy":  # (QA: OpenCV was asked to decode it as a video, and said to re-encode it)
        raise SourceError(f"adapt input {path} is a single numpy array (.npy): give 2D as an .npz in the "
                          "`posecast lift` input format (numpy.savez(path, keypoints_2d=..., intrinsics=..., "
                          "fps=...))")  # fmt: skip
    if suffix == ".onnx":  # (QA: OpenCV was asked to decode it as a video, and said to re-encode it)
        raise SourceError(f"adapt input {path} is a model, not footage: give it as --model {path} (the model to "
                          "adapt) and the footage as inputs")  # fmt: skip
    return {".npz": "npz", RECORDING_SUFFIX: "recording"}.get(suffix, "video")


def _made_by_adapt(path: Path, folder_files: list[Path]) -> bool:
    """Whether ``path`` is something ``posecast adapt`` wrote, not footage: a model's adaptation
    weights (``NAME.adapt.npz``), or the 2D ``--save-2d`` wrote for a video or recording beside it
    (``NNN_STEM_2d.npz``; the footage is that file, read again). Taken as footage, they failed the
    next run or counted the footage twice."""
    name = path.name.lower()
    if name.endswith(".adapt.npz"):
        return True
    match = re.fullmatch(r"\d{3}_(.+)_2d\.npz", path.name)
    if match is None:
        return False
    stems = {match.group(1), re.sub(r"_person\d+$", "", match.group(1))}  # a take's other people: _personN
    return any(f.stem in stems and f.suffix.lower() != ".npz" for f in folder_files)


def _lifted_3d(path: Path) -> bool:
    """Whether ``path`` is ``posecast lift``'s output (3D joints, no 2D keypoints): beside its input
    in a folder, as ``lift --output FOLDER`` writes it, it failed the whole ``adapt`` run (QA)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False  # not an .npz: its own check says so
    return "joints_3d.npy" in names and "keypoints_2d.npy" not in names


def expand_inputs(inputs: list[Path], say_left_out: bool = True) -> list[tuple[Path, str]]:
    """Each input with its kind (:func:`input_kind`), a folder opened: a folder of images is one
    input; any other folder stands for the videos, recordings and ``.npz`` files in it, in name
    order. Raises :class:`SourceError` (one line) for a folder that holds neither, or both images
    and such files (which of them was meant cannot be told). ``say_left_out``: log the other files
    a folder holds (once a run: a check before the work passes ``False``)."""
    out: list[tuple[Path, str]] = []
    for path in inputs:
        if not path.is_dir():
            out.append((path, input_kind(path)))
            continue
        files = sorted((p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")), key=natural_key)
        images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
        others = [p for p in files if p.suffix.lower() in (".npz", RECORDING_SUFFIX, *VIDEO_SUFFIXES)
                  and not _made_by_adapt(p, files)]  # fmt: skip
        lifted = [p for p in others if p.suffix.lower() == ".npz" and _lifted_3d(p)]
        others = [p for p in others if p not in lifted]
        if images and others:
            raise SourceError(f"adapt input folder {path} holds both images ({images[0].name}, ...) and "
                              f"{others[0].name}: give the image folder and the other files separately")  # fmt: skip
        if not images and not others:
            raise SourceError(f"adapt input folder {path} holds no images, videos ({', '.join(VIDEO_SUFFIXES)}), "
                              "recordings (.posecast) or 2D .npz files: give a folder of one of these")  # fmt: skip
        taken = set(images or others)
        if say_left_out and lifted:
            log.info("adapt input folder %s: %d file(s) of posecast lift's 3D left out (e.g. %s): adapt reads 2D",
                     path, len(lifted), lifted[0].name)  # fmt: skip
        if say_left_out and (left := [p for p in files
                                      if p not in taken and p not in lifted and not _made_by_adapt(p, files)]):
            # (QA: .MTS and .3gp videos were left out without a word, and the run failed for want of footage)
            log.info("adapt input folder %s: %d file(s) left out, not %s (e.g. %s); give such a file by name to use it",
                     path, len(left), "images" if images else "footage posecast reads by its ending",
                     left[0].name)  # fmt: skip
        out += [(path, "images")] if images else [(p, input_kind(p)) for p in others]
    return out


def footage_to_2d(inputs: list[Path], folder: Path, options: FootageOptions | None = None) -> list[Footage2D]:
    """Every input as lift-format ``.npz`` files: existing ``.npz`` are checked and used where
    they are; the rest are written into ``folder``. Raises :class:`SourceError` (one line) for a
    missing or unreadable input, and when no input shows a person at all."""
    o = options or FootageOptions()
    kinds = expand_inputs(inputs)  # every path checked before any slow work
    given_2d = [path for path, kind in kinds if kind == "npz"]
    targets = {index: folder / f"{index:03d}_{path.stem or 'input'}_2d.npz" for index, (path, kind) in enumerate(kinds)}
    for index, (path, kind) in enumerate(kinds):  # (QA: the user's 2D was replaced, then adapted to as the video's)
        if kind != "npz":
            _check_not_given(targets[index], path, given_2d)
    out: list[Footage2D] = []
    with tempfile.TemporaryDirectory(prefix="posecast-footage-") as tmp:
        for index, (path, kind) in enumerate(kinds):
            if kind == "npz":
                out.append(_checked_npz(path))
            else:
                recording = path if kind == "recording" else _record(path, Path(tmp) / f"{index:03d}.posecast", o)
                out += _recording_to_npz(recording, path, targets[index], given_2d)
    if not any(f.with_person for f in out):
        raise SourceError(f"no person was seen in any frame of {', '.join(str(p) for p in inputs)}: adapt needs "
                          "footage of a person (no frame of the videos or recordings had one, no frame of the .npz "
                          "files a 2D pose)")  # fmt: skip
    return out


def _check_not_given(target: Path, source: Path, given_2d: list[Path]) -> None:
    """Raise :class:`SourceError` when the 2D of ``source`` would be written over one of the
    ``.npz`` files given as footage (read later: the user's 2D would be lost and replaced)."""
    for given in given_2d:
        if same_file(target, given):
            raise SourceError(f"the 2D of {source} would be written to {target}, which is one of the inputs: save the "
                              "2D into another folder (--save-2d) or rename that input")  # fmt: skip


def _checked_npz(path: Path) -> Footage2D:
    # a one-line LiftInputError for a bad file; its notices (joints placed, upside down) come once,
    # when training reads it (said twice before; QA)
    with quieter(logging.ERROR, "posecast.engines.lift_input"):
        keypoints, confidence, _, _ = read_lift_input(path)
    return Footage2D(path, _footage_of(path), len(keypoints), int(posed_frames(keypoints, confidence).sum()))


def _footage_of(path: Path) -> Path:
    """The footage a 2D file was made from, when adapt made it (:data:`FOOTAGE_NAME_KEY`), else the file."""
    with np.load(path, allow_pickle=False) as data:  # (read whole, checked, just before)
        name = data[FOOTAGE_NAME_KEY] if FOOTAGE_NAME_KEY in data.files else None
    if name is None or name.dtype.kind != "U" or name.ndim != 0 or not str(name).strip():
        return path
    return Path(str(name)[:200])


def _record(path: Path, recording: Path, o: FootageOptions) -> Path:
    """Run ``path`` (video or image folder) through MediaPipe and the lifting stage into ``recording``."""
    with open_source(str(path)) as source:  # a file that is no video fails before MediaPipe loads
        sink = RecordSink(RecordOptions(recording))
        # the recording is temporary (its "recorded N frames to /tmp/..." line would name a file soon gone), and
        # the live bone measurement of a run is no news while adapting
        # nor the lifter's model line: the 2D is what adapt takes (QA: "model: supervised-long-w384" for every
        # video, read as the model being adapted when --model named another)
        with (quieter(logging.WARNING, "posecast.realtime.recording.format", "posecast.realtime.lifting.live_subject",
                      "posecast.realtime.lifting.lifter"),
              build_pipeline(PipelineOptions(detector_options=o.detector, lifting=o.lifting, avatar=None), [sink])
              as pipeline):  # (no avatar: the 2D and the lifted joints are what adapt takes)
            total = getattr(source, "frame_count", 0) or None
            frames = sum(1 for _ in progress(pipeline.run(source), total, f"2D of {escaped(path.name)}"))
    log.info("%s: MediaPipe 2D of %d frames", path, frames)
    return recording


def _recording_to_npz(recording: Path, source: Path, target: Path, given_2d: list[Path]) -> list[Footage2D]:
    """Each person of ``recording`` as a lift-format ``.npz``: ``target`` for the person seen most,
    ``..._personN_2d.npz`` beside it for the others (a take of several people is footage of each;
    adapt's windows never span two of them)."""
    take = read_recording(recording)
    ids = person_ids(take)
    if not ids:  # nobody in this input: it adds nothing (the others may)
        log.warning("%s: no person in any of its %d frames; left out", source, len(take.frames))
        return [Footage2D(target, source, len(take.frames), 0)]
    if len(ids) > 1:
        log.info("%s: %d people, each adapted to as footage of its own", source, len(ids))
    out = []
    for rank, person_id in enumerate(ids):
        stem = target.name.removesuffix("_2d.npz")
        path = target if rank == 0 else target.with_name(f"{stem}_person{person_id}_2d.npz")
        _check_not_given(path, source, given_2d)
        # the footage's name travels with its 2D: adapted again from --save-2d files, the model's
        # adapted_on named those files (QA: 000_take_2d.npz, 003_imgs_2d.npz, ...)
        arrays = lift_input(take, person_id) | {FOOTAGE_NAME_KEY: np.array(source.name)}
        save_lift_input(arrays, path)
        seen = int(posed_frames(arrays["keypoints_2d"], arrays["confidence"]).sum())
        out.append(Footage2D(path, source, len(arrays["keypoints_2d"]), seen))
    return out

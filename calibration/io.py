"""Calibration files: camera intrinsics and subject profiles as YAML (``.yaml``/``.yml``) or JSON.

Both files start with ``format`` (what the file is) and ``version`` (of that format); a loader
refuses another format or a newer version. An unknown key close to a known one is refused as its
misspelling; other unknown keys are said and ignored (:func:`check_keys`). Dates are ISO 8601 UTC.
Only a regular file of at most :data:`MAX_FILE_BYTES` is read (not a folder, a named pipe or a
device); YAML aliases (``*name``), keys given twice and nesting deeper than :data:`MAX_DEPTH` are
refused, and so is a YAML file of more than :data:`MAX_VALUES` values (posecast never writes any of
these; aliases can expand a few hundred bytes into billions of values).

Camera intrinsics (``posecast calibrate camera --output camera.yaml``)::

    format: posecast-camera
    version: 1
    width: 640            # image size the values below belong to, pixels
    height: 480
    fx: 610.9             # focal lengths, pixels
    fy: 605.1
    cx: 326.2             # principal point, pixels (OpenCV convention: pixel centres at integers)
    cy: 236.0
    distortion: [-0.236, 0.054, 0.0007, -0.0009, 0.051]   # OpenCV order k1 k2 p1 p2 [k3 ...]; [] = none
    rms_px: 0.11          # RMS reprojection error of the calibration, pixels; null when not measured
    date: '2025-01-31T12:00:00Z'
    source: chessboard 9x6 inner corners 0.025 m, 15/15 views
    assumed: false        # true: not measured (e.g. source "hfov 60": 60 degree horizontal field of view)

At another capture resolution of the same aspect ratio the intrinsics are rescaled
(``fx, cx`` by ``w'/w``, ``fy, cy`` by ``h'/h``); another aspect ratio is refused (the camera crops).

Subject profile (``posecast calibrate subject``)::

    format: posecast-subject
    version: 1
    height_m: 1.78                  # standing height, metres
    bone_lengths_m:                 # 16 bones, metres, in posecast.engines.skeleton.BONE_NAMES order
      pelvis-r_hip: 0.093
      ...
    frames_used: 412                # frames that passed the robust estimate; 0 when assumed
    date: '2025-01-31T12:00:00Z'
    source: calibration phase 15 s
    assumed: false                  # true: typical proportions for the height, nothing measured
    clipped_bones: [thorax-l_shoulder, thorax-r_shoulder]   # not measured: set to the ±20 % bound
    typical_bones: [pelvis-r_hip, pelvis-l_hip]   # not measured (never seen across, or out of view): typical

Lengths are written to the millimetre. ``clipped_bones`` (optional, default none) lists the bones
whose lifted length was implausible and that hold the bound instead of a measurement;
``typical_bones`` (optional, default none) the bones not measured (widths the camera never saw
across, bones it never saw with confidence, e.g. legs below a desk webcam's image), which hold
typical proportions for the height.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import json
import logging
import os
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from ..engines import skeleton
from ..engines.fileio import atomic_write, json_ready, output_file_problem, posecast_file_kind, same_file
from ..engines.logs import held_back
from .errors import CalibrationError
from .intrinsics import CameraIntrinsics, finite_number, number_text_hint, shown
from .subject import SubjectProfile

log = logging.getLogger(__name__)

CAMERA_FORMAT = "posecast-camera"
SUBJECT_FORMAT = "posecast-subject"
VERSION = 1
_CAMERA_FIELDS = ("width", "height", "fx", "fy", "cx", "cy")
#: a subject file's bones may differ from typical adult proportions for its height by this much
MAX_BONE_DEVIATION = 0.5
#: larger files are refused before parsing (a calibration file is a few hundred bytes)
MAX_FILE_BYTES = 1 << 20
#: deepest nesting of lists and mappings read (a subject file nests 2 deep)
MAX_DEPTH = 16
#: most values (keys included) a YAML file may hold (a subject file holds about 60): PyYAML reads
#: about 30 000 a second, a megabyte of them would take half a minute
MAX_VALUES = 2000


def save_intrinsics(intrinsics: CameraIntrinsics, path: str | Path) -> Path:
    """Write ``intrinsics`` to ``path`` (format chosen by the suffix); returns the path."""
    return _write(path, {"format": CAMERA_FORMAT, "version": VERSION, **intrinsics.to_dict()})


def load_intrinsics(path: str | Path) -> CameraIntrinsics:
    """Read a camera file written by :func:`save_intrinsics` (or by hand, same keys).

    Raises :class:`CalibrationError` (one line naming the file, the field and the allowed range)
    for anything :class:`CameraIntrinsics` refuses: non-numbers, NaN/inf, out-of-range values,
    distortion that cannot be inverted over the image."""
    data = _read(path, CAMERA_FORMAT)
    where = f"camera file {path}"
    check_keys(data, ("format", "version", *(f.name for f in dataclasses.fields(CameraIntrinsics))), where)
    missing = [k for k in _CAMERA_FIELDS if data.get(k) is None]
    if missing:
        raise CalibrationError(f"{where} lacks {', '.join(missing)}; expected keys {list(_CAMERA_FIELDS)}")
    if data.get("distortion") is None:  # (QA: a file cut short lost its k1 of -0.19 without a word)
        log.warning("%s has no distortion: the lens is taken as undistorted; write distortion: [] to say so", where)
    distortion = [] if data.get("distortion") is None else data["distortion"]
    if not isinstance(distortion, list):
        raise CalibrationError(
            f"{where}: distortion is {shown(distortion)}, expected a list like [k1, k2, p1, p2] or []"
        )
    with _in_file(where):
        return CameraIntrinsics(
            **{k: data[k] for k in _CAMERA_FIELDS},
            distortion=tuple(distortion),
            rms_px=data.get("rms_px"),
            assumed=_flag(data, "assumed"),
            source=_text(data, "source"),
            date=_text(data, "date"),
        )


def check_keys(data: dict[str, Any], known: tuple[str, ...], where: str) -> None:
    """A calibration file's keys against those its ``save_*`` writes (``known``): one close to a
    known key the file lacks (or its start: ``roll`` for ``roll_deg``) is a misspelling, refused
    with "did you mean" (a misspelt optional key was read as absent, without a word: the camera
    file's distortion, the floor file's roll; QA); any other is said and ignored (a key of the
    user's own, ``camera_name`` beside ``camera_height_m``: review)."""
    absent = [name for name in known if name not in data]
    for key in data:
        if key in known:
            continue
        text = str(key)
        close = difflib.get_close_matches(text, absent, n=1, cutoff=0.75) or [
            name for name in absent if len(text) >= 3 and name.startswith(text)][:1]  # fmt: skip
        if close:
            raise CalibrationError(f"{where}: unknown key {key!r}; did you mean {close[0]!r}? (keys: "
                                   f"{', '.join(known)})")  # fmt: skip
        log.warning("%s: key %r is not one of its keys (%s): ignored", where, key, ", ".join(known))


def save_subject(profile: SubjectProfile, path: str | Path) -> Path:
    """Write ``profile`` to ``path`` (format chosen by the suffix); returns the path."""
    return _write(path, {"format": SUBJECT_FORMAT, "version": VERSION, **profile.to_dict()})


def load_subject(path: str | Path) -> SubjectProfile:
    """Read a subject file written by :func:`save_subject`.

    Refuses (one line naming the field and the allowed range) non-numbers, NaN/inf, a height
    outside 0.5..2.8 m, and any bone further than :data:`MAX_BONE_DEVIATION` (50 %) from typical
    adult proportions for the stated height: such a file would place joints metres away."""
    data = _read(path, SUBJECT_FORMAT)
    where = f"subject file {path}"
    check_keys(data, ("format", "version", *(f.name for f in dataclasses.fields(SubjectProfile))), where)
    bones = data.get("bone_lengths_m")
    if data.get("height_m") is None or not isinstance(bones, dict):
        raise CalibrationError(f"{where} lacks height_m or the bone_lengths_m mapping")
    missing = [name for name in skeleton.BONE_NAMES if name not in bones]
    if missing:
        raise CalibrationError(f"{where} lacks bones {missing}; expected {list(skeleton.BONE_NAMES)}")
    extra = [name for name in bones if name not in skeleton.BONE_NAMES]
    if extra:  # as the camera file's unknown keys: said, not silently dropped
        log.warning("%s: bone_lengths_m names %s, which posecast's skeleton does not have: ignored", where,
                    shown(extra))  # fmt: skip
    with _in_file(where):
        height_m = finite_number("height_m", data["height_m"])
        lengths = tuple(finite_number(f"bone_lengths_m.{name}", bones[name]) for name in skeleton.BONE_NAMES)
        frames_used = data.get("frames_used")
        frames_used = 0 if frames_used is None else frames_used  # (`or 0` read '', [] and {} as 0: QA)
        if isinstance(frames_used, bool) or not isinstance(frames_used, int) or not 0 <= frames_used <= 10**9:
            raise CalibrationError(f"frames_used is {shown(frames_used)}, expected a whole number of frames in 0..10^9")
        profile = SubjectProfile(
            height_m=height_m,
            bone_lengths_m=lengths,
            frames_used=frames_used,
            source=_text(data, "source"),
            date=_text(data, "date"),
            assumed=_flag(data, "assumed"),
            clipped_bones=_bone_names("clipped_bones", data.get("clipped_bones")),
            typical_bones=_bone_names("typical_bones", data.get("typical_bones")),
        )
        check_bones_plausible(profile.height_m, profile.bone_lengths_m)
    return profile


def _bone_names(name: str, value: object) -> tuple[str, ...]:
    """An optional list of bone names (``clipped_bones``, ``typical_bones``), or :class:`CalibrationError`."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CalibrationError(f"{name} is {shown(value)}, expected a list of bone names like [pelvis-r_hip]")
    unknown = [v for v in value if v not in skeleton.BONE_NAMES]
    if unknown:  # named here, shortened (SubjectProfile would list them all)
        raise CalibrationError(f"{name} names unknown bones {shown(unknown)}; expected names of the bones in "
                               f"bone_lengths_m (e.g. {skeleton.BONE_NAMES[0]})")  # fmt: skip
    return tuple(value)


def check_bones_plausible(height_m: float, lengths_m: tuple[float, ...]) -> None:
    """Each bone within :data:`MAX_BONE_DEVIATION` of typical adult proportions for ``height_m``
    (people vary by about ±10 %); raises :class:`CalibrationError` naming the bone and its range."""
    typical = skeleton.bone_lengths_from_height(height_m)
    for name, length, usual in zip(skeleton.BONE_NAMES, lengths_m, typical, strict=True):
        low, high = usual * (1 - MAX_BONE_DEVIATION), usual * (1 + MAX_BONE_DEVIATION)
        if not low <= length <= high:
            raise CalibrationError(
                f"bone {name} is {length:.4g} m, expected {low:.3f}..{high:.3f} m (typical adult proportions "
                f"for height_m {height_m:.2f} m, ±{MAX_BONE_DEVIATION:.0%}); recalibrate (posecast calibrate subject)"
            )


@contextlib.contextmanager
def _in_file(where: str) -> Iterator[None]:
    """Prefix a value error raised while building from a file with the file's name."""
    try:
        yield
    except CalibrationError as exc:
        raise CalibrationError(f"{where}: {exc}") from None


def _flag(data: dict[str, Any], name: str) -> bool:
    value = data.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise CalibrationError(f"{name} is {shown(value)}, expected true or false")
    return value


def _text(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        raise CalibrationError(f"{name} is a {type(value).__name__}, expected text")
    return str(value)


class _Dumper(yaml.SafeDumper):
    """Block-style mappings, one-line lists (the distortion coefficients)."""


_Dumper.add_representer(list, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True))


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".json"):
        raise CalibrationError(f"calibration files end in .yaml, .yml or .json, got {path.name!r}")
    return suffix


def check_writable(path: str | Path, inputs: Mapping[str, str | Path | None] | None = None,
                   kind: str | None = None) -> Path:  # fmt: skip
    """Fail early (before a long calibration) when ``path`` cannot be written, names one of the
    ``inputs`` (option → file the command reads), which writing it would destroy, or holds a
    posecast file of another ``format`` than ``kind`` (the one to be written) or, given ``kind``,
    anything else that is not empty."""
    path = Path(path)
    _suffix(path)
    problem = output_file_problem(path)
    if problem is not None:
        fix = "create the folder or choose" if problem.endswith("does not exist") else "choose"
        raise CalibrationError(f"cannot write {path}: {problem}; {fix} another --output")
    for option, source in (inputs or {}).items():
        if source is not None and same_file(path, source):
            raise CalibrationError(f"--output {path} is {option}: writing it would destroy it; choose another --output")
    found = posecast_file_kind(path)
    if kind is not None and found is not None and found != kind:
        raise CalibrationError(f"{path} is a {found} file: writing a {kind} file there would replace it; choose "
                               "another --output, or remove it first")  # fmt: skip
    if kind is not None and found is None and path.is_file() and path.stat().st_size and not _holds(path, kind):
        # (QA: `-o notes.yaml` replaced someone's own YAML, saying only "replacing")
        raise CalibrationError(f"{path} is not a posecast calibration file: writing a {kind} file there would "
                               "replace it; choose another --output, or remove it first")  # fmt: skip
    return path


def _holds(path: Path, kind: str) -> bool:
    """Whether ``path`` loads as a calibration file of ``kind``: one written by hand without a
    ``format`` line, or with it past the first 4 KB, is one to replace (review). What the loader
    would warn about is not said."""
    from .floor_file import FLOOR_FORMAT, load_floor  # (floor_file builds on this module)

    loader = {CAMERA_FORMAT: load_intrinsics, SUBJECT_FORMAT: load_subject, FLOOR_FORMAT: load_floor}.get(kind)
    if loader is None:
        return False
    modules = ("io", "floor_file", "floor", "intrinsics", "subject")
    with held_back(*(f"posecast.calibration.{name}" for name in modules)):
        try:
            loader(path)
        except CalibrationError:
            return False
    return True


def _write(path: str | Path, data: dict[str, Any], replace: bool = True) -> Path:
    """``data`` to ``path`` whole or not at all; ``replace=False``: never over a file there, one
    another run wrote meanwhile included (:class:`~posecast.engines.fileio.OutputPathError`)."""
    path = check_writable(path, kind=data["format"])
    if replace and path.exists():  # said, as `lift` and `export` say it
        log.info("replacing %s", path)
    if _suffix(path) == ".json":
        text = json.dumps(json_ready(data), indent=2) + "\n"  # (a name not in UTF-8 as \xe9, not a lone \udce9)
    else:
        header = f"# posecast calibration ({data['format']} v{data['version']}); format: posecast.calibration.io\n"
        text = header + yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False)
    try:  # write whole or not at all
        atomic_write(path, text.encode("utf-8"), replace=replace)
    except OSError as exc:
        raise CalibrationError(f"cannot write {path}: {exc.strerror}; choose another --output") from None
    return path


class _Refused(yaml.YAMLError):
    """Valid YAML that a calibration file has no use for (an alias, a key given twice, deep nesting)."""


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases (``*name``: a few nested ones expand a few hundred bytes
    into billions of values, the "billion laughs"), keys given twice (the last would silently win),
    nesting deeper than :data:`MAX_DEPTH` (Python's recursion limit otherwise, after seconds) or more
    than :data:`MAX_VALUES` values (seconds to read each 100 KB otherwise)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = self._values = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _Refused(f"uses the YAML alias *{shown(event.anchor)[1:-1]} ({_line(event.start_mark)}); calibration "
                           "files hold plain values: write the value itself there")  # fmt: skip
        self._values += 1
        if self._values > MAX_VALUES:
            raise _Refused(f"holds more than {MAX_VALUES} values ({_line(self.peek_event().start_mark)}); a "
                           "calibration file holds under 100")  # fmt: skip
        if self._depth >= MAX_DEPTH:
            raise _Refused(f"nests lists or mappings more than {MAX_DEPTH} deep ({_line(self.peek_event().start_mark)})"
                           "; a calibration file nests at most 2")  # fmt: skip
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            with contextlib.suppress(TypeError):  # an unhashable key: SafeLoader's own error follows
                if key in seen:
                    raise _Refused(f"gives the key {shown(key)} twice ({_line(key_node.start_mark)}); keep one")
                seen.add(key)
        return super().construct_mapping(node, deep)


def _line(mark: yaml.Mark | None) -> str:
    return "" if mark is None else f"line {mark.line + 1}"


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refusing a key given twice (the last would silently win)."""
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise ValueError(f"the key {shown(key)} is given twice; keep one")
        data[key] = value
    return data


#: what a path that is not a regular file is, for the message
_NOT_A_FILE = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"),
               (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"))  # fmt: skip


def _not_a_file(path: Path, mode: int, expected_format: str) -> CalibrationError | None:
    """The error for a path that is not a regular file (reading a named pipe would wait forever)."""
    if stat.S_ISREG(mode):
        return None
    what = next((name for test, name in _NOT_A_FILE if test(mode)), "not a regular file")
    return CalibrationError(f"calibration file {path} is {what}, not a file; {_file_to_pass(expected_format)}")


def _file_to_pass(expected_format: str) -> str:
    """The fix of a file that is not the calibration file asked for (QA: "No such file or
    directory", "is a 'posecast-subject' file", "found list" said no more)."""
    kind = expected_format.removeprefix("posecast-")
    return f"pass a {kind} file (.yaml, .yml or .json) written by posecast calibrate {kind} --output FILE"


def _read(path: str | Path, expected_format: str) -> dict[str, Any]:
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        reason = exc.strerror if isinstance(exc, OSError) else "the path holds a NUL character"
        raise CalibrationError(f"cannot read calibration file {path}: {reason}; {_file_to_pass(expected_format)}") \
            from None  # fmt: skip
    problem = _not_a_file(path, mode, expected_format)
    if problem is not None:
        raise problem
    suffix = _suffix(path)
    try:  # without blocking: a named pipe put there since the check above would wait forever
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with open(fd, "rb") as handle:
            problem = _not_a_file(path, os.fstat(handle.fileno()).st_mode, expected_format)
            if problem is not None:
                raise problem
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise CalibrationError(f"cannot read calibration file {path}: {exc.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise CalibrationError(f"calibration file {path} is larger than {MAX_FILE_BYTES // 1024} KiB; "
                               "a camera or subject file is a few hundred bytes")  # fmt: skip
    if raw.startswith(b"%YAML:1.0") or b"opencv-matrix" in raw:  # its YAML or JSON (QA: "could not determine ...")
        raise CalibrationError(f"calibration file {path} is an OpenCV FileStorage file, not posecast's: write its "
                               "camera matrix and distortion as format: posecast-camera with width, height, fx, fy, "
                               "cx, cy and distortion (README, Calibration), or calibrate with posecast calibrate "
                               "camera")  # fmt: skip
    try:
        text = raw.decode("utf-8-sig")  # a byte order mark (a Windows editor's) is no content: YAML skips it too (QA)
        if suffix == ".json":
            data = json.loads(text, object_pairs_hook=_json_object)
        else:
            data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader
    except _Refused as exc:
        raise CalibrationError(f"calibration file {path} {exc}") from None
    except (ValueError, yaml.YAMLError, RecursionError) as exc:  # also bad UTF-8, dates, huge numbers
        where = " ".join(str(exc).split())[:200]
        raise CalibrationError(f"calibration file {path} is not valid {suffix[1:].upper()}: {where}") from None
    if not isinstance(data, dict):
        raise CalibrationError(f"calibration file {path} should hold a mapping of keys, found {type(data).__name__}; "
                               f"{_file_to_pass(expected_format)}")  # fmt: skip
    found = data.get("format", expected_format)
    if not isinstance(found, str):
        raise CalibrationError(f"{path}: format is {shown(found)}, expected {expected_format!r}")
    if found != expected_format:
        raise CalibrationError(f"{path} is a {shown(found)} file, expected {expected_format!r}; "
                               f"{_file_to_pass(expected_format)}")  # fmt: skip
    version = data.get("version", VERSION)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        # shown: a version that is text may hold a line break (or be a megabyte long), the error stays one line
        expected = "1" if VERSION == 1 else f"a whole number 1..{VERSION}"
        raise CalibrationError(f"{path} has format version {shown(version)}, expected {expected}"
                               f"{number_text_hint(version)}")  # fmt: skip
    if version > VERSION:
        raise CalibrationError(
            f"{path} has format version {shown(version)}, this posecast reads up to {VERSION}; upgrade posecast"
        )
    return data

"""MediaPipe Tasks PoseLandmarker (VIDEO mode, CPU): up to ``max_people`` people, 33 landmarks each.

Keypoints are reported in MediaPipe's own layout (:data:`~posecast.engines.layouts.MEDIAPIPE_33`);
the lifting stage maps them to posecast's 17 joints with the layout's data, the one mapping
shared with training. VIDEO mode tracks people from frame to frame and needs strictly
increasing timestamps in milliseconds: they come from :attr:`Frame.timestamp_ns` (capture time
live, media time for files read as fast as they decode), bumped by 1 ms when two frames fall in
the same millisecond. MediaPipe smooths landmarks over time using these timestamps.

MediaPipe's native libraries write log lines to file descriptor 2 when the model loads and on
the first frames; unless ``verbose`` they are muted (:mod:`.quiet`).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import logging
import math
import sys
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np

from ...engines.assets import ensure_asset, known_asset_file
from ...engines.cli_args import given_path
from ...engines.errors import ModelError, PosecastError, is_utf8
from ...engines.host import address_space_left
from ...engines.layouts import MEDIAPIPE_33
from ..errors import OptionsError
from ..option_types import check_field_types
from ..stages import Detector2D
from ..stop_signals import stop_signals_deferred
from ..types import Detections2D, Frame
from .native_locale import c_character_rules
from .people_slots import PeopleSlots, SlotWatch, hand_over, people_in, with_newcomers
from .quiet import quiet_native_stderr, quiet_native_stderr_if_free

log = logging.getLogger(__name__)

MODEL_VARIANTS = ("lite", "full", "heavy")
#: Address space (MiB) the landmarkers need left as they start (their threads' stacks and malloc
#: arenas, for them and the first frames): with 144 MiB left under a limit MediaPipe failed, and with
#: less it waited for ever, aborted or crashed without a word; with 176 it ran (constrained-machine QA)
ADDRESS_SPACE_NEEDED_MIB = 160
#: The most people one landmarker is asked for (each costs a landmark model run per frame).
MAX_PEOPLE = 8
#: Calls to ``detect`` that found a person after (re)creating the landmarker, until which native
#: output is muted: the landmark model's first run logs a line too, late whenever someone walks
#: into view (45 empty frames, then a person: it leaked when the first 5 calls were counted).
_QUIET_POSED_CALLS = 5
#: Calls to ``detect`` in all after which native output is no longer muted, a person found or not:
#: with nobody in view the muting had lasted the whole run, and a program running the pipeline on a
#: thread lost 613 of its 1,457 own fd-2 lines on a 10 s empty room (QA). 60 (2 s at 30 fps) keeps
#: the late line hidden for a person who walks in within that; one later shows it (once a process:
#: MediaPipe logs its first-frame lines once, not once a landmarker; measured).
_QUIET_CALLS = 60
#: Seconds (monotonic clock) after a landmarker's first call after which its native output is no
#: longer muted either: the people search's landmarker, called every ``search_interval_s`` of media
#: time, took 60 calls 30 s into an empty room (review), the host muted meanwhile.
_QUIET_S = 2.0
#: Seconds of media time between looks for people not yet tracked (``max_people`` above 1): a
#: person who walks in is tracked within about this long.
DEFAULT_SEARCH_INTERVAL_S = 0.5
#: The longest --people-search interval (an hour; `posecast bench` takes the same)
MAX_SEARCH_INTERVAL_S = 3600.0
#: ``--people-search``'s help, for every command that has it beside ``--max-people``
PEOPLE_SEARCH_HELP = (f"with --max-people above 1, MediaPipe looks for people not yet tracked every SECONDS (default "
                      f"{DEFAULT_SEARCH_INTERVAL_S:g}; 0: on every frame, MediaPipe's own way, slower and jumpier "
                      "while fewer are in view; for a folder of unrelated photos)")


def import_mediapipe() -> ModuleType:
    """``mediapipe``, imported when first needed (it takes about a second).

    MediaPipe keeps the ImportError of its optional ``sounddevice`` in a module global, and that
    error's traceback holds every frame that ran when mediapipe was first imported, with their
    locals: the first pipeline a program built inside a function was never freed (QA). The
    traceback is dropped; the error stays for MediaPipe's audio tasks to raise.

    The stop signals are held meanwhile: a Ctrl-C in the middle of the import left mediapipe
    half-imported, and every later pipeline of the program failed with MediaPipe's ``NameError:
    name 'core' is not defined`` (QA)."""
    with stop_signals_deferred():
        import mediapipe

    audio_record = sys.modules.get("mediapipe.tasks.python.audio.core.audio_record")
    error = getattr(audio_record, "sd_error", None)
    if isinstance(error, BaseException):
        error.__traceback__ = None
    return mediapipe


@dataclass
class MediaPipeOptions:
    """``model_variant`` picks the cached ``pose_landmarker_<variant>`` asset unless
    ``model_path`` names a ``.task`` file; ``max_people``: MediaPipe's ``num_poses``
    (1..:data:`MAX_PEOPLE`); ``search_interval_s``: with ``max_people`` above 1, seconds of media
    time between looks for people not yet tracked (0: MediaPipe looks on every frame, slower and
    jumpier while fewer than ``max_people`` are in view; :mod:`.people_slots`); the confidences
    are MediaPipe's thresholds in [0, 1]; ``verbose`` lets MediaPipe's native log lines through."""

    model_variant: str = "full"
    model_path: str | Path | None = None
    max_people: int = 1
    search_interval_s: float = DEFAULT_SEARCH_INTERVAL_S
    min_detection_confidence: float = 0.5
    min_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    verbose: bool = False

    def __post_init__(self) -> None:
        check_field_types(self)
        if self.model_variant not in MODEL_VARIANTS:
            raise OptionsError(f"model_variant must be one of {', '.join(MODEL_VARIANTS)}, got {self.model_variant!r}")
        if not 1 <= self.max_people <= MAX_PEOPLE:  # (a whole number: checked above, numpy's too)
            raise OptionsError(f"max_people must be an integer from 1 to {MAX_PEOPLE}, got {self.max_people!r}")
        PeopleSlots(self.max_people, self.search_interval_s)  # its checks, with their messages
        for name in ("min_detection_confidence", "min_presence_confidence", "min_tracking_confidence"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise OptionsError(f"{name} must be between 0 and 1, got {value}")


class MediaPipeDetector(Detector2D):
    """:class:`Frame` → :class:`Detections2D` in the MediaPipe-33 layout, with world landmarks.

    The model is resolved (and downloaded if needed) in the constructor, which raises
    :class:`~posecast.engines.errors.AssetError` when it cannot be obtained and
    :class:`~posecast.engines.errors.ModelError` when the file is not a usable model.
    ``detect`` blocks for one inference (tens of ms on a CPU core, more per extra person).

    With ``max_people`` above 1 the tracking landmarker is asked for the people it tracks now,
    and another looks for more every ``search_interval_s`` (:mod:`.people_slots`). There is one
    tracking landmarker per number of people (for more than two, loaded when first needed); the
    search and a tracker taking over run on their own threads beside the one following, and the
    frame waits for all of them, so a file gives the same result at any speed.
    """

    name = "mediapipe"
    options_class = MediaPipeOptions
    layout = MEDIAPIPE_33

    def __init__(self, options: MediaPipeOptions | None = None) -> None:
        self.options = copy.deepcopy(options) if options is not None else MediaPipeOptions()  # (as the lifting's)
        self.max_people = self.options.max_people
        name = f"pose_landmarker_{self.options.model_variant}"
        # A user's own .task file is not checked against the pinned checksum (newer MediaPipe
        # releases are welcome); MediaPipe itself rejects a file that is not a model.
        # The cached copy is checked (a corrupt download is fetched again).
        self.model_path = ensure_asset(name, self.options.model_path, verify=self.options.model_path is None)
        self._trackers: dict[int, _Landmarker] = {}  # by the people each is asked for
        self._following: _Landmarker | None = None  # the tracker whose people are returned
        self._incoming: _Landmarker | None = None  # one taking over from it (other slots)
        self._search: _Landmarker | None = None
        self._workers: ThreadPoolExecutor | None = None
        # a damaged copy of a pinned model is refused before MediaPipe runs it (it loads)
        pinned = self.options.model_path is None or known_asset_file(self.model_path)
        self._create()  # a file that is no model fails here, with its one line and no warning before it
        if not pinned:
            log.warning("%s is none of the MediaPipe pose models posecast pins (lite, full, heavy): used as given; "
                        "if it finds nobody, the file may be damaged", self.model_path)  # fmt: skip

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        model = parser.add_mutually_exclusive_group()  # both name the model file: one would be ignored
        model.add_argument("--model-asset", type=given_path, help="MediaPipe pose_landmarker .task file")
        model.add_argument("--landmarker", default="full", choices=MODEL_VARIANTS,
                           help="MediaPipe model variant (default: full)")  # fmt: skip

    @classmethod
    def check_args(cls, args: argparse.Namespace) -> None:
        options = cls.options_from_args(args)
        if options.model_path is not None:  # the user's file: there and readable (checked again when loaded)
            ensure_asset(f"pose_landmarker_{options.model_variant}", options.model_path, verify=False)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> MediaPipeDetector:
        return cls(cls.options_from_args(args))

    @staticmethod
    def options_from_args(args: argparse.Namespace) -> MediaPipeOptions:
        """The options a command's arguments give (``--people-search`` where the command has
        ``--max-people``: ``posecast run``)."""
        search_s = getattr(args, "people_search", DEFAULT_SEARCH_INTERVAL_S)
        if not (math.isfinite(search_s) and 0 <= search_s <= MAX_SEARCH_INTERVAL_S):  # (as bench bounds it; QA)
            raise OptionsError(f"--people-search must be from 0 to {MAX_SEARCH_INTERVAL_S:g} seconds, got {search_s:g}")
        return MediaPipeOptions(model_variant=getattr(args, "landmarker", "full"), model_path=args.model_asset,
                                max_people=getattr(args, "max_people", 1), verbose=args.verbose,
                                search_interval_s=search_s)  # fmt: skip

    @property
    def slots(self) -> int:
        """How many people the tracking landmarker is asked for now."""
        return self._slots.slots

    def _create(self) -> None:
        o = self.options
        if not address_space_left(ADDRESS_SPACE_NEEDED_MIB):
            raise MemoryError(f"MediaPipe needs about {ADDRESS_SPACE_NEEDED_MIB} MiB more address space to start")
        self._slots = PeopleSlots(o.max_people, o.search_interval_s)
        self._slot_watch = SlotWatch()
        self._following = self._incoming = None
        try:
            # a stop waits for the landmarkers being made, their native lines muted: cut short, MediaPipe's
            # LiteRT went on and wrote them after "stopped by SIGTERM" (QA: 2 of 12 stops at 0.9 s)
            with quiet_native_stderr(not o.verbose), stop_signals_deferred():
                # the trackers for one and two people up front (a second person is the usual newcomer:
                # loading one then held that frame 0.1 s), any more when first needed
                for people in range(self._slots.slots, max(self._slots.slots, min(2, o.max_people)) + 1):
                    self._tracker(people)
                if self._slots.slots < o.max_people:
                    self._search = _Landmarker(self.model_path, o, o.max_people, video=False)
                    # the search and a tracker taking over run beside the tracker that follows
                    self._workers = ThreadPoolExecutor(2, thread_name_prefix="posecast-people")
        except BaseException:
            # the landmarkers made so far are closed now: the exception's traceback holds this
            # detector, and with it a live landmarker and MediaPipe's thread for as long as it is kept
            # (QA: a Ctrl-C as a host program built the pipeline, the exception kept by the host)
            self.close()
            raise
        log.debug("MediaPipe PoseLandmarker loaded from %s", self.model_path)

    def _tracker(self, people: int) -> _Landmarker:
        """The tracking landmarker asked for ``people``, loaded the first time it is needed (about
        0.1 s and 45 MB each: only the numbers of people that come up are paid for)."""
        if people not in self._trackers:
            with stop_signals_deferred():  # (made mid-run for a third person too: a stop waits for it, review)
                self._trackers[people] = _Landmarker(self.model_path, self.options, people, video=True)
        return self._trackers[people]

    def _choose_trackers(self) -> None:
        """The tracker for the slots wanted now: following already, or taking over from the one that is."""
        if self._following is not None and self._trackers.get(self._slots.slots) is self._following:
            self._incoming = None  # back to the slots of the one following before it was handed over
            return
        with quiet_native_stderr(not self.options.verbose):
            wanted = self._tracker(self._slots.slots)
        if self._following is None:
            self._following = wanted
        elif wanted is not self._incoming:
            log.debug("asking for %d of up to %d people from this frame", self._slots.slots, self.max_people)
            wanted.start_over()
            self._incoming = wanted

    def detect(self, frame: Frame) -> Detections2D:
        """The people in ``frame`` (``image_bgr`` ``(H, W, 3)`` uint8)."""
        mp = import_mediapipe()

        if not self._trackers:
            self._create()
        rgb = cv2.cvtColor(frame.image_bgr, cv2.COLOR_BGR2RGB)
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
        timestamp_ns = frame.timestamp_ns
        self._choose_trackers()
        following, incoming = self._following, self._incoming
        search = self._search if self._slots.search_due(timestamp_ns) else None
        muted = (landmarker.new for landmarker in (following, incoming, search) if landmarker is not None)
        quiet = not self.options.verbose and any(muted)
        with quiet_native_stderr(quiet), stop_signals_deferred() if quiet else contextlib.nullcontext():
            taking_over = self._workers.submit(incoming.detect, image, timestamp_ns) if incoming else None
            searching = self._workers.submit(search.detect, image) if search else None
            try:
                result = following.detect(image, timestamp_ns)
            finally:
                incoming_result = taking_over.result() if taking_over else None
                found = searching.result() if searching else None
        detections = to_detections(frame, result.pose_landmarks, result.pose_world_landmarks)
        if incoming_result is not None:
            offered = to_detections(frame, incoming_result.pose_landmarks, incoming_result.pose_world_landmarks)
            detections, complete = hand_over(detections, offered, self.max_people)
            if complete:
                self._following, self._incoming = incoming, None
        if self._search is not None:  # slots that can change (else nothing to count, on every frame)
            people = people_in(detections)
            if self._slot_watch.taken(detections, people, self._slots.slots):
                self._slots.slot_taken(timestamp_ns)
            self._slots.tracked(timestamp_ns, people)
        if found is not None:
            # the search may miss someone the tracker follows: its people not tracked are the
            # newcomers, shown from this frame (the first frame, a photo) and tracked from the next
            found_detections = to_detections(frame, found.pose_landmarks, found.pose_world_landmarks)
            detections = with_newcomers(detections, found_detections, self.max_people)
            self._slots.searched(timestamp_ns, people_in(detections))
        return detections

    def reset(self) -> None:
        """Forget the tracked people (e.g. between clips): the landmarkers are created anew."""
        self.close()
        self._create()

    def close(self) -> None:
        if self._workers is not None:
            self._workers.shutdown()
            self._workers = None
        # the stop signals held: a Ctrl-C that cut a landmarker's close short left it to the garbage
        # collector's second close, which crashed in MediaPipe's native code (SIGSEGV; QA)
        with stop_signals_deferred(), quiet_native_stderr(not self.options.verbose):
            landmarkers = [lm for lm in (*self._trackers.values(), self._search) if lm is not None]
            self._trackers, self._search, self._following, self._incoming = {}, None, None, None
            for landmarker in landmarkers:
                landmarker.close()


def landmarker_error(model_path: Path, exc: BaseException, *, given: bool, fix: str = "pass another model file",
                     what: str = "") -> ModelError:  # fmt: skip
    """The one-line error of a landmarker MediaPipe could not make from ``model_path`` (``what``
    it was for, ``fix`` for a file the user gave, e.g. the option that names it). A pinned
    model whose checksum matches is not blamed: the cause is elsewhere (QA: a memory limit's
    "failed to map segment" had said "delete it to download it again", of a good model)."""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    try:
        intact = known_asset_file(model_path)
    except (OSError, PosecastError):  # unreadable, or a damaged copy of a pinned model
        intact = False
    if intact:
        memory_hit = "map segment" in reason or "memory" in reason.lower()
        memory = " (a memory limit such as `ulimit -v`?)" if memory_hit else ""
        return ModelError(f"MediaPipe could not start with {model_path}{what} ({reason}), which is intact (its "
                          f"checksum matches){memory}; run with -v to see MediaPipe's own lines")  # fmt: skip
    fix = fix if given else "delete it to download it again"
    return ModelError(f"MediaPipe could not load {model_path}{what} ({reason}): expected a pose_landmarker .task file; "
                      f"{fix}")  # fmt: skip


def base_options(model_path: str | Path) -> object:
    """MediaPipe's ``BaseOptions`` for the model at ``model_path`` on the CPU: by its name, or by
    its bytes where the name is not UTF-8 (QA: MediaPipe could not start with such a name, and
    the message named no fix; a cache in such a folder downloaded the model, then failed)."""
    from mediapipe.tasks.python import BaseOptions

    name = str(model_path)
    if is_utf8(name):
        return BaseOptions(model_asset_path=name, delegate=BaseOptions.Delegate.CPU)
    return BaseOptions(model_asset_buffer=Path(model_path).read_bytes(), delegate=BaseOptions.Delegate.CPU)


class _Landmarker:
    """One MediaPipe PoseLandmarker asked for ``people``: VIDEO mode (tracking, with strictly
    increasing millisecond timestamps) or IMAGE mode (each frame on its own, for the search)."""

    def __init__(self, model_path: Path, options: MediaPipeOptions, people: int, *, video: bool) -> None:
        import_mediapipe()  # (first: see there)
        from mediapipe.tasks.python import vision

        settings = vision.PoseLandmarkerOptions(
            base_options=base_options(model_path),
            running_mode=vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE,
            num_poses=people,
            min_pose_detection_confidence=options.min_detection_confidence,
            min_pose_presence_confidence=options.min_presence_confidence,
            min_tracking_confidence=options.min_tracking_confidence,
        )
        try:
            with c_character_rules():
                self._landmarker = vision.PoseLandmarker.create_from_options(settings)
        except (RuntimeError, ValueError, OSError) as exc:  # OSError: MediaPipe's "No file with name" for a zip
            raise landmarker_error(model_path, exc, given=options.model_path is not None) from exc
        # MediaPipe's own __del__ closes a landmarker by a task on its dispatcher's thread, which a
        # garbage collection that frees the two together has already told to stop: a detector left
        # unclosed in a reference cycle hung the program at a later collection (QA). A finalizer
        # holds the landmarker, so it is closed while its thread still runs. (Not at exit: that
        # thread is gone by then, and the process's end releases it.)
        self._close_native = weakref.finalize(self, _close_quietly, self._landmarker, not options.verbose)
        self._close_native.atexit = False
        self._posed_calls = 0
        self._calls = 0
        self._first_call_s: float | None = None  # (time.monotonic)
        self._last_timestamp_ms = -1
        self._start_over = False

    @property
    def new(self) -> bool:
        """Whether its native output is still muted (:data:`_QUIET_POSED_CALLS`, :data:`_QUIET_CALLS`,
        :data:`_QUIET_S`)."""
        if self._posed_calls >= _QUIET_POSED_CALLS or self._calls >= _QUIET_CALLS:
            return False
        return self._first_call_s is None or time.monotonic() - self._first_call_s < _QUIET_S

    def _timestamp_ms(self, timestamp_ns: int) -> int:
        timestamp_ms = max(round(timestamp_ns / 1e6), self._last_timestamp_ms + 1)
        self._last_timestamp_ms = timestamp_ms
        return timestamp_ms

    def start_over(self) -> None:
        """Drop the people a VIDEO-mode landmarker follows, before its next frame."""
        self._start_over = self._last_timestamp_ms >= 0  # never used: nothing to drop

    def detect(self, image: object, timestamp_ns: int | None = None) -> object:
        """MediaPipe's result for ``image`` (an ``mp.Image``); ``timestamp_ns`` for a VIDEO-mode
        landmarker."""
        if self._first_call_s is None:
            self._first_call_s = time.monotonic()
        if timestamp_ns is None:
            result = self._landmarker.detect(image)
        else:
            if self._start_over:
                # a black frame 1 ms before (measured: the frames after it then match a new
                # landmarker's exactly, at 18 ms instead of the 100 ms of loading one)
                mp = import_mediapipe()
                black = np.zeros((image.height, image.width, 3), np.uint8)
                black_ms = self._timestamp_ms(timestamp_ns - 1_000_000)
                self._landmarker.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=black), black_ms)
                self._start_over = False
            result = self._landmarker.detect_for_video(image, self._timestamp_ms(timestamp_ns))
        self._calls += 1
        if result.pose_landmarks:  # the landmark model ran (_QUIET_POSED_CALLS)
            self._posed_calls += 1
        return result

    def close(self) -> None:
        self._close_native()  # (once: a second call does nothing)


def _close_quietly(landmarker: object, quiet: bool) -> None:
    """Close a MediaPipe landmarker, its native log lines muted as in :meth:`MediaPipeDetector.close`
    (a pipeline freed unclosed printed MediaPipe's "DestroyAccelerator" lines; QA)."""
    with quiet_native_stderr_if_free(quiet):
        landmarker.close()  # type: ignore[attr-defined]


def to_detections(frame: Frame, poses: list, world_poses: list | None = None) -> Detections2D:
    """MediaPipe's result lists (image and world landmarks per person) → :class:`Detections2D`:
    pixels ``x·width, y·height`` (computed in float64) and visibility, both float32."""
    if not poses:
        return Detections2D.empty(frame, MEDIAPIPE_33)
    width, height = frame.image_size
    # every person in one array: (N, 33, 3) x, y, visibility (this runs on every frame)
    values = np.array([[(lm.x, lm.y, lm.visibility if lm.visibility is not None else 0.0) for lm in pose]
                       for pose in poses], dtype=np.float64)  # fmt: skip
    world = None
    if world_poses and len(world_poses) == len(poses):
        world = np.array([[(lm.x, lm.y, lm.z) for lm in pose] for pose in world_poses], dtype=np.float32)
    return Detections2D(
        frame_id=frame.frame_id,
        capture_ns=frame.capture_ns,
        timestamp_ns=frame.timestamp_ns,
        image_size=(width, height),
        layout=MEDIAPIPE_33,
        keypoints_px=(values[..., :2] * np.array([width, height], dtype=np.float64)).astype(np.float32),
        scores=values[..., 2].astype(np.float32),
        track_ids=np.full(len(poses), -1, np.int64),
        world_m=world,
    )

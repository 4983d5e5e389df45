"""Live camera calibration: collect good, varied board views from a camera and say what is missing.

:class:`LiveCollector` is a stage (options, ``process(frame) -> LiveStatus``, ``reset``,
``close``): a detected board becomes a view when it is held still (mean corner motion since the
previous frame below ``max_motion_px``), the frame is sharp, and it differs enough from every
view already taken (mean corner distance above ``min_novelty`` of the image diagonal). Coverage
is the fraction of a ``grid`` of image cells that some view's corners reached; collection is done
at ``target_views`` views and ``min_coverage``. :func:`calibrate_live` runs it on a camera and
shows the guidance in a window, or logs it when there is no display.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import signal
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from ..engines.media import display_available
from ..engines.windows import close_window, open_window, window_closed
from .board import (
    DEFAULT_MIN_SHARPNESS,
    BoardDetector,
    BoardSpec,
    Detection,
    ImageQuality,
    image_quality,
    to_gray,
)
from .camera import CalibrationOptions, CalibrationResult, calibrate_views, mean_corner_distance_px
from .errors import CalibrationError

log = logging.getLogger(__name__)
WINDOW = "posecast calibrate camera"


@dataclass(frozen=True)
class LiveOptions:
    target_views: int = 20
    grid: tuple[int, int] = (3, 3)  # coverage cells (columns, rows)
    min_coverage: float = 0.75
    max_motion_px: float | None = 3.0  # None: accept moving boards (e.g. still images)
    min_novelty: float = 0.05  # of the image diagonal
    min_sharpness: float = DEFAULT_MIN_SHARPNESS
    max_frames: int | None = None  # give up after this many frames (None: until stopped)

    def __post_init__(self) -> None:
        if self.target_views < 3:
            raise CalibrationError(f"target_views must be at least 3, got {self.target_views}")
        if not 0.0 <= self.min_coverage <= 1.0:
            raise CalibrationError(f"min_coverage must be within [0, 1], got {self.min_coverage}")


@dataclass(frozen=True)
class LiveStatus:
    """What one frame did: ``detection`` (or None), whether it became a view, progress, a hint."""

    detection: Detection | None
    accepted: bool
    views: int
    coverage: float
    done: bool
    message: str


class LiveCollector:
    """Turns a stream of frames into calibration views (see module docstring)."""

    def __init__(self, board: BoardSpec, options: LiveOptions | None = None) -> None:
        self.board = board
        self.options = options or LiveOptions()
        self._detector = BoardDetector(board, fast=True)
        self.reset()

    def reset(self) -> None:
        self.views: list[Detection] = []
        self.image_size: tuple[int, int] | None = None
        cols, rows = self.options.grid
        self.covered = np.zeros((rows, cols), dtype=bool)
        self._previous: Detection | None = None

    def close(self) -> None:
        self.reset()

    @property
    def coverage(self) -> float:
        return float(self.covered.mean())

    @property
    def done(self) -> bool:
        return len(self.views) >= self.options.target_views and self.coverage >= self.options.min_coverage

    def process(self, frame: np.ndarray) -> LiveStatus:
        """Consider one BGR or grey frame ``(H, W[, 3])``."""
        gray = to_gray(frame)
        size = (gray.shape[1], gray.shape[0])
        if self.image_size is None:
            self.image_size = size
        elif size != self.image_size:
            raise CalibrationError(f"camera frame size changed from {self.image_size} to {size} during calibration")
        quality = image_quality(gray, self.options.min_sharpness)
        detection = self._detector.detect(gray) if quality is ImageQuality.OK else None
        previous, self._previous = self._previous, detection
        if quality is not ImageQuality.OK:
            return self._status(None, False, f"image {quality.value}: uncover the lens, add light, hold still")
        if detection is None:
            return self._status(None, False, f"no board: show the whole {self.board.describe()}")
        if self.options.max_motion_px is not None and (
            previous is None or mean_corner_distance_px(detection, previous) > self.options.max_motion_px
        ):
            return self._status(detection, False, "hold the board still")
        diagonal = float(np.hypot(*size))
        if any(mean_corner_distance_px(detection, v) < self.options.min_novelty * diagonal for v in self.views):
            return self._status(detection, False, "move or tilt the board to a new pose")
        self.views.append(detection)
        self._cover(detection, size)
        return self._status(detection, True, "view taken")

    def _cover(self, detection: Detection, size: tuple[int, int]) -> None:
        rows, cols = self.covered.shape
        cells_x = np.clip((detection.image_points[:, 0] / size[0] * cols).astype(int), 0, cols - 1)
        cells_y = np.clip((detection.image_points[:, 1] / size[1] * rows).astype(int), 0, rows - 1)
        self.covered[cells_y, cells_x] = True

    def hint(self) -> str:
        """What the user should do next."""
        if self.done:
            return "enough views"
        if self.coverage < self.options.min_coverage:
            rows, cols = self.covered.shape
            names_y = ("top", "middle", "bottom") if rows == 3 else tuple(f"row {r + 1}" for r in range(rows))
            names_x = ("left", "centre", "right") if cols == 3 else tuple(f"column {c + 1}" for c in range(cols))
            missing = [f"{names_y[r]}-{names_x[c]}" for r, c in zip(*np.nonzero(~self.covered), strict=True)]
            return "move the board towards: " + ", ".join(missing)
        return f"{self.options.target_views - len(self.views)} more views: move and tilt the board"

    def _status(self, detection: Detection | None, accepted: bool, message: str) -> LiveStatus:
        return LiveStatus(detection, accepted, len(self.views), self.coverage, self.done, message)

    def calibrate(self, options: CalibrationOptions | None = None) -> CalibrationResult:
        if self.image_size is None:
            raise CalibrationError("no camera frames were received; check the camera")
        return calibrate_views(self.views, self.image_size, options, source=f"{self.board.describe()}, live")


def collect_views(
    frames: Iterable[np.ndarray],
    collector: LiveCollector,
    show: Callable[[np.ndarray, LiveCollector, LiveStatus], bool] | None = None,
) -> LiveCollector:
    """Feed ``frames`` to ``collector`` until it is done, the frames end, or ``show`` returns False.

    Without ``show``, progress is logged each time a view is taken (and a hint every 100 frames).
    """
    for index, frame in enumerate(frames):
        status = collector.process(frame)
        if show is not None:
            if not show(frame, collector, status):
                break
        elif status.accepted:
            log.info(
                "view %d/%d taken, coverage %.0f%%: %s",
                status.views,
                collector.options.target_views,
                100 * status.coverage,
                collector.hint(),
            )
        elif index % 100 == 99:
            log.info("%s (%d views so far); %s", status.message, status.views, collector.hint())
        if status.done:
            break
        if collector.options.max_frames is not None and index + 1 >= collector.options.max_frames:
            break
    return collector


def draw_overlay(frame: np.ndarray, collector: LiveCollector, status: LiveStatus) -> np.ndarray:
    """A copy of ``frame`` with covered cells tinted, the detected corners and the progress text."""
    image = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR) if frame.ndim == 2 else frame.copy()
    height, width = image.shape[:2]
    rows, cols = collector.covered.shape
    tint = image.copy()
    for r, c in zip(*np.nonzero(collector.covered), strict=True):
        x0, y0, x1, y1 = (
            c * width // cols,
            r * height // rows,
            (c + 1) * width // cols,
            (r + 1) * height // rows,
        )
        cv2.rectangle(tint, (x0, y0), (x1, y1), (0, 160, 0), -1)
    image = cv2.addWeighted(tint, 0.25, image, 0.75, 0)
    if status.detection is not None:
        colour = (0, 255, 0) if status.accepted else (0, 200, 255)
        for x, y in status.detection.image_points:
            cv2.circle(image, (int(round(x)), int(round(y))), 3, colour, -1)
    lines = (
        f"views {status.views}/{collector.options.target_views}  coverage {100 * status.coverage:.0f}%",
        status.message,
        collector.hint(),
        "q: stop",
    )
    for i, line in enumerate(lines):
        cv2.putText(image, line, (10, 25 + 22 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(image, line, (10, 25 + 22 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
    return image


def _window_show(frame: np.ndarray, collector: LiveCollector, status: LiveStatus) -> bool:
    """Show the frame; False once the user pressed q or Esc or closed the window by its button
    (display QA: the window came back at the next frame, and the collection went on)."""
    cv2.imshow(WINDOW, draw_overlay(frame, collector, status))
    return (cv2.waitKey(1) & 0xFF) not in (ord("q"), 27) and not window_closed(WINDOW)


def _opened_window(frame: np.ndarray) -> Callable[[np.ndarray, LiveCollector, LiveStatus], bool] | None:
    """Open the window at the size of ``frame``, the camera's first, and return what shows the
    frames in it; ``None`` where no window can be opened. A camera may deliver another size than
    the one asked (``--size``) or than it says: a window sized from those had another shape than
    its frames (a 4:3 camera asked for 1920x1080: 16:9); the live view's is sized so too (review)."""
    try:
        open_window(WINDOW, frame.shape[1], frame.shape[0])
    except cv2.error:
        log.warning("no window can be opened here; progress is logged instead")
        return None
    return _window_show


def calibrate_live(
    camera_index: int,
    board: BoardSpec,
    options: LiveOptions | None = None,
    calibration: CalibrationOptions | None = None,
    frame_size: tuple[int, int] | None = None,
    window: bool | None = None,
    after_ctrl_c: Callable[[], contextlib.AbstractContextManager[object]] = contextlib.nullcontext,
) -> CalibrationResult:
    """Collect views from camera ``camera_index`` and calibrate; ``window=None`` shows one if possible.

    Blocks until enough views are collected, ``q``/Esc is pressed, or ``max_frames`` frames. Without
    a window, Ctrl-C does what ``q`` does once ``min_views`` views are taken (before, the only way
    to end early, it threw them away), and a camera that stops delivering frames ends the
    collection the same way (QA: 11 views lost, exit 2). ``after_ctrl_c``: the fit after such a
    Ctrl-C runs inside it (the command's: a second Ctrl-C cancels, as the log says).
    """
    capture = cv2.VideoCapture(camera_index)
    if not capture.isOpened():
        raise CalibrationError(
            f"cannot open camera {camera_index}; check --camera (0 is usually the built-in webcam) "
            "and that no other program is using it"
        )
    if frame_size is not None:
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, frame_size[0])
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, frame_size[1])
    windowed = window if window is not None else display_available()
    show = None
    collector = LiveCollector(board, options)
    enough = (calibration or CalibrationOptions()).min_views
    collecting = ("collecting %d views; Ctrl-C calibrates from those taken once there are %d or more",
                  collector.options.target_views, enough)  # fmt: skip
    if not windowed:
        log.info(*collecting)
    fitting: Callable[[], contextlib.AbstractContextManager[object]] = contextlib.nullcontext
    try:
        frames = _frames(capture)
        first = next(frames)
        if windowed:
            show = _opened_window(first)
            if show is None:
                log.info(*collecting)
        collect_views(itertools.chain((first,), frames), collector, show)
    except KeyboardInterrupt as stop:
        # Ctrl-C alone: SIGTERM and SIGHUP (a command's Interrupted, with its signum) end the run (review)
        ctrl_c = getattr(stop, "signum", signal.SIGINT) == signal.SIGINT
        if show is not None or len(collector.views) < enough or not ctrl_c:
            raise
        log.warning("stopped (Ctrl-C): calibrating from the %d views taken (Ctrl-C again to cancel)",
                    len(collector.views))  # fmt: skip
        fitting = after_ctrl_c
    except CalibrationError as stopped:  # the camera stopped delivering frames
        if len(collector.views) < enough:
            raise CalibrationError(f"{stopped} after {len(collector.views)} views, need at least {enough}; check "
                                   "the camera and calibrate again") from None  # fmt: skip
        log.warning("%s: calibrating from the %d views taken", stopped, len(collector.views))
    finally:
        capture.release()
        if show is not None:
            close_window(WINDOW)
    if not collector.done:
        log.warning(
            "stopped with %d views and %.0f%% coverage (%s)",
            len(collector.views),
            100 * collector.coverage,
            collector.hint(),
        )
    with fitting():
        return collector.calibrate(calibration)


def _frames(capture: cv2.VideoCapture, max_failures: int = 30) -> Iterator[np.ndarray]:
    failures = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            failures += 1
            if failures >= max_failures:
                raise CalibrationError(f"camera stopped delivering frames ({failures} failed reads in a row)")
            continue
        failures = 0
        yield frame

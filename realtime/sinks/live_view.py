"""The live view's image: the camera frame with its 2D skeletons beside a 3D view of the metric pose.

:class:`LiveView` composes one BGR image per frame: on the left the camera frame with the 2D
skeleton (the person's left side blue, right side red, axial joints green; joints below
``min_confidence`` dimmed) and nothing else over it; on the right a panel of the same height
with the metric 3D skeleton seen orthographically from a 3/4 view (fixed, or turning slowly),
standing on a ground grid of 0.5 m squares fixed in the camera frame, with the camera's axes
drawn in a corner; below both, a status bar: the tracking state and the timing figures under
the image, the colour legend under the panel (so no text hides the person). It can show the
image in a window (``show``) and write an annotated video (``output_path``; the codec follows
the file name, :mod:`posecast.realtime.sinks.video_file`). Drawing uses OpenCV only.

Stopping: with ``show`` the view polls the keyboard once per frame (``cv2.waitKey(1)``); ``q``,
Esc or closing the window sets :attr:`LiveView.stop_requested`, which the pipeline checks to
end the run cleanly.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ...engines import skeleton
from ...engines.errors import PosecastError
from ...engines.fileio import output_file_problem
from ...engines.media import display_problem
from ...engines.windows import close_window, open_window, window_closed
from ..errors import OptionsError
from .video_file import VideoFileError, VideoWriter, check_video_path, open_video

log = logging.getLogger(__name__)

_LEFT, _RIGHT, _CENTRE = (255, 150, 40), (40, 70, 255), (60, 200, 60)  # BGR
_JOINT_COLOURS = [
    _LEFT if n.startswith("l_") else _RIGHT if n.startswith("r_") else _CENTRE for n in skeleton.JOINT_NAMES
]
_DIM = 0.35
_PANEL_BG, _GRID, _BAR_BG, _TEXT = (32, 32, 32), (85, 85, 85), (16, 16, 16), (235, 235, 235)
_LEGEND = (("left side", _LEFT), ("right side", _RIGHT), ("centre", _CENTRE))
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_STATE_COLOURS = {"tracking": (80, 220, 80), "warming": (0, 200, 255), "lost": (60, 60, 255)}
_GRID_STEP_M, _GRID_HALF_M = 0.5, 2.0
_FOOT_BELOW_ANKLE_M = 0.07


class ViewError(PosecastError):
    """The live view cannot show its window or write its video."""


@dataclass(frozen=True)
class LiveViewOptions:
    """``panel_width_px``: width of the 3D panel (``None``: square, the frame's height).
    ``extent_m``: the height of the world the 3D panel shows. ``rotate_deg_per_s``: 0 keeps
    the 3/4 view fixed; the rotation advances by frames written, at ``output_fps``, which is
    also the video's frame rate (give the source's)."""

    window_title: str = "posecast"
    show: bool = False
    output_path: Path | None = None
    output_fps: float = 30.0
    panel_width_px: int | None = None
    min_confidence: float = 0.5
    view_azimuth_deg: float = 35.0
    view_elevation_deg: float = 15.0
    rotate_deg_per_s: float = 0.0
    extent_m: float = 2.4

    def __post_init__(self) -> None:
        if self.panel_width_px is not None and self.panel_width_px < 64:
            raise OptionsError(f"panel_width_px must be >= 64 or None, got {self.panel_width_px}")
        if not (self.output_fps > 0 and self.extent_m > 0):
            raise OptionsError(f"output_fps and extent_m must be > 0, got {self.output_fps}, {self.extent_m}")


class LiveView:
    """Compose, show and record the annotated view (see the module docstring)."""

    def __init__(self, options: LiveViewOptions | None = None) -> None:
        self.options = options or LiveViewOptions()
        if self.options.show and (problem := display_problem()) is not None:
            raise ViewError(f"cannot show the live view: no display ({problem}); run without showing the view, "
                            "or record it to a video file instead")  # fmt: skip
        path = self.options.output_path
        if path is not None:
            check_video_path(Path(path))
            problem = output_file_problem(path)
            if problem is not None:
                raise ViewError(f"cannot write the view video to {path}: {problem}; create the folder or choose "
                                "another output path")  # fmt: skip
        self._writer: VideoWriter | None = None
        self._writer_size: tuple[int, int] | None = None
        self._window_open = False
        self._frames = 0
        self._written = 0
        self._video_failed = False
        self._last_written: np.ndarray | None = None  # what write_last_again repeats
        self._floor_y: float | None = None
        self.stop_requested = False

    def __enter__(self) -> LiveView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def frames_written(self) -> int:
        """Frames written to the video so far."""
        return self._written

    def process(
        self,
        image_bgr: np.ndarray,
        keypoints_px: np.ndarray | None,
        confidence: np.ndarray | None,
        joints_m: np.ndarray | None,
        stats: dict[str, float],
        state: str = "",
        others: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = (),
    ) -> np.ndarray:
        """Compose the view of one frame: ``(H + bar, W + panel, 3)`` uint8 BGR (a new array;
        ``bar`` = :meth:`bar_height`).

        ``image_bgr`` ``(H, W, 3)``; ``keypoints_px`` ``(17, 2)`` pixels and ``confidence``
        ``(17,)`` (``None``: no person); ``joints_m`` ``(17, 3)`` camera-frame metres (``None``:
        no 3D pose); ``stats`` e.g. ``{"fps": 29.8, "capture_to_view_ms": 14.2}``;
        ``state`` the tracking state ("warming", "tracking", "lost"). Shows and records it
        when the options say so. ``others``: more people's ``(keypoints_px, confidence,
        joints_m)``, drawn in 2D and in the 3D panel (around the first person's place).
        """
        height, width = image_bgr.shape[:2]
        panel_width = self.options.panel_width_px or height
        canvas = np.empty((height + self.bar_height(height), width + panel_width, 3), dtype=np.uint8)
        canvas[:height, :width] = image_bgr
        canvas[:height, width:] = _PANEL_BG
        canvas[height:] = _BAR_BG
        image = canvas[:height, :width]
        if keypoints_px is not None:
            conf = np.ones(skeleton.NUM_JOINTS) if confidence is None else confidence
            self._draw_2d(image, keypoints_px, conf)
        for other_px, other_conf, _ in others:
            self._draw_2d(image, other_px, other_conf)
        self._draw_status(canvas[height:, :width], stats, state)
        root = self._draw_3d(canvas[:height, width:], joints_m, [joints for *_, joints in others])
        self._draw_legend(canvas[height:, width:], root)
        self._frames += 1
        if self.options.output_path is not None:
            self._write(canvas)
        if self.options.show:
            self._show(canvas)
        return canvas

    def reset(self) -> None:
        """Forget the smoothed floor height (new subject); the window and the video go on."""
        self._floor_y = None

    # -- 2D ---------------------------------------------------------------------------------
    def _draw_2d(self, image: np.ndarray, keypoints_px: np.ndarray, confidence: np.ndarray) -> None:
        thickness = max(2, image.shape[0] // 200)
        seen = confidence >= self.options.min_confidence
        points = np.round(keypoints_px).astype(np.int32)
        for child, parent in skeleton.BONES:
            ok = bool(seen[child] and seen[parent])
            colour = _shade(_JOINT_COLOURS[child], ok)
            pt1, pt2 = tuple(points[parent].tolist()), tuple(points[child].tolist())
            cv2.line(image, pt1, pt2, colour, thickness if ok else 1, cv2.LINE_AA)
        for j in range(skeleton.NUM_JOINTS):
            colour = _shade(_JOINT_COLOURS[j], bool(seen[j]))
            cv2.circle(image, tuple(points[j].tolist()), thickness + 1, colour, -1, cv2.LINE_AA)

    @staticmethod
    def bar_height(image_height: int) -> int:
        """Height in pixels of the status bar under an image ``image_height`` pixels high (the
        view's height comes out even: H.264's yuv420p needs even sizes)."""
        bar = int(30 * _text_scale(image_height)) + 12
        return bar + (image_height + bar) % 2

    def _draw_status(self, bar: np.ndarray, stats: dict[str, float], state: str) -> None:
        """The tracking state (in its colour) and the figures, e.g. ``29.8 fps``, ``lift 0.4 ms``."""
        items: list[tuple[str, tuple[int, int, int]]] = []
        if state:
            items.append((state.upper(), _STATE_COLOURS.get(state, _TEXT)))
        for key, value in stats.items():
            if key == "fps":
                items.append((f"{value:.1f} fps", _TEXT))
            elif key.endswith("_ms"):
                items.append((f"{key[:-3].replace('_', ' ')} {value:.1f} ms", _TEXT))
            else:
                items.append((f"{key.replace('_', ' ')} {value:.1f}", _TEXT))
        _draw_items(bar, [(text, colour, False) for text, colour in items])

    def _draw_legend(self, bar: np.ndarray, root: str) -> None:
        """Where the 3D root is, and what the colours mean: the person's own left and right
        (on the image's right when they face the camera)."""
        _draw_items(bar, [(root, (200, 200, 200), False), *((name, colour, True) for name, colour in _LEGEND)])

    # -- 3D ---------------------------------------------------------------------------------
    def _rotation(self) -> np.ndarray:
        opts = self.options
        azimuth = math.radians(opts.view_azimuth_deg + opts.rotate_deg_per_s * self._frames / opts.output_fps)
        elevation = math.radians(opts.view_elevation_deg)
        ca, sa, ce, se = math.cos(azimuth), math.sin(azimuth), math.cos(elevation), math.sin(elevation)
        turn = np.array([[ca, 0.0, sa], [0.0, 1.0, 0.0], [-sa, 0.0, ca]])  # about the vertical (y) axis
        tilt = np.array([[1.0, 0.0, 0.0], [0.0, ce, -se], [0.0, se, ce]])  # look down by `elevation`
        return tilt @ turn

    def _draw_3d(
        self, panel: np.ndarray, joints_m: np.ndarray | None, others_m: Sequence[np.ndarray | None] = ()
    ) -> str:
        """Draw the 3D skeletons (the first person's at the panel's centre); returns the first
        person's root position as text (for the status bar)."""
        h, w = panel.shape[:2]
        scale = _text_scale(h)
        rotation = self._rotation()
        px_per_m = h / self.options.extent_m
        origin = np.array([w / 2.0, h * 0.82])
        valid = joints_m is not None and bool(np.all(np.isfinite(joints_m)))
        if valid:
            floor = float(np.max(joints_m[:, 1])) + _FOOT_BELOW_ANKLE_M  # y points down
            self._floor_y = floor if self._floor_y is None else 0.8 * self._floor_y + 0.2 * floor
            centre = np.array([joints_m[0, 0], self._floor_y, joints_m[0, 2]])
        else:
            centre = np.array([0.0, self._floor_y or 0.0, 0.0])

        def to_px(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            rotated = (points - centre) @ rotation.T
            return np.round(origin + rotated[..., :2] * px_per_m).astype(np.int32), rotated[..., 2]

        self._draw_grid(panel, centre, to_px)
        thickness = max(2, h // 180)
        people = [joints_m] if valid else []
        people += [p for p in others_m if p is not None and bool(np.all(np.isfinite(p)))]
        # the farthest person first, so that nearer ones are drawn over them
        for joints in sorted(people, key=lambda p: -float(to_px(p[:1])[1][0])):
            pixels, depth = to_px(joints)
            order = sorted(skeleton.BONES, key=lambda bone: -(depth[bone[0]] + depth[bone[1]]))
            for child, parent in order:
                pt1, pt2 = tuple(pixels[parent].tolist()), tuple(pixels[child].tolist())
                cv2.line(panel, pt1, pt2, _JOINT_COLOURS[child], thickness, cv2.LINE_AA)
            for j in np.argsort(-depth):
                cv2.circle(panel, tuple(pixels[j].tolist()), thickness + 1, _JOINT_COLOURS[j], -1, cv2.LINE_AA)
        if valid:
            root = joints_m[0]
            label = f"root x {root[0]:+.2f}  y {root[1]:+.2f}  z {root[2]:.2f} m"
        else:
            label = "no 3D pose"
        cv2.putText(panel, "3D (metres, camera frame)", (10, int(26 * scale) + 6), _FONT, scale,
                    (200, 200, 200), 1, cv2.LINE_AA)  # fmt: skip
        self._draw_axes(panel, rotation, scale)
        return label

    def _draw_grid(self, panel: np.ndarray, centre: np.ndarray, to_px) -> None:  # noqa: ANN001
        # Lines at whole multiples of the step in camera x and z, so the grid stays put as the person moves.
        steps = np.arange(-_GRID_HALF_M, _GRID_HALF_M + 1e-9, _GRID_STEP_M)
        xs = np.round((centre[0] + steps) / _GRID_STEP_M) * _GRID_STEP_M
        zs = np.round((centre[2] + steps) / _GRID_STEP_M) * _GRID_STEP_M
        y = centre[1]
        for x in xs:
            ends, _ = to_px(np.array([[x, y, zs[0]], [x, y, zs[-1]]]))
            cv2.line(panel, tuple(ends[0].tolist()), tuple(ends[1].tolist()), _GRID, 1, cv2.LINE_AA)
        for z in zs:
            ends, _ = to_px(np.array([[xs[0], y, z], [xs[-1], y, z]]))
            cv2.line(panel, tuple(ends[0].tolist()), tuple(ends[1].tolist()), _GRID, 1, cv2.LINE_AA)

    def _draw_axes(self, panel: np.ndarray, rotation: np.ndarray, scale: float) -> None:
        h = panel.shape[0]
        length = h * 0.07
        base = np.array([40.0, h - length - 24.0])
        axes = ((0, "x", (60, 60, 255)), (1, "y", (60, 220, 60)), (2, "z", (255, 120, 40)))
        for axis, name, colour in axes:
            tip = base + rotation[:2, axis] * length
            p0, p1 = tuple(np.round(base).astype(int).tolist()), tuple(np.round(tip).astype(int).tolist())
            cv2.arrowedLine(panel, p0, p1, colour, 2, cv2.LINE_AA, tipLength=0.25)
            label = tuple(np.round(base + rotation[:2, axis] * (length + 12) - [4, -4]).astype(int).tolist())
            cv2.putText(panel, name, label, _FONT, scale, colour, 1, cv2.LINE_AA)

    # -- output -----------------------------------------------------------------------------
    def _write(self, canvas: np.ndarray) -> None:
        size = (canvas.shape[1], canvas.shape[0])
        if self._writer is None:
            try:  # written under a temporary name, renamed when finished (never a half-written file)
                self._writer = open_video(Path(self.options.output_path), size, self.options.output_fps)
            except VideoFileError as exc:
                raise ViewError(str(exc)) from exc
            self._writer_size = size
        if size != self._writer_size:  # the source changed size: keep the video's size, and the view's shape
            canvas = letterboxed(canvas, self._writer_size)
        self._write_video(canvas)
        self._last_written = canvas

    def write_last_again(self, times: int) -> None:
        """Write the last frame written ``times`` more times (a constant-rate video held over a
        gap in a live source); nothing before the first."""
        if self._writer is None or self._last_written is None:
            return
        for _ in range(times):
            self._write_video(self._last_written)

    def _write_video(self, image_bgr: np.ndarray) -> None:
        try:
            self._writer.write(image_bgr)
        except Exception:  # (a stop signal leaves the frames written a video: it is finished and said)
            self._video_failed = True  # its error is the run's: close() discards the file without a word
            raise
        self._written += 1

    def _show(self, canvas: np.ndarray) -> None:
        title = self.options.window_title
        if self._window_open and window_closed(title):  # the user closed it
            self.stop_requested = True
            return
        if not self._window_open:
            open_window(title, canvas.shape[1], canvas.shape[0])
        cv2.imshow(title, canvas)
        self._window_open = True
        key = cv2.waitKey(1) & 0xFF
        if key in (ord("q"), 27):
            self.stop_requested = True

    def close(self) -> None:
        """Finish the video file and close the window."""
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.close()  # renames the finished file into place (or, after a failed write, removes it)
            if not self._video_failed:  # (QA: "wrote 116 frames to …" came before the error saying nothing was)
                plays = "plays in web browsers" if writer.browser_playable else "does not play in web browsers"
                log.info("wrote %d frames to %s (%s, %.4g fps; %s)", self._written, self.options.output_path,
                         writer.codec, self.options.output_fps, plays)  # fmt: skip
        if self._window_open:
            self._window_open = False
            close_window(self.options.window_title)


def _text_scale(image_height: int) -> float:
    """OpenCV font scale for text beside an image ``image_height`` pixels high."""
    return max(0.45, image_height / 1100)


def _draw_items(bar: np.ndarray, items: Sequence[tuple[str, tuple[int, int, int], bool]]) -> None:
    """Draw ``(text, colour, with_dot)`` items left to right in ``bar``, one line, vertically
    centred; the font shrinks until the line fits the bar's width."""
    h, w = bar.shape[:2]
    if not items:
        return
    scale = max(0.3, (h - 12) / 30)  # the inverse of LiveView.bar_height
    gap = lambda s: int(24 * s)  # noqa: E731
    dot = lambda s: int(14 * s)  # noqa: E731

    def width(s: float) -> int:
        texts = sum(cv2.getTextSize(t, _FONT, s, 1)[0][0] + (dot(s) + 6 if d else 0) for t, _, d in items)
        return 10 + texts + gap(s) * (len(items) - 1)

    while scale > 0.3 and width(scale) > w:
        scale *= 0.9
    x = 10
    for text, colour, with_dot in items:
        (tw, th), _ = cv2.getTextSize(text, _FONT, scale, 1)
        baseline_y = (h + th) // 2
        if with_dot:
            radius = max(3, dot(scale) // 2)
            cv2.circle(bar, (x + radius, baseline_y - th // 2), radius, colour, -1, cv2.LINE_AA)
            x += 2 * radius + 6
        cv2.putText(bar, text, (x, baseline_y), _FONT, scale, colour, 1, cv2.LINE_AA)
        x += tw + gap(scale)


def _shade(colour: tuple[int, int, int], bright: bool) -> tuple[int, int, int]:
    if bright:
        return colour
    return tuple(int(c * _DIM + 110 * (1 - _DIM)) for c in colour)  # type: ignore[return-value]


def letterboxed(image_bgr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image_bgr`` scaled to fit ``size`` (width, height) whole, its shape kept, centred on
    black: a video's frames have one size, and a view of another shape squeezed into it drew
    the camera image 28 % out of shape (QA: an image folder of mixed sizes)."""
    width, height = size
    scale = min(width / image_bgr.shape[1], height / image_bgr.shape[0])
    fitted = (max(1, round(image_bgr.shape[1] * scale)), max(1, round(image_bgr.shape[0] * scale)))
    canvas = np.zeros((height, width, 3), np.uint8)
    left, top = (width - fitted[0]) // 2, (height - fitted[1]) // 2
    canvas[top:top + fitted[1], left:left + fitted[0]] = cv2.resize(image_bgr, fitted, interpolation=cv2.INTER_AREA)
    return canvas

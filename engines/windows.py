"""OpenCV windows as a user at a desk expects them: resizable, fitted to a screen, without Qt's
toolbar, and closed by their button without an error (display QA, 2026-12-07, on Xvfb with a
window manager). Used by the live view, in a process of its own (:class:`WindowProcess`: the
display going away ends that process, not the run), and by the live camera calibration."""

from __future__ import annotations

import contextlib
import os
import signal
import struct
import subprocess
import sys
import tempfile
import threading

import cv2
import numpy as np

from .media import x_display_answers

#: The largest size (width, height, px) a window opens at; the user can make it larger. A
#: 1366x768 laptop screen holds it with its title bar.
WINDOW_MAX_PX = (1280, 700)


def open_window(title: str, width_px: int, height_px: int) -> None:
    """A window the user can resize (keeping the image's shape), without Qt's toolbar, at the
    image's size or, when larger, fitted into :data:`WINDOW_MAX_PX`. OpenCV's default window was
    fixed at the image's size (2,000 px wide for a 720p camera's live view, its close button off a
    1080p screen), and its toolbar's Save dialog or its right-click menu, open for 4 s, held the
    thread that shows it: the whole pipeline, 150 frames dropped, no pose published."""
    cv2.namedWindow(title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
    scale = min(1.0, WINDOW_MAX_PX[0] / width_px, WINDOW_MAX_PX[1] / height_px)
    cv2.resizeWindow(title, max(1, round(width_px * scale)), max(1, round(height_px * scale)))


def window_closed(title: str) -> bool:
    """Whether the user closed the window ``title`` (shown before). Once its last window is
    closed, OpenCV's Qt build raises ("NULL guiReceiver") where the others say 0: closing the live
    view by its button ended the run with that error, exit 2. On macOS a minimised or hidden
    window is not visible either, and Cocoa's windows have no close button: never closed there (q
    and Esc end the run; review: a minimised window ended a camera run and its recording)."""
    if sys.platform == "darwin":
        return False
    try:
        return cv2.getWindowProperty(title, cv2.WND_PROP_VISIBLE) < 1
    except cv2.error:
        return True


def close_window(title: str) -> None:
    """Close the window ``title``, already closed by its button or not (Qt's build raises then)."""
    with contextlib.suppress(cv2.error):
        cv2.destroyWindow(title)


#: How long :meth:`WindowProcess.close` waits for the window's process to close its window and end.
WINDOW_PROCESS_CLOSE_S = 2.0
#: While no image comes (a stalled camera), the window's process still handles its events this often (s).
_IDLE_EVENTS_S = 0.1
#: What the window's process says on stdout: q or Esc pressed, the window closed by its button.
_KEY_STOP, _CLOSED = b"q", b"c"
_HEADER = struct.Struct("<II")  # an image's height and width; its BGR bytes follow


class WindowProcess:
    """The window ``title`` shown by a process of its own (``python -m posecast.engines.windows``),
    fed the latest image with :meth:`show`, which never waits for the display. Qt's X11 plugin ends
    the process that shows a window when the display goes away (the X server stops, ``xkill``): exit
    1 with its own line, from inside OpenCV, where nothing can catch it (a run's recording was left a
    ``.part``, its video a hidden temporary file, no statistics written). Here only the window's
    process ends, and :attr:`ended` says why: the caller finishes its own work. :attr:`stop_requested`:
    q or Esc was pressed, or the window closed by its button. Made by the first :meth:`show`'s caller
    on the process's main thread or not: the window's Qt runs on its own process's main thread."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.stop_requested = False
        self._errors = tempfile.TemporaryFile()  # noqa: SIM115 - the window process's stderr, read if it ends
        windows_group = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
        # a session of its own: a terminal's Ctrl-C goes to this process, which closes the window
        self._process = subprocess.Popen([sys.executable, "-m", __name__, title], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=self._errors, start_new_session=True,
                                         creationflags=windows_group)  # fmt: skip
        self._slot = threading.Condition()
        self._image: np.ndarray | None = None  # the latest image, not yet handed over
        self._closing = False
        self._ended: str | None = None
        self._feeder = threading.Thread(target=self._feed, name="posecast-window-feed", daemon=True)
        self._listener = threading.Thread(target=self._listen, name="posecast-window-events", daemon=True)
        self._feeder.start()
        self._listener.start()

    def show(self, image_bgr: np.ndarray) -> None:
        """Show ``image_bgr`` ``(H, W, 3)`` uint8 (not changed afterwards: it is handed over as it is)
        once the window's process takes it; an image it has not taken yet is replaced."""
        with self._slot:
            self._image = image_bgr
            self._slot.notify()

    @property
    def ended(self) -> str | None:
        """Why the window's process ended without being closed (the display went away), or ``None``."""
        return self._ended

    def close(self) -> None:
        """Close the window and wait for its process (:data:`WINDOW_PROCESS_CLOSE_S`, then it is killed)."""
        with self._slot:
            self._closing = True
            self._slot.notify()
        self._feeder.join(WINDOW_PROCESS_CLOSE_S)
        with contextlib.suppress(OSError):  # (the feeder's write may hold it: then it goes with the process)
            if not self._feeder.is_alive():
                self._process.stdin.close()  # type: ignore[union-attr]
        try:
            self._process.wait(WINDOW_PROCESS_CLOSE_S)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._listener.join(WINDOW_PROCESS_CLOSE_S)
        self._errors.close()

    def _feed(self) -> None:
        stream = self._process.stdin
        while True:
            with self._slot:
                while self._image is None and not self._closing:
                    self._slot.wait()
                image, self._image = self._image, None
            if self._closing or image is None:
                return
            image = np.ascontiguousarray(image, dtype=np.uint8)
            try:
                stream.write(_HEADER.pack(image.shape[0], image.shape[1]))  # type: ignore[union-attr]
                stream.write(memoryview(image).cast("B"))  # type: ignore[union-attr]
                stream.flush()  # type: ignore[union-attr]
            except (OSError, ValueError):  # it has ended: the listener says why
                return

    def _listen(self) -> None:
        stream = self._process.stdout
        while event := stream.read(1):  # type: ignore[union-attr]
            if event in (_KEY_STOP, _CLOSED):
                self.stop_requested = True
        status = self._process.wait()
        with self._slot:
            if self._closing:
                return
        self._ended = self._why_ended(status)

    def _why_ended(self, status: int) -> str:
        """The display that went away, the window's connection to it killed, or what the window's
        process said last."""
        display = os.environ.get("DISPLAY")
        if display and sys.platform.startswith("linux") and not x_display_answers(display):
            return f"the display went away (DISPLAY={display} no longer answers)"
        said = ""
        with contextlib.suppress(OSError, ValueError):
            self._errors.seek(0)
            said = (self._errors.read()[-2000:].decode("utf-8", "replace").strip().splitlines() or [""])[-1].strip()
        if "X11 connection broke" in said:  # Qt's line: the server stays, the window's connection was cut
            return f"the window's connection to the display (DISPLAY={display}) was closed (xkill?)"
        return f"the window's process ended (exit {status}{': ' + said if said else ''})"


def _serve(title: str) -> int:
    """The window's process (:class:`WindowProcess`): images on stdin (:data:`_HEADER`, then the
    BGR bytes), events on stdout; the end of stdin closes the window."""
    with contextlib.suppress(ValueError, OSError, AttributeError):  # (SIGINT: the parent's, which closes it)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    slot = threading.Condition()
    latest: list[np.ndarray | None] = [None]
    ended = threading.Event()

    def read() -> None:
        stream = sys.stdin.buffer
        while len(header := stream.read(_HEADER.size)) == _HEADER.size:
            height, width = _HEADER.unpack(header)
            data = stream.read(height * width * 3)
            if len(data) < height * width * 3:
                break
            with slot:
                latest[0] = np.frombuffer(data, np.uint8).reshape(height, width, 3)
                slot.notify()
        with slot:
            ended.set()
            slot.notify()

    def say(event: bytes) -> None:
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.buffer.write(event)
            sys.stdout.buffer.flush()

    threading.Thread(target=read, daemon=True).start()
    opened = closed = False
    while True:
        with slot:
            if latest[0] is None and not ended.is_set():
                slot.wait(_IDLE_EVENTS_S if opened else None)
            image, latest[0] = latest[0], None
            if image is None and ended.is_set():
                break
        if image is not None and not closed:
            if opened and window_closed(title):  # the user closed it: not opened again
                closed = True
                say(_CLOSED)
            else:
                if not opened:
                    open_window(title, image.shape[1], image.shape[0])
                    opened = True
                cv2.imshow(title, image)
        if opened and not closed and (cv2.waitKey(1) & 0xFF) in (ord("q"), 27):
            say(_KEY_STOP)
    if opened and not closed:
        close_window(title)
    return 0


if __name__ == "__main__":
    sys.exit(_serve(sys.argv[1]))

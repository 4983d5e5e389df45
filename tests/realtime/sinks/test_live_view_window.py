"""The live view's window on a real X display (Xvfb with the openbox window manager), driven as a
user at a desk drives it: its size, resizing it, closing it by the window manager's button, and
``demo --output-video`` beside it. Skips, saying why, where Xvfb, openbox, wmctrl, xdotool or
xwininfo is missing (``.ci/run`` installs them from Debian)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from posecast.engines.windows import WINDOW_MAX_PX

TOOLS = ("Xvfb", "openbox", "wmctrl", "xdotool", "xwininfo")
#: Long enough for MediaPipe and the networks to load on a loaded CI machine; the clip lasts 13 s.
WINDOW_WAIT_S = 60.0


@pytest.fixture(scope="module")
def x_display() -> Iterator[str]:
    """``:N`` of an Xvfb screen of 1920x1080 with openbox managing its windows."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (Debian: xvfb openbox wmctrl xdotool x11-utils)")
    # Xvfb picks a free display number and writes it on the pipe once it serves there (test
    # processes side by side each get their own)
    read_end, write_end = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1920x1080x24", "-nolisten",
                               "tcp"], pass_fds=(write_end,), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)  # fmt: skip
    os.close(write_end)
    manager = None
    try:
        with os.fdopen(read_end) as numbers:
            number = numbers.readline().strip()  # ("" when it exits without serving)
        if not number.isdigit():
            pytest.skip("Xvfb did not start")
        display = f":{number}"
        env = {**os.environ, "DISPLAY": display}
        manager = subprocess.Popen(["openbox"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # (it takes over the screen's windows once it runs)
        yield display
    finally:
        for process in (manager, server):
            if process is not None:
                process.terminate()
                process.wait(10)


def _posecast(args: list[str], display: str, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "DISPLAY": display}
    env.pop("WAYLAND_DISPLAY", None)
    return subprocess.Popen([sys.executable, "-m", "posecast.realtime", *args], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def _window(title: str, display: str, process: subprocess.Popen) -> str:
    """The X window id of the window called ``title``, once shown."""
    env = {**os.environ, "DISPLAY": display}
    deadline = time.monotonic() + WINDOW_WAIT_S
    while time.monotonic() < deadline and process.poll() is None:
        found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", f"^{re.escape(title)}$"],
                               env=env, capture_output=True, text=True).stdout.split()  # fmt: skip
        if found:
            return found[0]
        time.sleep(0.3)
    process.kill()
    pytest.fail(f"no window {title!r} in {WINDOW_WAIT_S} s: {process.communicate()[1][-2000:]}")


def _size(window: str, display: str) -> tuple[int, int]:
    info = subprocess.run(["xwininfo", "-id", window], env={**os.environ, "DISPLAY": display},
                          capture_output=True, text=True, check=True).stdout  # fmt: skip
    width, height = (int(re.search(rf"{key}: (\d+)", info).group(1)) for key in ("Width", "Height"))
    return width, height


def _resized(window: str, display: str, size: tuple[int, int]) -> tuple[int, int]:
    subprocess.run(["xdotool", "windowsize", window, *map(str, size)], env={**os.environ, "DISPLAY": display},
                   check=True)  # fmt: skip
    deadline = time.monotonic() + 5
    while (now := _size(window, display)) != size and time.monotonic() < deadline:
        time.sleep(0.1)
    return now


def test_the_window_fits_resizes_and_its_close_button_ends_the_run_cleanly(
    x_display: str, media_dir: Path, pose_model_path: Path, tmp_path: Path
) -> None:
    """Display QA: the window was fixed at the view's size (2,000 x 1,388 px for this portrait
    720x1280 clip: its status bar and close button off a 1080p screen) and could not be resized;
    closing it by the window manager's button ended the run with OpenCV's "NULL guiReceiver"
    error, exit 2. Its title names the source, so that two runs' windows can be told apart."""
    take = tmp_path / "take.posecast"
    run = _posecast(["run", "--source", str(media_dir / "squats_720x1280.mp4"), "--realtime", "--publish", "none",
                     "--model-asset", str(pose_model_path), "--record", str(take)], x_display, tmp_path)  # fmt: skip
    try:
        window = _window("posecast: squats_720x1280.mp4", x_display, run)
        width, height = _size(window, x_display)
        assert width <= WINDOW_MAX_PX[0] and height <= WINDOW_MAX_PX[1] + 40, (width, height)  # (+ a status line)
        assert _resized(window, x_display, (480, 400)) == (480, 400)
        subprocess.run(["wmctrl", "-i", "-c", window], env={**os.environ, "DISPLAY": x_display}, check=True)
        out, err = run.communicate(timeout=30)
    finally:
        run.kill()
    assert run.returncode == 0, err[-2000:]
    assert "posecast: error" not in err and "Traceback" not in err, err[-2000:]
    assert take.is_file() and not take.with_name(take.name + ".part").exists()


def test_demo_writes_the_video_asked_for_beside_the_window(
    x_display: str, pose_model_path: Path, tmp_path: Path
) -> None:
    """Display QA: with a display, ``demo --output-video FILE`` showed the window and wrote no
    video, without a word (``run`` writes both)."""
    video = tmp_path / "demo.webm"
    demo = _posecast(["demo", "--frames", "8", "--publish", "none", "--model-asset", str(pose_model_path),
                      "--output-video", str(video)], x_display, tmp_path)  # fmt: skip
    try:
        out, err = demo.communicate(timeout=120)
    finally:
        demo.kill()
    assert demo.returncode == 0, err[-2000:]
    assert video.is_file() and video.stat().st_size > 0, err[-2000:]
    assert "instead of a window" not in err  # (the window was shown: a display answered)


#: ``posecast calibrate camera`` on a camera that shows a grey wall for ever (no board): a child
#: process, its window on the test's display.
_CALIBRATE_CHILD = """
import sys, time
import cv2, numpy as np
class Camera:
    def __init__(self, index): self.index = index
    def isOpened(self): return self.index == 0
    def set(self, *args): return True
    def get(self, prop): return {cv2.CAP_PROP_FRAME_WIDTH: 1920, cv2.CAP_PROP_FRAME_HEIGHT: 1080}.get(prop, 0)
    def release(self): pass
    def read(self):
        time.sleep(1 / 30)
        return True, np.full((1080, 1920, 3), 128, np.uint8)
cv2.VideoCapture = Camera
from posecast.realtime.cli import main
sys.exit(main(["calibrate", "camera", "--camera", "0", "--board", "9x6", "--square", "0.03", "-o", sys.argv[1]]))
"""


def test_the_calibration_window_fits_and_its_close_button_ends_the_collection(x_display: str, tmp_path: Path) -> None:
    """Display QA: the live calibration's window had Qt's toolbar and opened at the camera's size
    (1920x1080: larger than the screen with its title bar); closed by its button, it came back
    at the next frame and the collection went on. Now it ends as q does: no views, so no file."""
    script, output = tmp_path / "child.py", tmp_path / "camera.yaml"
    script.write_text(_CALIBRATE_CHILD)
    env = {**os.environ, "DISPLAY": x_display}
    child = subprocess.Popen([sys.executable, str(script), str(output)], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        window = _window("posecast calibrate camera", x_display, child)
        width, height = _size(window, x_display)
        assert width <= WINDOW_MAX_PX[0] and height <= WINDOW_MAX_PX[1] + 40, (width, height)
        subprocess.run(["wmctrl", "-i", "-c", window], env=env, check=True)
        out, err = child.communicate(timeout=30)
    finally:
        child.kill()
    assert child.returncode == 2 and "0 views" in err, err[-2000:]
    assert "guiReceiver" not in err and "Traceback" not in err and not output.exists(), err[-2000:]


#: ``posecast calibrate camera --size 1920x1080`` on a camera that says it took that size and
#: delivers 640x480 frames (a grey wall, no board): a child process, its window on the test's display.
_CALIBRATE_OTHER_SIZE_CHILD = _CALIBRATE_CHILD.replace(
    "np.full((1080, 1920, 3), 128, np.uint8)", "np.full((480, 640, 3), 128, np.uint8)"
).replace('"-o", sys.argv[1]]', '"--size", "1920x1080", "-o", sys.argv[1]]')


def test_the_calibration_window_takes_the_size_the_camera_delivers(x_display: str, tmp_path: Path) -> None:
    """Review: the live calibration's window was sized from the size asked of the camera (--size,
    or what the camera said), not from its frames: a 4:3 camera asked for 1920x1080 was shown in
    a 16:9 window. Now it opens at the first frame's size, as the live view's does."""
    script, output = tmp_path / "child.py", tmp_path / "camera.yaml"
    script.write_text(_CALIBRATE_OTHER_SIZE_CHILD)
    assert "(480, 640, 3)" in script.read_text() and '"--size", "1920x1080"' in script.read_text()
    env = {**os.environ, "DISPLAY": x_display}
    child = subprocess.Popen([sys.executable, str(script), str(output)], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        window = _window("posecast calibrate camera", x_display, child)
        size = _size(window, x_display)
        subprocess.run(["wmctrl", "-i", "-c", window], env=env, check=True)
        out, err = child.communicate(timeout=30)
    finally:
        child.kill()
    assert size == (640, 480), size
    assert child.returncode == 2 and "0 views" in err and "Traceback" not in err, err[-2000:]


def test_a_window_title_shows_what_runs_and_nothing_a_title_cannot_hold() -> None:
    """Review: a stream's token in its query went on the screen, and a name that is not UTF-8
    crashed OpenCV's Qt window (a segmentation fault); needs no display."""
    from posecast.realtime.sinks.view import window_title

    assert window_title(None) == "posecast" and window_title(" 1 ") == "posecast: camera 1"
    assert window_title("/videos/clip.mp4") == "posecast: clip.mp4"
    assert window_title("rtsp://me:secret@cam.local:554/live?token=abc") == "posecast: rtsp://cam.local:554/live"
    assert window_title("srt://cam:9000?passphrase=zz") == "posecast: srt://cam:9000"
    assert (window_title("rtsp://cam:554/user=admin&password=secret&channel=1&stream=0.sdp?real_stream")
            == "posecast: rtsp://cam:554/user=admin&password=***&channel=1&stream=0.sdp")  # fmt: skip
    named = window_title(os.fsdecode(b"/takes/lat\xe9/"))  # a folder named in Latin-1
    assert named == "posecast: lat\ufffd" and named.encode("utf-8")
    assert window_title("a\nb.mp4") == "posecast: a\ufffdb.mp4"
    assert window_title("rtsp://me:pw@[::1/x") == "posecast: rtsp://"  # (unreadable: said by the source, not here)


def test_a_source_whose_name_is_not_utf8_gets_its_window(
    x_display: str, media_dir: Path, pose_model_path: Path, tmp_path: Path
) -> None:
    """Review: an image folder named in Latin-1 (a source posecast reads) crashed the window,
    exit 139, where --headless ran."""
    import cv2

    folder = os.fsencode(tmp_path) + b"/lat\xe9"
    os.mkdir(folder)
    capture = cv2.VideoCapture(str(media_dir / "dance_576.mp4"))
    for index in range(6):
        ok, image = capture.read()
        assert ok  # (written as bytes: OpenCV crashes on a str path that is not UTF-8)
        Path(os.fsdecode(folder + b"/%02d.jpg" % index)).write_bytes(cv2.imencode(".jpg", image)[1].tobytes())
    capture.release()
    run = _posecast(["run", "--source", os.fsdecode(folder), "--publish", "none", "--model-asset",
                     str(pose_model_path)], x_display, tmp_path)  # fmt: skip
    try:
        out, err = run.communicate(timeout=120)
    finally:
        run.kill()
    assert run.returncode == 0, (run.returncode, err[-2000:])

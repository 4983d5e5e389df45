#!/usr/bin/env python
"""What asking MediaPipe for the people in view, and looking for more now and then, buys over
asking it for ``--max-people`` throughout (``realtime/detectors/people_slots.py``).

    python tools/people_search.py --json eval/people_search.json

Three clips, all from the shared test clips (``tests/fixtures/media``): the dance alone, and
:func:`two_people_video` with the squatting person walking in beside the dancer and leaving
(:func:`walk_in_and_out_shown`, the test suite's ``walk_in_and_out``) and coming beside her
once she is in the dark (:func:`dancer_in_the_dark_light`, the test suite's
``dancer_in_the_dark``). Each runs through
:class:`~posecast.realtime.detectors.mediapipe.MediaPipeDetector` with one person at most, with
two asked of MediaPipe throughout (``search_interval_s=0``) and with two and the search, in one
process one after another. Per run: the detector's milliseconds per frame (p50, p99, max), the
frame from which two people are found, the frames with the dancer, each side's 2D keypoint
acceleration (mean over the body's 25 landmarks of the second difference, px per frame²,
over frames where that side's person is found three times running), and for the dance the 3D
joints' mean acceleration through the whole pipeline (mm per frame²).
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from posecast.engines.errors import run_reporting
from posecast.engines.fileio import atomic_write, check_outputs
from posecast.engines.uploads import block_native_uploads
from posecast.realtime.assemble import PipelineOptions, build_pipeline
from posecast.realtime.compare import jitter_m_s2
from posecast.realtime.detectors.mediapipe import MediaPipeDetector, MediaPipeOptions
from posecast.realtime.sources import open_source

log = logging.getLogger("people_search")

MEDIA = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "media"
#: The dancer's part of :func:`two_people_video`'s frames: x below this (px).
DANCER_MAX_X_PX = 576
#: MediaPipe's body landmarks (the face's and hands' small ones left out of the acceleration).
BODY_LANDMARKS = np.arange(25)
#: (label, max_people, search_interval_s) of each run
RUNS = (("one person at most", 1, 0.5), ("two, MediaPipe's own way", 2, 0.0), ("two, with the search", 2, 0.5))


def two_people_video(media_dir: Path, path: Path, squatter_in_view: Callable[[int], float], frames: int = 120,
                     dancer_light: Callable[[int], float] = lambda i: 1.0) -> Path:
    """dance_576.mp4 (120 frames, 30 fps, looped) with squats_720x1280.mp4 (5 fps, each frame
    held for six, looped) scaled to the same height on its right: 900 x 576, 30 fps, ``frames``
    long; the dancer is left of x = 576. Of the right part, frame ``i`` shows the fraction
    ``squatter_in_view(i)`` (0 to 1) of the squats video's width, sliding in from the right
    edge, on plain grey; the dancer's part is lit ``dancer_light(i)`` times as brightly."""

    def read_frames(video: Path) -> list[np.ndarray]:
        capture, out = cv2.VideoCapture(str(video)), []
        while (image := capture.read()[1]) is not None:
            out.append(image)
        capture.release()
        return out

    dance, squats = read_frames(media_dir / "dance_576.mp4"), read_frames(media_dir / "squats_720x1280.mp4")
    height = dance[0].shape[0]
    squats = [cv2.resize(s, (round(s.shape[1] * height / s.shape[0]), height), interpolation=cv2.INTER_AREA)
              for s in squats]  # fmt: skip
    size = (dance[0].shape[1] + squats[0].shape[1], height)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, size)
    for i in range(frames):
        right, shown = np.full_like(squats[0], 90), round(squatter_in_view(i) * squats[0].shape[1])
        if shown:
            right[:, -shown:] = squats[i // 6 % len(squats)][:, :shown]
        left = dance[i % len(dance)]
        if dancer_light(i) != 1.0:
            left = (left * dancer_light(i)).astype(np.uint8)
        writer.write(np.hstack([left, right]))
    writer.release()
    return path


def walk_in_and_out_shown(frame: int) -> float:
    """The dancer alone for 1 s; the squatting person walks in from the right edge over the
    next two seconds (frames 30 to 90) and stays until frame 129; the dancer alone again from
    frame 130 (180 frames, 6 s)."""
    return min(max((frame - 30) / 60, 0.0), 1.0) if frame < 130 else 0.0


def dancer_in_the_dark_light(frame: int) -> float:
    """The dancer lit at a third from frame 30 (followed, no longer detected); with the
    squatting person beside her from frame 60 (240 frames, 8 s)."""
    return 0.35 if frame >= 30 else 1.0


def acceleration_px(keypoints: list[np.ndarray | None]) -> float | None:
    """Mean second difference of one person's body landmarks ``(33, 2)`` per frame (``None``:
    not found), px per frame², over frames found three times running (``None`` when none are):
    :func:`~posecast.realtime.compare.jitter_m_s2` at one frame per unit of time."""
    missing = np.full((len(BODY_LANDMARKS), 2), np.nan)
    track = np.array([missing if k is None else k[BODY_LANDMARKS] for k in keypoints])
    value = jitter_m_s2(track, 1.0)
    return round(value, 3) if np.isfinite(value) else None


def detector_run(clip: Path, max_people: int, search_interval_s: float) -> dict:
    """The detector alone on ``clip``: timing, people found, each side's 2D acceleration."""
    options = MediaPipeOptions(max_people=max_people, search_interval_s=search_interval_s)
    times_ms, counts, sides = [], [], {"dancer": [], "right": []}
    with MediaPipeDetector(options) as detector, open_source(str(clip)) as source:
        while (frame := source.read()) is not None:
            start = time.perf_counter()
            found = detector.detect(frame)
            times_ms.append((time.perf_counter() - start) * 1e3)
            counts.append(found.count)
            left = found.keypoints_px[:, 23, 0] < DANCER_MAX_X_PX  # by the left hip
            sides["dancer"].append(found.keypoints_px[left][0] if left.any() else None)
            sides["right"].append(found.keypoints_px[~left][0] if (~left).any() else None)
    times_ms = np.array(times_ms[5:])  # the first frames load and warm the models
    return {
        "frames": len(counts),
        "ms_p50": round(float(np.percentile(times_ms, 50)), 2),
        "ms_p99": round(float(np.percentile(times_ms, 99)), 2),
        "ms_max": round(float(times_ms.max()), 2),
        "first_frame_with_two": next((i for i, c in enumerate(counts) if c >= 2), None),
        "frames_with_dancer": sum(k is not None for k in sides["dancer"]),
        "accel_2d_px": {side: acceleration_px(k) for side, k in sides.items()},
    }


def pipeline_accel_mm(clip: Path, max_people: int, search_interval_s: float) -> float:
    """The first person's 3D joints through the whole pipeline: mean acceleration, mm per frame²,
    after the first second (the window fills)."""
    options = PipelineOptions(detector_options=MediaPipeOptions(search_interval_s=search_interval_s),
                              max_people=max_people)  # fmt: skip
    with build_pipeline(options) as pipeline, open_source(str(clip)) as source:
        joints = [p.joints_rel_m for f in pipeline.run(source) for p in f.tracked[:1]]
    return round(jitter_m_s2(np.array(joints[30:]), 1.0) * 1e3, 3)


def main() -> None:
    block_native_uploads()  # MediaPipe's usage-metrics upload stays on this machine (engines/uploads.py)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--media", type=Path, default=MEDIA, help="folder with dance_576.mp4 and squats_720x1280.mp4")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    check_outputs({"--json": args.json})
    with tempfile.TemporaryDirectory() as folder:
        walk_in = two_people_video(args.media, Path(folder) / "walk_in.mp4", walk_in_and_out_shown, 180)
        dark = two_people_video(args.media, Path(folder) / "dark.mp4", lambda i: float(i >= 60), 240,
                                dancer_in_the_dark_light)  # fmt: skip
        clips = {"dance": args.media / "dance_576.mp4", "walk_in_and_out": walk_in, "dancer_in_the_dark": dark}
        report = {}
        for clip_name, clip in clips.items():
            for label, max_people, interval in RUNS:
                row = detector_run(clip, max_people, interval)
                if clip_name == "dance":
                    row["accel_3d_mm"] = pipeline_accel_mm(clip, max_people, interval)
                report.setdefault(clip_name, {})[label] = {"max_people": max_people,
                                                           "search_interval_s": interval, **row}  # fmt: skip
                log.info("%s, %s: %s", clip_name, label, row)
    if args.json:
        atomic_write(args.json, (json.dumps(report, indent=2) + "\n").encode())
        log.info("wrote %s", args.json)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    raise SystemExit(run_reporting(main, "people_search"))

#!/usr/bin/env python
"""posecast's 3D next to MediaPipe's world landmarks on real video: figures (JSON) and pictures (PNG).

    python tools/compare_mediapipe.py [CLIP ...] [--model NAME|PATH ...] [--json FILE]
                                      [--images FOLDER] [--frames N] [--legs-cut]

Each clip (default: ``tests/fixtures/media/*.mp4``) goes through the real pipeline once per model
(default: the shipped default); the figures are :mod:`posecast.realtime.compare`'s, for posecast
and for MediaPipe on the same frames. With ``--images`` each clip gets
``compare_mediapipe_<clip>.png`` (of the first model): a few frames, each with the video frame
and both skeletons seen from the front and from the side (matplotlib: ``pip install -e
".[bench]"``). With ``--legs-cut`` each clip also runs with its frames cut off at the person's
hips (a webcam at a desk), and ``legs_cut`` says how far each skeleton's upper body moves from
where it was with the legs in view.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import sys
from pathlib import Path

import numpy as np
from posecast.engines import skeleton
from posecast.engines.errors import run_reporting
from posecast.engines.fileio import atomic_write, check_outputs
from posecast.engines.install import code_version
from posecast.engines.runtime.base import DEFAULT_MODEL_NAME, model_files, resolve_model
from posecast.engines.uploads import block_native_uploads
from posecast.realtime.compare import ClipPoses, clip_figures, collect, hips_row_px, upper_body_change
from posecast.realtime.errors import SourceError
from posecast.realtime.lifting import LiftingOptions
from posecast.realtime.lifting.smoothing import OneEuroOptions

ROOT = Path(__file__).resolve().parents[1]
CLIPS = sorted((ROOT / "tests" / "fixtures" / "media").glob("*.mp4"))
#: The live view's colours (RGB): the person's left, right, centre
COLOURS = {"l": (0.16, 0.59, 1.0), "r": (1.0, 0.27, 0.16), "c": (0.24, 0.78, 0.24)}


def _colour(joint: int) -> tuple[float, float, float]:
    name = skeleton.JOINT_NAMES[joint]
    return COLOURS[name[0] if name[:2] in ("l_", "r_") else "c"]


def _draw(ax, joints: np.ndarray, horizontal: int, title: str) -> None:  # noqa: ANN001 - an Axes
    """One skeleton ``(17, 3)`` (root-relative metres, camera axes), axis ``horizontal`` across and
    up (−y) up, 1.2 m either side of the pelvis."""
    for child, parent in skeleton.BONES:
        ax.plot(joints[[parent, child], horizontal], -joints[[parent, child], 1], color=_colour(child), lw=2)
    ax.set_xlim(-1.0, 1.0)
    ax.set_ylim(-1.1, 0.9)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=8)  # the axis named in the title: an x label read as the next row's


def picture(poses: ClipPoses, path: Path) -> None:
    """The clip's kept frames: the video frame, posecast front and side, MediaPipe front and side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted(poses.images)
    fig, axes = plt.subplots(len(rows), 5, figsize=(10, 2.3 * len(rows)), squeeze=False)
    for row, frame in zip(axes, rows, strict=True):
        row[0].imshow(poses.images[frame][..., ::-1])
        row[0].set_axis_off()
        row[0].set_title(f"frame {frame} ({frame / poses.fps:.1f} s)", fontsize=8)
        for k, (name, joints) in enumerate((("posecast", poses.posecast_m), ("MediaPipe", poses.mediapipe_m))):
            _draw(row[1 + 2 * k], joints[frame], 0, f"{name}\nfront (x: right)")
            _draw(row[2 + 2 * k], joints[frame], 2, f"{name}\nside (camera on the left)")
    fig.suptitle(f"{poses.name}: the person's left blue, right red, centre green; panels 2 m across, pelvis at 0",
                 fontsize=8)  # fmt: skip
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    # a palette of 96 colours: a third of the bytes, no visible loss at this size
    from PIL import Image

    buffer.seek(0)
    small = io.BytesIO()
    Image.open(buffer).convert("RGB").quantize(96).save(small, format="png", optimize=True)
    atomic_write(path, small.getvalue())


def main(argv: list[str] | None = None) -> int:
    block_native_uploads()  # MediaPipe's usage-metrics upload stays on this machine (engines/uploads.py)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("clips", nargs="*", type=Path, default=CLIPS)
    ap.add_argument(
        "--model",
        action="append",
        help=f"a shipped model's name or a file (default {DEFAULT_MODEL_NAME}); repeat to compare several",
    )
    ap.add_argument(
        "--json",
        type=Path,
        default=Path("compare_mediapipe.json"),
        help="where the figures go (default: ./compare_mediapipe.json; the committed eval/compare_mediapipe.json "
        "holds every shipped model: name it only to re-make that file)",
    )
    ap.add_argument("--images", type=Path, help="write compare_mediapipe_<clip>.png here (e.g. docs/images)")
    ap.add_argument("--frames", type=int, help="only the first N frames of each clip")
    ap.add_argument(
        "--legs-cut",
        action="store_true",
        help="also run each clip cut off at the person's hips and say how far each upper body moves",
    )
    ap.add_argument("--one-euro", metavar="HZ,BETA",
                    help="filter the published joints as `posecast run --one-euro` does, with this min cutoff "
                         "and beta (e.g. 1.5,0.5, --one-euro's; 0.5,4, the avatar outputs'); each model's entry is "
                         "named with it")  # fmt: skip
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    return run_reporting(lambda: run(args), "compare_mediapipe")


def one_euro_options(text: str | None) -> OneEuroOptions | None:
    """``--one-euro HZ,BETA`` → the filter's options (``None``: not given)."""
    if text is None:
        return None
    try:
        min_cutoff_hz, beta = (float(v) for v in text.split(","))
    except ValueError:
        raise SourceError(f"--one-euro takes HZ,BETA (e.g. 1.5,0.5), got {text!r}") from None
    return OneEuroOptions(min_cutoff_hz, beta)


def run(args: argparse.Namespace) -> int:
    for clip in args.clips:
        if not clip.is_file():
            raise SourceError(f"no such clip {clip}")
    if args.frames is not None and args.frames < 1:
        raise SourceError(f"--frames must be 1 or more, got {args.frames}")
    # (tools QA: the clip became JSON)
    models = {k: v for m in args.model or [] for k, v in model_files(resolve_model(m), f"--model {m}").items()}
    check_outputs({"--json": args.json}, {f"clip {clip}": clip for clip in args.clips} | models)  # (review)
    commit = code_version()["git_commit"] or ""  # "+" when the checkout has changes
    result: dict = {"commit": commit.strip(), "models": {}}
    one_euro = one_euro_options(args.one_euro)
    for m, model in enumerate(args.model or [DEFAULT_MODEL_NAME]):
        name = str(model) if one_euro is None else f"{model} + one-euro {args.one_euro}"
        clips = result["models"][name] = {}
        for clip in args.clips:
            poses = collect(clip, model, args.frames, lifting=LiftingOptions(one_euro=one_euro))
            clips[clip.name] = clip_figures(poses)
            if args.legs_cut:
                bottom = hips_row_px(poses)
                same_camera = LiftingOptions(fixed_intrinsics=tuple(float(v) for v in poses.intrinsics_k),
                                             one_euro=one_euro)  # fmt: skip
                cut = collect(clip, model, args.frames, keep_images=0, lifting=same_camera, crop_bottom_px=bottom)
                clips[clip.name]["legs_cut"] = {
                    "bottom_px": bottom,
                    "intrinsics_k": [round(float(v), 2) for v in cut.intrinsics_k],  # the whole frame's
                    **{name: upper_body_change(getattr(poses, f"{name}_m"), getattr(cut, f"{name}_m"))
                       for name in ("posecast", "mediapipe")},
                }  # fmt: skip
            print(str(model), clip.name, json.dumps(clips[clip.name]), file=sys.stderr)
            if args.images is not None and m == 0:
                picture(poses, args.images / f"compare_mediapipe_{clip.stem}.png")
    atomic_write(args.json, (json.dumps(result, indent=1) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())

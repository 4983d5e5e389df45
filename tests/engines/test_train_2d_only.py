"""The method's point: training from recorded 2D alone (the ``posecast lift`` input format)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from posecast.calibration import CameraIntrinsics
from posecast.engines import skeleton


def test_train_from_recorded_2d_only(tmp_path: Path, media_dir: Path, load_tool) -> None:  # noqa: ANN001
    landmarks = np.array(json.loads((media_dir / "squats_720x1280.mediapipe_full_2d.json").read_text()))
    recorded = tmp_path / "squats_2d.npz"
    np.savez(recorded, keypoints_2d=skeleton.from_mediapipe(landmarks)[..., :2],
             intrinsics=CameraIntrinsics.from_hfov(60.0, 720, 1280).as_array(), fps=5.0)  # fmt: skip
    config = tmp_path / "tiny.yaml"
    config.write_text("model: {window_frames: 9, width: 64, blocks: 1, scale_width: 32}\nbatch: 16\nthreads: 1\n")
    out = tmp_path / "run"
    code = load_tool("train").main(["--config", str(config), "--data", "--recorded-2d", str(recorded),
                                "--out", str(out), "--steps", "12", "--no-progress"])  # fmt: skip
    assert code == 0
    assert (out / "last.pt").is_file() and (out / "losses.png").is_file()
    rows = list(csv.DictReader((out / "log.csv").open()))
    assert rows and all(np.isfinite(float(r["loss"])) for r in rows)
    assert not any(k.startswith("eval_") for k in rows[-1])  # no 3D anywhere, so no evaluation

"""Measure what an avatar driven by posecast shows: the floor, foot sliding and floor
penetration, still-pose jitter, the avatar filter's added latency, the rotations' round trip,
how far the limbs turn about themselves from frame to frame (``limb_twist``).

    python tools/avatar_metrics.py [--json FILE] [--shared ../shared]

Data (every pose through the real lifter, ``posecast lift`` / ``posecast run``):

- **mocap through the lifter**: the CMU takes of ``tests/fixtures/cmu`` (never trained on) and,
  with ``--shared``, Bandai-Namco clips (the lifter's training source: optimistic), filmed by a
  fixed virtual webcam (1280x720, 60 deg, 1.2 m high, 4 m or more in front of the subject) with
  MediaPipe-like 2D noise (per-joint bias 1 %, white jitter 0.5 % of the body's size, 0.2 %
  gross errors; the measured MediaPipe residual on the real clips is 0.4-1.4 %). Truth known:
  up, the standing ankles, which foot is down when.
- **a still pose**: one mocap frame held for 5 s through the same webcam and noise; and a real
  webcam image held still (the first frame of each real clip repeated for 5 s at 30 fps with
  sensor noise of 3 grey levels) through real MediaPipe and the whole pipeline.
- **real clips**: ``dance_576.mp4`` (30 fps) and ``squats_720x1280.mp4`` (5 fps; her feet never
  move) through the whole pipeline.

"before" is the published pose; "after" is what the avatar outputs send
(:class:`posecast.realtime.avatar.AvatarWorld`: the floor, the avatar One Euro filter, the
subject's bone lengths). Sliding is the mean horizontal speed of an ankle while its foot is on
the floor (mocap: the truth says when; real clips: the contact flags); penetration the mean
depth of the ankles below their standing level.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from posecast.calibration import floor as fl
from posecast.engines import rotations, skeleton
from posecast.engines.errors import run_reporting
from posecast.engines.fileio import atomic_write
from posecast.engines.training.data.bvh import load_bvh_joints
from posecast.engines.training.data.cameras import look_at_rotation
from posecast.engines.training.data.noise import NoiseOptions, add_detector_noise
from posecast.realtime.avatar import AVATAR_ONE_EURO, AvatarOptions, AvatarWorld
from posecast.realtime.lifting.smoothing import OneEuroOptions
from posecast.realtime.types import PersonPose, PoseFrame
from scipy.spatial.transform import Rotation

REPO = Path(__file__).resolve().parents[1]
FPS = 30.0
SIZE = (1280, 720)
FOCAL = 0.5 * SIZE[0] / np.tan(np.radians(30.0))
NOISE = NoiseOptions(bias_frac=0.01, jitter_frac=(0.005, 0.005), correlation=(0.0, 0.0), outlier_prob=0.002)
CMU = ("08_04", "09_01", "49_04")
BANDAI = ("walk", "walk-left", "walk-back", "dash", "run", "kick", "punch", "bow", "respond", "guide", "dance-short")
_ANKLES = list(fl.ANKLES)


CLI_ENV = dict(os.environ)


def posecast(*args: str) -> str:
    """Run the posecast CLI (of this environment, or of ``--cli-path``); returns its stdout."""
    command = [sys.executable, "-m", "posecast.realtime.cli", *args]
    done = subprocess.run(command, capture_output=True, text=True, env=CLI_ENV)
    if done.returncode != 0:
        raise RuntimeError(f"posecast {' '.join(args)} failed: {done.stderr.strip()[-400:]}")
    return done.stdout


def film(world: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mocap ``(F, 17, 3)`` (Y up) → the webcam's truth in camera axes, noisy 2D px, confidence,
    and the true up in camera axes. The camera faces the subject (from the side of their path
    when they travel more than a metre), 1.2 m high, far enough (4 m or more) that the whole
    take stays 2 m or more in front of it and inside the picture."""
    target = world[:, 0].mean(axis=0)
    facing = np.cross((world[:, J("l_hip")] - world[:, J("r_hip")]).mean(axis=0), [0.0, 1.0, 0.0])
    facing = facing * [1, 0, 1] / np.linalg.norm(facing * [1, 0, 1])
    travel = (world[-1, 0] - world[0, 0]) * [1, 0, 1]
    if np.linalg.norm(travel) > 1.0:
        side = np.cross(travel, [0.0, 1.0, 0.0])
        facing = side / np.linalg.norm(side) * (1.0 if side @ facing >= 0 else -1.0)
    for distance in np.arange(4.0, 20.0, 0.5):
        position = target + distance * facing
        position[1] = 1.2
        forward = (target - position) / np.linalg.norm(target - position)
        rotation = look_at_rotation(forward[None], np.zeros(1))[0]
        cam = (world - position) @ rotation.T
        px = FOCAL * cam[..., :2] / np.maximum(cam[..., 2:], 1e-3) + np.array(SIZE) / 2
        inside = (px >= 0).all() and (px[..., 0] < SIZE[0]).all() and (px[..., 1] < SIZE[1]).all()
        if cam[..., 2].min() >= 2.0 and inside:
            break
    noisy, conf = add_detector_noise(px[None], rng, NOISE)
    return cam, noisy[0], conf[0], rotation @ [0.0, 1.0, 0.0]


def lift(name: str, keypoints: np.ndarray, confidence: np.ndarray, height_m: float, work: Path) -> np.ndarray:
    np.savez(
        work / f"{name}_2d.npz",
        keypoints_2d=keypoints.astype(np.float32),
        confidence=confidence.astype(np.float32),
        intrinsics=np.array([FOCAL, FOCAL, SIZE[0] / 2, SIZE[1] / 2]),
        fps=FPS,
    )
    posecast(
        "lift",
        "--input",
        str(work / f"{name}_2d.npz"),
        "--output",
        str(work / f"{name}_3d.npz"),
        "--height",
        f"{height_m:.3f}",
    )
    return np.load(work / f"{name}_3d.npz")["joints_3d"]


def run_video(path: Path) -> np.ndarray:
    """The whole pipeline on a video: published joints ``(F, 17, 3)`` (camera frame)."""
    out = posecast("run", "--source", str(path), "--headless", "--print", "json", "--publish", "none")
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    poses = [r for r in rows if "joints_m" in r]  # pose lines (the console also prints the meta)
    return np.array([r["joints_m"] if r.get("tracking") != "lost" else np.full((17, 3), np.nan) for r in poses])


def J(name: str) -> int:  # noqa: N802 - reads like the constant it is
    return skeleton.JOINT_INDEX[name]


def avatar(joints_cam: np.ndarray, fps: float, filtered: bool | OneEuroOptions) -> tuple[np.ndarray, dict]:
    """The avatar outputs' world poses ``(F, 17, 3)`` and floor for published poses (``filtered``:
    with the avatar filter, or with these One Euro options)."""
    one_euro = filtered if isinstance(filtered, OneEuroOptions) else (AVATAR_ONE_EURO if filtered else None)
    world = AvatarWorld(AvatarOptions(one_euro=one_euro))
    lengths = np.median(skeleton.bone_lengths(joints_cam[len(joints_cam) // 2 :]), axis=0)
    out = []
    for i, cam in enumerate(joints_cam):
        person = PersonPose(0, "tracking", np.zeros((17, 2), np.float32), np.ones(17, np.float32))
        person.joints_m, person.root_m, person.bone_lengths_m = cam, cam[0], lengths
        t = int(i * 1e9 / fps)
        people = world.process(PoseFrame(i, t, t, SIZE, [person] if np.isfinite(cam).all() else [])).people
        out.append(people[0].joints_world_m if people else np.full((17, 3), np.nan))  # a frame without a pose
    return np.asarray(out), world.floor


def stance_metrics(world: np.ndarray, fps: float, stance: np.ndarray, ankle_level: float) -> dict[str, float]:
    heights, speeds = fl.ankle_motion(world, fps)
    seen = np.isfinite(speeds) & np.isfinite(heights)
    stance, below = stance & seen, np.maximum(ankle_level - heights[seen], 0.0)
    return {
        "sliding_mm_s": float(1000 * speeds[stance].mean()),
        "penetration_mm": float(1000 * below.mean()),
        "penetration_max_mm": float(1000 * below.max()),
    }


#: A still pose's jitter is measured after this many frames (2 s): the floor and filter settled.
SETTLED = 60


def jitter(world: np.ndarray) -> dict[str, float]:
    """A still pose's jitter from frame :data:`SETTLED` on: joint displacement per frame (mm) and
    bone rotation change (deg). The rotations are made from the first frame, as the live outputs
    make them (the knees' and elbows' twists carry from frame to frame)."""
    world = world[np.isfinite(world).all(axis=(1, 2))]
    q = rotations.joints_to_rotations(world).world_rotations()[SETTLED:]
    world = world[SETTLED:]
    turn = (Rotation.from_quat(q[1:]).inv() * Rotation.from_quat(q[:-1])).magnitude()
    return {
        "joint_mm_per_frame": float(1000 * np.linalg.norm(np.diff(world, axis=0), axis=-1).mean()),
        "rotation_deg_per_frame": float(np.degrees(turn).mean()),
        "root_mm_per_frame": float(1000 * np.linalg.norm(np.diff(world[:, 0], axis=0), axis=-1).mean()),
    }


#: The bones whose twist comes from a knee's or elbow's bend plane, and the bones they carry.
LIMBS = ("l_elbow", "r_elbow", "l_wrist", "r_wrist", "l_knee", "r_knee", "l_ankle", "r_ankle")


def limb_twist(world: np.ndarray) -> dict[str, float]:
    """How far each limb bone turns about itself between consecutive frames of an avatar's poses
    ``(F, 17, 3)`` (degrees): its maximum, 99th percentile and the steps over 30 degrees (a still
    or steadily moving limb turns a few degrees a frame; a bend plane of noise, half a turn)."""
    world = world[np.isfinite(world).all(axis=(1, 2))]
    q = rotations.joints_to_rotations(world).world_rotations()
    steps = []
    for name in LIMBS:
        j = J(name)
        step = (Rotation.from_quat(q[:-1, j]).inv() * Rotation.from_quat(q[1:, j])).as_quat()
        steps.append(np.degrees(np.abs(2 * np.arctan2(step[:, :3] @ rotations.REST_DIRECTIONS[j], np.abs(step[:, 3])))))
    steps = np.concatenate(steps)
    return {"max_deg": float(steps.max()), "p99_deg": float(np.percentile(steps, 99)),
            "steps_over_30_deg": int((steps > 30).sum()), "steps": int(steps.size)}  # fmt: skip


def lag_ms(filtered: np.ndarray, raw: np.ndarray, fps: float) -> float:
    """The shift (ms) that best matches ``filtered(t)`` to ``raw(t - shift)``: the added latency
    (NaN for a clip shorter than 2 s or with frames without a pose)."""
    if len(raw) < 2 * fps or not np.isfinite(raw).all():
        return float("nan")
    t = np.arange(len(raw)) / fps
    a, b = filtered.reshape(len(raw), -1)[20:], raw.reshape(len(raw), -1)
    errors = [
        np.mean((a - np.stack([np.interp(t - s, t, col) for col in b.T], -1)[20:]) ** 2)
        for s in np.arange(0, 0.2, 0.001)
    ]
    return float(np.argmin(errors))


def mocap_clips(shared: Path | None) -> dict[str, np.ndarray]:
    clips = {}
    for name in CMU:
        joints, fps = load_bvh_joints(REPO / "tests" / "fixtures" / "cmu" / f"{name}.bvh")
        clips[f"cmu/{name}"] = joints[1 :: round(fps / FPS)]
    archive = None if shared is None else shared / "data" / "bandai-namco" / "dataset-1.tar.xz"
    if archive is not None and not archive.is_file():  # (QA: it measured the CMU clips alone, without a word)
        print(f"avatar_metrics: error: --shared {shared} has no data/bandai-namco/dataset-1.tar.xz: pass the shared "
              "folder that holds it, or leave --shared out to measure the CMU clips alone", file=sys.stderr)
        raise SystemExit(2)
    if archive is not None:
        import tarfile

        wanted = {f"dataset-1_{n}_normal_001.bvh": n for n in BANDAI}
        with tarfile.open(archive) as tar, tempfile.TemporaryDirectory() as tmp:
            for member in tar:
                if Path(member.name).name in wanted:
                    member.name = Path(member.name).name
                    tar.extract(member, tmp, filter="data")
                    joints, fps = load_bvh_joints(Path(tmp) / member.name)
                    clips[f"bandai/{wanted[member.name]}"] = joints[:: round(fps / FPS)]
    return clips


#: Published poses kept for the filter grid: moving clips (name → (poses, fps)) and still ones.
MOVING: dict[str, tuple[np.ndarray, float]] = {}
STILL: dict[str, np.ndarray] = {}
#: The One Euro settings compared with the avatar default: (min cutoff Hz, beta per m/s).
GRID = ((1.5, 0.5), (1.0, 1.0), (0.5, 1.0), (0.3, 2.0), (0.5, 2.0), (1.0, 2.0), (0.5, 4.0))


def measure_mocap(clips: dict[str, np.ndarray], work: Path, rng: np.random.Generator) -> dict:
    results = {}
    for name, world_true in clips.items():
        height = skeleton.height_from_bone_lengths(np.median(skeleton.bone_lengths(world_true), axis=0))
        cam_true, px, conf, up_truth_cam = film(world_true, rng)
        lifted = lift(name.replace("/", "_"), px, conf, height, work)
        heights, speeds = fl.ankle_motion(world_true, FPS)
        stance = fl.foot_contacts(heights - np.quantile(heights.min(axis=1), 0.2), speeds)
        ankle_level = fl.ANKLE_HEIGHT_FRACTION * height
        before, floor = avatar(lifted, FPS, filtered=False)
        after, _ = avatar(lifted, FPS, filtered=True)
        truth_world, _ = avatar(cam_true, FPS, filtered=False)
        up_cam = np.asarray(floor.floor.up_cam)
        MOVING[name] = (lifted, FPS)
        stance_ankles = lifted[:, _ANKLES][stance]
        pose = rotations.joints_to_rotations(lifted)
        results[name] = {
            "frames": len(lifted),
            "frames_without_pose": int((~np.isfinite(lifted).all(axis=(1, 2))).sum()),
            "up_error_deg": float(np.degrees(np.arccos(np.clip(up_cam @ up_truth_cam, -1, 1)))),
            "stance_ankle_to_floor_plane_cm": float(
                100 * np.median(np.abs(stance_ankles @ up_cam - floor.floor.ankle_level_m))
            ),
            "truth": stance_metrics(truth_world, FPS, stance, ankle_level),
            "before": stance_metrics(before, FPS, stance, ankle_level),
            "after": stance_metrics(after, FPS, stance, ankle_level),
            "round_trip_mm": float(1000 * np.abs(pose.joints() - lifted).max()),
            "limb_twist": {"truth": limb_twist(truth_world), "after": limb_twist(after)},
            "lag_ms": {
                "pose": lag_ms(after - after[:, :1], before - before[:, :1], FPS),
                "root": lag_ms(after[:, 0], before[:, 0], FPS),
            },
        }
    return results


def still_video(path: Path, work: Path) -> Path:
    """The clip's first frame held for 5 s at 30 fps with sensor noise (3 grey levels)."""
    capture = cv2.VideoCapture(str(path))
    ok, image = capture.read()
    capture.release()
    if not ok:
        raise RuntimeError(f"cannot read {path}")
    out_path = work / f"still_{path.stem}.mp4"
    writer = cv2.VideoWriter(str(out_path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, image.shape[1::-1])
    rng = np.random.default_rng(0)
    for _ in range(150):
        writer.write(np.clip(image + rng.normal(0.0, 3.0, image.shape), 0, 255).astype(np.uint8))
    writer.release()
    return out_path


def measure_still(clips: dict[str, np.ndarray], work: Path, rng: np.random.Generator) -> dict:
    results = {}
    for name in ("cmu/08_04", "bandai/respond"):
        if name not in clips:
            continue
        world_true = np.repeat(clips[name][:1], 150, axis=0)
        height = skeleton.height_from_bone_lengths(skeleton.bone_lengths(world_true[0]))
        _, px, conf, _ = film(world_true, rng)
        lifted = lift(f"still_{name.replace('/', '_')}", px, conf, height, work)
        results[f"mocap {name} frame 0"] = {
            k: jitter(avatar(lifted, FPS, f)[0]) for k, f in (("before", False), ("after", True))
        }
    for clip in ("dance_576.mp4", "squats_720x1280.mp4"):
        published = run_video(still_video(REPO / "tests" / "fixtures" / "media" / clip, work))
        STILL[clip] = published
        results[f"real {clip} frame 0 held"] = {
            k: jitter(avatar(published, FPS, f)[0]) for k, f in (("before", False), ("after", True))
        }
    return results


def measure_real() -> dict:
    results = {}
    for clip, fps in (("dance_576.mp4", 30.0), ("squats_720x1280.mp4", 5.0)):
        published = run_video(REPO / "tests" / "fixtures" / "media" / clip)
        MOVING[f"real {clip}"] = (published, fps)
        entry = {"frames": len(published)}
        for key, filtered in (("before", False), ("after", True)):
            world, floor = avatar(published, fps, filtered)
            world = world[np.isfinite(world).all(axis=(1, 2))]
            height = skeleton.height_from_bone_lengths(np.median(skeleton.bone_lengths(published), axis=0))
            entry[key] = fl.foot_metrics(world, fps, fl.ANKLE_HEIGHT_FRACTION * height)
            entry[key]["ankle_speed_all_frames_mm_s"] = float(1000 * fl.ankle_motion(world, fps)[1].mean())
            entry[key]["limb_twist"] = limb_twist(world)
        entry["floor"] = {
            "camera_height_m": floor.floor.camera_height_m,
            "tilt_deg": floor.floor.tilt_deg,
            "roll_deg": floor.floor.roll_deg,
        }
        if fps == 30.0:
            entry["lag_ms"] = {
                "pose": lag_ms(
                    *(w - w[:, :1] for w in (avatar(published, fps, True)[0], avatar(published, fps, False)[0])), fps
                )
            }
        entry["round_trip_mm"] = float(
            1000 * np.abs(rotations.joints_to_rotations(published).joints() - published).max()
        )
        results[clip] = entry
    return results


def measure_filter_grid() -> dict:
    """Each One Euro setting of :data:`GRID` and the avatar default: the added pose latency
    (median over the moving clips of 2 s or more) against the still real image's jitter."""
    results = {}
    settings = [OneEuroOptions(c, b) for c, b in GRID] + [AVATAR_ONE_EURO]
    for options in settings:
        lags = []
        for poses, fps in MOVING.values():
            after, before = avatar(poses, fps, options)[0], avatar(poses, fps, False)[0]
            lags.append(lag_ms(after - after[:, :1], before - before[:, :1], fps))
        still = {clip: jitter(avatar(poses, FPS, options)[0]) for clip, poses in STILL.items()}
        results[f"min_cutoff {options.min_cutoff_hz:g} Hz, beta {options.beta:g}"] = {
            "pose_lag_ms_median": float(np.nanmedian(lags)),
            "still_real": still,
            "avatar_default": options == AVATAR_ONE_EURO,
        }
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, default=Path("avatar.json"), help="default: ./avatar.json")
    default_shared = Path(os.environ.get("POSECAST_SHARED", REPO.parent / "shared"))
    parser.add_argument("--shared", type=Path, default=default_shared if default_shared.is_dir() else None)
    parser.add_argument("--cli-path", type=Path, help="run the posecast CLI from this folder (PYTHONPATH)")
    args = parser.parse_args()
    if args.cli_path:
        CLI_ENV["PYTHONPATH"] = str(args.cli_path)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        clips = mocap_clips(args.shared)
        if args.shared is None:
            print("avatar_metrics: no shared folder: the mocap rows measure the 3 CMU clips alone, not the "
                  "Bandai-Namco ones the README's table has", file=sys.stderr)
        report = {
            "mocap": measure_mocap(clips, work, rng),
            "still": measure_still(clips, work, rng),
            "real": measure_real(),
        }
        report["filter_grid"] = measure_filter_grid()
    atomic_write(args.json, (json.dumps(report, indent=2) + "\n").encode())
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":  # (tools QA: missing data and bad values were tracebacks)
    sys.exit(run_reporting(main, "avatar_metrics"))

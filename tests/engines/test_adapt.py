"""Adaptation to a user's 2D: runs from an exported model, stays anchored to it, writes a model that
ONNX Runtime runs and that describes itself; clear errors for bad inputs."""

from __future__ import annotations

import dataclasses
import logging
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from posecast.engines import metadata, normalize, skeleton
from posecast.engines.errors import ModelError, PosecastError
from posecast.engines.fileio import file_sha256
from posecast.engines.runtime import load_backend
from posecast.engines.training.adapt import (
    TEACHERS,
    AdaptError,
    AdaptOptions,
    adapt,
    collect_inputs,
    ensemble_lift,
    footage_targets,
    footage_teacher,
    learning_rate_factor,
    smooth_over_frames,
)
from posecast.engines.training.config import config_from_dict
from posecast.engines.training.data.cameras import sample_cameras
from posecast.engines.training.data.dataset import Clip
from posecast.engines.training.data.windows import (
    MocapWindowSampler,
    Recorded2DSampler,
    SamplerOptions,
    WindowBatch,
)
from posecast.engines.training.export import adapt_weights_path, load_generator_npz
from posecast.engines.training.train import Trainer
from posecast.realtime.cli import main
from posecast.realtime.commands.adapt import MAX_MINUTES

TINY = {"window_frames": 9, "width": 64, "blocks": 1, "scale_width": 32}
#: tests of what the losses do in a few dozen steps: the learning rate without warm-up or decay
CONSTANT_RATE = {"lr_warmup_steps": 0, "lr_decay": False}


@pytest.fixture(scope="module")
def exported(clips: list[Clip], tmp_path_factory: pytest.TempPathFactory, load_tool) -> Path:  # noqa: ANN001
    """A tiny model trained for a few steps and exported with tools/export.py (ONNX + INT8 + adapt npz)."""
    out = tmp_path_factory.mktemp("model")
    cfg = config_from_dict({"mode": "supervised", "model": TINY, "steps": 30, "batch": 32, "bf16": False})
    trainer = Trainer(cfg, out)
    sampler = MocapWindowSampler(clips, SamplerOptions(window_frames=9), seed=0)
    for _ in range(30):
        trainer.train_step(sampler.sample(32))
    checkpoint = trainer.save_checkpoint()
    export = load_tool("export")
    model = out / "tiny.onnx"
    assert export.main([str(checkpoint), str(model), "--int8"]) == 0
    assert adapt_weights_path(model).is_file() and (out / "tiny.int8.onnx").is_file()
    return model


@pytest.fixture(scope="module")
def footage(clips: list[Clip], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture takes filmed by fixed webcams, as lift-format 2D (pixels, intrinsics, fps)."""
    folder = tmp_path_factory.mktemp("footage")
    rng = np.random.default_rng(0)
    for clip in clips:
        world = clip.joints_m.astype(np.float64)[None]
        cams = sample_cameras(world[:, :, skeleton.ROOT].mean(1), rng)
        pixels = cams.project_px(cams.to_camera(world))[0]
        np.savez(folder / f"{clip.name}.npz", keypoints_2d=pixels, intrinsics=cams.intrinsics[0],
                 confidence=np.ones(pixels.shape[:2]), fps=clip.fps)  # fmt: skip
    return folder


def test_adapt_writes_a_model_anchored_to_its_start(exported: Path, footage: Path, tmp_path: Path) -> None:
    output = tmp_path / "adapted.onnx"
    options = AdaptOptions.recipe("paper", minutes=2.0, max_steps=40, batch=32, disc_warmup_steps=5, bf16=False)
    report = adapt(exported, [footage], output, options, progress=False)
    assert report.steps == 40 and report.windows > 100 and report.output == str(output)
    for figures in (report.before, report.after):
        assert np.isfinite(figures["cycle_2d_error_pct"]) and figures["bone_cv_pct"] > 0
    assert 0 < report.after["moved_mm"] < 500  # it learned something (a tiny, barely trained start moves a lot)
    meta = metadata.read_onnx_metadata(output)
    assert meta.model_kind == "supervised+adapted" and meta.extra["adapted_from"] == "tiny.onnx"
    assert meta.extra["adapt_steps"] == "40"
    # the readable line names the start model and the footage (QA: neither was there, only in extra)
    names = ", ".join(sorted(p.name for p in footage.glob("*.npz")))
    assert meta.training_data.endswith(f"; adapted from tiny.onnx (2D only) to 3 user sequence(s): {names}")
    assert adapt_weights_path(output).is_file() and (tmp_path / "adapted.int8.onnx").is_file()
    window = np.random.default_rng(1).normal(0.0, 0.1, (2, 9, 17, 2)).astype(np.float32)
    with load_backend("onnxruntime", output) as backend:
        out = backend.run(window)
    assert out.joints_3d.shape == (2, 17, 3) and np.isfinite(out.joints_3d).all()
    # adapted again from the adapted model: its own adaptation weights were written
    again = adapt(output, [footage], tmp_path / "again.onnx", AdaptOptions(minutes=1.0, max_steps=2, batch=8,
                  disc_warmup_steps=1, bf16=False), progress=False)  # fmt: skip
    assert again.steps == 2
    assert metadata.read_onnx_metadata(tmp_path / "again.onnx").training_data.endswith(
        f"; adapted from tiny.onnx (2D only) to 3 user sequence(s): {names}; adapted from adapted.onnx (2D "
        f"only) to 3 user sequence(s): {names}")  # each adaptation, in order
    twice = metadata.read_onnx_metadata(tmp_path / "again.onnx").extra
    # the start model named by its bytes, the time taken, and the first footage kept
    assert twice["adapted_from"] == "adapted.onnx" and twice["adapted_from_sha256"] == file_sha256(output)
    assert twice["adapted_earlier_on"] == meta.extra["adapted_on"] and 0 <= float(twice["adapt_seconds"]) < 60


@pytest.mark.parametrize("max_steps", [3, 0])
def test_the_progress_bar_reads_cleanly(max_steps: int, exported: Path, footage: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """QA: the bar read "18/18 s , loss=…" (tqdm puts its own ", " before the postfix)."""
    adapt(exported, [footage], tmp_path / "bar.onnx", AdaptOptions.recipe("paper", minutes=0.05, max_steps=max_steps,
          batch=8, disc_warmup_steps=0, bf16=False, int8=False), progress=True)  # fmt: skip
    shown = capsys.readouterr().err
    assert "adapting" in shown and " ," not in shown, shown[-300:]
    assert re.search(r"/\d+ (steps|s), loss=[\d.]+, step=\d+", shown), shown[-300:]


def test_a_strong_anchor_keeps_the_start_model(exported: Path, footage: Path, tmp_path: Path) -> None:
    loose = adapt(exported, [footage], tmp_path / "loose.onnx", AdaptOptions.recipe("paper",
        minutes=2.0, max_steps=40, batch=32, disc_warmup_steps=0, anchor_weight=0.0, distill_weight=0.0, lr=3e-4,
        bf16=False, int8=False, **CONSTANT_RATE), progress=False)  # fmt: skip
    tight = adapt(exported, [footage], tmp_path / "tight.onnx", AdaptOptions.recipe("paper",
        minutes=2.0, max_steps=40, batch=32, disc_warmup_steps=0, anchor_weight=1e3, distill_weight=1e3, lr=3e-4,
        bf16=False, int8=False, **CONSTANT_RATE), progress=False)  # fmt: skip
    assert tight.after["moved_mm"] < 0.5 * loose.after["moved_mm"]


def test_the_learning_rate_warms_up_then_falls_to_zero_at_the_budget() -> None:
    assert learning_rate_factor(0, 100, 0.0, decay=True) == pytest.approx(0.01)
    assert learning_rate_factor(49, 100, 0.0, decay=False) == pytest.approx(0.5)
    assert learning_rate_factor(500, 100, 0.25, decay=True) == pytest.approx(0.75)
    assert learning_rate_factor(500, 100, 0.25, decay=False) == 1.0
    assert learning_rate_factor(9, 100, 1.2, decay=True) == 0.0  # past the budget: no step moves
    assert learning_rate_factor(0, 0, 0.5, decay=True) == pytest.approx(0.5)  # no warm-up
    with pytest.raises(ValueError, match="lr_warmup_steps must be >= 0, got -1"):
        AdaptOptions(lr_warmup_steps=-1)


def test_the_decay_runs_over_the_training_not_the_teachers_lifting() -> None:
    """Review: with --minutes the teacher's lifting counted in the decay, so a run whose teacher
    took 40 % of the minutes never rose above 0.43 of the learning rate."""
    import time
    from types import SimpleNamespace

    from posecast.engines.training.adapt import _run

    class Recorder:
        step = 0
        factors: list[float] = []

        def set_learning_rate(self, factor: float) -> None:
            self.factors.append(factor)

        def train_step(self, batch: object) -> dict[str, float]:
            self.step += 1
            time.sleep(0.002)
            return {"loss": 0.0}

    adapter = Recorder()
    options = AdaptOptions(minutes=1.0 / 60, lr_warmup_steps=1)  # one second; the teacher took 0.4 of it
    _run(adapter, SimpleNamespace(sample=lambda batch: None), options, False, time.perf_counter() - 0.4)
    assert adapter.step > 20 and max(adapter.factors) > 0.9 and adapter.factors[-1] > 0  # (before: 0.6 at most)


def test_no_step_trains_at_a_rate_the_clock_read_after_the_end(monkeypatch: pytest.MonkeyPatch) -> None:
    """The loop read the clock twice a step, once to stop and once for the decay: a step let
    through just before the end could get a rate of 0 (CI, the test above). A clock that moves
    0.1 s at every read shows it."""
    from types import SimpleNamespace

    from posecast.engines.training import adapt

    reads = iter(np.arange(0.0, 100.0, 0.1))
    monkeypatch.setattr(adapt.time, "perf_counter", lambda: float(next(reads)))
    factors: list[float] = []
    adapter = SimpleNamespace(step=0, set_learning_rate=factors.append, train_step=lambda batch: {"loss": 0.0})
    adapt._run(adapter, SimpleNamespace(sample=lambda batch: None), AdaptOptions(minutes=1.0 / 60, lr_warmup_steps=0),
               False, 0.0)  # fmt: skip
    assert len(factors) >= 5 and min(factors) > 0.0, factors


def test_a_few_steps_stay_near_the_start_model(exported: Path, footage: Path, tmp_path: Path) -> None:
    """QA: Adam's first step moves every weight by about the learning rate, so one step moved the
    3D by 40 mm; the warm-up keeps a short run near its start, and the schedule is in the model."""
    moved = {}
    for warmup in (0, AdaptOptions.lr_warmup_steps):
        output = tmp_path / f"warmup{warmup}.onnx"
        options = AdaptOptions(minutes=1.0, max_steps=2, batch=32, lr_warmup_steps=warmup, bf16=False, int8=False)
        moved[warmup] = adapt(exported, [footage], output, options, progress=False).after["moved_mm"]
    assert moved[AdaptOptions.lr_warmup_steps] < 0.1 * moved[0], moved
    schedule = metadata.read_onnx_metadata(output).extra["adapt_lr_schedule"]
    assert schedule == "linear warm-up over 100 steps times a linear decay to 0 over the run", schedule


def test_adapt_input_errors(exported: Path, tmp_path: Path) -> None:
    with pytest.raises(AdaptError, match="does not exist"):
        collect_inputs([tmp_path / "absent.npz"])
    with pytest.raises(AdaptError, match="no 2D to adapt to"):
        collect_inputs([tmp_path])
    with pytest.raises(AdaptError, match="absent.npz does not exist"):  # one path, not a list of its letters (QA)
        collect_inputs(str(tmp_path / "absent.npz"))
    np.savez(tmp_path / "bad.npz", keypoints_2d=np.zeros((5, 25, 2)), intrinsics=np.ones(4))
    with pytest.raises(AdaptError, match=r"keypoints_2d must be \(F, 17, 2\)"):
        adapt(exported, [tmp_path / "bad.npz"], tmp_path / "out.onnx", AdaptOptions(minutes=0.1), progress=False)
    bare = tmp_path / "bare.onnx"
    bare.write_bytes(exported.read_bytes())  # a model without its .adapt.npz beside it
    np.savez(tmp_path / "ok.npz", keypoints_2d=np.full((12, 17, 2), 300.0), intrinsics=np.array([500.0, 500, 320, 240]))
    with pytest.raises(ModelError, match="its adaptation weights bare.adapt.npz are not beside it"):
        adapt(bare, [tmp_path / "ok.npz"], tmp_path / "out.onnx", AdaptOptions(minutes=0.1), progress=False)
    # weights of another network beside it were trained and labelled with this model's name and data
    from posecast.engines.runtime.base import resolve_model

    with_other = tmp_path / "other.onnx"
    with_other.write_bytes(exported.read_bytes())
    adapt_weights_path(with_other).write_bytes(adapt_weights_path(resolve_model("supervised-w256")).read_bytes())
    with pytest.raises(ModelError, match="does not hold the network of .*other.onnx .*left from another model"):
        adapt(with_other, [tmp_path / "ok.npz"], tmp_path / "out.onnx", AdaptOptions(minutes=0.1), progress=False)
    # a truncated or foreign weights file: one line, not numpy's zip error or its "pickled data"
    for damaged in (adapt_weights_path(exported).read_bytes()[:5000], b"not an npz at all\n"):
        adapt_weights_path(with_other).write_bytes(damaged)
        with pytest.raises(ModelError, match="not a posecast adaptation file \\(not an .npz"):
            adapt(with_other, [tmp_path / "ok.npz"], tmp_path / "out.onnx", AdaptOptions(minutes=0.1), progress=False)
    assert not (tmp_path / "out.onnx").exists()
    with pytest.raises(ValueError, match="minutes must be in"):
        AdaptOptions(minutes=0)


class _DepthFromRadius(torch.nn.Module):
    """A lifter that commutes with camera rolls and mirror images: each joint's depth is its 2D
    distance from the root, so every view of the ensemble, turned back, is the same answer."""

    def forward(self, canonical: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.cat([canonical, canonical.norm(dim=-1, keepdim=True)], -1), canonical.new_ones(canonical.shape[:2])


def test_ensemble_turns_and_mirrors_each_view_back() -> None:
    canonical = torch.from_numpy(np.random.default_rng(2).normal(0, 0.1, (3, 5, 17, 2)).astype(np.float32))
    canonical = canonical - canonical[..., :1, :]
    single = _DepthFromRadius()(canonical)[0]
    for rolls, mirror in (((0.0,), False), ((-45.0, 0.0, 30.0), False), ((0.0,), True), ((-90.0, 15.0), True)):
        ensemble = ensemble_lift(_DepthFromRadius(), canonical, rolls, mirror)
        torch.testing.assert_close(ensemble, single, atol=1e-6, rtol=0)


def test_ensemble_of_one_view_is_the_model(exported: Path) -> None:
    generator, _ = load_generator_npz(adapt_weights_path(exported))
    canonical = torch.from_numpy(np.random.default_rng(3).normal(0, 0.1, (4, 9, 17, 2)).astype(np.float32))
    with torch.no_grad():
        own = skeleton.root_relative(generator(canonical)[0])
        torch.testing.assert_close(ensemble_lift(generator, canonical), own)
        # a real network is not equivariant: the ensemble is another answer, and it keeps the root
        ensemble = ensemble_lift(generator, canonical, (-45.0, 0.0, 45.0), True)
    assert not torch.allclose(ensemble, own, atol=1e-4) and torch.all(ensemble[..., 0, :] == 0)


@pytest.mark.parametrize("recipe", ["mirror", "ensemble"])
def test_distillation_moves_the_model_towards_its_teacher(recipe: str, exported: Path, footage: Path,
                                                          tmp_path: Path) -> None:  # fmt: skip
    """The default recipe (mirror: the start model flip-averaged) and ensemble (over camera rolls too)."""
    output = tmp_path / f"{recipe}.onnx"
    options = AdaptOptions.recipe(recipe, minutes=2.0, max_steps=60, batch=32, lr=1e-3, anchor_weight=0.0, bf16=False,
                                  int8=False, **CONSTANT_RATE)  # fmt: skip
    assert options.teacher == recipe and options.weights["w_2d"] == 0.0 and options.teacher_smooth_frames == 1.0
    assert options.teacher_context == "footage"
    adapt(exported, [footage], output, options, progress=False)
    extra = metadata.read_onnx_metadata(output).extra
    assert extra["adapt_teacher"] == recipe and extra["adapt_teacher_smooth_frames"] == "1"
    assert extra["adapt_teacher_context"] == "footage"
    start, _ = load_generator_npz(adapt_weights_path(exported))
    adapted, _ = load_generator_npz(adapt_weights_path(output))
    take = np.load(sorted(footage.glob("*.npz"))[0])
    frames = normalize.normalize_pixels(take["keypoints_2d"][:400], take["intrinsics"])
    windows = frames[np.arange(len(frames) - 8)[:, None] + np.arange(9)]
    canonical = normalize.canonicalize(torch.from_numpy(windows.astype(np.float32)))
    with torch.no_grad():
        rolls_deg = (0.0,) if recipe == "mirror" else (-45.0, -30.0, -15.0, 0.0, 15.0, 30.0, 45.0)
        target = smooth_over_frames(ensemble_lift(start, canonical, rolls_deg, True), 1.0)
        gap_before = (skeleton.root_relative(start(canonical)[0]) - target).norm(dim=-1).mean()
        gap_after = (skeleton.root_relative(adapted(canonical)[0]) - target).norm(dim=-1).mean()
    assert gap_after < 0.7 * gap_before, (float(gap_before), float(gap_after))
    # distillation alone steps the lifter only: the scale network is the start model's
    for kept, started in zip(adapted.scale_net.parameters(), start.scale_net.parameters(), strict=True):
        torch.testing.assert_close(kept, started, atol=1e-3, rtol=0)  # float16-stored weights


def test_adapt_options_name_their_choices() -> None:
    with pytest.raises(ValueError, match="teacher must be one of start, ensemble, mirror"):
        AdaptOptions(teacher="mean")
    with pytest.raises(ValueError, match="recipe must be one of mirror, ensemble, paper"):
        AdaptOptions.recipe("fast")
    # the default, mirror: the flip-averaged start model (as `posecast run` lifts) as teacher
    assert AdaptOptions.recipe("mirror") == dataclasses.replace(AdaptOptions(), recipe_name="mirror")
    assert AdaptOptions().teacher == "mirror" and AdaptOptions().recipe_name == ""  # made by hand: no recipe named
    assert TEACHERS["mirror"] == ((0.0,), True)
    assert AdaptOptions.recipe("ensemble") == dataclasses.replace(AdaptOptions(), teacher="ensemble",
                                                                  recipe_name="ensemble")  # fmt: skip
    paper = AdaptOptions.recipe("paper", minutes=2.0)
    assert paper.teacher == "start" and paper.weights == {"w_adv": 0.0} and paper.minutes == 2.0
    assert paper.teacher_smooth_frames == 0.0 and paper.teacher_context == "window"
    with pytest.raises(ValueError, match="teacher_context must be one of footage, window, got 'clip'"):
        AdaptOptions(teacher_context="clip")
    with pytest.raises(ValueError, match=r"teacher_smooth_frames must be in \[0, 10\], got -1"):
        AdaptOptions(teacher_smooth_frames=-1.0)


def test_smoothing_over_frames_keeps_steady_motion_and_removes_jitter() -> None:
    rng = np.random.default_rng(4)
    frames = torch.arange(27, dtype=torch.float64).view(1, 27, 1, 1)
    steady = frames * torch.from_numpy(rng.normal(size=(2, 1, 17, 3)))  # each joint moving at its own speed
    smoothed = smooth_over_frames(steady, 1.0)
    assert smoothed.shape == steady.shape
    torch.testing.assert_close(smoothed[:, 3:-3], steady[:, 3:-3])  # a symmetric kernel keeps linear motion
    still = torch.from_numpy(rng.normal(size=(2, 1, 17, 3))).expand(2, 27, 17, 3)
    torch.testing.assert_close(smooth_over_frames(still, 2.0), still)  # ends repeated: a still pose stays
    jitter = torch.from_numpy(rng.normal(0.0, 0.01, (2, 27, 17, 3)))
    assert smooth_over_frames(jitter, 1.0).std() < 0.6 * jitter.std()
    short = torch.from_numpy(rng.normal(size=(1, 3, 17, 3)))  # a kernel wider than the window still works
    assert smooth_over_frames(short, 5.0).shape == short.shape
    assert smooth_over_frames(jitter, 0.0) is jitter  # 0: off


def test_the_footage_teacher_averages_every_window_that_holds_a_frame(exported: Path, footage: Path) -> None:
    """Each frame's teacher 3D is the mean, in the camera's axes, of what every window holding it
    answered for it (the later windows saw the frames after it); slots repeating a sequence's
    first frame do not count. Checked against a frame-by-frame sum, on two sequences."""
    generator, _ = load_generator_npz(adapt_weights_path(exported))
    sampler = Recorded2DSampler(sorted(footage.glob("*.npz"))[:2], SamplerOptions(window_frames=9))
    keep = np.flatnonzero(sampler.windows[:, -1] < 40)  # the first 40 frames of the first take: one sequence
    frames, windows = sampler.frames[:40], sampler.windows[keep]
    rolls, mirror = (-30.0, 0.0, 30.0), True
    teacher = footage_teacher(generator, frames, windows, rolls, mirror, smooth_frames=1.0, batch=7)
    assert teacher.shape == (40, 17, 3) and teacher.dtype == np.float32
    total, count = np.zeros((40, 17, 3)), np.zeros(40)
    for window in windows:
        keypoints = torch.from_numpy(frames[window][None].astype(np.float32))
        answer = smooth_over_frames(ensemble_lift(generator, normalize.canonicalize(keypoints), rolls, mirror), 1.0)
        camera = normalize.to_camera_axes(answer, keypoints[..., skeleton.ROOT, :])[0].numpy()
        for slot, frame in enumerate(window):
            if slot < len(window) - 1 and frame == window[slot + 1]:
                continue  # before the sequence's start
            total[frame] += camera[slot]
            count[frame] += 1
    assert count[0] == 9 and count[39] == 1  # frame 0: in nine windows' own slots; the last: its own window only
    np.testing.assert_allclose(teacher, total / count[:, None, None], atol=2e-5)
    # the last frame has no later window: its own window's answer; an earlier one differs from it
    last_own = normalize.to_camera_axes(
        smooth_over_frames(ensemble_lift(generator, normalize.canonicalize(torch.from_numpy(
            frames[windows[-1]][None].astype(np.float32))), rolls, mirror), 1.0),
        torch.from_numpy(frames[windows[-1]][None, :, skeleton.ROOT].astype(np.float32)))[0, -1].numpy()  # fmt: skip
    np.testing.assert_allclose(teacher[39], last_own, atol=2e-5)


def test_footage_targets_follow_the_window_into_its_mirror_and_root_view(exported: Path, footage: Path) -> None:
    """The looked-up teacher is in each frame's root view (where the lifter answers) and a mirrored
    window gets the mirror image of its target."""
    generator, _ = load_generator_npz(adapt_weights_path(exported))
    sampler = Recorded2DSampler(sorted(footage.glob("*.npz"))[:1], SamplerOptions(window_frames=9))
    teacher = torch.from_numpy(footage_teacher(generator, sampler.frames, sampler.windows, (0.0,), True))
    rows = np.array([50, 100, 101])
    index = sampler.windows[rows]
    plain = sampler.frames[index].astype(np.float32)
    batch = WindowBatch(plain, np.ones(plain.shape[:3], np.float32), frame_index=index, mirrored=np.zeros(3, bool))
    target = footage_targets(teacher, batch, torch.from_numpy(plain))
    torch.testing.assert_close(normalize.to_camera_axes(target, torch.from_numpy(plain[..., 0, :])), teacher[index],
                               atol=1e-5, rtol=0)  # fmt: skip
    assert float(target[..., 0, :].abs().max()) < 1e-6  # root-relative
    flipped = skeleton.mirror_image(plain)
    mirrored = WindowBatch(flipped, batch.confidence, frame_index=index, mirrored=np.ones(3, bool))
    torch.testing.assert_close(footage_targets(teacher, mirrored, torch.from_numpy(flipped)),
                               skeleton.mirror_image(target), atol=1e-5, rtol=0)  # fmt: skip


def _start_files(model: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in model.parent.iterdir()}


@pytest.mark.parametrize("output", ["itself", "through ..", "a link", "its INT8 copy"])
def test_adapt_refuses_to_write_over_its_start_model(output: str, exported: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:  # fmt: skip
    """``--output`` naming the start model (however spelled) or one of its files: one line, exit 2,
    as ``posecast lift`` refuses its input as output; the start model is left as it was."""
    before = _start_files(exported)
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.onnx").symlink_to(exported)
    target = {
        "itself": exported,
        "through ..": tmp_path / "sub" / ".." / "link.onnx",
        "a link": tmp_path / "link.onnx",
        "its INT8 copy": exported.with_name("tiny.int8.onnx"),
    }[output]
    np.savez(tmp_path / "ok.npz", keypoints_2d=np.full((12, 17, 2), 300.0), intrinsics=np.array([500.0, 500, 320, 240]))
    assert main(["adapt", str(tmp_path / "ok.npz"), "--output", str(target), "--model", str(exported),
                 "--minutes", "0.05"]) == 2  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    if output == "its INT8 copy":  # refused by its name before it is compared with the start model
        assert err.startswith(f"posecast: error: --output {target} names an INT8 copy: name the model itself")
    else:
        assert err.startswith(f"posecast: error: --output {target} is the start model")
        assert "writing it would destroy it; pass another file name" in err
    assert _start_files(exported) == before  # nothing replaced, nothing added beside it


def test_adapt_to_another_file_beside_the_start_model_is_allowed(exported: Path, tmp_path: Path) -> None:
    from posecast.realtime.commands.adapt import check_start_kept

    check_start_kept(exported.with_name("tiny-adapted.onnx"), tmp_path / "r.json", exported)
    with pytest.raises(PosecastError, match=r"--report .*tiny.onnx is the start model \(--model\)"):
        check_start_kept(tmp_path / "a.onnx", exported, exported)


def test_the_start_model_itself_is_checked_before_any_work(exported: Path, tmp_path: Path) -> None:
    """QA: a start model without posecast's metadata (its adaptation weights intact) was refused
    only when writing, after all of --minutes; a truncated one was blamed on its weights."""
    import onnx
    from posecast.engines.metadata import ModelMetadataError
    from posecast.engines.training.adapt import check_start

    proto = onnx.load(str(exported))
    del proto.metadata_props[:]
    bare, cut = tmp_path / "bare.onnx", tmp_path / "cut.onnx"
    onnx.save(proto, str(bare))
    cut.write_bytes(exported.read_bytes()[:4000])
    for model in (bare, cut):
        adapt_weights_path(model).write_bytes(adapt_weights_path(exported).read_bytes())
    with pytest.raises(ModelMetadataError, match="bare.onnx"):
        check_start(bare)
    with pytest.raises(ModelError, match=r"model file .*cut.onnx cannot be loaded \("):
        check_start(cut)
    assert check_start(exported) == exported


def test_adapt_moves_its_files_into_place_inside_moving_files(exported: Path, footage: Path, tmp_path: Path) -> None:
    """QA: a Ctrl-C between two of the moves left the new INT8 copy and weights beside the old
    model. The CLI holds its stop signals in ``moving_files``: every move happens inside it."""
    import contextlib

    output = tmp_path / "mine.onnx"
    written = [output, output.with_name("mine.int8.onnx"), adapt_weights_path(output)]
    seen = []

    @contextlib.contextmanager
    def moving_files():  # noqa: ANN202
        seen.append([p.exists() for p in written])
        yield
        seen.append([p.exists() for p in written])

    options = AdaptOptions(minutes=1.0, max_steps=1, batch=8, disc_warmup_steps=0, bf16=False)
    adapt(exported, [footage], output, options, progress=False, moving_files=moving_files)
    assert seen == [[False] * 3, [True] * 3]


def test_adapt_says_which_earlier_files_it_replaced(exported: Path, footage: Path, tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    options = AdaptOptions(minutes=1.0, max_steps=1, batch=8, disc_warmup_steps=0, bf16=False, int8=False)
    with caplog.at_level(logging.WARNING, "posecast"):
        adapt(exported, [footage], tmp_path / "mine.onnx", options, progress=False)
        assert "replaced" not in caplog.text
        adapt(exported, [footage], tmp_path / "mine.onnx", options, progress=False)
    assert "replaced the earlier mine.onnx, mine.adapt.npz in" in caplog.text


def test_adapt_says_it_replaced_a_model_another_run_wrote_meanwhile(
    exported: Path, footage: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Concurrency QA: two adapt runs into one --output both said "wrote", neither "replaced": the
    files there were looked at before the export, not when the new ones were moved in."""
    import contextlib

    output = tmp_path / "mine.onnx"

    @contextlib.contextmanager
    def another_run_finishes_first():  # noqa: ANN202
        output.write_bytes(b"the other run's model")
        yield

    options = AdaptOptions(minutes=1.0, max_steps=1, batch=8, disc_warmup_steps=0, bf16=False, int8=False)
    with caplog.at_level(logging.WARNING, "posecast"):
        adapt(exported, [footage], output, options, progress=False, moving_files=another_run_finishes_first)
    assert "replaced the earlier mine.onnx in" in caplog.text


def test_adapt_never_writes_over_its_footage_or_intrinsics(exported: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture) -> None:  # fmt: skip
    """``--report`` naming the footage's .npz replaced the user's 2D with the report, exit 0, and
    naming ``--intrinsics`` the camera's calibration (error-contract QA)."""
    footage = tmp_path / "take_2d.npz"
    np.savez(footage, keypoints_2d=np.zeros((40, 17, 2), np.float32), intrinsics=np.array([500.0, 500, 320, 240]),
             fps=30.0)  # fmt: skip
    camera = tmp_path / "camera.json"
    camera.write_text("not read: refused first\n")
    before = footage.read_bytes()
    arguments = ["adapt", str(footage), "--output", str(tmp_path / "a.onnx"), "--model", str(exported), "--steps", "1",
                 "--intrinsics", str(camera), "--report"]  # fmt: skip
    assert main([*arguments, str(camera)]) == 2
    assert f"--report {camera} is --intrinsics: writing it would destroy it" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:  # not a .json: refused while the arguments are read
        main([*arguments, str(footage)])
    assert refused.value.code == 2
    assert f"argument --report: expected a .json file, got '{footage}'" in capsys.readouterr().err
    assert footage.read_bytes() == before and camera.read_text() == "not read: refused first\n"
    assert not (tmp_path / "a.onnx").exists()


def test_adapt_minutes_help_says_what_is_accepted(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        main(["adapt", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert f"more than 0 and at most {MAX_MINUTES}" in help_text and "0..1440" not in help_text
    for minutes in ("0", "-1", "nan", str(MAX_MINUTES + 1)):  # what the help excludes is refused, in its words
        assert main(["adapt", "x.npz", "--output", "out.onnx", "--minutes", minutes]) == 2
        assert f"--minutes must be more than 0 and at most {MAX_MINUTES}" in capsys.readouterr().err


def test_a_teacher_that_outlasts_minutes_stops_at_them(exported: Path, footage: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Long-inputs QA: three hours of footage with ``--minutes 1`` lifted for its teacher for 123 s,
    silently, then said no step fitted. The teacher stops at the deadline, with the reason."""
    import time

    from posecast.engines.training import adapt as adapt_module

    generator, _ = load_generator_npz(adapt_weights_path(exported))
    sampler = Recorded2DSampler(sorted(footage.glob("*.npz"))[:1], SamplerOptions(window_frames=9))
    with pytest.raises(adapt_module.TeacherTimeoutError, match=f"^0 of {len(sampler.windows)} windows lifted$"):
        footage_teacher(generator, sampler.frames, sampler.windows, (0.0,), True, deadline=time.perf_counter() - 1)
    real = footage_teacher

    def slow_teacher(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - the real one, on a slower machine
        time.sleep(1.5)
        return real(*args, **kwargs)

    monkeypatch.setattr(adapt_module, "footage_teacher", slow_teacher)
    with pytest.raises(AdaptError, match=r"lifting the footage for the teacher took all of --minutes 0\.0166667 \(0 of "
                                         r"\d+ windows lifted; \d+ frames\): no model was written"):  # fmt: skip
        adapt(exported, [footage], tmp_path / "out.onnx", AdaptOptions(minutes=1.0 / 60, bf16=False), progress=False)
    assert not (tmp_path / "out.onnx").exists()


def test_an_adaptation_file_naming_a_huge_network_is_refused_before_it_is_made(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """Security QA: a 654-byte .adapt.npz naming width 12000 took adapt to 3.2 GB before its refusal
    (the network was made first); one that unpacks past the limit is refused from its directory."""
    import json

    from posecast.engines.training import export as export_module
    from posecast.engines.training.export import load_generator_npz

    crafted = tmp_path / "m.adapt.npz"
    meta = {"model_config": {"window_frames": 243, "width": 12000, "blocks": 2}, "scale_prior": [0, 1]}
    np.savez(crafted, __meta__=np.array(json.dumps(meta)))
    with pytest.raises(ModelError, match=r"width 12000, 2 blocks\) has at least 576,000,000 weights, the file "
                                         r"holds 0"):  # fmt: skip
        load_generator_npz(crafted)
    np.savez_compressed(crafted, __meta__=np.array(json.dumps(meta)), w=np.zeros(1 << 20))
    monkeypatch.setattr(export_module, "MAX_ADAPT_FILE_BYTES", 1 << 20)
    with pytest.raises(ModelError, match="unpacks to 8 MiB, more than the 1 MiB an adaptation file may hold"):
        load_generator_npz(crafted)

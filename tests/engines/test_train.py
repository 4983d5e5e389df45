"""The trainer on real mocap windows: it learns, it never reads 3D when unsupervised, it freezes the
idle module, it resumes exactly, and ``tools/train.py`` runs end to end."""

from __future__ import annotations

import csv
import io
import json
import logging
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from posecast.engines import normalize, skeleton
from posecast.engines.networks import ModelConfig
from posecast.engines.training import losses
from posecast.engines.training.checkpoint import CheckpointError
from posecast.engines.training.config import config_from_dict
from posecast.engines.training.data.dataset import Clip
from posecast.engines.training.data.windows import MocapWindowSampler, SamplerOptions, WindowBatch
from posecast.engines.training.train import CANONICAL_BONE_TOTAL, TrainConfig, Trainer, canonical_target

TINY_MODEL = {"window_frames": 9, "width": 64, "blocks": 1, "scale_width": 32}
BATCH = 32


def tiny_config(**overrides) -> TrainConfig:  # noqa: ANN003
    fields = {"model": ModelConfig(**TINY_MODEL), "steps": 60, "batch": BATCH, "threads": 1, "seed": 0}
    return TrainConfig(**(fields | overrides))


@pytest.fixture(scope="module")
def batches(clips: list[Clip]) -> list[WindowBatch]:
    """60 noisy training batches from two real clips (made once, shared by the tests)."""
    sampler = MocapWindowSampler(clips[:2], SamplerOptions(window_frames=9), seed=0)
    return [sampler.sample(BATCH) for _ in range(60)]


def parameters(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def optimizer_state(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    return [v.detach().clone() for s in optimizer.state.values() for v in s.values() if torch.is_tensor(v)]


# ------------------------------------------------------------------ (a) it learns
def test_tiny_unsupervised_run_lowers_its_losses(batches: list[WindowBatch], tmp_path: Path) -> None:
    trainer = Trainer(tiny_config(), tmp_path)
    history = [trainer.train_step(batch) for batch in batches]
    assert trainer.step == 60
    assert {"loss", "l_2d", "l_3d", "l_tmc", "l_bone", "l_adv", "l_kl", "scale_mean"} <= history[0].keys()
    for key in ("loss", "l_2d"):
        values = np.array([h[key] for h in history])
        assert np.isfinite(values).all()
        assert values[-10:].mean() < 0.8 * values[:10].mean(), key


# ------------------------------------------------------------------ (b) no 3D when unsupervised
class ThreeDReadError(AssertionError):
    """Raised when anything reads the ground-truth 3D of a batch."""


@dataclass
class TwoDOnlyBatch:
    """A training batch whose 3D cannot be read: touching ``joints_cam_m`` at all raises."""

    keypoints_norm: np.ndarray
    confidence: np.ndarray

    @property
    def joints_cam_m(self) -> np.ndarray:
        raise ThreeDReadError("the trainer read joints_cam_m")


@pytest.mark.parametrize("mode", ["unsupervised", "ablation"])
def test_unsupervised_trainers_never_read_3d(batches: list[WindowBatch], tmp_path: Path, mode: str) -> None:
    trainer = Trainer(tiny_config(mode=mode, steps=6, log_every=3, checkpoint_every=6), tmp_path)
    two_d = [TwoDOnlyBatch(b.keypoints_norm, b.confidence) for b in batches[:6]]
    for batch in two_d[:5]:  # pose steps, a scale step (unsupervised) and discriminator steps
        trainer.train_step(batch)
    history = trainer.fit(lambda _batch: two_d[5], progress=False)  # the loop, logging and checkpoint too
    assert trainer.step == 6 and history[-1]["step"] == 6
    assert (tmp_path / "last.pt").is_file()


def test_the_progress_bar_takes_the_log_lines_above_it(batches: list[WindowBatch], tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """With a bar on, each step's log line was printed through it (QA): the loop's log lines now
    go through tqdm's handler, which prints them above the bar; the user's handler is back after."""
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    handler = logging.StreamHandler(sys.stderr)
    monkeypatch.setattr(logging.root, "handlers", [handler])
    during: list[list[logging.Handler]] = []

    def evaluate(_generator: object) -> dict[str, float]:
        during.append(list(logging.root.handlers))
        return {}

    trainer = Trainer(tiny_config(mode="supervised", steps=4, log_every=2, checkpoint_every=4), tmp_path)
    trainer.fit(lambda _batch: batches[0], evaluate=evaluate, eval_every=2, progress=True)
    assert during and all(handler not in handlers and len(handlers) == 1 for handlers in during), during
    assert logging.root.handlers == [handler]


def test_supervised_trainer_reads_3d(batches: list[WindowBatch], tmp_path: Path) -> None:
    trainer = Trainer(tiny_config(mode="supervised"), tmp_path)
    with pytest.raises(ThreeDReadError):
        trainer.train_step(TwoDOnlyBatch(batches[0].keypoints_norm, batches[0].confidence))
    logged = trainer.train_step(batches[0])
    assert logged["loss"] == logged["l_sup"] > 0


def test_the_current_frame_weighs_w_current(batches: list[WindowBatch], tmp_path: Path) -> None:
    """The supervised loss is a weighted mean over the window's frames; ``w_current`` weighs the
    last one (the frame published live) against each earlier frame's 1."""
    batch = batches[0]
    keypoints = torch.from_numpy(batch.keypoints_norm)
    target = canonical_target(torch.from_numpy(batch.joints_cam_m), keypoints)
    lifted = target.clone()
    lifted[:, -1, 1:] += torch.tensor([0.0, 0.0, 0.3])  # only the current frame is wrong, 0.3 deep
    wrong = 0.09 * 16 / 17  # its mean squared error: 16 of its 17 joints (the root is the origin)
    for w_current, expected in ((1.0, wrong / 9), (8.0, wrong * 8 / 16)):
        trainer = Trainer(tiny_config(mode="supervised", weights={"w_current": w_current}), tmp_path / str(w_current))
        assert float(trainer.supervised_loss(lifted, batch, keypoints)) == pytest.approx(expected, rel=1e-4)
    with pytest.raises(ValueError, match="w_current must be > 0"):
        tiny_config(weights={"w_current": 0.0})


def test_the_velocity_term_lifts_two_windows_one_frame_apart(clips: list[Clip], tmp_path: Path) -> None:
    """With ``w_velocity`` a batch is one frame longer than the model's window: the later window is
    supervised as without it, and the current frame's motion between the two is held to the truth's."""
    sampler = MocapWindowSampler(clips[:2], SamplerOptions(window_frames=10), seed=0)
    batch = sampler.sample(BATCH)
    trainer = Trainer(tiny_config(mode="supervised", bf16=False, weights={"w_current": 4.0, "w_velocity": 2.0},
                                  model=ModelConfig(**TINY_MODEL, dropout=0.0)), tmp_path)  # fmt: skip
    assert trainer.cfg.sample_frames == 10 and trainer.cfg.lifted_frames == 9
    keypoints = torch.from_numpy(batch.keypoints_norm)
    with torch.no_grad():  # what the step sees before it moves the weights: both windows in one batch (its norms)
        trainer.generator.train()
        both, _ = trainer.generator(normalize.canonicalize(torch.cat([keypoints[:, 1:], keypoints[:, :-1]])))
        later, earlier = both.split(BATCH)
        later_batch = WindowBatch(batch.keypoints_norm[:, 1:], batch.confidence[:, 1:], batch.joints_cam_m[:, 1:])
        l_sup = float(trainer.supervised_loss(later, later_batch, keypoints[:, 1:]))
        truth_now = canonical_target(torch.from_numpy(batch.joints_cam_m[:, -1]), keypoints[:, -1])
        truth_before = canonical_target(torch.from_numpy(batch.joints_cam_m[:, -2]), keypoints[:, -2])
        motion = skeleton.root_relative(later[:, -1]) - skeleton.root_relative(earlier[:, -1])
        l_velocity = float(losses.mse(motion, truth_now - truth_before))
    logged = trainer.train_step(batch)
    assert logged["l_sup"] == pytest.approx(l_sup, rel=1e-4)
    assert logged["l_velocity"] == pytest.approx(l_velocity, rel=1e-4) and l_velocity > 0
    assert logged["loss"] == pytest.approx(l_sup + 2.0 * l_velocity, rel=1e-4)


def test_the_velocity_term_steadies_the_published_frame_on_noisy_2d(clips: list[Clip], tmp_path: Path) -> None:
    """Trained on the same noisy windows, a lifter with the velocity term moves its current frame
    from one window to the next more as the person moves, and less with the 2D's jitter."""
    sampler = MocapWindowSampler(clips[:2], SamplerOptions(window_frames=10), seed=0)
    train = [sampler.sample(BATCH) for _ in range(80)]
    held = MocapWindowSampler(clips[2:], SamplerOptions(window_frames=10), seed=1).sample(256)
    keypoints = torch.from_numpy(held.keypoints_norm)
    truth_now = canonical_target(torch.from_numpy(held.joints_cam_m[:, -1]), keypoints[:, -1])
    truth_before = canonical_target(torch.from_numpy(held.joints_cam_m[:, -2]), keypoints[:, -2])
    motion_error = {}
    for w_velocity in (0.0, 100.0):
        trainer = Trainer(tiny_config(mode="supervised", bf16=False, lr_pose=2e-3,
                                      weights={"w_velocity": w_velocity}), tmp_path / str(w_velocity))  # fmt: skip
        for batch in train:
            trainer.train_step(batch if w_velocity else WindowBatch(batch.keypoints_norm[:, 1:],
                                                                    batch.confidence[:, 1:], batch.joints_cam_m[:, 1:]))
        trainer.generator.eval()
        with torch.no_grad():
            now, _ = trainer.generator(normalize.canonicalize(keypoints[:, 1:]))
            before, _ = trainer.generator(normalize.canonicalize(keypoints[:, :-1]))
        motion = skeleton.root_relative(now[:, -1]) - skeleton.root_relative(before[:, -1])
        motion_error[w_velocity] = float(losses.mse(motion, truth_now - truth_before))
    assert motion_error[100.0] < 0.85 * motion_error[0.0], motion_error  # 0.76 here


def test_distilled_student_learns_its_teacher_from_2d_alone(batches: list[WindowBatch], tmp_path: Path) -> None:
    teacher = Trainer(tiny_config(), tmp_path / "teacher")
    for batch in batches[:20]:
        teacher.train_step(batch)
    teacher_path = teacher.save_checkpoint()
    small = ModelConfig(**(TINY_MODEL | {"width": 32}))
    student = Trainer(tiny_config(mode="distill", teacher=str(teacher_path), model=small), tmp_path / "student")
    assert student.teacher is not None and not student.teacher.training
    teacher_before = parameters(student.teacher)
    two_d = [TwoDOnlyBatch(b.keypoints_norm, b.confidence) for b in batches]  # 3D cannot be read
    history = [student.train_step(batch) for batch in two_d]
    assert {"loss", "l_window", "l_current", "l_scale"} <= history[0].keys()
    losses_seen = np.array([h["loss"] for h in history])
    assert np.isfinite(losses_seen).all() and losses_seen[-10:].mean() < 0.5 * losses_seen[:10].mean()
    assert same(teacher_before, parameters(student.teacher))  # the teacher never moves
    with pytest.raises(ValueError, match="student window 5 != teacher window 9"):
        Trainer(tiny_config(mode="distill", teacher=str(teacher_path), model=ModelConfig(window_frames=5)), tmp_path)


def test_canonical_target_is_root_relative_in_the_root_view(batches: list[WindowBatch]) -> None:
    joints_cam = torch.from_numpy(batches[0].joints_cam_m).double()
    keypoints = torch.from_numpy(batches[0].keypoints_norm).double()
    target = canonical_target(joints_cam, keypoints)
    torch.testing.assert_close(target[..., skeleton.ROOT, :], torch.zeros(BATCH, 9, 3, dtype=torch.float64))
    total = losses.bone_lengths(target).sum(-1)
    torch.testing.assert_close(total, torch.full_like(total, CANONICAL_BONE_TOTAL))
    # turned back into the camera's axes it is the ground truth's shape, only rescaled
    back = normalize.to_camera_axes(target, keypoints[..., skeleton.ROOT, :])
    rel = skeleton.root_relative(joints_cam)
    torch.testing.assert_close(back, rel * (CANONICAL_BONE_TOTAL / losses.bone_lengths(rel).sum(-1))[..., None, None])


# ------------------------------------------------------------------ (c) the idle module is frozen
def test_idle_module_is_frozen(batches: list[WindowBatch], tmp_path: Path) -> None:
    trainer = Trainer(tiny_config(), tmp_path)
    lifter, scale_net = trainer.generator.lifter, trainer.generator.scale_net
    phases = []
    for batch in batches[:10]:
        lifter_before, scale_before = parameters(lifter), parameters(scale_net)
        pose_state, scale_state = optimizer_state(trainer.opt_pose), optimizer_state(trainer.opt_scale)
        trainer.train_step(batch)
        lifter_moved, scale_moved = (
            not same(parameters(lifter), lifter_before),
            not same(parameters(scale_net), scale_before),
        )
        assert lifter_moved != scale_moved, f"step {trainer.step - 1}: exactly one module may train"
        if lifter_moved:  # a pose step: the scale net and its Adam state are untouched
            assert same(optimizer_state(trainer.opt_scale), scale_state)
        else:  # a scale step: the lifter and its Adam state are untouched
            assert same(optimizer_state(trainer.opt_pose), pose_state)
        phases.append("pose" if lifter_moved else "scale")
    every = trainer.cfg.pose_steps_per_scale_step + 1
    assert phases == (["pose"] * (every - 1) + ["scale"]) * (10 // every)


# ------------------------------------------------------------------ (d) checkpoint and resume
def test_resume_restores_everything_and_continues_identically(batches: list[WindowBatch], tmp_path: Path) -> None:
    cfg = tiny_config()
    first = Trainer(cfg, tmp_path / "a")
    for batch in batches[:7]:
        first.train_step(batch)
    path = first.save_checkpoint()
    saved = torch.load(path, weights_only=True)
    for batch in batches[7:12]:
        first.train_step(batch)

    second = Trainer(cfg, tmp_path / "b")
    second.load_checkpoint(path)
    assert second.step == 7 == saved["step"]
    for key, value in second.generator.state_dict().items():
        assert torch.equal(value, saved["generator"][key]), key
    for name in ("opt_pose", "opt_scale", "opt_disc"):
        state = getattr(second, name).state_dict()["state"]
        assert state.keys() == saved[name]["state"].keys() and state, name
        for index, entry in state.items():
            for key, value in entry.items():
                assert torch.equal(value, saved[name]["state"][index][key]), (name, index, key)
    for batch in batches[7:12]:
        second.train_step(batch)
    assert second.step == first.step == 12
    for (key, a), b in zip(first.generator.state_dict().items(), second.generator.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5, msg=key)
    assert not torch.equal(second.generator.lifter.net[0].weight, saved["generator"]["lifter.net.0.weight"])


def test_resume_refuses_another_architecture(batches: list[WindowBatch], tmp_path: Path) -> None:
    path = Trainer(tiny_config(), tmp_path / "a").save_checkpoint()
    other = Trainer(tiny_config(model=ModelConfig(**(TINY_MODEL | {"width": 32}))), tmp_path / "b")
    with pytest.raises(CheckpointError, match=r"last\.pt has model .*width=64.*config asks for .*width=32"):
        other.load_checkpoint(path)


def test_init_from_a_shipped_models_generator_file(tmp_path: Path) -> None:
    """``init:`` may name a shipped model's ``.adapt.npz``: the generator starts from its weights
    (the discriminator fresh, step 0); another architecture is refused by name."""
    from posecast.engines.training.export import save_generator_npz

    source = Trainer(tiny_config(seed=5), tmp_path / "a")
    path = save_generator_npz(source.generator, tmp_path / "model.adapt.npz", (0.9, 0.1))
    target = Trainer(tiny_config(seed=6), tmp_path / "b")
    assert not same(parameters(target.generator), parameters(source.generator))
    assert target.init_from(path) == 0 and target.step == 0
    loaded, saved = target.generator.state_dict(), source.generator.state_dict()
    for mine, theirs in zip(loaded.values(), saved.values(), strict=True):
        torch.testing.assert_close(mine, theirs.to(mine.dtype), atol=2e-3, rtol=1e-3)  # float16 on disk
    other = Trainer(tiny_config(model=ModelConfig(**(TINY_MODEL | {"width": 32}))), tmp_path / "c")
    with pytest.raises(CheckpointError, match=r"model\.adapt\.npz has model .*width=64.*config asks for .*width=32"):
        other.init_from(path)
    # the exported model itself: pointed to its weights (it was "not a readable PyTorch checkpoint"; review)
    with pytest.raises(CheckpointError, match=r"init: .*model\.onnx is an exported model, .* start from its weights, "
                                              r"init: .*model\.adapt\.npz \(beside it\)"):  # fmt: skip
        target.init_from(tmp_path / "model.onnx")


def test_train_config_validation(load_tool) -> None:  # noqa: ANN001
    with pytest.raises(
        ValueError, match=r"mode must be one of \('unsupervised', 'ablation', 'supervised', 'semi', 'distill'\), got"
    ):
        TrainConfig(mode="gan")
    with pytest.raises(ValueError, match="mode 'distill' needs a teacher checkpoint"):
        tiny_config(mode="distill")
    with pytest.raises(ValueError, match="only distill takes one"):
        tiny_config(teacher="runs/x/last.pt")
    with pytest.raises(ValueError, match="batch >= 2, got 60, 1"):
        tiny_config(batch=1)
    assert TrainConfig(mode="ablation", model={"window_frames": 3}, motion_gap=2).model.use_scale_net is False
    # values that crashed mid-run (Adam, dropout, a modulo by 0) or trained nothing, said at once
    for bad, said in (({"lr_pose": -1.0}, "lr_pose must be 0 or more"), ({"lr_final_fraction": 0.0}, "trains nothing"),
                      ({"model": {"dropout": 2.0}}, "model.dropout"), ({"disc_every": 0}, "disc_every must be 1"),
                      ({"scale_prior": [0.9, -0.1]}, "scale_prior must be"), ({"device": "gpu"}, "device must be"),
                      ({"motion_gap": 27}, "motion_gap must be below the training window's 27"),
                      ({"seed": -1}, "seed must be a whole number from 0")):  # fmt: skip
        with pytest.raises(ValueError, match=said):
            TrainConfig(**bad)
    # held-out subjects written as numbers (YAML reads 09 as 9, 07 as 7) name CMU's takes "09", "07"
    studio = [Clip(f"take{i}", np.zeros((40, 17, 3), np.float32), 30.0, source="MyStudio") for i in range(3)]
    train, held_out = load_tool("train").split_data(studio, TrainConfig(held_out_sources=["MyStudio"]))
    assert not train and len(held_out["cross"]) == 3  # a folder's name keeps its case: compared in lower case
    held = TrainConfig(held_out_subjects=[9, "07", 102], held_out_sources=["CMU"])
    assert held.held_out_subjects == ["09", "07", "102"] and held.held_out_sources == ["cmu"]
    parsed = config_from_dict(yaml.safe_load("held_out_subjects: [09, 07, 13]"))  # as a YAML file gives them
    assert parsed.held_out_subjects == ["09", "07", "13"]
    round_trip = TrainConfig(**json.loads(json.dumps(tiny_config().to_dict())))
    assert round_trip == tiny_config()


# ------------------------------------------------------------------ (e) tools/train.py end to end
@pytest.fixture(scope="module")
def train_tool(load_tool):  # noqa: ANN001, ANN201
    return load_tool("train")


def read_log(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_train_tool_end_to_end_and_resume(train_tool, bvh_dir: Path, posecast_cache: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:  # noqa: ANN001
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({"model": TINY_MODEL, "batch": 16, "threads": 1, "log_every": 5,
                                      "checkpoint_every": 10}))  # fmt: skip
    out = tmp_path / "run"
    common = ["--data", str(bvh_dir), "--max-clips", "2", "--out", str(out), "--eval-every", "10", "--no-progress"]
    first_batches: list[bytes] = []  # each run's first window, to tell a resumed run's stream from the start's
    sample = train_tool.MocapWindowSampler.sample

    def recorded(self, batch: int) -> WindowBatch:  # noqa: ANN001
        drawn = sample(self, batch)
        if len(first_batches) < runs:
            first_batches.append(drawn.keypoints_norm.tobytes())
        return drawn

    monkeypatch.setattr(train_tool.MocapWindowSampler, "sample", recorded)
    runs = 1
    assert train_tool.main(["--config", str(config), *common, "--steps", "20"]) == 0
    assert "parsing" not in capsys.readouterr().err  # --no-progress: no bar while the clips are read (QA)
    assert {"last.pt", "log.csv", "losses.png", "config.json"} <= {p.name for p in out.iterdir()}
    assert json.loads((out / "config.json").read_text())["steps"] == 20
    assert json.loads((out / "config.json").read_text())["max_clips"] == 2  # a resumed run trains on the same clips
    assert (out / "losses.png").read_bytes()[:4] == b"\x89PNG"
    rows = read_log(out / "log.csv")
    assert [int(r["step"]) for r in rows] == [5, 10, 15, 20]
    assert rows[1]["eval_in_domain_n_mpjpe_mm"] and not rows[0]["eval_in_domain_n_mpjpe_mm"]  # evaluated every 10 steps
    assert 0 < float(rows[-1]["eval_in_domain_p_mpjpe_mm"]) < 1000
    assert torch.load(out / "last.pt", weights_only=True)["step"] == 20
    # what it loaded and trained on, for export's description (the folder's clips, one held out)
    assert torch.load(out / "last.pt", weights_only=True)["trained_on"]["clips"] == {bvh_dir.name: 1}
    assert list((posecast_cache / "clips").glob("*.npz"))  # parsed clips went to the test's cache

    # started again there without --resume: refused, the run kept (it replaced the checkpoint and log)
    assert train_tool.main(["--config", str(config), *common, "--steps", "5"]) == 2
    assert torch.load(out / "last.pt", weights_only=True)["step"] == 20 and len(read_log(out / "log.csv")) == 4
    assert train_tool.main(["--config", str(config), *common, "--steps", "30", "--resume"]) == 2  # its own config
    runs = 2
    assert train_tool.main([*common, "--steps", "30", "--resume"]) == 0
    assert len(first_batches) == 2 and first_batches[1] != first_batches[0]  # not step 1's windows again
    state = torch.load(out / "last.pt", weights_only=True)
    assert state["step"] == 30 and state["config"]["steps"] == 30
    assert state["config"]["model"] == ModelConfig(**TINY_MODEL).to_dict()
    assert [int(r["step"]) for r in read_log(out / "log.csv")] == [5, 10, 15, 20, 25, 30]

    # a step the run has reached already: refused, and the run's config left as it was (it was
    # rewritten to the refused steps, so that a plain --resume was refused afterwards too)
    saved = (out / "config.json").read_text()
    assert train_tool.main(["--out", str(out), "--resume", "--steps", "25", "--no-progress"]) == 2
    assert (out / "config.json").read_text() == saved
    # another window, or data that does not load, refused on resuming: the run's config left as it
    # was too (it took them in, and every later --resume was refused; QA)
    assert train_tool.main(["--out", str(out), "--resume", "--steps", "40", "--window", "5", "--no-progress"]) == 2
    assert train_tool.main(["--out", str(out), "--resume", "--steps", "40", "--data", str(tmp_path / "absent"),
                            "--no-progress"]) == 2  # fmt: skip
    assert (out / "config.json").read_text() == saved
    assert train_tool.main([*common, "--steps", "35", "--resume"]) == 0


def test_an_interrupted_run_resumes_without_logging_steps_twice(train_tool, bvh_dir: Path, posecast_cache: Path,
                                                                 tmp_path: Path) -> None:  # noqa: ANN001
    """Steps logged after the last checkpoint are trained again on resume: their first rows go."""
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({"model": TINY_MODEL, "batch": 16, "threads": 1, "log_every": 5,
                                      "checkpoint_every": 10}))  # fmt: skip
    out = tmp_path / "run"
    common = ["--data", str(bvh_dir), "--max-clips", "2", "--out", str(out), "--no-progress"]
    assert train_tool.main(["--config", str(config), *common, "--steps", "20"]) == 0
    with (out / "log.csv").open("a") as f:  # as if stopped at step 25, after the checkpoint at 20
        f.write("25," + ",".join(["1"] * (len(read_log(out / "log.csv")[0]) - 1)) + "\n")
    assert train_tool.main([*common, "--steps", "30", "--resume"]) == 0
    assert [int(r["step"]) for r in read_log(out / "log.csv")] == [5, 10, 15, 20, 25, 30]
    rows = read_log(out / "log.csv")
    assert rows[4]["time_s"] != "1"  # the row of the second run, not the first
    # the training time goes on from the checkpoint's row (it started again from 0 on resuming); the
    # log has tenths of a second, and 5 steps of the tiny model can take under one (CI: 1.1, 1.1)
    assert float(rows[3]["time_s"]) <= float(rows[4]["time_s"]) <= float(rows[5]["time_s"])


def test_a_stop_says_how_to_go_on_from_where_it_stopped(train_tool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    """QA: Ctrl-C while the data loaded (45 s on a first run) advised ``--resume``, which then
    said "nothing to resume" (config.json is written once the data is in)."""
    out = tmp_path / "run"

    def stopped(args) -> None:  # noqa: ANN001 - a stop where the run has got so far
        raise KeyboardInterrupt

    monkeypatch.setattr(train_tool, "run", stopped)
    assert train_tool.main(["--out", str(out)]) == 130
    assert "nothing was saved yet: run the same command again" in capsys.readouterr().err
    out.mkdir()
    (out / "config.json").write_text("{}")
    assert train_tool.main(["--out", str(out)]) == 130
    assert f"continue with: python tools/train.py --out {out} --resume" in capsys.readouterr().err


def test_a_resumed_run_keeps_its_mode_and_a_config_without_one_is_told_the_default(
    train_tool, bvh_dir: Path, posecast_cache: Path, tmp_path: Path,  # noqa: ANN001
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
) -> None:
    """QA: ``--resume --mode semi`` on a supervised run called its checkpoint damaged and said to
    train again; and a config without ``mode:`` trained unsupervised without the notice ``--data``
    alone gives."""
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({"model": TINY_MODEL, "batch": 16, "threads": 1, "checkpoint_every": 5}))
    out = tmp_path / "run"
    common = ["--data", str(bvh_dir), "--max-clips", "2", "--out", str(out), "--no-progress"]
    with caplog.at_level(logging.INFO):
        assert train_tool.main(["--config", str(config), *common, "--steps", "5"]) == 0
    assert "mode unsupervised (the default)" in caplog.text
    capsys.readouterr()
    assert train_tool.main([*common, "--steps", "10", "--resume", "--mode", "semi"]) == 2
    err = capsys.readouterr().err
    assert "--resume continues the run as it was trained, mode unsupervised: drop --mode semi" in err, err
    assert "damaged" not in err


def test_a_refused_run_leaves_no_empty_run_folder(train_tool, tmp_path: Path) -> None:  # noqa: ANN001
    """QA: every refused run (here: a data folder with no BVH) left its empty --out folder behind."""
    empty = tmp_path / "no_bvh"
    empty.mkdir()
    (empty / "notes.txt").write_text("not motion")
    out = tmp_path / "runs" / "refused"
    assert train_tool.main(["--data", str(empty), "--mode", "supervised", "--out", str(out), "--no-progress"]) == 2
    assert not out.exists()


@pytest.mark.parametrize(
    ("config", "extra", "message"),
    [
        ({"lr_pose": "fast"}, [], "lr_pose must be a finite number, got 'fast'"),
        ({"batch": 2.5}, [], "batch must be a whole number, got 2.5"),
        ({"model": 5}, [], "model must be a mapping of its fields, got 5"),
        ({"held_out_subjects": "09"}, [], "held_out_subjects must be a list (e.g. [a, b]; one item too: [a])"),
        ({"log_every": 0}, [], "checkpoint_every and log_every must be >= 1 step"),
        ({}, ["--resume"], "nothing to resume in"),
        ({}, ["--device", "banana"], "--device must be cpu or cuda, got 'banana'"),
        ({}, ["--window", "0"], "--window must be 1 or more frames, got 0"),
        ({}, ["--data"], "no training data: name motion data with --data"),
        ({"init": "absent.pt"}, [], "init checkpoint 'absent.pt' not found"),
        ({}, ["--out", "/proc/posecast_run"], "cannot make the run folder /proc/posecast_run"),  # a traceback (QA)
    ],
)
def test_train_tool_refuses_bad_input_in_one_line(config: dict, extra: list[str], message: str, train_tool,  # noqa: ANN001
                                                  bvh_dir: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"model": TINY_MODEL, "mode": "supervised", **config}))
    out = next((extra[i + 1] for i, a in enumerate(extra) if a == "--out"), str(tmp_path / "run"))
    extra = [a for i, a in enumerate(extra) if a != "--out" and (i == 0 or extra[i - 1] != "--out")]
    argv = ["--config", str(path), "--data", str(bvh_dir), "--out", out, "--no-progress", *extra]
    assert train_tool.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("train: error:") and "\n" not in err and message in err
    assert not (tmp_path / "run" / "last.pt").exists()


def test_a_lone_bvh_file_and_a_replaced_archive_are_read_as_given(bvh_dir: Path, posecast_cache: Path,
                                                                  tmp_path: Path) -> None:  # fmt: skip
    """One .bvh is a source of its own (it was opened as an archive); an archive replaced by
    another of the same name is unpacked afresh (the first one's clips were taken for it)."""
    import tarfile

    from posecast.engines.training.data.dataset import load_clips

    files = sorted(bvh_dir.glob("*.bvh"))
    assert [c.name for c in load_clips(files[0])] == [files[0].stem]
    archive = tmp_path / "mine.tar.gz"
    for count in (1, 2):
        with tarfile.open(archive, "w:gz") as tar:
            for f in files[:count]:
                tar.add(f, arcname=f.name)
        assert len(load_clips(archive)) == count


def test_resume_before_the_first_checkpoint_starts_again_with_the_runs_config(train_tool, bvh_dir: Path,  # noqa: ANN001
                                                                              posecast_cache: Path,
                                                                              tmp_path: Path) -> None:  # fmt: skip
    """Stopped before any checkpoint: `--resume` (what the interrupt message says) trains from
    step 0 with the run's saved config, not the defaults."""
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({"model": TINY_MODEL, "batch": 16, "threads": 1, "log_every": 5,
                                      "checkpoint_every": 10, "mode": "supervised"}))  # fmt: skip
    out = tmp_path / "run"
    common = ["--data", str(bvh_dir), "--max-clips", "2", "--out", str(out), "--no-progress"]
    assert train_tool.main(["--config", str(config), *common, "--steps", "5"]) == 0
    (out / "last.pt").unlink()  # as if stopped before the first checkpoint
    assert train_tool.main([*common, "--resume", "--steps", "10"]) == 0
    state = torch.load(out / "last.pt", weights_only=True)
    assert state["step"] == 10 and state["config"]["mode"] == "supervised"
    assert state["config"]["model"] == ModelConfig(**TINY_MODEL).to_dict()


def test_a_full_disk_at_a_checkpoint_is_one_line(tmp_path: Path) -> None:
    """torch's own "[enforce fail at inline_container.cc] unexpected pos" traceback on a full disk
    (QA): a file size limit stands for it here; nothing half-written stays."""
    import subprocess
    import sys

    script = f"""if True:
        import resource
        from pathlib import Path
        from posecast.engines.fileio import OutputWriteError
        from posecast.engines.training.train import TrainConfig, Trainer
        from posecast.engines.networks import ModelConfig
        trainer = Trainer(TrainConfig(model=ModelConfig(**{TINY_MODEL!r})), Path({str(tmp_path)!r}))
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        try:
            trainer.save_checkpoint()
        except OutputWriteError as exc:
            print(exc)
    """
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.stdout.startswith(f"cannot write the checkpoint {tmp_path / 'last.pt'} (the disk is full"), done
    assert "free space on its disk, then continue with --resume" in done.stdout
    assert not list(tmp_path.glob("*.pt")) and not list(tmp_path.glob(".*"))


def test_a_checkpoint_before_the_first_log_line(train_tool, bvh_dir: Path, posecast_cache: Path,  # noqa: ANN001
                                                tmp_path: Path) -> None:  # fmt: skip
    """``checkpoint_every`` under ``log_every``: the first checkpoint plotted a log.csv not written
    yet, and the run ended with a FileNotFoundError traceback (QA)."""
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({"model": TINY_MODEL, "batch": 16, "threads": 1, "log_every": 5,
                                      "checkpoint_every": 2, "mode": "supervised"}))  # fmt: skip
    out = tmp_path / "run"
    argv = ["--config", str(config), "--data", str(bvh_dir), "--max-clips", "2", "--out", str(out), "--no-progress",
            "--steps", "6"]  # fmt: skip
    assert train_tool.main(argv) == 0
    assert torch.load(out / "last.pt", weights_only=True)["step"] == 6 and (out / "losses.png").is_file()


def test_data_alone_says_it_trains_from_the_2d(train_tool, bvh_dir: Path, posecast_cache: Path,  # noqa: ANN001
                                              tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    """`--data my_bvh/` alone trains the paper's unsupervised way, from the 2D only: the README
    said so, the tool did not (QA)."""
    import logging

    argv = ["--data", str(bvh_dir), "--max-clips", "2", "--steps", "1", "--out", str(tmp_path / "run"),
            "--no-progress"]  # fmt: skip
    with caplog.at_level(logging.INFO, logger="train"):
        assert train_tool.main(argv) == 0
    assert "(the default): the motion data's 3D is not used" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="train"):
        assert train_tool.main([*argv[:-3], "--out", str(tmp_path / "sup"), "--no-progress", "--mode",
                                "supervised"]) == 0  # fmt: skip
    assert "3D is not used" not in caplog.text


def test_steps_per_second_leave_out_evaluation_and_checkpoints(batches: list[WindowBatch], tmp_path: Path) -> None:
    """The logged ``steps_per_s`` counted the evaluation and the checkpoint in its interval: 4.6
    steps/s where training ran at 22 (QA). A slow evaluation (1 s) does not move it now."""
    import time

    def slow_evaluation(_generator) -> dict[str, float]:  # noqa: ANN001
        time.sleep(1.0)
        return {"eval_mm": 1.0}

    trainer = Trainer(tiny_config(mode="supervised", steps=6, log_every=2, checkpoint_every=2), tmp_path)
    history = trainer.fit(lambda _i: batches[0], evaluate=slow_evaluation, eval_every=2, progress=False)
    rates = [row["steps_per_s"] for row in history]
    # each 2-step interval after an evaluation: well above 2 steps in its 1 s
    assert len(rates) == 3 and min(rates[1:]) > 4.0, rates


def test_the_loss_plot_keeps_millimetres_and_ratios_on_their_own_axes() -> None:
    """``eval_scale`` (about 1) was drawn on the mm axis beside P-MPJPE (about 50): a flat line
    at the bottom, and the axis said mm for it (review)."""
    from posecast.engines.training.history import history_figure

    rows = [{"step": str(s), "loss": str(1 / (s + 1)), "eval_p_mpjpe_mm": str(60 - s), "eval_scale": str(1 + s / 100)}
            for s in range(0, 50, 10)]  # fmt: skip
    fig = history_figure(rows)
    eval_axes = [axis for axis in fig.axes[1:]]
    by_label = {axis.get_ylabel(): [line.get_label() for line in axis.get_lines()] for axis in eval_axes}
    assert by_label == {"mm": ["eval_p_mpjpe_mm"], "eval_scale": ["eval_scale"]}, by_label
    assert fig.axes[0].get_yscale() == "log" and [line.get_label() for line in fig.axes[0].get_lines()] == ["loss"]


def test_a_run_on_data_named_from_its_folder_resumes_from_another(
    train_tool, bvh_dir: Path, posecast_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: ANN001
) -> None:
    """config.json kept ``--data mine`` as typed: a ``--resume`` started in another folder looked
    for ``mine`` there and refused the run (review)."""
    started_in, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    shutil.copytree(bvh_dir, started_in / "mine")
    elsewhere.mkdir()
    config = started_in / "tiny.yaml"
    config.write_text(yaml.safe_dump({"model": TINY_MODEL, "batch": 16, "threads": 1, "checkpoint_every": 5}))
    out = tmp_path / "run"
    monkeypatch.chdir(started_in)
    assert train_tool.main(["--config", "tiny.yaml", "--data", "mine", "--max-clips", "2", "--out", str(out),
                            "--steps", "5", "--no-progress"]) == 0  # fmt: skip
    assert json.loads((out / "config.json").read_text())["data"] == [str(started_in / "mine")]
    monkeypatch.chdir(elsewhere)
    assert train_tool.main(["--out", str(out), "--resume", "--steps", "10", "--no-progress"]) == 0
    assert torch.load(out / "last.pt", weights_only=True)["step"] == 10

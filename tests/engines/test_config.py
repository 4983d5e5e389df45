"""Training configs (unknown keys refused with a hint, data found or clearly missing, bf16 only
where native), checkpoints read without running code, and the semi-supervised mode."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from posecast.engines.networks import ModelConfig
from posecast.engines.training import config as config_module
from posecast.engines.training.checkpoint import CheckpointError, load_generator, read_checkpoint
from posecast.engines.training.config import ConfigError, TrainConfig, config_from_dict, load_config, resolve_data
from posecast.engines.training.data.dataset import Clip
from posecast.engines.training.data.windows import MocapWindowSampler, SamplerOptions, WindowBatch
from posecast.engines.training.train import Trainer

REPO = Path(__file__).resolve().parents[2]
TINY = {"window_frames": 9, "width": 64, "blocks": 1, "scale_width": 32}


def test_unknown_keys_are_refused_with_the_closest_key() -> None:
    with pytest.raises(ConfigError, match=r"unknown config key 'step'; did you mean 'steps'\?"):
        config_from_dict({"step": 10})
    with pytest.raises(ConfigError, match=r"unknown model key 'widht'; did you mean 'width'\?"):
        config_from_dict({"model": {"widht": 10}})
    with pytest.raises(ConfigError, match=r"unknown weights key 'w_superv'; did you mean 'w_sup'\?"):
        config_from_dict({"weights": {"w_superv": 1.0}})
    with pytest.raises(ConfigError, match=r"unknown body key 'knee_extension'; did you mean 'knee_extension_prob'\?"):
        config_from_dict({"body": {"knee_extension": 0.5}})
    with pytest.raises(ConfigError, match="bad body value: knee_extension_prob must be in"):
        config_from_dict({"body": {"knee_extension_prob": 2.0}})
    body = config_from_dict({"body": {"knee_extension_prob": 0.5, "knee_extension_range": [0.2, 1.0]}}).body
    assert (body.knee_extension_prob, tuple(body.knee_extension_range)) == (0.5, (0.2, 1.0))
    with pytest.raises(ConfigError, match="unknown config key 'zzz'; known keys: mode, model"):
        config_from_dict({"zzz": 1})
    with pytest.raises(ConfigError, match="bf16 must be 'auto', true or false"):
        config_from_dict({"bf16": "maybe"})


def test_shipped_configs_load(tmp_path: Path) -> None:
    for path in sorted((REPO / "tools" / "configs").glob("*.yaml")):
        cfg = load_config(path)
        assert cfg.model.window_frames >= 1 and cfg.data, path
    bad = tmp_path / "bad.yaml"
    bad.write_text("mode: semi\nmodell: {width: 8}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: unknown config key 'modell'; did you mean 'model'\?"):
        load_config(bad)


def test_a_config_that_is_not_yaml_is_one_line(tmp_path: Path) -> None:
    """PyYAML's own message took six lines, with a caret drawing (QA)."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("mode: [unclosed\nsteps: 5\n")
    with pytest.raises(ConfigError) as refused:
        load_config(bad)
    assert "\n" not in str(refused.value)
    assert str(refused.value) == f"config {bad} is not valid YAML at line 2, column 6: expected ',' or ']', but got ':'"


def test_a_list_of_any_length_reads_as_one() -> None:
    """``tuple[str, ...]`` (``body.limb_mix_limbs``) was read as a pair: [legs] was refused."""
    assert config_from_dict({"body": {"limb_mix_limbs": ["legs"]}}).body.limb_mix_limbs == ("legs",)
    assert config_from_dict({"body": {"limb_mix_limbs": ["arms", "legs"]}}).body.limb_mix_limbs == ("arms", "legs")
    with pytest.raises(ConfigError, match="body.limb_mix_limbs must be a list of texts, got 'legs'"):
        config_from_dict({"body": {"limb_mix_limbs": "legs"}})
    with pytest.raises(ConfigError, match="body.height_range must be a list of 2 finite numbers, got 5"):  # (QA: "2 a")
        config_from_dict({"body": {"height_range": 5}})


def test_one_window_default_and_single_frame_sampling() -> None:
    assert TrainConfig().model.window_frames == TrainConfig().sample_frames == 27
    single = config_from_dict({"model": {"window_frames": 1}})
    assert single.sample_frames == config_module.SINGLE_FRAME_SAMPLE_FRAMES > 1


def test_the_velocity_term_draws_one_frame_more_and_only_where_it_applies() -> None:
    shifted = config_from_dict({"mode": "supervised", "weights": {"w_velocity": 1.0}})
    assert (shifted.sample_frames, shifted.lifted_frames, shifted.window_shift_frames) == (28, 27, 1)
    for raw in ({"mode": "unsupervised"}, {"mode": "semi"}, {"mode": "supervised", "model": {"window_frames": 1}}):
        with pytest.raises(ConfigError, match="w_velocity must be 0, or above 0 in supervised mode with a window of 2"):
            config_from_dict(raw | {"weights": {"w_velocity": 1.0}})
    with pytest.raises(ConfigError, match="w_velocity must be 0"):
        config_from_dict({"mode": "supervised", "weights": {"w_velocity": -1.0}})


def test_data_is_found_beside_the_repository_or_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared = tmp_path / "shared"
    (shared / "data").mkdir(parents=True)
    (shared / "data" / "moves.tar.xz").write_bytes(b"x")
    monkeypatch.setenv("POSECAST_SHARED", str(shared))
    assert resolve_data("data/moves.tar.xz") == shared / "data" / "moves.tar.xz"
    assert resolve_data("tools/configs") == REPO / "tools" / "configs"  # relative to the repository
    with pytest.raises(ConfigError, match=r"training data 'data/absent.tar.xz' not found \(looked in .*shared"):
        resolve_data("data/absent.tar.xz")


def test_bf16_auto_follows_the_cpu(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    with caplog.at_level(logging.INFO):
        assert config_module.resolve_bf16("auto", "cpu") is False
    assert "bf16: off" in caplog.text and "AVX2" in caplog.text
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    monkeypatch.setattr(config_module, "_cpu_flags", lambda: {"avx512f", "avx512_bf16"})
    assert config_module.resolve_bf16("auto", "cpu") is True
    monkeypatch.setattr(config_module, "_cpu_flags", lambda: {"avx512f"})  # AVX512 without bf16
    assert config_module.resolve_bf16("auto", "cpu") is False
    assert config_module.resolve_bf16(False, "cuda") is False
    caplog.clear()
    with caplog.at_level(logging.INFO):  # forced on where it is emulated: kept, and said (it was silent)
        assert config_module.resolve_bf16(True, "cpu") is True
    assert "bf16: on as the config says, but this CPU has no native bf16" in caplog.text
    # no /proc/cpuinfo (macOS, Windows): PyTorch's own check, not any AVX512 CPU
    monkeypatch.setattr(config_module, "_cpu_flags", lambda: None)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    assert config_module.resolve_bf16("auto", "cpu") is False
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
    assert config_module.resolve_bf16("auto", "cpu") is True


class _Payload:
    """A pickle that would create a file when loaded (what an attacker's .pt would do)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (os.system, (f"touch {self.marker}",))


def test_a_crafted_pickle_checkpoint_is_refused_without_running(tmp_path: Path, load_tool) -> None:  # noqa: ANN001
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save({"config": {}, "generator": {}, "step": 1, "x": _Payload(marker)}, evil)
    with pytest.raises(CheckpointError, match=r"more than tensors and plain data \(it asks to call (posix|os)\.system"):
        read_checkpoint(evil)
    with pytest.raises(CheckpointError):
        load_generator(evil)
    export = load_tool("export")
    with pytest.raises(CheckpointError):
        export.load_pose_model(evil)
    assert not marker.exists()
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        read_checkpoint(tmp_path / "junk.pt")


def test_trainer_checkpoints_load_with_weights_only(tmp_path: Path) -> None:
    cfg = config_from_dict({"model": TINY, "steps": 2, "batch": 4, "bf16": False})
    path = Trainer(cfg, tmp_path).save_checkpoint()
    state = torch.load(path, weights_only=True)
    assert state["step"] == 0 and config_from_dict(state["config"]) == cfg
    assert isinstance(load_generator(path).cfg, ModelConfig)
    # one that reads but is incomplete: one line naming it (torch's and Python's tracebacks before)
    from posecast.engines.training.checkpoint import CheckpointError, read_checkpoint

    damaged = {"no weight": lambda s: s["generator"].pop(next(iter(s["generator"]))),
               "no optimizer": lambda s: s.pop("opt_pose"),
               "no step number": lambda s: s.update(step="abc"), "no step": lambda s: s.pop("step")}  # fmt: skip
    for case, damage in damaged.items():
        broken = dict(torch.load(path, weights_only=True))
        broken["generator"] = dict(broken["generator"])
        damage(broken)
        bad = tmp_path / f"{case}.pt"
        torch.save(broken, bad)
        with pytest.raises(CheckpointError, match=f"{bad} is a damaged or incomplete training checkpoint"):
            read_checkpoint(bad)
            load_generator(bad)
            Trainer(cfg, tmp_path / "again").load_checkpoint(bad)


def test_semi_supervised_uses_3d_only_where_a_batch_has_it(clips: list[Clip], tmp_path: Path) -> None:
    cfg = config_from_dict({"mode": "semi", "model": TINY, "steps": 40, "batch": 32, "bf16": False, "seed": 1})
    trainer = Trainer(cfg, tmp_path)
    sampler = MocapWindowSampler(clips[:2], SamplerOptions(window_frames=9), seed=0)
    batches = [sampler.sample(32) for _ in range(40)]
    first = trainer.train_step(batches[0])
    assert "l_sup" in first and {"l_2d", "l_3d", "l_adv", "l_tmc", "l_kl", "l_bone"} <= first.keys()
    two_d = WindowBatch(batches[1].keypoints_norm, batches[1].confidence)  # recorded 2D: no 3D at all
    assert "l_sup" not in trainer.train_step(two_d)
    history = [trainer.train_step(b)["l_sup"] for b in batches[2:]]
    assert np.mean(history[-8:]) < 0.7 * np.mean(history[:4])  # the 3D term is learned


def test_batches_mix_sources_in_their_shares(load_tool, caplog) -> None:  # noqa: ANN001
    train_tool = load_tool("train")
    pose = np.random.default_rng(0).normal(0.0, 0.25, (17, 3)) + np.array([0.0, 1.0, 0.0])
    small = Clip("a", np.repeat(pose[None], 40, 0).astype(np.float32), 30.0, source="big-source")
    large = Clip("b", np.repeat(2 * pose[None], 40, 0).astype(np.float32), 30.0, source="small-source")
    options = SamplerOptions(window_frames=3, noise=False, body=None)
    cfg = config_from_dict({"source_shares": {"big-source": 0.75, "small-source": 0.25}})
    sampler = train_tool.mocap_sampler([small, large], options, cfg, cfg.seed)
    batch = sampler.sample(800)
    from posecast.engines import skeleton

    total = skeleton.bone_lengths(batch.joints_cam_m[:, -1].astype(np.float64)).sum(-1)
    share_large = np.mean(total > 1.5 * total.min())
    assert 0.2 < share_large < 0.3 and batch.keypoints_norm.shape == (800, 3, 17, 2)
    with pytest.raises(ConfigError, match=r"training also has \['small-source'\]"):
        train_tool.mocap_sampler([small, large], options, config_from_dict({"source_shares": {"big-source": 1.0}}), 0)
    # a share whose source has no training clip (a --max-clips run): said, the batches go to the rest
    with caplog.at_level(logging.WARNING):
        alone = train_tool.mocap_sampler([small], options, cfg, cfg.seed).sample(8)
    assert alone.keypoints_norm.shape == (8, 3, 17, 2)
    assert ("source_shares gives small-source a share, but no clip of small-source is left to train on: its "
            "batches go to big-source") in caplog.text  # fmt: skip


def test_init_from_another_run_copies_the_networks_only(tmp_path: Path) -> None:
    cfg = config_from_dict({"model": TINY, "steps": 2, "batch": 4, "bf16": False, "seed": 3})
    source = Trainer(cfg, tmp_path / "a")
    source.step = 123
    path = source.save_checkpoint()
    target = Trainer(config_from_dict({"model": TINY, "steps": 5, "batch": 4, "bf16": False}), tmp_path / "b")
    assert target.init_from(path) == 123 and target.step == 0
    for a, b in zip(source.generator.state_dict().values(), target.generator.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    other = Trainer(config_from_dict({"model": TINY | {"width": 32}, "bf16": False}), tmp_path / "c")
    with pytest.raises(CheckpointError, match="has model"):
        other.init_from(path)


def test_framing_comes_from_the_config_and_reads_back() -> None:
    from posecast.engines.training.data.framing import FramingOptions

    cfg = config_from_dict({"framing": {"prob": 0.2, "cut": [0.4, 0.9]}})
    assert cfg.framing == FramingOptions(prob=0.2, cut=(0.4, 0.9))
    assert config_from_dict(cfg.to_dict()).framing == cfg.framing  # a checkpoint's config reads back
    with pytest.raises(ConfigError, match="prop"):
        config_from_dict({"framing": {"prop": 0.2}})

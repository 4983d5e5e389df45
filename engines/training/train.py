"""Training of the scale and lifting networks (Yu et al., ICCV 2021): the paper's unsupervised method, the
references, and the supervised and semi-supervised variants.

Modes:
- ``unsupervised``: the paper's method. Reads 2D windows only (``WindowBatch.keypoints_norm``).
- ``ablation``: the paper's baseline: no scale network, no L_tmc, no L_tsc.
- ``supervised``: same architecture trained on 3D ground truth.
- ``semi``: 3D supervision where a batch has 3D (mocap) plus every loss of the paper on the 2D
  of every batch (mocap projected by the virtual webcams, and recorded 2D, which has no 3D).
- ``distill``: a smaller student (e.g. for the CPU latency budget) trained to reproduce a
  teacher checkpoint's 3D and scale on the same 2D windows. It reads 2D only.

Schedule: the pose module (lifter) trains ``pose_steps_per_scale_step`` steps for each scale
step; the idle module is frozen by leaving it out of that step's optimizer. The
discriminator updates every ``disc_every`` generator steps.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from .. import normalize, skeleton
from ..fileio import OutputWriteError, atomic_path
from ..networks import PoseGenerator, lift_to_3d
from . import losses
from .checkpoint import CheckpointError, damaged_checkpoint, load_generator, read_checkpoint
from .config import MODES, LossWeights, TrainConfig, config_from_dict, resolve_bf16
from .data.windows import WindowBatch
from .discriminator import Discriminator
from .history import append_csv, plot_history, truncate_csv

__all__ = ["MODES", "CANONICAL_BONE_TOTAL", "LossWeights", "TrainConfig", "Trainer", "canonical_target",
           "load_generator"]  # fmt: skip

log = logging.getLogger(__name__)


#: Canonical 3D unit (supervised target): a pose's total bone length is this many units,
#: which makes its RMS joint distance from the pelvis ≈ 1 (tools/scale_prior.py measures it).
CANONICAL_BONE_TOTAL = 7.93


def canonical_target(joints_cam_m: torch.Tensor, keypoints_norm: torch.Tensor) -> torch.Tensor:
    """Ground-truth 3D ``(..., 17, 3)`` in the lifter's frame (the root view of each frame's 2D
    ``(..., 17, 2)``) and canonical unit (supervised reference only)."""
    rel = normalize.to_root_view(skeleton.root_relative(joints_cam_m), keypoints_norm[..., skeleton.ROOT, :])
    total = losses.bone_lengths(rel).sum(-1)[..., None, None]
    return rel / total * CANONICAL_BONE_TOTAL


class Trainer:
    """Runs training steps; checkpoints carry the config so they describe themselves."""

    def __init__(self, config: TrainConfig, out_dir: str | Path) -> None:
        self.cfg = config
        self.out = Path(out_dir)
        #: what the run trained on, as loaded (saved with each checkpoint: what export describes;
        #: plain data: source → training clips, the Bandai-Namco datasets, recorded 2D files)
        self.trained_on: dict = {}
        self.out.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(config.seed)
        torch.set_num_threads(config.threads)
        self.device = torch.device(config.device)
        self.bf16 = resolve_bf16(config.bf16, config.device)
        self.generator = PoseGenerator(config.model).to(self.device)
        self.discriminator = Discriminator().to(self.device)
        betas = (0.5, 0.9)
        self.opt_pose = torch.optim.Adam(self.generator.lifter.parameters(), config.lr_pose, betas=betas)
        scale_params = list(self.generator.scale_net.parameters()) if self.generator.scale_net else []
        self.opt_scale = torch.optim.Adam(scale_params, config.lr_scale, betas=betas) if scale_params else None
        self.opt_disc = torch.optim.Adam(self.discriminator.parameters(), config.lr_disc, betas=betas)
        self.teacher: PoseGenerator | None = None
        if config.mode in ("supervised", "distill"):  # one optimizer over everything
            self.opt_pose = torch.optim.Adam(self.generator.parameters(), config.lr_pose, betas=betas)
            self.opt_scale = None
        if config.mode == "distill":
            self.teacher = load_generator(config.teacher, self.device)
            if self.teacher.cfg.window_frames != config.model.window_frames:
                raise ValueError(
                    f"student window {config.model.window_frames} != teacher window {self.teacher.cfg.window_frames}"
                )
        self.step = 0
        self.rng = torch.Generator().manual_seed(config.seed + 1)

    # ---------------------------------------------------------------- losses
    def unsupervised_losses(self, keypoints_norm: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every generator loss of the paper from 2D windows ``(B, T, 17, 2)`` alone."""
        cfg, c = self.cfg, normalize.CAMERA_DISTANCE
        canonical = normalize.canonicalize(keypoints_norm)
        joints, scale = self.generator(canonical)  # (B, T, 17, 3) at depth ≈ c
        centred = skeleton.root_relative(joints)
        scaled_2d = canonical * scale[:, :, None, None]  # scale (B, T): one per frame
        rotation = losses.random_rotations(joints.shape[0], self.rng).to(joints)
        offset = joints.new_tensor([0.0, 0.0, c])
        rotated = torch.einsum("bij,btkj->btki", rotation, centred)
        rotated_2d = normalize.project(rotated + offset, min_depth=1.0)
        # lift the rotated view again (already in the scaled canonical frame), rotate back
        relifted = lift_to_3d(rotated_2d, self.generator.lifter(rotated_2d).float())
        relifted = skeleton.root_relative(relifted)
        back = torch.einsum("bji,btkj->btki", rotation, relifted)
        back_2d = normalize.project(back + offset, min_depth=1.0)
        out = {
            "l_3d": losses.mse(relifted, rotated),
            "l_2d": losses.mse(c * back_2d, c * scaled_2d),
            "l_tmc": losses.motion_consistency(rotated, relifted, cfg.motion_gap),
            "l_bone": losses.bone_consistency(centred, cfg.bone_gap, self.rng),
            "scale_mean": scale.mean().detach(),
        }
        fake = normalize.canonicalize(rotated_2d[:, -1])
        out["l_adv"] = losses.lsgan_generator(self.discriminator(fake))
        out["l_kl"] = losses.kl_to_prior(scale, *cfg.scale_prior) if self.generator.scale_net else scale.sum() * 0
        self._joints = joints  # the lifted window, for the semi-supervised 3D term
        self._fake_for_disc = fake.detach()
        self._real_for_disc = canonical[:, -1].detach()
        return out

    def generator_objective(self, parts: dict[str, torch.Tensor], scale_phase: bool) -> torch.Tensor:
        """Each module its own losses (the paper). Pose steps (lifter): L_3D, L_2D, adversarial,
        L_tmc. Scale steps: L_tsc = KL + bone, plus the adversarial loss (the generator as a
        whole fools the discriminator); the cycle and motion losses are measured in the scaled
        units, so on the scale they would only reward shrinking every pose."""
        w = self.cfg.weights
        if scale_phase:
            return w.w_kl * parts["l_kl"] + w.w_bone * parts["l_bone"] + w.w_adv * parts["l_adv"]
        loss = w.w_3d * parts["l_3d"] + w.w_2d * parts["l_2d"] + w.w_adv * parts["l_adv"]
        if self.cfg.mode in ("unsupervised", "semi"):
            loss = loss + w.w_tmc * parts["l_tmc"]
        if w.w_bone_pose:
            loss = loss + w.w_bone_pose * parts["l_bone"]
        return loss

    def supervised_loss(self, joints: torch.Tensor, batch: WindowBatch, keypoints: torch.Tensor) -> torch.Tensor:
        """MSE of the lifted window ``(B, T, 17, 3)`` against the ground truth in the lifter's frame,
        each joint weighted by ``batch.target_weight`` where the batch has one, and the current
        frame by ``weights.w_current``."""
        target = canonical_target(torch.from_numpy(batch.joints_cam_m).to(self.device), keypoints)
        return self._window_mse(joints, target, batch.target_weight)

    def _window_mse(self, joints: torch.Tensor, target: torch.Tensor, target_weight: np.ndarray | None) -> torch.Tensor:
        """:meth:`supervised_loss` against its ``target`` (:func:`canonical_target`)."""
        weight = None if target_weight is None else torch.from_numpy(target_weight).to(self.device)
        if self.cfg.weights.w_current != 1.0:
            frames = torch.ones(joints.shape[1], device=self.device)
            frames[-1] = self.cfg.weights.w_current
            weight = frames[:, None] if weight is None else weight * frames[:, None]
            weight = weight.expand(joints.shape[:-1])
        return losses.mse(skeleton.root_relative(joints.float()), target, weight)

    # ---------------------------------------------------------------- steps
    def train_step(self, batch: WindowBatch) -> dict[str, float]:
        """One optimisation step; returns the logged losses."""
        self.generator.train()
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)
        keypoints = torch.from_numpy(batch.keypoints_norm).to(self.device)
        if self.cfg.mode == "supervised":
            return self.supervised_step(batch, keypoints, autocast)
        if self.teacher is not None:
            return self.distill_step(keypoints, autocast)
        scale_phase = self.opt_scale is not None and (
            self.step % (self.cfg.pose_steps_per_scale_step + 1) == self.cfg.pose_steps_per_scale_step
        )
        with autocast:
            parts = self.unsupervised_losses(keypoints)
        parts = {k: v.float() for k, v in parts.items()}
        loss = self.generator_objective(parts, scale_phase)
        if self.cfg.mode == "semi" and batch.joints_cam_m is not None:
            parts["l_sup"] = self.supervised_loss(self._joints, batch, keypoints)
            loss = loss + self.cfg.weights.w_sup * parts["l_sup"]
        self._apply(self.opt_scale if scale_phase else self.opt_pose, loss)
        logged = {k: float(v.detach()) for k, v in parts.items()}
        if self.step % self.cfg.disc_every == 0:
            with autocast:
                d_loss = losses.lsgan_discriminator(
                    self.discriminator(self._real_for_disc), self.discriminator(self._fake_for_disc)
                )
            self._apply(self.opt_disc, d_loss.float())
            logged["l_disc"] = float(d_loss.detach())
        logged["loss"] = float(loss.detach())
        self.step += 1
        return logged

    def supervised_step(self, batch: WindowBatch, keypoints: torch.Tensor,
                        autocast: torch.autocast) -> dict[str, float]:  # fmt: skip
        """3D supervision; with ``weights.w_velocity`` the batch's windows are one frame longer than
        the model's: the later window is supervised, and the current frame's motion from the earlier
        one (lifted from the same 2D, noise and all, in the same pass) is held to the truth's motion."""
        shift = self.cfg.window_shift_frames
        later = keypoints[:, shift:]
        with autocast:
            lifted = torch.cat([later, keypoints[:, :-shift]]) if shift else later
            joints, _ = self.generator(normalize.canonicalize(lifted))
        joints_later = joints[: len(keypoints)]
        target = canonical_target(torch.from_numpy(batch.joints_cam_m[:, shift:]).to(self.device), later)
        weight = None if batch.target_weight is None else batch.target_weight[:, shift:]
        l_sup = self._window_mse(joints_later, target, weight)
        logged = {"l_sup": l_sup}
        loss = l_sup
        if shift:
            # each frame's target depends on that frame alone: the earlier window's current frame is the
            # later window's second to last, so one target serves both terms
            now, before = joints_later[:, -1].float(), joints[len(keypoints):, -1].float()
            motion = skeleton.root_relative(now) - skeleton.root_relative(before)
            both = None if weight is None else weight[:, -1] * weight[:, -1 - shift]  # seen in both frames
            joint_weight = None if both is None else torch.from_numpy(both).to(self.device)
            logged["l_velocity"] = losses.mse(motion, target[:, -1] - target[:, -1 - shift], joint_weight)
            loss = loss + self.cfg.weights.w_velocity * logged["l_velocity"]
        self._apply(self.opt_pose, loss)
        self.step += 1
        return {"loss": float(loss.detach())} | {name: float(value.detach()) for name, value in logged.items()}

    def distill_step(self, keypoints: torch.Tensor, autocast: torch.autocast) -> dict[str, float]:
        """Student ← teacher on one batch of 2D windows: root-relative 3D of every window frame
        (the current frame weighted as much as all others together: it is what runs live) and
        the log scale."""
        canonical = normalize.canonicalize(keypoints)
        with torch.no_grad(), autocast:
            target, target_scale = self.teacher(canonical)
        with autocast:
            joints, scale = self.generator(canonical)
        target = skeleton.root_relative(target.float())
        centred = skeleton.root_relative(joints)
        l_window = losses.mse(centred, target)
        l_current = losses.mse(centred[:, -1], target[:, -1])
        l_scale = losses.mse(torch.log(scale), torch.log(target_scale.float()))
        loss = l_window + l_current + l_scale
        self._apply(self.opt_pose, loss)
        self.step += 1
        parts = {"loss": loss, "l_window": l_window, "l_current": l_current, "l_scale": l_scale}
        return {k: float(v.detach()) for k, v in parts.items()}

    def _apply(self, optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
        # zero every module's grads: only ``optimizer``'s parameters move this step
        self.generator.zero_grad(set_to_none=True)
        self.discriminator.zero_grad(set_to_none=True)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite loss at step {self.step}: {float(loss)}")
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]], 5.0)
        optimizer.step()

    def set_learning_rate(self, factor: float | None = None) -> None:
        """Every optimiser's rate: its base rate times ``factor`` (default: the exponential decay
        to ``lr_final_fraction`` over ``steps``)."""
        cfg = self.cfg
        if factor is None:
            factor = cfg.lr_final_fraction ** (self.step / max(cfg.steps, 1))
        for opt, base in (
            (self.opt_pose, cfg.lr_pose),
            (self.opt_scale, cfg.lr_scale),
            (self.opt_disc, cfg.lr_disc),
        ):
            if opt is not None:
                for group in opt.param_groups:
                    group["lr"] = base * factor

    # ---------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict:
        return {
            "config": self.cfg.to_dict(),
            "step": self.step,
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "opt_pose": self.opt_pose.state_dict(),
            "opt_scale": self.opt_scale.state_dict() if self.opt_scale else None,
            "opt_disc": self.opt_disc.state_dict(),
            "rng": self.rng.get_state(),
            "torch_rng": torch.get_rng_state(),
            "trained_on": self.trained_on,
        }

    def save_checkpoint(self, name: str = "last.pt") -> Path:
        path = self.out / name
        # a write a killed run left (kill -9 as it saved: a partial checkpoint's size, one per crash; QA)
        for leftover in self.out.glob(f".{path.stem}.*.tmp{path.suffix}"):
            leftover.unlink(missing_ok=True)
            log.info("removed %s, a checkpoint write an earlier run left unfinished", leftover.name)
        with atomic_path(path) as tmp:
            try:
                torch.save(self.state_dict(), tmp)
            except RuntimeError as exc:  # a full disk: torch's "[enforce fail at inline_container.cc:672] ..." (QA)
                raise OutputWriteError(f"cannot write the checkpoint {path} (the disk is full, or a file size limit: "
                                       f"{' '.join(str(exc).split())[:120]}); free space on its disk, then continue "
                                       "with --resume") from exc  # fmt: skip
        return path

    def init_from(self, path: str | Path) -> int:
        """Start from another run's networks (generator and discriminator weights; fresh optimizers,
        step 0), e.g. to train on further data. Returns the step that run had reached. A shipped
        model's ``.adapt.npz`` (:func:`~posecast.engines.training.export.save_generator_npz`) gives
        the generator only (the discriminator starts fresh) and counts as step 0."""
        if Path(path).suffix.lower() == ".onnx":  # (it was "not a readable PyTorch checkpoint": review)
            from ..runtime.base import adapt_weights_path

            weights = adapt_weights_path(path)
            found = "beside it" if weights.is_file() else "written beside it by export and adapt; not found here"
            raise CheckpointError(f"init: {path} is an exported model, whose graph cannot be trained: start from its "
                                  f"weights, init: {weights} ({found})")  # fmt: skip
        if Path(path).suffix == ".npz":
            from .export import load_generator_npz

            generator, _ = load_generator_npz(path)
            if generator.cfg != self.cfg.model:
                raise CheckpointError(f"{path} has model {generator.cfg}, the config asks for {self.cfg.model}: "
                                      "init: needs a run of the same architecture")  # fmt: skip
            self.generator.load_state_dict(generator.state_dict())
            return 0
        return int(self._load_networks(path)["step"])

    def load_checkpoint(self, path: str | Path) -> None:
        """Resume a run: its networks, optimizers, random states and step."""
        state = self._load_networks(path)
        with damaged_checkpoint(path):
            self.opt_pose.load_state_dict(state["opt_pose"])
            if self.opt_scale is not None and state["opt_scale"] is not None:
                self.opt_scale.load_state_dict(state["opt_scale"])
            self.opt_disc.load_state_dict(state["opt_disc"])
            self.rng.set_state(state["rng"])
            torch.set_rng_state(state["torch_rng"])
            self.step = int(state["step"])

    def _load_networks(self, path: str | Path) -> dict:
        """The checkpoint at ``path`` (refused if its architecture is not this config's), its
        generator and discriminator weights loaded; returns the whole checkpoint."""
        state = read_checkpoint(path, self.device)
        saved = config_from_dict(state["config"]).model
        if saved != self.cfg.model:
            raise CheckpointError(f"checkpoint {path} has model {saved}, the config asks for {self.cfg.model}: "
                                  "its networks load only into the same model (drop --window, or the config's "
                                  "model: must be that run's)")  # fmt: skip
        with damaged_checkpoint(path):
            self.generator.load_state_dict(state["generator"])
            self.discriminator.load_state_dict(state["discriminator"])
        return state

    # ---------------------------------------------------------------- loop
    def fit(
        self,
        sample: Callable[[int], WindowBatch],
        evaluate: Callable[[PoseGenerator], dict[str, float]] | None = None,
        eval_every: int = 500,
        progress: bool = True,
    ) -> list[dict[str, float]]:
        """Train until ``cfg.steps``; logs to ``log.csv``, checkpoints ``last.pt``, plots ``losses.png``."""
        cfg = self.cfg
        history: list[dict[str, float]] = []
        csv_path = self.out / "log.csv"
        # resumed: the steps logged after the checkpoint come again, and time_s goes on from its row
        trained_s = truncate_csv(csv_path, self.step)
        prefetch = _Prefetcher(sample, cfg.batch)
        bar, redirected = None, contextlib.ExitStack()
        if progress:
            from tqdm import tqdm
            from tqdm.contrib.logging import logging_redirect_tqdm

            bar = tqdm(total=cfg.steps, initial=self.step, desc=f"train {cfg.mode}", unit="step")
            redirected.enter_context(logging_redirect_tqdm())  # each step's log line above the bar, not through it
        start, running = time.perf_counter(), {}
        last_step, last_time = self.step, start
        aside_s = 0.0  # evaluation and checkpoint time since the last log row: not training (QA: 4.6 steps/s of 22)
        start -= trained_s
        log.info("training %s from step %d to %d (bf16 %s, %d threads)", cfg.mode, self.step, cfg.steps,
                 "on" if self.bf16 else "off", cfg.threads)  # fmt: skip
        try:
            while self.step < cfg.steps:
                self.set_learning_rate()
                logged = self.train_step(prefetch.get())
                for k, v in logged.items():
                    running[k] = 0.9 * running.get(k, v) + 0.1 * v
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{running['loss']:.4f}")
                if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                    now = time.perf_counter()
                    steps_per_s = (self.step - last_step) / max(now - last_time - aside_s, 1e-9)
                    last_step, last_time, aside_s = self.step, now, 0.0
                    row = {"step": self.step, "time_s": round(now - start, 1), "steps_per_s": round(steps_per_s, 3),
                           **running}  # fmt: skip
                    if evaluate is not None and (self.step % eval_every == 0 or self.step == cfg.steps):
                        self.generator.eval()
                        row.update(evaluate(self.generator))
                        aside_s += time.perf_counter() - now
                    log.info("step %d: %s", self.step, {k: round(v, 4) for k, v in row.items()})
                    history.append(row)
                    append_csv(csv_path, row)
                if self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps:
                    saving = time.perf_counter()
                    self.save_checkpoint()
                    plot_history(csv_path, self.out / "losses.png")
                    aside_s += time.perf_counter() - saving
        finally:
            prefetch.close()
            redirected.close()
            if bar is not None:
                bar.close()
        return history


class _Prefetcher:
    """Makes the next batch on a thread while the current step runs (numpy releases the GIL)."""

    def __init__(self, sample: Callable[[int], WindowBatch], batch: int) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(sample, batch), daemon=True)
        self._thread.start()

    def _run(self, sample: Callable[[int], WindowBatch], batch: int) -> None:
        while not self._stop.is_set():
            try:
                item = sample(batch)
            except Exception as exc:  # noqa: BLE001 - re-raised in the training thread
                item = exc
            while not self._stop.is_set():
                try:
                    self._queue.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue

    def get(self) -> WindowBatch:
        item = self._queue.get()
        if isinstance(item, Exception):
            raise item
        return item

    def close(self) -> None:
        self._stop.set()

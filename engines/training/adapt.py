"""Unsupervised adaptation of a shipped model to a user's own 2D footage (no 3D labels).

Starting from an exported model (its ``.adapt.npz`` beside the ``.onnx``: the full generator),
the networks are fine-tuned on windows of the user's 2D, **anchored to the starting model** so
they cannot drift into a degenerate solution: an L2 penalty to the starting weights and
distillation to the starting model's 3D on the same windows; batch norm keeps the starting
model's statistics. Three recipes (:data:`RECIPES`):

- ``mirror`` (the default): ``ensemble`` below with mirror images alone, no camera rolls: the
  teacher is the starting model flip-averaged, as ``posecast run`` lifts, seen over the whole
  footage. For a model that already knows the footage's kind of motion (the shipped default saw
  both mocap sources) the rolled views are worse than the model and distilling them costs;
- ``ensemble``: distillation alone, to the starting model's **test-time ensemble**
  (:func:`ensemble_lift`): its answers for the same windows seen through cameras rolled about
  their optical axis (−45° to 45°) and in a mirror, each turned and mirrored back, averaged.
  Both are exact symmetries of a pinhole camera, so the ensemble needs no 3D; where the footage
  is far from what the model saw, its answer is better than any one view's. The lifter sees each
  window through one of those views and learns the ensemble's answer turned the same way, so it
  gives it in one pass from any view. The answer is smoothed along the window's frames first
  (:attr:`AdaptOptions.teacher_smooth_frames`): the network lifts every frame of its window,
  and a teacher that moves smoothly through it is a better one than the footage's jittery 2D
  gives. Adaptation is offline, so by default the teacher sees the whole footage
  (:func:`footage_teacher`): each frame's answer is the mean over every window that holds it,
  computed once, then looked up for each training window;
- ``paper``: the paper's losses (2D/3D cycle through random views, motion
  consistency, scale KL + bone consistency; the adversarial term against *this footage's* 2D is
  off unless turned on in :attr:`AdaptOptions.weights`), distilled to the starting model as it
  is. The scale prior is the starting model's own scale statistics on this footage (it has no 3D
  to measure one).

Measured (docs/accuracy.md, "Adapting to your own footage: the measurements"): ``ensemble`` lowered the error on CMU of
Bandai-Namco-only models by 6 % (supervised) and about 10 % (semi-supervised; mean over six
webcam draws, 11 % flip-averaged with the footage teacher) and kept real video plausible, but
made the shipped default 6–8 % worse there (its ensemble is worse than itself); ``mirror``
leaves the default level (−0.3 % adapted to the scored clips' own 2D, +2.3 % to other people's)
and gains 9 % for the semi-supervised model; on real clips both bring the lean of the clip
adapted to to MediaPipe's side. ``paper`` was neutral on CMU and broke a real clip it was not
adapted to.

:func:`adapt` runs for a number of minutes on the CPU with a progress bar, reports unsupervised
figures before and after (2D cycle error, bone-length variation, how far the 3D moved) and
writes a self-describing ONNX model (+ its INT8 copy and its own ``.adapt.npz``, so it can be
adapted again) that ``posecast run --model`` takes.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import datetime
import logging
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .. import metadata, normalize, skeleton
from ..errors import PosecastError
from ..fileio import file_identity, file_sha256, remove_stale
from ..install import code_version
from ..logs import counted, quieter
from ..networks import PoseGenerator, PoseModel
from ..runtime.base import model_label
from . import losses
from .config import SINGLE_FRAME_SAMPLE_FRAMES, TrainConfig, config_from_dict
from .data.dataset import TRAINING_FPS
from .data.windows import Recorded2DSampler, SamplerOptions, WindowBatch
from .export import adapt_weights_path, check_adapt_weights, export_onnx, load_generator_npz, save_generator_npz
from .train import Trainer

log = logging.getLogger(__name__)

#: The hidden folder beside ``--output`` where the adapted files are made before they move in
STAGING_PREFIX = ".posecast-adapt-"

#: The ensemble teacher's camera rolls (degrees). The Bandai-Namco-only model's ensemble on CMU:
#: 56.3 mm alone, 54.1 up to ±20°, 52.5 up to ±45°, 53.0 up to ±60° (docs/accuracy.md)
ENSEMBLE_ROLLS_DEG = (-45.0, -30.0, -15.0, 0.0, 15.0, 30.0, 45.0)
#: What adaptation distils towards: (camera rolls in degrees, mirror images too)
TEACHERS: dict[str, tuple[tuple[float, ...], bool]] = {
    "start": ((0.0,), False),  # the starting model as it is
    "ensemble": (ENSEMBLE_ROLLS_DEG, True),  # its test-time ensemble (module docstring)
    "mirror": ((0.0,), True),  # the start model flip-averaged, as `posecast run` lifts
}
#: Where the teacher's answer for a frame comes from (:attr:`AdaptOptions.teacher_context`)
TEACHER_CONTEXTS = ("footage", "window")
#: Every loss of the paper off (LossWeights names)
PAPER_LOSSES_OFF = {"w_2d": 0.0, "w_3d": 0.0, "w_adv": 0.0, "w_tmc": 0.0, "w_kl": 0.0, "w_bone": 0.0}
#: Named ways to adapt, as :class:`AdaptOptions` fields changed from its defaults (measured with
#: tools/adapt_experiment.py and on real video, docs/accuracy.md): ``mirror`` (the defaults), distillation
#: to the start model flip-averaged; ``ensemble``, to its test-time ensemble (with the paper's losses on as
#: well, the same teacher, unsmoothed, made the Bandai-Namco-only model 8 % worse on CMU instead
#: of 4 % better); ``paper``, the paper's losses but the adversarial term, distilled to the start model
#: as it is (neutral on CMU; on real video it bent the standing knee of a clip it did not adapt to
#: from 12° to 33°)
RECIPES: dict[str, dict] = {
    "mirror": {},
    "ensemble": {"teacher": "ensemble"},
    "paper": {"teacher": "start", "teacher_smooth_frames": 0.0, "teacher_context": "window", "weights": {"w_adv": 0.0}},
}


class AdaptError(PosecastError):
    """Adaptation cannot start: no usable 2D, or a model without adaptation weights."""


@dataclass
class AdaptOptions:
    """How long and how hard to adapt; every weight is relative to the paper's loss weights."""

    minutes: float = 5.0
    max_steps: int = 0  # 0: no limit besides minutes
    batch: int = 256
    lr: float = 1e-4
    #: the learning rate rises linearly from 0 over this many first steps: Adam's first steps move
    #: every weight by about the learning rate whatever the gradient, so without it one step moved
    #: the 3D by 40 mm (QA) and a short run landed away from where longer runs settle
    lr_warmup_steps: int = 100
    #: the learning rate is also scaled by a linear fall from 1 at the first step to 0 at the end of
    #: the budget (steps, or the minutes left after the teacher's lifting, whichever ends first), so
    #: the model written is not one noisy step of a constant rate; the two factors multiply (a run of
    #: 1,650 steps peaks at 0.94 of ``lr``, one of 200 at 0.51)
    lr_decay: bool = True
    anchor_weight: float = 1.0  # L2 to the starting weights, per parameter (mean), × 1e4
    distill_weight: float = 1.0  # MSE to the teacher's root-relative 3D (canonical units; see teacher)
    disc_warmup_steps: int = 30  # the fresh discriminator learns this footage first
    #: the paper's loss weights, changed by name (LossWeights fields); all off by default (the
    #: ``mirror`` and ``ensemble`` recipes, :data:`RECIPES`). With the adversarial term the supervised model got
    #: 27 % worse across datasets in 15 minutes (16 % with 10x the anchors); without it, neutral.
    weights: dict[str, float] = field(default_factory=lambda: dict(PAPER_LOSSES_OFF))
    #: the distillation target, a :data:`TEACHERS` name: the start model flip-averaged, its
    #: ensemble over camera rolls and mirror images (:func:`ensemble_lift`), or the start model as it is
    teacher: str = "mirror"
    #: the teacher's 3D smoothed along each window's frames, a Gaussian of this standard deviation
    #: (frames at the model's rate; 0: not smoothed). The network lifts every frame of its window,
    #: so this asks for a pose that moves smoothly through the window, which the jittery 2D of
    #: footage does not give. Measured across datasets (docs/accuracy.md): the Bandai-only semi-supervised
    #: model adapted to CMU 2D, 69.6 mm → 61.7 / 60.8 / 62.7 over three seeds (unsmoothed 64.7 /
    #: 64.1 / 64.1); the supervised one 53.0 (unsmoothed 52.5–54.1)
    teacher_smooth_frames: float = 1.0
    #: ``footage``: each frame's teacher 3D is averaged over every window of the footage that holds
    #: it (:func:`footage_teacher`), so it also saw the frames after it: adaptation runs offline,
    #: and the network's answers for a window's older frames had that later context. Measured on
    #: CMU (docs/accuracy.md): the Bandai-only semi-supervised model's teacher scores 58.9 mm per window and
    #: 56.9 over the footage; adapted, −11.0 % against −10.0 % (flip-averaged, mean over six
    #: webcam draws), and each step is about 3× as fast. ``window``: each training window lifted
    #: on its own (the paper recipe's).
    teacher_context: str = "footage"
    threads: int = 1
    seed: int = 0
    bf16: str | bool = "auto"
    int8: bool = True
    #: the :data:`RECIPES` entry these options came from ("" when made by hand): in the model's metadata
    recipe_name: str = ""

    @classmethod
    def recipe(cls, name: str, **overrides) -> AdaptOptions:  # noqa: ANN003 - AdaptOptions fields
        """The options of one of :data:`RECIPES`, with ``overrides`` on top."""
        if name not in RECIPES:
            raise ValueError(f"recipe must be one of {', '.join(RECIPES)}, got {name!r}")
        return cls(**(RECIPES[name] | {"recipe_name": name} | overrides))

    def __post_init__(self) -> None:
        if not 0 < self.minutes <= 24 * 60:
            raise ValueError(f"minutes must be in (0, 1440], got {self.minutes}")
        if self.lr_warmup_steps < 0:
            raise ValueError(f"lr_warmup_steps must be >= 0, got {self.lr_warmup_steps}")
        if self.max_steps < 0 or self.batch < 2:
            raise ValueError(f"max_steps must be >= 0 and batch >= 2, got {self.max_steps}, {self.batch}")
        for name in ("lr", "anchor_weight", "distill_weight"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0.0 <= self.teacher_smooth_frames <= 10.0:
            raise ValueError(f"teacher_smooth_frames must be in [0, 10], got {self.teacher_smooth_frames}")
        if self.teacher not in TEACHERS:
            raise ValueError(f"teacher must be one of {', '.join(TEACHERS)}, got {self.teacher!r}")
        if self.teacher_context not in TEACHER_CONTEXTS:
            raise ValueError(f"teacher_context must be one of {', '.join(TEACHER_CONTEXTS)}, "
                             f"got {self.teacher_context!r}")  # fmt: skip


@dataclass
class AdaptReport:
    """What adaptation did. Figures are on windows of the user's footage (no 3D exists there)."""

    steps: int
    seconds: float
    windows: int
    before: dict[str, float] = field(default_factory=dict)
    after: dict[str, float] = field(default_factory=dict)
    output: str = ""
    #: what was adapted, how: the start model (a shipped one's name, else its file name), the recipe
    #: (``"custom"`` for options made by hand) and the seed, as the adapted model's metadata names them
    start_model: str = ""
    recipe: str = ""
    seed: int = 0


def collect_inputs(inputs: Sequence[str | Path] | str | Path) -> list[Path]:
    """``.npz`` files and folders of them (or one) → the files, sorted; raises :class:`AdaptError`
    if none."""
    files: list[Path] = []
    if isinstance(inputs, str | Path):  # one path (QA: a string was taken as a list of one-letter inputs)
        inputs = [inputs]
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files += sorted(path.glob("*.npz"))
        elif path.is_file():
            files.append(path)
        else:
            raise AdaptError(f"adapt input {path} does not exist (give lift-format .npz files or folders of them)")
    if not files:
        raise AdaptError("no 2D to adapt to: the inputs hold no .npz files in the posecast lift format")
    return files


def check_start(model: str | Path | None) -> Path:
    """The start model's file (a shipped name, a path, ``None``: the default) once its adaptation
    weights are known to be beside it and to hold its network (:func:`check_adapt_weights`);
    raises ``ModelError`` otherwise (before any slow work: the footage's MediaPipe pass)."""
    return _checked_start(model)[0]


def _checked_start(model: str | Path | None) -> tuple[Path, PoseGenerator, tuple[float, float]]:
    """:func:`check_start`, with the start generator and scale prior it read (read once)."""
    from ..errors import ModelError
    from ..runtime.base import MODELS, WEIGHTS_DIR, model_label, resolve_model

    path = resolve_model(model)
    if path.suffix.lower() != ".onnx":  # (a text file was told its .adapt.npz was missing; QA)
        raise ModelError(f"--model {path} is not an .onnx model: pass an exported posecast .onnx or a shipped model's "
                         "name")  # fmt: skip
    # the model itself first: a truncated file was blamed on its adaptation weights, and a model without
    # posecast's metadata (or another graph's) was refused only when writing, after all of --minutes (QA)
    metadata.read_onnx_metadata(path)
    if not adapt_weights_path(path).is_file():
        adaptable = [name for name, file in MODELS.items() if adapt_weights_path(WEIGHTS_DIR / file).is_file()]
        fix = (f"pass a shipped model that has them ({', '.join(adaptable)})" if model_label(path) in MODELS
               else f"models exported by {metadata.EXPORTER} have them")
        raise ModelError(f"{path.name} cannot be adapted: its adaptation weights {adapt_weights_path(path).name} are "
                         f"not beside it; {fix}")  # fmt: skip
    start, scale_prior = load_generator_npz(adapt_weights_path(path))
    check_adapt_weights(start, path)
    return path, start, scale_prior


class _Adapter(Trainer):
    """The unsupervised trainer plus the two anchors to the starting model."""

    def __init__(self, cfg, out_dir: Path, start: PoseGenerator, options: AdaptOptions) -> None:  # noqa: ANN001
        super().__init__(cfg, out_dir)
        self.generator.load_state_dict(start.state_dict())
        self.start = copy.deepcopy(start).eval()
        for p in self.start.parameters():
            p.requires_grad_(False)
        self.start_params = [p.detach().clone() for p in self.generator.parameters()]
        self.options = options
        self.paper_losses = any(getattr(cfg.weights, name) > 0 for name in PAPER_LOSSES_OFF)
        self.view_rng = np.random.default_rng(options.seed)
        #: the footage teacher: root-relative 3D per frame of the sampler, camera axes (None: per window)
        self.frame_teacher: torch.Tensor | None = None

    def train_step(self, batch: WindowBatch) -> dict[str, float]:
        o = self.options
        keypoints = torch.from_numpy(batch.keypoints_norm).to(self.device)
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)
        self.generator.train()
        for module in self.generator.modules():  # batch norm keeps the start model's statistics
            if isinstance(module, torch.nn.BatchNorm1d):
                module.eval()
        if not self.paper_losses:
            return self._distill_step(keypoints, batch, autocast)
        with autocast:
            parts = self.unsupervised_losses(keypoints)
        parts = {k: v.float() for k, v in parts.items()}
        adversarial = self.cfg.weights.w_adv > 0  # without the term the discriminator is not needed at all
        if adversarial and self.step < o.disc_warmup_steps:  # the discriminator alone learns, from the start views
            logged = {k: float(v.detach()) for k, v in parts.items()}
            logged["l_disc"] = self._disc_step(autocast)
            logged["loss"] = float("nan")
            self.step += 1
            return logged
        scale_phase = self.opt_scale is not None and (
            self.step % (self.cfg.pose_steps_per_scale_step + 1) == self.cfg.pose_steps_per_scale_step
        )
        with autocast:
            target = self._teacher(normalize.canonicalize(keypoints), keypoints, batch)
        parts["l_distill"] = losses.mse(skeleton.root_relative(self._joints.float()), target)
        parts["l_anchor"] = self._anchor()
        loss = self.generator_objective(parts, scale_phase)
        loss = loss + o.distill_weight * parts["l_distill"] + o.anchor_weight * parts["l_anchor"]
        self._apply(self.opt_scale if scale_phase else self.opt_pose, loss)
        logged = {k: float(v.detach()) for k, v in parts.items()}
        if adversarial and self.step % self.cfg.disc_every == 0:
            logged["l_disc"] = self._disc_step(autocast)
        logged["loss"] = float(loss.detach())
        self.step += 1
        return logged

    def _distill_step(self, keypoints: torch.Tensor, batch: WindowBatch, autocast: torch.autocast) -> dict[str, float]:
        """Distillation alone (the paper's losses all off; lifter steps): the student sees the
        window through one of the teacher's views, a camera roll drawn within the ensemble's range
        and, where the ensemble has them, a mirror image half the time, and learns the teacher's
        answer turned and mirrored the same way, so it learns the ensemble's answer from every
        view (measured across datasets: 52.5–54.1 mm over four seeds, mean 53.2, against 54.0 when it
        saw each window as filmed; docs/accuracy.md)."""
        o = self.options
        rolls_deg, mirror = TEACHERS[o.teacher]
        canonical = normalize.canonicalize(keypoints)
        with autocast:
            target = self._teacher(canonical, keypoints, batch)
        roll = float(self.view_rng.uniform(min(rolls_deg), max(rolls_deg)))
        view, target = skeleton.roll_about_z(canonical, roll), skeleton.roll_about_z(target, roll)
        if mirror and self.view_rng.random() < 0.5:
            view, target = skeleton.mirror_image(view), skeleton.mirror_image(target)
        with autocast:
            joints, _ = self.generator(view)
        parts = {"l_distill": losses.mse(skeleton.root_relative(joints.float()), target), "l_anchor": self._anchor()}
        loss = o.distill_weight * parts["l_distill"] + o.anchor_weight * parts["l_anchor"]
        self._apply(self.opt_pose, loss)
        self.step += 1
        return {k: float(v.detach()) for k, v in parts.items()} | {"loss": float(loss.detach())}

    def _teacher(self, canonical: torch.Tensor, keypoints: torch.Tensor, batch: WindowBatch) -> torch.Tensor:
        """The distillation target of canonical windows ``(B, T, 17, 2)`` (of ``keypoints``, the
        batch's 2D): the teacher's 3D ``(B, T, 17, 3)``, each frame in its own root view. With the
        footage teacher, looked up per frame (mirrored with the window); else the window lifted
        on its own, smoothed along the window's frames when the options say so."""
        o = self.options
        if self.frame_teacher is None:
            return smooth_over_frames(ensemble_lift(self.start, canonical, *TEACHERS[o.teacher]),
                                      o.teacher_smooth_frames)  # fmt: skip
        return footage_targets(self.frame_teacher, batch, keypoints)

    def _anchor(self) -> torch.Tensor:
        """L2 of the weights' change from the start model (mean per parameter tensor, × 1e4)."""
        changes = [((p - p0) ** 2).mean() for p, p0 in zip(self.generator.parameters(), self.start_params, strict=True)]
        return 1e4 * torch.stack(changes).mean()

    def _disc_step(self, autocast: torch.autocast) -> float:
        with autocast:
            d_loss = losses.lsgan_discriminator(
                self.discriminator(self._real_for_disc), self.discriminator(self._fake_for_disc)
            )
        self._apply(self.opt_disc, d_loss.float())
        return float(d_loss.detach())


@torch.no_grad()
def ensemble_lift(generator: PoseGenerator, canonical: torch.Tensor, rolls_deg: Sequence[float] = (0.0,),
                  mirror: bool = False) -> torch.Tensor:  # fmt: skip
    """Root-relative 3D ``(B, T, 17, 3)`` (float32, root view) of canonical windows ``(B, T, 17, 2)``:
    the generator's answers averaged over camera rolls about the optical axis (which the root
    view puts through the root) and mirror images (:func:`posecast.engines.skeleton.view_ensemble`)."""
    return skeleton.view_ensemble(lambda view: skeleton.root_relative(generator(view)[0].float()), canonical,
                                  rolls_deg, mirror)  # fmt: skip


@torch.no_grad()
def footage_teacher(generator: PoseGenerator, frames: np.ndarray, windows: np.ndarray, rolls_deg: Sequence[float],
                    mirror: bool, smooth_frames: float = 0.0, batch: int = 1024, deadline: float | None = None,
                    progress: bool = False) -> np.ndarray:  # fmt: skip
    """The teacher's 3D of every frame of footage that adaptation sees whole: ``frames (F, 17, 2)``
    (normalised 2D, sequences one after another) and every causal window of them ``(N, T)`` (frame
    indices, oldest first; slots before a sequence's start repeat its first frame). Each window is
    lifted by :func:`ensemble_lift` (then smoothed along its frames by ``smooth_frames``), and each
    frame's answer is the mean of the answers every window gave for it, in the camera's axes: the
    windows that end later saw what came after the frame. Repeated start slots do not count.
    Returns ``(F, 17, 3)`` float32, root-relative, camera axes, canonical units. ``deadline`` (a
    ``perf_counter`` time): :class:`TeacherTimeoutError` once past it (QA: three hours of footage took
    the whole of ``--minutes 1`` here, silently); ``progress``: a bar over the windows."""
    total = np.zeros((len(frames), skeleton.NUM_JOINTS, 3), np.float64)
    count = np.zeros(len(frames), np.int64)
    padded = np.zeros(windows.shape, bool)
    padded[:, :-1] = windows[:, :-1] == windows[:, 1:]  # a slot repeating the next one: before the start
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(windows), desc="teacher", unit="window", leave=False)
    try:
        for lo in range(0, len(windows), batch):
            if deadline is not None and time.perf_counter() > deadline:
                raise TeacherTimeoutError(lo, len(windows))
            index = windows[lo : lo + batch]
            keypoints = torch.from_numpy(frames[index].astype(np.float32))
            answer = smooth_over_frames(ensemble_lift(generator, normalize.canonicalize(keypoints), rolls_deg, mirror),
                                        smooth_frames)  # fmt: skip
            camera = normalize.to_camera_axes(answer, keypoints[..., skeleton.ROOT, :]).numpy()
            keep = ~padded[lo : lo + batch]
            np.add.at(total, index[keep], camera[keep])
            np.add.at(count, index[keep], 1)
            if bar is not None:
                bar.update(len(index))
    finally:
        if bar is not None:
            bar.close()
    return (total / np.maximum(count, 1)[:, None, None]).astype(np.float32)


class TeacherTimeoutError(Exception):
    """:func:`footage_teacher` went past its deadline: the windows lifted so far, of all."""

    def __init__(self, lifted: int, windows: int) -> None:
        super().__init__(f"{lifted} of {windows} windows lifted")
        self.lifted, self.windows = lifted, windows


def footage_targets(frame_teacher: torch.Tensor, batch: WindowBatch, keypoints: torch.Tensor) -> torch.Tensor:
    """The footage teacher's 3D ``(B, T, 17, 3)`` for a batch of recorded 2D windows: each slot's
    frame looked up in ``frame_teacher`` (:func:`footage_teacher`, camera axes), mirrored where the
    window was, and turned into that frame's root view (the lifter's frame) by ``keypoints`` ``(B,
    T, 17, 2)``, the batch's 2D as the student sees it."""
    target = frame_teacher[torch.from_numpy(batch.frame_index)]
    mirrored = torch.from_numpy(batch.mirrored)[:, None, None, None]
    target = torch.where(mirrored, skeleton.mirror_image(target), target)
    return normalize.to_root_view(target, keypoints[..., skeleton.ROOT, :])


def smooth_over_frames(joints: torch.Tensor, sigma_frames: float) -> torch.Tensor:
    """Windows of 3D ``(B, T, J, 3)`` smoothed along ``T`` with a Gaussian of ``sigma_frames``
    (truncated at 3 sigma; the window's ends repeated, so a still pose stays as it is); ``0``:
    ``joints`` as they are."""
    if sigma_frames <= 0:
        return joints
    radius = min(int(3.0 * sigma_frames + 0.5), joints.shape[1] - 1)
    offsets = torch.arange(-radius, radius + 1, dtype=joints.dtype, device=joints.device)
    kernel = torch.exp(-0.5 * (offsets / sigma_frames) ** 2)
    b, t, j, c = joints.shape
    rows = joints.permute(0, 2, 3, 1).reshape(-1, 1, t)  # one row per joint coordinate, frames along it
    rows = torch.nn.functional.pad(rows, (radius, radius), mode="replicate")
    rows = torch.nn.functional.conv1d(rows, (kernel / kernel.sum()).view(1, 1, -1))
    return rows.reshape(b, j, c, t).permute(0, 3, 1, 2)


@torch.no_grad()
def footage_figures(generator: PoseGenerator, windows: np.ndarray, reference: PoseGenerator | None = None) -> dict:
    """Unsupervised figures on windows ``(N, T, 17, 2)``: the 2D cycle error (lift, turn 90°,
    lift again, turn back, project; in % of the pose's size), the bone-length variation over each
    window, the mean scale and, against ``reference``, how far the current frame's 3D moved (mm for
    a 1.70 m person)."""
    generator.eval()
    keypoints = torch.from_numpy(windows)
    canonical = normalize.canonicalize(keypoints)
    joints, scale = generator(canonical)
    centred = skeleton.root_relative(joints)
    c = normalize.CAMERA_DISTANCE
    offset = joints.new_tensor([0.0, 0.0, c])
    out = {"scale_mean": float(scale.mean())}
    errors = []
    for angle in (np.pi / 2, -np.pi / 2):
        cos, sin = float(np.cos(angle)), float(np.sin(angle))
        turn = joints.new_tensor([[cos, 0.0, sin], [0.0, 1.0, 0.0], [-sin, 0.0, cos]])
        rotated = torch.einsum("ij,btkj->btki", turn, centred)
        rotated_2d = normalize.project(rotated + offset, min_depth=1.0)
        relifted = skeleton.root_relative(generator(normalize.canonicalize(rotated_2d))[0])
        size_ratio = rotated.norm(dim=-1).mean((-1, -2)) / relifted.norm(dim=-1).mean((-1, -2)).clamp_min(1e-6)
        relifted = relifted * size_ratio[:, None, None, None]  # compare shapes, not sizes
        back = torch.einsum("ji,btkj->btki", turn, relifted)
        back_2d = normalize.project(back + offset, min_depth=1.0)
        scaled = canonical * scale[:, :, None, None]
        size = normalize.pose_size(scaled)
        errors.append(((back_2d - scaled).norm(dim=-1) / size[..., 0]).mean())
    out["cycle_2d_error_pct"] = float(torch.stack(errors).mean() * 100)
    lengths = losses.bone_lengths(centred)
    out["bone_cv_pct"] = float((lengths.std(1) / lengths.mean(1).clamp_min(1e-6)).mean() * 100)
    if reference is not None:
        reference.eval()
        a = PoseModel(generator)(keypoints)[0].numpy()
        b = PoseModel(reference)(keypoints)[0].numpy()
        from ..camera import metric_scale

        to_m = metric_scale(b.astype(np.float64), skeleton.bone_lengths_from_height(1.70))[:, None, None]
        out["moved_mm"] = float(np.linalg.norm((a - b) * to_m, axis=-1).mean() * 1000)
    return out


def adapt(
    model: str | Path,
    inputs: Sequence[str | Path] | str | Path,
    output: str | Path,
    options: AdaptOptions | None = None,
    progress: bool = True,
    evaluate: Callable[[PoseGenerator], dict[str, float]] | None = None,
    sources: Sequence[str | Path] | None = None,
    moving_files: Callable[[], AbstractContextManager] = contextlib.nullcontext,
) -> AdaptReport:
    """Adapt the exported ``model`` (an ``.onnx`` with its ``.adapt.npz`` beside it) to the 2D in
    ``inputs`` (lift-format ``.npz`` files or folders of them) for ``options.minutes``, and write
    the adapted model to ``output`` (``.onnx``; with ``options.int8`` its INT8 copy beside it).

    ``evaluate`` (optional, e.g. a 3D check where ground truth exists) is called on the generator
    before and after; its figures join the report. ``sources``: what the user gave (their videos,
    recordings), named in the model's metadata instead of the 2D files made from them.
    ``moving_files``: a context held while the written files are moved into place together (the
    CLI holds its stop signals there: a Ctrl-C between two moves left a mixed set). Raises
    :class:`AdaptError` (also when no training step fits in ``options.minutes``: nothing is
    written) / ``ModelError``."""
    o = options or AdaptOptions()
    files = collect_inputs(inputs)
    model, start, scale_prior = _checked_start(model)
    window = start.cfg.window_frames
    frames = window if window > 1 else SINGLE_FRAME_SAMPLE_FRAMES
    try:
        sampler = Recorded2DSampler(files, SamplerOptions(window_frames=frames), seed=o.seed)
    except ValueError as exc:
        raise AdaptError(str(exc)) from exc
    if 0 < o.max_steps < 2 * o.lr_warmup_steps:  # (review: nothing said a run this short barely moves)
        # (QA: it said such a run "stays near" its start model; on a real clip 50 steps moved the 3D 20 mm)
        log.warning("%s: the learning rate peaks at %.0f %% of its base (it warms up over %d steps), yet a run "
                    "this short moves the model (on the dance clip 10 steps moved the 3D 4 mm and 50 steps 20 mm, "
                    "70 %% as far as 3,000) and was not measured to help: give it hundreds of steps (README, "
                    "Adapting to your own footage)", counted(o.max_steps, "step"), 100 * max(learning_rate_factor(
                        step, o.lr_warmup_steps, step / o.max_steps, o.lr_decay) for step in range(o.max_steps)),
                    o.lr_warmup_steps)  # fmt: skip
    if len(sampler) < frames:  # works (windows start clamped, as a stream's do), but there is little to learn
        log.warning("the footage holds only %d frames with a person (%.1f s at the model's rate): adapting to "
                    "that little is unlikely to help; the measurements used 4–13 s clips (README, Adapting to "
                    "your own footage)", len(sampler), len(sampler) / TRAINING_FPS)  # fmt: skip
    probe = sampler.frames[sampler.windows[np.linspace(0, len(sampler) - 1, min(len(sampler), 1024)).astype(int)]]
    probe = probe.astype(np.float32)
    with torch.no_grad():  # the footage's own scale statistics, as the start model sees them
        _, scales = start(normalize.canonicalize(torch.from_numpy(probe)))
    footage_prior = (float(scales.mean()), max(float(scales.std()), 0.5 * scale_prior[1]))
    before = footage_figures(start, probe)
    if evaluate is not None:
        before |= evaluate(start)
    cfg = config_from_dict({
        "mode": "unsupervised", "model": start.cfg.to_dict(), "batch": o.batch, "lr_pose": o.lr, "lr_scale": o.lr,
        "lr_disc": 2 * o.lr, "lr_final_fraction": 1.0, "scale_prior": list(footage_prior), "bf16": o.bf16,
        "threads": o.threads, "seed": o.seed, "steps": o.max_steps or 10**9, "data": [], "weights": o.weights,
        "motion_gap": min(TrainConfig.motion_gap, frames - 1),  # a 2- or 3-frame model's window holds less
    })  # fmt: skip
    began = time.perf_counter()  # --minutes counts the footage teacher's lifting too
    with tempfile.TemporaryDirectory(prefix="posecast-adapt-") as tmp:
        adapter = _Adapter(cfg, Path(tmp), start, o)
        if o.teacher_context == "footage":
            try:
                adapter.frame_teacher = torch.from_numpy(footage_teacher(
                    start, sampler.frames, sampler.windows, *TEACHERS[o.teacher], o.teacher_smooth_frames,
                    deadline=began + o.minutes * 60, progress=progress))  # fmt: skip
            except TeacherTimeoutError as timeout:
                raise AdaptError(f"lifting the footage for the teacher took all of --minutes {o.minutes:g} "
                                 f"({timeout}; {len(sampler.frames)} frames): no model was written; pass more "
                                 "--minutes, or less footage") from None  # fmt: skip
            # (QA: "505 frames lifted" beside the summary's "185 frames (505 windows ...)" read as a contradiction)
            log.info("teacher: %d frames at the model's frame rate lifted in every window that holds them (%.0f s)",
                     len(sampler.frames), time.perf_counter() - began)  # fmt: skip
        try:
            seconds = _run(adapter, sampler, o, progress, began)
        except KeyboardInterrupt:
            log.warning("stopped after %d adaptation steps: no model was written (the adapted model is kept only "
                        "once --minutes or --steps are done)", adapter.step)  # fmt: skip
            raise
    if adapter.step == 0:
        raise AdaptError(f"no adaptation step fitted in --minutes {o.minutes:g} (lifting the footage for the teacher "
                         f"took {seconds:.0f} s of it): no model was written; pass more --minutes, "
                         f"or less footage")  # fmt: skip
    adapted = adapter.generator.eval()
    output = Path(output)
    earlier_file = file_identity(output)  # the files are staged, then renamed in: a new one is another file
    try:
        after = footage_figures(adapted, probe, reference=start)
        if evaluate is not None:
            after |= evaluate(adapted)
        _write(adapted, output, model, footage_prior, o, (adapter.step, seconds),
               [Path(p) for p in (sources or files)], moving_files)  # fmt: skip
    except KeyboardInterrupt:  # (QA: a stop here said only "stopped by SIGINT", whether the model was written or not)
        if file_identity(output) not in (None, earlier_file):
            log.warning("stopped once the adapted model was written (%s, after %d steps); its report was not "
                        "printed", output, adapter.step)  # fmt: skip
        else:
            log.warning("stopped after the %d adaptation steps, before the model was written: no model was "
                        "written", adapter.step)  # fmt: skip
        raise
    if adapter.step < 2 * o.lr_warmup_steps and not 0 < o.max_steps < 2 * o.lr_warmup_steps:  # (else said above)
        log.warning("only %s fitted in --minutes %g: a run this short moves the model and was not measured to "
                    "help; give it more minutes, or --steps of hundreds (README, Adapting to your own footage)",
                    counted(adapter.step, "step"), o.minutes)  # fmt: skip
    # the output as a path from anywhere, the start model as the metadata names it (QA: a file name
    # beside adapted_from_model's shipped name, and a path relative to where adapt ran)
    report = AdaptReport(adapter.step, seconds, len(sampler), before, after, str(Path(output).absolute()),
                         model_label(model), o.recipe_name or "custom", o.seed)  # fmt: skip
    log.debug("adapted %d steps in %.0f s: before %s, after %s", report.steps, seconds, before, after)
    return report


def learning_rate_factor(step: int, warmup_steps: int, budget_used: float, decay: bool) -> float:
    """The fraction of the base learning rate at ``step`` (0-based): a linear warm-up over
    ``warmup_steps`` steps times, with ``decay``, a linear fall from 1 to 0 as ``budget_used``
    (the fraction of the steps or training minutes spent, 0–1) reaches 1."""
    warmup = min(1.0, (step + 1) / warmup_steps) if warmup_steps > 0 else 1.0
    return warmup * (max(0.0, 1.0 - budget_used) if decay else 1.0)


def _run(adapter: _Adapter, sampler: Recorded2DSampler, o: AdaptOptions, progress: bool, start: float) -> float:
    """Train until ``o.minutes`` after ``start`` (a ``perf_counter`` time: the teacher's lifting
    counts) or ``o.max_steps``; returns the seconds since ``start``."""
    bar = None
    # with --steps the bar counts steps (it counted seconds against --minutes and ended at 3 %; QA)
    by_steps = o.max_steps > 0
    if progress:
        from tqdm import tqdm

        if by_steps:
            bar = tqdm(total=o.max_steps, desc="adapting", unit="step",
                       bar_format="{l_bar}{bar}| {n:.0f}/{total} steps{postfix}")  # fmt: skip
        else:
            bar = tqdm(total=round(o.minutes * 60), initial=min(time.perf_counter() - start, o.minutes * 60),
                       desc="adapting", unit="s", bar_format="{l_bar}{bar}| {n:.0f}/{total} s{postfix}")  # fmt: skip
    # the decay runs over the training's own share of --minutes: the teacher's lifting, counted in
    # --minutes, had already decayed the rate before the first step (review: peak 0.43 at 40 %)
    training_began = time.perf_counter()
    training_s = max(o.minutes * 60 - (training_began - start), 1e-9)
    try:
        while True:
            now = time.perf_counter()  # read once: a second read could fall past the end (a step at rate 0; CI)
            if now - start >= o.minutes * 60 or (o.max_steps and adapter.step >= o.max_steps):
                break
            used = max((now - training_began) / training_s, adapter.step / o.max_steps if o.max_steps else 0.0)
            adapter.set_learning_rate(learning_rate_factor(adapter.step, o.lr_warmup_steps, used, o.lr_decay))
            logged = adapter.train_step(sampler.sample(o.batch))
            if bar is not None:
                bar.n = adapter.step if by_steps else min(time.perf_counter() - start, o.minutes * 60)
                bar.set_postfix(step=adapter.step, loss=f"{logged['loss']:.4f}", refresh=False)
                bar.refresh()
    finally:
        if bar is not None:
            bar.close()
    return time.perf_counter() - start


def _write(generator: PoseGenerator, output: Path, source: str | Path, prior: tuple[float, float],
           o: AdaptOptions, done: tuple[int, float], files: list[Path],
           moving_files: Callable[[], AbstractContextManager] = contextlib.nullcontext) -> None:  # fmt: skip
    """The adapted model, its INT8 copy and its ``.adapt.npz``, made in a temporary folder beside
    ``output`` and moved into place together: a failure leaves none of them half-written.
    ``done``: the steps made and the seconds they took."""
    from ..runtime.quantize import int8_sibling

    output.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(output.parent, f"{STAGING_PREFIX}*", "by an adapt run that was killed while it wrote")
    try:
        with tempfile.TemporaryDirectory(prefix=STAGING_PREFIX, dir=output.parent) as tmp:
            staged = Path(tmp) / output.name
            with quieter(logging.WARNING, "posecast.engines.training.export", "posecast.engines.runtime.quantize"):
                _export(generator, staged, source, prior, o, done, files)  # their lines would name the staging folder
            with moving_files():
                # looked at now, not before the export: another run may have written there meanwhile (QA)
                earlier = [p.name for p in (output, int8_sibling(output), adapt_weights_path(output)) if p.exists()]
                for path in sorted(Path(tmp).iterdir(), key=lambda p: p.name == output.name):  # the .onnx last
                    path.replace(output.parent / path.name)
        int8_copy = f", {output.stem}.int8.onnx" if o.int8 else ""
        log.info("wrote %s%s and %s", output, int8_copy, adapt_weights_path(output).name)
        if earlier:  # a run of up to a day's minutes: say what it replaced
            log.warning("replaced the earlier %s in %s", ", ".join(earlier), output.parent)
    except OSError as exc:  # a full disk, a file size limit: the staging folder is gone, nothing half-written
        raise AdaptError(f"cannot write the adapted model {output} ({exc.strerror or exc}): check the folder's "
                         "free space and permissions, or pass --output elsewhere") from exc  # fmt: skip


def _clipped(text: str, limit: int = 2000) -> str:
    """A metadata value kept under ``limit`` characters (file names of a long footage list)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _export(generator: PoseGenerator, output: Path, source: str | Path, prior: tuple[float, float],
            o: AdaptOptions, done: tuple[int, float], files: list[Path]) -> None:  # fmt: skip
    from ..networks import fold_batchnorm
    from ..runtime.quantize import int8_sibling, quantize_int8

    start_meta = metadata.read_onnx_metadata(source)
    model = fold_batchnorm(PoseModel(copy.deepcopy(generator)).eval())
    with torch.no_grad():  # stored as float16, like every shipped model
        for tensor in list(model.parameters()) + list(model.buffers()):
            if tensor.dtype == torch.float32:
                tensor.copy_(tensor.half().float())
    rebuilt = ("model_config", "batchnorm_folded", "current_frame_head", "int8_source_sha256")
    extra = {k: v for k, v in start_meta.extra.items() if k not in rebuilt}
    names = ", ".join(p.name for p in files)
    extra |= {"model_name": output.stem,  # not the start model's: that is adapted_from
              "adapted_from": Path(source).name, "adapted_from_sha256": file_sha256(source),
              # the name a user types where it is a shipped model, and when (QA: the file name alone)
              "adapted_from_model": model_label(source),
              "adapted_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "adapt_steps": str(done[0]), "adapt_seconds": f"{done[1]:.0f}", "adapt_inputs": str(len(files)),
              "adapted_on": _clipped(names), "adapt_minutes": f"{o.minutes:g}", "adapt_teacher": o.teacher,
              "adapt_teacher_smooth_frames": f"{o.teacher_smooth_frames:g}",
              "adapt_teacher_context": o.teacher_context, "adapt_seed": str(o.seed),
              "adapt_recipe": o.recipe_name or "custom", "adapt_lr": f"{o.lr:g}",
              "adapt_lr_schedule": f"linear warm-up over {o.lr_warmup_steps} steps"
                                   + (" times a linear decay to 0 over the run" if o.lr_decay
                                      else ", then constant")}  # fmt: skip
    if "adapted_on" in start_meta.extra:  # adapted again: what the start model was adapted to stays named
        before = start_meta.extra.get("adapted_earlier_on")
        extra["adapted_earlier_on"] = _clipped("; ".join(filter(None, (before, start_meta.extra["adapted_on"]))))
    meta = dataclasses.replace(
        start_meta, model_kind=f"{start_meta.model_kind}+adapted", extra=extra,
        git_commit=code_version()["git_commit"] or "",  # posecast's own checkout only, never the user's repository
        # the start model by name and the footage named: adapted twice read "… sequence(s)" twice, naming neither (QA)
        training_data=f"{start_meta.training_data}; adapted from {Path(source).name} (2D only) to "
                      f"{len(files)} user sequence(s): {_clipped(names, 200)}",
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # the window-length check, constant by design
        export_onnx(model, output, meta, fp16_weights=True)
    save_generator_npz(generator, adapt_weights_path(output), prior)
    if o.int8:
        quantize_int8(output, int8_sibling(output))

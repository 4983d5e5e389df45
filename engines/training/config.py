"""Training configuration: what a run trains, on what data, with what compute.

A config is a YAML file of :class:`TrainConfig` fields (``model:``, ``weights:``, ``body:`` and
``framing:`` nested).
Unknown keys are refused with the closest known one (a typo must not silently train the
default), and ``data:`` names the motion sources, relative to the repository or to the shared
data folder beside it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import logging
import math
import types
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import PosecastError
from ..host import cpu_flags
from ..networks import ModelConfig
from .data.augment import BodyOptions
from .data.framing import FramingOptions
from .data.windows import DEFAULT_WINDOW_FRAMES

log = logging.getLogger(__name__)

MODES = ("unsupervised", "ablation", "supervised", "semi", "distill")
REPO = Path(__file__).resolve().parents[2]
#: The shared data folder next to the repository (``$POSECAST_SHARED`` overrides it).
SHARED_NAME = "shared"
DEFAULT_DATA = ("data/bandai-namco/dataset-1.tar.xz", "data/bandai-namco/dataset-2.tar.xz")
#: Frames per training window for a single-frame (T = 1) model, see TrainConfig.sample_frames.
SINGLE_FRAME_SAMPLE_FRAMES = 9


class ConfigError(PosecastError, ValueError):
    """A training config with an unknown key, a bad value or data that cannot be found."""


@dataclass
class LossWeights:
    w_3d: float = 0.5
    w_2d: float = 5.0
    w_adv: float = 1.0
    w_tmc: float = 1.0
    # the paper: 0.01 with detected 2D, against their bone loss in their units; ours is relative
    # (scale-free) and summed over 16 bones, and 0.01 let the scale drift off its prior (to 1.7)
    w_kl: float = 1.0
    w_bone: float = 1.0
    w_sup: float = 1.0  # supervised 3D term (supervised and semi modes)
    #: the supervised term's weight of each window's current (last) frame against each earlier
    #: frame's 1: the frame the live pipeline publishes, and the only one lifted from the past alone
    w_current: float = 1.0
    #: bone-length consistency on the lifter's steps too (the paper: scale steps only); adapt uses it
    w_bone_pose: float = 0.0
    #: supervised: the current frame's motion between two windows one frame apart (what a live run
    #: publishes frame after frame) against the truth's, on the same noisy 2D: against the torso
    #: turning with the detector's jitter (docs/accuracy.md "A velocity term in training": at 3 a
    #: tenth slower, a millimetre less accurate; no shipped model uses it)
    w_velocity: float = 0.0


@dataclass
class TrainConfig:
    mode: str = "unsupervised"
    model: ModelConfig = field(default_factory=lambda: ModelConfig(window_frames=DEFAULT_WINDOW_FRAMES))
    weights: LossWeights = field(default_factory=LossWeights)
    #: each mocap window's body and timing: proportions, joint-centre shifts, speed, knees, torso, camera rate
    body: BodyOptions = field(default_factory=BodyOptions)
    #: windows framed like a close webcam: legs cut off at the image's bottom, guessed in 2D
    framing: FramingOptions = field(default_factory=FramingOptions)
    steps: int = 6000
    batch: int = 512
    lr_pose: float = 5e-4
    lr_scale: float = 5e-4
    lr_disc: float = 2e-4
    lr_final_fraction: float = 0.05  # exponential decay to this fraction of lr at the last step
    pose_steps_per_scale_step: int = 4
    disc_every: int = 3
    motion_gap: int = 3  # frames; the paper: ±3 with detected 2D
    bone_gap: int = 5
    #: Gaussian prior of the scale (ratio of the pose's projected RMS size to its bone-length
    #: normalised 3D size, see tools/scale_prior.py). Like the paper's N(0.7206, 0.058), it is a
    #: dataset statistic fixed before training; the trainer itself never sees 3D.
    scale_prior: tuple[float, float] = (0.94, 0.10)
    #: bfloat16 autocast: "auto" uses it only where the CPU computes bf16 natively (AVX512 /
    #: AMX; on AVX2 it emulates it, measured 12x slower), or on CUDA; true/false force it
    bf16: str | bool = "auto"
    threads: int = 1
    seed: int = 0
    checkpoint_every: int = 250
    log_every: int = 25
    device: str = "cpu"
    #: distill mode: the teacher checkpoint (a trainer ``last.pt``; any architecture)
    teacher: str | None = None
    #: start from this run's networks (same architecture), e.g. a model trained on less data
    init: str | None = None
    #: motion sources (BVH folders/archives, CMU archives): absolute, or relative to the
    #: repository, or to the shared data folder beside it
    data: list[str] = field(default_factory=lambda: list(DEFAULT_DATA))
    #: use only the first this many clips of the data (tiny runs, CI; 0: all); kept with the run
    #: so that a resumed run trains on the same clips
    max_clips: int = 0
    #: recorded 2D sequences (lift-format .npz) for the 2D-only losses (unsupervised, semi)
    recorded_2d: list[str] = field(default_factory=list)
    recorded_2d_share: float = 0.2  # of batches, when recorded 2D is given beside mocap
    #: CMU subjects never trained on (held out for the cross-subject score)
    held_out_subjects: list[str] = field(default_factory=list)
    #: sources whose clips are all held out (e.g. "cmu" to train on Bandai-Namco only)
    held_out_sources: list[str] = field(default_factory=list)
    #: share of every batch drawn from each motion source (e.g. {bandai-namco: 0.7, cmu: 0.3}:
    #: the small CMU subset seen more often than its size); empty: in proportion to their frames
    source_shares: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.model, dict):
            self.model = _build(ModelConfig, self.model, "model")
        if isinstance(self.weights, dict):
            self.weights = _build(LossWeights, self.weights, "weights")
        if isinstance(self.body, dict):
            self.body = _build(BodyOptions, self.body, "body")
        if isinstance(self.framing, dict):
            self.framing = _build(FramingOptions, self.framing, "framing")
        self.scale_prior = tuple(self.scale_prior)
        self.data, self.recorded_2d = list(self.data), list(self.recorded_2d)
        self.held_out_subjects = [subject_id(s) for s in self.held_out_subjects]
        self.held_out_sources = [str(s).lower() for s in self.held_out_sources]  # the loaders' names are lower case
        self.source_shares = {str(k): float(v) for k, v in dict(self.source_shares).items()}
        if self.source_shares and (min(self.source_shares.values()) < 0 or sum(self.source_shares.values()) <= 0):
            raise ConfigError(f"source_shares must be non-negative with a positive sum, got {self.source_shares}")
        if self.mode not in MODES:
            raise ConfigError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.max_clips < 0:
            raise ConfigError(f"max_clips must be 0 (every clip) or more, got {self.max_clips}")
        if self.mode == "ablation":
            self.model.use_scale_net = False
        if (self.mode == "distill") != (self.teacher is not None):
            raise ConfigError("mode 'distill' needs a teacher checkpoint, and only distill takes one")
        if self.steps < 1 or self.batch < 2:
            raise ConfigError(f"steps must be >= 1 and batch >= 2, got {self.steps}, {self.batch}")
        if self.bf16 not in ("auto", True, False):
            raise ConfigError(f"bf16 must be 'auto', true or false, got {self.bf16!r}")
        if not 0 <= self.seed < 2**32:  # numpy's and torch's seeds
            raise ConfigError(f"seed must be a whole number from 0 to {2**32 - 1}, got {self.seed}")
        if self.threads < 1:
            raise ConfigError(f"threads must be >= 1, got {self.threads}")
        if self.checkpoint_every < 1 or self.log_every < 1:
            raise ConfigError(f"checkpoint_every and log_every must be >= 1 step, got {self.checkpoint_every}, "
                              f"{self.log_every}")  # fmt: skip
        if not self.weights.w_current > 0:
            raise ConfigError(f"weights.w_current must be > 0, got {self.weights.w_current}")
        if self.weights.w_velocity < 0 or (self.weights.w_velocity and (self.mode != "supervised"
                                                                        or self.model.window_frames < 2)):
            raise ConfigError(f"weights.w_velocity must be 0, or above 0 in supervised mode with a window of 2 frames "
                              f"or more, got {self.weights.w_velocity} ({self.mode}, window "
                              f"{self.model.window_frames})")  # fmt: skip
        self._check_ranges()

    def _check_ranges(self) -> None:
        """Values the optimiser or a loss would crash on mid-run, or that would silently train
        nothing (a final rate of 0, a motion gap the window cannot hold)."""
        for name in ("lr_pose", "lr_scale", "lr_disc"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be 0 or more, got {getattr(self, name)}")
        if not 0 < self.lr_final_fraction <= 1:
            raise ConfigError(f"lr_final_fraction must be more than 0 and at most 1 (the rate's last fraction; 0 "
                              f"trains nothing after the first step), got {self.lr_final_fraction}")  # fmt: skip
        if not 0 <= self.model.dropout < 1:
            raise ConfigError(f"model.dropout must be from 0 to below 1, got {self.model.dropout}")
        if self.disc_every < 1 or self.pose_steps_per_scale_step < 0:
            raise ConfigError(f"disc_every must be 1 or more and pose_steps_per_scale_step 0 or more, got "
                              f"{self.disc_every}, {self.pose_steps_per_scale_step}")  # fmt: skip
        if self.motion_gap < 1 or self.bone_gap < 1:
            raise ConfigError(f"motion_gap and bone_gap must be 1 frame or more, got {self.motion_gap}, "
                              f"{self.bone_gap}")  # fmt: skip
        if self.mode in ("unsupervised", "ablation", "semi") and self.motion_gap >= self.sample_frames:
            # the motion loss compares frames this far apart in one window: none are, and it was 0
            raise ConfigError(f"motion_gap must be below the training window's {self.sample_frames} frames, got "
                              f"{self.motion_gap}")  # fmt: skip
        if len(self.scale_prior) != 2 or not (self.scale_prior[0] > 0 and self.scale_prior[1] > 0):
            raise ConfigError(f"scale_prior must be [mean, sigma], both above 0, got {list(self.scale_prior)}")
        if not (self.device == "cpu" or self.device == "cuda" or self.device.startswith("cuda:")
                and self.device[5:].isdigit()):  # fmt: skip
            raise ConfigError(f"device must be cpu, cuda or cuda:N, got {self.device!r}")

    @property
    def sample_frames(self) -> int:
        """Frames drawn per training window: :attr:`lifted_frames` and :attr:`window_shift_frames`."""
        return self.lifted_frames + self.window_shift_frames

    @property
    def lifted_frames(self) -> int:
        """Frames of each window the networks see at once: the model's window, or for a single-frame
        model :data:`SINGLE_FRAME_SAMPLE_FRAMES` (it is applied frame by frame; the motion and bone
        losses compare frames of the window)."""
        return self.model.window_frames if self.model.window_frames > 1 else SINGLE_FRAME_SAMPLE_FRAMES

    @property
    def window_shift_frames(self) -> int:
        """Extra frames drawn per training window: with ``weights.w_velocity`` two windows, one frame
        apart, are lifted from one draw (the same noise on the frames they share)."""
        return 1 if self.weights.w_velocity else 0

    def to_dict(self) -> dict:
        return asdict(self)


def subject_id(value: object) -> str:
    """A held-out subject as the loaders name it: CMU's two digits at least (YAML reads ``09`` and
    ``07`` as the numbers 9 and 7, which matched no take: subject 09 was trained on)."""
    text = str(value).strip()
    return text.zfill(2) if text.isdigit() else text


def _build(cls: type, raw: dict[str, Any], where: str) -> Any:  # noqa: ANN401 - a config dataclass
    known = [f.name for f in fields(cls)]
    unknown = [k for k in raw if k not in known]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(key, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(known)}"
        raise ConfigError(f"unknown {where} key {key!r}{hint}")
    hints = typing.get_type_hints(cls)
    values = {k: _typed(v, hints[k], k if where == "config" else f"{where}.{k}") for k, v in raw.items()}
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, PosecastError):
            raise
        raise ConfigError(f"bad {where} value: {exc}") from exc


def _typed(value: Any, hint: Any, name: str) -> Any:  # noqa: ANN401, C901 - a config value, its annotation
    """``value`` as the field's annotation asks (a YAML ``1e-3`` is a string: taken as a number),
    or :class:`ConfigError` naming the field: a wrong type must not crash mid-run or train wrong."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        for option in args:
            try:
                return _typed(value, option, name)
            except ConfigError:
                continue
        raise ConfigError(f"{name} must be {' or '.join(_kind(a) for a in args)}, got {value!r}")
    if hint is type(None):
        if value is None:
            return value
    elif dataclasses.is_dataclass(hint):
        if isinstance(value, (dict, hint)):
            return value
    elif hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        number = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):
            with contextlib.suppress(ValueError):
                number = float(value)
        if number is not None and math.isfinite(number):  # a NaN rate trains nothing, silently
            return number
    elif hint is str:
        if isinstance(value, str):
            return value
    elif origin in (list, tuple):
        variadic = origin is tuple and len(args) == 2 and args[1] is Ellipsis  # tuple[str, ...]: any length
        if isinstance(value, (list, tuple)) and (origin is list or variadic or len(value) == len(args)):
            items = args[:1] * len(value) if origin is list or variadic else args
            if items and items[0] is str:  # names and subject numbers alike: 9 and "09" name subject 09
                return [str(v) if not isinstance(v, str) else v for v in value]
            return origin(_typed(v, a, name) for v, a in zip(value, items, strict=True))
    elif origin is dict:
        if isinstance(value, dict):
            return {str(k): _typed(v, args[1], f"{name}.{k}") for k, v in value.items()}
    else:
        return value  # anything else (an array of bodies) is the dataclass's to check
    raise ConfigError(f"{name} must be {_kind(hint)}, got {value!r}")


def _kind(hint: Any) -> str:  # noqa: ANN401 - an annotation
    """An annotation in words, for a message."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is list:
        return "a list (e.g. [a, b]; one item too: [a])"
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return f"a list of {_kind(args[0]).removeprefix('a ')}s"
    if origin is tuple:  # (QA: "a list of 2 a finite numbers")
        return f"a list of {len(args)} {_kind(args[0]).removeprefix('a ')}s"
    if origin is dict:
        return "a mapping"
    if dataclasses.is_dataclass(hint):
        return "a mapping of its fields"
    return {int: "a whole number", float: "a finite number", str: "text", bool: "true or false",
            type(None): "null"}.get(hint, str(hint))  # fmt: skip


def config_from_dict(raw: dict[str, Any]) -> TrainConfig:
    """A :class:`TrainConfig` from YAML/JSON data; unknown keys raise :class:`ConfigError`
    naming the closest known key."""
    if not isinstance(raw, dict):
        raise ConfigError(f"a training config is a mapping of TrainConfig fields, got {type(raw).__name__}")
    return _build(TrainConfig, dict(raw), "config")


def load_config(path: str | Path) -> TrainConfig:
    import yaml

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config {path} is not text (UTF-8): expected a YAML file of TrainConfig fields") from exc
    except yaml.YAMLError as exc:  # PyYAML's message spans lines, with a caret drawing: where, on one line
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or " ".join(str(exc).split())[:160]
        raise ConfigError(f"config {path} is not valid YAML{where}: {problem}") from exc
    try:
        return config_from_dict(raw)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def shared_dir() -> Path:
    """``$POSECAST_SHARED``, else the ``shared`` folder beside the repository."""
    import os

    env = os.environ.get("POSECAST_SHARED")
    return Path(env) if env else REPO.parent / SHARED_NAME


def resolve_data(entry: str | Path, what: str = "training data") -> Path:
    """A data entry (or a checkpoint, ``what`` says which) → an existing path: as given, else
    relative to the repository, else to the shared folder. Raises :class:`ConfigError` listing
    where it looked."""
    path = Path(entry).expanduser()
    candidates = [path] if path.is_absolute() else [Path.cwd() / path, REPO / path, shared_dir() / path]
    for candidate in candidates:
        if candidate.exists():
            return candidate
    looked = ", ".join(dict.fromkeys(str(c) for c in candidates))  # run from the repository: one place twice
    if what != "training data":
        raise ConfigError(f"{what} {entry!r} not found (looked in {looked})")
    raise ConfigError(
        f"training data {entry!r} not found (looked in {looked}); put the data there (README, Training your own: "
        "where it comes from), set POSECAST_SHARED to the shared folder, or name other data with data: in the "
        "config or --data"
    )


def saved_entry(entry: str | Path, resolved: Path) -> str:
    """A data entry (or checkpoint) as a run's ``config.json`` keeps it: as given where it is
    found from any folder (absolute, or in the repository or the shared folder), else the path it
    was found at (found relative to the folder the run started in, a ``--resume`` started in
    another folder looked for it there and refused the run: review)."""
    path = Path(entry).expanduser()
    if path.is_absolute() or any((base / path).exists() and (base / path).resolve() == resolved.resolve()
                                 for base in (REPO, shared_dir())):  # fmt: skip
        return str(entry)
    return str(resolved.absolute())


def resolve_bf16(setting: str | bool, device: str) -> bool:
    """Whether to autocast to bfloat16: ``"auto"`` decides from the hardware and logs why; a
    forced ``true`` on a CPU without native bf16 is kept, with a warning."""
    if device.startswith("cuda"):
        if setting == "auto":
            log.info("bf16: on (CUDA)")
        return setting in ("auto", True)
    if setting is False:
        return False
    import torch

    capability = torch.backends.cpu.get_cpu_capability()
    flags = _cpu_flags()
    if flags is None:  # no /proc/cpuinfo (not Linux): PyTorch's own check of the instructions
        probe = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
        flags = {"avx512_bf16"} if probe is not None and probe() else set()
    native = (capability.startswith("AVX512") or "AMX" in capability) and bool(flags & {"avx512_bf16", "amx_bf16"})
    detail = f"CPU capability {capability}, bf16 flags {sorted(flags & {'avx512_bf16', 'amx_bf16'})}"
    if setting is True:
        if not native:
            log.warning("bf16: on as the config says, but this CPU has no native bf16 (%s): it is emulated and runs "
                        "many times slower (12-14x measured); bf16: auto decides from the CPU", detail)  # fmt: skip
        return True
    log.info("bf16: %s (%s%s)", "on" if native else "off", detail,
             "" if native else ": no native bf16, it would be emulated and run many times slower")  # fmt: skip
    return native


def _cpu_flags() -> set[str] | None:
    """The CPU's feature flags (a seam the tests replace)."""
    return cpu_flags()

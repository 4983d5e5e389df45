"""Reading training checkpoints safely: ``torch.load(weights_only=True)`` only, so a ``.pt`` file
handed in by anyone can hold tensors, numbers, strings and containers but never run code."""

from __future__ import annotations

import contextlib
import pickle
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import torch

from ..errors import ModelError, PosecastError
from ..networks import PoseGenerator
from .config import config_from_dict


class CheckpointError(ModelError):
    """A checkpoint that is missing, not a posecast checkpoint, or holds more than data."""


def read_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> dict:
    """A trainer checkpoint's dict, loaded with ``weights_only=True`` (tensors, numbers, strings,
    lists, tuples, dicts: what :meth:`Trainer.state_dict` writes). Anything else, such as a pickled
    object whose loading would call code, raises :class:`CheckpointError` without running it."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} not found; pass a trainer checkpoint (runs/NAME/last.pt)")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if found is None:
            raise CheckpointError(f"{path} is not a readable PyTorch checkpoint (unpickling failed)") from exc
        raise CheckpointError(
            f"{path} holds more than tensors and plain data (it asks to call {found.group(1)}); refusing "
            "to load it: only checkpoints written by posecast's trainer are read"
        ) from exc
    except (RuntimeError, EOFError, OSError, ValueError, IndexError) as exc:  # IndexError: random bytes
        raise CheckpointError(f"{path} is not a readable PyTorch checkpoint ({type(exc).__name__}: {exc})") from exc
    # torch does not check the zip's checksums: altered weight bytes (a damaged disk or copy) loaded
    # and trained on without a word (QA); a crash cannot make them, the write being atomic
    with contextlib.suppress(zipfile.BadZipFile, OSError), zipfile.ZipFile(path) as archive:
        if (bad := archive.testzip()) is not None:
            raise CheckpointError(f"{path} is damaged ({bad} fails its checksum): use another checkpoint of the run, "
                                  "or train again")  # fmt: skip
    if not isinstance(state, dict) or "config" not in state or "generator" not in state:
        raise CheckpointError(f"{path} is not a posecast training checkpoint (no config/generator inside)")
    with damaged_checkpoint(path):
        int(state["step"])
    return state


@contextlib.contextmanager
def damaged_checkpoint(path: object) -> Iterator[None]:
    """Inside: a checkpoint that reads but lacks a part or holds a wrong one (a weight missing,
    no optimizer state, a step that is no number) raises :class:`CheckpointError` in one line
    (torch's and Python's errors were tracebacks, in train, export and evaluate)."""
    try:
        yield
    except (KeyError, RuntimeError, ValueError, TypeError, AttributeError) as exc:
        if isinstance(exc, PosecastError):
            raise
        said = " ".join(str(exc).split())[:200]
        raise CheckpointError(f"{path} is a damaged or incomplete training checkpoint ({type(exc).__name__}: "
                              f"{said}); pass a last.pt the trainer wrote, or train again") from None  # fmt: skip


def load_generator(checkpoint: str | Path | dict, device: torch.device | str = "cpu") -> PoseGenerator:
    """The generator of a trainer checkpoint (a path, or its already loaded dict), in eval mode
    (BatchNorm running statistics)."""
    state = checkpoint if isinstance(checkpoint, dict) else read_checkpoint(checkpoint, device)
    with damaged_checkpoint(checkpoint if not isinstance(checkpoint, dict) else "the checkpoint"):
        generator = PoseGenerator(config_from_dict(state["config"]).model).to(device)
        generator.load_state_dict(state["generator"])
    return generator.eval()


def average_checkpoints(states: list[dict]) -> dict:
    """One checkpoint whose generator weights are the mean of ``states``' (a uniform "model soup":
    runs fine-tuned from the same start average into one network that keeps much of each run's
    gains, at no cost at run time). Everything else (config, step, discriminator, optimizers) is
    the first's; integer buffers (BatchNorm's batch count) too. Runs of another architecture are
    refused: their weights do not line up. ``averaged_steps`` records each input's step."""
    if len(states) < 2:
        raise ValueError("average at least two checkpoints")
    first = config_from_dict(states[0]["config"]).model
    for i, state in enumerate(states[1:], start=2):
        model = config_from_dict(state["config"]).model
        if model != first:
            raise CheckpointError(f"checkpoint {i} has model {model}, the first has {first}: only runs of one "
                                  "architecture can be averaged")  # fmt: skip
    averaged = {}
    for key, tensor in states[0]["generator"].items():
        if tensor.is_floating_point():
            averaged[key] = torch.stack([s["generator"][key].float() for s in states]).mean(0).to(tensor.dtype)
        else:
            averaged[key] = tensor
    soup = states[0] | {"generator": averaged, "averaged_steps": [int(s["step"]) for s in states]}
    if all(isinstance(s.get("trained_on"), dict) for s in states):  # (runs before 2026-12-05 have none)
        soup["trained_on"] = merged_trained_on([s["trained_on"] for s in states])
    return soup


def merged_trained_on(records: list[dict]) -> dict:
    """What a soup of runs saw: every source of every run (a count where they agree), so its
    export credits each (QA: a soup of a Bandai-only run and a Bandai + CMU run lost the CMU credit)."""
    clips: dict[str, int | None] = {}
    for record in records:
        for source, count in record.get("clips", {}).items():
            clips[source] = count if clips.get(source, count) == count else None
    listed = {key: sorted({item for record in records for item in record.get(key, [])})
              for key in ("bandai_datasets", "recorded_2d")}  # fmt: skip
    return records[0] | {"clips": clips} | listed

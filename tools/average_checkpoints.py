#!/usr/bin/env python
"""Average the networks of training runs that started from the same weights (a uniform "model
soup") into one checkpoint that ``tools/export.py`` takes.

    python tools/average_checkpoints.py runs/soup/last.pt runs/crouch_planted_deep/last.pt runs/crouch_control/last.pt
    python tools/export.py --int8 runs/soup/last.pt runs/soup/soup.onnx

Two fine-tunes of one model with different augmentations land close enough that their weights
average into a network between them, with no extra cost at run time. Only checkpoints of one
architecture are taken; the inputs are read with ``weights_only`` (no code runs).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import torch
from posecast.engines.errors import ModelError
from posecast.engines.fileio import atomic_path
from posecast.engines.training.checkpoint import average_checkpoints, read_checkpoint

log = logging.getLogger("average_checkpoints")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("output", type=Path, help="the averaged checkpoint (.pt)")
    ap.add_argument("checkpoints", type=Path, nargs="+", help="two or more trainer checkpoints of one architecture")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        _check_output(args.output, args.checkpoints)
        state = average_checkpoints([read_checkpoint(path) for path in args.checkpoints])
    except (ModelError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    state["averaged_from"] = [str(path) for path in args.checkpoints]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.output) as tmp:
        torch.save(state, tmp)
    log.info("averaged %d checkpoints (steps %s) into %s", len(args.checkpoints), state["averaged_steps"], args.output)
    return 0


def _check_output(output: Path, checkpoints: list[Path]) -> None:
    """An earlier average may be replaced, a training run's checkpoint may not: given three runs'
    checkpoints (`a.pt b.pt c.pt`), the first was replaced by the mean of the other two (QA)."""
    order = "the output comes first: average_checkpoints.py OUTPUT CHECKPOINT CHECKPOINT..."
    if not output.exists():
        return
    if any(path.exists() and path.samefile(output) for path in checkpoints):
        raise ValueError(f"the output {output} is also an input; {order}")
    try:
        earlier = read_checkpoint(output) if output.is_file() else {"averaged_from": []}
    except ModelError as exc:  # (it read "X is not a readable checkpoint", not saying X was the output: review)
        raise ValueError(f"the output {output} exists and is not an earlier average ({exc}); {order}") from None
    if "averaged_from" not in earlier:
        raise ValueError(f"the output {output} is a training run's checkpoint, not an earlier average; {order}")


if __name__ == "__main__":
    sys.exit(main())

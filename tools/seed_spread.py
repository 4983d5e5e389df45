#!/usr/bin/env python
"""How much the held-out figures depend on the webcams drawn: a Markdown table from
``tools/evaluate.py`` runs at several ``--seed`` values (labels ``"NAME seed S"``).

    for s in 2021 1 2 3 4 5; do python tools/evaluate.py --seed $s --json eval/results_seeds.json \\
        --model "supervised-current-w384:flip seed $s=supervised-current-w384:flip" --model "flat seed $s=flat"; done
    python tools/seed_spread.py eval/results_seeds.json --reference supervised-current-w384:flip \\
        --markdown eval/results_seeds.md

Each seed films every held-out clip from another random webcam (and draws other 2D noise), so a
figure's spread over seeds is how far one draw of 24 cross-dataset clips can be trusted. Per
model, set and 2D: the mean over seeds, the lowest and highest, and (against ``--reference``,
the first model by default) the mean and range of the paired difference, same seed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from posecast.engines.errors import run_reporting
from posecast.engines.training.config import ConfigError

KEY = re.compile(r"^(?P<name>.+) seed (?P<seed>-?\d+) \[(?P<set>[^/\]]+)/(?P<kind>[^\]]+)\]$")
FIGURES = (("p_mpjpe_mm", "P-MPJPE"), ("mpjpe_mm", "MPJPE"))


def by_model(results: dict[str, dict]) -> dict[tuple[str, str, str], dict[int, dict]]:
    """``{(name, set, kind): {seed: figures}}`` from keys ``"NAME seed S [SET/KIND]"`` (others ignored)."""
    out: dict[tuple[str, str, str], dict[int, dict]] = defaultdict(dict)
    for key, figures in results.items():
        match = KEY.match(key)
        if match:
            out[(match["name"], match["set"], match["kind"])][int(match["seed"])] = figures
    return out


def spread_markdown(results: dict[str, dict], reference: str | None = None) -> str:
    rows = by_model(results)
    if not rows:
        raise ConfigError('no "NAME seed S [SET/KIND]" entries: run tools/evaluate.py with such labels first, e.g. '
                          '--model "NAME seed S=NAME" --seed S')  # fmt: skip
    names = list(dict.fromkeys(name for name, _, _ in rows))
    if reference is not None and reference not in names:  # (tools QA: every difference read "–", unsaid)
        raise ConfigError(f"--reference {reference} is none of the models scored: {', '.join(names)}")
    reference = reference or names[0]
    out = ["| model | set / 2D | seeds | " + " | ".join(f"{label} mean (min–max)" for _, label in FIGURES)
           + f" | P-MPJPE − {reference}, same seed: mean (min–max) |", "|---" * (4 + len(FIGURES)) + "|"]  # fmt: skip
    for (name, set_name, kind), per_seed in rows.items():
        seeds = sorted(per_seed)
        cells = []
        for key, _ in FIGURES:
            values = np.array([per_seed[s][key] for s in seeds])
            cells.append(f"{values.mean():.1f} ({values.min():.1f}–{values.max():.1f})")
        ref = rows.get((reference, set_name, kind), {})
        paired = [per_seed[s]["p_mpjpe_mm"] - ref[s]["p_mpjpe_mm"] for s in seeds if s in ref]
        diff = "–" if name == reference or not paired else (
            f"{np.mean(paired):+.1f} ({min(paired):+.1f} to {max(paired):+.1f})")  # fmt: skip
        out.append(f"| {name} | {set_name} / {kind} | {len(seeds)} | " + " | ".join(cells) + f" | {diff} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", type=Path, help="tools/evaluate.py's JSON with NAME seed S labels")
    ap.add_argument("--reference", help="the model the paired differences are taken against (default: the first)")
    ap.add_argument("--markdown", type=Path, help="write the table here (default: print it)")
    args = ap.parse_args(argv)
    from posecast.engines.fileio import atomic_write, check_outputs

    check_outputs({"--markdown": args.markdown}, {"the results": args.results})  # (tools QA: replaced by the table)
    if not args.results.is_file():
        ap.error(f"{args.results} not found: run tools/evaluate.py --seed S --json {args.results} first")
    try:
        results = json.loads(args.results.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        ap.error(f"{args.results} is not tools/evaluate.py's JSON ({exc})")
    text = spread_markdown(results, args.reference)
    if args.markdown:
        atomic_write(args.markdown, text.encode())
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":  # (tools QA: missing data and bad values were tracebacks)
    sys.exit(run_reporting(main, "seed_spread"))

#!/usr/bin/env python
"""Train posecast's scale + lifting networks with progress bars, resumable checkpoints, a CSV log
(with steps per second) and a PNG of the loss curves.

    python tools/train.py --config tools/configs/final_semi.yaml --out runs/semi
    python tools/train.py --out runs/semi --resume                     # continue after a stop
    python tools/train.py --out runs/x --steps 9000 --resume          # train on further
    python tools/train.py --data my_bvh/ --recorded-2d clips/*.npz --out runs/mine

Data (``data:`` in the config, or ``--data``): BVH folders or .tar.xz archives (Bandai-Namco,
CMU's formats; CMU archives and folders are read by the CMU loader), relative to the repository
or to the shared folder beside it (``$POSECAST_SHARED``). Held out, never trained on: 10 % of
Bandai-Namco clips (by clip), the CMU subjects in ``held_out_subjects:``, and every clip of a
source in ``held_out_sources:`` (e.g. ``[cmu]`` to train on Bandai-Namco only); when none of
these holds anything out (your own clips alone), the last clip, to evaluate on.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from pathlib import Path

import numpy as np
from posecast.engines import metrics
from posecast.engines.errors import run_reporting
from posecast.engines.fileio import atomic_write
from posecast.engines.networks import PoseModel
from posecast.engines.training.checkpoint import read_checkpoint
from posecast.engines.training.config import (
    ConfigError,
    TrainConfig,
    config_from_dict,
    load_config,
    resolve_data,
    saved_entry,
)
from posecast.engines.training.data.dataset import (
    Clip,
    first_clips_of_each_source,
    load_source,
    split_by_subject,
    split_clips,
)
from posecast.engines.training.data.windows import MocapWindowSampler, Recorded2DSampler, SamplerOptions, WindowBatch
from posecast.engines.training.train import Trainer
from posecast.realtime.stop_signals import stop_signals_interrupt

log = logging.getLogger("train")


def split_data(clips: list[Clip], cfg: TrainConfig) -> tuple[list[Clip], dict[str, list[Clip]]]:
    """(training clips, held-out sets by name): ``in_domain`` (held-out Bandai-Namco clips) and
    ``cross`` (held-out CMU subjects and held-out sources)."""
    held_sources = set(cfg.held_out_sources)  # lower case, as compared: a folder's name keeps its own
    unmatched = sorted(held_sources - {c.source.lower() for c in clips})
    if unmatched:  # a misspelt source held out nothing (and the model says it was held out)
        log.warning("held_out_sources %s match no loaded clip (the data's sources: %s): nothing of them is held "
                    "out", unmatched, sorted({c.source for c in clips}))  # fmt: skip
    subjects = {c.subject for c in clips if c.subject}
    unheld = sorted(set(cfg.held_out_subjects) - subjects)
    if unheld:  # (QA: with no subjects in the data at all, nothing was said and the takes were trained on)
        log.warning("held_out_subjects %s match no loaded take (the data's subjects: %s)", unheld,
                    sorted(subjects) or "none: CMU takes have subjects when read from a folder named cmu*")  # fmt: skip
    cross = [c for c in clips if c.source.lower() in held_sources]
    rest = [c for c in clips if c.source.lower() not in held_sources]
    by_subject = [c for c in rest if c.subject]
    no_subject = [c for c in rest if not c.subject]
    train_subj, held_subj = split_by_subject(by_subject, set(cfg.held_out_subjects))
    train_clip, held_clip = split_clips(no_subject)
    return train_clip + train_subj, {"in_domain": held_clip, "cross": cross + held_subj}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, help="YAML with TrainConfig fields (model:, weights: nested)")
    ap.add_argument("--data", nargs="*", help="motion sources, replacing the config's data:")
    ap.add_argument("--recorded-2d", nargs="*", help="2D sequences (.npz, lift input format), adding to the config's")
    ap.add_argument("--out", type=Path, required=True, help="run folder: checkpoints, log.csv, losses.png")
    ap.add_argument("--resume", action="store_true", help="continue from OUT/last.pt with OUT/config.json")
    ap.add_argument("--steps", type=int, help="train to this step (with --resume: past the checkpoint's step)")
    ap.add_argument("--mode", choices=["unsupervised", "ablation", "supervised", "semi", "distill"])
    ap.add_argument("--teacher", help="distill mode: the teacher's checkpoint (e.g. runs/unsupervised/last.pt)")
    ap.add_argument("--window", type=int, help="window frames T")
    ap.add_argument("--device", default=None, help="cpu or cuda")
    ap.add_argument("--max-clips", type=int,
                    help="use only this many clips, taken in turn from each source (tiny runs, CI; kept for --resume)")
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    def how_to_go_on() -> str:
        if not (args.out / "config.json").is_file():  # stopped while the data loaded (QA: --resume then failed)
            return "nothing was saved yet: run the same command again"
        return (f"continue with: python tools/train.py --out {args.out} --resume (from the last checkpoint; before "
                "the first, from the start with the same config)")  # fmt: skip

    with stop_signals_interrupt():  # SIGTERM (a job scheduler) and SIGHUP end it as Ctrl-C does, saying how to go on
        return run_reporting(lambda: _run_leaving_no_empty_folder(args), "train", interrupted=how_to_go_on)


def _run_leaving_no_empty_folder(args: argparse.Namespace) -> int:
    """:func:`run`; a run refused or stopped before it wrote anything takes back the ``--out``
    folder it made (QA: refused runs left empty run folders behind)."""
    made = not args.out.exists()
    try:
        return run(args)
    except BaseException:
        with contextlib.suppress(OSError):
            if made and args.out.is_dir() and not any(args.out.iterdir()):
                args.out.rmdir()
        raise


def _check_arguments(args: argparse.Namespace) -> None:
    """What can be refused before any data loads (one line each, exit 2)."""
    if args.out.exists() and not args.out.is_dir():
        raise ConfigError(f"--out {args.out} is a file: pass a run folder")
    if args.resume and not (args.out / "config.json").is_file():
        raise ConfigError(f"nothing to resume in {args.out} (no config.json): check --out, or start without --resume")
    if args.resume and args.config is not None:  # the run's own config.json is what it continues with
        raise ConfigError("--config does not apply with --resume (the run continues with its own config.json): "
                          "drop --config, or start a new run in another --out")  # fmt: skip
    if not args.resume and ((args.out / "last.pt").is_file() or (args.out / "log.csv").is_file()):
        raise ConfigError(f"{args.out} holds a run already: pass --resume to continue it, or another --out (starting "
                          "again there would replace its checkpoint and log)")  # fmt: skip
    if args.eval_every < 1:
        raise ConfigError(f"--eval-every must be 1 step or more, got {args.eval_every}")
    if args.window is not None and args.window < 1:
        raise ConfigError(f"--window must be 1 or more frames, got {args.window}")
    if args.device is not None:
        import torch

        try:
            device = torch.device(args.device)
        except RuntimeError as exc:
            raise ConfigError(f"--device must be cpu or cuda, got {args.device!r}") from exc
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError("--device cuda: this PyTorch sees no CUDA GPU; train with --device cpu")


def _names_mode(config: Path) -> bool:
    """Whether the config file itself sets ``mode:`` (``load_config`` fills in the default)."""
    import yaml

    with contextlib.suppress(OSError, ValueError, yaml.YAMLError):  # (read once already: load_config said why not)
        raw = yaml.safe_load(Path(config).read_text())
        return isinstance(raw, dict) and "mode" in raw
    return False


def run(args: argparse.Namespace) -> int:
    _check_arguments(args)
    saved = args.out / "config.json"
    mode_named = args.mode is not None
    if args.resume:
        try:
            raw = json.loads(saved.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read {saved} to resume ({exc}): the run folder is damaged") from exc
        # what shapes the networks and their training stays the run's (QA: --mode semi on a supervised
        # run's checkpoint was "a damaged or incomplete training checkpoint ... train again")
        if args.mode is not None and args.mode != raw.get("mode", args.mode):
            raise ConfigError(f"--resume continues the run as it was trained, mode {raw['mode']}: drop --mode "
                              f"{args.mode}, or start a new run in another --out with init: {args.out / 'last.pt'}")
        if args.window is not None and args.window != raw.get("model", {}).get("window_frames", args.window):
            raise ConfigError(f"--resume continues the run's networks, of {raw['model']['window_frames']} frames: "
                              f"drop --window {args.window}, or start a new run in another --out")  # fmt: skip
    elif args.config:
        raw = load_config(args.config).to_dict()
        mode_named = mode_named or _names_mode(args.config)
    else:
        raw = {}
    for key in ("steps", "mode", "device", "teacher", "max_clips"):
        if getattr(args, key) is not None:
            raw[key] = getattr(args, key)
    if args.window is not None:
        raw.setdefault("model", {})["window_frames"] = args.window
    if args.data is not None:
        raw["data"] = args.data
    if args.recorded_2d:
        raw["recorded_2d"] = list(raw.get("recorded_2d", [])) + args.recorded_2d
    cfg = config_from_dict(raw)
    sources = [resolve_data(entry) for entry in cfg.data]  # fail before any work when data is missing
    recorded = [resolve_data(entry) for entry in cfg.recorded_2d]
    if not sources and not recorded:
        raise ConfigError("no training data: name motion data with --data or data: in the config")
    if recorded and cfg.mode == "supervised":
        raise ConfigError("recorded 2D has no 3D: it cannot train the supervised reference (use mode semi)")
    if not mode_named and not args.resume:  # (QA: --data alone, or a config without mode:, trained unsaid)
        log.info("mode %s (the default): the motion data's 3D is not used, only its 2D; --mode supervised or semi "
                 "learns from the 3D too", cfg.mode)  # fmt: skip
    resuming = args.resume and (args.out / "last.pt").is_file()
    data_seed = cfg.seed
    if resuming:  # refused before the saved config changes or any data loads
        reached = int(read_checkpoint(args.out / "last.pt")["step"])
        # the windows drawn from here on: seeded by the step too (with the run's own seed they
        # were those of step 1 on again), though not the ones the uninterrupted run would have drawn
        data_seed = int(np.random.SeedSequence([cfg.seed, reached]).generate_state(1)[0])
        if reached >= cfg.steps:
            raise ConfigError(f"the run in {args.out} is at step {reached} already: pass --steps above it to "
                              "train further")  # fmt: skip
    if cfg.teacher is not None:  # before any data loads, and as the trainer will open it
        cfg.teacher = str(resolve_data(cfg.teacher, "teacher checkpoint"))
    # a resumed run has its networks already; found before any data loads
    init = resolve_data(cfg.init, "init checkpoint") if cfg.init is not None and not resuming else None
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # /proc/run, a file on the way: a traceback before
        raise ConfigError(f"cannot make the run folder {args.out} ({exc.strerror}): pass --out a folder you can "
                          "write") from exc  # fmt: skip

    options = SamplerOptions(window_frames=cfg.sample_frames, body=cfg.body, framing=cfg.framing)
    clips = [c for src in sources for c in load_source(src, progress=not args.no_progress and sys.stderr.isatty())]
    if cfg.max_clips:
        clips = first_clips_of_each_source(clips, cfg.max_clips)
    train_clips, held_out = split_data(clips, cfg)
    if not held_out["in_domain"] and not held_out["cross"]:  # tiny subsets: evaluate on something unseen
        train_clips, held_out["in_domain"] = train_clips[:-1], train_clips[-1:]
    log.info("clips: %d train (%d frames); held out: %d in-domain, %d cross-dataset/subject", len(train_clips),
             sum(len(c.joints_m) for c in train_clips), len(held_out["in_domain"]), len(held_out["cross"]))  # fmt: skip
    samplers = []
    if train_clips:
        samplers.append(mocap_sampler(train_clips, options, cfg, data_seed))
    if recorded:
        samplers.append(Recorded2DSampler(recorded, options, seed=data_seed))
    if not samplers:
        raise ConfigError("nothing to train on: every clip is held out (a run of one clip keeps it to evaluate on) "
                          "and no recorded 2D was given: give more clips")  # fmt: skip
    rng = np.random.default_rng(data_seed)

    def sample(batch: int):  # noqa: ANN202 - recorded 2D batches in their share, mocap otherwise
        if len(samplers) == 1:
            return samplers[0].sample(batch)
        return samplers[int(rng.random() < cfg.recorded_2d_share)].sample(batch)

    evaluators = {name: make_quick_eval(held, cfg.lifted_frames) for name, held in held_out.items() if held}

    def evaluate(generator) -> dict[str, float]:  # noqa: ANN001
        row = {}
        for name, fn in evaluators.items():
            row.update({k.replace("eval_", f"eval_{name}_"): v for k, v in fn(generator).items()})
        return row

    trainer = Trainer(cfg, args.out)
    trainer.trained_on = trained_on(train_clips, recorded)
    if resuming:
        trainer.load_checkpoint(args.out / "last.pt")
        log.info("resumed at step %d", trainer.step)
    elif args.resume:
        log.info("no checkpoint in %s yet: training again from step 0 with its config", args.out)
    if init is not None:
        steps_there = trainer.init_from(init)
        if str(init).endswith(".adapt.npz"):  # an exported model's weights: its file keeps no step count
            log.info("networks from %s (an exported model's weights)", cfg.init)
        else:
            log.info("networks from %s (trained %d steps there)", cfg.init, steps_there)
    # kept so that a --resume started from another folder finds the same files
    cfg.data = [saved_entry(entry, path) for entry, path in zip(cfg.data, sources, strict=True)]
    cfg.recorded_2d = [saved_entry(entry, path) for entry, path in zip(cfg.recorded_2d, recorded, strict=True)]
    if init is not None:
        cfg.init = saved_entry(cfg.init, init)
    # the config goes in only now: a command refused above (a --window or --data the checkpoint or
    # the data refuses) left it in config.json, and no later --resume could continue (QA)
    atomic_write(saved, json.dumps(cfg.to_dict(), indent=2).encode())
    trainer.fit(sample, evaluate, eval_every=args.eval_every, progress=not args.no_progress and sys.stderr.isatty())
    log.info("done: %s", args.out / "last.pt")
    return 0


def trained_on(clips: list[Clip], recorded: list[Path]) -> dict:
    """What the checkpoint says the run trained on (``Trainer.trained_on``): the clips by
    source, Bandai-Namco's datasets by their clips' names, the recorded 2D files."""
    sources: dict[str, int] = {}
    for clip in clips:
        sources[clip.source] = sources.get(clip.source, 0) + 1
    bandai = sorted({c.name.split("_", 1)[0] for c in clips if c.source == "bandai-namco"})
    return {"clips": sources, "bandai_datasets": bandai, "recorded_2d": [p.name for p in recorded]}


class _MixedSampler:
    """Every batch drawn from several motion sources in fixed shares (one batch, mixed rows, so
    batch norm sees the mixture too)."""

    def __init__(self, samplers: dict[str, MocapWindowSampler], shares: dict[str, float], seed: int) -> None:
        self.samplers, self.rng = samplers, np.random.default_rng(seed)
        total = sum(shares.values())
        self.shares = {k: shares[k] / total for k in samplers}

    def sample(self, batch: int) -> WindowBatch:
        counts = self.rng.multinomial(batch, list(self.shares.values()))
        parts = [self.samplers[k].sample(int(n)) for k, n in zip(self.shares, counts, strict=True) if n > 0]
        return WindowBatch.concatenate(parts)


def mocap_sampler(clips: list[Clip], options: SamplerOptions, cfg: TrainConfig, seed: int):  # noqa: ANN201
    """One sampler over all clips, or with ``cfg.source_shares`` one per source, mixed per batch."""
    if not cfg.source_shares:
        return MocapWindowSampler(clips, options, seed=seed)
    by_source: dict[str, list[Clip]] = {}
    for clip in clips:
        by_source.setdefault(clip.source, []).append(clip)
    missing = sorted(set(by_source) - set(cfg.source_shares))
    if missing:
        raise ConfigError(f"source_shares names {sorted(cfg.source_shares)} but training also has {missing}; "
                          "give every training source a share")  # fmt: skip
    samplers = {
        k: MocapWindowSampler(v, options, seed=seed + i) for i, (k, v) in enumerate(sorted(by_source.items()))
    }
    unused = sorted(set(cfg.source_shares) - set(by_source))
    if unused:  # their share went to the others without a word
        log.warning("source_shares gives %s a share, but no clip of %s is left to train on: its batches go to %s",
                    ", ".join(unused), " or ".join(unused), ", ".join(sorted(by_source)))  # fmt: skip
    log.info("batch shares: %s", {k: cfg.source_shares[k] for k in samplers})
    return _MixedSampler(samplers, {k: cfg.source_shares[k] for k in samplers}, seed)


def make_quick_eval(held_out: list[Clip], window_frames: int, windows: int = 2048):  # noqa: ANN201
    """A fixed held-out batch (ground-truth 2D): N-MPJPE and P-MPJPE in mm, for the log only."""
    import torch

    eval_options = SamplerOptions(window_frames=window_frames, noise=False, body=None)
    sampler = MocapWindowSampler(held_out, eval_options, seed=123)
    rows = np.random.default_rng(7).integers(0, len(sampler), windows)
    batch = sampler.make_batch(rows, np.random.default_rng(8), augment=False, noise=False)
    gt = batch.joints_cam_m[:, -1].astype(np.float64)
    keypoints = torch.from_numpy(batch.keypoints_norm)

    def evaluate(generator) -> dict[str, float]:  # noqa: ANN001
        with torch.no_grad():  # the exported graph's own maths: canonicalize → lift → camera axes
            joints, scale = PoseModel(generator)(keypoints)
        pred = joints.double().numpy()
        return {
            "eval_n_mpjpe_mm": float(metrics.n_mpjpe(pred, gt).mean() * 1000),
            "eval_p_mpjpe_mm": float(metrics.p_mpjpe(pred, gt).mean() * 1000),
            "eval_scale": float(scale.mean()),
        }

    return evaluate


if __name__ == "__main__":
    sys.exit(main())

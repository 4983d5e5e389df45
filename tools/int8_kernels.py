#!/usr/bin/env python
"""Does a CPU without VNNI change what the INT8 lifter says? The same windows, scored twice.

    python tools/int8_kernels.py --model supervised-current-w384 --sets cross --cpu Haswell \\
        --json eval/int8_kernels.json

ONNX Runtime picks its integer kernels by CPU: with AVX-512 VNNI (or AVX-VNNI) an exact int32
dot product; with AVX2 alone ``vpmaddubsw``, which adds two uint8 × int8 products into an int16
that saturates (ONNX Runtime's quantisation docs suggest ``reduce_range`` for it). posecast
ships its INT8 copies made with ``quantize_dynamic`` as they are, so this measures whether the
saturation costs anything. ``tools/evaluate.py`` scores ``NAME:int8`` and ``NAME:int8+flip``
here, recording every batch of windows and the answers; the INT8 model is then run on the same
windows in ``qemu-x86_64 -cpu CPU`` (user-mode emulation of a CPU without VNNI: Debian's
``qemu-user``), and the same evaluation is scored with those answers. The JSON holds both sets of
figures, the largest and the mean difference between the answers (metres at the model's
10 m camera distance: the lifter's units), and the CPU capabilities each side saw.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from posecast.engines.errors import run_reporting
from posecast.engines.fileio import atomic_write, check_outputs

sys.path.insert(0, str(Path(__file__).resolve().parent))
import evaluate  # noqa: E402

log = logging.getLogger("int8_kernels")


def record_or_replay(calls: list, replay: list[tuple[np.ndarray, np.ndarray]] | None):  # noqa: ANN201
    """A stand-in for ``evaluate._network_predictor``: the real predictor, its windows and answers
    appended to ``calls``; or, with ``replay`` (``(windows, answers)`` per call), the stored answers
    in call order, each call checked to ask for exactly the windows recorded."""
    network_predictor = evaluate._network_predictor

    def factory(path: str, int8: bool):  # noqa: ANN202
        predict, window_frames = network_predictor(path, int8)

        def recorded(windows: np.ndarray) -> np.ndarray:
            if replay is None:
                calls.append((windows.copy(), predict(windows)))
                return calls[-1][1]
            recorded, answer = replay[len(calls)]
            if not np.array_equal(recorded, windows):
                raise SystemExit("the replayed evaluation asked for other windows than the recorded one")
            calls.append(None)
            return answer

        return recorded, window_frames

    return factory


def scored(model: str, sets: str, calls: list, replay: list[tuple[np.ndarray, np.ndarray]] | None,
           json_path: Path) -> dict:  # fmt: skip
    """``tools/evaluate.py``'s figures for ``model:int8`` and ``model:int8+flip`` (recording or replaying)."""
    evaluate._network_predictor = record_or_replay(calls, replay)
    argv = ["--sets", sets, "--json", str(json_path)]
    for variant in ("int8", "int8+flip"):
        argv += ["--model", f"{model}:{variant}={model}:{variant}"]
    if evaluate.main(argv) != 0:
        raise SystemExit("tools/evaluate.py failed")
    return json.loads(json_path.read_text())


def rerun(model_path: Path, windows_npz: Path, answers_npz: Path) -> None:
    """Run the INT8 model on every recorded batch whole (dynamic quantisation scales each call's
    activations by their own range: a batch split would change the answers), in whatever CPU this
    process sees, one thread."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    recorded = np.load(windows_npz)
    answers = {}
    for i in range(int(recorded["calls"])):
        windows = recorded[f"windows{i}"]
        answers[f"answers{i}"] = session.run(["joints_3d"], {"keypoints_norm": windows})[0]
    np.savez(answers_npz, **answers)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="supervised-current-w384", help="a shipped model with an INT8 copy")
    ap.add_argument("--sets", default="cross", help="tools/evaluate.py's sets, comma-separated")
    ap.add_argument("--cpu", default="Haswell", help="qemu's CPU model (qemu-x86_64 -cpu help): one without VNNI")
    ap.add_argument("--json", type=Path, required=True)
    ap.add_argument("--features", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--rerun", nargs=3, type=Path, metavar=("MODEL", "WINDOWS", "ANSWERS"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.features:  # the emulated half: what CPU it sees
        print(json.dumps(cpu_features()))
        return 0
    if args.rerun:  # the emulated half: no posecast import beyond this file's
        rerun(*args.rerun)
        return 0
    return run_reporting(lambda: run(args), "int8_kernels")


def run(args: argparse.Namespace) -> int:
    check_outputs({"--json": args.json})
    qemu = shutil.which("qemu-x86_64")
    if qemu is None:
        raise SystemExit("qemu-x86_64 not found: apt-get install qemu-user (it emulates the CPU without VNNI)")
    from posecast.engines.runtime.base import resolve_model
    from posecast.engines.runtime.quantize import shipped_int8

    int8_path = shipped_int8(resolve_model(args.model))
    if int8_path is None:
        raise SystemExit(f"{args.model} ships no INT8 copy: pass a shipped model that does")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        calls: list = []
        here = scored(args.model, args.sets, calls, None, tmp / "here.json")
        windows = tmp / "windows.npz"
        np.savez(windows, calls=len(calls), **{f"windows{i}": w for i, (w, _) in enumerate(calls)})
        log.info("re-running %d batches (%d windows) under qemu-x86_64 -cpu %s", len(calls),
                 sum(len(w) for w, _ in calls), args.cpu)  # fmt: skip
        emulated_features = json.loads(subprocess.run(
            [qemu, "-cpu", args.cpu, sys.executable, __file__, "--json", str(tmp / "unused.json"), "--features"],
            check=True, capture_output=True, text=True).stdout)  # fmt: skip
        answers_path = tmp / "answers.npz"
        subprocess.run([qemu, "-cpu", args.cpu, sys.executable, __file__, "--json", str(tmp / "unused.json"),
                        "--rerun", str(int8_path), str(windows), str(answers_path)],
                       check=True, stderr=subprocess.DEVNULL)  # fmt: skip
        answers = np.load(answers_path)
        emulated = [answers[f"answers{i}"] for i in range(len(calls))]
        pairs = zip(emulated, calls, strict=True)
        gaps = np.concatenate([np.linalg.norm(e - a, axis=-1).ravel() for e, (_, a) in pairs])
        there = scored(args.model, args.sets, [], [(w, e) for (w, _), e in zip(calls, emulated, strict=True)],
                       tmp / "there.json")  # fmt: skip
    report = {
        "model": args.model, "int8_file": int8_path.name, "sets": args.sets,
        "this_cpu_features": cpu_features(), "emulated_cpu": args.cpu, "emulated_cpu_features": emulated_features,
        "windows": int(sum(len(w) for w, _ in calls)),
        "answer_difference_max": float(gaps.max()), "answer_difference_mean": float(gaps.mean()),
        "this_cpu_figures": here, "emulated_cpu_figures": there,
    }  # fmt: skip
    for key, figures in here.items():
        other = there[key]
        log.info("%-56s P-MPJPE %5.1f → %5.1f  MPJPE %5.1f → %5.1f mm (this CPU → %s)", key, figures["p_mpjpe_mm"],
                 other["p_mpjpe_mm"], figures["mpjpe_mm"], other["mpjpe_mm"], args.cpu)  # fmt: skip
    log.info("answers differ by %.4f at most, %.5f on average (the lifter's units)", gaps.max(), gaps.mean())
    atomic_write(args.json, json.dumps(report, indent=2).encode())
    return 0


def cpu_features() -> dict[str, bool]:
    """The CPU features that choose ONNX Runtime's integer kernels, as numpy's CPUID check sees
    them (so also inside qemu, whose /proc/cpuinfo is the host's)."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # numpy < 2
        from numpy.core._multiarray_umath import __cpu_features__ as features
    return {name: bool(features.get(name, False)) for name in ("AVX2", "AVX512F", "AVX512VNNI", "AVX512_VNNI")
            if name in features}  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())

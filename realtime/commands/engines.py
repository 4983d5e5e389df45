"""``posecast engines info|build|bench``: inspect, prebuild and time the runtime backends."""

from __future__ import annotations

import argparse
import contextlib
import logging
import shlex
from pathlib import Path

from ...engines.cli_args import output_file_ending
from ...engines.errors import BackendError, escaped
from ...engines.fileio import check_outputs, write_together
from ...engines.runtime import BACKENDS, availability, backend_accepts, load_backend
from ...engines.runtime.base import USE_ONNXRUNTIME, model_files, resolve_model
from ...engines.runtime.quantize import int8_by_default
from ..stop_signals import stop_signals_deferred
from .arguments import warn_unused_options

#: The largest batch `engines bench` takes: the live pipeline lifts at most 16 windows at once (8
#: people, each with its mirror image); 100,000 ran for minutes and told nothing more
MAX_BENCH_BATCH = 1024

#: The most timed (or warm-up) calls ``engines bench`` makes per batch size: 100,000 take minutes.
MAX_ITERS = 100_000
log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``engines`` command group to the ``posecast`` parser."""
    engines = subparsers.add_parser("engines", help="inspect, build and benchmark inference backends")
    sub = engines.add_subparsers(dest="engines_command", required=True, metavar="SUBCOMMAND")

    info = sub.add_parser("info", help="model metadata and which backends work here")
    _model_arg(info)
    info.set_defaults(func=_info)

    build = sub.add_parser("build", help="build and cache an engine (TensorRT plan or INT8 model)")
    _model_arg(build)
    build.add_argument("--backend", choices=("tensorrt", "onnxruntime"), default=None,
                       help="tensorrt: a GPU engine plan; onnxruntime: the INT8 copy, its one build (default: "
                            "onnxruntime with --int8, else tensorrt)")  # fmt: skip
    build.add_argument("--int8", action="store_true", help="the INT8 quantised copy (implies --backend onnxruntime)")
    # tensorrt's options default to None so that one given with --backend onnxruntime is refused
    build.add_argument("--max-batch", type=int, help="tensorrt: largest batch (default 16)")
    build.add_argument("--precision", choices=("fp16", "fp32"), help="tensorrt precision (default fp16)")
    build.add_argument("--workspace-mib", type=int, help="tensorrt builder workspace (default 512)")
    build.set_defaults(func=_build)

    bench = sub.add_parser("bench", help="p50/p99 latency per backend and batch size")
    bench.add_argument("--model", action="append", default=None, metavar="NAME|PATH",
                       help="a shipped model's name or an exported .onnx (default: the shipped default); repeat it "
                            "to compare models in one run (in turn within each batch size)")  # fmt: skip
    bench.add_argument("--backend", default="auto", choices=("auto", *BACKENDS, "all"),  # registered by now
                       help="auto: the one `posecast run` would pick; all: every backend usable here "
                            "(the others are listed as skipped, with the reason)")  # fmt: skip
    bench.add_argument("--batch", default="1,4,16", help="comma-separated batch sizes (default 1,4,16)")
    bench.add_argument("--iters", type=int, default=200, help="timed calls per batch size")
    bench.add_argument("--warmup", type=int, default=20, help="untimed calls first")
    bench.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads, 1 to 4 per core")
    bench.add_argument("--int8", action=argparse.BooleanOptionalAction, default=None,
                       help="onnxruntime: the INT8 quantised copy (default: as `posecast run`, i.e. when the "
                            "model ships with one)")  # fmt: skip
    bench.add_argument("--max-batch", type=int, default=None, help="tensorrt: largest batch (default: largest --batch)")
    bench.add_argument("--json", type=output_file_ending(".json"), help="write the records as JSON here")
    bench.add_argument("--markdown", type=output_file_ending(".md", ".markdown"), help="write a Markdown table here")
    bench.set_defaults(func=_bench)
    return engines


def _model_arg(parser: argparse.ArgumentParser) -> None:
    # a string: a shipped model's name (resolve_model) or a path
    parser.add_argument("--model", default=None, metavar="NAME|PATH",
                        help="a shipped model's name or an exported .onnx (default: the shipped default)")  # fmt: skip


def _info(args: argparse.Namespace) -> int:
    from ...engines.metadata import read_onnx_metadata

    path = resolve_model(args.model)
    meta = read_onnx_metadata(path)
    print(escaped(f"model: {path} ({path.stat().st_size / 1e6:.1f} MB)"))
    print(meta.to_json())
    print("backends:")
    for name, (ok, why) in availability().items():
        print(f"  {name:12s} {'yes' if ok else 'no '}  {why}")
    return 0


def _build(args: argparse.Namespace) -> int:
    tensorrt_only = {"--max-batch": args.max_batch, "--precision": args.precision,
                     "--workspace-mib": args.workspace_mib}  # fmt: skip
    given = [name for name, value in tensorrt_only.items() if value is not None]
    if args.backend is None:  # --int8 has one meaning: the onnxruntime copy
        args.backend = "onnxruntime" if args.int8 else "tensorrt"
    if args.backend == "onnxruntime" and given:
        raise BackendError(f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} for --backend tensorrt: "
                           f"drop {'it' if len(given) == 1 else 'them'} for the onnxruntime INT8 copy")  # fmt: skip
    max_batch = 16 if args.max_batch is None else args.max_batch
    if max_batch < 1:  # its upper bound is TensorRT's (the backend says it)
        raise BackendError(f"--max-batch must be 1 or more, got {max_batch}")
    path = resolve_model(args.model)
    # onnxruntime runs the float model as it is: its one build is the INT8 copy, --int8 or not
    # (it had said "needs no build step" and exited 0 having built nothing)
    if args.backend == "onnxruntime":
        from ...engines.runtime.quantize import cached_int8, shipped_int8

        built = cached_int8(path, rebuild=True)
        shipped = shipped_int8(path)  # what run, lift and bench use before any cached copy
        used = "" if shipped is None else f" (run, lift and bench use the copy shipped beside the model, {shipped})"
        print(escaped(f"INT8 model: {built}{used}"))
        return 0
    if args.int8:
        raise BackendError("--int8 is for --backend onnxruntime; TensorRT INT8 needs a Q/DQ graph, not supported")
    workspace_mib = 512 if args.workspace_mib is None else args.workspace_mib
    try:
        with load_backend("tensorrt", path, precision=args.precision or "fp16", max_batch=max_batch,
                          workspace_mib=workspace_mib) as backend:  # fmt: skip
            print(f"TensorRT engine ready on {backend.device}")
    except BackendError as exc:  # (QA: "--backend onnxruntime" built nothing: onnxruntime's one build is INT8)
        if not str(exc).endswith(USE_ONNXRUNTIME):
            raise
        build = "posecast engines build --int8" + ("" if args.model is None else f" --model {shlex.quote(args.model)}")
        raise BackendError(f"{str(exc).removesuffix(USE_ONNXRUNTIME)}; onnxruntime runs the model as it is, and "
                           f"its one build is the INT8 copy: `{build}`") from exc
    return 0


#: A p99 more than this many times the p50 is reported as measured on a busy machine (on a quiet
#: one batch 1 gives 1.5-2.5x; 33x was measured while two training runs shared the 2 cores).
NOISY_TAIL_RATIO = 5.0


def _bench(args: argparse.Namespace) -> int:
    from ...engines.runtime import bench

    batches = _parse_batches(args.batch)
    # bounded as `posecast bench` bounds its counts (QA: 10^10 timed calls asked for 74.5 GiB of timings, a traceback)
    if not (1 <= args.iters <= MAX_ITERS and 0 <= args.warmup <= MAX_ITERS):
        raise BackendError(f"--iters must be 1..{MAX_ITERS:,} and --warmup 0..{MAX_ITERS:,}, got {args.iters} and "
                           f"{args.warmup}")  # fmt: skip
    if args.max_batch is not None and args.backend == "onnxruntime":  # (QA: checked against --batch all the same)
        raise BackendError("--max-batch is for --backend tensorrt (or all): drop it for onnxruntime")
    if args.max_batch is not None and args.max_batch < max(batches):
        raise BackendError(f"--max-batch must be at least the largest --batch ({max(batches)}), got {args.max_batch}")
    # (QA: --model A --model B measured B alone, without a word)
    models = {str(resolve_model(model)): model for model in (args.model or [None])}  # (one given twice: once)
    check_outputs({"--json": args.json, "--markdown": args.markdown},
                  {k: v for path, model in models.items()
                   for k, v in model_files(path, f"--model {model or Path(path).name}").items()})  # fmt: skip
    warn_unused_options(args)
    if args.backend == "all":  # every backend, in the registry's order: measured, or skipped with the reason
        plan = {name: None if ok else why for name, (ok, why) in availability().items()}
    else:
        plan = {args.backend: None}
    records = []
    for name, skip_reason in plan.items():
        records += _bench_backend(args, name, skip_reason, models, batches)
    table = bench.to_markdown(records)
    print(table, end="")
    warn_noisy_tails(records)
    for backend, reason in dict.fromkeys((r.backend, r.reason) for r in records if r.status == bench.SKIPPED):
        print(f"skipped {backend}: {reason}")  # (once, whatever the models)
    files = {} if args.markdown is None else {args.markdown: table.encode()}
    if args.json is not None:
        files[args.json] = bench.json_bytes(records)
    with stop_signals_deferred():  # both or neither (QA: --markdown on a full disk, --json replaced all the same)
        write_together(files)
    return 0


def _bench_backend(args: argparse.Namespace, name: str, skip_reason: str | None, models: dict[str, str | None],
                   batches: tuple[int, ...]) -> list:  # fmt: skip
    """``engines bench``'s records of backend ``name`` (skipped for ``skip_reason``, when not
    ``None``) for each of ``models`` (file → as given): batch size by batch size, the models one
    after another within each, so that a machine getting busier meanwhile slows them alike."""
    from ...engines.runtime import bench

    if skip_reason is not None:
        return [bench.skipped(name, skip_reason, path) for path in models]
    records = []
    with contextlib.ExitStack() as stack:
        backends = [stack.enter_context(load_backend(name, model, **_backend_options(args, name, Path(path), batches)))
                    for path, model in models.items()]  # fmt: skip
        for backend in backends:
            log.info("benchmarking %s on %s", backend.name, backend.device)
        if args.max_batch is not None and backends[0].name != "tensorrt":  # "auto" chose another (review)
            log.warning("--max-batch %d is for tensorrt, and --backend %s runs %s here: it does nothing",
                        args.max_batch, name, backends[0].name)  # fmt: skip
        for batch in batches:
            for backend in backends:
                records += bench.benchmark(backend, (batch,), iters=args.iters, warmup=args.warmup)
    return records


def _backend_options(args: argparse.Namespace, name: str, model_path: Path, batches: tuple[int, ...]) -> dict:
    """The options ``engines bench`` gives backend ``name`` for ``model_path``."""
    int8 = int8_by_default(model_path) if args.int8 is None else args.int8
    options = {
        "onnxruntime": {"threads": args.threads, "int8": int8},
        "tensorrt": {"max_batch": args.max_batch or max(batches)},
    }
    # "auto" hands every backend's options on; load_backend gives each only the ones it takes
    if name == "auto":
        return {k: v for opts in options.values() for k, v in opts.items()}
    if name in options:
        return options[name]
    # a backend added to BACKENDS: the CPU options its constructor takes (QA: --threads was not passed)
    return {k: v for k, v in options["onnxruntime"].items() if backend_accepts(name, k)}


def warn_noisy_tails(records: list) -> None:
    """One warning per measured record whose p99 is more than :data:`NOISY_TAIL_RATIO` times its
    p50: other processes took the CPU (QA: 33x on a busy machine, and nothing said so)."""
    from ...engines.runtime import bench

    for record in records:
        if record.status == bench.MEASURED and record.p99_ms > NOISY_TAIL_RATIO * record.p50_ms:
            log.warning("%s batch %d: p99 %.3g ms is %.0fx its p50 %.3g ms: other processes took the CPU while it "
                        "measured; compare medians, or run it again on a quiet machine", record.backend, record.batch,
                        record.p99_ms, record.p99_ms / record.p50_ms, record.p50_ms)  # fmt: skip


def _parse_batches(text: str) -> tuple[int, ...]:
    try:
        batches = tuple(int(b) for b in text.split(","))
    except ValueError:
        batches = ()
    if not batches or min(batches) < 1 or max(batches) > MAX_BENCH_BATCH:
        raise BackendError(f"--batch must be comma-separated integers from 1 to {MAX_BENCH_BATCH} like 1,4,16, "
                           f"got {text!r}")  # fmt: skip
    return batches

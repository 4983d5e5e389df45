"""Benchmark records and the ``posecast engines`` commands on a small exported model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from posecast.engines import metadata
from posecast.engines.networks import ModelConfig, PoseGenerator, PoseModel
from posecast.engines.runtime import OnnxRuntimeBackend, availability, bench, cuda_device_available
from posecast.engines.training import export
from posecast.realtime.cli import main

REQUIRED = {"backend", "batch", "p50_ms", "p99_ms", "p50_ms_per_frame", "device", "host", "date"}


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    cfg = ModelConfig(window_frames=9, width=64, blocks=1)
    path = tmp_path_factory.mktemp("bench") / "small.onnx"
    meta = metadata.ModelMetadata(window_frames=9, extra={"model_config": json.dumps(cfg.to_dict())})
    return export.export_onnx(PoseModel(PoseGenerator(cfg)), path, meta)


def test_benchmark_records(model_path: Path, tmp_path: Path) -> None:
    with OnnxRuntimeBackend(model_path) as backend:
        records = bench.benchmark(backend, batches=(1, 4), iters=3, warmup=1)
    data = json.loads(bench.json_bytes(records))
    assert [r["batch"] for r in data] == [1, 4]
    for row in data:
        assert row.keys() >= REQUIRED
        assert 0 < row["p50_ms"] <= row["p99_ms"]
        assert row["p50_ms_per_frame"] == pytest.approx(row["p50_ms"] / row["batch"], abs=1e-3)
        assert row["device"].startswith("CPU (") and row["backend"] == "onnxruntime"
    table = bench.to_markdown(records)
    assert table.count("| onnxruntime |") == 2


def test_benchmark_rejects_no_iterations(model_path: Path) -> None:
    with OnnxRuntimeBackend(model_path) as backend, pytest.raises(ValueError, match="iters must be >= 1"):
        bench.benchmark(backend, iters=0)


def test_cli_bench_writes_json_and_markdown(model_path: Path, tmp_path: Path) -> None:
    out_json, out_md = tmp_path / "r.json", tmp_path / "r.md"
    args = ["--backend", "all", "--batch", "1,2", "--iters", "3", "--warmup", "1"]
    rc = main(
        [
            "engines",
            "bench",
            "--model",
            str(model_path),
            *args,
            "--json",
            str(out_json),
            "--markdown",
            str(out_md),
        ]
    )
    assert rc == 0
    rows = json.loads(out_json.read_text())
    assert all(r.keys() >= REQUIRED | {"status", "reason"} for r in rows)
    measured = [r for r in rows if r["status"] == "measured"]
    assert {r["batch"] for r in measured} == {1, 2} and {r["backend"] for r in measured} == {"onnxruntime"}
    # to compare records of two runs: the model file's sha256 and the versions the times depend on
    assert all(len(r["model_sha256"]) == 64 and {"python", "numpy", "onnxruntime"} <= set(r["versions"])
               for r in measured)  # fmt: skip
    # and the CPU's flags (two "AMD EPYC" records, AVX2-only and AVX-512, looked alike: QA round 8)
    from posecast.engines.host import cpu_flags

    has_avx2 = "avx2" in (cpu_flags() or set())
    assert all(("avx2" in r["cpu_flags"]) == has_avx2 and isinstance(r["warmup"], int) for r in measured)
    # whether the INT8 copy ran, said in a field (QA: only inside `device` and the model's name)
    assert all(r["int8"] == r["model"].endswith(".int8.onnx") for r in measured)
    assert "| onnxruntime | 2 |" in out_md.read_text()


def test_cli_bench_measures_every_model_given_in_one_run(model_path: Path, tmp_path: Path) -> None:
    """QA: `--model A --model B` measured B alone, without a word, so two models could only be
    compared across runs (on a shared VM 1.75x apart for the same model). Each is measured now, and
    each record carries the load average it was measured under."""
    import os
    import shutil

    other = tmp_path / "other.onnx"
    shutil.copy(model_path, other)
    out_json, out_md = tmp_path / "r.json", tmp_path / "r.md"
    assert main(["engines", "bench", "--model", str(model_path), "--model", str(other), "--model", str(model_path),
                 "--backend", "onnxruntime", "--batch", "1,2", "--iters", "3", "--warmup", "1", "--json",
                 str(out_json), "--markdown", str(out_md)]) == 0  # fmt: skip
    rows = json.loads(out_json.read_text())
    # one given twice: measured once; batch size by batch size, the models in turn within each
    assert [(r["model"], r["batch"]) for r in rows] == [("small.onnx", 1), ("other.onnx", 1), ("small.onnx", 2),
                                                         ("other.onnx", 2)]  # fmt: skip
    assert all(r["load_average_1min"] == pytest.approx(os.getloadavg()[0], abs=5.0) for r in rows)
    table = out_md.read_text()
    assert table.startswith("| model | backend | batch |") and "| other.onnx | onnxruntime | 1 |" in table


def test_cli_bench_all_lists_the_backends_it_skips(model_path: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """README: ``--backend all`` lists the backends that cannot run here as skipped, with the reason,
    in the JSON and the Markdown it writes (not only on the console)."""
    out_json, out_md = tmp_path / "r.json", tmp_path / "r.md"
    rc = main(["engines", "bench", "--model", str(model_path), "--backend", "all", "--batch", "1", "--iters", "2",
               "--warmup", "0", "--json", str(out_json), "--markdown", str(out_md)])  # fmt: skip
    assert rc == 0
    usable = availability()
    expected_skipped = {name: why for name, (ok, why) in usable.items() if not ok}
    rows = json.loads(out_json.read_text())
    assert [r["backend"] for r in rows if r["status"] == "measured"] == [n for n, (ok, _) in usable.items() if ok]
    skipped = {r["backend"]: r for r in rows if r["status"] == "skipped"}
    assert {name: r["reason"] for name, r in skipped.items()} == expected_skipped
    for row in skipped.values():
        assert row["reason"] and row["p50_ms"] is None and row["batch"] is None and row["model"] == "small.onnx"
        assert row["iters"] is None and row["int8"] is None  # (QA: "iters": 0, as if measured with none)
    assert {r["backend"] for r in rows} == set(usable)  # every backend has a row
    table = out_md.read_text()
    assert capsys.readouterr().out.startswith(table)  # the file holds the table that was printed
    for name, why in expected_skipped.items():
        assert f"| {name} | – | – | – | – | – | skipped: {' '.join(why.split())} |" in table


def test_skipped_records_in_json_and_markdown(tmp_path: Path) -> None:
    """Without a GPU here, the skipped record itself: its JSON and a table row that escapes ``|``."""
    record = bench.skipped("tensorrt", "no CUDA GPU | driver missing", tmp_path / "m.onnx")
    (row,) = json.loads(bench.json_bytes([record]))
    assert row["status"] == "skipped" and row["reason"] == "no CUDA GPU | driver missing"
    assert row["p50_ms"] is None and row["device"] is None and row["model"] == "m.onnx"
    table = bench.to_markdown([record])
    assert "| tensorrt | – | – | – | – | – | skipped: no CUDA GPU \\| driver missing |" in table
    assert table.count("\n") == 3  # header, rule, the row: no footer about timings that were not taken


def test_cli_info_lists_backends(model_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["engines", "info", "--model", str(model_path)]) == 0
    out = capsys.readouterr().out
    assert '"window_frames": 9' in out
    assert "onnxruntime  yes" in out and "tensorrt" in out
    assert main(["engines", "info", "--model", "supervised-w256"]) == 0  # a shipped model by name
    assert '"window_frames": 27' in capsys.readouterr().out


def test_cli_build_int8_and_bad_batch(model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    monkeypatch.setenv("POSECAST_CACHE", str(tmp_path))
    assert main(["engines", "build", "--backend", "onnxruntime", "--int8", "--model", str(model_path)]) == 0
    assert len(list((tmp_path / "engines").glob("*.int8.onnx"))) == 1
    # --int8 alone means the onnxruntime copy (it was refused: "--int8 is for --backend onnxruntime")
    assert main(["engines", "build", "--int8", "--model", str(model_path)]) == 0
    assert "INT8 model: " in capsys.readouterr().out
    # a shipped model's build says that its shipped copy is the one that runs, not the cache's
    assert main(["engines", "build", "--int8"]) == 0
    assert "run, lift and bench use the copy shipped beside the model" in capsys.readouterr().out
    # --backend onnxruntime alone makes its one build, the INT8 copy (it built nothing, exit 0)
    for copy in (tmp_path / "engines").glob("*.int8.onnx"):
        copy.unlink()
    assert main(["engines", "build", "--backend", "onnxruntime", "--model", str(model_path)]) == 0
    assert "INT8 model: " in capsys.readouterr().out
    assert len(list((tmp_path / "engines").glob("*.int8.onnx"))) == 1
    # a corrupt model is said as every engines command says it
    (tmp_path / "corrupt.onnx").write_text("not onnx")
    assert main(["engines", "build", "--backend", "onnxruntime", "--model", str(tmp_path / "corrupt.onnx")]) == 2
    assert "is not a readable ONNX model" in capsys.readouterr().err
    assert main(["engines", "bench", "--model", str(model_path), "--batch", "1,x"]) == 2
    assert "--batch must be comma-separated integers from 1 to 1024" in capsys.readouterr().err


@pytest.mark.skipif(cuda_device_available()[0], reason="checks the GPU-less error")
def test_cli_build_tensorrt_without_gpu_fails_cleanly(model_path: Path, capsys: pytest.CaptureFixture[str],
                                                      caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    assert main(["engines", "build", "--model", str(model_path)]) == 2
    err = capsys.readouterr().err
    assert "needs an NVIDIA GPU" in err and "use --backend onnxruntime" not in err  # (QA: that built nothing)
    assert err.rstrip().endswith(f"its one build is the INT8 copy: `posecast engines build --int8 --model "
                                 f"{model_path}`"), err  # (the model asked for: review)
    assert main(["engines", "bench", "--backend", "onnxruntime", "--max-batch", "4"]) == 2  # (QA: checked vs --batch)
    assert "--max-batch is for --backend tensorrt (or all): drop it for onnxruntime" in capsys.readouterr().err
    # "auto" on a CPU runs onnxruntime: the option is said to do nothing (review: ignored without a word)
    assert main(["engines", "bench", "--model", str(model_path), "--max-batch", "4", "--batch", "1", "--iters",
                 "2", "--warmup", "0"]) == 0  # fmt: skip
    assert "--max-batch 4 is for tensorrt, and --backend auto runs onnxruntime here: it does nothing" in caplog.text


def test_json_and_markdown_are_written_both_or_neither(model_path: Path, tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    """QA: ``--markdown`` out of room, the ``--json`` it came with had replaced the earlier file all the
    same (and with no "replacing" line). A 600-byte file-size limit: the table (about 340 bytes) fits,
    the records (about 900) do not."""
    import resource
    import subprocess
    import sys

    earlier_json, earlier_md = tmp_path / "b.json", tmp_path / "b.md"
    earlier_json.write_text("[]\n")
    earlier_md.write_text("earlier\n")

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (600, 600))

    command = [sys.executable, "-m", "posecast.realtime.cli", "engines", "bench", "--model", str(model_path),
               "--backend", "onnxruntime", "--batch", "1", "--iters", "5", "--warmup", "1",
               "--json", str(earlier_json), "--markdown", str(earlier_md)]  # fmt: skip
    done = subprocess.run(command, preexec_fn=limit, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and f"cannot write {earlier_json}: File too large" in done.stderr, done.stderr
    assert (earlier_json.read_text(), earlier_md.read_text()) == ("[]\n", "earlier\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.json", "b.md"]  # no temporary left
    assert main(["engines", "bench", "--model", str(model_path), "--backend", "onnxruntime", "--batch", "1",
                 "--iters", "5", "--warmup", "1", "--json", str(earlier_json), "--markdown", str(earlier_md)]) == 0
    assert json.loads(earlier_json.read_text())[0]["batch"] == 1 and earlier_md.read_text().startswith("| backend")
    assert f"replaced {earlier_json}" in caplog.text and f"replaced {earlier_md}" in caplog.text  # (QA: unsaid)

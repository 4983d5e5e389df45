"""ONNX export: parity with PyTorch in ONNX Runtime, float16 storage, self-describing metadata,
and ``tools/export.py`` on a training checkpoint."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from posecast.engines import metadata, normalize, skeleton
from posecast.engines.metadata import ModelMetadata, ModelMetadataError, read_onnx_metadata
from posecast.engines.networks import ModelConfig, PoseGenerator, PoseModel
from posecast.engines.training.checkpoint import read_checkpoint
from posecast.engines.training.export import export_onnx
from posecast.engines.training.train import TrainConfig, Trainer

REPO = Path(__file__).resolve().parents[2]
WINDOW = 9


def trained_like_model(seed: int = 0) -> PoseModel:
    """A small model with non-trivial batch-norm statistics and scale output, as after training."""
    torch.manual_seed(seed)
    model = PoseModel(PoseGenerator(ModelConfig(window_frames=WINDOW, width=64, blocks=1, scale_width=32)))
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.normal_(0.0, 0.1)
            module.running_var.uniform_(0.5, 2.0)
    model.generator.scale_net.net[-1].weight.data.normal_(0.0, 0.05)
    return model.eval()


def plausible_windows(count: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.normal(0.0, 0.08, (count, 1, skeleton.NUM_JOINTS, 2)) + rng.uniform(-0.3, 0.3, (count, 1, 1, 2))
    return (base + rng.normal(0.0, 0.003, (count, WINDOW, skeleton.NUM_JOINTS, 2))).astype(np.float32)


def run_onnx(path: Path, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == [metadata.INPUT_NAME]
    assert [o.name for o in session.get_outputs()] == list(metadata.OUTPUT_NAMES)
    joints, scale = session.run(None, {metadata.INPUT_NAME: windows})
    return joints, scale


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[PoseModel, Path, Path]:
    """(model, float32 ONNX, float16-weights ONNX)."""
    model = trained_like_model()
    folder = tmp_path_factory.mktemp("export")
    meta = ModelMetadata(window_frames=WINDOW, training_data="unit test", extra={"note": "tiny"})
    fp32 = export_onnx(model, folder / "fp32.onnx", meta)
    fp16 = export_onnx(model, folder / "fp16.onnx", meta, fp16_weights=True)
    return model, fp32, fp16


def test_onnx_runtime_matches_pytorch(exported: tuple[PoseModel, Path, Path]) -> None:
    model, fp32, _ = exported
    windows = plausible_windows(33)  # a batch size the dummy export input did not have
    joints, scale = run_onnx(fp32, windows)
    with torch.no_grad():
        ref_joints, ref_scale = model(torch.from_numpy(windows))
    assert joints.shape == (33, 17, 3) and scale.shape == (33, 1)
    # canonical units (RMS pose size ≈ 1, i.e. ≈ 0.4 m): 1e-4 is well under 0.1 mm; BatchNorm folding
    # into the Linear weights at export reorders float32 rounding
    assert np.abs(joints - ref_joints.numpy()).max() <= 1e-4
    assert np.abs(scale - ref_scale.numpy()).max() <= 1e-5
    assert np.ptp(scale) > 1e-3  # the scale branch is live, not a constant


def test_exported_lifter_computes_only_the_current_frame(exported: tuple[PoseModel, Path, Path]) -> None:
    # the lifter's output layer makes depths for all 9 frames when training; the exported graph
    # keeps only the current frame's 17 rows, with no stale full-size copy left in the file
    shapes = {tuple(i.dims) for i in onnx.load(str(exported[1])).graph.initializer}
    assert (skeleton.NUM_JOINTS, 64) in shapes or (64, skeleton.NUM_JOINTS) in shapes
    assert not any(WINDOW * skeleton.NUM_JOINTS in dims for dims in shapes)


def test_float16_weights_halve_the_file_and_keep_float32_maths(exported: tuple[PoseModel, Path, Path]) -> None:
    model, fp32, fp16 = exported
    ratio = fp16.stat().st_size / fp32.stat().st_size
    assert 0.45 < ratio < 0.6
    proto = onnx.load(str(fp16))
    assert any(i.data_type == onnx.TensorProto.FLOAT16 for i in proto.graph.initializer)
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    rounded = trained_like_model()
    with torch.no_grad():
        for tensor in rounded.parameters():
            if tensor.numel() >= 1024:  # the initializers the exporter stores as float16
                tensor.copy_(tensor.half().float())
    windows = plausible_windows(16, seed=2)
    joints, _ = run_onnx(fp16, windows)
    with torch.no_grad():
        ref, _ = rounded(torch.from_numpy(windows))
    assert np.abs(joints - ref.numpy()).max() <= 1e-4


def test_metadata_round_trip(exported: tuple[PoseModel, Path, Path]) -> None:
    _, fp32, fp16 = exported
    for path in (fp32, fp16):
        meta = read_onnx_metadata(path)
        assert meta.window_frames == WINDOW and meta.joint_names == skeleton.JOINT_NAMES
        assert meta.camera_distance == normalize.CAMERA_DISTANCE
        assert meta.schema_version == metadata.SCHEMA_VERSION and meta.normalization == metadata.NORMALIZATION
        assert meta.training_data == "unit test" and meta.extra["note"] == "tiny"
        assert meta.extra["batchnorm_folded"] == "1" and "window_frames" in meta.extra["model_config"]


def rewrite_metadata(source: Path, dest: Path, **changes: str) -> Path:
    proto = onnx.load(str(source))
    for entry in proto.metadata_props:
        key = entry.key.removeprefix("posecast.")
        if key in changes:
            entry.value = changes[key]
    onnx.save(proto, str(dest))
    return dest


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"joint_names": ",".join(skeleton.mirror(np.array(skeleton.JOINT_NAMES)[:, None])[:, 0])},
         r"joint_names is \('pelvis', 'l_hip'"),
        ({"schema_version": "1"}, r"schema_version is 1, this posecast expects 2; re-export"),
        ({"camera_distance": "5.0"}, r"camera_distance is 5\.0, this posecast expects 10\.0"),
        ({"normalization": "imagenet"}, r"normalization is 'imagenet'"),
    ],
)  # fmt: skip
def test_wrong_metadata_fails_fast(
    exported: tuple[PoseModel, Path, Path], tmp_path: Path, changes: dict[str, str], match: str
) -> None:
    path = rewrite_metadata(exported[1], tmp_path / "bad.onnx", **changes)
    with pytest.raises(ModelMetadataError, match=match):
        read_onnx_metadata(path)


def test_model_without_metadata(exported: tuple[PoseModel, Path, Path], tmp_path: Path) -> None:
    proto = onnx.load(str(exported[1]))
    del proto.metadata_props[:]
    onnx.save(proto, str(tmp_path / "bare.onnx"))
    with pytest.raises(ModelMetadataError, match="carries no posecast metadata: export it with tools/export.py"):
        read_onnx_metadata(tmp_path / "bare.onnx")
    with pytest.raises(metadata.ModelError, match="model file not found"):
        read_onnx_metadata(tmp_path / "absent.onnx")


@pytest.fixture(scope="module")
def export_tool(load_tool):  # noqa: ANN001, ANN201
    return load_tool("export")


def test_export_tool_on_a_checkpoint(export_tool, tmp_path: Path) -> None:  # noqa: ANN001
    cfg = TrainConfig(mode="ablation", model=ModelConfig(window_frames=5, width=32, blocks=1), batch=4, threads=1)
    trainer = Trainer(cfg, tmp_path / "run")
    trainer.step = 42
    checkpoint = trainer.save_checkpoint()
    output = tmp_path / "out" / "model.onnx"
    output.parent.mkdir()
    assert export_tool.main([str(checkpoint), str(output), "--training-data", "tiny", "--license", "test"]) == 0
    meta = read_onnx_metadata(output)
    assert meta.window_frames == 5 and meta.model_kind == "ablation"
    assert meta.training_data == "tiny" and meta.license == "test"
    assert meta.extra["train_steps"] == "42"
    assert json.loads(meta.extra["model_config"]) == cfg.model.to_dict()
    model, _, _ = export_tool.load_pose_model(checkpoint)
    windows = plausible_windows(4)[:, :5]
    joints, scale = run_onnx(output, np.ascontiguousarray(windows))
    with torch.no_grad():
        ref, _ = model(torch.from_numpy(windows))
    assert np.abs(joints - ref.numpy()).max() <= 1e-4
    np.testing.assert_array_equal(scale, 1.0)  # the ablation has no scale network
    # no warning of torch's on the way (a TracerWarning about the window check printed on every export; QA)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert export_tool.main([str(checkpoint), str(tmp_path / "out" / "quiet.onnx"), "--training-data", "tiny",
                                 "--license", "test"]) == 0  # fmt: skip
    assert not [w for w in caught if issubclass(w.category, (torch.jit.TracerWarning, DeprecationWarning))], caught
    # an output named as an INT8 copy: refused (it wrote x.int8.int8.onnx and took another model's names; QA)
    named = tmp_path / "out" / "x.int8.onnx"
    assert export_tool.main([str(checkpoint), str(named), "--int8", "--training-data", "tiny", "--license", "t"]) == 2
    assert not named.exists() and not (tmp_path / "out" / "x.int8.int8.onnx").exists()


@pytest.fixture(scope="module")
def average_tool(load_tool):  # noqa: ANN001, ANN201
    return load_tool("average_checkpoints")


def test_averaged_checkpoint_exports_the_mean_network(average_tool, export_tool, tmp_path: Path,  # noqa: ANN001
                                                      capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    model = ModelConfig(window_frames=5, width=32, blocks=1, scale_width=16)
    paths = []
    for seed in (0, 1):  # two different networks of one architecture
        trainer = Trainer(
            TrainConfig(mode="supervised", model=model, batch=4, threads=1, seed=seed), tmp_path / f"run{seed}"
        )
        trainer.step = 100 + seed
        trainer.trained_on = {"clips": {"bandai-namco": 40} | ({"cmu": 13} if seed else {})}
        paths.append(trainer.save_checkpoint())
    soup = tmp_path / "soup" / "last.pt"
    assert average_tool.main([str(soup), *map(str, paths)]) == 0
    state = read_checkpoint(soup)
    assert state["averaged_steps"] == [100, 101] and state["averaged_from"] == [str(p) for p in paths]
    assert state["trained_on"]["clips"] == {"bandai-namco": 40, "cmu": 13}  # every run's data (the first's alone: QA)
    a, b = (read_checkpoint(p)["generator"] for p in paths)
    floats = [key for key, tensor in state["generator"].items() if tensor.is_floating_point()]
    for key in floats:
        torch.testing.assert_close(state["generator"][key], (a[key] + b[key]) / 2)
    assert not torch.equal(a["lifter.net.0.weight"], b["lifter.net.0.weight"])  # two different networks
    output = tmp_path / "soup.onnx"
    assert export_tool.main([str(soup), str(output), "--training-data", "tiny", "--license", "test"]) == 0
    assert read_onnx_metadata(output).extra["averaged_from"] == f"{paths[0]}, {paths[1]}"
    # another architecture: refused in one line, nothing written
    other = TrainConfig(mode="supervised", model=ModelConfig(window_frames=5, width=48, blocks=1, scale_width=16),
                        batch=4, threads=1)  # fmt: skip
    wider = Trainer(other, tmp_path / "wider").save_checkpoint()
    refused = tmp_path / "refused.pt"
    assert average_tool.main([str(refused), str(paths[0]), str(wider)]) == 2
    assert "only runs of one architecture can be averaged" in capsys.readouterr().err and not refused.exists()
    assert average_tool.main([str(refused), str(paths[0])]) == 2
    assert "at least two" in capsys.readouterr().err
    # the output left out (every path a run's checkpoint): the first is not replaced by the others' mean
    before = paths[0].read_bytes()
    assert average_tool.main([str(paths[0]), str(paths[1]), str(wider)]) == 2
    assert "is a training run's checkpoint, not an earlier average; the output comes first" in capsys.readouterr().err
    assert average_tool.main([str(paths[1]), str(paths[0]), str(paths[1])]) == 2
    assert "is also an input" in capsys.readouterr().err
    assert paths[0].read_bytes() == before
    assert average_tool.main([str(soup), *map(str, paths)]) == 0  # an earlier average is replaced
    notes = tmp_path / "notes.pt"
    notes.write_text("not a checkpoint")
    assert average_tool.main([str(notes), *map(str, paths)]) == 2
    assert f"the output {notes} exists and is not an earlier average" in capsys.readouterr().err


def test_export_describes_what_the_run_loaded_not_its_paths(export_tool) -> None:  # noqa: ANN001
    """The data and licence came from substrings of the data paths: a user's folder named
    studio-dataset-1 was called Bandai-Namco (CC BY-NC), dataset-1 alone "1 + 2"."""
    cfg = TrainConfig(mode="supervised", data=["my/studio-dataset-1"])
    data, licence = export_tool.describe_data(cfg, {"clips": {"studio-dataset-1": 3}, "bandai_datasets": []})
    assert data == "studio-dataset-1 (3 clips)" and "Bandai" not in data and "CC BY-NC" not in licence
    cfg = TrainConfig(mode="supervised", held_out_subjects=["09"], init="runs/base/last.pt")
    data, licence = export_tool.describe_data(
        cfg, {"clips": {"bandai-namco": 40, "cmu": 5}, "bandai_datasets": ["dataset-1"], "recorded_2d": ["a.npz"]}
    )
    assert "Dataset 1 (BVH, 30 fps; 40 clips" in data and "1 + 2" not in data
    assert "CMU Graphics Lab Motion Capture Database subset (5 takes" in data and "subjects 09 held out" in data
    assert data.endswith("recorded 2D: a.npz; started from the networks of last.pt")
    assert "CC BY-NC 4.0" in licence and "CMU data" in licence
    assert "the weights it started from saw applies too" in licence


def test_a_fine_tune_of_a_shipped_model_on_other_data_keeps_its_licence(export_tool) -> None:  # noqa: ANN001
    """Trained from the default's .adapt.npz on one's own BVH: the licence said only "the licence
    of the data the weights it started from saw applies too", no CC BY-NC and no CMU credit (QA).
    The start model's own licence is quoted now."""
    cfg = TrainConfig(mode="supervised", data=["my_bvh"], init="engines/weights/posecast_lifter_current_w384.adapt.npz")
    data, licence = export_tool.describe_data(cfg, {"clips": {"my_bvh": 2}})
    assert data == "my_bvh (2 clips); started from the networks of posecast_lifter_current_w384.adapt.npz"
    assert licence.startswith("It started from posecast_lifter_current_w384.adapt.npz, whose licence applies too: ")
    assert "CC BY-NC 4.0" in licence and "mocap.cs.cmu.edu" in licence


def test_a_soup_credits_every_run_s_data(export_tool) -> None:  # noqa: ANN001
    """QA: a soup of a Bandai-only run and a Bandai + CMU run took the first's record, and its export
    had no CMU credit. The soup's record is every run's sources."""
    from posecast.engines.training.checkpoint import merged_trained_on

    bandai = {"clips": {"bandai-namco": 40}, "bandai_datasets": ["dataset-1"], "recorded_2d": []}
    both = {"clips": {"bandai-namco": 40, "cmu": 13}, "bandai_datasets": ["dataset-1", "dataset-2"],
            "recorded_2d": ["a.npz"]}  # fmt: skip
    merged = merged_trained_on([bandai, both])
    assert merged["clips"] == {"bandai-namco": 40, "cmu": 13}
    assert merged["bandai_datasets"] == ["dataset-1", "dataset-2"] and merged["recorded_2d"] == ["a.npz"]
    assert merged_trained_on([bandai, both | {"clips": {"bandai-namco": 41}}])["clips"] == {"bandai-namco": None}
    data, licence = export_tool.describe_data(TrainConfig(mode="supervised"), merged)
    assert "CMU Graphics Lab" in data and "mocap.cs.cmu.edu" in licence


def test_a_checkpoint_write_a_killed_run_left_is_removed(tmp_path: Path) -> None:
    """kill -9 as a run saved left a hidden ``.last.*.tmp.pt`` (a partial checkpoint's size, one per
    crash) that nothing removed (QA); the next save of that checkpoint removes it."""
    model = ModelConfig(window_frames=5, width=32, blocks=1, scale_width=16)
    trainer = Trainer(TrainConfig(mode="supervised", model=model, batch=4, threads=1), tmp_path / "run")
    trainer.out.mkdir(parents=True, exist_ok=True)
    leftover = trainer.out / ".last.k1ll3d.tmp.pt"
    leftover.write_bytes(b"partial")
    trainer.save_checkpoint("best.pt")
    assert leftover.exists()  # another checkpoint's name: not its leftover
    trainer.save_checkpoint()
    assert not leftover.exists() and read_checkpoint(trainer.out / "last.pt")["step"] == trainer.step


def test_a_checkpoint_with_altered_weights_is_refused(tmp_path: Path) -> None:
    """torch does not check the zip's checksums: a checkpoint whose weight bytes a damaged disk or
    copy altered loaded, and a resume trained on it without a word (QA)."""
    import zipfile

    from posecast.engines.training.checkpoint import CheckpointError

    model = ModelConfig(window_frames=5, width=32, blocks=1, scale_width=16)
    path = Trainer(TrainConfig(mode="supervised", model=model, batch=4, threads=1), tmp_path / "run").save_checkpoint()
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        member = next(i for i in archive.infolist() if "/data/" in i.filename and i.file_size > 1000)
    start = member.header_offset + 30 + len(member.filename.encode()) + len(member.extra)
    data[start + 100 : start + 140] = bytes(b ^ 0x7F for b in data[start + 100 : start + 140])
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"damaged.pt is damaged \(.* fails its checksum\)"):
        read_checkpoint(damaged)
    assert read_checkpoint(path)["step"] == 0

"""Motion clips: archive extraction, the npz clip cache and the fixed held-out split."""

from __future__ import annotations

import io
import multiprocessing
import multiprocessing.queues
import multiprocessing.synchronize
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
from posecast.engines.training.data import dataset
from posecast.engines.training.data.bvh import BVHError
from posecast.engines.training.data.dataset import (
    Clip,
    extract_archive,
    first_clips_of_each_source,
    is_held_out,
    load_clips,
    split_clips,
)


def test_cache_dir_follows_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("POSECAST_CACHE", str(tmp_path / "mine"))
    assert dataset.cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("POSECAST_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert dataset.cache_dir() == tmp_path / "xdg" / "posecast"


@pytest.mark.parametrize("xdg", ["relxdg", ""])
def test_every_cache_follows_one_rule(xdg: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The models', the engines' and the training data's caches each had their own copy of the
    rule: a relative or empty XDG_CACHE_HOME put two of them under the folder a run started in
    (``./relxdg/posecast``, ``./posecast``; review)."""
    from posecast.engines import assets
    from posecast.engines.runtime import plan_cache

    monkeypatch.delenv("POSECAST_CACHE", raising=False)
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", xdg)
    expected = tmp_path / "home" / ".cache" / "posecast"
    assert assets.cache_dir() == dataset.cache_dir() == expected
    assert plan_cache.engines_dir() == expected / "engines"


def test_load_clips_parses_once_then_reads_the_cache(
    bvh_dir: Path, clip_names: tuple[str, ...], posecast_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = load_clips(bvh_dir)
    cached = list((posecast_cache / "clips").glob("*.npz"))
    assert len(cached) == 1 and cached[0].name.startswith(f"{bvh_dir.name}-v{dataset.CACHE_VERSION}-")
    assert [c.name for c in first] == sorted(clip_names)

    def no_parsing(*_args, **_kwargs):  # noqa: ANN202
        raise AssertionError("the second load parsed a BVH file instead of reading the cache")

    monkeypatch.setattr(dataset, "load_bvh_joints", no_parsing)
    second = load_clips(bvh_dir)
    assert [c.name for c in second] == [c.name for c in first]
    for a, b in zip(first, second, strict=True):
        assert a.fps == b.fps and b.joints_m.dtype == np.float32
        np.testing.assert_array_equal(a.joints_m, b.joints_m)


def test_cache_is_keyed_by_the_folder_contents(
    bvh_dir: Path, clip_names: tuple[str, ...], posecast_cache: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "two"
    folder.mkdir()
    for name in clip_names[:2]:
        shutil.copy(bvh_dir / f"{name}.bvh", folder)
    assert len(load_clips(folder)) == 2
    shutil.copy(bvh_dir / f"{clip_names[2]}.bvh", folder)
    assert len(load_clips(folder)) == 3  # a new file is a new cache entry, not the stale two
    assert len(list((posecast_cache / "clips").glob("*.npz"))) == 2


def test_unreadable_clips_are_skipped(
    bvh_dir: Path, clip_names: tuple[str, ...], posecast_cache: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(bvh_dir / f"{clip_names[0]}.bvh", folder)
    (folder / "broken.bvh").write_text("not a bvh")
    assert [c.name for c in load_clips(folder)] == [clip_names[0]]


def test_a_corrupt_clip_is_skipped_not_fatal(bvh_dir: Path, clip_names: tuple[str, ...], posecast_cache: Path,
                                              tmp_path: Path) -> None:  # fmt: skip
    folder = tmp_path / "corrupt"
    folder.mkdir()
    shutil.copy(bvh_dir / f"{clip_names[0]}.bvh", folder)
    text = (bvh_dir / f"{clip_names[1]}.bvh").read_text()
    (folder / "cut.bvh").write_text(text[: len(text) // 2] + " 1.0e")  # a half-written file
    assert [c.name for c in load_clips(folder)] == [clip_names[0]]
    (folder / f"{clip_names[0]}.bvh").unlink()
    with pytest.raises(BVHError, match=r"none of the 1 \.bvh files under .*corrupt could be read"):
        load_clips(folder)


def test_load_clips_errors(tmp_path: Path, posecast_cache: Path) -> None:
    with pytest.raises(FileNotFoundError, match="motion data not found"):
        load_clips(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BVHError, match=r"no \.bvh files under"):
        load_clips(tmp_path / "empty")


def make_archive(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz" if path.name.endswith(".gz") else "w:xz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_extract_archive_flattens_once(
    bvh_dir: Path, clip_names: tuple[str, ...], tmp_path: Path, posecast_cache: Path
) -> None:
    bvh = (bvh_dir / f"{clip_names[0]}.bvh").read_bytes()
    archive = make_archive(tmp_path / "set-9.tar.xz", {
        "Set-9/data/dataset-9_run_a_001.bvh": bvh, "Set-9/data/dataset-9_run_b_001.bvh": bvh,
        "Set-9/README.md": b"readme",
    })  # fmt: skip
    dest = extract_archive(archive)
    assert dest == posecast_cache / "data" / "set-9"
    assert sorted(p.name for p in dest.iterdir()) == [".complete", "dataset-9_run_a_001.bvh", "dataset-9_run_b_001.bvh"]
    (dest / "dataset-9_run_a_001.bvh").write_bytes(b"edited")  # a second call must not unpack again
    assert extract_archive(archive) == dest
    assert (dest / "dataset-9_run_a_001.bvh").read_bytes() == b"edited"
    clips = load_clips(archive)  # an archive is a source too
    assert [c.name for c in clips] == ["dataset-9_run_b_001"]  # the edited file no longer parses


def _extract_after(barrier: multiprocessing.synchronize.Barrier, archive: Path,
                   results: multiprocessing.queues.Queue) -> None:  # fmt: skip
    barrier.wait()
    try:
        results.put(str(extract_archive(archive)))
    except Exception as exc:  # noqa: BLE001 - what the parent reports
        results.put(f"failed: {exc!r}")


def test_runs_started_at_once_unpack_an_archive_once_between_them(
    bvh_dir: Path, clip_names: tuple[str, ...], tmp_path: Path, posecast_cache: Path
) -> None:
    """Two training runs started together each unpacked into the same folder: the second's mkdir
    failed (FileExistsError traceback) or deleted what the first was unpacking."""
    bvh = (bvh_dir / f"{clip_names[0]}.bvh").read_bytes()
    archive = make_archive(tmp_path / "set-8.tar.gz", {f"dataset-8_run_{i:03d}_001.bvh": bvh for i in range(40)})
    context = multiprocessing.get_context("fork")
    barrier, queue = context.Barrier(4), context.Queue()
    workers = [context.Process(target=_extract_after, args=(barrier, archive, queue)) for _ in range(4)]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=10)
    dest = posecast_cache / "data" / "set-8"
    assert results == [str(dest)] * 4
    assert len(list(dest.glob("*.bvh"))) == 40 and (dest / ".complete").exists()
    assert sorted(p.name for p in dest.parent.iterdir()) == ["set-8"]  # no unpacking folder left behind


def test_held_out_split_is_by_whole_clip_and_fixed() -> None:
    names = [f"dataset-1_walk_style{i}_{i:03d}" for i in range(400)]
    held = [n for n in names if is_held_out(n)]
    assert 0.05 < len(held) / len(names) < 0.16  # ≈ 26/256
    assert held == [n for n in names if is_held_out(n)]  # stable
    assert is_held_out("dataset-1_bye_feminine_001") and not is_held_out("dataset-1_walk_normal_001")
    clips = [Clip(n, np.full((3, 17, 3), i, np.float32), 30.0) for i, n in enumerate(names)]
    train, held_out = split_clips(clips[::-1])  # order of loading does not matter
    assert {c.name for c in held_out} == set(held)
    assert not {c.name for c in train} & {c.name for c in held_out}
    assert len(train) + len(held_out) == len(clips)


def test_clip_action_label() -> None:
    assert Clip("dataset-1_walk-back_sad_001", np.zeros((1, 17, 3)), 30.0).action == "walk-back"
    assert Clip("take7", np.zeros((1, 17, 3)), 30.0).action == "unknown"


def test_a_few_clips_are_taken_in_turn_from_each_source() -> None:
    """``--max-clips``: the first clips of every source, in turn, the loaded order kept (the first
    N alone were one source's, and the other source's share went unused)."""
    sources = ["bandai-namco"] * 5 + ["cmu"] * 3 + ["mine"]
    clips = [Clip(f"{s}{i}", np.zeros((3, 17, 3), np.float32), 30.0, source=s) for i, s in enumerate(sources)]

    def names(count: int) -> list[str]:
        return [c.name for c in first_clips_of_each_source(clips, count)]

    assert names(3) == ["bandai-namco0", "cmu5", "mine8"]
    assert names(5) == ["bandai-namco0", "bandai-namco1", "cmu5", "cmu6", "mine8"]
    assert names(8) == ["bandai-namco0", "bandai-namco1", "bandai-namco2", "bandai-namco3", "cmu5", "cmu6", "cmu7",
                        "mine8"]  # fmt: skip
    assert names(20) == [c.name for c in clips] and names(1) == ["bandai-namco0"]


def test_data_that_holds_no_bvh_names_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """QA: the folder that holds the archives (``--data data/bandai-namco``) said only "no .bvh
    files under it", and an archive without BVH named the cache folder instead of the archive."""
    import tarfile

    from posecast.engines.training.data.bvh import BVHError
    from posecast.engines.training.data.dataset import load_clips

    monkeypatch.setenv("POSECAST_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "bandai-namco"
    folder.mkdir()
    archive = folder / "dataset-1.tar.xz"
    note = tmp_path / "README.txt"
    note.write_text("no motion here")
    with tarfile.open(archive, "w:xz") as tar:
        tar.add(note, arcname="README.txt")
    with pytest.raises(BVHError, match=r"which holds archives: name them, e.g. --data .*bandai-namco/dataset-1.tar.xz"):
        load_clips(folder)
    with pytest.raises(BVHError, match=r"dataset-1.tar.xz holds no .bvh files: motion data is a folder"):
        load_clips(archive)

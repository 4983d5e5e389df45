"""Motion clips for training and evaluation: BVH folders (or archives) → cached 17-joint clips
at the training rate (:data:`TRAINING_FPS`).

Two held-out splits, both fixed:

- by clip (Bandai-Namco, whose actors were retargeted to one skeleton and carry no subject id):
  a clip is held out when the first byte of ``sha1(clip name)`` is below :data:`HELD_OUT_BYTE`
  (≈ 10 % of clips), so no frame of a held-out clip, nor its neighbours, is ever trained on,
  and the split does not depend on which folders are loaded or in what order;
- by subject (CMU, :func:`split_by_subject`): every take of a held-out person is held out.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...assets import cache_dir
from ...fileio import atomic_path
from .bvh import BVHError, load_bvh_joints

log = logging.getLogger(__name__)

HELD_OUT_BYTE = 26  # 26/256 ≈ 10 %
CACHE_VERSION = 2  # bump when the joint definition or parsing changes
#: The rate every clip is resampled to and the model's window is counted in.
TRAINING_FPS = 30.0


@dataclass
class Clip:
    """One motion clip: posecast joints in metres, world frame with Y up."""

    name: str
    joints_m: np.ndarray  # (F, 17, 3) float32
    fps: float
    subject: str = ""  # the person (CMU subject id); "" when the source does not say
    source: str = ""  # "bandai-namco", "cmu", ...
    label: str = ""  # the motion, when the source describes it
    skeleton_format: str = ""  # the mocap skeleton it was mapped from

    @property
    def action(self) -> str:
        """The action label: the source's description, else from Bandai-Namco style names
        ``dataset-N_<action>_<style>_<take>``."""
        if self.label:
            return self.label
        parts = self.name.split("_")
        return parts[1] if len(parts) >= 3 else "unknown"

    @property
    def held_out(self) -> bool:
        return is_held_out(self.name)


def is_held_out(name: str) -> bool:
    return hashlib.sha1(name.encode()).digest()[0] < HELD_OUT_BYTE


def resample(joints: np.ndarray, fps_in: float, fps_out: float = TRAINING_FPS) -> np.ndarray:
    """Frames ``(F, ...)`` at ``fps_in`` → the same motion at ``fps_out`` (linear interpolation
    on the shared time line, first frame kept); unchanged within 0.5 % of the rate."""
    if abs(fps_in - fps_out) <= 0.005 * fps_out or len(joints) < 2:
        return joints
    duration = (len(joints) - 1) / fps_in
    times = np.arange(0.0, duration + 1e-9, 1.0 / fps_out) * fps_in  # in input frames
    lo = np.minimum(np.floor(times).astype(int), len(joints) - 2)
    frac = (times - lo).reshape(-1, *([1] * (joints.ndim - 1)))
    return ((1.0 - frac) * joints[lo] + frac * joints[lo + 1]).astype(joints.dtype)


def extract_archive(archive: str | Path, dest_root: Path | None = None, suffixes: tuple[str, ...] = (".bvh",),
                    flatten: bool = True) -> Path:  # fmt: skip
    """Unpack a ``.tar.xz``/``.tar.gz`` of motion files (``suffixes``) once into the cache; return
    the folder. ``flatten``: every file into the folder itself (else their folders are kept: CMU's
    dance folders reuse file names)."""
    archive = Path(archive)
    dest = (dest_root or cache_dir() / "data") / archive.name.split(".tar")[0]
    marker = dest / ".complete"
    # the folder keeps the archive's name (it names the source); the marker says which archive
    # filled it, so another archive of the same name is unpacked afresh, not taken for it
    stamp = f"{archive.stat().st_size}:{archive.stat().st_mtime_ns}"

    def unpacked() -> bool:
        return marker.exists() and marker.read_text().split()[-1:] == [stamp]

    if unpacked():
        return dest
    log.info("unpacking %s into %s", archive, dest)
    # into a folder of this process's own, then renamed into place whole: two runs started at
    # once unpacked into one folder, and the second's mkdir failed with a traceback
    dest.parent.mkdir(parents=True, exist_ok=True)
    unpacking = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        with tarfile.open(archive) as tar:
            members = [m for m in tar.getmembers() if m.isfile() and m.name.endswith(suffixes)]
            for member in members:
                if flatten:
                    member.name = Path(member.name).name
                tar.extract(member, unpacking, filter="data")  # ("data": no path tricks, no links)
        (unpacking / marker.name).write_text(f"{len(members)} {stamp}")
    except (tarfile.TarError, EOFError, OSError) as exc:
        shutil.rmtree(unpacking, ignore_errors=True)
        why = " ".join(str(exc).split()) or type(exc).__name__  # tarfile's reasons span lines
        raise BVHError(f"cannot unpack {archive} ({why}): motion data is a folder of .bvh files or a .tar.xz / "
                       ".tar.gz of them") from exc  # fmt: skip
    if not unpacked():  # (another run's copy, put there meanwhile, is kept: it may be reading it)
        shutil.rmtree(dest, ignore_errors=True)  # a damaged copy, or another archive's of the same name
        try:
            unpacking.rename(dest)
            return dest
        except OSError:  # another run renamed its copy into place first
            pass
    shutil.rmtree(unpacking, ignore_errors=True)
    if not unpacked():
        raise BVHError(f"cannot unpack {archive} into {dest}: the folder is in use; try again")
    return dest


def files_stamp(files: list[Path], folder: Path) -> str:
    """A cache key for ``files`` under ``folder``: their paths, sizes and modification times."""
    listing = "".join(f"{f.relative_to(folder)}:{f.stat().st_size}:{f.stat().st_mtime_ns};" for f in files)
    return hashlib.sha1(listing.encode()).hexdigest()[:16]


#: The text fields of a :class:`Clip` stored in a clip cache, with the array name of each.
_TEXT_FIELDS = {"subject": "subjects", "label": "labels", "skeleton_format": "formats", "source": "sources"}


def write_clip_cache(cache: Path, clips: list[Clip]) -> None:
    """``clips`` into one ``.npz`` (plain arrays, no pickle), atomically."""
    with atomic_path(cache) as tmp:
        np.savez(
            tmp,
            names=np.array([c.name for c in clips]),
            lengths=np.array([len(c.joints_m) for c in clips]),
            fps=np.array([c.fps for c in clips]),
            joints=np.concatenate([c.joints_m for c in clips]),
            **{key: np.array([getattr(c, field) for c in clips]) for field, key in _TEXT_FIELDS.items()},
        )


def read_clip_cache(cache: Path, source: str = "") -> list[Clip]:
    """The clips of a :func:`write_clip_cache` file; a text field the file lacks (an older cache)
    is empty, the source ``source``."""
    with np.load(cache, allow_pickle=False) as data:
        fields = {k: data[k] for k in data.files}
    count = len(fields["names"])
    text = {field: fields[key] if key in fields else np.full(count, source if field == "source" else "")
            for field, key in _TEXT_FIELDS.items()}  # fmt: skip
    joints = np.split(fields["joints"], np.cumsum(fields["lengths"])[:-1])
    return [Clip(str(fields["names"][i]), joints[i], float(fields["fps"][i]),
                 **{field: str(values[i]) for field, values in text.items()}) for i in range(count)]  # fmt: skip


def load_clips(source: str | Path, progress: bool = False) -> list[Clip]:
    """All clips under ``source`` (a folder of BVH files or an archive), parsed once and cached.

    The cache is one ``.npz`` per folder keyed by the folder's file names, sizes and mtimes.
    """
    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(f"motion data not found: {source}")
    if source.is_file() and source.suffix.lower() == ".bvh":  # one clip: a source of its own
        folder, files = source.parent, [source]
    else:
        folder = extract_archive(source) if source.is_file() else source
        files = sorted(folder.rglob("*.bvh"))
    if not files:  # (QA: the folder that holds the archives, or an archive without BVH, said only this)
        if source.is_file():
            raise BVHError(f"{source} holds no .bvh files: motion data is a folder of .bvh files or a .tar.xz / "
                           ".tar.gz of them")  # fmt: skip
        archives = sorted(p.name for p in folder.iterdir() if p.name.endswith((".tar.xz", ".tar.gz")))
        if archives:
            raise BVHError(f"no .bvh files under {folder}, which holds archives: name them, e.g. --data "
                           f"{folder / archives[0]}")  # fmt: skip
        raise BVHError(f"no .bvh files under {folder}")
    stamp = files_stamp(files, folder)
    cache = cache_dir() / "clips" / f"{folder.name}-v{CACHE_VERSION}-{stamp}.npz"
    if cache.exists():
        return [_at_training_rate(c) for c in read_clip_cache(cache, _source_name(folder))]
    clips = []
    iterator = files
    if progress:
        from tqdm import tqdm

        iterator = tqdm(files, desc=f"parsing {folder.name}", unit="clip")
    for path in iterator:
        try:
            joints, fps = load_bvh_joints(path)
        except BVHError as exc:
            log.warning("skipping: %s", exc)  # (QA: "skipping x.bvh is not ..." read as one clause)
            continue
        clips.append(Clip(path.stem, joints, fps, source=_source_name(folder)))
    if not clips:
        raise BVHError(f"none of the {len(files)} .bvh files under {folder} could be read (see the warnings above)")
    write_clip_cache(cache, clips)
    return [_at_training_rate(c) for c in clips]


def _source_name(folder: Path) -> str:
    return "bandai-namco" if folder.name.startswith("dataset-") else folder.name


def _at_training_rate(clip: Clip) -> Clip:
    if abs(clip.fps - TRAINING_FPS) <= 0.005 * TRAINING_FPS:
        return clip
    clip.joints_m, clip.fps = resample(clip.joints_m, clip.fps), TRAINING_FPS
    return clip


def load_source(source: str | Path, progress: bool = False) -> list[Clip]:
    """Clips of one data source: a CMU archive/folder (:mod:`.cmu`) or any BVH folder/archive."""
    from .cmu import is_cmu_source, load_cmu, named_as_cmu_takes

    if is_cmu_source(source):
        return load_cmu(source, progress=progress)
    if named_as_cmu_takes(Path(source)):  # (QA: read as any BVH folder, their subjects unknown, without a word)
        log.warning("%s holds takes named as CMU's (SUBJECT_TAKE): read as any BVH folder, without their subjects "
                    "(held_out_subjects holds none of them out), ASF/AMC takes or CMU's frame times; name the "
                    "folder cmu-SOMETHING to read them as CMU's", source)  # fmt: skip
    return load_clips(source, progress=progress)


def split_clips(clips: list[Clip]) -> tuple[list[Clip], list[Clip]]:
    """(train, held-out) by whole clip."""
    return [c for c in clips if not c.held_out], [c for c in clips if c.held_out]


def split_by_subject(clips: list[Clip], held_out_subjects: set[str] | list[str]) -> tuple[list[Clip], list[Clip]]:
    """(train, held-out) by whole subject: every clip of a held-out person is held out."""
    held = set(held_out_subjects)
    return [c for c in clips if c.subject not in held], [c for c in clips if c.subject in held]


def first_clips_of_each_source(clips: list[Clip], count: int) -> list[Clip]:
    """``count`` clips taken in turn from each source (its first ones, in the order loaded), the
    order kept: a tiny run (``--max-clips``) still has every source its ``source_shares`` name
    (the first ``count`` alone were all Bandai-Namco's, and CMU's share went unused)."""
    by_source: dict[str, list[int]] = {}
    for i, clip in enumerate(clips):
        by_source.setdefault(clip.source, []).append(i)
    queues = [list(reversed(indices)) for indices in by_source.values()]
    taken: list[int] = []
    while len(taken) < count and any(queues):
        for queue in queues:
            if queue and len(taken) < count:
                taken.append(queue.pop())
    return [clips[i] for i in sorted(taken)]

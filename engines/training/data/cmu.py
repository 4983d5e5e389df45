"""The CMU Graphics Lab subset (``../shared/data/cmu-mocap/``) → 17-joint clips at the training rate.

The archives mix five formats (README there): cgspeed's MotionBuilder-friendly and Daz-friendly
BVH, raw amc2bvh BVH, CMU's own ASF/AMC, and a renamed, rescaled BVH (102_01cc). The joint
names tell the format (:func:`.bvh.detect_mapping`); the frame rate does **not** come from the
files: CMU captured at 120 fps, the salsa takes at 60 fps, and the raw amc2bvh files and the
salsa files state wrong frame times. cgspeed's conversions (both BVH flavours and 102_01cc)
start with an added T-pose (the Daz flavour eases out of it over 7 more frames), which is
dropped (``SkeletonMapping.lead_in_frames``). Every
clip keeps its CMU subject, so a split can hold out whole people (:func:`.dataset.split_by_subject`).

The data was obtained from mocap.cs.cmu.edu. The database was created with funding from
NSF EIA-0196217.
"""

from __future__ import annotations

import csv
import logging
import re
from pathlib import Path, PurePosixPath

import numpy as np

from ...assets import cache_dir
from . import asf_amc
from .bvh import CMU_ASF, BVHError, detect_mapping, map_to_joints, parse_bvh
from .dataset import (
    TRAINING_FPS,
    Clip,
    extract_archive,
    files_stamp,
    read_clip_cache,
    resample,
    write_clip_cache,
)

log = logging.getLogger(__name__)

CMU_FPS = 120.0
SALSA_FPS = 60.0
#: The acLSTM salsa takes do not say which of the two partners (CMU subjects 60 and 61) each
#: one is; both are kept together as one "subject" so no split can separate them.
DANCE_SUBJECTS = {"salsa": "60+61", "indian": "94"}
CACHE_VERSION = 2
SOURCE = "cmu"
CREDIT = ("The data used in this project was obtained from mocap.cs.cmu.edu. "
          "The database was created with funding from NSF EIA-0196217.")  # fmt: skip


def is_cmu_source(path: str | Path) -> bool:
    """Whether ``path`` (archive or folder) is one of the CMU subsets (``cmu-mocap``, ``cmu-dance``)."""
    return Path(path).name.lower().startswith("cmu")


def named_as_cmu_takes(folder: Path) -> bool:
    """Whether every take in ``folder`` is named as CMU names them, ``SUBJECT_TAKE`` (``09_01.bvh``,
    ``35_01.amc``): CMU takes in a folder that is not read as CMU's (:func:`is_cmu_source`)."""
    files = take_files(folder) if folder.is_dir() else []
    return bool(files) and all(_CMU_TAKE_NAME.match(file.stem) for file in files)


#: A CMU take's file name: subject, underscore, take number (``102_01cc``: a renamed export).
_CMU_TAKE_NAME = re.compile(r"^\d{1,3}_\d{1,3}(?!\d)")


def extract_cmu_archive(archive: Path) -> Path:
    """Unpack a CMU ``.tar.xz`` once into the cache (:func:`~.dataset.extract_archive`, which
    unpacks another archive of the same name afresh: QA found a changed archive's takes never
    read), keeping its folders (two dance folders reuse the same file names)."""
    return extract_archive(archive, suffixes=(".bvh", ".amc", ".asf", ".csv"), flatten=False)


def take_files(folder: Path) -> list[Path]:
    """Every take under ``folder``: ``.bvh`` and ``.amc`` files, sorted."""
    return sorted([*folder.rglob("*.bvh"), *folder.rglob("*.amc")])


def subject_of(path: Path) -> str:
    """CMU subject id of a take: ``NN`` of ``NN_MM.*``, or the dance folder's subjects."""
    dance = DANCE_SUBJECTS.get(path.parent.name.lower())
    if dance is not None:
        return dance
    return path.stem.split("_")[0]


def clip_name(path: Path) -> str:
    dance = path.parent.name.lower()
    if dance in DANCE_SUBJECTS:
        return f"cmu-{dance}_{path.stem}"
    return f"cmu_{path.stem}"


def take_fps(path: Path) -> float:
    """The true frame rate (CMU's, not the file's)."""
    return SALSA_FPS if path.parent.name.lower() == "salsa" else CMU_FPS


def load_take(path: str | Path) -> tuple[np.ndarray, float, str]:
    """One take → (joints ``(F, 17, 3)`` metres at its true rate, that rate, format name)."""
    path = Path(path)
    if path.suffix.lower() == ".amc":
        names, world = asf_amc.load_asf_amc(path)
        mapping = CMU_ASF
        stated = None
    else:
        motion = parse_bvh(path)
        mapping = detect_mapping(motion.names)
        names, world, stated = motion.names, motion.world_positions(), motion.fps
    fps = take_fps(path)
    if stated is not None and abs(stated - fps) > 0.01 * fps:
        log.debug("%s states %.2f fps; CMU recorded it at %.0f fps", path.name, stated, fps)
    return map_to_joints(world, names, mapping).astype(np.float32), fps, mapping.name


def load_cmu(source: str | Path, fps: float = TRAINING_FPS, progress: bool = False) -> list[Clip]:
    """All takes of a CMU archive or folder as clips resampled to ``fps``, cached in the posecast
    cache (keyed by the files' names, sizes and modification times)."""
    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(f"CMU motion data not found: {source}")
    folder = extract_cmu_archive(source) if source.is_file() else source
    files = take_files(folder)
    if not files:
        raise BVHError(f"no .bvh or .amc takes under {folder}")
    stamp = files_stamp(files, folder)
    cache = cache_dir() / "clips" / f"{folder.name}-cmu-v{CACHE_VERSION}-{fps:g}fps-{stamp}.npz"
    if cache.exists():
        return read_clip_cache(cache, SOURCE)
    labels = _descriptions(folder)
    iterator = files
    if progress:
        from tqdm import tqdm

        iterator = tqdm(files, desc=f"parsing {folder.name}", unit="take")
    clips = []
    for path in iterator:
        try:
            joints, take_rate, fmt = load_take(path)
        except BVHError as exc:
            log.warning("skipping: %s", exc)  # (QA: "skipping x.bvh is not ..." read as one clause)
            continue
        dance = path.parent.name.lower()
        label = labels.get(path.stem) or (dance if dance in DANCE_SUBJECTS else "")
        clips.append(Clip(clip_name(path), resample(joints, take_rate, fps), fps, subject=subject_of(path),
                          source=SOURCE, label=label or "unknown", skeleton_format=fmt))  # fmt: skip
    if not clips:
        raise BVHError(f"none of the {len(files)} takes under {folder} could be read (see the warnings above)")
    write_clip_cache(cache, clips)
    return clips


def _descriptions(folder: Path) -> dict[str, str]:
    """Take stem → CMU's description, from ``manifest.csv`` when the folder has one."""
    out = {}
    for manifest in folder.rglob("manifest.csv"):
        with manifest.open(newline="") as f:
            for row in csv.DictReader(f):
                if row.get("file") and row.get("cmu_description") and row.get("format") != "asf":
                    out[PurePosixPath(row["file"]).stem] = row["cmu_description"]
    return out

"""Acclaim ASF/AMC motion capture (CMU's own format) → joint positions, like a BVH clip.

A small reader for the files CMU publishes (``NN.asf`` skeleton beside ``NN_MM.amc`` motion);
the one PyPI package for it (``asfamc-parser`` 0.0.2, 2021) is unmaintained. ASF gives each
bone a direction, a length and a local frame (``axis`` angles); AMC gives each bone's rotation
per frame for its degrees of freedom (``dof``). Forward kinematics as in the Acclaim spec and
CMU's own viewer: a bone's world rotation is ``L = L_parent · C · M · C⁻¹`` with ``C`` the
axis rotation and ``M`` the frame's rotation (both X, then Y, then Z about fixed axes), and
its end is its start plus ``length · L · direction``.

Each bone is reported at its **start** (its parent's end), which is where the same bone sits
as a BVH joint in CMU's amc2bvh conversions, so one :class:`~.bvh.SkeletonMapping` serves both.
ASF/AMC carry no frame rate; CMU captured them at 120 fps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from .bvh import BVHError

#: CMU's capture rate; ASF/AMC files do not store one.
CMU_FPS = 120.0


class ASFAMCError(BVHError):
    """An ASF or AMC file that cannot be read."""


@dataclass
class Bone:
    name: str
    direction: np.ndarray  # (3,) unit vector, skeleton frame
    length: float  # file units
    axis_deg: np.ndarray  # (3,) local frame angles, XYZ
    dof: list[str] = field(default_factory=list)  # e.g. ["rx", "ry", "rz"]
    parent: str | None = None


@dataclass
class ASFSkeleton:
    bones: dict[str, Bone]  # in file order, "root" first
    root_order: list[str]  # e.g. ["TX", "TY", "TZ", "RX", "RY", "RZ"]
    root_axis_deg: np.ndarray  # root orientation (usually 0)
    length_unit: float  # the file's ":units length" (CMU: 0.45)


def _lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ASFAMCError(f"cannot read {path}: {exc.strerror}") from exc
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def parse_asf(path: str | Path) -> ASFSkeleton:
    """Parse an ASF skeleton. Raises :class:`ASFAMCError` naming the file and the problem."""
    path = Path(path)
    lines = _lines(path)
    bones: dict[str, Bone] = {"root": Bone("root", np.zeros(3), 0.0, np.zeros(3))}
    root_order, root_axis, unit = ["TX", "TY", "TZ", "RX", "RY", "RZ"], np.zeros(3), 1.0
    section, current = "", None
    try:
        for line in lines:
            words = line.split()
            if line.startswith(":"):
                section = words[0][1:]
                continue
            key = words[0]
            if section == "units" and key == "length":
                unit = float(words[1])
            elif section == "root" and key == "order":
                root_order = [w.upper() for w in words[1:]]
            elif section == "root" and key == "orientation":
                root_axis = np.array([float(v) for v in words[1:4]])
            elif section == "bonedata":
                if key == "begin":
                    current = {}
                elif key == "end":
                    bone = Bone(current["name"], current["direction"], current.get("length", 0.0),
                                current.get("axis", np.zeros(3)), current.get("dof", []))  # fmt: skip
                    bones[bone.name] = bone
                    current = None
                elif current is not None and key == "name":
                    current["name"] = words[1]
                elif current is not None and key == "direction":
                    current["direction"] = np.array([float(v) for v in words[1:4]])
                elif current is not None and key == "length":
                    current["length"] = float(words[1])
                elif current is not None and key == "axis":
                    if len(words) > 4 and words[4].upper() != "XYZ":
                        raise ASFAMCError(f"{path}: bone axis order {words[4]} is not supported (only XYZ)")
                    current["axis"] = np.array([float(v) for v in words[1:4]])
                elif current is not None and key == "dof":
                    current["dof"] = [w.lower() for w in words[1:]]
            elif section == "hierarchy" and key not in ("begin", "end"):
                for child in words[1:]:
                    bones[child].parent = key
    except (KeyError, ValueError, IndexError) as exc:
        raise ASFAMCError(f"{path}: malformed ASF ({type(exc).__name__}: {exc})") from exc
    orphans = [n for n, b in bones.items() if n != "root" and b.parent is None]
    if len(bones) < 2 or orphans:
        raise ASFAMCError(f"{path}: malformed ASF (no bones, or bones outside :hierarchy: {orphans[:5]})")
    return ASFSkeleton(bones, root_order, root_axis, unit)


def parse_amc(path: str | Path, skeleton: ASFSkeleton) -> dict[str, np.ndarray]:
    """Per-bone channel values ``{bone: (F, n_dof)}`` (root: ``(F, 6)`` in its ``order``)."""
    path = Path(path)
    frames: list[dict[str, list[float]]] = []
    try:
        for line in _lines(path):
            if line.startswith(":"):
                continue
            words = line.split()
            if len(words) == 1 and words[0].isdigit():
                frames.append({})
            elif frames:
                frames[-1][words[0]] = [float(v) for v in words[1:]]
    except ValueError as exc:
        raise ASFAMCError(f"{path}: malformed AMC ({exc})") from exc
    if not frames:
        raise ASFAMCError(f"{path}: no frames (is it an AMC file?)")
    out = {}
    for name, bone in skeleton.bones.items():
        width = len(skeleton.root_order) if name == "root" else len(bone.dof)
        if width == 0:
            continue
        values = np.zeros((len(frames), width))
        for i, frame in enumerate(frames):
            row = frame.get(name)
            if row is not None:
                if len(row) != width:
                    raise ASFAMCError(f"{path}: frame {i + 1} gives {len(row)} values for {name}, ASF says {width}")
                values[i] = row
        out[name] = values
    return out


def _euler_xyz(angles_deg: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` for X, then Y, then Z about fixed axes (``Rz·Ry·Rx``)."""
    return (
        Rotation.from_euler("xyz", angles_deg.reshape(-1, 3), degrees=True)
        .as_matrix()
        .reshape(*angles_deg.shape[:-1], 3, 3)
    )


def forward_kinematics(skeleton: ASFSkeleton, channels: dict[str, np.ndarray]) -> tuple[list[str], np.ndarray]:
    """Bone names and each bone's start position ``(F, K, 3)`` in file units (root: its position)."""
    root = channels["root"]
    frames = root.shape[0]
    order = skeleton.root_order
    position = np.stack([root[:, order.index(a)] for a in ("TX", "TY", "TZ")], -1)
    root_rot = np.stack([root[:, order.index(a)] for a in ("RX", "RY", "RZ")], -1)
    c_root = _euler_xyz(skeleton.root_axis_deg)
    world_rot = {"root": c_root @ _euler_xyz(root_rot) @ c_root.T}
    end = {"root": position}
    names, starts = [], []
    for name, bone in skeleton.bones.items():  # ASF lists parents before children
        if name == "root":
            names.append(name)
            starts.append(position)
            continue
        if bone.parent not in end:
            raise ASFAMCError(f"bone {name} comes before its parent {bone.parent} in the ASF")
        c = _euler_xyz(bone.axis_deg)
        angles = np.zeros((frames, 3))
        for k, dof in enumerate(bone.dof):
            if dof in ("rx", "ry", "rz"):
                angles[:, "xyz".index(dof[1])] = channels[name][:, k]
        rot = world_rot[bone.parent] @ c @ _euler_xyz(angles) @ c.T
        world_rot[name] = rot
        start = end[bone.parent]
        end[name] = start + bone.length * np.einsum("fij,j->fi", rot, bone.direction)
        names.append(name)
        starts.append(start)
    return names, np.stack(starts, axis=1)


def load_asf_amc(amc_path: str | Path, asf_path: str | Path | None = None) -> tuple[list[str], np.ndarray]:
    """An AMC take and its subject's ASF (default: ``NN.asf`` beside ``NN_MM.amc``) → bone names
    and bone start positions ``(F, K, 3)`` in file units."""
    amc_path = Path(amc_path)
    if asf_path is None:
        asf_path = amc_path.with_name(amc_path.stem.split("_")[0] + ".asf")
    if not Path(asf_path).is_file():
        raise ASFAMCError(f"{amc_path}: its skeleton {asf_path} is missing (CMU names it <subject>.asf)")
    skeleton = parse_asf(asf_path)
    return forward_kinematics(skeleton, parse_amc(amc_path, skeleton))

"""Keypoints a 2D input marks as unseen, filled from the same person's other frames.

Detectors and datasets mark a keypoint they did not see in two ways: NaN, or the image origin
(0, 0) (COCO's annotations, and ultralytics' YOLO-pose for every keypoint under 0.5
confidence). Lifted as they are, such a keypoint wrecks the whole 3D pose: the squats clip's
left wrist at (0, 0) in a third of its frames moved joints of those frames by up to 0.67 m.

Each unseen joint is placed from a neighbour of this frame (the other hip or shoulder, the
same side's shoulder or hip when both are unseen, the thorax for the head, the parent along a
limb) by the vector between the two in the nearest frames, before and after, where both were
seen (linearly between them, held beyond), taken no further than :data:`MAX_CARRY_S` away. A
limb joint or head with no such frame near hangs straight down from its neighbour (up, for the
head) at the typical length for the person's size in the image
(:func:`~posecast.engines.skeleton.bone_lengths_from_height` against the torso); a hip or
shoulder with none leaves the frame without a person. Filled joints get confidence 0, so
nothing that weighs the joints by confidence (the root's placement, the bone lengths) counts
them. A frame with fewer than :data:`MIN_SEEN_JOINTS` of the 13 joints a detector sees has no
person: a few points are not filled into a whole body.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import skeleton
from .layouts import KeypointLayout

_J = skeleton.JOINT_INDEX
#: (joint, the joint it is placed from, the default direction in the image when the two were
#: never seen together: +1 down, -1 up, 0 none), in the order they are filled: the torso first
#: (a hip or shoulder from its pair, then from the same side's other: both hips unseen), so a
#: limb always hangs from a placed joint.
FILL_ORDER: tuple[tuple[str, str, int], ...] = (
    ("l_hip", "r_hip", 0), ("r_hip", "l_hip", 0), ("l_shoulder", "r_shoulder", 0), ("r_shoulder", "l_shoulder", 0),
    ("l_hip", "l_shoulder", 0), ("r_hip", "r_shoulder", 0), ("l_shoulder", "l_hip", 0), ("r_shoulder", "r_hip", 0),
    ("head", "thorax", -1), ("l_knee", "l_hip", 1), ("r_knee", "r_hip", 1), ("l_ankle", "l_knee", 1),
    ("r_ankle", "r_knee", 1), ("l_elbow", "l_shoulder", 1), ("r_elbow", "r_shoulder", 1), ("l_wrist", "l_elbow", 1),
    ("r_wrist", "r_elbow", 1),
)  # fmt: skip
_HIPS, _SHOULDERS = [_J["l_hip"], _J["r_hip"]], [_J["l_shoulder"], _J["r_shoulder"]]
#: posecast's joints a detector sees (every layout's direct ones): all but the axial four
_DIRECT = [j for j in range(skeleton.NUM_JOINTS) if j not in skeleton.DERIVED_JOINTS]
#: Of those 13, a frame needs this many seen to be a person (a head and two shoulders lifted a
#: whole body, 62-126 mm off; review).
MIN_SEEN_JOINTS = 8
#: A joint's vector from the frames where it was seen is carried this far in time at most
#: (seconds); beyond, a limb hangs in the default pose and a hip or shoulder is not placed.
MAX_CARRY_S = 1.0
_TYPICAL_M = dict(zip(skeleton.BONE_NAMES, skeleton.bone_lengths_from_height(1.7), strict=True))
_TORSO_M = _TYPICAL_M["pelvis-spine"] + _TYPICAL_M["spine-thorax"]
#: the typical length from each limb joint (and the head) to the joint it hangs from, as a
#: fraction of the torso (pelvis to thorax)
_LENGTH_OF_TORSO = {"head": (_TYPICAL_M["thorax-neck"] + _TYPICAL_M["neck-head"]) / _TORSO_M} | {
    child: _TYPICAL_M[f"{parent}-{child}"] / _TORSO_M for child, parent, down in FILL_ORDER if down > 0
}


def unseen_keypoints(keypoints: np.ndarray) -> np.ndarray:
    """``(F, K)`` bool: keypoints ``(F, K, 2)`` marked as not seen, NaN in either coordinate or
    exactly at the image origin (no detector puts a seen keypoint there: to the last bit)."""
    keypoints = np.asarray(keypoints)
    return np.isnan(keypoints).any(axis=-1) | (keypoints == 0.0).all(axis=-1)


@dataclass(frozen=True)
class FilledJoints:
    """Posecast's 17 joints from a 2D input: ``keypoints`` ``(F, 17, 2)`` pixels (NaN throughout
    in a frame without a person), ``confidence`` ``(F, 17)`` (0 where filled), ``filled``
    ``(F, 17)`` bool (the joints placed here) and ``hung``: the joints placed in the default
    pose somewhere, where no frame with them and their neighbour seen was near."""

    keypoints: np.ndarray
    confidence: np.ndarray
    filled: np.ndarray
    hung: tuple[str, ...] = ()


def to_posecast_filled(
    keypoints: np.ndarray,
    confidence: np.ndarray,
    layout: KeypointLayout,
    times_s: np.ndarray | None = None,
    max_pixels: float = np.inf,
) -> FilledJoints:
    """``layout``'s keypoints ``(F, K, 2)`` and scores ``(F, K)`` → posecast's 17 joints, unseen
    ones filled (module docstring). A joint made of several keypoints takes the seen ones (the
    head from one ear in profile); the axial joints a layout derives, or a posecast-17 input left
    unseen, are made from the placed joints. ``times_s`` ``(F,)``: each frame's time (default:
    30 fps), which limits how far a vector is carried (:data:`MAX_CARRY_S`). A frame with
    fewer than :data:`MIN_SEEN_JOINTS` seen, with a keypoint beyond
    ``max_pixels`` or infinite, or with a joint that cannot be placed, has no person: NaN
    throughout, and no vector is taken from it."""
    keypoints, confidence = np.asarray(keypoints, dtype=np.float64), np.asarray(confidence, dtype=np.float64)
    unseen = unseen_keypoints(keypoints)
    if not unseen.any():  # the common case: the mapping the live pipeline makes, unchanged
        mapped = layout.to_posecast(np.concatenate([keypoints, confidence[..., None]], axis=-1))
        return FilledJoints(mapped[..., :2], mapped[..., 2], np.zeros(mapped.shape[:2], bool))
    seen_points = np.where(unseen[..., None], 0.0, keypoints)
    seen_share = (~unseen).astype(np.float64)
    joints = np.full((len(keypoints), skeleton.NUM_JOINTS, 2), np.nan)
    joint_confidence = np.zeros((len(keypoints), skeleton.NUM_JOINTS))
    for joint, sources in enumerate(layout.joint_sources):
        if sources:
            count = seen_share[:, list(sources)].sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                joints[:, joint] = seen_points[:, list(sources)].sum(axis=1) / count[:, None]
            joint_confidence[:, joint] = np.where(count > 0, confidence[:, list(sources)].mean(axis=1), 0.0)
    seen = ~np.isnan(joints).any(axis=-1)
    values = np.where(seen[..., None], joints, 0.0)
    with np.errstate(invalid="ignore"):
        in_range = np.isfinite(values).all(axis=(1, 2)) & (np.abs(values) <= max_pixels).all(axis=(1, 2))
    direct = seen[:, _DIRECT]
    person = in_range & (direct.sum(axis=1) >= MIN_SEEN_JOINTS) & (joint_confidence.max(axis=1) > 0)
    joints[~person], seen[~person] = np.nan, False
    clock_s = np.arange(len(joints)) / 30.0 if times_s is None else np.asarray(times_s, np.float64)
    derives = not layout.joint_sources[skeleton.ROOT]  # the layout has no axial joints of its own
    with np.errstate(invalid="ignore", over="ignore"):
        hung = _fill(joints, seen, clock_s, person)
        for joint, a, b in skeleton.AXIAL_MIDPOINTS:  # derived, or unseen in a posecast-17 input
            missing = ~np.isfinite(joints[:, joint]).all(axis=-1)
            joints[missing, joint] = 0.5 * (joints[missing, a] + joints[missing, b])
    filled = ~seen & person[:, None]
    if derives:
        filled[:, list(skeleton.DERIVED_JOINTS)] = False  # made, as from any detector, not filled
    joint_confidence[filled] = 0.0
    if derives:  # their scores: their sources', as the layout's mapping gives them
        joint_confidence = skeleton.derive_axial(joint_confidence[..., None])[..., 0]
    placed = np.isfinite(joints).all(axis=(1, 2))
    joints[~placed], joint_confidence[~placed] = np.nan, 0.0
    return FilledJoints(joints, joint_confidence, filled & placed[:, None], hung)


def _fill(joints: np.ndarray, seen: np.ndarray, clock_s: np.ndarray, person: np.ndarray) -> tuple[str, ...]:
    """Place each unseen joint of ``joints`` ``(F, 17, 2)`` (NaN) from its neighbour, in place;
    ``seen`` ``(F, 17)``: the joints the input saw, the only ones whose vectors are taken, and
    from frames no further than :data:`MAX_CARRY_S` on ``clock_s``; ``person`` ``(F,)``: the
    frames to place joints in. Returns the joints placed in the default pose somewhere."""
    hung = []
    for name, anchor_name, down in FILL_ORDER:
        joint = _J[name]
        if anchor_name == "thorax":
            anchor = joints[:, _SHOULDERS].mean(axis=1)
            anchor_seen = seen[:, _SHOULDERS].all(axis=1)
        else:
            anchor, anchor_seen = joints[:, _J[anchor_name]], seen[:, _J[anchor_name]]
        need = person & ~np.isfinite(joints[:, joint]).all(axis=-1) & np.isfinite(anchor).all(axis=-1)
        if not need.any():
            continue
        both = seen[:, joint] & anchor_seen
        near = _within(clock_s[need], clock_s[both], MAX_CARRY_S)
        offset = np.full((int(need.sum()), 2), np.nan)
        if near.any():
            vector = joints[both, joint] - anchor[both]
            offset[near] = np.stack([np.interp(clock_s[need][near], clock_s[both], vector[:, c]) for c in range(2)],
                                    axis=-1)  # fmt: skip
        if down and not near.all():
            torso_px = np.linalg.norm(joints[:, _SHOULDERS].mean(axis=1) - joints[:, _HIPS].mean(axis=1), axis=-1)
            known = np.isfinite(torso_px)
            if known.any():
                torso_px = np.where(known, torso_px, np.median(torso_px[known]))[need][~near]
                offset[~near] = np.stack([np.zeros_like(torso_px), down * _LENGTH_OF_TORSO[name] * torso_px], axis=-1)
                hung.append(name)
        joints[need, joint] = anchor[need] + offset  # a hip or shoulder with no vector near: stays unplaced
    return tuple(hung)


def _within(times_s: np.ndarray, sources_s: np.ndarray, limit_s: float) -> np.ndarray:
    """``(len(times_s),)`` bool: whether each time has one of ``sources_s`` (sorted) within ``limit_s``."""
    if not len(sources_s):
        return np.zeros(len(times_s), bool)
    after = np.clip(np.searchsorted(sources_s, times_s), 0, len(sources_s) - 1)
    before = np.clip(after - 1, 0, len(sources_s) - 1)
    nearest = np.minimum(np.abs(sources_s[after] - times_s), np.abs(times_s - sources_s[before]))
    return nearest <= limit_s + 1e-9  # (5 frames at 5 fps are 1.0000000000000002 s: a second)

"""Keypoints a 2D input marks as unseen, filled from the same person's other frames.

Detectors and datasets mark a keypoint they did not see in two ways: NaN, or the image origin
(0, 0) (COCO's annotations, and ultralytics' YOLO-pose for every keypoint under 0.5
confidence). Lifted as they are, such a keypoint wrecks the whole 3D pose: the squats clip's
left wrist at (0, 0) in a third of its frames moved joints of those frames by up to 0.67 m.

Each unseen joint is placed from a neighbour of this frame (the other hip or shoulder, the
thorax for the head, the parent along a limb) by the vector between the two in the nearest
frames, before and after, where both were seen (linearly between them, held beyond). A joint
never seen with its neighbour hangs straight down from it (up, for the head) at the typical
length for the person's size in the image (:func:`~posecast.engines.skeleton.bone_lengths_from_height`
against the torso); a hip or shoulder that cannot be placed so leaves the frame without a
person. Filled joints get confidence 0, so nothing that weighs the joints by confidence (the
root's placement, the bone lengths) counts them. A frame with no joint seen stays without a person.
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
    pose somewhere, never seen with their neighbour."""

    keypoints: np.ndarray
    confidence: np.ndarray
    filled: np.ndarray
    hung: tuple[str, ...] = ()


def to_posecast_filled(keypoints: np.ndarray, confidence: np.ndarray, layout: KeypointLayout) -> FilledJoints:
    """``layout``'s keypoints ``(F, K, 2)`` and scores ``(F, K)`` → posecast's 17 joints, unseen
    ones filled (module docstring). A joint made of several keypoints takes the seen ones (the
    head from one ear in profile); the axial joints a layout derives, or a posecast-17 input left
    unseen, are made from the placed joints. Frames with a joint that cannot be placed are NaN
    throughout."""
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
    seen = np.isfinite(joints).all(axis=-1)
    derives = not layout.joint_sources[skeleton.ROOT]  # the layout has no axial joints of its own
    with np.errstate(invalid="ignore", over="ignore"):
        hung = _fill(joints, seen)
        filled = ~seen & seen.any(axis=1)[:, None] & np.isfinite(joints).all(axis=-1)
        if derives:
            filled[:, list(skeleton.DERIVED_JOINTS)] = False  # made, as from any detector, not filled
        joint_confidence[filled] = 0.0
        for joint, a, b in skeleton.AXIAL_MIDPOINTS:  # derived, or unseen in a posecast-17 input
            missing = ~np.isfinite(joints[:, joint]).all(axis=-1)
            joints[missing, joint] = 0.5 * (joints[missing, a] + joints[missing, b])
            if derives:
                joint_confidence[:, joint] = 0.5 * (joint_confidence[:, a] + joint_confidence[:, b])
    placed = np.isfinite(joints).all(axis=(1, 2))
    joints[~placed], joint_confidence[~placed] = np.nan, 0.0
    return FilledJoints(joints, joint_confidence, filled & placed[:, None], hung)


def _fill(joints: np.ndarray, seen: np.ndarray) -> tuple[str, ...]:
    """Place each unseen joint of ``joints`` ``(F, 17, 2)`` (NaN) from its neighbour, in place;
    ``seen`` ``(F, 17)``: the joints the input saw, the only ones whose vectors are taken.
    Returns the joints placed in the default pose (never seen with their neighbour)."""
    frames, hung = np.arange(len(joints)), []
    shoulders, hips = [_J["l_shoulder"], _J["r_shoulder"]], [_J["l_hip"], _J["r_hip"]]
    for name, anchor_name, down in FILL_ORDER:
        joint = _J[name]
        if anchor_name == "thorax":
            anchor = joints[:, shoulders].mean(axis=1)
            anchor_seen = seen[:, shoulders].all(axis=1)
        else:
            anchor, anchor_seen = joints[:, _J[anchor_name]], seen[:, _J[anchor_name]]
        need = ~np.isfinite(joints[:, joint]).all(axis=-1) & np.isfinite(anchor).all(axis=-1)
        if not need.any():
            continue
        both = seen[:, joint] & anchor_seen
        if both.any():
            vector = joints[both, joint] - anchor[both]
            offset = np.stack([np.interp(frames[need], frames[both], vector[:, c]) for c in range(2)], axis=-1)
        elif down:
            torso_px = np.linalg.norm(joints[:, shoulders].mean(axis=1) - joints[:, hips].mean(axis=1), axis=-1)
            known = np.isfinite(torso_px)
            if not known.any():
                continue
            torso_px = np.where(known, torso_px, np.median(torso_px[known]))[need]
            offset = np.stack([np.zeros_like(torso_px), down * _LENGTH_OF_TORSO[name] * torso_px], axis=-1)
            hung.append(name)
        else:
            continue  # a hip or shoulder never seen with its pair: no guess of where it is
        joints[need, joint] = anchor[need] + offset
    return tuple(hung)

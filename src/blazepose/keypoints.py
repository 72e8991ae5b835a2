"""Skeletons as data: joint names, flip pairs, torso pair, parts and drawing edges.

Left/right are person-centric (the person's own left), so a horizontal flip swaps them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Skeleton:
    name: str
    joint_names: tuple[str, ...]
    flip_pairs: tuple[tuple[int, int], ...]  # (left or right joint, its mirror)
    edges: tuple[tuple[int, int], ...]  # for drawing
    torso: tuple[int, int] | None = None  # PCK normaliser: (left shoulder, right hip)
    parts: tuple[tuple[str, tuple[int, ...]], ...] = ()  # (part name, joints averaged into it)

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def flip_index(self) -> np.ndarray:
        """Permutation p such that flipped[..., j, :] = original[..., p[j], :] after mirroring x."""
        index = np.arange(self.num_joints)
        for a, b in self.flip_pairs:
            index[a], index[b] = b, a
        return index

    def side(self, joint: int) -> str:
        """'left', 'right' or 'center' (from the name), used for colours."""
        name = self.joint_names[joint]
        if name.startswith(("left", "l_")):
            return "left"
        if name.startswith(("right", "r_")):
            return "right"
        return "center"

    def index(self, name: str) -> int:
        return self.joint_names.index(name)


# fmt: off
LSP = Skeleton(
    name="lsp",
    joint_names=(
        "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
        "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
        "neck", "head_top",
    ),
    flip_pairs=((0, 5), (1, 4), (2, 3), (6, 11), (7, 10), (8, 9)),
    edges=(
        (0, 1), (1, 2), (5, 4), (4, 3), (2, 3), (2, 8), (3, 9), (8, 9),
        (6, 7), (7, 8), (11, 10), (10, 9), (12, 13), (8, 12), (9, 12),
    ),
    torso=(9, 2),  # left shoulder, right hip
    parts=(
        ("Head", (12, 13)), ("Shoulder", (8, 9)), ("Elbow", (7, 10)), ("Wrist", (6, 11)),
        ("Hip", (2, 3)), ("Knee", (1, 4)), ("Ankle", (0, 5)),
    ),
)

COCO = Skeleton(
    name="coco",
    joint_names=(
        "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
        "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
        "right_knee", "left_ankle", "right_ankle",
    ),
    flip_pairs=((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)),
    edges=(
        (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8),
        (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4),
    ),
    torso=(5, 12),
)
# fmt: on

SKELETONS = {s.name: s for s in (LSP, COCO)}


def coco_to_lsp(
    keypoints: np.ndarray, visibility: np.ndarray, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """COCO-17 (..., 17, 2) -> LSP-14 (..., 14, 2), with visibility and mask mapped alongside.

    Neck = midpoint of the shoulders (known only where both are); head top has no COCO counterpart and is
    masked out.
    """
    keypoints = np.asarray(keypoints, np.float32)
    shape = keypoints.shape[:-2]
    out_k = np.zeros((*shape, LSP.num_joints, 2), np.float32)
    out_v = np.zeros((*shape, LSP.num_joints), np.float32)
    out_m = np.zeros((*shape, LSP.num_joints), np.float32)
    for j, name in enumerate(LSP.joint_names):
        if name in COCO.joint_names:  # the 12 limb joints share their names; neck and head top have none
            c = COCO.index(name)
            out_k[..., j, :] = keypoints[..., c, :]
            out_v[..., j] = visibility[..., c]
            out_m[..., j] = mask[..., c]
    ls, rs = COCO.index("left_shoulder"), COCO.index("right_shoulder")
    neck = LSP.index("neck")
    both = mask[..., ls] * mask[..., rs]
    out_k[..., neck, :] = (keypoints[..., ls, :] + keypoints[..., rs, :]) / 2 * both[..., None]
    out_v[..., neck] = visibility[..., ls] * visibility[..., rs]
    out_m[..., neck] = both
    return out_k, out_v, out_m

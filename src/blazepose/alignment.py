"""The paper's alignment of a person: centre (mid-hips), size (radius of the circle around the whole body) and
rotation (of the line from mid-hips to mid-shoulders), and the upright crops it defines (``geometry``).

Rotations are in degrees, in ``crop_matrix``'s sense: the crop made with ``rotation_deg = rotation`` shows the
person upright (mid-shoulders straight above mid-hips). An upright person has rotation 0, one lying with the
head to the right of the picture +90, one standing on the hands 180 (or -180). Pure NumPy, no TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from blazepose.geometry import crop_matrix, upright_rotation
from blazepose.keypoints import Skeleton

# Side of the landmark crop made from an alignment = ALIGN_MARGIN x the circle's diameter. The landmark
# models are trained on crops of 1.3 x the longer side of the keypoints' box around the box centre; the circle
# centred at mid-hips is about one body height across for an upright person.
ALIGN_MARGIN = 1.25


@dataclass(frozen=True)
class Alignment:
    cx: float  # mid-hips, pixels
    cy: float
    radius: float  # pixels: the circle around mid-hips that holds every joint
    rotation: float  # degrees; crop_matrix(..., rotation_deg=rotation) turns the person upright

    def crop(self, out_size: int, margin: float = ALIGN_MARGIN) -> np.ndarray:
        """2x3 affine from image pixels onto the upright `out_size` crop around the circle."""
        return crop_matrix((self.cx, self.cy), 2.0 * self.radius * margin, out_size, self.rotation)

    def to_dict(self) -> dict:
        return {
            "centre": [round(self.cx, 2), round(self.cy, 2)],
            "radius": round(self.radius, 2),
            "rotation": round(self.rotation, 2),
        }


def _mid(keypoints: np.ndarray, mask: np.ndarray, a: int, b: int) -> np.ndarray | None:
    if mask[a] > 0 and mask[b] > 0:
        return (keypoints[a] + keypoints[b]) / 2.0
    return None


def alignment_from_keypoints(keypoints: np.ndarray, mask: np.ndarray, skeleton: Skeleton) -> Alignment | None:
    """The alignment of one person's annotated keypoints, or None without both hips (or for a skeleton
    without hips).

    Rotation needs both shoulders too; without them it is 0 (upright). The radius is the largest distance
    from mid-hips to an annotated joint."""
    if not skeleton.has("left_hip", "right_hip"):
        return None
    hips = _mid(keypoints, mask, skeleton.index("left_hip"), skeleton.index("right_hip"))
    if hips is None:
        return None
    shoulders = None
    if skeleton.has("left_shoulder", "right_shoulder"):
        shoulders = _mid(keypoints, mask, skeleton.index("left_shoulder"), skeleton.index("right_shoulder"))
    rotation = 0.0 if shoulders is None or np.allclose(shoulders, hips) else upright_rotation(hips, shoulders)
    pts = keypoints[mask > 0]
    radius = float(np.linalg.norm(pts - hips, axis=-1).max())
    return Alignment(float(hips[0]), float(hips[1]), max(radius, 1.0), rotation)

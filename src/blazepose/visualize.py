"""Drawing skeletons: the person's left in blue, right in red (orange), centre joints in green."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from blazepose.defaults import JOINT_THRESHOLD
from blazepose.keypoints import Skeleton

COLOURS = {"left": (40, 120, 255), "right": (255, 60, 40), "center": (40, 200, 60)}  # RGB


def _edge_side(skeleton: Skeleton, a: int, b: int) -> str:
    sides = {skeleton.side(a), skeleton.side(b)}
    return sides.pop() if len(sides) == 1 else "center"


def draw_skeleton(
    image: np.ndarray, keypoints: np.ndarray, mask: np.ndarray, skeleton: Skeleton, radius: int | None = None
) -> np.ndarray:
    """A copy of `image` (H, W, 3 uint8 RGB) with the joints and limbs drawn where mask > 0."""
    out = np.ascontiguousarray(image.copy())
    scale = max(out.shape[:2]) / 256
    radius = radius or max(2, int(round(2 * scale)))
    thickness = max(1, int(round(1.5 * scale)))
    known = np.asarray(mask) > 0
    pts = np.round(np.nan_to_num(np.asarray(keypoints, np.float64))).astype(int)
    for a, b in skeleton.edges:
        if known[a] and known[b]:
            colour = COLOURS[_edge_side(skeleton, a, b)]
            cv2.line(out, tuple(pts[a]), tuple(pts[b]), colour, thickness, cv2.LINE_AA)
    for j in np.flatnonzero(known):
        cv2.circle(out, tuple(pts[j]), radius, COLOURS[skeleton.side(j)], -1, cv2.LINE_AA)
    return out


def draw_people(image: np.ndarray, people, skeleton: Skeleton, threshold: float = JOINT_THRESHOLD) -> np.ndarray:
    """Every person's skeleton (joints scoring below `threshold` left out) and, where the detector gave one,
    the box with the person's score."""
    out = np.ascontiguousarray(image.copy())
    thickness = max(1, int(round(max(out.shape[:2]) / 400)))
    for p in people:
        if p.box is not None:
            x0, y0, x1, y1 = (int(round(v)) for v in p.box)
            cv2.rectangle(out, (x0, y0), (x1, y1), (255, 255, 0), thickness, cv2.LINE_AA)
            cv2.putText(
                out,
                f"{p.score:.2f}",
                (x0, max(y0 - 3, 10)),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.4 * thickness,
                (255, 255, 0),
                thickness,
                cv2.LINE_AA,
            )
        out = draw_skeleton(out, p.keypoints, np.asarray(p.visibility) >= threshold, skeleton)
    return out


def image_grid(images: list[np.ndarray], columns: int) -> np.ndarray:
    """Same-size images tiled row by row (blank tiles fill the last row)."""
    h, w = images[0].shape[:2]
    rows = -(-len(images) // columns)
    grid = np.full((rows * h, columns * w, 3), 255, np.uint8)
    for n, img in enumerate(images):
        r, c = divmod(n, columns)
        grid[r * h : (r + 1) * h, c * w : (c + 1) * w] = img
    return grid


def save_png(image: np.ndarray, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")
    return path

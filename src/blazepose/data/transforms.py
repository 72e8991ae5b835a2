"""Augmentation, as pure functions on (image, keypoints, visibility, mask): random crops, flips, occlusion,
colour. The matrices, boxes and mirroring they compose are ``geometry``'s. Inputs are never modified in place.
"""

from __future__ import annotations

import numpy as np

from blazepose.config import AugmentConfig
from blazepose.geometry import (
    crop_matrix,
    mirror_points,
    person_box,
    swap_left_right,
    transform_points,
    warp_image,
    whole_image_box,
)
from blazepose.keypoints import Skeleton


def hflip(
    image: np.ndarray, keypoints: np.ndarray, visibility: np.ndarray, mask: np.ndarray, skeleton: Skeleton
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mirror the image left-right: keypoints through ``geometry.mirror_points`` (x -> W - 1 - x, left and
    right joints exchanged), their flags with them."""
    p = skeleton.flip_index
    kps = mirror_points(keypoints, image.shape[1] - 1, p)
    return image[:, ::-1].copy(), kps, visibility[..., p], mask[..., p]


def random_crop_matrix(
    rng: np.random.Generator,
    box: tuple[float, float, float],
    out_size: int,
    aug: AugmentConfig,
    base_angle: float = 0.0,
) -> tuple[np.ndarray, bool]:
    """Crop matrix around `box` with random scale, shift and rotation (about `base_angle`); returns it and
    whether it flips."""
    cx, cy, side = box
    side *= rng.uniform(1 - aug.scale_jitter, 1 + aug.scale_jitter)
    cx += rng.uniform(-aug.shift_jitter, aug.shift_jitter) * side
    cy += rng.uniform(-aug.shift_jitter, aug.shift_jitter) * side
    angle = base_angle + rng.uniform(-aug.rotation_deg, aug.rotation_deg)
    if aug.turned_prob > 0 and rng.random() < aug.turned_prob:  # any angle: lying, upside down
        angle = rng.uniform(-180.0, 180.0)
    flip = bool(rng.random() < aug.flip_prob)
    return crop_matrix((cx, cy), side, out_size, angle, flip), flip


def occlude(
    image: np.ndarray, rng: np.random.Generator, max_boxes: int, max_size: float
) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Draw 1..max_boxes rectangles of random colour (the paper's occlusion augmentation).

    Returns the new image and the rectangles as (x0, y0, x1, y1), x1/y1 exclusive.
    """
    out = image.copy()
    boxes = []
    h, w = out.shape[:2]
    for _ in range(rng.integers(1, max_boxes + 1)):
        bw = int(rng.uniform(0.05, max_size) * w)
        bh = int(rng.uniform(0.05, max_size) * h)
        x0 = int(rng.integers(0, max(w - bw, 1)))
        y0 = int(rng.integers(0, max(h - bh, 1)))
        out[y0 : y0 + bh, x0 : x0 + bw] = rng.integers(0, 256, size=3, dtype=np.uint8)
        boxes.append((x0, y0, x0 + bw, y0 + bh))
    return out, boxes


def paste_beside(
    image: np.ndarray, patch: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Paste the square `patch` (another person) into `image`, its centre 0.3-0.6 of the image's side to the
    left or right of the centre and up to 0.15 above or below, cut at the borders. Returns the new image and
    the pasted rectangle (x0, y0, x1, y1), x1/y1 exclusive."""
    out = image.copy()
    h, w = out.shape[:2]
    side = patch.shape[0]
    cx = w / 2 + rng.choice([-1.0, 1.0]) * rng.uniform(0.3, 0.6) * w
    cy = h / 2 + rng.uniform(-0.15, 0.15) * h
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    x1, y1 = min(x0 + side, w), min(y0 + side, h)
    px, py = max(-x0, 0), max(-y0, 0)
    x0, y0 = max(x0, 0), max(y0, 0)
    if x1 > x0 and y1 > y0:
        out[y0:y1, x0:x1] = patch[py : py + y1 - y0, px : px + x1 - x0]
    return out, (x0, y0, max(x1, x0), max(y1, y0))


def covered(points: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> np.ndarray:
    """(..., K) True where a point falls on one of the rectangles."""
    hit = np.zeros(points.shape[:-1], bool)
    for x0, y0, x1, y1 in boxes:
        x, y = np.round(points[..., 0]), np.round(points[..., 1])
        hit |= (x >= x0) & (x < x1) & (y >= y0) & (y < y1)
    return hit


def color_jitter(
    image: np.ndarray, rng: np.random.Generator, brightness: float, contrast: float, saturation: float
) -> np.ndarray:
    """Random brightness, contrast and saturation factors in [1 - a, 1 + a]; geometry untouched."""
    img = image.astype(np.float32)
    img *= rng.uniform(1 - brightness, 1 + brightness)
    mean = img.mean()
    img = (img - mean) * rng.uniform(1 - contrast, 1 + contrast) + mean
    gray = img.mean(axis=-1, keepdims=True)
    img = (img - gray) * rng.uniform(1 - saturation, 1 + saturation) + gray
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def inside(points: np.ndarray, size: int) -> np.ndarray:
    """(..., K) True where a point lies within a size x size image."""
    return ((points >= -0.5) & (points <= size - 0.5)).all(axis=-1)


def augment(
    image: np.ndarray,
    keypoints: np.ndarray,
    visibility: np.ndarray,
    mask: np.ndarray,
    rng: np.random.Generator,
    out_size: int,
    margin: float,
    aug: AugmentConfig,
    skeleton: Skeleton,
    person_crop: tuple[float, float, float, float] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One training view: (image, keypoints in output pixels, visibility, mask, matrix original->output).

    Frames the person (`person_crop` (cx, cy, side, rotation) where given, e.g. the alignment's upright crop;
    else the keypoints' box x `margin`) or, with probability ``whole_image_prob``, the whole image; then random
    scale / shift / rotation / flip, occlusion rectangles
    and colour jitter. Joints that leave the frame or fall under an occlusion rectangle keep their position
    (for regression) but count as not visible.
    """
    h, w = image.shape[:2]
    base_angle = 0.0
    if mask.sum() == 0 or (aug.enabled and rng.random() < aug.whole_image_prob):
        box = whole_image_box(w, h)
    elif person_crop is not None:
        box, base_angle = person_crop[:3], person_crop[3]
    else:
        box = person_box(keypoints, mask, margin)
    if aug.enabled:
        m, flip = random_crop_matrix(rng, box, out_size, aug, base_angle)
    else:
        m, flip = crop_matrix(box[:2], box[2], out_size, base_angle), False
    out = warp_image(image, m, out_size)
    kps = transform_points(keypoints, m)
    vis, msk = visibility.astype(np.float32), mask.astype(np.float32)
    if flip:
        kps, vis, msk = swap_left_right(kps, vis, msk, skeleton)
    vis = vis * inside(kps, out_size)
    if aug.enabled:
        if rng.random() < aug.occlusion_prob:
            out, boxes = occlude(out, rng, aug.occlusion_max_boxes, aug.occlusion_max_size)
            vis = vis * ~covered(kps, boxes)
        out = color_jitter(out, rng, aug.brightness, aug.contrast, aug.saturation)
    return out, kps, vis, msk, m

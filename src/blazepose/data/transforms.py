"""Person-centric crops and augmentation, as pure functions on (image, keypoints, visibility, mask).

Geometry is carried by 2x3 affine matrices mapping original pixels to output pixels (pixel centres at
integers, as ``cv2.warpAffine`` uses): the crop, scale, rotation, shift and flip compose into one matrix,
the image is resampled once, and the keypoints go through the same matrix, so pixels and keypoints cannot
drift apart. Inputs are never modified in place.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from blazepose.config import AugmentConfig
from blazepose.keypoints import Skeleton

PAD_VALUE = (0, 0, 0)


def person_box(keypoints: np.ndarray, mask: np.ndarray, margin: float) -> tuple[float, float, float]:
    """Square box (cx, cy, side) around the annotated keypoints, side = margin x the longer extent."""
    pts = keypoints[mask > 0]
    if len(pts) == 0:
        raise ValueError("no annotated keypoint to crop around")
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    cx, cy = (lo + hi) / 2
    side = max(float((hi - lo).max()) * margin, 1.0)
    return float(cx), float(cy), side


def whole_image_box(width: int, height: int) -> tuple[float, float, float]:
    """Square box that holds the whole image, centred (letterboxing)."""
    return (width - 1) / 2.0, (height - 1) / 2.0, float(max(width, height))


def crop_matrix(
    center: tuple[float, float], side: float, out_size: int, rotation_deg: float = 0.0, flip: bool = False
) -> np.ndarray:
    """2x3 affine: the square of `side` original pixels around `center`, rotated by `rotation_deg`
    (counter-clockwise in the picture), onto an `out_size` square; `flip` mirrors it horizontally."""
    s = out_size / side
    a = math.radians(rotation_deg)
    cos, sin = math.cos(a) * s, math.sin(a) * s
    c_out = (out_size - 1) / 2.0
    cx, cy = center
    # y points down in images, so a counter-clockwise turn on screen is [[cos, sin], [-sin, cos]].
    m = np.array([[cos, sin, c_out - cos * cx - sin * cy], [-sin, cos, c_out + sin * cx - cos * cy]], np.float64)
    if flip:
        m = np.array([[-1.0, 0.0, out_size - 1.0], [0.0, 1.0, 0.0]]) @ np.vstack([m, [0, 0, 1]])
    return m


def invert_affine(m: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(np.asarray(m, np.float64))


def transform_points(points: np.ndarray, m: np.ndarray) -> np.ndarray:
    """(..., 2) points through a 2x3 affine."""
    points = np.asarray(points, np.float64)
    return (points @ m[:, :2].T + m[:, 2]).astype(np.float32)


def warp_image(image: np.ndarray, m: np.ndarray, out_size: int) -> np.ndarray:
    """Resample `image` through the 2x3 affine `m` onto an out_size square (zero padding).

    Shrinking by more than 2x first goes through an area-averaging resize, so small outputs of big images
    are not aliased; the matrix is adjusted so the geometry is unchanged.
    """
    scale = math.sqrt(abs(np.linalg.det(np.asarray(m, np.float64)[:, :2])))
    if scale < 0.5:
        h, w = image.shape[:2]
        small_w, small_h = max(1, round(w * scale)), max(1, round(h * scale))
        image = cv2.resize(image, (small_w, small_h), interpolation=cv2.INTER_AREA)
        fx, fy = small_w / w, small_h / h
        # small pixel (u, v) is original ((u + 0.5) / fx - 0.5, (v + 0.5) / fy - 0.5)
        to_original = np.array([[1 / fx, 0, 0.5 / fx - 0.5], [0, 1 / fy, 0.5 / fy - 0.5], [0, 0, 1]])
        m = np.asarray(m, np.float64) @ to_original
    return cv2.warpAffine(
        image,
        m,
        (out_size, out_size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=PAD_VALUE,
    )


def swap_left_right(
    keypoints: np.ndarray, visibility: np.ndarray, mask: np.ndarray, skeleton: Skeleton
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reorder joints after a mirror: the person's left joints become the right ones (flags follow)."""
    p = skeleton.flip_index
    return keypoints[..., p, :], visibility[..., p], mask[..., p]


def hflip(
    image: np.ndarray, keypoints: np.ndarray, visibility: np.ndarray, mask: np.ndarray, skeleton: Skeleton
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mirror the image left-right; x -> W - 1 - x and left/right joints swapped."""
    width = image.shape[1]
    kps = np.array(keypoints, np.float32)
    kps[..., 0] = width - 1 - kps[..., 0]
    kps, vis, msk = swap_left_right(kps, visibility, mask, skeleton)
    return image[:, ::-1].copy(), kps, vis, msk


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

"""Crops with nobody in them: the negatives of the landmark model's presence output (the paper's pose flag).

Made from what the project has: regions of the training images away from every person in them (LSP and
LSPet's labelled person, COCO's people with or without keypoints and its crowd regions), and COCO images
without a person, cut at any size and turned by any angle the way the pipeline crops a person, or whole and
letterboxed, as the pipeline's whole-image pass sees them. LSP and LSPet label one person per image, so a
region away from that person may still show someone unlabelled in the background: those negatives are noisy,
the COCO ones are not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from blazepose.data.images import load_image
from blazepose.data.sample import Sample
from blazepose.errors import BlazePoseError
from blazepose.geometry import crop_matrix, warp_image, whole_image_box

# A person's keypoint box is widened by this fraction of its longer side on every side (hands, head, clothes).
BOX_PAD = 0.25
# Crop sides drawn from this range of the image's shorter side.
SIDE_RANGE = (0.2, 0.9)
# The share of negatives drawn from images without a person, when the sources have such.
EMPTY_SHARE = 1 / 3
# Of those, the share shown whole, letterboxed as the pipeline's first pass shows an image.
WHOLE_SHARE = 0.5


@dataclass
class NegativeSource:
    image_path: str
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)  # where people are, full pixels


def _padded_box(points: np.ndarray) -> tuple[float, float, float, float]:
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    pad = BOX_PAD * max(x1 - x0, y1 - y0, 1.0)
    return (float(x0 - pad), float(y0 - pad), float(x1 + pad), float(y1 + pad))


def negative_sources(samples: list[Sample], coco_images: list | None = None) -> list[NegativeSource]:
    """Negative sources from pose samples (one person each; COCO samples are skipped here: pass their images
    whole as `coco_images`, data.scenes.SceneSource, so that every person in them is avoided)."""
    out = [
        NegativeSource(s.image_path, [_padded_box(s.keypoints[s.mask > 0])])
        for s in samples
        if s.dataset != "coco" and s.mask.sum() > 0
    ]
    for src in coco_images or []:
        boxes = [p.box if p.box is not None else _padded_box(p.keypoints[p.mask > 0]) for p in src.people]
        out.append(NegativeSource(src.image_path, [*boxes, *src.ignore]))
    return out


def _clear(cx: float, cy: float, reach: float, boxes) -> bool:
    """The disc of radius `reach` around (cx, cy) misses every box."""
    for x0, y0, x1, y1 in boxes:
        dx = max(x0 - cx, 0.0, cx - x1)
        dy = max(y0 - cy, 0.0, cy - y1)
        if dx * dx + dy * dy < reach * reach:
            return False
    return True


def negative_crop(image: np.ndarray, boxes, rng: np.random.Generator, size: int, tries: int = 10) -> np.ndarray | None:
    """A square crop of `image` that touches none of `boxes`, at a random size and angle, warped to `size`;
    None when no such region was found in `tries` draws."""
    h, w = image.shape[:2]
    for _ in range(tries):
        side = rng.uniform(*SIDE_RANGE) * min(h, w)
        angle = rng.uniform(-180, 180) if rng.uniform() < 0.35 else rng.uniform(-20, 20)
        cx, cy = rng.uniform(side / 2, w - side / 2), rng.uniform(side / 2, h - side / 2)
        if _clear(cx, cy, side / math.sqrt(2), boxes):
            return warp_image(image, crop_matrix((cx, cy), side, size, angle), size)
    return None


def whole_view(image: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """The whole image letterboxed onto a `size` square, as the pipeline's whole-image pass reads it (up to
    10 % zoomed out and 10 degrees turned, as the person crops' augmentation would)."""
    cx, cy, side = whole_image_box(image.shape[1], image.shape[0])
    return warp_image(image, crop_matrix((cx, cy), side * rng.uniform(1.0, 1.1), size, rng.uniform(-10, 10)), size)


def _plain(rng: np.random.Generator, size: int) -> np.ndarray:
    """A plain colour with blurred noise: nobody there."""
    colour = rng.uniform(0, 255, 3)
    noise = cv2.resize(rng.normal(0, rng.uniform(5, 40), (size // 8, size // 8, 3)), (size, size))
    return np.clip(colour + noise, 0, 255).astype(np.uint8)


def draw_negative(
    sources: list[NegativeSource], rng: np.random.Generator, size: int, empty: list[NegativeSource] | None = None
) -> np.ndarray:
    """A crop with nobody: from an image without a person (a third of the time, when there are such; half of
    those the whole image, ``whole_view``), else from a region of a pose image away from its people; a plain
    noisy colour when neither gives one (pose images are mostly person). `empty`: the sources without a
    person, when the caller has them already. Never raises: it runs inside the input pipeline."""
    empty = [s for s in sources if not s.boxes] if empty is None else empty
    for attempt in range(10):
        pool = empty if empty and (attempt >= 5 or rng.uniform() < EMPTY_SHARE) else sources
        if not pool:
            break
        src = pool[rng.integers(len(pool))]
        try:
            image, (sx, sy) = load_image(src.image_path, min_scale=0.5)
        except BlazePoseError:
            continue
        if not src.boxes and rng.uniform() < WHOLE_SHARE:
            return whole_view(image, rng, size)
        boxes = [(b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy) for b in src.boxes]
        crop = negative_crop(image, boxes, rng, size)
        if crop is not None:
            return crop
    return _plain(rng, size)


def presence_negatives(cfg, part: str) -> list[NegativeSource]:
    """The negative sources of a split ("train" or "val"): its pose images (never the LSP test half) and, when
    data.train_sets has "coco", every image of coco_mini's half of that name (those without a person whole)."""
    from blazepose.data.datasets import coco_files, dataset_folder, load_split
    from blazepose.data.scenes import coco_sources
    from blazepose.keypoints import skeleton_of

    coco = None
    if "coco" in cfg.data.train_sets:
        coco = coco_sources(*coco_files(dataset_folder("coco", cfg.data.root)), part)
    return negative_sources(load_split(cfg.data, part, skeleton_of(cfg)), coco)

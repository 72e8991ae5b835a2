"""Training scenes for the person detector, made from the pose datasets we have.

LSP and LSPet images are crops centred on one person; everyday photos are not. A scene is a square canvas
(the detector's input) on which source images are placed the way photos have people: one image zoomed in or
out, mosaics of 2x2 and 3x3 images (small and several people), people cut off by the border or by a mosaic
cell, turned by any angle (lying, upside down), and scenes with nobody (COCO images without a person,
regions of the pose images away from their person). Every placed image goes through one similarity
transform, its keypoints through the same, and each person's alignment and box are worked out from the
transformed keypoints (``alignment_from_keypoints``), so pixels and targets cannot drift apart.

Sources are decoded once, at most ``CACHE_SIDE`` pixels on their longer side, and kept in memory.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from blazepose.alignment import Alignment, alignment_from_keypoints
from blazepose.data.coco import images_in_part
from blazepose.data.images import load_image
from blazepose.data.sample import Sample
from blazepose.errors import BlazePoseError, read_json
from blazepose.geometry import similarity, warp_image
from blazepose.keypoints import COCO, LSP, Skeleton

CACHE_SIDE = 320  # longer side of a decoded source image, pixels
MIN_JOINTS_INSIDE = 4  # a placed person counts when this many annotated joints are on its visible part


@dataclass
class ScenePerson:
    keypoints: np.ndarray  # (K, 2) source pixels (after the cache's downscale)
    mask: np.ndarray  # (K,)
    box: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1 where the data gives one


@dataclass
class SceneSource:
    image_path: str
    skeleton: Skeleton
    people: list[ScenePerson] = field(default_factory=list)
    ignore: list[tuple[float, float, float, float]] = field(default_factory=list)  # unlabelled people
    image: np.ndarray | None = None  # decoded, filled by load_sources


@dataclass
class ScenePersonTarget:
    alignment: Alignment
    box: tuple[float, float, float, float]
    rotation_known: bool


@dataclass
class Scene:
    image: np.ndarray  # (S, S, 3) uint8
    people: list[ScenePersonTarget]
    ignore: list[tuple[float, float, float, float]]


# --- sources ------------------------------------------------------------------------------------------------
def sources_from_samples(samples: list[Sample], skeleton: Skeleton = LSP) -> list[SceneSource]:
    """One source per sample (LSP, LSPet: one annotated person per image)."""
    return [
        SceneSource(s.image_path, skeleton, [ScenePerson(s.keypoints.copy(), s.mask.copy())])
        for s in samples
        if s.mask.sum() > 0
    ]


def coco_sources(annotations: str | Path, images: str | Path, part: str = "all") -> list[SceneSource]:
    """Every image of a COCO person-keypoints json, people and all (images without a person too: they are
    the negatives). People without keypoints and crowd regions are kept as ignore boxes. `part`: "train", "val"
    (``data.coco.image_part``, the one rule) or "all"."""
    data = read_json(annotations, "a COCO person_keypoints json")
    if not isinstance(data, dict) or "images" not in data or "annotations" not in data:
        raise BlazePoseError(f"{annotations}: expected a COCO json with 'images' and 'annotations'")
    chosen = images_in_part(data["images"], part)
    by_id = {im["id"]: SceneSource(str(Path(images) / im["file_name"]), COCO) for im in chosen}
    for ann in data["annotations"]:
        src = by_id.get(ann["image_id"])
        if src is None:
            continue
        x, y, w, h = (float(v) for v in ann.get("bbox", (0, 0, 0, 0)))
        box = (x, y, x + w, y + h)
        kps = np.asarray(ann.get("keypoints", []), np.float32).reshape(-1, 3)
        if ann.get("iscrowd", 0) or len(kps) != COCO.num_joints or ann.get("num_keypoints", 0) == 0:
            src.ignore.append(box)
            continue
        src.people.append(ScenePerson(kps[:, :2].copy(), (kps[:, 2] > 0).astype(np.float32), box))
    return list(by_id.values())


def _load_one(src: SceneSource) -> SceneSource | None:
    try:
        image, (sx, sy) = load_image(src.image_path, min_scale=0.25)
    except BlazePoseError:
        return None
    h, w = image.shape[:2]
    f = min(1.0, CACHE_SIDE / max(h, w))
    if f < 1.0:
        image = cv2.resize(image, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    fx, fy = sx * image.shape[1] / w, sy * image.shape[0] / h

    def scale_box(b):
        return (b[0] * fx, b[1] * fy, b[2] * fx, b[3] * fy)

    people = [
        ScenePerson(p.keypoints * np.array([fx, fy], np.float32), p.mask, None if p.box is None else scale_box(p.box))
        for p in src.people
    ]
    return SceneSource(src.image_path, src.skeleton, people, [scale_box(b) for b in src.ignore], image)


def load_sources(sources: list[SceneSource], progress: bool = True) -> list[SceneSource]:
    """Decode every source image once (reduced); unreadable ones are dropped with a count on stderr."""
    import sys

    from tqdm import tqdm

    with ThreadPoolExecutor(2) as pool:
        loaded = list(tqdm(pool.map(_load_one, sources), total=len(sources), desc="scene images", disable=not progress))
    kept = [s for s in loaded if s is not None]
    if len(kept) < len(sources):
        print(f"warning: {len(sources) - len(kept)} scene image(s) could not be read", file=sys.stderr)
    if not kept:
        raise BlazePoseError("no readable image to make detector scenes from")
    return kept


# --- placement ------------------------------------------------------------------------------------------------
def _box_of(points: np.ndarray) -> tuple[float, float, float, float]:
    lo, hi = points.min(axis=0), points.max(axis=0)
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


def _clip_box(box, rect):
    x0, y0, x1, y1 = rect
    b = (max(box[0], x0), max(box[1], y0), min(box[2], x1), min(box[3], y1))
    return b if b[2] > b[0] + 1 and b[3] > b[1] + 1 else None


def place(canvas: np.ndarray, src: SceneSource, m: np.ndarray, rect, scene: Scene) -> None:
    """Draw `src` through `m` into `rect` (x0, y0, x1, y1) of `canvas`; add its people to `scene`."""
    size = canvas.shape[0]
    x0, y0, x1, y1 = (int(v) for v in rect)
    warped = warp_image(src.image, m, size, antialias=False)
    inside = warp_image(np.ones(src.image.shape[:2], np.uint8), m, size, nearest=True, antialias=False)
    region = np.zeros((size, size), bool)
    region[y0:y1, x0:x1] = True
    region &= inside > 0
    canvas[region] = warped[region]
    if not region.any():
        return
    ys, xs = np.nonzero(region)
    visible = (float(xs.min()), float(ys.min()), float(xs.max()) + 1, float(ys.max()) + 1)

    def through(points):
        return np.asarray(points, np.float64) @ m[:, :2].T + m[:, 2]

    for box in src.ignore:
        corners = through([[box[0], box[1]], [box[2], box[1]], [box[0], box[3]], [box[2], box[3]]])
        clipped = _clip_box(_box_of(corners), visible)
        if clipped:
            scene.ignore.append(clipped)
    for person in src.people:
        kps = through(person.keypoints).astype(np.float32)
        mask = person.mask
        a = alignment_from_keypoints(kps, mask, src.skeleton)
        pts = kps[mask > 0]
        if person.box is not None:
            b = person.box
            full = _box_of(through([[b[0], b[1]], [b[2], b[1]], [b[0], b[3]], [b[2], b[3]]]))
        else:
            x0_, y0_, x1_, y1_ = _box_of(pts)
            pad = 0.05 * max(x1_ - x0_, y1_ - y0_)
            full = (x0_ - pad, y0_ - pad, x1_ + pad, y1_ + pad)
        box = _clip_box(full, visible)
        if box is None:
            continue
        on = (pts[:, 0] >= visible[0]) & (pts[:, 0] < visible[2]) & (pts[:, 1] >= visible[1]) & (pts[:, 1] < visible[3])
        margin = 0.3 * a.radius if a is not None else 0.0
        centre_near = a is not None and (
            visible[0] - margin <= a.cx < visible[2] + margin and visible[1] - margin <= a.cy < visible[3] + margin
        )
        if a is not None and centre_near and on.sum() >= min(MIN_JOINTS_INSIDE, len(pts)):
            ls, rs = src.skeleton.index("left_shoulder"), src.skeleton.index("right_shoulder")
            scene.people.append(ScenePersonTarget(a, box, bool(mask[ls] > 0 and mask[rs] > 0)))
        else:  # a person we cannot place a centre for: no penalty where it shows
            scene.ignore.append(box)


def _background(rng: np.random.Generator, size: int, negatives: list[SceneSource]) -> np.ndarray:
    """A plain colour, noise, or a zoomed part of an image without people."""
    kind = rng.uniform()
    if negatives and kind < 0.5:
        src = negatives[rng.integers(len(negatives))]
        h, w = src.image.shape[:2]
        scale = size / min(h, w) * rng.uniform(1.0, 2.0)
        m = similarity(scale, rng.uniform(-10, 10), (rng.uniform(0, w), rng.uniform(0, h)), (size / 2, size / 2))
        return warp_image(src.image, m, size, border="reflect", antialias=False)
    colour = rng.integers(0, 256, 3).astype(np.uint8)
    canvas = np.broadcast_to(colour, (size, size, 3)).copy()
    if kind < 0.75:
        noise = rng.normal(0, rng.uniform(5, 40), (size // 8, size // 8, 3))
        canvas = np.clip(canvas + cv2.resize(noise, (size, size)), 0, 255).astype(np.uint8)
    return canvas


# Share of the placed people turned by any angle (lying, upside down); the others within 20 degrees of upright.
TURNED_SHARE = 0.35


def _angle(rng: np.random.Generator, turned_share: float = TURNED_SHARE) -> float:
    """Mostly near upright; `turned_share` of the people at any angle (lying, upside down)."""
    return float(rng.uniform(-20, 20) if rng.uniform() < 1.0 - turned_share else rng.uniform(-180, 180))


def _place_person_source(
    canvas, src: SceneSource, rect, rng, scene: Scene, cut_prob: float, turned_share: float = TURNED_SHARE
) -> None:
    """Place `src` so that one of its people lands in `rect` at a random size (maybe cut by its border)."""
    x0, y0, x1, y1 = rect
    cell = min(x1 - x0, y1 - y0)
    size = canvas.shape[0]
    person = src.people[rng.integers(len(src.people))] if src.people else None
    a = alignment_from_keypoints(person.keypoints, person.mask, src.skeleton) if person is not None else None
    h, w = src.image.shape[:2]
    if a is None:  # no person to aim at: the image fills the cell
        scale = cell / min(h, w) * rng.uniform(0.8, 1.5)
        m = similarity(scale, rng.uniform(-10, 10), (w / 2, h / 2), ((x0 + x1) / 2, (y0 + y1) / 2))
        place(canvas, src, m, rect, scene)
        return
    lo, hi = math.log(0.04 * size), math.log(max(0.6 * cell, 0.05 * size))
    target = math.exp(rng.uniform(lo, hi))
    scale = target / a.radius
    if rng.uniform() < cut_prob:  # the centre near or past an edge of the cell: a body cut off
        u, v = rng.uniform(-0.15, 1.15, 2)
    else:
        u, v = rng.uniform(0.15, 0.85, 2)
    m = similarity(scale, _angle(rng, turned_share), (a.cx, a.cy), (x0 + u * (x1 - x0), y0 + v * (y1 - y0)))
    place(canvas, src, m, rect, scene)


def _negative_region(canvas, src: SceneSource, rng, scene: Scene) -> bool:
    """A region of a pose image away from its people, zoomed onto the canvas; False when there is none."""
    h, w = src.image.shape[:2]
    boxes = [_box_of(p.keypoints[p.mask > 0]) for p in src.people if p.mask.sum() > 0] + list(src.ignore)
    for _ in range(10):
        side = rng.uniform(0.3, 0.6) * min(h, w)
        x, y = rng.uniform(0, w - side), rng.uniform(0, h - side)
        pad = 0.1 * side
        if all(b[2] < x - pad or b[0] > x + side + pad or b[3] < y - pad or b[1] > y + side + pad for b in boxes):
            size = canvas.shape[0]
            m = similarity(size / side, 0.0, (x + side / 2, y + side / 2), (size / 2, size / 2))
            canvas[:] = warp_image(src.image, m, size, border="reflect", antialias=False)
            return True
    return False


def make_scene(
    sources: list[SceneSource],
    negatives: list[SceneSource],
    rng: np.random.Generator,
    size: int,
    photos: list[SceneSource] = (),
    photo_share: float = 0.0,
    turned_share: float = TURNED_SHARE,
) -> Scene:
    """One random scene: nobody (15 %), one image (30 %), a 2x2 (30 %) or 3x3 (25 %) mosaic. Each placed image
    with people comes from `photos` with probability `photo_share`, else from `sources`; `turned_share` of them
    turned by any angle."""
    scene = Scene(_background(rng, size, negatives), [], [])
    kind = rng.uniform()
    if kind < 0.15:
        src = sources[rng.integers(len(sources))]
        if not (rng.uniform() < 0.5 and _negative_region(scene.image, src, rng, scene)) and negatives:
            neg = negatives[rng.integers(len(negatives))]
            _place_person_source(scene.image, neg, (0, 0, size, size), rng, scene, 0.0)
        return _photometric(scene, rng)
    n = 1 if kind < 0.45 else 2 if kind < 0.75 else 3
    if n == 1 and photos and rng.uniform() < photo_share:  # a photo alone: its people as they are
        _place_person_source(
            scene.image, photos[rng.integers(len(photos))], (0, 0, size, size), rng, scene, 0.25, turned_share
        )
        return _photometric(scene, rng)
    cuts = [
        0.0,
        *sorted(rng.uniform(0.3, 0.7, n - 1) if n == 2 else (rng.uniform(0.25, 0.42), rng.uniform(0.58, 0.75)))[
            : n - 1
        ],
        1.0,
    ]
    cuts = (np.asarray(cuts) * size).round().astype(int)
    for r in range(n):
        for c in range(n):
            rect = (cuts[c], cuts[r], cuts[c + 1], cuts[r + 1])
            if n > 1 and rng.uniform() < 0.1:
                continue  # an empty cell: background only
            pool = negatives if negatives and rng.uniform() < 0.15 else sources  # some cells hold nobody
            if pool is sources and photos and rng.uniform() < photo_share:
                pool = photos
            _place_person_source(scene.image, pool[rng.integers(len(pool))], rect, rng, scene, 0.25, turned_share)
    return _photometric(scene, rng)


def _photometric(scene: Scene, rng: np.random.Generator) -> Scene:
    """Brightness and contrast jitter, and half the time a horizontal mirror (alignments recomputed)."""
    img = scene.image.astype(np.float32)
    img = (img - 128.0) * rng.uniform(0.7, 1.3) + 128.0 + rng.uniform(-30, 30)
    scene.image = np.clip(img, 0, 255).astype(np.uint8)
    if rng.uniform() < 0.5:
        size = scene.image.shape[1]
        scene.image = np.ascontiguousarray(scene.image[:, ::-1])
        scene.people = [
            ScenePersonTarget(
                Alignment(size - 1 - p.alignment.cx, p.alignment.cy, p.alignment.radius, -p.alignment.rotation),
                (size - p.box[2], p.box[1], size - p.box[0], p.box[3]),
                p.rotation_known,
            )
            for p in scene.people
        ]
        scene.ignore = [(size - b[2], b[1], size - b[0], b[3]) for b in scene.ignore]
    return scene


def scene_sources(cfg, part: str, progress: bool = True) -> tuple[list[SceneSource], list[SceneSource]]:
    """(sources with people, sources without) for the detector's `part` ("train" or "val"): the pose datasets
    of ``data.train_sets`` (LSP's train part, less validation, for "train"; LSP's validation part for "val";
    never the test half) and coco_mini's half of that name."""
    from blazepose.data.datasets import coco_files, dataset_folder, load_split

    data = cfg.data
    samples = load_split(data, part)
    sources = sources_from_samples([s for s in samples if s.dataset != "coco"])
    if "coco" in data.train_sets:
        sources += coco_sources(*coco_files(dataset_folder("coco", data.root)), part)
    loaded = load_sources(sources, progress)
    with_people = [s for s in loaded if s.people]
    return with_people, [s for s in loaded if not s.people and not s.ignore]


def photos_of(sources: list[SceneSource]) -> list[SceneSource]:
    """The sources that are photos with people (COCO), as opposed to the pose datasets' crops."""
    return [s for s in sources if s.skeleton.name == "coco"]


def scene_to_coco(scenes: list[Scene]) -> dict:
    """Ground truth of scenes as a COCO detection json (ignore boxes as crowd regions), for pycocotools."""
    images, annotations = [], []
    for i, scene in enumerate(scenes):
        h, w = scene.image.shape[:2]
        images.append({"id": i, "width": w, "height": h, "file_name": f"scene{i}"})
        for box, crowd in [(p.box, 0) for p in scene.people] + [(b, 1) for b in scene.ignore]:
            bw, bh = box[2] - box[0], box[3] - box[1]
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i,
                    "category_id": 1,
                    "bbox": [box[0], box[1], bw, bh],
                    "area": bw * bh,
                    "iscrowd": crowd,
                }
            )
    return {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "person"}]}

"""tf.data input pipeline: decode -> crop + augment -> encode targets -> batch -> prefetch.

Samples hold only paths and keypoints, so the dataset is never loaded into memory. Each element gets its own
NumPy generator seeded from (pipeline seed, a per-element random draw), so a seeded pipeline yields the same
batches whatever the thread timing. A bad image is reported once on stderr and skipped (``skipped`` counts
them), never a crash halfway through an epoch.
"""

from __future__ import annotations

import dataclasses
import sys
import threading

import numpy as np

from blazepose.alignment import ALIGN_MARGIN, alignment_from_keypoints
from blazepose.codec import Codec
from blazepose.config import Config
from blazepose.data.images import load_image
from blazepose.data.sample import Sample
from blazepose.data.transforms import augment, covered, paste_beside
from blazepose.errors import BlazePoseError
from blazepose.geometry import crop_matrix, person_box, warp_image
from blazepose.keypoints import Skeleton, skeleton_of

TARGET_KEYS = (
    "heatmap",
    "offset",
    "offset_weight",
    "heatmap_weight",
    "joints",
    "visibility",
    "mask",
    "either_side",
    "presence",  # 1: the crop holds the person (every sample); 0: a crop with nobody (data/negatives.py)
)


class SkipCounter:
    """Thread-safe record of the images skipped by a pipeline."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.paths: set[str] = set()

    def add(self, path: str, message: str) -> None:
        with self._lock:
            if path not in self.paths:
                self.paths.add(path)
                print(f"warning: skipping {message}", file=sys.stderr)

    @property
    def count(self) -> int:
        return len(self.paths)


def distractor_patch(sample: Sample, rng: np.random.Generator, size: int) -> np.ndarray | None:
    """A square cut around `sample`'s person (1.1 x its keypoints' box), resized to 0.6-1.0 x `size`, maybe
    mirrored; None for a sample without keypoints or whose image cannot be read (the framed sample is kept)."""
    if sample.mask.sum() == 0:
        return None
    side = int(rng.uniform(0.6, 1.0) * size)
    box = person_box(sample.keypoints, sample.mask, 1.1)
    try:
        image, (sx, sy) = load_image(sample.image_path, min_scale=min(1.0, side / box[2]))
    except BlazePoseError:
        return None
    cx, cy, box_side = box[0] * sx, box[1] * sy, box[2] * max(sx, sy)
    patch = warp_image(image, crop_matrix((cx, cy), box_side, side), side)
    return np.ascontiguousarray(patch[:, ::-1]) if rng.random() < 0.5 else patch


def load_example(
    sample: Sample,
    rng: np.random.Generator,
    cfg: Config,
    codec: Codec,
    train: bool,
    skeleton: Skeleton | None = None,
    distractors: list[Sample] | None = None,
) -> dict[str, np.ndarray]:
    """One sample -> the network input (uint8) and its encoded targets (see ``Codec.encode``). With `train`,
    `distractors` and ``augment.distractor_prob``, another person from `distractors` may be pasted beside."""
    size = cfg.data.input_size
    skeleton = skeleton or skeleton_of(cfg)
    min_scale = 1.0
    if sample.mask.sum() > 0:
        # Decode JPEGs at reduced size when the crop would shrink them anyway (big LSPet images).
        side = person_box(sample.keypoints, sample.mask, cfg.data.crop_margin)[2]
        jitter = cfg.augment.scale_jitter if train and cfg.augment.enabled else 0.0
        min_scale = min(1.0, size / (side * (1 - jitter)))
    image, (sx, sy) = load_image(sample.image_path, min_scale=min_scale)
    keypoints = sample.keypoints * np.array([sx, sy], np.float32)
    aug = cfg.augment if train else _no_augment(cfg)
    person_crop = None
    if cfg.data.crop == "aligned" and sample.mask.sum() > 0:  # the alignment's upright circle, as MediaPipe crops
        a = alignment_from_keypoints(keypoints, sample.mask, skeleton)
        person_crop = None if a is None else (a.cx, a.cy, 2.0 * a.radius * ALIGN_MARGIN, a.rotation)
    out, kps, vis, mask, _ = augment(
        image, keypoints, sample.visibility, sample.mask, rng, size, cfg.data.crop_margin, aug, skeleton, person_crop
    )
    if train and aug.enabled and distractors and rng.random() < aug.distractor_prob:
        other = distractors[int(rng.integers(len(distractors)))]
        patch = distractor_patch(other, rng, size) if other.image_path != sample.image_path else None
        if patch is not None:
            out, box = paste_beside(out, patch, rng)
            vis = vis * ~covered(kps, [box])
    targets = codec.encode(kps, mask)
    return {
        "image": out,
        "heatmap": targets["heatmap"],
        "offset": targets["offset"],
        "offset_weight": targets["offset_weight"],
        "heatmap_weight": targets["heatmap_weight"],
        "joints": targets["joints"],
        "visibility": vis.astype(np.float32),
        "mask": mask.astype(np.float32),
        # 1: the loss may read this sample's left/right labels either way round (loss.either_side_sets)
        "either_side": np.float32(sample.dataset in cfg.loss.either_side_sets),
        "presence": np.float32(1.0),
    }


def _no_augment(cfg: Config):
    return dataclasses.replace(cfg.augment, enabled=False)


def make_dataset(
    samples: list[Sample],
    cfg: Config,
    train: bool,
    batch_size: int | None = None,
    seed: int | None = None,
    skipped: SkipCounter | None = None,
    drop_remainder: bool | None = None,
    batched: bool = True,
):
    """A tf.data.Dataset of (image uint8 (B, S, S, 3), targets dict) batches, one pass over `samples`.

    With `train`, the order is reshuffled every pass and augmentation is on; otherwise samples come in order
    with a plain person crop. `skipped` collects the images that could not be read. `batched=False`: single
    examples (to be mixed with others, then batched).
    """
    import tensorflow as tf

    if not samples:
        raise BlazePoseError("no samples to build a dataset from")
    codec = Codec.from_config(cfg.data)
    skeleton = skeleton_of(cfg)
    k = skeleton.num_joints
    s, h = cfg.data.input_size, cfg.data.heatmap_size
    batch_size = batch_size or cfg.data.batch_size
    seed = cfg.seed if seed is None else seed
    skipped = skipped if skipped is not None else SkipCounter()
    drop_remainder = train if drop_remainder is None else drop_remainder
    distractors = samples if train and cfg.augment.distractor_prob > 0 else None

    def _load(index, element_seed):
        sample = samples[int(index)]
        rng = np.random.default_rng([seed, int(element_seed) & 0x7FFFFFFF])
        try:
            ex = load_example(sample, rng, cfg, codec, train, skeleton, distractors)
            ok = True
        except BlazePoseError as exc:
            skipped.add(sample.image_path, str(exc))
            ex = _empty_example(s, h, k)
            ok = False
        return (ex["image"], *(ex[key] for key in TARGET_KEYS), np.bool_(ok))

    out_types = (tf.uint8, *([tf.float32] * len(TARGET_KEYS)), tf.bool)
    shapes = {
        "image": (s, s, 3),
        "heatmap": (h, h, k),
        "offset": (h, h, 2 * k),
        "offset_weight": (h, h, 2 * k),
        "heatmap_weight": (k,),
        "joints": (k, 2),
        "visibility": (k,),
        "mask": (k,),
        "either_side": (),
        "presence": (),
    }

    def _map(index, element_seed):
        values = tf.numpy_function(_load, [index, element_seed], out_types, stateful=False)
        for value, key in zip(values[:-1], ("image", *TARGET_KEYS), strict=True):
            value.set_shape(shapes[key])
        values[-1].set_shape(())
        return values[0], dict(zip(TARGET_KEYS, values[1:-1], strict=True)), values[-1]

    indices = tf.data.Dataset.range(len(samples))
    if train:
        indices = indices.shuffle(len(samples), seed=seed, reshuffle_each_iteration=True)
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=train)
    ds = tf.data.Dataset.zip(indices, seeds)
    parallel = tf.data.AUTOTUNE if cfg.data.num_parallel_calls < 0 else cfg.data.num_parallel_calls
    ds = ds.map(_map, num_parallel_calls=parallel, deterministic=True)
    ds = ds.filter(_is_ok).map(_drop_flag)
    if not batched:
        return ds
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    return ds.prefetch(tf.data.AUTOTUNE)


def make_presence_dataset(
    samples: list[Sample], negatives: list, cfg: Config, seed: int | None = None, share: float = 0.5
):
    """The presence phase's endless batches: a `share` of the examples are crops with nobody (presence 0,
    data.negatives; their other targets are empty), the rest augmented person crops (presence 1)."""
    import tensorflow as tf

    from blazepose.data.negatives import draw_negative

    if not negatives:
        raise BlazePoseError("no images to draw crops without a person from (the presence phase's negatives)")
    seed = cfg.seed if seed is None else seed
    s, h, k = cfg.data.input_size, cfg.data.heatmap_size, skeleton_of(cfg).num_joints
    positives = make_dataset(samples, cfg, train=True, seed=seed, batched=False).repeat()
    people_free = [n for n in negatives if not n.boxes]

    def _load(element_seed):
        rng = np.random.default_rng([seed, 1, int(element_seed) & 0x7FFFFFFF])
        ex = _empty_example(s, h, k)
        ex["image"] = draw_negative(negatives, rng, s, people_free)
        return (ex["image"], *(ex[key] for key in TARGET_KEYS))

    out_types = (tf.uint8, *([tf.float32] * len(TARGET_KEYS)))
    shapes = dict(zip(("image", *TARGET_KEYS), (t.shape for t in _empty_example_specs(s, h, k)), strict=True))

    def _map(element_seed):
        values = tf.numpy_function(_load, [element_seed], out_types, stateful=False)
        for value, key in zip(values, ("image", *TARGET_KEYS), strict=True):
            value.set_shape(shapes[key])
        return values[0], dict(zip(TARGET_KEYS, values[1:], strict=True))

    parallel = tf.data.AUTOTUNE if cfg.data.num_parallel_calls < 0 else cfg.data.num_parallel_calls
    nobody = tf.data.Dataset.random(seed=seed + 1).map(_map, num_parallel_calls=parallel, deterministic=True)
    mixed = tf.data.Dataset.sample_from_datasets([positives, nobody], [1.0 - share, share], seed=seed)
    return mixed.batch(cfg.data.batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def _empty_example_specs(s: int, h: int, k: int) -> list[np.ndarray]:
    ex = _empty_example(s, h, k)
    return [ex["image"], *(ex[key] for key in TARGET_KEYS)]


def _is_ok(image, targets, ok):
    return ok


def _drop_flag(image, targets, ok):
    return image, targets


def _empty_example(s: int, h: int, k: int) -> dict[str, np.ndarray]:
    return {
        "image": np.zeros((s, s, 3), np.uint8),
        "heatmap": np.zeros((h, h, k), np.float32),
        "offset": np.zeros((h, h, 2 * k), np.float32),
        "offset_weight": np.zeros((h, h, 2 * k), np.float32),
        "heatmap_weight": np.zeros((k,), np.float32),
        "joints": np.zeros((k, 2), np.float32),
        "visibility": np.zeros((k,), np.float32),
        "mask": np.zeros((k,), np.float32),
        "either_side": np.float32(0.0),
        "presence": np.float32(0.0),
    }

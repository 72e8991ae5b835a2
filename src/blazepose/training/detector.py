"""Training the person detector (``task = "detector"``): random scenes in, centre maps as targets, box AP on
fixed validation scenes to choose the epoch. ``train.train`` runs it with the same run directory,
checkpoints, resume, logs and curves as the landmark model.
"""

from __future__ import annotations

import contextlib
import io

import keras
import numpy as np
import tensorflow as tf

from blazepose.codec import DETECTION_OUTPUTS, DetectionCodec
from blazepose.config import Config
from blazepose.data.scenes import TURNED_SHARE, Scene, make_scene, photos_of, scene_sources, scene_to_coco
from blazepose.losses import DETECTION_LOSS_NAMES, detection_losses
from blazepose.training.phases import DistributedFit, predict

# Loss weights (every target is of order 1: grid cells, log radius, sin / cos, box edges in radii).
DETECTION_WEIGHTS = {"centre": 1.0, "offset": 1.0, "size": 1.0, "box": 1.0}  # rotation: loss.detector_rotation
TARGET_KEYS = ("centre", "centre_weight", "offset", "size", "rotation", "box", "reg_weight", "rot_weight")
VAL_SCENES = 256


def encode_scene(scene: Scene, codec: DetectionCodec) -> dict[str, np.ndarray]:
    people = [(p.alignment, p.box, p.rotation_known) for p in scene.people]
    return codec.encode(people, scene.ignore)


def detector_codec(cfg: Config) -> DetectionCodec:
    return DetectionCodec(cfg.data.input_size)


def make_scene_dataset(sources, negatives, cfg: Config, seed: int | None = None):
    """An endless tf.data.Dataset of (scene uint8 (B, S, S, 3), targets) batches; each scene drawn with its
    own generator seeded from (seed, a per-element draw), so a seeded pipeline repeats itself."""
    codec = detector_codec(cfg)
    size, g = cfg.data.input_size, codec.grid
    seed = cfg.seed if seed is None else seed
    channels = {"centre": 1, "centre_weight": 1, "reg_weight": 1, "rot_weight": 1, **DETECTION_OUTPUTS}

    photos = photos_of(sources)

    def _load(element_seed):
        rng = np.random.default_rng([seed, int(element_seed) & 0x7FFFFFFF])
        scene = make_scene(sources, negatives, rng, size, photos, cfg.data.photo_share, cfg.data.turned_share)
        t = encode_scene(scene, codec)
        return (scene.image, *(t[k] for k in TARGET_KEYS))

    out_types = (tf.uint8, *([tf.float32] * len(TARGET_KEYS)))

    def _map(element_seed):
        values = tf.numpy_function(_load, [element_seed], out_types, stateful=False)
        values[0].set_shape((size, size, 3))
        for v, k in zip(values[1:], TARGET_KEYS, strict=True):
            v.set_shape((g, g, channels[k]))
        return values[0], dict(zip(TARGET_KEYS, values[1:], strict=True))

    parallel = tf.data.AUTOTUNE if cfg.data.num_parallel_calls < 0 else cfg.data.num_parallel_calls
    ds = tf.data.Dataset.random(seed=seed).map(_map, num_parallel_calls=parallel, deterministic=True)
    return ds.batch(cfg.data.batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


class DetectorTrainer(DistributedFit, keras.Model):
    """Wraps the detector for ``fit``: every loss, weighted by ``DETECTION_WEIGHTS``."""

    def __init__(self, net: keras.Model, cfg: Config):
        super().__init__(name="detector_trainer")
        self.net = net
        self.cfg = cfg
        self.phase = None
        self.trackers = {name: keras.metrics.Mean(name=f"{name}_loss") for name in DETECTION_LOSS_NAMES}

    def call(self, inputs, training=False):
        return self.net(inputs, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        parts = detection_losses(y, y_pred, self.cfg.loss.detector_rotation_loss)
        total = 0.0
        weights = {**DETECTION_WEIGHTS, "rotation": self.cfg.loss.detector_rotation}
        for name in DETECTION_LOSS_NAMES:
            total = total + weights[name] * parts[name]
            self.trackers[name].update_state(parts[name])
        return self.per_replica(total)

    @property
    def metrics(self):
        tracked = [self._loss_tracker] if getattr(self, "_loss_tracker", None) is not None else []
        return tracked + list(self.trackers.values())


def detect_batch(
    net, images: np.ndarray, codec: DetectionCodec, min_score: float, batch_size: int = 32, eager=False, **kw
):
    """Detections (input pixels) for a batch of letterboxed images, with a Keras detector."""
    out = predict(net, images, batch_size, eager)
    return [codec.decode({k: v[i] for k, v in out.items()}, min_score=min_score, **kw) for i in range(len(images))]


def box_ap(scenes: list[Scene], detections: list[list]) -> dict[str, float]:
    """COCO box AP / AR (pycocotools) of `detections` on the scenes' people (ignore boxes as crowd)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt = COCO()
    gt.dataset = scene_to_coco(scenes)
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
    results = [
        {
            "image_id": i,
            "category_id": 1,
            "bbox": [d.box[0], d.box[1], d.box[2] - d.box[0], d.box[3] - d.box[1]],
            "score": d.score,
        }
        for i, dets in enumerate(detections)
        for d in dets
    ]
    if not results:
        return {"ap": 0.0, "ap50": 0.0, "ar": 0.0}
    with contextlib.redirect_stdout(io.StringIO()):
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {"ap": float(ev.stats[0]), "ap50": float(ev.stats[1]), "ar": float(ev.stats[8])}


class DetectorValidationSet:
    """Fixed validation scenes (LSP's validation part and coco_mini's validation half), scored by box AP."""

    def __init__(self, cfg: Config, limit: int = 0, progress: bool = True):
        sources, negatives = scene_sources(cfg, "val", progress)
        rng = np.random.default_rng(12345)
        count = limit or VAL_SCENES
        photos = photos_of(sources)
        self.scenes = [
            make_scene(sources, negatives, rng, cfg.data.input_size, photos, cfg.data.photo_share, TURNED_SHARE)
            for _ in range(count)
        ]
        self.images = np.stack([s.image for s in self.scenes])
        self.codec = detector_codec(cfg)
        self.eager = cfg.train.run_eagerly

    def score(self, net: keras.Model, source: str = "ap", batch_size: int = 32) -> float:
        # A low threshold: AP integrates over scores, so low-scoring detections still count.
        dets = detect_batch(net, self.images, self.codec, 0.05, batch_size, self.eager, max_people=20)
        return box_ap(self.scenes, dets)["ap"]

"""``blazepose data show``: a grid of what the network is fed, with the joints decoded from the targets."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from blazepose.codec import Codec
from blazepose.config import Config
from blazepose.data.datasets import READERS, dataset_skeleton, resolve_dataset, split_parts
from blazepose.data.pipeline import load_example
from blazepose.errors import BlazePoseError
from blazepose.visualize import draw_skeleton, image_grid, save_png


def show_samples(
    cfg: Config,
    dataset: str,
    output: str | Path,
    split: str = "all",
    count: int = 16,
    columns: int = 4,
    augment: bool = True,
    seed: int = 0,
) -> Path:
    if count < 1 or columns < 1:
        raise BlazePoseError("--count and --columns must be at least 1")
    name, folder = resolve_dataset(dataset, cfg.data.root)
    samples, _ = READERS[name](folder)
    skeleton = dataset_skeleton(name, folder)  # drawn in the data's own joints
    if name == cfg.data.split and split != "all":
        samples = [samples[i] for i in split_parts(cfg.data)[split]]
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(samples), size=min(count, len(samples)), replace=False)
    codec = Codec.from_config(cfg.data)
    tiles = []
    for i in sorted(chosen):
        ex = load_example(samples[i], rng, cfg, codec, train=augment, skeleton=skeleton, distractors=samples)
        kps, _ = codec.decode(ex["heatmap"], ex["offset"])
        tiles.append(draw_skeleton(ex["image"], kps, ex["mask"], skeleton))
    return save_png(image_grid(tiles, columns), output)

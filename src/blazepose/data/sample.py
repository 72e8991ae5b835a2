"""One annotated person: where its image is and where its joints are (no pixels)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, eq=False)
class Sample:
    image_path: str
    keypoints: np.ndarray  # (K, 2) float32, (x, y) in original image pixels
    visibility: np.ndarray  # (K,) float32, 1 visible, 0 occluded
    mask: np.ndarray  # (K,) float32, 1 where the position is annotated
    dataset: str  # "lsp", "lspet", "coco", ...
    box: tuple[float, float, float, float] | None = None  # (x, y, w, h) person box where the data gives one
    meta: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.image_path.rsplit("/", 1)[-1]

"""A plain JSON format for your own annotations (LSP's 14 joints), read like the other datasets.

``<folder>/annotations.json``::

    {"joint_names": ["right_ankle", ..., "head_top"],          # the LSP order, checked
     "samples": [{"image": "images/a.jpg",                     # relative to <folder>, or absolute
                  "keypoints": [[x, y, flag], ... 14 rows]}]}  # original pixels

flag: 0 = not annotated (masked out of losses and metrics), 1 = annotated but occluded, 2 = visible (COCO's
convention). The same layout as ``blazepose predict --output`` apart from the third column.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from blazepose.data.sample import Sample
from blazepose.errors import BlazePoseError, read_json
from blazepose.keypoints import LSP

FILE = "annotations.json"


def read_custom(folder: str | Path) -> tuple[list[Sample], list[str]]:
    folder = Path(folder)
    path = folder / FILE
    data = read_json(path, "the custom annotations file")
    if not isinstance(data, dict) or not isinstance(data.get("samples"), list):
        raise BlazePoseError(f"{path}: expected an object with a 'samples' list (see blazepose/data/custom.py)")
    names = data.get("joint_names")
    if names is not None and list(names) != list(LSP.joint_names):
        raise BlazePoseError(f"{path}: joint_names must be the 14 LSP joints in order: {', '.join(LSP.joint_names)}")
    samples, problems = [], []
    for i, entry in enumerate(data["samples"]):
        try:
            kps = np.asarray(entry["keypoints"], np.float64)
            image = str(entry["image"])
        except (KeyError, TypeError, ValueError):
            problems.append(f"{path}: sample {i} needs 'image' and 'keypoints' (14 rows of x, y, flag)")
            continue
        if kps.shape != (LSP.num_joints, 3):
            problems.append(f"{path}: sample {i} ({image}) has keypoints of shape {kps.shape}, expected (14, 3)")
            continue
        flags = kps[:, 2]
        if not set(np.unique(flags)) <= {0.0, 1.0, 2.0}:
            problems.append(f"{path}: sample {i} ({image}) has flags other than 0, 1, 2")
            continue
        finite = np.isfinite(kps[:, :2]).all(axis=1)
        mask = (flags > 0) & finite
        if (flags > 0).sum() > mask.sum():
            problems.append(f"{path}: sample {i} ({image}) has non-finite coordinates (masked out)")
        image_path = Path(image) if Path(image).is_absolute() else folder / image
        samples.append(
            Sample(
                image_path=str(image_path),
                keypoints=np.where(mask[:, None], kps[:, :2], 0.0).astype(np.float32),
                visibility=((flags == 2) & mask).astype(np.float32),
                mask=mask.astype(np.float32),
                dataset="custom",
                meta={"index": i},
            )
        )
    return samples, problems

"""A plain JSON format for your own annotations, with your own joints, read like the other datasets.

``<folder>/annotations.json``::

    {"joint_names": ["nose", "left_eye", ...],                # the joints, in the order of the rows below
     "skeleton": "skeleton.toml",                             # optional: its skeleton file (relative to
                                                              #   <folder>), whose joints must be joint_names
     "samples": [{"image": "images/a.jpg",                    # relative to <folder>, or absolute
                  "keypoints": [[x, y, flag], ... one row per joint]}]}  # original pixels

Without "joint_names" (nor "skeleton") the rows are LSP's 14 joints in LSP's order. With "joint_names" but no
skeleton file, the skeleton is made from the names (flip pairs from left_/right_ names, no drawing edges).
flag: 0 = not annotated (masked out of losses and metrics), 1 = annotated but occluded, 2 = visible (COCO's
convention). The same layout as ``blazepose predict --output`` apart from the third column.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from blazepose.data.sample import Sample
from blazepose.errors import BlazePoseError, read_json
from blazepose.keypoints import LSP, Skeleton, load_skeleton, skeleton_from_dict

FILE = "annotations.json"


def _read(folder: Path) -> dict:
    path = folder / FILE
    data = read_json(path, "the custom annotations file")
    if not isinstance(data, dict) or not isinstance(data.get("samples"), list):
        raise BlazePoseError(f"{path}: expected an object with a 'samples' list (the format: docs/own_data.md)")
    return data


def custom_skeleton(folder: str | Path, data: dict | None = None) -> Skeleton:
    """The skeleton of a custom dataset: its skeleton file, else one made from its joint_names, else LSP."""
    folder = Path(folder)
    path = folder / FILE
    data = _read(folder) if data is None else data
    names = data.get("joint_names")
    if names is not None and (not isinstance(names, list) or not all(isinstance(n, str) for n in names)):
        raise BlazePoseError(f"{path}: joint_names must be a list of joint names")
    spec = data.get("skeleton")
    if spec is not None:
        file = Path(spec) if Path(spec).is_absolute() else folder / str(spec)
        if not file.is_file():
            raise BlazePoseError(f"{path}: its skeleton file {file} does not exist")
        skeleton = load_skeleton(str(file))
        if names is not None and list(names) != list(skeleton.joint_names):
            raise BlazePoseError(
                f"{path}: joint_names ({', '.join(names)}) differ from its skeleton file {file} "
                f"({', '.join(skeleton.joint_names)})"
            )
        return skeleton
    if names is None or list(names) == list(LSP.joint_names):
        return LSP
    return skeleton_from_dict({"name": folder.name or "custom", "joints": list(names)}, str(path))


def read_custom(folder: str | Path) -> tuple[list[Sample], list[str]]:
    folder = Path(folder)
    path = folder / FILE
    data = _read(folder)
    k = custom_skeleton(folder, data).num_joints
    samples, problems = [], []
    for i, entry in enumerate(data["samples"]):
        try:
            kps = np.asarray(entry["keypoints"], np.float64)
            image = str(entry["image"])
        except (KeyError, TypeError, ValueError):
            problems.append(f"{path}: sample {i} needs 'image' and 'keypoints' ({k} rows of x, y, flag)")
            continue
        if kps.shape != (k, 3):
            problems.append(f"{path}: sample {i} ({image}) has keypoints of shape {kps.shape}, expected ({k}, 3)")
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

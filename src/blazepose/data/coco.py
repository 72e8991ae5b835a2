"""COCO person-keypoints reader: one sample per annotated person, with its box, in COCO's 17 keypoints
(``keypoints.COCO``; ``datasets.to_skeleton`` maps them to another skeleton's joints where one is wanted).
Crowd regions are never people.

COCO's v flag: 0 not labelled (masked), 1 labelled but not visible, 2 labelled and visible.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from blazepose.data.sample import Sample
from blazepose.errors import BlazePoseError, read_json
from blazepose.keypoints import COCO


def image_part(rank: int) -> str:
    """coco_mini's one rule against training on validation data, for every reader of it (samples, the detector's
    scenes, the COCO evaluation): the image at place `rank` in id order, among all the json's images, people or
    not, is "train" at even places and "val" at odd places."""
    return "val" if rank % 2 else "train"


def images_in_part(images: list[dict], part: str) -> list[dict]:
    """A COCO json's image entries in id order, those of `part` ("train", "val" by ``image_part``, or "all")."""
    if part not in ("train", "val", "all"):
        raise BlazePoseError(f"unknown COCO part {part!r}: expected train, val or all")
    ordered = sorted(images, key=lambda im: im["id"])
    return ordered if part == "all" else [im for r, im in enumerate(ordered) if image_part(r) == part]


def read_coco(annotations: str | Path, images: str | Path, min_keypoints: int = 1) -> tuple[list[Sample], list[str]]:
    """Samples for every non-crowd person with at least `min_keypoints` labelled keypoints."""
    annotations, images = Path(annotations), Path(images)
    data = read_json(annotations, "a COCO person_keypoints json")
    if not isinstance(data, dict) or "annotations" not in data or "images" not in data:
        raise BlazePoseError(f"{annotations}: expected a COCO json with 'images' and 'annotations'")
    files = {img["id"]: img["file_name"] for img in data["images"]}
    rank = {image_id: r for r, image_id in enumerate(sorted(files))}  # place in id order among all images
    samples, problems = [], []
    for ann in data["annotations"]:
        if ann.get("iscrowd", 0) or ann.get("num_keypoints", 0) < min_keypoints:
            continue
        kps = np.asarray(ann.get("keypoints", []), np.float32)
        if kps.size != COCO.num_joints * 3:
            problems.append(f"{annotations}: annotation {ann.get('id')} has {kps.size} keypoint values, expected 51")
            continue
        if ann["image_id"] not in files:
            problems.append(f"{annotations}: annotation {ann.get('id')} refers to unknown image {ann['image_id']}")
            continue
        kps = kps.reshape(COCO.num_joints, 3)
        xy, v = kps[:, :2], kps[:, 2]
        finite = np.isfinite(xy).all(axis=1) & np.isfinite(v)
        if (~finite & (v != 0)).any():
            problems.append(f"{annotations}: annotation {ann.get('id')} has non-finite coordinates (masked out)")
        v = np.where(finite, v, 0.0)
        xy = np.where(finite[:, None], xy, 0.0)
        mask = (v > 0).astype(np.float32)
        visibility = (v == 2).astype(np.float32)
        samples.append(
            Sample(
                image_path=str(images / files[ann["image_id"]]),
                keypoints=xy.astype(np.float32),
                visibility=visibility,
                mask=mask,
                dataset="coco",
                box=tuple(float(b) for b in ann["bbox"]) if "bbox" in ann else None,
                meta={"annotation_id": ann.get("id"), "image_id": ann["image_id"], "image_rank": rank[ann["image_id"]]},
            )
        )
    return samples, problems

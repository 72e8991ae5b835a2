"""COCO's face keypoints (nose, eyes, ears) from a skeleton that has a neck and a head top but no face (LSP's):
fits FACE_FROM_HEAD (src/blazepose/keypoints.py) and scores it.

    python bench/face_from_head.py [--weights full]

Fit: every person of coco_mini's training half (not crowd, keypoints labelled) read by the landmark model on a
crop of 1.25 x its ground-truth box (two passes, as the pipeline reads a person it found); each labelled face
keypoint written as neck + a * u + b * v in that person's predicted head frame (u = head_top - neck, v = u
turned a quarter towards the left shoulder); the median (a, b) per keypoint, the left and right eye (ear)
averaged with b mirrored, the nose's b set to 0 (it lies on the face's midline).

Score: OKS AP over all 17 COCO keypoints (pycocotools, COCO's sigmas) of the default pipeline and of the
whole image alone on coco_mini's validation half (and the training half the fit saw), with the face keypoints
zero (what COCO results held before) and estimated by the fitted and by the packaged coefficients.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default="full", help="landmark model (default: the packaged Full)")
    parser.add_argument("--data-root", default="", help="folder holding coco_mini/")
    args = parser.parse_args()

    from blazepose.data.datasets import coco_files, dataset_folder
    from blazepose.data.images import load_image
    from blazepose.evaluation.coco_eval import coco_part, evaluate_coco, oks_ap
    from blazepose.inference import Predictor
    from blazepose.keypoints import COCO, FACE_FROM_HEAD, head_frame

    annotations, photos = coco_files(dataset_folder("coco", args.data_root))
    predictor = Predictor(args.weights, detector="none", min_presence=0.0)
    if head_frame(np.zeros((predictor.skeleton.num_joints, 2)), predictor.skeleton) is None:
        raise SystemExit(f"error: the {predictor.skeleton.name} skeleton has no neck, head top and shoulders")
    gt = coco_part(annotations, "train")
    images = {im["id"]: im for im in gt["images"]}
    samples: dict[str, list] = {name: [] for name in FACE_FROM_HEAD}
    for ann in gt["annotations"]:
        kps = np.asarray(ann["keypoints"], np.float64).reshape(17, 3)
        if ann.get("iscrowd") or not (kps[[COCO.index(n) for n in FACE_FROM_HEAD], 2] > 0).any():
            continue
        image = load_image(photos / images[ann["image_id"]]["file_name"])[0]
        x, y, w, h = ann["bbox"]
        person = predictor.predict_arrays([image], [(x + w / 2, y + h / 2, 1.25 * max(w, h))])[0].people[0]
        origin, u, v = head_frame(person.keypoints, predictor.skeleton)
        if np.linalg.norm(u) < 1.0:
            continue
        for name in FACE_FROM_HEAD:
            c = COCO.index(name)
            if kps[c, 2] > 0:
                samples[name].append(np.linalg.solve(np.stack([u, v], axis=1), kps[c, :2] - origin))
    median = {n: np.median(np.array(s), axis=0) for n, s in samples.items()}
    fitted = {"nose": (round(float(median["nose"][0]), 2), 0.0)}
    for part in ("eye", "ear"):
        left, right = median[f"left_{part}"], median[f"right_{part}"]
        a, b = round(float(left[0] + right[0]) / 2, 2), round(float(left[1] - right[1]) / 2, 2)
        fitted[f"left_{part}"], fitted[f"right_{part}"] = (a, b), (a, -b)
    print(f"{args.weights}: fitted on coco_mini's training half (median (a, b) before averaging)\n")
    print("| keypoint | people | median a | median b | fitted (a, b) | packaged (a, b) |")
    print("|---|---|---|---|---|---|")
    for name in FACE_FROM_HEAD:
        m = median[name]
        print(f"| {name} | {len(samples[name])} | {m[0]:.3f} | {m[1]:.3f} | {fitted[name]} | {FACE_FROM_HEAD[name]} |")

    print("\nOKS AP (AP50) over all 17 COCO keypoints:\n")
    print("| part | pipeline | face zero | face fitted here | face packaged |")
    print("|---|---|---|---|---|")
    pipelines = {
        "default (detector + whole image)": Predictor(args.weights, detector="detector"),
        "whole image alone": Predictor(args.weights, detector="none"),
    }
    for part in ("val", "train"):
        gt_part = coco_part(annotations, part)
        for name, pipeline in pipelines.items():
            _, preds = evaluate_coco(pipeline, annotations, photos, part, False)
            cells = []
            for face in ({}, fitted, FACE_FROM_HEAD):
                o = oks_ap(gt_part, preds, predictor.skeleton, all_coco=True, face=face)
                cells.append(f"{100 * o['ap']:.1f} ({100 * o['ap50']:.1f})")
            print(f"| {part} | {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

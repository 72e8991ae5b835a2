"""Several people in everyday photos: predict's pipeline for a landmark model (its preset's: mp-full, the
default, runs MediaPipe's detector and one pass) against the whole-image two-pass alone, the detector's people
alone, and the detector's people merged with the whole-image person, with and without the filters (the landmark
model's presence, the detected people's mean joint score), paired.

    python bench/everyday.py [--weights mp-full] [--detector auto] [--part val] [--resamples 200]

All run on the same images of coco_mini's `--part` (val: the validation half, images at odd places in id
order; the detector trained on the other half), with the same landmark model. Prints OKS AP / AP50 / AR on the
joints the landmark skeleton shares with COCO (pycocotools), the detector's recall (IoU 0.5), PCK@0.2 of the
people (a missed person's joints count as misses) and how many images without anyone get no person, then the
paired 95 % intervals over images (a bootstrap: both pipelines scored on each resample) of the AP and PCK
differences. "filters off" keeps every person whatever the presence output (--min-presence 0) and the detected
person's mean joint score (min_pose_score 0) say. The last row is a bound, not a pipeline: every labelled
person's ground-truth box (1.25 x its longer side, two passes) as the first crop, as a perfect detector would
give it, no other people.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default="mp-full", help="landmark model (default: the default, mp-full)")
    parser.add_argument("--detector", default="auto", help="detector (default: the one its preset pairs with it)")
    parser.add_argument("--part", default="val", choices=["val", "train", "all"], help="coco_mini part (default val)")
    parser.add_argument(
        "--min-score", type=float, default=None, help="detector threshold (default: its preset's, as predict's)"
    )
    parser.add_argument("--resamples", type=int, default=200, help="bootstrap resamples (default 200)")
    parser.add_argument("--data-root", default="", help="folder holding coco_mini/")
    args = parser.parse_args()

    from blazepose.data.datasets import coco_files, dataset_folder
    from blazepose.evaluation.coco_eval import coco_part, evaluate_coco, paired_ap_interval
    from blazepose.evaluation.functional import paired_bootstrap
    from blazepose.inference import Predictor, Settings

    annotations, images = coco_files(dataset_folder("coco", args.data_root))
    preset = Predictor(args.weights, args.detector, min_detection_score=args.min_score)  # predict's pipeline
    min_score = preset.min_score
    whole, found, merged, default = (
        "whole image, two passes (no detector)",
        "detector -> aligned crops -> landmarks",
        "detector's people + whole-image person",
        f"predict's pipeline for {args.weights} ({preset.passes} pass(es), whole image {preset.whole_image})",
    )
    off = ", filters off"  # presence and the detected people's pose score not used
    runs = {
        whole + off: Predictor(args.weights, "none", min_presence=0.0, settings=Settings(passes=2, min_pose_score=0.0)),
        whole: Predictor(args.weights, detector="none", settings=Settings(passes=2)),
        found: Predictor(
            args.weights, args.detector, min_detection_score=min_score, settings=Settings(whole_image="never")
        ),
        merged + off: Predictor(
            args.weights,
            args.detector,
            min_detection_score=min_score,
            min_presence=0.0,
            settings=Settings(min_pose_score=0.0, whole_image="always"),
        ),
        merged: Predictor(
            args.weights, args.detector, min_detection_score=min_score, settings=Settings(whole_image="always")
        ),
        default: preset,
    }
    reports, preds = {}, {}
    for name, predictor in runs.items():
        reports[name], preds[name] = evaluate_coco(predictor, annotations, images, args.part, False)
    oracle = "ground-truth boxes as first crops (a perfect detector; a bound)"
    reports[oracle], preds[oracle] = ground_truth_crops(runs[whole], annotations, images, args.part)
    first = next(iter(reports.values()))
    print(
        f"coco_mini {args.part}: {first['images']} images, {first['images_with_people']} with people, "
        f"{first['matched']['people']} people with keypoints; detector threshold {min_score}\n"
    )
    gt = coco_part(annotations, args.part)
    empty = [im["id"] for im in gt["images"] if not any(a["image_id"] == im["id"] for a in gt["annotations"])]
    print(
        "| pipeline | OKS AP | AP50 | AR | people predicted | detector recall | PCK@0.2 of people | "
        f"nobody on the {len(empty)} images without people |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, r in reports.items():
        o, m = r["oks"], r["matched"]
        print(
            f"| {name} | {100 * o['ap']:.1f} | {100 * o['ap50']:.1f} | {100 * o['ar']:.1f} | "
            f"{r['people_predicted']} | {100 * m['recall']:.1f} | {100 * m['pck@0.2']:.1f} | "
            f"{sum(not preds[name][i] for i in empty)} |"
        )
    print()
    for new, base, what in (
        (default, whole, "predict's pipeline minus whole image"),
        (merged, found, "merged minus detector's people alone"),
        (merged, merged + off, "merged: filters minus none"),
        (whole, whole + off, "whole image: presence filter minus none"),
    ):
        d, lo, hi = paired_ap_interval(gt, preds[new], preds[base], preset.skeleton, resamples=args.resamples)
        print(f"OKS AP, {what}: {100 * d:+.1f} points (95 % interval {100 * lo:+.1f} to {100 * hi:+.1f})")
        ids = sorted(reports[new]["matched"]["per_image"])
        per = [reports[k]["matched"]["per_image"] for k in (new, base)]
        correct = [np.array([p[i]["correct"] for i in ids]) for p in per]
        scored = np.array([per[0][i]["scored"] for i in ids])
        d, lo, hi = paired_bootstrap(correct[0], correct[1], scored)
        print(f"PCK@0.2 of people, {what}: {100 * d:+.1f} points (95 % interval {100 * lo:+.1f} to {100 * hi:+.1f})")


def ground_truth_crops(predictor, annotations, images, part: str) -> tuple[dict, dict]:
    """Every labelled person (keypoints, not crowd) read from a crop of 1.25 x its ground-truth box's longer
    side, two passes: the report of `evaluate_coco`'s form, and the people by image id."""
    from blazepose.data.images import load_image
    from blazepose.evaluation.coco_eval import coco_part, matched_people, oks_ap

    gt = coco_part(annotations, part)
    preds = {}
    for im in gt["images"]:
        anns = [a for a in gt["annotations"] if a["image_id"] == im["id"]]
        boxes = [a["bbox"] for a in anns if a.get("num_keypoints", 0) > 0 and not a.get("iscrowd", 0)]
        rois = [(x + w / 2, y + h / 2, 1.25 * max(w, h)) for x, y, w, h in boxes]
        image = load_image(Path(images) / im["file_name"])[0]
        preds[im["id"]] = [p.people[0] for p in predictor.predict_arrays([image] * len(rois), rois)] if rois else []
    report = {
        "oks": oks_ap(gt, preds, predictor.skeleton),
        "matched": matched_people(gt, preds, predictor.skeleton),
        "people_predicted": sum(len(p) for p in preds.values()),
    }
    return report, preds


if __name__ == "__main__":
    main()

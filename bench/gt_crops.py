"""How good are the landmarks on photos once the person is found? Our landmark model against MediaPipe's
released pose_landmark_full.tflite, both on the same crops made from coco_mini's ground-truth boxes.

    python bench/gt_crops.py [--weights full] [--part all] [--margin 1.25]

Every coco_mini person (not crowd) with both the left shoulder and the right hip labelled (the PCK torso) is
cropped as a square of `--margin` x the longer side of its COCO box around the box centre, axis-aligned, and
given to both models (ours through the Predictor's ROI path, one pass; MediaPipe's through LiteRT, its 39
landmarks mapped to the 12 limb joints that LSP and COCO share). Prints PCK@0.2 (torso = left shoulder to right
hip) over all those people, over those with an ankle labelled (whole bodies) and those without (cut off), by
the person's size in the photo and per part, plus the people whose best reading is their mirror image (left
and right swapped) and what choosing each person's better of the two would give (a bound, not a method). The
crops use the ground truth: this isolates the landmark model from the detector, it is not a pipeline figure.
coco_mini's keypoints are not used to train the landmark models, so `--part all` (80 images) is fair to both.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
PEER = Path(__file__).resolve().parents[2] / "shared" / "peer" / "mediapipe"


SIZES = ("box under 100 px", "box 100-200 px", "box 200 px or more")  # the COCO box's longer side
BOUND = "all, each person's better of the reading and its mirror image"


def size_group(side: float) -> str:
    return SIZES[0] if side < 100 else SIZES[1] if side < 200 else SIZES[2]


def mediapipe_runner(path: Path):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path), num_threads=1)
    it.allocate_tensors()
    inp = it.get_input_details()[0]
    out = next(o for o in it.get_output_details() if tuple(o["shape"]) == (1, 195))

    def run(crop: np.ndarray) -> np.ndarray:
        it.set_tensor(inp["index"], (crop.astype(np.float32) / 255.0)[None])  # RGB in [0, 1]
        it.invoke()
        return it.get_tensor(out["index"]).reshape(39, 5)[:, :2]  # crop pixels (256 x 256)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default="full", help="our landmark model (default: the packaged Full)")
    parser.add_argument("--part", default="all", choices=["all", "val", "train"], help="coco_mini part")
    parser.add_argument("--margin", type=float, default=1.25, help="crop side / the box's longer side")
    parser.add_argument("--peer", default=str(PEER), help="folder with MediaPipe's pose_landmark_full.tflite")
    parser.add_argument("--data-root", default="", help="folder holding coco_mini/")
    args = parser.parse_args()

    from blazepose.data.datasets import coco_files, dataset_folder
    from blazepose.data.images import load_image
    from blazepose.evaluation.coco_eval import coco_part, shared_joints
    from blazepose.geometry import crop_matrix, invert_affine, transform_points, warp_image
    from blazepose.inference import Predictor
    from blazepose.keypoints import BLAZEPOSE33, COCO, LSP

    annotations, photos = coco_files(dataset_folder("coco", args.data_root))
    gt = coco_part(annotations, args.part)
    _, coco_idx = shared_joints(LSP)  # the 12 limb joints LSP and COCO share, by COCO's names
    names = [COCO.joint_names[c] for c in coco_idx]
    swap = [names.index(n.replace("left", "#").replace("right", "left").replace("#", "right")) for n in names]
    peer = [BLAZEPOSE33.index(n) for n in names]  # MediaPipe's first 33 of 39 outputs are BlazePose's 33
    predictor = Predictor(args.weights, detector="none", min_presence=0.0)
    ours_idx = [predictor.skeleton.index(n) for n in names]  # LSP's 14 or MediaPipe's 33, by name
    mediapipe = mediapipe_runner(Path(args.peer) / "pose_landmark_full.tflite")
    ls, rh = COCO.index("left_shoulder"), COCO.index("right_hip")
    ankles = [COCO.index("left_ankle"), COCO.index("right_ankle")]
    images = {im["id"]: im for im in gt["images"]}
    tally: dict[tuple[str, str], list[int]] = {}
    swapped = {"ours": 0, "MediaPipe": 0}
    people = 0

    def count(who: str, group: str, ok: np.ndarray, labelled: np.ndarray) -> None:
        t = tally.setdefault((who, group), [0, 0])
        t[0] += int((ok & labelled).sum())
        t[1] += int(labelled.sum())

    for ann in gt["annotations"]:
        kps = np.asarray(ann["keypoints"], np.float64).reshape(17, 3)
        if ann.get("iscrowd") or not (kps[ls, 2] > 0 and kps[rh, 2] > 0):
            continue
        people += 1
        torso = np.linalg.norm(kps[ls, :2] - kps[rh, :2])
        image = load_image(photos / images[ann["image_id"]]["file_name"])[0]
        x, y, w, h = ann["bbox"]
        roi = (x + w / 2, y + h / 2, max(w, h) * args.margin)
        ours = predictor.predict_arrays([image], [roi], passes=1)[0].people[0].keypoints[ours_idx]
        m = crop_matrix(roi[:2], roi[2], 256, 0.0)
        theirs = transform_points(mediapipe(warp_image(image, m, 256))[peer], invert_affine(m))
        labelled = kps[coco_idx, 2] > 0
        whole = "whole bodies (an ankle labelled)" if kps[ankles, 2].max() > 0 else "cut off (no ankle labelled)"
        for who, pred in (("ours", ours), ("MediaPipe", theirs)):
            ok = np.linalg.norm(pred - kps[coco_idx, :2], axis=-1) <= 0.2 * torso
            mirror = np.linalg.norm(pred[swap] - kps[coco_idx, :2], axis=-1) <= 0.2 * torso
            mirrored = (mirror & labelled).sum() > (ok & labelled).sum()
            swapped[who] += int(mirrored)
            count(who, "all", ok, labelled)
            count(who, whole, ok, labelled)
            count(who, size_group(max(w, h)), ok, labelled)
            count(who, BOUND, mirror if mirrored else ok, labelled)
            for j, name in enumerate(names):
                count(who, name.split("_")[1], ok[j : j + 1], labelled[j : j + 1])

    print(
        f"coco_mini {args.part}: {people} people with the torso labelled, crops of {args.margin:g} x the "
        f"ground-truth box; {args.weights} against MediaPipe pose_landmark_full\n"
    )
    print("| PCK@0.2 | joints | ours | MediaPipe | ours - MediaPipe |")
    print("|---|---|---|---|---|")
    groups = ["all", "whole bodies (an ankle labelled)", "cut off (no ankle labelled)", *SIZES]
    groups += [BOUND]
    groups += ["shoulder", "elbow", "wrist", "hip", "knee", "ankle"]
    for group in groups:
        (a, n), (b, _) = tally.get(("ours", group), [0, 0]), tally.get(("MediaPipe", group), [0, 0])
        if n:
            print(f"| {group} | {n} | {100 * a / n:.1f} | {100 * b / n:.1f} | {100 * (a - b) / n:+.1f} |")
    print(f"\npeople read as their mirror image: ours {swapped['ours']}, MediaPipe {swapped['MediaPipe']}")


if __name__ == "__main__":
    main()

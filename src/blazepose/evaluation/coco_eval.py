"""Several people per image: the pipeline over a COCO-format folder, scored by pycocotools.

The model's skeleton and COCO-17 share joints by name (all 17 for a COCO or BlazePose-33 model; the 12 limb joints,
shoulders to ankles, for the LSP skeleton); OKS AP / AR is computed by pycocotools' own COCOeval on those joints
only (ground truth and predictions cut to them, the COCO sigmas of those joints), so a joint the model does not
predict is neither rewarded nor punished. Beside it: the detector's recall (ground-truth people with keypoints
whose box a predicted box overlaps at IoU >= 0.5), and PCK@0.2 of the matched people (torso = left shoulder to
right hip). Paired intervals come from resampling images (``paired_ap_interval``).
"""

from __future__ import annotations

import contextlib
import copy
import io
from pathlib import Path

import numpy as np

from blazepose.data.coco import images_in_part
from blazepose.errors import BlazePoseError, read_json
from blazepose.keypoints import COCO, LSP, Skeleton, estimate_from_head

# COCO's per-keypoint OKS sigmas (cocoapi, in COCO-17 order).
COCO_SIGMAS = COCO.oks_sigmas


def shared_joints(skeleton: Skeleton) -> tuple[list[int], list[int]]:
    """(indices in `skeleton`, indices in COCO-17) of the joints both name, in COCO order."""
    ours, theirs = [], []
    for c, name in enumerate(COCO.joint_names):
        if name in skeleton.joint_names:
            ours.append(skeleton.index(name))
            theirs.append(c)
    if not ours:
        raise BlazePoseError(f"the {skeleton.name} skeleton shares no joint with COCO")
    return ours, theirs


def coco_part(annotations: str | Path, part: str = "all") -> dict:
    """A COCO person-keypoints json, cut to `part`: "val" (coco_mini's validation half), "train" or "all"
    (``data.coco.image_part``, the one rule)."""
    data = read_json(annotations, "a COCO person_keypoints json")
    if not isinstance(data, dict) or "images" not in data or "annotations" not in data:
        raise BlazePoseError(f"{annotations}: expected a COCO json with 'images' and 'annotations'")
    images = images_in_part(data["images"], part)
    ids = {im["id"] for im in images}
    return {
        "images": images,
        "annotations": [a for a in data["annotations"] if a["image_id"] in ids],
        "categories": data.get("categories", [{"id": 1, "name": "person"}]),
    }


def coco_keypoints(keypoints: np.ndarray, skeleton: Skeleton, face: dict | None = None) -> np.ndarray:
    """One person's (K, 2) keypoints -> COCO's 17 as (17, 3) rows x, y, 1: the joints the skeleton shares,
    the face keypoints it lacks estimated from its neck, head top and shoulders (``estimate_from_head`` with
    `face`, default FACE_FROM_HEAD; {} estimates none), any other joint it lacks zero."""
    ours, theirs = shared_joints(skeleton)
    out = np.zeros((COCO.num_joints, 3))
    out[theirs, :2] = np.asarray(keypoints)[ours]
    out[theirs, 2] = 1.0
    for name, point in estimate_from_head(keypoints, skeleton, face).items():
        out[COCO.index(name)] = (*point, 1.0)
    return out


def _cut_gt(data: dict, coco_idx: list[int]) -> dict:
    out = copy.deepcopy(data)
    for ann in out["annotations"]:
        kps = np.asarray(ann.get("keypoints", [0] * 51), np.float64).reshape(17, 3)[coco_idx]
        ann["keypoints"] = kps.reshape(-1).tolist()
        ann["num_keypoints"] = int((kps[:, 2] > 0).sum())
    return out


def _results(predictions: dict, coco_idx: list[int], skeleton: Skeleton, face: dict | None = None) -> list[dict]:
    """(image id -> list of people) -> COCO keypoint results on the COCO joints `coco_idx` (``coco_keypoints``)."""
    results = []
    for image_id, people in predictions.items():
        for p in people:
            kps = coco_keypoints(p.keypoints, skeleton, face)[coco_idx]
            results.append(
                {"image_id": image_id, "category_id": 1, "keypoints": kps.reshape(-1).tolist(), "score": float(p.score)}
            )
    return results


def oks_ap(
    gt: dict, predictions: dict, skeleton: Skeleton = LSP, all_coco: bool = False, face: dict | None = None
) -> dict:
    """OKS AP, AP50, AP75 and AR (pycocotools COCOeval, keypoints) on the joints `skeleton` shares with COCO, or
    with `all_coco` on COCO's 17 (face keypoints the skeleton lacks estimated by `face`, ``coco_keypoints``)."""
    from pycocotools.coco import COCO as CocoApi
    from pycocotools.cocoeval import COCOeval

    coco_idx = list(range(COCO.num_joints)) if all_coco else shared_joints(skeleton)[1]
    api = CocoApi()
    api.dataset = _cut_gt(gt, coco_idx)
    with contextlib.redirect_stdout(io.StringIO()):
        api.createIndex()
    results = _results(predictions, coco_idx, skeleton, face)
    if not results:
        return {"ap": 0.0, "ap50": 0.0, "ap75": 0.0, "ar": 0.0}
    with contextlib.redirect_stdout(io.StringIO()):
        dt = api.loadRes(results)
        ev = COCOeval(api, dt, "keypoints")
        ev.params.kpt_oks_sigmas = COCO_SIGMAS[coco_idx]
        ev.params.imgIds = sorted(predictions)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    s = ev.stats
    return {"ap": float(s[0]), "ap50": float(s[1]), "ap75": float(s[2]), "ar": float(s[5])}


def _iou(a, b) -> float:
    x0, y0, x1, y1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(x1 - x0, 0.0) * max(y1 - y0, 0.0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _person_box(p) -> tuple:
    if p.box is not None:
        return p.box
    lo, hi = p.keypoints.min(axis=0), p.keypoints.max(axis=0)
    return (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))


def matched_people(gt: dict, predictions: dict, skeleton: Skeleton = LSP) -> dict:
    """Detector recall and PCK@0.2 of matched people, per image (for paired intervals).

    Ground-truth people with keypoints (not crowd) are matched greedily, best predicted score first, to the
    unmatched prediction whose box overlaps theirs most (IoU >= 0.5). PCK counts every shared joint the ground
    truth labels, a joint of an unmatched person as a miss; torso = left shoulder to right hip."""
    our_idx, coco_idx = shared_joints(skeleton)
    ls, rh = COCO.index("left_shoulder"), COCO.index("right_hip")
    per_image = {}
    for image_id, people in predictions.items():
        anns = [
            a
            for a in gt["annotations"]
            if a["image_id"] == image_id and not a.get("iscrowd", 0) and a.get("num_keypoints", 0) > 0
        ]
        found = correct = scored = 0
        taken = set()
        for a in anns:
            x, y, w, h = a["bbox"]
            box = (x, y, x + w, y + h)
            kps = np.asarray(a["keypoints"], np.float64).reshape(COCO.num_joints, 3)
            options = [(i, _iou(box, _person_box(p))) for i, p in enumerate(people) if i not in taken]
            best = max(options, key=lambda t: t[1], default=(None, 0.0))
            labelled = kps[coco_idx, 2] > 0
            torso = np.linalg.norm(kps[ls, :2] - kps[rh, :2]) if kps[ls, 2] > 0 and kps[rh, 2] > 0 else np.nan
            if np.isfinite(torso) and torso > 0:
                scored += int(labelled.sum())
            if best[0] is None or best[1] < 0.5:
                continue
            taken.add(best[0])
            found += 1
            if np.isfinite(torso) and torso > 0:
                d = np.linalg.norm(people[best[0]].keypoints[our_idx] - kps[coco_idx, :2], axis=-1)
                correct += int(((d <= 0.2 * torso) & labelled).sum())
        per_image[image_id] = {"people": len(anns), "found": found, "correct": correct, "scored": scored}
    total = {k: sum(v[k] for v in per_image.values()) for k in ("people", "found", "correct", "scored")}
    return {
        "recall": total["found"] / total["people"] if total["people"] else float("nan"),
        "pck@0.2": total["correct"] / total["scored"] if total["scored"] else float("nan"),
        "people": total["people"],
        "per_image": per_image,
    }


def paired_ap_interval(
    gt: dict, preds_a: dict, preds_b: dict, skeleton: Skeleton = LSP, resamples: int = 200, seed: int = 0
) -> tuple[float, float, float]:
    """OKS AP of a minus that of b, and a 95 % interval over images drawn with replacement (both scored on each
    draw; a drawn image is renamed so that duplicates count twice)."""
    ids = sorted(preds_a)
    base = oks_ap(gt, preds_a, skeleton)["ap"] - oks_ap(gt, preds_b, skeleton)["ap"]
    rng = np.random.default_rng(seed)
    by_image = {i: [a for a in gt["annotations"] if a["image_id"] == i] for i in ids}
    images = {im["id"]: im for im in gt["images"]}
    diffs = []
    for _ in range(resamples):
        draw = rng.integers(0, len(ids), len(ids))
        g = {"images": [], "annotations": [], "categories": gt["categories"]}
        pa, pb = {}, {}
        for new_id, k in enumerate(draw):
            old = ids[k]
            g["images"].append({**images[old], "id": new_id})
            for a in by_image[old]:
                g["annotations"].append({**a, "id": len(g["annotations"]) + 1, "image_id": new_id})
            pa[new_id], pb[new_id] = preds_a[old], preds_b[old]
        diffs.append(oks_ap(g, pa, skeleton)["ap"] - oks_ap(g, pb, skeleton)["ap"])
    low, high = np.percentile(diffs, [2.5, 97.5])
    return float(base), float(low), float(high)


def evaluate_coco(
    predictor, annotations: str | Path, images: str | Path, part: str = "val", progress: bool = True, limit: int = 0
) -> tuple[dict, dict]:
    """The predictor over a COCO folder's `part` (its first `limit` images; 0: all); returns (report, predictions
    by image id)."""
    gt = coco_part(annotations, part)
    if limit:
        kept = gt["images"][:limit]
        ids = {im["id"] for im in kept}
        gt = {**gt, "images": kept, "annotations": [a for a in gt["annotations"] if a["image_id"] in ids]}
    paths = [Path(images) / im["file_name"] for im in gt["images"]]
    predictions, unreadable = {}, []
    for im, (_, result) in zip(gt["images"], predictor.predict_files(paths, progress=progress), strict=True):
        if isinstance(result, str):
            unreadable.append(result)
            predictions[im["id"]] = []
        else:
            predictions[im["id"]] = result.people
    report = {
        "images": len(paths),
        "part": part,
        "unreadable_images": unreadable,
        "oks": oks_ap(gt, predictions, predictor.skeleton),
        "oks_joints": [COCO.joint_names[c] for c in shared_joints(predictor.skeleton)[1]],
        "oks_all": oks_ap(gt, predictions, predictor.skeleton, all_coco=True),
        "matched": matched_people(gt, predictions, predictor.skeleton),
        "images_with_people": sum(
            1
            for i in gt["images"]
            if any(a["image_id"] == i["id"] and not a.get("iscrowd", 0) for a in gt["annotations"])
        ),
        "people_predicted": sum(len(p) for p in predictions.values()),
    }
    return report, predictions


def format_coco(report: dict, title: str) -> str:
    o, m = report["oks"], report["matched"]
    return "\n".join(
        [
            f"## {title}",
            "",
            f"{report['images']} images ({report['images_with_people']} with people), {m['people']} people with "
            f"keypoints; {report['people_predicted']} people predicted",
            "",
            "| OKS AP | AP50 | AP75 | AR | detector recall (IoU 0.5) | PCK@0.2 of people |",
            "|---|---|---|---|---|---|",
            f"| {100 * o['ap']:.1f} | {100 * o['ap50']:.1f} | {100 * o['ap75']:.1f} | {100 * o['ar']:.1f} | "
            f"{100 * m['recall']:.1f} | {100 * m['pck@0.2']:.1f} |",
            "",
            f"OKS on the {len(report.get('oks_joints', []))} joints the model's skeleton shares with COCO "
            "(pycocotools); PCK counts the joints of people the pipeline missed as misses.",
        ]
        + (
            [
                f"On all 17 COCO keypoints, as `predict --format coco` writes them (face keypoints the skeleton "
                f"lacks estimated from its head where it has one, any other missing joint zero): OKS AP "
                f"{100 * report['oks_all']['ap']:.1f}, AP50 "
                f"{100 * report['oks_all']['ap50']:.1f}, AR {100 * report['oks_all']['ar']:.1f}.",
            ]
            if "oks_all" in report and len(report.get("oks_joints", [])) < COCO.num_joints
            else []
        )
    )

"""OKS scoring through pycocotools with numbers worked out by hand, and COCO's face keypoints estimated from a
skeleton's head."""

import numpy as np
import pytest

from blazepose.evaluation.coco_eval import coco_keypoints, matched_people, oks_ap
from blazepose.inference import Person
from blazepose.keypoints import COCO, FACE_FROM_HEAD, LSP, estimate_from_head

AREA = 10000.0
LABELLED = {"left_shoulder": (120, 110), "right_shoulder": (80, 110), "left_hip": (115, 200)}


def _gt(labelled: dict) -> dict:
    kps = np.zeros((17, 3))
    for name, xy in labelled.items():
        kps[COCO.index(name)] = (*xy, 2)
    ann = {"id": 1, "image_id": 7, "category_id": 1, "iscrowd": 0, "area": AREA, "bbox": [70, 50, 60, 160],
           "keypoints": kps.reshape(-1).tolist(), "num_keypoints": len(labelled)}  # fmt: skip
    return {"images": [{"id": 7, "width": 300, "height": 300}], "annotations": [ann], "categories": [{"id": 1}]}


def _person(shift_left_hip: float = 0.0, lsp_points: dict | None = None) -> Person:
    kps = np.full((LSP.num_joints, 2), 150.0)  # joints the ground truth does not label: anywhere
    for name, xy in {**LABELLED, **(lsp_points or {})}.items():
        kps[LSP.index(name)] = xy
    kps[LSP.index("left_hip"), 0] += shift_left_hip
    return Person(kps.astype(np.float32), np.ones(LSP.num_joints, np.float32), 0.9)


@pytest.mark.parametrize("all_coco", [False, True])
def test_oks_ap_by_hand(all_coco):
    """One person, three joints labelled; the prediction exact but for the left hip, 20 px off. pycocotools'
    OKS: mean over labelled joints of exp(-d^2 / (2 area (2 sigma)^2)); hip sigma 0.107:
    exp(-400 / (2 * 10000 * 0.214^2)) = exp(-0.43672) = 0.64614, OKS = (1 + 1 + 0.64614) / 3 = 0.88205, so
    the match holds at the thresholds 0.50 ... 0.85 (8 of 10): AP 0.8. Exact: AP 1; the hip 200 px off:
    OKS (1 + 1 + e^-43.7) / 3 = 0.667, thresholds 0.50 ... 0.65: AP 0.4; the whole person 200 px off: 0. The
    face keypoints, unlabelled here, change nothing on all 17."""
    gt = _gt(LABELLED)
    assert oks_ap(gt, {7: [_person(20.0)]}, LSP, all_coco=all_coco)["ap"] == pytest.approx(0.8)
    assert oks_ap(gt, {7: [_person(0.0)]}, LSP, all_coco=all_coco)["ap"] == pytest.approx(1.0)
    assert oks_ap(gt, {7: [_person(200.0)]}, LSP, all_coco=all_coco)["ap"] == pytest.approx(0.4)
    away = _person(0.0)
    away.keypoints += 200.0
    assert oks_ap(gt, {7: [away]}, LSP, all_coco=all_coco)["ap"] == pytest.approx(0.0)
    assert oks_ap(gt, {7: []}, LSP, all_coco=all_coco)["ap"] == 0.0


def test_face_estimated_from_the_head_whichever_way_the_person_faces():
    """Neck (100, 100), head top (100, 60): u = (0, -40). Facing the camera, the left shoulder is on the
    image's right, so v = (40, 0): nose = neck + 0.37 u = (100, 85.2), left eye = neck + 0.51 u + 0.18 v =
    (107.2, 79.6), right ear = neck + 0.46 u - 0.32 v = (87.2, 81.6). Seen from behind (shoulders swapped)
    the left eye moves to the image's left."""
    assert FACE_FROM_HEAD["left_eye"] == (0.51, 0.18) and FACE_FROM_HEAD["nose"] == (0.37, 0.0)
    kps = np.zeros((LSP.num_joints, 2))
    points = {"neck": (100, 100), "head_top": (100, 60), "left_shoulder": (120, 110), "right_shoulder": (80, 110)}
    for name, xy in points.items():
        kps[LSP.index(name)] = xy
    face = estimate_from_head(kps, LSP)
    assert sorted(face) == sorted(FACE_FROM_HEAD)
    np.testing.assert_allclose(face["nose"], (100, 85.2))
    np.testing.assert_allclose(face["left_eye"], (107.2, 79.6))
    np.testing.assert_allclose(face["right_ear"], (87.2, 81.6))
    kps[[LSP.index("left_shoulder"), LSP.index("right_shoulder")]] = [(80, 110), (120, 110)]
    np.testing.assert_allclose(estimate_from_head(kps, LSP)["left_eye"], (92.8, 79.6))
    rows = coco_keypoints(kps, LSP)  # all 17 filled: shared joints copied, face estimated
    assert rows.shape == (17, 3) and (rows[:, 2] == 1).all()
    np.testing.assert_allclose(rows[COCO.index("left_shoulder"), :2], (80, 110))
    np.testing.assert_allclose(rows[COCO.index("nose"), :2], (100, 85.2))
    assert estimate_from_head(np.zeros((17, 2)), COCO) == {}  # COCO predicts its face: nothing to estimate


def test_labelled_face_scores_the_estimate():
    """A labelled nose where the estimate puts it adds a perfect joint on all 17; on the shared 12 it is not
    scored. With the hip 20 px off: OKS = (3 + 0.64614) / 4 = 0.91154, AP 0.9 on 17; 0.8 on 12 as before."""
    head = {"neck": (100, 100), "head_top": (100, 60)}
    gt = _gt({**LABELLED, "nose": (100, 85.2)})
    person = _person(20.0, head)
    assert oks_ap(gt, {7: [person]}, LSP, all_coco=True)["ap"] == pytest.approx(0.9)
    assert oks_ap(gt, {7: [person]}, LSP)["ap"] == pytest.approx(0.8)


def test_matched_people_recall_and_pck_by_hand():
    """The person's box (70, 50)-(130, 210) against the prediction's keypoint box; the torso (left shoulder to
    right hip) is unlabelled here, so nothing counts for PCK, while the match counts for recall."""
    gt = _gt(LABELLED)
    person = _person(0.0)
    person.box = (70.0, 50.0, 130.0, 210.0)
    report = matched_people(gt, {7: [person]}, LSP)
    assert report["recall"] == 1.0 and report["people"] == 1
    person.box = (200.0, 200.0, 260.0, 290.0)  # no overlap: missed
    assert matched_people(gt, {7: [person]}, LSP)["recall"] == 0.0


def test_evaluate_coco_limit_takes_the_first_images_only(data_root, tmp_path, capsys):
    import json

    from blazepose.cli import main

    out = tmp_path / "eval"
    argv = ["evaluate", "--dataset", "coco", "--limit", "5", "--output-dir", str(out), "--quiet"]
    assert main([*argv, "--data-root", str(data_root), "--detector", "none"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["images"] == 5 and len(report["matched"]["per_image"]) == 5

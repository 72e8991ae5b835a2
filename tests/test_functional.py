import numpy as np
import pytest

from blazepose.evaluation.functional import (
    head_size,
    left_right_swaps,
    legacy_seed_metric,
    mean_pixel_error,
    paired_bootstrap,
    pck,
    pck_curve,
    pck_per_image,
    torso_size,
)
from blazepose.keypoints import LSP

LS, RH, RS, LH = 9, 2, 8, 3  # left shoulder, right hip, right shoulder, left hip


def _gt(torso):
    """14 joints; L shoulder at (0, 0) and R hip at (0, torso); the other diagonal deliberately longer."""
    gt = np.zeros((14, 2))
    gt[:, 0] = np.arange(14) * 3.0 + 100
    gt[:, 1] = 50
    gt[LS] = (0, 0)
    gt[RH] = (0, torso)
    gt[RS] = (-3 * torso, 0)
    gt[LH] = (3 * torso, torso)
    return gt


def _case():
    gt = np.stack([_gt(100.0), _gt(50.0)])
    pred = gt.copy()
    mask = np.ones((2, 14))
    pred[0, 0, 0] += 20.0  # image 1 (threshold 20): exactly on the boundary -> correct
    pred[0, 1, 1] += 20.001  # just over -> wrong
    pred[1, 0] += (9.0, 12.0)  # image 2 (threshold 10): 15 px -> wrong
    pred[1, 1] = np.nan  # no prediction -> a miss
    mask[1, 5] = 0  # not annotated -> excluded
    return pred, gt, mask


def test_torso_is_left_shoulder_to_right_hip():
    _, gt, mask = _case()
    np.testing.assert_allclose(torso_size(gt, mask), [100.0, 50.0])


def test_pck_by_hand():
    pred, gt, mask = _case()
    before = [a.copy() for a in (pred, gt, mask)]
    r = pck(pred, gt, mask, torso_size(gt, mask), 0.2)
    assert r.per_joint[0] == 0.5 and r.per_joint[1] == 0.0 and r.per_joint[5] == 1.0
    assert r.valid == 27 and r.excluded == 1
    assert r.mean == pytest.approx(24 / 27)  # image 1: 13 of 14; image 2: 11 of 13
    assert r.per_part["Ankle"] == pytest.approx(0.75)  # (0.5 + 1.0) / 2
    assert r.per_part["Knee"] == pytest.approx(0.5)  # (0.0 + 1.0) / 2
    assert r.per_part["Head"] == 1.0
    for a, b in zip((pred, gt, mask), before, strict=True):
        np.testing.assert_array_equal(a, b)  # inputs untouched
    d = r.as_dict(LSP)
    assert d["per_joint"]["right_ankle"] == 0.5 and d["mean"] == r.mean
    correct, scored = pck_per_image(pred, gt, mask, torso_size(gt, mask), 0.2)
    assert correct.tolist() == [13, 11] and scored.tolist() == [14, 13]


def test_paired_bootstrap_by_hand():
    # a beats b by one joint of 14 on every image: every resample gives exactly 1/14
    diff, low, high = paired_bootstrap([10, 10, 10, 10], [9, 9, 9, 9], [14, 14, 14, 14])
    assert diff == pytest.approx(1 / 14) and low == pytest.approx(1 / 14) and high == pytest.approx(1 / 14)
    assert paired_bootstrap([3, 5], [3, 5], [14, 14]) == (0.0, 0.0, 0.0)
    # a gets image 1 all right and image 2 all wrong, b the reverse: no difference overall, but a resample of
    # image 1 twice (probability 1/4) gives +1 and of image 2 twice (1/4) gives -1, so the 95 % interval is -1..+1
    diff, low, high = paired_bootstrap([14, 0], [0, 14], [14, 14])
    assert diff == 0.0 and low == -1.0 and high == 1.0
    with pytest.raises(ValueError):
        paired_bootstrap([1, 2], [1, 2, 3], [14, 14])


def test_pckh_uses_the_head_segment():
    gt = _gt(100.0)[None]
    gt[0, 12] = (0, 0)
    gt[0, 13] = (0, 40)  # head segment 40 -> PCKh@0.5 threshold 20
    pred = gt.copy()
    pred[0, 0, 0] += 19.9
    pred[0, 1, 0] += 20.1
    mask = np.ones((1, 14))
    r = pck(pred, gt, mask, head_size(gt, mask), 0.5)
    assert r.per_joint[0] == 1 and r.per_joint[1] == 0 and r.mean == pytest.approx(13 / 14)


def test_empty_and_degenerate_cases():
    pred, gt, _ = _case()
    r = pck(pred, gt, np.zeros((2, 14)), torso_size(gt, np.ones((2, 14))), 0.2)
    assert r.valid == 0 and r.excluded == 28 and np.isnan(r.mean) and np.isnan(r.per_joint).all()
    gt0 = gt.copy()
    gt0[0, RH] = gt0[0, LS]  # zero torso: image 1 has no normaliser -> excluded
    r = pck(pred, gt0, np.ones((2, 14)), torso_size(gt0, np.ones((2, 14))), 0.2)
    assert r.valid == 14 and r.excluded == 14
    curve, auc = pck_curve(pred, gt, np.zeros((2, 14)), np.ones(2), [0, 0.2])
    assert np.isnan(auc) and np.isnan(curve).all()


def test_curve_and_auc_by_hand():
    gt = np.zeros((1, 4, 2))
    pred = gt.copy()
    pred[0, :, 0] = [0.0, 5.0, 15.0, 30.0]  # relative distances 0, 0.05, 0.15, 0.3 with norm 100
    curve, auc = pck_curve(pred, gt, np.ones((1, 4)), np.array([100.0]), np.array([0.0, 0.1, 0.2]))
    np.testing.assert_allclose(curve, [0.25, 0.5, 0.75])
    assert auc == pytest.approx((0.375 + 0.625) * 0.1 / 0.2)  # trapezoids / range = 0.5


def test_mean_pixel_error_skips_masked_and_missing():
    gt = np.zeros((1, 3, 2))
    pred = np.array([[[3.0, 4.0], [np.nan, 0], [100.0, 0]]])
    assert mean_pixel_error(pred, gt, np.array([[1, 1, 0]])) == 5.0


def test_legacy_seed_metric_is_its_own_rule():
    gt = _gt(100.0)[None]
    gt[0, 12] = (0, 0)
    gt[0, 13] = (0, 10)  # head segment 10: correct when d^2 <= 50, i.e. d <= 7.07
    pred = gt.copy()
    pred[0, 0, 0] += 7.0
    pred[0, 1, 0] += 7.1
    mask = np.ones((1, 14))
    assert legacy_seed_metric(pred, gt, mask) == pytest.approx(13 / 14)
    # PCK@0.2 on the same prediction differs (torso 100 -> threshold 20: both correct).
    assert pck(pred, gt, mask, torso_size(gt, mask), 0.2).mean == 1.0


def test_left_right_swaps_by_hand():
    # Joints 1000 px apart on a line; torso = joint 9 to joint 2 = 7000 px; alpha 0.1 -> 700 px threshold.
    gt = np.stack([np.stack([np.arange(14) * 1000.0, np.zeros(14)], axis=1)] * 2)
    pred = gt.copy()
    mask = np.ones((2, 14))
    pred[0, 0] = gt[0, 5] + (300.0, 400.0)  # R ankle 500 px from the L ankle: a swap
    pred[0, 1] = gt[0, 1] + (0.0, 800.0)  # R knee off, far from the L knee: a miss, not a swap
    pred[0, 12] = gt[0, 13]  # neck on the head top: a miss; no mirror, so never a swap
    pred[0, 7], pred[0, 10] = gt[0, 10], gt[0, 7]  # elbows exchanged: two swaps
    pred[1] = gt[1][LSP.flip_index]  # image 2 read the wrong way round ...
    mask[1, 3] = 0  # ... but L hip not annotated: R hip is a miss that cannot be called a swap
    r = left_right_swaps(pred, gt, mask, torso_size(gt, mask), 0.1)
    # scored 14 + 13 joints; misses: image 1 joints 0, 1, 7, 10, 12, image 2 the 11 annotated paired ones
    assert r["swapped"] == 3 + 10
    assert r["of_joints"] == pytest.approx(13 / 27)
    assert r["of_misses"] == pytest.approx(13 / 16)
    assert r["whole_body_images"] == 1  # image 2 only (image 1: 3 of 12)
    pred[0, 0] = gt[0, 5] + (0.0, 701.0)  # just beyond the threshold of the mirror joint too
    assert left_right_swaps(pred, gt, mask, torso_size(gt, mask), 0.1)["swapped"] == 12


def test_compare_gives_an_interval_only_for_the_same_images():
    from blazepose.evaluation.evaluate import compare

    def report(correct, names):
        return {
            "pck@0.2": {"per_part": {"Head": 1.0}, "mean": sum(correct) / 28},
            "pck@0.2_per_image": {"correct": correct, "scored": [14, 14]},
            "image_names": names,
        }

    same = compare(report([14, 0], ["im1.jpg", "im2.jpg"]), report([0, 14], ["im1.jpg", "im2.jpg"]))
    assert "mean difference +0.0 points, 95 % interval -100.0 to +100.0" in same and "includes 0" in same
    other = compare(report([14, 0], ["im1.jpg", "im2.jpg"]), report([0, 14], ["im3.jpg", "im4.jpg"]))
    assert "no 95 % interval" in other


def test_box_diagonal_normaliser_for_a_skeleton_without_a_pair():
    """Joints at (0,0), (30,0), (30,40) (the fourth masked): box 30 x 40, diagonal 50, so PCK@0.2 counts a
    joint within 10 px. One annotated joint: no normaliser, excluded."""
    from blazepose.keypoints import Skeleton

    sk = Skeleton("four", ("a", "b", "c", "d"), ())
    gt = np.array([[[0, 0], [30, 0], [30, 40], [500, 500]], [[5, 5], [0, 0], [0, 0], [0, 0]]], np.float64)
    mask = np.array([[1, 1, 1, 0], [1, 0, 0, 0]], np.float32)
    norm = torso_size(gt, mask, sk)
    assert norm[0] == 50.0 and np.isnan(norm[1])
    pred = gt + np.array([[[10, 0], [0, 10.5], [6, 8], [0, 0]], [[0, 0], [0, 0], [0, 0], [0, 0]]])
    r = pck(pred, gt, mask, norm, 0.2, sk)
    assert (r.valid, r.excluded) == (3, 5) and r.mean == 2 / 3  # 10 and 10 px hit, 10.5 misses

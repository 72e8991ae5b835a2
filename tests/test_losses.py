import numpy as np
import pytest

from blazepose.losses import (
    choose_sides,
    compute_losses,
    coordinate_loss,
    distill_loss,
    heatmap_loss,
    joint_distill_loss,
    offset_loss,
    swap_sides,
    visibility_loss,
)


def test_heatmap_loss_by_hand_and_masking():
    true = np.zeros((1, 2, 2, 2), np.float32)
    pred = np.zeros((1, 2, 2, 2), np.float32)
    pred[0, 0, 0, 0] = 1.0  # joint 0: squared error summed over pixels = 1 + 4 = 5
    pred[0, 1, 1, 0] = 2.0
    pred[..., 1] = 100.0  # joint 1 is masked: must not count
    weight = np.array([[1.0, 0.0]], np.float32)
    assert float(heatmap_loss(true, pred, weight)) == pytest.approx(5.0)


def test_offset_and_coordinate_losses_by_hand():
    w = np.zeros((1, 1, 2, 2), np.float32)
    w[0, 0, 0] = 1.0
    assert float(offset_loss(np.zeros_like(w), np.full_like(w, 3.0), w)) == pytest.approx(3.0)
    true = np.zeros((1, 2, 2), np.float32)
    pred = np.array([[[0.1, 0.3], [5.0, 5.0]]], np.float32)
    assert float(coordinate_loss(true, pred, np.array([[1.0, 0.0]], np.float32))) == pytest.approx(0.2)


def test_visibility_loss_cross_entropy_and_linear():
    true = np.array([[1.0, 0.0]], np.float32)
    mask = np.ones((1, 2), np.float32)
    half = np.full((1, 2), 0.5, np.float32)
    assert float(visibility_loss(true, half, mask, probability=True)) == pytest.approx(np.log(2), rel=1e-5)
    assert float(visibility_loss(true, half, mask, probability=False)) == pytest.approx(0.25)


def test_fully_masked_batch_gives_zero_not_nan():
    k = 3
    y = {
        "heatmap": np.ones((1, 4, 4, k), np.float32),
        "offset": np.ones((1, 4, 4, 2 * k), np.float32),
        "offset_weight": np.zeros((1, 4, 4, 2 * k), np.float32),
        "heatmap_weight": np.zeros((1, k), np.float32),
        "joints": np.ones((1, k, 2), np.float32),
        "visibility": np.ones((1, k), np.float32),
        "mask": np.zeros((1, k), np.float32),
    }
    pred = {"heatmap": np.zeros((1, 4, 4, k)), "offset": np.zeros((1, 4, 4, 2 * k)), "joints": np.zeros((1, k, 3))}
    losses = compute_losses(y, {k_: v.astype(np.float32) for k_, v in pred.items()})
    assert all(float(v) == 0.0 for v in losses.values())


def _targets(k: int, flip_index: np.ndarray) -> dict:
    """Targets whose every joint carries its own index, so a swap shows in the values."""
    joint = np.arange(k, dtype=np.float32)
    return {
        "heatmap": np.broadcast_to(joint, (1, 2, 2, k)).copy(),
        "offset": np.broadcast_to(np.arange(2 * k, dtype=np.float32), (1, 2, 2, 2 * k)).copy(),
        "offset_weight": np.broadcast_to(np.arange(2 * k, dtype=np.float32), (1, 2, 2, 2 * k)).copy(),
        "heatmap_weight": joint[None],
        "joints": np.stack([joint, -joint], axis=-1)[None],
        "visibility": joint[None],
        "mask": joint[None],
    }


def test_swap_sides_exchanges_left_and_right_channels_by_hand():
    # joints 0, 1 are a left/right pair; joint 2 (the head, say) has no mirror
    index = np.array([1, 0, 2])
    out = swap_sides(_targets(3, index), index)
    assert np.asarray(out["heatmap"])[0, 1, 1].tolist() == [1, 0, 2]
    assert np.asarray(out["heatmap_weight"])[0].tolist() == [1, 0, 2]
    assert np.asarray(out["mask"])[0].tolist() == [1, 0, 2]
    assert np.asarray(out["visibility"])[0].tolist() == [1, 0, 2]
    # offsets come in (x, y) channel pairs 2k, 2k + 1: the pairs move, their order within stays
    assert np.asarray(out["offset"])[0, 0, 0].tolist() == [2, 3, 0, 1, 4, 5]
    assert np.asarray(out["offset_weight"])[0, 1, 0].tolist() == [2, 3, 0, 1, 4, 5]
    assert np.asarray(out["joints"])[0].tolist() == [[1, -1], [0, 0], [2, -2]]


def _peaks(cells: list[tuple[int, int]], size: int = 8) -> np.ndarray:
    """(size, size, K) maps with a 1 at each joint's (row, column) cell."""
    out = np.zeros((size, size, len(cells)), np.float32)
    for k, (r, c) in enumerate(cells):
        out[r, c, k] = 1.0
    return out


def test_choose_sides_reads_either_side_samples_the_way_the_prediction_fits():
    index = np.array([1, 0, 2])
    labelled = [(1, 1), (6, 6), (3, 3)]  # left at (1, 1), right at (6, 6)
    heat = np.stack([_peaks(labelled)] * 3)
    y = {
        "heatmap": heat,
        "heatmap_weight": np.ones((3, 3), np.float32),
        "joints": np.zeros((3, 3, 2), np.float32),
        "mask": np.ones((3, 3), np.float32),
        # sample 0 may be either way round; sample 1 may too; sample 2 must keep its labels
        "either_side": np.array([1.0, 1.0, 0.0], np.float32),
    }
    y["joints"][:, 0], y["joints"][:, 1] = 0.1, 0.9
    # The model sees sample 0 as labelled and samples 1 and 2 the other way round (logits: +8 at a peak).
    logits = np.full((3, 8, 8, 3), -8.0, np.float32)
    logits += 16.0 * np.stack([_peaks(labelled), _peaks([(6, 6), (1, 1), (3, 3)]), _peaks([(6, 6), (1, 1), (3, 3)])])
    for heatmap_type in ("focal", "mse"):
        pred = {"heatmap": logits if heatmap_type == "focal" else (logits > 0).astype(np.float32)}
        out, exchanged = choose_sides(y, pred, index, heatmap_type)
        assert np.asarray(exchanged).tolist() == [0.0, 1.0, 0.0]
        got = np.asarray(out["heatmap"])
        assert np.array_equal(got[0], heat[0]) and np.array_equal(got[2], heat[2])
        assert np.array_equal(got[1], heat[1][..., index])
        assert np.asarray(out["joints"])[:, 0, 0].tolist() == pytest.approx([0.1, 0.9, 0.1])
        assert np.asarray(out["either_side"]).tolist() == [1.0, 1.0, 0.0]
    # Without heatmaps (the regression phase), the coordinates decide.
    joints = np.zeros((3, 3, 3), np.float32)
    joints[:, 0, :2], joints[:, 1, :2] = 0.9, 0.1  # every sample predicted the other way round
    out, exchanged = choose_sides(y, {"joints": joints}, index)
    assert np.asarray(exchanged).tolist() == [1.0, 1.0, 0.0]
    assert np.asarray(out["joints"])[:, 0, 0].tolist() == pytest.approx([0.9, 0.9, 0.1])


def test_distill_loss_by_hand():
    # Probabilities (focal logits): the student at logit 0 (p = 0.5) against a teacher at p = 0 on a 2x2 map:
    # 4 x 0.25 = 1 for joint 0; joint 1 agrees (0); averaged over the 2 joints and the batch of 1: 0.5.
    student = np.zeros((1, 2, 2, 2), np.float32)
    teacher = np.zeros((1, 2, 2, 2), np.float32)
    teacher[..., 0] = -100.0
    assert float(distill_loss(student, teacher, logits=True)) == pytest.approx(0.5)
    assert float(distill_loss(teacher, teacher, logits=True)) == 0.0
    # Plain heatmaps (the mse loss): compared as they are. 0.1 apart on 4 pixels: 0.04 per joint.
    assert float(distill_loss(student + 0.1, student, logits=False)) == pytest.approx(0.04)


def test_joint_distill_loss_by_hand():
    # 2 crops x 3 joints x (x, y). Crop 0 holds a person: its joints are 0.1, 0.2, 0.3 away in x (0 in y);
    # crop 1 holds nobody and is 5 away everywhere: it never counts.
    teacher = np.zeros((2, 3, 2), np.float32)
    student = teacher.copy()
    student[0, :, 0] = [0.1, 0.2, 0.3]
    student[1] = 5.0
    presence = np.array([1.0, 0.0], np.float32)
    # every joint: (0.1 + 0.2 + 0.3) / (3 joints x 2 coordinates) = 0.1
    assert float(joint_distill_loss(student, teacher, presence)) == pytest.approx(0.1)
    # joint 0 labelled: only joints 1 and 2 count, (0.2 + 0.3) / 4 = 0.125
    labelled = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]], np.float32)
    assert float(joint_distill_loss(student, teacher, presence, labelled)) == pytest.approx(0.125)
    # every joint labelled, or nobody in any crop: nothing counts, 0 (not a division by zero)
    assert float(joint_distill_loss(student, teacher, presence, np.ones((2, 3), np.float32))) == 0.0
    assert float(joint_distill_loss(student, teacher, np.zeros(2, np.float32))) == 0.0


def test_centre_focal_loss_by_hand_and_ignore_weights():
    from blazepose.losses import centre_focal_loss, masked_l1, masked_l2

    true = np.zeros((1, 2, 2, 1), np.float32)
    true[0, 0, 0, 0] = 1.0  # one person
    true[0, 0, 1, 0] = 0.5  # near it: a negative down-weighted by (1 - 0.5)^4
    logits = np.zeros_like(true)  # p = 0.5 everywhere: each term is 0.25 x log 2
    weight = np.ones_like(true)
    weight[0, 1, 1, 0] = 0.0  # an unlabelled person's pixel: left out
    term = 0.25 * np.log(2.0)
    want = term * (1.0 + 0.5**4 + 1.0)  # the positive, the near negative, the far negative; divided by 1 peak
    assert float(centre_focal_loss(true, logits, weight)) == pytest.approx(want, rel=1e-5)
    # L1 over the weighted cells and the channels: |1 - 0| and |3 - 0| at one cell of weight 1 -> 4 / 2
    t = np.zeros((1, 2, 2, 2), np.float32)
    t[0, 0, 0] = (1.0, 3.0)
    w = np.zeros((1, 2, 2, 1), np.float32)
    w[0, 0, 0] = 1.0
    assert float(masked_l1(t, np.zeros_like(t), w)) == pytest.approx(2.0)
    assert float(masked_l2(t, np.zeros_like(t), w)) == pytest.approx(5.0)  # (1 + 9) / 2

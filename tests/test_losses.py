import numpy as np
import pytest

from blazepose.losses import compute_losses, coordinate_loss, heatmap_loss, offset_loss, visibility_loss


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

"""Losses, keyed by name; every one gives masked (unannotated) joints zero weight.

`y_true` is the pipeline's target dict (see ``Codec.encode``); `y_pred` the model's output dict.
"""

from __future__ import annotations

from keras import ops

LOSS_NAMES = ("heatmap", "offset", "coordinate", "visibility")


def _safe_div(num, den):
    return num / ops.maximum(den, 1.0)


def heatmap_loss(true, pred, weight):
    """Squared error summed over the pixels of each heatmap, averaged over annotated joints.

    true, pred: (B, H, W, K); weight: (B, K).
    """
    per_joint = ops.sum(ops.square(pred - true), axis=(1, 2))  # (B, K)
    return _safe_div(ops.sum(per_joint * weight), ops.sum(weight))


def heatmap_focal_loss(true, logits, weight, alpha: float = 2.0, beta: float = 4.0):
    """Penalty-reduced focal loss on heatmap logits (CornerNet / CenterNet), per annotated joint.

    The peak pixel (target 1) is the positive; other pixels are negatives down-weighted by (1 - target)^beta
    near the joint. Summed over pixels, averaged over annotated joints. true, logits: (B, H, W, K).
    """
    logits = ops.cast(logits, "float32")
    p = ops.sigmoid(logits)
    log_p, log_not_p = -ops.softplus(-logits), -ops.softplus(logits)
    pos = ops.cast(true >= 1.0 - 1e-4, "float32")
    per_pixel = pos * ops.power(1.0 - p, alpha) * log_p
    per_pixel += (1.0 - pos) * ops.power(1.0 - true, beta) * ops.power(p, alpha) * log_not_p
    per_joint = -ops.sum(per_pixel, axis=(1, 2))  # (B, K)
    return _safe_div(ops.sum(per_joint * weight), ops.sum(weight))


def offset_loss(true, pred, weight):
    """L1 in heatmap pixels over the pixels near each annotated joint. All (B, H, W, 2K)."""
    return _safe_div(ops.sum(ops.abs(pred - true) * weight), ops.sum(weight))


def coordinate_loss(true, pred, mask):
    """L1 on normalized coordinates. true, pred: (B, K, 2); mask: (B, K)."""
    return _safe_div(ops.sum(ops.abs(pred - true) * mask[..., None]), 2.0 * ops.sum(mask))


def visibility_loss(true, pred, mask, probability: bool):
    """Binary cross-entropy on a probability (sigmoid heads) or squared error on a linear output."""
    if probability:
        p = ops.clip(pred, 1e-6, 1.0 - 1e-6)
        per_joint = -(true * ops.log(p) + (1.0 - true) * ops.log(1.0 - p))
    else:
        per_joint = ops.square(pred - true)
    return _safe_div(ops.sum(per_joint * mask), ops.sum(mask))


def split_joints(y_pred: dict):
    """(xy (B, K, 2), visibility (B, K)) for every head type: joints (K, 3) or joints (K, 2) + visibility."""
    joints = y_pred["joints"]
    if "visibility" in y_pred:
        return joints, y_pred["visibility"]
    return joints[..., :2], joints[..., 2]


def compute_losses(
    y_true: dict,
    y_pred: dict,
    linear_visibility: bool = False,
    heatmap_type: str = "mse",
    names: tuple[str, ...] = LOSS_NAMES,
) -> dict:
    """The losses in `names` (default all), unweighted; the caller weights and sums them.

    `linear_visibility`: the head's visibility is a plain linear output (the linear_xyv head), trained with
    squared error as the seed did; otherwise it is a probability, trained with cross-entropy.
    `heatmap_type`: "mse" (heatmap values regress the Gaussians) or "focal" (heatmap values are logits).
    """
    out = {}
    if "heatmap" in names:
        fn = HEATMAP_LOSSES[heatmap_type]
        out["heatmap"] = fn(y_true["heatmap"], ops.cast(y_pred["heatmap"], "float32"), y_true["heatmap_weight"])
    if "offset" in names:
        out["offset"] = offset_loss(y_true["offset"], ops.cast(y_pred["offset"], "float32"), y_true["offset_weight"])
    if "coordinate" in names or "visibility" in names:
        xy, vis = split_joints(y_pred)
        mask = y_true["mask"]
        if "coordinate" in names:
            out["coordinate"] = coordinate_loss(y_true["joints"], ops.cast(xy, "float32"), mask)
        if "visibility" in names:
            vis = ops.cast(vis, "float32")
            out["visibility"] = visibility_loss(y_true["visibility"], vis, mask, not linear_visibility)
    return out


HEATMAP_LOSSES = {"mse": heatmap_loss, "focal": heatmap_focal_loss}

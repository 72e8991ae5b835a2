"""Losses, keyed by name; every one gives masked (unannotated) joints zero weight.

`y_true` is the pipeline's target dict (see ``Codec.encode``); `y_pred` the model's output dict.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from keras import ops

LOSS_NAMES = ("heatmap", "offset", "coordinate", "visibility")


def _safe_div(num, den):
    return num / ops.maximum(den, 1.0)


def _batch_mean(num, den):
    """A weighted mean over the batch, `num` / `den` (den at least 1). With several replicas (tf.distribute)
    `den` is the whole global batch's (summed over the replicas) and the result is scaled by the replica count,
    which the trainers divide back out: the replicas' losses then add up to the loss one process computes on
    the global batch, and so do their gradients."""
    ctx = tf.distribute.get_replica_context()
    replicas = 1 if ctx is None else ctx.num_replicas_in_sync
    if replicas > 1:
        return num * float(replicas) / ops.maximum(ctx.all_reduce("sum", den), 1.0)
    return num / ops.maximum(den, 1.0)


def heatmap_mse_per_joint(true, pred):
    """Squared error summed over the pixels of each heatmap. true, pred: (B, H, W, K) -> (B, K)."""
    return ops.sum(ops.square(pred - true), axis=(1, 2))


def focal_per_pixel(true, logits, alpha: float = 2.0, beta: float = 4.0):
    """Penalty-reduced focal loss (CornerNet / CenterNet) of each pixel of heatmap logits, and the positives.

    A pixel of target 1 is a positive; other pixels are negatives down-weighted by (1 - target)^beta near it.
    Returns (loss (B, H, W, K) >= 0, positives (B, H, W, K) 0/1)."""
    logits = ops.cast(logits, "float32")
    p = ops.sigmoid(logits)
    log_p, log_not_p = -ops.softplus(-logits), -ops.softplus(logits)
    pos = ops.cast(true >= 1.0 - 1e-4, "float32")
    per_pixel = pos * ops.power(1.0 - p, alpha) * log_p
    per_pixel += (1.0 - pos) * ops.power(1.0 - true, beta) * ops.power(p, alpha) * log_not_p
    return -per_pixel, pos


def heatmap_focal_per_joint(true, logits, alpha: float = 2.0, beta: float = 4.0):
    """`focal_per_pixel` summed over each heatmap's pixels. true, logits: (B, H, W, K) -> (B, K)."""
    return ops.sum(focal_per_pixel(true, logits, alpha, beta)[0], axis=(1, 2))


def heatmap_loss(true, pred, weight):
    """Squared error summed over the pixels of each heatmap, averaged over annotated joints. weight: (B, K)."""
    return _batch_mean(ops.sum(heatmap_mse_per_joint(true, pred) * weight), ops.sum(weight))


def heatmap_focal_loss(true, logits, weight, alpha: float = 2.0, beta: float = 4.0):
    """`heatmap_focal_per_joint`, averaged over annotated joints. weight: (B, K)."""
    return _batch_mean(ops.sum(heatmap_focal_per_joint(true, logits, alpha, beta) * weight), ops.sum(weight))


def offset_loss(true, pred, weight):
    """L1 in heatmap pixels over the pixels near each annotated joint. All (B, H, W, 2K)."""
    return _batch_mean(ops.sum(ops.abs(pred - true) * weight), ops.sum(weight))


def coordinate_loss(true, pred, mask):
    """L1 on normalized coordinates. true, pred: (B, K, 2); mask: (B, K)."""
    return _batch_mean(ops.sum(ops.abs(pred - true) * mask[..., None]), 2.0 * ops.sum(mask))


def visibility_loss(true, pred, mask, probability: bool):
    """Binary cross-entropy on a probability (sigmoid heads) or squared error on a linear output."""
    if probability:
        p = ops.clip(pred, 1e-6, 1.0 - 1e-6)
        per_joint = -(true * ops.log(p) + (1.0 - true) * ops.log(1.0 - p))
    else:
        per_joint = ops.square(pred - true)
    return _batch_mean(ops.sum(per_joint * mask), ops.sum(mask))


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
    if "presence" in names:
        p = ops.clip(ops.cast(ops.reshape(y_pred["presence"], (-1,)), "float32"), 1e-6, 1.0 - 1e-6)
        t = ops.reshape(y_true["presence"], (-1,))
        out["presence"] = -ops.mean(t * ops.log(p) + (1.0 - t) * ops.log(1.0 - p))
    if "coordinate" in names or "visibility" in names:
        xy, vis = split_joints(y_pred)
        mask = y_true["mask"]
        if "coordinate" in names:
            out["coordinate"] = coordinate_loss(y_true["joints"], ops.cast(xy, "float32"), mask)
        if "visibility" in names:
            vis = ops.cast(vis, "float32")
            out["visibility"] = visibility_loss(y_true["visibility"], vis, mask, not linear_visibility)
    return out


def joint_distill_loss(student, teacher, presence, labelled=None):
    """Mean L1 between a student's and a teacher's joints (B, K, 2), over the samples whose `presence` (B,) is 1;
    with `labelled` (B, K), only over the joints it marks 0 (those the label lacks). 0 when nothing counts."""
    gap = ops.abs(ops.cast(student, "float32") - ops.cast(teacher, "float32"))
    weight = ops.reshape(ops.cast(presence, "float32"), (-1, 1))
    if labelled is not None:
        weight = weight * (1.0 - ops.cast(labelled, "float32"))
    weight = ops.broadcast_to(weight, ops.shape(gap)[:2])[..., None]
    return _batch_mean(ops.sum(gap * weight), ops.sum(weight) * ops.cast(ops.shape(gap)[-1], "float32"))


def distill_loss(student, teacher, logits: bool):
    """Squared error between two models' heatmaps (B, H, W, K), summed over pixels, averaged over joints.

    `logits`: both are logits (the focal loss's outputs) and are compared as probabilities."""
    if logits:
        student, teacher = ops.sigmoid(student), ops.sigmoid(teacher)
    return ops.mean(ops.sum(ops.square(student - teacher), axis=(1, 2)))


HEATMAP_LOSSES = {"mse": heatmap_loss, "focal": heatmap_focal_loss}
HEATMAP_PER_JOINT = {"mse": heatmap_mse_per_joint, "focal": heatmap_focal_per_joint}


def swap_sides(y_true: dict, flip_index) -> dict:
    """The targets with the person's left and right joints exchanged (no mirroring of the image)."""
    index = np.asarray(flip_index)
    pairs = np.stack([2 * index, 2 * index + 1], axis=-1).reshape(-1)  # offset channels (2k, 2k + 1)
    by_joint = {"heatmap": index, "heatmap_weight": index, "visibility": index, "mask": index}
    out = dict(y_true)
    for key, perm in (*by_joint.items(), ("offset", pairs), ("offset_weight", pairs)):
        if key in y_true:
            out[key] = ops.take(y_true[key], perm, axis=-1)
    if "joints" in y_true:
        out["joints"] = ops.take(y_true["joints"], index, axis=-2)
    return out


def choose_sides(y_true: dict, y_pred: dict, flip_index, heatmap_type: str = "focal"):
    """For samples whose left/right labels may be either way round (``y_true["either_side"]`` = 1, e.g.
    LSPet's observer-centric annotations), the targets as labelled or with left and right exchanged,
    whichever the current prediction fits better: by the heatmap loss where the model gives heatmaps, else by
    the coordinate loss. Other samples keep their labels. Returns (targets, (B,) 1 where exchanged)."""
    swapped = swap_sides(y_true, flip_index)
    if "heatmap" in y_pred:
        fn = HEATMAP_PER_JOINT[heatmap_type]
        pred = ops.cast(y_pred["heatmap"], "float32")
        w_a, w_b = y_true["heatmap_weight"], swapped["heatmap_weight"]
        loss_a = _safe_div(ops.sum(fn(y_true["heatmap"], pred) * w_a, axis=-1), ops.sum(w_a, axis=-1))
        loss_b = _safe_div(ops.sum(fn(swapped["heatmap"], pred) * w_b, axis=-1), ops.sum(w_b, axis=-1))
    else:
        xy = ops.cast(split_joints(y_pred)[0], "float32")
        m_a, m_b = y_true["mask"], swapped["mask"]
        loss_a = _safe_div(ops.sum(ops.abs(xy - y_true["joints"]) * m_a[..., None], axis=(1, 2)), ops.sum(m_a, -1))
        loss_b = _safe_div(ops.sum(ops.abs(xy - swapped["joints"]) * m_b[..., None], axis=(1, 2)), ops.sum(m_b, -1))
    take = ops.logical_and(y_true["either_side"] > 0.5, loss_b < loss_a)
    out = {}
    for key, value in y_true.items():
        if key in swapped and key != "either_side":
            cond = ops.reshape(take, (-1,) + (1,) * (len(value.shape) - 1))
            out[key] = ops.where(cond, swapped[key], value)
        else:
            out[key] = value
    return out, ops.cast(take, "float32")


# --- the person detector ------------------------------------------------------------------------------------
DETECTION_LOSS_NAMES = ("centre", "offset", "size", "rotation", "box")


def centre_focal_loss(true, logits, weight, alpha: float = 2.0, beta: float = 4.0):
    """`focal_per_pixel` on the detector's centre logits (B, H, W, 1), pixels of zero `weight` (unlabelled
    people) left out, summed and divided by the number of people (peaks) in the batch."""
    per_pixel, pos = focal_per_pixel(true, logits, alpha, beta)
    return _batch_mean(ops.sum(per_pixel * weight), ops.sum(pos))


def masked_l1(true, pred, weight):
    """L1 over the cells of non-zero `weight` (B, H, W, 1), averaged over those cells and the channels."""
    pred = ops.cast(pred, "float32")
    return _batch_mean(ops.sum(ops.abs(pred - true) * weight), ops.sum(weight) * true.shape[-1])


def masked_l2(true, pred, weight):
    """Squared error over the cells of non-zero `weight` (B, H, W, 1), averaged over those cells and channels."""
    pred = ops.cast(pred, "float32")
    return _batch_mean(ops.sum(ops.square(pred - true) * weight), ops.sum(weight) * true.shape[-1])


def detection_losses(y_true: dict, y_pred: dict, rotation_loss: str = "l1") -> dict:
    """Every detector loss, unweighted (see ``DetectionCodec.encode`` for the targets). `rotation_loss`: "l1"
    or "l2" on the rotation's (sin, cos)."""
    reg = y_true["reg_weight"]
    rotation = {"l1": masked_l1, "l2": masked_l2}[rotation_loss]
    return {
        "centre": centre_focal_loss(y_true["centre"], y_pred["centre"], y_true["centre_weight"]),
        "offset": masked_l1(y_true["offset"], y_pred["offset"], reg),
        "size": masked_l1(y_true["size"], y_pred["size"], reg),
        "rotation": rotation(y_true["rotation"], y_pred["rotation"], y_true["rot_weight"]),
        "box": masked_l1(y_true["box"], y_pred["box"], reg),
    }

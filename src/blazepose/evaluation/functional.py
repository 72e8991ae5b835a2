"""Pose metrics as pure functions on arrays (never modifying their inputs).

Shapes: pred, gt (N, K, 2) in original image pixels; mask (N, K), 1 where the ground truth is annotated.
A prediction that is NaN (no person found, joint not predicted) counts as a miss, not as excluded.
Joints whose ground truth is masked, or whose image has no usable normaliser (torso/head size 0 or unknown),
are excluded from the score and counted in ``excluded``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from blazepose.keypoints import LSP, Skeleton


@dataclass(frozen=True)
class PCKResult:
    alpha: float
    per_joint: np.ndarray  # (K,) fraction correct per joint (NaN where a joint has no valid instance)
    per_part: dict[str, float]  # part -> mean of its joints' PCK (left and right averaged)
    mean: float  # correct / valid over all joint instances
    valid: int  # joint instances scored
    excluded: int  # joint instances left out (masked ground truth or no normaliser)

    def as_dict(self, skeleton: Skeleton = LSP) -> dict:
        return {
            "alpha": self.alpha,
            "mean": self.mean,
            "per_joint": dict(zip(skeleton.joint_names, map(float, self.per_joint), strict=True)),
            "per_part": self.per_part,
            "valid": self.valid,
            "excluded": self.excluded,
        }


def _distances(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    d = np.linalg.norm(np.asarray(pred, np.float64) - np.asarray(gt, np.float64), axis=-1)
    return np.where(np.isnan(d), np.inf, d)


def _scored(mask: np.ndarray, norm: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """(N, K) which joints are scored (annotated, on an image with a usable normaliser), (N, 1) thresholds."""
    norm = np.asarray(norm, np.float64)
    usable = np.isfinite(norm) & (norm > 0)
    return (np.asarray(mask) > 0) & usable[:, None], alpha * np.where(usable, norm, 0.0)[:, None]


def _hits(pred, gt, mask, norm, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """(N, K) which joints are correct (within alpha x norm; on the boundary counts) and which are scored."""
    valid, threshold = _scored(mask, norm, alpha)
    return (_distances(pred, gt) <= threshold) & valid, valid


def segment_length(gt: np.ndarray, mask: np.ndarray, a: int, b: int) -> np.ndarray:
    """(N,) distance between joints a and b of the ground truth; NaN where either is masked."""
    gt = np.asarray(gt, np.float64)
    length = np.linalg.norm(gt[:, a] - gt[:, b], axis=-1)
    known = (np.asarray(mask)[:, a] > 0) & (np.asarray(mask)[:, b] > 0)
    return np.where(known, length, np.nan)


def torso_size(gt: np.ndarray, mask: np.ndarray, skeleton: Skeleton = LSP) -> np.ndarray:
    """(N,) the skeleton's PCK normaliser: the distance between its normaliser pair (LSP, COCO, BlazePose-33:
    left shoulder to right hip, the standard LSP rule), or, for a skeleton without one, the diagonal of the
    annotated keypoints' box (NaN with fewer than two annotated joints)."""
    if skeleton.torso is not None:
        return segment_length(gt, mask, *skeleton.torso)
    return box_diagonal(gt, mask)


def box_diagonal(gt: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(N,) diagonal of the box around each image's annotated ground-truth joints; NaN with fewer than two."""
    gt, known = np.asarray(gt, np.float64), np.asarray(mask) > 0
    lo = np.where(known[..., None], gt, np.inf).min(axis=1)
    hi = np.where(known[..., None], gt, -np.inf).max(axis=1)
    with np.errstate(invalid="ignore"):
        diagonal = np.linalg.norm(hi - lo, axis=-1)
    return np.where(known.sum(axis=1) >= 2, diagonal, np.nan)


def head_size(gt: np.ndarray, mask: np.ndarray, skeleton: Skeleton = LSP) -> np.ndarray:
    """(N,) neck to head top: the PCKh normaliser for the LSP skeleton."""
    return segment_length(gt, mask, skeleton.index("neck"), skeleton.index("head_top"))


def pck(
    pred: np.ndarray,
    gt: np.ndarray,
    mask: np.ndarray,
    norm: np.ndarray,
    alpha: float,
    skeleton: Skeleton = LSP,
) -> PCKResult:
    """Fraction of joints within alpha x norm (per image) of the ground truth; distance <= threshold counts."""
    correct, valid = _hits(pred, gt, mask, norm, alpha)
    n_valid = valid.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_joint = np.where(n_valid > 0, correct.sum(axis=0) / np.maximum(n_valid, 1), np.nan)
    per_part = {}
    for part, joints in skeleton.parts:
        values = per_joint[list(joints)]
        per_part[part] = float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
    total = int(valid.sum())
    return PCKResult(
        alpha=float(alpha),
        per_joint=per_joint,
        per_part=per_part,
        mean=float(correct.sum() / total) if total else float("nan"),
        valid=total,
        excluded=int(valid.size - total),
    )


def left_right_swaps(
    pred: np.ndarray,
    gt: np.ndarray,
    mask: np.ndarray,
    norm: np.ndarray,
    alpha: float,
    skeleton: Skeleton = LSP,
) -> dict:
    """How many misses are left/right confusions: a joint that misses its own ground truth (distance above
    alpha x norm) but lies within it of its mirror joint's ground truth (the person's other side), where both
    are annotated. Joints without a mirror (neck, head top) cannot be swaps. Returns the count, its fraction
    of the scored joints and of the misses, and the images where at least half of the scorable joints with a
    mirror are swaps (the whole body read the wrong way round)."""
    index = skeleton.flip_index
    valid, threshold = _scored(mask, norm, alpha)
    miss = valid & ~(_distances(pred, gt) <= threshold)
    paired = valid & (np.asarray(mask)[:, index] > 0) & (index != np.arange(len(index)))
    swapped = miss & paired & (_distances(pred, np.asarray(gt)[:, index]) <= threshold)
    n_paired = paired.sum(axis=1)
    whole = (n_paired > 0) & (swapped.sum(axis=1) * 2 >= n_paired)
    n_valid, n_miss, n_swapped = int(valid.sum()), int(miss.sum()), int(swapped.sum())
    return {
        "alpha": float(alpha),
        "swapped": n_swapped,
        "of_joints": n_swapped / n_valid if n_valid else float("nan"),
        "of_misses": n_swapped / n_miss if n_miss else float("nan"),
        "whole_body_images": int(whole.sum()),
    }


def pck_per_image(
    pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, norm: np.ndarray, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """(N,) joints correct and (N,) joints scored on each image, as `pck` counts them."""
    correct, valid = _hits(pred, gt, mask, norm, alpha)
    return correct.sum(axis=1), valid.sum(axis=1)


def paired_bootstrap(
    correct_a: np.ndarray,
    correct_b: np.ndarray,
    scored: np.ndarray,
    resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Mean PCK of a minus that of b on the same images, and its `level` percentile interval over images drawn
    with replacement (both models scored on the same draw, so what the images share cancels out).

    correct_a, correct_b, scored: (N,) per-image counts (`pck_per_image`). Returns (difference, low, high)."""
    correct_a, correct_b = np.asarray(correct_a, np.float64), np.asarray(correct_b, np.float64)
    scored = np.asarray(scored, np.float64)
    if not (correct_a.shape == correct_b.shape == scored.shape) or scored.ndim != 1 or scored.sum() <= 0:
        raise ValueError("paired_bootstrap needs per-image counts of the same images, with joints scored")
    draws = np.random.default_rng(seed).integers(0, len(scored), size=(resamples, len(scored)))
    total = np.maximum(scored[draws].sum(axis=1), 1.0)
    diffs = (correct_a[draws].sum(axis=1) - correct_b[draws].sum(axis=1)) / total
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(diffs, [tail, 100 - tail])
    return float((correct_a.sum() - correct_b.sum()) / scored.sum()), float(low), float(high)


def pck_curve(
    pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, norm: np.ndarray, thresholds: np.ndarray
) -> tuple[np.ndarray, float]:
    """Mean PCK at each threshold, and the area under that curve normalised by the threshold range (0..1)."""
    thresholds = np.asarray(thresholds, np.float64)
    valid, scale = _scored(mask, norm, 1.0)  # scale: the norm where usable, else 0
    if not valid.any():
        return np.full(len(thresholds), np.nan), float("nan")
    rel = (_distances(pred, gt) / np.where(scale > 0, scale, 1.0))[valid]
    curve = np.array([(rel <= t).mean() for t in thresholds])
    span = thresholds[-1] - thresholds[0]
    # the trapezoid rule by hand: np.trapezoid is NumPy 2's name, np.trapz NumPy 1's (the runtime takes both)
    area = float(np.sum((curve[1:] + curve[:-1]) / 2 * np.diff(thresholds)))
    auc = area / span if span > 0 else float(curve[0])
    return curve, auc


def mean_pixel_error(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> float:
    """Mean Euclidean distance over annotated joints that have a prediction (NaN predictions skipped)."""
    dist = _distances(pred, gt)
    ok = (np.asarray(mask) > 0) & np.isfinite(dist)
    return float(dist[ok].mean()) if ok.any() else float("nan")


def legacy_seed_metric(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, skeleton: Skeleton = LSP) -> float:
    """The seed's own rule, kept for comparison only and never to be called PCK@0.2.

    A joint is correct when its squared distance is at most 0.5 x the squared neck-to-head-top distance,
    i.e. distance <= 0.707 x head segment; the seed computed it on a 256x256 stretched image, so callers
    pass coordinates in that frame to reproduce its figures.
    """
    dist = _distances(pred, gt)
    head = head_size(gt, mask, skeleton)
    usable = np.isfinite(head) & (head > 0)
    valid = (np.asarray(mask) > 0) & usable[:, None]
    if not valid.any():
        return float("nan")
    correct = (dist**2 <= 0.5 * np.where(usable, head, 0.0)[:, None] ** 2) & valid
    return float(correct.sum() / valid.sum())

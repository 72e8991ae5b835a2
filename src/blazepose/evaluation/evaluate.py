"""``blazepose evaluate``: the predict path over a split, scored with the functional metrics.

Headline: PCK@0.2 (torso = left shoulder to right hip, original pixels; a skeleton's own normaliser pair, or
the keypoints' box diagonal for one without) on the whole image as a user gives it. A model of another skeleton
than the data's is scored through the built-in mapping (``keypoints.MAPPINGS``) on the joints it gives.
``crop="gt"`` crops from the ground-truth keypoints instead: a diagnostic, always labelled as using the
ground truth, never the headline.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from blazepose.data.sample import Sample
from blazepose.errors import BlazePoseError, read_json
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
from blazepose.geometry import person_box
from blazepose.keypoints import LSP, Skeleton, check_mappable, map_keypoints
from blazepose.outputs import atomic_write

THRESHOLDS = np.linspace(0.0, 0.2, 21)


def _stretch(points: np.ndarray, sizes: np.ndarray, side: float = 256.0) -> np.ndarray:
    """Original pixels -> the seed's anisotropically stretched side x side frame (legacy metric only)."""
    return points * (side / sizes[:, None, :])


def pose_groups(gt: np.ndarray, mask: np.ndarray, skeleton: Skeleton = LSP) -> dict[str, np.ndarray]:
    """(N,) masks of the images whose ground truth is "upside down" (head top below mid-hips) or "lying" (the
    mid-hips -> mid-shoulders line within 30 degrees of horizontal), by the alignment of the labels; only the
    groups the skeleton's joints can tell."""
    from blazepose.alignment import alignment_from_keypoints

    if not skeleton.has("left_hip", "right_hip", "left_shoulder", "right_shoulder"):
        return {}
    lying = np.zeros(len(gt), bool)
    for i in range(len(gt)):
        a = alignment_from_keypoints(gt[i], mask[i], skeleton)
        lying[i] = a is not None and 60.0 <= abs(a.rotation) <= 120.0
    if not skeleton.has("head_top"):
        return {"lying": lying}
    head, hips = skeleton.index("head_top"), [skeleton.index("left_hip"), skeleton.index("right_hip")]
    upside = (gt[:, head, 1] > gt[:, hips, 1].mean(axis=1)) & (mask[:, head] > 0) & (mask[:, hips].min(axis=1) > 0)
    return {"upside_down": upside, "lying": lying}


def score(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, sizes: np.ndarray, skeleton: Skeleton = LSP) -> dict:
    """Every metric of the report, from (N, K, 2) predictions and ground truth in original pixels. PCKh and
    the seed's legacy metric need a neck and a head top (LSP's joints); other skeletons report neither."""
    torso = torso_size(gt, mask, skeleton)
    p = pck(pred, gt, mask, torso, 0.2, skeleton)
    curve, auc = pck_curve(pred, gt, mask, torso, THRESHOLDS)
    part_curves = {}
    for part, joints in skeleton.parts:
        sel = np.zeros_like(mask)
        sel[:, list(joints)] = mask[:, list(joints)]
        part_curves[part] = pck_curve(pred, gt, sel, torso, THRESHOLDS)[0].tolist()
    correct, scored = pck_per_image(pred, gt, mask, torso, 0.2)
    groups = {}
    for name, members in pose_groups(gt, mask, skeleton).items():
        n = int(scored[members].sum())
        groups[name] = {"images": int(members.sum()), "pck@0.2": float(correct[members].sum() / n) if n else None}
    out = {
        # the hard poses of the whole-image first pass: upside down and lying people
        "pose_groups": groups,
        "pck@0.2": p.as_dict(skeleton),
        # per image, for paired comparisons of two reports (`compare`)
        "pck@0.2_per_image": {"correct": correct.tolist(), "scored": scored.tolist()},
        "auc@0.2": auc,
        "curve": {"thresholds": THRESHOLDS.tolist(), "mean": curve.tolist(), "per_part": part_curves},
        "mean_pixel_error": mean_pixel_error(pred, gt, mask),
        "left_right_swaps@0.2": left_right_swaps(pred, gt, mask, torso, 0.2, skeleton),
        "normalizer": "keypoints' box diagonal"
        if skeleton.torso is None
        else "-".join(skeleton.joint_names[j] for j in skeleton.torso),
    }
    if skeleton.has("neck", "head_top"):
        out["pckh@0.5"] = pck(pred, gt, mask, head_size(gt, mask, skeleton), 0.5, skeleton).as_dict(skeleton)
        legacy = legacy_seed_metric(_stretch(pred, sizes), _stretch(gt, sizes), mask, skeleton)
        out["legacy_seed_metric"] = legacy
    return out


def evaluate(
    predictor, samples: list[Sample], crop: str = "none", progress: bool = True, skeleton: Skeleton = LSP
) -> dict:
    """The predictor over `samples` (ground truth in `skeleton`'s joints), scored; the predictor's own skeleton
    is mapped onto the data's where they differ (refused where no built-in mapping exists)."""
    model_skeleton = getattr(predictor, "skeleton", skeleton)
    check_mappable(model_skeleton, skeleton, f"the model ({model_skeleton.name})")
    if crop not in ("none", "gt"):
        raise BlazePoseError(f"--crop must be none or gt, got {crop!r}")
    if not samples:
        raise BlazePoseError("no samples to evaluate")
    rois = None
    if crop == "gt":
        rois = [person_box(s.keypoints, s.mask, predictor.margin) for s in samples]
    start = time.perf_counter()
    results = list(predictor.predict_files([s.image_path for s in samples], progress=progress, rois=rois))
    seconds = time.perf_counter() - start
    k = model_skeleton.num_joints
    pred = np.full((len(samples), k, 2), np.nan)  # the model's joints; mapped onto the data's below
    sizes = np.ones((len(samples), 2))
    failed, nobody, from_whole = [], 0, 0
    for i, (_, r) in enumerate(results):
        if isinstance(r, str):
            failed.append(r)  # unreadable image: scored as misses
            continue
        if not r.people:
            nobody += 1  # no person found: scored as misses
            continue
        from_whole += predictor.detector is not None and r.people[0].detection_score is None
        pred[i] = r.keypoints
        sizes[i] = (r.width, r.height)
    known = np.isfinite(pred).all(axis=-1).astype(np.float32)  # a joint the data has and the model lacks: a miss
    mapped, _, given = map_keypoints(np.nan_to_num(pred), known, known, model_skeleton, skeleton)
    pred = np.where(given[..., None] > 0, mapped, np.nan)
    gt = np.stack([s.keypoints for s in samples]).astype(np.float64)
    mask = np.stack([s.mask for s in samples])
    report = score(pred, gt, mask, sizes, skeleton)
    report.update(
        {
            "images": len(samples),
            "unreadable_images": failed,
            "crop": "ground-truth crop (uses ground truth; diagnostic only)" if crop == "gt" else "whole image",
            "passes": predictor.passes,
            "detector": predictor.detector is not None,
            "no_person_found": nobody,
            # images whose best person came from the whole-image pass rather than from a detection
            "whole_image_people": int(from_whole),
            "flip": predictor.flip,
            "images_per_second": len(samples) / seconds,
            "joint_names": list(skeleton.joint_names),
            "model_skeleton": model_skeleton.name,
            "image_names": [Path(s.image_path).name for s in samples],
            "predictions": pred.tolist(),
        }
    )
    return report


def format_table(report: dict, title: str = "") -> str:
    p = report["pck@0.2"]
    lines = [f"## {title}" if title else "## Evaluation", ""]
    flip = ", with flip (fused per joint)" if report.get("flip") else ""
    first = ", detector first" if report.get("detector") else ""
    lines.append(f"{report['images']} images, {report['crop']}{first}, {report['passes']} pass(es){flip}")
    if report.get("detector"):
        lines.append(
            f"no person found: {report.get('no_person_found', 0)} images; best person from the whole-image pass: "
            f"{report.get('whole_image_people', 0)}"
        )
    lines.append("")

    def row(cells) -> str:  # one markdown table row, whatever the number of parts (a skeleton may have none)
        return "| " + " | ".join(cells) + " |"

    lines.append(row(["Part", *p["per_part"], "Mean"]))
    lines.append(row(["---"] * (len(p["per_part"]) + 2)))
    lines.append(row(["PCK@0.2", *(f"{100 * v:.1f}" for v in p["per_part"].values()), f"**{100 * p['mean']:.1f}**"]))
    ph = report.get("pckh@0.5")
    if ph:
        lines.append(row(["PCKh@0.5", *(f"{100 * v:.1f}" for v in ph["per_part"].values()), f"{100 * ph['mean']:.1f}"]))
    lines.append("")
    lines.append(f"- PCK@0.2 mean: {100 * p['mean']:.1f} % ({p['valid']} joints scored, {p['excluded']} excluded)")
    if report.get("normalizer", "left_shoulder-right_hip") != "left_shoulder-right_hip":
        lines.append(f"- PCK normaliser: {report['normalizer']}")
    if ph:
        lines.append(f"- PCKh@0.5 mean: {100 * ph['mean']:.1f} %")
    lines.append(f"- AUC of PCK over thresholds 0..0.2: {100 * report['auc@0.2']:.1f} %")
    lines.append(f"- mean pixel error: {report['mean_pixel_error']:.1f} px (original image pixels)")
    swaps = report.get("left_right_swaps@0.2")
    if swaps:  # reports written before this figure existed have none
        lines.append(
            f"- left/right confusions (a miss within 0.2 x torso of the other side's joint): {swaps['swapped']} "
            f"joints, {100 * swaps['of_joints']:.1f} % of those scored, {100 * swaps['of_misses']:.1f} % of the "
            f"misses; whole body read the wrong way round (half or more of its left/right joints swapped) on "
            f"{swaps['whole_body_images']} images"
        )
    if report.get("legacy_seed_metric") is not None:
        lines.append(
            f"- legacy seed metric (NOT PCK@0.2: squared distance <= 0.5 x squared neck-head distance, on a "
            f"stretched 256x256 image): {100 * report['legacy_seed_metric']:.1f} %"
        )
    if report["unreadable_images"]:
        lines.append(f"- unreadable images (scored as misses): {len(report['unreadable_images'])}")
    lines.append(f"- throughput: {report['images_per_second']:.1f} images/s end to end (decode, all passes)")
    for name, g in report.get("pose_groups", {}).items():
        if g["pck@0.2"] is not None:
            lines.append(f"- {name.replace('_', ' ')} ({g['images']} images): PCK@0.2 {100 * g['pck@0.2']:.1f} %")
    lines.append("")
    lines.append("| Joint | PCK@0.2 |")
    lines.append("|---|---|")
    lines += [f"| {name} | {100 * v:.1f} |" for name, v in p["per_joint"].items()]
    return "\n".join(lines)


def plot_curve(report: dict, path: str | Path) -> Path | None:
    """The PCK curve per part as a PNG; None where matplotlib is not installed (the runtime install)."""
    try:
        import matplotlib
    except ImportError:
        return None

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = report["curve"]
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for part, values in c["per_part"].items():
        ax.plot(c["thresholds"], [100 * v for v in values], label=part)
    ax.plot(c["thresholds"], [100 * v for v in c["mean"]], "k--", lw=2, label="Mean")
    ax.set(
        xlabel="threshold (fraction of torso size)",
        ylabel="PCK (%)",
        ylim=(0, 100),
        title=f"PCK curve ({report['crop']})",
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=100))
    plt.close(fig)
    return Path(path)


def _jsonable(value):
    """NaN -> null, so report.json is strict JSON."""
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def write_report(report: dict, out_dir: str | Path, title: str = "") -> list[Path]:
    """report.json, report.md and (with matplotlib) pck_curve.png in `out_dir`; returns the files written."""
    out = Path(out_dir)
    text = json.dumps(_jsonable(report), indent=1, allow_nan=False)
    atomic_write(out / "report.json", lambda f: f.write(text.encode()))
    atomic_write(out / "report.md", lambda f: f.write((format_table(report, title) + "\n").encode()))
    curve = plot_curve(report, out / "pck_curve.png")
    return [out / "report.json", out / "report.md"] + ([curve] if curve else [])


def load_report(path: str | Path) -> dict:
    report = read_json(path, "a report.json written by 'blazepose evaluate'")
    if not isinstance(report, dict) or "pck@0.2" not in report:
        raise BlazePoseError(f"{path} is not a report.json written by 'blazepose evaluate'")
    return report


def compare(a: dict, b: dict, name_a: str = "this", name_b: str = "other") -> str:
    """Two reports side by side: per part and mean PCK@0.2, with the difference (a - b) and, where both hold
    per-image results of the same images, a 95 % paired bootstrap interval of the mean difference."""
    pa, pb = a["pck@0.2"], b["pck@0.2"]
    lines = [f"| PCK@0.2 | {name_a} | {name_b} | difference |", "|---|---|---|---|"]
    rows = [(part, pa["per_part"][part], pb["per_part"].get(part, float("nan"))) for part in pa["per_part"]]
    rows.append(("Mean", pa["mean"], pb["mean"]))
    for name, x, y in rows:
        lines.append(f"| {name} | {100 * x:.1f} | {100 * y:.1f} | {100 * (x - y):+.1f} |")
    interval = compare_interval(a, b)
    if interval is None:
        lines.append("\nno 95 % interval: the reports do not hold per-image results of the same images")
    else:
        diff, low, high = interval
        clear = low > 0 or high < 0
        verdict = "the interval excludes 0" if clear else "the interval includes 0: not a clear difference"
        lines.append(
            f"\nmean difference {100 * diff:+.1f} points, 95 % interval {100 * low:+.1f} to {100 * high:+.1f} "
            f"(paired bootstrap over the {len(a['image_names'])} images, 2000 resamples); {verdict}"
        )
    return "\n".join(lines)


def compare_interval(a: dict, b: dict) -> tuple[float, float, float] | None:
    """`paired_bootstrap` of two reports' mean PCK@0.2, or None when they do not hold per-image results of the
    same images in the same order (other splits, --limit, reports from before these were written)."""
    if "pck@0.2_per_image" not in a or "pck@0.2_per_image" not in b:
        return None
    if a.get("image_names") is None or a.get("image_names") != b.get("image_names"):
        return None
    ia, ib = a["pck@0.2_per_image"], b["pck@0.2_per_image"]
    if ia["scored"] != ib["scored"]:
        return None
    return paired_bootstrap(ia["correct"], ib["correct"], ia["scored"])

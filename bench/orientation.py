"""Does the landmark model's orientation output read which way up a person is, and does turning the re-crop
by it help? On LSP's validation part (or, for a final report, the test half), whole images as a user gives
them.

    python bench/orientation.py [--weights full] [--split val] [--detector none detector]
                                [--confidence 0.3 0.5 0.7] [--min-turn 45 60 90]

Part 1, the output alone: each image turned clockwise by 0, 90, 180 and 270 degrees, the first (whole-image)
crop's orientation against the labels' rotation (mid-hips -> mid-shoulders), by the label's absolute rotation
(0-30 upright, 30-120 lying, 120-180 upside down): median error (degrees, the short way round), the share
within 30 degrees, the share the output is sure of (length >= the default confidence) and the share sure
but wrong (beyond 60 degrees).

Part 2, the pipeline: PCK@0.2 of the best-ranked person, with the re-crop turned by the orientation output
(where it is sure, by at least the minimum turn) or not, on the images as they are (all, upside down, lying)
and turned by 90 and 180 degrees (a handstand must come back the right way up). Choose on --split val; the
test half is for final reports only.
"""

from __future__ import annotations

import argparse
import itertools
import os

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
GROUPS = ((0, 30, "upright"), (30, 120, "lying"), (120, 181, "upside down"))
TURNS = (0, 90, 180, 270)


def turned(image: np.ndarray, kps: np.ndarray, turn: int) -> tuple[np.ndarray, np.ndarray]:
    """The image and its keypoints turned clockwise by `turn` degrees (a multiple of 90), exactly."""
    kps = np.asarray(kps, np.float64)
    for _ in range(turn // 90):
        h = image.shape[0]
        image = np.ascontiguousarray(np.rot90(image, -1))
        kps = np.stack([h - 1 - kps[:, 1], kps[:, 0]], axis=1)
    return image, kps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default="full", help="a landmark model with an orientation output")
    parser.add_argument("--split", default="val", choices=["val", "test"])
    parser.add_argument("--detector", nargs="+", default=["none"], help="none, detector (packaged) or files")
    parser.add_argument("--confidence", type=float, nargs="+", default=[None], help="orientation confidence(s)")
    parser.add_argument("--min-turn", type=float, nargs="+", default=[None], help="minimum turn(s), degrees")
    parser.add_argument("--limit", type=int, default=0, help="only the first N images (a quick look)")
    args = parser.parse_args()

    from blazepose.alignment import alignment_from_keypoints, angle_gap
    from blazepose.artifacts import load_runner, resolve_weights
    from blazepose.config import load_config
    from blazepose.data.datasets import load_split
    from blazepose.data.images import load_image
    from blazepose.data.transforms import crop_matrix, whole_image_box
    from blazepose.defaults import MIN_TURN, ORIENTATION_CONFIDENCE
    from blazepose.evaluation.evaluate import pose_groups, score
    from blazepose.inference import Predictor
    from blazepose.keypoints import LSP

    samples = load_split(load_config().data, args.split)
    samples = samples[: args.limit] if args.limit else samples
    weights = resolve_weights(args.weights)
    runner = load_runner(weights)
    base = Predictor(weights, runner=runner, passes=1, detector=None)
    if base.runner(np.zeros((1, base.size, base.size, 3), np.float32)).orientation is None:
        raise SystemExit(f"error: {weights} has no orientation output")
    originals = [load_image(s.image_path)[0] for s in samples]
    sets = {t: [turned(img, s.keypoints, t) for img, s in zip(originals, samples, strict=True)] for t in TURNS}
    mask = np.stack([s.mask for s in samples])

    print(f"{args.weights} on LSP {args.split} ({len(samples)} images), {os.cpu_count()} CPUs")
    print("\nThe orientation output on the whole image (first crop), by the label's rotation:\n")
    print("| label | crops | median error (deg) | within 30 deg | sure | sure and wrong (> 60 deg) |")
    print("|---|---|---|---|---|---|")
    errors, truths, sure = [], [], []
    for t in TURNS:
        images = [img for img, _ in sets[t]]
        mats = [crop_matrix(whole_image_box(i.shape[1], i.shape[0])[:2], max(i.shape[:2]), base.size) for i in images]
        found = base._run(images, mats)
        for (_, kps), s, rot, conf in zip(sets[t], samples, found.rotation, found.confidence, strict=True):
            a = alignment_from_keypoints(kps, s.mask, LSP)
            if a is None:
                continue
            errors.append(float(angle_gap(rot, a.rotation)))
            truths.append(abs(a.rotation))
            sure.append(conf >= ORIENTATION_CONFIDENCE)
    errors, truths, sure = np.array(errors), np.array(truths), np.array(sure)
    for lo, hi, name in GROUPS:
        sel = (truths >= lo) & (truths < hi)
        if sel.any():
            e = errors[sel]
            print(
                f"| {name} | {sel.sum()} | {np.median(e):.0f} | {100 * np.mean(e <= 30):.0f} % | "
                f"{100 * np.mean(sure[sel]):.0f} % | {100 * np.mean(sure[sel] & (e > 60)):.0f} % |"
            )

    print("\nThe pipeline, PCK@0.2 of the best-ranked person:\n")
    groups = pose_groups(np.stack([s.keypoints for s in samples]), mask)
    counts = {g: int(v.sum()) for g, v in groups.items()}
    print(
        f"| first crop | turn the re-crop | as given | upside down ({counts['upside_down']}) | "
        f"lying ({counts['lying']}) | turned 90 | turned 180 |"
    )
    print("|---|---|---|---|---|---|---|")
    gt = {t: np.stack([k for _, k in sets[t]]) for t in TURNS}
    settings = [("off", None, None)] + [
        ("on", c, m) for c, m in itertools.product(args.confidence, args.min_turn)
    ]  # fmt: skip
    for det in args.detector:
        detector = None if det == "none" else load_runner(det, task="detector")
        for on, conf, turn in settings:
            predictor = Predictor(
                weights,
                runner=runner,
                detector_runner=detector,
                fallback=True,
                turn_upright=on == "on",
                orientation_confidence=ORIENTATION_CONFIDENCE if conf is None else conf,
                min_turn=MIN_TURN if turn is None else turn,
            )
            cells = []
            for t in (0, 90, 180):
                preds = predictor.predict_arrays([img for img, _ in sets[t]])
                pred = np.stack([p.keypoints if p.people else np.full((14, 2), np.nan) for p in preds])
                sizes = np.array([(img.shape[1], img.shape[0]) for img, _ in sets[t]], float)
                r = score(pred, gt[t].astype(np.float32), mask, sizes)
                cells.append(r["pck@0.2"]["mean"])
                if t == 0:
                    for g in ("upside_down", "lying"):
                        sel = groups[g]
                        cells.append(score(pred[sel], gt[0][sel], mask[sel], sizes[sel])["pck@0.2"]["mean"])
            where = "whole image" if det == "none" else f"{det} + whole image"
            how = f"sure >= {predictor.orientation_confidence:g}, >= {predictor.min_turn:g} deg"
            how = "off" if on == "off" else how
            print(f"| {where} | {how} | " + " | ".join(f"{100 * c:.1f}" for c in cells) + " |")


if __name__ == "__main__":
    main()

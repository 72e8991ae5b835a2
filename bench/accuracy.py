"""Accuracy and end-to-end throughput of given weights on the LSP test half (im1001-im2000).

    python bench/accuracy.py --weights runs/full/model.keras [--passes 1 2] [--decode regression heatmap]
                             [--flip off on] [--flip-agreement 0 0.1 inf] [--margin 1.3 1.5] [--split val]
                             [--detector none detector] [--upright on off] [--align-margin 1.1 1.25 1.4]

Whole image in, as a user gives it (no ground truth): prints the PCK@0.2 / PCKh@0.5 / AUC table, the share
of the misses that are left/right confusions (within 0.2 x torso of the other side's joint), PCK@0.2 of the
upside-down and lying people, and the images/s end to end (image decoding, all passes, post-processing) on
this machine, one row per combination of the settings given. With a detector, the best-ranked person of each
image is scored (the detector's people and the whole-image person, ranked by mean joint score). The test half
is for final reports only: choose settings on --split val.

`--zoom-out F` places each image at the centre of a grey canvas F times its size (the person F times
smaller in the frame; ground truth moved with it, the torso-normalized metric unchanged): LSP images are
already cropped around their person, and this is the case that the re-cropping second pass is for.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", help="model file, or full / lite for a packaged model (default: full)")
    parser.add_argument("--split", default="test", choices=["test", "val"])
    parser.add_argument("--passes", type=int, nargs="+", default=[2], help="one or more pass counts to compare")
    parser.add_argument(
        "--decode", nargs="+", default=[None], choices=["regression", "heatmap"], help="output(s) to compare"
    )
    parser.add_argument("--flip", nargs="+", default=["off"], choices=["off", "on"], help="flip fusion off/on")
    parser.add_argument(
        "--flip-agreement",
        type=float,
        nargs="+",
        default=[None],
        help="with flip: distance(s) (fraction of the crop side) below which the two estimates are averaged, "
        "else the higher-scoring one is kept; 0 = always keep one, inf = always average (default: the toolkit's)",
    )
    parser.add_argument(
        "--margin",
        type=float,
        nargs="+",
        default=[None],
        help="re-crop side(s) of passes 2+, as a multiple of the keypoints' longer extent (default: the config's)",
    )
    parser.add_argument("--detector", nargs="+", default=["none"], help="none, detector (packaged) or files")
    parser.add_argument(
        "--upright", nargs="+", default=["on"], choices=["on", "off"], help="turn detected crops upright"
    )
    parser.add_argument("--align-margin", type=float, nargs="+", default=[None], help="detected crop side / diameter")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--limit", type=int, default=0, help="only the first N images (a quick look)")
    parser.add_argument("--zoom-out", type=float, default=1.0, help="canvas F times the image's size (see above)")
    args = parser.parse_args()

    from blazepose.alignment import ALIGN_MARGIN
    from blazepose.artifacts import load_runner, resolve_weights
    from blazepose.config import load_config
    from blazepose.data.datasets import load_split
    from blazepose.evaluation.evaluate import evaluate
    from blazepose.inference import FLIP_AGREEMENT, Predictor, Settings

    samples = load_split(load_config().data, args.split)
    samples = samples[: args.limit] if args.limit else samples
    tmp = tempfile.TemporaryDirectory()
    if args.zoom_out != 1.0:
        samples = zoomed_out(samples, args.zoom_out, tmp.name)
    weights = resolve_weights(args.weights)
    rows = []
    for decode in args.decode:
        runner = load_runner(weights, decode)  # one model per output; passes and flip only change the calls
        warm = Predictor(weights, runner=runner, settings=Settings(passes=1, batch_size=args.batch_size))
        list(warm.predict_files([s.image_path for s in samples[:2]], progress=False))  # trace before timing
        settings = [(f, a) for f in args.flip for a in (args.flip_agreement if f == "on" else [None])]
        detectors = {d: None if d == "none" else load_runner(d, task="detector") for d in args.detector}
        detected = [
            (d, u, m) for d in detectors for u in (args.upright if d != "none" else ["-"])
            for m in (args.align_margin if d != "none" else [None])
        ]  # fmt: skip
        for (flip, agreement), passes, margin, (det, upright, align) in itertools.product(
            settings, args.passes, args.margin, detected
        ):
            agreement = FLIP_AGREEMENT if agreement is None else agreement
            predictor = Predictor(
                weights,
                runner=runner,
                flip=flip == "on",
                detector_runner=detectors[det],
                settings=Settings(
                    passes=passes,
                    batch_size=args.batch_size,
                    flip_agreement=agreement,
                    margin=margin,
                    fallback=True,
                    upright=upright != "off",
                    align_margin=ALIGN_MARGIN if align is None else align,
                ),
            )
            r = evaluate(predictor, samples, progress=False)
            flip = flip if flip == "off" else f"on, {agreement:g}"
            where = "whole image" if det == "none" else f"{det}, upright {upright}, {predictor.align_margin:g}"
            rows.append((decode or "config's", flip, passes, f"{predictor.margin:g}", where, r))
    parts = list(rows[0][-1]["pck@0.2"]["per_part"])
    print(
        f"{args.weights or 'default model'} on LSP {args.split} ({len(samples)} images), whole image in"
        + (f" at the centre of a canvas {args.zoom_out:g}x its size" if args.zoom_out != 1.0 else "")
        + ", "
        f"{os.cpu_count()} CPUs"
    )
    columns = ["decode", "flip", "passes", "margin", "first crop", *parts, "PCK@0.2", "PCKh@0.5", "AUC"]
    columns += ["px error", "L/R swaps", "upside down", "lying", "whole-image best", "images/s"]
    print("| " + " | ".join(columns) + " |")
    print("|---" * len(columns) + "|")
    for decode, flip, passes, margin, where, r in rows:
        p = r["pck@0.2"]
        cells = [f"{100 * p['per_part'][k]:.1f}" for k in parts]
        groups = [r["pose_groups"][g]["pck@0.2"] for g in ("upside_down", "lying")]
        print(
            f"| {decode} | {flip} | {passes} | {margin} | {where} | "
            + " | ".join(cells)
            + f" | {100 * p['mean']:.1f} | {100 * r['pckh@0.5']['mean']:.1f} "
            f"| {100 * r['auc@0.2']:.1f} | {r['mean_pixel_error']:.1f} "
            f"| {100 * r['left_right_swaps@0.2']['of_misses']:.0f} % | "
            + " | ".join("-" if g is None else f"{100 * g:.1f}" for g in groups)
            + f" | {r['whole_image_people']} | {r['images_per_second']:.1f} |"
        )


def zoomed_out(samples: list, factor: float, folder: str) -> list:
    """Each image at the centre of a grey canvas `factor` times its size, written as PNG under `folder`;
    the samples' keypoints moved by the same offset."""
    import cv2
    import numpy as np

    from blazepose.data.images import load_image

    if factor < 1.0:
        raise SystemExit(f"error: --zoom-out must be at least 1, got {factor}")
    out = []
    for s in samples:
        image = load_image(s.image_path)[0]
        h, w = image.shape[:2]
        canvas = np.full((round(h * factor), round(w * factor), 3), 128, np.uint8)
        dy, dx = (canvas.shape[0] - h) // 2, (canvas.shape[1] - w) // 2
        canvas[dy : dy + h, dx : dx + w] = image
        path = os.path.join(folder, os.path.basename(s.image_path).rsplit(".", 1)[0] + ".png")
        cv2.imwrite(path, cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
        out.append(dataclasses.replace(s, image_path=path, keypoints=s.keypoints + np.float32([dx, dy])))
    return out


if __name__ == "__main__":
    main()

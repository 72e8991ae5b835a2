"""The presence output of landmark models on validation data: what docs/presence.md reports.

    python bench/presence.py [--weights full lite] [--thresholds 0.3 0.5 0.7]

For each model: the share of person crops kept and of empty crops rejected at each threshold (LSP's validation
part as person crops, and as many fixed crops with nobody from those images and coco_mini's validation half:
the presence phase's own validation set), then the presence the default pipeline (whole image in, two passes,
no detector) gives on the 200 validation images, on a plain grey image and on coco_mini's landscape photo
000000107438.jpg (nobody in it). Never the LSP test half.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", nargs="+", default=["full", "lite"], help="models with a presence output")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.3, 0.5, 0.7])
    parser.add_argument("--data-root", default="", help="folder holding lsp/ and coco_mini/")
    args = parser.parse_args()

    from blazepose.artifacts import config_beside, load_runner, resolve_weights
    from blazepose.config import load_config
    from blazepose.data.datasets import dataset_folder, load_split
    from blazepose.data.images import load_image
    from blazepose.inference import Predictor
    from blazepose.training.train import PresenceValidationSet, ValidationSet

    cfg = load_config(None, [f"data.root={args.data_root}", 'data.train_sets=["lsp", "lspet", "coco"]'])
    crops = PresenceValidationSet(cfg, ValidationSet(cfg))
    images = [load_image(s.image_path)[0] for s in load_split(cfg.data, "val")]
    landscape = load_image(dataset_folder("coco", args.data_root) / "train2017" / "000000107438.jpg")[0]
    grey = np.full((480, 640, 3), 128, np.uint8)

    print(f"crops: {len(crops.positives)} with a person, {len(crops.negatives)} without (validation)\n")
    print("| model | " + " | ".join(f"{t:g}: kept / rejected (%)" for t in args.thresholds) + " |")
    print("|---" * (len(args.thresholds) + 1) + "|")
    for weights in args.weights:
        path = resolve_weights(weights)
        if not config_beside(path).model.presence:
            raise SystemExit(f"error: {weights} has no presence output")
        runner = load_runner(path)
        pos = np.concatenate([runner(crops.positives[i : i + 16])[2] for i in range(0, len(crops.positives), 16)])
        neg = np.concatenate([runner(crops.negatives[i : i + 16])[2] for i in range(0, len(crops.negatives), 16)])
        cells = [f"{100 * np.mean(pos >= t):.1f} / {100 * np.mean(neg < t):.1f}" for t in args.thresholds]
        print(f"| {weights} | " + " | ".join(cells) + " |")

    print("\n| model | LSP validation images below 0.5 | lowest | median | grey image | landscape photo |")
    print("|---|---|---|---|---|---|")
    for weights in args.weights:
        predictor = Predictor(weights, min_presence=0.0)  # every person kept, so that its presence shows
        found = [p.people[0].presence for p in predictor.predict_arrays(images)]
        other = [predictor.predict_arrays([im])[0].people[0].presence for im in (grey, landscape)]
        print(
            f"| {weights} | {sum(f < 0.5 for f in found)} of {len(found)} | {min(found):.3f} | "
            f"{np.median(found):.3f} | {other[0]:.3f} | {other[1]:.3f} |"
        )


if __name__ == "__main__":
    main()

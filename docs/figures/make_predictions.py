"""Draw docs/figures/predictions.png: the from-scratch Full model's (`full`) skeletons on LSP validation images.

    python docs/figures/make_predictions.py [--images 6] [--data-root DIR]

The images are not ours to redistribute, so each panel is a grey canvas of the image's size with what the
model predicted, whole image in, then a re-crop around its keypoints: the skeleton, joints scoring
below the drawing threshold left out (person's left in blue, right in red).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import cv2
import numpy as np

OUT = Path(__file__).with_name("predictions.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=6, help="panels: the first images of the validation part")
    parser.add_argument("--data-root", default="", help="folder holding coco_mini/")
    args = parser.parse_args()

    from blazepose.config import load_config
    from blazepose.data.datasets import load_split
    from blazepose.data.images import load_image
    from blazepose.inference import Predictor
    from blazepose.visualize import draw_people, image_grid, save_png

    samples = load_split(load_config(None, [f"data.root={args.data_root}"]).data, "val")[: args.images]
    predictor = Predictor("full", "none")  # the from-scratch Full, whole image in (the figure as made)
    panels = []
    for sample in samples:
        image, _ = load_image(sample.image_path)
        people = predictor.predict_arrays([image])[0].people
        canvas = np.full_like(image, 90)
        drawn = draw_people(canvas, people, predictor.skeleton)
        for p in people:
            a = p.alignment
            if a is None:
                continue
            centre = (int(round(a.cx)), int(round(a.cy)))
            cv2.circle(drawn, centre, int(round(a.radius)), (255, 200, 0), 1, cv2.LINE_AA)
            r = math.radians(a.rotation)
            tip = (int(round(a.cx + math.sin(r) * a.radius)), int(round(a.cy - math.cos(r) * a.radius)))
            cv2.arrowedLine(drawn, centre, tip, (255, 200, 0), 2, cv2.LINE_AA, tipLength=0.15)
        side = 240
        scale = side / max(drawn.shape[:2])
        small = cv2.resize(drawn, (round(drawn.shape[1] * scale), round(drawn.shape[0] * scale)))
        panel = np.full((side, side, 3), 255, np.uint8)
        panel[: small.shape[0], : small.shape[1]] = small
        panels.append(panel)
    save_png(image_grid(panels, len(panels)), OUT)  # one row
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

"""Does the detector read how a person is turned? Its rotation (the alignment's mid-hips -> mid-shoulders angle)
against the labels', by how far the person is turned.

    python bench/detector_rotation.py [--weights detector runs/x/model.keras ...] [--scenes 200]

Two measurements, each model on the same inputs:
  * the detector's validation scenes (LSP's validation part and coco_mini's validation half, placed people
    turned as in training; seed fixed): the rotation read at each labelled person's centre cell, so the
    rotation is scored even where the score map would miss the person;
  * LSP's validation part turned by 0, 90 and 180 degrees as whole images: the detection nearest the labelled
    mid-hips (within half the person's radius) and its rotation.
Prints the median absolute error (degrees, the short way round) and the share within 30 degrees, by the label's
absolute rotation (0-30: upright, 30-120: lying, 120-180: upside down). Never the LSP test half.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
GROUPS = ((0, 30, "upright"), (30, 120, "lying"), (120, 181, "upside down"))


def angle_error(a, b):
    return np.abs((np.asarray(a) - np.asarray(b) + 180.0) % 360.0 - 180.0)


def scene_errors(path, scenes) -> tuple[np.ndarray, np.ndarray]:
    from blazepose.artifacts import load_runner

    runner = load_runner(path, task="detector")
    out = runner(np.stack([s.image for s in scenes]).astype(np.float32))
    rot = out["rotation"]
    stride = scenes[0].image.shape[0] / rot.shape[1]
    errs, truth = [], []
    for k, scene in enumerate(scenes):
        for p in scene.people:
            i, j = int(p.alignment.cx // stride), int(p.alignment.cy // stride)
            if not p.rotation_known or not (0 <= i < rot.shape[2] and 0 <= j < rot.shape[1]):
                continue
            sin, cos = rot[k, j, i]
            errs.append(angle_error(np.degrees(np.arctan2(sin, cos)), p.alignment.rotation))
            truth.append(abs(p.alignment.rotation))
    return np.asarray(errs), np.asarray(truth)


def turned_images(samples, turn: int):
    """(image, keypoints) of each sample turned clockwise by `turn` degrees (a multiple of 90)."""
    from blazepose.data.images import load_image

    for s in samples:
        image, kps = load_image(s.image_path)[0], s.keypoints.astype(np.float64)
        for _ in range(turn // 90):
            h = image.shape[0]
            image = np.ascontiguousarray(np.rot90(image, -1))
            kps = np.stack([h - 1 - kps[:, 1], kps[:, 0]], axis=1)
        yield s, image, kps


def lsp_errors(path, samples) -> tuple[np.ndarray, np.ndarray, int]:
    from blazepose.alignment import alignment_from_keypoints
    from blazepose.inference import Predictor
    from blazepose.keypoints import LSP

    predictor = Predictor(detector=path)
    errs, truth, missed = [], [], 0
    for turn in (0, 90, 180):
        for s, image, kps in turned_images(samples, turn):
            a = alignment_from_keypoints(kps, s.mask, LSP)
            dets = predictor.detect([image])[0]
            near = [d for d in dets if np.hypot(d.alignment.cx - a.cx, d.alignment.cy - a.cy) <= 0.5 * a.radius]
            if not near:
                missed += 1
                continue
            best = max(near, key=lambda d: d.score)
            errs.append(angle_error(best.alignment.rotation, a.rotation))
            truth.append(abs(a.rotation))
    return np.asarray(errs), np.asarray(truth), missed


def rows(errs: np.ndarray, truth: np.ndarray) -> list[str]:
    out = []
    for lo, hi, name in GROUPS:
        sel = (truth >= lo) & (truth < hi)
        if sel.any():
            out.append(f"{name} {sel.sum()}: {np.median(errs[sel]):.0f} deg, {100 * np.mean(errs[sel] < 30):.0f} %")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", nargs="+", default=["detector"], help="detectors (files or 'detector')")
    parser.add_argument("--scenes", type=int, default=200, help="validation scenes (default 200)")
    parser.add_argument("--images", type=int, default=100, help="LSP validation images (default 100)")
    args = parser.parse_args()

    from blazepose.artifacts import config_beside, resolve_weights
    from blazepose.config import load_config
    from blazepose.data.datasets import load_split
    from blazepose.data.scenes import TURNED_SHARE, make_scene, photos_of, scene_sources

    cfg = config_beside(resolve_weights("detector", trainable=True))
    sources, negatives = scene_sources(cfg, "val", progress=False)
    rng = np.random.default_rng(12345)
    photos = photos_of(sources)
    size = cfg.data.input_size
    scenes = [make_scene(sources, negatives, rng, size, photos, 0.3, TURNED_SHARE) for _ in range(args.scenes)]
    samples = load_split(load_config().data, "val")[: args.images]
    print("| detector | scenes: median error, within 30 deg, by people | LSP val turned 0/90/180 | missed |")
    print("|---|---|---|---|")
    for w in args.weights:
        path = resolve_weights(w, trainable=True)
        se, st = scene_errors(path, scenes)
        le, lt, missed = lsp_errors(path, samples)
        print(f"| {w} | {'; '.join(rows(se, st))} | {'; '.join(rows(le, lt))} | {missed} of {3 * len(samples)} |")


if __name__ == "__main__":
    main()

"""Latency of the shipped landmark models (heatmap decode) against MediaPipe's released pose_landmark_full,
paired, in one LiteRT interpreter process.

    python bench/latency.py [--rounds 30] [--invokes 20] [--threads 1 2] [--calibration 100]

The packaged Full and Lite models are exported to float32, float16 and int8 TFLite (int8 calibrated on
`--calibration` training crops, the decode kept in float; each export passes its parity check) into a temporary
folder that is removed at the end. Every model gets its own interpreter (XNNPACK, batch 1); the models take
turns in rounds (each round: every model invoked --invokes times, the median kept), so a machine that slows
down slows all of them alike. The table gives each model's median over rounds and the median of the per-round
ratios to MediaPipe's landmark model. Accuracy of these exports: `blazepose evaluate --weights FILE.tflite`.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np

from detector_latency import PEER, interleaved_rounds

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=30, help="interleaved rounds (default 30)")
    parser.add_argument("--invokes", type=int, default=20, help="invokes per model per round (default 20)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts (default 1 2)")
    parser.add_argument("--calibration", type=int, default=100, help="int8 calibration crops (default 100)")
    parser.add_argument("--peer", default=str(PEER), help="folder with MediaPipe's pose_landmark_full.tflite")
    args = parser.parse_args()

    from blazepose.artifacts import resolve_weights
    from blazepose.export import export_model

    mediapipe = "MediaPipe pose_landmark_full (float32)"
    with tempfile.TemporaryDirectory() as tmp:
        paths = {mediapipe: Path(args.peer) / "pose_landmark_full.tflite"}
        for variant in ("full", "lite"):
            weights = resolve_weights(variant, trainable=True)
            for quantize in ("none", "float16", "int8"):
                path = Path(tmp) / f"{variant}_{quantize}.tflite"
                export_model(
                    weights, "tflite", path, quantize=quantize, parity_count=8, calibration_count=args.calibration
                )
                paths[f"ours {variant.capitalize()} {'float32' if quantize == 'none' else quantize}"] = path
        print(f"{args.rounds} rounds of {args.invokes} invokes, batch 1, {os.cpu_count()} CPUs\n")
        print("| model | threads | median ms | ratio to MediaPipe's landmark model |")
        print("|---|---|---|---|")
        for threads in args.threads:
            times = interleaved_rounds(paths, threads, args.rounds, args.invokes)
            for name, t in times.items():
                print(f"| {name} | {threads} | {np.median(t):.2f} | {np.median(t / times[mediapipe]):.2f} |")


if __name__ == "__main__":
    main()

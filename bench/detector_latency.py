"""Latency of our person detector against MediaPipe's pose detector and our Full landmark model, paired.

    python bench/detector_latency.py [--rounds 30] [--invokes 20] [--threads 1 2]

One process, one LiteRT interpreter per model (XNNPACK), batch 1, float32 and float16 exports of freshly built
networks (latency does not depend on the weights' values). The models take turns in rounds (each round: every
model invoked --invokes times, the median kept), so a machine that slows down slows all of them alike; the
table gives each model's median over rounds and the median of the per-round ratios to MediaPipe's
pose_detection.tflite and to our Full landmark model. Nothing is left on disk.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
PEER = Path(__file__).resolve().parents[2] / "shared" / "peer" / "mediapipe"


def tflite_bytes(model, size: int, quantize: str) -> bytes:
    from blazepose.export import _to_tflite

    return _to_tflite(model, size, quantize, None)


def interpreter(path: Path, threads: int):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path), num_threads=threads)
    it.allocate_tensors()
    inp = it.get_input_details()[0]
    data = np.random.default_rng(0).uniform(0, 1, inp["shape"]).astype(inp["dtype"])

    def run():
        it.set_tensor(inp["index"], data)
        it.invoke()

    return run


def median_ms(fn, n: int) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def interleaved_rounds(paths: dict[str, Path], threads: int, rounds: int, invokes: int) -> dict[str, np.ndarray]:
    """Per model, its median ms in each round; every round invokes every model `invokes` times, in turn."""
    runs = {name: interpreter(p, threads) for name, p in paths.items()}
    for fn in runs.values():
        median_ms(fn, 10)  # warm-up
    per_round = {name: [] for name in runs}
    for _ in range(rounds):
        for name, fn in runs.items():
            per_round[name].append(median_ms(fn, invokes))
    return {k: np.asarray(v) for k, v in per_round.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=30, help="interleaved rounds (default 30)")
    parser.add_argument("--invokes", type=int, default=20, help="invokes per model per round (default 20)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts (default 1 2)")
    args = parser.parse_args()

    from blazepose.models.blazepose import build_blazepose, inference_model
    from blazepose.models.detector import build_detector

    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for quantize in ("none", "float16"):
            det = build_detector()
            paths[f"ours detector {quantize}"] = Path(tmp) / f"det_{quantize}.tflite"
            paths[f"ours detector {quantize}"].write_bytes(tflite_bytes(det, 224, quantize))
        full = inference_model(build_blazepose("full"), "heatmap")
        paths["ours Full landmarks (heatmap decode)"] = Path(tmp) / "full.tflite"
        paths["ours Full landmarks (heatmap decode)"].write_bytes(tflite_bytes(full, 256, "none"))
        paths["MediaPipe pose_detection"] = PEER / "pose_detection.tflite"
        paths["MediaPipe pose_landmark_full"] = PEER / "pose_landmark_full.tflite"
        print("| model | threads | median ms | ratio to MediaPipe detector | ratio to our Full landmarks |")
        print("|---|---|---|---|---|")
        for threads in args.threads:
            times = interleaved_rounds(paths, threads, args.rounds, args.invokes)
            mp = times["MediaPipe pose_detection"]
            ours_full = times["ours Full landmarks (heatmap decode)"]
            for name, t in times.items():
                print(
                    f"| {name} | {threads} | {np.median(t):.2f} | {np.median(t / mp):.2f} | "
                    f"{np.median(t / ours_full):.2f} |"
                )


if __name__ == "__main__":
    main()

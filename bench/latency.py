"""Latency: our Full and Lite exports beside MediaPipe's released BlazePose Full, in one process.

    python bench/latency.py [--full-weights W.keras] [--lite-weights W.keras] [--runs 200] [--e2e-images 100]
                            [--decode regression|heatmap]

Same LiteRT interpreter (XNNPACK), batch 1, 1 and 2 threads, warm-up, then the median of --runs invokes:
our Full and Lite TFLite models (float32, float16, int8) and MediaPipe's pose_landmark_full.tflite (and its
pose_detection.tflite); also our Full in Keras and in ONNX Runtime. Without weights, freshly built networks
are exported: latency does not depend on the weights' values. Then end to end on LSP test images, whole image
in and keypoints out (decode, both passes, post-processing) with our Full float32 TFLite.
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


def median_ms(fn, runs: int, warmup: int = 20) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def litert_ms(path: Path, threads: int, runs: int, scale: float = 1.0) -> float:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path), num_threads=threads)
    it.allocate_tensors()
    inp = it.get_input_details()[0]
    x = np.random.default_rng(0).uniform(0, 255, inp["shape"]).astype(np.float32) * scale

    def run():
        it.set_tensor(inp["index"], x)
        it.invoke()

    return median_ms(run, runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full-weights", help="trained Full .keras (default: a freshly built network)")
    parser.add_argument("--lite-weights", help="trained Lite .keras (default: a freshly built network)")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--e2e-images", type=int, default=100, help="LSP test images for the end-to-end timing")
    parser.add_argument("--peer", default=str(PEER), help="folder with MediaPipe's .tflite files")
    parser.add_argument("--decode", default="regression", choices=["regression", "heatmap"], help="our models' output")
    args = parser.parse_args()

    import keras
    import onnxruntime as ort

    from blazepose.artifacts import load_runner
    from blazepose.config import load_config
    from blazepose.data.datasets import load_split
    from blazepose.export import export_model
    from blazepose.inference import Predictor
    from blazepose.models.blazepose import build_from_config, count_params, inference_model
    from blazepose.models.info import forward_flops

    tmp = Path(tempfile.mkdtemp(prefix="blazepose-latency-"))
    rows = []  # (model, runtime, threads, ms, params, gflops)
    exports = {}
    for variant, weights in (("full", args.full_weights), ("lite", args.lite_weights)):
        if weights is None:
            cfg = load_config(None, [f"model.variant={variant}"])
            net = build_from_config(cfg)
            weights = tmp / f"{variant}.keras"
            net.save(weights)
        net = keras.saving.load_model(weights, compile=False)
        inf = inference_model(net, args.decode)
        params, gflops = count_params(inf), forward_flops(inf, inf.input.shape[1]) / 1e9
        for quantize in ("none", "float16", "int8"):
            path = tmp / f"{variant}_{quantize}.tflite"
            # Latency does not depend on calibration quality: a few crops keep the benchmark quick.
            export_model(
                weights, "tflite", path, quantize=quantize, parity_count=4, calibration_count=50, decode=args.decode
            )
            exports[(variant, quantize)] = (path, params, gflops)
        if variant == "full":
            onnx_path = tmp / "full.onnx"
            export_model(weights, "onnx", onnx_path, parity_count=4, decode=args.decode)
            x = np.random.default_rng(0).uniform(0, 255, (1, 256, 256, 3)).astype(np.float32)
            ms = median_ms(lambda inf=inf, x=x: inf.predict_on_batch(x), max(args.runs // 4, 20))
            rows.append(("ours Full float32", "Keras (TF)", "all", ms, params, gflops))
            for threads in (1, 2):
                opts = ort.SessionOptions()
                opts.intra_op_num_threads = threads
                sess = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
                ms = median_ms(lambda s=sess, x=x: s.run(None, {s.get_inputs()[0].name: x}), args.runs)
                rows.append(("ours Full float32", "ONNX Runtime", threads, ms, params, gflops))

    peer = Path(args.peer)
    mp_full, mp_det = peer / "pose_landmark_full.tflite", peer / "pose_detection.tflite"
    base = {}
    for threads in (1, 2):
        base[threads] = litert_ms(mp_full, threads, args.runs, scale=1 / 255)
        rows.append(("MediaPipe Full landmarks", "LiteRT", threads, base[threads], None, None))
        rows.append(("MediaPipe pose detector", "LiteRT", threads, litert_ms(mp_det, threads, args.runs), None, None))
        for (variant, quantize), (path, params, gflops) in exports.items():
            name = f"ours {variant.capitalize()} {'float32' if quantize == 'none' else quantize}"
            rows.append((name, "LiteRT", threads, litert_ms(path, threads, args.runs), params, gflops))

    print(
        f"latency per image ({args.decode} decode), batch 1, median of {args.runs} runs, {os.cpu_count()} CPUs; "
        "ratio = ms / MediaPipe Full landmarks at the same thread count"
    )
    print("| model | runtime | threads | ms | ratio to MediaPipe Full | params | GFLOPs |")
    print("|---|---|---|---|---|---|---|")
    for name, runtime, threads, ms, params, gflops in rows:
        ratio = f"{ms / base[threads]:.2f}" if threads in base else "-"
        p = f"{params:,}" if params else "-"
        g = f"{gflops:.3f}" if gflops else "-"
        print(f"| {name} | {runtime} | {threads} | {ms:.2f} | {ratio} | {p} | {g} |")

    # End to end: whole image in, keypoints out, our Full float32 TFLite, both passes.
    samples = load_split(load_config().data, "test")[: args.e2e_images]
    paths = [s.image_path for s in samples]
    for threads in (1, 2):
        runner = load_runner(exports[("full", "none")][0], num_threads=threads)
        predictor = Predictor(runner=runner, passes=2, batch_size=1)
        list(predictor.predict_files(paths[:5], progress=False))  # warm-up
        start = time.perf_counter()
        list(predictor.predict_files(paths, progress=False))
        ms = 1000 * (time.perf_counter() - start) / len(paths)
        print(
            f"end to end, ours Full float32 TFLite, 2 passes, {threads} thread(s): {ms:.1f} ms per LSP image "
            f"(decode + 2 crops + 2 invokes + post-processing; {len(paths)} images); MediaPipe's own pipeline: "
            "about 31 ms per image on 2 cores (DESIGN.md)"
        )


if __name__ == "__main__":
    main()

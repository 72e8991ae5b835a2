"""Training throughput per phase and peak memory, for Full and Lite, on the real LSP + LSPet pipeline.

    python bench/train_speed.py [--steps 20] [--batch-size 32] [--variants full lite]

Each (variant, phase) runs in its own process, so its peak RSS is its own: it builds the model, compiles
the phase, warms up, then times `--steps` training steps fed by the real tf.data pipeline. Also prints the
inference model's forward FLOPs per image. Figures are for this machine; the table says how many CPUs it had.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def measure(variant: str, phase: str, steps: int, batch: int, overrides: list[str]) -> dict:
    import resource
    import time

    from blazepose.config import load_config
    from blazepose.data.datasets import load_split
    from blazepose.data.pipeline import make_dataset
    from blazepose.models.blazepose import build_from_config, inference_model
    from blazepose.models.info import forward_flops
    from blazepose.training.phases import PoseTrainer, compile_for_phase

    cfg = load_config(None, [f"model.variant={variant}", f"data.batch_size={batch}", *overrides])
    ds = iter(make_dataset(load_split(cfg.data, "train"), cfg, train=True).repeat())
    net = build_from_config(cfg)
    trainer = PoseTrainer(net, cfg)
    flops = forward_flops(inference_model(net), cfg.data.input_size)
    compile_for_phase(trainer, phase, 1000)
    for _ in range(3):  # trace + warm-up
        trainer.train_on_batch(*next(ds))
    start = time.perf_counter()
    for _ in range(steps):
        trainer.train_on_batch(*next(ds))
    rate = steps * batch / (time.perf_counter() - start)
    return {"rate": rate, "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "flops": flops}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--variants", nargs="+", default=["full", "lite"])
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(*args.child, args.steps, args.batch_size, args.overrides)))
        return
    print(f"training images/s and peak RSS, batch {args.batch_size}, {args.steps} timed steps, {os.cpu_count()} CPUs")
    print("| variant | phase | images/s | peak RSS (MB) | inference GFLOPs |")
    print("|---|---|---|---|---|")
    for variant in args.variants:
        for phase in ("heatmap", "regression", "finetune"):
            cmd = [sys.executable, __file__, "--child", variant, phase, "--steps", str(args.steps)]
            cmd += ["--batch-size", str(args.batch_size)] + [f"--set={o}" for o in args.overrides]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            print(f"| {variant} | {phase} | {r['rate']:.1f} | {r['rss']:.0f} | {r['flops'] / 1e9:.3f} |", flush=True)


if __name__ == "__main__":
    main()

"""Input-pipeline throughput: decode + crop/augment + encode + batch on the training split, no model.

    python bench/pipeline.py [--batches 60] [--batch-size 32] [--set data.num_parallel_calls=2]

Prints a table of images/s (after a warm-up) and peak resident memory of the process. The training step of
a BlazePose-size net runs at about 50 images/s on 2 cores, so the pipeline should manage at least twice that.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=60, help="batches timed after warm-up")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    args = parser.parse_args()

    from blazepose.config import load_config
    from blazepose.data.datasets import load_split
    from blazepose.data.pipeline import make_dataset

    cfg = load_config(None, args.overrides)
    rows = []
    for train in (True, False):
        samples = load_split(cfg.data, "train")
        ds = make_dataset(samples, cfg, train=train, batch_size=args.batch_size)
        it = iter(ds)
        for _ in range(args.warmup):
            next(it)
        n, start = 0, time.perf_counter()
        for _ in range(args.batches):
            images, _ = next(it)
            n += int(images.shape[0])
        rate = n / (time.perf_counter() - start)
        rows.append(("train (augmented)" if train else "eval (person crop)", n, rate))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"pipeline on {'+'.join(cfg.data.train_sets)} train split ({len(samples)} samples), "
        f"{cfg.data.input_size}x{cfg.data.input_size}, batch {args.batch_size}, {os.cpu_count()} CPUs"
    )
    print(f"| {'mode':<20} | {'images':>6} | {'images/s':>8} |")
    print(f"|{'-' * 22}|{'-' * 8}|{'-' * 10}|")
    for name, n, rate in rows:
        print(f"| {name:<20} | {n:>6} | {rate:>8.1f} |")
    print(f"peak RSS: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()

"""Training throughput per phase and peak memory, for Full and Lite, on the real LSP + LSPet pipeline.

    python bench/train_speed.py [--steps 20] [--batch-size 32] [--variants full lite]
    python bench/train_speed.py --workers 1 2 [--rounds 3]    # Keras fit: one process against two workers

Each (variant, phase) runs in its own process, so its peak RSS is its own: it builds the model, compiles
the phase, warms up, then times `--steps` training steps fed by the real tf.data pipeline. Also prints the
inference model's forward FLOPs per image. Figures are for this machine; the table says how many CPUs it had.

`--workers`: the training command's own path (``fit`` under a strategy, docs/several_machines.md), one process
with the default strategy against N worker processes on 127.0.0.1 under MultiWorkerMirroredStrategy, the same
global batch; images/s of the global batch over the fastest of the epochs after the first (which traces). On one
machine the workers share its CPUs, so the figure shows the cost of the collectives, not a speed-up. The
settings alternate round by round; each round's figures are printed, then the medians.
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


def measure_fit(variant: str, phase: str, steps: int, batch: int, overrides: list[str], multi: bool) -> dict:
    import time

    import keras
    import tensorflow as tf

    strategy = tf.distribute.MultiWorkerMirroredStrategy() if multi else tf.distribute.get_strategy()
    from blazepose.config import load_config
    from blazepose.data.datasets import load_split
    from blazepose.data.pipeline import make_dataset
    from blazepose.models.blazepose import build_from_config
    from blazepose.training.phases import PoseTrainer, compile_for_phase

    cfg = load_config(None, [f"model.variant={variant}", f"data.batch_size={batch}", *overrides])
    keras.utils.set_random_seed(cfg.seed)
    ds = make_dataset(load_split(cfg.data, "train"), cfg, train=True).repeat()
    with strategy.scope():
        net = build_from_config(cfg)
        trainer = PoseTrainer(net, cfg)
        if multi:
            from blazepose.training.train import synchronize_batch_norm

            synchronize_batch_norm(net)
        compile_for_phase(trainer, phase, steps)
    times: list[float] = []
    clock = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: times.append(-time.perf_counter()),
        on_epoch_end=lambda epoch, logs: times.__setitem__(-1, times[-1] + time.perf_counter()),
    )
    trainer.fit(ds, epochs=3, steps_per_epoch=steps, callbacks=[clock], verbose=0)
    return {"rate": steps * batch / min(times[1:])}


def run_workers(n: int, args) -> float:
    """Images/s of `n` training processes (1: the default strategy; more: workers on 127.0.0.1)."""
    import socket

    cmd = [sys.executable, __file__, "--child-fit", args.variants[0], "heatmap", str(int(n > 1))]
    cmd += ["--steps", str(args.steps), "--batch-size", str(args.batch_size)] + [f"--set={o}" for o in args.overrides]
    if n == 1:
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        return json.loads(out.strip().splitlines()[-1])["rate"]
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    cluster = {"worker": [f"127.0.0.1:{s.getsockname()[1]}" for s in sockets]}
    for s in sockets:
        s.close()
    procs = [
        subprocess.Popen(
            cmd,
            env={**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for i in range(n)
    ]
    outs = [p.communicate()[0] for p in procs]
    if any(p.returncode for p in procs):
        sys.exit(f"a worker failed (exit statuses {[p.returncode for p in procs]})")
    return json.loads(outs[0].strip().splitlines()[-1])["rate"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--variants", nargs="+", default=["full", "lite"])
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    parser.add_argument("--workers", nargs="+", type=int, help="compare fit with this many worker processes")
    parser.add_argument("--rounds", type=int, default=3, help="--workers: rounds, settings alternating (default 3)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--child-fit", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(*args.child, args.steps, args.batch_size, args.overrides)))
        return
    if args.child_fit:
        variant, phase, multi = args.child_fit
        print(json.dumps(measure_fit(variant, phase, args.steps, args.batch_size, args.overrides, multi == "1")))
        return
    if args.workers:
        import statistics

        print(
            f"fit, {args.variants[0]}, heatmap phase, global batch {args.batch_size}, {args.steps} steps per epoch, "
            f"{os.cpu_count()} CPUs shared by every process"
        )
        rates: dict[int, list[float]] = {n: [] for n in args.workers}
        for r in range(args.rounds):
            for n in args.workers if r % 2 == 0 else args.workers[::-1]:
                rates[n].append(run_workers(n, args))
                print(f"round {r + 1}: {n} worker(s) {rates[n][-1]:.1f} images/s", flush=True)
        print("| workers | images/s (median) | x one process |")
        print("|---|---|---|")
        one = statistics.median(rates[args.workers[0]])
        for n, values in rates.items():
            print(f"| {n} | {statistics.median(values):.1f} | {statistics.median(values) / one:.2f} |")
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

"""Cold start: `blazepose predict one.jpg` from a fresh process, runtime install against full install, beside
the time it takes only to import MediaPipe.

    python bench/cold_start.py [--runtime .venv-runtime/bin/python] [--mediapipe /path/to/venv/bin/python]
                               [--rounds 7] [--image IMG]

Each round starts every command once, in turn (so a machine that slows down slows all of them alike), as a new
process: the runtime install's Python (`pip install .`, default `.venv-runtime/bin/python`, which `.ci/runtime`
makes), this Python (the full install) predicting with the packaged .tflite model and with the packaged Keras
model (`--decode heatmap` rebuilds it in Keras), and, with `--mediapipe`, a Python where `pip install mediapipe`
ran, importing it. Prints the median wall time over rounds, its ratio to the MediaPipe import, and the size of
each environment's installed packages.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def site_packages_mb(python: str) -> float:
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    folder = Path(subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout.strip())
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runtime", default=str(REPO / ".venv-runtime" / "bin" / "python"), help="runtime Python")
    parser.add_argument("--mediapipe", help="a Python with mediapipe installed (its import is timed)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--image", default=str(REPO.parent / "shared" / "datasets" / "lsp" / "images" / "im0001.jpg"))
    args = parser.parse_args()

    out = tempfile.mkdtemp()
    predict = ["-m", "blazepose.cli", "predict", args.image, "--output", str(Path(out) / "p.json"), "--quiet"]
    runs = {}
    if Path(args.runtime).is_file():
        runs["blazepose predict, runtime install (LiteRT)"] = (args.runtime, [args.runtime, *predict])
    else:
        print(f"no runtime install at {args.runtime} (bash .ci/runtime makes one); its rows are left out")
    runs["blazepose predict, full install (LiteRT)"] = (sys.executable, [sys.executable, *predict])
    keras = [*predict, "--decode", "heatmap", "--detector", "none"]
    runs["blazepose predict, full install, Keras model, no detector"] = (sys.executable, [sys.executable, *keras])
    if args.mediapipe:
        runs["import mediapipe (nothing predicted)"] = (args.mediapipe, [args.mediapipe, "-c", "import mediapipe"])
    times = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, (_, command) in runs.items():
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
            times[name].append(time.perf_counter() - start)
    base = (
        statistics.median(times[next(n for n in runs if n.startswith("import mediapipe"))]) if args.mediapipe else None
    )
    shutil.rmtree(out)
    print(f"{args.rounds} rounds, one image ({Path(args.image).name})\n")
    print("| command | median s | ratio to importing MediaPipe | installed packages (MB) |")
    print("|---|---|---|---|")
    for name, (python, _) in runs.items():
        median = statistics.median(times[name])
        ratio = f"{median / base:.2f}" if base else "-"
        print(f"| {name} | {median:.2f} | {ratio} | {site_packages_mb(python):.0f} |")


if __name__ == "__main__":
    main()

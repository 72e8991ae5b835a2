"""MediaPipe's own pipeline (``mediapipe.solutions.pose``) against ours on the same images: accuracy, people found,
false people, time per image; and MediaPipe itself running a model exported back by ``export --mediapipe``.

Runs in a Python where ``mediapipe==0.10.21`` (the last release with ``solutions.pose`` and its model files) and
this package's runtime are installed, no TensorFlow (docs/mediapipe.md, "The bench")::

    python3 -m venv ~/venv-mp
    ~/venv-mp/bin/pip install mediapipe==0.10.21 ai-edge-litert pycocotools tqdm
    ~/venv-mp/bin/pip install --no-deps -e .
    ~/venv-mp/bin/python bench/mediapipe_peer.py                       # the table
    ~/venv-mp/bin/python bench/mediapipe_peer.py --swap exported.tflite  # MediaPipe running our export

Pipelines: MediaPipe's own (static images, model complexity 0 / 1 / 2 = Lite / Full / Heavy; the Lite and Heavy
files come from ../shared/peer/mediapipe, placed where solutions.pose looks for them), and ours with any
``--ours NAME=WEIGHTS,DETECTOR`` (default: MediaPipe's imported Full and detector, and the packaged default).
Scored with the toolkit's own evaluation: LSP's validation part (PCK@0.2 over LSP's 14 joints, the 33 mapped
onto them by the toolkit's rules, the same for every pipeline: ``keypoints.DERIVED``), coco_mini's validation
half (OKS AP on the joints shared with COCO, PCK@0.2 of the labelled people, people predicted, false people =
people predicted on the images without anyone). Time: every pipeline over the same `--timing` images once per
round, the order turned each round, one process; the ratio to MediaPipe Full is taken per round and its median reported.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
PEER = REPO.parent / "shared" / "peer" / "mediapipe"


def place_models(peer: Path) -> Path:
    """The installed mediapipe package's folder; the Lite and Heavy files copied where solutions.pose looks
    (0.10.21 downloads them otherwise)."""
    import mediapipe

    root = Path(mediapipe.__file__).parent
    for name in ("pose_landmark_lite.tflite", "pose_landmark_heavy.tflite"):
        target = root / "modules" / "pose_landmark" / name
        if not target.is_file():
            shutil.copyfile(peer / name, target)
    return root


class SolutionsPose:
    """``mediapipe.solutions.pose`` behind the toolkit's predictor interface (``predict_files``, ``skeleton``):
    one person per image (its pipeline's own), 33 keypoints in pixels with their visibility."""

    def __init__(self, complexity: int):
        import mediapipe as mp

        from blazepose.keypoints import BLAZEPOSE33

        self.pose = mp.solutions.pose.Pose(static_image_mode=True, model_complexity=complexity)
        self.skeleton, self.passes, self.detector, self.flip, self.margin = BLAZEPOSE33, 1, True, False, 1.25

    def people(self, image: np.ndarray):
        from blazepose.inference import Person

        result = self.pose.process(image)
        if result.pose_landmarks is None:
            return []
        h, w = image.shape[:2]
        lm = result.pose_landmarks.landmark
        kps = np.array([[p.x * w, p.y * h] for p in lm], np.float32)
        vis = np.array([p.visibility for p in lm], np.float32)
        return [Person(kps, vis, float(vis.mean()))]

    def predict_files(self, paths, progress: bool = False, rois=None):
        from blazepose.data.images import load_image
        from blazepose.inference import Prediction

        for path in paths:
            image = load_image(path)[0]
            pred = Prediction(image.shape[1], image.shape[0], self.people(image))
            yield path, pred


def ours(spec: str):
    """WEIGHTS[,DETECTOR][,passes=N][,whole=always|if_empty|never][,min_score=S][,pose_score=S][,threads=N] -> ours
    (defaults: the detector and settings the weights' preset pairs with them)."""
    from blazepose.inference import AUTO, Predictor, Settings

    weights, *rest = spec.split(",")
    options = dict(part.split("=", 1) for part in rest if "=" in part)
    detector = next((part for part in rest if "=" not in part), AUTO)
    kw, settings = {}, {}
    if "passes" in options:
        settings["passes"] = int(options.pop("passes"))
    if "whole" in options:
        settings["whole_image"] = options.pop("whole")
    if "min_score" in options:
        kw["min_detection_score"] = float(options.pop("min_score"))
    if "pose_score" in options:
        settings["min_pose_score"] = float(options.pop("pose_score"))
    if "threads" in options:
        kw["num_threads"] = int(options.pop("threads"))
    if options:
        known = "passes, whole, min_score, pose_score, threads"
        sys.exit(f"--ours {spec}: unknown option(s) {', '.join(options)} ({known})")
    return Predictor(weights, detector, settings=Settings(**settings), **kw)


def score(pipelines: dict, data_root: str, test: bool = False) -> dict:
    from blazepose.config import config_from_dict
    from blazepose.data.datasets import coco_files, dataset_folder, load_split
    from blazepose.evaluation.coco_eval import coco_part, evaluate_coco
    from blazepose.evaluation.evaluate import evaluate
    from blazepose.keypoints import LSP

    cfg = config_from_dict({"data": {"root": data_root}})
    samples = load_split(cfg.data, "val", LSP)
    test_samples = load_split(cfg.data, "test", LSP) if test else []
    annotations, images = coco_files(dataset_folder("coco", data_root))
    gt = coco_part(annotations, "val")
    empty = [im["id"] for im in gt["images"] if not any(a["image_id"] == im["id"] for a in gt["annotations"])]
    rows = {}
    for name, p in pipelines.items():
        lsp = evaluate(p, samples, progress=False)
        coco, preds = evaluate_coco(p, annotations, images, "val", progress=False)
        rows[name] = {
            "lsp_pck": lsp["pck@0.2"]["mean"],
            "lsp_nobody": lsp["no_person_found"],
            "oks_ap": coco["oks"]["ap"],
            "coco_pck": coco["matched"]["pck@0.2"],
            "people": coco["people_predicted"],
            "recall": coco["matched"]["recall"],
            "false_people": sum(len(preds[i]) for i in empty),
            "empty_images": len(empty),
            "labelled_people": coco["matched"]["people"],
        }
        if test:  # the final report of a shipped default: run once, never chosen on
            rows[name]["lsp_test"] = evaluate(p, test_samples, progress=False)["pck@0.2"]["mean"]
        print(f"scored {name}", file=sys.stderr, flush=True)
    return rows


def timing(pipelines: dict, paths: list[Path], rounds: int, reference: str) -> dict:
    """Seconds per image per pipeline and round (warm: one untimed pass first), rounds in turned order."""
    from blazepose.data.images import load_image

    images = [load_image(p)[0] for p in paths]
    run = {
        name: (lambda im, p=p: p.people(im))
        if isinstance(p, SolutionsPose)
        else (lambda im, p=p: p.predict_arrays([im]))
        for name, p in pipelines.items()
    }
    for fn in run.values():
        fn(images[0])
    per_round = {name: [] for name in run}
    names = list(run)
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            for im in images:
                run[name](im)
            per_round[name].append((time.perf_counter() - start) / len(images))
    ref = np.array(per_round[reference])
    return {name: (1000 * statistics.median(t), statistics.median(np.array(t) / ref)) for name, t in per_round.items()}


def swap(exported: Path, peer: Path, data_root: str, count: int = 20) -> None:
    """solutions.pose (Full) with the released pose_landmark_full.tflite and with `exported` in its place (a copy
    of the package), on `count` LSP images: the largest landmark difference."""
    import mediapipe

    root = Path(mediapipe.__file__).parent
    copy = Path(os.environ.get("TMPDIR", "/tmp")) / "mediapipe-swapped"
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(root, copy / "mediapipe", symlinks=True)
    libs = root.parent / "mediapipe.libs"  # the wheel's bundled shared libraries, found beside the package
    if libs.is_dir():
        shutil.copytree(libs, copy / "mediapipe.libs", symlinks=True)
    shutil.copyfile(exported, copy / "mediapipe" / "modules" / "pose_landmark" / "pose_landmark_full.tflite")
    images = [str(Path(data_root) / "lsp" / "images" / f"im{i:04d}.jpg") for i in range(1, count + 1)]
    code = (
        "import sys, json, numpy as np, mediapipe as mp, cv2\n"
        "pose = mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1)\n"
        "out = []\n"
        "for p in sys.argv[1:]:\n"
        "    r = pose.process(cv2.cvtColor(cv2.imread(p), cv2.COLOR_BGR2RGB))\n"
        "    lm = r.pose_landmarks\n"
        "    out.append(None if lm is None else [[p.x, p.y, p.z, p.visibility] for p in lm.landmark])\n"
        "print(json.dumps({'package': mp.__file__, 'landmarks': out}))\n"
    )
    import json

    results = []
    for path in (None, copy):
        env = dict(os.environ)
        if path is not None:
            env["PYTHONPATH"] = f"{path}{os.pathsep}{env.get('PYTHONPATH', '')}"
        done = subprocess.run([sys.executable, "-c", code, *images], env=env, capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"solutions.pose failed ({'copy' if path else 'released'}):\n{done.stderr[-2000:]}")
        answer = json.loads(done.stdout.strip().splitlines()[-1])
        expected = copy if path is not None else root
        if not Path(answer["package"]).resolve().is_relative_to(expected.resolve()):
            sys.exit(f"solutions.pose ran from {answer['package']}, not from {expected}")
        results.append(answer["landmarks"])
    released, swapped = results
    both = [(a, b) for a, b in zip(released, swapped, strict=True) if a is not None and b is not None]
    worst = max((float(np.max(np.abs(np.array(a) - np.array(b)))) for a, b in both), default=float("nan"))
    xy = max((float(np.max(np.abs(np.array(a)[:, :2] - np.array(b)[:, :2]))) for a, b in both), default=float("nan"))
    print(
        f"MediaPipe solutions.pose (Full), released file vs {exported} in its place, {count} LSP images: a pose on "
        f"{sum(a is not None for a in released)} and {sum(b is not None for b in swapped)}"
    )
    print(f"largest difference of a landmark value (x, y normalized; z; visibility): {worst:.2e}; of x, y: {xy:.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peer", default=str(PEER), help="folder holding MediaPipe's .tflite files")
    parser.add_argument("--data-root", default=str(REPO.parent / "shared" / "datasets"))
    parser.add_argument(
        "--ours",
        action="append",
        metavar="[NAME=]WEIGHTS,DETECTOR[,OPTION=VALUE...]",
        help="one of our pipelines (repeatable; NAME without commas; options: passes, whole (always / if_empty / "
        "never), min_score, pose_score, threads); default: the default (mp-full) and mp-lite with their presets' "
        "pipelines, and the from-scratch full",
    )
    parser.add_argument(
        "--lsp-test",
        action="store_true",
        help="also score LSP's test half (im1001-im2000): for the final report of a shipped default only",
    )
    parser.add_argument(
        "--mediapipe",
        default="lite,full,heavy",
        help="MediaPipe's own pipelines to run beside ours (comma-separated; full is always run: the time reference)",
    )
    parser.add_argument(
        "--timing", type=int, default=40, help="coco_mini validation images timed per round (default 40)"
    )
    parser.add_argument("--rounds", type=int, default=5, help="timing rounds (default 5)")
    parser.add_argument("--swap", metavar="TFLITE", help="only check MediaPipe running this export in place of Full")
    args = parser.parse_args()
    peer = Path(args.peer)
    place_models(peer)
    if args.swap:
        swap(Path(args.swap), peer, args.data_root)
        return
    specs = args.ours or [
        "ours: default (mp-full)=mp-full",
        "ours: mp-lite=mp-lite",
        "ours: from scratch (full)=full",
    ]
    wanted = {part.strip().lower() for part in args.mediapipe.split(",")} | {"full"}
    pipelines = {
        f"MediaPipe {n} (solutions.pose)": SolutionsPose(c)
        for c, n in enumerate(("Lite", "Full", "Heavy"))
        if n.lower() in wanted
    }
    for spec in specs:
        name, sep, weights = spec.partition("=")
        if not sep or "," in name:  # no NAME= before the weights
            name, weights = spec, spec
        pipelines[name] = ours(weights)
    rows = score(pipelines, args.data_root, args.lsp_test)
    from blazepose.data.datasets import coco_files, dataset_folder
    from blazepose.evaluation.coco_eval import coco_part

    annotations, images = coco_files(dataset_folder("coco", args.data_root))
    gt = coco_part(annotations, "val")
    paths = [images / im["file_name"] for im in gt["images"]][: args.timing]
    times = timing(pipelines, paths, args.rounds, "MediaPipe Full (solutions.pose)")
    first = next(iter(rows.values()))
    print(
        f"LSP validation part: 200 images; coco_mini validation half: {len(gt['images'])} images, "
        f"{first['labelled_people']} labelled people, {first['empty_images']} images without anyone; time: "
        f"{len(paths)} coco_mini images x {args.rounds} rounds, 2-core CPU\n"
    )
    test = "| LSP test PCK@0.2 " if args.lsp_test else ""
    print(
        f"| pipeline {test}| LSP val PCK@0.2 | LSP images with nobody found | coco OKS AP | coco PCK@0.2 of people | "
        "people found | people predicted | false people (empty images) | ms / image | x MediaPipe Full |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|" + ("---|" if args.lsp_test else ""))
    for name, r in rows.items():
        ms, ratio = times[name]
        test = f"| {100 * r['lsp_test']:.1f} " if args.lsp_test else ""
        print(
            f"| {name} {test}| {100 * r['lsp_pck']:.1f} | {r['lsp_nobody']} | {100 * r['oks_ap']:.1f} | "
            f"{100 * r['coco_pck']:.1f} | {100 * r['recall']:.0f} % | {r['people']} | {r['false_people']} | "
            f"{ms:.0f} | {ratio:.2f} |"
        )


if __name__ == "__main__":
    main()

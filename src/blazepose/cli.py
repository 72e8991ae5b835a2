"""The ``blazepose`` command: thin argument parsing; the work happens in importable functions.

A user mistake (bad file, bad config, bad argument) prints one ``error:`` line and exits with status 2;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from blazepose import __version__
from blazepose.errors import BlazePoseError, Terminated, missing_package_message, terminate

EXAMPLES = """\
examples:
  blazepose data check lsp lspet              validate the datasets under the data root
  blazepose data check ../shared/datasets/lsp validate a dataset folder
  blazepose data show lsp --count 16 --output grid.png
                                              what the network is fed, skeletons drawn after augmentation
  blazepose data download lsp --dest data/    fetch a public archive (sha256-checked)
  blazepose info --variant lite               parameters and FLOPs
  blazepose train --config configs/smoke.toml --run-dir runs/smoke
  blazepose train --run-dir runs/smoke --resume
  blazepose predict photo.jpg                 the default (mp-full): every person, keypoints as JSON
  blazepose predict photos/ --output preds.json --draw drawn/
  blazepose evaluate --split val              the default pipeline on LSP's validation part
  blazepose evaluate --dataset coco           several people: OKS AP on coco_mini's validation half
  blazepose video clip.mp4 --output tracked.avi --json tracked.jsonl
  blazepose predict photo.jpg --weights full   this toolkit's from-scratch Full model and its detector
  blazepose import pose_landmark_full.tflite --output imported/
                                              a MediaPipe model as a trainable Keras model
"""


WEIGHTS_HELP = (
    "landmark model: a packaged one (mp-full, the default, and mp-lite: MediaPipe's weights; full and lite: "
    "trained here from scratch), MediaPipe's released files by name (mediapipe-lite / -full / -heavy), or a file "
    "(.keras, .npz, .tflite, .onnx). Each packaged model brings its pipeline: blazepose info --presets"
)
DETECTOR_HELP = (
    "person detector: 'auto' (the default: the one the landmark model's preset pairs with it, "
    "blazepose info --presets), 'detector' for the packaged one, 'mediapipe' for MediaPipe's released one, "
    "a file (.keras, .npz, .tflite, .onnx), or "
    "'none': the whole-image passes only (one person). With full and lite, the detector's people and the "
    "whole-image person are merged (docs/detector.md)"
)


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="TOML file of settings that differ from the defaults")
    p.add_argument(
        "--set",
        metavar="SECTION.KEY=VALUE",
        action="append",
        default=[],
        dest="overrides",
        help="override one setting, e.g. --set data.batch_size=16 (repeatable)",
    )
    p.add_argument(
        "--data-root",
        metavar="DIR",
        help="folder holding lsp/, lspet/, ... (default: $BLAZEPOSE_DATA, else ../shared/datasets)",
    )


def _config(args: argparse.Namespace):
    from blazepose.config import load_config

    overrides = list(args.overrides)
    if getattr(args, "data_root", None):
        overrides.append(f"data.root={args.data_root}")
    return load_config(args.config, overrides)


def cmd_data_check(args: argparse.Namespace) -> int:
    from blazepose.data.check import check_dataset, format_report
    from blazepose.data.datasets import resolve_dataset

    ok = True
    for item in args.datasets:
        name, folder = resolve_dataset(item, args.data_root)
        report = check_dataset(name, folder, progress=not args.quiet)
        print(format_report(report))
        ok &= report.ok
    return 0 if ok else 1


def cmd_data_show(args: argparse.Namespace) -> int:
    cfg = _config(args)  # before the import below, which loads TensorFlow: a config mistake is one clean line
    from blazepose.data.show import show_samples

    path = show_samples(
        cfg,
        args.dataset,
        args.output,
        split=args.split,
        count=args.count,
        columns=args.columns,
        augment=not args.no_augment,
        seed=args.seed,
    )
    print(f"wrote {path}")
    return 0


def cmd_data_download(args: argparse.Namespace) -> int:
    from blazepose.data.download import download_dataset

    folder = download_dataset(args.name, args.dest, url=args.url, sha256=args.sha256)
    print(f"{args.name} is ready in {folder}; check it with: blazepose data check {folder}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    run_dir = args.run_dir or f"runs/{Path(args.config).stem if args.config else 'default'}"
    if args.resume and args.config:
        raise BlazePoseError("--resume continues with the run's own config.toml: drop --config (--set still applies)")
    cfg = None if args.resume else _config(args)  # config mistakes are reported before TensorFlow loads
    from blazepose.training.train import train

    if args.resume:
        overrides = list(args.overrides) + ([f"data.root={args.data_root}"] if args.data_root else [])
        summary = train(None, run_dir, resume=True, overrides=tuple(overrides))
    else:
        summary = train(cfg, run_dir)
    print(f"done: {summary['run_dir']}/model.keras")
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from blazepose.recipes import describe, plan, run

    steps = plan(args.name, Path(args.runs_dir))
    print(describe(steps))
    if not args.dry_run:
        run(steps)
        print(f"done: {steps[-1].output}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    if args.presets:
        from blazepose import presets

        print(presets.table())
        print("packaged: a folder each under src/blazepose/presets/ with card.md (source, licence, recipe, measures)")
        return 0
    from blazepose.config import load_config
    from blazepose.models.info import model_info
    from blazepose.presets import PACKAGED

    if args.variant and args.config:
        raise BlazePoseError("give --variant or --config, not both")
    # a packaged model's network as it ships: the config in its folder
    config = PACKAGED[args.variant].file(".toml") if args.variant else args.config
    print(model_info(load_config(config, list(args.overrides))))
    return 0


def _predictor(args: argparse.Namespace, batch_size: int, fallback: bool = False, **kw):
    """The Predictor that predict, evaluate and video build from their shared options. A Keras model (.keras,
    .npz) or a heatmap / regression choice (--decode) loads the training part first (TensorFlow): the runtime
    runs .tflite and .onnx files without it."""
    from blazepose.artifacts import needs_training
    from blazepose.defaults import MIN_POSE_SCORE
    from blazepose.inference import AUTO, Predictor, Settings

    # "auto" is the detector a preset pairs with its model: the packaged one's .tflite or MediaPipe's, no Keras
    detector = args.detector not in (None, "none", AUTO) and needs_training(args.detector, default="detector")
    if detector or needs_training(args.weights, trainable=args.decode is not None):
        import blazepose.training  # noqa: F401  (registers the Keras formats)

    settings = Settings(
        passes=args.passes,
        batch_size=batch_size,
        decode=args.decode,
        # --min-presence 0 keeps everyone: the mean-joint-score rule is off with it
        min_pose_score=0.0 if args.min_presence == 0 else MIN_POSE_SCORE,
        fallback=fallback,
    )
    return Predictor(
        args.weights,
        args.detector,
        flip=args.flip,
        min_detection_score=args.min_detection_score,
        min_presence=args.min_presence,
        num_threads=args.threads,
        settings=settings,
        **kw,
    )


def cmd_predict(args: argparse.Namespace) -> int:
    """Checks first (batch size, output paths, images), then the run, holding a lock on --output."""
    from blazepose import outputs
    from blazepose.data.images import list_images

    if args.batch_size < 1:
        raise BlazePoseError(f"--batch-size must be at least 1, got {args.batch_size}")
    paths = list_images(args.paths)
    outputs.check_file(args.output, "--output", [*args.paths, *paths])
    outputs.check_folder(args.draw, "--draw", args.paths)
    if args.draw and args.output and Path(args.output).resolve().parent == Path(args.draw).resolve():
        names = {f"{Path(p).stem}.png" for p in paths}
        if Path(args.output).name in names:
            raise BlazePoseError(f"--output {args.output} would be overwritten by a drawing in --draw {args.draw}")
    if not paths:
        raise BlazePoseError(f"no images found in {', '.join(args.paths)}")
    with outputs.lock(args.output):
        return _predict(args, paths)


def _predict(args: argparse.Namespace, paths: list) -> int:
    import json

    from blazepose.inference import coco_results, predictions_json

    predictor = _predictor(args, args.batch_size, max_people=args.max_people)
    done, failed, nobody = [], [], []
    for path, result in predictor.predict_files(paths, progress=not args.quiet):
        if isinstance(result, str):
            if len(paths) == 1:
                raise BlazePoseError(result)
            print(f"warning: skipping {result}", file=sys.stderr)
            failed.append(path)
            continue
        done.append((path, result))
        if not result.people:
            nobody.append(path)
        if args.draw:
            from blazepose.data.images import load_image
            from blazepose.visualize import draw_people, save_png

            image, _ = load_image(path)
            save_png(
                draw_people(image, result.people, predictor.skeleton, args.joint_threshold),
                Path(args.draw) / f"{Path(path).stem}.png",
            )
    payload = (
        coco_results(done, predictor.skeleton) if args.format == "coco" else predictions_json(done, predictor.skeleton)
    )
    text = json.dumps(payload, indent=1)
    if args.output:
        from blazepose.outputs import atomic_write

        atomic_write(args.output, lambda f: f.write(text.encode()))
    else:
        print(text)
    people = sum(len(p.people) for _, p in done)
    msg = f"predicted {len(done)} image(s), {people} person(s)"
    if nobody:
        msg += f"; no person found in {len(nobody)}" + (f" ({nobody[0]})" if len(nobody) == 1 else "")
    if failed:
        msg += f"; skipped {len(failed)} unreadable file(s)"
    print(msg, file=sys.stderr)
    return 0 if done else 1


def cmd_evaluate(args: argparse.Namespace) -> int:
    from blazepose import outputs
    from blazepose.config import load_config
    from blazepose.data.datasets import dataset_skeleton, load_split, read_for, resolve_dataset
    from blazepose.evaluation.evaluate import compare, evaluate, format_table, load_report, write_report

    other = load_report(args.compare) if args.compare else None  # fail early on a bad --compare
    outputs.check_folder(args.output_dir, "--output-dir", [args.dataset] if Path(args.dataset).is_dir() else [])
    kind, folder = resolve_dataset(args.dataset, args.data_root)  # lsp, lspet, coco or custom, and its folder
    if kind == "coco":
        return _evaluate_coco(args, folder)
    custom = kind == "custom"  # a folder with annotations.json: its validation part (as training carves it)
    cfg = load_config(None, [f"data.root={folder}", f"data.split={kind}"])
    args.split = args.split or ("val" if custom else "test")
    if args.split == "all" and not custom:
        raise BlazePoseError(f"--split all is for COCO and custom folders; {args.dataset} has train / val / test")
    skeleton = dataset_skeleton(kind, folder)
    samples = read_for(kind, folder, skeleton) if args.split == "all" else load_split(cfg.data, args.split, skeleton)
    if args.limit:
        samples = samples[: args.limit]
    # One person per image: the best-ranked of the people found (the best one even where the presence output
    # says nobody, and the whole image where the detector found nobody present: the image is scored either way).
    predictor = _predictor(args, args.batch_size, fallback=True)
    report = evaluate(predictor, samples, crop=args.crop, progress=not args.quiet, skeleton=skeleton)
    report["weights"] = str(args.weights or "default")
    report["split"] = f"{args.dataset} {args.split}"
    title = f"{report['weights']} on {report['split']}"
    written = write_report(report, args.output_dir, title)
    print(format_table(report, title))
    print("\nwrote " + ", ".join(str(f) for f in written))
    if other is not None:
        print("\n" + compare(report, other, "this run", str(args.compare)))
    return 0


def _evaluate_coco(args: argparse.Namespace, folder: Path) -> int:
    """`evaluate --dataset coco` (the data root's coco_mini) or a COCO-format folder: OKS AP and friends."""
    import json

    from blazepose.data.datasets import coco_files
    from blazepose.evaluation.coco_eval import evaluate_coco, format_coco
    from blazepose.outputs import atomic_write

    annotations, images = coco_files(folder)
    part = {"test": "all", "val": "val", "all": "all", None: "val"}[args.split]
    predictor = _predictor(args, args.batch_size, max_people=args.max_people)
    report, _ = evaluate_coco(predictor, annotations, images, part, progress=not args.quiet, limit=args.limit)
    report["weights"] = str(args.weights or "default")
    report["detector"] = predictor.detector_name
    out = atomic_write(Path(args.output_dir) / "report.json", lambda f: f.write(json.dumps(report, indent=1).encode()))
    print(format_coco(report, f"{report['weights']} on {folder.name} ({part})"))
    print(f"\nwrote {out}")
    return 0


def cmd_video(args: argparse.Namespace) -> int:
    from blazepose.tracking import PoseTracker
    from blazepose.video import open_source, run_video

    if (args.source is None) == (args.camera is None):
        raise BlazePoseError("give a video file or --camera N (one of the two)")
    if not (args.output or args.json or args.show):
        raise BlazePoseError("nothing to do: pass --output VIDEO, --json FILE and/or --show")
    from blazepose import outputs

    open_source(args.source if args.source is not None else args.camera).release()  # fail before loading a model
    sources = [args.source] if args.source is not None else []
    outputs.check_file(args.output, "--output", sources)
    outputs.check_file(args.json, "--json", sources + ([args.output] if args.output else []))
    predictor = _predictor(args, batch_size=1, max_people=1)
    tracker = PoseTracker(predictor, smooth=not args.no_smooth)
    source = args.source if args.source is not None else args.camera
    with outputs.lock(args.output), outputs.lock(args.json):
        frames = run_video(
            tracker, source, args.output, args.json, args.show, args.max_frames, not args.quiet, args.joint_threshold
        )
    written = ", ".join(str(p) for p in (args.output, args.json) if p)
    print(f"tracked {frames} frame(s)" + (f"; wrote {written}" if written else ""), file=sys.stderr)
    return 0 if frames else 1


def cmd_export(args: argparse.Namespace) -> int:
    from blazepose import outputs

    with outputs.lock(args.output):
        return _export(args)


def _export(args: argparse.Namespace) -> int:
    from blazepose import outputs
    from blazepose.artifacts import resolve_weights
    from blazepose.export import export_model, meta_path

    weights = resolve_weights(args.weights, trainable=True)
    outputs.check_file(args.output, "--output", [weights])
    if args.mediapipe:
        from blazepose.export import export_mediapipe

        if args.format != "tflite":
            raise BlazePoseError("--mediapipe writes a .tflite: use --format tflite")
        quantize = "float16" if args.quantize == "none" else args.quantize
        meta = export_mediapipe(weights, args.output, "none" if args.float32 else quantize)
        worst = max(meta["parity"].values(), key=lambda c: c["max_abs_difference"] / c["bound"])
        print(
            f"wrote {args.output} ({Path(args.output).stat().st_size / 1e6:.1f} MB) with MediaPipe's signature "
            f"(input_1 -> {', '.join(o['name'] for o in meta['signature']['outputs'])}); parity with Keras: closest "
            f"{worst['max_abs_difference']:.2g} of {worst['bound']:.2g}"
        )
        return 0
    meta = export_model(
        weights,
        args.format,
        args.output,
        quantize=args.quantize,
        calibration_count=args.calibration_images,
        decode=args.decode,
        source=args.weights if args.weights and not Path(args.weights).exists() else None,  # a preset's name
    )
    p = meta["parity"]
    if "max_diff" in p:  # the detector
        print(
            f"wrote {args.output} ({Path(args.output).stat().st_size / 1e6:.1f} MB), with .toml and "
            f"{meta_path(args.output).name} beside it; parity with Keras on {p['images']} validation scenes: "
            + ", ".join(f"{k} {v:.2g}" for k, v in p["max_diff"].items())
            + f" (limit {p['limit']})"
        )
        return 0
    print(
        f"wrote {args.output} ({Path(args.output).stat().st_size / 1e6:.1f} MB), with .toml and .json beside it; "
        f"parity with Keras on {p['images']} validation crops: max {p['max_px']:.3f} px, mean {p['mean_px']:.3f} px, "
        f"{p['joints_beyond_limit']} joint(s) beyond the {p['limit_px']} px limit"
        + (", all between near-equal heatmap peaks" if p["heatmap_ties"] else "")
    )
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from blazepose.mediapipe import is_mediapipe_name, locate
    from blazepose.training.tflite_import import import_model

    source = locate(args.model) if is_mediapipe_name(args.model) and not Path(args.model).exists() else args.model
    r = import_model(source, args.output)
    worst = max(r["parity"].values(), key=lambda c: c["max_abs_difference"] / c["bound"])
    print(
        f"wrote {r['model']} ({r['imported']}, {r['parameters']:,} parameters; {r['task']}), with "
        f"{Path(r['model']).with_suffix('.toml').name} and {Path(r['model']).with_suffix('.json').name} beside it; "
        f"every output within its bound of LiteRT's (closest: {worst['max_abs_difference']:.2g} of "
        f"{worst['bound']:.2g})"
    )
    return 0


def cmd_average(args: argparse.Namespace) -> int:
    from blazepose.training.average import average_models

    out = average_models(args.models, args.output)
    config = out.with_suffix(".toml").name
    print(f"wrote {out}, the mean of {len(args.models)} models' weights, with {config} beside it")
    return 0


def _add_flip(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="CPU threads of the LiteRT interpreter for .tflite models (default: the cores this process may use, "
        "at most 4)",
    )
    parser.add_argument(
        "--flip",
        action="store_true",
        help="also run the mirrored crop and fuse the two per joint: averaged where they agree, else the "
        "higher-scoring one (twice the compute; with the packaged models, whole image in, +0.5 points on the LSP "
        "test half for Full, +1.4 for Lite)",
    )


def _add_detector(parser: argparse.ArgumentParser, people: bool = True, threshold: bool = True) -> None:
    from blazepose.defaults import JOINT_THRESHOLD, MAX_PEOPLE, MIN_PRESENCE

    parser.add_argument("--detector", metavar="MODEL", default="auto", help=DETECTOR_HELP)
    parser.add_argument(
        "--min-presence",
        type=float,
        default=MIN_PRESENCE,
        help="drop people whose crop the landmark model's presence output scores below this (0..1; default "
        f"{MIN_PRESENCE}; 0 keeps everyone, whatever their mean joint score; models without a presence output "
        "are not filtered)",
    )
    parser.add_argument(
        "--min-detection-score",
        "--min-score",
        type=float,
        help="drop people the detector scores below this (0..1; default: the model's preset's, chosen on "
        "validation: blazepose info --presets)",
    )
    if people:
        parser.add_argument(
            "--max-people",
            type=int,
            default=MAX_PEOPLE,
            help=f"at most this many people per image (default {MAX_PEOPLE})",
        )
    if threshold:
        parser.add_argument(
            "--joint-threshold",
            type=float,
            default=JOINT_THRESHOLD,
            help=f"drawings leave out joints scoring below this (default {JOINT_THRESHOLD})",
        )


def _add_decode(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--decode",
        choices=["regression", "heatmap"],
        help="joints from the regression head (the paper) or from the heatmap branch (argmax + offset); "
        "default: what the model's config says. Fixed in exported files.",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="blazepose",
        description="Open, trainable BlazePose: data, training, evaluation, inference and export.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"blazepose {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    data = commands.add_parser("data", help="check, show or download datasets")
    data_cmds = data.add_subparsers(dest="data_command", metavar="ACTION")

    check = data_cmds.add_parser(
        "check",
        help="validate datasets: counts, unreadable images, coordinate ranges, flag polarities",
        description="Read each dataset, decode every image once and report what is wrong. Exit status 1 "
        "when anything is (unreadable images, NaN coordinates, a flag polarity that looks inverted).",
    )
    check.add_argument(
        "datasets",
        nargs="*",
        default=["lsp", "lspet"],
        metavar="DATASET",
        help="dataset name (lsp, lspet, coco) or folder; default: lsp lspet",
    )
    check.add_argument("--data-root", metavar="DIR", help="folder holding the datasets")
    check.add_argument("--quiet", action="store_true", help="no progress bar")
    check.set_defaults(func=cmd_data_check)

    show = data_cmds.add_parser(
        "show",
        help="draw a grid of training samples with their skeletons, after augmentation",
        description="Draw what the network will be fed: crops after augmentation, joints drawn from the "
        "encoded targets (person's left in blue, right in red, centre in green).",
    )
    show.add_argument("dataset", nargs="?", default="lsp", help="lsp, lspet, coco or a folder (default lsp)")
    show.add_argument(
        "--split",
        choices=["train", "val", "test", "all"],
        default="all",
        help="for LSP: which part of the standard split (default all)",
    )
    show.add_argument("--count", type=int, default=16, help="number of samples (default 16)")
    show.add_argument("--columns", type=int, default=4, help="grid columns (default 4)")
    show.add_argument("--seed", type=int, default=0, help="augmentation seed (default 0)")
    show.add_argument("--no-augment", action="store_true", help="plain person crops, no augmentation")
    show.add_argument("--output", default="samples.png", help="PNG to write (default samples.png)")
    _add_config_args(show)
    show.set_defaults(func=cmd_data_show)

    dl = data_cmds.add_parser(
        "download",
        help="download a public dataset archive (sha256-checked) and unpack it",
        description="Download LSP or LSPet, check the archive's sha256 (when known) and the sha256 of its "
        "joints.mat, and unpack it into DEST/<name>.",
    )
    dl.add_argument("name", choices=["lsp", "lspet"], help="which dataset")
    dl.add_argument("--dest", required=True, help="folder to unpack into (becomes a data root)")
    dl.add_argument("--url", help="another address for the archive (a mirror, or file:///path.zip)")
    dl.add_argument("--sha256", help="expected sha256 of the archive")
    dl.set_defaults(func=cmd_data_download)

    tr = commands.add_parser(
        "train",
        help="train a landmark model (its phases in order: heatmap, regression, fine-tune, presence; or an imported "
        "MediaPipe graph whole) or the person detector, each epoch chosen on validation; --resume continues",
        description="Phase 1 trains the backbone and heatmap head, phase 2 the regression head from the best "
        "phase-1 epoch (chosen on the validation split), an optional phase 3 fine-tunes everything. "
        "Checkpoints, logs and curves go to the run directory; --resume continues an interrupted run.",
    )
    _add_config_args(tr)
    tr.add_argument("--run-dir", help="where checkpoints and logs go (default runs/<config name>)")
    tr.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --run-dir from its last checkpoint, with its own config (+ any --set)",
    )
    tr.set_defaults(func=cmd_train)

    pr = commands.add_parser(
        "predict",
        help="the people in images or folders of images: score, box, alignment and keypoints",
        description="Find every person (the detector: score, box, and the alignment: centre at mid-hips, "
        "radius, rotation), then predict the model's joints (its skeleton: MediaPipe's 33 for mp-full and mp-lite, "
        "LSP's 14 for full and lite) of each on the crop turned upright by it; with --passes 2 (full and lite), a "
        "re-crop around the first pass's keypoints. An image without a "
        "person gets an empty list of people. Keypoints are in original image pixels, each with a score. A "
        "single unreadable image is an error; in a batch it is skipped with a warning.",
    )
    pr.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders of images")
    pr.add_argument("--weights", help=WEIGHTS_HELP)
    pr.add_argument("--output", metavar="JSON", help="write predictions here (default: print them)")
    pr.add_argument("--draw", metavar="DIR", help="also write each image with its skeleton drawn")
    pr.add_argument(
        "--format",
        choices=["json", "coco"],
        default="json",
        help="json: this toolkit's layout (README, Output); coco: COCO keypoint results for pycocotools",
    )
    pr.add_argument(
        "--passes", type=int, help="1 = the detector's crop only; 2+ = re-crop (default: the model's preset's)"
    )
    _add_detector(pr)
    _add_flip(pr)
    _add_decode(pr)
    pr.add_argument("--batch-size", type=int, default=16, help="images per network call (default 16)")
    pr.add_argument("--quiet", action="store_true", help="no progress bar")
    pr.set_defaults(func=cmd_predict)

    ev = commands.add_parser(
        "evaluate",
        help="PCK@0.2, PCKh@0.5, AUC, pixel error on the LSP test half (or val), with report files",
        description="Run predict's exact path over a split and score it: PCK@0.2 (torso-normalized) per joint, "
        "per part and mean, PCKh@0.5, AUC of the PCK curve, mean pixel error, and the seed's legacy metric "
        "under its own name. Writes report.json, report.md and pck_curve.png.",
    )
    ev.add_argument("--weights", help=WEIGHTS_HELP)
    ev.add_argument(
        "--dataset",
        default="lsp",
        help="lsp (PCK@0.2, one person per image), lspet (the seed's LSPet benchmark: test = im02501-im03000, "
        "val = the part carved from im00001-im02500), coco (the data root's coco_mini: OKS AP, several people), "
        "a folder with annotations.json (your own keypoints: PCK@0.2 on its validation part, or --split all), "
        "or a COCO-format folder (annotations/person_keypoints_*.json beside its images)",
    )
    ev.add_argument(
        "--split",
        choices=["test", "val", "all"],
        help="LSP: test = im1001-im2000 (default), val = the validation part of the train half; COCO: val = "
        "the validation half (images at odd places in id order; default), test / all = every image",
    )
    ev.add_argument(
        "--crop",
        default="none",
        choices=["none", "gt"],
        help="none: whole image (the headline); gt: crop from ground truth (diagnostic, labelled)",
    )
    ev.add_argument("--passes", type=int, help="inference passes (default: the model's preset's)")
    _add_detector(ev, threshold=False)
    _add_flip(ev)
    _add_decode(ev)
    ev.add_argument("--output-dir", default="eval", help="folder for report.json/.md and pck_curve.png")
    ev.add_argument("--compare", metavar="REPORT_JSON", help="print this run beside another report.json")
    ev.add_argument("--limit", type=int, default=0, help="evaluate only the first N images (quick looks)")
    ev.add_argument("--batch-size", type=int, default=16, help="images per network call (default 16)")
    ev.add_argument("--data-root", metavar="DIR", help="folder holding lsp/")
    ev.add_argument("--quiet", action="store_true", help="no progress bar")
    ev.set_defaults(func=cmd_evaluate)

    vd = commands.add_parser(
        "video",
        help="track one person through a video file or a webcam, with smoothing",
        description="The first frame (and any frame after the track is lost: presence below --min-presence, or "
        "mean joint score below 0.2 for a model without presence) runs predict's pipeline for the model "
        "(--detector none: the whole-image passes only); later frames crop around the previous "
        "frame's keypoints, upright, and run one pass. Keypoints are smoothed with a One Euro filter. Writes a "
        "drawn video and/or one JSON line per frame.",
    )
    vd.add_argument("source", nargs="?", help="video file")
    vd.add_argument("--camera", type=int, help="webcam index instead of a file (e.g. 0)")
    vd.add_argument("--weights", help=WEIGHTS_HELP)
    vd.add_argument("--output", help="write the video with skeletons drawn (.avi or .mp4)")
    vd.add_argument("--json", help="write one JSON line per frame: frame, time, people (as predict's)")
    vd.add_argument("--show", action="store_true", help="show a window (needs OpenCV with a GUI); q quits")
    vd.add_argument("--no-smooth", action="store_true", help="raw keypoints, no One Euro smoothing")
    vd.add_argument("--passes", type=int, help="passes when (re)starting a track (default: the model's preset's)")
    _add_detector(vd, people=False)
    _add_flip(vd)
    _add_decode(vd)
    vd.add_argument("--max-frames", type=int, default=0, help="stop after N frames (0 = all)")
    vd.add_argument("--quiet", action="store_true", help="no progress bar")
    vd.set_defaults(func=cmd_video)

    ex = commands.add_parser(
        "export",
        help="export the inference model (keypoints, scores, presence) to TFLite, ONNX or .npz, checked against "
        "Keras; --mediapipe writes an imported MediaPipe model back with its original signature",
        description="Export the inference model (without the branch that --decode does not use) and check it "
        "against the Keras model on real validation crops; fails when keypoints differ by more than the limit "
        "for the quantization. int8 calibrates on real training crops. The resolved config goes beside the file "
        "(.toml, .json).",
    )
    ex.add_argument(
        "--weights",
        help="model file (.keras from training, or .npz), full / lite / detector for a packaged model, or a "
        "MediaPipe name (mediapipe-full, mp-full: its import); default: mp-full",
    )
    ex.add_argument(
        "--format",
        required=True,
        choices=["tflite", "onnx", "npz"],
        help="npz = the inference weights alone, for this package (what it ships)",
    )
    ex.add_argument(
        "--quantize",
        default="none",
        choices=["none", "float16", "int8"],
        help="float16: tflite or npz; int8: tflite only",
    )
    ex.add_argument("--output", required=True, help="file to write (.tflite, .onnx or .npz)")
    ex.add_argument(
        "--calibration-images", type=int, default=400, help="int8: training crops used for calibration (default 400)"
    )
    ex.add_argument(
        "--mediapipe",
        action="store_true",
        help="write an imported MediaPipe model (or one trained from it) back with the released file's exact "
        "signature, to replace pose_landmark_*.tflite / pose_detection.tflite in MediaPipe itself; float16 weights "
        "as released unless --float32",
    )
    ex.add_argument("--float32", action="store_true", help="with --mediapipe: float32 weights")
    _add_decode(ex)
    ex.set_defaults(func=cmd_export)

    im = commands.add_parser(
        "import",
        help="rebuild a MediaPipe pose .tflite as a trainable Keras model (docs/mediapipe.md)",
        description="Read a MediaPipe BlazePose .tflite (pose_landmark_lite/full/heavy or pose_detection) with the "
        "TFLite schema and rebuild its graph as a Keras model, one layer per op, with the file's weights (float16 "
        "dequantized, sparse densified). Checked against LiteRT before anything is written; writes DIR/<name>.keras "
        "with its config (.toml) and a record (.json: source, sha256, signature, parity). Train from it with "
        "train.init_from = DIR/<name>.keras (or mediapipe-lite / -full / -heavy, imported into the model cache).",
    )
    im.add_argument(
        "model",
        help="a .tflite file, or mediapipe-lite / mediapipe-full / mediapipe-heavy / mediapipe-detector (found as "
        "--weights finds them)",
    )
    im.add_argument("--output", required=True, metavar="DIR", help="folder to write the model into")
    im.set_defaults(func=cmd_import)

    av = commands.add_parser(
        "average",
        help="average the weights of several trained models of one config (a model soup)",
        description="Write the mean of the weights of two or more .keras models that 'blazepose train' wrote "
        "with the same model config, batch-norm statistics included; the first model's config goes beside it. "
        "Runs fine-tuned from one starting point average into a working model, sometimes better than each of "
        "them; check it on the validation split (blazepose evaluate --split val --compare ...).",
    )
    av.add_argument("models", nargs="+", metavar="MODEL", help=".keras files (e.g. runs/x/model.keras)")
    av.add_argument("--output", required=True, help=".keras file to write")
    av.set_defaults(func=cmd_average)

    rp = commands.add_parser(
        "reproduce",
        help="make a shipped model from scratch, stage after stage (configs/recipes/NAME.toml)",
        description="Run a recipe: every training, averaging and export stage that makes a shipped model, in "
        "order, each in its own process, outputs under RUNS_DIR/NAME/STAGE. Finished stages are skipped and an "
        "interrupted training is resumed, so the same command continues after a stop. Stages of another "
        "recipe that this one needs run first. The exported file is written under RUNS_DIR, never over the "
        "packaged one.",
    )
    rp.add_argument("name", help="recipe: full, lite, detector (configs/recipes/), or a recipe .toml file")
    rp.add_argument("--runs-dir", default="runs/reproduce", help="where the stages write (default runs/reproduce)")
    rp.add_argument("--dry-run", action="store_true", help="check the recipe and list its commands; run nothing")
    rp.set_defaults(func=cmd_reproduce)

    info = commands.add_parser(
        "info",
        help="parameter counts (whole model and each sub-model) and forward FLOPs per image; --presets: the models "
        "runnable by name",
        description="Build the network from the config and print its parameter counts and FLOPs; with --presets, "
        "list every model this toolkit runs by name (packaged and MediaPipe's): task, recipe, source, licence.",
    )
    info.add_argument("--presets", action="store_true", help="list the models runnable by name, and stop")
    info.add_argument(
        "--variant",
        choices=["full", "lite", "detector"],  # the packaged networks this toolkit builds (mp-*: MediaPipe's graphs)
        help="a packaged model's network, as it ships (its config in presets/<name>/; default: --config's)",
    )
    info.add_argument("--config", metavar="FILE", help="TOML config file")
    info.add_argument(
        "--set",
        metavar="SECTION.KEY=VALUE",
        action="append",
        default=[],
        dest="overrides",
        help="override one setting, e.g. --set model.head=linear_xyv (repeatable)",
    )
    info.set_defaults(func=cmd_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import signal

    signal.signal(signal.SIGTERM, terminate)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        sub = {"data": "data"}.get(args.command)
        parser.parse_args([sub, "--help"] if sub else ["--help"])
        return 2
    try:
        return int(args.func(args) or 0)
    except BlazePoseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:  # a command that needs what the runtime install leaves out
        message = missing_package_message((exc.name or "").split(".")[0])
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("terminated", file=sys.stderr)
        return 143
    except BrokenPipeError:  # the reader went away (| head): stop quietly, as other command-line tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


def run() -> None:
    """The console script: `main`, then the process ends at once with its status. A plain exit would wait for
    threads a library left running (tf.data's, a distribution strategy's), which after an error can hang for
    minutes; everything this toolkit writes is complete by the time `main` returns."""
    try:
        code = main()
    except SystemExit as exc:  # argparse: --help, a usage error
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()

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
from blazepose.errors import BlazePoseError

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
  blazepose predict photos/ --weights runs/smoke/model.keras --output preds.json --draw drawn/
  blazepose evaluate --weights runs/smoke/model.keras --split test --output-dir eval/
  blazepose average runs/a/model.keras runs/b/model.keras --output soup.keras
  blazepose video clip.mp4 --weights runs/smoke/model.keras --output tracked.avi --json tracked.jsonl
"""


WEIGHTS_HELP = "model: .keras, .npz, .tflite or .onnx, or full / lite for a packaged model; default: full"


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


def cmd_info(args: argparse.Namespace) -> int:
    from blazepose.config import load_config
    from blazepose.models.info import model_info

    overrides = list(args.overrides) + ([f"model.variant={args.variant}"] if args.variant else [])
    print(model_info(load_config(args.config, overrides)))
    return 0


def _predictor(args: argparse.Namespace, batch_size: int):
    """The Predictor that predict, evaluate and video build from their shared options."""
    from blazepose.inference import Predictor

    return Predictor(args.weights, passes=args.passes, batch_size=batch_size, flip=args.flip, decode=args.decode)


def cmd_predict(args: argparse.Namespace) -> int:
    import json

    from blazepose.data.images import list_images
    from blazepose.inference import predictions_json
    from blazepose.keypoints import LSP

    paths = list_images(args.paths)
    if not paths:
        raise BlazePoseError(f"no images found in {', '.join(args.paths)}")
    predictor = _predictor(args, args.batch_size)
    done, failed = [], []
    for path, result in predictor.predict_files(paths, progress=not args.quiet):
        if isinstance(result, str):
            print(f"warning: skipping {result}", file=sys.stderr)
            failed.append(path)
            continue
        done.append((path, result))
        if args.draw:
            from blazepose.data.images import load_image
            from blazepose.visualize import draw_skeleton, save_png

            image, _ = load_image(path)
            drawn = draw_skeleton(image, result.keypoints, result.visibility >= 0, LSP)
            save_png(drawn, Path(args.draw) / f"{Path(path).stem}.png")
    payload = predictions_json(done)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(payload, indent=1))
    else:
        print(json.dumps(payload, indent=1))
    msg = f"predicted {len(done)} image(s)"
    if failed:
        msg += f"; skipped {len(failed)} unreadable file(s)"
    print(msg, file=sys.stderr)
    return 0 if done else 1


def cmd_evaluate(args: argparse.Namespace) -> int:
    from blazepose.config import load_config
    from blazepose.data.datasets import load_split
    from blazepose.evaluation.evaluate import compare, evaluate, format_table, load_report, write_report

    other = load_report(args.compare) if args.compare else None  # fail early on a bad --compare
    cfg = load_config(None, [f"data.root={args.data_root}"] if args.data_root else [])
    if args.dataset != "lsp":
        raise BlazePoseError(f"--dataset {args.dataset}: only lsp has the standard split (lsp)")
    samples = load_split(cfg.data, args.split)
    if args.limit:
        samples = samples[: args.limit]
    predictor = _predictor(args, args.batch_size)
    report = evaluate(predictor, samples, crop=args.crop, progress=not args.quiet)
    report["weights"] = str(args.weights or "default")
    report["split"] = f"{args.dataset} {args.split}"
    title = f"{report['weights']} on {report['split']}"
    out = write_report(report, args.output_dir, title)
    print(format_table(report, title))
    print(f"\nwrote {out}/report.json, report.md, pck_curve.png")
    if other is not None:
        print("\n" + compare(report, other, "this run", str(args.compare)))
    return 0


def cmd_video(args: argparse.Namespace) -> int:
    from blazepose.tracking import PoseTracker
    from blazepose.video import open_source, run_video

    if (args.source is None) == (args.camera is None):
        raise BlazePoseError("give a video file or --camera N (one of the two)")
    if not (args.output or args.json or args.show):
        raise BlazePoseError("nothing to do: pass --output VIDEO, --json FILE and/or --show")
    open_source(args.source if args.source is not None else args.camera).release()  # fail before loading a model
    predictor = _predictor(args, batch_size=1)
    tracker = PoseTracker(predictor, smooth=not args.no_smooth)
    source = args.source if args.source is not None else args.camera
    frames = run_video(tracker, source, args.output, args.json, args.show, args.max_frames, not args.quiet)
    written = ", ".join(str(p) for p in (args.output, args.json) if p)
    print(f"tracked {frames} frame(s)" + (f"; wrote {written}" if written else ""), file=sys.stderr)
    return 0 if frames else 1


def cmd_export(args: argparse.Namespace) -> int:
    from blazepose.export import export_model
    from blazepose.inference import resolve_weights

    weights = resolve_weights(args.weights)
    meta = export_model(
        weights,
        args.format,
        args.output,
        quantize=args.quantize,
        calibration_count=args.calibration_images,
        decode=args.decode,
    )
    p = meta["parity"]
    print(
        f"wrote {args.output} ({Path(args.output).stat().st_size / 1e6:.1f} MB), with .toml and .json beside it; "
        f"parity with Keras on {p['images']} validation crops: max {p['max_px']:.3f} px, mean {p['mean_px']:.3f} px, "
        f"{p['joints_beyond_limit']} joint(s) beyond the {p['limit_px']} px limit"
        + (", all between near-equal heatmap peaks" if p["heatmap_ties"] else "")
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
        "--flip",
        action="store_true",
        help="also run the mirrored crop and fuse the two per joint: averaged where they agree, else the "
        "higher-scoring one (twice the compute; with the packaged models +0.6 points on the LSP test half for Full, "
        "+1.4 for Lite)",
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
    dl.add_argument("name", choices=["lsp", "lspet"])
    dl.add_argument("--dest", required=True, help="folder to unpack into (becomes a data root)")
    dl.add_argument("--url", help="another address for the archive (a mirror, or file:///path.zip)")
    dl.add_argument("--sha256", help="expected sha256 of the archive")
    dl.set_defaults(func=cmd_data_download)

    tr = commands.add_parser(
        "train",
        help="two-phase training (heatmap, then regression [, fine-tune]) with validation-based selection",
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
        help="keypoints for images or folders of images (whole image in, two passes)",
        description="Predict the 14 LSP joints of the person in each image. Pass 1 sees the whole image "
        "letterboxed; pass 2 re-crops around pass 1's keypoints. No ground truth is used. Keypoints are in "
        "original image pixels.",
    )
    pr.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders of images")
    pr.add_argument("--weights", help=WEIGHTS_HELP)
    pr.add_argument("--output", metavar="JSON", help="write predictions here (default: print them)")
    pr.add_argument("--draw", metavar="DIR", help="also write each image with its skeleton drawn")
    pr.add_argument("--passes", type=int, default=2, help="1 = whole image only; 2+ = re-crop (default 2)")
    _add_flip(pr)
    _add_decode(pr)
    pr.add_argument("--batch-size", type=int, default=16)
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
    ev.add_argument("--dataset", default="lsp", help="dataset with a standard split (lsp)")
    ev.add_argument("--split", default="test", choices=["test", "val"], help="test = im1001-im2000 (default)")
    ev.add_argument(
        "--crop",
        default="none",
        choices=["none", "gt"],
        help="none: whole image (the headline); gt: crop from ground truth (diagnostic, labelled)",
    )
    ev.add_argument("--passes", type=int, default=2, help="inference passes (default 2)")
    _add_flip(ev)
    _add_decode(ev)
    ev.add_argument("--output-dir", default="eval", help="folder for report.json/.md and pck_curve.png")
    ev.add_argument("--compare", metavar="REPORT_JSON", help="print this run beside another report.json")
    ev.add_argument("--limit", type=int, default=0, help="evaluate only the first N images (quick looks)")
    ev.add_argument("--batch-size", type=int, default=16)
    ev.add_argument("--data-root", metavar="DIR", help="folder holding lsp/")
    ev.add_argument("--quiet", action="store_true", help="no progress bar")
    ev.set_defaults(func=cmd_evaluate)

    vd = commands.add_parser(
        "video",
        help="track one person through a video file or a webcam, with smoothing",
        description="The first frame (and any frame after the track is lost) runs the whole-image passes; later "
        "frames crop around the previous frame's keypoints and run one pass. Keypoints are smoothed with a "
        "One Euro filter. Writes a drawn video and/or one JSON line per frame.",
    )
    vd.add_argument("source", nargs="?", help="video file")
    vd.add_argument("--camera", type=int, help="webcam index instead of a file (e.g. 0)")
    vd.add_argument("--weights", help=WEIGHTS_HELP)
    vd.add_argument("--output", help="write the video with skeletons drawn (.avi or .mp4)")
    vd.add_argument("--json", help="write one JSON line per frame: frame, time, 14 [x, y, visibility]")
    vd.add_argument("--show", action="store_true", help="show a window (needs OpenCV with a GUI); q quits")
    vd.add_argument("--no-smooth", action="store_true", help="raw keypoints, no One Euro smoothing")
    vd.add_argument("--passes", type=int, default=2, help="passes when (re)starting a track (default 2)")
    _add_flip(vd)
    _add_decode(vd)
    vd.add_argument("--max-frames", type=int, default=0, help="stop after N frames (0 = all)")
    vd.add_argument("--quiet", action="store_true", help="no progress bar")
    vd.set_defaults(func=cmd_video)

    ex = commands.add_parser(
        "export",
        help="export the joints-only model to TFLite or ONNX, checked against Keras",
        description="Export the inference model (without the branch that --decode does not use) and check it "
        "against the Keras model on real validation crops; fails when keypoints differ by more than the limit "
        "for the quantization. int8 calibrates on real training crops. The resolved config goes beside the file "
        "(.toml, .json).",
    )
    ex.add_argument(
        "--weights", help="model file (.keras from training), or full / lite for a packaged model; default: full"
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
    _add_decode(ex)
    ex.set_defaults(func=cmd_export)

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

    info = commands.add_parser(
        "info",
        help="parameter counts (whole model and each sub-model) and forward FLOPs per image",
        description="Build the network from the config and print its parameter counts and FLOPs.",
    )
    info.add_argument("--variant", choices=["full", "lite"], help="model size (default: the config's)")
    info.add_argument("--config", metavar="FILE", help="TOML config file")
    info.add_argument("--set", metavar="SECTION.KEY=VALUE", action="append", default=[], dest="overrides")
    info.set_defaults(func=cmd_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
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
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

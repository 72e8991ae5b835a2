"""Export an inference model to TFLite (LiteRT), ONNX or .npz weights, and check it against Keras.

A landmark model takes (1, S, S, 3) float32 RGB in 0..255 (it normalizes internally, like the Keras model)
and returns ``joints`` (1, K, 2) normalized to the crop and ``visibility`` (1, K); the person detector returns
its maps (``centre`` logits, ``offset``, ``size``, ``rotation``, ``box``). Beside ``model.tflite`` go
``model.toml`` (the resolved config, shared by exports of one model to one base name) and ``model.tflite.json``
(input, outputs and the parity figures of that file), so ``blazepose predict/evaluate --weights model.tflite``
pre- and post-process it exactly as the Keras model.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from pathlib import Path

import numpy as np

from blazepose._quiet import native_stderr_silenced
from blazepose._tensorflow import import_tensorflow
from blazepose.artifacts import config_beside, load_runner, require
from blazepose.codec import heat_to_normalized
from blazepose.config import Config, dumps_config, portable_config, save_config
from blazepose.errors import BlazePoseError
from blazepose.keypoints import skeleton_of
from blazepose.outputs import atomic_write
from blazepose.training.formats import KerasRunner, load_network, write_exported

FORMATS = ("tflite", "onnx", "npz")  # npz: the inference weights alone (float32 or float16), with the config
QUANTIZE = ("none", "float16", "int8")
# Parity limits in input pixels: float32 must agree to well under a pixel; quantized models are judged on
# their validation PCK (bench/latency.py, evaluate), the limit here only catches a broken export.
MAX_DIFF_PX = {"none": 0.5, "float16": 2.0, "int8": 24.0}
# With heatmap decoding a joint is an argmax: where two heatmap cells nearly tie (common in a barely trained
# model), rounding alone can move it a long way. Such a joint is forgiven only when the place the export gave
# is the Keras model's own decode of a near-maximal cell: one within this fraction of the joint's heatmap
# range (max - min) of its maximum. Float32 runtimes differ by about 1e-6 of the range; a broken export (a
# wrong layer, channel order, mirrored axis) puts joints where no near-maximal cell points.
HEATMAP_TIE_TOLERANCE = {"none": 1e-3, "float16": 2e-2, "int8": 0.1}


# int8 calibration crops: on the validation split, 400 lost 0.8 points of PCK@0.2 against float32 where 100
# lost 1.1 (an early Full model; the target is at most 1 point).
CALIBRATION_IMAGES = 400


def calibration_images(cfg: Config, count: int = CALIBRATION_IMAGES, seed: int = 0) -> np.ndarray:
    """Person crops from the *training* split (never validation or test), for int8 calibration."""
    from blazepose.codec import Codec
    from blazepose.data.datasets import load_split
    from blazepose.data.pipeline import load_example

    samples = load_split(cfg.data, "train", skeleton_of(cfg))
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(samples), size=min(count, len(samples)), replace=False)
    codec = Codec.from_config(cfg.data)
    return np.stack([load_example(samples[i], rng, cfg, codec, train=True)["image"] for i in chosen])


def parity_images(cfg: Config, count: int = 32) -> np.ndarray:
    """Person crops from the validation split, for comparing an export with the Keras model."""
    from blazepose.codec import Codec
    from blazepose.data.datasets import load_split
    from blazepose.data.pipeline import load_example

    samples = load_split(cfg.data, "val", skeleton_of(cfg))[:count]
    codec = Codec.from_config(cfg.data)
    rng = np.random.default_rng(0)
    return np.stack([load_example(s, rng, cfg, codec, train=False)["image"] for s in samples])


def _to_tflite(model, size: int, quantize: str, calibration: np.ndarray | None) -> bytes:
    import_tensorflow()
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    spec = tf.TensorSpec((1, size, size, 3), tf.float32, name="image")
    fn = tf.function(lambda image: model(image, training=False)).get_concrete_function(spec)
    # Weights become constants (resource variables left in the graph come out uninitialised: NaN).
    frozen = convert_variables_to_constants_v2(fn)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    if quantize == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "int8":
        if calibration is None or not len(calibration):
            raise BlazePoseError("int8 export needs calibration images")

        def representative():
            for img in calibration:
                yield [img[None].astype(np.float32)]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        # int8 inside, float32 in and out, so the same pre- and post-processing applies. The heatmap decode
        # stays in float: its argmax cell index (0..4095) and the row / column arithmetic on it cannot live in
        # 8 bits (quantized, joints moved by about 100 px).
        decode = _float_tensor_names(frozen, DECODER_LAYER)
        if decode:
            options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=decode)
            debugger = tf.lite.experimental.QuantizationDebugger(
                converter=converter, debug_dataset=representative, debug_options=options
            )
            return debugger.get_nondebug_quantized_model()
    return converter.convert()


def served(model, cfg: Config):
    """What an export holds: an imported MediaPipe landmark network with what the runtime reads (joints,
    visibility, presence, and the heatmaps MediaPipe refines its joints from), so that the converter leaves out
    MediaPipe's segmentation branch and world landmarks (their cost: docs/mediapipe.md); any other model as it
    is."""
    if cfg.task != "landmarks" or not cfg.model.imported or "heatmap" not in model.output:
        return model
    import keras

    kept = {name: model.output[name] for name in ("joints", "visibility", "presence", "heatmap")}
    return keras.Model(model.input, kept, name=model.name)


@contextlib.contextmanager
def _converter_quiet():
    """The TFLite converter's notices (absl warnings, deprecation warnings, native progress lines) kept out of
    the command's output; a failed conversion still raises with its message."""
    import logging
    import warnings

    absl = logging.getLogger("absl")
    level = absl.level
    absl.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), native_stderr_silenced():
            warnings.simplefilter("ignore")
            yield
    finally:
        absl.setLevel(level)


# The name of the layer whose operations int8 export keeps in float (models.layers.HeatmapDecoder's default).
DECODER_LAYER = "heatmap_decoder"


def _float_tensor_names(frozen, layer: str) -> list[str]:
    """Output tensor names of the operations of `layer` in the float TFLite conversion of `frozen`."""
    import tensorflow as tf

    interpreter_mod = require("ai_edge_litert.interpreter", "ai-edge-litert")
    content = tf.lite.TFLiteConverter.from_concrete_functions([frozen]).convert()
    with native_stderr_silenced():
        interpreter = interpreter_mod.Interpreter(model_content=content)
    return [t["name"] for t in interpreter.get_tensor_details() if f"/{layer}" in t["name"]]


def _to_onnx(model, path: Path) -> None:
    require("tf2onnx", "tf2onnx")
    size = model.input.shape[1]
    model(np.zeros((1, size, size, 3), np.float32), training=False)  # Keras exports only models it has called
    tmp = path.with_name(f".{path.name}.tmp")
    try:  # beside, then into place: a failure (a full disk) leaves no partial file
        model.export(str(tmp), format="onnx", verbose=False)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise BlazePoseError(f"could not write {path}: {exc.strerror or exc}") from None


def heatmap_ties(model, images: np.ndarray, got: np.ndarray, limit: float, tolerance: float) -> np.ndarray:
    """(N, K) True where `got` (input pixels) is within `limit` of where the Keras `model` decodes some cell
    of its heatmap that is within `tolerance` x (the joint's heatmap range) of the peak: an argmax tie."""
    from blazepose.training.phases import heatmap_branch

    size = images.shape[1]
    out = heatmap_branch(model, images.astype(np.float32), training=False)
    heat = np.asarray(out["heatmap"], np.float64)  # (N, H, W, K)
    n, h, w, k = heat.shape
    offset = np.asarray(out["offset"], np.float64).reshape(n, h, w, k, 2)
    jj, ii = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    # Every cell's decoded place in input pixels, as HeatmapDecoder computes it: (N, H, W, K, 2).
    place = heat_to_normalized(np.stack([ii[..., None] + offset[..., 0], jj[..., None] + offset[..., 1]], -1), w)
    place = place * size
    top, bottom = heat.max(axis=(1, 2), keepdims=True), heat.min(axis=(1, 2), keepdims=True)
    near_peak = heat >= top - tolerance * (top - bottom)  # (N, H, W, K)
    dist = np.linalg.norm(place - got[:, None, None, :, :], axis=-1)
    return (np.where(near_peak, dist, np.inf) <= limit).any(axis=(1, 2))


def export_model(
    weights: str | Path,
    fmt: str,
    output: str | Path,
    quantize: str = "none",
    cfg: Config | None = None,
    parity_count: int = 32,
    calibration_count: int = CALIBRATION_IMAGES,
    decode: str | None = None,
    source: str | None = None,
) -> dict:
    """Export `weights` (.keras, or .npz weights / checkpoints) to `output`; returns the metadata written
    beside it (incl. parity; `source`: how to name the weights there, e.g. the preset name the user gave).

    `decode` ("regression" / "heatmap") overrides the config's choice of output; it is fixed in the export
    and recorded in the config written beside it."""
    if fmt not in FORMATS:
        raise BlazePoseError(f"unsupported format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if quantize not in QUANTIZE:
        raise BlazePoseError(f"unsupported quantization {quantize!r}; expected one of {', '.join(QUANTIZE)}")
    if fmt == "onnx" and quantize != "none":
        raise BlazePoseError("ONNX export supports --quantize none only; use --format tflite for float16/int8")
    if fmt == "npz" and quantize == "int8":
        raise BlazePoseError("npz export supports --quantize none or float16; use --format tflite for int8")
    output = Path(output)
    if output.suffix.lower() != f".{fmt}":
        raise BlazePoseError(f"--output {output} should end in .{fmt}")
    cfg = cfg or config_beside(weights)
    if decode is not None:
        cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, decode=decode))
    detector = cfg.task == "detector"
    keras_runner = load_runner(weights, None if detector else cfg.model.decode, task=cfg.task)
    if not isinstance(keras_runner, KerasRunner):
        raise BlazePoseError(f"export needs a Keras model (.keras or .npz weights), got {weights}")
    size = keras_runner.input_size
    model = served(keras_runner.model, cfg)
    config_path = output.with_suffix(".toml")
    if config_path.is_file() and config_path.read_text(encoding="utf-8") != dumps_config(
        portable_config(cfg, config_path)
    ):
        raise BlazePoseError(
            f"{config_path} holds the config of another model exported to this base name; export to another name "
            "(or delete it)"
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "tflite":
        require("ai_edge_litert.interpreter", "ai-edge-litert")
        calibration = None
        if quantize == "int8":
            calibration = (
                detector_images(cfg, calibration_count, "train")
                if detector
                else calibration_images(cfg, calibration_count)
            )
        with _converter_quiet():
            content = _to_tflite(model, size, quantize, calibration)
        atomic_write(output, lambda f: f.write(content))
    elif fmt == "onnx":
        require("onnxruntime", "onnxruntime")
        _to_onnx(model, output)
    else:
        write_exported(model, output, np.float16 if quantize == "float16" else np.float32)
    # The config goes beside the file before the parity check: the .npz runner rebuilds the model from it.
    save_config(cfg, config_path)
    if detector:
        return _detector_parity(keras_runner, output, cfg, weights, fmt, quantize, parity_count)

    # Parity on real validation crops, in input pixels.
    images = parity_images(cfg, parity_count).astype(np.float32)
    ref_out = [keras_runner(images[i : i + 1]) for i in range(len(images))]
    runner = load_runner(output)
    got_out = [runner(images[i : i + 1]) for i in range(len(images))]
    ref = np.concatenate([o.joints for o in ref_out]) * size
    got = np.concatenate([o.joints for o in got_out]) * size
    diff = np.linalg.norm(ref - got, axis=-1)
    heads = [name for name in HEAD_LIMITS if getattr(cfg.model, name)]
    pairs = list(zip(ref_out, got_out, strict=True))
    head_diff = {n: max(float(np.abs(getattr(a, n) - getattr(b, n)).max()) for a, b in pairs) for n in heads}
    limit = MAX_DIFF_PX[quantize]
    beyond = diff > limit
    ties = np.zeros_like(beyond)
    if cfg.model.decode == "heatmap" and beyond.any():
        ties = beyond & heatmap_ties(keras_runner.model, images, got, limit, HEATMAP_TIE_TOLERANCE[quantize])
    unexplained = int((beyond & ~ties).sum())
    skeleton = skeleton_of(cfg)
    k = skeleton.num_joints
    meta = {
        "format": fmt,
        "quantize": quantize,
        "source_weights": source or str(weights),
        "input": {
            "shape": [1, size, size, 3],
            "dtype": "float32",
            "normalization": "RGB 0..255, no scaling; the model maps it to [-1, 1] itself",
        },
        "outputs": {
            "joints": f"(1, {k}, 2) x, y normalized to the input crop (0 = left/top edge, 1 = right/bottom)",
            "visibility": f"(1, {k}) probability"
            if cfg.model.decode == "regression"
            else f"(1, {k}) heatmap peak score (sigmoid of the peak logit)",
            **{name: HEAD_OUTPUTS[name] for name in heads},
            **({"heatmap": REFINE_HEATMAP} if isinstance(model.output, dict) and "heatmap" in model.output else {}),
        },
        "decode": cfg.model.decode,
        "joint_names": list(skeleton.joint_names),
        "skeleton": skeleton.to_dict(),
        "parity": {
            "images": len(images),
            "max_px": float(diff.max()),
            "mean_px": float(diff.mean()),
            "limit_px": limit,
            "joints_beyond_limit": int(beyond.sum()),
            "heatmap_ties": int(ties.sum()),  # of those, moved between near-equal heatmap peaks
            **{f"{name}_max_diff": head_diff[name] for name in heads},
            **{f"{name}_limit": HEAD_LIMITS[name] for name in heads},
        },
    }
    meta = write_meta(output, meta)
    for name in heads:
        if head_diff[name] > HEAD_LIMITS[name]:
            raise BlazePoseError(
                f"{output}: the {name} output differs from the Keras model's by up to {head_diff[name]:.3f} on "
                f"{len(images)} validation crops (limit {HEAD_LIMITS[name]})"
            )
    if unexplained:
        raise BlazePoseError(
            f"{output}: keypoints differ from the Keras model by up to {diff.max():.2f} px (mean {diff.mean():.2f}) "
            f"on {len(images)} validation crops; {unexplained} of {diff.size} joints exceed the limit for "
            f"--quantize {quantize}, {limit} px"
            + (f", not counting {int(ties.sum())} moved between near-equal heatmap peaks" if ties.any() else "")
        )
    return meta


# The presence output (a probability) of an export may differ from the Keras model's by this much.
HEAD_LIMITS = {"presence": 0.05}
HEAD_OUTPUTS = {"presence": "(1, 1) probability that the crop holds a person (the pose flag)"}
REFINE_HEATMAP = "(1, 64, 64, 33) logits that the joints are refined from, as MediaPipe does (refine_from_heatmap)"


def write_meta(output: Path, meta: dict) -> dict:
    """The export's record beside it, with the file's sha256 (a copy can be checked against it); returns it."""
    from blazepose.data.download import sha256_file

    meta = {**meta, "sha256": sha256_file(Path(output))}
    atomic_write(meta_path(output), lambda f: f.write(json.dumps(meta, indent=1, default=str).encode()))
    return meta


def meta_path(output: str | Path) -> Path:
    """The export's own record beside it: model.tflite -> model.tflite.json (one per exported file)."""
    output = Path(output)
    return output.with_name(output.name + ".json")


# The detector's parity: every map within this of the Keras model's (the centre map as probabilities).
DETECTOR_MAP_LIMIT = {"none": 1e-3, "float16": 0.03, "int8": 0.15}


def detector_images(cfg: Config, count: int, part: str = "val", seed: int = 0) -> np.ndarray:
    """Detector scenes (``part`` "train" for int8 calibration, "val" for parity)."""
    from blazepose.data.scenes import make_scene, scene_sources

    sources, negatives = scene_sources(cfg, part, progress=False)
    rng = np.random.default_rng(seed)
    return np.stack([make_scene(sources, negatives, rng, cfg.data.input_size).image for _ in range(count)])


def _detector_parity(keras_runner, output: Path, cfg: Config, weights, fmt: str, quantize: str, count: int) -> dict:
    images = detector_images(cfg, count).astype(np.float32)
    runner = load_runner(output, task="detector")
    worst = {}
    for i in range(len(images)):
        ref, got = keras_runner(images[i : i + 1]), runner(images[i : i + 1])
        for name in ref:
            a, b = np.asarray(ref[name], np.float64), np.asarray(got[name], np.float64)
            if name == "centre":
                a, b = 1 / (1 + np.exp(-a)), 1 / (1 + np.exp(-b))
            worst[name] = max(worst.get(name, 0.0), float(np.abs(a - b).max()))
    limit = DETECTOR_MAP_LIMIT[quantize]
    size = cfg.data.input_size
    meta = {
        "format": fmt,
        "quantize": quantize,
        "source_weights": str(weights),
        "input": {"shape": [1, size, size, 3], "dtype": "float32", "normalization": "RGB 0..255, letterboxed"},
        "outputs": {
            "centre": "logits",
            "offset": "grid cells",
            "size": "log(radius / input)",
            "rotation": "sin, cos",
            "box": "edges from the centre / input",
        },
        "parity": {"images": len(images), "max_diff": worst, "limit": limit},
    }
    meta = write_meta(output, meta)
    bad = {k: v for k, v in worst.items() if v > limit}
    if bad:
        raise BlazePoseError(
            f"{output}: detector maps differ from the Keras model by {bad} on {len(images)} validation scenes, above "
            f"the limit for --quantize {quantize}, {limit}"
        )
    return meta


# --mediapipe: an imported (and perhaps fine-tuned) MediaPipe graph written back with the released file's
# signature. Parity with Keras: float32 to the import's own bound, float16 to this share of each output's range.
MEDIAPIPE_FLOAT16_TOLERANCE = 0.02


def export_mediapipe(weights: str | Path, output: str | Path, quantize: str = "float16") -> dict:
    """Write the imported graph inside `weights` (a network of models/imported.py: an import, or a model trained
    from one) to `output` as a .tflite with exactly MediaPipe's signature: input ``input_1`` (1, S, S, 3) float32
    in MediaPipe's range, outputs ``Identity``, ``Identity_1``, ... in the released file's order, shapes and
    dtypes, so it replaces the released file in MediaPipe itself. Checked against Keras on a few images."""
    import_tensorflow()
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    from blazepose.mediapipe import NOTICE, write_config
    from blazepose.training.tflite_import import SIGNATURES, TOLERANCE, parity_inputs

    if quantize not in ("none", "float16"):
        raise BlazePoseError(f"--mediapipe exports float32 (--quantize none) or float16 weights, not {quantize}")
    output = Path(output)
    if output.suffix.lower() != ".tflite":
        raise BlazePoseError(f"--output {output} should end in .tflite (--mediapipe writes a MediaPipe .tflite)")
    cfg = config_beside(weights)
    if not cfg.model.imported:
        raise BlazePoseError(
            f"{weights} is not an imported MediaPipe model (its config has no model.imported); --mediapipe writes "
            "back models imported with 'blazepose import' or trained from one (train.init_from = mediapipe-...)"
        )
    net = load_network(weights, task=cfg.task)
    if "landmark_head" in {layer.name for layer in net.layers}:
        raise BlazePoseError(
            f"{weights} has new landmark outputs (skeleton {cfg.model.skeleton}), not MediaPipe's 33: it is no "
            "MediaPipe model; export it without --mediapipe"
        )
    graph = net.get_layer("graph")
    inp_shape, out_shapes = SIGNATURES[cfg.task]
    spec = tf.TensorSpec(inp_shape, tf.float32, name="input_1")
    fn = tf.function(lambda x: tuple(graph(x, training=False))).get_concrete_function(spec)
    frozen = convert_variables_to_constants_v2(fn)
    with _converter_quiet():
        converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
        if quantize == "float16":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        blob = converter.convert()
    interp_mod = require("ai_edge_litert.interpreter", "ai-edge-litert")
    with native_stderr_silenced():
        interp = interp_mod.Interpreter(model_content=blob)
        interp.allocate_tensors()
    inputs, outputs = interp.get_input_details(), interp.get_output_details()
    signature = {
        "inputs": [
            {"name": d["name"], "shape": [int(v) for v in d["shape"]], "dtype": d["dtype"].__name__} for d in inputs
        ],
        "outputs": [
            {"name": d["name"], "shape": [int(v) for v in d["shape"]], "dtype": d["dtype"].__name__} for d in outputs
        ],
    }
    wanted = {
        "inputs": [{"name": "input_1", "shape": list(inp_shape), "dtype": "float32"}],
        "outputs": [
            {"name": "Identity" + (f"_{i}" if i else ""), "shape": list(s), "dtype": "float32"}
            for i, s in enumerate(out_shapes)
        ],
    }
    if signature != wanted:
        raise BlazePoseError(f"the converted model's signature {signature} is not MediaPipe's {wanted}")
    scale = 255.0 if cfg.task == "landmarks" else 127.5
    batch = parity_inputs(inp_shape[1]) / scale - (0.0 if cfg.task == "landmarks" else 1.0)
    ours = [np.asarray(o) for o in graph.predict_on_batch(batch.astype(np.float32))]
    tol = TOLERANCE * 10 if quantize == "none" else MEDIAPIPE_FLOAT16_TOLERANCE
    checks = {}
    for k, d in enumerate(outputs):
        got = []
        for image in batch.astype(np.float32):
            interp.set_tensor(inputs[0]["index"], image[None])
            interp.invoke()
            got.append(interp.get_tensor(d["index"])[0])
        got = np.stack(got)
        diff, bound = float(np.max(np.abs(got - ours[k]))), tol * (1.0 + float(np.max(np.abs(ours[k]))))
        if cfg.task == "landmarks" and k == 2:  # the ill-conditioned segmentation logits: recorded, not judged
            bound = float("inf")
        checks[d["name"]] = {"max_abs_difference": diff, "bound": bound}
        if diff > bound:
            hint = " (float16 weights lose what training changed by less than their precision: add --float32)"
            raise BlazePoseError(
                f"the exported {d['name']} differs from Keras by {diff:.3g} (bound {bound:.3g})"
                + (hint if quantize == "float16" else "")
            )
    output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(output, lambda f: f.write(blob))
    write_config(cfg.model.imported, output.with_suffix(".toml"))
    meta = {"signature": signature, "parity": checks, "quantize": quantize, "source": str(weights), "licence": NOTICE}
    meta = write_meta(output, meta)
    return meta

"""A model on disk: the one module that knows every weights format and the config beside it.

    name            what it is                                          config beside it
    full, lite,     the packaged models trained here (presets/<name>/:   presets/<name>/blazepose_<name>.toml
    detector        .npz weights and a float16 .tflite, used where
                    LiteRT is installed; the table of names: presets)
    mp-full, mp-lite  MediaPipe's weights packaged (presets/<name>/: a   presets/<name>/mp_<v>.toml
    (mp-full: the     float16 .tflite; trainable: the import of
    default)          mediapipe-full / -lite)
    *.keras         a network that 'blazepose train' wrote (all outputs) <name>.toml, else the run's config.toml
    *.npz           a training checkpoint (runs/x/<phase>/best.npz) or   the run's config.toml / <name>.toml
                    exported inference weights ('blazepose export')
    *.tflite        an exported LiteRT model                             <name>.toml (+ <name>.json)
    *.onnx          an exported ONNX model                               <name>.toml (+ <name>.json)
    mediapipe-lite, MediaPipe's released models (mediapipe.py): the     <stem>.toml in the model cache
    -full, -heavy,  .tflite from the model cache, or, trainable, its
    -detector       import (a .keras network around the graph)

Commands ask this module for a path (``resolve_weights``), a config (``config_beside``) or a runner that maps a
batch of crops to outputs (``load_runner``); none of them guesses a format itself. It runs .tflite and .onnx
files itself (NumPy, LiteRT, ONNX Runtime); .keras and .npz, and trainable networks (``load_network``,
``build_network``), are the training part's (``blazepose.training.formats``, which registers its loaders here).
"""

from __future__ import annotations

import difflib
import importlib.util
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from blazepose import presets
from blazepose._quiet import native_stderr_silenced
from blazepose.config import Config, config_from_dict, load_config
from blazepose.data.download import sha256_file
from blazepose.errors import BlazePoseError, require
from blazepose.mediapipe import (
    DETECTOR_OUTPUTS,
    LANDMARK_OUTPUTS,
    SSDCodec,
    decode_landmarks,
    is_mediapipe_name,
    locate,
    refine_from_heatmap,
    scale_input,
)

_VERIFIED: set[Path] = set()


def verified(path: Path) -> Path:
    """`path`, a packaged file, after its sha256 was found to be the one it shipped with (once per process;
    the sums are in the presets table)."""
    if path not in _VERIFIED:
        expected = presets.shipped_sha256(path)
        if expected is not None and sha256_file(path) != expected:
            raise BlazePoseError(
                f"the packaged model {path} is damaged (its sha256 is not the one it shipped with): reinstall blazepose"
            )
        _VERIFIED.add(path)
    return path


FORMATS = (".keras", ".npz", ".tflite", ".onnx")


def packaged_path(name: str, trainable: bool = False) -> Path:
    """The packaged model's file: unless `trainable` (export, train.init_from: the .npz), its .tflite where
    one is packaged and LiteRT is installed (no TensorFlow needed, and the detector runs faster there than
    rebuilt in Keras), else its .npz."""
    preset = presets.PACKAGED[name]
    lite = preset.file(".tflite")
    if not trainable and lite.is_file() and importlib.util.find_spec("ai_edge_litert") is not None:
        return verified(lite)
    path = lite if preset.trainable else preset.file(".npz")
    if preset.trainable and (trainable or path.is_file()):  # MediaPipe's weights: their import (TensorFlow)
        return training_hook("imported", f"{name} as a Keras network")(preset.trainable)
    if not path.is_file():
        raise BlazePoseError(
            f"no packaged {name} model is installed (expected {path}); pass a weights file, e.g. the model.keras "
            "that 'blazepose train' writes into its run directory"
        )
    return verified(path)


def resolve_weights(weights: str | Path | None, default: str | None = None, trainable: bool = False) -> Path:
    """A weights argument as users give it: a file, a packaged model's name, or None for `default`. A file
    of that name in the working folder wins over a packaged name. A short word that is neither (e.g. "ful")
    is refused with the packaged names. `trainable`: a packaged model as Keras weights (``packaged_path``)."""
    if weights is None:
        weights = default or presets.DEFAULT_LANDMARKS
    text = str(weights)
    if text in presets.PACKAGED and not Path(text).is_file():
        return packaged_path(text, trainable)
    if is_mediapipe_name(text) and not Path(text).is_file():
        return training_hook("imported", f"{text} as a trainable network")(text) if trainable else locate(text)
    path = Path(text).expanduser()
    if not path.exists() and path.suffix.lower() not in FORMATS and "/" not in text:
        names = presets.NAMES
        close = difflib.get_close_matches(text, names, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise BlazePoseError(
            f"weights {text!r} is neither a file nor a packaged model{hint}; packaged: {', '.join(names)}; "
            f"files: {', '.join(FORMATS)}"
        )
    return path


def config_beside(path: str | Path, required: bool = False) -> Config:
    """The resolved config saved beside a model: <name>.toml, else config.toml in its folder or the one
    above (a run directory, for checkpoints in runs/x/<phase>/); else the defaults, unless `required`."""
    path = Path(path)
    for candidate in (path.with_suffix(".toml"), path.parent / "config.toml", path.parent.parent / "config.toml"):
        if candidate.is_file():
            return load_config(candidate)
    if required:
        raise BlazePoseError(f"{path} needs its config beside it ({path.with_suffix('.toml').name} or config.toml)")
    return config_from_dict({})


# --- what the training part adds ----------------------------------------------------------------------------------
# Keras networks (.keras models, .npz weights and checkpoints) and MediaPipe's models as trainable networks need
# TensorFlow: the training part registers its loaders here when it is imported (blazepose.training.formats). The
# runtime never imports it (the import contracts in pyproject.toml); the CLI imports it where a command needs it.
TRAINING_FORMATS = (".keras", ".npz")
_TRAINING_HOOKS: dict[str, object] = {}


def register_training_hooks(**hooks) -> None:
    """Called by blazepose.training.formats: ".keras" / ".npz" -> runner(path, cfg, decode); "imported" ->
    path of a MediaPipe model's trainable import (made on first use)."""
    _TRAINING_HOOKS.update({(f".{k}" if k in ("keras", "npz") else k): v for k, v in hooks.items()})


def training_hook(name: str, what: str):
    """A loader the training part registered, or an error saying what it takes."""
    if name not in _TRAINING_HOOKS:
        raise BlazePoseError(
            f'{what} needs the training part of blazepose (TensorFlow): install it (pip install -e ".[cpu]") and '
            "import blazepose.training before loading it (the blazepose command does), or export the model to "
            ".tflite / .onnx for the runtime"
        )
    return _TRAINING_HOOKS[name]


def needs_training(weights, trainable: bool = False, default: str | None = None) -> bool:
    """Whether `weights` as a user gives it (a file, a packaged or MediaPipe name, None) is a Keras format, or a
    trainable MediaPipe import: what only the training part loads."""
    text = presets.DEFAULT_LANDMARKS if weights is None and default is None else str(weights or default)
    if trainable and not Path(text).is_file():
        preset = presets.PACKAGED.get(text)
        if is_mediapipe_name(text) or (preset is not None and preset.trainable):
            return True
    if is_mediapipe_name(text) and not Path(text).is_file():
        return False
    return resolve_weights(weights, default, trainable).suffix.lower() in TRAINING_FORMATS


# --- runners: a model on disk -> batch in, arrays out ------------------------------------------------------------
class LandmarkOutput(NamedTuple):
    """A landmark model's outputs for a batch of crops."""

    joints: np.ndarray  # (B, K, 2) normalized to the crop
    visibility: np.ndarray  # (B, K)
    presence: np.ndarray | None = None  # (B,); None: the model has no presence output

    @classmethod
    def of(cls, out) -> LandmarkOutput:
        """A runner's result as a LandmarkOutput: one already, or a (joints, visibility[, presence]) tuple."""
        return out if isinstance(out, cls) else cls(*out)


def landmark_output(out: dict, cfg: Config | None = None) -> LandmarkOutput:
    """Named outputs -> LandmarkOutput; a MediaPipe network's joints refined from its heatmaps as MediaPipe does
    (``mediapipe.refine_from_heatmap``) where the outputs hold them (an import, or its export)."""

    def optional(name, shape):
        return np.asarray(out[name], np.float32).reshape(shape) if name in out else None

    joints = out["joints"]
    if cfg is not None and cfg.model.imported and "heatmap" in out:
        joints = refine_from_heatmap(joints, out["heatmap"])
    return LandmarkOutput(joints, out["visibility"], optional("presence", (-1,)))


def check_finite(out, source) -> None:
    """Every output array finite: a damaged model gives NaN or infinity, which must not read as "nobody here"."""
    arrays = out.values() if isinstance(out, dict) else (a for a in out if a is not None)
    for a in arrays:
        if not np.all(np.isfinite(a)):
            raise BlazePoseError(
                f"{source} gave outputs that are not finite numbers (NaN or infinity): the model file is damaged, "
                "or its weights diverged in training"
            )


def _check_task(path: Path, cfg: Config, task: str) -> None:
    if cfg.task != task:
        kinds = {"detector": "a person detector (--detector)", "landmarks": "a landmark model (--weights)"}
        raise BlazePoseError(f"{path} is {kinds[cfg.task]}; expected {kinds[task]} here")


def check_fixed_decode(path: str | Path, cfg: Config, decode: str | None) -> None:
    """An exported model's output was fixed at export (its config says which): refuse another one."""
    if decode is not None and cfg.task == "landmarks" and decode != cfg.model.decode:
        raise BlazePoseError(
            f"{path} was exported with decode {cfg.model.decode!r}; export it again with --decode {decode} "
            "for the other"
        )


class TFLiteRunner:
    """An exported .tflite model in the LiteRT interpreter (XNNPACK), one image per invoke; outputs by name."""

    def __init__(self, path: Path, cfg: Config, decode: str | None = None, num_threads: int | None = None):
        check_fixed_decode(path, cfg, decode)
        self.path = path
        num_threads = default_threads() if num_threads is None else num_threads
        interpreter_mod = require("ai_edge_litert.interpreter", "ai-edge-litert")
        try:
            with native_stderr_silenced():  # LiteRT's "INFO: Created TensorFlow Lite XNNPACK delegate" line
                self.interpreter = interpreter_mod.Interpreter(model_path=str(path), num_threads=num_threads)
                self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise BlazePoseError(f"{path} is not a TFLite model LiteRT can load: {exc}") from None
        self.cfg, self.detector = cfg, cfg.task == "detector"
        inputs = self.interpreter.get_input_details()
        if len(inputs) != 1:
            raise BlazePoseError(f"{path} is a TFLite model but not an exported BlazePose one")
        self.input = inputs[0]["index"]
        self.input_size = int(inputs[0]["shape"][1])
        # MediaPipe's own tensors (mediapipe.py), in the file's order: a released file or one written back with
        # export --mediapipe (an import exported without it has this toolkit's named outputs)
        mediapipe_shapes = {(1, 195), (1, 2254, 12)}
        shapes = {tuple(int(v) for v in o["shape"]) for o in self.interpreter.get_output_details()}
        self.imported = bool(cfg.model.imported) and bool(shapes & mediapipe_shapes)
        self.detection_codec = SSDCodec() if self.detector and self.imported else None
        if self.imported:
            details = self.interpreter.get_output_details()
            names = DETECTOR_OUTPUTS if self.detector else LANDMARK_OUTPUTS
            if len(details) != len(names):
                raise BlazePoseError(
                    f"{path} has {len(details)} outputs; MediaPipe's {cfg.model.imported} has {len(names)}"
                )
            self.outputs = {name: o["index"] for name, o in zip(names, details, strict=True)}
            self.num_joints = 0 if self.detector else 33
        else:
            self.outputs = _tflite_outputs(path, self.interpreter.get_output_details(), cfg)
            self.num_joints = 0 if self.detector else int(self.outputs_shape["joints"][1])

    @property
    def outputs_shape(self):
        details = {o["index"]: o["shape"] for o in self.interpreter.get_output_details()}
        return {name: details[index] for name, index in self.outputs.items()}

    def __call__(self, batch: np.ndarray):
        results = []
        if self.imported:
            batch = scale_input(batch, self.cfg.task)
        for image in batch.astype(np.float32):
            self.interpreter.set_tensor(self.input, image[None])
            self.interpreter.invoke()
            results.append({name: self.interpreter.get_tensor(index)[0] for name, index in self.outputs.items()})
        stacked = {name: np.stack([r[name] for r in results]) for name in self.outputs}
        check_finite(stacked, self.path)
        if self.detector:
            return stacked
        if self.imported:
            joints, visibility, presence = decode_landmarks(stacked["landmarks"], stacked["pose_flag"])
            return LandmarkOutput(refine_from_heatmap(joints, stacked["heatmap"]), visibility, presence)
        return landmark_output(stacked, self.cfg)


def _tflite_outputs(path: Path, details: list[dict], cfg: Config) -> dict[str, int]:
    """Output name -> tensor index. The converter flattens the model's output dict in sorted key order and
    names the results Identity, Identity_1, ...; landmark exports of other converters are told by shape."""
    import re

    wanted = ("centre", "offset", "size", "rotation", "box") if cfg.task == "detector" else ("joints", "visibility")
    if cfg.task == "landmarks":
        wanted = (*wanted, "presence") if cfg.model.presence else wanted
        if cfg.model.imported and len(details) == len(wanted) + 1:  # an import's export: + the heatmaps
            wanted = (*wanted, "heatmap")
    places = [re.fullmatch(r"Identity(?:_(\d+))?", o["name"].split(":")[0]) for o in details]
    if len(details) == len(wanted) and all(places):
        ordered = sorted(zip(places, details, strict=True), key=lambda t: int(t[0].group(1) or 0))
        return {key: o["index"] for key, (_, o) in zip(sorted(wanted), ordered, strict=True)}
    if cfg.task == "landmarks":
        shapes = {tuple(o["shape"]): o["index"] for o in details}
        joints = [s for s in shapes if len(s) == 3 and s[2] == 2]
        vis = [s for s in shapes if len(s) == 2 and joints and s[1] == joints[0][1]]
        if joints and vis:
            return {"joints": shapes[joints[0]], "visibility": shapes[vis[0]]}
    raise BlazePoseError(f"{path} is a TFLite model but not an exported BlazePose one (outputs {len(details)})")


class OnnxRunner:
    """An exported .onnx model in ONNX Runtime (CPU)."""

    def __init__(self, path: Path, cfg: Config, decode: str | None = None):
        check_fixed_decode(path, cfg, decode)
        self.path = path
        ort = require("onnxruntime", "onnxruntime")
        try:
            self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for unreadable files
            raise BlazePoseError(f"{path} is not an ONNX model ONNX Runtime can load: {exc}") from None
        self.cfg, self.detector = cfg, cfg.task == "detector"
        self.input = self.session.get_inputs()[0].name
        self.input_size = int(self.session.get_inputs()[0].shape[1])
        self.names = [o.name for o in self.session.get_outputs()]
        wanted = ("centre", "offset", "size", "rotation", "box") if self.detector else ("joints", "visibility")
        if not set(wanted) <= set(self.names):
            raise BlazePoseError(f"{path} is an ONNX model but not an exported BlazePose one (outputs {self.names})")
        self.num_joints = 0 if self.detector else int(self.session.get_outputs()[self.names.index("joints")].shape[1])

    def __call__(self, batch: np.ndarray):
        values = self.session.run(self.names, {self.input: batch.astype(np.float32)})
        out = dict(zip(self.names, values, strict=True))
        check_finite(out, self.path)
        return out if self.detector else landmark_output(out, self.cfg)


# LiteRT's threads unless told: the cores this process may use, at most MAX_THREADS. LiteRT's own default is one
# thread; on a 2-core CPU two threads cut the default pipeline's time per photo from 0.84x to 0.56x of MediaPipe
# Full's own pipeline (bench/mediapipe_peer.py, docs/benchmarks.md). Batch-1 networks this small gain little
# from more than a few threads.
MAX_THREADS = 4


def default_threads() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(MAX_THREADS, cores))


def load_runner(weights: str | Path | None, decode: str | None = None, task: str = "landmarks", num_threads=None):
    """The runner for a model on disk (a path or a packaged name; None: the default landmark model, or the
    packaged detector for task "detector"). `decode` overrides the config's (Keras models and checkpoints) or
    must match it (exported files; a packaged model is then taken from its .npz, which has both decodes)."""
    path = resolve_weights(weights, "detector" if task == "detector" else None, trainable=decode is not None)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise BlazePoseError(f"unsupported weights file {path}: expected {', '.join(FORMATS)}")
    if not path.is_file():
        raise BlazePoseError(f"weights file {path} does not exist")
    # .npz weights are rebuilt from their config; an exported file without one is taken as a landmark model
    cfg = config_beside(path, required=suffix == ".npz")
    _check_task(path, cfg, task)
    if suffix in TRAINING_FORMATS:
        return training_hook(suffix, f"{path}, a Keras {'model' if suffix == '.keras' else 'weights file'},")(
            path, cfg, decode
        )
    if suffix == ".tflite":
        return TFLiteRunner(path, cfg, decode, num_threads)
    return OnnxRunner(path, cfg, decode)

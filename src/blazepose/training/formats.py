"""The training part's model formats: Keras networks (.keras), .npz training checkpoints and exported weights,
and MediaPipe's released models as trainable networks (their import). Importing this module registers its
loaders with the runtime's ``artifacts.load_runner`` / ``resolve_weights`` (``register_training_hooks``), which
never import TensorFlow themselves.

    *.keras   a network that 'blazepose train' wrote (all outputs)          config: <name>.toml or the run's
    *.npz     a training checkpoint (runs/x/<phase>/best.npz) or exported  config: <name>.toml or the run's
              inference weights ('blazepose export --format npz')
"""

from __future__ import annotations

import sys
from pathlib import Path

import keras
import numpy as np

from blazepose.artifacts import (
    check_finite,
    check_fixed_decode,
    config_beside,
    landmark_output,
    register_training_hooks,
)
from blazepose.config import Config
from blazepose.errors import BlazePoseError
from blazepose.mediapipe import SSDCodec, canonical, locate
from blazepose.models import imported as _imported_layers  # noqa: F401  (registers the custom layers)
from blazepose.models import layers as _layers  # noqa: F401
from blazepose.models import tflite_layers as _tflite_layers  # noqa: F401
from blazepose.models.blazepose import build_from_config, inference_model_for
from blazepose.models.detector import detector_from_config
from blazepose.outputs import atomic_write
from blazepose.training.checkpoint import load_checkpoint

NPZ_FORMAT = "blazepose-inference-weights"


def imported_path(name: str) -> Path:
    """A released MediaPipe model as a trainable network: its import into the model cache (made on first use
    from the cached .tflite, checked against LiteRT; needs TensorFlow)."""
    source = locate(name)
    target = source.with_suffix(".keras")
    if not target.is_file():
        from blazepose.training.tflite_import import import_model

        print(f"importing {canonical(name)} from {source} into {target.parent}", file=sys.stderr, flush=True)
        import_model(source, target.parent)
    return target


# --- .npz: checkpoints and exported weights ---------------------------------------------------------------------
def npz_kind(path: str | Path, what: str = "weights file") -> str:
    """ "checkpoint" (a training checkpoint) or "exported" (inference weights); anything else is refused."""
    try:
        with np.load(path) as data:
            if "state" in data.files:
                return "checkpoint"
            if "format" in data.files and str(data["format"]) == NPZ_FORMAT:
                return "exported"
    except FileNotFoundError:
        raise BlazePoseError(f"{what} {path} does not exist") from None
    except (OSError, ValueError, EOFError) as exc:
        raise BlazePoseError(f"{what} {path} is not a readable .npz file: {exc}") from None
    except Exception as exc:  # zipfile.BadZipFile and friends, for a damaged file
        raise BlazePoseError(f"{what} {path} is damaged ({type(exc).__name__}: {exc})") from None
    raise BlazePoseError(f"{what} {path} is neither exported BlazePose weights nor a training checkpoint")


def write_exported(model, path: Path, dtype) -> None:
    """The inference weights of `model` alone (float32 or float16), in weight order."""
    arrays = {f"w{i:04d}": np.asarray(v.numpy(), dtype) for i, v in enumerate(model.weights)}
    arrays["format"] = np.array(NPZ_FORMAT)
    atomic_write(path, lambda f: np.savez_compressed(f, **arrays))


def assign_exported(path: str | Path, model) -> None:
    """Assign exported weights at `path` to `model`'s variables, checked one by one."""
    with np.load(path) as data:
        keys = sorted(k for k in data.files if k.startswith("w"))
        if len(keys) != len(model.weights):
            raise BlazePoseError(f"{path} holds {len(keys)} arrays, the model in its config needs {len(model.weights)}")
        for key, var in zip(keys, model.weights, strict=True):
            if tuple(data[key].shape) != tuple(var.shape):
                raise BlazePoseError(f"{path}: {var.path} has shape {data[key].shape}, expected {tuple(var.shape)}")
            var.assign(data[key].astype(np.float32))


def load_exported_weights(path: str | Path, net, cfg: Config):
    """Assign exported weights at `path` into `net` (a training network of `cfg`, the config exported beside
    them); returns the inference model, which shares its variables with `net` (a detector is its own)."""
    model = net if cfg.task == "detector" else inference_model_for(net, cfg)
    assign_exported(path, model)
    return model


# The named sub-models a saved network of each task must have.
TASK_SUB_MODELS = {
    "landmarks": ("backbone", "heatmap_head", "regression_head"),
    "detector": ("backbone", "detection_head"),
}
IMPORTED_SUB_MODELS = ("graph",)  # an imported MediaPipe graph's network (models/imported.py), either task


def load_network(path, what: str = "weights file", task: str = "landmarks"):
    """A network saved by training (.keras), checked: the file exists, Keras reads it, and it has the
    sub-models of `task`."""
    path = Path(path).expanduser()
    if path.suffix.lower() != ".keras":
        raise BlazePoseError(f"{what} {path}: expected a .keras model that 'blazepose train' wrote")
    if not path.is_file():
        raise BlazePoseError(f"{what} {path} does not exist")
    try:
        net = keras.saving.load_model(path, compile=False)
    except Exception as exc:  # Keras raises ValueError, OSError, zipfile errors... for a bad file
        raise BlazePoseError(f"{what} {path} is not a Keras model Keras can read (damaged?): {exc}") from None
    names = {layer.name for layer in net.layers}
    if not set(TASK_SUB_MODELS[task]) <= names and not set(IMPORTED_SUB_MODELS) <= names:
        kind = "person detector" if task == "detector" else "BlazePose landmark model"
        raise BlazePoseError(f"{what} {path} is a Keras model but not a {kind} (no {', '.join(TASK_SUB_MODELS[task])})")
    return net


def build_network(cfg: Config):
    """A fresh network of `cfg` (its task's)."""
    if cfg.task == "detector":
        return detector_from_config(cfg)
    return build_from_config(cfg)


class KerasRunner:
    """A Keras model run on batches: landmark models give a ``LandmarkOutput``, detectors the dict of their
    maps (decoded by ``detection_codec``: MediaPipe's SSD decode for an imported detector, else the pipeline's
    own)."""

    def __init__(self, model, cfg: Config, source: str | Path = "the Keras model"):
        self.model, self.cfg, self.source = model, cfg, source
        self.input_size = int(model.input.shape[1])
        self.detector = cfg.task == "detector"
        self.num_joints = 0 if self.detector else int(model.output["joints"].shape[1])
        self.detection_codec = SSDCodec() if self.detector and cfg.model.imported else None

    def __call__(self, batch: np.ndarray):
        out = {k: np.asarray(v) for k, v in self.model.predict_on_batch(batch.astype(np.float32)).items()}
        check_finite(out, self.source)
        if self.detector:
            return out
        joints = out["joints"]
        vis = out["visibility"] if "visibility" in out else np.clip(joints[..., 2], 0.0, 1.0)
        return landmark_output({**out, "joints": joints[..., :2], "visibility": vis}, self.cfg)


def _keras_runner(path: Path, cfg: Config, decode: str | None) -> KerasRunner:
    net = load_network(path, task=cfg.task)
    if cfg.task == "detector" or cfg.model.imported:  # an imported network outputs what inference needs
        return KerasRunner(net, cfg, path)
    return KerasRunner(inference_model_for(net, cfg, decode), cfg, path)


def _npz_runner(path: Path, cfg: Config, decode: str | None) -> KerasRunner:
    kind = npz_kind(path)
    cfg = config_beside(path, required=True)
    net = build_network(cfg)
    if kind == "checkpoint":
        load_checkpoint(path, net)
        if cfg.task == "detector":
            return KerasRunner(net, cfg, path)
        return KerasRunner(inference_model_for(net, cfg, decode), cfg, path)
    check_fixed_decode(path, cfg, decode)
    if cfg.task == "detector":
        assign_exported(path, net)
        return KerasRunner(net, cfg, path)
    return KerasRunner(load_exported_weights(path, net, cfg), cfg, path)


register_training_hooks(keras=_keras_runner, npz=_npz_runner, imported=imported_path)

"""Checkpoints as single .npz files, written atomically (temp file, fsync, rename): a kill never leaves a
corrupt checkpoint, at worst the previous one.

A checkpoint holds the network's weights keyed by sub-model (``backbone/0000`` ...), optionally the
optimizer's variables (``o0000`` ..., for ``--resume``) and a JSON state dict. Keying by sub-model lets a run
load the parts that match (a new regression head over a trained backbone, another head type) and say
clearly which part does not. Checkpoints written before the keying (flat ``w0000`` ...) are read by splitting
them in the network's own order: backbone, heatmap head, regression head.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from pathlib import Path

import keras
import numpy as np

from blazepose.errors import BlazePoseError
from blazepose.outputs import atomic_write

SUB_MODELS = ("backbone", "heatmap_head", "regression_head")  # the landmark network's, in this order


def sub_models(net: keras.Model) -> tuple[str, ...]:
    """The named sub-models of a network, in its layer order (the landmark network's: SUB_MODELS)."""
    return tuple(layer.name for layer in net.layers if isinstance(layer, keras.Model))


def save_checkpoint(path: str | Path, net: keras.Model, optimizer=None, state: dict | None = None) -> Path:
    arrays = {}
    for name in sub_models(net):
        for i, v in enumerate(net.get_layer(name).weights):
            arrays[f"{name}/{i:04d}"] = np.asarray(v.numpy())
    if len(arrays) != len(net.weights):
        raise RuntimeError("the network has weights outside its sub-models; the checkpoint would lose them")
    if optimizer is not None:
        arrays.update({f"o{i:04d}": np.asarray(v.numpy()) for i, v in enumerate(optimizer.variables)})
    arrays["state"] = np.frombuffer(json.dumps(state or {}).encode(), dtype=np.uint8)
    return atomic_write(path, lambda f: np.savez(f, **arrays))


# What reading a damaged (empty, truncated, overwritten) .npz raises, from np.load or from reading an array.
DAMAGED = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error, json.JSONDecodeError)


def _damaged(path, exc) -> BlazePoseError:
    hint = " (resume from the phase's best.npz with train.init_from, or start again)" if path.name == "last.npz" else ""
    return BlazePoseError(f"checkpoint {path} is damaged or not a checkpoint ({type(exc).__name__}: {exc}){hint}")


def read_state(path: str | Path) -> dict:
    path = Path(path)
    try:
        with np.load(path) as data:
            return json.loads(data["state"].tobytes().decode())
    except DAMAGED as exc:
        raise _damaged(path, exc) from None


def _open(path: str | Path):
    path = Path(path).expanduser()
    if not path.is_file():
        raise BlazePoseError(f"checkpoint {path} does not exist")
    try:
        return np.load(path)
    except DAMAGED as exc:
        raise _damaged(path, exc) from None


def _arrays_by_sub_model(data, net: keras.Model) -> dict[str, list[np.ndarray]]:
    names = sub_models(net)
    if any("/" in k for k in data.files):
        return {name: [data[k] for k in sorted(k for k in data.files if k.startswith(f"{name}/"))] for name in names}
    flat = [data[k] for k in sorted(k for k in data.files if k[:1] == "w" and k[1:].isdigit())]
    out, start = {}, 0
    for name in names[:-1]:
        n = len(net.get_layer(name).weights)
        out[name], start = flat[start : start + n], start + n
    out[names[-1]] = flat[start:]
    return out


def fits(arrays: list, weights) -> bool:
    """Whether `arrays` (anything with .shape) can be assigned to `weights` one by one."""
    return len(arrays) == len(weights) and all(
        tuple(a.shape) == tuple(w.shape) for a, w in zip(arrays, weights, strict=True)
    )


def load_checkpoint(
    path: str | Path, net: keras.Model, optimizer=None, required: tuple[str, ...] | None = None
) -> dict:
    """Restore the sub-models that match into `net` (and the optimizer's variables when given and saved).

    Every sub-model in `required` must match, else a clear error; the others are loaded when they match and
    otherwise keep their current weights. Returns the checkpoint's state dict.
    """
    try:
        return _load_checkpoint(Path(path), net, optimizer, required)
    except DAMAGED as exc:
        raise _damaged(Path(path), exc) from None


def _load_checkpoint(path: Path, net: keras.Model, optimizer, required: tuple[str, ...] | None) -> dict:
    names = sub_models(net)
    required = names if required is None else required
    with _open(path) as data:
        arrays = _arrays_by_sub_model(data, net)
        for name in names:
            weights = net.get_layer(name).weights
            if fits(arrays[name], weights):
                for a, w in zip(arrays[name], weights, strict=True):
                    w.assign(a)
            elif name in required:
                raise BlazePoseError(
                    f"{path}: its {name} ({len(arrays[name])} arrays) does not fit this model's ({len(weights)}): "
                    "was it trained with another model config (variant, head, input size) or an older version?"
                )
        # o0000 ...: the optimizer's (a sub-model's weights are keyed "<name>/0000")
        opt_keys = sorted(k for k in data.files if k[:1] == "o" and k[1:].isdigit())
        if optimizer is not None and opt_keys:
            if not optimizer.built:
                optimizer.build(net.trainable_variables)
            if len(opt_keys) != len(optimizer.variables):
                raise BlazePoseError(f"{path}: optimizer state does not match this phase's optimizer")
            for key, var in zip(opt_keys, optimizer.variables, strict=True):
                var.assign(data[key])
        return json.loads(data["state"].tobytes().decode())


def matching_sub_models(path: str | Path, net: keras.Model) -> list[str]:
    """Names of the sub-models of `net` that the checkpoint at `path` can fill."""
    with _open(path) as data:
        arrays = _arrays_by_sub_model(data, net)
        return [name for name in sub_models(net) if fits(arrays[name], net.get_layer(name).weights)]

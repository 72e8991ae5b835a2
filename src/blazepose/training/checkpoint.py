"""Checkpoints as single .npz files, written atomically (temp file, fsync, rename): a kill never leaves a
corrupt checkpoint, at worst the previous one.

A checkpoint holds the network's weights in ``model.weights`` order, optionally the optimizer's variables
(for ``--resume``) and a JSON state dict.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import keras
import numpy as np

from blazepose.errors import BlazePoseError


def atomic_write(path: str | Path, write) -> Path:
    """Call write(file_object) on a temporary file beside `path`, then move it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def save_checkpoint(path: str | Path, net: keras.Model, optimizer=None, state: dict | None = None) -> Path:
    arrays = {f"w{i:04d}": np.asarray(v.numpy()) for i, v in enumerate(net.weights)}
    if optimizer is not None:
        arrays.update({f"o{i:04d}": np.asarray(v.numpy()) for i, v in enumerate(optimizer.variables)})
    arrays["state"] = np.frombuffer(json.dumps(state or {}).encode(), dtype=np.uint8)
    return atomic_write(path, lambda f: np.savez(f, **arrays))


def read_state(path: str | Path) -> dict:
    with np.load(path) as data:
        return json.loads(data["state"].tobytes().decode())


def load_checkpoint(path: str | Path, net: keras.Model, optimizer=None) -> dict:
    """Restore weights (and optimizer variables when given and saved) into `net`; returns the state."""
    path = Path(path)
    if not path.is_file():
        raise BlazePoseError(f"checkpoint {path} does not exist")
    try:
        data = np.load(path)
    except (OSError, ValueError) as exc:
        raise BlazePoseError(f"{path} is not a readable checkpoint: {exc}") from None
    with data:
        weights = sorted(k for k in data.files if k.startswith("w"))
        if len(weights) != len(net.weights):
            raise BlazePoseError(
                f"{path} holds {len(weights)} weight arrays but this model has {len(net.weights)}: "
                "was it trained with another model config (variant, head, input size)?"
            )
        for key, var in zip(weights, net.weights, strict=True):
            if tuple(data[key].shape) != tuple(var.shape):
                raise BlazePoseError(
                    f"{path}: weight {var.path} has shape {data[key].shape}, the model expects {tuple(var.shape)}"
                )
        for key, var in zip(weights, net.weights, strict=True):
            var.assign(data[key])
        opt_keys = sorted(k for k in data.files if k.startswith("o"))
        if optimizer is not None and opt_keys:
            if not optimizer.built:
                optimizer.build(net.trainable_variables)
            if len(opt_keys) != len(optimizer.variables):
                raise BlazePoseError(f"{path}: optimizer state does not match this phase's optimizer")
            for key, var in zip(opt_keys, optimizer.variables, strict=True):
                var.assign(data[key])
        return json.loads(data["state"].tobytes().decode())

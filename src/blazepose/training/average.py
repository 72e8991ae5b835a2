"""Weight averaging ("model soup", Wortsman et al., 2022): the mean of several trained networks' weights.

Networks fine-tuned from one starting point usually lie in one basin of the loss, so the mean of their weights
is itself a working network, sometimes better than each of them, at no cost at inference. Every floating-point
variable is averaged, the batch-norm moving statistics included; anything else (counters) is taken from the
first model. The first model's config goes beside the result.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from blazepose.errors import BlazePoseError


def average_models(paths: list[str | Path], output: str | Path) -> Path:
    """Write the uniform average of the .keras models at `paths` to `output` (.keras), config beside it."""
    from blazepose.artifacts import config_beside
    from blazepose.config import save_config
    from blazepose.training.formats import load_network

    paths = [Path(p) for p in paths]
    output = Path(output)
    if len(paths) < 2:
        raise BlazePoseError(f"averaging needs at least two models, got {len(paths)}")
    if output.suffix.lower() != ".keras":
        raise BlazePoseError(f"--output {output} should end in .keras")
    if output.resolve() in {p.resolve() for p in paths}:
        raise BlazePoseError(f"--output {output} is one of the models averaged; write the average elsewhere")
    cfg = config_beside(paths[0], required=True)
    first = load_network(paths[0], "model")
    # Variable names carry Keras' per-session counters (depthwise_conv2d_40), so the layout is compared by
    # position and shape.
    layout = [tuple(v.shape) for v in first.weights]
    sums = [np.asarray(v.numpy(), np.float64) for v in first.weights]
    for path in paths[1:]:
        net = load_network(path, "model")
        other = [tuple(v.shape) for v in net.weights]
        if other != layout:
            if len(other) != len(layout):
                what = f"{len(other)} variables where {paths[0].name} has {len(layout)}"
            else:
                i = next(i for i, (a, b) in enumerate(zip(layout, other, strict=True)) if a != b)
                what = f"shape {other[i]} where {paths[0].name}'s {first.weights[i].path} is {layout[i]}"
            raise BlazePoseError(
                f"{path} does not have the layers of {paths[0]} ({what}): only models of the same config "
                "(variant, head, input size) can be averaged"
            )
        for total, v in zip(sums, net.weights, strict=True):
            total += np.asarray(v.numpy(), np.float64)
    for total, v in zip(sums, first.weights, strict=True):
        if np.issubdtype(np.dtype(v.dtype), np.floating):
            v.assign((total / len(paths)).astype(v.dtype))
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.stem}.tmp.keras")
    first.save(tmp)
    tmp.replace(output)
    save_config(cfg, output.with_suffix(".toml"))
    return output

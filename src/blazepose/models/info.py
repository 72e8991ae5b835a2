"""Parameter counts and forward FLOPs (``blazepose info``)."""

from __future__ import annotations

import keras

from blazepose.config import Config
from blazepose.keypoints import skeleton_of
from blazepose.models.blazepose import build_from_config, count_params, inference_model_for


def forward_flops(model: keras.Model, input_size: int) -> int:
    """Floating-point operations of one forward pass at batch 1 (TF's profiler on the frozen graph;
    a multiply-add counts as 2)."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    spec = tf.TensorSpec((1, input_size, input_size, 3), tf.float32)
    fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
    graph = convert_variables_to_constants_v2(fn).graph
    opts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    opts["output"] = "none"
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")  # the v1 profiler's deprecation notices
    try:
        return int(tf.compat.v1.profiler.profile(graph=graph, options=opts).total_float_ops)
    finally:
        logger.setLevel(level)


def model_info(cfg: Config) -> str:
    """Counts and FLOPs of the network of `cfg`, and of the inference model it ships as (its decode)."""
    size = cfg.data.input_size
    if cfg.task == "detector":
        from blazepose.models.detector import detector_from_config

        net = detector_from_config(cfg)
        lines = [
            f"person detector {cfg.model.variant}, input {size}x{size}",
            f"{net.name}: {count_params(net):,} params",
        ]
        lines += [f"{name}: {count_params(net.get_layer(name)):,} params" for name in ("backbone", "detection_head")]
        lines.append(f"forward FLOPs per image: {forward_flops(net, size) / 1e9:.3f} G")
        return "\n".join(lines)
    net = build_from_config(cfg)
    inference = inference_model_for(net, cfg)
    skeleton = skeleton_of(cfg)
    lines = [
        f"BlazePose {cfg.model.variant}, head {cfg.model.head}, input {size}x{size}, kernel {cfg.model.kernel_size}",
        f"skeleton {skeleton.name}: {skeleton.num_joints} joints ({', '.join(skeleton.joint_names)})",
    ]
    lines.append(f"{net.name}: {count_params(net):,} params")
    for name in ("backbone", "heatmap_head", "regression_head"):
        lines.append(f"{name}: {count_params(net.get_layer(name)):,} params")
    lines.append(f"{inference.name} (decode {cfg.model.decode}, as it ships): {count_params(inference):,} params")
    lines.append(f"forward FLOPs per image (training model): {forward_flops(net, size) / 1e9:.3f} G")
    lines.append(f"forward FLOPs per image (inference model): {forward_flops(inference, size) / 1e9:.3f} G")
    return "\n".join(lines)

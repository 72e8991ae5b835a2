"""The BlazePose network: backbone, heatmap head (decoder + heatmap/offset outputs), regression head.

    image (S, S, 3) 0..255
      -> backbone:        s1 (S/2) ... s5 (S/32)                       BlazeBlocks, stride-2 stages
      -> heatmap_head:    features (S/4) = decoder over s5..s2 with skip connections
                          heatmap (S/4, S/4, K), offset (S/4, S/4, 2K)  (training supervision only)
      -> regression_head: stop_gradient(features, s3, s4, s5) -> joints (K, 2|3) [+ visibility (K,)]

The regression head sees the backbone and decoder only through a stop-gradient, so its loss never trains
them (the paper's design). The inference model keeps the decoder features and drops the heatmap/offset
output layers. Variants (Full/Lite) and output heads are entries in the tables below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
from keras import layers

from blazepose.keypoints import LSP
from blazepose.models.layers import BlazeBlock, HeatmapDecoder, Normalize, StopGradient


@dataclass(frozen=True)
class Variant:
    stage_channels: tuple[int, ...]  # s1..s5 (strides 2, 4, 8, 16, 32)
    stage_blocks: tuple[int, ...]  # BlazeBlocks per stage after the stem (s1 may have 0; s2..s5 >= 1, stride 2 first)
    decoder_channels: int  # width of the heatmap decoder
    regression_channels: tuple[int, ...]  # regression encoder at strides 8, 16, 32, 64
    regression_blocks: tuple[int, ...]


VARIANTS = {
    # Sized to the paper's parameter counts (Full 3.5 M, Lite 1.3 M; a test checks within 10 %) and for
    # speed: the stride-2 stage is the stem alone (no skip connection reads it), the decoder is narrow, and
    # the regression encoder keeps the backbone's widths at strides 8-32 and puts its depth at 4x4, where
    # blocks are cheap. Measured in LiteRT (XNNPACK, 1 thread): Full about 0.42x MediaPipe Full's latency.
    "full": Variant((24, 48, 96, 192, 288), (0, 2, 3, 5, 6), 32, (96, 192, 288, 384), (1, 2, 3, 11)),
    "lite": Variant((16, 32, 64, 128, 192), (0, 2, 3, 4, 5), 24, (64, 128, 192, 256), (1, 2, 3, 7)),
    # For tests and smoke runs only: every part of the network, as few layers as possible (fast to trace).
    "tiny": Variant((8, 16, 16, 24, 32), (0, 1, 1, 1, 1), 8, (16, 24, 32, 32), (0, 0, 0, 1)),
}


# Output layers compute in float32 even under a mixed-precision policy.
F32 = {"dtype": "float32"}
# Normalized coordinates start at the centre of the crop, with small kernels so they stay near it.
CENTRE = keras.initializers.Constant(0.5)


def small():
    """The output layers' kernel initializer: a fresh one per layer, made after ``keras.utils.set_random_seed``
    (one made at import drew its own seed then, so the same config seed gave other first weights per process)."""
    return keras.initializers.RandomNormal(stddev=1e-3)


def _dense_xy_v(x, k: int):
    xy = layers.Reshape((k, 2), name="xy", **F32)(
        layers.Dense(2 * k, name="xy_dense", kernel_initializer=small(), bias_initializer=CENTRE, **F32)(x)
    )
    v = layers.Dense(k, activation="sigmoid", name="v_dense", kernel_initializer=small(), **F32)(x)
    return xy, v


def _head_linear_xyv(x, k: int) -> dict:
    """(a) one linear layer for x, y and v (v trained as a plain regression target, like the seed)."""
    return {
        "joints": layers.Reshape((k, 3), name="joints", **F32)(
            layers.Dense(3 * k, name="xyv_dense", kernel_initializer=small(), bias_initializer=CENTRE, **F32)(x)
        )
    }


def _head_concat(x, k: int) -> dict:
    """(b) linear x, y and sigmoid v, concatenated into one (K, 3) output."""
    xy, v = _dense_xy_v(x, k)
    v = layers.Reshape((k, 1), name="v_column", **F32)(v)
    return {"joints": layers.Concatenate(axis=-1, name="joints", **F32)([xy, v])}


def _head_separate(x, k: int) -> dict:
    """(c) the same as two named outputs: joints (K, 2) and visibility (K,)."""
    xy, v = _dense_xy_v(x, k)
    return {
        "joints": layers.Identity(name="joints", **F32)(xy),
        "visibility": layers.Identity(name="visibility", **F32)(v),
    }


@dataclass(frozen=True)
class Head:
    build: Callable  # (features, K) -> dict of named outputs
    linear_visibility: bool  # visibility is a linear output (squared-error loss), not a probability


HEADS = {
    "linear_xyv": Head(_head_linear_xyv, linear_visibility=True),
    "xy_linear_v_sigmoid_concat": Head(_head_concat, linear_visibility=False),
    "xy_linear_v_sigmoid_separate": Head(_head_separate, linear_visibility=False),
}


def _stage(x, filters: int, blocks: int, kernel: int, bn: bool, name: str, first_stride: int = 1):
    for i in range(blocks):
        x = BlazeBlock(filters, kernel, first_stride if i == 0 else 1, bn, name=f"{name}_block{i}")(x)
    return x


def _conv_bn_relu(x, filters: int, kernel: int, strides: int, bn: bool, name: str):
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=not bn, name=f"{name}_conv")(x)
    if bn:
        x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def build_backbone(input_size: int, v: Variant, kernel: int, bn: bool) -> keras.Model:
    image = keras.Input((input_size, input_size, 3), name="image")
    x = Normalize(name="normalize")(image)
    x = _conv_bn_relu(x, v.stage_channels[0], 3, 2, bn, "stem")
    outputs = {}
    for i, (c, n) in enumerate(zip(v.stage_channels, v.stage_blocks, strict=True)):
        x = _stage(x, c, n, kernel, bn, f"s{i + 1}", first_stride=1 if i == 0 else 2)
        outputs[f"s{i + 1}"] = x
    return keras.Model(image, outputs, name="backbone")


def build_heatmap_head(
    backbone: keras.Model, v: Variant, kernel: int, bn: bool, k: int, heatmap_bias: float = 0.0
) -> keras.Model:
    shapes = {name: t.shape[1:] for name, t in backbone.output.items()}
    inputs = {name: keras.Input(shapes[name], name=name) for name in ("s2", "s3", "s4", "s5")}
    d = v.decoder_channels
    x = _conv_bn_relu(inputs["s5"], d, 1, 1, bn, "dec5")
    for level in (4, 3, 2):
        x = layers.UpSampling2D(2, interpolation="bilinear", name=f"dec{level}_up")(x)
        skip = _conv_bn_relu(inputs[f"s{level}"], d, 1, 1, bn, f"dec{level}_skip")
        x = layers.Add(name=f"dec{level}_add")([x, skip])
        x = BlazeBlock(d, kernel, 1, bn, name=f"dec{level}_block")(x)
    features = layers.Identity(name="features")(x)
    bias = keras.initializers.Constant(heatmap_bias)  # outputs start flat (small kernels)
    heatmap = layers.Conv2D(k, 1, name="heatmap", kernel_initializer=small(), bias_initializer=bias, **F32)(features)
    offset = layers.Conv2D(2 * k, 1, name="offset", kernel_initializer=small(), **F32)(features)
    return keras.Model(inputs, {"features": features, "heatmap": heatmap, "offset": offset}, name="heatmap_head")


def build_regression_head(
    backbone: keras.Model, heatmap_head: keras.Model, v: Variant, kernel: int, bn: bool, k: int, head: str
) -> keras.Model:
    shapes = {name: t.shape[1:] for name, t in backbone.output.items()}
    inputs = {
        "features": keras.Input(heatmap_head.output["features"].shape[1:], name="features"),
        **{name: keras.Input(shapes[name], name=name) for name in ("s3", "s4", "s5")},
    }
    x = inputs["features"]
    skips = ("s3", "s4", "s5", None)
    for i, (c, n, skip) in enumerate(zip(v.regression_channels, v.regression_blocks, skips, strict=True)):
        x = BlazeBlock(c, kernel, 2, bn, name=f"reg{i}_down")(x)
        if skip is not None:
            x = layers.Add(name=f"reg{i}_add")([x, _conv_bn_relu(inputs[skip], c, 1, 1, bn, f"reg{i}_skip")])
        x = _stage(x, c, n, kernel, bn, f"reg{i}")
    # A learned per-channel pooling of the last (4x4) map, normalised, then the output layers: a dense layer
    # on the flattened map (6144 inputs of unnormalised activations) made every Adam step move the outputs
    # so far that training collapsed to the mean pose.
    x = layers.DepthwiseConv2D(x.shape[1], padding="valid", use_bias=not bn, name="reg_pool")(x)
    x = layers.Flatten(name="reg_flatten")(x)
    x = layers.BatchNormalization(name="reg_norm")(x)
    return keras.Model(inputs, HEADS[head].build(x, k), name="regression_head")


PRESENCE_CHANNELS = 64


def build_presence_head(backbone: keras.Model, bn: bool, kernel: int) -> keras.Model:
    """The paper's pose flag: the backbone's last stage -> the probability that the crop holds a person
    (B, 1). A 1x1 projection, one BlazeBlock, the mean and the maximum over the map, one dense layer."""
    s5 = keras.Input(backbone.output["s5"].shape[1:], name="s5")
    x = _conv_bn_relu(s5, PRESENCE_CHANNELS, 1, 1, bn, "presence_proj")
    x = BlazeBlock(PRESENCE_CHANNELS, kernel, 1, bn, name="presence_block")(x)
    pooled = layers.Concatenate(name="presence_pool")(
        [layers.GlobalAveragePooling2D(name="presence_mean")(x), layers.GlobalMaxPooling2D(name="presence_max")(x)]
    )
    presence = layers.Dense(1, activation="sigmoid", name="presence", **F32)(pooled)
    return keras.Model(s5, presence, name="presence_head")


def build_blazepose(
    variant: str = "full",
    input_size: int = 256,
    num_joints: int = LSP.num_joints,  # build_from_config gives the config's skeleton's
    head: str = "xy_linear_v_sigmoid_separate",
    kernel_size: int = 3,
    batch_norm: bool = True,
    heatmap_bias: float = 0.0,
    stop_gradient: bool = True,
    presence: bool = False,
) -> keras.Model:
    """The training model: image -> {'heatmap', 'offset', 'joints'[, 'visibility']}, with named sub-models.

    `heatmap_bias` initialises the heatmap output's bias (about -2.2 for focal-loss logits, a 10 % prior).
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    if head not in HEADS:
        raise ValueError(f"unknown head {head!r}; known: {', '.join(HEADS)}")
    if input_size % 32:
        raise ValueError(f"input_size must be a multiple of 32, got {input_size}")
    v = VARIANTS[variant]
    backbone = build_backbone(input_size, v, kernel_size, batch_norm)
    heatmap_head = build_heatmap_head(backbone, v, kernel_size, batch_norm, num_joints, heatmap_bias)
    regression_head = build_regression_head(backbone, heatmap_head, v, kernel_size, batch_norm, num_joints, head)

    image = keras.Input((input_size, input_size, 3), name="image")
    stages = backbone(image)
    hm = heatmap_head({name: stages[name] for name in ("s2", "s3", "s4", "s5")})
    # Without the stop-gradient (not the paper's design) the regression loss reaches the backbone and decoder.
    link = StopGradient if stop_gradient else layers.Identity
    reg_in = {"features": link(name="stop_features" if stop_gradient else "to_reg_features")(hm["features"])}
    for name in ("s3", "s4", "s5"):
        reg_in[name] = link(name=f"stop_{name}" if stop_gradient else f"to_reg_{name}")(stages[name])
    outputs = {"heatmap": hm["heatmap"], "offset": hm["offset"], **regression_head(reg_in)}
    if presence:  # always behind a stop-gradient: its loss never reaches the backbone
        head = build_presence_head(backbone, batch_norm, kernel_size)
        outputs["presence"] = head(StopGradient(name="stop_presence")(stages["s5"]))
    return keras.Model(image, outputs, name=f"blazepose_{variant}")


def build_from_config(cfg) -> keras.Model:
    from blazepose.keypoints import skeleton_of

    m = cfg.model
    bias = FOCAL_PRIOR_BIAS if cfg.loss.heatmap_type == "focal" else 0.0
    return build_blazepose(
        m.variant,
        cfg.data.input_size,
        skeleton_of(cfg).num_joints,
        m.head,
        m.kernel_size,
        m.batch_norm,
        bias,
        m.regression_stop_gradient,
        m.presence,
    )


# log(0.1 / 0.9): focal-loss logits start at a 10 % probability everywhere (CenterNet's prior).
FOCAL_PRIOR_BIAS = -2.19


DECODES = ("regression", "heatmap")


def inference_model(
    model: keras.Model, decode: str = "regression", logits: bool = True, presence: bool = True
) -> keras.Model:
    """image -> joints (K, 2) normalized + visibility (K,) [or the head's own layout] [+ presence (1,) when the
    network has that head], sharing weights.

    decode "regression" (the paper): backbone + decoder features + regression head; the heatmap and offset
    output layers are dropped. "heatmap": backbone + heatmap head, decoded in the graph (argmax + offset,
    `HeatmapDecoder`); the regression head is dropped. `logits`: the heatmaps are focal-loss logits. `presence`:
    keep the presence output of a network that has one.
    """
    if decode not in DECODES:
        raise ValueError(f"unknown decode {decode!r}; known: {', '.join(DECODES)}")
    backbone = model.get_layer("backbone")
    heatmap_head = model.get_layer("heatmap_head")
    image = keras.Input(model.input.shape[1:], name="image")
    stages = backbone(image)
    levels = {name: stages[name] for name in ("s2", "s3", "s4", "s5")}
    extra = {}
    names = {layer.name for layer in model.layers}
    if presence and "presence_head" in names:
        extra["presence"] = layers.Identity(name="presence")(model.get_layer("presence_head")(stages["s5"]))
    if decode == "heatmap":
        hm = heatmap_head(levels)
        joints, visibility = HeatmapDecoder(logits, name="heatmap_decoder")(hm["heatmap"], hm["offset"])
        outputs = {
            "joints": layers.Identity(name="joints")(joints),
            "visibility": layers.Identity(name="visibility")(visibility),
            **extra,
        }
        return keras.Model(image, outputs, name=model.name + "_heatmap_inference")
    regression_head = model.get_layer("regression_head")
    decoder = keras.Model(heatmap_head.input, heatmap_head.get_layer("features").output, name="decoder")
    features = decoder(levels)
    outputs = regression_head({"features": features, **{name: stages[name] for name in ("s3", "s4", "s5")}})
    outputs = {**outputs, **extra}
    return keras.Model(image, outputs, name=model.name + "_inference")


def inference_model_for(model: keras.Model, cfg, decode: str | None = None) -> keras.Model:
    """`inference_model` as `cfg` says: its decode unless `decode` is given, and logits with the focal loss."""
    m = cfg.model
    return inference_model(model, decode or m.decode, cfg.loss.heatmap_type == "focal", m.presence)


def count_params(model: keras.Model) -> int:
    return int(sum(w.numpy().size for w in model.weights if "seed_generator" not in w.path))

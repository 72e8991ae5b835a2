"""The person detector: a small BlazeBlock network over the whole image (letterboxed to a square) that gives,
for every person, a score, a box and the paper's alignment (centre = mid-hips, radius of the circle around the
body, rotation of the mid-hips -> mid-shoulders line).

    image (S, S, 3) 0..255
      -> backbone:       s1 (S/2) ... s5 (S/32)      the landmark network's BlazeBlock backbone, narrower
      -> detection_head: features (S/8) = top-down over s5, s4, s3 with skip connections
                         centre (S/8, S/8, 1) logits, offset (.., 2), size (.., 1), rotation (.., 2), box (.., 4)

A centre map rather than anchors: one peak per person at the mid-hips, with the geometry read at the peak
(``DetectionCodec``), so the alignment is regressed where the paper puts it, without an anchor table to tune,
and several people come out as several peaks. Variants are entries in ``DETECTORS``.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
from keras import layers

from blazepose.codec import DETECTION_OUTPUTS
from blazepose.models.blazepose import F32, FOCAL_PRIOR_BIAS, Variant, _conv_bn_relu, build_backbone, small
from blazepose.models.layers import BlazeBlock


@dataclass(frozen=True)
class DetectorVariant:
    backbone: Variant  # only stage_channels and stage_blocks are read
    head_channels: int
    head_blocks: int  # BlazeBlocks on the stride-8 features before the outputs


DETECTORS = {
    "detector": DetectorVariant(Variant((16, 32, 64, 96, 128), (0, 1, 2, 3, 3), 0, (), ()), 48, 2),
    # For tests and smoke runs only.
    "detector_tiny": DetectorVariant(Variant((8, 16, 16, 24, 32), (0, 1, 1, 1, 1), 0, (), ()), 8, 1),
}


def build_detection_head(backbone: keras.Model, d: DetectorVariant, kernel: int, bn: bool) -> keras.Model:
    shapes = {name: t.shape[1:] for name, t in backbone.output.items()}
    inputs = {name: keras.Input(shapes[name], name=name) for name in ("s3", "s4", "s5")}
    c = d.head_channels
    x = _conv_bn_relu(inputs["s5"], c, 1, 1, bn, "det5")
    for level in (4, 3):
        x = layers.UpSampling2D(2, interpolation="bilinear", name=f"det{level}_up")(x)
        x = layers.Add(name=f"det{level}_add")([x, _conv_bn_relu(inputs[f"s{level}"], c, 1, 1, bn, f"det{level}_skip")])
        x = BlazeBlock(c, kernel, 1, bn, name=f"det{level}_block")(x)
    for i in range(d.head_blocks):
        x = BlazeBlock(c, 5, 1, bn, name=f"det_out{i}")(x)
    outputs = {}
    for name, n in DETECTION_OUTPUTS.items():
        bias = keras.initializers.Constant(FOCAL_PRIOR_BIAS if name == "centre" else 0.0)
        outputs[name] = layers.Conv2D(n, 1, name=name, kernel_initializer=small(), bias_initializer=bias, **F32)(x)
    return keras.Model(inputs, outputs, name="detection_head")


def build_detector(variant: str = "detector", input_size: int = 224, kernel_size: int = 3, batch_norm: bool = True):
    """image (S, S, 3) 0..255 -> {'centre', 'offset', 'size', 'rotation', 'box'} at stride 8."""
    if variant not in DETECTORS:
        raise ValueError(f"unknown detector variant {variant!r}; known: {', '.join(DETECTORS)}")
    if input_size % 32:
        raise ValueError(f"input_size must be a multiple of 32, got {input_size}")
    d = DETECTORS[variant]
    backbone = build_backbone(input_size, d.backbone, kernel_size, batch_norm)
    head = build_detection_head(backbone, d, kernel_size, batch_norm)
    image = keras.Input((input_size, input_size, 3), name="image")
    stages = backbone(image)
    outputs = head({name: stages[name] for name in ("s3", "s4", "s5")})
    outputs = {name: layers.Identity(name=name, **F32)(outputs[name]) for name in DETECTION_OUTPUTS}
    return keras.Model(image, outputs, name="blazepose_detector")


def detector_from_config(cfg) -> keras.Model:
    return build_detector(cfg.model.variant, cfg.data.input_size, cfg.model.kernel_size, cfg.model.batch_norm)

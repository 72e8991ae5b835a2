"""BlazePose building blocks, each a serializable Keras layer.

BlazeBlock: depthwise k x k convolution (stride 1 or 2) -> 1x1 convolution -> + shortcut -> ReLU, as in
BlazeFace / BlazePose. A stride-2 shortcut is a 2x2 max-pool. When the block widens, the shortcut goes
through a 1x1 projection (ResNet's projection shortcut) rather than being padded with zero channels: a
channel-padding op crashed TF 2.21's oneDNN kernels (exit 139), and the zero-concatenation workaround
(zeros_like + tile + concat) is not delegated to XNNPACK, which split the exported TFLite graph into 10
partitions and cost about a third of its latency.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from blazepose.codec import heat_to_normalized


@keras.saving.register_keras_serializable(package="blazepose")
class BlazeBlock(layers.Layer):
    def __init__(self, filters: int, kernel_size: int = 3, strides: int = 1, batch_norm: bool = True, **kwargs):
        super().__init__(**kwargs)
        if strides not in (1, 2):
            raise ValueError(f"BlazeBlock strides must be 1 or 2, got {strides}")
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.batch_norm = batch_norm
        self.depthwise = layers.DepthwiseConv2D(kernel_size, strides=strides, padding="same", use_bias=not batch_norm)
        self.pointwise = layers.Conv2D(filters, 1, use_bias=not batch_norm)
        self.norm = layers.BatchNormalization() if batch_norm else None
        self.pool = layers.MaxPooling2D(2) if strides == 2 else None
        self.project = None  # made in build() when the block widens

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels > self.filters:
            raise ValueError(f"BlazeBlock cannot reduce channels ({channels} -> {self.filters})")
        self.depthwise.build(input_shape)
        out_shape = self.depthwise.compute_output_shape(input_shape)
        self.pointwise.build(out_shape)
        if self.norm is not None:
            self.norm.build(self.pointwise.compute_output_shape(out_shape))
        if channels < self.filters:
            self.project = layers.Conv2D(self.filters, 1, use_bias=False, name="project")
            self.project.build(out_shape[:-1] + (channels,))

    def call(self, inputs, training=None):
        x = self.pointwise(self.depthwise(inputs))
        if self.norm is not None:
            x = self.norm(x, training=training)
        shortcut = self.pool(inputs) if self.pool is not None else inputs
        if self.project is not None:
            shortcut = self.project(shortcut)
        return ops.relu(x + shortcut)

    def compute_output_shape(self, input_shape):
        b, h, w, _ = input_shape
        if self.strides == 2:
            h = None if h is None else (h + 1) // 2
            w = None if w is None else (w + 1) // 2
        return (b, h, w, self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "batch_norm": self.batch_norm,
        }


@keras.saving.register_keras_serializable(package="blazepose")
class StopGradient(layers.Layer):
    """Identity forward, no gradient backward: the regression branch cannot train the backbone."""

    def call(self, inputs):
        return ops.stop_gradient(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="blazepose")
class Normalize(layers.Layer):
    """0..255 pixels -> [-1, 1] (the model takes raw RGB values; no stretching, no external scaling)."""

    def call(self, inputs):
        return ops.cast(inputs, self.compute_dtype) / 127.5 - 1.0

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="blazepose")
class HeatmapDecoder(keras.layers.Layer):
    """`codec.Codec.decode` with offsets, inside the graph (so it exports to TFLite / ONNX with the model).

    heatmap (B, H, W, K), offset (B, H, W, 2K) -> joints (B, K, 2) normalized to the input crop, as the
    regression head's, and visibility (B, K): the peak's score (sigmoid of the peak logit when `logits`).
    The argmax pixel's offset is picked with a one-hot product rather than a gather, which every runtime has.
    The cell and its offset go to crop coordinates through ``codec.heat_to_normalized``, as in ``Codec.decode``.
    """

    def __init__(self, logits: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.logits = logits

    def call(self, heatmap, offset):
        import tensorflow as tf

        ops = keras.ops
        _, h, w, k = heatmap.shape
        flat = ops.reshape(heatmap, (-1, h * w, k))
        # tf.math.argmax, not keras.ops.argmax: Keras' TensorFlow version tells -0.0 from 0.0 with a
        # BitwiseAnd op that LiteRT lacks.
        idx = tf.math.argmax(flat, axis=1)  # (B, K)
        peak = ops.max(flat, axis=1)
        pick = ops.one_hot(idx, h * w, axis=1, dtype=offset.dtype)  # (B, HW, K)
        off = ops.reshape(offset, (-1, h * w, k, 2))
        du = ops.sum(pick * off[..., 0], axis=1)
        dv = ops.sum(pick * off[..., 1], axis=1)
        # Row and column in float arithmetic (exact below 2**24).
        flat_idx = ops.cast(idx, offset.dtype)
        j = ops.floor(flat_idx / w)
        i = flat_idx - j * w
        joints = heat_to_normalized(ops.stack([i + du, j + dv], axis=-1), w)  # square heatmaps (h == w)
        visibility = ops.sigmoid(peak) if self.logits else ops.clip(peak, 0.0, 1.0)
        return joints, visibility

    def compute_output_shape(self, heatmap_shape, offset_shape):
        return (heatmap_shape[0], heatmap_shape[-1], 2), (heatmap_shape[0], heatmap_shape[-1])

    def get_config(self):
        return {**super().get_config(), "logits": self.logits}

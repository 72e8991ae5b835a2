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

"""Keras layers for the TFLite builtin ops that have no Keras layer of the same meaning, each serializable.

``training/tflite_import.py`` rebuilds a .tflite graph one Keras layer per op; convolutions, pooling, reshape,
sigmoid and concatenation map onto Keras' own layers, these onto the ones below. Under TensorFlow each calls the
TensorFlow op that the TFLite converter turns back into the same builtin, so an imported model exports to the
file's own ops.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers, ops

# TFLite's fused activation functions (ActivationFunctionType) -> Keras activation names.
FUSED_ACTIVATIONS = {0: None, 1: "relu", 3: "relu6", 4: "tanh"}


@keras.saving.register_keras_serializable(package="blazepose")
class TFLitePad(layers.Layer):
    """PAD with constant zeros: ((top, bottom), (left, right)) rows and columns and (before, after) channels.
    Channels are padded by concatenating zeros (a channel-padding op crashed TF 2.21's oneDNN kernels)."""

    def __init__(self, spatial=((0, 0), (0, 0)), channels=(0, 0), **kwargs):
        super().__init__(**kwargs)
        self.spatial = tuple(tuple(int(v) for v in p) for p in spatial)
        self.channels = tuple(int(v) for v in channels)

    def call(self, x):
        if any(v for p in self.spatial for v in p):
            x = ops.pad(x, ((0, 0), *self.spatial, (0, 0)))
        before, after = self.channels
        if before or after:
            zeros = ops.zeros_like(x[..., :1])
            parts = [ops.repeat(zeros, before, axis=-1)] if before else []
            parts.append(x)
            if after:
                parts.append(ops.repeat(zeros, after, axis=-1))
            x = ops.concatenate(parts, axis=-1)
        return x

    def compute_output_shape(self, shape):
        b, h, w, c = shape
        (t, bo), (le, r) = self.spatial
        grow = lambda n, a, z: None if n is None else n + a + z  # noqa: E731
        return (b, grow(h, t, bo), grow(w, le, r), grow(c, *self.channels))

    def get_config(self):
        return {**super().get_config(), "spatial": self.spatial, "channels": self.channels}


@keras.saving.register_keras_serializable(package="blazepose")
class TFLiteAdd(layers.Layer):
    """ADD of two tensors (broadcasting as TFLite does) with its fused activation."""

    def __init__(self, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.activation = activation
        self._fn = keras.activations.get(activation)

    def call(self, inputs):
        return self._fn(inputs[0] + inputs[1])

    def compute_output_shape(self, shapes):
        a, b = shapes
        return tuple(x if y in (1, None) or x not in (1, None) else y for x, y in zip(a, b, strict=True))

    def get_config(self):
        return {**super().get_config(), "activation": self.activation}


@keras.saving.register_keras_serializable(package="blazepose")
class TFLiteResizeBilinear(layers.Layer):
    """RESIZE_BILINEAR to a fixed (height, width) with the file's align_corners / half_pixel_centers."""

    def __init__(self, size=(1, 1), align_corners=False, half_pixel_centers=False, **kwargs):
        super().__init__(**kwargs)
        self.size = tuple(int(v) for v in size)
        self.align_corners, self.half_pixel_centers = bool(align_corners), bool(half_pixel_centers)

    def call(self, x):
        return tf.raw_ops.ResizeBilinear(
            images=x, size=self.size, align_corners=self.align_corners, half_pixel_centers=self.half_pixel_centers
        )

    def compute_output_shape(self, shape):
        return (shape[0], *self.size, shape[3])

    def get_config(self):
        return {
            **super().get_config(),
            "size": self.size,
            "align_corners": self.align_corners,
            "half_pixel_centers": self.half_pixel_centers,
        }


@keras.saving.register_keras_serializable(package="blazepose")
class TFLiteDepthToSpace(layers.Layer):
    """DEPTH_TO_SPACE (NHWC)."""

    def __init__(self, block_size=2, **kwargs):
        super().__init__(**kwargs)
        self.block_size = int(block_size)

    def call(self, x):
        return tf.nn.depth_to_space(x, self.block_size)

    def compute_output_shape(self, shape):
        b, h, w, c = shape
        s = self.block_size
        return (b, None if h is None else h * s, None if w is None else w * s, c // (s * s))

    def get_config(self):
        return {**super().get_config(), "block_size": self.block_size}

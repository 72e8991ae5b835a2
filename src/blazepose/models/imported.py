"""An imported MediaPipe graph as a network of this toolkit: 0..255 crops in, named outputs out.

    image (B, S, S, 3) 0..255
      -> MediaPipeInput: [0, 1] (landmarks) or [-1, 1] (detector), MediaPipe's input range
      -> "graph": the imported graph itself (training/tflite_import.py), a sub-model with the file's inputs and
         outputs in the file's order; training trains it whole, export --mediapipe writes it back
      -> MediaPipeLandmarks: {"joints" (B, 33, 2) normalized to the crop, "visibility" (B, 33) in 0..1,
         "presence" (B,), "heatmap" (B, 64, 64, 33) logits (MediaPipe refines its landmarks from them)};
         the detector: {"regressors" (B, 2254, 12), "scores" (B, 2254, 1)}

The landmark decode is ``mediapipe.decode_landmarks`` written in Keras ops (a test checks the two agree).
"""

from __future__ import annotations

import keras
from keras import layers, ops

from blazepose.mediapipe import DETECTOR_OUTPUTS, LANDMARK_INPUT, LANDMARK_OUTPUTS, NUM_BODY, NUM_LANDMARKS

GRAPH = "graph"  # the imported graph's sub-model name


@keras.saving.register_keras_serializable(package="blazepose")
class MediaPipeInput(layers.Layer):
    """0..255 pixels -> MediaPipe's input range."""

    def __init__(self, task: str = "landmarks", **kwargs):
        super().__init__(**kwargs)
        self.task = task

    def call(self, x):
        return x / 255.0 if self.task == "landmarks" else x / 127.5 - 1.0

    def get_config(self):
        return {**super().get_config(), "task": self.task}


@keras.saving.register_keras_serializable(package="blazepose")
class MediaPipeLandmarks(layers.Layer):
    """(B, 195) raw landmarks, (B, 1) pose flag and (B, 64, 64, 39) heatmaps -> joints, visibility, presence
    (``mediapipe.decode_landmarks``) and the body points' heatmaps."""

    def call(self, landmarks, pose_flag, heatmap):
        raw = ops.reshape(landmarks, (-1, NUM_LANDMARKS, 5))[:, :NUM_BODY]
        return {
            "joints": raw[..., :2] / float(LANDMARK_INPUT),
            "visibility": ops.sigmoid(raw[..., 3]),
            "presence": ops.reshape(pose_flag, (-1,)),
            "heatmap": heatmap[..., :NUM_BODY],
        }


def wrap_graph(graph: keras.Model, task: str, name: str) -> keras.Model:
    """The network around an imported graph (the module docstring)."""
    size = int(graph.inputs[0].shape[1])
    image = keras.Input((size, size, 3), name="image")
    if graph.name != GRAPH:  # the sub-model's name is how checkpoints, training and export find it
        raise ValueError(f"the imported graph must be named {GRAPH!r}, got {graph.name!r}")
    raw = graph(MediaPipeInput(task, name="mediapipe_input")(image))
    if task == "landmarks":
        named = dict(zip(LANDMARK_OUTPUTS, raw, strict=True))
        outputs = MediaPipeLandmarks(name="decode")(named["landmarks"], named["pose_flag"], named["heatmap"])
    else:
        outputs = dict(zip(DETECTOR_OUTPUTS, raw, strict=True))
    return keras.Model(image, outputs, name=name.replace("-", "_"))


FEATURES = "graph"  # a new-head network's sub-model: the imported graph up to its landmark layer, and its pose flag
NEW_HEAD = "landmark_head"


def with_new_heads(net: keras.Model, num_joints: int, name: str) -> keras.Model:
    """An imported landmark network with new landmark outputs for another skeleton: the imported graph up to the
    features its landmark layer reads (the sub-model ``graph``, with the pose flag beside), then a new landmark
    layer of the same shape giving `num_joints` x (x, y, visibility logit): joints normalized to the crop, their
    visibility through a sigmoid, presence the imported pose flag. Trains as one phase like a 33-point import."""
    graph = net.get_layer(GRAPH)
    reshape = graph.outputs[0]._keras_history[0]  # the landmarks' RESHAPE
    landmark_layer = reshape.input._keras_history[0]  # the conv that gives the 39 x 5 values
    features = keras.Model(graph.inputs, [landmark_layer.input, graph.outputs[1]], name=FEATURES)
    feat_in = keras.Input(landmark_layer.input.shape[1:], name="features")
    x = layers.Conv2D(num_joints * 3, landmark_layer.kernel_size, padding="valid", name="landmarks")(feat_in)
    head = keras.Model(feat_in, layers.Flatten(name="flat")(x), name=NEW_HEAD)
    image = keras.Input(net.input.shape[1:], name="image")
    task = net.get_layer("mediapipe_input").task
    feats, flag = features(MediaPipeInput(task, name="mediapipe_input")(image))
    raw = head(feats)
    outputs = NewLandmarks(num_joints, name="decode")(raw, flag)
    return keras.Model(image, outputs, name=name.replace("-", "_"))


@keras.saving.register_keras_serializable(package="blazepose")
class NewLandmarks(layers.Layer):
    """A new head's (B, K x 3) -> joints (B, K, 2) normalized to the crop (the crop's centre at the start),
    visibility (B, K) through a sigmoid, presence (B,) the imported pose flag."""

    def __init__(self, num_joints: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.num_joints = int(num_joints)

    def call(self, raw, pose_flag):
        v = ops.reshape(raw, (-1, self.num_joints, 3))
        return {
            "joints": v[..., :2] + 0.5,
            "visibility": ops.sigmoid(v[..., 2]),
            "presence": ops.reshape(pose_flag, (-1,)),
        }

    def get_config(self):
        return {**super().get_config(), "num_joints": self.num_joints}

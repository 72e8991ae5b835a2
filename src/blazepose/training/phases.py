"""Training phases switch by structure: whole named sub-models are frozen, then the model is re-compiled.

Keras only honours a change of ``trainable`` at the next ``compile``, so ``compile_for_phase`` always does
both. A frozen sub-model's BatchNorm layers also run in inference mode, so its weights stay bit-identical.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from blazepose.config import Config
from blazepose.errors import BlazePoseError
from blazepose.keypoints import skeleton_of
from blazepose.losses import (
    DETECTION_LOSS_NAMES,
    LOSS_NAMES,
    choose_sides,
    compute_losses,
    distill_loss,
    joint_distill_loss,
)
from blazepose.models.blazepose import HEADS
from blazepose.training.checkpoint import SUB_MODELS, sub_models


@dataclass(frozen=True)
class Phase:
    name: str
    task: str  # config.task
    trainable: tuple[str, ...]  # sub-models trained in this phase
    losses: tuple[str, ...]  # losses minimised
    # What validation scores: the PCK@0.2 of joints decoded from "heatmap", "joints", or "decode"
    # (model.decode's); "box_ap": the detector's box AP on validation scenes; "presence": the presence output's
    # balanced accuracy on validation crops with and without a person.
    metric: str


PHASES = {
    "heatmap": Phase("heatmap", "landmarks", ("backbone", "heatmap_head"), ("heatmap", "offset"), "heatmap"),
    "regression": Phase("regression", "landmarks", ("regression_head",), ("coordinate", "visibility"), "joints"),
    "finetune": Phase("finetune", "landmarks", SUB_MODELS, LOSS_NAMES, "decode"),
    "presence": Phase("presence", "landmarks", ("presence_head",), ("presence",), "presence"),
    "detector": Phase("detector", "detector", ("backbone", "detection_head"), DETECTION_LOSS_NAMES, "box_ap"),
    # An imported MediaPipe graph (model.imported), trained whole: its decoded joints and visibility, its heatmaps
    # (logits, focal loss; weight loss.heatmap), from which MediaPipe's own pipeline refines the joints, and its
    # pose flag (with train.imported_negatives, on crops with and without a person).
    "mediapipe": Phase(
        "mediapipe",
        "landmarks",
        ("graph", "landmark_head"),  # the head: new landmark outputs for another skeleton, where there are some
        ("coordinate", "visibility", "heatmap", "presence"),
        "joints",
    ),
    # Its pose flag alone (train.presence_epochs at train.presence_lr): the layers that only the flag reads train,
    # every layer the landmarks or heatmaps read stays as it is, so the landmarks cannot change.
    "mediapipe_flag": Phase("mediapipe_flag", "landmarks", ("graph",), ("presence",), "presence"),
}
# Phases whose epochs and learning rate are another's settings.
SETTINGS_OF = {"mediapipe": "finetune", "mediapipe_flag": "presence"}
POSE_FLAG = 1  # the pose flag's place among an imported landmark graph's outputs (mediapipe.LANDMARK_OUTPUTS)


def trained_by(phase: str) -> tuple[str, ...]:
    """Sub-models trained by `phase` or any phase of its task before it: a checkpoint of `phase` must fill these."""
    names: list[str] = []
    task = PHASES[phase].task
    for name, p in PHASES.items():
        if p.task != task:
            continue
        names += [m for m in p.trainable if m not in names]
        if name == phase:
            return tuple(names)
    raise KeyError(phase)


def phase_epochs(cfg: Config) -> dict[str, int]:
    """The phases of the config's task, in order, with their epochs."""
    t = cfg.train
    if cfg.task == "detector":
        return {"detector": t.detector_epochs}
    if cfg.model.imported:  # MediaPipe's graph: whole (finetune settings), then its pose flag alone (presence's)
        return {"mediapipe": t.finetune_epochs, "mediapipe_flag": t.presence_epochs}
    return {
        "heatmap": t.heatmap_epochs,
        "regression": t.regression_epochs,
        "finetune": t.finetune_epochs,
        "presence": t.presence_epochs,
    }


def phase_lr(cfg: Config, phase: str) -> float:
    return getattr(cfg.train, f"{SETTINGS_OF.get(phase, phase)}_lr")


@keras.saving.register_keras_serializable(package="blazepose")
class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up over `warmup_steps`, then cosine decay to `peak x final_fraction` at `total_steps`."""

    def __init__(self, peak: float, total_steps: int, warmup_steps: int, final_fraction: float):
        self.peak = float(peak)
        self.total_steps = int(max(total_steps, 1))
        self.warmup_steps = int(warmup_steps)
        self.final_fraction = float(final_fraction)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warm = self.peak * (step + 1.0) / max(self.warmup_steps, 1)
        progress = ops.clip((step - self.warmup_steps) / max(self.total_steps - self.warmup_steps, 1), 0.0, 1.0)
        floor = self.peak * self.final_fraction
        cosine = floor + (self.peak - floor) * 0.5 * (1.0 + ops.cos(math.pi * progress))
        return ops.where(step < self.warmup_steps, warm, cosine)

    def get_config(self):
        return {
            "peak": self.peak,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "final_fraction": self.final_fraction,
        }


def heatmap_branch(net: keras.Model, x, training: bool) -> dict:
    """The backbone and heatmap head of `net` alone (no regression head): {"heatmap", "offset"}."""
    stages = net.get_layer("backbone")(x, training=training)
    return net.get_layer("heatmap_head")({k: stages[k] for k in ("s2", "s3", "s4", "s5")}, training=training)


class _Untracked:
    """A holder Keras does not look into."""

    def __init__(self, model):
        self.model = model


class DistributedFit:
    """What Keras 3's ``fit`` needs to run under ``tf.distribute.MultiWorkerMirroredStrategy``
    (keras-team/keras#20585): the trainer and its optimizer built in the strategy's scope before ``fit``
    (``build_for_fit``), so that ``fit`` skips its symbolic build, which reduces the first distributed batch and
    fails; and the step's logs as (1,) tensors, which its multi-worker reduction (a mean over axis 0) needs."""

    def build_for_fit(self, input_size: int) -> None:
        if not self.built:
            self(np.zeros((1, input_size, input_size, 3), np.float32))
        self.optimizer.build(self.trainable_variables)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if self.built and self.optimizer is not None and self.optimizer.built:
            return None
        return super()._maybe_symbolic_build(iterator, data_batch)

    @staticmethod
    def per_replica(total):
        """A replica's share of the loss: Keras sums the replicas' gradients under tf.distribute, so each replica's
        loss is scaled by 1 / replicas, as Keras' own losses are (``losses._batch_mean`` relies on it)."""
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        return total / replicas if replicas > 1 else total

    def train_step(self, data):
        logs = super().train_step(data)
        if _multi_worker():
            logs = {k: ops.reshape(v, (1,)) for k, v in logs.items()}
        return logs


def _multi_worker() -> bool:
    return isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy)


class PoseTrainer(DistributedFit, keras.Model):
    """Wraps the network for ``fit``: the phase picks which sub-models train and which losses count.

    Only the wrapped network is ever saved; the wrapper holds the training logic. `teacher` (a frozen
    BlazePose network, ``loss.distill_from``) adds its heatmaps as a second target wherever the heatmap loss
    counts.
    """

    def __init__(self, net: keras.Model, cfg: Config, teacher: keras.Model | None = None):
        super().__init__(name="trainer")
        self.net = net
        self.cfg = cfg
        self.flip_index = skeleton_of(cfg).flip_index  # the person's left <-> right, in the model's joints
        # Held outside Keras' tracking, so that none of the teacher's variables can reach the optimizer: with
        # the teacher as a plain attribute, `teacher.trainable = False` still left 88 variables of a loaded
        # Full model's regression head in the trainer's trainable_variables (Keras 3.15).
        self._frozen = _Untracked(teacher)
        self.distill_tracker = keras.metrics.Mean(name="distill_loss")
        self.linear_visibility = HEADS[cfg.model.head].linear_visibility
        self.phase = PHASES["heatmap"]
        self.trackers = {name: keras.metrics.Mean(name=f"{name}_loss") for name in (*LOSS_NAMES, "presence")}
        # fraction of the either-side samples (loss.either_side_sets) read with left and right exchanged
        self.side_swaps = keras.metrics.Mean(name="side_swaps")

    def call(self, inputs, training=False):
        if self.phase.name == "heatmap":
            # The regression head neither trains nor counts in this phase: skip its forward pass.
            hm = heatmap_branch(self.net, inputs, training)
            return {"heatmap": hm["heatmap"], "offset": hm["offset"]}
        if self.phase.name == "presence":
            # Only that head trains: the backbone runs frozen, nothing else runs.
            s5 = self.net.get_layer("backbone")(inputs, training=False)["s5"]
            return {"presence": self.net.get_layer("presence_head")(s5, training=training)}
        return self.net(inputs, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if self.cfg.loss.either_side_sets and self.phase.name != "presence":
            y, exchanged = choose_sides(y, y_pred, self.flip_index, self.cfg.loss.heatmap_type)
            self.side_swaps.update_state(exchanged, sample_weight=y["either_side"])
        losses = self.phase.losses
        if self.phase.name == "mediapipe":  # an imported graph with new landmark outputs has no heatmaps
            losses = tuple(n for n in losses if n != "heatmap" or "heatmap" in y_pred)
        parts = compute_losses(y, y_pred, self.linear_visibility, self.cfg.loss.heatmap_type, losses)
        if self._distilling and self.phase.name == "mediapipe":
            # mean L1 to the teacher's joints on the crops that hold a person (a crop with nobody has no joints
            # to learn); every joint, or (loss.distill_labelled = false) those the label lacks
            kd = joint_distill_loss(
                y_pred["joints"],
                ops.stop_gradient(self.teacher_joints(x)),
                y["presence"],
                None if self.cfg.loss.distill_labelled else y["mask"],
            )
            self.distill_tracker.update_state(kd)
        elif self._distilling:
            kd = distill_loss(
                ops.cast(y_pred["heatmap"], "float32"),
                ops.stop_gradient(self.teacher_heatmaps(x)),
                self.cfg.loss.heatmap_type == "focal",
            )
            self.distill_tracker.update_state(kd)
        weights = {
            "heatmap": self.cfg.loss.heatmap,
            "offset": self.cfg.loss.offset,
            "coordinate": self.cfg.loss.coordinate,
            "visibility": self.cfg.loss.visibility,
            # the presence phases train the flag alone (weight 1); an imported graph's flag beside the keypoints
            "presence": self.cfg.loss.presence if self.phase.name == "mediapipe" else 1.0,
        }
        total = 0.0
        for name in losses:
            total = total + weights[name] * parts[name]
            self.trackers[name].update_state(parts[name])
        if self._distilling:
            total = total + self.cfg.loss.distill * kd
        return self.per_replica(total)

    @property
    def teacher(self) -> keras.Model | None:
        return self._frozen.model

    def _teacher_pass(self, x):
        return ops.cast(heatmap_branch(self.teacher, x, training=False)["heatmap"], "float32")

    def teacher_joints(self, x):
        """An imported teacher's joints (B, K, 2) for the batch `x`; with ``loss.distill_flip``, the mean with
        those of the mirrored batch, mirrored back (x -> 1 - x) with left and right exchanged."""
        out = ops.cast(self.teacher(x, training=False)["joints"], "float32")
        if self.cfg.loss.distill_flip:
            mirrored = ops.take(
                ops.cast(self.teacher(ops.flip(x, axis=2), training=False)["joints"], "float32"),
                self.flip_index,
                axis=1,
            )
            mirrored = ops.stack([1.0 - mirrored[..., 0], mirrored[..., 1]], axis=-1)
            out = (out + mirrored) / 2
        return out

    def teacher_heatmaps(self, x):
        """The teacher's heatmaps (logits for the focal loss) for the batch `x`; with ``loss.distill_flip``, the
        mean with those of the mirrored batch, mirrored back with left and right exchanged. The heatmap is a
        whole-number fraction of the input, so mirroring the input mirrors the heatmap cell for cell."""
        out = self._teacher_pass(x)
        if self.cfg.loss.distill_flip:
            mirrored = ops.flip(self._teacher_pass(ops.flip(x, axis=2)), axis=2)
            out = (out + ops.take(mirrored, self.flip_index, axis=3)) / 2
        return out

    @property
    def _distilling(self) -> bool:
        return self.teacher is not None and ("heatmap" in self.phase.losses or self.phase.name == "mediapipe")

    @property
    def metrics(self):
        tracked = [self._loss_tracker] if getattr(self, "_loss_tracker", None) is not None else []
        swaps = [self.side_swaps] if self.cfg.loss.either_side_sets else []
        distill = [self.distill_tracker] if self._distilling else []
        return tracked + [self.trackers[name] for name in self.phase.losses] + swaps + distill


def set_phase(net: keras.Model, phase: str) -> None:
    """Freeze every sub-model this phase does not train (whole sub-models, by name; setting a sub-model's
    `trainable` sets its layers'); in "mediapipe_flag", within the imported graph, every layer but the pose
    flag's own."""
    for name in sub_models(net):
        net.get_layer(name).trainable = name in PHASES[phase].trainable
    if phase == "mediapipe_flag":
        graph = net.get_layer("graph")
        own = flag_only_layers(graph)
        for layer in graph.layers:
            layer.trainable = id(layer) in own


def _ancestors(tensor) -> set[int]:
    """The ids of the layers a symbolic tensor of a functional model is computed by."""
    seen: set[int] = set()
    todo = [tensor]
    while todo:
        history = getattr(todo.pop(), "_keras_history", None)
        if history is None:
            continue
        layer, node_index, _ = history
        if id(layer) not in seen:
            seen.add(id(layer))
            todo.extend(layer._inbound_nodes[node_index].input_tensors)
    return seen


def flag_only_layers(graph: keras.Model) -> set[int]:
    """The ids of the imported graph's layers that only its pose flag depends on (none of the other outputs)."""
    others = set().union(*(_ancestors(t) for i, t in enumerate(graph.outputs) if i != POSE_FLAG))
    return _ancestors(graph.outputs[POSE_FLAG]) - others


def make_optimizer(cfg: Config, phase: str, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    epochs = phase_epochs(cfg)[phase]
    schedule = WarmupCosine(
        phase_lr(cfg, phase),
        total_steps=epochs * steps_per_epoch,
        warmup_steps=int(round(cfg.train.warmup_epochs * steps_per_epoch)),
        final_fraction=cfg.train.final_lr_fraction,
    )
    ema = cfg.train.ema_momentum
    if not 0.0 <= ema < 1.0:
        raise BlazePoseError(f"train.ema_momentum: expected 0 (off) or a number in (0, 1), got {ema}")
    return keras.optimizers.AdamW(
        learning_rate=schedule,
        weight_decay=cfg.train.weight_decay,
        clipnorm=cfg.train.clipnorm or None,
        use_ema=ema > 0,
        ema_momentum=ema,
    )


@contextlib.contextmanager
def averaged_weights(trainer: keras.Model):
    """Inside the block the network holds the optimizer's moving average of its trained weights (when the
    optimizer keeps one, ``train.ema_momentum`` > 0); the trained values come back on exit, bit-identical.
    Non-trainable state (BatchNorm statistics) is not averaged."""
    opt = getattr(trainer, "optimizer", None)
    averages = getattr(opt, "_model_variables_moving_average", None) if getattr(opt, "use_ema", False) else None
    if not averages:
        yield
        return
    pairs = [(v, a) for v, a in zip(opt._trainable_variables, averages, strict=True) if a is not None]
    trained = [v.numpy() for v, _ in pairs]
    for v, a in pairs:
        v.assign(a)
    try:
        yield
    finally:
        for (v, _), value in zip(pairs, trained, strict=True):
            v.assign(value)


def compile_for_phase(trainer: PoseTrainer, phase: str, steps_per_epoch: int) -> None:
    """Switch `trainer` to `phase`: freeze/unfreeze sub-models, fresh optimizer, re-compile (always)."""
    set_phase(trainer.net, phase)
    trainer.phase = PHASES[phase]
    trainer.compile(
        optimizer=make_optimizer(trainer.cfg, phase, steps_per_epoch),
        jit_compile=False,
        run_eagerly=trainer.cfg.train.run_eagerly,
    )
    trainer.build_for_fit(int(trainer.net.input.shape[1]))


def predict(net: keras.Model, images: np.ndarray, batch_size: int, eager: bool = False) -> dict:
    """`net` over `images` in batches: traced (``net.predict``), or called eagerly (no tracing; tiny runs)."""
    if not eager:
        return net.predict(images, batch_size=batch_size, verbose=0)
    outs = [net(images[i : i + batch_size], training=False) for i in range(0, len(images), batch_size)]
    return {k: np.concatenate([np.asarray(o[k]) for o in outs]) for k in outs[0]}

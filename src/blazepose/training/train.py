"""``blazepose train``: the run directory, the phases in order, validation-based selection, resume.

Run directory::

    config.toml            resolved config (every key)
    state.json             per phase: epochs done, best epoch, best validation PCK, history
    <phase>/last.npz       weights + optimizer + state after the last finished epoch (for --resume)
    <phase>/best.npz       weights of the epoch with the best validation PCK (the next phase starts here);
                           with train.ema_momentum > 0, validation and best.npz use the weights' moving average
    <phase>/log.csv        Keras CSV log per epoch (losses, val_pck, lr)
    tensorboard/<phase>/   TensorBoard logs
    curves.png             losses and validation PCK per epoch, every phase
    model.keras            the final network (best epoch of the last phase), all outputs

Validation PCK@0.2 is measured on the validation split carved from LSP's train half, on person crops, decoded
from the heatmaps (+ offsets) in the heatmap phase, from the regressed joints in the regression phase, and in
the finetune phase from what the model decodes (``model.decode``). The test half is never touched here.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
import warnings
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from blazepose import outputs
from blazepose.artifacts import config_beside, resolve_weights
from blazepose.codec import Codec
from blazepose.config import Config, load_config, save_config
from blazepose.data.datasets import load_split
from blazepose.data.pipeline import SkipCounter, load_example, make_dataset
from blazepose.errors import BlazePoseError, check_terminated
from blazepose.evaluation.functional import pck, torso_size
from blazepose.keypoints import skeleton_of
from blazepose.outputs import atomic_write
from blazepose.training.checkpoint import (
    fits,
    load_checkpoint,
    matching_sub_models,
    read_state,
    save_checkpoint,
    sub_models,
)
from blazepose.training.formats import build_network, load_exported_weights, load_network, npz_kind
from blazepose.training.phases import (
    PHASES,
    SETTINGS_OF,
    PoseTrainer,
    averaged_weights,
    compile_for_phase,
    phase_epochs,
    predict,
    trained_by,
)


# --- devices ----------------------------------------------------------------------------------------------
def make_strategy(name: str):
    """tf.distribute strategy by name; 'mirrored' uses every GPU, or every logical CPU when there is none."""
    if name == "multi_worker":  # before anything lists devices: that starts the runtime it must configure
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        name = "mirrored" if len(gpus) > 1 else "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=devices)
    raise BlazePoseError(f"train.strategy: unknown {name!r}; expected auto, default, mirrored or multi_worker")


def synchronize_batch_norm(net: keras.Model) -> None:
    """Batch statistics over the global batch, not each replica's share of it (Keras' ``synchronized``, read
    when the step is traced): with several replicas the network then trains as one process would on the same
    batch, and every replica keeps the same moving statistics."""
    for layer in net._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = True


def set_precision(mode: str) -> str:
    if mode not in ("auto", "on", "off"):
        raise BlazePoseError(f"train.mixed_precision: expected auto, on or off, got {mode!r}")
    on = mode == "on" or (mode == "auto" and bool(tf.config.list_physical_devices("GPU")))
    policy = "mixed_float16" if on else "float32"
    keras.mixed_precision.set_global_policy(policy)
    return policy


# --- validation -------------------------------------------------------------------------------------------
class ValidationSet:
    """The validation split as arrays: person crops (no augmentation) and their joints in input pixels."""

    def __init__(self, cfg: Config, limit: int = 0):
        skeleton = skeleton_of(cfg)
        samples = load_split(cfg.data, "val", skeleton)
        samples = samples[:limit] if limit else samples
        codec = Codec.from_config(cfg.data)
        rng = np.random.default_rng(0)
        examples = [load_example(s, rng, cfg, codec, train=False) for s in samples]
        self.codec = codec
        self.images = np.stack([e["image"] for e in examples])
        self.joints = codec.denormalize(np.stack([e["joints"] for e in examples]))
        self.mask = np.stack([e["mask"] for e in examples])
        self.eager = cfg.train.run_eagerly
        self.skeleton = skeleton

    def score(self, net: keras.Model, source: str, batch_size: int = 32) -> float:
        out = predict(net, self.images, batch_size, self.eager)
        if source == "heatmap":
            pred, _ = self.codec.decode(out["heatmap"], out["offset"])
        else:
            pred = self.codec.denormalize(out["joints"][..., :2])
        norm = torso_size(self.joints, self.mask, self.skeleton)
        return pck(pred, self.joints, self.mask, norm, 0.2, self.skeleton).mean


class PresenceValidationSet:
    """The validation split's person crops (``ValidationSet``) and as many crops with nobody (data.negatives,
    drawn once with seed 0): scores the presence output's balanced accuracy at 0.5, the mean of the share of
    person crops it finds and the share of empty crops it rejects."""

    def __init__(self, cfg: Config, poses: ValidationSet):
        from blazepose.data.negatives import draw_negative, presence_negatives

        self.positives = poses.images
        sources = presence_negatives(cfg, "val")
        rng = np.random.default_rng(0)
        size = cfg.data.input_size
        self.negatives = np.stack([draw_negative(sources, rng, size) for _ in range(len(self.positives))])
        self.eager = cfg.train.run_eagerly

    def rates(self, net: keras.Model, batch_size: int = 32) -> tuple[float, float]:
        """(share of person crops scored >= 0.5, share of empty crops scored < 0.5)."""
        pos = predict(net, self.positives, batch_size, self.eager)["presence"].reshape(-1)
        neg = predict(net, self.negatives, batch_size, self.eager)["presence"].reshape(-1)
        return float(np.mean(pos >= 0.5)), float(np.mean(neg < 0.5))

    def score(self, net: keras.Model, source: str, batch_size: int = 32) -> float:
        return float(np.mean(self.rates(net, batch_size)))


def validation_source(cfg: Config, phase: str) -> str:
    """What a phase's validation PCK (and so its best epoch) is decoded from: the heatmap phase's heatmaps, the
    regression phase's joints, and in the finetune phase the model's own decode (``model.decode``); the
    detector phase scores box AP."""
    metric = PHASES[phase].metric
    if metric == "decode":
        return "heatmap" if cfg.model.decode == "heatmap" else "joints"
    return metric


# Per task: the validation figure's key in logs and state.json, and its name in messages.
VALIDATION = {"landmarks": ("val_pck", "validation PCK@0.2"), "detector": ("val_ap", "validation box AP")}
PRESENCE_VALIDATION = ("val_presence", "validation presence accuracy")
HEAD_VALIDATION = {"presence": PRESENCE_VALIDATION}  # by metric (the presence and mediapipe_flag phases)


def phase_validation(cfg: Config, phase: str) -> tuple[str, str]:
    """A phase's validation figure: (key, name)."""
    return HEAD_VALIDATION.get(PHASES[phase].metric, VALIDATION[cfg.task])


class Validation(keras.callbacks.Callback):
    def __init__(self, val, source: str, batch_size: int, key: str = "val_pck"):
        super().__init__()
        self.val, self.source, self.batch_size, self.key = val, source, batch_size, key

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            with averaged_weights(self.model):
                logs[self.key] = self.val.score(self.model.net, self.source, self.batch_size)


class NaNGuard(keras.callbacks.Callback):
    """Stops training at the first non-finite loss and remembers where; after SIGTERM, ends it at the next step
    (``errors.check_terminated``: the handler's own exception may have been dropped in a finalizer)."""

    def __init__(self):
        super().__init__()
        self.failed: tuple[int, int, float] | None = None
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        check_terminated()
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.failed = (self.epoch, batch, float(loss))
            self.model.stop_training = True


class Checkpointer(keras.callbacks.Callback):
    """After each good epoch: best.npz when validation PCK improved, then last.npz, then state.json."""

    def __init__(self, run: Run, phase: str, guard: NaNGuard, key: str = "val_pck"):
        super().__init__()
        self.run, self.phase, self.guard, self.key = run, phase, guard, key

    def on_epoch_end(self, epoch, logs=None):
        if self.guard.failed is not None:
            return
        logs = logs or {}
        record = {k: float(v) for k, v in logs.items() if np.isscalar(v) or np.ndim(v) == 0}
        record["epoch"] = epoch + 1
        p = self.run.state["phases"].setdefault(self.phase, {"epochs_done": 0, "history": []})
        p["history"].append(record)
        p["epochs_done"] = epoch + 1
        val, best = record.get(self.key, float("nan")), f"best_{self.key}"
        if best not in p or val > p[best]:
            p[best], p["best_epoch"] = val, epoch + 1
            with averaged_weights(self.model):
                save_checkpoint(self.run.phase_dir(self.phase) / "best.npz", self.model.net, state=dict(p))
        save_checkpoint(self.run.phase_dir(self.phase) / "last.npz", self.model.net, self.model.optimizer, dict(p))
        self.run.save_state()
        self.run.plot_curves()


# --- the run directory ------------------------------------------------------------------------------------
class Run:
    def __init__(self, path: str | Path, key: str = "val_pck", label: str = "validation PCK@0.2"):
        self.path = Path(path)
        self.state: dict = {"phases": {}}
        self.key, self.label = key, label  # the validation figure (VALIDATION)

    def phase_dir(self, phase: str) -> Path:
        return self.path / phase

    def save_state(self) -> None:
        atomic_write(self.path / "state.json", lambda f: f.write(json.dumps(self.state, indent=1).encode()))

    def load_state(self) -> None:
        try:
            self.state = json.loads((self.path / "state.json").read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):  # a damaged file: every phase's last.npz has its part
            print(f"warning: {self.path / 'state.json'} is damaged; rebuilt from the phases' last.npz", file=sys.stderr)
            self.state = {"phases": {}}
        # A phase's last.npz may be one epoch ahead of state.json (killed in between): it is the truth.
        for phase in PHASES:
            last = self.phase_dir(phase) / "last.npz"
            if last.is_file():
                saved = read_state(last)
                current = self.state["phases"].get(phase, {})
                if saved.get("epochs_done", 0) > current.get("epochs_done", 0):
                    self.state["phases"][phase] = {**saved, "done": False}

    def plot_curves(self) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (ax_loss, ax_pck) = plt.subplots(1, 2, figsize=(11, 4))
        offset = 0
        for phase in PHASES:
            history = self.state["phases"].get(phase, {}).get("history", [])
            if not history:
                continue
            x = [offset + h["epoch"] for h in history]
            ax_loss.plot(x, [h.get("loss", np.nan) for h in history], label=f"{phase} loss")
            metric = PHASES[phase].metric
            key = HEAD_VALIDATION[metric][0] if metric in HEAD_VALIDATION else self.key
            ax_pck.plot(x, [100 * h.get(key, np.nan) for h in history], marker="o", ms=3, label=phase)
            offset = x[-1]
        ax_loss.set(xlabel="epoch (all phases)", ylabel="training loss", yscale="log", title="Training loss")
        ax_pck.set(xlabel="epoch (all phases)", ylabel=f"{self.label} (%)", title=self.label)
        for ax in (ax_loss, ax_pck):
            ax.grid(alpha=0.3)
            ax.legend()
        fig.tight_layout()
        atomic_write(self.path / "curves.png", lambda f: fig.savefig(f, format="png", dpi=100))
        plt.close(fig)


def config_model_path(value: str) -> Path:
    """A model that a config names (`train.init_from`, `loss.distill_from`): a file, or a packaged model's name
    ("full" or "lite")."""
    return resolve_weights(value, trainable=True)


def _init_from_exported(net: keras.Model, path: Path) -> list[str]:
    """Exported inference weights (e.g. the packaged default model): they fill the sub-models that the
    export's decode kept (in a network built from the export's own config, which may have a presence head
    where `net` has none, or the other way round); those that fit `net` are copied, and returned."""
    cfg = config_beside(path, required=True)
    if cfg.task != _task_of(net):
        task = _task_of(net)
        raise BlazePoseError(f"train.init_from: {path} holds a {cfg.task} model; this config trains a {task} model")
    source = build_network(cfg)
    filled = {id(v) for v in load_exported_weights(path, source, cfg).weights}
    complete = [n for n in sub_models(source) if all(id(v) in filled for v in source.get_layer(n).weights)]
    return _copy_fitting(source, net, complete)


def _copy_fitting(source: keras.Model, net: keras.Model, names) -> list[str]:
    """Copy the sub-models of `names` that `net` also has, with weights of the same shapes; returns those."""
    copied = []
    for name in names:
        if name not in sub_models(net):
            continue
        src, dst = source.get_layer(name).weights, net.get_layer(name).weights
        if fits(src, dst):
            for a, b in zip(src, dst, strict=True):
                b.assign(a.numpy())
            copied.append(name)
    return copied


def _task_of(net: keras.Model) -> str:
    return "detector" if "detection_head" in sub_models(net) else "landmarks"


def init_weights(net: keras.Model, path: str | Path, what: str = "train.init_from:") -> list[str]:
    """Copy weights from a .keras model, a .npz checkpoint or exported .npz weights (or a packaged model by
    name) into `net`, sub-model by sub-model; `what` names the source in errors.

    Sub-models whose weights match in shape are copied (so a regression head of another type, or a new
    design, can start from a trained backbone and heatmap head); returns their names, fails if none matched.
    """
    path = config_model_path(str(path))
    if not path.is_file():
        raise BlazePoseError(f"{what} {path} does not exist")
    if path.suffix == ".keras":
        source = load_network(path, what, task=_task_of(net))
        copied = _copy_fitting(source, net, sub_models(source))
    elif npz_kind(path, what) == "exported":
        copied = _init_from_exported(net, path)
    else:
        copied = matching_sub_models(path, net)
        if copied:
            load_checkpoint(path, net, required=tuple(copied))
    if not copied:
        raise BlazePoseError(f"{what} {path} shares no sub-model with this model config")
    return copied


def load_teacher(cfg: Config) -> keras.Model | None:
    """The frozen teacher of `loss.distill_from`, checked against the student's config; None when off."""
    if not cfg.loss.distill_from:
        return None
    if not cfg.loss.distill > 0:
        raise BlazePoseError(f"loss.distill: the teacher's weight must be above 0, got {cfg.loss.distill}")
    from blazepose.models.blazepose import build_from_config

    what = "loss.distill_from:"
    path = config_model_path(cfg.loss.distill_from)
    if not path.is_file():
        raise BlazePoseError(f"{what} {path} does not exist")
    tcfg = config_beside(path, required=True)
    if cfg.model.imported or tcfg.model.imported:
        return _imported_teacher(cfg, path, tcfg)
    if path.suffix.lower() == ".npz":  # a checkpoint or exported weights (the packaged models): rebuilt
        teacher = build_from_config(tcfg)
        filled = init_weights(teacher, path, what)
        if not {"backbone", "heatmap_head"} <= set(filled):
            raise BlazePoseError(
                f"{what} {path} holds no heatmap head to learn from (it has {', '.join(filled)}); export the "
                "teacher with --decode heatmap"
            )
    else:
        teacher = load_network(path, what)
    ours = (cfg.data.input_size, cfg.data.heatmap_size, cfg.loss.heatmap_type)
    theirs = (tcfg.data.input_size, tcfg.data.heatmap_size, tcfg.loss.heatmap_type)
    if ours != theirs:
        raise BlazePoseError(
            f"loss.distill_from: {path} has input {theirs[0]}, heatmaps {theirs[1]} and a {theirs[2]} heatmap loss; "
            f"this run has {ours[0]}, {ours[1]} and {ours[2]}: a teacher must match all three"
        )
    teacher.trainable = False
    return teacher


def _imported_teacher(cfg: Config, path: Path, tcfg: Config) -> keras.Model:
    """A teacher for an imported student (model.imported): an imported network of the same input size, whose
    joints the student learns (``PoseTrainer.teacher_joints``)."""
    if not (cfg.model.imported and tcfg.model.imported) or tcfg.task != "landmarks":
        raise BlazePoseError(
            f"loss.distill_from: {path} and this run's model must both be imported MediaPipe landmark models "
            "(mediapipe-lite / -full / -heavy, or trained from one), or both models of this toolkit"
        )
    if tcfg.data.input_size != cfg.data.input_size:
        raise BlazePoseError(
            f"loss.distill_from: {path} takes {tcfg.data.input_size} px crops, this run {cfg.data.input_size}"
        )
    teacher = load_network(path, "loss.distill_from:")
    teacher.trainable = False
    return teacher


def imported_start(cfg: Config) -> Config:
    """A run whose train.init_from is an imported MediaPipe model (a name, or a .keras imported or trained from
    one): the run's model is that graph, so the config takes its model.imported, skeleton (BlazePose's 33, the
    data mapped onto it), presence output and input size. Other configs are returned as they are."""
    if not cfg.train.init_from:
        return cfg
    path = config_model_path(cfg.train.init_from)
    if not path.is_file():
        return cfg
    source = config_beside(path)
    if not source.model.imported:
        return cfg
    if source.task != cfg.task:
        raise BlazePoseError(
            f"train.init_from: {path} holds a {source.task} model; this config trains a {cfg.task} model"
        )
    if cfg.task != "landmarks":
        raise BlazePoseError("train.init_from: MediaPipe's detector can be imported and run, not trained here yet")
    # the default skeleton ("lsp") means the data's own joints, mapped onto the 33; any other skeleton gets new
    # landmark outputs on the imported graph (models/imported.with_new_heads)
    skeleton = "blazepose33" if cfg.model.skeleton == "lsp" else cfg.model.skeleton
    if skeleton != "blazepose33" and cfg.loss.distill_from:
        raise BlazePoseError(
            f"loss.distill_from: a teacher's 33 landmarks cannot teach model.skeleton {cfg.model.skeleton!r} (new "
            "landmark outputs); leave loss.distill_from empty, or train the 33 points"
        )
    model = dataclasses.replace(cfg.model, imported=source.model.imported, skeleton=skeleton, presence=True)
    data = dataclasses.replace(cfg.data, input_size=source.data.input_size, heatmap_size=source.data.heatmap_size)
    return dataclasses.replace(cfg, model=model, data=data)


def _verbose() -> int:
    return 1 if sys.stdout.isatty() else 2


def _check_sets(cfg: Config) -> None:
    """Before anything is built or written: what the config asks of its data and skeleton."""
    stray = sorted(set(cfg.loss.either_side_sets) - set(cfg.data.train_sets))
    if stray:
        raise BlazePoseError(
            f"loss.either_side_sets names {stray}, which data.train_sets "
            f"({list(cfg.data.train_sets)}) does not train on"
        )


def _check_resumable(path: Path) -> None:
    if not (path / "config.toml").is_file() or not (path / "state.json").is_file():
        raise BlazePoseError(f"cannot resume: {path} holds no config.toml and state.json of a run")


def _cluster(strategy):
    """The strategy's cluster resolver and its jobs ({} for single-machine strategies)."""
    resolver = getattr(strategy.extended, "cluster_resolver", None) or getattr(strategy, "cluster_resolver", None)
    return resolver, (resolver.cluster_spec().as_dict() if resolver is not None else {})


def worker_index(strategy) -> int:
    """0 for the chief of a multi-worker run (the worker that writes the run directory) and for single-machine
    strategies; the task index of every other worker."""
    resolver, jobs = _cluster(strategy)
    if not jobs:
        return 0
    if "chief" in jobs:
        return 0 if resolver.task_type == "chief" else int(resolver.task_id) + 1
    return int(resolver.task_id or 0)


def _reclaim_sigterm() -> None:
    """A multi-worker strategy's coordination service takes SIGTERM for itself (its notice of preemption), and
    the process then ignores it (measured: a worker sent SIGTERM trained on to the end). Give it back to the
    handler Python had (the CLI's: exit 143, locks released), which runs between two steps."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        handler = signal.getsignal(signal.SIGTERM)
        if handler is not None:
            signal.signal(signal.SIGTERM, handler)


def workers(strategy) -> int:
    """How many worker processes train together (1 for single-machine strategies)."""
    jobs = _cluster(strategy)[1]
    return max(sum(len(tasks) for job, tasks in jobs.items() if job in ("chief", "worker")), 1)


def check_workers_agree(strategy, epochs_done: int) -> None:
    """Every worker resumes from the same epoch, or none does: a worker stopped between the chief's checkpoint
    and its own would otherwise train on from other weights than the rest, and no error would ever show it. Each
    worker compares its own count with the sum over all of them (equal counts only: n x its own)."""
    n = workers(strategy)
    if n <= 1:
        return

    summed = float(strategy.reduce("SUM", strategy.run(lambda: tf.constant(float(epochs_done))), axis=None))
    if abs(summed - n * epochs_done) > 0.5:
        raise BlazePoseError(
            f"the {n} workers' run folders disagree on how many epochs are done (this worker: {epochs_done}, "
            f"{summed:g} over all of them): a worker stopped while the others were saving. Copy the chief's "
            "run folder to every worker (a worker's own is <run-dir>/workers/worker<N>), or start again"
        )


# What a collective operation raises on the workers that are left when one of them stops.
PEER_LOST = (
    tf.errors.UnavailableError,
    tf.errors.CancelledError,
    tf.errors.AbortedError,
    tf.errors.DeadlineExceededError,
)


def _peer_reason(exc) -> str:
    """The line of a collective's error that says what happened to the other worker."""
    lines = [line.strip() for line in (exc.message or "").splitlines() if line.strip()]
    for marker in ("Collective ops is aborted by:", "unhealthy", "Connection refused", "Deadline"):
        for line in lines:
            if marker in line:
                return line.replace("Collective ops is aborted by:", "").strip()[:200]
    return type(exc).__name__


def _check_usable(train_ds, samples) -> None:
    """Refuse a training set from which the pipeline cannot make one batch (every image missing or unreadable,
    no annotated joint), saying how many samples were dropped and why, before anything is written."""
    from blazepose.data.check import OUTSIDE_SHARE, OUTSIDE_TOLERANCE

    unlabelled = sum(float(s.mask.sum()) == 0 for s in samples)
    if unlabelled == len(samples):
        raise BlazePoseError(f"no usable training sample: none of the {len(samples)} has an annotated joint")
    # what `blazepose data check` finds NOT OK and training would take anyway: joints far off their images (here
    # those left of or above them: no image has to be opened)
    annotated = sum(float(s.mask.sum()) for s in samples)
    off = sum(
        float(((np.asarray(s.keypoints) < -OUTSIDE_TOLERANCE).any(axis=-1) * (np.asarray(s.mask) > 0)).sum())
        for s in samples
    )
    if off > OUTSIDE_SHARE * annotated:
        raise BlazePoseError(
            f"{int(off)} of {int(annotated)} annotated training joints lie left of or above their images (more than "
            f"{100 * OUTSIDE_SHARE:g} %): the labels are in another unit or scale; 'blazepose data check' lists them"
        )
    if next(iter(train_ds.take(1)), None) is not None:
        return
    missing = sum(not Path(s.image_path).is_file() for s in samples)
    raise BlazePoseError(
        f"no usable training sample: of {len(samples)}, {missing} image file(s) are missing, {unlabelled} have no "
        f"annotated joint, and the rest could not be read (see the warnings above), or there are fewer than "
        f"data.batch_size usable ones"
    )


def train(
    cfg: Config | None,
    run_dir: str | Path,
    resume: bool = False,
    verbose: int | None = None,
    overrides: tuple[str, ...] = (),
) -> dict:
    """Run (or resume) every phase with epochs > 0; returns the summary also written to summary.json.

    On `resume` the run's own config.toml is used (`cfg` is ignored), with `overrides` ('section.key=value',
    e.g. a lower learning rate after a NaN) applied on top and recorded in config.toml.
    """
    run = Run(run_dir)
    if resume:
        _check_resumable(run.path)
        cfg = load_config(run.path / "config.toml", overrides)
    strategy = make_strategy(cfg.train.strategy)  # first: a multi-worker strategy must precede any TF op
    several = workers(strategy) > 1
    if several:
        _reclaim_sigterm()
    worker = worker_index(strategy)
    if several and cfg.train.run_eagerly:  # a distributed step runs traced (tf.function) only
        print("train.run_eagerly is off with several workers: the distributed step must be traced", flush=True)
        cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, run_eagerly=False))
    if worker:  # another worker than the chief: its own copy of the run, beside the chief's (which it never writes)
        run = Run(run.path / "workers" / f"worker{worker}")
        if resume:
            _check_resumable(run.path)
    # <run>.lock for the whole run: a second run into the folder is refused, a stale lock taken over
    with outputs.lock(run.path, "training into"):
        try:
            return _train(cfg, run, strategy, resume, verbose, overrides)
        except PEER_LOST as exc:  # in a step, or in a collective between phases (variables, checkpoints)
            if not several:
                raise
            raise BlazePoseError(
                f"another worker of this run stopped ({_peer_reason(exc)}). Start every worker again with --resume: "
                f"training goes on after the last finished epoch ({_progress(run)})"
            ) from None


def _progress(run: Run) -> str:
    done = [f"{name} {p.get('epochs_done', 0)}" for name, p in run.state["phases"].items() if p.get("epochs_done")]
    return "epochs done: " + (", ".join(done) if done else "none")


def _train(cfg: Config, run: Run, strategy, resume: bool, verbose: int | None, overrides: tuple[str, ...]) -> dict:
    run.key, run.label = VALIDATION[cfg.task]
    if resume:
        _check_sets(cfg)
        teacher = load_teacher(cfg)
        if overrides:
            save_config(cfg, run.path / "config.toml")
        run.load_state()
        check_workers_agree(strategy, sum(p.get("epochs_done", 0) for p in run.state["phases"].values()))
    else:
        cfg = imported_start(cfg)
        _check_sets(cfg)
        teacher = load_teacher(cfg)  # before the run directory: a bad teacher leaves nothing behind
        init = config_model_path(cfg.train.init_from) if cfg.train.init_from else None
        if init is not None and not init.is_file():  # likewise a missing start
            raise BlazePoseError(f"train.init_from: {init} does not exist")
        if (run.path / "state.json").exists():
            raise BlazePoseError(f"{run.path} already holds a run: pass --resume to continue it, or another --run-dir")
    verbose = _verbose() if verbose is None else verbose
    # Our tf.data pipeline shuffles itself; Keras' note about its own shuffle flag is noise here. An imported
    # graph has outputs no loss reaches (segmentation, world landmarks, the pose flag): their weights stay as
    # they are, which Keras notes on every step.
    warnings.filterwarnings("ignore", message="`shuffle=True` was passed")
    warnings.filterwarnings("ignore", message="Gradients do not exist for variables")

    keras.utils.set_random_seed(cfg.seed)
    policy = set_precision(cfg.train.mixed_precision)
    train_samples = load_split(cfg.data, "train", skeleton_of(cfg))
    batch = cfg.data.batch_size
    if batch % strategy.num_replicas_in_sync:
        raise BlazePoseError(f"data.batch_size {batch} must divide by the {strategy.num_replicas_in_sync} replicas")
    steps = cfg.train.steps_per_epoch or max(len(train_samples) // batch, 1)
    skipped = SkipCounter()
    if cfg.task == "detector":
        from blazepose.data.scenes import scene_sources
        from blazepose.models.detector import detector_from_config
        from blazepose.training.detector import DetectorTrainer, DetectorValidationSet, make_scene_dataset

        sources, negatives = scene_sources(cfg, "train", progress=verbose == 1)
        train_ds = make_scene_dataset(sources, negatives, cfg)
        val = DetectorValidationSet(cfg, cfg.train.val_samples, progress=verbose == 1)
        what = f"scenes from {len(sources)} images with people and {len(negatives)} without"
        val_what = f"{len(val.scenes)} scenes"
    else:
        train_ds = make_dataset(train_samples, cfg, train=True, skipped=skipped).repeat()
        _check_usable(train_ds, train_samples)
        val = ValidationSet(cfg, cfg.train.val_samples)
        what, val_what = f"{len(train_samples)} samples", f"{len(val.images)}"
    print(
        f"training on {what} ({', '.join(cfg.data.train_sets)}), validating on "
        f"{val_what}; {steps} steps of {batch} per epoch; {strategy.num_replicas_in_sync} replica(s), "
        f"{policy}; run directory {run.path}",
        flush=True,
    )

    from blazepose.models.blazepose import build_from_config

    with strategy.scope():
        if cfg.task == "detector":
            net = detector_from_config(cfg)
            trainer = DetectorTrainer(net, cfg)
        elif cfg.model.imported:  # the imported graph itself (its weights too; a resume then loads last.npz)
            net = load_network(config_model_path(cfg.train.init_from), "train.init_from:")
            skeleton = skeleton_of(cfg)
            if skeleton.num_joints != int(net.output["joints"].shape[1]):  # another skeleton: new landmark outputs
                from blazepose.models.imported import with_new_heads

                net = with_new_heads(net, skeleton.num_joints, cfg.model.imported)
            trainer = PoseTrainer(net, cfg, teacher)
        else:
            net = build_from_config(cfg)
            trainer = PoseTrainer(net, cfg, teacher)
    if strategy.num_replicas_in_sync > 1:
        synchronize_batch_norm(net)
    if teacher is not None:
        what = "joints" if cfg.model.imported else "heatmaps"
        print(f"distilling the {what} of {cfg.loss.distill_from} (weight {cfg.loss.distill})", flush=True)
    fresh = not any(p.get("epochs_done") for p in run.state["phases"].values())
    if cfg.train.init_from and fresh and not cfg.model.imported:
        copied = init_weights(net, cfg.train.init_from)
        print(f"starting {', '.join(copied)} from {cfg.train.init_from}", flush=True)
    elif cfg.model.imported and fresh:
        print(f"starting from {cfg.train.init_from} ({cfg.model.imported}, imported whole)", flush=True)
    if not resume:  # only now, so that a start that fails (data, network, init_from) leaves no run behind
        run.path.mkdir(parents=True, exist_ok=True)
        save_config(cfg, run.path / "config.toml")
        run.save_state()
    previous: str | None = None
    for phase, epochs in phase_epochs(cfg).items():
        if epochs <= 0:
            continue
        key, label = phase_validation(cfg, phase)
        pstate = run.state["phases"].get(phase, {})
        if pstate.get("done"):
            previous = phase
            continue
        with strategy.scope():
            compile_for_phase(trainer, phase, steps)
            done = pstate.get("epochs_done", 0)
            if done > 0:
                load_checkpoint(run.phase_dir(phase) / "last.npz", net, trainer.optimizer, required=trained_by(phase))
                print(f"[{phase}] resuming after epoch {done}", flush=True)
            elif previous is not None:
                load_checkpoint(run.phase_dir(previous) / "best.npz", net, required=trained_by(previous))
                best = run.state["phases"][previous]
                prev_key, prev_label = phase_validation(cfg, previous)
                print(
                    f"[{phase}] starting from {previous} epoch {best['best_epoch']} "
                    f"({prev_label} {100 * best[f'best_{prev_key}']:.1f} %)",
                    flush=True,
                )
        phase_ds, phase_val = train_ds, val
        if phase in ("presence", "mediapipe_flag"):
            from blazepose.data.negatives import presence_negatives
            from blazepose.data.pipeline import make_presence_dataset

            phase_ds = make_presence_dataset(train_samples, presence_negatives(cfg, "train"), cfg)
            phase_val = PresenceValidationSet(cfg, val)
        if phase == "mediapipe" and cfg.train.imported_negatives > 0:  # the pose flag learns crops with nobody
            from blazepose.data.negatives import presence_negatives
            from blazepose.data.pipeline import make_presence_dataset

            negatives = presence_negatives(cfg, "train")
            phase_ds = make_presence_dataset(train_samples, negatives, cfg, share=cfg.train.imported_negatives)
        guard = NaNGuard()
        callbacks = [
            Validation(phase_val, validation_source(cfg, phase), batch, key),
            guard,
            Checkpointer(run, phase, guard, key),
            keras.callbacks.CSVLogger(str(run.phase_dir(phase) / "log.csv"), append=True),
            keras.callbacks.TensorBoard(str(run.path / "tensorboard" / phase), write_graph=False),
        ]
        run.phase_dir(phase).mkdir(parents=True, exist_ok=True)
        start = time.time()
        trainer.fit(
            phase_ds, epochs=epochs, initial_epoch=done, steps_per_epoch=steps, callbacks=callbacks, verbose=verbose
        )
        if guard.failed is not None:
            epoch, step, value = guard.failed
            last = run.phase_dir(phase) / "last.npz"
            kept = f"the last good checkpoint is {last}" if last.exists() else "no epoch had finished yet"
            raise BlazePoseError(
                f"[{phase}] the loss became {value} at epoch {epoch + 1}, step {step + 1}; training stopped and "
                f"{kept}. Continue with a lower learning rate: --resume --set "
                f"train.{SETTINGS_OF.get(phase, phase)}_lr=..."
            )
        p = run.state["phases"][phase]
        p["done"] = True
        p["seconds"] = p.get("seconds", 0.0) + time.time() - start
        run.save_state()
        print(f"[{phase}] best epoch {p['best_epoch']}: {label} {100 * p[f'best_{key}']:.1f} %", flush=True)
        previous = phase

    if previous is None:
        raise BlazePoseError("no phase has epochs > 0: set train.heatmap_epochs and/or the others")
    load_checkpoint(run.phase_dir(previous) / "best.npz", net)
    tmp = run.path / ".model.tmp.keras"
    net.save(tmp)
    tmp.replace(run.path / "model.keras")
    summary = {
        "run_dir": str(run.path),
        "final_phase": previous,
        "skipped_images": skipped.count,
        "phases": {
            name: {k: v for k, v in p.items() if k in ("best_epoch", "epochs_done", "seconds") or k.startswith("best_")}
            for name, p in run.state["phases"].items()
        },
    }
    atomic_write(run.path / "summary.json", lambda f: f.write(json.dumps(summary, indent=1).encode()))
    if skipped.count:
        print(f"skipped {skipped.count} unreadable images", flush=True)
    return summary

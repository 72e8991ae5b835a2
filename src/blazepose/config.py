"""Typed, frozen configuration.

Defaults live in the dataclasses below; TOML files in ``configs/`` hold only what differs from them;
``--set section.key=value`` overrides are coerced to the field's type. Unknown sections or keys are rejected
with the list of valid ones. The resolved config is written beside every artifact (``save_config``).
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from blazepose.errors import BlazePoseError


@dataclass(frozen=True)
class DataConfig:
    # Folder holding lsp/, lspet/, coco_mini/ ...; "" = $BLAZEPOSE_DATA, else ../shared/datasets if it exists.
    root: str = ""
    # Training sets: LSP train half (less the validation part) and/or all of LSPet.
    train_sets: tuple[str, ...] = ("lsp", "lspet")
    # How many times the LSP train samples are listed in the training set: > 1 oversamples LSP (800 images)
    # against LSPet (10000), e.g. 5 makes LSP 29 % of what is drawn.
    lsp_repeats: int = 1
    # The same for coco_mini's training half (when train_sets has "coco"): its 40 people among 10 000 crops
    # are otherwise almost never drawn; e.g. 25 makes them about 7 % of what is drawn beside LSP x 5 + LSPet.
    coco_repeats: int = 1
    # Data whose joints differ from the model's skeleton (and no built-in mapping covers): false = refused
    # with both joint lists; true = mapped by joint name (shared names copied, the neck from the shoulders,
    # the model's other joints masked out of losses and metrics).
    map_joints: bool = False
    # Which benchmark's split: "lsp" (im0001-im1000 train, im1001-im2000 test) or "lspet" (the seed's: LSPet
    # im00001-im02500 train, im02501-im03000 held out; train_sets must then be ["lspet"]).
    split: str = "lsp"
    # Fraction of the split's train part (LSP im0001-im1000) carved out (by split_seed) as the validation split.
    val_fraction: float = 0.2
    split_seed: int = 0
    input_size: int = 256  # network input, square, pixels
    heatmap_size: int = 64  # heatmap side; input_size / heatmap_size is the heatmap stride
    sigma: float = 2.0  # Gaussian sigma in heatmap pixels (the reference: 4 at 128x128, i.e. 2 at 64x64)
    offset_radius: float = 2.0  # offsets are supervised within this many heatmap pixels of a joint
    crop_margin: float = 1.3  # crop side = margin x the longer side of the keypoints' box
    # How a person crop is framed in training and validation: "box" (the keypoints' box x crop_margin, axis-
    # aligned) or "aligned" (the paper's and MediaPipe's: the circle around mid-hips that holds the labelled
    # joints, x alignment.ALIGN_MARGIN, turned upright by the mid-hips -> mid-shoulders line: what MediaPipe's
    # detector gives its landmark models).
    crop: str = "box"
    batch_size: int = 32
    shuffle_buffer: int = 2048
    num_parallel_calls: int = -1  # -1 = tf.data.AUTOTUNE
    # Detector scenes: the share of placed images drawn from the photos with people (COCO) rather than from
    # the pose datasets' crops (LSP, LSPet); 0 = in proportion to their numbers (a few dozen photos among
    # about 11000 crops).
    photo_share: float = 0.0
    # Detector scenes: the share of placed people turned by any angle (lying, upside down); the others stay
    # within 20 degrees of upright. Validation scenes always use 0.35, so runs stay comparable.
    turned_share: float = 0.35


@dataclass(frozen=True)
class AugmentConfig:
    enabled: bool = True
    scale_jitter: float = 0.1  # crop side x uniform(1 - s, 1 + s) (the paper: about 10 %)
    shift_jitter: float = 0.1  # crop centre moved by up to this fraction of the crop side
    rotation_deg: float = 30.0  # uniform(-r, r) degrees
    # Probability of turning the crop by any angle instead (uniform over the circle: people lying or upside
    # down in the input, as the whole-image pass sees them). 0 = off (the default).
    turned_prob: float = 0.0
    flip_prob: float = 0.5  # horizontal flip, swapping the person's left and right joints
    whole_image_prob: float = 0.2  # frame the whole image instead of the person (the first inference pass)
    occlusion_prob: float = 0.5  # probability of drawing occlusion rectangles of random colour
    occlusion_max_boxes: int = 2
    occlusion_max_size: float = 0.3  # rectangle side up to this fraction of the input
    # Probability of pasting another training person beside the framed one (photos hold several people): a
    # square cut around that person's keypoints, 0.6-1.0 of the input's side, its centre 0.3-0.6 of the side to
    # the left or right; the framed person's joints under it count as not visible. 0 = off (the default).
    distractor_prob: float = 0.0
    brightness: float = 0.2  # colour jitter amplitudes
    contrast: float = 0.2
    saturation: float = 0.2


@dataclass(frozen=True)
class ModelConfig:
    # "full" (about 3.5 M parameters), "lite" (about 1.3 M) or "tiny" (tests); the detector: "detector" or
    # "detector_tiny" (tests)
    variant: str = "full"
    # Output head: "linear_xyv", "xy_linear_v_sigmoid_concat" or "xy_linear_v_sigmoid_separate".
    head: str = "xy_linear_v_sigmoid_separate"
    kernel_size: int = 3  # depthwise kernel of every BlazeBlock (the reference: 3; the paper's family: 5)
    batch_norm: bool = True
    # What the inference model (predict, evaluate, export) outputs: "regression" (the paper: the regression
    # head; the heatmap branch is dropped) or "heatmap" (the heatmap branch's argmax + offset; the regression
    # head is dropped). Training is the same either way.
    decode: str = "regression"
    # The regression head sees the backbone and decoder through a stop-gradient (the paper), so its loss trains
    # only itself. false: in the finetune phase the regression loss also trains the backbone and decoder.
    regression_stop_gradient: bool = True
    # A presence output (the paper's pose flag): the probability that the crop holds a person, from a small
    # head on the backbone's last stage (behind a stop-gradient), trained by the presence phase alone.
    presence: bool = False
    # The keypoints the model predicts: a built-in skeleton ("lsp": LSP's 14 joints, "coco": COCO's 17,
    # "blazepose33": BlazePose's 33 landmarks) or a skeleton TOML file (blazepose/keypoints.py says what it
    # holds; a relative path is looked up beside the config file first, then in the working folder). Saved
    # beside every run and export (a file as <config>.skeleton.toml).
    skeleton: str = "lsp"
    # The released model this network was imported from ("mediapipe-lite", "mediapipe-full", "mediapipe-heavy",
    # "mediapipe-detector"; "" = built by this toolkit): its tensors follow MediaPipe's conventions
    # (blazepose/mediapipe.py) and it trains as one graph (the mediapipe phase). Written by 'blazepose import'.
    imported: str = ""


@dataclass(frozen=True)
class LossConfig:
    # "focal": heatmap outputs are logits, penalty-reduced focal loss (CenterNet); "mse": they regress the
    # Gaussians with squared error. Either is summed over pixels and averaged over annotated joints.
    heatmap_type: str = "focal"
    heatmap: float = 1.0
    offset: float = 1.0  # L1 in heatmap pixels, within offset_radius of each joint
    coordinate: float = 1.0  # L1 on normalized [0, 1] coordinates, annotated joints only
    visibility: float = 0.1  # binary cross-entropy (MSE for the linear_xyv head)
    # The presence output's cross-entropy where it trains beside the keypoints (an imported graph's pose flag,
    # which shares the graph's features: a high weight lets it pull them away from the keypoints).
    presence: float = 1.0
    # Training sets whose left/right labels may be the observer's rather than the person's (LSPet has such
    # images): their samples are scored against the labels or the labels with left and right exchanged,
    # whichever the current prediction fits better. Empty: every label is taken as given.
    either_side_sets: tuple[str, ...] = ()
    # Knowledge distillation: a trained BlazePose model of the same input and heatmap size (e.g. the Full model
    # for a Lite one) whose heatmaps the heatmap and finetune phases also learn from (a .keras model, a .npz
    # checkpoint, exported .npz weights, or "full" / "lite": the packaged models), with weight
    # `distill`: squared error between the two models' heatmaps (probabilities for the focal loss), summed over
    # pixels and averaged over every joint, those a label lacks included. "" = off.
    distill_from: str = ""
    distill: float = 1.0
    # The teacher's target is the mean of its heatmaps for the crop and for the mirrored crop (mirrored back,
    # left and right exchanged): a stronger teacher, at twice its cost.
    distill_flip: bool = False
    # An imported graph's teacher (phase "mediapipe") also on the joints the label gives; False: only on the
    # joints it lacks (MediaPipe's face, hands and feet for LSP), so the labels alone place the labelled joints.
    distill_labelled: bool = True
    # Detector: weight of the rotation loss (L1 on the sin and cos of the alignment's rotation) beside the
    # centre, offset, size and box losses (weight 1 each).
    detector_rotation: float = 1.0
    # ... and its kind: "l1" (the packaged detector's) or "l2". L1 drives each cell to the median of what the
    # features cannot tell apart, which for mostly upright people is upright; L2 to the mean, which moves with
    # every turned person.
    detector_rotation_loss: str = "l1"


@dataclass(frozen=True)
class TrainConfig:
    # Phase 1 trains backbone + heatmap head; phase 2 the regression head (from the best phase-1 epoch);
    # phase 3 (optional) fine-tunes everything. 0 epochs skips a phase.
    heatmap_epochs: int = 60
    regression_epochs: int = 40
    finetune_epochs: int = 0
    detector_epochs: int = 40  # the one phase of task = "detector"
    # Phase 4 (model.presence): the presence head alone, on person crops and crops with nobody; every other
    # weight frozen, so the keypoints do not change.
    # An imported MediaPipe graph trains its pose flag in its one phase: this share of each batch is crops with
    # nobody (data.negatives), presence 0; 0 = person crops only (the flag then drifts as the features move).
    imported_negatives: float = 0.0
    presence_epochs: int = 0
    heatmap_lr: float = 1e-3
    regression_lr: float = 1e-3
    finetune_lr: float = 1e-4
    detector_lr: float = 2e-3
    presence_lr: float = 1e-3
    warmup_epochs: float = 1.0  # linear warm-up, then cosine decay to lr x final_lr_fraction
    final_lr_fraction: float = 0.01
    weight_decay: float = 1e-4  # AdamW
    clipnorm: float = 5.0
    # Exponential moving average of the trained weights, updated every step with this momentum (e.g. 0.999:
    # about the last 1000 steps); validation, best.npz and model.keras then use the average. 0 = off.
    ema_momentum: float = 0.0
    steps_per_epoch: int = 0  # 0 = one pass over the training split
    val_samples: int = 0  # 0 = the whole validation split
    # Start from these weights (a .npz checkpoint of a run with the same model config, e.g.
    # runs/x/heatmap/best.npz, a .keras model, exported .npz weights, or "full" / "lite": the packaged models)
    # instead of a fresh initialisation; sub-models that do not fit keep theirs. "" = fresh.
    init_from: str = ""
    # "auto": MirroredStrategy over all GPUs when there are several, else the default; "mirrored",
    # "multi_worker" (reads TF_CONFIG; the chief, worker 0, writes the run directory, the others their own copy
    # under workers/) or "default". Known limit: two workers on 127.0.0.1 stop at the start of fit with Keras
    # 3.15 (its first-batch build reduces the input batch across workers: "Attempt to convert a value
    # (PerReplica...) to a Tensor"), so multi-worker training does not run yet.
    strategy: str = "auto"
    mixed_precision: str = "auto"  # "auto" = mixed_float16 when a GPU is present; "on" / "off"
    # Run training and validation steps eagerly (no graph tracing): for a few steps of a tiny network (tests,
    # smoke runs) and debugging, where tracing costs more than it saves; much slower for real training.
    run_eagerly: bool = False


@dataclass(frozen=True)
class Config:
    seed: int = 0
    # "landmarks": the pose network on person crops; "detector": the person detector on whole scenes
    # (model.variant "detector", data.input_size its square input).
    task: str = "landmarks"
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


# Settings that take one of a few values (each element, for lists). The model tables in models/blazepose.py
# and the readers in data/datasets.py must agree with these (a test checks).
_SETS = ("lsp", "lspet", "coco", "custom")
CHOICES = {
    "task": ("landmarks", "detector"),
    "data.train_sets": _SETS,
    "model.variant": ("full", "lite", "tiny", "detector", "detector_tiny"),
    "loss.heatmap_type": ("mse", "focal"),
    "loss.detector_rotation_loss": ("l1", "l2"),
    "loss.either_side_sets": _SETS,
    "model.decode": ("regression", "heatmap"),
    "data.crop": ("box", "aligned"),
    "model.imported": ("", "mediapipe-lite", "mediapipe-full", "mediapipe-heavy", "mediapipe-detector"),
    "model.head": ("linear_xyv", "xy_linear_v_sigmoid_concat", "xy_linear_v_sigmoid_separate"),
    "train.strategy": ("auto", "default", "mirrored", "multi_worker"),
    "train.mixed_precision": ("auto", "on", "off"),
}


def _check_choice(dotted: str, value: Any, where: str) -> None:
    allowed = CHOICES.get(dotted)
    if allowed is None:
        return
    for item in value if isinstance(value, tuple) else (value,):
        if item not in allowed:
            raise BlazePoseError(f"{where}: {item!r} is not one of {', '.join(allowed)}")


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _coerce(value: Any, typ: Any, where: str) -> Any:
    """Check/convert one value to a field's declared type; `where` names it in the error message."""
    origin = typing.get_origin(typ)
    if origin is tuple:
        (item_type, _ellipsis) = typing.get_args(typ)
        if isinstance(value, str):  # from --set: "lsp,lspet" or a TOML array '["lsp", "lspet"]'
            text = value.strip()
            if text.startswith("["):
                try:
                    value = tomllib.loads(f"v = {text}")["v"]
                except tomllib.TOMLDecodeError:
                    raise BlazePoseError(f"{where}: {text!r} is not a TOML array (or write a,b,c)") from None
            else:
                value = [v.strip() for v in text.split(",") if v.strip()]
        if not isinstance(value, list | tuple):
            raise BlazePoseError(f"{where}: expected a list, got {value!r}")
        return tuple(_coerce(v, item_type, where) for v in value)
    if origin in (typing.Union, types.UnionType):
        raise TypeError(f"unsupported field type {typ}")
    if typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        raise BlazePoseError(f"{where}: expected true or false, got {value!r}")
    if typ in (int, float):
        kind = "an integer" if typ is int else "a number"
        if isinstance(value, str):
            try:
                value = typ(value)
            except ValueError:
                pass
        if typ is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, typ) and not isinstance(value, bool):
            return value
        raise BlazePoseError(f"{where}: expected {kind}, got {value!r}")
    if typ is str:
        if isinstance(value, str):
            return value
        raise BlazePoseError(f"{where}: expected a string, got {value!r}")
    raise TypeError(f"unsupported field type {typ}")


# Keys of outputs and experiments that were measured, not shipped and removed (docs/orientation.md; the code is at
# commit 573b70f): configs saved beside older runs and models still load when they hold them at their off value.
RETIRED = {
    "model.orientation": False,
    "train.orientation_epochs": 0,
    "train.orientation_lr": None,  # any value: it only mattered with orientation epochs
    "augment.upright_prob": 0.0,
}


def _build(cls: type, values: Mapping[str, Any], where: str, base: Any, prefix: str = "") -> Any:
    """A `cls` instance: `base` with `values` (a nested mapping) applied, every key validated.

    `where` names the source in messages (a file, --set); `prefix` is the dotted path of `cls` in Config.
    """
    types_ = _field_types(cls)
    changes = {}
    for key, value in values.items():
        retired = f"{prefix}{key}"
        if key not in types_ and retired in RETIRED:
            if RETIRED[retired] is not None and value != RETIRED[retired]:
                raise BlazePoseError(
                    f"{where}: {retired} = {value!r}: that output or setting was removed (measured, not shipped: "
                    "docs/orientation.md); its code is at commit 573b70f"
                )
            continue
        if key not in types_:
            raise BlazePoseError(f"{where}: unknown key {key!r}; valid keys: {', '.join(sorted(types_))}")
        typ = types_[key]
        name = f"{where}.{key}" if where else key
        dotted = f"{prefix}{key}"
        if dataclasses.is_dataclass(typ):
            if not isinstance(value, Mapping):
                raise BlazePoseError(f"{name}: expected a [{key}] section (a table), got {value!r}")
            changes[key] = _build(typ, value, name, getattr(base, key), prefix=f"{dotted}.")
        else:
            changes[key] = _coerce(value, typ, name)
            _check_choice(dotted, changes[key], name)
    return dataclasses.replace(base, **changes)


def parse_override(text: str) -> tuple[list[str], str]:
    """'section.key=value' -> (['section', 'key'], 'value')."""
    if "=" not in text:
        raise BlazePoseError(f"--set {text!r}: expected section.key=value, e.g. data.batch_size=16")
    path, value = text.split("=", 1)
    return [p.strip() for p in path.strip().split(".")], value.strip()


def _nest(path: list[str], value: Any) -> dict[str, Any]:
    out: Any = value
    for part in reversed(path):
        out = {part: out}
    return out


def load_config(path: str | Path | None = None, overrides: Iterable[str] = ()) -> Config:
    """Defaults, then the TOML file at `path` (deltas only), then `overrides` ('section.key=value')."""
    cfg = Config()
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise BlazePoseError(f"config file {path} does not exist")
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise BlazePoseError(f"config file {path} is not valid TOML: {exc}") from None
        cfg = _build(Config, values, str(path), cfg)
    for text in overrides:
        keys, value = parse_override(text)
        cfg = _build(Config, _nest(keys, value), "--set", cfg)
    where = str(path) if path is not None else "the config"
    cfg = _resolve_skeleton(cfg, path)
    check_task(cfg, where)
    check_ranges(cfg, where)
    return cfg


def _resolve_skeleton(cfg: Config, path: Path | None) -> Config:
    """model.skeleton checked (a bad skeleton file is one error naming it); a relative file path found beside
    the config file is made absolute."""
    from blazepose.keypoints import SKELETONS, load_skeleton

    spec = cfg.model.skeleton
    if spec not in SKELETONS and path is not None and not Path(spec).is_absolute():
        beside = path.parent / spec
        if beside.is_file():
            cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, skeleton=str(beside.resolve())))
    load_skeleton(cfg.model.skeleton)
    return cfg


# (dotted key, test, what is expected): checked on every config loaded, before anything is built or written.
def _finite(v) -> bool:
    return v == v and v not in (float("inf"), float("-inf"))


RANGES = (
    ("data.batch_size", lambda v: v >= 1, "an integer >= 1"),
    ("data.input_size", lambda v: v >= 32 and v % 32 == 0, "a multiple of 32 (the network's largest stride)"),
    ("data.heatmap_size", lambda v: v >= 1, "an integer >= 1"),
    ("data.sigma", lambda v: _finite(v) and v > 0, "a number > 0"),
    ("data.crop_margin", lambda v: _finite(v) and v > 0, "a number > 0"),
    ("data.val_fraction", lambda v: 0 < v < 1, "a fraction between 0 and 1"),
    ("data.lsp_repeats", lambda v: v >= 1, "an integer >= 1"),
    ("data.coco_repeats", lambda v: v >= 1, "an integer >= 1"),
    ("data.photo_share", lambda v: 0 <= v <= 1, "a fraction between 0 and 1"),
    ("data.turned_share", lambda v: 0 <= v <= 1, "a fraction between 0 and 1"),
    ("loss.detector_rotation", lambda v: _finite(v) and v >= 0, "a finite number >= 0"),
    ("augment.distractor_prob", lambda v: 0 <= v <= 1, "a probability between 0 and 1"),
    ("augment.turned_prob", lambda v: 0 <= v <= 1, "a probability between 0 and 1"),
    ("train.steps_per_epoch", lambda v: v >= 0, "an integer >= 0 (0 = one pass over the data)"),
    ("train.val_samples", lambda v: v >= 0, "an integer >= 0 (0 = all)"),
    ("train.heatmap_epochs", lambda v: v >= 0, "an integer >= 0"),
    ("train.regression_epochs", lambda v: v >= 0, "an integer >= 0"),
    ("train.finetune_epochs", lambda v: v >= 0, "an integer >= 0"),
    ("train.detector_epochs", lambda v: v >= 0, "an integer >= 0"),
    ("train.presence_epochs", lambda v: v >= 0, "an integer >= 0"),
    ("train.heatmap_lr", lambda v: _finite(v) and v > 0, "a finite number > 0"),
    ("train.regression_lr", lambda v: _finite(v) and v > 0, "a finite number > 0"),
    ("train.finetune_lr", lambda v: _finite(v) and v > 0, "a finite number > 0"),
    ("train.detector_lr", lambda v: _finite(v) and v > 0, "a finite number > 0"),
    ("train.presence_lr", lambda v: _finite(v) and v > 0, "a finite number > 0"),
    ("train.weight_decay", lambda v: _finite(v) and v >= 0, "a finite number >= 0"),
    ("train.ema_momentum", lambda v: 0 <= v < 1, "0 (off) or a number in (0, 1)"),
    ("train.imported_negatives", lambda v: 0 <= v < 1, "a share in [0, 1)"),
    ("seed", lambda v: v >= 0, "an integer >= 0"),
    ("data.split_seed", lambda v: v >= 0, "an integer >= 0"),
    ("data.offset_radius", lambda v: _finite(v) and v > 0, "a number > 0"),
    ("data.shuffle_buffer", lambda v: v >= 1, "an integer >= 1"),
    ("data.num_parallel_calls", lambda v: v == -1 or v >= 1, "-1 (automatic) or an integer >= 1"),
    ("augment.scale_jitter", lambda v: 0 <= v < 1, "a fraction in [0, 1)"),
    ("augment.shift_jitter", lambda v: 0 <= v <= 1, "a fraction between 0 and 1"),
    ("augment.rotation_deg", lambda v: 0 <= v <= 180, "degrees between 0 and 180"),
    ("augment.flip_prob", lambda v: 0 <= v <= 1, "a probability between 0 and 1"),
    ("augment.whole_image_prob", lambda v: 0 <= v <= 1, "a probability between 0 and 1"),
    ("augment.occlusion_prob", lambda v: 0 <= v <= 1, "a probability between 0 and 1"),
    ("augment.occlusion_max_boxes", lambda v: v >= 0, "an integer >= 0"),
    ("augment.occlusion_max_size", lambda v: 0 < v <= 1, "a fraction in (0, 1]"),
    ("augment.brightness", lambda v: 0 <= v <= 1, "an amplitude between 0 and 1"),
    ("augment.contrast", lambda v: 0 <= v <= 1, "an amplitude between 0 and 1"),
    ("augment.saturation", lambda v: 0 <= v <= 1, "an amplitude between 0 and 1"),
    ("model.kernel_size", lambda v: v >= 1 and v % 2 == 1, "an odd integer >= 1"),
    ("loss.heatmap", lambda v: _finite(v) and v >= 0, "a finite number >= 0"),
    ("loss.offset", lambda v: _finite(v) and v >= 0, "a finite number >= 0"),
    ("loss.coordinate", lambda v: _finite(v) and v >= 0, "a finite number >= 0"),
    ("loss.visibility", lambda v: _finite(v) and v >= 0, "a finite number >= 0"),
    ("loss.distill", lambda v: _finite(v) and v >= 0, "a finite number >= 0"),
    ("loss.presence", lambda v: _finite(v) and v >= 0, "a finite number >= 0"),
    ("train.warmup_epochs", lambda v: _finite(v) and v >= 0, "a finite number of epochs >= 0"),
    ("train.final_lr_fraction", lambda v: 0 <= v <= 1, "a fraction between 0 and 1"),
    ("train.clipnorm", lambda v: _finite(v) and v >= 0, "a finite number >= 0 (0: no clipping)"),
)


def check_ranges(cfg: Config, where: str) -> None:
    """Values in range (positive sizes, finite learning rates, ...), and the landmark heatmaps at the
    network's stride (input_size / 4), so a mistake is one clear line before anything is built."""
    for dotted, ok, expected in RANGES:
        value = cfg
        for part in dotted.split("."):
            value = getattr(value, part)
        if not ok(value):
            raise BlazePoseError(f"{where}: {dotted} = {value!r}; expected {expected}")
    if cfg.task == "landmarks" and cfg.train.presence_epochs > 0 and not cfg.model.presence:
        raise BlazePoseError(
            f"{where}: train.presence_epochs = {cfg.train.presence_epochs} trains a presence output the model has "
            "none of: set model.presence = true"
        )
    if cfg.task == "landmarks" and cfg.data.heatmap_size * 4 != cfg.data.input_size:
        raise BlazePoseError(
            f"{where}: data.heatmap_size = {cfg.data.heatmap_size}; the landmark network's heatmaps are at stride 4, "
            f"so with data.input_size = {cfg.data.input_size} it must be {cfg.data.input_size // 4}"
        )


def check_task(cfg: Config, where: str) -> None:
    """The model variant must be one of the task's."""
    detector = cfg.model.variant.startswith("detector")
    if detector != (cfg.task == "detector"):
        raise BlazePoseError(
            f"{where}: task {cfg.task!r} with model.variant {cfg.model.variant!r}: the detector task takes "
            'a "detector" variant, the landmarks task "full", "lite" or "tiny"'
        )


def config_to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def config_from_dict(values: Mapping[str, Any]) -> Config:
    return _build(Config, values, "config", Config())


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} to TOML")


def dumps_config(cfg: Config) -> str:
    """The full resolved config as TOML (every key, so an artifact never depends on changed defaults)."""
    values = config_to_dict(cfg)
    top = [f"{k} = {_toml_value(v)}" for k, v in values.items() if not isinstance(v, dict)]
    lines = ["# resolved blazepose config: every key, defaults included", *top]
    for section, table in values.items():
        if isinstance(table, dict):
            lines += ["", f"[{section}]"] + [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def skeleton_file_beside(path: str | Path) -> Path:
    """Where a saved config's skeleton file goes: <stem>.skeleton.toml beside it."""
    path = Path(path)
    return path.with_name(f"{path.stem}.skeleton.toml")


def portable_config(cfg: Config, path: str | Path) -> Config:
    """`cfg` as saved at `path`: a skeleton file named by its copy beside it (``skeleton_file_beside``)."""
    from blazepose.keypoints import SKELETONS

    if cfg.model.skeleton in SKELETONS:
        return cfg
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, skeleton=skeleton_file_beside(path).name))


def save_config(cfg: Config, path: str | Path) -> Path:
    """The resolved config at `path`; a skeleton file is copied beside it (<stem>.skeleton.toml) and named
    relative to it, so the saved config never depends on a file elsewhere."""
    from blazepose.keypoints import SKELETONS, dumps_skeleton, load_skeleton

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if cfg.model.skeleton not in SKELETONS:
        side = skeleton_file_beside(path)
        side_tmp = side.with_suffix(".toml.tmp")
        side_tmp.write_text(dumps_skeleton(load_skeleton(cfg.model.skeleton)), encoding="utf-8")
        side_tmp.replace(side)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(dumps_config(portable_config(cfg, path)), encoding="utf-8")
    tmp.replace(path)
    return path

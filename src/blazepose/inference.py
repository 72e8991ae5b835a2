"""Predictor: image in, as a user gives it -> keypoints in original image pixels.

Pass 1 sees the whole image letterboxed to the model's square input (aspect ratio kept); every further pass
re-crops around the previous pass's keypoints (the paper's "ROI from the previous estimate", applied to a
still image). Nothing from the ground truth is used, unless a caller passes ``boxes`` explicitly (the
evaluation's labelled ``--crop gt`` diagnostic).

The network is behind a small runner interface (``__call__(batch) -> (joints_norm (B, K, 2), visibility
(B, K))``), so Keras, LiteRT and ONNX Runtime models share the same pre- and post-processing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from blazepose.codec import Codec
from blazepose.config import Config, config_from_dict, load_config
from blazepose.data.images import load_image
from blazepose.data.transforms import (
    crop_matrix,
    invert_affine,
    person_box,
    transform_points,
    warp_image,
    whole_image_box,
)
from blazepose.errors import BlazePoseError
from blazepose.keypoints import LSP

WEIGHTS_DIR = Path(__file__).parent / "weights"
# A re-crop is at least this fraction of the image's longer side (collapsed keypoints give no usable box).
MIN_BOX_FRACTION = 0.1
# With flip: the two estimates of a joint are averaged when they lie within this distance (a fraction of the
# crop side) of each other, otherwise the one with the higher score is kept. Chosen on the validation split
# (README, "Inference settings"; bench/accuracy.py --flip-agreement): averaging every joint (inf) scored below
# no flip at all, since the mean of a left and a right limb is on neither.
FLIP_AGREEMENT = 0.1


def default_weights(variant: str = "full") -> Path:
    path = WEIGHTS_DIR / f"blazepose_{variant}.npz"
    if not path.is_file():
        raise BlazePoseError(
            f"no default {variant} model is installed yet (expected {path}); pass --weights PATH, e.g. the "
            "model.keras that 'blazepose train' writes into its run directory"
        )
    return path


PACKAGED = ("full", "lite")


def resolve_weights(weights: str | Path | None) -> Path:
    """A weights argument as users give it: a file, a packaged model's name ("full" or "lite"), or None for
    the packaged Full model. A file (not a folder) of that name in the working folder wins."""
    if weights is None:
        return default_weights()
    if str(weights) in PACKAGED and not Path(weights).is_file():
        return default_weights(str(weights))
    return Path(weights)


class KerasRunner:
    """A Keras model file (.keras from training) run as the joints-only inference model.

    `decode` ("regression" or "heatmap") picks its output; None = the config beside the file."""

    def __init__(self, path: str | Path, decode: str | None = None):
        from blazepose.models.blazepose import inference_model_for, load_network

        path = Path(path)
        net = load_network(path)
        cfg = config_beside(path)
        self._use(inference_model_for(net, cfg, decode))

    @classmethod
    def from_model(cls, model) -> KerasRunner:
        """A runner around an inference model already built (e.g. from .npz weights)."""
        runner = cls.__new__(cls)
        runner._use(model)
        return runner

    def _use(self, model) -> None:
        self.model = model
        self.input_size = int(model.input.shape[1])
        self.num_joints = int(model.output["joints"].shape[1])

    def __call__(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = self.model.predict_on_batch(batch.astype(np.float32))
        joints = np.asarray(out["joints"])
        vis = np.asarray(out["visibility"]) if "visibility" in out else np.clip(joints[..., 2], 0.0, 1.0)
        return joints[..., :2], vis


class TFLiteRunner:
    """An exported .tflite model in the LiteRT interpreter (XNNPACK), one image per invoke."""

    def __init__(self, path: str | Path, decode: str | None = None, num_threads: int | None = None):
        from blazepose.export import _require

        check_fixed_decode(path, decode)
        interpreter_mod = _require("ai_edge_litert.interpreter", "ai-edge-litert")
        try:
            self.interpreter = interpreter_mod.Interpreter(model_path=str(path), num_threads=num_threads)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise BlazePoseError(f"{path} is not a TFLite model LiteRT can load: {exc}") from None
        inputs = self.interpreter.get_input_details()
        outputs = {tuple(o["shape"]): o["index"] for o in self.interpreter.get_output_details()}
        self.input = inputs[0]["index"]
        self.input_size = int(inputs[0]["shape"][1])
        joints = [shape for shape in outputs if len(shape) == 3 and shape[2] == 2]
        if len(inputs) != 1 or not joints:
            raise BlazePoseError(f"{path} is a TFLite model but not an exported BlazePose one")
        self.num_joints = int(joints[0][1])
        self.joints = outputs[joints[0]]
        self.visibility = outputs.get((1, self.num_joints))

    def __call__(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        joints, vis = [], []
        for image in batch.astype(np.float32):
            self.interpreter.set_tensor(self.input, image[None])
            self.interpreter.invoke()
            joints.append(self.interpreter.get_tensor(self.joints)[0])
            vis.append(self.interpreter.get_tensor(self.visibility)[0])
        return np.stack(joints), np.stack(vis)


class OnnxRunner:
    """An exported .onnx model in ONNX Runtime (CPU)."""

    def __init__(self, path: str | Path, decode: str | None = None):
        from blazepose.export import _require

        check_fixed_decode(path, decode)
        ort = _require("onnxruntime", "onnxruntime")
        try:
            self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for unreadable files
            raise BlazePoseError(f"{path} is not an ONNX model ONNX Runtime can load: {exc}") from None
        self.input = self.session.get_inputs()[0].name
        self.input_size = int(self.session.get_inputs()[0].shape[1])
        names = [o.name for o in self.session.get_outputs()]
        if "joints" not in names or "visibility" not in names:
            raise BlazePoseError(f"{path} is an ONNX model but not an exported BlazePose one (outputs {names})")
        self.num_joints = int(self.session.get_outputs()[names.index("joints")].shape[1])

    def __call__(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        joints, vis = self.session.run(["joints", "visibility"], {self.input: batch.astype(np.float32)})
        return joints, vis


NPZ_FORMAT = "blazepose-inference-weights"


def check_fixed_decode(path: str | Path, decode: str | None) -> None:
    """An exported model's output was fixed at export (its config says which): refuse another one."""
    fixed = config_beside(path).model.decode
    if decode is not None and decode != fixed:
        raise BlazePoseError(
            f"{path} was exported with decode {fixed!r}; export it again with --decode {decode} for the other"
        )


def is_exported_npz(data) -> bool:
    """Whether an opened .npz holds exported inference weights (not a training checkpoint)."""
    return "format" in data.files and str(data["format"]) == NPZ_FORMAT


def load_exported_weights(path: str | Path, net, cfg: Config):
    """Assign exported inference weights at `path` into `net` (a training model of `cfg`, the config exported
    beside them); returns the inference model, which shares its variables with `net`."""
    from blazepose.models.blazepose import inference_model_for

    model = inference_model_for(net, cfg)
    with np.load(path) as data:
        keys = sorted(k for k in data.files if k.startswith("w"))
        if len(keys) != len(model.weights):
            raise BlazePoseError(f"{path} holds {len(keys)} arrays, the model in its config needs {len(model.weights)}")
        for key, var in zip(keys, model.weights, strict=True):
            if tuple(data[key].shape) != tuple(var.shape):
                raise BlazePoseError(f"{path}: {var.path} has shape {data[key].shape}, expected {tuple(var.shape)}")
            var.assign(data[key].astype(np.float32))
    return model


def load_npz_runner(path: str | Path, decode: str | None = None) -> KerasRunner:
    """Weights in .npz: exported inference weights (float16 or float32, the packaged default models) or a
    training checkpoint (runs/x/<phase>/best.npz); the model is rebuilt from the config beside it."""
    from blazepose.models.blazepose import build_from_config, inference_model_for
    from blazepose.training.checkpoint import load_checkpoint

    path = Path(path)
    cfg = config_beside(path, required=True)
    net = build_from_config(cfg)
    try:
        with np.load(path) as data:
            checkpoint, exported = "state" in data.files, is_exported_npz(data)
    except (OSError, ValueError) as exc:
        raise BlazePoseError(f"{path} is not a readable .npz weights file: {exc}") from None
    if checkpoint:
        load_checkpoint(path, net)
        return KerasRunner.from_model(inference_model_for(net, cfg, decode))
    if not exported:
        raise BlazePoseError(f"{path} is neither exported BlazePose weights nor a training checkpoint")
    check_fixed_decode(path, decode)
    return KerasRunner.from_model(load_exported_weights(path, net, cfg))


RUNNERS = {".keras": KerasRunner, ".tflite": TFLiteRunner, ".onnx": OnnxRunner, ".npz": load_npz_runner}


def load_runner(path: str | Path, decode: str | None = None):
    """The runner for a weights file, by suffix; `decode` overrides the config's (Keras models and training
    checkpoints), or must match it (exported files)."""
    path = Path(path)
    runner = RUNNERS.get(path.suffix.lower())
    if runner is None:
        raise BlazePoseError(f"unsupported weights file {path}: expected {', '.join(RUNNERS)}")
    if not path.is_file():
        raise BlazePoseError(f"weights file {path} does not exist")
    return runner(path, decode)


def config_beside(path: str | Path, required: bool = False) -> Config:
    """The resolved config saved beside a model: <name>.toml, else config.toml in its folder or the one
    above (a run directory, for checkpoints in runs/x/<phase>/); else the defaults, unless `required`."""
    path = Path(path)
    for candidate in (path.with_suffix(".toml"), path.parent / "config.toml", path.parent.parent / "config.toml"):
        if candidate.is_file():
            return load_config(candidate)
    if required:
        raise BlazePoseError(f"{path} needs its config beside it ({path.with_suffix('.toml').name} or config.toml)")
    return config_from_dict({})


@dataclass
class Prediction:
    keypoints: np.ndarray  # (K, 2) original image pixels
    visibility: np.ndarray  # (K,)
    width: int
    height: int


class Predictor:
    """`runner` may be given instead of `weights` (any callable with input_size and num_joints)."""

    def __init__(
        self,
        weights: str | Path | None = None,
        passes: int = 2,
        margin: float | None = None,
        batch_size: int = 16,
        runner=None,
        flip: bool = False,
        decode: str | None = None,
        flip_agreement: float = FLIP_AGREEMENT,
    ):
        if passes < 1:
            raise BlazePoseError(f"passes must be at least 1, got {passes}")
        if runner is None:
            weights = resolve_weights(weights)
            runner = load_runner(weights, decode)
        self.runner = runner
        self.cfg = config_beside(weights) if weights else config_from_dict({})
        self.size = self.runner.input_size
        self.codec = Codec(input_size=self.size)
        self.passes = passes
        self.margin = self.cfg.data.crop_margin if margin is None else margin
        self.batch_size = batch_size
        self.flip = flip
        self.flip_agreement = flip_agreement
        if self.runner.num_joints != LSP.num_joints:
            raise BlazePoseError(
                f"{weights or 'the model'} predicts {self.runner.num_joints} joints; "
                f"this toolkit's LSP skeleton has {LSP.num_joints}"
            )

    def _run(self, images: list[np.ndarray], boxes: list[tuple[float, float, float]]):
        """One pass: crop each image's box, run the network in batches, map back to original pixels."""
        mats = [crop_matrix(b[:2], b[2], self.size) for b in boxes]
        kps, vis = [], []
        for start in range(0, len(images), self.batch_size):
            stop = start + self.batch_size
            crops = np.stack(
                [warp_image(img, m, self.size) for img, m in zip(images[start:stop], mats[start:stop], strict=True)]
            )
            joints, v = self._infer(crops)
            kps.append(self.codec.denormalize(joints))
            vis.append(v)
        kps_input, vis = np.concatenate(kps), np.concatenate(vis)
        kps_orig = np.stack([transform_points(k, invert_affine(m)) for k, m in zip(kps_input, mats, strict=True)])
        return kps_orig, vis

    def _infer(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The network on a batch of crops -> (normalized joints (B, K, 2), visibility (B, K)). With `flip`,
        the mirrored crops too: mirroring maps normalized x to 1 - x exactly (pixel centres sit at
        (x + 0.5) / size) and swaps the person's left and right joints. Per joint, two estimates within
        `flip_agreement` of each other are averaged; otherwise the one with the higher score is kept (where the
        two disagree about left and right, their mean would lie between the limbs)."""
        joints, vis = self.runner(crops)
        if not self.flip:
            return joints, vis
        joints_m, vis_m = self.runner(np.ascontiguousarray(crops[:, :, ::-1]))
        index = LSP.flip_index
        joints_m = joints_m[:, index] * np.array([-1.0, 1.0], np.float32) + np.array([1.0, 0.0], np.float32)
        vis_m = vis_m[:, index]
        agree = np.linalg.norm(joints - joints_m, axis=-1) < self.flip_agreement
        mirrored_better = vis_m > vis
        fused = np.where(
            agree[..., None], (joints + joints_m) / 2, np.where(mirrored_better[..., None], joints_m, joints)
        )
        return fused, np.where(agree, (vis + vis_m) / 2, np.maximum(vis, vis_m))

    def recrop_box(self, keypoints: np.ndarray, image: np.ndarray) -> tuple[float, float, float]:
        """The next pass's square around the previous keypoints, kept inside the image so a wild guess
        cannot run off, and not smaller than MIN_BOX_FRACTION of the image."""
        h, w = image.shape[:2]
        cx, cy, side = person_box(np.clip(keypoints, 0, [w - 1, h - 1]), np.ones(len(keypoints)), self.margin)
        return cx, cy, max(side, MIN_BOX_FRACTION * max(w, h))

    def predict_arrays(
        self, images: list[np.ndarray], boxes: list | None = None, passes: int | None = None
    ) -> list[Prediction]:
        """Keypoints for RGB uint8 images. `boxes` (cx, cy, side) replace the whole-image first pass;
        `passes` overrides the predictor's pass count (a tracker runs one pass on its own box)."""
        if boxes is None:
            boxes = [whole_image_box(img.shape[1], img.shape[0]) for img in images]
        kps, vis = self._run(images, boxes)
        for _ in range((passes or self.passes) - 1):
            boxes = [self.recrop_box(k, img) for k, img in zip(kps, images, strict=True)]
            kps, vis = self._run(images, boxes)
        return [
            Prediction(k.astype(np.float32), v.astype(np.float32), img.shape[1], img.shape[0])
            for k, v, img in zip(kps, vis, images, strict=True)
        ]

    def predict_files(self, paths: list[str | Path], progress: bool = True, boxes: list | None = None):
        """Yields (path, Prediction or the error message) in order; unreadable files are reported, not fatal."""
        from tqdm import tqdm

        paths = list(paths)
        with tqdm(total=len(paths), unit="img", desc="predict", disable=not progress) as bar:
            for start in range(0, len(paths), self.batch_size):
                chunk = paths[start : start + self.batch_size]
                images, ok, results = [], [], {}
                for i, p in enumerate(chunk):
                    try:
                        images.append(load_image(p)[0])
                        ok.append(i)
                    except BlazePoseError as exc:
                        results[i] = str(exc)
                if images:
                    chunk_boxes = None if boxes is None else [boxes[start + i] for i in ok]
                    for i, pred in zip(ok, self.predict_arrays(images, chunk_boxes), strict=True):
                        results[i] = pred
                for i, p in enumerate(chunk):
                    yield p, results[i]
                bar.update(len(chunk))


def predictions_json(items: list[tuple[str, Prediction]]) -> dict:
    """The documented --output layout: joint names, then one entry per image with 14 [x, y, visibility]."""
    return {
        "joint_names": list(LSP.joint_names),
        "predictions": [
            {
                "image": str(path),
                "width": p.width,
                "height": p.height,
                "keypoints": [
                    [round(float(x), 2), round(float(y), 2), round(float(v), 4)]
                    for (x, y), v in zip(p.keypoints, p.visibility, strict=True)
                ],
            }
            for path, p in items
        ],
    }

"""MediaPipe's released BlazePose models: where to find them, the model cache, and their published conventions.

NumPy only (the runtime). Names users give (``--weights mediapipe-full``, ``--detector mediapipe``):

    mediapipe-lite / -full / -heavy   pose_landmark_{lite,full,heavy}.tflite: 256x256 RGB crop in [0, 1] ->
                                      39 landmarks x (x, y, z, visibility logit, presence logit) in crop pixels
                                      (33 body points + 6 auxiliary), the pose flag (a probability),
                                      segmentation logits, 64x64x39 heatmaps, 39 world landmarks
    mediapipe-detector (mediapipe)    pose_detection.tflite: 224x224 letterboxed image in [-1, 1] -> 2254 SSD
                                      anchors x (box centre, size, 4 keypoints) and a score logit each

On first use a model is copied into the cache (``cache_dir()``: ``$BLAZEPOSE_CACHE``, else
``$XDG_CACHE_HOME/blazepose``, else ``~/.cache/blazepose``; one folder per name) from the first source that has
it, its sha256 checked against MediaPipe's released file: a folder the caller names (``$BLAZEPOSE_MEDIAPIPE``),
``../shared/peer/mediapipe``, an installed ``mediapipe`` package (it carries Full and the detector), or MediaPipe's
published download (``$BLAZEPOSE_MEDIAPIPE_URL`` replaces its base address). The config saved beside the copy
(``model.imported``) tells the runners to apply the conventions below.
"""

from __future__ import annotations

import importlib.util
import math
import os
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from blazepose.alignment import Alignment
from blazepose.codec import Detection
from blazepose.data.download import sha256_file
from blazepose.errors import BlazePoseError
from blazepose.geometry import upright_rotation


@dataclass(frozen=True)
class Released:
    file: str
    sha256: str
    task: str  # "landmarks" or "detector"
    package_path: str | None  # inside an installed mediapipe package, where it carries the file


RELEASED = {
    "mediapipe-lite": Released(
        "pose_landmark_lite.tflite",
        "f17bfbecadb61c3be1baa8b8d851cc6619c870a87167b32848ad20db306b9d61",
        "landmarks",
        None,
    ),
    "mediapipe-full": Released(
        "pose_landmark_full.tflite",
        "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
        "landmarks",
        "modules/pose_landmark/pose_landmark_full.tflite",
    ),
    "mediapipe-heavy": Released(
        "pose_landmark_heavy.tflite",
        "59e42d71bcd44cbdbabc419f0ff76686595fd265419566bd4009ef703ea8e1fe",
        "landmarks",
        None,
    ),
    "mediapipe-detector": Released(
        "pose_detection.tflite",
        "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
        "detector",
        "modules/pose_detection/pose_detection.tflite",
    ),
}
ALIASES = {"mediapipe": "mediapipe-detector"}
DOWNLOAD_BASE = "https://storage.googleapis.com/mediapipe-assets/"
NOTICE = (
    "Derived from MediaPipe's BlazePose models (Copyright 2020-2023 The MediaPipe Authors), licensed under the "
    "Apache License, Version 2.0: https://www.apache.org/licenses/LICENSE-2.0"
)

# The landmark models' tensors.
LANDMARK_INPUT = 256
NUM_BODY = 33  # of the 39 landmarks; the last 6 are auxiliary (alignment points for tracking)
NUM_LANDMARKS = 39
LANDMARK_OUTPUTS = ("landmarks", "pose_flag", "segmentation", "heatmap", "world_landmarks")  # file order
# The detector's.
DETECTOR_INPUT = 224
DETECTOR_OUTPUTS = ("regressors", "scores")  # file order
NUM_ANCHORS = 2254


def is_mediapipe_name(name) -> bool:
    return isinstance(name, str) and (name in RELEASED or name in ALIASES)


def canonical(name: str) -> str:
    return ALIASES.get(name, name)


def cache_dir() -> Path:
    if os.environ.get("BLAZEPOSE_CACHE"):
        return Path(os.environ["BLAZEPOSE_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "blazepose"


def _local_sources(model: Released, folder: str | Path | None) -> list[Path]:
    places = []
    named = folder or os.environ.get("BLAZEPOSE_MEDIAPIPE")
    if named:
        places.append(Path(named).expanduser() / model.file)
    places.append(Path.cwd() / "../shared/peer/mediapipe" / model.file)
    places.append(Path(__file__).resolve().parents[3] / "shared/peer/mediapipe" / model.file)
    spec = importlib.util.find_spec("mediapipe") if model.package_path else None
    if spec is not None and spec.submodule_search_locations:
        places += [Path(p) / model.package_path for p in spec.submodule_search_locations]
    return places


def _download(model: Released, target: Path) -> None:
    base = os.environ.get("BLAZEPOSE_MEDIAPIPE_URL", DOWNLOAD_BASE)
    url = base.rstrip("/") + "/" + model.file
    tmp = target.with_name(f".{target.name}.download")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as f:
            shutil.copyfileobj(response, f)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        tmp.unlink(missing_ok=True)
        raise BlazePoseError(f"could not download {url}: {getattr(exc, 'reason', exc)}") from None
    if sha256_file(tmp) != model.sha256:
        tmp.unlink(missing_ok=True)
        raise BlazePoseError(f"{url}: the download's sha256 differs from MediaPipe's released {model.file}")
    os.replace(tmp, target)


def locate(name: str, folder: str | Path | None = None) -> Path:
    """The cached copy of a released MediaPipe model (copied or downloaded on first use, checksum checked),
    with its config beside it (``<stem>.toml``)."""
    name = canonical(name)
    model = RELEASED[name]
    entry = cache_dir() / name
    target = entry / model.file
    if target.is_file() and target.with_suffix(".toml").is_file():
        return target
    entry.mkdir(parents=True, exist_ok=True)
    if not target.is_file():
        tried = []
        for source in _local_sources(model, folder):
            if not source.is_file():
                tried.append(str(source))
                continue
            if sha256_file(source) != model.sha256:
                raise BlazePoseError(
                    f"{source} is not MediaPipe's released {model.file} (sha256 differs); remove it or name "
                    "another folder with $BLAZEPOSE_MEDIAPIPE"
                )
            tmp = target.with_name(f".{target.name}.tmp")
            shutil.copyfile(source, tmp)
            os.replace(tmp, target)
            break
        else:
            try:
                _download(model, target)
            except BlazePoseError as exc:
                raise BlazePoseError(
                    f"{name}: no source has {model.file} (looked in {', '.join(tried)}; {exc}); put the file in a "
                    "folder and set $BLAZEPOSE_MEDIAPIPE to it"
                ) from None
    write_config(name, target.with_suffix(".toml"))
    return target


def config_text(name: str) -> str:
    """The config saved beside an imported model: its task, skeleton, input size and where it came from."""
    model = RELEASED[canonical(name)]
    if model.task == "detector":
        return (
            f'task = "detector"\n\n[data]\ninput_size = {DETECTOR_INPUT}\n\n'
            f'[model]\nvariant = "detector"\nimported = "{name}"\n'
        )
    return (
        f'task = "landmarks"\n\n[data]\ninput_size = {LANDMARK_INPUT}\nheatmap_size = 64\ncrop = "aligned"\n\n'
        f'[model]\nimported = "{name}"\nskeleton = "blazepose33"\npresence = true\n'
    )


def write_config(name: str, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(config_text(canonical(name)), encoding="utf-8")
    os.replace(tmp, path)


# --- conventions ----------------------------------------------------------------------------------------------
def scale_input(batch: np.ndarray, task: str) -> np.ndarray:
    """0..255 RGB (what the pipeline warps) -> the model's input range: [0, 1] landmarks, [-1, 1] detector."""
    batch = np.asarray(batch, np.float32)
    return batch / 255.0 if task == "landmarks" else batch / 127.5 - 1.0


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -80.0, 80.0)))


# MediaPipe's landmark refinement from the heatmaps (its RefineLandmarksFromHeatmapCalculator, as the pose graph
# sets it): each landmark moves to the confidence-weighted mean cell of the 7 x 7 heatmap window around it, where
# the window's best confidence reaches 0.5. Left out, this pipeline read LSP 1.5 points lower than MediaPipe's own
# with the same weights and crops (docs/mediapipe.md, "Choosing the default").
REFINE_KERNEL = 7
REFINE_MIN_CONFIDENCE = 0.5


def refine_from_heatmap(joints: np.ndarray, heatmap: np.ndarray) -> np.ndarray:
    """(B, K, 2) joints normalized to the crop and (B, H, W, >= K) heatmap logits -> the refined joints.
    MediaPipe's conventions, kept exactly: a landmark's cell is int(x * W), and the refined x is the weighted
    mean cell index / W (no half-cell offset)."""
    joints = np.asarray(joints, np.float32)
    b, k, _ = joints.shape
    _, h, w, _ = heatmap.shape
    off = (REFINE_KERNEL - 1) // 2
    col = (joints[..., 0] * w).astype(np.int64)  # C++'s int(): towards zero, as MediaPipe's
    row = (joints[..., 1] * h).astype(np.int64)
    inside = (col >= 0) & (col < w) & (row >= 0) & (row < h)
    steps = np.arange(-off, off + 1)
    cols = col[..., None] + steps  # (B, K, kernel)
    rows = row[..., None] + steps
    valid = (cols[..., None, :] >= 0) & (cols[..., None, :] < w) & (rows[..., :, None] >= 0) & (rows[..., :, None] < h)
    rr = np.clip(rows, 0, h - 1)[..., :, None]
    cc = np.clip(cols, 0, w - 1)[..., None, :]
    bi = np.arange(b)[:, None, None, None]
    ki = np.arange(k)[None, :, None, None]
    conf = np.where(valid, _sigmoid(np.asarray(heatmap, np.float32)[bi, rr, cc, ki]), 0.0)  # (B, K, kernel, kernel)
    total = conf.sum(axis=(2, 3))
    refined = np.stack(
        [
            (conf * cols[..., None, :]).sum(axis=(2, 3)) / np.maximum(total, 1e-12) / w,
            (conf * rows[..., :, None]).sum(axis=(2, 3)) / np.maximum(total, 1e-12) / h,
        ],
        axis=-1,
    )
    use = inside & (conf.max(axis=(2, 3)) >= REFINE_MIN_CONFIDENCE) & (total > 0)
    return np.where(use[..., None], refined, joints).astype(np.float32)


def decode_landmarks(landmarks: np.ndarray, pose_flag: np.ndarray):
    """(B, 195) raw landmarks and (B, 1) pose flag -> (joints (B, 33, 2) normalized to the crop, visibility
    (B, 33) in 0..1, presence (B,)). MediaPipe's x, y are crop pixels from the crop's top-left corner (continuous:
    0 is the left edge), so x / 256 is the codec's normalized coordinate."""
    raw = np.asarray(landmarks, np.float32).reshape(-1, NUM_LANDMARKS, 5)[:, :NUM_BODY]
    joints = raw[..., :2] / LANDMARK_INPUT
    return joints, _sigmoid(raw[..., 3]), np.asarray(pose_flag, np.float32).reshape(-1)


def ssd_anchors() -> np.ndarray:
    """The detector's 2254 anchor centres (x, y) in [0, 1]: MediaPipe's SSD anchors for pose_detection (strides
    8, 16, 32, 32, 32; one aspect ratio plus the interpolated scale per layer; fixed anchor size, so only the
    centres matter), layers of one stride merged: 28x28x2, 14x14x2, 7x7x6, row by row."""
    out = []
    for stride, per_cell in ((8, 2), (16, 2), (32, 6)):
        n = math.ceil(DETECTOR_INPUT / stride)
        ys, xs = np.meshgrid((np.arange(n) + 0.5) / n, (np.arange(n) + 0.5) / n, indexing="ij")
        cells = np.stack([xs.ravel(), ys.ravel()], axis=1)
        out.append(np.repeat(cells, per_cell, axis=0))
    anchors = np.concatenate(out).astype(np.float32)
    assert len(anchors) == NUM_ANCHORS
    return anchors


class SSDCodec:
    """The MediaPipe detector's outputs -> ``Detection``s in its input pixels, as ``DetectionCodec.decode`` gives
    ours. Each anchor's 12 values are a box's centre and size and 4 keypoints (x, y), in input pixels relative to
    the anchor centre; keypoint 0 is mid-hips, keypoint 1 the point whose distance from it is the radius of the
    circle around the body and whose direction is the body's (MediaPipe's alignment points). The crop MediaPipe
    takes is that circle x 1.25 (``alignment.ALIGN_MARGIN``). The detector's box is the face's (BlazePose detects
    the face as the person's proxy): overlapping detections are suppressed on it (OpenCV's NMS; MediaPipe's
    pipeline blends them, its weighted NMS at IoU 0.3). It gives no box of the person (``Detection.box`` None): the
    person's box is then that of its keypoints, as for MediaPipe's own pipeline."""

    input_size = DETECTOR_INPUT

    def __init__(self):
        self.anchors = ssd_anchors() * DETECTOR_INPUT

    def decode(self, out: dict, min_score: float = 0.5, iou: float = 0.3, max_people: int = 10, candidates=100):
        import cv2

        raw = np.asarray(out["regressors"], np.float32).reshape(NUM_ANCHORS, 12)
        score = _sigmoid(np.asarray(out["scores"], np.float32).reshape(NUM_ANCHORS))
        keep = np.nonzero(score >= min_score)[0]
        keep = keep[np.argsort(-score[keep])][:candidates]
        found, faces = [], []
        for k in keep:
            a = self.anchors[k]
            cx, cy = raw[k, :2] + a
            w, h = raw[k, 2:4]
            hips = raw[k, 4:6] + a
            top = raw[k, 6:8] + a
            radius = float(np.linalg.norm(top - hips))
            faces.append([float(cx - w / 2), float(cy - h / 2), float(w), float(h)])
            rotation = upright_rotation(hips, top)
            found.append(Detection(float(score[k]), None, Alignment(float(hips[0]), float(hips[1]), radius, rotation)))
        if not found:
            return []
        kept = cv2.dnn.NMSBoxes(faces, [d.score for d in found], min_score, iou)
        return [found[k] for k in np.asarray(kept, int).reshape(-1)[:max_people]]

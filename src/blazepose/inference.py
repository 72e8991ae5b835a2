"""Predictor: an image in, as a user gives it -> the people in it, keypoints in original image pixels.

With a person detector (the paper's pipeline; the packaged one by default, ``detector="none"`` turns it off):
  1. the whole image, letterboxed to the detector's square input -> people: score, box and alignment
     (centre = mid-hips, radius of the circle around the body, rotation of the hips -> shoulders line);
  2. each person's upright crop (``Alignment.crop``) -> landmarks;
  3. with ``passes`` >= 2, a re-crop: the square around those landmarks in the upright frame, turned by the
     rotation the landmarks themselves give -> landmarks again.
Beside the detector's people (with ``whole_image``, the default) and without a detector, the whole image
letterboxed is a first pass too, followed by its re-crops (one person): the packaged detector finds people
small in the frame, the whole image the person who fills it (docs/detector.md). Every person is then ranked by
the mean of its joint scores (comparable whatever gave its first crop), people below ``min_presence`` are
dropped, and of two people whose keypoint boxes overlap at IoU >= ``NMS_IOU`` the better ranked is kept
(OpenCV's NMS), as is one whose keypoint box lies mostly inside a better-ranked one's (``MAX_COVERED``).
Nothing from the ground truth is used, unless a caller passes ``rois`` explicitly (the evaluation's labelled
``--crop gt`` diagnostic, the tracker's ROI from the previous frame).

Networks run behind runners (``artifacts.load_runner``): Keras, LiteRT and ONNX Runtime models share the same
pre- and post-processing.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from blazepose.alignment import ALIGN_MARGIN, Alignment, alignment_from_keypoints
from blazepose.artifacts import LandmarkOutput, config_beside, load_runner, resolve_weights
from blazepose.codec import Codec, Detection, DetectionCodec
from blazepose.config import config_from_dict
from blazepose.data.images import MIN_SIDE, load_image
from blazepose.defaults import (
    MAX_COVERED,
    MAX_PEOPLE,
    MIN_POSE_SCORE,
    MIN_PRESENCE,
    MIN_TRACKING_SCORE,
    NMS_IOU,
)
from blazepose.errors import BlazePoseError, check_terminated
from blazepose.geometry import (
    crop_matrix,
    invert_affine,
    mirror_points,
    transform_points,
    upright_box,
    warp_image,
    whole_image_box,
)
from blazepose.keypoints import LSP, Skeleton, skeleton_of
from blazepose.presets import PIPELINE, pipeline_of

# A re-crop is at least this fraction of the image's longer side (collapsed keypoints give no usable box).
MIN_BOX_FRACTION = 0.1
# With flip: the two estimates of a joint are averaged when they lie within this distance (a fraction of the
# crop side) of each other, otherwise the one with the higher score is kept. Chosen on the validation split
# (bench/accuracy.py --flip-agreement): averaging every joint (inf) scored below no flip at all, since the
# mean of a left and a right limb is on neither.
FLIP_AGREEMENT = 0.1

# When the whole image is a first pass beside a detector (Settings.whole_image).
WHOLE_IMAGE = ("always", "if_empty", "never")
# A model trained on upright aligned crops (data.crop = "aligned": MediaPipe's) reads the whole image, which is
# no such crop, in at least this many passes, each re-crop turned upright by the last keypoints. MediaPipe
# Full, the images of LSP's training half (less validation) where its detector finds nobody (74 of 800):
# PCK@0.2 50.3 % in 1 pass, 55.6 in 2, 58.2 in 3; LSP's validation part (16 of 200): 40.6, 51.8, 56.7.
ALIGNED_WHOLE_PASSES = 3
# Predictor's detector: the one the landmark model's preset pairs with it (none beside a runner given directly).
AUTO = "auto"

# A region of interest: (cx, cy, side) or (cx, cy, side, rotation in degrees), in original pixels.
Roi = tuple


@dataclass
class Person:
    keypoints: np.ndarray  # (K, 2) original image pixels
    visibility: np.ndarray  # (K,) per-joint score
    score: float  # the mean joint score: ranks people whatever gave their first crop
    box: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1 from the detector
    alignment: Alignment | None = None  # from the detector
    presence: float | None = None  # the landmark model's presence output (None: the model has none)
    detection_score: float | None = None  # the detector's score (None: the whole-image pass found this person)


@dataclass
class Prediction:
    width: int
    height: int
    people: list[Person] = field(default_factory=list)  # best first

    @property
    def keypoints(self) -> np.ndarray:
        """The best person's keypoints (single-person consumers: evaluation, tracking)."""
        if not self.people:
            raise BlazePoseError("no person was found in this image")
        return self.people[0].keypoints

    @property
    def visibility(self) -> np.ndarray:
        if not self.people:
            raise BlazePoseError("no person was found in this image")
        return self.people[0].visibility


class Found(NamedTuple):
    """One landmark pass over crops, in original pixels."""

    keypoints: np.ndarray  # (N, K, 2)
    visibility: np.ndarray  # (N, K)
    presence: np.ndarray | None = None  # (N,); None: the model has no presence output


def _antialias(cfg) -> bool:
    """Whether a model's inputs shrink through an area prefilter (``geometry.warp_image``: this toolkit's models,
    as they were trained) or by the bilinear warp alone, as MediaPipe's pipeline makes them for its networks
    (``model.imported``). MediaPipe Full and its detector, coco_mini (validation half / training half): the warp
    alone gives 0 / 2 false people on the photos without anyone against 1 / 3, OKS AP 13.2 / 12.7 against 13.7
    / 11.4, PCK@0.2 of people 34.5 / 34.8 against 34.5 / 35.2, and saves 1.5 ms per photo."""
    return cfg is None or not cfg.model.imported


def _roi_matrix(roi: Roi, size: int) -> np.ndarray:
    rotation = roi[3] if len(roi) > 3 else 0.0
    return crop_matrix(roi[:2], roi[2], size, rotation)


@dataclass(frozen=True)
class Settings:
    """The pipeline's research knobs, each measured on validation data (docs/inference_settings.md,
    docs/detector.md, docs/mediapipe.md). None: what the model's preset says (``presets.Preset.pipeline``), else
    the toolkit's default.

    `passes`: 1 = the detector's crop only, 2+ = re-crops around the keypoints. `whole_image`: when the whole
    image is a first pass beside a detector: "always", "if_empty" (only on images where none of the detector's
    people is present: the person who fills the frame, whom a detector can miss) or "never" (with `fallback`,
    as "if_empty"). `fallback` keeps the best person of an image that would otherwise have none (single-person
    evaluation). A detected person whose mean joint score is below `min_pose_score` is dropped (a pose read into
    a traffic light or a chair). `margin`: the re-crop's box around the keypoints (default: the model's
    data.crop_margin); `align_margin`: the detector's circle around the body; `upright`: turn crops by the
    alignment's rotation; `flip_agreement`: with flip, the two estimates of a joint closer than this (a fraction
    of the crop) are averaged; `decode`: a Keras model's regression or heatmap branch."""

    passes: int | None = None
    whole_image: str | None = None
    min_pose_score: float = MIN_POSE_SCORE
    fallback: bool = False
    batch_size: int = 16
    margin: float | None = None
    align_margin: float = ALIGN_MARGIN
    upright: bool = True
    flip_agreement: float = FLIP_AGREEMENT
    decode: str | None = None


class Predictor:
    """Image -> people, MediaPipe's options at MediaPipe's size: `weights` (a file or a preset name; default:
    the default preset) and `detector` (a file, a preset name, "none" for the whole-image passes alone; default
    "auto": the one the weights' preset pairs with them, none beside a `runner`), `max_people`,
    `min_detection_score` (the detector's threshold; default: the preset's), `min_presence` (a person whose
    presence output is below it is dropped: an image with nobody gives no people), `min_tracking_score`
    (video: below it the track is dropped and the detector runs again), `flip` (the mirrored crops too),
    `num_threads` (LiteRT's; default: the cores this process may use, at most 4). The research knobs are one
    `Settings`. `runner` / `detector_runner` may be given instead of files (any callable with input_size and
    num_joints; tests, benches)."""

    def __init__(
        self,
        weights: str | Path | None = None,
        detector: str | Path | None = AUTO,
        *,
        max_people: int = MAX_PEOPLE,
        min_detection_score: float | None = None,
        min_presence: float = MIN_PRESENCE,
        min_tracking_score: float = MIN_TRACKING_SCORE,
        flip: bool = False,
        num_threads: int | None = None,
        settings: Settings | None = None,
        runner=None,
        detector_runner=None,
    ):
        settings = settings or Settings()
        given, own_runner = weights, runner is not None
        if runner is None:
            weights = resolve_weights(weights, trainable=settings.decode is not None)
            runner = load_runner(weights, settings.decode, num_threads=num_threads)
        self.runner = runner
        self.cfg = config_beside(weights) if weights else config_from_dict({})
        # a runner without weights: the toolkit's generic pipeline, no detector unless one is given
        pipeline = PIPELINE if own_runner and given is None else pipeline_of(given, self.cfg.model.imported)
        if detector == AUTO:
            detector = None if own_runner else pipeline["detector"]
        if min_detection_score is None:
            min_detection_score = pipeline["min_detection_score"]
        passes = pipeline["passes"] if settings.passes is None else settings.passes
        whole_image = pipeline["whole_image"] if settings.whole_image is None else settings.whole_image
        for name, value in (("passes", passes), ("batch size", settings.batch_size), ("max people", max_people)):
            if value < 1:
                raise BlazePoseError(f"{name} must be at least 1, got {value}")
        for name, value in (
            ("min detection score", min_detection_score),
            ("min presence", min_presence),
            ("min tracking score", min_tracking_score),
            ("min pose score", settings.min_pose_score),
        ):
            if not 0.0 <= value <= 1.0:
                raise BlazePoseError(f"{name} must be between 0 and 1, got {value}")
        if num_threads is not None and num_threads < 1:
            raise BlazePoseError(f"threads must be at least 1, got {num_threads}")
        if whole_image not in WHOLE_IMAGE:
            raise BlazePoseError(f"whole image must be one of {', '.join(WHOLE_IMAGE)}, got {whole_image!r}")
        self.size = self.runner.input_size
        self.codec = Codec(input_size=self.size)
        self.passes = passes
        self.margin = self.cfg.data.crop_margin if settings.margin is None else settings.margin
        self.batch_size = settings.batch_size
        self.flip = flip
        self.flip_agreement = settings.flip_agreement
        self.skeleton = skeleton_of(self.cfg)  # the model's joints, from the config saved beside it
        if self.runner.num_joints != self.skeleton.num_joints:
            raise BlazePoseError(
                f"{weights or 'the model'} predicts {self.runner.num_joints} joints; the skeleton in its config "
                f"({self.skeleton.name}) has {self.skeleton.num_joints}"
            )
        if detector_runner is None and detector not in (None, "none"):
            detector_runner = load_runner(detector, task="detector", num_threads=num_threads)
        self.detector = detector_runner
        self.detector_name = "given" if detector is None and detector_runner is not None else str(detector)
        self.detection_codec = None
        if detector_runner is not None:  # the runner's own decode (an imported MediaPipe detector's), else ours
            own = getattr(detector_runner, "detection_codec", None)
            self.detection_codec = own or DetectionCodec(detector_runner.input_size)
        self.max_people, self.min_score, self.fallback = max_people, min_detection_score, settings.fallback
        self.min_presence, self.min_tracking_score = min_presence, min_tracking_score
        self.min_pose_score = settings.min_pose_score
        self.align_margin = settings.align_margin
        self.upright = settings.upright  # turn crops upright (the alignment's rotation); False: axis-aligned
        self.whole_image = "always" if detector_runner is None else whole_image
        self.antialias = _antialias(self.cfg)
        self.detector_antialias = _antialias(getattr(detector_runner, "cfg", None))

    # --- the networks on crops -------------------------------------------------------------------------------
    def _run(self, images: list[np.ndarray], mats: list[np.ndarray]) -> Found:
        """One landmark pass: warp each (image, matrix) crop, run the network in batches, map back to original
        pixels."""
        k = self.skeleton.num_joints
        if not mats:
            return Found(np.zeros((0, k, 2), np.float32), np.zeros((0, k)))
        outs = []
        for start in range(0, len(mats), self.batch_size):
            stop = start + self.batch_size
            crops = np.stack(
                [
                    warp_image(img, m, self.size, antialias=self.antialias)
                    for img, m in zip(images[start:stop], mats[start:stop], strict=True)
                ]
            )
            outs.append(self._infer(crops))
        joints = self.codec.denormalize(np.concatenate([o.joints for o in outs]))
        kps = np.stack([transform_points(j, invert_affine(m)) for j, m in zip(joints, mats, strict=True)])
        vis = np.concatenate([o.visibility for o in outs])
        presence = None if outs[0].presence is None else np.concatenate([o.presence for o in outs])
        return Found(kps, vis, presence)

    def _infer(self, crops: np.ndarray) -> LandmarkOutput:
        """The network on a batch of crops. With `flip` (the presence is then the mean of the two), the mirrored
        crops too: mirroring maps normalized x to 1 - x
        exactly (pixel centres sit at (x + 0.5) / size) and swaps the person's left and right joints. Per joint,
        two estimates within `flip_agreement` of each other are averaged; otherwise the one with the higher
        score is kept (where the two disagree about left and right, their mean would lie between the limbs)."""
        out = LandmarkOutput.of(self.runner(crops))
        if not self.flip:
            return out
        joints, vis = out.joints, out.visibility
        mirrored = LandmarkOutput.of(self.runner(np.ascontiguousarray(crops[:, :, ::-1])))
        joints_m, vis_m = mirror_joints(mirrored.joints, mirrored.visibility, self.skeleton)
        agree = np.linalg.norm(joints - joints_m, axis=-1) < self.flip_agreement
        mirrored_better = vis_m > vis
        fused = np.where(
            agree[..., None], (joints + joints_m) / 2, np.where(mirrored_better[..., None], joints_m, joints)
        )
        presence = out.presence if out.presence is None else (out.presence + mirrored.presence) / 2
        vis = np.where(agree, (vis + vis_m) / 2, np.maximum(vis, vis_m))
        return LandmarkOutput(fused, vis, presence)

    def detect(self, images: list[np.ndarray]) -> list[list[Detection]]:
        """The detector on whole images (letterboxed) -> detections in original pixels, best first."""
        size = self.detector.input_size
        found = []
        for start in range(0, len(images), self.batch_size):
            chunk = images[start : start + self.batch_size]
            mats = [
                crop_matrix(whole_image_box(img.shape[1], img.shape[0])[:2], max(img.shape[:2]), size) for img in chunk
            ]
            pairs = zip(chunk, mats, strict=True)
            out = self.detector(np.stack([warp_image(i, m, size, antialias=self.detector_antialias) for i, m in pairs]))
            for i, m in enumerate(mats):
                dets = self.detection_codec.decode(
                    {k: v[i] for k, v in out.items()}, self.min_score, NMS_IOU, self.max_people
                )
                back = invert_affine(m)
                found.append([d.mapped(back) for d in dets])
        return found

    # --- crops from keypoints --------------------------------------------------------------------------------
    def recrop(self, keypoints: np.ndarray, image: np.ndarray, rotation: float | None = 0.0) -> Roi:
        """The next pass's ROI around the previous keypoints, upright by `rotation` (None: the rotation the
        keypoints' hips and shoulders give), kept inside the image so a wild guess cannot run off, and not
        smaller than MIN_BOX_FRACTION of the image. Framed as the model's crops were in training (its config's
        data.crop): the keypoints' box x data.crop_margin, or the circle around mid-hips x ALIGN_MARGIN."""
        h, w = image.shape[:2]
        kps = np.clip(keypoints, 0, [w - 1, h - 1])
        ones = np.ones(len(kps))
        a = alignment_from_keypoints(kps, ones, self.skeleton)
        if rotation is None:
            rotation = a.rotation if a is not None else 0.0
        if self.cfg.data.crop == "aligned" and a is not None:  # framed as the model was trained: the circle
            return a.cx, a.cy, max(2.0 * a.radius * ALIGN_MARGIN, MIN_BOX_FRACTION * max(w, h)), rotation
        cx, cy, side = upright_box(kps, ones, rotation, self.margin)
        return cx, cy, max(side, MIN_BOX_FRACTION * max(w, h)), rotation

    def _refine(self, images, found: Found, passes: int, rotations) -> Found:
        """Re-crop passes after the first, turned by `rotations` (``recrop``)."""
        for _ in range(passes - 1):
            rois = [self.recrop(k, img, rot) for k, img, rot in zip(found.keypoints, images, rotations, strict=True)]
            found = self._run(images, [_roi_matrix(r, self.size) for r in rois])
        return found

    def _people(self, found: Found) -> list[Person]:
        return [
            Person(k.astype(np.float32), v.astype(np.float32), float(np.mean(v)), presence=_maybe(found.presence, i))
            for i, (k, v) in enumerate(zip(found.keypoints, found.visibility, strict=True))
        ]

    def _present(self, person: Person) -> bool:
        """A person is there: presence (when the model has it) reaches `min_presence`, and a detected person's
        mean joint score reaches `min_pose_score`. The whole-image person needs presence alone: held to the
        score rule too, it was dropped on 7 (Full) and 9 (Lite) of LSP's 200 validation images, each holding a
        person (PCK@0.2 -1.6 and -1.7 points as predict gives it), for 1 false person fewer on coco_mini's 25
        empty photos."""
        if person.detection_score is not None and person.score < self.min_pose_score:
            return False
        return person.presence is None or person.presence >= self.min_presence

    def _choose(self, people: list[Person]) -> list[Person]:
        """One image's people, best first: those present (`_present`; with `fallback`, the best one when none
        is), the better ranked of two whose keypoint boxes overlap at IoU >= NMS_IOU (OpenCV's NMS), none whose
        keypoint box lies MAX_COVERED or more inside a better-ranked one's (a split detection: a limb or the
        torso of a person already found), at most `max_people`."""
        import cv2

        kept = [p for p in people if self._present(p)]
        if not kept and self.fallback and people:
            kept = [max(people, key=lambda p: p.score)]
        if len(kept) < 2:
            return kept
        boxes = np.array([np.concatenate([p.keypoints.min(axis=0), p.keypoints.max(axis=0)]) for p in kept], float)
        sizes = np.maximum(boxes[:, 2:] - boxes[:, :2], 1.0)
        xywh = [[float(b[0]), float(b[1]), float(w), float(h)] for b, (w, h) in zip(boxes, sizes, strict=True)]
        order = [int(i) for i in np.asarray(cv2.dnn.NMSBoxes(xywh, [float(p.score) for p in kept], 0.0, NMS_IOU))]
        order.sort(key=lambda i: -kept[i].score)
        chosen: list[int] = []
        for i in order:
            inside = np.maximum(
                np.minimum(boxes[chosen, 2:], boxes[i, 2:]) - np.maximum(boxes[chosen, :2], boxes[i, :2]), 0
            )
            if not chosen or (inside.prod(axis=1) / sizes[i].prod()).max() < MAX_COVERED:
                chosen.append(i)
        return [kept[i] for i in chosen[: self.max_people]]

    # --- images -> predictions -------------------------------------------------------------------------------
    def predict_arrays(
        self, images: list[np.ndarray], rois: list | None = None, passes: int | None = None
    ) -> list[Prediction]:
        """People in RGB uint8 images. `rois` ((cx, cy, side[, rotation]) per image, one person each) replace the
        detector; `passes` overrides the predictor's pass count (a tracker runs one pass on its own ROI)."""
        passes = passes or self.passes
        preds = [Prediction(img.shape[1], img.shape[0]) for img in images]
        if rois is not None:  # the caller's crops: the person is kept whatever the presence (the caller decides)
            found = self._run(images, [_roi_matrix(r, self.size) for r in rois])
            # an upright ROI (with a rotation) is refined upright; an axis-aligned one stays axis-aligned
            found = self._refine(images, found, passes, [None if len(r) > 3 else 0.0 for r in rois])
            for p, person in zip(preds, self._people(found), strict=True):
                p.people.append(person)
            return preds
        candidates: list[list[Person]] = [[] for _ in images]
        if self.detector is not None:
            detections = self.detect(images)
            owners = [i for i, dets in enumerate(detections) for _ in dets]
            flat = [d for dets in detections for d in dets]
            crop_images = [images[i] for i in owners]
            aligned = [d.alignment if self.upright else dataclasses.replace(d.alignment, rotation=0.0) for d in flat]
            found = self._run(crop_images, [a.crop(self.size, self.align_margin) for a in aligned])
            found = self._refine(crop_images, found, passes, [None if self.upright else 0.0] * len(flat))
            for i, d, person in zip(owners, flat, self._people(found), strict=True):
                found_person = dataclasses.replace(person, detection_score=d.score, box=d.box, alignment=d.alignment)
                candidates[i].append(found_person)
        whole = list(range(len(images)))
        if self.whole_image == "if_empty" or (self.whole_image == "never" and self.fallback):
            # the whole image only where the detector's people leave the image empty
            whole = [i for i, c in enumerate(candidates) if not any(map(self._present, c))]
        elif self.whole_image == "never":
            whole = []
        if whole:
            sub = [images[i] for i in whole]
            boxes = [whole_image_box(img.shape[1], img.shape[0]) for img in sub]
            found = self._run(sub, [_roi_matrix(b, self.size) for b in boxes])
            if self.cfg.data.crop == "aligned":
                found = self._refine(sub, found, max(passes, ALIGNED_WHOLE_PASSES), [None] * len(sub))
            else:
                found = self._refine(sub, found, passes, [0.0] * len(sub))
            for i, person in zip(whole, self._people(found), strict=True):
                candidates[i].append(person)
        for pred, people in zip(preds, candidates, strict=True):
            pred.people = self._choose(people)
        return preds

    def predict_files(self, paths: list[str | Path], progress: bool = True, rois: list | None = None):
        """Yields (path, Prediction or the error message) in order; unreadable files are reported, not fatal."""
        from tqdm import tqdm

        paths = list(paths)
        with tqdm(total=len(paths), unit="img", desc="predict", disable=not progress) as bar:
            for start in range(0, len(paths), self.batch_size):
                check_terminated()
                chunk = paths[start : start + self.batch_size]
                images, ok, results = [], [], {}
                for i, p in enumerate(chunk):
                    try:
                        image = load_image(p)[0]
                    except BlazePoseError as exc:
                        results[i] = str(exc)
                        continue
                    if min(image.shape[:2]) < MIN_SIDE:
                        h, w = image.shape[:2]
                        results[i] = f"image {p} is {w}x{h} pixels: too small to show a person (under {MIN_SIDE})"
                        continue
                    images.append(image)
                    ok.append(i)
                if images:
                    chunk_rois = None if rois is None else [rois[start + i] for i in ok]
                    for i, pred in zip(ok, self.predict_arrays(images, chunk_rois), strict=True):
                        results[i] = pred
                for i, p in enumerate(chunk):
                    yield p, results[i]
                bar.update(len(chunk))


def _maybe(values: np.ndarray | None, i: int) -> float | None:
    return None if values is None else float(values[i])


def mirror_joints(joints: np.ndarray, vis: np.ndarray, skeleton: Skeleton = LSP) -> tuple[np.ndarray, np.ndarray]:
    """Normalized joints (B, K, 2) predicted on mirrored crops -> the unmirrored crop's: x -> 1 - x and the
    person's left and right joints exchanged."""
    return mirror_points(joints, 1.0, skeleton.flip_index), vis[:, skeleton.flip_index]


def _r(value: float, digits: int = 2) -> float:
    return round(float(value), digits) if math.isfinite(value) else None


def person_json(person: Person) -> dict:
    out = {
        "score": round(float(person.score), 4),
        "keypoints": [
            [round(float(x), 2), round(float(y), 2), round(float(v), 4)]
            for (x, y), v in zip(person.keypoints, person.visibility, strict=True)
        ],
    }
    if person.presence is not None:
        out["presence"] = round(float(person.presence), 4)
    if person.detection_score is not None:
        out["detection_score"] = round(float(person.detection_score), 4)
    if person.box is not None:
        out["box"] = [_r(v) for v in person.box]
    if person.alignment is not None:
        out["alignment"] = person.alignment.to_dict()
    return out


def predictions_json(items: list[tuple[str, Prediction]], skeleton: Skeleton = LSP) -> dict:
    """The documented --output layout: joint names, then per image its people, each with a score, a box and
    alignment (from the detector) and K [x, y, score] keypoints in original pixels."""
    return {
        "joint_names": list(skeleton.joint_names),
        "predictions": [
            {"image": str(path), "width": p.width, "height": p.height, "people": [person_json(q) for q in p.people]}
            for path, p in items
        ],
    }


def coco_results(items: list[tuple[str, Prediction]], skeleton: Skeleton = LSP) -> list[dict]:
    """COCO keypoint results (what pycocotools' loadRes reads): one entry per person, the 17 COCO keypoints
    (``coco_eval.coco_keypoints``: the joints the skeleton shares, the face keypoints it lacks estimated from
    its neck, head top and shoulders, any other missing joint zero). The image id is the file name's number
    (COCO's own names, e.g. 000000493652.jpg), else the image's place in the list. The score is the person's
    score times its presence (when the model has one)."""
    from blazepose.evaluation.coco_eval import coco_keypoints

    out = []
    for n, (path, pred) in enumerate(items):
        stem = Path(path).stem
        image_id = int(stem) if stem.isdigit() else n
        for person in pred.people:
            kps = coco_keypoints(person.keypoints, skeleton)
            out.append(
                {
                    "image_id": image_id,
                    "category_id": 1,
                    "keypoints": [round(float(v), 2) for v in kps.reshape(-1)],
                    "score": round(float(person.score * (1.0 if person.presence is None else person.presence)), 4),
                }
            )
    return out

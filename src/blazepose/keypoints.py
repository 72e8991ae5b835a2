"""Skeletons as data: joint names, flip pairs, drawing edges, the PCK normaliser, report parts and OKS sigmas.

A model's skeleton is part of its config (``model.skeleton``): a built-in name (``SKELETONS``: "lsp", "coco",
"blazepose33") or a TOML file (``load_skeleton``). Everything that needs to know the joints (heads, codec,
losses, flips, metrics, drawing, JSON names, export) asks the skeleton; nothing else counts joints.

Left/right are person-centric (the person's own left), so a horizontal flip swaps them. A skeleton file::

    name = "my_skeleton"                         # optional; default: the file's stem
    joints = ["nose", "left_eye", "right_eye", "tail"]
    flip_pairs = [["left_eye", "right_eye"]]     # optional; default: every left_X / right_X (X_left / X_right)
    edges = [["nose", "left_eye"], ["nose", "right_eye"]]   # drawing; optional
    normalizer = ["left_eye", "right_eye"]       # PCK normaliser; optional, default: the keypoints' box diagonal
    sigmas = [0.026, 0.025, 0.025, 0.1]          # OKS; optional, default DEFAULT_SIGMA for every joint
    [parts]                                      # report groups; optional
    Eyes = ["left_eye", "right_eye"]
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from blazepose.errors import BlazePoseError

# OKS sigma of a joint a skeleton gives none for: the mean of COCO's 17 keypoint sigmas (0.025 for the eyes
# up to 0.107 for the hips).
DEFAULT_SIGMA = 0.067


@dataclass(frozen=True)
class Skeleton:
    name: str
    joint_names: tuple[str, ...]
    flip_pairs: tuple[tuple[int, int], ...]  # (left or right joint, its mirror)
    edges: tuple[tuple[int, int], ...] = ()  # for drawing
    torso: tuple[int, int] | None = None  # PCK normaliser pair; None: the diagonal of the keypoints' box
    parts: tuple[tuple[str, tuple[int, ...]], ...] = ()  # (part name, joints averaged into it)
    sigmas: tuple[float, ...] = ()  # OKS sigma per joint (a file without them: DEFAULT_SIGMA for each)

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def flip_index(self) -> np.ndarray:
        """Permutation p such that flipped[..., j, :] = original[..., p[j], :] after mirroring x."""
        index = np.arange(self.num_joints)
        for a, b in self.flip_pairs:
            index[a], index[b] = b, a
        return index

    @property
    def oks_sigmas(self) -> np.ndarray:
        return np.asarray(self.sigmas or (DEFAULT_SIGMA,) * self.num_joints, np.float64)

    def side(self, joint: int) -> str:
        """'left', 'right' or 'center' (from the name), used for colours."""
        name = self.joint_names[joint]
        if name.startswith(("left", "l_")) or name.endswith("_left"):
            return "left"
        if name.startswith(("right", "r_")) or name.endswith("_right"):
            return "right"
        return "center"

    def index(self, name: str) -> int:
        return self.joint_names.index(name)

    def has(self, *names: str) -> bool:
        return all(n in self.joint_names for n in names)

    def to_dict(self) -> dict:
        """The skeleton file's fields (``skeleton_from_dict`` reads them back), joints by name."""
        n = self.joint_names
        out: dict = {
            "name": self.name,
            "joints": list(n),
            "flip_pairs": [[n[a], n[b]] for a, b in self.flip_pairs],
            "edges": [[n[a], n[b]] for a, b in self.edges],
            "sigmas": [float(s) for s in self.oks_sigmas],
            "parts": {part: [n[j] for j in js] for part, js in self.parts},
        }
        if self.torso is not None:
            out["normalizer"] = [n[self.torso[0]], n[self.torso[1]]]
        return out


def _mirror_name(name: str) -> str | None:
    for a, b in (("left_", "right_"), ("right_", "left_")):
        if name.startswith(a):
            return b + name[len(a) :]
    for a, b in (("_left", "_right"), ("_right", "_left")):
        if name.endswith(a):
            return name[: -len(a)] + b
    return None


def pairs_from_names(names: tuple[str, ...] | list[str]) -> list[tuple[str, str]]:
    """left_X / right_X (and X_left / X_right) pairs, each once."""
    pairs = []
    for name in names:
        mirror = _mirror_name(name)
        if mirror is not None and mirror in names and (mirror, name) not in pairs:
            pairs.append((name, mirror))
    return pairs


def skeleton_from_dict(values: dict, where: str) -> Skeleton:
    """A Skeleton from a skeleton file's fields (see the module docstring); every problem is one error that
    names `where`."""

    def fail(message: str):
        raise BlazePoseError(f"{where}: {message}")

    if not isinstance(values, dict):
        fail("expected a table of skeleton fields")
    known = {"name", "joints", "flip_pairs", "edges", "normalizer", "sigmas", "parts"}
    unknown = sorted(set(values) - known)
    if unknown:
        fail(f"unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(sorted(known))}")
    joints = values.get("joints")
    if not isinstance(joints, list) or not joints or not all(isinstance(j, str) and j for j in joints):
        fail("'joints' must be a non-empty list of joint names")
    duplicates = sorted({j for j in joints if joints.count(j) > 1})
    if duplicates:
        fail(f"duplicate joint name(s): {', '.join(duplicates)}")
    names = tuple(joints)

    def index(name, what):
        if name not in names:
            fail(f"{what} names {name!r}, which is not one of the joints ({', '.join(names)})")
        return names.index(name)

    def pairs(key):
        items = values.get(key)
        if items is None:
            return None
        if not isinstance(items, list) or not all(isinstance(p, list) and len(p) == 2 for p in items):
            fail(f"'{key}' must be a list of [joint, joint] pairs")
        return [(index(a, key), index(b, key)) for a, b in items]

    flip = pairs("flip_pairs")
    if flip is None:
        unpaired = [n for n in names if _mirror_name(n) is not None and _mirror_name(n) not in names]
        if unpaired:
            fail(
                f"{', '.join(unpaired)} named as one side but without the other side's joint: give flip_pairs "
                "explicitly (an empty list: no joint is swapped by a horizontal flip)"
            )
        flip = [(names.index(a), names.index(b)) for a, b in pairs_from_names(names)]
    seen = [j for pair in flip for j in pair]
    if len(seen) != len(set(seen)) or any(a == b for a, b in flip):
        fail("flip_pairs: each joint may be in at most one pair, paired with another joint")
    normalizer = values.get("normalizer")
    torso = None
    if normalizer is not None:
        if not isinstance(normalizer, list) or len(normalizer) != 2:
            fail("'normalizer' must be a pair of joint names [a, b]")
        torso = (index(normalizer[0], "normalizer"), index(normalizer[1], "normalizer"))
        if torso[0] == torso[1]:
            fail("'normalizer' must name two different joints")
    sigmas = values.get("sigmas", [])
    if sigmas:
        if not isinstance(sigmas, list) or len(sigmas) != len(names):
            fail(f"'sigmas' must list one number per joint ({len(names)})")
        if not all(isinstance(s, int | float) and not isinstance(s, bool) and s > 0 for s in sigmas):
            fail("'sigmas' must be numbers > 0")
    parts_in = values.get("parts", {})
    if not isinstance(parts_in, dict):
        fail("'parts' must be a table: part name = [joint, ...]")
    parts = []
    for part, members in parts_in.items():
        if not isinstance(members, list) or not members:
            fail(f"part {part!r} must list at least one joint")
        parts.append((str(part), tuple(index(m, f"part {part!r}") for m in members)))
    name = values.get("name", Path(where).stem)
    if not isinstance(name, str) or not name:
        fail("'name' must be a non-empty string")
    return Skeleton(
        name=name,
        joint_names=names,
        flip_pairs=tuple(flip),
        edges=tuple(pairs("edges") or ()),
        torso=torso,
        parts=tuple(parts),
        sigmas=tuple(float(s) for s in sigmas) or (DEFAULT_SIGMA,) * len(names),
    )


def _from_names(name: str, joints, edges, normalizer, parts=(), flip=None, sigmas=None) -> Skeleton:
    """A built-in skeleton written by joint names (checked like a file)."""
    values = {"name": name, "joints": list(joints), "edges": [list(e) for e in edges], "normalizer": list(normalizer)}
    values["parts"] = {p: list(js) for p, js in parts}
    if flip is not None:
        values["flip_pairs"] = [list(p) for p in flip]
    if sigmas is not None:
        values["sigmas"] = [sigmas.get(j, DEFAULT_SIGMA) for j in joints]
    return skeleton_from_dict(values, f"built-in skeleton {name}")


# fmt: off
COCO_SIGMAS = {  # COCO's per-keypoint OKS sigmas (cocoapi)
    "nose": 0.026, "left_eye": 0.025, "right_eye": 0.025, "left_ear": 0.035, "right_ear": 0.035,
    "left_shoulder": 0.079, "right_shoulder": 0.079, "left_elbow": 0.072, "right_elbow": 0.072,
    "left_wrist": 0.062, "right_wrist": 0.062, "left_hip": 0.107, "right_hip": 0.107, "left_knee": 0.087,
    "right_knee": 0.087, "left_ankle": 0.089, "right_ankle": 0.089,
}

# The 14 joints of LSP and LSPet, in their files' order.
LSP = _from_names(
    "lsp",
    ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
     "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
     "neck", "head_top"),
    (("right_ankle", "right_knee"), ("right_knee", "right_hip"), ("left_ankle", "left_knee"),
     ("left_knee", "left_hip"), ("right_hip", "left_hip"), ("right_hip", "right_shoulder"),
     ("left_hip", "left_shoulder"), ("right_shoulder", "left_shoulder"), ("right_wrist", "right_elbow"),
     ("right_elbow", "right_shoulder"), ("left_wrist", "left_elbow"), ("left_elbow", "left_shoulder"),
     ("neck", "head_top"), ("right_shoulder", "neck"), ("left_shoulder", "neck")),
    ("left_shoulder", "right_hip"),  # the standard LSP PCK normaliser
    (("Head", ("neck", "head_top")), ("Shoulder", ("right_shoulder", "left_shoulder")),
     ("Elbow", ("right_elbow", "left_elbow")), ("Wrist", ("right_wrist", "left_wrist")),
     ("Hip", ("right_hip", "left_hip")), ("Knee", ("right_knee", "left_knee")),
     ("Ankle", ("right_ankle", "left_ankle"))),
    sigmas=COCO_SIGMAS,
)

# COCO's 17 person keypoints, in its annotation order.
COCO = _from_names(
    "coco",
    tuple(COCO_SIGMAS),
    (("left_ankle", "left_knee"), ("left_knee", "left_hip"), ("right_ankle", "right_knee"),
     ("right_knee", "right_hip"), ("left_hip", "right_hip"), ("left_shoulder", "left_hip"),
     ("right_shoulder", "right_hip"), ("left_shoulder", "right_shoulder"), ("left_shoulder", "left_elbow"),
     ("right_shoulder", "right_elbow"), ("left_elbow", "left_wrist"), ("right_elbow", "right_wrist"),
     ("left_eye", "right_eye"), ("nose", "left_eye"), ("nose", "right_eye"), ("left_eye", "left_ear"),
     ("right_eye", "right_ear")),
    ("left_shoulder", "right_hip"),
    (("Face", ("nose", "left_eye", "right_eye", "left_ear", "right_ear")),
     ("Shoulder", ("left_shoulder", "right_shoulder")), ("Elbow", ("left_elbow", "right_elbow")),
     ("Wrist", ("left_wrist", "right_wrist")), ("Hip", ("left_hip", "right_hip")),
     ("Knee", ("left_knee", "right_knee")), ("Ankle", ("left_ankle", "right_ankle"))),
    sigmas=COCO_SIGMAS,
)

# BlazePose's 33 landmarks in MediaPipe's order (mediapipe.solutions.pose.PoseLandmark), its drawing edges
# (POSE_CONNECTIONS).
_BP33 = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle", "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
_BP33_EDGES = (
    (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10), (11, 12), (11, 13), (13, 15),
    (15, 17), (15, 19), (15, 21), (17, 19), (12, 14), (14, 16), (16, 18), (16, 20), (16, 22), (18, 20),
    (11, 23), (12, 24), (23, 24), (23, 25), (24, 26), (25, 27), (26, 28), (27, 29), (28, 30), (29, 31),
    (30, 32), (27, 31), (28, 32),
)
BLAZEPOSE33 = _from_names(
    "blazepose33",
    _BP33,
    tuple((_BP33[a], _BP33[b]) for a, b in _BP33_EDGES),
    ("left_shoulder", "right_hip"),
    (("Face", _BP33[:11]), ("Shoulder", ("left_shoulder", "right_shoulder")),
     ("Elbow", ("left_elbow", "right_elbow")), ("Wrist", ("left_wrist", "right_wrist")),
     ("Hand", ("left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb")),
     ("Hip", ("left_hip", "right_hip")), ("Knee", ("left_knee", "right_knee")),
     ("Ankle", ("left_ankle", "right_ankle")),
     ("Foot", ("left_heel", "right_heel", "left_foot_index", "right_foot_index"))),
    sigmas=COCO_SIGMAS,
)
# fmt: on

SKELETONS = {s.name: s for s in (LSP, COCO, BLAZEPOSE33)}


@functools.lru_cache(maxsize=32)
def _load_file(path: str, mtime: float) -> Skeleton:
    try:
        values = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BlazePoseError(f"skeleton file {path} is not valid TOML: {exc}") from None
    return skeleton_from_dict(values, f"skeleton file {path}")


def load_skeleton(spec: str | Skeleton) -> Skeleton:
    """A built-in skeleton's name ("lsp", "coco", "blazepose33") or a skeleton TOML file -> Skeleton."""
    if isinstance(spec, Skeleton):
        return spec
    if spec in SKELETONS:
        return SKELETONS[spec]
    path = Path(spec).expanduser()
    if not path.is_file():
        raise BlazePoseError(
            f"skeleton {spec!r} is neither a built-in skeleton ({', '.join(SKELETONS)}) nor a skeleton file"
        )
    return _load_file(str(path.resolve()), path.stat().st_mtime)


def dumps_skeleton(skeleton: Skeleton) -> str:
    """The skeleton as a skeleton file (TOML), every field written out."""

    def value(v) -> str:
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return repr(v)

    d = skeleton.to_dict()
    parts = d.pop("parts")
    lines = [f"{k} = {value(v)}" for k, v in d.items()]
    if parts:
        lines += ["", "[parts]"] + [f"{value(p)} = {value(js)}" for p, js in parts.items()]
    return "\n".join(lines) + "\n"


def skeleton_of(cfg) -> Skeleton:
    """The skeleton of a config's model (``model.skeleton``)."""
    return load_skeleton(cfg.model.skeleton)


# --- mapping between skeletons ----------------------------------------------------------------------------------
# Joints a skeleton can be given from another's when the source lacks them: name -> rules, the first whose
# joints the source skeleton has is used. A rule is an affine combination of the source's joints ((term,
# weight), ...; the weights sum to 1, so it turns, scales and moves with the body); a term is one joint or
# two (their midpoint). A sample's derived joint is known where every joint of the rule is.
# LSP's neck and head top from a face and shoulders, fitted by least squares to LSP's labels on MediaPipe
# Full's 33 points (LSP's training half less its validation part: 800 images; docs/mediapipe.md, "LSP's neck
# and head top"): the neck lies 0.4 of the way from the mid-shoulders to the nose (the mid-shoulders alone lie
# about 0.15 torso lengths below it), the head top above the ears, away from the nose and the shoulders.
_SHOULDERS, _EARS = ("left_shoulder", "right_shoulder"), ("left_ear", "right_ear")
DERIVED: dict[str, tuple[tuple[tuple[tuple[str, ...], float], ...], ...]] = {
    "neck": (((_SHOULDERS, 0.6), (("nose",), 0.4)), ((_SHOULDERS, 1.0),)),
    "head_top": (((_EARS, 2.2), (("nose",), -0.72), (_SHOULDERS, -0.48)),),
}


def derived_rule(name: str, source: Skeleton):
    """The rule of DERIVED that gives `name` from `source`'s joints, or None."""
    for rule in DERIVED.get(name, ()):
        if source.has(*(n for term, _ in rule for n in term)):
            return rule
    return None


# Built-in mappings used without asking (e.g. a model of one skeleton scored on data of another): every
# joint the target shares by name with the source, plus DERIVED ones; the rest masked.
MAPPINGS = {
    ("coco", "lsp"),
    ("blazepose33", "coco"),
    ("blazepose33", "lsp"),
    ("lsp", "blazepose33"),
    ("coco", "blazepose33"),
}


# COCO's face keypoints, which a skeleton with a neck and a head top but no face (LSP's) does not predict,
# estimated for COCO results as neck + a * u + b * v: u = head_top - neck, v = u turned a quarter towards the
# left shoulder (the person's left, whichever way they face). (a, b): the medians over coco_mini's training
# half (the packaged Full model's keypoints on its people, ground-truth crops), left and right averaged;
# `python bench/face_from_head.py` fits them and scores them on the validation half.
FACE_FROM_HEAD = {
    "nose": (0.37, 0.0),
    "left_eye": (0.51, 0.18),
    "right_eye": (0.51, -0.18),
    "left_ear": (0.46, 0.32),
    "right_ear": (0.46, -0.32),
}
HEAD_FRAME = ("neck", "head_top", "left_shoulder", "right_shoulder")


def head_frame(keypoints: np.ndarray, skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(origin, u, v) of FACE_FROM_HEAD for one person's (K, 2) keypoints: the neck, head_top - neck, and u
    turned a quarter towards the left shoulder; None when the skeleton lacks one of HEAD_FRAME."""
    if not skeleton.has(*HEAD_FRAME):
        return None
    neck, top, left, right = (np.asarray(keypoints[skeleton.index(n)], np.float64) for n in HEAD_FRAME)
    u = top - neck
    v = np.array([-u[1], u[0]])
    return neck, u, (v if v @ (left - right) >= 0 else -v)


def estimate_from_head(
    keypoints: np.ndarray, skeleton: Skeleton, coefficients: dict | None = None
) -> dict[str, np.ndarray]:
    """COCO face keypoints the skeleton lacks, estimated from one person's (K, 2) keypoints by
    `coefficients` (default FACE_FROM_HEAD); {} when the skeleton has no head frame."""
    frame = head_frame(keypoints, skeleton)
    if frame is None:
        return {}
    origin, u, v = frame
    coefficients = FACE_FROM_HEAD if coefficients is None else coefficients
    return {n: origin + a * u + b * v for n, (a, b) in coefficients.items() if n not in skeleton.joint_names}


def same_joints(a: Skeleton, b: Skeleton) -> bool:
    return a.joint_names == b.joint_names


def can_map(source: Skeleton, target: Skeleton) -> bool:
    return same_joints(source, target) or (source.name, target.name) in MAPPINGS


def check_mappable(source: Skeleton, target: Skeleton, what: str) -> None:
    """Refuse, with both joint lists, data or predictions of `source` where `target`'s joints are wanted."""
    if not can_map(source, target):
        raise BlazePoseError(
            f"{what} has the joints of skeleton {source.name!r} ({', '.join(source.joint_names)}), the model's "
            f"skeleton {target.name!r} has {', '.join(target.joint_names)}: give data with the model's joints, "
            f"set model.skeleton to the data's, or (training data) data.map_joints = true to map joints by name "
            f"(built-in mappings: " + ", ".join(f"{a} -> {b}" for a, b in sorted(MAPPINGS)) + ")"
        )


def map_keypoints(
    keypoints: np.ndarray, visibility: np.ndarray, mask: np.ndarray, source: Skeleton, target: Skeleton
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(..., K_source, 2) keypoints (+ (..., K_source) visibility and mask) -> the target skeleton's joints:
    shared names copied, DERIVED joints (LSP's neck and head top from the shoulders and the face) computed where
    the source lacks them and has what they are made of (their visibility: the lowest of those joints'), every
    other target joint masked out (mask 0, coordinates 0)."""
    keypoints = np.asarray(keypoints, np.float32)
    visibility, mask = np.asarray(visibility, np.float32), np.asarray(mask, np.float32)
    if same_joints(source, target):
        return keypoints, visibility, mask
    shape = keypoints.shape[:-2]
    out_k = np.zeros((*shape, target.num_joints, 2), np.float32)
    out_v = np.zeros((*shape, target.num_joints), np.float32)
    out_m = np.zeros((*shape, target.num_joints), np.float32)
    for j, name in enumerate(target.joint_names):
        if name in source.joint_names:
            s = source.index(name)
            out_k[..., j, :], out_v[..., j], out_m[..., j] = keypoints[..., s, :], visibility[..., s], mask[..., s]
        elif (rule := derived_rule(name, source)) is not None:
            known = np.ones(shape, np.float32)
            point = np.zeros((*shape, 2), np.float32)
            vis = np.ones(shape, np.float32)
            for term, weight in rule:
                idx = [source.index(n) for n in term]
                point += weight * keypoints[..., idx, :].mean(axis=-2)
                known *= mask[..., idx].prod(axis=-1)
                vis = np.minimum(vis, visibility[..., idx].min(axis=-1))
            out_k[..., j, :] = point * known[..., None]
            out_v[..., j] = vis
            out_m[..., j] = known
    return out_k, out_v, out_m

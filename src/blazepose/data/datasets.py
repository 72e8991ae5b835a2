"""Where the data lives and how it is split.

Standard LSP split: im0001-im1000 train, im1001-im2000 test. A validation part is carved from the *train*
half by a seeded permutation (never from the test half). LSPet is training data only, except in the seed's
LSPet benchmark (`data.split = "lspet"`): im00001-im02500 train (a validation part carved from it the same
way), im02501-im03000 held out for the report.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from blazepose.config import DataConfig
from blazepose.data.coco import image_part, read_coco
from blazepose.data.custom import FILE as CUSTOM_FILE
from blazepose.data.custom import custom_skeleton, read_custom
from blazepose.data.lsp import NUM_JOINTS, read_lsp, read_lspet
from blazepose.data.sample import Sample
from blazepose.errors import BlazePoseError, require
from blazepose.keypoints import COCO, DERIVED, LSP, Skeleton, check_mappable, map_keypoints

LSP_TRAIN = range(0, 1000)  # im0001-im1000
LSP_TEST = range(1000, 2000)  # im1001-im2000
LSP_SIZE = 2000
LSPET_TRAIN = range(0, 2500)  # im00001-im02500: the seed's LSPet training part
LSPET_TEST = range(2500, 3000)  # im02501-im03000: the 500 images it held out
LSPET_SIZE = 10000
# data.split -> (dataset, train part, held-out part, images the dataset must have); None: the split's parts
# come from the samples themselves (split_parts).
SPLITS = {
    "lsp": ("lsp", LSP_TRAIN, LSP_TEST, LSP_SIZE),
    "lspet": ("lspet", LSPET_TRAIN, LSPET_TEST, LSPET_SIZE),
    "coco": ("coco", None, None, None),
    "custom": ("custom", None, None, None),
}

Reader = Callable[[Path], tuple[list[Sample], list[str]]]


def coco_files(folder: str | Path) -> tuple[Path, Path]:
    """A COCO-format folder's keypoints file and its images: annotations/person_keypoints_<part>.json (the first
    by name; coco_mini's: _train2017) and the images in <part>/, else images/, else the folder itself."""
    folder = Path(folder)
    jsons = sorted((folder / "annotations").glob("person_keypoints_*.json")) if folder.is_dir() else []
    if not jsons:
        raise BlazePoseError(f"{folder}: expected annotations/person_keypoints_*.json (a COCO-format folder)")
    part = jsons[0].stem.split("_")[-1]
    return jsons[0], next((d for d in (folder / part, folder / "images") if d.is_dir()), folder)


READERS: dict[str, Reader] = {
    "lsp": read_lsp,
    "lspet": read_lspet,
    "coco": lambda folder: read_coco(*coco_files(folder)),
    "custom": read_custom,
}
# Folder name under the data root for each dataset.
FOLDERS = {"lsp": "lsp", "lspet": "lspet", "coco": "coco_mini", "custom": "custom"}


def resolve_root(root: str | Path | None = "") -> Path:
    """The data root: the given one, else $BLAZEPOSE_DATA, else ../shared/datasets if it exists."""
    if root:
        path = Path(root)
    elif os.environ.get("BLAZEPOSE_DATA"):
        path = Path(os.environ["BLAZEPOSE_DATA"])
    else:
        candidates = [Path.cwd() / "../shared/datasets", Path(__file__).resolve().parents[4] / "shared/datasets"]
        path = next((c for c in candidates if c.is_dir()), None)
        if path is None:
            raise BlazePoseError(
                "no data root: pass --data-root DIR, set BLAZEPOSE_DATA, or download the data with "
                "'blazepose data download --dest DIR'"
            )
    if not path.is_dir():
        raise BlazePoseError(f"data root {path} is not a folder")
    return path.resolve()


def dataset_folder(name: str, root: str | Path | None = "") -> Path:
    """The folder of dataset `name` under the data root, or `root` itself if it already is that folder."""
    if name not in READERS:
        raise BlazePoseError(f"unknown dataset {name!r}; known: {', '.join(READERS)}")
    base = resolve_root(root)
    if (base / "joints.mat").exists() or (base / "annotations").is_dir() or (base / CUSTOM_FILE).is_file():
        return base
    folder = base / FOLDERS[name]
    if not folder.is_dir():
        raise BlazePoseError(f"dataset {name!r} not found: {folder} does not exist")
    return folder


def detect_dataset(folder: str | Path) -> str:
    """Which reader a folder needs: custom (annotations.json), coco (annotations/), lsp (3x14xN), lspet (14x3xN)."""
    folder = Path(folder)
    if (folder / CUSTOM_FILE).is_file():
        return "custom"
    if (folder / "annotations").is_dir():
        return "coco"
    mat = folder / "joints.mat"
    if not mat.is_file():
        raise BlazePoseError(
            f"{folder} is not a dataset folder: expected joints.mat (LSP/LSPet), annotations/ (COCO) or "
            f"{CUSTOM_FILE} (custom)"
        )
    scipy_io = require("scipy.io", "scipy")
    try:
        shape = scipy_io.whosmat(str(mat))
    except Exception as exc:
        raise BlazePoseError(f"{mat} is not a readable MATLAB .mat file (truncated or corrupt?): {exc}") from None
    shapes = {name: dims for name, dims, _ in shape}
    dims = shapes.get("joints")
    if dims is not None and len(dims) == 3 and tuple(dims[:2]) == (3, NUM_JOINTS):
        return "lsp"
    if dims is not None and len(dims) == 3 and tuple(dims[:2]) == (NUM_JOINTS, 3):
        return "lspet"
    raise BlazePoseError(f"{mat}: 'joints' has shape {dims}, expected (3, 14, N) for LSP or (14, 3, N) for LSPet")


def resolve_dataset(name_or_path: str, root: str | Path | None = "") -> tuple[str, Path]:
    """A dataset given by name ('lsp') or by folder ('../data/lsp') -> (reader name, folder)."""
    if name_or_path in READERS:
        return name_or_path, dataset_folder(name_or_path, root)
    folder = Path(name_or_path)
    if not folder.is_dir():
        raise BlazePoseError(f"{name_or_path!r} is neither a known dataset ({', '.join(READERS)}) nor a folder")
    return detect_dataset(folder), folder.resolve()


def read_dataset(name: str, root: str | Path | None = "") -> tuple[list[Sample], list[str]]:
    return READERS[name](dataset_folder(name, root))


def dataset_skeleton(name: str, folder: str | Path) -> Skeleton:
    """The joints a dataset's files hold: LSP's 14 (LSP, LSPet), COCO's 17, or what annotations.json names."""
    if name == "custom":
        return custom_skeleton(folder)
    return COCO if name == "coco" else LSP


def to_skeleton(
    samples: list[Sample], source: Skeleton, target: Skeleton, what: str, by_name: bool = False
) -> list[Sample]:
    """Samples of `source`'s joints as `target`'s (keypoints.map_keypoints: shared names, the neck from the
    shoulders, the rest masked); refused with both joint lists where no built-in mapping exists, unless
    `by_name` (data.map_joints) and the two share a joint name."""
    if not by_name:
        check_mappable(source, target, what)
    elif not set(source.joint_names) & set(target.joint_names):
        raise BlazePoseError(
            f"{what}: data.map_joints maps joints by name, and its joints ({', '.join(source.joint_names)}) share "
            f"none with the model's skeleton {target.name!r} ({', '.join(target.joint_names)})"
        )
    if source.joint_names == target.joint_names:
        return samples
    out = []
    for s in samples:
        k, v, m = map_keypoints(s.keypoints, s.visibility, s.mask, source, target)
        out.append(dataclasses.replace(s, keypoints=k, visibility=v, mask=m))
    return out


def read_for(name: str, root: str | Path | None, skeleton: Skeleton, by_name: bool = False) -> list[Sample]:
    """Dataset `name`'s samples with `skeleton`'s joints (`by_name`: see ``to_skeleton``)."""
    folder = dataset_folder(name, root)
    samples = READERS[name](folder)[0]
    return to_skeleton(samples, dataset_skeleton(name, folder), skeleton, f"dataset {name} ({folder})", by_name)


def lsp_val_indices(val_fraction: float, seed: int, train_part: range = LSP_TRAIN) -> np.ndarray:
    """Indices (0-based, into the dataset) of the validation part carved from the train part."""
    n_val = int(round(val_fraction * len(train_part)))
    order = np.random.default_rng(seed).permutation(np.asarray(train_part))
    return np.sort(order[:n_val])


def split_parts(cfg: DataConfig, samples: list[Sample] | None = None) -> dict[str, list[int]]:
    """Indices of 'train' (less validation), 'val' and 'test' in the dataset of `cfg.split`. LSP and LSPet
    have fixed parts; COCO's are ``data.coco.image_part``'s (the rule the evaluation and the scenes use too); a
    custom dataset's validation part is carved from all of it. Those two hold nothing back: their test part is
    their validation part."""
    if cfg.split not in SPLITS:
        raise BlazePoseError(f"data.split: unknown {cfg.split!r}; known: {', '.join(SPLITS)}")
    _, train_part, test_part, _ = SPLITS[cfg.split]
    if train_part is None:
        if samples is None:
            raise BlazePoseError(f'data.split = "{cfg.split}" needs the samples to split')
        if cfg.split == "coco":  # by the image's place among all the json's images, people or not
            val = [i for i, s in enumerate(samples) if image_part(s.meta["image_rank"]) == "val"]
            train = [i for i, s in enumerate(samples) if image_part(s.meta["image_rank"]) == "train"]
        else:
            val = lsp_val_indices(cfg.val_fraction, cfg.split_seed, range(len(samples))).tolist()
            train = sorted(set(range(len(samples))) - set(val))
        return {"train": train, "val": val, "test": val}
    val = set(lsp_val_indices(cfg.val_fraction, cfg.split_seed, train_part).tolist())
    return {"train": [i for i in train_part if i not in val], "val": sorted(val), "test": list(test_part)}


def load_split(cfg: DataConfig, split: str, skeleton: Skeleton = LSP) -> list[Sample]:
    """'train' (the split's train part less validation + the other train_sets), 'val' or 'test' (LSP
    im1001-im2000, LSPet im02501-im03000 with data.split = "lspet"), with `skeleton`'s joints (the model's)."""
    if split not in ("train", "val", "test"):
        raise BlazePoseError(f"unknown split {split!r}; expected train, val or test")
    if cfg.split not in SPLITS:
        raise BlazePoseError(f"data.split: unknown {cfg.split!r}; known: {', '.join(SPLITS)}")
    name, _, _, size = SPLITS[cfg.split]
    if split == "train":
        unknown = set(cfg.train_sets) - set(READERS)
        if unknown:
            raise BlazePoseError(f"data.train_sets: unknown {sorted(unknown)}; known: {', '.join(READERS)}")
        if cfg.split != "lsp" and list(cfg.train_sets) != [name]:
            raise BlazePoseError(
                f'data.split = "{cfg.split}" trains on {name}\'s train part alone: set data.train_sets = ["{name}"]'
            )
        for key in ("lsp_repeats", "coco_repeats"):
            if getattr(cfg, key) < 1:
                raise BlazePoseError(f"data.{key}: expected an integer >= 1, got {getattr(cfg, key)}")
    needed = split != "train" or name in cfg.train_sets
    data = read_for(name, cfg.root, skeleton, cfg.map_joints) if needed else []
    if needed and size is not None and len(data) != size:
        raise BlazePoseError(f"{name} has {len(data)} samples, the standard split needs {size}")
    if needed and not data:
        raise BlazePoseError(f"dataset {name} has no samples")
    parts = split_parts(cfg, data) if needed else {}
    if split != "train":
        return [data[i] for i in parts[split]]
    samples = []
    if name in cfg.train_sets:
        samples = _no_derived([data[i] for i in parts["train"]], name, cfg.root, skeleton) * cfg.lsp_repeats
    for other in cfg.train_sets:
        if other != name:
            part = _train_part(cfg, other, read_for(other, cfg.root, skeleton, cfg.map_joints))
            samples += _no_derived(part, other, cfg.root, skeleton) * (cfg.coco_repeats if other == "coco" else 1)
    return samples


def _no_derived(samples: list[Sample], name: str, root, skeleton: Skeleton) -> list[Sample]:
    """Training samples with the joints ``map_keypoints`` derived masked out: COCO's neck and head top, computed
    from its shoulders and face (``keypoints.DERIVED``), are a fit to where LSP labels them (from MediaPipe
    Full's points: within 0.2 torso lengths for 9 in 10 of LSP's validation people), not labels, and a model
    must not be taught two places for one joint. Evaluation keeps the derived joints (a scorer reads them as
    labels)."""
    source = dataset_skeleton(name, dataset_folder(name, root))
    derived = [j for j, n in enumerate(skeleton.joint_names) if n in DERIVED and n not in source.joint_names]
    if not derived:
        return samples
    out = []
    for s in samples:
        mask = np.array(s.mask, copy=True)
        mask[derived] = 0
        out.append(dataclasses.replace(s, mask=mask))
    return out


def _train_part(cfg: DataConfig, name: str, samples: list[Sample]) -> list[Sample]:
    """Another training set's samples, less COCO's validation half (the images `evaluate --dataset coco`
    scores). LSPet's held-out part belongs to its own benchmark (data.split = "lspet"), so beside LSP all of
    LSPet trains; so does all of a custom folder."""
    if name != "coco":
        return samples
    keep = split_parts(dataclasses.replace(cfg, split=name), samples)["train"]
    return [samples[i] for i in keep]

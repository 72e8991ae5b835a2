"""Where the data lives and how it is split.

Standard LSP split: im0001-im1000 train, im1001-im2000 test. A validation part is carved from the *train*
half by a seeded permutation (never from the test half). LSPet is training data only.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from blazepose.config import DataConfig
from blazepose.data.coco import read_coco
from blazepose.data.custom import FILE as CUSTOM_FILE
from blazepose.data.custom import read_custom
from blazepose.data.lsp import NUM_JOINTS, read_lsp, read_lspet
from blazepose.data.sample import Sample
from blazepose.errors import BlazePoseError, require

LSP_TRAIN = range(0, 1000)  # im0001-im1000
LSP_TEST = range(1000, 2000)  # im1001-im2000
LSP_SIZE = 2000

Reader = Callable[[Path], tuple[list[Sample], list[str]]]

READERS: dict[str, Reader] = {
    "lsp": read_lsp,
    "lspet": read_lspet,
    "coco": lambda folder: read_coco(
        folder / "annotations" / "person_keypoints_train2017.json", folder / "train2017", to_lsp=True
    ),
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


def lsp_val_indices(val_fraction: float, seed: int) -> np.ndarray:
    """Indices (0-based, into LSP) of the validation part carved from the train half."""
    n_val = int(round(val_fraction * len(LSP_TRAIN)))
    order = np.random.default_rng(seed).permutation(np.asarray(LSP_TRAIN))
    return np.sort(order[:n_val])


def load_split(cfg: DataConfig, split: str) -> list[Sample]:
    """'train' (LSP train less validation + the other train_sets), 'val' or 'test' (LSP im1001-im2000)."""
    if split not in ("train", "val", "test"):
        raise BlazePoseError(f"unknown split {split!r}; expected train, val or test")
    if split == "train":
        unknown = set(cfg.train_sets) - set(READERS)
        if unknown:
            raise BlazePoseError(f"data.train_sets: unknown {sorted(unknown)}; known: {', '.join(READERS)}")
    lsp_needed = split != "train" or "lsp" in cfg.train_sets
    lsp = read_dataset("lsp", cfg.root)[0] if lsp_needed else []
    if lsp_needed and len(lsp) != LSP_SIZE:
        raise BlazePoseError(f"LSP has {len(lsp)} samples, the standard split needs {LSP_SIZE}")
    val = set(lsp_val_indices(cfg.val_fraction, cfg.split_seed).tolist())
    if split == "test":
        return [lsp[i] for i in LSP_TEST]
    if split == "val":
        return [lsp[i] for i in sorted(val)]
    if cfg.lsp_repeats < 1:
        raise BlazePoseError(f"data.lsp_repeats: expected an integer >= 1, got {cfg.lsp_repeats}")
    samples = [lsp[i] for i in LSP_TRAIN if i not in val] * cfg.lsp_repeats if "lsp" in cfg.train_sets else []
    for name in cfg.train_sets:
        if name != "lsp":
            samples += read_dataset(name, cfg.root)[0]
    return samples

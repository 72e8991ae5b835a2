"""Leeds Sports Pose (LSP, 2000 images) and LSP Extended (LSPet, 10000 images) readers.

Flag polarities differ between the two ``joints.mat`` files (checked on the real files):
  * LSP:   key ``joints``, shape (3, 14, N), row 3 is 1 when the joint is **occluded**; every joint annotated.
  * LSPet: key ``joints``, shape (14, 3, N), column 3 is 1 when the joint is **annotated** (0: not annotated,
    coordinates then <= 0): such joints are masked out of losses and metrics.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from blazepose.data.sample import Sample
from blazepose.errors import BlazePoseError, require
from blazepose.keypoints import LSP

NUM_JOINTS = LSP.num_joints  # 14: the files' joints are LSP's, in its order


def load_joints_mat(path: str | Path, expected: str) -> np.ndarray:
    """The ``joints`` array of a .mat file; `expected` ('3x14xN' or '14x3xN') names the layout checked."""
    path = Path(path)
    if not path.is_file():
        raise BlazePoseError(f"{path} does not exist (expected the dataset's joints.mat)")
    scipy_io = require("scipy.io", "scipy")
    try:
        contents = scipy_io.loadmat(str(path))
    except Exception as exc:  # scipy raises ValueError/TypeError/OSError/MatReadError for damaged files
        raise BlazePoseError(f"{path} is not a readable MATLAB .mat file (truncated or corrupt?): {exc}") from None
    if "joints" not in contents:
        keys = sorted(k for k in contents if not k.startswith("__"))
        raise BlazePoseError(f"{path} has no 'joints' array (found: {', '.join(keys) or 'nothing'})")
    joints = np.asarray(contents["joints"], dtype=np.float64)
    want = (3, NUM_JOINTS) if expected == "3x14xN" else (NUM_JOINTS, 3)
    if joints.ndim != 3 or joints.shape[:2] != want:
        raise BlazePoseError(
            f"{path}: 'joints' has shape {joints.shape}, expected ({want[0]}, {want[1]}, N) ({expected})"
        )
    return joints


def _nan_problems(path: Path, xy: np.ndarray, names: list[str]) -> tuple[np.ndarray, list[str]]:
    """Mask of finite joints and one problem line per image with NaN/inf coordinates."""
    finite = np.isfinite(xy).all(axis=-1)  # (N, K)
    problems = [
        f"{path}: image {names[i]} has non-finite coordinates for joints {np.flatnonzero(~finite[i]).tolist()}"
        " (masked out)"
        for i in np.flatnonzero(~finite.all(axis=1))
    ]
    return finite, problems


def read_lsp(folder: str | Path) -> tuple[list[Sample], list[str]]:
    """All LSP samples in image order (im0001 first) and a list of problems found (masked joints...)."""
    folder = Path(folder)
    mat = folder / "joints.mat"
    joints = load_joints_mat(mat, "3x14xN")  # (3, 14, N)
    xy = np.transpose(joints[:2], (2, 1, 0))  # (N, 14, 2)
    occluded = joints[2].T  # (N, 14)
    names = [f"im{i + 1:04d}.jpg" for i in range(xy.shape[0])]
    if not set(np.unique(occluded[np.isfinite(occluded)])) <= {0.0, 1.0}:
        raise BlazePoseError(f"{mat}: row 3 (occluded flag) holds values other than 0 and 1")
    finite, problems = _nan_problems(mat, xy, names)
    samples = [
        Sample(
            image_path=str(folder / "images" / names[i]),
            keypoints=np.where(finite[i][:, None], xy[i], 0.0).astype(np.float32),  # masked joints at 0, not inf
            visibility=(1.0 - occluded[i]).astype(np.float32) * finite[i],
            mask=finite[i].astype(np.float32),
            dataset="lsp",
            meta={"index": i},
        )
        for i in range(xy.shape[0])
    ]
    return samples, problems


def read_lspet(folder: str | Path) -> tuple[list[Sample], list[str]]:
    """All LSPet samples in image order; joints whose flag is 0 (not annotated) are masked out."""
    folder = Path(folder)
    mat = folder / "joints.mat"
    joints = load_joints_mat(mat, "14x3xN")  # (14, 3, N)
    xy = np.transpose(joints[:, :2], (2, 0, 1))  # (N, 14, 2)
    annotated = joints[:, 2].T  # (N, 14)
    names = [f"im{i + 1:05d}.jpg" for i in range(xy.shape[0])]
    if not set(np.unique(annotated[np.isfinite(annotated)])) <= {0.0, 1.0}:
        raise BlazePoseError(f"{mat}: column 3 (annotated flag) holds values other than 0 and 1")
    finite, problems = _nan_problems(mat, xy, names)
    mask = (annotated == 1) & finite
    samples = [
        Sample(
            image_path=str(folder / "images" / names[i]),
            keypoints=np.where(mask[i][:, None], xy[i], 0.0).astype(np.float32),
            # LSPet marks no occlusion: an annotated joint counts as visible.
            visibility=mask[i].astype(np.float32),
            mask=mask[i].astype(np.float32),
            dataset="lspet",
            meta={"index": i},
        )
        for i in range(xy.shape[0])
    ]
    return samples, problems

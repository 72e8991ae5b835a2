"""Shared fixtures: the real datasets in ../shared (skipped where absent) and tiny datasets made on the fly."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BLAZEPOSE_DATA", REPO.parent / "shared" / "datasets"))


@pytest.fixture(scope="session")
def data_root() -> Path:
    if not (SHARED / "lsp" / "joints.mat").exists():
        pytest.skip(f"real datasets not found under {SHARED}")
    return SHARED


def make_lsp_folder(folder: Path, data_root: Path, indices: list[int]) -> Path:
    """A small LSP-layout dataset: the given real images (0-based) and their joints."""
    (folder / "images").mkdir(parents=True)
    joints = scipy.io.loadmat(str(data_root / "lsp" / "joints.mat"))["joints"]
    for n, i in enumerate(indices):
        shutil.copy(data_root / "lsp" / "images" / f"im{i + 1:04d}.jpg", folder / "images" / f"im{n + 1:04d}.jpg")
    scipy.io.savemat(str(folder / "joints.mat"), {"joints": joints[:, :, indices]})
    return folder


@pytest.fixture
def tiny_lsp(tmp_path, data_root) -> Path:
    return make_lsp_folder(tmp_path / "lsp", data_root, [0, 1, 2, 3])


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def smoke_run(data_root, tmp_path_factory) -> Path:
    """One real smoke training run (every phase, real LSP images), shared by the tests that need a model."""
    from blazepose.config import load_config
    from blazepose.training.train import train

    cfg = load_config(REPO / "configs" / "smoke.toml", [f"data.root={data_root}"])
    run = tmp_path_factory.mktemp("smoke") / "run"
    train(cfg, run, verbose=0)
    return run


@pytest.fixture(scope="session")
def peer_models() -> Path:
    """MediaPipe's released models in ../shared/peer (skipped where absent)."""
    peer = REPO.parent / "shared" / "peer" / "mediapipe"
    if not (peer / "pose_landmark_lite.tflite").is_file():
        pytest.skip(f"MediaPipe's models not found under {peer}")
    return peer

"""The runtime needs no TensorFlow: with `tensorflow` and `keras` made unimportable, every runtime module imports
and the packaged and MediaPipe's models predict (a fresh interpreter: this one has TensorFlow loaded)."""

from __future__ import annotations

import subprocess
import sys

RUNTIME_MODULES = (
    "blazepose.cli",
    "blazepose.artifacts",
    "blazepose.inference",
    "blazepose.mediapipe",
    "blazepose.outputs",
    "blazepose.tracking",
    "blazepose.video",
    "blazepose.visualize",
    "blazepose.codec",
    "blazepose.alignment",
    "blazepose.keypoints",
    "blazepose.evaluation.functional",
    "blazepose.evaluation.evaluate",
    "blazepose.evaluation.coco_eval",
    "blazepose.data.images",
    "blazepose.data.datasets",
)


def test_runtime_runs_with_tensorflow_unimportable(data_root, tmp_path, peer_models):
    image = str(data_root / "lsp" / "images" / "im0001.jpg")
    code = (
        "import sys\n"
        "sys.modules['tensorflow'] = None; sys.modules['keras'] = None  # any import of them fails\n"
        f"for name in {RUNTIME_MODULES!r}:\n"
        "    __import__(name)\n"
        "from blazepose.cli import main\n"
        f"assert main(['predict', {image!r}, '--quiet', '--output', {str(tmp_path / 'a.json')!r}]) == 0\n"
        f"assert main(['predict', {image!r}, '--weights', 'mediapipe-lite', '--detector', 'mediapipe', '--quiet',\n"
        f"             '--output', {str(tmp_path / 'b.json')!r}]) == 0\n"
    )
    env = {"BLAZEPOSE_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]

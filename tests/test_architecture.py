"""The house's rules (docs/architecture.md), checked: import-linter's contracts in pyproject.toml (the runtime
never imports the training part or TensorFlow, layers, no circles), every module placed on one side, and the
geometry written in one module."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "blazepose"


def _contracts() -> list[dict]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def _modules() -> list[str]:
    names = []
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return sorted(names)


def test_import_contracts_are_kept():
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; lint_imports_command()"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_every_module_is_runtime_or_training():
    """A new module must be placed: in the runtime (the forbidden contract's sources) or the training part (its
        forbidden modules); only the packages that hold both (blazepose, blazepose.data: their __init__ imports
    nothing) are neither."""
    (forbidden,) = [c for c in _contracts() if c["type"] == "forbidden"]
    sides = [*forbidden["source_modules"], *forbidden["forbidden_modules"]]

    def placed(name: str) -> bool:
        return any(name == s or name.startswith(s + ".") for s in sides)

    unplaced = [m for m in _modules() if m not in ("blazepose", "blazepose.data") and not placed(m)]
    assert unplaced == []


def test_geometry_lives_in_one_module():
    """Affine matrices, rotations and warps are geometry.py's; elsewhere only its functions are called. (The
    detector's rotation target, the sine and cosine of an angle, is a code, not geometry: codec.py.)"""
    pattern = re.compile(
        r"math\.(cos|sin)\(|np\.(cos|sin)\(|cv2\.(warpAffine|invertAffineTransform|getRotationMatrix2D)"
    )
    allowed = {"geometry.py", "codec.py"}
    found = [
        f"{path.relative_to(PACKAGE)}:{n}"
        for path in PACKAGE.rglob("*.py")
        if path.name not in allowed
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == []


def test_the_coco_rule_is_written_once():
    """coco_mini's train / validation parts (even / odd places in id order) come from ``data.coco.image_part``
    alone: no other module slices images by place or tests a rank's parity."""
    pattern = re.compile(r"\[[01]::2\]|rank.{0,20}% 2")
    found = [
        f"{path.relative_to(PACKAGE)}:{n}"
        for path in PACKAGE.rglob("*.py")
        if path.name != "coco.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == []


def test_one_table_of_presets_with_their_files_cards_and_sums():
    """Every packaged model has its folder: weights, exported .tflite and config, a card naming its source,
    licence, recipe and measures, and sha256 sums that match the files; MediaPipe's names are in the same table."""
    from blazepose import presets
    from blazepose.data.download import sha256_file

    assert set(presets.PACKAGED) == {"full", "lite", "detector", "mp-full", "mp-lite"}
    assert presets.DEFAULT_LANDMARKS in presets.PACKAGED
    assert {"mediapipe-lite", "mediapipe-full", "mediapipe-heavy", "mediapipe"} <= set(presets.NAMES)
    for p in presets.PACKAGED.values():
        # ours: Keras weights and their export; MediaPipe's weights: the export (the Keras model is their import)
        for suffix in (".tflite", ".toml") if p.trainable else (".npz", ".tflite", ".toml"):
            assert p.file(suffix).is_file(), p.file(suffix)
        assert {name: sha256_file(p.folder / name) for name in p.sha256} == p.sha256
        card = (p.folder / "card.md").read_text()
        for needed in (p.source, "Apache-2.0", f"blazepose reproduce {p.recipe}", "sha256", "PCK@0.2"):
            assert needed in card, (p.name, needed)
        if p.licence == presets.NOTICE:  # derived from MediaPipe's: its notice, word for word
            assert presets.NOTICE in " ".join(card.split()), p.name
    folders = {path.name for path in presets.PRESETS_DIR.iterdir() if path.is_dir() and path.name != "__pycache__"}
    assert folders == set(presets.PACKAGED)  # no model folder outside the table

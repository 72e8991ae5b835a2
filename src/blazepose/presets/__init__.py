"""Every model this toolkit runs by name, in one table: the packaged ones (a folder each under presets/, with
their weights, exported .tflite, config and card.md) and MediaPipe's released ones (fetched into the model
cache by ``mediapipe.locate``). ``artifacts.resolve_weights`` (predict, evaluate, video, export, train.init_from)
and ``blazepose info --presets`` read it; nothing else lists model names.

    name               task       files                                       source
    full, lite         landmarks  presets/<name>/blazepose_<name>.{npz,        trained by this toolkit from scratch
    detector           detector   tflite,toml} + card.md                      (blazepose reproduce <name>)
    mediapipe-lite,    landmarks  the model cache: pose_landmark_*.tflite      MediaPipe's release (Apache-2.0)
    -full, -heavy
    mediapipe          detector   the model cache: pose_detection.tflite      MediaPipe's release (Apache-2.0)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from blazepose.mediapipe import ALIASES, NOTICE, RELEASED

PRESETS_DIR = Path(__file__).parent  # the packaged models' folders (tests point this elsewhere)
SHIPPED_DIR = PRESETS_DIR  # where the installed package's own files lie: only these are checked against sha256


@dataclass(frozen=True)
class Preset:
    name: str
    task: str  # "landmarks" or "detector"
    source: str  # where the weights come from
    licence: str
    recipe: str | None = None  # `blazepose reproduce NAME` makes it again from scratch
    doc: str | None = None  # the record of how it was made and measured
    stem: str = ""  # packaged: the files' name in its folder
    sha256: dict[str, str] = field(default_factory=dict)  # packaged file name -> its sha256, checked on first use

    @property
    def packaged(self) -> bool:
        return bool(self.stem)

    @property
    def folder(self) -> Path:
        return PRESETS_DIR / self.name

    def file(self, suffix: str) -> Path:
        return self.folder / f"{self.stem}{suffix}"


OURS = "trained by this toolkit from scratch on LSP + LSPet (+ coco_mini's training half for the detector)"
APACHE_OURS = "Apache-2.0 (this project's licence)"
PACKAGED = {
    "full": Preset(
        "full",
        "landmarks",
        OURS,
        APACHE_OURS,
        recipe="full",
        doc="docs/full.md",
        stem="blazepose_full",
        sha256={
            "blazepose_full.npz": "aca2a7b0f3e0fcaebb0255e42e2ce4a01e5cc7fe2ac6e45801658fa49389d719",
            "blazepose_full.tflite": "e77fb36408e8898341670892f16d172193f078ff17304db7e5008dc532836363",
        },
    ),
    "lite": Preset(
        "lite",
        "landmarks",
        OURS,
        APACHE_OURS,
        recipe="lite",
        doc="docs/lite.md",
        stem="blazepose_lite",
        sha256={
            "blazepose_lite.npz": "f58cae74f843b348f60f2e7dfb484c5de1fb84355c3e2932873ba91cb735bf6c",
            "blazepose_lite.tflite": "49e6c679a2ab9fc2d9afada15cde0a7744a9e30c201c61858b5cba27ae534039",
        },
    ),
    "detector": Preset(
        "detector",
        "detector",
        OURS,
        APACHE_OURS,
        recipe="detector",
        doc="docs/detector.md",
        stem="blazepose_detector",
        sha256={
            "blazepose_detector.npz": "95378148d443ab11054565a93291a33f51b443e2e3ee08a161453300eeb76f9a",
            "blazepose_detector.tflite": "02e8f9d9643c4811bae0df5875e45956695fba626ca7903a1967a7d0a5b97126",
        },
    ),
}
MEDIAPIPE = {
    name: Preset(name, model.task, f"MediaPipe's release ({model.file}, model cache)", NOTICE, doc="docs/mediapipe.md")
    for name, model in RELEASED.items()
}
MEDIAPIPE_NAMES = (*MEDIAPIPE, *ALIASES)
PRESETS = {**PACKAGED, **MEDIAPIPE}
NAMES = (*PACKAGED, *MEDIAPIPE_NAMES)  # every name a --weights / --detector / init_from accepts


def shipped_sha256(path: Path) -> str | None:
    """The sha256 a file of the installed package shipped with, None for any other file."""
    path = Path(path)
    if path.parent.parent != SHIPPED_DIR:
        return None
    preset = PACKAGED.get(path.parent.name)
    return None if preset is None else preset.sha256.get(path.name)


def table() -> str:
    """The table as text (blazepose info --presets)."""
    rows = [f"{'name':<19} {'task':<10} {'recipe':<10} source; licence"]
    for p in PRESETS.values():
        licence = "Apache-2.0 (MediaPipe's NOTICE)" if p.licence == NOTICE else p.licence
        rows.append(f"{p.name:<19} {p.task:<10} {p.recipe or '-':<10} {p.source}; {licence}")
    rows.append(f"{'mediapipe':<19} (the name of mediapipe-detector)")
    return "\n".join(rows)

"""Every model this toolkit runs by name, in one table: the packaged ones (a folder each under presets/, with
their weights, exported .tflite, config and card.md) and MediaPipe's released ones (fetched into the model
cache by ``mediapipe.locate``). ``artifacts.resolve_weights`` (predict, evaluate, video, export, train.init_from)
and ``blazepose info --presets`` read it; nothing else lists model names.

    name               task       files                                       source
    mp-full (default), landmarks  presets/<name>/mp_<v>.{tflite,toml}         MediaPipe's released weights, exported
    mp-lite                       + card.md                                   (blazepose reproduce <name>)
    full, lite         landmarks  presets/<name>/blazepose_<name>.{npz,        trained by this toolkit from scratch
    detector           detector   tflite,toml} + card.md                      (blazepose reproduce <name>)
    mediapipe-lite,    landmarks  the model cache: pose_landmark_*.tflite      MediaPipe's release (Apache-2.0)
    -full, -heavy
    mediapipe          detector   the model cache: pose_detection.tflite      MediaPipe's release (Apache-2.0)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from blazepose.defaults import MIN_SCORE
from blazepose.mediapipe import ALIASES, NOTICE, RELEASED, canonical, is_mediapipe_name

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
    trainable: str | None = None  # the MediaPipe name whose trainable import holds the same weights
    # landmarks: the pipeline it was chosen with (detector, passes, whole_image, min_detection_score); the keys
    # it leaves out are PIPELINE's
    pipeline: dict = field(default_factory=dict)

    @property
    def packaged(self) -> bool:
        return bool(self.stem)

    @property
    def folder(self) -> Path:
        return PRESETS_DIR / self.name

    def file(self, suffix: str) -> Path:
        return self.folder / f"{self.stem}{suffix}"


# The pipeline around a landmark model that its preset does not set (a file, or a preset that leaves keys out).
PIPELINE = {"detector": "detector", "passes": 2, "whole_image": "always", "min_detection_score": MIN_SCORE}
# MediaPipe's weights, chosen on LSP's validation part and coco_mini's validation half (docs/mediapipe.md,
# "Choosing the default"): MediaPipe's detector at its own threshold, one pass on its aligned crop, no whole-image
# person (it gave the false people: animals, sweets), as MediaPipe's pipeline runs them.
MEDIAPIPE_PIPELINE = {"detector": "mediapipe", "passes": 1, "whole_image": "never", "min_detection_score": 0.5}
MP_SOURCE = (
    "MediaPipe's released BlazePose {} weights (not retrained), imported and exported by this toolkit without the "
    "segmentation branch"
)

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
PACKAGED.update(
    {
        f"mp-{v}": Preset(
            f"mp-{v}",
            "landmarks",
            MP_SOURCE.format(v.capitalize()),
            NOTICE,
            recipe=f"mp-{v}",
            doc="docs/mediapipe.md",
            stem=f"mp_{v}",
            sha256={f"mp_{v}.tflite": sha},
            trainable=f"mediapipe-{v}",
            pipeline=MEDIAPIPE_PIPELINE,
        )
        for v, sha in (
            ("full", "26cd5b405390606851b2912668934dad8b5da86a2b9fa85fa16536510138c65a"),
            ("lite", "219e2650017c9fa412a98228bd8e076975f56cbdd7b49e38690c9ec7f9c1b73a"),
        )
    }
)
MEDIAPIPE = {
    name: Preset(
        name,
        model.task,
        f"MediaPipe's release ({model.file}, model cache)",
        NOTICE,
        doc="docs/mediapipe.md",
        pipeline=MEDIAPIPE_PIPELINE if model.task == "landmarks" else {},
    )
    for name, model in RELEASED.items()
}
MEDIAPIPE_NAMES = (*MEDIAPIPE, *ALIASES)
PRESETS = {**PACKAGED, **MEDIAPIPE}
NAMES = (*PACKAGED, *MEDIAPIPE_NAMES)  # every name a --weights / --detector / init_from accepts


DEFAULT_LANDMARKS = "mp-full"  # what predict, evaluate and video run when no --weights is given


def pipeline_of(weights, imported: str = "") -> dict:
    """The pipeline settings for a landmark model given as users give it (None: the default preset; a preset or
    MediaPipe name: its own; a file: MediaPipe's where its config says it holds MediaPipe's weights, `imported`
    (imports, and models trained or exported from them), else PIPELINE)."""
    name = DEFAULT_LANDMARKS if weights is None else str(weights)
    if is_mediapipe_name(name):
        name = canonical(name)
    preset = PRESETS.get(name)
    if preset is not None and preset.task == "landmarks":
        return {**PIPELINE, **preset.pipeline}
    return {**PIPELINE, **(MEDIAPIPE_PIPELINE if imported else {})}


def shipped_sha256(path: Path) -> str | None:
    """The sha256 a file of the installed package shipped with, None for any other file."""
    path = Path(path)
    if path.parent.parent != SHIPPED_DIR:
        return None
    preset = PACKAGED.get(path.parent.name)
    return None if preset is None else preset.sha256.get(path.name)


def table() -> str:
    """The table as text (blazepose info --presets)."""
    rows = [f"{'name':<22} {'task':<10} {'recipe':<10} source; licence"]
    for p in PRESETS.values():
        licence = "Apache-2.0 (MediaPipe's NOTICE)" if p.licence == NOTICE else p.licence
        default = " (default)" if p.name == DEFAULT_LANDMARKS else ""
        rows.append(f"{p.name + default:<22} {p.task:<10} {p.recipe or '-':<10} {p.source}; {licence}")
        if p.task == "landmarks":
            settings = pipeline_of(p.name)
            rows.append(f"{'':<22} {'':<10} {'':<10} pipeline: " + ", ".join(f"{k} {v}" for k, v in settings.items()))
    rows.append(f"{'mediapipe':<22} (the name of mediapipe-detector)")
    return "\n".join(rows)

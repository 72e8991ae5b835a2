"""Recipes: how a shipped model is made from scratch, stage after stage (``blazepose reproduce NAME``).

A recipe is a TOML file in ``configs/recipes/``. Its stages run in order; each one is

    train    config = "configs/x.toml", optionally init_from / distill_from = another stage, set = ["k=v", ...]
    average  average = [stage, stage, ...]  (a model soup: ``training.average``)
    export   export = stage, quantize = "float16", decode = "heatmap"  (``blazepose export --format npz``);
             format = "tflite" for a LiteRT file; with mediapipe = true: ``export --format tflite --mediapipe``
             (a model trained from MediaPipe's); export = one of MediaPipe's released models by name (as released)

A stage is named by ``name``; another stage is referred to by its name (an earlier stage of this recipe) or as
``recipe/stage`` (a stage of another recipe, which then runs first). Whatever a stage's config names as
``train.init_from`` or ``loss.distill_from`` is replaced by the recipe's own input (or must be a file in the
repository, or MediaPipe's released models by name, ``mediapipe.py``), so a recipe needs nothing outside the
repository, the datasets and those. Outputs go to ``<runs>/<recipe>/<stage>/``: stage names and export file
names are plain names, and every path a recipe writes is checked to lie inside the runs folder. A stage whose
result exists is skipped, a training stage whose run directory exists without a result is resumed, so an
interrupted reproduction continues where it stopped.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from blazepose.errors import BlazePoseError
from blazepose.mediapipe import is_mediapipe_name

RECIPES = Path("configs") / "recipes"
# Config keys whose value is a model file: a recipe gives them from its stages.
MODEL_INPUTS = {"init_from": "train.init_from", "distill_from": "loss.distill_from"}


@dataclass
class Step:
    recipe: str
    name: str
    kind: str  # train | average | export
    output: Path
    command: list[str]
    inputs: list[Path] = field(default_factory=list)
    run_dir: Path | None = None

    def done(self) -> bool:
        return self.output.is_file()


PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def _plain(value, what: str, path: Path) -> str:
    """A stage or file name: letters, digits, '_', '.', '-', not starting with '.' (no '/', no '..')."""
    if not isinstance(value, str) or not PLAIN.fullmatch(value):
        raise BlazePoseError(
            f"{path}: {what} {value!r} must be a plain name (letters, digits, '_', '.', '-'; no folders)"
        )
    return value


def _inside(output: Path, runs: Path, path: Path) -> Path:
    if not output.resolve().is_relative_to(runs.resolve()):
        raise BlazePoseError(f"{path}: {output} lies outside the runs folder {runs}")
    return output


def recipe_path(name: str, root: Path = Path(".")) -> Path:
    path = Path(name) if name.endswith(".toml") else root / RECIPES / f"{name}.toml"
    if not path.is_file():
        known = sorted(p.stem for p in (root / RECIPES).glob("*.toml"))
        raise BlazePoseError(f"no recipe {name!r} ({path} does not exist); recipes: {', '.join(known) or 'none'}")
    return path


def _read(path: Path) -> dict:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise BlazePoseError(f"{path} is not valid TOML: {exc}") from None
    stages = data.get("stage")
    if not isinstance(stages, list) or not stages:
        raise BlazePoseError(f"{path}: expected [[stage]] tables")
    return data


def plan(name: str, runs: Path, root: Path = Path("."), _seen: dict | None = None) -> list[Step]:
    """The steps that make recipe `name` (those of the recipes it refers to first), every input checked."""
    from blazepose.config import load_config

    seen = {} if _seen is None else _seen  # recipe name -> {stage name: Step}, in order
    path = recipe_path(name, root)
    name = path.stem
    if name in seen:
        return list(seen[name].values())
    data = _read(path)
    seen[name] = {}
    steps: list[Step] = []
    cli = [sys.executable, "-m", "blazepose.cli"]

    def ref(stage: dict, value: str) -> Step:
        where = f"{path}: stage {stage.get('name')!r}"
        if "/" in value:  # another recipe's stage: the steps it needs run first
            other, other_stage = value.split("/", 1)
            if other == name:
                raise BlazePoseError(f"{where} takes {value!r}: name a stage of this recipe without '{name}/'")
            other_steps = plan(other, runs, root, seen)
            found = seen[other].get(other_stage)
            if found is not None:
                by_output = {s.output: s for s in other_steps}
                needed, todo = set(), [found]
                while todo:
                    step = todo.pop()
                    if id(step) not in needed:
                        needed.add(id(step))
                        todo += [by_output[i] for i in step.inputs if i in by_output]
                steps.extend(s for s in other_steps if id(s) in needed and all(s is not t for t in steps))
        else:
            found = seen[name].get(value)
        if found is None:
            raise BlazePoseError(f"{where} takes {value!r}, which no earlier stage makes")
        return found

    for stage in data["stage"]:
        sname = _plain(stage.get("name"), "stage name", path)
        if sname in seen[name]:
            raise BlazePoseError(f"{path}: every stage needs a unique name; {sname!r} is used twice")
        out_dir = _inside(runs / _plain(name, "recipe name", path) / sname, runs, path)
        if "config" in stage:
            config = root / stage["config"]
            if not config.is_file():
                raise BlazePoseError(f"{path}: stage {sname!r} names {config}, which is not in the repository")
            sets = list(stage.get("set", []))
            inputs = []
            for key, setting in MODEL_INPUTS.items():
                if key in stage:
                    source = ref(stage, stage[key])
                    inputs.append(source.output)
                    sets.append(f"{setting}={source.output}")
            cfg = load_config(config, sets)  # unknown keys and bad values are refused here
            for key, setting in MODEL_INPUTS.items():
                section, attr = setting.split(".")
                value = getattr(getattr(cfg, section), attr)
                if key not in stage and value and not (root / value).is_file() and not is_mediapipe_name(value):
                    raise BlazePoseError(
                        f"{path}: stage {sname!r}'s config sets {setting} = {value!r}, which the recipe does not "
                        f"provide; give the stage {key} = <an earlier stage>"
                    )
            command = [*cli, "train", "--config", str(config), "--run-dir", str(out_dir)]
            command += [arg for s in sets for arg in ("--set", s)]
            step = Step(name, sname, "train", out_dir / "model.keras", command, inputs, out_dir)
        elif "average" in stage:
            sources = [ref(stage, s) for s in stage["average"]]
            output = out_dir / "model.keras"
            command = [*cli, "average", *[str(s.output) for s in sources], "--output", str(output)]
            step = Step(name, sname, "average", output, command, [s.output for s in sources])
        elif "export" in stage:
            # an earlier stage, or one of MediaPipe's released models by name (exported as released)
            released = is_mediapipe_name(stage["export"])
            source = None if released else ref(stage, stage["export"])
            weights = stage["export"] if released else str(source.output)
            mediapipe = bool(stage.get("mediapipe", False))
            fmt = "tflite" if mediapipe else stage.get("format", "npz")
            if fmt not in ("npz", "tflite"):
                raise BlazePoseError(f"{path}: stage {sname!r} has format {fmt!r}; expected npz or tflite")
            output = _inside(out_dir / _plain(stage.get("file", f"{name}.{fmt}"), "export file", path), runs, path)
            command = [*cli, "export", "--weights", weights, "--format", fmt, "--output", str(output)]
            command += ["--mediapipe"] if mediapipe else []
            command += ["--quantize", stage.get("quantize", "float16")]
            if "decode" in stage:
                command += ["--decode", stage["decode"]]
            step = Step(name, sname, "export", output, command, [] if released else [source.output])
        else:
            raise BlazePoseError(f"{path}: stage {sname!r} needs config, average or export")
        seen[name][sname] = step
        steps.append(step)
    return steps


def describe(steps: list[Step]) -> str:
    lines = []
    for i, s in enumerate(steps, 1):
        state = "done" if s.done() else ("resume" if s.run_dir and s.run_dir.exists() else "to run")
        lines.append(f"{i:2d}. {s.recipe}/{s.name} [{s.kind}, {state}]: blazepose {' '.join(s.command[3:])}")
    return "\n".join(lines)


def run(steps: list[Step]) -> None:
    """Run the steps in order: finished ones are skipped, an interrupted training is resumed."""
    for i, s in enumerate(steps, 1):
        if s.done():
            print(f"[{i}/{len(steps)}] {s.recipe}/{s.name}: done ({s.output})", flush=True)
            continue
        command = s.command
        if s.kind == "train" and s.run_dir is not None and (s.run_dir / "config.toml").is_file():
            command = [*command[:3], "--run-dir", str(s.run_dir), "--resume"]
        print(f"[{i}/{len(steps)}] {s.recipe}/{s.name}: blazepose {' '.join(command[3:])}", flush=True)
        if subprocess.run(command).returncode != 0:
            raise BlazePoseError(f"stage {s.recipe}/{s.name} failed; run the same command again to continue")

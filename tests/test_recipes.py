"""Recipes (`blazepose reproduce`): every shipped model's recipe checks out dry; stages take their inputs from
earlier stages only; finished stages are skipped, interrupted ones resumed, averages and exports run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from blazepose.cli import main
from blazepose.errors import BlazePoseError
from blazepose.presets import PACKAGED
from blazepose.recipes import RECIPES, describe, plan, run
from tests.conftest import REPO

SHIPPED = sorted(p.stem for p in (REPO / RECIPES).glob("*.toml"))


def test_every_shipped_model_has_a_recipe():
    assert SHIPPED == sorted(PACKAGED)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_recipe_dry_runs_and_takes_its_inputs_from_earlier_stages(name, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    assert main(["reproduce", name, "--dry-run", "--runs-dir", str(tmp_path)]) == 0
    assert "to run" in capsys.readouterr().out
    steps = plan(name, tmp_path)
    made = set()
    for step in steps:
        assert all(i in made for i in step.inputs), (step.name, step.inputs)
        assert all(str(tmp_path) in a or not a.startswith("runs/") for a in step.command)  # nothing from old runs
        made.add(step.output)
    assert steps[-1].kind == "export" and steps[-1].output.name in PACKAGED[name].sha256  # the file it ships


def _recipe(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "r.toml"
    path.write_text(text)
    return path


def test_a_stage_that_takes_what_no_earlier_stage_makes_is_refused(tmp_path):
    text = '[[stage]]\nname = "a"\nconfig = "configs/smoke.toml"\ninit_from = "b"\n'
    text += '[[stage]]\nname = "b"\nconfig = "configs/smoke.toml"\n'
    with pytest.raises(BlazePoseError, match="stage 'a' takes 'b', which no earlier stage makes"):
        plan(str(_recipe(tmp_path, text)), tmp_path / "runs", REPO)


def test_a_config_naming_a_model_the_recipe_does_not_provide_is_refused(tmp_path):
    # full_finetune.toml starts from runs/full/model.keras: a recipe must say which stage that is
    text = '[[stage]]\nname = "a"\nconfig = "configs/full_finetune.toml"\n'
    with pytest.raises(BlazePoseError, match="train.init_from = 'runs/full/model.keras'.*give the stage init_from"):
        plan(str(_recipe(tmp_path, text)), tmp_path / "runs", REPO)


@pytest.mark.parametrize(
    "text, words",
    [
        ('[[stage]]\nname = ".."\nconfig = "configs/smoke.toml"\n', "stage name '..' must be a plain name"),
        ('[[stage]]\nname = "a/b"\nconfig = "configs/smoke.toml"\n', "must be a plain name"),
        (
            '[[stage]]\nname = "a"\nconfig = "configs/smoke.toml"\n[[stage]]\nname = "e"\nexport = "a"\n'
            'file = "../../x.npz"\n',
            "export file '../../x.npz' must be a plain name",
        ),
        (
            '[[stage]]\nname = "a"\nconfig = "configs/smoke.toml"\n[[stage]]\nname = "e"\nexport = "a"\n'
            'file = "/tmp/x.npz"\n',
            "export file '/tmp/x.npz' must be a plain name",
        ),
    ],
)
def test_a_recipe_cannot_write_outside_the_runs_folder(tmp_path, text, words):
    with pytest.raises(BlazePoseError, match=words.replace("(", r"\(").replace(".", r"\.")):
        plan(str(_recipe(tmp_path, text)), tmp_path / "runs", REPO)


@pytest.mark.slow
def test_reproduce_skips_finished_stages_resumes_interrupted_ones_and_averages_and_exports(smoke_run, tmp_path):
    text = '[[stage]]\nname = "a"\nconfig = "configs/smoke.toml"\n'
    text += '[[stage]]\nname = "b"\nconfig = "configs/smoke.toml"\ninit_from = "a"\n'
    text += '[[stage]]\nname = "c"\nconfig = "configs/smoke.toml"\n'
    text += '[[stage]]\nname = "soup"\naverage = ["a", "b"]\n'
    text += '[[stage]]\nname = "export"\nexport = "soup"\nfile = "smoke.npz"\n'
    runs = tmp_path / "runs"
    steps = plan(str(_recipe(tmp_path, text)), runs, REPO)
    for name in ("a", "b"):  # finished trainings: the shared smoke run stands in for them
        (runs / "r" / name).mkdir(parents=True)
        for f in ("model.keras", "config.toml"):
            shutil.copy(smoke_run / f, runs / "r" / name / f)
    (runs / "r" / "c").mkdir()
    shutil.copy(smoke_run / "config.toml", runs / "r" / "c" / "config.toml")  # started, not finished
    listing = describe(steps).splitlines()
    assert "[train, done]" in listing[0] and "[train, done]" in listing[1] and "[train, resume]" in listing[2]
    assert "[average, to run]" in listing[3] and "[export, to run]" in listing[4]
    run([s for s in steps if s.name != "c"])  # c would train for real
    assert (runs / "r" / "soup" / "model.keras").is_file() and (runs / "r" / "export" / "smoke.npz").is_file()
    assert "[export, done]" in describe(steps).splitlines()[4]

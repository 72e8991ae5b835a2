import re

import pytest

from blazepose.config import Config, config_from_dict, config_to_dict, dumps_config, load_config, save_config
from blazepose.errors import BlazePoseError


def test_defaults_without_file():
    cfg = load_config()
    assert cfg == Config()
    assert cfg.data.input_size == 256 and cfg.data.train_sets == ("lsp", "lspet")


def test_file_holds_only_deltas(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('seed = 7\n[data]\nbatch_size = 8\ntrain_sets = ["lsp"]\n[augment]\nrotation_deg = 10\n')
    cfg = load_config(path)
    assert cfg.seed == 7 and cfg.data.batch_size == 8 and cfg.data.train_sets == ("lsp",)
    assert cfg.augment.rotation_deg == 10.0 and isinstance(cfg.augment.rotation_deg, float)
    assert cfg.data.input_size == Config().data.input_size  # untouched default


def test_unknown_key_lists_valid_ones(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[data]\nbatch_sise = 8\n")
    with pytest.raises(BlazePoseError) as err:
        load_config(path)
    msg = str(err.value)
    assert "batch_sise" in msg and "batch_size" in msg and "input_size" in msg and str(path) in msg


def test_unknown_section_rejected():
    with pytest.raises(BlazePoseError, match="unknown key 'dta'.*data"):
        load_config(None, ["dta.batch_size=3"])


def test_overrides_are_coerced_to_the_field_type():
    cfg = load_config(
        None,
        ["data.batch_size=16", "augment.flip_prob=0", "augment.enabled=false", "data.train_sets=lsp,coco", "seed=3"],
    )
    assert cfg.data.batch_size == 16 and isinstance(cfg.data.batch_size, int)
    assert cfg.augment.flip_prob == 0.0 and isinstance(cfg.augment.flip_prob, float)
    assert cfg.augment.enabled is False
    assert cfg.data.train_sets == ("lsp", "coco")
    assert cfg.seed == 3


def test_a_list_override_may_be_written_as_a_toml_array():
    assert load_config(None, ['data.train_sets=["lsp", "coco"]']).data.train_sets == ("lsp", "coco")
    assert load_config(None, ["data.train_sets=['lsp']"]).data.train_sets == ("lsp",)


@pytest.mark.parametrize(
    "override",
    [
        "data.batch_size=abc",
        "data.batch_size=1.5",
        "augment.enabled=maybe",
        "data.batch_size",
        "data=3",
        'data.train_sets=["lsp"',
    ],
)
def test_bad_override_values(override):
    with pytest.raises(BlazePoseError):
        load_config(None, [override])


def test_bad_toml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[data\n")
    with pytest.raises(BlazePoseError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(BlazePoseError, match="does not exist"):
        load_config(tmp_path / "missing.toml")


def test_config_is_frozen():
    cfg = Config()
    with pytest.raises(AttributeError):
        cfg.seed = 3  # type: ignore[misc]


def test_saved_config_round_trips(tmp_path):
    cfg = load_config(None, ["data.batch_size=5", 'data.root=a "quoted" path', "data.train_sets=lsp"])
    path = save_config(cfg, tmp_path / "run" / "config.toml")
    assert load_config(path) == cfg
    assert config_from_dict(config_to_dict(cfg)) == cfg
    assert "[augment]" in dumps_config(cfg)


@pytest.mark.parametrize("override", ["model.variant=huge", "model.head=mlp", "data.train_sets=lsp,mpii"])
def test_choices_are_checked(override):
    with pytest.raises(BlazePoseError, match="is not one of"):
        load_config(None, [override])


def test_readers_match_the_config_choices():
    from blazepose.config import CHOICES
    from blazepose.data.datasets import READERS

    assert set(CHOICES["data.train_sets"]) == set(READERS)


def test_every_shipped_config_loads():
    from pathlib import Path

    configs = sorted((Path(__file__).resolve().parents[1] / "configs").rglob("*.toml"))
    configs = [p for p in configs if "recipes" not in p.parts]  # recipes are not configs (tests/test_recipes.py)
    assert configs
    for path in configs:
        load_config(path)


@pytest.mark.parametrize(
    "override, words",
    [
        ("data.batch_size=0", "data.batch_size = 0; expected an integer >= 1"),
        ("data.batch_size=-4", "data.batch_size = -4"),
        ("data.input_size=100", "a multiple of 32"),
        ("data.input_size=0", "a multiple of 32"),
        ("train.steps_per_epoch=-1", "train.steps_per_epoch = -1"),
        ("train.heatmap_lr=nan", "train.heatmap_lr = nan; expected a finite number > 0"),
        ("data.input_size=128", "data.heatmap_size = 64; the landmark network's heatmaps are at stride 4"),
    ],
)
def test_values_out_of_range_are_refused_with_what_was_expected(override, words):
    with pytest.raises(BlazePoseError, match=re.escape(words)):
        load_config(None, [override])


def test_a_bad_value_leaves_no_run_directory(tmp_path, capsys):
    from blazepose.cli import main

    assert main(["train", "--set", "data.batch_size=0", "--run-dir", str(tmp_path / "run")]) == 2
    assert "data.batch_size = 0" in capsys.readouterr().err and not (tmp_path / "run").exists()


def _numeric_keys(cls=None, prefix=""):
    import dataclasses
    import typing

    from blazepose.config import Config

    cls = cls or Config
    for f in dataclasses.fields(cls):
        t = typing.get_type_hints(cls)[f.name]
        if dataclasses.is_dataclass(t):
            yield from _numeric_keys(t, f"{f.name}.")
        elif t in (int, float):
            yield f"{prefix}{f.name}", t


def test_every_numeric_key_has_a_range_and_non_finite_values_are_refused():
    from blazepose.config import RANGES

    ranged = {dotted for dotted, _, _ in RANGES}
    keys = dict(_numeric_keys())
    assert set(keys) <= ranged, sorted(set(keys) - ranged)
    load_config(None, [])  # every default is in its range
    for key, typ in keys.items():
        if typ is float:
            for bad in ("nan", "inf", "-inf"):
                with pytest.raises(BlazePoseError, match=key.replace(".", r"\.")):
                    load_config(None, [f"{key}={bad}"])


def test_retired_keys_load_at_their_off_value_and_are_refused_on(tmp_path):
    """Configs saved beside older runs and models (the orientation output, removed) still load."""
    path = tmp_path / "old.toml"
    path.write_text("[model]\norientation = false\n[train]\norientation_epochs = 0\norientation_lr = 0.001\n")
    assert load_config(path) == load_config(None)
    path.write_text("[model]\norientation = true\n")
    with pytest.raises(BlazePoseError, match="model.orientation = True: that output or setting was removed"):
        load_config(path)

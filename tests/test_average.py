"""Weight averaging (blazepose average): the mean of every float variable, batch-norm statistics included."""

import shutil

import keras
import numpy as np
import pytest

import blazepose.models.layers  # noqa: F401
from blazepose.cli import main
from blazepose.config import load_config
from blazepose.errors import BlazePoseError
from blazepose.training.average import average_models


def _shifted_copy(smoke_run, folder, shift):
    """The smoke model with `shift` added to every float variable, saved as a run folder would hold it."""
    net = keras.saving.load_model(smoke_run / "model.keras", compile=False)
    for v in net.weights:
        v.assign(v.numpy() + shift)
    folder.mkdir()
    net.save(folder / "model.keras")
    shutil.copy(smoke_run / "config.toml", folder / "config.toml")
    return folder / "model.keras"


@pytest.mark.slow
def test_average_is_the_mean_of_every_variable_and_keeps_the_config(smoke_run, tmp_path, capsys):
    base = keras.saving.load_model(smoke_run / "model.keras", compile=False)
    b = _shifted_copy(smoke_run, tmp_path / "b", 2.0)
    c = _shifted_copy(smoke_run, tmp_path / "c", 4.0)
    out = tmp_path / "soup" / "avg.keras"
    assert main(["average", str(smoke_run / "model.keras"), str(b), str(c), "--output", str(out)]) == 0
    assert "mean of 3 models" in capsys.readouterr().out

    got = keras.saving.load_model(out, compile=False)
    names = [v.path for v in base.weights]
    assert any("moving_variance" in n for n in names)  # the statistics are among what is checked
    for name, want, have in zip(names, base.weights, got.weights, strict=True):
        # (x + (x + 2) + (x + 4)) / 3 = x + 2
        np.testing.assert_allclose(have.numpy(), want.numpy() + 2.0, rtol=1e-6, atol=1e-5, err_msg=name)
    assert load_config(out.with_suffix(".toml")) == load_config(smoke_run / "config.toml")

    # Two models: the midpoint, and the result serves as weights like any trained model.
    assert main(["average", str(smoke_run / "model.keras"), str(b), "--output", str(tmp_path / "mid.keras")]) == 0
    mid = keras.saving.load_model(tmp_path / "mid.keras", compile=False)
    np.testing.assert_allclose(mid.weights[0].numpy(), base.weights[0].numpy() + 1.0, rtol=1e-6, atol=1e-5)
    from blazepose.artifacts import load_runner

    runner = load_runner(tmp_path / "mid.keras")
    out = runner(np.zeros((1, runner.input_size, runner.input_size, 3), np.float32))
    assert out.joints.shape == (1, 14, 2) and out.visibility.shape == (1, 14) and out.presence.shape == (1,)


def test_average_mistakes_are_clear(smoke_run, tmp_path, capsys):
    from blazepose.config import save_config
    from blazepose.models.blazepose import build_from_config

    model = smoke_run / "model.keras"
    with pytest.raises(BlazePoseError, match="at least two models"):
        average_models([model], tmp_path / "a.keras")
    with pytest.raises(BlazePoseError, match=r"should end in \.keras"):
        average_models([model, model], tmp_path / "a.npz")
    with pytest.raises(BlazePoseError, match="one of the models averaged"):
        average_models([model, model], model)
    with pytest.raises(BlazePoseError, match="expected a .keras model"):
        average_models([model, smoke_run / "heatmap" / "best.npz"], tmp_path / "a.keras")

    # A Lite model cannot be averaged with the smoke run's tiny one; the message names the file.
    cfg = load_config(smoke_run / "config.toml", ["model.variant=lite"])
    (tmp_path / "full").mkdir()
    build_from_config(cfg).save(tmp_path / "full" / "model.keras")
    save_config(cfg, tmp_path / "full" / "config.toml")
    out = tmp_path / "never.keras"
    code = main(["average", str(model), str(tmp_path / "full" / "model.keras"), "--output", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "full/model.keras does not have the layers of" in err
    assert "Traceback" not in err and not out.exists()

    assert main(["average", str(model), str(tmp_path / "missing.keras"), "--output", str(out)]) == 2
    assert "missing.keras does not exist" in capsys.readouterr().err

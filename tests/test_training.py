"""Training: frozen sub-models stay bit-identical, phases and resume, NaN guard, tf.distribute on 2 CPUs."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from blazepose.config import load_config
from blazepose.errors import BlazePoseError

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "configs" / "smoke.toml"


def _batch(cfg, b=2, k=14):
    s, h = cfg.data.input_size, cfg.data.heatmap_size
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (b, s, s, 3)).astype("uint8")
    y = {
        "heatmap": rng.random((b, h, h, k)).astype("f4"),
        "offset": np.zeros((b, h, h, 2 * k), "f4"),
        "offset_weight": np.ones((b, h, h, 2 * k), "f4"),
        "heatmap_weight": np.ones((b, k), "f4"),
        "joints": rng.random((b, k, 2)).astype("f4"),
        "visibility": np.ones((b, k), "f4"),
        "mask": np.ones((b, k), "f4"),
        "either_side": np.ones((b,), "f4"),
        "presence": np.array([1.0, 0.0] * (b // 2) + [1.0] * (b % 2), "f4"),
    }
    return x, y


def _compile_eager(trainer, phase):
    """compile_for_phase, then steps run eagerly: tracing a training step builds a graph of about 24000 ops
    even for the tiny network (45-60 s here), one eager step takes 1-3 s. Eager and traced steps run the same
    train_step over the same trainable variables; the traced step runs in the mirrored-strategy run."""
    from blazepose.training.phases import compile_for_phase

    compile_for_phase(trainer, phase, 10)
    trainer.run_eagerly = True


@pytest.mark.parametrize(
    "phase,trained",
    [
        ("heatmap", {"backbone", "heatmap_head"}),
        ("regression", {"regression_head"}),
        ("finetune", {"backbone", "heatmap_head", "regression_head"}),
        ("presence", {"presence_head"}),
    ],
)
def test_frozen_sub_models_stay_bit_identical(phase, trained):
    """Only the phase's sub-models change; the presence phase leaves every weight the keypoints use as it was."""
    from blazepose.models.blazepose import build_from_config
    from blazepose.training.phases import PoseTrainer, compile_for_phase, sub_models

    heads = ["model.presence=true"]
    cfg = load_config(None, ["model.variant=tiny", "data.input_size=64", "data.heatmap_size=16", *heads])
    net = build_from_config(cfg)
    trainer = PoseTrainer(net, cfg)
    compile_for_phase(trainer, "finetune", 10)  # a different phase first: the switch must re-compile
    _compile_eager(trainer, phase)
    names = sub_models(net)
    assert set(names) == {"backbone", "heatmap_head", "regression_head", "presence_head"}
    before = {n: [w.numpy().copy() for w in net.get_layer(n).weights] for n in names}
    x, y = _batch(cfg)
    trainer.train_on_batch(x, y)
    for name in names:
        after = [w.numpy() for w in net.get_layer(name).weights]
        identical = all(np.array_equal(a, b) for a, b in zip(before[name], after, strict=True))
        assert identical == (name not in trained), name


def test_either_side_loss_trains_every_phase_and_reports_its_exchanges():
    from blazepose.models.blazepose import build_from_config
    from blazepose.training.phases import PoseTrainer, phase_epochs

    heads = ["model.presence=true"]
    cfg = load_config(None, ["model.variant=tiny", "data.input_size=64", "data.heatmap_size=16", *heads])
    cfg = dataclasses.replace(cfg, loss=dataclasses.replace(cfg.loss, either_side_sets=("lspet",)))
    trainer = PoseTrainer(build_from_config(cfg), cfg)
    x, y = _batch(cfg)
    for phase in phase_epochs(cfg):
        _compile_eager(trainer, phase)
        logs = trainer.train_on_batch(x, y, return_dict=True)
        assert np.isfinite(logs["loss"]) and 0.0 <= logs["side_swaps"] <= 1.0, (phase, logs)


def test_distillation_trains_on_the_teacher_heatmaps_and_leaves_the_teacher_untouched(tmp_path):
    from blazepose.models.blazepose import build_from_config
    from blazepose.training.formats import load_network
    from blazepose.training.phases import PoseTrainer, set_phase

    cfg = load_config(None, ["model.variant=tiny", "data.input_size=64", "data.heatmap_size=16", "loss.distill=2"])
    saved = build_from_config(cfg)
    set_phase(saved, "heatmap")  # saved as training leaves it: the regression head frozen
    saved.save(tmp_path / "teacher.keras")
    teacher = load_network(tmp_path / "teacher.keras")
    before = [w.numpy().copy() for w in teacher.weights]
    trainer = PoseTrainer(build_from_config(cfg), cfg, teacher)
    _compile_eager(trainer, "finetune")
    ours = {id(v) for v in trainer.net.weights}
    assert trainer.trainable_variables and all(id(v) in ours for v in trainer.trainable_variables)
    x, y = _batch(cfg)
    _compile_eager(trainer, "heatmap")
    logs = trainer.train_on_batch(x, y, return_dict=True)
    # the teacher's term counts with its weight: loss = heatmap + offset + 2 x distill
    assert logs["distill_loss"] > 0
    want = logs["heatmap_loss"] + logs["offset_loss"] + 2 * logs["distill_loss"]
    assert logs["loss"] == pytest.approx(want, rel=1e-5)
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(before, teacher.weights, strict=True))
    _compile_eager(trainer, "regression")  # no heatmap loss there, so no teacher either
    assert "distill_loss" not in trainer.train_on_batch(x, y, return_dict=True)
    _compile_eager(trainer, "finetune")
    assert trainer.train_on_batch(x, y, return_dict=True)["distill_loss"] > 0
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(before, teacher.weights, strict=True))


def test_flipped_teacher_targets_mirror_with_the_image():
    """With loss.distill_flip the target of a mirrored crop is the target of the crop mirrored, left and right
    exchanged; a single pass of an untrained teacher is not."""
    import keras

    from blazepose.keypoints import LSP
    from blazepose.models.blazepose import build_from_config
    from blazepose.training.phases import PoseTrainer

    base = ["model.variant=tiny", "data.input_size=64", "data.heatmap_size=16"]
    x, _ = _batch(load_config(None, base))
    keras.utils.set_random_seed(0)  # an untrained teacher's heatmaps vary little: fix which ones
    teacher = build_from_config(load_config(None, base))

    def mirrored_back(flip):
        trainer = PoseTrainer(build_from_config(load_config(None, base)), load_config(None, base + [flip]), teacher)
        plain = np.asarray(trainer.teacher_heatmaps(x))
        mirrored = np.asarray(trainer.teacher_heatmaps(np.ascontiguousarray(x[:, :, ::-1])))
        return plain, mirrored[:, :, ::-1][..., LSP.flip_index]

    plain, back = mirrored_back("loss.distill_flip=true")
    np.testing.assert_allclose(back, plain, atol=1e-4)
    plain, back = mirrored_back("loss.distill_flip=false")
    assert np.abs(back - plain).max() > 1e-3  # 10 x the tolerance above


def test_a_teacher_that_does_not_fit_or_a_missing_start_is_refused_before_anything_is_written(smoke_run, tmp_path):
    from blazepose.training.train import train

    run = tmp_path / "run"
    overrides = [f"loss.distill_from={smoke_run / 'model.keras'}", "data.input_size=128", "data.heatmap_size=32"]
    cfg = load_config(SMOKE, overrides)
    with pytest.raises(BlazePoseError, match=r"has input 64, heatmaps 16 .* this run has 128, 32"):
        train(cfg, run, verbose=0)
    cfg = load_config(SMOKE, [f"loss.distill_from={tmp_path / 'missing.keras'}"])
    with pytest.raises(BlazePoseError, match="missing.keras does not exist"):
        train(cfg, run, verbose=0)
    cfg = load_config(SMOKE, [f"loss.distill_from={smoke_run / 'model.keras'}", "loss.distill=0"])
    with pytest.raises(BlazePoseError, match="must be above 0, got 0"):
        train(cfg, run, verbose=0)
    cfg = load_config(SMOKE, [f"train.init_from={tmp_path / 'gone.keras'}"])  # nor a missing start
    with pytest.raises(BlazePoseError, match="train.init_from: .*gone.keras does not exist"):
        train(cfg, run, verbose=0)
    assert not run.exists()


def test_either_side_sets_must_be_trained_on(tmp_path):
    from blazepose.training.train import train

    cfg = load_config(SMOKE, ["loss.either_side_sets=lspet"])
    with pytest.raises(BlazePoseError, match=r"either_side_sets names \['lspet'\].*does not train on"):
        train(cfg, tmp_path / "run", verbose=0)
    assert not (tmp_path / "run").exists()  # nothing written for a config mistake
    with pytest.raises(BlazePoseError, match="'cocoa' is not one of"):
        load_config(None, ["loss.either_side_sets=cocoa"])


def test_weight_average_is_what_validation_sees_and_the_trained_weights_come_back():
    from blazepose.models.blazepose import build_from_config
    from blazepose.training.phases import PoseTrainer, averaged_weights, compile_for_phase

    cfg = load_config(
        None, ["model.variant=tiny", "data.input_size=64", "data.heatmap_size=16", "train.ema_momentum=0.5"]
    )
    net = build_from_config(cfg)
    trainer = PoseTrainer(net, cfg)
    _compile_eager(trainer, "heatmap")
    trained = net.get_layer("backbone").trainable_weights
    x, y = _batch(cfg)
    trainer.train_on_batch(x, y)
    w1 = [w.numpy().copy() for w in trained]
    trainer.train_on_batch(x, y)
    w2 = [w.numpy().copy() for w in trained]
    # The first step starts the average at w1; the second, with momentum 0.5, makes it (w1 + w2) / 2.
    with averaged_weights(trainer):
        inside = [w.numpy().copy() for w in trained]
        frozen = [w.numpy().copy() for w in net.get_layer("regression_head").weights]
    assert all(np.allclose(m, (a + b) / 2, atol=1e-6) for m, a, b in zip(inside, w1, w2, strict=True))
    assert not all(np.array_equal(m, b) for m, b in zip(inside, w2, strict=True))
    assert all(np.array_equal(w.numpy(), b) for w, b in zip(trained, w2, strict=True))  # restored exactly
    after = net.get_layer("regression_head").weights
    assert all(np.array_equal(a, b.numpy()) for a, b in zip(frozen, after, strict=True))  # untouched: not trained
    with pytest.raises(BlazePoseError, match="ema_momentum"):
        compile_for_phase(PoseTrainer(net, load_config(None, ["train.ema_momentum=1.0"])), "heatmap", 10)


def test_stop_gradient_keeps_the_regression_loss_out_of_the_backbone_unless_switched_off():
    import tensorflow as tf

    from blazepose.losses import compute_losses
    from blazepose.models.blazepose import build_from_config

    cfg_args = ["model.variant=tiny", "data.input_size=64", "data.heatmap_size=16"]
    cfg = load_config(None, cfg_args)
    net = build_from_config(cfg)
    x, y = _batch(cfg)
    with tf.GradientTape() as tape:
        losses = compute_losses(y, net(x, training=True))
        reg = losses["coordinate"] + losses["visibility"]
    grads = tape.gradient(reg, net.get_layer("backbone").trainable_variables)
    assert all(g is None or float(tf.reduce_max(tf.abs(g))) == 0.0 for g in grads)
    # model.regression_stop_gradient = false: the same loss reaches the backbone and the decoder.
    net = build_from_config(load_config(None, [*cfg_args, "model.regression_stop_gradient=false"]))
    with tf.GradientTape(persistent=True) as tape:
        losses = compute_losses(y, net(x, training=True))
        reg = losses["coordinate"] + losses["visibility"]
    for name in ("backbone", "heatmap_head"):
        grads = tape.gradient(reg, net.get_layer(name).trainable_variables)
        assert sum(int(g is not None and float(tf.reduce_max(tf.abs(g))) > 0) for g in grads) > len(grads) // 2


def test_the_finetune_phase_validates_the_decode_the_model_ships_with():
    from blazepose.training.train import validation_source

    for decode, source in (("heatmap", "heatmap"), ("regression", "joints")):
        cfg = load_config(None, [f"model.decode={decode}"])
        assert validation_source(cfg, "finetune") == source
        assert (validation_source(cfg, "heatmap"), validation_source(cfg, "regression")) == ("heatmap", "joints")


@pytest.fixture
def smoke_cfg(data_root):
    return load_config(SMOKE, [f"data.root={data_root}"])


def test_smoke_training_runs_every_phase_and_writes_the_run_dir(smoke_cfg, smoke_run):
    from blazepose.training.train import train

    run = smoke_run
    summary = json.loads((run / "summary.json").read_text())
    assert set(summary["phases"]) == {"heatmap", "regression", "finetune", "presence"}
    assert 0.0 <= summary["phases"]["presence"]["best_val_presence"] <= 1.0
    for phase in summary["phases"]:
        assert (run / phase / "best.npz").is_file() and (run / phase / "last.npz").is_file()
        assert (run / phase / "log.csv").read_text().count("\n") == 1 + summary["phases"][phase]["epochs_done"]
    for name in ("config.toml", "state.json", "summary.json", "curves.png", "model.keras"):
        assert (run / name).is_file(), name
    assert load_config(run / "config.toml") == smoke_cfg
    with pytest.raises(BlazePoseError, match="already holds a run"):
        train(smoke_cfg, run, verbose=0)


@pytest.mark.slow
def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(smoke_cfg, tmp_path):
    from blazepose.config import save_config
    from blazepose.training.train import train

    cfg = dataclasses.replace(
        smoke_cfg, train=dataclasses.replace(smoke_cfg.train, heatmap_epochs=1, regression_epochs=0, finetune_epochs=0)
    )
    run = tmp_path / "run"
    train(cfg, run, verbose=0)
    last = run / "heatmap" / "last.npz"
    good = last.read_bytes()
    # Continue the same run for a second epoch whose weights blow up (a learning rate of 1e30): a NaN loss.
    bad = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, heatmap_epochs=2, heatmap_lr=1e30))
    save_config(bad, run / "config.toml")
    state = json.loads((run / "state.json").read_text())
    state["phases"]["heatmap"]["done"] = False
    (run / "state.json").write_text(json.dumps(state))
    with pytest.raises(BlazePoseError, match=r"loss became (nan|inf) at epoch 2.*last good checkpoint is .*last.npz"):
        train(None, run, resume=True, verbose=0)
    assert last.read_bytes() == good
    # As the message says: resume with a lower learning rate and the run goes on.
    train(None, run, resume=True, verbose=0, overrides=("train.heatmap_lr=0.001",))
    assert json.loads((run / "state.json").read_text())["phases"]["heatmap"]["epochs_done"] == 2
    assert load_config(run / "config.toml").train.heatmap_lr == 0.001


@pytest.mark.slow
def test_killed_run_resumes_from_its_last_checkpoint(data_root, tmp_path):
    run = tmp_path / "run"
    env = {**os.environ, "BLAZEPOSE_DATA": str(data_root), "TF_CPP_MIN_LOG_LEVEL": "2"}
    args = [sys.executable, "-m", "blazepose.cli", "train", "--config", str(SMOKE), "--run-dir", str(run)]
    args += [
        "--set",
        "train.heatmap_epochs=5",
        "--set",
        "train.regression_epochs=1",
        "--set",
        "train.finetune_epochs=0",
    ]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = run / "heatmap" / "last.npz"
    deadline = time.time() + 240
    while not last.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert last.exists(), "the first epoch never finished"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = json.loads((run / "state.json").read_text())["phases"]["heatmap"]["epochs_done"]
    assert 1 <= done_before < 5
    resumed = subprocess.run(
        [sys.executable, "-m", "blazepose.cli", "train", "--run-dir", str(run), "--resume"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"[heatmap] resuming after epoch {done_before}" in resumed.stdout
    state = json.loads((run / "state.json").read_text())
    epochs = [h["epoch"] for h in state["phases"]["heatmap"]["history"]]
    assert epochs == list(range(1, 6))  # nothing repeated, nothing lost
    assert state["phases"]["regression"]["done"] and (run / "model.keras").is_file()


@pytest.mark.slow
def test_mirrored_strategy_on_two_logical_cpus(data_root, smoke_run, tmp_path):
    # also the either-side loss, whose per-sample choice must hold on each replica's share of the batch, and a
    # teacher (created outside the strategy's scope) read by both replicas; the one traced (graph) training
    # step of the suite
    script = f"""
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from blazepose.config import load_config
from blazepose.training.train import train
cfg = load_config({str(SMOKE)!r}, ["data.root={data_root}", "train.strategy=mirrored", "loss.either_side_sets=lsp",
    "loss.distill_from={smoke_run / "model.keras"}", "train.heatmap_epochs=1", "train.regression_epochs=0",
    "train.finetune_epochs=0", "train.run_eagerly=false"])
train(cfg, {str(tmp_path / "run")!r}, verbose=0)
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env={**os.environ})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 replica(s)" in proc.stdout
    assert (tmp_path / "run" / "model.keras").is_file()
    header = (tmp_path / "run" / "heatmap" / "log.csv").read_text().splitlines()[0]
    assert "side_swaps" in header and "distill_loss" in header


def test_init_from_copies_matching_sub_models(smoke_cfg, smoke_run):
    from blazepose.models.blazepose import build_from_config
    from blazepose.training.checkpoint import load_checkpoint
    from blazepose.training.train import init_weights

    def same(a, b, name):
        pairs = zip(a.get_layer(name).weights, b.get_layer(name).weights, strict=True)
        return all(np.array_equal(x.numpy(), y.numpy()) for x, y in pairs)

    expected = build_from_config(smoke_cfg)
    load_checkpoint(smoke_run / "heatmap" / "best.npz", expected)
    net = build_from_config(smoke_cfg)
    every = ["backbone", "heatmap_head", "regression_head", "presence_head"]
    assert init_weights(net, smoke_run / "heatmap" / "best.npz") == every
    assert all(same(net, expected, n) for n in every)
    # Another head type: backbone and heatmap head are copied, the regression head keeps its own weights.
    other = build_from_config(
        dataclasses.replace(smoke_cfg, model=dataclasses.replace(smoke_cfg.model, head="linear_xyv"))
    )
    assert init_weights(other, smoke_run / "model.keras") == ["backbone", "heatmap_head", "presence_head"]
    final = build_from_config(smoke_cfg)
    load_checkpoint(smoke_run / "presence" / "best.npz", final)
    assert same(other, final, "backbone") and same(other, final, "heatmap_head")
    wrong = load_config(None, ["model.variant=lite", "data.input_size=128", "data.heatmap_size=32"])
    with pytest.raises(BlazePoseError, match="shares no sub-model"):
        init_weights(build_from_config(wrong), smoke_run / "heatmap" / "best.npz")


@pytest.mark.slow
def test_init_from_exported_weights_fills_what_the_export_kept(smoke_cfg, smoke_run, tmp_path):
    # The packaged default model is exported weights: a later run can start from it.
    from blazepose.export import export_model
    from blazepose.models.blazepose import build_from_config
    from blazepose.training.checkpoint import load_checkpoint
    from blazepose.training.train import init_weights

    final = build_from_config(smoke_cfg)
    load_checkpoint(smoke_run / "presence" / "best.npz", final)  # model.keras: the last phase's best epoch
    for decode, kept in (("heatmap", "heatmap_head"), ("regression", "regression_head")):
        filled = ["backbone", kept, "presence_head"]
        path = tmp_path / f"{decode}.npz"
        export_model(smoke_run / "model.keras", "npz", path, decode=decode, parity_count=2)
        net = build_from_config(smoke_cfg)
        assert init_weights(net, path) == filled
        for name in filled:
            pairs = zip(net.get_layer(name).weights, final.get_layer(name).weights, strict=True)
            assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in pairs), name


@pytest.mark.slow
def test_a_teacher_can_be_exported_weights_a_checkpoint_or_a_packaged_model(smoke_cfg, smoke_run, tmp_path):
    from blazepose.export import export_model
    from blazepose.models.blazepose import build_from_config
    from blazepose.training.formats import load_network
    from blazepose.training.phases import heatmap_branch
    from blazepose.training.train import config_model_path, init_weights, load_teacher

    x = np.random.default_rng(0).uniform(-1, 1, (2, 64, 64, 3)).astype("float32")
    want = heatmap_branch(load_network(smoke_run / "model.keras"), x, False)["heatmap"].numpy()

    def teacher(path):
        return load_teacher(dataclasses.replace(smoke_cfg, loss=dataclasses.replace(smoke_cfg.loss, distill_from=path)))

    export_model(smoke_run / "model.keras", "npz", tmp_path / "hm.npz", decode="heatmap", parity_count=2)
    got = heatmap_branch(teacher(str(tmp_path / "hm.npz")), x, False)["heatmap"].numpy()
    np.testing.assert_allclose(got, want, atol=1e-5)  # the same teacher as the .keras model it came from
    assert not teacher(str(tmp_path / "hm.npz")).trainable
    # a checkpoint: the heatmap phase's best epoch, not the final model
    hm = build_from_config(smoke_cfg)
    init_weights(hm, smoke_run / "heatmap" / "best.npz")
    got = heatmap_branch(teacher(str(smoke_run / "heatmap" / "best.npz")), x, False)["heatmap"].numpy()
    np.testing.assert_allclose(got, heatmap_branch(hm, x, False)["heatmap"].numpy(), atol=1e-6)
    # weights exported for the regression decode keep no heatmap head: nothing to distil
    export_model(smoke_run / "model.keras", "npz", tmp_path / "rg.npz", decode="regression", parity_count=2)
    with pytest.raises(
        BlazePoseError,
        match=r"rg.npz holds no heatmap head .* \(it has backbone, regression_head, presence_head\)",
    ):
        teacher(str(tmp_path / "rg.npz"))
    # "full" and "lite" name the packaged models, as --weights does; a file of that name would win
    assert config_model_path("lite").name == "blazepose_lite.npz"
    lite = build_from_config(load_config(None, ["model.variant=lite"]))
    assert init_weights(lite, "lite") == ["backbone", "heatmap_head"]


def test_checkpoints_load_by_sub_model_and_read_the_older_flat_layout(smoke_cfg, smoke_run, tmp_path):
    from blazepose.models.blazepose import build_from_config
    from blazepose.training.checkpoint import load_checkpoint, matching_sub_models

    net = build_from_config(smoke_cfg)
    load_checkpoint(smoke_run / "regression" / "best.npz", net)
    # The flat layout of older checkpoints: every weight in the network's order, w0000 ...
    flat = {f"w{i:04d}": w.numpy() for i, w in enumerate(net.weights)}
    flat["state"] = np.frombuffer(b"{}", dtype=np.uint8)
    np.savez(tmp_path / "flat.npz", **flat)
    other = build_from_config(smoke_cfg)
    load_checkpoint(tmp_path / "flat.npz", other)
    assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(net.weights, other.weights, strict=True))
    # Another head: the regression head does not fit; required -> clear error, otherwise left as it is.
    linear = dataclasses.replace(smoke_cfg, model=dataclasses.replace(smoke_cfg.model, head="linear_xyv"))
    third = build_from_config(linear)
    fitting = ["backbone", "heatmap_head", "presence_head"]
    assert matching_sub_models(smoke_run / "regression" / "best.npz", third) == fitting
    with pytest.raises(BlazePoseError, match="its regression_head .* does not fit"):
        load_checkpoint(smoke_run / "regression" / "best.npz", third)
    before = [w.numpy().copy() for w in third.get_layer("regression_head").weights]
    load_checkpoint(smoke_run / "regression" / "best.npz", third, required=("backbone", "heatmap_head"))
    after = third.get_layer("regression_head").weights
    assert all(np.array_equal(a, b.numpy()) for a, b in zip(before, after, strict=True))


@pytest.mark.slow
def test_regression_head_can_fit_a_small_batch():
    """The regression phase must be able to learn (a dense layer on the flattened 4x4 map did not: Adam's
    steps moved its outputs so far that it collapsed to the mean pose)."""
    from blazepose.models.blazepose import build_from_config
    from blazepose.training.phases import PoseTrainer

    # the 4x4 map before the head at a real input size; the tiny network keeps eager steps cheap
    cfg = load_config(None, ["model.variant=tiny", "seed=1"])
    net = build_from_config(cfg)
    trainer = PoseTrainer(net, cfg)
    _compile_eager(trainer, "regression")
    x, y = _batch(cfg, b=8)
    first = trainer.train_on_batch(x, y, return_dict=True)["coordinate_loss"]
    for _ in range(40):
        last = trainer.train_on_batch(x, y, return_dict=True)["coordinate_loss"]
    assert last < 0.5 * first, (first, last)


def test_damaged_checkpoints_and_state_give_one_clear_line(smoke_run, tmp_path, capsys):
    import shutil

    from blazepose.cli import main
    from blazepose.training.train import train

    run = tmp_path / "run"
    shutil.copytree(smoke_run, run)
    last = run / "heatmap" / "last.npz"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])  # truncated, as by a full disk
    with pytest.raises(BlazePoseError, match=r"heatmap/last.npz is damaged or not a checkpoint .*best.npz"):
        train(None, run, resume=True, verbose=0)
    (run / "heatmap" / "best.npz").write_bytes(b"")  # empty weights file given to predict
    image = tmp_path / "a.png"
    from PIL import Image

    Image.new("RGB", (64, 64)).save(image)
    assert main(["predict", str(image), "--weights", str(run / "heatmap" / "best.npz"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "best.npz" in err and "Traceback" not in err

    run2 = tmp_path / "run2"
    shutil.copytree(smoke_run, run2)
    (run2 / "state.json").write_text('{"phases": {"heat')  # truncated state: rebuilt from the last.npz files
    summary = train(None, run2, resume=True, verbose=0)
    assert "state.json is damaged" in capsys.readouterr().err
    assert summary["phases"]["finetune"]["epochs_done"] == 1 and (run2 / "model.keras").is_file()


@pytest.mark.parametrize("case", ["missing images", "no joint"])
def test_a_training_set_with_no_usable_sample_is_refused_and_leaves_no_run(data_root, tmp_path, case, capsys):
    """Every image missing, or every joint unannotated: one error line (exit 2) before any run directory."""
    from blazepose.cli import main

    root = tmp_path / "root"
    (root / "custom").mkdir(parents=True)
    (root / "lsp").symlink_to(data_root / "lsp")  # the validation split is LSP's
    image = str(data_root / "lsp" / "images" / "im0001.jpg")
    rows = [[10.0, 20.0, 0 if case == "no joint" else 2]] * 14
    samples = [
        {"image": f"images/m{i}.jpg" if case == "missing images" else image, "keypoints": rows} for i in range(4)
    ]
    (root / "custom" / "annotations.json").write_text(json.dumps({"samples": samples}))
    run = tmp_path / "run"
    args = ["train", "--config", str(SMOKE), "--set", 'data.train_sets=["custom"]', "--set", f"data.root={root}"]
    assert main([*args, "--run-dir", str(run)]) == 2
    err = capsys.readouterr().err
    assert "no usable training sample" in err and "Traceback" not in err
    assert ("4 image file(s) are missing" if case == "missing images" else "none of the 4 has an annotated") in err
    assert not run.exists()  # a failed start leaves nothing that would block the corrected run


@pytest.mark.parametrize(
    "cluster,task,index",
    [
        ({"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, {"type": "worker", "index": 0}, 0),
        ({"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, {"type": "worker", "index": 1}, 1),
        ({"chief": ["127.0.0.1:1"], "worker": ["127.0.0.1:2"]}, {"type": "chief", "index": 0}, 0),
        ({"chief": ["127.0.0.1:1"], "worker": ["127.0.0.1:2"]}, {"type": "worker", "index": 0}, 1),
        ({}, {}, 0),
    ],
)
def test_only_the_chief_of_a_multi_worker_run_writes_the_run_directory(monkeypatch, cluster, task, index):
    """worker_index reads TF_CONFIG's cluster as MultiWorkerMirroredStrategy does: 0 (the chief) writes the run
    directory, every other worker its own copy under workers/."""
    import tensorflow as tf

    from blazepose.training.train import worker_index

    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": task}))

    class Strategy:  # the part of a strategy that worker_index reads
        class extended:
            cluster_resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()

    assert worker_index(Strategy()) == index


def test_labels_far_off_their_images_are_refused_before_anything_is_written(data_root, tmp_path):
    """What `data check` calls NOT OK (every joint at (-5000, -5000)) is refused by train too."""
    import shutil

    from blazepose.training.train import train

    folder = tmp_path / "mine"
    (folder / "images").mkdir(parents=True)
    samples = []
    for i in range(6):
        shutil.copy(data_root / "lsp" / "images" / f"im{i + 1:04d}.jpg", folder / "images" / f"{i}.jpg")
        samples.append({"image": f"images/{i}.jpg", "keypoints": [[-5000.0, -5000.0, 2]] * 14})
    (folder / "annotations.json").write_text(json.dumps({"samples": samples}))
    cfg = load_config(None, [f"data.root={folder}", "data.split=custom", 'data.train_sets=["custom"]'])
    with pytest.raises(BlazePoseError, match="lie left of or above their images"):
        train(cfg, tmp_path / "run", verbose=0)
    assert not (tmp_path / "run").exists()

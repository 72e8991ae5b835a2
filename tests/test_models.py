import keras
import numpy as np
import pytest

from blazepose.models.blazepose import DECODES, HEADS, VARIANTS, build_blazepose, count_params, inference_model
from blazepose.models.detector import DETECTORS
from blazepose.models.layers import BlazeBlock


@pytest.mark.parametrize("variant,paper", [("full", 3.5e6), ("lite", 1.3e6)])
def test_parameter_counts_match_the_paper_within_10_percent(variant, paper):
    n = count_params(build_blazepose(variant))
    assert abs(n - paper) / paper < 0.10, n


def test_variants_and_heads_are_the_config_choices():
    from blazepose.config import CHOICES

    assert set(CHOICES["model.variant"]) == set(VARIANTS) | set(DETECTORS)
    assert set(CHOICES["model.head"]) == set(HEADS)
    assert set(CHOICES["model.decode"]) == set(DECODES)


@pytest.mark.parametrize(
    "head,shapes",
    [
        ("linear_xyv", {"joints": (14, 3)}),
        ("xy_linear_v_sigmoid_concat", {"joints": (14, 3)}),
        ("xy_linear_v_sigmoid_separate", {"joints": (14, 2), "visibility": (14,)}),
    ],
)
def test_heads_name_their_outputs(head, shapes):
    model = build_blazepose("tiny", input_size=64, head=head)
    out = model(np.zeros((2, 64, 64, 3), np.float32))
    assert set(out) == {"heatmap", "offset", *shapes}
    assert out["heatmap"].shape == (2, 16, 16, 14) and out["offset"].shape == (2, 16, 16, 28)
    for name, shape in shapes.items():
        assert tuple(out[name].shape) == (2, *shape)
    assert [layer.name for layer in model.layers if isinstance(layer, keras.Model)] == [
        "backbone",
        "heatmap_head",
        "regression_head",
    ]
    if head != "linear_xyv":
        v = out["visibility"] if "visibility" in out else out["joints"][..., 2]
        assert (np.asarray(v) >= 0).all() and (np.asarray(v) <= 1).all()


def test_blazeblock_shapes_and_projection_shortcut():
    block = BlazeBlock(8, kernel_size=3, strides=2, batch_norm=False)
    x = np.random.default_rng(0).normal(size=(1, 6, 6, 4)).astype("float32")
    y = block(x)
    assert y.shape == (1, 3, 3, 8)
    # Residual branch zeroed and the projection set to [identity | 0]: the block is relu(maxpool(x) ++ zeros).
    for w in block.weights:
        w.assign(np.zeros(w.shape, "float32"))
    block.project.kernel.assign(np.eye(4, 8, dtype="float32")[None, None])
    y = np.asarray(block(x))
    pooled = x.reshape(1, 3, 2, 3, 2, 4).max(axis=(2, 4))
    np.testing.assert_allclose(y[..., :4], np.maximum(pooled, 0), atol=1e-6)
    assert (y[..., 4:] == 0).all()


def test_keras_save_load_round_trip_gives_identical_outputs(tmp_path):
    model = build_blazepose("tiny", input_size=64)
    x = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    before = model(x, training=False)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    after = loaded(x, training=False)
    for name in before:
        np.testing.assert_array_equal(np.asarray(before[name]), np.asarray(after[name]))
    clone = BlazeBlock.from_config(BlazeBlock(16, 5, 2, False, name="b").get_config())
    assert (clone.filters, clone.kernel_size, clone.strides, clone.batch_norm) == (16, 5, 2, False)


def test_inference_model_drops_the_heatmap_branch_and_shares_weights():
    model = build_blazepose("tiny", input_size=64)
    inf = inference_model(model)
    x = np.random.default_rng(1).uniform(0, 255, (1, 64, 64, 3)).astype("float32")
    out, full = inf(x, training=False), model(x, training=False)
    assert set(out) == {"joints", "visibility"}
    np.testing.assert_allclose(np.asarray(out["joints"]), np.asarray(full["joints"]), atol=1e-5)
    assert count_params(inf) < count_params(model)
    names = {w.path for w in inf.weights}
    assert not any(n.startswith(("heatmap/", "offset/")) for n in names)


def test_heatmap_inference_model_decodes_the_heatmap_branch_and_drops_regression(tmp_path):
    from blazepose.codec import Codec

    model = build_blazepose("tiny", input_size=64)
    inf = inference_model(model, decode="heatmap")
    x = np.random.default_rng(2).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    out, full = inf(x, training=False), model(x, training=False)
    assert set(out) == {"joints", "visibility"} and out["joints"].shape == (2, 14, 2)
    codec = Codec(input_size=64, heatmap_size=16)
    xy, _ = codec.decode(np.asarray(full["heatmap"]), np.asarray(full["offset"]))
    np.testing.assert_allclose(np.asarray(out["joints"]), codec.normalize(xy), atol=1e-5)
    assert not any(w.path.startswith("regression_head/") for w in inf.weights)
    assert count_params(inf) < count_params(inference_model(model))
    path = tmp_path / "inf.keras"  # the decoder layer is serializable
    inf.save(path)
    again = keras.saving.load_model(path)(x, training=False)
    np.testing.assert_array_equal(np.asarray(again["joints"]), np.asarray(out["joints"]))


def test_info_prints_counts_per_sub_model_and_flops(capsys):
    from blazepose.cli import main

    assert main(["info", "--variant", "lite", "--set", "data.input_size=128", "--set", "data.heatmap_size=32"]) == 0
    out = capsys.readouterr().out
    import re

    for name in ("blazepose_lite", "backbone", "heatmap_head", "regression_head"):
        assert re.search(rf"^{name}: \d{{1,3}}(,\d{{3}})* params$", out, re.M), name
    assert re.search(r"forward FLOPs per image \(inference model\): 0\.\d+ G", out)
    assert "decode heatmap, as it ships" in out  # the packaged models decode heatmaps


def test_info_describes_the_detector(capsys):
    from blazepose.cli import main

    assert main(["info", "--variant", "detector"]) == 0
    out = capsys.readouterr().out
    assert "person detector detector, input 224x224" in out and "detection_head:" in out

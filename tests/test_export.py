"""Export to TFLite / ONNX: parity with Keras, the files beside the export, and the exported model in use."""

import json

import numpy as np
import pytest
from PIL import Image

from blazepose.cli import main
from blazepose.errors import BlazePoseError


@pytest.fixture(scope="module")
def exported(smoke_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("export")
    weights = str(smoke_run / "model.keras")
    assert main(["export", "--weights", weights, "--format", "tflite", "--output", str(out / "m.tflite")]) == 0
    assert main(["export", "--weights", weights, "--format", "onnx", "--output", str(out / "m.onnx")]) == 0
    return out


@pytest.mark.parametrize("name", ["m.tflite", "m.onnx"])
def test_float32_exports_match_keras_and_carry_their_config(exported, name):
    meta = json.loads((exported / f"{name}.json").read_text())
    assert meta["parity"]["max_px"] < 0.5 and meta["parity"]["images"] > 0
    assert meta["joint_names"][0] == "right_ankle" and meta["input"]["shape"][1] == 64  # smoke input size
    assert (exported / name).with_suffix(".toml").is_file()
    # the smoke model's presence output, checked against Keras too
    assert meta["parity"]["presence_max_diff"] <= meta["parity"]["presence_limit"]
    assert set(meta["outputs"]) == {"joints", "visibility", "presence"}


def test_exported_models_predict_like_keras(exported, smoke_run, data_root, tmp_path):
    """Keypoints and the presence output (the smoke model's is barely trained: --min-presence 0 keeps it)."""
    image = str(data_root / "lsp" / "images" / "im1001.jpg")
    results, presence = {}, {}
    for weights in (smoke_run / "model.keras", exported / "m.tflite", exported / "m.onnx"):
        out = tmp_path / f"{weights.name}.json"
        args = ["predict", image, "--weights", str(weights), "--min-presence", "0"]
        assert main([*args, "--output", str(out), "--quiet"]) == 0
        person = json.loads(out.read_text())["predictions"][0]["people"][0]
        results[weights.suffix], presence[weights.suffix] = np.array(person["keypoints"]), person["presence"]
    for suffix in (".tflite", ".onnx"):
        np.testing.assert_allclose(results[suffix][:, :2], results[".keras"][:, :2], atol=0.1)
        assert presence[suffix] == pytest.approx(presence[".keras"], abs=1e-3)


@pytest.mark.slow
def test_int8_and_float16_exports(smoke_run, tmp_path):
    from blazepose.export import export_model

    for quantize in ("float16", "int8"):
        path = tmp_path / f"{quantize}.tflite"
        meta = export_model(
            smoke_run / "model.keras", "tflite", path, quantize=quantize, parity_count=8, calibration_count=16
        )
        assert path.stat().st_size < (smoke_run / "model.keras").stat().st_size
        assert np.isfinite(meta["parity"]["max_px"])


@pytest.mark.slow
def test_int8_keeps_the_heatmap_decode_in_float_and_passes_parity(tmp_path):
    """The packaged Lite model to int8: before the decode was kept in float its joints moved by 112 px on
    average (every cell index and the row / column arithmetic in 8 bits); now a few px, as float16's order."""
    from ai_edge_litert.interpreter import Interpreter

    from blazepose.artifacts import resolve_weights
    from blazepose.export import DECODER_LAYER, export_model

    path, lite = tmp_path / "lite_int8.tflite", resolve_weights("lite", trainable=True)
    meta = export_model(lite, "tflite", path, quantize="int8", parity_count=8, calibration_count=40)
    assert meta["parity"]["mean_px"] < 8.0, meta["parity"]
    tensors = Interpreter(model_path=str(path)).get_tensor_details()
    # the cell index and the row / column arithmetic on it (quantize ops at the decode's edges may stay int8)
    arithmetic = [t for t in tensors if f"/{DECODER_LAYER}" in t["name"] and t["name"].endswith(("/Cast", "/Floor"))]
    quantized = [t for t in tensors if t["dtype"] == np.int8]
    assert len(arithmetic) == 2 and quantized  # int8 inside ...
    assert all(t["dtype"] == np.float32 for t in arithmetic)  # ... but not the decode


def test_export_mistakes_are_clear(smoke_run, tmp_path, monkeypatch, capsys):
    weights = str(smoke_run / "model.keras")
    assert (
        main(
            [
                "export",
                "--weights",
                weights,
                "--format",
                "onnx",
                "--quantize",
                "int8",
                "--output",
                str(tmp_path / "m.onnx"),
            ]
        )
        == 2
    )
    assert "ONNX export supports --quantize none only" in capsys.readouterr().err
    assert main(["export", "--weights", weights, "--format", "tflite", "--output", str(tmp_path / "m.onnx")]) == 2
    assert "should end in .tflite" in capsys.readouterr().err
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"PK\x03\x04 junk")
    assert main(["export", "--weights", str(junk), "--format", "tflite", "--output", str(tmp_path / "a.tflite")]) == 2
    assert "not a Keras model Keras can read" in capsys.readouterr().err
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a flatbuffer")
    img = smoke_run / "curves.png"
    assert main(["predict", str(img), "--weights", str(bad), "--quiet"]) == 2
    assert "not a TFLite model" in capsys.readouterr().err


def test_heatmap_tie_allowance_still_catches_a_broken_export(smoke_run, tmp_path, monkeypatch, capsys):
    from blazepose import export

    real = export.load_runner

    def mirrored(path, decode=None, **kw):  # an export that got x backwards: nearly every joint moves
        runner = real(path, decode, **kw)
        if not str(path).endswith(".npz"):
            return runner

        class Broken:
            input_size, num_joints = runner.input_size, runner.num_joints

            def __call__(self, batch):
                out = runner(batch)
                return out._replace(joints=out.joints * [-1.0, 1.0] + [1.0, 0.0])

        return Broken()

    monkeypatch.setattr(export, "load_runner", mirrored)
    out = tmp_path / "m.npz"
    args = ["export", "--weights", str(smoke_run / "model.keras"), "--format", "npz", "--decode", "heatmap"]
    assert main([*args, "--output", str(out)]) == 2
    assert "joints exceed the limit" in capsys.readouterr().err
    parity = json.loads(out.with_name(out.name + ".json").read_text())["parity"]
    assert parity["joints_beyond_limit"] - parity["heatmap_ties"] > parity["joints_beyond_limit"] // 2


def test_heatmap_ties_are_the_keras_decode_of_near_peak_cells(smoke_run):
    from blazepose.artifacts import config_beside, load_runner
    from blazepose.export import heatmap_ties, parity_images
    from blazepose.training.phases import heatmap_branch

    runner = load_runner(smoke_run / "model.keras", "heatmap")
    images = parity_images(config_beside(smoke_run / "model.keras"), 2).astype(np.float32)
    size = runner.input_size
    ref = runner(images).joints * size  # (2, 14, 2) input pixels
    assert not heatmap_ties(runner.model, images, ref + 30.0, 0.5, 1e-3).any()  # nowhere near a decode
    assert heatmap_ties(runner.model, images, ref, 0.5, 0.0).all()  # the peak itself
    # Joint 0 of image 0 moved to where the best-ranked cell that decodes elsewhere puts it (a trained offset
    # field sends the peak's neighbours to the peak's own place, so that need not be the second-best cell):
    # a tie only when the tolerance reaches that cell's heatmap value. The places are computed here, apart
    # from heatmap_ties, as HeatmapDecoder defines them.
    out = heatmap_branch(runner.model, images, training=False)
    heat = np.asarray(out["heatmap"], np.float64)[0, ..., 0]
    h, w = heat.shape
    offset = np.asarray(out["offset"], np.float64)[0, ..., 0:2]
    jj, ii = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    place = np.stack([(ii + offset[..., 0] + 0.5) / w, (jj + offset[..., 1] + 0.5) / h], -1).reshape(-1, 2) * size
    order = np.argsort(heat, axis=None)[::-1]
    # The first cell whose place is clear of every better cell's (the peak's included): no smaller tolerance
    # can make a tie there.
    rank = next(
        r for r in range(1, order.size) if np.linalg.norm(place[order[:r]] - place[order[r]], axis=-1).min() > 1.0
    )
    got = ref.copy()
    got[0, 0] = place[order[rank]]
    assert np.linalg.norm(got[0, 0] - ref[0, 0]) > 0.5  # a different place
    gap = (heat.max() - heat.flat[order[rank]]) / (heat.max() - heat.min())
    assert heatmap_ties(runner.model, images, got, 0.5, gap * 1.01)[0, 0]
    assert not heatmap_ties(runner.model, images, got, 0.5, gap * 0.99)[0, 0]


def test_missing_converter_package_names_the_install(monkeypatch):
    import importlib

    from blazepose.artifacts import require

    real = importlib.import_module

    def fake(name, *args):
        if name == "tf2onnx":
            raise ImportError(name)
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", fake)
    with pytest.raises(
        BlazePoseError, match=r"tf2onnx is not installed \(needed for ONNX export\).*pip install 'blazepose\[export\]'"
    ):
        require("tf2onnx", "tf2onnx")


@pytest.mark.slow
def test_npz_weights_float16_are_small_and_serve_as_a_packaged_model(smoke_run, tmp_path, monkeypatch, data_root):
    from blazepose.export import export_model
    from blazepose.inference import Predictor

    path = tmp_path / "full" / "blazepose_full.npz"
    meta = export_model(smoke_run / "model.keras", "npz", path, quantize="float16", parity_count=8)
    assert meta["parity"]["max_px"] < 2.0
    assert path.stat().st_size < 0.6 * (smoke_run / "model.keras").stat().st_size
    monkeypatch.setattr("blazepose.presets.PRESETS_DIR", tmp_path)
    image = np.asarray(Image.open(data_root / "lsp" / "images" / "im1001.jpg"))
    packaged = Predictor("full", "none", min_presence=0).predict_arrays([image])[0]  # the packaged (here: patched)
    keras = Predictor(smoke_run / "model.keras", "none", min_presence=0).predict_arrays([image])[0]
    np.testing.assert_allclose(packaged.keypoints, keras.keypoints, atol=1.0)
    assert packaged.people[0].presence == pytest.approx(keras.people[0].presence, abs=2e-3)


def test_training_checkpoints_can_be_evaluated_directly(smoke_run, data_root, tmp_path):
    out = tmp_path / "p.json"
    image = str(data_root / "lsp" / "images" / "im1001.jpg")
    keep = ["--min-presence", "0", "--output", str(out), "--quiet"]
    assert main(["predict", image, "--weights", str(smoke_run / "presence" / "best.npz"), *keep]) == 0
    ckpt = np.array(json.loads(out.read_text())["predictions"][0]["people"][0]["keypoints"])
    assert main(["predict", image, "--weights", str(smoke_run / "model.keras"), *keep]) == 0
    final = np.array(json.loads(out.read_text())["predictions"][0]["people"][0]["keypoints"])
    np.testing.assert_allclose(ckpt, final, atol=1e-3)  # model.keras is the final phase's best epoch


@pytest.mark.slow
def test_heatmap_decode_exports_to_tflite_and_is_fixed_there(smoke_run, data_root, tmp_path, capsys):
    weights = str(smoke_run / "model.keras")
    out = tmp_path / "hm.tflite"
    assert (
        main(["export", "--weights", weights, "--format", "tflite", "--decode", "heatmap", "--output", str(out)]) == 0
    )
    meta = json.loads(out.with_name(out.name + ".json").read_text())
    parity = meta["parity"]  # an argmax may jump between tied cells of this barely trained model, rarely
    assert meta["decode"] == "heatmap" and parity["joints_beyond_limit"] == parity["heatmap_ties"]
    assert parity["mean_px"] < 0.5
    assert 'decode = "heatmap"' in out.with_suffix(".toml").read_text()
    image = str(data_root / "lsp" / "images" / "im1001.jpg")
    results = {}
    for name, extra in (("keras", ["--weights", weights, "--decode", "heatmap"]), ("tflite", ["--weights", str(out)])):
        path = tmp_path / f"{name}.json"
        # One pass: the same crop for both, whatever a tie did (a second pass crops around the first's joints).
        args = ["predict", image, *extra, "--passes", "1", "--min-presence", "0"]
        assert main([*args, "--output", str(path), "--quiet"]) == 0
        results[name] = np.array(json.loads(path.read_text())["predictions"][0]["people"][0]["keypoints"])
    # A peak's score does not jump with a tie (rounded to 1e-4 in the file); its place may, for a joint or two.
    np.testing.assert_allclose(results["tflite"][:, 2], results["keras"][:, 2], atol=2e-4)
    agree = np.linalg.norm(results["tflite"][:, :2] - results["keras"][:, :2], axis=1) < 0.1
    assert agree.sum() >= 12
    assert main(["predict", image, "--weights", str(out), "--decode", "regression", "--quiet"]) == 2
    assert "was exported with decode 'heatmap'" in capsys.readouterr().err


def test_predict_video_and_evaluate_on_a_tflite_model_never_import_tensorflow(exported, data_root, tmp_path):
    """The runtime path (issue: deploy without TensorFlow): with a .tflite model, the commands run on LiteRT,
    NumPy and OpenCV alone. A fresh interpreter, since this test process has TensorFlow loaded already."""
    import subprocess
    import sys

    model, image = str(exported / "m.tflite"), str(data_root / "lsp" / "images" / "im0001.jpg")
    clip = tmp_path / "clip.avi"
    import cv2

    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 96))
    for _ in range(3):
        writer.write(np.full((96, 64, 3), 90, np.uint8))
    writer.release()
    commands = [
        ["predict", image, "--weights", model, "--threads", "1", "--output", str(tmp_path / "p.json")],
        ["video", str(clip), "--weights", model, "--json", str(tmp_path / "v.jsonl")],
        ["evaluate", "--weights", model, "--split", "val", "--limit", "2", "--output-dir", str(tmp_path / "ev")],
    ]
    code = (
        "import sys; from blazepose.cli import main\n"
        f"for args in {commands!r}:\n"
        f"    assert main([*args, '--quiet', '--data-root', {str(data_root)!r}] if args[0] == 'evaluate' "
        "else [*args, '--quiet']) == 0, args\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras'})\n"
        "assert not loaded, loaded\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert main(["predict", image, "--weights", model, "--threads", "0", "--quiet"]) == 2


@pytest.mark.parametrize("weights", [["--weights", "full"], ["--weights", "full", "--decode", "heatmap"]])
def test_predict_prints_no_native_start_up_lines(data_root, weights, tmp_path):
    """Neither LiteRT's XNNPACK line (the packaged .tflite) nor TensorFlow's absl / oneDNN lines (Keras, from
    the packaged .npz) reach stderr; only the command's own summary does."""
    import subprocess
    import sys

    image = str(data_root / "lsp" / "images" / "im0001.jpg")
    code = "import sys; from blazepose.cli import main; sys.exit(main(sys.argv[1:]))"
    args = ["predict", image, *weights, "--detector", "none", "--quiet", "--output", str(tmp_path / "p.json")]
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stderr.strip() == "predicted 1 image(s), 1 person(s)", proc.stderr

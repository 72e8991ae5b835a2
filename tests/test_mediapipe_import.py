"""MediaPipe's released models: import (parity with LiteRT), refusal of other graphs, export back with the
original signature, training from an import, and the published conventions (decode, SSD anchors)."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from blazepose import mediapipe
from blazepose.data.download import sha256_file
from blazepose.errors import BlazePoseError

FILES = {
    "mediapipe-lite": "pose_landmark_lite.tflite",
    "mediapipe-full": "pose_landmark_full.tflite",
    "mediapipe-heavy": "pose_landmark_heavy.tflite",
    "mediapipe-detector": "pose_detection.tflite",
}


@pytest.fixture(autouse=True)
def cache(tmp_path_factory, monkeypatch):
    """Every test's model cache in one temporary folder (imports are kept between tests, never in ~/.cache)."""
    monkeypatch.setenv("BLAZEPOSE_CACHE", str(tmp_path_factory.getbasetemp() / "model-cache"))


@pytest.fixture(scope="session")
def crops(data_root) -> dict[str, np.ndarray]:
    """20 real LSP images: as landmark crops (256, [0, 1]) and letterboxed as the detector sees them (224,
    [-1, 1])."""
    from blazepose.geometry import crop_matrix, warp_image, whole_image_box

    land, det = [], []
    for i in range(20):
        image = cv2.cvtColor(cv2.imread(str(data_root / "lsp" / "images" / f"im{i + 1:04d}.jpg")), cv2.COLOR_BGR2RGB)
        box = whole_image_box(image.shape[1], image.shape[0])
        land.append(warp_image(image, crop_matrix(box[:2], box[2], 256), 256))
        det.append(warp_image(image, crop_matrix(box[:2], box[2], 224), 224))
    return {
        "landmarks": np.stack(land).astype(np.float32) / 255.0,
        "detector": np.stack(det).astype(np.float32) / 127.5 - 1.0,
    }


@pytest.mark.slow
@pytest.mark.parametrize("name", list(FILES))
def test_import_matches_litert_on_real_crops(peer_models, crops, name):
    from blazepose.training.tflite_import import build_keras, parity, pose_task, read_graph

    graph = read_graph(peer_models / FILES[name])
    task = pose_task(graph)
    assert task == mediapipe.RELEASED[name].task
    model = build_keras(graph)
    checks = parity(peer_models / FILES[name], model, crops[task], task)
    assert len(checks) == len(graph.outputs)
    for out, check in zip(graph.signature()["outputs"], checks, strict=True):
        assert check["ok"], (name, out["name"], check)
    # one Keras layer per op that computes (the weights' DEQUANTIZE / DENSIFY became the layers' weights)
    assert len(model.layers) - 1 >= len(graph.ops)


def _tiny_tflite(tmp_path: Path, fn, shape, name: str) -> Path:
    import tensorflow as tf

    concrete = tf.function(fn).get_concrete_function(tf.TensorSpec(shape, tf.float32))
    path = tmp_path / name
    path.write_bytes(tf.lite.TFLiteConverter.from_concrete_functions([concrete]).convert())
    return path


def test_unsupported_op_is_refused_by_name(tmp_path, capsys):
    import tensorflow as tf

    from blazepose.cli import main

    path = _tiny_tflite(tmp_path, lambda x: tf.nn.softmax(x), (1, 8), "softmax.tflite")
    assert main(["import", str(path), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "SOFTMAX" in err[0] and "supported:" in err[0]
    assert not (tmp_path / "out").exists()


def test_graph_that_is_not_a_pose_model_is_refused(tmp_path, capsys):
    import tensorflow as tf

    from blazepose.cli import main

    kernel = tf.constant(np.ones((3, 3, 3, 4), np.float32))
    path = _tiny_tflite(
        tmp_path, lambda x: tf.nn.relu(tf.nn.conv2d(x, kernel, 1, "SAME")), (1, 32, 32, 3), "conv.tflite"
    )
    assert main(["import", str(path), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not a MediaPipe pose model" in err[0] and "[1, 32, 32, 3]" in err[0]


def test_damaged_file_is_refused(tmp_path, capsys):
    from blazepose.cli import main

    path = tmp_path / "broken.tflite"
    path.write_bytes(b"not a flatbuffer at all")
    assert main(["import", str(path), "--output", str(tmp_path / "out")]) == 2
    assert "schema reader can parse" in capsys.readouterr().err


def test_decode_layer_matches_numpy_decode(rng):
    from blazepose.models.imported import MediaPipeLandmarks

    landmarks = rng.normal(0, 80, (3, 195)).astype(np.float32)
    flag = rng.uniform(0, 1, (3, 1)).astype(np.float32)
    heat = rng.normal(0, 1, (3, 64, 64, 39)).astype(np.float32)
    joints, vis, presence = mediapipe.decode_landmarks(landmarks, flag)
    out = MediaPipeLandmarks()(landmarks, flag, heat)
    np.testing.assert_allclose(np.asarray(out["joints"]), joints, atol=1e-6)
    np.testing.assert_allclose(np.asarray(out["visibility"]), vis, atol=1e-6)
    np.testing.assert_allclose(np.asarray(out["presence"]), presence)
    assert np.asarray(out["heatmap"]).shape == (3, 64, 64, 33)
    # by hand: landmark 2's x = 128 px of 256 is the crop's middle; its visibility logit 0 is 0.5
    landmarks[0, 10:15] = [128.0, 64.0, 0.0, 0.0, 0.0]
    joints, vis, _ = mediapipe.decode_landmarks(landmarks, flag)
    assert joints[0, 2].tolist() == [0.5, 0.25] and vis[0, 2] == 0.5


def test_refine_from_heatmap_by_hand():
    """MediaPipe's refinement: the confidence-weighted mean cell of the 7 x 7 window around int(x * W), divided by
    W (no half cell); unchanged where the window's best confidence is under 0.5 or the joint is off the map."""
    off = -80.0  # sigmoid ~ 0
    heat = np.full((1, 64, 64, 4), off, np.float32)
    joints = np.array([[[0.5, 0.5], [0.5, 0.5], [0.001, 0.001], [1.2, 0.5]]], np.float32)
    heat[0, 33, 34, 0] = 80.0  # one sure cell: row 33, column 34
    heat[0, 32, 30, 1] = heat[0, 32, 34, 1] = 0.0  # two cells at confidence 0.5: their mean, column 32
    heat[0, 3, 3, 2] = 80.0  # at the window's far corner from cell (0, 0): rows and columns -3..3, clipped at 0
    heat[0, 32, 63, 3] = 80.0  # joint 3 lies off the map (x = 1.2): kept
    got = mediapipe.refine_from_heatmap(joints, heat)
    np.testing.assert_allclose(got[0, 0], [34 / 64, 33 / 64], atol=1e-6)
    np.testing.assert_allclose(got[0, 1], [32 / 64, 32 / 64], atol=1e-6)
    np.testing.assert_allclose(got[0, 2], [3 / 64, 3 / 64], atol=1e-6)
    np.testing.assert_allclose(got[0, 3], [1.2, 0.5])
    heat[0, 33, 34, 0] = -0.1  # best confidence 0.475 < 0.5: not refined
    np.testing.assert_allclose(mediapipe.refine_from_heatmap(joints, heat)[0, 0], [0.5, 0.5])


def test_ssd_anchors_and_decode_by_hand():
    anchors = mediapipe.ssd_anchors()
    assert anchors.shape == (2254, 2)
    np.testing.assert_allclose(anchors[0], [0.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(anchors[1], anchors[0])  # two anchors per cell at stride 8
    np.testing.assert_allclose(anchors[2], [1.5 / 28, 0.5 / 28])  # then the next cell of the row
    np.testing.assert_allclose(anchors[1568], [0.5 / 14, 0.5 / 14])  # stride 16 starts after 28 x 28 x 2
    np.testing.assert_allclose(anchors[-1], [6.5 / 7, 6.5 / 7])  # 6 per cell at stride 32
    codec = mediapipe.SSDCodec()
    regressors = np.zeros((2254, 12), np.float32)
    scores = np.full((2254, 1), -10.0, np.float32)
    k = 1568  # anchor centre (8, 8) in input pixels
    # face box 40 x 80 centred 10 px right of the anchor; hips 2 px below it; the body point 30 px to the right of
    # the hips: radius 30, the person lying with the head to the right (rotation +90)
    regressors[k, :8] = [10, 0, 40, 80, 0, 2, 30, 2]
    scores[k] = 2.0
    (d,) = codec.decode({"regressors": regressors, "scores": scores}, min_score=0.5)
    assert d.score == pytest.approx(1 / (1 + math.exp(-2.0)))
    assert d.box is None  # the detector's box is the face's: no person box
    a = d.alignment
    assert (a.cx, a.cy, a.radius, a.rotation) == pytest.approx((8.0, 10.0, 30.0, 90.0))


def test_locate_copies_checks_and_downloads(tmp_path, monkeypatch, peer_models):
    import functools
    import http.server
    import threading

    monkeypatch.setenv("BLAZEPOSE_CACHE", str(tmp_path / "cache"))
    # a named folder: copied into the cache with its config beside it
    path = mediapipe.locate("mediapipe-lite", folder=peer_models)
    assert path.parent == tmp_path / "cache" / "mediapipe-lite"
    assert sha256_file(path) == mediapipe.RELEASED["mediapipe-lite"].sha256
    assert 'imported = "mediapipe-lite"' in path.with_suffix(".toml").read_text()
    # a file of that name that is not MediaPipe's: refused, nothing cached
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "pose_detection.tflite").write_bytes(b"something else")
    with pytest.raises(BlazePoseError, match="sha256 differs"):
        mediapipe.locate("mediapipe", folder=bad)
    # no local source: the published download (here a local file server), checked
    monkeypatch.setattr(mediapipe, "_local_sources", lambda model, folder: [])
    served = tmp_path / "served"
    served.mkdir()
    (served / "pose_detection.tflite").write_bytes((peer_models / "pose_detection.tflite").read_bytes())
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("BLAZEPOSE_MEDIAPIPE_URL", f"http://127.0.0.1:{server.server_port}/")
        got = mediapipe.locate("mediapipe")
        assert got.name == "pose_detection.tflite" and got.parent.name == "mediapipe-detector"
        # nowhere to be had: one clear error
        with pytest.raises(BlazePoseError, match="no source has pose_landmark_heavy.tflite"):
            mediapipe.locate("mediapipe-heavy")
    finally:
        server.shutdown()


@pytest.mark.slow
def test_reexport_has_the_original_signature_and_outputs(tmp_path, peer_models, crops):
    from blazepose.export import export_mediapipe
    from blazepose.training.tflite_import import import_model, read_graph, run_tflite

    source = peer_models / "pose_landmark_lite.tflite"
    record = import_model(source, tmp_path / "imported")
    out = tmp_path / "pose_landmark_lite.tflite"
    meta = export_mediapipe(record["model"], out, "float16")
    from ai_edge_litert.interpreter import Interpreter

    def signature(path):
        interp = Interpreter(model_path=str(path))
        details = interp.get_input_details() + interp.get_output_details()
        return [(d["name"], d["shape"].tolist(), d["dtype"]) for d in details]

    assert signature(out) == signature(source)
    assert meta["sha256"] == sha256_file(out)  # written beside it, so a copy can be checked
    assert meta["signature"] == {
        k: [{**o, "dtype": "float32"} for o in v] for k, v in read_graph(source).signature().items()
    }
    ours, theirs = run_tflite(out, crops["landmarks"][:4]), run_tflite(source, crops["landmarks"][:4])
    for a, b in zip(ours, theirs, strict=True):  # float16 weights as released: the same graph
        np.testing.assert_allclose(a, b, atol=1e-3 * (1 + np.abs(b).max()))


@pytest.mark.slow
def test_export_in_this_toolkits_format_leaves_out_the_segmentation(tmp_path, data_root, peer_models):
    """An import exported as a plain .tflite holds joints, visibility, presence and the heatmaps they are refined
    from (the segmentation branch pruned away) and gives the released file's people in the pipeline."""
    from ai_edge_litert.interpreter import Interpreter
    from PIL import Image

    from blazepose.export import export_model
    from blazepose.geometry import whole_image_box
    from blazepose.inference import Predictor
    from blazepose.training.tflite_import import import_model

    record = import_model(peer_models / "pose_landmark_lite.tflite", tmp_path / "imported")
    out = tmp_path / "lite.tflite"
    meta = export_model(record["model"], "tflite", out, "float16")
    assert set(meta["outputs"]) == {"joints", "visibility", "presence", "heatmap"}
    shapes = sorted(d["shape"].tolist() for d in Interpreter(model_path=str(out)).get_output_details())
    assert shapes == [[1], [1, 33], [1, 33, 2], [1, 64, 64, 33]]  # no (1, 256, 256, 1) mask, no world landmarks
    paths = [data_root / "lsp" / "images" / f"im{i:04d}.jpg" for i in range(1, 7)]
    # one pass on the same crop, the whole image (read alone, the whole image gets turned re-crops, which carry
    # float16's differences into where the next crop lies)
    rois = [whole_image_box(*Image.open(p).size) for p in paths]
    released = Predictor("mediapipe-lite", detector="none").predict_files(paths, False, rois=rois)
    exported = Predictor(out, detector="none").predict_files(paths, False, rois=rois)
    for (_, a), (_, b) in zip(released, exported, strict=True):
        assert len(a.people) == len(b.people)
        for p, q in zip(a.people, b.people, strict=True):
            assert np.abs(p.keypoints - q.keypoints).max() < 1.0  # pixels; float16 weights either way
            assert abs(p.presence - q.presence) < 1e-3


@pytest.mark.slow
def test_training_from_imported_lite_lowers_the_loss_and_exports_back(tmp_path, data_root, peer_models):
    import keras
    import tensorflow as tf

    from blazepose.artifacts import resolve_weights
    from blazepose.codec import Codec
    from blazepose.config import load_config
    from blazepose.data.datasets import load_split
    from blazepose.data.pipeline import load_example
    from blazepose.export import export_mediapipe
    from blazepose.keypoints import skeleton_of
    from blazepose.training.formats import load_network
    from blazepose.training.phases import PoseTrainer, compile_for_phase
    from blazepose.training.train import imported_start

    cfg = imported_start(
        load_config(None, [f"data.root={data_root}", "train.init_from=mediapipe-lite", "train.finetune_epochs=1"])
    )
    assert cfg.model.imported == "mediapipe-lite" and cfg.model.skeleton == "blazepose33"
    samples = load_split(cfg.data, "train", skeleton_of(cfg))[:4]
    codec = Codec.from_config(cfg.data)
    rng = np.random.default_rng(0)
    examples = [load_example(s, rng, cfg, codec, train=False) for s in samples]
    x = np.stack([e["image"] for e in examples])
    y = {k: np.stack([e[k] for e in examples]) for k in examples[0] if k != "image"}
    assert y["mask"][:, :11].sum() == 0 and y["mask"].sum(axis=1).min() > 0  # LSP has no face: masked
    net = load_network(resolve_weights("mediapipe-lite", trainable=True))
    keras.utils.set_random_seed(0)
    trainer = PoseTrainer(net, cfg)
    compile_for_phase(trainer, "mediapipe", steps_per_epoch=8)
    ds = tf.data.Dataset.from_tensors((x, y)).repeat()
    frozen = [w.numpy().copy() for w in net.get_layer("graph").weights]
    history = trainer.fit(ds, epochs=2, steps_per_epoch=4, verbose=0).history["loss"]
    assert history[-1] < history[0]
    moved = [not np.array_equal(a, w.numpy()) for a, w in zip(frozen, net.get_layer("graph").weights, strict=True)]
    assert any(moved)
    path = tmp_path / "tuned.keras"
    net.save(path)
    (tmp_path / "tuned.toml").write_text(mediapipe.config_text("mediapipe-lite"))
    out = tmp_path / "tuned.tflite"
    meta = export_mediapipe(path, out, "none")
    assert [o["name"] for o in meta["signature"]["outputs"]] == ["Identity", *(f"Identity_{i}" for i in range(1, 5))]
    assert meta["signature"]["inputs"][0]["name"] == "input_1"


@pytest.mark.slow
def test_the_pose_flag_phase_trains_the_flag_alone(data_root, peer_models):
    """mediapipe_flag: the flag's own layers move, every weight the landmarks and heatmaps read stays as it was,
    so the joints are the same to the bit; the presence moves."""
    import keras
    import tensorflow as tf

    from blazepose.artifacts import resolve_weights
    from blazepose.config import load_config
    from blazepose.training.formats import load_network
    from blazepose.training.phases import PoseTrainer, compile_for_phase, flag_only_layers

    cfg = load_config(None, [f"data.root={data_root}", "model.imported=mediapipe-lite", "model.skeleton=blazepose33"])
    net = load_network(resolve_weights("mediapipe-lite", trainable=True))
    graph = net.get_layer("graph")
    own = flag_only_layers(graph)
    assert 0 < len(own) < 10  # the flag's read-out, not the shared features
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (4, 256, 256, 3)).astype(np.float32)
    y = {
        "presence": np.array([1.0, 0.0, 1.0, 0.0], np.float32),
        "joints": np.zeros((4, 33, 2), np.float32),
        "mask": np.zeros((4, 33), np.float32),
    }
    before = net.predict_on_batch(x)
    weights = {id(w): w.numpy().copy() for layer in graph.layers for w in layer.weights}
    keras.utils.set_random_seed(0)
    trainer = PoseTrainer(net, cfg)
    compile_for_phase(trainer, "mediapipe_flag", steps_per_epoch=4)
    trainer.fit(tf.data.Dataset.from_tensors((x, y)).repeat(), epochs=1, steps_per_epoch=3, verbose=0)
    after = net.predict_on_batch(x)
    np.testing.assert_array_equal(after["joints"], before["joints"])
    np.testing.assert_array_equal(after["heatmap"], before["heatmap"])
    assert not np.array_equal(after["presence"], before["presence"])
    for layer in graph.layers:
        for w in layer.weights:
            assert np.array_equal(weights[id(w)], w.numpy()) != (id(layer) in own), layer.name


def test_pipeline_runs_released_models_by_name(data_root, peer_models):
    from blazepose.data.images import load_image
    from blazepose.evaluation.coco_eval import coco_keypoints
    from blazepose.inference import Predictor
    from blazepose.keypoints import BLAZEPOSE33, COCO

    predictor = Predictor("mediapipe-lite", detector="mediapipe")
    assert predictor.skeleton is BLAZEPOSE33 and predictor.detection_codec.__class__ is mediapipe.SSDCodec
    assert predictor.cfg.data.crop == "aligned"  # its re-crops framed as MediaPipe's detector frames people
    image, _ = load_image(data_root / "lsp" / "images" / "im0005.jpg")
    (pred,) = predictor.predict_arrays([image])
    person = pred.people[0]
    assert person.keypoints.shape == (33, 2) and person.presence > 0.5
    h, w = image.shape[:2]
    assert (person.keypoints[23:25] >= 0).all() and (person.keypoints[23:25] <= [w, h]).all()  # the hips
    # COCO's 17 are among the 33: taken as predicted, none estimated
    coco = coco_keypoints(person.keypoints, BLAZEPOSE33)
    for name in ("nose", "left_eye", "right_ankle"):
        np.testing.assert_allclose(coco[COCO.index(name), :2], person.keypoints[BLAZEPOSE33.index(name)], rtol=1e-6)


@pytest.mark.slow
def test_another_skeleton_gets_new_landmark_outputs_on_the_imported_graph(tmp_path, data_root, peer_models):
    import json
    import shutil

    import scipy.io

    from blazepose.cli import main
    from blazepose.config import load_config
    from blazepose.training.train import train

    folder = tmp_path / "five"
    (folder / "images").mkdir(parents=True)
    joints = scipy.io.loadmat(str(data_root / "lsp" / "joints.mat"))["joints"]
    names, rows = ["head", "left_hand", "right_hand", "left_foot", "right_foot"], [13, 11, 6, 5, 0]
    samples = []
    for i in range(12):
        shutil.copy(data_root / "lsp" / "images" / f"im{i + 1:04d}.jpg", folder / "images" / f"{i}.jpg")
        kps = [[float(joints[0, k, i]), float(joints[1, k, i]), 2] for k in rows]
        samples.append({"image": f"images/{i}.jpg", "keypoints": kps})
    (folder / "annotations.json").write_text(json.dumps({"joint_names": names, "samples": samples}))
    (folder / "skeleton.toml").write_text(f"joints = {json.dumps(names)}\n")
    sets = [f"data.root={folder}", "data.split=custom", 'data.train_sets=["custom"]', "train.init_from=mediapipe-lite",
            f"model.skeleton={folder / 'skeleton.toml'}", "train.finetune_epochs=1", "train.steps_per_epoch=2",
            "train.val_samples=2", "data.batch_size=2", "train.run_eagerly=true"]  # fmt: skip
    train(load_config(None, sets), tmp_path / "run", verbose=0)
    model, image = str(tmp_path / "run" / "model.keras"), str(folder / "images" / "0.jpg")
    out = tmp_path / "p.json"
    assert main(["predict", image, "--weights", model, "--detector", "mediapipe", "--quiet", "--output", str(out)]) == 0
    payload = json.loads(out.read_text())
    assert payload["joint_names"] == names and len(payload["predictions"][0]["people"][0]["keypoints"]) == 5
    # not MediaPipe's 33 any more: no --mediapipe export, the toolkit's own instead
    export = ["export", "--weights", model, "--format", "tflite"]
    assert main([*export, "--mediapipe", "--output", str(tmp_path / "x.tflite")]) == 2
    assert main([*export, "--output", str(tmp_path / "m.tflite")]) == 0
    assert main(["predict", image, "--weights", str(tmp_path / "m.tflite"), "--quiet", "--detector", "mediapipe"]) == 0

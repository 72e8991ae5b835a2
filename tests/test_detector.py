"""The person detector: scenes and their targets, training through `blazepose train`, export and the pipeline."""

from __future__ import annotations

import json

import numpy as np
import pytest

from blazepose.alignment import alignment_from_keypoints
from blazepose.cli import main
from blazepose.data.scenes import Scene, ScenePerson, SceneSource, make_scene, place, similarity
from blazepose.keypoints import LSP
from tests.conftest import REPO


def lsp_source(data_root, index: int = 0) -> SceneSource:
    from blazepose.data.datasets import read_dataset
    from blazepose.data.scenes import load_sources, sources_from_samples

    return load_sources(sources_from_samples([read_dataset("lsp", data_root)[0][index]]), progress=False)[0]


def test_placing_an_image_moves_the_alignment_with_it(data_root):
    src = lsp_source(data_root)
    person = src.people[0]
    before = alignment_from_keypoints(person.keypoints, person.mask, LSP)
    canvas = np.zeros((224, 224, 3), np.uint8)
    scene = Scene(canvas, [], [])
    m = similarity(0.5, 90.0, (before.cx, before.cy), (112.0, 100.0))
    place(canvas, src, m, (0, 0, 224, 224), scene)
    (placed,) = scene.people
    a = placed.alignment
    # The centre lands where it was sent, the radius halves, and the image turned by +90 degrees (counter-
    # clockwise on screen) needs 90 degrees less to be upright.
    assert (a.cx, a.cy) == pytest.approx((112.0, 100.0), abs=1e-3)
    assert a.radius == pytest.approx(before.radius * 0.5, rel=1e-4)
    assert (a.rotation - (before.rotation - 90.0) + 180) % 360 - 180 == pytest.approx(0.0, abs=1e-3)
    assert canvas.any() and placed.rotation_known


def test_a_person_cut_off_far_beyond_the_canvas_is_ignored_not_a_target():
    img = np.full((100, 100, 3), 200, np.uint8)
    kps = np.tile(np.array([[50.0, 50.0]], np.float32), (14, 1))
    kps[LSP.index("left_shoulder")] = kps[LSP.index("right_shoulder")] = (50.0, 20.0)
    kps[LSP.index("head_top")] = (50.0, 5.0)
    kps[LSP.index("right_ankle")] = (50.0, 95.0)
    src = SceneSource("x.jpg", LSP, [ScenePerson(kps, np.ones(14, np.float32))], [], img)
    scene = Scene(np.zeros((64, 64, 3), np.uint8), [], [])
    # Hips sent 26 px below a 64 px canvas, beyond 0.3 radius (45 px): only the head and shoulders show; no
    # centre to aim at, so an ignore box where the person shows.
    place(scene.image, src, similarity(1.0, 0.0, (50.0, 50.0), (32.0, 90.0)), (0, 0, 64, 64), scene)
    assert scene.people == [] and len(scene.ignore) == 1


def test_random_scenes_are_reproducible_and_hold_people_and_nobody(data_root):
    sources = [lsp_source(data_root, i) for i in range(4)]
    kinds = set()
    for seed in range(12):
        a = make_scene(sources, [], np.random.default_rng(seed), 96)
        b = make_scene(sources, [], np.random.default_rng(seed), 96)
        assert np.array_equal(a.image, b.image) and len(a.people) == len(b.people)
        kinds.add(min(len(a.people), 2))
        for p in a.people:
            assert p.box[0] < p.box[2] and p.box[1] < p.box[3] and p.alignment.radius > 0
    assert kinds == {0, 1, 2}  # scenes with nobody, one person, several


DETECTOR_SMOKE = REPO / "configs" / "detector_smoke.toml"


@pytest.fixture(scope="module")
def detector_run(data_root, tmp_path_factory):
    run = tmp_path_factory.mktemp("det") / "run"
    args = ["train", "--config", str(DETECTOR_SMOKE), "--run-dir", str(run), "--data-root", str(data_root)]
    assert main(args) == 0
    return run


def test_detector_trains_with_the_landmark_models_run_directory(detector_run):
    state = json.loads((detector_run / "state.json").read_text())["phases"]["detector"]
    assert state["done"] and state["epochs_done"] == 2 and "best_val_ap" in state
    assert all(np.isfinite(h["loss"]) for h in state["history"])
    for name in ("config.toml", "model.keras", "curves.png", "detector/best.npz", "detector/last.npz"):
        assert (detector_run / name).is_file()


def test_detector_exports_and_runs_from_every_format(detector_run, tmp_path):
    from blazepose.artifacts import load_runner
    from blazepose.export import export_model

    image = np.random.default_rng(0).integers(0, 255, (1, 64, 64, 3)).astype(np.float32)
    want = load_runner(detector_run / "model.keras", task="detector")(image)
    for fmt in ("npz", "tflite"):
        out = tmp_path / f"det.{fmt}"
        meta = export_model(detector_run / "model.keras", fmt, out, parity_count=2)
        assert meta["parity"]["max_diff"]["centre"] <= 1e-3
        got = load_runner(out, task="detector")(image)
        for name in want:
            np.testing.assert_allclose(got[name], want[name], atol=1e-3)
    with pytest.raises(Exception, match="person detector"):
        load_runner(tmp_path / "det.npz")  # a detector is not a landmark model


def test_predict_with_a_detector_reports_people_and_says_when_there_is_none(detector_run, smoke_run, tmp_path, capsys):
    from PIL import Image

    blank = tmp_path / "blank.png"
    Image.new("RGB", (120, 90), (40, 40, 40)).save(blank)
    out = tmp_path / "p.json"
    args = ["predict", str(blank), "--weights", str(smoke_run / "model.keras"), "--detector"]
    # an untrained detector scores nothing near 0.99, and no crop reaches presence 1: nobody, an answer, not an error
    detector = [str(detector_run / "model.keras"), "--min-score", "0.99", "--min-presence", "1"]
    assert main([*args, *detector, "--output", str(out), "--quiet"]) == 0
    assert json.loads(out.read_text())["predictions"][0]["people"] == []
    assert "no person found in 1" in capsys.readouterr().err


def test_a_detector_run_can_start_from_the_packaged_detector_and_a_landmark_run_cannot():
    from blazepose.config import load_config
    from blazepose.errors import BlazePoseError
    from blazepose.training.formats import build_network
    from blazepose.training.train import init_weights

    cfg = load_config(None, ["task=detector", "model.variant=detector", "data.input_size=224"])
    assert init_weights(build_network(cfg), "detector") == ["backbone", "detection_head"]
    tiny = load_config(None, ["model.variant=tiny", "data.input_size=64", "data.heatmap_size=16"])
    with pytest.raises(BlazePoseError, match="holds a detector model; this config trains a landmarks model"):
        init_weights(build_network(tiny), "detector")


def test_the_packaged_detector_runs_from_its_tflite_and_trains_from_its_npz(data_root):
    """Where LiteRT is installed the packaged detector is its float16 .tflite (no TensorFlow needed); export and
    init_from take the .npz. Both give the same detections on a real photo."""
    from blazepose.artifacts import load_runner, resolve_weights
    from blazepose.codec import DetectionCodec
    from blazepose.data.images import load_image
    from blazepose.geometry import crop_matrix, warp_image, whole_image_box

    assert resolve_weights("detector").suffix == ".tflite"
    assert resolve_weights("detector", trainable=True).suffix == ".npz"
    image = load_image(data_root / "coco_mini" / "train2017" / "000000107438.jpg")[0]
    m = crop_matrix(whole_image_box(image.shape[1], image.shape[0])[:2], max(image.shape[:2]), 224)
    batch = warp_image(image, m, 224)[None]
    codec = DetectionCodec(224)
    found = []
    for path in (resolve_weights("detector"), resolve_weights("detector", trainable=True)):
        out = load_runner(path, task="detector")(batch)
        found.append(codec.decode({k: v[0] for k, v in out.items()}, 0.1, 0.5, 10))
    assert len(found[0]) == len(found[1]) > 0
    for a, b in zip(*found, strict=True):
        assert abs(a.score - b.score) < 0.01
        np.testing.assert_allclose(a.box, b.box, atol=1.0)


def test_turned_share_sets_how_many_placed_people_are_turned():
    from blazepose.data.scenes import _angle

    rng = np.random.default_rng(0)
    upright = [_angle(rng, 0.0) for _ in range(500)]
    assert max(abs(a) for a in upright) <= 20
    turned = np.abs([_angle(rng, 1.0) for _ in range(2000)])
    assert 0.45 < np.mean(turned > 90) < 0.55  # uniform over the circle: half beyond 90 degrees
    mixed = np.abs([_angle(rng, 0.35) for _ in range(4000)])
    assert 0.13 < np.mean(mixed > 90) < 0.22  # 0.35 x 0.5 = 0.175

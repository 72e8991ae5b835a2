"""The packaged pipeline on whole images: nobody, two people side by side, awkward images."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from blazepose.cli import main


@pytest.fixture(scope="module")
def predictor():
    from blazepose.inference import Predictor

    return Predictor("lite", detector="detector")  # the packaged Lite landmarks and the packaged detector


def test_a_blank_image_gives_no_pose_and_says_so(predictor, tmp_path, capsys):
    blank = tmp_path / "blank.png"
    Image.new("RGB", (640, 480), (128, 128, 128)).save(blank)
    out = tmp_path / "p.json"
    args = ["predict", str(blank), "--weights", "lite", "--detector", "detector"]
    assert main([*args, "--output", str(out), "--quiet"]) == 0
    assert json.loads(out.read_text())["predictions"][0]["people"] == []
    assert "no person found in 1" in capsys.readouterr().err
    assert predictor.predict_arrays([np.full((480, 640, 3), 128, np.uint8)])[0].people == []


@pytest.mark.parametrize("shape", [(1, 1), (3, 5000)])
def test_degenerate_images_are_answered_without_a_traceback(predictor, shape):
    image = np.zeros((*shape, 3), np.uint8)
    pred = predictor.predict_arrays([image])[0]
    assert (pred.width, pred.height) == (shape[1], shape[0]) and isinstance(pred.people, list)


@pytest.mark.parametrize("weights", ["full", "lite"])
def test_the_default_pipeline_answers_nobody_on_a_photo_without_people(data_root, weights):
    """coco_mini's landscape photo has nobody in it: the whole-image person's presence is low (0.006 Full,
    0.49 Lite: close), the detector's sign and traffic light give poses of mean joint score about 0.15 (below
    MIN_POSE_SCORE); an LSP image has its person."""
    from blazepose.data.images import load_image
    from blazepose.inference import Predictor

    predictor = Predictor(weights, detector="detector")  # the command line's default pipeline
    landscape = load_image(data_root / "coco_mini" / "train2017" / "000000107438.jpg")[0]
    person = load_image(data_root / "lsp" / "images" / "im0005.jpg")[0]
    nobody, somebody = predictor.predict_arrays([landscape, person])
    assert nobody.people == []
    assert somebody.people and somebody.people[0].presence > 0.5


@pytest.mark.parametrize("left, right", [("im0005", "im0020"), ("im0003", "im0007"), ("im0012", "im0030")])
def test_two_lsp_people_side_by_side_give_two_poses(data_root, left, right):
    """Two LSP training images pasted side by side on one grey canvas: the default pipeline (packaged Full and
    detector) gives a pose within each image (11 or more of its 14 keypoints inside it), not one stretched
    across both. (Lite misses the climber of im0012: docs/presence.md.)"""
    from blazepose.data.images import load_image
    from blazepose.inference import Predictor

    predictor = Predictor("full", detector="detector")

    a, b = (load_image(data_root / "lsp" / "images" / f"{n}.jpg")[0] for n in (left, right))
    canvas = np.full((max(a.shape[0], b.shape[0]), a.shape[1] + 20 + b.shape[1], 3), 128, np.uint8)
    canvas[: a.shape[0], : a.shape[1]] = a
    canvas[: b.shape[0], a.shape[1] + 20 :] = b
    people = predictor.predict_arrays([canvas])[0].people
    inside = [((p.keypoints[:, 0] < a.shape[1]).sum(), (p.keypoints[:, 0] > a.shape[1] + 20).sum()) for p in people]
    assert any(n >= 11 for n, _ in inside) and any(n >= 11 for _, n in inside), inside


class _PeopleEverywhere:
    """A stand-in detector whose centre map peaks on every other cell (196 candidates of small, separate boxes)."""

    input_size = 224

    def __call__(self, batch):
        b, g = batch.shape[0], self.input_size // 8
        centre = np.where((np.add.outer(np.arange(g), np.arange(g)) % 2) == 0, 4.0, -4.0)
        return {
            "centre": np.broadcast_to(centre[None, ..., None], (b, g, g, 1)).astype(np.float32),
            "offset": np.zeros((b, g, g, 2), np.float32),
            "size": np.full((b, g, g, 1), np.log(4.0 / self.input_size), np.float32),
            "rotation": np.tile(np.array([0.0, 1.0], np.float32), (b, g, g, 1)),
            "box": np.ones((b, g, g, 4), np.float32),
        }


def test_hundreds_of_detections_are_capped_without_a_traceback():
    from blazepose.inference import Predictor, Settings
    from tests.helpers import BrightestPixelRunner

    predictor = Predictor(
        runner=BrightestPixelRunner(), detector_runner=_PeopleEverywhere(), settings=Settings(min_pose_score=0.0)
    )
    image = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    assert len(predictor.detect([image])[0]) == 10  # 196 peaks, the 100 best kept for NMS, MAX_PEOPLE after
    people = predictor.predict_arrays([image])[0].people
    assert 1 <= len(people) <= 10


def test_coco_results_of_an_lsp_model_estimate_the_face_at_the_head(data_root, tmp_path):
    """`predict --format coco` with the packaged Lite (LSP's 14 joints): all 17 COCO keypoints are filled; the
    estimated nose, eyes and ears lie between the predicted neck and head top (within the neck-to-head length of
    both), not at zero."""
    from blazepose.keypoints import COCO, LSP

    image = str(data_root / "lsp" / "images" / "im0005.jpg")
    coco, plain = tmp_path / "c.json", tmp_path / "p.json"
    args = ["predict", image, "--weights", "lite", "--detector", "none", "--quiet"]
    assert main([*args, "--format", "coco", "--output", str(coco)]) == 0
    assert main([*args, "--output", str(plain)]) == 0
    (result,) = json.loads(coco.read_text())
    rows = np.asarray(result["keypoints"]).reshape(17, 3)
    kps = np.asarray(json.loads(plain.read_text())["predictions"][0]["people"][0]["keypoints"])[:, :2]
    neck, top = kps[LSP.index("neck")], kps[LSP.index("head_top")]
    length = np.linalg.norm(top - neck)
    np.testing.assert_allclose(rows[COCO.index("left_hip"), :2], kps[LSP.index("left_hip")], atol=0.01)
    for name in ("nose", "left_eye", "right_eye", "left_ear", "right_ear"):
        point = rows[COCO.index(name), :2]
        assert np.linalg.norm(point - neck) < length and np.linalg.norm(point - top) < length, name

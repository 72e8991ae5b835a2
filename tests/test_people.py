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


def test_the_whole_image_pipeline_answers_nobody_on_a_photo_without_people(data_root):
    """The packaged Full model's presence output (docs/presence.md): coco_mini's landscape photo has nobody in
    it (presence 0.025 measured), an LSP image has its person (0.77 and above on LSP's validation part)."""
    from blazepose.data.images import load_image
    from blazepose.inference import Predictor

    predictor = Predictor("full")  # no detector: the default pipeline
    landscape = load_image(data_root / "coco_mini" / "train2017" / "000000107438.jpg")[0]
    person = load_image(data_root / "lsp" / "images" / "im0005.jpg")[0]
    nobody, somebody = predictor.predict_arrays([landscape, person])
    assert nobody.people == []
    assert len(somebody.people) == 1 and somebody.people[0].presence > 0.5

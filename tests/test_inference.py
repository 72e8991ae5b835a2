"""Predictor geometry (with a stand-in network), predict/evaluate on a real smoke-trained model."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from blazepose import inference
from blazepose.artifacts import packaged_path, resolve_weights
from blazepose.cli import main
from blazepose.errors import BlazePoseError
from blazepose.inference import Predictor, Settings
from blazepose.keypoints import LSP
from tests.helpers import BrightestPixelRunner, blob


def test_two_passes_find_a_dot_in_original_pixels():
    img = blob(400, 80)
    runner = BrightestPixelRunner()
    pred = Predictor(runner=runner, settings=Settings(passes=2)).predict_arrays([img])[0]
    assert (pred.width, pred.height) == (500, 300)
    # Pass 1 letterboxes 500 px into 64 (a 7.8 px grid); pass 2 re-crops around the dot and lands on it.
    np.testing.assert_allclose(pred.keypoints, np.tile([[400, 80]], (14, 1)), atol=1.0)
    assert len(runner.crops) == 2
    # Pass 1 saw the whole image letterboxed: black bands above and below (300 of 500 px used).
    assert runner.crops[0][0, :10].max() == 0 and runner.crops[0][0, -10:].max() == 0


def test_one_pass_is_coarser_than_two():
    img = blob(403, 77)
    one = Predictor(runner=BrightestPixelRunner(), settings=Settings(passes=1)).predict_arrays([img])[0]
    two = Predictor(runner=BrightestPixelRunner(), settings=Settings(passes=2)).predict_arrays([img])[0]
    err = lambda p: np.abs(p.keypoints[0] - (403, 77)).max()  # noqa: E731
    assert err(two) <= 1.0 < err(one) + 1.0 and err(one) <= 500 / 64


@pytest.mark.parametrize("imported", [False, True])
def test_mediapipe_networks_get_their_inputs_warped_as_mediapipe_warps_them(imported, rng):
    """This toolkit's models see big images shrunk through an area prefilter (as they were trained), MediaPipe's
    (model.imported) through the bilinear warp alone, as MediaPipe's pipeline feeds them: pixel noise shrunk
    25x averages out with the prefilter and keeps its contrast without."""
    from blazepose.config import config_from_dict

    noise = rng.integers(0, 256, (1600, 1600, 3), dtype=np.uint8)
    runner = BrightestPixelRunner()
    predictor = Predictor(runner=runner, settings=Settings(passes=1))
    predictor.cfg = config_from_dict({"model": {"imported": "mediapipe-full" if imported else ""}})
    predictor.antialias = inference._antialias(predictor.cfg)
    predictor.predict_arrays([noise])
    assert (runner.crops[0].std() > 50) == imported, runner.crops[0].std()
    if imported:  # the default, MediaPipe's Full and its detector: both warped alone
        default = Predictor()
        assert not default.antialias and not default.detector_antialias


class LyingRunner:
    """Every crop holds a person lying with the head to the crop's right: hips at x 0.3, shoulders at 0.7."""

    input_size = 64
    num_joints = 14

    def __call__(self, batch):
        joints = np.full((len(batch), 14, 2), 0.5, np.float32)
        for name, x in (("left_hip", 0.3), ("right_hip", 0.3), ("left_shoulder", 0.7), ("right_shoulder", 0.7)):
            joints[:, LSP.index(name), 0] = x
        return joints, np.ones((len(batch), 14), np.float32), None


@pytest.mark.parametrize("crop, passes", [("aligned", 3), ("box", 1)])
def test_a_model_of_aligned_crops_reads_the_whole_image_in_turned_recrops(crop, passes):
    """A model trained on upright aligned crops (MediaPipe's) reads the whole image, no such crop, in
    ALIGNED_WHOLE_PASSES passes, each re-crop turned upright by the last keypoints in the image (the person
    lies in every crop, head to the crop's right: a quarter turn, then another, 180 degrees from the image); a
    model of box crops keeps its one axis-aligned pass."""
    from blazepose.config import config_from_dict

    predictor = Predictor(runner=LyingRunner(), settings=Settings(passes=1))
    predictor.cfg = config_from_dict({"data": {"crop": crop}})
    mats, run = [], predictor._run
    predictor._run = lambda images, ms: (mats.extend(ms), run(images, ms))[1]
    (pred,) = predictor.predict_arrays([blob(250, 150)])
    assert len(pred.people) == 1 and len(mats) == passes
    assert mats[0][0, 1] == 0  # the whole image: axis-aligned
    if passes == 3:
        assert abs(mats[1][0, 0]) < 1e-9 * abs(mats[1][0, 1])  # 90 degrees: no x -> x term
        assert abs(mats[2][0, 1]) < 1e-9 * abs(mats[2][0, 0]) and mats[2][0, 0] < 0  # 180: x -> -x


class QueueRunner:
    """Returns the given (joints, visibility) outputs in turn: the plain crop's, then the mirrored crop's."""

    input_size = 64
    num_joints = 14

    def __init__(self, *outputs):
        self.outputs = list(outputs)

    def __call__(self, batch):
        joints, vis = self.outputs.pop(0)
        return np.float32(joints)[None], np.float32(vis)[None], None


def test_flip_swaps_sides_averages_agreeing_joints_and_keeps_the_surer_of_two_disagreeing():
    plain, mirrored = np.full((14, 2), 0.5), np.full((14, 2), 0.5)
    plain_vis, mirrored_vis = np.full(14, 0.5), np.full(14, 0.5)
    plain[12], plain_vis[12] = [0.40, 0.50], 0.9  # neck: its own mirror
    mirrored[12], mirrored_vis[12] = [0.58, 0.52], 0.7  # mapped back: (1 - 0.58, 0.52) = (0.42, 0.52)
    plain[0], plain_vis[0] = [0.30, 0.90], 0.2  # right ankle, unsure
    plain[5], plain_vis[5] = [0.70, 0.90], 0.8  # left ankle, sure
    mirrored[5], mirrored_vis[5] = [0.30, 0.88], 0.7  # the mirror's left ankle is the right ankle: (0.70, 0.88)
    mirrored[0], mirrored_vis[0] = [0.60, 0.90], 0.3  # the mirror's right ankle is the left ankle: (0.40, 0.90)
    predictor = Predictor(runner=QueueRunner((plain, plain_vis), (mirrored, mirrored_vis)), flip=True)
    joints, vis, *_ = predictor._infer(np.zeros((1, 64, 64, 3), np.float32))
    # Neck: 0.028 apart (< 0.1), averaged: ((0.40 + 0.42) / 2, (0.50 + 0.52) / 2), score (0.9 + 0.7) / 2.
    np.testing.assert_allclose(joints[0, 12], [0.41, 0.51], atol=1e-6)
    np.testing.assert_allclose(vis[0, 12], 0.8, atol=1e-6)
    # Right ankle: 0.40 apart; the mirror (score 0.7, from its left ankle) beats the plain crop's 0.2.
    np.testing.assert_allclose(joints[0, 0], [0.70, 0.88], atol=1e-6)
    np.testing.assert_allclose(vis[0, 0], 0.7, atol=1e-6)
    # Left ankle: 0.30 apart; the plain crop's 0.8 beats the mirror's 0.3 and is kept as it was.
    np.testing.assert_allclose(joints[0, 5], [0.70, 0.90], atol=1e-6)
    np.testing.assert_allclose(vis[0, 5], 0.8, atol=1e-6)


def test_flip_maps_a_mirrored_pixel_back_onto_itself():
    # The brightest pixel of the mirrored crop, mapped back, is the same pixel: no half-pixel drift.
    img = blob(403, 77)
    plain = Predictor(runner=BrightestPixelRunner(), settings=Settings(passes=2)).predict_arrays([img])[0]
    flipped = Predictor(runner=BrightestPixelRunner(), settings=Settings(passes=2), flip=True).predict_arrays([img])[0]
    np.testing.assert_allclose(flipped.keypoints, plain.keypoints, atol=1e-3)


def test_no_default_model_says_how_to_pass_one(monkeypatch, tmp_path):
    monkeypatch.setattr("blazepose.presets.PRESETS_DIR", tmp_path)
    with pytest.raises(BlazePoseError, match="no packaged full model is installed.*weights file"):
        packaged_path("full")


def test_packaged_model_names(monkeypatch, tmp_path):
    monkeypatch.setattr("blazepose.presets.PRESETS_DIR", tmp_path / "pkg")
    (tmp_path / "pkg" / "lite").mkdir(parents=True)
    (tmp_path / "pkg" / "lite" / "blazepose_lite.npz").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    assert resolve_weights("lite") == tmp_path / "pkg" / "lite" / "blazepose_lite.npz"
    for name, shown in ((None, "mp-full"), ("full", "full")):  # None is the default, mp-full: not installed here
        with pytest.raises(BlazePoseError, match=f"no packaged {shown} model is installed"):
            resolve_weights(name)
    (tmp_path / "lite").write_bytes(b"")  # a file of that name in the working folder wins
    assert resolve_weights("lite") == Path("lite")
    assert resolve_weights("runs/x.keras") == Path("runs/x.keras")
    # a near miss of a packaged name is refused with the names
    with pytest.raises(BlazePoseError, match="did you mean full.*packaged: full, lite, detector, mp-full"):
        resolve_weights("ful")


def test_bad_weights_files(tmp_path, capsys):
    img = tmp_path / "a.jpg"
    Image.new("RGB", (20, 20)).save(img)
    fake = tmp_path / "model.keras"
    fake.write_text("not a model")
    for weights, words in [(fake, "not a Keras model Keras can read"), (tmp_path / "none.keras", "does not exist"),
                           (img, "unsupported weights file")]:  # fmt: skip
        assert main(["predict", str(img), "--weights", str(weights), "--quiet"]) == 2
        assert words in capsys.readouterr().err


def test_predict_json_layout_and_skipped_files(smoke_run, data_root, tmp_path, capsys):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for name in ("im1001.jpg", "im1002.jpg"):
        (folder / name).write_bytes((data_root / "lsp" / "images" / name).read_bytes())
    (folder / "broken.jpg").write_bytes(b"not an image")
    out = tmp_path / "preds.json"
    draw = tmp_path / "drawn"
    args = ["predict", str(folder), "--weights", str(smoke_run / "model.keras"), "--output", str(out)]
    assert main([*args, "--draw", str(draw), "--detector", "none", "--min-presence", "0", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "broken.jpg" in err and "skipped 1 unreadable file" in err
    data = json.loads(out.read_text())
    assert list(data) == ["joint_names", "predictions"] and data["joint_names"] == list(LSP.joint_names)
    assert [p["image"] for p in data["predictions"]] == [str(folder / "im1001.jpg"), str(folder / "im1002.jpg")]
    for p in data["predictions"]:
        assert list(p) == ["image", "width", "height", "people"]
        (person,) = p["people"]  # no detector: the whole-image passes give one person
        assert list(person) == ["score", "keypoints", "presence"]
        assert len(person["keypoints"]) == 14 and all(len(k) == 3 for k in person["keypoints"])
    w, h = Image.open(folder / "im1001.jpg").size
    assert (data["predictions"][0]["width"], data["predictions"][0]["height"]) == (w, h)
    assert sorted(p.name for p in draw.iterdir()) == ["im1001.png", "im1002.png"]


@pytest.mark.parametrize("name", ["full", "lite"])
def test_packaged_models_find_people(name, data_root, tmp_path):
    """The shipped weights load into the right layers: a mis-assigned model scores near 0 (the packaged Full
    scores 77.9 %, Lite 75.2 % on the whole validation split)."""
    args = ["evaluate", "--weights", name, "--split", "val", "--limit", "8", "--quiet", "--data-root", str(data_root)]
    assert main([*args, "--output-dir", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "report.json").read_text())["pck@0.2"]["mean"] > 0.3


def test_evaluate_writes_reports_and_compares(smoke_run, data_root, tmp_path, capsys):
    base = ["evaluate", "--weights", str(smoke_run / "model.keras"), "--split", "val", "--limit", "6", "--quiet"]
    base += ["--data-root", str(data_root)]
    assert main([*base, "--output-dir", str(tmp_path / "a")]) == 0
    for name in ("report.json", "report.md", "pck_curve.png"):
        assert (tmp_path / "a" / name).is_file()
    report = json.loads((tmp_path / "a" / "report.json").read_text())
    assert report["crop"] == "whole image" and report["images"] == 6
    assert set(report["pck@0.2"]["per_part"]) == {p for p, _ in LSP.parts}
    assert 0.0 <= report["pck@0.2"]["mean"] <= 1.0 and "legacy_seed_metric" in report
    assert (
        main(
            [
                *base,
                "--crop",
                "gt",
                "--output-dir",
                str(tmp_path / "b"),
                "--compare",
                str(tmp_path / "a" / "report.json"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "uses ground truth" in out and "| Mean |" in out and "difference" in out
    assert "95 % interval" in out and "paired bootstrap over the 6 images" in out  # the same 6 images
    assert "NOT PCK@0.2" in (tmp_path / "a" / "report.md").read_text()
    assert "left/right confusions" in (tmp_path / "a" / "report.md").read_text()
    swaps = report["left_right_swaps@0.2"]
    assert 0 <= swaps["swapped"] <= report["pck@0.2"]["valid"] and swaps["whole_body_images"] <= 6


def test_output_problems_are_found_before_any_work(tmp_path, capsys):
    img = tmp_path / "a.png"
    Image.new("RGB", (64, 64)).save(img)
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("x")
    (tmp_path / "busy.json.lock").write_text(str(os.getppid()))  # a live process holds it
    cases = [
        (["--output", str(tmp_path / "folder")], "is a folder"),
        (["--output", str(tmp_path / "file" / "p.json")], "is a file, not a folder"),
        (["--draw", str(tmp_path / "file")], "is a file; expected a folder"),
        (["--output", str(tmp_path / "busy.json")], f"another blazepose run (process {os.getppid()}) is writing"),
        (["--batch-size", "0"], "--batch-size must be at least 1"),
    ]
    for extra, words in cases:
        assert main(["predict", str(img), "--weights", "nonexistent.keras", "--quiet", *extra]) == 2
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err, (extra, err)

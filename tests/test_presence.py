"""The presence output (the paper's pose flag): its negatives, the network's output, and what the pipeline does
with it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from blazepose.config import load_config
from blazepose.data.negatives import NegativeSource, draw_negative, negative_crop, whole_view
from blazepose.errors import BlazePoseError
from blazepose.inference import Predictor, Settings, person_json
from tests.helpers import BrightestPixelRunner, blob


def test_negative_crops_never_touch_a_person_box():
    """The left half of the image is 'person' (white): every crop must come from the black right half, whatever
    its size and angle."""
    image = np.zeros((200, 400, 3), np.uint8)
    image[:, :200] = 255
    rng = np.random.default_rng(0)
    crops = [negative_crop(image, [(0.0, 0.0, 199.0, 199.0)], rng, 32, tries=50) for _ in range(40)]
    found = [c for c in crops if c is not None]
    assert len(found) >= 20  # there is room on the right: most draws succeed
    assert all(c.shape == (32, 32, 3) and c.max() < 128 for c in found)


def test_an_image_that_is_all_person_gives_no_crop_and_the_draw_still_answers(tmp_path):
    image = np.full((100, 100, 3), 255, np.uint8)
    assert negative_crop(image, [(0.0, 0.0, 99.0, 99.0)], np.random.default_rng(0), 32) is None
    # sources that are all person or unreadable: a plain noisy colour, never an exception inside the pipeline
    sources = [NegativeSource(str(tmp_path / "missing.jpg")), NegativeSource(str(tmp_path / "gone.jpg"))]
    crop = draw_negative(sources, np.random.default_rng(0), 48)
    assert crop.shape == (48, 48, 3) and crop.dtype == np.uint8


def test_an_image_without_people_is_also_shown_whole_as_the_pipeline_reads_it(tmp_path):
    """A wide image (80 x 40) without people, letterboxed onto 32 x 32: its content fills the middle rows
    (16 of 32 at zoom 1, at least 14 zoomed out by up to 10 %), zero padding above and below."""
    import cv2

    image = np.full((40, 80, 3), 200, np.uint8)
    for seed in range(5):
        view = whole_view(image, np.random.default_rng(seed), 32)
        filled = (view[:, 12:20, 0] > 100).all(axis=1)
        assert view.shape == (32, 32, 3) and filled[15:17].all() and not filled[:6].any() and not filled[-6:].any()
        assert 14 <= filled.sum() <= 17
    path = tmp_path / "empty.png"
    cv2.imwrite(str(path), image)
    draws = [draw_negative([NegativeSource(str(path))], np.random.default_rng(seed), 32) for seed in range(40)]
    whole = sum(1 for d in draws if not (d[:4, 12:20, 0] > 100).any())  # padding on top: a whole view
    assert 8 <= whole <= 32  # about half of the draws (WHOLE_SHARE), the rest regions at 20-90 % of the side


def test_the_presence_head_is_a_probability_and_only_a_presence_model_has_it():
    from blazepose.models.blazepose import build_from_config, inference_model_for

    base = ["model.variant=tiny", "data.input_size=64", "data.heatmap_size=16"]
    cfg = load_config(None, [*base, "model.presence=true"])
    net = build_from_config(cfg)
    images = np.random.default_rng(0).integers(0, 255, (3, 64, 64, 3)).astype("float32")
    for decode in ("regression", "heatmap"):
        out = inference_model_for(net, cfg, decode)(images)
        p = np.asarray(out["presence"])
        assert p.shape == (3, 1) and np.all((p > 0) & (p < 1)), decode
    plain = load_config(None, base)
    assert "presence" not in build_from_config(plain).output
    assert "presence" not in inference_model_for(net, plain).output  # the exported layout of a model without it


def test_presence_epochs_need_a_presence_output():
    with pytest.raises(BlazePoseError, match="model.presence = true"):
        load_config(None, ["train.presence_epochs=2"])


def test_whole_image_pipeline_answers_nobody_when_the_presence_says_so():
    image = blob(200, 100)
    assert Predictor(runner=BrightestPixelRunner(presence=0.2)).predict_arrays([image])[0].people == []
    (person,) = Predictor(runner=BrightestPixelRunner(presence=0.8)).predict_arrays([image])[0].people
    assert person.presence == pytest.approx(0.8) and person_json(person)["presence"] == pytest.approx(0.8)
    # single-person evaluation keeps its one answer whatever the presence
    (kept,) = (
        Predictor(runner=BrightestPixelRunner(presence=0.2), settings=Settings(fallback=True))
        .predict_arrays([image])[0]
        .people
    )
    assert kept.presence == pytest.approx(0.2)
    # the threshold is the caller's; a model without a presence output is never filtered
    assert len(Predictor(runner=BrightestPixelRunner(presence=0.2), min_presence=0.1).predict_arrays([image])[0].people)
    assert "presence" not in person_json(Predictor(runner=BrightestPixelRunner()).predict_arrays([image])[0].people[0])
    with pytest.raises(BlazePoseError, match="min presence"):
        Predictor(runner=BrightestPixelRunner(), min_presence=1.5)


def test_detections_without_a_person_are_dropped_and_flip_averages_the_presence():
    from tests.helpers import BrightestPixelDetector

    image = blob(200, 100)
    runner = BrightestPixelRunner(presence=0.3)
    assert Predictor(runner=runner, detector_runner=BrightestPixelDetector()).predict_arrays([image])[0].people == []
    runner.presence = 0.7
    (person,) = (
        Predictor(runner=runner, detector_runner=BrightestPixelDetector(), flip=True).predict_arrays([image])[0].people
    )
    assert person.presence == pytest.approx(0.7) and person.box is not None


def _person(x0, y0, x1, y1, score, presence=0.9, detected=True):
    """A person whose 14 keypoints span the box (x0, y0)-(x1, y1)."""
    from blazepose.inference import Person

    kps = np.array([[x0, y0], [x1, y1]] + [[(x0 + x1) / 2, (y0 + y1) / 2]] * 12, np.float32)
    return Person(
        kps, np.full(14, score, np.float32), score, presence=presence, detection_score=0.5 if detected else None
    )


def test_the_merge_keeps_one_of_two_overlapping_people_and_drops_split_detections():
    """Worked by hand: B overlaps A at IoU 0.95 (NMS at 0.5), C lies wholly inside A (a split detection), D is
    beside A (kept), E is below the pose score, F says nobody is there; the order is by mean joint score."""
    predictor = Predictor(runner=BrightestPixelRunner())
    a = _person(0, 0, 100, 200, 0.5, detected=False)  # the whole-image person
    b = _person(0, 10, 100, 200, 0.4)  # IoU with a: 19000 / 20000 = 0.95
    c = _person(20, 100, 60, 190, 0.6)  # inside a, and better scored: a is then inside nothing, c is kept first
    d = _person(150, 0, 250, 200, 0.3)
    e = _person(300, 0, 400, 200, 0.19)  # a detected person under MIN_POSE_SCORE (0.2)
    f = _person(500, 0, 600, 200, 0.9, presence=0.1)
    chosen = predictor._choose([a, b, c, d, e, f])
    # c ranks first; a covers only 3600 / 20000 of itself with c: kept; b is a duplicate of a; d stands apart
    assert chosen == [c, a, d]
    chosen = predictor._choose([dataclasses.replace(c, score=0.45), a, d])
    assert chosen == [a, d]  # c ranked below a lies wholly inside it: a split detection


def test_the_whole_image_person_needs_only_presence():
    predictor = Predictor(runner=BrightestPixelRunner())
    low = _person(0, 0, 100, 200, 0.1, detected=False)
    assert predictor._choose([low]) == [low]
    assert predictor._choose([_person(0, 0, 100, 200, 0.1)]) == []


def test_when_the_whole_image_is_a_first_pass_beside_the_detector():
    """Landmark crops run per image: the detected person's, and the whole image's as `whole_image` says."""
    from tests.helpers import BrightestPixelDetector

    image = blob(250, 150)

    def crops(mode, presence=0.9, fallback=False):
        runner = BrightestPixelRunner(presence=presence)
        predictor = Predictor(
            runner=runner,
            detector_runner=BrightestPixelDetector(),
            settings=Settings(whole_image=mode, passes=1, fallback=fallback),
        )
        predictor.predict_arrays([image])
        return sum(len(batch) for batch in runner.crops)

    assert crops("always") == 2  # the detected person's crop and the whole image
    assert crops("if_empty") == 1  # the detected person is present: no whole-image pass
    assert crops("if_empty", presence=0.1) == 2  # nobody present among the detected: the whole image too
    assert crops("never", presence=0.1) == 1
    assert crops("never", presence=0.1, fallback=True) == 2  # single-person evaluation still gets its person
    with pytest.raises(BlazePoseError, match="whole image must be one of always, if_empty, never"):
        Predictor(runner=BrightestPixelRunner(), settings=Settings(whole_image="sometimes"))

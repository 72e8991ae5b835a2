"""The orientation output: its label, its reading, and the pipeline turning a re-crop upright by it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from blazepose.alignment import alignment_from_keypoints, angle_gap, orientation_angles
from blazepose.config import load_config
from blazepose.data.transforms import crop_matrix, transform_points
from blazepose.errors import BlazePoseError
from blazepose.inference import Found, Predictor
from blazepose.keypoints import LSP
from tests.helpers import BrightestPixelRunner, blob


def _person(hips, shoulders) -> tuple[np.ndarray, np.ndarray]:
    """LSP keypoints with both hips at `hips` and both shoulders at `shoulders` (the rest at the hips)."""
    kps = np.tile(np.float64(hips), (14, 1))
    for name in ("left_shoulder", "right_shoulder"):
        kps[LSP.index(name)] = shoulders
    return kps, np.ones(14)


def test_reading_the_output_by_hand():
    angles, lengths = orientation_angles(np.array([[0.0, 1.0], [1.0, 0.0], [0.0, -0.5], [-0.6, 0.0]]))
    np.testing.assert_allclose(angles, [0.0, 90.0, 180.0, -90.0], atol=1e-9)
    np.testing.assert_allclose(lengths, [1.0, 1.0, 0.5, 0.6], atol=1e-9)
    np.testing.assert_allclose(angle_gap([170.0, 10.0, 90.0], [-170.0, 350.0, -90.0]), [20.0, 20.0, 180.0])


def test_the_label_by_hand():
    from blazepose.losses import orientation_loss, orientation_target

    # crops (normalized, y down): upright, lying with the head to the right, upside down, shoulders unlabelled
    joints = np.zeros((4, 14, 2), np.float32)
    mask = np.ones((4, 14), np.float32)
    people = [((0.5, 0.6), (0.5, 0.3)), ((0.4, 0.5), (0.7, 0.5)), ((0.5, 0.3), (0.5, 0.6))]
    for i, (hips, shoulders) in enumerate(people):
        joints[i] = _person(hips, shoulders)[0]
    mask[3, LSP.index("left_shoulder")] = 0
    hips = (LSP.index("left_hip"), LSP.index("right_hip"))
    shoulders = (LSP.index("left_shoulder"), LSP.index("right_shoulder"))
    target, valid = orientation_target(joints, mask, hips, shoulders)
    np.testing.assert_allclose(np.asarray(target)[:3], [[0, 1], [1, 0], [0, -1]], atol=1e-6)
    np.testing.assert_array_equal(np.asarray(valid), [1, 1, 1, 0])
    y = {"joints": joints, "mask": mask}
    # all right: 0; the first read upside down: (0 - 0)^2 + (-1 - 1)^2 = 4 over 3 labelled crops
    assert float(orientation_loss(y, np.asarray(target), hips, shoulders)) == pytest.approx(0.0, abs=1e-6)
    wrong = np.asarray(target).copy()
    wrong[0] = [0.0, -1.0]
    wrong[3] = [5.0, 5.0]  # not labelled: not counted
    assert float(orientation_loss(y, wrong, hips, shoulders)) == pytest.approx(4.0 / 3.0, abs=1e-6)


@pytest.mark.parametrize("person,crop", [(90.0, 30.0), (180.0, -45.0), (-120.0, 170.0), (10.0, 0.0)])
def test_the_crops_turn_and_the_persons_turn_within_it_add_up(person, crop):
    """The pipeline reads the person's rotation in the image as the crop's rotation plus the rotation the output
    reads in the crop: worked through the keypoints' own alignment."""
    a = math.radians(person)
    hips = np.array([120.0, 200.0])
    kps, mask = _person(hips, hips + 80.0 * np.array([math.sin(a), -math.cos(a)]))
    assert angle_gap(alignment_from_keypoints(kps, mask, LSP).rotation, person) < 1e-6
    m = crop_matrix((130.0, 180.0), 300.0, 64, crop)
    within = alignment_from_keypoints(transform_points(kps, m).astype(np.float64), mask, LSP).rotation
    assert angle_gap(math.degrees(math.atan2(m[0, 1], m[0, 0])), crop) < 1e-9
    assert angle_gap(crop + within, person) < 1e-4


def test_turn_takes_the_outputs_rotation_only_where_it_is_sure_and_far_enough():
    kps = np.zeros((5, 14, 2), np.float32)
    kps[:, :, 0], kps[:, :, 1] = np.arange(14) * 3.0, np.arange(14) * 7.0  # any spread
    found = Found(
        kps,
        np.ones((5, 14)),
        rotation=np.array([180.0, 180.0, 40.0, -90.0, 170.0]),
        confidence=np.array([0.9, 0.3, 0.9, 0.6, 0.9]),
    )
    predictor = Predictor(runner=BrightestPixelRunner())
    # sure and 180 away: turned; unsure: as given; 40 deg: below the minimum turn; -90 away from 0: turned; the
    # last is 10 deg from 180: as given
    assert predictor.turn(found, [0.0, 0.0, 0.0, 0.0, 180.0]) == [180.0, 0.0, 0.0, -90.0, 180.0]
    assert predictor.turn(found._replace(rotation=None, confidence=None), [0.0] * 5) == [0.0] * 5  # no output
    predictor = Predictor(runner=BrightestPixelRunner(), turn_upright=False)
    assert predictor.turn(found, [0.0] * 5) == [0.0] * 5
    predictor = Predictor(runner=BrightestPixelRunner(), orientation_confidence=0.2, min_turn=30.0)
    assert predictor.turn(found, [0.0] * 5) == [180.0, 180.0, 40.0, -90.0, 170.0]
    # nobody there (presence below the threshold): not turned
    empty = found._replace(presence=np.array([0.9, 0.9, 0.9, 0.2, 0.9]))
    assert predictor.turn(empty, [0.0] * 5) == [180.0, 180.0, 40.0, 0.0, 170.0]


def test_a_person_read_upside_down_is_read_again_turned_and_mapped_back():
    """A stand-in whose orientation output says "turned 180" for every crop: the second pass's crop is the first
    pass's re-crop turned half a circle (its bright pixel mirrored through the centre), and the keypoint still
    lands on the bright spot in the image."""
    image = blob(350, 90)
    plain = BrightestPixelRunner()
    Predictor(runner=plain, passes=2, detector=None).predict_arrays([image])
    runner = BrightestPixelRunner(orientation=(0.0, -0.9))
    pred = Predictor(runner=runner, passes=2, detector=None).predict_arrays([image])[0]
    assert np.abs(pred.keypoints[0] - (350, 90)).max() <= 1.0
    np.testing.assert_array_equal(runner.crops[0], plain.crops[0])  # the whole image: not turned
    size = runner.input_size
    turned = np.unravel_index(runner.crops[1][0, ..., 0].argmax(), (size, size))
    upright = np.unravel_index(plain.crops[1][0, ..., 0].argmax(), (size, size))
    assert np.abs(np.array(turned) - (size - 1 - np.array(upright))).max() <= 1
    # unsure: not turned
    unsure = BrightestPixelRunner(orientation=(0.0, -0.3))
    Predictor(runner=unsure, passes=2, detector=None).predict_arrays([image])
    np.testing.assert_array_equal(unsure.crops[1], plain.crops[1])


def test_orientation_epochs_need_the_output_and_the_phase_needs_hips_and_shoulders(tmp_path):
    with pytest.raises(BlazePoseError, match="model.orientation = true"):
        load_config(None, ["train.orientation_epochs=2"])
    from types import SimpleNamespace

    from blazepose.keypoints import Skeleton
    from blazepose.training.train import OrientationValidationSet

    arms = Skeleton("arms", ("left_wrist", "right_wrist"), ((0, 1),))
    with pytest.raises(BlazePoseError, match="both hips and both shoulders; skeleton arms lacks them"):
        OrientationValidationSet(load_config(None, []), SimpleNamespace(skeleton=arms))


@pytest.mark.parametrize("person", [180.0, 90.0, -135.0])
def test_upright_training_crops_show_the_person_upright(person):
    """augment.upright_prob = 1 (no other jitter): whatever the person's rotation in the image, the crop's
    keypoints give rotation 0; 0 leaves it as it is."""
    import dataclasses

    from blazepose.data.transforms import augment

    a = math.radians(person)
    kps, mask = _person((100.0, 120.0), (100.0, 120.0) + 50.0 * np.array([math.sin(a), -math.cos(a)]))
    image = np.zeros((240, 200, 3), np.uint8)
    still = dict(scale_jitter=0.0, shift_jitter=0.0, rotation_deg=0.0, flip_prob=0.0, whole_image_prob=0.0)
    aug = dataclasses.replace(load_config(None, []).augment, occlusion_prob=0.0, upright_prob=1.0, **still)
    for prob, want in ((1.0, 0.0), (0.0, person)):
        out = augment(
            image, kps, mask, mask, np.random.default_rng(0), 64, 1.3, dataclasses.replace(aug, upright_prob=prob), LSP
        )
        assert angle_gap(alignment_from_keypoints(out[1].astype(np.float64), mask, LSP).rotation, want) < 1e-3

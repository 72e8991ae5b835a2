"""The paper's alignment (centre, radius, rotation) and the upright crops it defines, with hand-worked numbers."""

from __future__ import annotations

import numpy as np
import pytest

from blazepose.alignment import Alignment, alignment_from_keypoints
from blazepose.geometry import transform_points, upright_box, upright_rotation
from blazepose.keypoints import COCO, LSP


def lsp_person(hips, shoulders, extra=()):
    """LSP keypoints: both hips at `hips`, both shoulders at `shoulders`, the rest at `extra` or the hips."""
    kps = np.tile(np.asarray(hips, np.float32), (14, 1))
    for name in ("left_shoulder", "right_shoulder"):
        kps[LSP.index(name)] = shoulders
    for name, xy in extra:
        kps[LSP.index(name)] = xy
    return kps


@pytest.mark.parametrize(
    "shoulders, expected",
    [((50, 0), 0.0), ((100, 50), 90.0), ((0, 50), -90.0), ((50, 100), 180.0), ((100, 0), 45.0)],
)
def test_upright_rotation_by_hand(shoulders, expected):
    # hips at (50, 50); y points down: shoulders above the hips is upright, to the right is lying (+90)
    got = upright_rotation((50, 50), shoulders)
    assert abs((got - expected + 180) % 360 - 180) < 1e-9


@pytest.mark.parametrize("angle", [0.0, 37.0, 90.0, -120.0, 180.0])
def test_aligned_crop_turns_the_person_upright(angle):
    """Shoulders straight above the hips in the crop, whatever the person's rotation in the image."""
    a = np.radians(angle)
    up = np.array([np.sin(a), -np.cos(a)])  # the direction crop_matrix(rotation=angle) maps to straight up
    hips = np.array([200.0, 150.0])
    kps = lsp_person(hips, hips + 40 * up, [("head_top", hips + 70 * up), ("right_ankle", hips - 60 * up)])
    al = alignment_from_keypoints(kps, np.ones(14), LSP)
    assert abs((al.rotation - angle + 180) % 360 - 180) < 1e-4  # float32 keypoints; 180 and -180 alike
    assert al.radius == pytest.approx(70.0, abs=1e-4)
    assert (al.cx, al.cy) == pytest.approx(tuple(hips))
    crop = transform_points(kps, al.crop(256, margin=1.0))  # side 140 px -> 256 px
    h, s = crop[LSP.index("left_hip")], crop[LSP.index("left_shoulder")]
    assert h == pytest.approx([127.5, 127.5], abs=1e-3)  # centre of the crop
    assert s[0] == pytest.approx(127.5, abs=1e-3)
    assert s[1] == pytest.approx(127.5 - 40 * 256 / 140, abs=1e-3)


def test_alignment_needs_hips_and_works_for_any_skeleton():
    kps = np.zeros((17, 2), np.float32)
    mask = np.zeros(17)
    assert alignment_from_keypoints(kps, mask, COCO) is None
    for name, xy in (("left_hip", (10, 20)), ("right_hip", (30, 20)), ("nose", (20, -30))):
        kps[COCO.index(name)] = xy
        mask[COCO.index(name)] = 1
    al = alignment_from_keypoints(kps, mask, COCO)
    # no shoulders: rotation 0; radius: from mid-hips (20, 20) to the nose, 50 px
    assert (al.cx, al.cy, al.radius, al.rotation) == pytest.approx((20, 20, 50, 0))


def test_upright_box_frames_the_turned_keypoints():
    # A person lying along x from 0 to 100 at y = 10, turned upright by +90 degrees: the box in the upright
    # frame is 100 long, centred on (50, 10).
    kps = np.array([[0, 10], [100, 10], [50, 10]], np.float32)
    cx, cy, side = upright_box(kps, np.ones(3), 90.0, 1.5)
    assert (cx, cy, side) == pytest.approx((50, 10, 150))


def test_alignment_json_rounds():
    assert Alignment(1.234, 2.0, 3.0, -45.678).to_dict() == {"centre": [1.23, 2.0], "radius": 3.0, "rotation": -45.68}

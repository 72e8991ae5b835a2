"""DetectionCodec: people -> centre maps -> people, round trip and hand-worked cells."""

from __future__ import annotations

import math

import numpy as np
import pytest

from blazepose.alignment import Alignment
from blazepose.codec import DetectionCodec


def logits(maps):
    """Targets as a detector's outputs: the centre map as logits (1 -> large, 0 -> very negative)."""
    out = dict(maps)
    p = np.clip(maps["centre"], 1e-6, 1 - 1e-6)
    out["centre"] = np.log(p / (1 - p))
    return out


def test_round_trip_of_two_people():
    codec = DetectionCodec(224, 8)
    a = Alignment(50.3, 60.7, 30.0, 20.0)
    b = Alignment(170.0, 150.2, 45.0, -160.0)
    people = [(a, (30.0, 20.0, 80.0, 100.0), True), (b, (130.0, 100.0, 210.0, 220.0), True)]
    maps = codec.encode(people)
    dets = codec.decode(logits(maps), min_score=0.5)
    assert len(dets) == 2
    got = sorted(dets, key=lambda d: d.alignment.cx)
    for d, (al, box, _) in zip(got, people, strict=True):
        assert d.score == pytest.approx(1.0, abs=1e-5)
        assert (d.alignment.cx, d.alignment.cy) == pytest.approx((al.cx, al.cy), abs=1e-4)
        assert d.alignment.radius == pytest.approx(al.radius, rel=1e-5)
        assert d.alignment.rotation == pytest.approx(al.rotation, abs=1e-4)
        assert d.box == pytest.approx(box, abs=1e-4)


def test_cells_by_hand():
    codec = DetectionCodec(64, 8)  # 8x8 grid; cell i is centred on input pixel 8 i + 3.5
    a = Alignment(20.0, 43.5, 16.0, 90.0)
    maps = codec.encode([(a, (0.0, 0.0, 40.0, 60.0), False)])
    # u = (20 + 0.5) / 8 - 0.5 = 2.0625 -> cell 2; v = (43.5 + 0.5) / 8 - 0.5 = 5.0 -> cell 5
    assert maps["centre"][5, 2, 0] == 1.0
    assert maps["centre"].sum() > 1.0  # a Gaussian around it
    assert maps["offset"][5, 2] == pytest.approx([0.0625, 0.0])
    assert maps["offset"][4, 3] == pytest.approx([-0.9375, 1.0])  # a neighbour points at the same centre
    assert maps["size"][5, 2, 0] == pytest.approx(math.log(16 / 64))
    assert maps["rotation"][5, 2] == pytest.approx([1.0, 0.0], abs=1e-9)
    assert maps["box"][5, 2] == pytest.approx([20 / 16, 43.5 / 16, 20 / 16, 16.5 / 16])  # in radii
    assert maps["reg_weight"].sum() == 9 and maps["rot_weight"].sum() == 0  # rotation unknown: not trained
    assert maps["centre_weight"].min() == 1.0


def test_centre_beyond_the_border_is_clipped_and_offset_points_out():
    codec = DetectionCodec(64, 8)
    a = Alignment(30.0, 75.5, 20.0, 0.0)  # v = 9 - 0.5 + ... = (75.5 + .5) / 8 - .5 = 9.0: below the grid
    maps = codec.encode([(a, (20.0, 40.0, 40.0, 64.0), True)])
    assert maps["centre"][7, :, 0].max() == 1.0  # peak on the last row
    d = codec.decode(logits(maps), min_score=0.5)[0]
    assert (d.alignment.cx, d.alignment.cy) == pytest.approx((30.0, 75.5), abs=1e-4)


def test_ignore_boxes_zero_the_weight_but_keep_peaks():
    codec = DetectionCodec(64, 8)
    maps = codec.encode([(Alignment(12.0, 12.0, 10.0, 0.0), (0, 0, 24, 24), True)], ignore=[(0, 0, 40, 40)])
    w = maps["centre_weight"][..., 0]
    assert w[1, 1] == 1.0  # the person's own peak still counts
    assert w[0, 0] == 0.0 and w[4, 4] == 0.0 and w[7, 7] == 1.0


def test_nms_keeps_one_of_two_overlapping_and_respects_limits():
    codec = DetectionCodec(64, 8)
    maps = codec.encode([(Alignment(20.0, 20.0, 10.0, 0.0), (10, 10, 30, 30), True)])
    out = logits(maps)
    # a second peak two cells away with the same box: a duplicate that NMS must drop
    out["centre"][2 + 2, 2, 0] = 3.0
    out["box"][4, 2] = out["box"][2, 2]
    out["offset"][4, 2] = out["offset"][2, 2] + np.array([0.0, -2.0])
    out["size"][4, 2] = out["size"][2, 2]
    dets = codec.decode(out, min_score=0.5)
    assert len(dets) == 1 and dets[0].score == pytest.approx(1.0, abs=1e-5)
    assert codec.decode(out, min_score=0.99999999) == []

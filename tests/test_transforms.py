import dataclasses

import cv2
import numpy as np
import pytest

from blazepose.config import AugmentConfig
from blazepose.data.transforms import augment, color_jitter, covered, hflip, occlude
from blazepose.geometry import crop_matrix, invert_affine, person_box, transform_points, warp_image, whole_image_box
from blazepose.keypoints import LSP


def _dot_image(points, h=120, w=160):
    img = np.zeros((h, w, 3), np.uint8)
    for x, y in points:
        cv2.circle(img, (int(x), int(y)), 2, (255, 255, 255), -1)
    return img


def _centroid(img):
    ys, xs = np.nonzero(img[..., 0] > 60)
    weights = img[ys, xs, 0].astype(float)
    return np.array([np.average(xs, weights=weights), np.average(ys, weights=weights)])


@pytest.mark.parametrize("rotation,flip", [(0, False), (30, False), (-75, True), (180, True)])
def test_dot_lands_where_the_keypoint_says(rotation, flip):
    point = np.array([[100.0, 40.0]])
    img = _dot_image(point)
    m = crop_matrix((80, 60), 100, 256, rotation, flip)
    out = warp_image(img, m, 256)
    np.testing.assert_allclose(_centroid(out), transform_points(point, m)[0], atol=0.6)


def test_big_shrink_is_antialiased_and_keeps_geometry(rng):
    cx, cy, side = whole_image_box(1600, 1200)
    m = crop_matrix((cx, cy), side, 128)  # 12.5x smaller
    img = np.zeros((1200, 1600, 3), np.uint8)
    cv2.circle(img, (1000, 300), 12, (255, 255, 255), -1)
    np.testing.assert_allclose(
        _centroid(warp_image(img, m, 128)), transform_points(np.array([[1000.0, 300.0]]), m)[0], atol=0.6
    )
    # Pixel noise averages out when shrunk (point sampling would keep its full contrast).
    noise = rng.integers(0, 256, (1200, 1600, 3), dtype=np.uint8)
    out = warp_image(noise, m, 128)[16:112]  # the letterboxed band holding the image
    assert out.std() < 15, out.std()


def test_crop_matrix_by_hand():
    # Side 128 around (64, 32) onto 256: scale 2, centre -> 127.5.
    m = crop_matrix((64, 32), 128, 256)
    np.testing.assert_allclose(transform_points(np.array([[64, 32], [0, 0]]), m), [[127.5, 127.5], [-0.5, 63.5]])
    # 90 degrees counter-clockwise on screen: a point to the right of the centre goes above it.
    m = crop_matrix((0, 0), 256, 256, 90)
    np.testing.assert_allclose(transform_points(np.array([[10, 0]]), m), [[127.5, 117.5]], atol=1e-5)
    # Flip mirrors the output: x -> 255 - x.
    m = crop_matrix((64, 32), 128, 256, 0, flip=True)
    np.testing.assert_allclose(transform_points(np.array([[0, 0]]), m), [[255.5, 63.5]])
    np.testing.assert_allclose(
        transform_points(transform_points(np.array([[3.0, 4.0]]), m), invert_affine(m)), [[3.0, 4.0]], atol=1e-5
    )


def test_hflip_swaps_left_and_right_and_their_flags():
    kps = np.zeros((14, 2), np.float32)
    kps[LSP.index("left_wrist")] = (10, 20)
    kps[LSP.index("right_wrist")] = (50, 25)
    vis = np.ones(14, np.float32)
    vis[LSP.index("left_wrist")] = 0  # the person's left wrist is occluded
    mask = np.ones(14, np.float32)
    mask[LSP.index("head_top")] = 0
    img = _dot_image([(10, 20)], 60, 80)
    kps_in, vis_in = kps.copy(), vis.copy()
    out, k2, v2, m2 = hflip(img, kps, vis, mask, LSP)
    rw, lw = LSP.index("right_wrist"), LSP.index("left_wrist")
    np.testing.assert_allclose(k2[rw], (69, 20))  # 80 - 1 - 10: the old left wrist is now the right one
    np.testing.assert_allclose(k2[lw], (29, 25))
    assert v2[rw] == 0 and v2[lw] == 1  # the occlusion flag moved with it
    assert m2[LSP.index("head_top")] == 0  # centre joints stay
    np.testing.assert_allclose(_centroid(out), k2[rw], atol=0.6)
    np.testing.assert_array_equal(kps, kps_in)  # inputs untouched
    np.testing.assert_array_equal(vis, vis_in)


def test_person_box_and_whole_image_box():
    kps = np.array([[10, 20], [30, 60], [999, 999]], np.float32)
    mask = np.array([1, 1, 0], np.float32)
    assert person_box(kps, mask, 1.5) == (20.0, 40.0, 60.0)  # longer extent 40 x 1.5
    assert whole_image_box(100, 50) == (49.5, 24.5, 100.0)


def test_occlusion_boxes_are_drawn_and_reported(rng):
    img = np.zeros((64, 64, 3), np.uint8)
    _, boxes = occlude(img, rng, 3, 0.4)
    assert 1 <= len(boxes) <= 3
    out, boxes = occlude(img, rng, 1, 0.4)
    assert img.max() == 0  # input untouched
    x0, y0, x1, y1 = boxes[0]
    assert (out[y0:y1, x0:x1] == out[y0, x0]).all() and out.sum() == out[y0:y1, x0:x1].sum()
    pts = np.array([[x0, y0], [x1 + 5, y1 + 5]], np.float32)
    hit = covered(pts, [boxes[0]])
    assert hit[0] and not hit[1]


def test_color_jitter_keeps_shape_and_range(rng):
    img = np.full((8, 8, 3), 128, np.uint8)
    out = color_jitter(img, rng, 0.5, 0.5, 0.5)
    assert out.shape == img.shape and out.dtype == np.uint8


def test_augment_keeps_pixels_and_keypoints_together(rng):
    # One bright dot per joint; after a random view, each joint inside the frame still sits on a dot.
    kps = np.stack([np.linspace(30, 130, 14), np.linspace(20, 100, 14)], axis=1).astype(np.float32)
    img = _dot_image(kps)
    aug = dataclasses.replace(
        AugmentConfig(),
        occlusion_prob=0.0,
        brightness=0,
        contrast=0,
        saturation=0,
        whole_image_prob=0.3,
        rotation_deg=45,
    )
    vis, mask = np.ones(14, np.float32), np.ones(14, np.float32)
    for _ in range(20):
        out, k2, v2, m2, m = augment(img, kps, vis, mask, rng, 256, 1.3, aug, LSP)
        assert out.shape == (256, 256, 3)
        for j in np.flatnonzero(v2 > 0):
            x, y = np.round(k2[j]).astype(int)
            assert out[y, x, 0] > 60, f"joint {j} at {k2[j]} is not on its dot"


def test_augment_flip_puts_the_left_joint_label_on_the_right(rng):
    kps = np.tile([[60.0, 60.0]], (14, 1)).astype(np.float32)
    kps[LSP.index("left_wrist")] = (20, 30)
    img = _dot_image([(20, 30)])
    aug = dataclasses.replace(
        AugmentConfig(), flip_prob=1.0, occlusion_prob=0, brightness=0, contrast=0, saturation=0, whole_image_prob=0
    )
    out, k2, v2, _, _ = augment(img, kps, np.ones(14, np.float32), np.ones(14, np.float32), rng, 256, 1.3, aug, LSP)
    x, y = np.round(k2[LSP.index("right_wrist")]).astype(int)
    assert out[y, x, 0] > 60  # the dot drawn at the left wrist is now labelled right wrist


def test_occluded_joints_lose_visibility(rng):
    kps = np.tile([[60.0, 60.0]], (14, 1)).astype(np.float32)
    img = np.zeros((120, 120, 3), np.uint8)
    aug = dataclasses.replace(
        AugmentConfig(),
        occlusion_prob=1.0,
        occlusion_max_size=0.99,
        occlusion_max_boxes=1,
        brightness=0,
        contrast=0,
        saturation=0,
    )
    seen_hidden = False
    for _ in range(30):
        out, k2, v2, _, _ = augment(img, kps, np.ones(14, np.float32), np.ones(14, np.float32), rng, 64, 1.3, aug, LSP)
        x, y = np.round(k2[0]).astype(int)
        on_box = out[y, x].any()  # background is black; the rectangles are coloured (almost surely)
        assert v2[0] == (0.0 if on_box else 1.0) or not (0 <= x < 64 and 0 <= y < 64)
        seen_hidden |= v2[0] == 0
    assert seen_hidden


def test_turned_prob_turns_that_share_of_crops_by_any_angle():
    """The crop matrix's rotation: within rotation_deg without turned_prob; with 0.5, about half drawn from
    the whole circle (a quarter of all beyond 90 degrees)."""
    import dataclasses
    import math

    from blazepose.config import AugmentConfig
    from blazepose.data.transforms import random_crop_matrix

    def angles(aug, n=2000):
        rng = np.random.default_rng(0)
        out = []
        for _ in range(n):
            m, _ = random_crop_matrix(rng, (100.0, 100.0, 80.0), 64, aug)
            out.append(abs(math.degrees(math.atan2(m[1, 0], m[0, 0]))))  # no flip: a pure rotation and scale
        return np.asarray(out)

    base = dataclasses.replace(AugmentConfig(), flip_prob=0.0)
    assert angles(base).max() <= 30.0 + 1e-6
    turned = angles(dataclasses.replace(base, turned_prob=0.5))
    assert 0.2 < np.mean(turned > 90) < 0.3


def test_similarity_and_mirror_by_hand():
    from blazepose.geometry import mirror_points, similarity

    # scale 2, a quarter turn counter-clockwise on screen (y down): (1, 0) from the centre goes to (0, -2)
    m = similarity(2.0, 90.0, (10.0, 10.0), (50.0, 60.0))
    np.testing.assert_allclose(
        transform_points(np.array([[11.0, 10.0], [10.0, 10.0]]), m), [[50, 58], [50, 60]], atol=1e-5
    )
    # crop_matrix is the similarity that lands the box centre on the crop's centre pixel
    np.testing.assert_allclose(crop_matrix((10.0, 10.0), 20.0, 64, 30.0), similarity(3.2, 30.0, (10, 10), (31.5, 31.5)))
    # mirroring: pixels x -> W - 1 - x, normalized x -> 1 - x, joints 0 and 1 exchanged, 2 stays
    pts = np.array([[[1.0, 5.0], [7.0, 6.0], [3.0, 2.0]]])
    np.testing.assert_allclose(mirror_points(pts, 9.0, [1, 0, 2]), [[[2, 6], [8, 5], [6, 2]]])
    assert mirror_points(np.array([[0.25, 0.5]]), 1.0, [0])[0, 0] == 0.75
    # a mirrored 10-pixel-wide crop: pixel 2's centre, normalized (2 + 0.5) / 10, lands on pixel 7's
    assert mirror_points(np.array([[0.25, 0.0]]), 1.0, [0])[0, 0] == (7 + 0.5) / 10

"""Geometry, in one place: the 2x3 affine matrices that map image pixels onto crops and back, the boxes that
frame a person (upright or turned), mirroring with its left/right exchange, and rotations.

Conventions, for every function here:
  * pixels: x to the right, y down; integer pixel (i, j) has its centre at (x=i, y=j), as ``cv2.warpAffine``
    uses; a crop of side S maps onto pixels 0 .. S-1;
  * normalized crop coordinates (the networks' joints): pixel centre i at (i + 0.5) / S, so 0 and 1 are the
    crop's outer edges;
  * rotations in degrees, counter-clockwise on screen: ``crop_matrix(..., rotation_deg=r)`` shows the picture
    turned by r, so a person whose alignment rotation is r comes out upright;
  * mirroring: x -> W - 1 - x in pixels, x -> 1 - x normalized (the same mirror in two units), and the person's
    left and right joints exchanged (``mirror_points``).

The crop, scale, rotation, shift and flip compose into one matrix; the image is resampled once and the keypoints
go through the same matrix, so pixels and keypoints cannot drift apart. Pure NumPy and OpenCV.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from blazepose.keypoints import Skeleton

PAD_VALUE = (0, 0, 0)


def similarity(scale: float, angle_deg: float, src_point, dst_point) -> np.ndarray:
    """2x3 affine: scale and turn (counter-clockwise on screen) about `src_point`, which lands on `dst_point`."""
    a = math.radians(angle_deg)
    c, s = math.cos(a) * scale, math.sin(a) * scale
    m = np.array([[c, s, 0.0], [-s, c, 0.0]])
    m[:, 2] = np.asarray(dst_point, np.float64) - m[:, :2] @ np.asarray(src_point, np.float64)
    return m


def crop_matrix(
    center: tuple[float, float], side: float, out_size: int, rotation_deg: float = 0.0, flip: bool = False
) -> np.ndarray:
    """2x3 affine: the square of `side` original pixels around `center`, rotated by `rotation_deg`
    (counter-clockwise in the picture), onto an `out_size` square; `flip` mirrors it horizontally."""
    c_out = (out_size - 1) / 2.0
    m = similarity(out_size / side, rotation_deg, center, (c_out, c_out))
    if flip:
        m = np.array([[-1.0, 0.0, out_size - 1.0], [0.0, 1.0, 0.0]]) @ np.vstack([m, [0, 0, 1]])
    return m


def invert_affine(m: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(np.asarray(m, np.float64))


def transform_points(points: np.ndarray, m: np.ndarray) -> np.ndarray:
    """(..., 2) points through a 2x3 affine."""
    points = np.asarray(points, np.float64)
    return (points @ m[:, :2].T + m[:, 2]).astype(np.float32)


def warp_image(
    image: np.ndarray,
    m: np.ndarray,
    out_size: int,
    border: str = "constant",
    nearest: bool = False,
    antialias: bool = True,
) -> np.ndarray:
    """Resample `image` through the 2x3 affine `m` onto an out_size square: outside the image, zero padding
    (`border` "constant") or the image mirrored ("reflect"); bilinear, or `nearest` (masks).

    With `antialias`, shrinking by more than 2x first goes through an area-averaging resize, so small outputs of
    big images are not aliased; the matrix is adjusted so the geometry is unchanged.
    """
    scale = math.sqrt(abs(np.linalg.det(np.asarray(m, np.float64)[:, :2])))
    if antialias and scale < 0.5:
        h, w = image.shape[:2]
        small_w, small_h = max(1, round(w * scale)), max(1, round(h * scale))
        image = cv2.resize(image, (small_w, small_h), interpolation=cv2.INTER_AREA)
        fx, fy = small_w / w, small_h / h
        # small pixel (u, v) is original ((u + 0.5) / fx - 0.5, (v + 0.5) / fy - 0.5)
        to_original = np.array([[1 / fx, 0, 0.5 / fx - 0.5], [0, 1 / fy, 0.5 / fy - 0.5], [0, 0, 1]])
        m = np.asarray(m, np.float64) @ to_original
    return cv2.warpAffine(
        image,
        np.asarray(m, np.float64),
        (out_size, out_size),
        flags=cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR,
        borderMode={"constant": cv2.BORDER_CONSTANT, "reflect": cv2.BORDER_REFLECT101}[border],
        borderValue=PAD_VALUE,
    )


def person_box(keypoints: np.ndarray, mask: np.ndarray, margin: float) -> tuple[float, float, float]:
    """Square box (cx, cy, side) around the annotated keypoints, side = margin x the longer extent."""
    pts = keypoints[mask > 0]
    if len(pts) == 0:
        raise ValueError("no annotated keypoint to crop around")
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    cx, cy = (lo + hi) / 2
    side = max(float((hi - lo).max()) * margin, 1.0)
    return float(cx), float(cy), side


def whole_image_box(width: int, height: int) -> tuple[float, float, float]:
    """Square box that holds the whole image, centred (letterboxing)."""
    return (width - 1) / 2.0, (height - 1) / 2.0, float(max(width, height))


def upright_box(keypoints: np.ndarray, mask: np.ndarray, rotation: float, margin: float) -> tuple[float, float, float]:
    """(cx, cy, side) of the square that, turned by `rotation`, frames the annotated keypoints upright: the
    keypoints' box in the upright frame, side = margin x its longer extent, centre mapped back to the image."""
    pts = np.asarray(keypoints, np.float64)[np.asarray(mask) > 0]
    if len(pts) == 0:
        raise ValueError("no annotated keypoint to crop around")
    turn = similarity(1.0, rotation, (0.0, 0.0), (0.0, 0.0))[:, :2]  # crop_matrix's rotation
    upright = pts @ turn.T
    lo, hi = upright.min(axis=0), upright.max(axis=0)
    centre = np.linalg.solve(turn, (lo + hi) / 2.0)
    return float(centre[0]), float(centre[1]), max(float((hi - lo).max()) * margin, 1.0)


def upright_rotation(hips: np.ndarray, shoulders: np.ndarray) -> float:
    """The rotation (degrees) that turns the line from `hips` to `shoulders` (x, y, y down) straight up."""
    ux, uy = (np.asarray(shoulders, np.float64) - np.asarray(hips, np.float64)).tolist()
    return math.degrees(math.atan2(ux, -uy))


def swap_left_right(
    keypoints: np.ndarray, visibility: np.ndarray, mask: np.ndarray, skeleton: Skeleton
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reorder joints after a mirror: the person's left joints become the right ones (flags follow)."""
    p = skeleton.flip_index
    return keypoints[..., p, :], visibility[..., p], mask[..., p]


def mirror_points(points: np.ndarray, extent: float, flip_index) -> np.ndarray:
    """Points (..., K, 2) of a mirrored picture -> those of the picture itself: x -> `extent` - x (W - 1 for
    pixels, 1 for normalized crop coordinates) and joint k taken from joint flip_index[k] (the person's left
    becomes their right)."""
    out = np.array(points, np.float32)[..., flip_index, :]
    out[..., 0] = extent - out[..., 0]
    return out

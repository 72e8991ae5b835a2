"""The ONLY place that converts keypoints <-> heatmaps / offset maps <-> normalized regression targets.

Encode and decode sit side by side and use the same two scale conversions:
  input pixel x  ->  heatmap pixel u = (x + 0.5) / stride - 0.5      (pixel centres line up)
  input pixel x  ->  normalized   n = (x + 0.5) / input_size         (0 = left edge, 1 = right edge)
Offsets are in heatmap pixels: at heatmap pixel (i, j) near joint k, offsets[j, i, 2k:2k+2] = (u_k - i, v_k - j),
so decoding the argmax pixel plus its offset returns the joint exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from blazepose.alignment import Alignment


def heat_to_normalized(uv, heat_size: int):
    """Heatmap pixels (u, v), centres at integers, possibly moved by their offsets -> coordinates normalized to
    the crop (0 and 1 its outer edges): (u + 0.5) / heat_size. Plain arithmetic, so NumPy arrays and Keras
    tensors both go through it: the one heatmap decode's last step, for ``Codec.decode``, the in-graph
    ``models.layers.HeatmapDecoder`` and the exporter's tie check."""
    return (uv + 0.5) / heat_size


@dataclass(frozen=True)
class Codec:
    input_size: int = 256
    heatmap_size: int = 64
    sigma: float = 2.0  # heatmap pixels
    offset_radius: float = 2.0  # heatmap pixels

    @classmethod
    def from_config(cls, data_cfg) -> Codec:
        return cls(data_cfg.input_size, data_cfg.heatmap_size, data_cfg.sigma, data_cfg.offset_radius)

    @property
    def stride(self) -> float:
        return self.input_size / self.heatmap_size

    # --- scale conversions -------------------------------------------------------------------------------
    def input_to_heat(self, xy: np.ndarray) -> np.ndarray:
        return (np.asarray(xy, np.float32) + 0.5) / self.stride - 0.5

    def heat_to_input(self, uv: np.ndarray) -> np.ndarray:
        return self.denormalize(heat_to_normalized(np.asarray(uv, np.float32), self.heatmap_size))

    def normalize(self, xy_input: np.ndarray) -> np.ndarray:
        """Input pixels -> regression targets in [0, 1] (outside for joints beyond the frame)."""
        return (np.asarray(xy_input, np.float32) + 0.5) / self.input_size

    def denormalize(self, xy_norm: np.ndarray) -> np.ndarray:
        return np.asarray(xy_norm, np.float32) * self.input_size - 0.5

    # --- heatmaps + offsets --------------------------------------------------------------------------------
    def encode(self, xy_input: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
        """One person's (K, 2) joints in input pixels -> training targets.

        Returns ``heatmap`` (H, W, K): Gaussians with peak value 1 at the heatmap pixel nearest each joint
        (the sub-pixel remainder is the offsets' job); ``offset`` (H, W, 2K) and ``offset_weight``
        (H, W, 2K) (1 within offset_radius of that pixel); ``heatmap_weight`` (K,) (= mask); ``joints``
        (K, 2) normalized coordinates.
        """
        size = self.heatmap_size
        uv = self.input_to_heat(xy_input)  # (K, 2)
        centre = np.floor(uv + 0.5)  # nearest pixel (halves round up)
        grid = np.arange(size, dtype=np.float32)
        du = grid[None, :] - uv[:, 0:1]  # (K, W): i - u
        dv = grid[None, :] - uv[:, 1:2]  # (K, H): j - v
        cu = grid[None, :] - centre[:, 0:1]  # (K, W): i - round(u)
        cv = grid[None, :] - centre[:, 1:2]
        gx = np.exp(-(cu**2) / (2 * self.sigma**2))
        gy = np.exp(-(cv**2) / (2 * self.sigma**2))
        m = np.asarray(mask, np.float32)
        heatmap = np.einsum("kh,kw->hwk", gy, gx) * m  # (H, W, K), separable Gaussian
        near = (cv[:, :, None] ** 2 + cu[:, None, :] ** 2) <= self.offset_radius**2  # (K, H, W)
        near = np.transpose(near, (1, 2, 0)) * m  # (H, W, K)
        offset = np.empty((size, size, 2 * len(m)), np.float32)
        offset[..., 0::2] = -du.T[None, :, :]  # u - i
        offset[..., 1::2] = -dv.T[:, None, :]  # v - j
        weight = np.repeat(near, 2, axis=-1).astype(np.float32)
        return {
            "heatmap": heatmap.astype(np.float32),
            "offset": offset * weight,
            "offset_weight": weight,
            "heatmap_weight": m,
            "joints": self.normalize(xy_input) * m[:, None],
        }

    def decode(self, heatmap: np.ndarray, offset: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(..., H, W, K) heatmaps (+ (..., H, W, 2K) offsets) -> ((..., K, 2) input pixels, (..., K) peak).

        Without offsets the argmax moves a quarter pixel towards the higher neighbour (the usual refinement).
        """
        heatmap = np.asarray(heatmap, np.float32)
        *lead, h, w, k = heatmap.shape
        flat = heatmap.reshape(*lead, h * w, k)
        idx = flat.argmax(axis=-2)  # (..., K)
        score = np.take_along_axis(flat, idx[..., None, :], axis=-2)[..., 0, :]
        j, i = np.divmod(idx, w)
        uv = np.stack([i, j], axis=-1).astype(np.float32)
        if offset is not None:
            off = np.asarray(offset, np.float32).reshape(*lead, h * w, k, 2)
            uv += np.take_along_axis(off, idx[..., None, :, None], axis=-3)[..., 0, :, :]
        else:
            hm = heatmap.reshape(-1, h, w, k)
            ii, jj = i.reshape(-1, k), j.reshape(-1, k)
            b = np.arange(hm.shape[0])[:, None]
            kk = np.arange(k)[None, :]
            # Only where both neighbours exist (at the border the comparison would be with itself).
            in_x, in_y = (ii > 0) & (ii < w - 1), (jj > 0) & (jj < h - 1)
            right = hm[b, jj, np.minimum(ii + 1, w - 1), kk] - hm[b, jj, np.maximum(ii - 1, 0), kk]
            down = hm[b, np.minimum(jj + 1, h - 1), ii, kk] - hm[b, np.maximum(jj - 1, 0), ii, kk]
            shift = np.stack([np.sign(right) * in_x, np.sign(down) * in_y], axis=-1)
            uv += 0.25 * shift.reshape(uv.shape)
        return self.heat_to_input(uv), score


# --- the person detector's centre maps ---------------------------------------------------------------------
@dataclass(frozen=True)
class Detection:
    """One detected person, in the pixels of the image the detector saw (or, after ``mapped``, another)."""

    score: float
    box: tuple[float, float, float, float] | None  # x0, y0, x1, y1; None: the detector gives no person box
    alignment: Alignment

    def mapped(self, m: np.ndarray) -> Detection:
        """Through a 2x3 affine made of a uniform scale and a shift (e.g. a letterbox undone)."""
        scale = float(m[0, 0])
        box = None
        if self.box is not None:
            x0, y0 = m[:, :2] @ self.box[:2] + m[:, 2]
            x1, y1 = m[:, :2] @ self.box[2:] + m[:, 2]
            box = (float(x0), float(y0), float(x1), float(y1))
        cx, cy = m[:, :2] @ (self.alignment.cx, self.alignment.cy) + m[:, 2]
        a = Alignment(float(cx), float(cy), self.alignment.radius * scale, self.alignment.rotation)
        return Detection(self.score, box, a)


DETECTION_OUTPUTS = {"centre": 1, "offset": 2, "size": 1, "rotation": 2, "box": 4}


@dataclass(frozen=True)
class DetectionCodec:
    """People (alignment + box, in input pixels) <-> the detector's maps on a grid of `input_size / stride`.

    At the grid cell of each person's centre (mid-hips; clipped into the grid for a centre just beyond the
    border, e.g. a person cut off at the waist) the ``centre`` map peaks at 1 (a Gaussian of sigma =
    radius / 6 cells, at least `min_sigma`). The 3x3 cells around it carry the geometry: ``offset`` (grid
    units, from the cell to the true centre, which may lie outside the grid), ``size`` (log of radius /
    input_size), ``rotation`` (sin, cos) and ``box`` (the box edges' distances from the centre: left, top,
    right, bottom, in radii: the person's shape, whatever its size). Grid cell i covers input pixels around
    (i + 0.5) x stride - 0.5.
    """

    input_size: int = 224
    stride: int = 8
    min_sigma: float = 0.8

    @property
    def grid(self) -> int:
        return self.input_size // self.stride

    def to_grid(self, xy) -> np.ndarray:
        return (np.asarray(xy, np.float64) + 0.5) / self.stride - 0.5

    def from_grid(self, uv) -> np.ndarray:
        return (np.asarray(uv, np.float64) + 0.5) * self.stride - 0.5

    def encode(self, people: list[tuple[Alignment, tuple, bool]], ignore: list[tuple] = ()) -> dict[str, np.ndarray]:
        """`people`: (alignment, box (x0, y0, x1, y1), rotation known); `ignore`: boxes where unlabelled people
        may be (no penalty for a score there). Returns the target maps and their weights."""
        g, s = self.grid, float(self.input_size)
        centre = np.zeros((g, g, 1), np.float32)
        weight = np.ones((g, g, 1), np.float32)
        maps = {name: np.zeros((g, g, n), np.float32) for name, n in DETECTION_OUTPUTS.items() if name != "centre"}
        reg_weight = np.zeros((g, g, 1), np.float32)
        rot_weight = np.zeros((g, g, 1), np.float32)
        grid = np.arange(g, dtype=np.float64)
        for x0, y0, x1, y1 in ignore:
            (u0, v0), (u1, v1) = np.floor(self.to_grid((x0, y0))), np.ceil(self.to_grid((x1, y1)))
            weight[max(int(v0), 0) : max(int(v1) + 1, 0), max(int(u0), 0) : max(int(u1) + 1, 0)] = 0.0
        # Larger people first, so that a small person's cells, written later, win where two overlap.
        for a, box, rotation_known in sorted(people, key=lambda p: -p[0].radius):
            uv = self.to_grid((a.cx, a.cy))
            cell = np.clip(np.floor(uv + 0.5), 0, g - 1).astype(int)
            sigma = max(a.radius / self.stride / 6.0, self.min_sigma)
            gauss = np.exp(-((grid[None, :] - cell[0]) ** 2 + (grid[:, None] - cell[1]) ** 2) / (2 * sigma**2))
            centre[..., 0] = np.maximum(centre[..., 0], gauss)
            weight[cell[1], cell[0]] = 1.0
            r = math.radians(a.rotation)
            edges = np.array([a.cx - box[0], a.cy - box[1], box[2] - a.cx, box[3] - a.cy]) / a.radius
            for j in range(max(cell[1] - 1, 0), min(cell[1] + 2, g)):
                for i in range(max(cell[0] - 1, 0), min(cell[0] + 2, g)):
                    maps["offset"][j, i] = (uv[0] - i, uv[1] - j)
                    maps["size"][j, i] = math.log(a.radius / s)
                    maps["rotation"][j, i] = (math.sin(r), math.cos(r))
                    maps["box"][j, i] = edges
                    reg_weight[j, i] = 1.0
                    rot_weight[j, i] = float(rotation_known)
        centre[..., 0][centre[..., 0] > 1.0 - 1e-6] = 1.0
        return {"centre": centre, "centre_weight": weight, **maps, "reg_weight": reg_weight, "rot_weight": rot_weight}

    def decode(
        self,
        out: dict[str, np.ndarray],
        min_score: float = 0.5,
        iou: float = 0.5,
        max_people: int = 10,
        candidates: int = 100,
    ) -> list[Detection]:
        """One image's maps (no batch axis; ``centre`` as logits) -> detections, best first, in input pixels.

        Candidates are the local maxima (3x3) of the centre score above `min_score`; overlapping boxes are
        suppressed by OpenCV's non-maximum suppression at `iou`."""
        import cv2

        score = 1.0 / (1.0 + np.exp(-np.asarray(out["centre"], np.float32)[..., 0]))
        peaks = (score >= cv2.dilate(score, np.ones((3, 3), np.uint8))) & (score >= min_score)
        js, is_ = np.nonzero(peaks)
        order = np.argsort(-score[js, is_])[:candidates]
        js, is_ = js[order], is_[order]
        if not len(js):
            return []
        s = float(self.input_size)
        found = []
        for j, i in zip(js, is_, strict=True):
            cx, cy = self.from_grid((i + out["offset"][j, i, 0], j + out["offset"][j, i, 1]))
            radius = float(np.exp(np.clip(out["size"][j, i, 0], -8.0, 3.0)) * s)
            sin, cos = out["rotation"][j, i]
            left, top, right, bottom = np.asarray(out["box"][j, i], np.float64) * radius
            box = (cx - left, cy - top, cx + max(right, -left + 1.0), cy + max(bottom, -top + 1.0))
            rotation = math.degrees(math.atan2(float(sin), float(cos)))
            found.append(Detection(float(score[j, i]), box, Alignment(float(cx), float(cy), radius, rotation)))
        xywh = [[d.box[0], d.box[1], d.box[2] - d.box[0], d.box[3] - d.box[1]] for d in found]
        keep = cv2.dnn.NMSBoxes(xywh, [d.score for d in found], min_score, iou)
        return [found[k] for k in np.asarray(keep, int).reshape(-1)[:max_people]]

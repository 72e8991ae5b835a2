"""Tracking across video frames, as the paper does it: the first frame (or a lost track) runs the
whole-image passes; every later frame crops around the previous frame's keypoints and runs one pass. The
keypoints are smoothed with a One Euro filter (Casiez et al., CHI 2012): little lag when the person moves
fast, little jitter when they hold still.
"""

from __future__ import annotations

import math

import numpy as np

from blazepose.inference import Prediction, Predictor


class OneEuroFilter:
    """Element-wise One Euro filter for arrays of any fixed shape, fed with timestamps in seconds."""

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.05, d_cutoff: float = 1.0):
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.x: np.ndarray | None = None
        self.dx: np.ndarray | None = None
        self.t: float | None = None

    @staticmethod
    def _alpha(cutoff, dt: float):
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def reset(self) -> None:
        self.x = self.dx = self.t = None

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        x = np.asarray(x, np.float64)
        if self.x is None or self.t is None or t <= self.t:
            self.x, self.dx, self.t = x.copy(), np.zeros_like(x), t
            return x.copy()
        dt = t - self.t
        dx = (x - self.x) / dt
        a_d = self._alpha(self.d_cutoff, dt)
        self.dx = a_d * dx + (1 - a_d) * self.dx
        cutoff = self.min_cutoff + self.beta * np.abs(self.dx)
        a = self._alpha(cutoff, dt)
        self.x = a * x + (1 - a) * self.x
        self.t = t
        return self.x.copy()


class PoseTracker:
    """Feed frames in order with `update(frame, t)`; returns the (smoothed) prediction for each.

    The track is dropped, and the next frame starts again from the whole image, when the mean visibility
    falls below `min_visibility`.
    """

    def __init__(
        self,
        predictor: Predictor,
        smooth: bool = True,
        min_visibility: float = 0.2,
        min_cutoff: float = 1.0,
        beta: float = 0.05,
    ):
        self.predictor = predictor
        self.smooth = smooth
        self.min_visibility = min_visibility
        self.filter = OneEuroFilter(min_cutoff, beta)
        self.box: tuple[float, float, float] | None = None

    def reset(self) -> None:
        self.box = None
        self.filter.reset()

    def update(self, frame: np.ndarray, t: float) -> Prediction:
        if self.box is None:
            pred = self.predictor.predict_arrays([frame])[0]
        else:
            pred = self.predictor.predict_arrays([frame], boxes=[self.box], passes=1)[0]
        if float(np.mean(pred.visibility)) < self.min_visibility:
            self.reset()
            return pred
        # The next crop follows the raw keypoints (smoothing would make the crop lag behind the person).
        self.box = self.predictor.recrop_box(pred.keypoints, frame)
        if self.smooth:
            pred = Prediction(
                self.filter(pred.keypoints, t).astype(np.float32), pred.visibility, pred.width, pred.height
            )
        return pred

"""Tracking across video frames, as the paper does it: the first frame (or a lost track) runs the detector
(or, without one, the whole-image passes); every later frame takes its ROI from the previous frame's keypoints,
upright by the rotation they give, and runs one landmark pass. The track is lost when the person's presence
(the landmark model's presence output; for a model without one, the mean joint score) drops below a
threshold. The keypoints are smoothed with a One Euro filter (Casiez et al., CHI 2012): little lag when the
person moves fast, little jitter when they hold still.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from blazepose.inference import Person, Prediction, Predictor


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
    """Feed frames in order with `update(frame, t)`; returns the (smoothed) prediction for each, holding the
    tracked person (or nobody).

    The track is dropped, and the next frame starts again from the detector, when the person's presence falls
    below the predictor's `min_presence` (a landmark model with a presence output: the paper's way), else when
    the mean joint score falls below the predictor's `min_tracking_score`.
    """

    def __init__(
        self,
        predictor: Predictor,
        smooth: bool = True,
        min_cutoff: float = 1.0,
        beta: float = 0.05,
    ):
        self.predictor = predictor
        self.smooth = smooth
        self.filter = OneEuroFilter(min_cutoff, beta)
        self.roi: tuple | None = None
        self.detections = 0  # frames on which the detector (or the whole-image passes) ran

    def reset(self) -> None:
        self.roi = None
        self.filter.reset()

    def present(self, person: Person) -> bool:
        if person.presence is not None:
            return person.presence >= self.predictor.min_presence
        return float(np.mean(person.visibility)) >= self.predictor.min_tracking_score

    def update(self, frame: np.ndarray, t: float) -> Prediction:
        if self.roi is None:
            self.detections += 1
            pred = self.predictor.predict_arrays([frame])[0]
        else:
            pred = self.predictor.predict_arrays([frame], rois=[self.roi], passes=1)[0]
        if not pred.people:
            self.reset()
            return pred
        person = pred.people[0]
        pred.people = [person]
        if not self.present(person):  # the track is lost: nobody on this frame, the detector on the next
            self.reset()
            pred.people = []
            return pred
        # The next crop follows the raw keypoints (smoothing would make the crop lag behind the person).
        self.roi = self.predictor.recrop(person.keypoints, frame, rotation=None)
        if self.smooth:
            smoothed = self.filter(person.keypoints, t).astype(np.float32)
            pred.people = [dataclasses.replace(person, keypoints=smoothed)]
        return pred

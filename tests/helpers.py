"""Stand-ins shared by the inference and tracking tests."""

import numpy as np

from blazepose.artifacts import LandmarkOutput


class BrightestPixelRunner:
    """A stand-in network: every joint is the brightest pixel of the crop (normalized coordinates)."""

    input_size = 64
    num_joints = 14

    def __init__(self, presence: float | None = None):
        self.crops = []
        self.presence = presence  # every crop's presence output (None: a model without one)

    def __call__(self, batch):
        self.crops.append(batch)
        b = batch.shape[0]
        flat = batch[..., 0].reshape(b, -1).argmax(axis=1)
        y, x = np.divmod(flat, self.input_size)
        xy = (np.stack([x, y], axis=-1).astype(np.float32) + 0.5) / self.input_size  # Codec.normalize
        presence = None if self.presence is None else np.full(b, self.presence, np.float32)
        joints = np.repeat(xy[:, None, :], self.num_joints, axis=1)
        return LandmarkOutput(joints, np.ones((b, self.num_joints), np.float32), presence)


def blob(x, y, h=300, w=500, sigma=5.0):
    yy, xx = np.mgrid[0:h, 0:w]
    g = 255 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    return np.repeat(g[..., None], 3, axis=-1).astype(np.uint8)


class BrightestPixelDetector:
    """A stand-in detector: one person centred on the brightest pixel of the image (radius 10 input pixels,
    upright), as the maps a detector gives (centre logits)."""

    input_size = 64

    def __init__(self):
        from blazepose.codec import DetectionCodec

        self.codec = DetectionCodec(self.input_size)
        self.calls = 0

    def __call__(self, batch):
        from blazepose.alignment import Alignment

        self.calls += 1
        outs = []
        for image in batch:
            y, x = np.unravel_index(image[..., 0].argmax(), image.shape[:2])
            a = Alignment(float(x), float(y), 10.0, 0.0)
            maps = self.codec.encode([(a, (x - 5.0, y - 10.0, x + 5.0, y + 10.0), True)])
            p = np.clip(maps["centre"], 1e-6, 1 - 1e-6)
            maps["centre"] = np.log(p / (1 - p))
            outs.append(maps)
        return {k: np.stack([o[k] for o in outs]) for k in ("centre", "offset", "size", "rotation", "box")}

"""Open, trainable BlazePose (Bazarevsky et al., 2020) on TensorFlow 2 + Keras 3.

Array conventions, declared once for the whole package:
  * images: (H, W, 3) uint8 RGB, batches (B, H, W, 3), channels-last;
  * heatmaps: (B, Hh, Wh, K); offsets: (B, Hh, Wh, 2K) laid out as [dx_0, dy_0, dx_1, dy_1, ...];
  * keypoints: (..., K, 2) as (x, y) in *original image pixels* unless the name says otherwise
    (``*_input`` = pixels of the network input, ``*_heat`` = heatmap pixels, ``*_norm`` = [0, 1] of the input);
    integer pixel (i, j) has its centre at (x=i, y=j);
  * ``mask``: (..., K) 1 where a joint's position is known (annotated), 0 where it is not: masked joints
    carry zero weight in every loss and are excluded (and counted) in every metric;
  * ``visibility``: (..., K) 1 visible, 0 occluded (meaningful only where mask is 1).
"""

__version__ = "0.1.0"

"""Inference defaults, in a module that imports nothing, so that the command line can show them in --help
without loading TensorFlow. Chosen on validation data (docs/detector.md, docs/inference_settings.md)."""

# The detector: people scoring below MIN_SCORE are dropped, a box overlapping a better one by more than NMS_IOU
# is suppressed, and at most MAX_PEOPLE are kept per image.
MIN_SCORE = 0.3
NMS_IOU = 0.5
MAX_PEOPLE = 10
# Drawings leave out joints whose score is below this. On LSP's validation part (packaged Full model, whole
# image in) 0.2 leaves out 6 % of the joints, 2.7 % of the correct ones (within 0.2 torso); 0.3 leaves out
# 19 %, 11 % of the correct ones: the heatmap peak tells good joints from bad ones only weakly.
JOINT_THRESHOLD = 0.2
# A landmark model with a presence output (the paper's pose flag) drops a person whose presence is below this,
# and the video tracker drops its track (docs/presence.md).
MIN_PRESENCE = 0.5

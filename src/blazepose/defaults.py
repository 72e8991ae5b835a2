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
# Video, with a landmark model without a presence output: the track is dropped, and the detector runs on the next
# frame, when the person's mean joint score falls below this.
MIN_TRACKING_SCORE = 0.2
# A person found by the detector is kept only when the mean of its joint scores reaches this (the whole-image
# person needs only its presence). On coco_mini (packaged Full and detector, presence >= 0.5), every detected
# person whose pose matched a labelled one (OKS > 0.5) scored 0.23 or more (9 people), while 21 of the 23
# detected "people" in images without anyone (a traffic light among them) scored below 0.2 (docs/detector.md).
MIN_POSE_SCORE = 0.2
# Of the people left, one whose keypoint box lies this much or more inside a better-ranked person's (the area
# of the overlap over its own) is dropped: the detector splits a person who fills the frame into legs, torso and
# so on. On LSP's validation part (one person per image) the default pipeline gave a second or third person on
# 29 of 200 images without it, 5 with 0.8 and 2 with 0.7; on coco_mini's validation half 0.7 and 0.8 left OKS
# AP as it was and lost 1 of 46 people, 0.6 lost 2.
MAX_COVERED = 0.8

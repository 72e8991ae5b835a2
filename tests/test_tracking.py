"""One Euro smoothing, tracking across frames (with a stand-in network), and the video command end to end."""

import json

import cv2
import numpy as np
import pytest

from blazepose.cli import main
from blazepose.inference import Predictor, Settings
from blazepose.tracking import OneEuroFilter, PoseTracker
from tests.helpers import BrightestPixelRunner, blob


def test_one_euro_first_sample_passes_and_constant_stays():
    f = OneEuroFilter(min_cutoff=1.0, beta=0.0)
    assert f(np.array([5.0]), 0.0)[0] == 5.0
    for t in range(1, 10):
        assert f(np.array([5.0]), t / 30)[0] == pytest.approx(5.0)


def test_one_euro_by_hand_and_it_reduces_jitter(rng):
    f = OneEuroFilter(min_cutoff=1.0, beta=0.0, d_cutoff=1.0)
    f(np.array([0.0]), 0.0)
    # dt = 1/30 s, cutoff 1 Hz: tau = 1 / (2 pi), alpha = 1 / (1 + tau / dt) = 0.1732...
    alpha = 1 / (1 + (1 / (2 * np.pi)) * 30)
    assert f(np.array([1.0]), 1 / 30)[0] == pytest.approx(alpha)
    g = OneEuroFilter(min_cutoff=1.0, beta=0.0)
    noisy = 100 + rng.normal(0, 3, size=300)
    out = np.array([g(np.array([x]), i / 30)[0] for i, x in enumerate(noisy)])
    assert out[30:].std() < 0.5 * noisy[30:].std()


def test_tracker_follows_a_moving_person_with_one_pass_per_frame():
    runner = BrightestPixelRunner()
    tracker = PoseTracker(Predictor(runner=runner, settings=Settings(passes=2)), smooth=False)
    xs = np.linspace(100, 200, 12)  # 9 px per frame: inside the previous crop (50 px for collapsed joints)
    for i, x in enumerate(xs):
        pred = tracker.update(blob(x, 150), i / 30)
        assert np.abs(pred.keypoints[0] - (x, 150)).max() <= 1.5, (i, pred.keypoints[0])
    assert len(runner.crops) == 2 + (len(xs) - 1)  # two passes on the first frame, then one per frame


def test_tracker_restarts_from_the_whole_image_when_lost():
    class Invisible(BrightestPixelRunner):
        def __call__(self, batch):
            out = super().__call__(batch)
            return out._replace(visibility=out.visibility * 0.0)

    runner = Invisible()
    tracker = PoseTracker(Predictor(runner=runner, settings=Settings(passes=2)))
    tracker.update(blob(200, 100), 0.0)
    tracker.update(blob(200, 100), 1 / 30)
    assert tracker.roi is None and len(runner.crops) == 4  # lost each time: whole-image passes again


def test_video_command_writes_a_video_and_json_lines(smoke_run, data_root, tmp_path, capsys):
    frame = cv2.imread(str(data_root / "lsp" / "images" / "im1001.jpg"))
    frame = cv2.resize(frame, (160, 240))
    clip = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 240))
    for i in range(6):
        writer.write(np.roll(frame, 3 * i, axis=1))
    writer.release()
    out, lines = tmp_path / "tracked.avi", tmp_path / "tracked.jsonl"
    args = ["video", str(clip), "--weights", str(smoke_run / "model.keras"), "--output", str(out), "--detector", "none"]
    assert main([*args, "--min-presence", "0", "--json", str(lines), "--quiet"]) == 0
    records = [json.loads(line) for line in lines.read_text().splitlines()]
    assert [r["frame"] for r in records] == list(range(6))
    # no detector: every frame has the one tracked person of the whole-image passes
    assert all(len(r["people"]) == 1 and len(r["people"][0]["keypoints"]) == 14 for r in records)
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 6
    assert "tracked 6 frame(s)" in capsys.readouterr().err


def test_video_mistakes(tmp_path, capsys):
    assert main(["video", str(tmp_path / "none.mp4"), "--json", str(tmp_path / "x.jsonl")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["video", "--json", str(tmp_path / "x.jsonl")]) == 2
    assert "video file or --camera" in capsys.readouterr().err
    junk = tmp_path / "junk.mp4"
    junk.write_text("not a video")
    assert main(["video", str(junk), "--json", str(tmp_path / "x.jsonl")]) == 2


def test_tracker_detects_on_the_first_frame_and_again_only_when_the_track_is_lost():
    from tests.helpers import BrightestPixelDetector

    class ScoredByBrightness(BrightestPixelRunner):  # joint scores: the crop's brightest value (0 when dark)
        def __call__(self, batch):
            out = super().__call__(batch)
            bright = batch.reshape(len(batch), -1).max(axis=1, keepdims=True) / 255.0
            return out._replace(visibility=np.repeat(bright, self.num_joints, axis=1).astype(np.float32))

    detector = BrightestPixelDetector()
    tracker = PoseTracker(
        Predictor(runner=ScoredByBrightness(), detector_runner=detector, settings=Settings(passes=2)), smooth=False
    )
    for i, x in enumerate(np.linspace(100, 160, 6)):
        pred = tracker.update(blob(x, 150), i / 30)
        assert len(pred.people) == 1 and np.abs(pred.keypoints[0] - (x, 150)).max() <= 1.5
    assert detector.calls == 1 and tracker.detections == 1  # then the ROI from the previous frame
    tracker.update(np.zeros((300, 500, 3), np.uint8), 6 / 30)  # the person is gone: scores 0, track lost
    assert tracker.roi is None
    tracker.update(blob(200, 100), 7 / 30)
    assert detector.calls == 2 and tracker.detections == 2


def test_tracker_is_lost_when_the_presence_output_says_nobody():
    """A model with a presence output: the track ends on presence, not on the joint scores (which stay 1)."""
    runner = BrightestPixelRunner(presence=0.9)
    tracker = PoseTracker(Predictor(runner=runner, settings=Settings(passes=2)))
    tracker.update(blob(200, 100), 0.0)
    assert tracker.roi is not None
    runner.presence = 0.1  # the tracked crop no longer holds a person
    pred = tracker.update(blob(200, 100), 1 / 30)
    assert tracker.roi is None and pred.people == []  # below --min-presence: nobody on this frame, none written
    tracker.update(blob(200, 100), 2 / 30)  # lost: the whole-image passes again, which find nobody
    assert tracker.roi is None and len(runner.crops) == 2 + 1 + 2

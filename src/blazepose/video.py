"""``blazepose video``: a video file or a webcam through the tracker, drawn and/or written as JSON lines."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from blazepose.errors import BlazePoseError, check_terminated
from blazepose.inference import person_json
from blazepose.tracking import PoseTracker
from blazepose.visualize import JOINT_THRESHOLD, draw_people


def open_source(source: str | int) -> cv2.VideoCapture:
    if isinstance(source, str) and not Path(source).is_file():
        raise BlazePoseError(f"video {source} does not exist")
    cap = cv2.VideoCapture(source)
    if not cap.isOpened():
        what = f"camera {source}" if isinstance(source, int) else f"video {source}"
        raise BlazePoseError(f"cannot open {what} (not a video OpenCV can decode, or no such device)")
    return cap


def _timestamp(cap: cv2.VideoCapture, source: str | int, frame: int, fps: float) -> float:
    """Seconds: the frame's own time in a file (else frame / fps); the wall clock for a camera."""
    if isinstance(source, int):
        return time.monotonic()
    msec = cap.get(cv2.CAP_PROP_POS_MSEC)
    return msec / 1000.0 if msec > 0 else frame / fps


def run_video(
    tracker: PoseTracker,
    source: str | int,
    output: str | Path | None = None,
    json_lines: str | Path | None = None,
    show: bool = False,
    max_frames: int = 0,
    progress: bool = True,
    threshold: float = JOINT_THRESHOLD,
) -> int:
    """Track every frame; returns the number of frames processed. Joints scoring below `threshold` are not
    drawn."""
    from tqdm import tqdm

    cap = open_source(source)
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    if not np.isfinite(fps) or fps <= 0:
        fps = 30.0
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    writer = None
    lines = open(json_lines, "w") if json_lines else None  # noqa: SIM115 (closed in finally)
    frames = 0
    try:
        with tqdm(total=total, unit="frame", desc="video", disable=not progress) as bar:
            while not max_frames or frames < max_frames:
                check_terminated()
                ok, bgr = cap.read()
                if not ok:
                    break
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                t = _timestamp(cap, source, frames, fps)
                pred = tracker.update(rgb, t)
                if lines is not None:
                    people = [person_json(p) for p in pred.people]
                    lines.write(json.dumps({"frame": frames, "time": round(t, 4), "people": people}) + "\n")
                if output is not None or show:
                    skeleton = draw_people(rgb, pred.people, tracker.predictor.skeleton, threshold)
                    drawn = cv2.cvtColor(skeleton, cv2.COLOR_RGB2BGR)
                    if output is not None:
                        if writer is None:
                            Path(output).parent.mkdir(parents=True, exist_ok=True)
                            fourcc = cv2.VideoWriter_fourcc(*("mp4v" if str(output).endswith(".mp4") else "MJPG"))
                            writer = cv2.VideoWriter(str(output), fourcc, fps, (drawn.shape[1], drawn.shape[0]))
                            if not writer.isOpened():
                                raise BlazePoseError(f"cannot write video {output} (try a .avi or .mp4 name)")
                        writer.write(drawn)
                    if show:
                        try:
                            cv2.imshow("blazepose", drawn)
                        except cv2.error:
                            raise BlazePoseError(
                                "--show needs an OpenCV build with a GUI (pip install opencv-python instead of "
                                "opencv-python-headless); use --output to write a video instead"
                            ) from None
                        if cv2.waitKey(1) & 0xFF in (27, ord("q")):
                            break
                frames += 1
                bar.update(1)
    finally:
        cap.release()
        if writer is not None:
            writer.release()
        if lines is not None:
            lines.close()
        if show:
            try:
                cv2.destroyAllWindows()
            except cv2.error:
                pass  # no GUI: already reported by the imshow above
    if frames == 0:
        print(f"warning: no frame could be read from {source}", file=sys.stderr)
    elif total and frames < total and not max_frames:
        print(f"warning: {source} ended after {frames} of its {total} frames (truncated?)", file=sys.stderr)
    return frames

"""Nothing lost: outputs that would overwrite inputs are refused before any work, locks name their process and
stale ones are taken over, a full disk is one error with no partial file, a broken model is an error."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from blazepose import outputs
from blazepose.cli import main
from blazepose.errors import BlazePoseError


def _image(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 64)).save(path)
    return path


def test_predict_refuses_to_write_over_its_inputs(tmp_path, capsys):
    photo = _image(tmp_path / "photos" / "a.jpg")
    before = photo.read_bytes()
    cases = [
        (["predict", str(photo), "--output", str(photo)], "is one of the inputs"),
        (["predict", str(tmp_path / "photos"), "--output", str(photo)], "is one of the inputs"),
        (["predict", str(tmp_path / "photos"), "--draw", str(tmp_path / "photos")], "inside the input folder"),
        (["predict", str(tmp_path / "photos"), "--draw", str(tmp_path / "photos" / "d")], "inside the input folder"),
        (["predict", str(photo), "--draw", "/proc/blazepose-drawings"], "cannot be created"),
    ]
    for argv, words in cases:
        assert main([*argv, "--weights", "nonexistent.keras", "--quiet"]) == 2, argv
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, (argv, err)
    assert photo.read_bytes() == before


def test_video_refuses_to_write_over_its_source(tmp_path, capsys):
    clip = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 64))
    for _ in range(3):
        writer.write(np.zeros((64, 64, 3), np.uint8))
    writer.release()
    before = clip.read_bytes()
    for flag in ("--json", "--output"):
        assert main(["video", str(clip), flag, str(clip), "--quiet"]) == 2
        assert "is one of the inputs" in capsys.readouterr().err
    assert main(["video", str(clip), "--output", str(tmp_path / "o.avi"), "--json", str(tmp_path / "o.avi")]) == 2
    assert "is one of the inputs" in capsys.readouterr().err
    assert clip.read_bytes() == before


def test_export_refuses_to_write_over_its_weights(tmp_path, capsys):
    weights = tmp_path / "w.npz"
    weights.write_bytes(b"weights")
    assert main(["export", "--weights", str(weights), "--format", "npz", "--output", str(weights)]) == 2
    assert "is one of the inputs" in capsys.readouterr().err
    assert weights.read_bytes() == b"weights"


def test_lock_names_a_live_holder_and_takes_over_a_stale_one(tmp_path, capsys):
    target = tmp_path / "out.json"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        Path(f"{target}.lock").write_text(str(sleeper.pid))
        with pytest.raises(BlazePoseError, match=f"process {sleeper.pid}"):
            with outputs.lock(target):
                pass
    finally:
        sleeper.kill()
        sleeper.wait()
    with outputs.lock(target):  # its process is gone: taken over, with a warning
        assert Path(f"{target}.lock").read_text() == str(os.getpid())
    assert "taking it over" in capsys.readouterr().err
    assert not Path(f"{target}.lock").exists()  # released


def test_a_lock_whose_process_ended_unwaited_is_stale(tmp_path, capsys):
    """A killed process not yet waited for (a zombie) holds no lock: a worker restarted beside it takes over."""
    target = tmp_path / "run"
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.time() + 30
        while Path(f"/proc/{ended.pid}/stat").is_file() and " Z " not in Path(f"/proc/{ended.pid}/stat").read_text():
            assert time.time() < deadline
            time.sleep(0.05)
        Path(f"{target}.lock").write_text(str(ended.pid))
        with outputs.lock(target):
            assert Path(f"{target}.lock").read_text() == str(os.getpid())
        assert "taking it over" in capsys.readouterr().err
    finally:
        ended.wait()


def test_full_disk_is_one_error_and_leaves_no_partial_file(tmp_path):
    target = tmp_path / "report.json"
    target.write_text("old")

    def write(f):
        f.write(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(BlazePoseError, match="no space left on the device while writing .*report.json"):
        outputs.atomic_write(target, write)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_a_model_that_outputs_nan_is_an_error_naming_it(tmp_path):
    from blazepose.artifacts import check_finite

    check_finite({"joints": np.zeros((1, 3, 2))}, "m.tflite")
    with pytest.raises(BlazePoseError, match="m.tflite gave outputs that are not finite"):
        check_finite((np.zeros((1, 3, 2)), np.array([[np.nan, 0, 0]]), None), "m.tflite")


def test_a_damaged_tflite_model_is_an_error_not_nobody(tmp_path, capsys):
    """4 KB of a packaged .tflite overwritten with a float32 NaN pattern: either LiteRT refuses the file or its
    outputs are not finite; in neither case does predict report 'no person'."""
    from blazepose.artifacts import packaged_path

    source = packaged_path("lite")
    if source.suffix != ".tflite":
        pytest.skip("LiteRT is not installed")
    data = bytearray(source.read_bytes())
    nan = np.full(1024, np.nan, np.float32).tobytes()
    middle = len(data) // 2
    data[middle : middle + len(nan)] = nan
    damaged = tmp_path / "damaged.tflite"
    damaged.write_bytes(bytes(data))
    (tmp_path / "damaged.toml").write_text(source.with_suffix(".toml").read_text())
    photo = _image(tmp_path / "a.png")
    code = main(["predict", str(photo), "--weights", str(damaged), "--detector", "none", "--quiet"])
    captured = capsys.readouterr()
    assert code == 2 and "Traceback" not in captured.err
    assert "damaged" in captured.err


def test_train_refuses_a_run_folder_that_another_run_holds(tmp_path, data_root):
    from blazepose.config import load_config
    from blazepose.training.train import train

    repo = Path(__file__).resolve().parents[1]
    run = tmp_path / "run"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        Path(f"{run}.lock").write_text(str(sleeper.pid))
        cfg = load_config(repo / "configs" / "smoke.toml", [f"data.root={data_root}"])
        with pytest.raises(BlazePoseError, match=f"process {sleeper.pid}\\) is training into"):
            train(cfg, run, verbose=0)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert not run.exists()


def test_sigterm_ends_predict_promptly_and_leaves_no_lock(tmp_path, data_root):
    import time

    out = tmp_path / "people.json"
    images = data_root / "lsp" / "images"
    cmd = [sys.executable, "-m", "blazepose.cli", "predict", str(images), "--output", str(out), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = Path(f"{out}.lock")
    deadline = time.monotonic() + 120
    while not lock.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lock.exists(), proc.communicate()
    time.sleep(1.0)  # into the images
    proc.terminate()
    start = time.monotonic()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "terminated" in err and "Traceback" not in err
    assert time.monotonic() - start < 30
    assert not lock.exists() and not out.exists()
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())


def test_packaged_models_are_checked_against_their_sha256(tmp_path, monkeypatch):
    import blazepose.artifacts as artifacts
    from blazepose import presets

    path = artifacts.packaged_path("lite")  # the real file: its sum matches
    assert presets.shipped_sha256(path) == presets.PACKAGED["lite"].sha256[path.name]
    # the same file against another sum, as a damaged file's would read
    monkeypatch.setitem(presets.PACKAGED["lite"].sha256, path.name, "0" * 64)
    monkeypatch.setattr(artifacts, "_VERIFIED", set())
    with pytest.raises(BlazePoseError, match="is damaged .* reinstall"):
        artifacts.packaged_path("lite")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the dropped exception itself
def test_a_sigterm_dropped_in_a_finalizer_still_ends_the_loop():
    """Python runs the SIGTERM handler wherever the main thread is; in a __del__ its exception is printed and
    dropped. The long loops check again (errors.check_terminated) and end."""
    from blazepose import errors

    class Finalized:
        def __del__(self):
            errors.terminate(signal.SIGTERM, None)  # as if the signal arrived while this ran

    try:
        Finalized()  # dropped at once: its __del__ raises, Python prints "Exception ignored" and goes on
        with pytest.raises(errors.Terminated):
            errors.check_terminated()
    finally:
        errors._TERMINATING.clear()
    errors.check_terminated()  # nothing pending: no exception

"""Training on several machines (tf.distribute.MultiWorkerMirroredStrategy, workers described by TF_CONFIG):
two worker processes on 127.0.0.1 train the smoke config, match one process on the same global batch, and
resume after one of them is killed. Marked slow: each run traces its steps in two processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "configs" / "smoke.toml"
# a short run: the heatmap phase (3 epochs of 3 steps), then one epoch of the regression phase
SETTINGS = [
    "train.steps_per_epoch=3",
    "train.heatmap_epochs=3",
    "train.regression_epochs=1",
    "train.finetune_epochs=0",
    "train.presence_epochs=0",
    "train.ema_momentum=0",
    "train.run_eagerly=false",
    "data.batch_size=4",
]

pytestmark = pytest.mark.slow


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _command(run_dir: Path, extra: list[str], resume: bool = False) -> list[str]:
    if resume:  # the run's own config.toml, as it was started
        sets = [x for kv in extra for x in ("--set", kv)]
        return [sys.executable, "-m", "blazepose.cli", "train", "--run-dir", str(run_dir), "--resume", *sets]
    sets = [x for kv in [*SETTINGS, *extra] for x in ("--set", kv)]
    return [sys.executable, "-m", "blazepose.cli", "train", "--config", str(SMOKE), "--run-dir", str(run_dir), *sets]


def _start_workers(run_dir: Path, tmp: Path, extra=(), resume=False, tag="") -> list[subprocess.Popen]:
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(2)]}
    procs = []
    for i in range(2):
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})}
        log = open(tmp / f"worker{i}{tag}.log", "w")
        cmd = _command(run_dir, [*([] if resume else ["train.strategy=multi_worker"]), *extra], resume)
        procs.append(subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO))
    return procs


def _wait(procs, timeout=240) -> list[int]:
    return [p.wait(timeout=timeout) for p in procs]


def _log(tmp: Path, name: str) -> str:
    return (tmp / name).read_text(errors="replace")[-3000:]


def _losses(run_dir: Path, phase: str) -> np.ndarray:
    rows = (run_dir / phase / "log.csv").read_text().strip().splitlines()
    header = rows[0].split(",")
    return np.array([float(r.split(",")[header.index("loss")]) for r in rows[1:]])


def test_two_workers_train_as_one_process_would(tmp_path, data_root):
    """Both workers exit 0, the chief's run folder holds the checkpoints and the model, the loss falls, and the
    result matches one process on the same global batch (same seed) to float precision."""
    single = tmp_path / "single"
    done = subprocess.run(_command(single, []), cwd=REPO, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    run = tmp_path / "multi"
    codes = _wait(_start_workers(run, tmp_path))
    assert codes == [0, 0], _log(tmp_path, "worker0.log") + _log(tmp_path, "worker1.log")
    for name in (
        "model.keras",
        "config.toml",
        "state.json",
        "heatmap/best.npz",
        "heatmap/last.npz",
        "regression/last.npz",
    ):
        assert (run / name).is_file(), name
    assert (run / "workers" / "worker1" / "heatmap" / "last.npz").is_file()  # the other worker's own copy
    losses = _losses(run, "heatmap")
    assert losses[-1] < losses[0]
    np.testing.assert_allclose(losses, _losses(single, "heatmap"), rtol=1e-5)
    with np.load(single / "regression" / "last.npz") as a, np.load(run / "regression" / "last.npz") as b:
        with np.load(run / "workers" / "worker1" / "regression" / "last.npz") as c:
            for key in a.files:
                if a[key].dtype.kind == "f":
                    np.testing.assert_allclose(b[key], a[key], atol=1e-4, err_msg=key)
                    np.testing.assert_array_equal(c[key], b[key], err_msg=key)  # the replicas stay identical


def _epochs_done(state: Path) -> int:
    try:
        return json.loads(state.read_text())["phases"].get("heatmap", {}).get("epochs_done", 0)
    except (OSError, ValueError, KeyError):
        return 0


def _after_first_epoch(run: Path, tmp_path: Path, procs) -> None:
    """Until both workers have saved their first epoch (a worker stopped between the chief's save and its own
    would, rightly, be refused on resume: test_a_killed_worker... checks that refusal on purpose)."""
    states = [run / "state.json", run / "workers" / "worker1" / "state.json"]
    deadline = time.time() + 180
    while time.time() < deadline:
        if all(_epochs_done(s) for s in states):
            return
        assert procs[0].poll() is None, _log(tmp_path, "worker0.log")
        time.sleep(0.5)
    pytest.fail("no epoch finished in time: " + _log(tmp_path, "worker0.log"))


def test_sigterm_ends_a_worker_and_the_other_with_one_error(tmp_path, data_root):
    """TensorFlow's coordination service takes SIGTERM for itself; the worker still ends promptly (143, its lock
    released), and the other says so in one line (2)."""
    run = tmp_path / "run"
    procs = _start_workers(run, tmp_path, ["train.steps_per_epoch=20", "train.heatmap_epochs=3"])
    _after_first_epoch(run, tmp_path, procs)
    procs[1].send_signal(signal.SIGTERM)
    codes = _wait(procs, timeout=60)
    assert codes == [2, 143], _log(tmp_path, "worker0.log") + _log(tmp_path, "worker1.log")
    assert _log(tmp_path, "worker1.log").rstrip().endswith("terminated")
    assert "error: another worker of this run stopped" in _log(tmp_path, "worker0.log")
    assert not (run / "workers" / "worker1.lock").exists() and not Path(f"{run}.lock").exists()


def test_a_killed_worker_stops_the_other_and_both_resume(tmp_path, data_root):
    run = tmp_path / "run"
    state = run / "state.json"
    procs = _start_workers(run, tmp_path, ["train.steps_per_epoch=20", "train.heatmap_epochs=3"])
    _after_first_epoch(run, tmp_path, procs)
    procs[1].send_signal(signal.SIGKILL)
    start = time.time()
    code = procs[0].wait(timeout=120)
    assert time.time() - start < 60  # the chief notices promptly, it does not wait on a dead peer
    out = _log(tmp_path, "worker0.log")
    assert code == 2 and "error: another worker of this run stopped" in out and "--resume" in out, out
    assert "Traceback" not in out
    # a worker whose folder says another epoch is done than the chief's: both refuse to go on
    other = run / "workers" / "worker1" / "state.json"
    saved = other.read_text()
    tampered = json.loads(saved)
    tampered["phases"]["heatmap"]["epochs_done"] += 1
    other.write_text(json.dumps(tampered))
    codes = _wait(_start_workers(run, tmp_path, [], True, "-tampered"))
    out = _log(tmp_path, "worker0-tampered.log")
    assert codes == [2, 2] and "workers' run folders disagree on how many epochs are done" in out, out
    other.write_text(saved)
    procs = _start_workers(run, tmp_path, [], True, "-resumed")
    codes = _wait(procs)
    assert codes == [0, 0], _log(tmp_path, "worker0-resumed.log") + _log(tmp_path, "worker1-resumed.log")
    assert "resuming after epoch" in _log(tmp_path, "worker0-resumed.log")
    assert (run / "model.keras").is_file()
    assert json.loads(state.read_text())["phases"]["heatmap"]["epochs_done"] == 3

"""The command line: exit codes, messages without tracebacks, and the data subcommands on real images."""

import subprocess
import sys
import zipfile

import numpy as np
import pytest
import scipy.io
from PIL import Image

from blazepose.cli import main
from blazepose.data.download import sha256_file


def test_data_check_real_lsp_reports_2000_valid(data_root, capsys):
    assert main(["data", "check", str(data_root / "lsp"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "samples: 2000, valid: 2000, unreadable images: 0" in out
    assert "row 3 = occluded (1) / visible (0): 7.3% of joints occluded" in out


def test_data_check_reports_bad_image_and_fails(tiny_lsp, capsys):
    (tiny_lsp / "images" / "im0003.jpg").write_bytes(b"\xff\xd8 truncated")
    (tiny_lsp / "images" / "im0004.jpg").unlink()
    assert main(["data", "check", str(tiny_lsp), "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "valid: 2, unreadable images: 2" in out and "im0003.jpg" in out and "im0004.jpg" in out
    assert "NOT OK" in out


def test_data_check_fails_on_joints_outside_their_images_and_on_a_set_train_refuses(tiny_lsp, capsys):
    """Joints at 10x their coordinates (a wrong scale) lie outside the images; 4 LSP samples are not the 2000
    that the standard split needs (train and evaluate refuse them): both are NOT OK, exit 1."""
    joints = scipy.io.loadmat(str(tiny_lsp / "joints.mat"))["joints"]
    joints[:2] *= 10.0
    scipy.io.savemat(str(tiny_lsp / "joints.mat"), {"joints": joints})
    assert main(["data", "check", str(tiny_lsp), "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "outside their image (> 2 px): 56" in out and "56 of 56 annotated joints lie outside their images" in out
    assert "needs 2000 and refuses this set" in out and "NOT OK" in out


def test_data_check_flags_inverted_polarity(tmp_path, capsys):
    (tmp_path / "images").mkdir()
    joints = np.ones((3, 14, 3))
    joints[2] = 1  # everything "occluded": the polarity has been flipped somewhere
    scipy.io.savemat(str(tmp_path / "joints.mat"), {"joints": joints})
    for i in range(3):
        Image.new("RGB", (20, 20)).save(tmp_path / "images" / f"im{i + 1:04d}.jpg")
    assert main(["data", "check", str(tmp_path), "--quiet"]) == 1
    assert "polarity inverted" in capsys.readouterr().out


def test_user_mistakes_exit_2_without_traceback(tmp_path):
    bad = tmp_path / "c.toml"
    bad.write_text("[data]\nbogus = 1\n")
    # TensorFlow 2.21 writes log lines to stderr when it is imported, whatever TF_CPP_MIN_LOG_LEVEL says: a
    # config mistake must be found before anything imports it.
    cases = (
        ["data", "show", "--config", str(bad)],
        ["train", "--config", str(bad), "--run-dir", str(tmp_path / "run")],
        ["data", "check", str(tmp_path / "nope")],
    )
    for args in cases:
        proc = subprocess.run([sys.executable, "-m", "blazepose.cli", *args], capture_output=True, text=True)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    assert "valid keys" in proc.stderr or "neither a known dataset" in proc.stderr


def test_help_explains_subcommands(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["data", "check", "--help"])
    assert exit_.value.code == 0
    assert "flag polarit" in capsys.readouterr().out


def test_data_show_writes_a_grid(data_root, tmp_path):
    out = tmp_path / "grid.png"
    assert (
        main(
            [
                "data",
                "show",
                "lsp",
                "--count",
                "3",
                "--columns",
                "2",
                "--output",
                str(out),
                "--data-root",
                str(data_root),
            ]
        )
        == 0
    )
    img = np.asarray(Image.open(out))
    assert img.shape == (512, 512, 3)
    # Left (blue) and right (red) joints are drawn in different colours.
    blue = (img[..., 2] > 200) & (img[..., 0] < 80) & (img[..., 1] > 90) & (img[..., 1] < 150)
    red = (img[..., 0] > 200) & (img[..., 1] < 100) & (img[..., 2] < 80)
    assert blue.sum() > 20 and red.sum() > 20


def _fake_archive(tmp_path, top="lsp_dataset"):
    src = tmp_path / "src"
    (src / "images").mkdir(parents=True)
    joints = np.zeros((3, 14, 1))
    scipy.io.savemat(str(src / "joints.mat"), {"joints": joints})
    Image.new("RGB", (10, 10)).save(src / "images" / "im0001.jpg")
    archive = tmp_path / "archive.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in src.rglob("*"):
            zf.write(f, f"{top}/{f.relative_to(src)}")
    return archive, sha256_file(src / "joints.mat")


def test_download_from_a_local_url_with_checksums(tmp_path):
    from blazepose.data.download import download_dataset

    archive, joints_sha = _fake_archive(tmp_path)
    folder = download_dataset(
        "lsp",
        tmp_path / "data",
        url=archive.as_uri(),
        sha256=sha256_file(archive),
        joints_sha256=joints_sha,
        progress=False,
    )
    assert folder == tmp_path / "data" / "lsp"
    assert (folder / "joints.mat").is_file() and (folder / "images" / "im0001.jpg").is_file()
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["lsp"]  # no .part, no zip left


def test_download_rejects_wrong_checksums(tmp_path, capsys):
    archive, _ = _fake_archive(tmp_path)
    dest = tmp_path / "data"
    assert main(["data", "download", "lsp", "--dest", str(dest), "--url", archive.as_uri(), "--sha256", "0" * 64]) == 2
    assert "does not match" in capsys.readouterr().err
    assert list(dest.iterdir()) == []  # nothing half-downloaded left behind
    # Right archive, but its joints.mat is not the person-centric file the project expects: the data already there
    # is untouched, nothing of the rejected download is left
    (dest / "lsp").mkdir()
    (dest / "lsp" / "joints.mat").write_bytes(b"the old data")
    assert main(["data", "download", "lsp", "--dest", str(dest), "--url", archive.as_uri()]) == 2
    assert "person-centric" in capsys.readouterr().err
    assert sorted(p.name for p in dest.iterdir()) == ["lsp"]
    assert (dest / "lsp" / "joints.mat").read_bytes() == b"the old data"
    # a damaged archive: likewise
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(archive.read_bytes()[: len(archive.read_bytes()) // 2])
    assert main(["data", "download", "lsp", "--dest", str(dest), "--url", damaged.as_uri()]) == 2
    assert "not a valid zip archive" in capsys.readouterr().err
    assert sorted(p.name for p in dest.iterdir()) == ["lsp"]
    assert (dest / "lsp" / "joints.mat").read_bytes() == b"the old data"


def test_download_refuses_an_archive_beyond_the_bounds(tmp_path, capsys, monkeypatch):
    import blazepose.data.download as download

    archive, _ = _fake_archive(tmp_path)
    monkeypatch.setattr(download, "MAX_UNPACKED_BYTES", 10)
    assert main(["data", "download", "lsp", "--dest", str(tmp_path / "d"), "--url", archive.as_uri()]) == 2
    assert "is refused" in capsys.readouterr().err
    monkeypatch.setattr(download, "MAX_MEMBERS", 1)
    assert main(["data", "download", "lsp", "--dest", str(tmp_path / "d"), "--url", archive.as_uri()]) == 2
    assert "is not a dataset here" in capsys.readouterr().err
    assert list((tmp_path / "d").iterdir()) == []


def test_download_unreachable_url(tmp_path, capsys):
    assert main(["data", "download", "lsp", "--dest", str(tmp_path), "--url", (tmp_path / "x.zip").as_uri()]) == 2
    assert "could not download" in capsys.readouterr().err


@pytest.mark.parametrize("module, expected", [("tensorflow.python", "blazepose[cpu]"), ("onnx", "blazepose[export]")])
def test_a_command_needing_what_the_runtime_install_leaves_out_says_what_to_install(
    monkeypatch, capsys, module, expected
):
    def needs_it(args):
        raise ModuleNotFoundError(f"No module named {module!r}", name=module)

    monkeypatch.setattr("blazepose.cli.cmd_info", needs_it)
    assert main(["info"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {module.split('.')[0]} is not installed") and expected in err
    extra = expected.split("[")[1]
    assert f"pip install -e '.[{extra}" in err  # what a checkout of the source needs


def test_a_missing_module_that_is_a_bug_keeps_its_traceback(monkeypatch):
    def broken(args):
        raise ModuleNotFoundError("No module named 'blazepose.nowhere'", name="blazepose.nowhere")

    monkeypatch.setattr("blazepose.cli.cmd_info", broken)
    with pytest.raises(ModuleNotFoundError):
        main(["info"])


def test_predict_into_a_named_pipe_writes_through_it_and_leaves_it_a_pipe(data_root, tmp_path):
    """--output /dev/null or /dev/stdout must not be replaced by a plain file (the atomic write's rename did
    that to /dev/null when run as root); a named pipe stands in for them here."""
    import os
    import stat
    import threading

    pipe = tmp_path / "out.json"
    os.mkfifo(pipe)
    received = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_bytes()), daemon=True)
    reader.start()
    image = str(data_root / "lsp" / "images" / "im0001.jpg")
    code = main(["predict", image, "--weights", "lite", "--detector", "none", "--quiet", "--output", str(pipe)])
    reader.join(timeout=10)
    assert code == 0 and stat.S_ISFIFO(pipe.stat().st_mode)
    assert b'"joint_names"' in received[0]
    assert not (tmp_path / "out.json.lock").exists()


def test_a_reader_that_goes_away_ends_the_command_quietly():
    """`blazepose info ... | head -1`: no BrokenPipeError traceback once the reader has closed the pipe."""
    from tests.conftest import REPO

    cmd = [sys.executable, "-m", "blazepose.cli", "info", "--config", str(REPO / "configs/smoke.toml")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the first line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141 and "Traceback" not in err, err

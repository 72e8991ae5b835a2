"""Any skeleton, end to end: COCO-17 trained natively on coco_mini, and a 5-keypoint skeleton given in a file
(train, evaluate, predict, draw, export), with the skeleton saved beside every artifact."""

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from blazepose.cli import main
from blazepose.keypoints import COCO, LSP

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

# A 5-keypoint skeleton of our own, its joints taken from LSP's labels: no normaliser pair (PCK uses the
# keypoints' box diagonal), one flip pair from the names, edges for drawing.
SKELETON = """name = "five"
joints = ["head", "left_hand", "right_hand", "pelvis", "chest"]
edges = [["head", "chest"], ["chest", "left_hand"], ["chest", "right_hand"], ["chest", "pelvis"]]
[parts]
Hands = ["left_hand", "right_hand"]
Body = ["head", "pelvis", "chest"]
"""


def _five_keypoint_folder(data_root: Path, folder: Path, count: int = 12) -> Path:
    """annotations.json with 5 keypoints per image, from LSP im0001.. labels (head top, wrists, mid-hips,
    neck), naming its skeleton file."""
    joints = scipy.io.loadmat(data_root / "lsp" / "joints.mat")["joints"]  # (3, 14, N), row 3 = occluded
    folder.mkdir(parents=True)
    (folder / "five.toml").write_text(SKELETON)
    samples = []
    for i in range(count):
        xy = joints[:2, :, i].T
        pick = {
            "head": xy[LSP.index("head_top")],
            "left_hand": xy[LSP.index("left_wrist")],
            "right_hand": xy[LSP.index("right_wrist")],
            "pelvis": (xy[LSP.index("left_hip")] + xy[LSP.index("right_hip")]) / 2,
            "chest": xy[LSP.index("neck")],
        }
        rows = [[float(x), float(y), 2] for x, y in pick.values()]
        samples.append({"image": str(data_root / "lsp" / "images" / f"im{i + 1:04d}.jpg"), "keypoints": rows})
    names = ["head", "left_hand", "right_hand", "pelvis", "chest"]
    (folder / "annotations.json").write_text(
        json.dumps({"joint_names": names, "skeleton": "five.toml", "samples": samples})
    )
    return folder


@pytest.mark.slow
def test_coco17_smoke_trains_natively_and_predicts_17_named_keypoints(data_root, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--config", str(REPO / "configs/coco17_smoke.toml"), "--run-dir", str(run),
                 "--data-root", str(data_root)]) == 0  # fmt: skip
    out = tmp_path / "p.json"
    image = str(data_root / "lsp" / "images" / "im0001.jpg")
    assert main(["predict", image, "--weights", str(run / "model.keras"), "--detector", "none",
                 "--output", str(out), "--quiet"]) == 0  # fmt: skip
    payload = json.loads(out.read_text())
    assert payload["joint_names"] == list(COCO.joint_names)
    (person,) = payload["predictions"][0]["people"]
    assert len(person["keypoints"]) == 17
    coco = tmp_path / "c.json"  # COCO results: all 17 filled
    assert main(["predict", image, "--weights", str(run / "model.keras"), "--detector", "none", "--format",
                 "coco", "--output", str(coco), "--quiet"]) == 0  # fmt: skip
    (result,) = json.loads(coco.read_text())
    assert (np.asarray(result["keypoints"]).reshape(17, 3)[:, 2] == 1).all()
    assert 'skeleton = "coco"' in (run / "config.toml").read_text()
    # scored on LSP through the built-in COCO -> LSP mapping: the neck and head top from the shoulders and face
    report_dir = tmp_path / "eval"
    assert main(["evaluate", "--split", "val", "--limit", "4", "--weights", str(run / "model.keras"), "--detector",
                 "none", "--output-dir", str(report_dir), "--quiet", "--data-root", str(data_root)]) == 0  # fmt: skip
    report = json.loads((report_dir / "report.json").read_text())
    per_joint = report["pck@0.2"]["per_joint"]
    assert report["model_skeleton"] == "coco" and report["joint_names"] == list(LSP.joint_names)
    assert set(per_joint) == set(LSP.joint_names) and report["pck@0.2"]["valid"] == 4 * 14


@pytest.mark.slow
def test_a_skeleton_file_works_end_to_end(data_root, tmp_path, capsys):
    folder = _five_keypoint_folder(data_root, tmp_path / "five")
    (tmp_path / "mine.toml").write_text(SKELETON)  # the model's skeleton file, a copy of the dataset's
    run = tmp_path / "run"
    args = ["train", "--config", str(REPO / "configs/smoke.toml"), "--run-dir", str(run)]
    sets = [f"data.root={folder}", "data.split=custom", 'data.train_sets=["custom"]',
            f"model.skeleton={tmp_path / 'mine.toml'}", "train.finetune_epochs=0"]  # fmt: skip
    assert main([*args, *[x for s in sets for x in ("--set", s)]]) == 0
    # the skeleton travels with the run: a copy beside its config, named relative to it
    assert 'skeleton = "config.skeleton.toml"' in (run / "config.toml").read_text()
    (tmp_path / "mine.toml").unlink()  # nothing below may need the original file
    model = str(run / "model.keras")

    out, drawn = tmp_path / "p.json", tmp_path / "drawn"
    image = str(data_root / "lsp" / "images" / "im0002.jpg")
    assert main(["predict", image, "--weights", model, "--output", str(out), "--draw", str(drawn), "--quiet",
                 "--min-presence", "0", "--detector", "none"]) == 0  # fmt: skip
    payload = json.loads(out.read_text())
    assert payload["joint_names"] == ["head", "left_hand", "right_hand", "pelvis", "chest"]
    assert len(payload["predictions"][0]["people"][0]["keypoints"]) == 5
    assert (drawn / "im0002.png").is_file()

    # tracked through a clip: the ROI from the previous frame's 5 keypoints (no hips: an axis-aligned re-crop)
    import cv2

    frame = cv2.resize(cv2.imread(image), (96, 160))
    clip, lines = tmp_path / "clip.avi", tmp_path / "tracked.jsonl"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10, (96, 160))
    for i in range(4):
        writer.write(np.roll(frame, 2 * i, axis=1))
    writer.release()
    assert main(["video", str(clip), "--weights", model, "--detector", "none", "--min-presence", "0", "--json",
                 str(lines), "--output", str(tmp_path / "tracked.avi"), "--quiet"]) == 0  # fmt: skip
    records = [json.loads(line) for line in lines.read_text().splitlines()]
    assert len(records) == 4 and all(len(r["people"][0]["keypoints"]) == 5 for r in records)

    capsys.readouterr()
    report_dir = tmp_path / "eval"
    assert main(["evaluate", "--dataset", str(folder), "--weights", model, "--output-dir", str(report_dir),
                 "--quiet", "--detector", "none"]) == 0  # fmt: skip
    report = json.loads((report_dir / "report.json").read_text())
    assert report["images"] == 2 and report["normalizer"] == "keypoints' box diagonal"  # 0.2 of 12 validate
    assert set(report["pck@0.2"]["per_part"]) == {"Hands", "Body"} and "pckh@0.5" not in report
    assert "PCK normaliser: keypoints' box diagonal" in capsys.readouterr().out

    exported = tmp_path / "five.tflite"
    assert main(["export", "--weights", model, "--format", "tflite", "--output", str(exported)]) == 0
    meta = json.loads((tmp_path / "five.tflite.json").read_text())
    assert meta["joint_names"][0] == "head" and meta["skeleton"]["edges"][0] == ["head", "chest"]
    assert (tmp_path / "five.skeleton.toml").is_file()
    out2 = tmp_path / "p2.json"
    assert main(["predict", image, "--weights", str(exported), "--output", str(out2), "--quiet",
                 "--min-presence", "0", "--detector", "none"]) == 0  # fmt: skip
    a = np.asarray(payload["predictions"][0]["people"][0]["keypoints"])[:, :2]
    b = np.asarray(json.loads(out2.read_text())["predictions"][0]["people"][0]["keypoints"])[:, :2]
    assert np.abs(a - b).max() < 2.0  # the export predicts what the Keras model does


def test_a_dataset_of_other_joints_is_refused_with_both_lists(data_root, tmp_path, capsys):
    args = ["train", "--config", str(REPO / "configs/smoke.toml"), "--run-dir", str(tmp_path / "run"),
            "--data-root", str(data_root), "--set", "model.skeleton=coco"]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "skeleton 'lsp' (right_ankle" in err and "the model's skeleton 'coco' has nose" in err
    assert "Traceback" not in err and not (tmp_path / "run").exists()


@pytest.mark.parametrize("parts", [{}, {"Hands": 0.5, "Body": 0.25}])
def test_report_table_rows_have_as_many_cells_as_its_header(parts):
    from blazepose.evaluation.evaluate import format_table

    report = {
        "pck@0.2": {"per_part": parts, "mean": 0.4, "valid": 10, "excluded": 0, "per_joint": {"head": 0.4}},
        "images": 2, "crop": "whole image", "passes": 2, "auc@0.2": 0.3, "mean_pixel_error": 3.0,
        "unreadable_images": [], "images_per_second": 5.0, "normalizer": "keypoints' box diagonal",
    }  # fmt: skip
    table = [line for line in format_table(report).splitlines() if line.startswith("| ") or line.startswith("|-")]
    header, rule, pck = table[:3]
    assert header.count("|") == rule.count("|") == pck.count("|") == len(parts) + 3
    assert pck.endswith("| **40.0** |")

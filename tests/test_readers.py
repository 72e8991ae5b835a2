import dataclasses
import json

import numpy as np
import pytest
import scipy.io

from blazepose.config import DataConfig
from blazepose.data.coco import read_coco
from blazepose.data.datasets import detect_dataset, load_split, lsp_val_indices, read_for, resolve_dataset, to_skeleton
from blazepose.data.lsp import read_lsp, read_lspet
from blazepose.errors import BlazePoseError
from blazepose.keypoints import COCO, LSP


def test_lsp_polarity_on_the_real_file(data_root):
    samples, problems = read_lsp(data_root / "lsp")
    assert len(samples) == 2000 and problems == []
    assert samples[0].image_path.endswith("im0001.jpg") and samples[-1].image_path.endswith("im2000.jpg")
    raw = scipy.io.loadmat(str(data_root / "lsp" / "joints.mat"))["joints"]  # (3, 14, N), row 3 = occluded
    vis = np.stack([s.visibility for s in samples])
    np.testing.assert_array_equal(vis, 1 - raw[2].T)  # visible = not occluded
    assert abs((1 - vis).mean() - 0.073) < 1e-9  # 7.3 % occluded (PROVENANCE)
    assert all(s.mask.all() for s in samples)  # every LSP joint is annotated
    np.testing.assert_allclose(samples[0].keypoints[0], raw[:2, 0, 0], rtol=1e-6)  # x, y of R ankle, im0001


def test_lspet_polarity_on_the_real_file(data_root):
    samples, problems = read_lspet(data_root / "lspet")
    assert len(samples) == 10000 and problems == []
    raw = scipy.io.loadmat(str(data_root / "lspet" / "joints.mat"))["joints"]  # (14, 3, N), col 3 = annotated
    mask = np.stack([s.mask for s in samples])
    np.testing.assert_array_equal(mask, raw[:, 2].T)
    assert int(mask.sum()) == 123213  # annotated joints (PROVENANCE)
    # im00001: right ankle is not annotated (flag 0, y < 0): masked, zeroed, not visible.
    assert mask[0, 0] == 0 and samples[0].visibility[0] == 0 and (samples[0].keypoints[0] == 0).all()
    assert samples[0].image_path.endswith("im00001.jpg")


def _write_mat(path, joints):
    scipy.io.savemat(str(path), {"joints": joints})


def test_wrong_shape_names_file_and_expected_layout(tmp_path):
    (tmp_path / "images").mkdir()
    _write_mat(tmp_path / "joints.mat", np.zeros((14, 3, 5)))  # LSPet layout given to the LSP reader
    with pytest.raises(BlazePoseError, match=r"joints\.mat.*\(14, 3, 5\).*expected \(3, 14, N\)"):
        read_lsp(tmp_path)


def test_truncated_mat_and_missing_key(tmp_path):
    _write_mat(tmp_path / "joints.mat", np.zeros((3, 14, 5)))
    data = (tmp_path / "joints.mat").read_bytes()
    (tmp_path / "joints.mat").write_bytes(data[: len(data) // 2])
    with pytest.raises(BlazePoseError, match="not a readable MATLAB"):
        read_lsp(tmp_path)
    scipy.io.savemat(str(tmp_path / "joints.mat"), {"points": np.zeros((3, 14, 5))})
    with pytest.raises(BlazePoseError, match="no 'joints' array.*points"):
        read_lsp(tmp_path)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_coordinates_are_masked_reported_and_kept_out_of_the_targets(tmp_path, bad):
    joints = np.ones((3, 14, 2))
    joints[2] = 0
    joints[0, 4, 1] = bad
    _write_mat(tmp_path / "joints.mat", joints)
    samples, problems = read_lsp(tmp_path)
    assert samples[1].mask[4] == 0 and samples[1].mask.sum() == 13 and samples[0].mask.sum() == 14
    assert len(problems) == 1 and "im0002.jpg" in problems[0] and "[4]" in problems[0]
    assert np.isfinite(samples[1].keypoints).all()  # an infinite masked joint once reached the loss as NaN


def test_coco_non_finite_keypoints_are_masked_and_reported(tmp_path):
    import json

    kps = [10.0, 20.0, 2] * 17
    kps[3:6] = [float("inf"), 5.0, 2]  # Python's json writes Infinity, and reads it back
    data = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 64}],
        "annotations": [{"id": 7, "image_id": 1, "keypoints": kps, "num_keypoints": 17, "bbox": [0, 0, 9, 9]}],
    }
    (tmp_path / "a.json").write_text(json.dumps(data))
    (sample,), problems = read_coco(tmp_path / "a.json", tmp_path)
    assert sample.mask[1] == 0 and sample.mask.sum() == 16 and np.isfinite(sample.keypoints).all()
    assert len(problems) == 1 and "annotation 7" in problems[0] and "non-finite" in problems[0]


def test_flag_values_other_than_0_1_rejected(tmp_path):
    joints = np.ones((3, 14, 2))
    joints[2, 0, 0] = 2
    _write_mat(tmp_path / "joints.mat", joints)
    with pytest.raises(BlazePoseError, match="other than 0 and 1"):
        read_lsp(tmp_path)


def test_coco_reader(data_root):
    folder = data_root / "coco_mini"
    samples, problems = read_coco(folder / "annotations" / "person_keypoints_train2017.json", folder / "train2017")
    assert len(samples) == 86 and problems == []  # 86 annotations with at least one keypoint
    assert all(s.keypoints.shape == (17, 2) and s.box is not None for s in samples)
    lsp_samples = to_skeleton(samples, COCO, LSP, "coco_mini")
    assert all(s.keypoints.shape == (14, 2) for s in lsp_samples)
    face = [COCO.index(n) for n in ("nose", "left_ear", "right_ear", "left_shoulder", "right_shoulder")]
    tops = [s.mask[13] for s in lsp_samples]  # the head top where the face and shoulders are labelled
    assert tops == [float(s.mask[face].all()) for s in samples] and 0 < sum(tops) < len(tops)
    assert len(read_for("coco", data_root, COCO)) == 86 and len(read_for("coco", data_root, LSP)) == 86
    with pytest.raises(BlazePoseError, match="skeleton 'lsp' .*right_ankle.*the model's skeleton 'coco' has nose"):
        read_for("lsp", data_root, COCO)  # LSP has no face joints: no built-in mapping


def test_coco_bad_json(tmp_path):
    (tmp_path / "a.json").write_text("{not json")
    with pytest.raises(BlazePoseError, match="not valid JSON"):
        read_coco(tmp_path / "a.json", tmp_path)


def test_standard_split(data_root):
    cfg = DataConfig(root=str(data_root), train_sets=("lsp",), val_fraction=0.2)
    train, val, test = (load_split(cfg, s) for s in ("train", "val", "test"))
    assert (len(train), len(val), len(test)) == (800, 200, 1000)
    names = lambda ss: {s.name for s in ss}  # noqa: E731
    assert names(test) == {f"im{i:04d}.jpg" for i in range(1001, 2001)}
    assert not names(train) & names(val) and not (names(train) | names(val)) & names(test)
    np.testing.assert_array_equal(lsp_val_indices(0.2, 0), lsp_val_indices(0.2, 0))
    assert not np.array_equal(lsp_val_indices(0.2, 0), lsp_val_indices(0.2, 1))
    full = load_split(DataConfig(root=str(data_root)), "train")
    assert len(full) == 800 + 10000
    mixed = load_split(DataConfig(root=str(data_root), lsp_repeats=3), "train")
    assert len(mixed) == 3 * 800 + 10000 and sum(s.dataset == "lsp" for s in mixed) == 2400
    assert names([s for s in mixed if s.dataset == "lsp"]) == names(train)  # the same 800, never val or test
    with pytest.raises(BlazePoseError, match="lsp_repeats"):
        load_split(DataConfig(root=str(data_root), lsp_repeats=0), "train")


def test_lspet_benchmark_split(data_root):
    """The seed's LSPet benchmark: im00001-im02500 train (validation carved from it), im02501-im03000 held out."""
    cfg = DataConfig(root=str(data_root), split="lspet", train_sets=("lspet",), val_fraction=0.2)
    train, val, test = (load_split(cfg, s) for s in ("train", "val", "test"))
    assert (len(train), len(val), len(test)) == (2000, 500, 500)
    names = lambda ss: {s.name for s in ss}  # noqa: E731
    assert names(test) == {f"im{i:05d}.jpg" for i in range(2501, 3001)}
    assert names(train) | names(val) == {f"im{i:05d}.jpg" for i in range(1, 2501)}
    assert not names(train) & names(val) and {s.dataset for s in train + val + test} == {"lspet"}
    with pytest.raises(BlazePoseError, match='train_sets = \\["lspet"\\]'):
        load_split(DataConfig(root=str(data_root), split="lspet"), "train")  # LSP + LSPet would leak the test part
    with pytest.raises(BlazePoseError, match="data.split: unknown 'mpii'; known: lsp, lspet"):
        load_split(DataConfig(root=str(data_root), split="mpii"), "val")


def test_other_training_sets_hold_back_their_validation(data_root):
    """Beside LSP, coco_mini trains on its training half only: its validation half is what `evaluate --dataset
    coco` scores (40 of its 86 people lie on the even places, 46 on the odd)."""
    from blazepose.evaluation.coco_eval import coco_part

    cfg = DataConfig(root=str(data_root), train_sets=("lsp", "coco"))
    coco = [s for s in load_split(cfg, "train") if s.dataset == "coco"]
    half = {
        im["id"]
        for im in coco_part(data_root / "coco_mini/annotations/person_keypoints_train2017.json", "val")["images"]
    }
    assert len(coco) == 40 and not {s.meta["image_id"] for s in coco} & half
    assert {s.meta["image_rank"] % 2 for s in coco} == {0}
    neck = LSP.index("neck")
    top = LSP.index("head_top")
    assert not any(s.mask[neck] or s.mask[top] for s in coco)  # derived from the face: not trained on
    labelled = [s for s in read_for("coco", data_root, LSP) if s.meta["image_rank"] % 2 == 0 and s.mask[neck]]
    assert labelled  # ... though evaluation reads it
    repeated = [s for s in load_split(dataclasses.replace(cfg, coco_repeats=3), "train") if s.dataset == "coco"]
    ids = {s.meta["annotation_id"] for s in coco}
    assert len(repeated) == 120 and {s.meta["annotation_id"] for s in repeated} == ids
    with pytest.raises(BlazePoseError, match="coco_repeats"):
        load_split(dataclasses.replace(cfg, coco_repeats=0), "train")


def test_detect_dataset_by_layout(data_root, tmp_path):
    assert detect_dataset(data_root / "lsp") == "lsp"
    assert detect_dataset(data_root / "lspet") == "lspet"
    assert detect_dataset(data_root / "coco_mini") == "coco"
    assert resolve_dataset("lsp", data_root)[1] == (data_root / "lsp").resolve()
    with pytest.raises(BlazePoseError, match="not a dataset folder"):
        detect_dataset(tmp_path)
    with pytest.raises(BlazePoseError, match="neither a known dataset"):
        resolve_dataset("no-such-thing")


def _custom(folder, samples, names=None):
    import json

    folder.mkdir(parents=True, exist_ok=True)
    payload = {"samples": samples}
    if names is not None:
        payload["joint_names"] = names
    (folder / "annotations.json").write_text(json.dumps(payload))
    return folder


def test_custom_format_flags_and_paths(tmp_path):
    from blazepose.data.custom import read_custom
    from blazepose.keypoints import LSP

    kps = [[10.0 + j, 20.0, 2] for j in range(14)]
    kps[3][2] = 1  # occluded
    kps[5] = [0, 0, 0]  # not annotated
    folder = _custom(tmp_path / "mine", [{"image": "images/a.jpg", "keypoints": kps}], list(LSP.joint_names))
    (samples, problems) = read_custom(folder)
    s = samples[0]
    assert problems == [] and s.image_path == str(folder / "images" / "a.jpg")
    assert s.mask[5] == 0 and s.mask.sum() == 13 and s.visibility[3] == 0 and s.visibility[4] == 1
    assert detect_dataset(folder) == "custom"


def test_custom_dataset_names_its_joints(tmp_path):
    """annotations.json's joint_names make its skeleton (flip pairs from the names); a skeleton file it names
    must list the same joints; a model of another skeleton is refused with both lists."""
    from blazepose.data.custom import custom_skeleton, read_custom

    names = ["nose", "left_eye", "right_eye", "tail"]
    rows = [[1, 2, 2], [3, 4, 2], [5, 6, 1], [0, 0, 0]]
    folder = _custom(tmp_path / "pets", [{"image": "a.jpg", "keypoints": rows}], names)
    (sample,), problems = read_custom(folder)
    sk = custom_skeleton(folder)
    assert problems == [] and sk.joint_names == tuple(names) and sk.flip_pairs == ((1, 2),)
    np.testing.assert_array_equal(sample.mask, [1, 1, 1, 0])
    np.testing.assert_array_equal(sample.visibility, [1, 1, 0, 0])
    with pytest.raises(BlazePoseError, match=r"nose, left_eye, right_eye, tail\), the model's skeleton 'lsp'"):
        read_for("custom", folder, LSP)
    shared = _custom(tmp_path / "wrists", [{"image": "a.jpg", "keypoints": [[1, 2, 2], [3, 4, 2], [5, 6, 2]]}],
                     ["left_wrist", "right_wrist", "nose"])  # fmt: skip
    with pytest.raises(BlazePoseError, match="data.map_joints = true"):
        read_for("custom", shared, LSP)
    (mapped,) = read_for("custom", shared, LSP, by_name=True)  # data.map_joints: by name, the rest masked
    assert mapped.mask.sum() == 2 and tuple(mapped.keypoints[LSP.index("right_wrist")]) == (3, 4)
    with pytest.raises(BlazePoseError, match="share none with the model's skeleton 'lsp'"):
        read_for("custom", folder, LSP, by_name=True)
    (folder / "sk.toml").write_text('joints = ["nose", "left_eye", "right_eye"]\n')
    data = json.loads((folder / "annotations.json").read_text())
    (folder / "annotations.json").write_text(json.dumps({**data, "skeleton": "sk.toml"}))
    with pytest.raises(BlazePoseError, match="joint_names .* differ from its skeleton file"):
        custom_skeleton(folder)


def test_custom_format_mistakes(tmp_path):
    from blazepose.data.custom import read_custom

    bad = _custom(tmp_path / "a", [{"image": "x.jpg", "keypoints": [[1, 2, 2]] * 13}, {"image": "y.jpg"}])
    samples, problems = read_custom(bad)
    assert samples == [] and "shape (13, 3)" in problems[0] and "needs 'image' and 'keypoints'" in problems[1]
    with pytest.raises(BlazePoseError, match="annotations.json: duplicate joint name.*: nose"):
        read_custom(_custom(tmp_path / "b", [], ["nose", "nose"]))
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "annotations.json").write_text("[1, 2]")
    with pytest.raises(BlazePoseError, match="expected an object with a 'samples' list"):
        read_custom(tmp_path / "c")


def test_coco_split_halves_are_coco_evals(data_root):
    """data.split = "coco": its validation people are those of coco_eval's validation half (odd places among all
    the json's images in id order, images without people counted), its training people the rest."""
    from blazepose.evaluation.coco_eval import coco_part

    cfg = DataConfig(root=str(data_root), split="coco", train_sets=("coco",))
    train, val = load_split(cfg, "train", COCO), load_split(cfg, "val", COCO)
    half = {
        im["id"]
        for im in coco_part(data_root / "coco_mini/annotations/person_keypoints_train2017.json", "val")["images"]
    }
    assert len(train) + len(val) == 86 and {s.meta["image_id"] for s in val} <= half
    assert not {s.meta["image_id"] for s in train} & half


def test_coco_parts_by_hand():
    from blazepose.data.coco import image_part, images_in_part

    images = [{"id": i} for i in (30, 10, 20, 50, 40)]  # id order: 10 20 30 40 50 -> train val train val train
    assert [im["id"] for im in images_in_part(images, "train")] == [10, 30, 50]
    assert [im["id"] for im in images_in_part(images, "val")] == [20, 40]
    assert [image_part(r) for r in range(4)] == ["train", "val", "train", "val"]
    assert len(images_in_part(images, "all")) == 5

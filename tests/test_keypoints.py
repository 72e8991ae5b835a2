import numpy as np
import pytest

from blazepose.keypoints import COCO, LSP, map_keypoints


def test_lsp_joint_order_and_torso():
    assert LSP.joint_names[0] == "right_ankle" and LSP.joint_names[13] == "head_top"
    assert LSP.joint_names[LSP.torso[0]] == "left_shoulder" and LSP.joint_names[LSP.torso[1]] == "right_hip"


def test_flip_pairs_swap_left_and_right_by_name():
    for sk in (LSP, COCO):
        p = sk.flip_index
        assert (p[p] == np.arange(sk.num_joints)).all()  # an involution
        for j, name in enumerate(sk.joint_names):
            mirrored = name.replace("left", "@").replace("right", "left").replace("@", "right")
            assert sk.joint_names[p[j]] == mirrored


def test_parts_cover_every_lsp_joint_once():
    joints = sorted(j for _, js in LSP.parts for j in js)
    assert joints == list(range(14))


def test_coco_to_lsp_derives_neck_and_head_top():
    """LSP's neck 0.4 of the way from the mid-shoulders to the nose, its head top 2.2 x mid-ears - 0.72 x nose -
    0.48 x mid-shoulders (keypoints.DERIVED), worked out by hand: mid-shoulders (20, 30), nose (20, 0), mid-ears
    (20, 5) -> neck (20, 18), head top (44 - 14.4 - 9.6, 11 - 0 - 14.4) = (20, -3.4)."""
    kps = np.zeros((17, 2), np.float32)
    for name, xy in (("left_shoulder", (10, 20)), ("right_shoulder", (30, 40)), ("nose", (20, 0)),
                     ("left_ear", (15, 5)), ("right_ear", (25, 5)), ("left_wrist", (5, 6))):  # fmt: skip
        kps[COCO.index(name)] = xy
    vis = np.ones(17, np.float32)
    vis[COCO.index("nose")] = 0.3
    mask = np.ones(17, np.float32)
    out, v, m = map_keypoints(kps, vis, mask, COCO, LSP)
    assert out.shape == (14, 2)
    np.testing.assert_allclose(out[LSP.index("neck")], (20, 18), atol=1e-5)
    np.testing.assert_allclose(out[LSP.index("head_top")], (20, -3.4), atol=1e-5)
    assert v[LSP.index("neck")] == np.float32(0.3)  # the lowest visibility of the joints it is made of
    assert m[LSP.index("head_top")] == 1 and m[LSP.index("neck")] == 1
    np.testing.assert_allclose(out[LSP.index("left_wrist")], (5, 6))
    mask[COCO.index("right_shoulder")] = 0  # one joint of each rule unknown: both unknown
    out, _, m = map_keypoints(kps, vis, mask, COCO, LSP)
    assert m[LSP.index("neck")] == 0 and m[LSP.index("head_top")] == 0
    assert not out[LSP.index("neck")].any()


def test_a_skeleton_without_a_face_gets_the_mid_shoulders_as_neck():
    from blazepose.keypoints import derived_rule, skeleton_from_dict

    torso = skeleton_from_dict(
        {"joints": ["left_shoulder", "right_shoulder", "left_hip", "right_hip"],
         "normalizer": ["left_shoulder", "right_hip"]}, "test")  # fmt: skip
    kps = np.array([[10, 20], [30, 40], [10, 80], [30, 80]], np.float32)
    out, _, m = map_keypoints(kps, np.ones(4), np.ones(4), torso, LSP)
    np.testing.assert_allclose(out[LSP.index("neck")], (20, 30))
    assert m[LSP.index("head_top")] == 0 and derived_rule("head_top", torso) is None


def test_blazepose33_topology():
    from blazepose.keypoints import BLAZEPOSE33

    assert BLAZEPOSE33.num_joints == 33 and BLAZEPOSE33.joint_names[0] == "nose"
    assert BLAZEPOSE33.joint_names[11:13] == ("left_shoulder", "right_shoulder")
    assert BLAZEPOSE33.joint_names[31:] == ("left_foot_index", "right_foot_index")
    assert len(BLAZEPOSE33.edges) == 35 and len(BLAZEPOSE33.flip_pairs) == 16  # the nose alone has no mirror
    p = BLAZEPOSE33.flip_index
    assert p[9] == 10 and p[1] == 4 and p[3] == 6 and p[0] == 0  # mouth_left <-> mouth_right, eyes inner/outer


def test_mapping_33_to_coco_to_lsp_by_name():
    from blazepose.keypoints import BLAZEPOSE33

    kps = np.arange(66, dtype=np.float32).reshape(33, 2)
    coco, v, m = map_keypoints(kps, np.ones(33), np.ones(33), BLAZEPOSE33, COCO)
    assert m.sum() == 17  # every COCO keypoint is one of the 33
    np.testing.assert_array_equal(coco[COCO.index("left_ear")], kps[7])
    np.testing.assert_array_equal(coco[COCO.index("right_ankle")], kps[28])
    lsp, _, m = map_keypoints(coco, v, m, COCO, LSP)
    direct, _, m2 = map_keypoints(kps, np.ones(33), np.ones(33), BLAZEPOSE33, LSP)
    np.testing.assert_array_equal(lsp, direct)  # the neck and head top need no more than COCO's 17
    np.testing.assert_array_equal(m, m2)
    assert m.sum() == 14
    # kps[i] = (2i, 2i + 1): mid-shoulders (23, 24), nose (0, 1), mid-ears (15, 16) -> neck 0.6 x (23, 24) + 0.4
    # x (0, 1) = (13.8, 14.8); head top 2.2 x (15, 16) - 0.72 x (0, 1) - 0.48 x (23, 24) = (21.96, 22.96)
    np.testing.assert_allclose(direct[LSP.index("neck")], (13.8, 14.8), atol=1e-4)
    np.testing.assert_allclose(direct[LSP.index("head_top")], (21.96, 22.96), atol=1e-4)


def test_skeleton_file_round_trip_and_defaults(tmp_path):
    from blazepose.keypoints import DEFAULT_SIGMA, dumps_skeleton, load_skeleton

    path = tmp_path / "pet.toml"
    path.write_text('joints = ["nose", "left_ear", "right_ear", "tail"]\nedges = [["nose", "tail"]]\n')
    sk = load_skeleton(str(path))
    assert sk.name == "pet" and sk.flip_pairs == ((1, 2),) and sk.edges == ((0, 3),) and sk.torso is None
    np.testing.assert_array_equal(sk.oks_sigmas, [DEFAULT_SIGMA] * 4)
    again = tmp_path / "again.toml"
    again.write_text(dumps_skeleton(sk))
    assert load_skeleton(str(again)) == sk
    for builtin in (LSP, COCO):
        again.write_text(dumps_skeleton(builtin))
        assert load_skeleton(str(again)) == builtin


def test_asymmetric_skeleton_flip_maps_back_onto_itself(tmp_path):
    """Pairs given explicitly, in any order, with unpaired joints between them: flipping twice is the identity,
    and once swaps exactly the pairs."""
    from blazepose.geometry import swap_left_right
    from blazepose.keypoints import load_skeleton

    path = tmp_path / "odd.toml"
    path.write_text(
        'joints = ["tail", "fin_b", "beak", "fin_a", "eye_a", "crest", "eye_b"]\n'
        'flip_pairs = [["fin_a", "fin_b"], ["eye_b", "eye_a"]]\n'
    )
    sk = load_skeleton(str(path))
    np.testing.assert_array_equal(sk.flip_index, [0, 3, 2, 1, 6, 5, 4])
    kps = np.arange(14, dtype=np.float32).reshape(7, 2)
    vis, mask = np.arange(7, dtype=np.float32) / 7, np.ones(7, np.float32)
    once = swap_left_right(kps, vis, mask, sk)
    twice = swap_left_right(*once, sk)
    np.testing.assert_array_equal(once[0][1], kps[3])
    np.testing.assert_array_equal(twice[0], kps)
    np.testing.assert_array_equal(twice[1], vis)


@pytest.mark.parametrize(
    "text, message",
    [
        ('joints = ["a", "b", "a"]', "duplicate joint name\\(s\\): a"),
        ("joints = []", "'joints' must be a non-empty list"),
        ('joints = ["a", "b"]\nedges = [["a", "c"]]', "edges names 'c', which is not one of the joints \\(a, b\\)"),
        ('joints = ["a", "b"]\nflip_pairs = [["a", "x"]]', "flip_pairs names 'x'"),
        ('joints = ["a", "b"]\nnormalizer = ["a", "neck"]', "normalizer names 'neck'"),
        ('joints = ["left_a", "b"]', "left_a named as one side but without the other"),
        ('joints = ["a", "b"]\nsigmas = [0.1]', "'sigmas' must list one number per joint \\(2\\)"),
        ('joints = ["a"]\ncolour = 1', "unknown key\\(s\\) colour"),
        ("joints = [", "not valid TOML"),
    ],
)
def test_bad_skeleton_files_are_one_clear_error(tmp_path, text, message):
    from blazepose.errors import BlazePoseError
    from blazepose.keypoints import load_skeleton

    path = tmp_path / "bad.toml"
    path.write_text(text + "\n")
    with pytest.raises(BlazePoseError, match=f"{path}.*{message}"):
        load_skeleton(str(path))


def test_unknown_skeleton_names_the_built_ins():
    from blazepose.errors import BlazePoseError
    from blazepose.keypoints import load_skeleton

    with pytest.raises(BlazePoseError, match="'cocoo' is neither a built-in skeleton \\(lsp, coco, blazepose33\\)"):
        load_skeleton("cocoo")

import numpy as np

from blazepose.keypoints import COCO, LSP, coco_to_lsp


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


def test_coco_to_lsp_derives_neck_and_masks_head_top():
    kps = np.zeros((17, 2), np.float32)
    kps[COCO.index("left_shoulder")] = (10, 20)
    kps[COCO.index("right_shoulder")] = (30, 40)
    kps[COCO.index("left_wrist")] = (5, 6)
    vis = np.ones(17, np.float32)
    mask = np.ones(17, np.float32)
    out, v, m = coco_to_lsp(kps, vis, mask)
    assert out.shape == (14, 2)
    np.testing.assert_allclose(out[LSP.index("neck")], (20, 30))
    assert m[LSP.index("head_top")] == 0 and m[LSP.index("neck")] == 1
    np.testing.assert_allclose(out[LSP.index("left_wrist")], (5, 6))
    mask[COCO.index("right_shoulder")] = 0
    _, _, m = coco_to_lsp(kps, vis, mask)
    assert m[LSP.index("neck")] == 0

import dataclasses

import numpy as np
from PIL import Image

from blazepose.codec import Codec
from blazepose.config import load_config
from blazepose.data.images import load_image
from blazepose.data.lsp import read_lsp
from blazepose.data.pipeline import SkipCounter, load_example, make_dataset


def _cfg(data_root, **data):
    cfg = load_config(None, [f"data.root={data_root}", "data.batch_size=2", "data.num_parallel_calls=2"])
    return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, **data)) if data else cfg


def _first_batch(ds):
    return next(iter(ds))


def test_batches_have_the_declared_shapes(tiny_lsp, data_root):
    cfg = _cfg(data_root)
    samples, _ = read_lsp(tiny_lsp)
    image, t = _first_batch(make_dataset(samples, cfg, train=True))
    assert image.shape == (2, 256, 256, 3) and image.dtype.name == "uint8"
    assert t["heatmap"].shape == (2, 64, 64, 14) and t["offset"].shape == (2, 64, 64, 28)
    assert t["joints"].shape == (2, 14, 2) and t["mask"].shape == (2, 14)


def test_seeded_pipeline_is_deterministic_and_seed_matters(tiny_lsp, data_root):
    cfg = _cfg(data_root)
    samples, _ = read_lsp(tiny_lsp)
    a = [img.numpy() for img, _ in make_dataset(samples, cfg, train=True, seed=5)]
    b = [img.numpy() for img, _ in make_dataset(samples, cfg, train=True, seed=5)]
    c = [img.numpy() for img, _ in make_dataset(samples, cfg, train=True, seed=6)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_evaluation_order_is_kept_and_remainder_batched(tiny_lsp, data_root):
    cfg = _cfg(data_root)
    samples, _ = read_lsp(tiny_lsp)
    batches = list(make_dataset(samples[:3], cfg, train=False))
    assert [b[0].shape[0] for b in batches] == [2, 1]
    codec = Codec.from_config(cfg.data)
    first = load_example(samples[0], np.random.default_rng(0), cfg, codec, train=False)
    np.testing.assert_array_equal(batches[0][0][0].numpy(), first["image"])


def test_bad_image_is_reported_skipped_and_counted(tiny_lsp, data_root, capsys):
    (tiny_lsp / "images" / "im0002.jpg").write_bytes(b"garbage")
    cfg = _cfg(data_root)
    samples, _ = read_lsp(tiny_lsp)
    skipped = SkipCounter()
    n = sum(int(img.shape[0]) for img, _ in make_dataset(samples, cfg, train=False, skipped=skipped))
    assert n == 3 and skipped.count == 1
    assert "im0002.jpg" in capsys.readouterr().err


def test_large_jpegs_are_decoded_reduced_with_consistent_keypoints(data_root, tmp_path):
    # A 4x enlarged LSP image: the person is ~600 px, so the JPEG is decoded at 1/2 scale; a PNG copy
    # (never reduced) must give the same joints and nearly the same pixels.
    cfg = _cfg(data_root)
    sample = read_lsp(data_root / "lsp")[0][0]
    big = Image.open(sample.image_path).convert("RGB")
    big = big.resize((big.width * 4, big.height * 4), Image.BICUBIC)
    big.save(tmp_path / "big.jpg", quality=95)
    big.save(tmp_path / "big.png")
    codec = Codec.from_config(cfg.data)
    examples = []
    for name in ("big.jpg", "big.png"):
        s4 = dataclasses.replace(sample, image_path=str(tmp_path / name), keypoints=sample.keypoints * 4 + 1.5)
        examples.append(load_example(s4, np.random.default_rng(0), cfg, codec, train=False))
    _, scale = load_image(tmp_path / "big.jpg", min_scale=256 / (4 * 150))
    assert scale[0] < 1  # the reduced path was really taken
    np.testing.assert_allclose(examples[0]["joints"], examples[1]["joints"], atol=1e-5)
    diff = np.abs(examples[0]["image"].astype(int) - examples[1]["image"].astype(int)).mean()
    assert diff < 6, diff


class _FixedRng:
    """choice -> `side`; uniform(a, b) -> a + `at` x (b - a)."""

    def __init__(self, side: float, at: float):
        self.side, self.at = side, at

    def choice(self, options):
        return self.side

    def uniform(self, a, b):
        return a + self.at * (b - a)


def test_paste_beside_puts_the_patch_where_worked_out_by_hand():
    from blazepose.data.transforms import paste_beside

    image = np.zeros((100, 100, 3), np.uint8)
    patch = np.broadcast_to(np.arange(40, dtype=np.uint8)[None, :, None] + 100, (40, 40, 3)).copy()
    # right, 0.3 x 100 from the centre, 0.15 x 100 up: centre (80, 35), corner (60, 15), cut at x = 100
    out, box = paste_beside(image, patch, _FixedRng(1.0, 0.0))
    assert box == (60, 15, 100, 55)
    np.testing.assert_array_equal(out[15:55, 60:100], patch)
    assert out.sum() == patch.astype(np.int64).sum()
    # left, 0.6 x 100 from the centre, 0.15 down: centre (-10, 65), corner (-30, 45): patch columns 30-39 land
    # on x = 0..9
    out, box = paste_beside(image, patch, _FixedRng(-1.0, 1.0))
    assert box == (0, 45, 10, 85)
    np.testing.assert_array_equal(out[45:85, 0:10], patch[:, 30:40])
    assert out[:, 10:].sum() == 0 and out[:45].sum() == 0 and out[85:].sum() == 0


def test_a_pasted_person_hides_the_joints_under_it_and_leaves_the_targets(tiny_lsp, data_root):
    samples, _ = read_lsp(tiny_lsp)
    base = _cfg(data_root)
    codec = Codec.from_config(base.data)
    plain = load_example(samples[0], np.random.default_rng(3), base, codec, True, distractors=samples[1:2])
    cfg = dataclasses.replace(base, augment=dataclasses.replace(base.augment, distractor_prob=1.0))
    pasted = load_example(samples[0], np.random.default_rng(3), cfg, codec, True, distractors=samples[1:2])
    assert not np.array_equal(plain["image"], pasted["image"])
    for key in ("heatmap", "joints", "mask"):  # where the framed person is does not change
        np.testing.assert_array_equal(plain[key], pasted[key])
    assert (pasted["visibility"] <= plain["visibility"]).all()
    assert (pasted["visibility"] < plain["visibility"]).any()  # this seed puts the paste over some joints
    changed = np.any(plain["image"] != pasted["image"], axis=-1)
    joints = plain["joints"] * 256 - 0.5
    for (x, y), before, after in zip(joints, plain["visibility"], pasted["visibility"], strict=True):
        inside = 0 <= round(y) < 256 and 0 <= round(x) < 256 and changed[round(y), round(x)]
        assert after == (0.0 if inside else before)


def test_aligned_crops_frame_the_circle_around_mid_hips_upright(tmp_path):
    """A person lying with the head to the right: the aligned crop (no augmentation) turns them upright, mid-hips
    at the crop's centre, the farthest joint 1 / 1.25 of the half-side away."""
    from blazepose.data.sample import Sample
    from blazepose.keypoints import LSP

    path = tmp_path / "lying.png"
    Image.new("RGB", (400, 300)).save(path)
    kps = np.zeros((14, 2), np.float32)
    named = {"right_hip": (200, 160), "left_hip": (200, 140), "right_shoulder": (260, 160), "left_shoulder": (260, 140),
             "head_top": (300, 150), "right_ankle": (120, 160), "left_ankle": (120, 140)}  # fmt: skip
    mask = np.zeros(14, np.float32)
    for name, xy in named.items():
        kps[LSP.index(name)] = xy
        mask[LSP.index(name)] = 1
    sample = Sample(str(path), kps, mask.copy(), mask, "lsp")
    cfg = load_config(None, ["data.crop=aligned", "data.input_size=128", "data.heatmap_size=32"])
    ex = load_example(sample, np.random.default_rng(0), cfg, Codec.from_config(cfg.data), train=False)
    xy = Codec.from_config(cfg.data).denormalize(ex["joints"])  # crop pixels
    hips = (xy[LSP.index("left_hip")] + xy[LSP.index("right_hip")]) / 2
    shoulders = (xy[LSP.index("left_shoulder")] + xy[LSP.index("right_shoulder")]) / 2
    np.testing.assert_allclose(hips, [63.5, 63.5], atol=1e-3)  # the crop's centre
    assert shoulders[1] < hips[1] - 20 and abs(shoulders[0] - hips[0]) < 1e-3  # straight above: upright
    # radius 100 px (hips to head top) -> side 250 px onto 128: the head top 100 x 128 / 250 = 51.2 above the hips
    np.testing.assert_allclose(xy[LSP.index("head_top")], [63.5, 63.5 - 51.2], atol=1e-3)

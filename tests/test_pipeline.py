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

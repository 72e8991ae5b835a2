import numpy as np

from blazepose.codec import Codec

CODEC = Codec(input_size=256, heatmap_size=64, sigma=2.0, offset_radius=2.0)


def test_scale_conversions_by_hand():
    # stride 4: input pixel 129.5 is heat pixel (129.5 + 0.5) / 4 - 0.5 = 32; pixel edges map to edges.
    np.testing.assert_allclose(CODEC.input_to_heat([129.5, 65.5]), [32.0, 16.0])
    np.testing.assert_allclose(CODEC.input_to_heat([-0.5, 255.5]), [-0.5, 63.5])
    np.testing.assert_allclose(CODEC.normalize([-0.5, 255.5, 127.5]), [0.0, 1.0, 0.5])
    xy = np.array([[3.25, 200.0]])
    np.testing.assert_allclose(CODEC.heat_to_input(CODEC.input_to_heat(xy)), xy, atol=1e-5)
    np.testing.assert_allclose(CODEC.denormalize(CODEC.normalize(xy)), xy, atol=1e-4)


def test_heatmap_peak_and_offsets_by_hand():
    kps = np.zeros((14, 2), np.float32)
    kps[0] = (129.5, 65.5)  # heat pixel (32, 16) exactly
    kps[1] = (131.5, 65.5)  # heat (32.5, 16): its Gaussian is centred on pixel (33, 16)
    mask = np.ones(14, np.float32)
    t = CODEC.encode(kps, mask)
    assert t["heatmap"].shape == (64, 64, 14) and t["offset"].shape == (64, 64, 28)
    assert t["heatmap"][16, 32, 0] == 1.0  # peak exactly on the joint
    assert t["heatmap"][16, 33, 1] == 1.0 and t["heatmap"][16, 32, 1] < 1.0
    np.testing.assert_allclose(t["heatmap"][16, 34, 0], np.exp(-4 / 8))  # 2 px away, sigma 2
    # Offsets point from the pixel to the joint, in heat pixels: at (x=33, y=15) for joint 1: (-0.5, 1).
    np.testing.assert_allclose(t["offset"][15, 33, 2:4], (-0.5, 1.0))
    # Radius 2 around an on-grid joint covers 13 pixels (0, 4 at distance 1, 4 at sqrt 2, 4 at 2).
    assert t["offset_weight"][..., 0].sum() == 13
    np.testing.assert_allclose(t["joints"][0], ((129.5 + 0.5) / 256, (65.5 + 0.5) / 256))


def test_round_trip_with_offsets_is_exact(rng):
    kps = rng.uniform(0, 255, size=(14, 2)).astype(np.float32)
    t = CODEC.encode(kps, np.ones(14, np.float32))
    decoded, score = CODEC.decode(t["heatmap"], t["offset"])
    np.testing.assert_allclose(decoded, kps, atol=1e-3)
    assert (score == 1.0).all()  # every Gaussian peaks at 1 on the joint's nearest pixel


def test_round_trip_batched_without_offsets(rng):
    kps = rng.uniform(0, 255, size=(3, 14, 2)).astype(np.float32)
    heat = np.stack([CODEC.encode(k, np.ones(14))["heatmap"] for k in kps])
    decoded, _ = CODEC.decode(heat)
    assert decoded.shape == (3, 14, 2)
    # The argmax is the nearest heatmap pixel (its neighbours are equal, so no quarter shift):
    # within half a heat pixel per axis.
    assert np.abs(decoded - kps).max() <= 0.5 * CODEC.stride + 1e-4


def test_masked_joints_have_zero_targets_and_weight():
    kps = np.full((14, 2), 100.0, np.float32)
    mask = np.ones(14, np.float32)
    mask[3] = 0
    t = CODEC.encode(kps, mask)
    assert t["heatmap"][..., 3].max() == 0 and t["offset_weight"][..., 6:8].max() == 0
    assert t["heatmap_weight"][3] == 0 and (t["joints"][3] == 0).all()
    assert t["heatmap"][..., 2].max() > 0.9


def test_joint_outside_the_frame_has_no_offset_supervision():
    kps = np.full((14, 2), -100.0, np.float32)
    t = CODEC.encode(kps, np.ones(14, np.float32))
    assert t["offset_weight"].sum() == 0 and t["heatmap"].max() < 1e-10


def test_graph_decoder_matches_the_codec_on_random_maps(rng):
    from blazepose.models.layers import HeatmapDecoder

    codec = Codec(input_size=128, heatmap_size=32)
    heatmap = rng.normal(size=(3, 32, 32, 14)).astype(np.float32)
    offset = rng.uniform(-2, 2, size=(3, 32, 32, 28)).astype(np.float32)
    joints, vis = HeatmapDecoder(logits=True)(heatmap, offset)
    xy, peak = codec.decode(heatmap, offset)
    np.testing.assert_allclose(np.asarray(joints), codec.normalize(xy), atol=1e-6)
    np.testing.assert_allclose(np.asarray(vis), 1 / (1 + np.exp(-peak)), atol=1e-6)


def test_graph_decoder_round_trip_with_encode_is_exact(rng):
    from blazepose.models.layers import HeatmapDecoder

    kps = rng.uniform(0, 255, size=(14, 2)).astype(np.float32)
    t = CODEC.encode(kps, np.ones(14, np.float32))
    joints, vis = HeatmapDecoder(logits=False)(t["heatmap"][None], t["offset"][None])
    np.testing.assert_allclose(np.asarray(joints)[0], CODEC.normalize(kps), atol=1e-5)
    np.testing.assert_allclose(np.asarray(vis), 1.0)

"""The latent-grid image codec: round trip, rate, exact probabilities, file checks."""

import math

import equinox as eqx
import jax
import numpy as np
import pytest

import inrcodec
from inrcodec.config import LatentConfig
from inrcodec import container, latent_arm, quantize, weights
from inrcodec.codecs.latent import packing, stream, training
from inrcodec.api import make_config
from inrcodec.errors import ConfigError, FormatError
from inrcodec.inr import LatentGridConfig
from inrcodec.signal import Signal
from tests.audio_clips import tone_clip
from tests.conftest import GOLDEN_IMAGE, crop_of_sample
from tests.latent_checks import assert_encoder_and_decoder_see_identical_probabilities, parts

SIZE = 24
TARGET_BPP = 16.0  # the networks of TINY keep within a third of the budget (networks_for_budget)
# 170 noisy then 30 rounded steps (qat_fraction 0.15), 10 per call: every call of a phase runs
# the same compiled program.
TINY = ("arch.name=latentgrid", "arch.levels=3", "arch.synth_width=8", "arch.arm_width=6", "fit.steps=200",
        "fit.steps_per_call=10", "fit.lr=0.02")


def _image() -> Signal:
    return Signal("image", crop_of_sample(SIZE), {"height": SIZE, "width": SIZE, "channels": 3, "bits": 8})


@pytest.fixture(scope="module")
def report():
    return inrcodec.encode_report(_image(), bpp=TARGET_BPP, overrides=TINY)


def test_round_trip_beats_flat_grey_within_the_rate_target(report):
    original = _image().data.astype(float)
    decoded = inrcodec.decode(report.blob)
    assert decoded.data.shape == original.shape and decoded.data.dtype == np.uint8
    flat_mse = np.mean((original - original.mean()) ** 2)
    assert np.mean((decoded.data - original) ** 2) < 0.8 * flat_mse
    assert report.rate["bpp"] == 8 * len(report.blob) / SIZE**2 <= TARGET_BPP


def test_info_describes_the_latents_and_the_decoder_cost(report):
    info = inrcodec.info(report.blob)
    arch = info["architecture"]
    assert arch["name"] == "latentgrid"
    assert info["latents"]["grids"] == [[24, 24], [12, 12], [6, 6]]
    assert info["bytes"]["latents"] > 0
    # The MACs per pixel of TINY, counted by hand. ARM: 2 rows of 5 neighbours above and 2 to
    # the left = 12 inputs; 12x6 + 6x6 + 6x2 = 120 for the MLP and 12x2 = 24 for the linear path,
    # for each of 1 + 1/4 + 1/16 latents per pixel: 189. Upsampling: 4x4 cubic taps for each of
    # the 2 coarser grids: 32. Synthesis: 3x8 + 8x3 = 48, and two 3x3 convolutions of 3 -> 3
    # channels: 2 x 9 x 9 = 162. In all 189 + 32 + 48 + 162 = 431.
    assert (arch["levels"], arch["context_rows"], arch["context_cols"], arch["arm_width"], arch["arm_depth"],
            arch["synth_width"], arch["synth_depth"], arch["convs"], arch["out_dim"]) == (3, 2, 2, 6, 2, 8, 1, 2, 3)
    assert info["macs_per_sample"] == 431
    assert LatentGridConfig().macs_per_sample() <= 3000  # the default decoder stays within C3's budget


def test_encoder_and_decoder_see_identical_probabilities(report, monkeypatch):
    parsed, meta, arch, arm_ints, fracs, latents = assert_encoder_and_decoder_see_identical_probabilities(report.blob)
    # whatever the batches the coder is handed.
    monkeypatch.setattr(stream, "ROWS_PER_CALL", 3)
    again = stream.decode_integer_parts(parsed, meta, arch)[2]
    assert all(np.array_equal(a, b) for a, b in zip(again, latents))
    assert stream.encode_latents(arm_ints, fracs, latents, arch) == parsed.latents


def test_shrinking_toward_the_predictions_trades_precision_for_fewer_bits(report):
    parsed, meta, arch = parts(report.blob)
    ints, codes, latents = stream.decode_integer_parts(parsed, meta, arch)
    net = weights.from_ints(arch, ints, codes)
    rng = np.random.default_rng(0)
    scaled = [q + rng.uniform(-0.45, 0.45, q.shape) for q in latents]
    shrink = packing._Shrinker(net, scaled, latents, arch, stream.arm_frac_bits(arch, codes))
    assert all(np.array_equal(a, b) for a, b in zip(shrink.latents(0.0), latents))  # distance 0: rounding
    # Far: every latent at the mode predicted from its (shrunk) neighbours.
    far = shrink.latents(1e6)
    for grid in far:
        means, _ = stream._grid_parameters(shrink.arm_ints, shrink.fracs, grid, arch)
        assert np.array_equal(grid.reshape(-1), np.round(means / 4))
    assert shrink.bits(4.0) < 0.8 * shrink.bits(0.0) and shrink.bits(1e6) <= shrink.bits(4.0)


def test_latents_over_the_budget_are_shrunk_to_fit_not_wiped(monkeypatch):
    # Aim the latents beyond the whole budget: the first file must overshoot.
    calls = []
    shrinker = packing._Shrinker
    monkeypatch.setattr(packing, "_Shrinker", lambda *a: calls.append(a) or shrinker(*a))
    image = _image()
    report = inrcodec.encode_report(image, bpp=TARGET_BPP, overrides=(*TINY, "latent.latent_share=1.4"))
    assert calls, "the first file fitted: the fallback was not exercised"
    assert 8 * len(report.blob) <= TARGET_BPP * SIZE**2
    original = image.data.astype(float)
    flat_mse = np.mean((original - original.mean()) ** 2)
    assert np.mean((inrcodec.decode(report.blob).data - original) ** 2) < 0.8 * flat_mse


def test_arm_steps_too_fine_for_the_weight_coder_are_skipped():
    # Weights of +-10 fit the fixed-point bound at a step of 2^-12 (|w| < 2^16 steps) but span
    # 81 921 values there, more than the tensor coder's alphabet: finer steps must be passed over.
    arch = LatentGridConfig(levels=2, arm_width=4)
    net = arch.build(jax.random.PRNGKey(0))
    first = net.arm_weights[0].at[0, 0].set(10.0).at[1, 0].set(-10.0)
    net = eqx.tree_at(lambda n: n.arm_weights[0], net, first)
    latents = [np.random.default_rng(0).integers(-3, 4, s) for s in arch.grid_shapes((8, 8))]
    fracs, _ = packing.arm_steps(weights.leaves(net), latents, arch)
    assert fracs[0] <= 11


def test_each_arm_tensor_gets_the_step_that_codes_it_and_the_latents_smallest(monkeypatch):
    # Hidden layers whose output the ARM ignores (zero output layer) are worth no precision;
    # the linear path, which predicts each latent from its neighbours, is.
    arch = LatentGridConfig(levels=2, arm_width=4)
    leaves = weights.leaves(arch.build(jax.random.PRNGKey(2)))
    n_arm = stream.arm_tensor_count(arch)
    rng = np.random.default_rng(0)
    for i in range(arch.arm_depth):
        leaves[i] = rng.normal(0, 1, leaves[i].shape).astype(np.float32)
    leaves[arch.arm_depth] = np.zeros_like(leaves[arch.arm_depth])
    leaves[n_arm - 1] = np.zeros_like(leaves[n_arm - 1])
    leaves[n_arm - 1][:, 0] = 0.93 / leaves[n_arm - 1].shape[0]
    rows, cols = np.mgrid[0:32, 0:32]
    smooth = np.round(6 * np.sin(cols / 5.0) * np.cos(rows / 7.0)).astype(np.int64)
    latents = [smooth[: s[0], : s[1]] for s in arch.grid_shapes((32, 32))]
    fracs, bits = packing.arm_steps(leaves, latents, arch)
    monkeypatch.setattr(packing, "ARM_FRAC_MOVES", ())
    common, common_bits = packing.arm_steps(leaves, latents, arch)
    assert len(set(common)) == 1 and bits < common_bits
    assert max(fracs[: arch.arm_depth]) < fracs[n_arm - 1]


def test_integer_arm_follows_the_float_arm_it_was_quantized_from():
    arch = LatentGridConfig(levels=2, arm_width=8)
    net = arch.build(jax.random.PRNGKey(1))
    rng = np.random.default_rng(0)
    context = rng.integers(-40, 40, size=(500, arch.context_size()))
    frac = 12
    leaves = jax.tree_util.tree_leaves(net)[: stream.arm_tensor_count(arch)]
    ints = [quantize.quantize(np.asarray(leaf), -8 * frac) for leaf in leaves]
    means, scales = latent_arm.integer_arm(ints, [frac] * len(ints), context)
    float_mean, float_log_scale = net.arm(np.asarray(context, np.float32))
    assert np.max(np.abs(means / 4 - np.asarray(float_mean))) <= 0.5
    expected_index = (np.asarray(float_log_scale) - latent_arm.LOG_SCALE_MIN) * latent_arm.SCALE_STEPS
    assert np.max(np.abs(scales - expected_index)) <= 1.0


@pytest.mark.parametrize("mean_quarters, scale_index", [(0, 10), (7, 30), (-13, 50), (2, 0)])
def test_integer_probabilities_are_the_laplace_bin_masses(mean_quarters, scale_index):
    rows = latent_arm.pmf_rows(np.array([mean_quarters]), np.array([scale_index]), -20, 20)[0]
    p = rows / rows.sum()
    mu = mean_quarters / 4
    b = math.exp(latent_arm.LOG_SCALE_MIN + scale_index / latent_arm.SCALE_STEPS)

    def cdf(x):
        return 0.5 * math.exp((x - mu) / b) if x < mu else 1 - 0.5 * math.exp(-(x - mu) / b)

    expected = np.array([cdf(k + 0.5) - cdf(k - 0.5) for k in range(-20, 21)])
    expected /= expected.sum()  # the coder's alphabet is the file's latent range
    assert np.all(rows >= 1)
    assert np.max(np.abs(p - expected)) < 1e-3


def test_latent_grids_code_images_only():
    clip = tone_clip(0.05, 8000)
    audio = Signal("audio", clip, {"sample_rate": 8000, "channels": 1, "frames": clip.shape[0], "subtype": "PCM_16"})
    with pytest.raises(ConfigError, match="cannot code audio"):
        inrcodec.encode(audio, overrides=TINY)


def test_latents_chunk_must_come_with_a_latent_grid_model(report):
    parsed = container.unpack(report.blob)
    without = container.pack(container.Container(parsed.signal, parsed.model, parsed.tensors, parsed.payload))
    with pytest.raises(FormatError, match="without a latents chunk"):
        inrcodec.decode(without)
    other = container.unpack(GOLDEN_IMAGE.read_bytes())  # a hash-grid image file
    forged = container.pack(container.Container(other.signal, other.model, other.tensors, other.payload,
                                                latents=parsed.latents))
    with pytest.raises(FormatError, match="unexpected latents chunk"):
        inrcodec.decode(forged)


def test_a_target_below_the_networks_size_is_a_clear_error():
    with pytest.raises(ConfigError, match="rate target too low"):
        inrcodec.encode(_image(), bpp=0.5, overrides=TINY)


def test_soft_rounding_goes_from_near_identity_to_rounding_as_the_temperature_falls():
    y = jax.numpy.linspace(-2.3, 2.3, 47) + 0.05  # no value near a half-integer, where rounding is a tie
    hot, cold = training.soft_round(y, 5.0), training.soft_round(y, 0.01)
    assert np.abs(np.asarray(hot - y)).max() < 0.01
    assert np.abs(np.asarray(cold - jax.numpy.round(y))).max() < 1e-3
    assert np.all(np.diff(np.asarray(training.soft_round(y, 0.3))) > 0)  # order kept: still a gradient


def test_kumaraswamy_noise_is_uniform_at_one_and_peaked_at_zero_above():
    key = jax.random.PRNGKey(0)
    uniform = np.asarray(training.kumaraswamy_noise(key, (20000,), 1.0))
    peaked = np.asarray(training.kumaraswamy_noise(key, (20000,), 2.0))
    assert uniform.min() > -0.5 and uniform.max() < 0.5 and peaked.min() > -0.5 and peaked.max() < 0.5
    assert abs(uniform.var() - 1 / 12) < 0.003
    assert peaked.var() < 0.8 * uniform.var() and abs(np.median(peaked)) < 0.05


def test_the_networks_follow_the_budget_narrower_when_small_wider_when_large():
    preset = make_config("image").arch.replace(in_dim=2, out_dim=3)
    assert preset.name == "latentgrid"
    bits = LatentConfig().network_bits_per_param * preset.param_count()
    assert training.networks_for_budget(preset, 4 * bits, LatentConfig()) == preset
    wide = training.networks_for_budget(preset, 20 * bits, LatentConfig())
    assert wide == preset.replace(synth_width=2 * preset.synth_width)
    assert LatentConfig().network_bits_per_param * wide.param_count() <= 20 * bits * LatentConfig().wide_synthesis_share
    smaller = training.networks_for_budget(preset, 2.5 * bits, LatentConfig())
    assert LatentConfig().network_bits_per_param * smaller.param_count() <= 2.5 * bits / 3
    assert smaller.levels == preset.levels and smaller.arm_width < preset.arm_width
    linear = training.networks_for_budget(preset, 0.1 * bits, LatentConfig())
    assert (linear.arm_depth, linear.synth_depth, linear.convs) == (0, 0, 0)


def test_the_rate_weight_rises_fast_but_falls_slowly():
    from inrcodec.rate import RateController

    settings = LatentConfig()

    def controller():
        return RateController(1e-3, 0.2, gain=settings.controller_gain, max_factor=settings.controller_max_rise,
                              max_fall=settings.controller_max_fall, lookahead=settings.controller_lookahead)

    def factors(controller, estimates):
        """How much each update multiplies lambda by."""
        out = []
        for estimate in estimates:
            before = controller.lmbda
            out.append(controller.update(estimate) / before)
        return out

    # Ten times over the target, then ten times under it, for a few updates each.
    rises, falls = factors(controller(), [2.0] * 4), factors(controller(), [0.02] * 4)
    assert all(f > 1.2 for f in rises)  # over the target: lambda grows by a fifth or more per update
    assert all(1 / 1.5 < f < 1 for f in falls)  # under it: lambda falls, by less than a third per update
    assert max(1 / f for f in falls) < min(rises)  # and more slowly than it rises
    assert factors(controller(), [0.2])[0] == pytest.approx(1.0)  # on target: it stays

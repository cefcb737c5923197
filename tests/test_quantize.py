import numpy as np

from inrcodec import quantize


def _search(frozen=None, floor=1e-12):
    rng = np.random.default_rng(0)
    leaves = [rng.normal(0, 1, 400).astype(np.float32), rng.normal(0, 0.1, 50).astype(np.float32)]

    def psnr_of(deq):  # distortion of the dequantized leaves themselves, plus an error floor
        mse = np.mean(np.concatenate([(a - b) ** 2 for a, b in zip(leaves, deq)]))
        return 10 * np.log10(1.0 / max(mse + floor, 1e-12))

    return quantize.StepSearch(leaves, psnr_of, frozen=frozen)


def test_quantize_dequantize_error_is_at_most_half_a_step():
    values = np.linspace(-3, 3, 101).astype(np.float32)
    for code in (-16, 0, 5):
        back = quantize.dequantize(quantize.quantize(values, code), code)
        assert np.max(np.abs(back - values)) <= quantize.step_size(code) / 2 + 1e-6


def test_search_under_a_target_fits_it_and_spends_most_of_it():
    search = _search()
    for target in (800.0, 2000.0):
        choice = search.search(["a", "b"], slope_db=5.0, target_bits=target)
        assert choice.bits <= target and choice.bits > 0.6 * target


def test_a_larger_target_buys_quality():
    search = _search()
    low = search.search(["a", "b"], slope_db=5.0, target_bits=600.0)
    high = search.search(["a", "b"], slope_db=5.0, target_bits=3000.0)
    assert high.psnr > low.psnr + 3


def test_a_budget_not_to_fill_keeps_the_rate_quality_choice_and_still_fits():
    search = _search(floor=1e-3)  # quality saturates, as a network's does: finer steps buy nothing
    free = search.search(["a", "b"], slope_db=5.0)
    roomy = search.search(["a", "b"], slope_db=5.0, target_bits=20 * free.bits, fill_budget=False)
    filled = search.search(["a", "b"], slope_db=5.0, target_bits=20 * free.bits)
    assert roomy.codes == free.codes and filled.bits > 2 * roomy.bits
    tight = search.search(["a", "b"], slope_db=5.0, target_bits=0.5 * free.bits, fill_budget=False)
    assert tight.bits <= 0.5 * free.bits


def test_frozen_codes_are_kept():
    choice = _search(frozen={0: -8}).search(["a", "b"], slope_db=5.0, target_bits=3000.0)
    assert choice.codes[0] == -8


def test_fake_quantize_rounds_forward_and_leaves_zero_step_leaves_alone():
    import jax.numpy as jnp

    params = [jnp.array([0.26, -0.74]), jnp.array([0.26])]
    out = quantize.fake_quantize(params, [jnp.float32(0.5), jnp.float32(0.0)])
    np.testing.assert_allclose(np.asarray(out[0]), [0.5, -0.5])
    np.testing.assert_allclose(np.asarray(out[1]), [0.26])

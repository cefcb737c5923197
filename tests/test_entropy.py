import hashlib

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from inrcodec import entropy
from inrcodec.bitstream import Reader, Writer
from inrcodec.errors import FormatError


def _round_trip(tensors):
    models = [entropy.fit_model(t)[0] for t in tensors]
    payload = entropy.encode(tensors, models)
    decoded = entropy.decode(payload, [t.size for t in tensors], models)
    return payload, decoded


def test_round_trip_of_laplacian_and_constant_tensors():
    rng = np.random.default_rng(0)
    tensors = [np.round(rng.laplace(0, 4, 5000)).astype(np.int64), np.full(17, -3), np.round(rng.normal(5, 40, 300)).astype(np.int64)]
    payload, decoded = _round_trip(tensors)
    for original, back in zip(tensors, decoded):
        np.testing.assert_array_equal(original, back)


def test_real_size_tracks_the_ideal_code_length():
    rng = np.random.default_rng(1)
    values = np.round(rng.laplace(0, 3, 20000)).astype(np.int64)
    model, ideal_bits = entropy.fit_model(values)
    payload = entropy.encode([values], [model])
    assert abs(len(payload) * 8 - ideal_bits) < 0.01 * ideal_bits + 64


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(-300, 300), min_size=1, max_size=60), min_size=1, max_size=4))
def test_any_integer_tensors_round_trip(lists):
    tensors = [np.array(x, dtype=np.int64) for x in lists]
    _, decoded = _round_trip(tensors)
    for original, back in zip(tensors, decoded):
        np.testing.assert_array_equal(original, back)


def test_probability_tables_come_from_integer_arithmetic_only():
    # The table is a pure function of integers in the file; its hash is fixed forever.
    weights = entropy.laplace_weights(np.array([1, 30000, 65000]), 200)
    assert weights.dtype == np.int64
    digest = hashlib.sha256(weights.tobytes()).hexdigest()[:16]
    assert digest == "1cae5260ff17439f"
    assert weights[1, 0] == 1 << entropy.WEIGHT_BITS and weights[1, 1] == ((1 << 20) * 30000 + (1 << 15)) >> 16


def test_model_header_round_trip_and_bounds():
    model = entropy.TensorModel(entropy.DISCRETE_LAPLACE, center=-2, below=10, above=7, decay=40000)
    w = Writer()
    model.write(w)
    assert entropy.TensorModel.read(Reader(w.getvalue())) == model
    bad = Writer()
    entropy.TensorModel(entropy.DISCRETE_LAPLACE, 0, entropy.MAX_ALPHABET, 5, 10).write(bad)
    with pytest.raises(FormatError):
        entropy.TensorModel.read(Reader(bad.getvalue()))


def test_a_tabled_decay_is_written_by_its_index_and_read_back_as_its_value():
    tabled = entropy.TensorModel(entropy.DISCRETE_LAPLACE, center=1, below=300, above=200, decay=entropy.DECAYS[60])
    other = entropy.TensorModel(entropy.DISCRETE_LAPLACE, center=1, below=300, above=200, decay=40000)
    short, long = Writer(), Writer()
    tabled.write(short)
    other.write(long)
    assert short.getvalue()[0] == entropy.TABLED_LAPLACE and len(short.getvalue()) == len(long.getvalue()) - 2
    assert entropy.TensorModel.read(Reader(short.getvalue())) == tabled
    assert entropy.fit_model(np.arange(-50, 50) // 7)[0].decay in entropy.DECAYS
    past_the_table = short.getvalue()[:-1] + bytes([len(entropy.DECAYS)])
    with pytest.raises(FormatError):
        entropy.TensorModel.read(Reader(past_the_table))


def test_the_decay_table_is_frozen():
    assert len(entropy.DECAYS) == 86 and sum(entropy.DECAYS) == 3736584
    assert list(entropy.DECAYS) == sorted(set(entropy.DECAYS))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.binary(min_size=1, max_size=12))
@example(b"\x13\x37\xff")
def test_garbage_payload_raises_format_error_or_decodes_deterministically(garbage):
    model = entropy.TensorModel(entropy.DISCRETE_LAPLACE, 0, 5, 5, 50000)
    try:
        (values,) = entropy.decode(garbage, [100], [model])
    except FormatError:
        with pytest.raises(FormatError):  # and again: the verdict is the payload's, not chance
            entropy.decode(garbage, [100], [model])
        return
    (again,) = entropy.decode(garbage, [100], [model])
    assert values.shape == (100,) and np.array_equal(values, again)


def _float_rows(rng, count, size):
    """Rows like the codecs': integer weights over a wide range, and float products of probabilities."""
    integers = np.floor(2.0 ** rng.uniform(0, 21, (count, size)))
    products = np.prod(rng.uniform(1e-4, 1, (count, size, 8)), axis=2)
    return np.concatenate([integers, products])


@pytest.mark.parametrize("size", [2, 3, 17, 255, 2049])
def test_fixed_point_rows_are_what_constriction_made_of_the_same_weights(size):
    # Files written before the conversion was written out keep their bytes: feeding the coder
    # the integers gives the same stream as letting constriction 0.5 convert the floats.
    import constriction

    rng = np.random.default_rng(size)
    rows = _float_rows(rng, 200, size)
    symbols = rng.integers(0, size, len(rows)).astype(np.int32)
    ours = entropy.RowEncoder()
    ours.encode(symbols, rows)
    theirs = constriction.stream.queue.RangeEncoder()
    theirs.encode(symbols, constriction.stream.model.Categorical(perfect=False), rows)
    assert ours.finish(trim=False) == np.asarray(theirs.get_compressed(), dtype="<u4").tobytes()


@given(st.lists(st.integers(0, 1 << 30), min_size=2, max_size=300).filter(any))
@settings(max_examples=60, deadline=None)
def test_fixed_point_rows_sum_to_one_and_leave_no_value_impossible(weights):
    row = entropy.fixed_point(np.array([weights], np.int64))[0]
    assert row.sum() == entropy.ONE and row.min() >= 1
    assert row.dtype == np.int64


@pytest.mark.parametrize("weight", [1, 2, 3, 1000, (1 << 23) + 5])
def test_the_coder_spends_exactly_what_the_integer_probabilities_say(weight):
    # A value of probability k / 2^24, coded n times, costs n * log2(2^24 / k) bits, up to the
    # coder's final word. If the coder rounded k to k ± 1 anywhere, the small-k cases would be
    # off by hundreds of bits.
    n = 2000
    fixed = np.array([[weight, 7, 0, 11, 13]], np.int64)
    fixed[0, 2] = entropy.ONE - fixed.sum()
    rows = (fixed - 1).astype(np.float64)  # fixed_point of these weights gives `fixed` back
    np.testing.assert_array_equal(entropy.fixed_point(rows), fixed)
    coder = entropy.RowEncoder()
    coder.encode(np.zeros(n, np.int32), np.repeat(rows, n, axis=0))
    bits = 8 * len(coder.finish(trim=False))
    assert n * np.log2(entropy.ONE / weight) <= bits <= n * np.log2(entropy.ONE / weight) + 64

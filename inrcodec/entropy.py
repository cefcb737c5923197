"""Entropy coding of integer tensors with constriction. The only module that imports it.

Each tensor gets one model from a small family whose parameters are integers stored in the
file, so the probability tables are rebuilt bit-exactly from integer arithmetic on any machine:

* ``CONSTANT``: every value equals ``center``; costs no payload bits.
* ``DISCRETE_LAPLACE``: two-sided geometric weights ``w(k) = 2^20 * (R/2^16)^|k - center|``,
  computed by an integer recurrence, on the alphabet ``[center - below, center + above]``;
  written with ``R`` itself or (since format 1.4) as its index in ``DECAYS``.

All tensors of a file share one range coder. Wire codes are frozen.

The coder itself never converts a float: :func:`fixed_point` turns every row of weights into the
24-bit integers the range coder uses, and the coder is handed rows whose conversion is exact
(:func:`_exact_rows`), so an upgrade of constriction cannot change a file's bytes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from inrcodec.bitstream import Reader, Writer
from inrcodec.errors import FormatError

CONSTANT = 0
DISCRETE_LAPLACE = 1
MODEL_NAMES = {CONSTANT: "constant", DISCRETE_LAPLACE: "discrete-laplace"}

PRECISION = 24  # bits of the range coder's probabilities
ONE = 1 << PRECISION
WEIGHT_BITS = 20
DECAY_BITS = 16
MAX_ALPHABET = 1 << 16
# Decay ratios r = R / 2^16 the encoder chooses from: very peaked (sparse tensors, r down to
# 2^-16) to very flat. Part of the format since 1.4 (a file names one by its index), so the
# numbers are written out; they were generated once as round(2^16 * r) for r in
# geomspace(2^-16, 0.1, 24) and 1 - geomspace(0.9, 2e-4, 64), duplicates dropped.
DECAYS = (
    1, 2, 3, 5, 7, 10, 15, 21, 31, 46, 67, 98, 144, 210, 308, 452, 662, 970, 1421, 2083, 3052,
    4472, 6554, 13926, 20377, 26021, 30960, 35282, 39063, 42372, 45267, 47801, 50018, 51957,
    53654, 55140, 56439, 57576, 58571, 59442, 60203, 60870, 61453, 61963, 62410, 62801, 63143,
    63442, 63703, 63933, 64133, 64308, 64462, 64596, 64714, 64816, 64906, 64985, 65054, 65114,
    65167, 65213, 65253, 65289, 65320, 65347, 65370, 65391, 65409, 65425, 65439, 65451, 65462,
    65471, 65479, 65486, 65492, 65498, 65503, 65507, 65510, 65514, 65516, 65519, 65521, 65523,
)
_DECAY_CANDIDATES = np.array(DECAYS, dtype=np.int64)
_DECAY_INDEX = {d: i for i, d in enumerate(DECAYS)}
# On the wire only: a DISCRETE_LAPLACE model whose decay is DECAYS[u8] (1 byte where the
# value itself takes up to 3; about 2 bytes saved a tensor).
TABLED_LAPLACE = 2


@dataclasses.dataclass(frozen=True)
class TensorModel:
    """Integer parameters of the entropy model of one tensor."""

    kind: int
    center: int
    below: int = 0
    above: int = 0
    decay: int = 0

    @property
    def low(self) -> int:
        return self.center - self.below

    @property
    def alphabet_size(self) -> int:
        return self.below + self.above + 1

    def write(self, w: Writer) -> None:
        tabled = self.kind == DISCRETE_LAPLACE and self.decay in _DECAY_INDEX
        w.u8(TABLED_LAPLACE if tabled else self.kind)
        w.svarint(self.center)
        if self.kind == DISCRETE_LAPLACE:
            w.uvarint(self.below)
            w.uvarint(self.above)
            if tabled:
                w.u8(_DECAY_INDEX[self.decay])
            else:
                w.uvarint(self.decay)

    @classmethod
    def read(cls, r: Reader) -> "TensorModel":
        kind = r.u8()
        center = r.svarint(limit=1 << 40)
        if kind == CONSTANT:
            return cls(CONSTANT, center)
        if kind not in (DISCRETE_LAPLACE, TABLED_LAPLACE):
            raise FormatError(f"unknown entropy model code {kind}")
        below = r.uvarint(limit=MAX_ALPHABET)
        above = r.uvarint(limit=MAX_ALPHABET)
        if kind == TABLED_LAPLACE:
            index = r.u8()
            if index >= len(DECAYS):
                raise FormatError(f"entropy model names decay {index} of a table of {len(DECAYS)}")
            decay = DECAYS[index]
        else:
            decay = r.uvarint(limit=(1 << DECAY_BITS) - 1)
        if below + above + 1 > MAX_ALPHABET or decay == 0:
            raise FormatError(f"entropy model out of bounds (alphabet {below + above + 1}, decay {decay})")
        return cls(DISCRETE_LAPLACE, center, below, above, decay)


def laplace_weights(decays: np.ndarray, distance: int) -> np.ndarray:
    """Integer weights ``w[d]`` for |k - center| = d = 0..distance, one row per decay value.

    Pure int64 arithmetic (no floating point) so that every machine builds the same table.
    """
    decays = np.asarray(decays, dtype=np.int64).reshape(-1)
    out = np.ones((decays.size, distance + 1), dtype=np.int64)
    w = np.full(decays.size, 1 << WEIGHT_BITS, dtype=np.int64)
    for d in range(distance + 1):
        out[:, d] = w
        if np.all(w == 1):  # the recurrence stays at its floor of 1 from here on
            break
        w = np.maximum(1, (w * decays + (1 << (DECAY_BITS - 1))) >> DECAY_BITS)
    return out


def _pmf(model: TensorModel) -> np.ndarray:
    weights = laplace_weights(np.array([model.decay]), max(model.below, model.above))[0]
    left = weights[1 : model.below + 1][::-1]
    right = weights[: model.above + 1]
    return np.concatenate([left, right])


def fit_model(values: np.ndarray) -> tuple[TensorModel, float]:
    """Choose the integer model that minimises the ideal code length of ``values``.

    Returns the model and its ideal cost in bits (an estimate used only for search; the rate
    reported anywhere is the real file size).
    """
    values = np.asarray(values, dtype=np.int64).reshape(-1)
    lo, hi = int(values.min()), int(values.max())
    if lo == hi:
        return TensorModel(CONSTANT, lo), 0.0
    if hi - lo + 1 > MAX_ALPHABET:
        raise ValueError(f"alphabet of {hi - lo + 1} symbols exceeds {MAX_ALPHABET}")
    center = int(np.round(np.median(values)))
    below, above = center - lo, hi - center
    counts = np.bincount(np.abs(values - center), minlength=max(below, above) + 1)
    weights = laplace_weights(_DECAY_CANDIDATES, max(below, above)).astype(np.float64)
    # Normaliser over the actual (asymmetric) alphabet: sum of w[0..above] + w[1..below].
    totals = weights[:, : above + 1].sum(1) + weights[:, 1 : below + 1].sum(1)
    bits = (counts[None, :] * -np.log2(weights)).sum(1) + values.size * np.log2(totals)
    best = int(np.argmin(bits))
    return TensorModel(DISCRETE_LAPLACE, center, below, above, int(_DECAY_CANDIDATES[best])), float(bits[best])


def fixed_point(rows) -> np.ndarray:
    """The range coder's integer probabilities of rows of nonnegative weights: int64 rows in units
    of 2^-24 that sum to 2^24, every value at least 1 (so none is impossible).

    The "leaky" quantization that files of every format version use: the value ``i`` of an
    ``n``-value row starts at ``floor(C_i * s) + i``, where ``C_i`` is the float64 running sum of
    the weights before it and ``s = (2^24 - n) / C_n``, and the last value ends at 2^24. Each
    step is one IEEE-754 float64 operation (exact for integer weights), so every machine gets
    the same integers. It is the conversion of constriction 0.5's ``Categorical(perfect=False)``,
    written out here so that the format no longer depends on it.
    """
    return _exact_rows(rows).astype(np.int64) + 1


def _exact_rows(rows) -> np.ndarray:
    """:func:`fixed_point` less one, as float64 (exact integers): what the coder is handed. They
    sum to 2^24 - n, so the coder's leaky conversion scales them by exactly 1 and gives back the
    integers unchanged (any correct float-to-fixed-point conversion would)."""
    rows = np.asarray(rows, np.float64)
    n = rows.shape[-1]
    running = np.cumsum(rows, axis=-1)  # sequential sums, not numpy's pairwise np.sum
    if not np.all(running[..., -1] > 0):
        raise ValueError("a probability row has no positive weight")
    # floor(C_i * s) for the ends of values 0..n-2; the last value ends at 2^24 (less n: the one
    # every value gets is not in these floats)
    running *= (ONE - n) / running[..., -1:]
    ends = np.floor(running, out=running)
    ends[..., -1] = ONE - n
    return np.diff(ends, axis=-1, prepend=0.0)


def _categorical(model: TensorModel):
    import constriction

    return constriction.stream.model.Categorical(_exact_rows(_pmf(model)), perfect=False)


def encode(tensors: Sequence[np.ndarray], models: Sequence[TensorModel]) -> bytes:
    """Range-code all tensors (flattened, in order) into one payload."""
    import constriction

    encoder = constriction.stream.queue.RangeEncoder()
    for values, model in zip(tensors, models):
        if model.kind == CONSTANT:
            continue
        symbols = (np.asarray(values, dtype=np.int64).reshape(-1) - model.low).astype(np.int32)
        encoder.encode(symbols, _categorical(model))
    words = encoder.get_compressed()
    return _trim(np.asarray(words, dtype="<u4").tobytes())


def decode(payload: bytes, sizes: Sequence[int], models: Sequence[TensorModel]) -> list[np.ndarray]:
    """Inverse of :func:`encode`; ``sizes`` are the element counts known from the architecture."""
    import constriction

    padded = payload + b"\x00" * (-len(payload) % 4)
    words = np.frombuffer(padded, dtype="<u4").astype(np.uint32)
    try:
        decoder = constriction.stream.queue.RangeDecoder(words)
        out = []
        for size, model in zip(sizes, models):
            if model.kind == CONSTANT:
                out.append(np.full(size, model.center, dtype=np.int64))
                continue
            symbols = decoder.decode(_categorical(model), size)
            out.append(np.asarray(symbols, dtype=np.int64) + model.low)
    # constriction reports compressed data that its model cannot have produced as an AssertionError.
    except (ValueError, RuntimeError, OverflowError, AssertionError) as exc:
        raise FormatError(f"payload does not decode: {exc}") from None
    # The coder's end is only known to within a word: coding the values again is the exact check
    # that the payload holds them and nothing else (cheap: networks are small).
    if encode(out, models) != payload:
        raise FormatError("payload holds more or other data than its tensors; the file is corrupt")
    return out


def _trim(data: bytes) -> bytes:
    # Trailing zero bytes of the last 32-bit word carry no information; decode() pads them back.
    cut = 0
    while cut < 3 and len(data) > cut and data[len(data) - 1 - cut] == 0:
        cut += 1
    return data[: len(data) - cut]


class RowEncoder:
    """Range-codes symbols with one row of weights each (made integer by :func:`fixed_point`),
    for data whose probabilities depend on values coded before (latent grids, octree masks)."""

    def __init__(self) -> None:
        import constriction

        self._family = constriction.stream.model.Categorical(perfect=False)
        self._encoder = constriction.stream.queue.RangeEncoder()

    def encode(self, symbols: np.ndarray, rows: np.ndarray) -> None:
        """``symbols[i]`` in 0..rows.shape[1]-1, coded with the weights ``rows[i]``."""
        if len(symbols):
            self._encoder.encode(np.asarray(symbols, np.int32), self._family, _exact_rows(rows))

    def finish(self, trim: bool = True) -> bytes:
        """The coded bytes; with ``trim``, less the trailing zero bytes of the last word."""
        words = np.asarray(self._encoder.get_compressed(), dtype="<u4").tobytes()
        return _trim(words) if trim else words


class RowDecoder:
    """Inverse of :class:`RowEncoder`: call ``decode`` with the same rows in the same order."""

    def __init__(self, payload: bytes, what: str = "latent payload", contents: str = "latents") -> None:
        import constriction

        self.what, self.contents = what, contents
        padded = payload + b"\x00" * (-len(payload) % 4)
        self._family = constriction.stream.model.Categorical(perfect=False)
        try:
            self._decoder = constriction.stream.queue.RangeDecoder(np.frombuffer(padded, dtype="<u4").astype(np.uint32))
        except (ValueError, RuntimeError, AssertionError) as exc:
            raise FormatError(f"{what} does not decode: {exc}") from None

    def finish(self) -> None:
        """Raise FormatError unless every byte of the payload was consumed."""
        if not self._decoder.maybe_exhausted():
            raise FormatError(f"{self.what} holds more data than its {self.contents}; the file is corrupt")

    def decode(self, rows: np.ndarray) -> np.ndarray:
        if not len(rows):
            return np.zeros(0, np.int64)
        try:
            return np.asarray(self._decoder.decode(self._family, _exact_rows(rows)), np.int64)
        except (ValueError, RuntimeError, OverflowError, AssertionError) as exc:
            raise FormatError(f"{self.what} does not decode: {exc}") from None

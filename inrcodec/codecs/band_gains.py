"""Audio band gains: after the network, each band of each frame of the coded band is scaled so
that its energy is the original's, in steps of a few dB.

A fitted network leaves an error of about the same power everywhere: inaudible under loud
sound, a noise floor in pauses and soft passages, and too little energy where it smoothed
detail away. Coding the energy of each band exactly and the fine structure less so is how
CELT (Opus) keeps a low-rate codec sounding like its input. Here the encoder measures the
band energies of the network's rendering (as the decoder will render it) and the file carries
only the correction, mostly zero where the network is close, a few bits where it is not. The
decoder scales its rendering by the coded corrections: integers from the file, so parsing
stays exact; only the reconstruction is float.

Analysis and synthesis use :mod:`inrcodec.codecs.stft`. The chunk (format 1.7, optional in
audio files of the weight codec)::

    frame_log2 u8 | stop_bin uvarint | bands uvarint | width uvarint * bands | step_code u8 |
    low svarint | high svarint | entropy model * (CONTEXTS * min(channels, 2)) | payload

The frame is the one :func:`stft.frame_log2_for` gives the sample rate. Bins 0 to ``stop_bin - 1`` are split into ``bands`` bands of consecutive bins. Level v of a band
in a frame multiplies its bins by ``10^(v * step / 20)`` (step = ``step_code / 2`` dB); levels
lie in ``low..high``. They are coded frame by frame (then channel, band), each with the entropy
model of its context: in the first channel, the same band's level one frame earlier; in the
others, the same band's level in the channel before (channels of one recording mostly need
the same correction); clipped to ±(CONTEXTS // 2), with a set of models for each of the two.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from inrcodec import entropy
from inrcodec.bitstream import Reader, Writer
from inrcodec.codecs import stft
from inrcodec.errors import FormatError

CONTEXTS = 5
# Levels reach this far in dB (a rule of the format, so that no gain overflows): a network may
# render noise where the original is silent (cut), and rarely renders less than a sixteenth of
# a band's power where it has sound (boost).
MAX_CUT_DB, MAX_BOOST_DB = 60.0, 24.0
MAX_LEVEL = 255
# Bits the encoder sets aside for each level before it knows them (it knows them only once
# the network is coded), in the first channel and in each later one (coded from the channel
# before). Measured with 6 dB steps: 2.2 on mono speech at 16 kbit/s; 1.7 and 0.8 on a stereo
# speech recording at 32 kbit/s, 2.3 and 2.3 on a stereo piano recording.
RESERVE_BITS_FIRST_CHANNEL, RESERVE_BITS_LATER_CHANNEL = 2.25, 1.0
# Gains whose reserve would take more than this share of what the headers and the noise chunk
# leave of the target are not coded: a network starved of bits would leave them little to
# correct. Where they take more than their reserve, the network is coded again in what they
# leave, up to this share.
MAX_SHARE = 0.25
# Band powers below this (per bin, on samples in [-1, 1]) are treated as silence.
_FLOOR = 1e-12


@dataclasses.dataclass(frozen=True)
class BandGains(stft.BandLevels):
    """What the gains chunk holds; ``levels`` is (frames, channels, bands) integers."""

    frame_log2: int
    stop_bin: int
    widths: tuple[int, ...]
    step_code: int
    levels: np.ndarray


def layout(sample_rate: int, stop_bin: int | None, band_erbs: float) -> tuple[int, int, tuple[int, ...]]:
    """(frame_log2, stop_bin, band widths) of the gains of a signal at ``sample_rate`` whose
    network codes bins below ``stop_bin`` (None: all of them)."""
    frame_log2 = stft.frame_log2_for(sample_rate)
    frame = 1 << frame_log2
    stop = frame // 2 + 1 if stop_bin is None else max(1, min(stop_bin, frame // 2 + 1))
    return frame_log2, stop, stft.band_widths(0, stop, frame, sample_rate, band_erbs)


def reserve_bits(samples: int, channels: int, sample_rate: int, stop_bin: int | None, band_erbs: float) -> float:
    """The bits the encoder sets aside for the gains of such a signal before it knows them."""
    frame_log2, _, widths = layout(sample_rate, stop_bin, band_erbs)
    per_channel = stft.frame_count(samples, 1 << frame_log2) * len(widths)
    return per_channel * (RESERVE_BITS_FIRST_CHANNEL + RESERVE_BITS_LATER_CHANNEL * (channels - 1))


def analyse(original: np.ndarray, rendered: np.ndarray, sample_rate: int, stop_bin: int | None, *,
            step_db: float, band_erbs: float) -> BandGains:
    """The levels that bring the band energies of ``rendered`` to those of ``original`` ((N, C)
    floats each) below ``stop_bin``."""
    frame_log2, stop, widths = layout(sample_rate, stop_bin, band_erbs)
    frame = 1 << frame_log2
    step_code = max(1, min(255, round(2 * step_db)))
    step = step_code / 2.0
    floor = _FLOOR * np.asarray(widths)
    want = stft.band_power(stft.spectra(original, frame)[:, :, :stop], widths) + floor
    have = stft.band_power(stft.spectra(rendered, frame)[:, :, :stop], widths) + floor
    levels = np.round(10.0 * np.log10(want / have) / step)
    levels = np.clip(levels, -min(MAX_LEVEL, int(MAX_CUT_DB / step)), min(MAX_LEVEL, int(MAX_BOOST_DB / step)))
    return BandGains(frame_log2, stop, widths, step_code, levels.astype(np.int64))


def apply(samples: np.ndarray, gains: BandGains) -> np.ndarray:
    """``samples`` ((N, C) floats) with each band of each frame scaled by its level."""
    spectra = stft.spectra(samples, gains.frame)
    factor = 10.0 ** (gains.levels * gains.step_db / 20.0)  # (T, C, B)
    spectra[:, :, : gains.stop_bin] *= np.repeat(factor, gains.widths, axis=2)
    return stft.overlap_add(spectra, gains.frame, samples.shape[0]).astype(np.float32)


def write(gains: BandGains) -> bytes:
    w = Writer()
    w.u8(gains.frame_log2)
    w.uvarint(gains.stop_bin)
    w.uvarint(len(gains.widths))
    for width in gains.widths:
        w.uvarint(width)
    w.u8(gains.step_code)
    low, high = int(gains.levels.min(initial=0)), int(gains.levels.max(initial=0))
    w.svarint(low)
    w.svarint(high)
    contexts = _contexts(gains.levels)
    models = []
    for k in range(_model_count(gains.levels.shape[1])):
        values = gains.levels[contexts == k]
        model = entropy.fit_model(values)[0] if values.size else entropy.TensorModel(entropy.CONSTANT, 0)
        model.write(w)
        models.append(model)
    return w.getvalue() + _payload(gains.levels, _rows(models, low, high), low)


def read(chunk: bytes, samples: int, channels: int, sample_rate: int) -> BandGains:
    """Parse a gains chunk of a signal of ``samples`` frames, ``channels`` and ``sample_rate``;
    FormatError on anything out of bounds."""
    r = Reader(chunk, what="gains chunk")
    frame_log2 = r.u8()
    if frame_log2 != stft.frame_log2_for(sample_rate):
        raise FormatError(f"gains chunk: frame of 2^{frame_log2} samples; audio at {sample_rate} Hz has "
                          f"2^{stft.frame_log2_for(sample_rate)}")
    frame = 1 << frame_log2
    stop_bin = r.uvarint(limit=frame // 2 + 1)
    count = r.uvarint(limit=stop_bin)
    widths = tuple(r.uvarint(limit=frame) for _ in range(count))
    if count == 0 or 0 in widths or sum(widths) != stop_bin:
        raise FormatError(f"gains chunk: bands {widths} from bin 0 do not end at bin {stop_bin - 1}")
    step_code = r.u8()
    low, high = r.svarint(limit=MAX_LEVEL), r.svarint(limit=MAX_LEVEL)
    # Levels reach MAX_CUT_DB / MAX_BOOST_DB at most (step_code is in half dB): no gain overflows.
    if step_code == 0 or not -2 * MAX_CUT_DB <= low * step_code <= 0 <= high * step_code <= 2 * MAX_BOOST_DB:
        raise FormatError(f"gains chunk: step {step_code} or levels {low}..{high} out of bounds")
    if samples * channels > stft.MAX_SAMPLES:
        raise FormatError(f"gains chunk for {samples * channels} samples; at most {stft.MAX_SAMPLES} have gains")
    frames = stft.frame_count(samples, frame)
    models = [entropy.TensorModel.read(r) for _ in range(_model_count(channels))]
    for model in models:
        first, last = ((model.center, model.center) if model.kind == entropy.CONSTANT
                       else (model.low, model.low + model.alphabet_size - 1))
        if first < low or last > high:
            raise FormatError(f"gains chunk: an entropy model reaches beyond the levels {low}..{high}")
    table = _rows(models, low, high)
    payload = r.raw(r.remaining())
    coder = entropy.RowDecoder(payload, what="gains chunk", contents="levels")
    levels = np.zeros((frames, channels, count), np.int64)
    previous = np.zeros(count, np.int64)
    for t in range(frames if high > low else 0):
        levels[t, 0] = coder.decode(table[_context(previous)]) + low
        for c in range(1, channels):
            levels[t, c] = coder.decode(table[CONTEXTS + _context(levels[t, c - 1])]) + low
        previous = levels[t, 0]
    # The coder's end is only known to within a word: coding the levels again is the exact
    # check that the payload holds them and nothing else.
    if _payload(levels, table, low) != payload:
        raise FormatError("gains chunk: the payload holds more or other data than its levels; the file is corrupt")
    return BandGains(frame_log2, stop_bin, widths, step_code, levels)


def _payload(levels: np.ndarray, table: np.ndarray, low: int) -> bytes:
    if table.shape[1] == 1:  # every level is 0
        return b""
    coder = entropy.RowEncoder()
    for frame, context in zip(levels, _contexts(levels)):  # the decoder's order: frame, channel
        coder.encode((frame - low).reshape(-1), table[context.reshape(-1)])
    return coder.finish()


def _context(previous: np.ndarray) -> np.ndarray:
    half = CONTEXTS // 2
    return np.clip(previous, -half, half) + half


def _contexts(levels: np.ndarray) -> np.ndarray:
    """The context (model index) of every level of (frames, channels, bands) ``levels``: in the
    first channel its band's level one frame earlier (0 before the first), in the others
    CONTEXTS plus its band's level in the channel before."""
    earlier = np.concatenate([np.zeros_like(levels[:1, :1]), levels[:-1, :1]])
    return np.concatenate([_context(earlier), CONTEXTS + _context(levels[:, :-1])], axis=1)


def _model_count(channels: int) -> int:
    return CONTEXTS * min(channels, 2)


def _rows(models: list[entropy.TensorModel], low: int, high: int) -> np.ndarray:
    """(models, high - low + 1) integer weights of each context's model over ``low..high``
    (zero outside the model's own alphabet: the coder still gives those values its least
    probability, so no value of the range is impossible)."""
    values = np.arange(low, high + 1)
    rows = np.zeros((len(models), values.size), np.int64)
    for k, model in enumerate(models):
        if model.kind == entropy.CONSTANT:
            rows[k, values == model.center] = 1
            continue
        distance = np.abs(values - model.center)
        inside = (values >= model.low) & (values < model.low + model.alphabet_size)
        weights = entropy.laplace_weights(np.array([model.decay]), int(distance.max()))[0]
        rows[k] = np.where(inside, weights[distance], 0)
    if not np.all(rows.sum(axis=1) > 0):
        raise FormatError("gains chunk: an entropy model has no value inside the levels' range")
    return rows

"""The interface every codec implements, and what the codecs share.

A codec owns some architectures (the file's model chunk names one) and the modalities it
can code with them. It encodes a signal into .inrc bytes and, from a parsed container, rebuilds
the signal (``decode``), the integers it parsed (``integers``) or a description of them
(``describe``). The api picks the codec; nothing else dispatches.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from inrcodec.container import Container
from inrcodec.errors import ConfigError, FormatError
from inrcodec.inr import ArchConfig, write_arch
from inrcodec.modalities import Modality
from inrcodec.signal import Signal

# Decoding allocates the coordinates and outputs of every rendered sample: bound them before
# anything is allocated (2^28 is a 16k x 16k image, or 1.7 hours of 44.1 kHz audio).
MAX_RENDER_SAMPLES = 1 << 28
# ... and the work: 2^44 MACs is hours on a CPU core; a full Kodak image takes 2^29.
MAX_RENDER_MACS = 1 << 44

# progress(phase, done, total, loss)
Progress = Callable[[str, int, int, float], None]


@dataclasses.dataclass
class Encoded:
    """The file and what it took to make it."""

    blob: bytes
    arch: ArchConfig
    search_psnr: float
    fit_seconds: float
    attempts: int
    # The decoded samples as the encoder computed them, where it reconstructs as it codes.
    reconstruction: np.ndarray | None = None


class Codec:
    """Signal <-> .inrc bytes for the architectures in ``archs`` on the modalities in ``modalities``."""

    archs: ClassVar[tuple[str, ...]]  # architecture names (the file's model chunk)
    modalities: ClassVar[tuple[str, ...]]
    packable: ClassVar[bool] = False  # same-shaped signals can be fitted together

    def encode(self, signal: Signal, config, progress: Progress | None = None) -> Encoded:
        raise NotImplementedError

    def decode(self, parsed: Container, modality: Modality, meta: dict[str, Any], arch: ArchConfig,
               scale: float, fps_scale: float) -> Signal:
        raise NotImplementedError

    def integers(self, parsed: Container, modality: Modality, meta: dict[str, Any], arch: ArchConfig) -> list[np.ndarray]:
        """Every integer the file's entropy-coded chunks hold, exactly as parsed."""
        from inrcodec import weights

        self.check_chunks(parsed)
        return weights.decode_ints(arch, parsed.tensors, parsed.payload)[0]

    def describe(self, parsed: Container, modality: Modality, meta: dict[str, Any], arch: ArchConfig) -> dict[str, Any]:
        """What ``inrcodec info`` shows of the coded content: parameters, cost, tensors."""
        from inrcodec import weights

        self.check_chunks(parsed)
        ints, codes = weights.decode_ints(arch, parsed.tensors, parsed.payload)
        return {
            "parameters": int(sum(q.size for q in ints)),
            "macs_per_sample": arch.macs_per_sample(),
            "tensors": [{"name": name, "shape": list(q.shape), "step": 2.0 ** (c / 8), "min": int(q.min()),
                         "max": int(q.max())} for name, q, c in zip(weights.leaf_names(arch), ints, codes)],
        }

    # Chunks a file of this codec holds beside the header and the network ("geometry", "latents",
    # "frames"), and those it may hold ("noise", "gains").
    chunks: ClassVar[tuple[str, ...]] = ()
    optional_chunks: ClassVar[tuple[str, ...]] = ()

    def check_chunks(self, parsed: Container) -> None:
        """Raise FormatError if the file lacks a chunk this codec needs or holds one it does not read."""
        for name in ("geometry", "latents", "frames", "noise", "gains"):
            present = getattr(parsed, name) is not None
            if present and name not in self.chunks + self.optional_chunks:
                raise FormatError(f"unexpected {name} chunk in a file of the {'/'.join(self.archs)} architecture")
            if not present and name in self.chunks:
                raise FormatError(f"{'/'.join(self.archs)} file without a {name} chunk")

    def adapt(self, arch: ArchConfig, signal: Signal, modality: Modality) -> ArchConfig:
        """The architecture's input and output sizes (and finest resolution, where the config
        leaves it to the signal) set for this signal."""
        changes: dict[str, int] = {"in_dim": modality.coord_dim, "out_dim": signal.meta["channels"]}
        if getattr(arch, "max_res", None) == 0:
            changes["max_res"] = max(min(modality.resolution(signal.meta), arch.max_res_limit), arch.base_res)
        return arch.replace(**changes)

    def check_arch(self, arch: ArchConfig, modality: Modality, meta: dict[str, Any]) -> None:
        """Raise FormatError unless the network maps this modality's coordinates to its channels."""
        if arch.in_dim != modality.coord_dim or arch.out_dim != meta["channels"]:
            raise FormatError(f"network maps {arch.in_dim}-D coordinates to {arch.out_dim} values, but the "
                              f"{modality.name} needs {modality.coord_dim}-D coordinates and {meta['channels']} channels")


def check_render(samples: int, macs_per_sample: int, rescaled: bool = False) -> None:
    """Raise before anything is allocated if a render of ``samples`` exceeds the decoder's limits
    (``rescaled``: the size asked for is not the coded one, so the user can ask for less)."""
    if samples > MAX_RENDER_SAMPLES and rescaled:
        raise ConfigError(f"a render of {samples:.0f} samples exceeds the limit of {MAX_RENDER_SAMPLES}; "
                          "use a smaller --scale")
    if samples > MAX_RENDER_SAMPLES:
        raise FormatError(f"the header declares {samples:.0f} samples, more than the decoder's limit of "
                          f"{MAX_RENDER_SAMPLES}; the file is corrupt")
    if samples * macs_per_sample > MAX_RENDER_MACS:
        raise FormatError(f"a render of {samples:.0f} samples at {macs_per_sample} MACs each exceeds "
                          f"the decoder's limit of {MAX_RENDER_MACS} MACs")


def check_finite(values: np.ndarray, what: str = "decoded network") -> np.ndarray:
    if not np.all(np.isfinite(values)):
        raise FormatError(f"{what} produced non-finite values; the file is corrupt")
    return values


# The coder's leaky quantization (``entropy.fixed_point``, 24-bit probabilities) gives a symbol of
# probability p at most p + 2^-23; twice that leaves room for float rounding.
QUANTIZATION_SLACK = 2.0**-22
# What a range coder's output may lack of the information it coded: its 64-bit state, and the
# trailing zero bytes of the last 32-bit word that the files leave out.
RANGE_CODER_SLACK_BITS = 128


def least_bits(probability) -> np.ndarray:
    """A lower bound on the bits the range coder spends on a symbol of this probability (after
    the coder's quantization); 0 for probabilities near one."""
    return -np.log2(np.minimum(1.0, np.asarray(probability, np.float64) + QUANTIZATION_SLACK))


class BitBudget:
    """The bits a range-coded chunk holds against a lower bound on what its symbols cost.

    A range coder's output is at least the information of what it coded, less
    ``RANGE_CODER_SLACK_BITS``, so a valid chunk always has ``spent + left * least <= bits``:
    ``spent`` bounds the cost of the symbols decoded so far from below (:meth:`spend`),
    ``left`` symbols are still to come and each costs at least ``least`` bits. A range decoder
    never runs out of data (past the end it decodes padding): this is what stops it, before the
    work is done when the header asks for more than the chunk can hold, or as soon as a
    desynchronised decoder has decoded more information than there is.
    """

    def __init__(self, what: str, contents: str, nbytes: int, left: int = 0, least: float = 0.0) -> None:
        self.what, self.contents, self.nbytes = what, contents, nbytes
        self.bits, self.left, self.least, self.spent = 8 * nbytes + RANGE_CODER_SLACK_BITS, left, least, 0.0
        self._check()

    def spend(self, rows: np.ndarray, symbols: np.ndarray) -> None:
        """Count ``symbols`` (indices into ``rows``), decoded with the weights ``rows`` (one row a symbol)."""
        chosen = rows[np.arange(len(rows)), symbols] / rows.sum(axis=1)
        self.spent += float(least_bits(chosen).sum())
        self.left = max(self.left - len(symbols), 0)
        self._check()

    def _check(self) -> None:
        needed = self.spent + self.left * self.least
        if needed > self.bits:
            raise FormatError(f"{self.what} of {self.nbytes} bytes cannot hold its {self.contents} (at least "
                              f"{needed / 8:.0f} bytes); the file is corrupt")


def overhead_bits(signal_chunk: bytes, arch: ArchConfig) -> float:
    """Bits of everything but the payload: headers, tensor table (about 6 bytes a tensor), CRC."""
    from inrcodec import weights

    return 8.0 * (len(signal_chunk) + len(write_arch(arch)) + 6 * weights.tensor_count(arch) + 6 + 4 * 4 + 4)

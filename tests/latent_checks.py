"""Checks every latent-grid file must pass, image or video."""

from __future__ import annotations

import numpy as np

from inrcodec import container, latent_arm
from inrcodec.codecs.latent import stream
from inrcodec.inr import read_arch
from inrcodec.modalities import read_signal_chunk


def parts(blob: bytes):
    """(parsed container, signal header, architecture) of a file."""
    parsed = container.unpack(blob)
    _, meta = read_signal_chunk(parsed.signal)
    return parsed, meta, read_arch(parsed.model)


def assert_encoder_and_decoder_see_identical_probabilities(blob: bytes):
    """The integer ARM's parameters of every latent, computed at once from the whole grid (the
    encoder) and wavefront by wavefront from what is decoded (the decoder), are the same, and
    coding the decoded latents again gives the file's latents chunk. Returns what it decoded:
    (parsed, meta, arch, ARM integers, ARM steps, latents)."""
    parsed, meta, arch = parts(blob)
    trace = []
    ints, codes, latents = stream.decode_integer_parts(parsed, meta, arch, trace)
    arm_ints = ints[: stream.arm_tensor_count(arch)]
    fracs = stream.arm_frac_bits(arch, codes)
    encoder_side = []
    for grid in latents:
        means, scales = stream._grid_parameters(arm_ints, fracs, grid, arch)
        for positions in latent_arm.wavefronts(grid.shape, arch.offsets()):
            index = np.ravel_multi_index(positions, grid.shape)
            encoder_side.append((means[index], scales[index]))
    assert len(trace) == len(encoder_side)
    for (m_dec, s_dec), (m_enc, s_enc) in zip(trace, encoder_side):
        assert np.array_equal(m_dec, m_enc) and np.array_equal(s_dec, s_enc)
    assert stream.encode_latents(arm_ints, fracs, latents, arch) == parsed.latents
    return parsed, meta, arch, arm_ints, fracs, latents

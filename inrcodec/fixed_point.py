"""Fixed-point evaluation of small ReLU MLPs: the arithmetic behind every probability that an
entropy model computes with a network (point-cloud occupancy, latent-grid ARM).

Weights and biases are integers at power-of-two steps 2^-bits; activations are integers in
units of 2^-ACT_BITS, floored and clipped. Products and sums are carried in float64, where
integers below 2^53 are exact whatever the summation order, so BLAS gives the same integers on
every machine; the bounds on weights, inputs and ACT_LIMIT keep every sum below 2^53.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ACT_BITS = 8  # hidden activations are integers in units of 2^-8
ACT_LIMIT = float(1 << 20)  # ReLU outputs are clipped to 4096.0


def relu_mlp(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], weight_bits: Sequence[int],
             bias_bits: Sequence[int], inputs: np.ndarray) -> tuple[np.ndarray, int]:
    """The last layer's outputs for integer ``inputs`` (units of 1), as exact integers in
    float64, and their unit: the outputs are in units of 2^-unit."""
    h = inputs.astype(np.float64)
    unit = 0  # h holds integers in units of 2^-unit
    for i, (w, b) in enumerate(zip(weights, biases)):
        z = h @ w.astype(np.float64)  # units 2^-(unit + weight_bits[i]); exact
        z = z + b.astype(np.float64) * 2.0 ** (unit + weight_bits[i] - bias_bits[i])
        if i < len(weights) - 1:
            h = np.clip(np.floor(z * 2.0 ** (ACT_BITS - unit - weight_bits[i])), 0.0, ACT_LIMIT)
            unit = ACT_BITS
    return z, unit + weight_bits[-1]

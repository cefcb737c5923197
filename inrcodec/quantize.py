"""Pure functions for uniform per-tensor quantisation and the search for step sizes.

A step is stored as a small integer code: ``step = 2 ** (code / STEPS_PER_OCTAVE)``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from inrcodec import entropy

STEPS_PER_OCTAVE = 8
MIN_CODE, MAX_CODE = -40 * STEPS_PER_OCTAVE, 8 * STEPS_PER_OCTAVE


def step_size(code: int) -> float:
    return float(2.0 ** (code / STEPS_PER_OCTAVE))


def quantize(values: np.ndarray, code: int) -> np.ndarray:
    """Nearest integer multiple of the step, as int64."""
    return np.round(np.asarray(values, dtype=np.float64) / step_size(code)).astype(np.int64)


def dequantize(ints: np.ndarray, code: int) -> np.ndarray:
    return (np.asarray(ints, dtype=np.float64) * step_size(code)).astype(np.float32)


def fake_quantize(params, steps):
    """Straight-through rounding of every leaf to its step: forward quantised, gradient identity."""

    def one(p, s):
        return p + jax.lax.stop_gradient(jnp.round(p / s) * s - p)

    return jax.tree_util.tree_map(one, params, steps)


@dataclasses.dataclass(frozen=True)
class StepChoice:
    """Chosen step codes with the ideal bits and the PSNR measured when they were chosen."""

    codes: tuple[int, ...]
    bits: float
    psnr: float


class StepSearch:
    """Per-tensor step search over ideal code lengths and measured distortion.

    ``psnr_of(dequantised_leaves)`` renders the signal and measures it. Costs per tensor and
    step are cached, so a search evaluates the entropy model once per (tensor, code).
    """

    def __init__(self, leaves: Sequence[np.ndarray], psnr_of: Callable[[list[np.ndarray]], float]):
        self.leaves = [np.asarray(leaf, dtype=np.float32) for leaf in leaves]
        self.psnr_of = psnr_of
        self._bits: dict[tuple[int, int], float] = {}

    def tensor_bits(self, index: int, code: int) -> float:
        key = (index, code)
        if key not in self._bits:
            ints = quantize(self.leaves[index], code)
            if ints.max() - ints.min() + 1 > entropy.MAX_ALPHABET:
                self._bits[key] = math.inf
            else:
                self._bits[key] = entropy.fit_model(ints)[1]
        return self._bits[key]

    def bits(self, codes: Sequence[int]) -> float:
        return sum(self.tensor_bits(i, c) for i, c in enumerate(codes))

    def psnr(self, codes: Sequence[int]) -> float:
        return self.psnr_of([dequantize(quantize(leaf, c), c) for leaf, c in zip(self.leaves, codes)])

    def initial_codes(self, groups: Sequence[str], offsets: dict[str, int]) -> list[int]:
        """Per-tensor starting codes: each tensor's spread plus an offset of its group."""
        codes = []
        for leaf, group in zip(self.leaves, groups):
            spread = float(np.std(leaf)) or float(np.max(np.abs(leaf))) or 1.0
            codes.append(int(np.clip(round(STEPS_PER_OCTAVE * math.log2(spread)) + offsets[group], MIN_CODE, MAX_CODE)))
        return codes

    def search(
        self,
        groups: Sequence[str],
        *,
        slope_db: float,
        fixed_bits: float = 0.0,
        target_bits: float | None = None,
        offsets_to_try: Sequence[int] = tuple(range(-48, 9, 4)),
        refine_rounds: int = 2,
    ) -> StepChoice:
        """Choose step codes, first one offset per group, then tensor by tensor.

        Without ``target_bits``: minimise ``-PSNR + slope_db * log2(bits)``, a rate–distortion
        Lagrangian in the log domain (``slope_db`` is how many dB the codec gains per doubling
        of its rate). With ``target_bits``: the highest PSNR whose ideal size fits the target.
        """
        names = sorted(set(groups))
        offsets = {g: -24 for g in names}

        def cost(codes):
            return -self.psnr(codes) + slope_db * math.log2(max(self.bits(codes) + fixed_bits, 1.0))

        def objective(codes):
            # With a size target the best quality that fits wins; without one, the Lagrangian.
            if target_bits is None:
                return cost(codes)
            return math.inf if self.bits(codes) + fixed_bits > target_bits else -self.psnr(codes)

        best_codes = self.initial_codes(groups, offsets)
        best = objective(best_codes)
        for _ in range(2):
            for group in names:
                for offset in offsets_to_try:
                    trial = dict(offsets, **{group: offset})
                    codes = self.initial_codes(groups, trial)
                    value = objective(codes)
                    if value < best:
                        best, best_codes, offsets = value, codes, trial
        if target_bits is not None and math.isinf(best):
            best_codes = self._coarsen_until(best_codes, target_bits - fixed_bits)
            best = objective(best_codes)
        for _ in range(refine_rounds):
            improved = False
            for i in range(len(best_codes)):
                for delta in (-4, -2, 2, 4):
                    codes = list(best_codes)
                    codes[i] = int(np.clip(codes[i] + delta, MIN_CODE, MAX_CODE))
                    value = objective(codes)
                    if value < best:
                        best, best_codes, improved = value, codes, True
            if not improved:
                break
        return StepChoice(tuple(best_codes), self.bits(best_codes), self.psnr(best_codes))

    def _coarsen_until(self, codes: list[int], budget: float) -> list[int]:
        codes = list(codes)
        while self.bits(codes) > budget and min(codes) < MAX_CODE:
            codes = [min(c + 1, MAX_CODE) for c in codes]
        return codes

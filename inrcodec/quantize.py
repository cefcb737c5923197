"""Pure functions for uniform per-tensor quantization and the search for step sizes.

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
    """Straight-through rounding of every leaf to its step: forward quantized, gradient identity."""

    def one(p, s):
        # A step of 0 marks a leaf that is quantized elsewhere (feature grids): leave it.
        rounded = jnp.where(s > 0, jnp.round(p / jnp.where(s > 0, s, 1.0)) * s, p)
        return p + jax.lax.stop_gradient(rounded - p)

    return jax.tree_util.tree_map(one, params, steps)


@dataclasses.dataclass(frozen=True)
class StepChoice:
    """Chosen step codes with the ideal bits and the PSNR measured when they were chosen."""

    codes: tuple[int, ...]
    bits: float
    psnr: float


class StepSearch:
    """Per-tensor step search over ideal code lengths and measured distortion.

    ``psnr_of(dequantized_leaves)`` renders the signal and measures it. Costs per tensor and
    step are cached, so a search evaluates the entropy model once per (tensor, code).
    """

    def __init__(
        self,
        leaves: Sequence[np.ndarray],
        psnr_of: Callable[[list[np.ndarray]], float],
        frozen: dict[int, int] | None = None,
    ):
        self.leaves = [np.asarray(leaf, dtype=np.float32) for leaf in leaves]
        self.frozen = dict(frozen or {})  # tensor index -> code that the search must keep
        self.psnr_of = psnr_of
        self._bits: dict[tuple[int, int], float] = {}
        self._psnr: dict[tuple[int, ...], float] = {}

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
        key = tuple(codes)
        if key not in self._psnr:
            self._psnr[key] = self.psnr_of([dequantize(quantize(leaf, c), c) for leaf, c in zip(self.leaves, codes)])
        return self._psnr[key]

    def initial_codes(self, groups: Sequence[str], offsets: dict[str, int]) -> list[int]:
        """Per-tensor starting codes: each tensor's spread plus an offset of its group."""
        codes = []
        for i, (leaf, group) in enumerate(zip(self.leaves, groups)):
            if i in self.frozen:
                codes.append(self.frozen[i])
                continue
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
        fill_budget: bool = True,
    ) -> StepChoice:
        """Choose step codes: one offset per group first, then tensor by tensor.

        Without ``target_bits``: minimise ``-PSNR + slope_db * log2(bits)``, a rate–distortion
        Lagrangian in the log domain (``slope_db`` is how many dB the codec gains per doubling
        of its rate). With ``target_bits``: the highest PSNR whose ideal size fits or, with
        ``fill_budget=False``, the Lagrangian's best among the steps that fit (bits that buy
        almost no quality are left unspent).
        """
        lagrangian = lambda c: self._lagrangian(c, slope_db, fixed_bits)  # noqa: E731
        if target_bits is None:
            objective = lagrangian
        else:
            budget = target_bits - fixed_bits
            within = (lambda c: -self.psnr(c)) if fill_budget else lagrangian  # noqa: E731
            objective = lambda c: within(c) if self.bits(c) <= budget else math.inf  # noqa: E731
        codes = self._group_descent(groups, objective)
        if target_bits is not None and not math.isfinite(objective(codes)):
            codes = self._coarsen_until(codes, target_bits - fixed_bits)
        return self._choice(self._refine(codes, objective))

    def _lagrangian(self, codes: Sequence[int], slope_db: float, fixed_bits: float) -> float:
        return -self.psnr(codes) + slope_db * math.log2(max(self.bits(codes) + fixed_bits, 1.0))

    def _group_descent(self, groups: Sequence[str], objective: Callable[[Sequence[int]], float]) -> list[int]:
        """Coordinate descent over one step offset per group (relative to each tensor's spread),
        from coarse steps, which fit any target, toward fine ones; every offset is tried, so a
        non-convex quality curve does not trap it."""
        offsets = {g: 8 for i, g in enumerate(groups) if i not in self.frozen}
        best = objective(self.initial_codes(groups, offsets))
        for _ in range(2):
            for group in sorted(offsets):
                for offset in range(-72, 9, 4):
                    trial = dict(offsets, **{group: offset})
                    value = objective(self.initial_codes(groups, trial))
                    if value < best:
                        best, offsets = value, trial
        return self.initial_codes(groups, offsets)

    def _refine(self, codes: list[int], objective: Callable[[Sequence[int]], float], rounds: int = 6) -> list[int]:
        """Tensor-by-tensor moves of 1/4 to 2 octaves while the objective improves (the long
        moves get sensitive tensors, like a SIREN's first layer, off a plateau)."""
        best_codes, best = list(codes), objective(codes)
        for _ in range(rounds):
            improved = False
            for i in range(len(best_codes)):
                if i in self.frozen:
                    continue
                for delta in (-16, -8, -4, -2, 2, 4, 8, 16):
                    trial = list(best_codes)
                    trial[i] = int(np.clip(trial[i] + delta, MIN_CODE, MAX_CODE))
                    value = objective(trial)
                    if value < best:
                        best, best_codes, improved = value, trial, True
            if not improved:
                break
        return best_codes

    def _choice(self, codes: Sequence[int]) -> StepChoice:
        return StepChoice(tuple(codes), self.bits(codes), self.psnr(codes))

    def _coarsen_until(self, codes: list[int], budget: float) -> list[int]:
        codes = list(codes)
        free = [i for i in range(len(codes)) if i not in self.frozen]
        while free and self.bits(codes) > budget and min(codes[i] for i in free) < MAX_CODE:
            codes = [c if i in self.frozen else min(c + 1, MAX_CODE) for i, c in enumerate(codes)]
        return codes

"""A differentiable stand-in for the coded size of feature grids, and a controller for its weight.

Grid entries are trained at a fixed quantization step ``q``: the forward pass sees them with
uniform noise of one step (early) or rounded with a straight-through gradient (late), and a
zero-centred Laplace with a learned scale per table prices each entry at
``-log2(F(y + q/2) - F(y - q/2))`` bits, close to what the integer model of ``entropy`` then
spends. The loss is ``MSE + lmbda * bits / samples``; a controller moves ``lmbda`` so the
grid's estimated rate meets a target (Ballé et al. 2018; Cool-chic; C3).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

MIN_PROBABILITY = 2.0**-20


@dataclasses.dataclass(frozen=True)
class GridRate:
    """Which leaves are grids, their step, and how they are perturbed."""

    is_grid: tuple[bool, ...]
    step: float

    def init_scales(self, signals: int = 1) -> list[jax.Array]:
        """Log-scales (in steps) of one Laplace per grid tensor, (signals,) each for a pack."""
        return [jnp.zeros((signals,)) for g in self.is_grid if g]

    def perturb(self, params, key: jax.Array, hard: bool):
        """Grid leaves with one step of uniform noise (``hard=False``) or rounded (straight-through)."""
        leaves, treedef = jax.tree_util.tree_flatten(params)
        keys = jax.random.split(key, len(leaves))
        out = []
        for leaf, grid, k in zip(leaves, self.is_grid, keys):
            if grid:
                if hard:
                    leaf = leaf + jax.lax.stop_gradient(jnp.round(leaf / self.step) * self.step - leaf)
                else:
                    leaf = leaf + jax.random.uniform(k, leaf.shape, minval=-0.5, maxval=0.5) * self.step
            out.append(leaf)
        return jax.tree_util.tree_unflatten(treedef, out)

    def bits(self, params, log_scales) -> jax.Array:
        """Estimated bits of all grid entries of already-perturbed ``params``."""
        grids = [leaf for leaf, g in zip(jax.tree_util.tree_leaves(params), self.is_grid) if g]
        total = jnp.zeros(())
        for leaf, log_scale in zip(grids, log_scales):
            y = leaf / self.step
            scale = jnp.exp(log_scale)
            p = _laplace_cdf(y + 0.5, scale) - _laplace_cdf(y - 0.5, scale)
            total = total - jnp.sum(jnp.log2(jnp.maximum(p, MIN_PROBABILITY)))
        return total


def _laplace_cdf(x: jax.Array, scale: jax.Array) -> jax.Array:
    tail = 0.5 * jnp.exp(-jnp.abs(x) / scale)
    return jnp.where(x < 0, tail, 1.0 - tail)


@dataclasses.dataclass
class RateController:
    """Multiplicative update of the rate weight toward a target rate (bits per sample).

    ``lookahead`` extrapolates the rate's trend that many updates ahead before comparing it
    with the target: a rate that lags the weight (it moves toward its new level over many
    steps) is then steered by where it is going, so a high gain neither crawls nor overshoots.
    """

    lmbda: float
    target: float | None
    gain: float = 0.5
    max_factor: float = math.inf  # bound on one update's change (a slow-reacting rate overshoots)
    max_fall: float | None = None  # tighter bound on a decrease; None: max_factor
    lookahead: float = 0.0
    last: float | None = None  # the previous update's rate

    def update(self, estimated: float) -> float:
        if self.target is not None and self.target > 0 and math.isfinite(estimated):
            estimated = max(estimated, 1e-6)
            expected = estimated * (estimated / self.last) ** self.lookahead if self.last else estimated
            factor = (expected / self.target) ** self.gain
            max_fall = self.max_factor if self.max_fall is None else self.max_fall
            factor = min(max(factor, 1.0 / max_fall), self.max_factor)
            self.lmbda = float(min(max(self.lmbda * factor, 1e-8), 1e2))
            self.last = estimated
        return self.lmbda

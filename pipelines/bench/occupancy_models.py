"""Which network should give the octree's occupancy probabilities? Fits three families to the
same child masks of a cloud and prints their ideal code lengths:

* ``context``: the codec's MLP on the parent's decoded neighbourhood, corner, level, position;
* ``hashgrid``: a pure implicit field, 4-D hash grid over (x, y, z, level) of the child cell;
* ``siren``: the same implicit field as a SIREN.

    python -m pipelines.bench.occupancy_models CLOUD.ply [...] --depth 8 --steps 1500

Code lengths are ideal (-log2 p in float, weights at 8 bits each): a comparison of model
families, not file sizes; the codec's rates are always measured on real files.
"""

from __future__ import annotations

import argparse
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from inrcodec import fit_occupancy, occupancy, octree
from inrcodec.inr import HashGridConfig, SirenConfig
from inrcodec.modalities.pointcloud import POINTCLOUD
from inrcodec.codecs.octree_codec import coding_order, voxelize

WEIGHT_BITS = 8.0


class PerChild(eqx.Module):
    """Applies a coordinate network to every child: (B, 8, 4) -> (B, 8) logits."""

    net: eqx.Module

    def __call__(self, x):
        return self.net(x.reshape(-1, x.shape[-1])).reshape(x.shape[:-1])


def child_positions(parents: np.ndarray, level: int, depth: int) -> np.ndarray:
    """(P, 8, 4) float32: child cell centres in [-1, 1]^3 and the child level in [-1, 1]."""
    centres = (octree.children(parents) + 0.5) / (1 << (level + 1)) * 2.0 - 1.0
    levels = np.full((len(centres), 1), 2.0 * (level + 1) / depth - 1.0)
    return np.concatenate([centres, levels], axis=1).reshape(-1, 8, 4).astype(np.float32)


def ideal_mask_bits(logits: np.ndarray, labels: np.ndarray) -> float:
    """Code length of the masks in bits under float probabilities (renormalised over non-empty)."""
    log_p = -np.logaddexp(0.0, -logits) / np.log(2.0)  # log2 sigmoid
    log_q = -np.logaddexp(0.0, logits) / np.log(2.0)
    bits = -np.where(labels, log_p, log_q).sum(axis=1)
    empty = np.minimum(log_q.sum(axis=1), -1e-9)
    return float(np.sum(bits + np.log2(-np.expm1(empty * np.log(2.0)))))


def compare(path: str, depth: int, steps: int, seed: int) -> list[dict]:
    signal = POINTCLOUD.read(path)
    levels = octree.levels(voxelize(signal.data, signal.meta, depth), depth)
    parts = [(lv, *part) for lv in range(depth) for part in coding_order(levels, lv)]
    labels = np.concatenate([masks for *_, masks in parts])
    context_in = np.concatenate([occupancy.cell_features(parents, levels[lv], lv, known)
                                 for lv, parents, known, _ in parts])
    position_in = np.concatenate([child_positions(parents, lv, depth) for lv, parents, *_ in parts])
    key = jax.random.PRNGKey(seed)
    families = {
        "context": (occupancy.ContextMLP(16, 2, key), context_in, 1e-2),
        "hashgrid": (PerChild(HashGridConfig(in_dim=4, out_dim=1, levels=8, features=2, table_size=4096,
                                             base_res=4, max_res=1 << depth, mlp_width=16).build(key)),
                     position_in, 1e-2),
        "siren": (PerChild(SirenConfig(in_dim=4, out_dim=1, width=32, depth=3).build(key)), position_in, 1e-4),
    }
    rows = []
    for name, (model, inputs, lr) in families.items():
        start = time.perf_counter()
        fitted = fit_occupancy.fit_masks(model, inputs, labels, steps=steps, lr=lr, batch_size=4096, key=key)
        logits = np.concatenate([np.asarray(fitted(jnp.asarray(inputs[i : i + 8192])))
                                 for i in range(0, len(inputs), 8192)])
        params = sum(leaf.size for leaf in jax.tree_util.tree_leaves(eqx.filter(fitted, eqx.is_inexact_array)))
        mask_bits = ideal_mask_bits(logits, labels)
        rows.append({"cloud": path, "family": name, "params": params, "mask_bits_per_point": mask_bits / len(signal.data),
                     "total_bits_per_point": (mask_bits + WEIGHT_BITS * params) / len(signal.data),
                     "seconds": time.perf_counter() - start})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clouds", nargs="+")
    parser.add_argument("--depth", type=int, default=8)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print("| cloud | family | params | mask bits/point | + weights at 8 bits | fit s |")
    print("|---|---|---|---|---|---|")
    for path in args.clouds:
        for row in compare(path, args.depth, args.steps, args.seed):
            print(f"| {row['cloud'].split('/')[-1]} | {row['family']} | {row['params']} | "
                  f"{row['mask_bits_per_point']:.3f} | {row['total_bits_per_point']:.3f} | {row['seconds']:.0f} |")


if __name__ == "__main__":
    main()

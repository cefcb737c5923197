"""Small deterministic point clouds written as real PLY files, and a fast codec configuration."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# A few hundred optimiser steps on a few hundred parents: a fit takes seconds.
FAST_POINTS = ("fit.steps=150", "fit.batch_size=512", "arch.context_width=8", "arch.colour_levels=4",
               "arch.colour_table_size=64", "arch.colour_max_res=16", "arch.colour_mlp_width=8")


def sphere_cloud(points: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Points on a unit sphere moved off the origin, with colours that vary smoothly over it."""
    rng = np.random.default_rng(seed)
    xyz = rng.normal(size=(points, 3))
    xyz /= np.linalg.norm(xyz, axis=1, keepdims=True)
    colors = np.round(127.5 + 100 * xyz).astype(np.uint8)
    return 5.0 + 2.0 * xyz, colors


def write_ply(path: Path, points: np.ndarray, colors: np.ndarray | None = None, ascii: bool = False) -> Path:
    """Write a PLY file with Open3D, as a user's tool would."""
    from inrcodec.modalities.pointcloud import open3d

    o3d = open3d()
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.asarray(points, np.float64)))
    if colors is not None:
        cloud.colors = o3d.utility.Vector3dVector(np.asarray(colors, np.float64) / 255.0)
    assert o3d.io.write_point_cloud(str(path), cloud, write_ascii=ascii)
    return path


def voxel_set(points: np.ndarray, depth: int) -> set[tuple[int, int, int]]:
    """The occupied voxels of a cloud in its bounding cube at ``depth`` bits per axis."""
    origin = points.min(axis=0)
    side = (points.max(axis=0) - origin).max()
    cells = np.clip(np.floor((points - origin) / side * (1 << depth)), 0, (1 << depth) - 1).astype(int)
    return set(map(tuple, cells))

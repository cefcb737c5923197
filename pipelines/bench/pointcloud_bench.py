"""Point-cloud benchmark runs: load clouds, code them with Draco or the INR codec, score them.

Every run yields records with one schema, whatever the codec::

    {"codec", "version", "settings", "file", "param", "bytes", "bpp", "d1_psnr", "d2_psnr",
     ["y_psnr", "rgb_psnr",] "decoded_points", "encode_s", "decode_s"}

``param`` is the swept parameter (Draco's quantization bits, the INR's octree depth); ``bpp`` =
8 * bytes / input points from the real coded size; D1/D2 PSNR follow the MPEG convention
(``inrcodec.metrics.point_cloud_metrics``), with the input's normals, estimated once per cloud
when the file has none.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from inrcodec.modalities.pointcloud import POINTCLOUD, estimate_normals
from inrcodec.signal import Signal
from pipelines.bench.report import record_head

Cloud = tuple[str, Signal]  # (file name, point cloud)
DRACO_BITS = (6, 7, 8, 9, 10, 11, 12, 13, 14)
# Draco's slowest, strongest setting: the baseline at its best rate.
DRACO_COMPRESSION_LEVEL = 10


def load_clouds(paths: Iterable[str | Path]) -> list[Cloud]:
    """Read PLY files; normals for D2 are estimated here, once, when a file has none."""
    clouds = []
    for path in map(Path, paths):
        signal = POINTCLOUD.read(path)
        if "normals" not in signal.attributes:
            signal.attributes["normals"] = estimate_normals(signal.data)
        clouds.append((path.name, signal))
    return clouds


class Draco:
    """Google Draco through DracoPy: positions (and colours) quantized to ``bits`` per axis;
    ``qualities``: the bits of the sweep."""

    name = "draco"

    def __init__(self, qualities: Sequence[int] = DRACO_BITS) -> None:
        self.qualities = tuple(qualities)

    @property
    def version(self) -> str:
        from importlib.metadata import version

        return f"DracoPy {version('DracoPy')}"

    @property
    def settings(self) -> dict[str, Any]:
        return {"compression_level": DRACO_COMPRESSION_LEVEL}

    def encode_decode(self, signal: Signal, bits: int) -> tuple[bytes, Signal, float, float]:
        import DracoPy

        colors = signal.attributes.get("colors")
        start = time.perf_counter()
        blob = DracoPy.encode(signal.data.astype(np.float32), quantization_bits=bits,
                              compression_level=DRACO_COMPRESSION_LEVEL, colors=colors)
        encode_s = time.perf_counter() - start
        start = time.perf_counter()
        mesh = DracoPy.decode(blob)
        decode_s = time.perf_counter() - start
        attributes = {} if colors is None else {"colors": np.asarray(mesh.colors, np.uint8)[:, :3]}
        decoded = Signal("pointcloud", np.asarray(mesh.points, np.float64), dict(signal.meta), attributes)
        return blob, decoded, encode_s, decode_s


POINTCLOUD_CODECS: dict[str, type[Draco]] = {Draco.name: Draco}


def run_baselines(clouds: Sequence[Cloud], codecs: Sequence[Draco]) -> list[dict[str, Any]]:
    """Code every cloud with every codec at each of its quantization settings."""
    records = []
    for codec in codecs:
        for name, signal in clouds:
            for q in codec.qualities:
                blob, decoded, encode_s, decode_s = codec.encode_decode(signal, q)
                records.append(record(codec.name, codec.version, codec.settings, name, q, signal, len(blob), decoded,
                                      encode_s, decode_s))
    return records


def octree_depths(targets: Sequence[float]) -> list[int]:
    """The rate points of the codec under test, which are octree depths."""
    if any(t != int(t) or not 1 <= t <= 16 for t in targets):
        raise ValueError(f"point-cloud rate points are octree depths 1..16, got {list(targets)}")
    return [int(t) for t in targets]


def fit_job(arg) -> dict[str, Any]:
    """One INR fit: (codec label, settings, file name, cloud, octree depth) -> record."""
    import inrcodec
    from inrcodec import api

    codec, settings, name, signal, depth = arg
    start = time.perf_counter()
    report = api.encode_report(signal, config=settings["config"], steps=settings["steps"],
                               overrides=[*settings["overrides"], f"arch.depth={int(depth)}"])
    encode_s = time.perf_counter() - start
    start = time.perf_counter()
    decoded = inrcodec.decode(report.blob)
    decode_s = time.perf_counter() - start
    return record(codec, inrcodec.__version__, settings, name, depth, signal, len(report.blob), decoded, encode_s,
                  decode_s, fit_s=report.fit_seconds)


def record(codec: str, version: str, settings: dict[str, Any], file: str, param: float, original: Signal,
           nbytes: int, decoded: Signal, encode_s: float, decode_s: float, **extra) -> dict[str, Any]:
    return {
        **record_head(codec, version, settings, file, param, nbytes),
        **POINTCLOUD.rate(nbytes, original.meta),
        **POINTCLOUD.metrics(original, decoded),
        "encode_s": encode_s,
        "decode_s": decode_s,
        **extra,
    }

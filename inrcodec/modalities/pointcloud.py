"""Point clouds: PLY files (ASCII or binary; xyz, optional RGB and normals) through Open3D.

The signal is (N, 3) float64 positions in the file's own frame, with (N, 3) uint8 colours in
``attributes["colors"]`` when the file has them. Coding is the octree codec of
:mod:`inrcodec.codecs.octree_codec`; this module holds I/O, the header and the metrics.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from inrcodec import metrics
from inrcodec.bitstream import Reader, Writer
from inrcodec.errors import FormatError, InputError, InrcodecError, OutputError
from inrcodec.files import check_readable_file
from inrcodec.modalities.base import Modality
from inrcodec.modalities.registry import register
from inrcodec.signal import Signal

MAX_POINTS = 1 << 26
# Vertex properties the codec reads; any other is dropped, and the CLI says so.
KNOWN_PROPERTIES = {"x", "y", "z", "nx", "ny", "nz", "red", "green", "blue", "alpha"}
_PLY_TYPE_BYTES = {"char": 1, "uchar": 1, "int8": 1, "uint8": 1, "short": 2, "ushort": 2, "int16": 2, "uint16": 2,
                   "int": 4, "uint": 4, "int32": 4, "uint32": 4, "float": 4, "float32": 4, "double": 8,
                   "float64": 8}
MAX_HEADER_BYTES = 1 << 16
# Point-cloud and mesh formats Open3D reads: named in the error with how to convert them.
OTHER_CLOUD_FORMATS = (".pcd", ".xyz", ".xyzn", ".xyzrgb", ".pts", ".obj", ".stl", ".off")
NORMAL_NEIGHBOURS = 12  # k of the k-NN plane fit for normals the file does not have


def open3d():
    """Import Open3D, or explain in one line what the machine is missing."""
    try:
        import open3d as o3d
    except (ImportError, OSError) as exc:
        hint = ""
        if "libusb" in str(exc):
            hint = " — install the system library libusb-1.0 (Debian/Ubuntu: apt-get install libusb-1.0-0)"
        raise InrcodecError(f"point clouds need Open3D, which failed to load ({exc}){hint}") from None
    o3d.utility.set_verbosity_level(o3d.utility.VerbosityLevel.Error)
    return o3d


class PointCloud(Modality):
    name = "pointcloud"
    wire_code = 3
    coord_dim = 3
    extensions = (".ply",)
    default_suffix = ".ply"
    rate_unit = "bpp"  # bits per input point

    def conversion_hint(self, path: Path) -> str | None:
        if path.suffix.lower() not in OTHER_CLOUD_FORMATS:
            return None
        return (f"point clouds are read from PLY — convert it first, e.g. with Open3D: "
                f"o3d.io.write_point_cloud('{path.with_suffix('.ply')}', o3d.io.read_point_cloud('{path}'))")

    def read(self, path: Path) -> Signal:
        path = check_readable_file(path)
        header = read_ply_header(path)
        o3d = open3d()
        cloud = o3d.io.read_point_cloud(str(path), format="ply")
        points = np.asarray(cloud.points, dtype=np.float64)
        if len(points) != header["vertices"]:
            raise InputError(f"{path}: read {len(points)} of the {header['vertices']} points the header declares; "
                             "the file is truncated or malformed")
        if not np.all(np.isfinite(points)):
            raise InputError(f"{path}: point coordinates contain NaN or infinite values")
        if np.all(points == points[0]):
            raise InputError(f"{path}: all {len(points)} points are identical; there is no shape to code")
        attributes = {}
        if cloud.has_colors():
            attributes["colors"] = np.clip(np.round(np.asarray(cloud.colors) * 255.0), 0, 255).astype(np.uint8)
        if cloud.has_normals():
            attributes["normals"] = np.asarray(cloud.normals, dtype=np.float64)
        origin = points.min(axis=0)
        meta = {"points": len(points), "origin": [float(v) for v in origin],
                "side": float((points.max(axis=0) - origin).max()), "colour": "colors" in attributes,
                "ignored_properties": header["ignored"], "ignored_elements": header["elements"]}
        return Signal("pointcloud", points, meta, attributes)

    def write(self, signal: Signal, path: Path) -> None:
        if Path(path).suffix.lower() != ".ply":
            raise OutputError(f"{path}: cannot write a point cloud as {Path(path).suffix or '(no extension)'}; use .ply")
        if not open3d().io.write_point_cloud(str(path), to_open3d(signal), write_ascii=False):
            raise OutputError(f"{path}: Open3D could not write the point cloud")

    def metrics(self, original: Signal, decoded: Signal) -> dict[str, float]:
        normals = original.attributes.get("normals")
        if normals is None:
            normals = estimate_normals(original.data)
        out = metrics.point_cloud_metrics(original.data, decoded.data, normals, original.attributes.get("colors"),
                                          decoded.attributes.get("colors"))
        return {**out, "decoded_points": len(decoded.data)}

    def rate(self, nbytes: int, meta: dict[str, Any]) -> dict[str, float]:
        return {"bpp": 8.0 * nbytes / meta["points"]}

    def sample_count(self, meta: dict[str, Any]) -> int:
        return meta["points"]

    def budget_bits(self, target: float, meta: dict[str, Any]) -> float:
        return target * meta["points"]

    def write_meta(self, meta: dict[str, Any], w: Writer) -> None:
        w.uvarint(meta["points"])
        for value in meta["origin"]:
            w.f64(value)
        w.f64(meta["side"])
        w.u8(1 if meta["colour"] else 0)

    def read_meta(self, r: Reader) -> dict[str, Any]:
        points = r.uvarint(limit=MAX_POINTS)
        origin = [r.f64() for _ in range(3)]
        side, colour = r.f64(), r.u8()
        if points == 0 or not np.all(np.isfinite(origin)) or not (np.isfinite(side) and side > 0) or colour > 1:
            raise FormatError(f"point-cloud header out of bounds ({points} points, origin {origin}, side {side})")
        return {"points": points, "origin": origin, "side": side, "colour": bool(colour)}


def to_open3d(signal: Signal):
    """A point-cloud Signal as an ``open3d.geometry.PointCloud`` (with its colours, if any)."""
    if signal.modality != "pointcloud":
        raise InputError(f"to_open3d needs a point cloud, got a {signal.modality} signal")
    o3d = open3d()
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.asarray(signal.data, np.float64)))
    if "colors" in signal.attributes:
        cloud.colors = o3d.utility.Vector3dVector(signal.attributes["colors"].astype(np.float64) / 255.0)
    return cloud


def read_ply_header(path: Path) -> dict[str, Any]:
    """The vertex count and ignored vertex properties, with clear errors for what is not a point cloud."""
    with open(path, "rb") as f:
        head = f.read(MAX_HEADER_BYTES)
    if not head.startswith(b"ply"):
        raise InputError(f"{path}: not a PLY file (it must start with 'ply'); convert it to PLY first")
    end = head.find(b"end_header")
    if end < 0:
        raise InputError(f"{path}: PLY header has no end_header line within {MAX_HEADER_BYTES} bytes")
    lines = head[:end].decode("ascii", errors="replace").splitlines()
    element, vertices, properties, fixed_size, instances, elements = None, None, [], 0, 0, []
    for line in lines:
        words = line.split()
        if len(words) >= 3 and words[0] == "element":
            element = words[1]
            try:
                count = int(words[2])
            except ValueError:
                raise InputError(f"{path}: bad {element} count {words[2]!r} in the PLY header") from None
            instances += count
            if element == "vertex":
                vertices = count
            elif count:
                elements.append(element)
        elif len(words) >= 3 and words[0] == "property" and element == "vertex":
            properties.append(words[-1])
            fixed_size = fixed_size + _PLY_TYPE_BYTES.get(words[1], 0) if words[1] != "list" else None
    if not vertices:
        raise InputError(f"{path}: the PLY file has no vertices (faces only, or empty); nothing to code")
    if vertices > MAX_POINTS:
        raise InputError(f"{path}: {vertices} points; at most {MAX_POINTS} are supported")
    if not {"x", "y", "z"} <= set(properties):
        raise InputError(f"{path}: PLY vertices lack x, y, z coordinates")
    binary = any(line.startswith("format binary") for line in lines)
    # Open3D fills the points a truncated file lacks with whatever memory holds: check first.
    if binary and fixed_size and path.stat().st_size < end + vertices * fixed_size:
        raise InputError(f"{path}: PLY file is truncated ({vertices} vertices declared)")
    if not binary and _data_lines(path, end) < instances:
        raise InputError(f"{path}: PLY file is truncated (the header declares {instances} lines of data)")
    return {"vertices": vertices, "ignored": [p for p in properties if p not in KNOWN_PROPERTIES],
            "elements": elements}


def _data_lines(path: Path, header_end: int) -> int:
    """Non-empty lines after the header line of an ASCII PLY file, counted in bounded memory."""
    count, last = 0, b"\n"
    with open(path, "rb") as f:
        f.seek(header_end)
        f.readline()  # the rest of the end_header line
        while chunk := f.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


def estimate_normals(points: np.ndarray) -> np.ndarray:
    """Unit normals by a k-nearest-neighbour plane fit (Open3D), for D2 when the file has none."""
    o3d = open3d()
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points))
    cloud.estimate_normals(o3d.geometry.KDTreeSearchParamKNN(NORMAL_NEIGHBOURS))
    return np.asarray(cloud.normals, dtype=np.float64)


POINTCLOUD = register(PointCloud())

"""The library API: the codec's pipeline, spelled out once.

    file --read--> Signal --modality.encode--> .inrc bytes --unpack--> modality.decode--> Signal

Every modality but point clouds encodes by fitting one INR to all its samples and decodes by
rendering it (``Modality.encode`` / ``Modality.decode``); point clouds code an octree.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np

from inrcodec import config as config_mod
from inrcodec import container, weights
from inrcodec.encoder import Progress
from inrcodec.errors import ConfigError, FormatError, OutputError
from inrcodec.files import atomic_path, check_output
from inrcodec.inr import LatentGridConfig, read_arch
from inrcodec.modalities import REGISTRY, modality_for_path, read_signal_chunk
from inrcodec.modalities.base import check_readable_file
from inrcodec.modalities.pointcloud import to_open3d  # noqa: F401  (re-exported as inrcodec.to_open3d)
from inrcodec.segments import inner_files
from inrcodec.signal import Signal

Source = str | os.PathLike | Signal

@dataclasses.dataclass
class EncodeReport:
    """An encoded file with its measured rate and distortion (measured by decoding the file)."""

    blob: bytes
    signal: Signal
    rate: dict[str, float]
    metrics: dict[str, float]
    fit_seconds: float
    attempts: int
    arch: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        return {"bytes": len(self.blob), **self.rate, **self.metrics, "fit_seconds": self.fit_seconds,
                "attempts": self.attempts, "arch": self.arch}


def load(path: str | os.PathLike) -> Signal:
    """Read a signal file; the modality is chosen by the file extension."""
    path = Path(path)
    return modality_for_path(path).read(path)


def save(signal: Signal, path: str | os.PathLike, *, force: bool = True) -> None:
    """Write a signal atomically in the format named by the path's extension (video: a path
    without one is a new folder of PNG frames)."""
    path = check_output(Path(path), force=force)
    modality = REGISTRY[signal.modality]
    if path.suffix == "" and modality.writes_folders:
        modality.write(signal, path)  # staged in a hidden folder and renamed into place
        return
    if path.suffix.lower() not in modality.extensions:
        raise OutputError(f"{path}: cannot write {signal.modality} as {path.suffix or '(no extension)'!r}; "
                          f"use one of {' '.join(modality.extensions)}")
    with atomic_path(path) as tmp:
        try:
            modality.write(signal, tmp)
        except OutputError as exc:  # name the file the user asked for, not the temporary one
            raise OutputError(str(exc).replace(str(tmp), str(path))) from None


def make_config(
    modality: str,
    *,
    config: str | os.PathLike | None = None,
    target: float | None = None,
    steps: int | None = None,
    seed: int | None = None,
    overrides: tuple[str, ...] | list[str] = (),
) -> config_mod.CodecConfig:
    """The codec configuration from defaults, a YAML preset, and explicit options."""
    extra = list(overrides)
    if target is not None:
        if not target > 0:
            raise ConfigError(f"rate target must be positive, got {target}")
        extra.append(f"rate.target={target}")
    if steps is not None:
        extra.append(f"fit.steps={steps}")
    if seed is not None:
        extra.append(f"seed={seed}")
    return config_mod.load(modality, Path(config) if config else None, extra)


def encode_report(
    source: Source,
    *,
    bpp: float | None = None,
    kbps: float | None = None,
    config: str | os.PathLike | None = None,
    steps: int | None = None,
    seed: int | None = None,
    overrides: tuple[str, ...] | list[str] = (),
    progress: Progress | None = None,
) -> EncodeReport:
    """Encode and measure: rate from the real byte count, distortion from decoding the bytes."""
    signal = source if isinstance(source, Signal) else load(source)
    target = bpp if bpp is not None else kbps
    codec_config = make_config(signal.modality, config=config, target=target, steps=steps, seed=seed,
                               overrides=overrides)
    return measure(signal, REGISTRY[signal.modality].encode(signal, codec_config, progress))


def measure(signal: Signal, encoded) -> EncodeReport:
    """The report of an ``encoder.Encoded`` file of ``signal``: decode it, measure rate and distortion."""
    modality = REGISTRY[signal.modality]
    decoded = decode(encoded.blob)
    return EncodeReport(
        blob=encoded.blob,
        signal=decoded,
        rate=modality.rate(len(encoded.blob), signal.meta),
        metrics=modality.metrics(signal, decoded),
        fit_seconds=encoded.fit_seconds,
        attempts=encoded.attempts,
        arch={"name": encoded.arch.name, **dataclasses.asdict(encoded.arch)},
    )


def encode(source: Source, **options) -> bytes:
    """Encode a file or Signal into .inrc bytes (``len(bytes) * 8`` is the rate).

    Options: ``bpp`` / ``kbps`` rate target, ``config`` YAML preset, ``steps``, ``seed``,
    ``overrides`` (``section.key=value`` strings), ``progress`` callback.
    """
    return encode_report(source, **options).blob


def _read_blob(source: bytes | str | os.PathLike) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    return check_readable_file(Path(source)).read_bytes()


@contextlib.contextmanager
def _naming(source):
    """Prefix format errors with the file's path, when the bytes came from a file."""
    try:
        yield
    except FormatError as exc:
        if isinstance(source, (str, os.PathLike)):
            raise FormatError(f"{source}: {exc}") from None
        raise


def decode(source: bytes | str | os.PathLike, *, scale: float = 1.0, fps_scale: float = 1.0) -> Signal:
    """Rebuild the signal from .inrc bytes or a path; ``scale`` renders at another resolution,
    ``fps_scale`` a video at another frame rate (2: one new frame between each two)."""
    for name, value in (("scale", scale), ("fps scale", fps_scale)):
        if not (0 < value <= 16):
            raise ConfigError(f"{name} must be in (0, 16], got {value}")
    with _naming(source):
        return _decode(_read_blob(source), scale, fps_scale)


def _decode(blob: bytes, scale: float, fps_scale: float = 1.0) -> Signal:
    parsed = container.unpack(blob)
    modality, meta = read_signal_chunk(parsed.signal)
    if parsed.segments is not None:
        return modality.join([_decode(inner, scale, fps_scale) for inner in inner_files(parsed, modality, meta)])
    arch = read_arch(parsed.model)
    modality.check_arch(arch, meta)
    return modality.decode(parsed, meta, arch, scale, fps_scale)


def decode_integers(source: bytes | str | os.PathLike) -> list[np.ndarray]:
    """The integer tensors of a file, exactly as parsed (identical on every machine)."""
    with _naming(source):
        return _decode_integers(_read_blob(source))


def _decode_integers(blob: bytes) -> list[np.ndarray]:
    parsed = container.unpack(blob)
    if parsed.segments is not None:
        modality, meta = read_signal_chunk(parsed.signal)
        return [q for inner in inner_files(parsed, modality, meta) for q in _decode_integers(inner)]
    arch = read_arch(parsed.model)
    if isinstance(arch, LatentGridConfig):
        from inrcodec.latent_codec import decode_integer_parts

        modality, meta = read_signal_chunk(parsed.signal)
        modality.check_arch(arch, meta)
        ints, _, latents = decode_integer_parts(parsed, meta, arch)
        return ints + latents
    return weights.decode_ints(arch, parsed.tensors, parsed.payload)[0]


def info(source: bytes | str | os.PathLike) -> dict[str, Any]:
    """The file's header as a JSON-ready dict: version, modality, architecture, tensors, sizes."""
    with _naming(source):
        return _info(_read_blob(source))


def _info(blob: bytes) -> dict[str, Any]:
    parsed = container.unpack(blob)
    modality, meta = read_signal_chunk(parsed.signal)
    if parsed.segments is not None:
        segments = [_info(inner) for inner in inner_files(parsed, modality, meta)]
        return {
            "format_version": "%d.%d" % parsed.version,
            "modality": modality.name,
            "signal": meta,
            "parameters": sum(s["parameters"] for s in segments),
            "segments": [{k: s[k] for k in ("signal", "architecture", "parameters", "macs_per_sample", "bytes")}
                         for s in segments],
            "bytes": {"total": len(blob), **parsed.chunk_sizes(),
                      "framing": len(blob) - sum(parsed.chunk_sizes().values())},
            "rate": modality.rate(len(blob), meta),
            "crc32": f"{int.from_bytes(blob[-4:], 'little'):08x}",
        }
    arch = read_arch(parsed.model)
    ints, codes = weights.decode_ints(arch, parsed.tensors, parsed.payload)
    paths = [jax_path for jax_path in _leaf_names(arch)]
    latents = {}
    if isinstance(arch, LatentGridConfig):
        from inrcodec.latent_codec import decode_integer_parts

        modality.check_arch(arch, meta)
        grids = decode_integer_parts(parsed, meta, arch)[2]
        latents = {"latents": {"grids": [list(g.shape) for g in grids], "count": int(sum(g.size for g in grids)),
                               "min": int(min(g.min() for g in grids)), "max": int(max(g.max() for g in grids)),
                               "step": arch.latent_step()}}
    return {
        "format_version": "%d.%d" % parsed.version,
        "modality": modality.name,
        "signal": meta,
        "architecture": {"name": arch.name, **dataclasses.asdict(arch)},
        "parameters": int(sum(q.size for q in ints)),
        "macs_per_sample": arch.macs_per_sample(),
        "tensors": [
            {"name": name, "shape": list(q.shape), "step": 2.0 ** (c / 8), "min": int(q.min()), "max": int(q.max())}
            for name, q, c in zip(paths, ints, codes)
        ],
        **latents,
        "bytes": {"total": len(blob), **parsed.chunk_sizes(), "framing": len(blob) - sum(parsed.chunk_sizes().values())},
        "rate": modality.rate(len(blob), meta),
        "crc32": f"{int.from_bytes(blob[-4:], 'little'):08x}",
    }


def _leaf_names(arch) -> list[str]:
    import jax

    flat = jax.tree_util.tree_flatten_with_path(weights.skeleton(arch))[0]
    return [jax.tree_util.keystr(path).lstrip(".") for path, _ in flat]


def write_encoded(report: EncodeReport, path: Path, *, force: bool, source: Path | None = None) -> None:
    """Write an encoded file atomically, never over the input and never over a file without force."""
    check_output(path, force=force, inputs=(source,) if source else ())
    with atomic_path(path) as tmp:
        tmp.write_bytes(report.blob)

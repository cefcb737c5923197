"""Every entropy-coded chunk is read to its exact end: data after it makes the file corrupt."""

from __future__ import annotations

from pathlib import Path

import pytest

import inrcodec
from inrcodec import container

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("name", ["image-hashgrid", "image-siren", "audio-hashgrid", "image-latentgrid",
                                  "pointcloud-colour"])
@pytest.mark.parametrize("extra", [b"\x00", b"\x01", b"\x55\x66\x77\x88"])
def test_data_after_the_weights_payload_is_refused(name, extra):
    parsed = container.unpack((GOLDEN / f"{name}.inrc").read_bytes())
    longer = container.pack(container.Container(parsed.signal, parsed.model, parsed.tensors, parsed.payload + extra,
                                                geometry=parsed.geometry, latents=parsed.latents))
    with pytest.raises(inrcodec.FormatError, match="payload holds more"):
        inrcodec.decode_integers(longer)


@pytest.mark.parametrize("name", ["image-latentgrid", "image-latentgrid-tabled"])
def test_data_after_the_latents_is_refused(name):
    parsed = container.unpack((GOLDEN / f"{name}.inrc").read_bytes())
    longer = container.pack(container.Container(parsed.signal, parsed.model, parsed.tensors, parsed.payload,
                                                latents=parsed.latents + b"\x12\x34\x56\x78" * 2))
    with pytest.raises(inrcodec.FormatError, match="latent payload"):
        inrcodec.decode_integers(longer)

"""Codecs, one per family of architectures; the file's architecture picks the codec."""

from inrcodec.codecs.base import Codec, Encoded, Progress
from inrcodec.codecs.latent import LATENT_CODEC
from inrcodec.codecs.octree_codec import OCTREE_CODEC
from inrcodec.codecs.stored import STORED_CODEC
from inrcodec.codecs.video import MOTION_VIDEO_CODEC
from inrcodec.codecs.weight_codec import WEIGHT_CODEC
from inrcodec.errors import InrcodecError
from inrcodec.modalities import Modality

CODECS: tuple[Codec, ...] = (WEIGHT_CODEC, LATENT_CODEC, MOTION_VIDEO_CODEC, OCTREE_CODEC, STORED_CODEC)
BY_ARCH: dict[str, Codec] = {name: codec for codec in CODECS for name in codec.archs}


def codec_for(arch_name: str, modality: Modality, error: type[InrcodecError]) -> Codec:
    """The codec of an architecture, or ``error`` if it does not code this modality."""
    codec = BY_ARCH[arch_name]
    if modality.name not in codec.modalities:
        usable = sorted(name for c in CODECS if modality.name in c.modalities for name in c.archs)
        raise error(f"the {arch_name} architecture cannot code {modality.name}; "
                    f"{modality.name} is coded with {' or '.join(usable)}")
    return codec


__all__ = ["BY_ARCH", "CODECS", "Codec", "Encoded", "Progress", "codec_for"]

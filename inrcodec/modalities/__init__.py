"""Modalities, each registered under a frozen wire code."""

from inrcodec.modalities.audio import AUDIO
from inrcodec.modalities.base import Modality
from inrcodec.modalities.image import IMAGE
from inrcodec.modalities.pointcloud import POINTCLOUD
from inrcodec.modalities.registry import (
    BY_WIRE_CODE,
    REGISTRY,
    modality_for_path,
    read_signal_chunk,
    write_signal_chunk,
)
from inrcodec.modalities.video import VIDEO

__all__ = [
    "AUDIO", "BY_WIRE_CODE", "IMAGE", "REGISTRY", "Modality", "modality_for_path", "POINTCLOUD",
    "read_signal_chunk", "VIDEO", "write_signal_chunk",
]

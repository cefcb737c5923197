"""INR architectures, each a final Equinox module with a frozen config and a wire code."""

from inrcodec.inr.base import BY_WIRE_CODE, REGISTRY, ArchConfig, config_from_dict, read_arch, write_arch
from inrcodec.inr.hashgrid import HashGrid, HashGridConfig
from inrcodec.inr.latentgrid import LatentGridConfig, LatentGridNet, LatentVideoConfig
from inrcodec.inr.motionvideo import MotionVideoConfig
from inrcodec.inr.pointfields import PointFields, PointFieldsConfig
from inrcodec.inr.siren import Siren, SirenConfig
from inrcodec.inr.stored import StoredConfig

__all__ = [
    "ArchConfig", "BY_WIRE_CODE", "REGISTRY", "HashGrid", "HashGridConfig", "LatentGridConfig", "LatentGridNet", "LatentVideoConfig", "MotionVideoConfig", "PointFields", "PointFieldsConfig", "Siren", "SirenConfig", "StoredConfig",
    "config_from_dict", "read_arch", "write_arch",
]

"""The frame-by-frame video codec's configuration: motion-compensated P frames whose residual is
a 2-D latent grid with a synthesis and an ARM shared by every P frame of the clip; I frames are
images of the latent-grid codec (each file names its own networks)."""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

from inrcodec.inr.base import dense_layer_macs, register
from inrcodec.inr.latentgrid import UPSAMPLE_TAPS, LatentGridConfig

MOTION_MACS = 2 * 4 + 4 * 3  # per pixel: bilinear flow from the vectors, bilinear sample of 3 channels


@register
@dataclasses.dataclass(frozen=True)
class MotionVideoConfig(LatentGridConfig):
    """The residual networks' sizes (the latent-grid fields); each P frame names its own
    motion block size."""

    name = "motionvideo"
    wire_code = 7
    coord_dims: ClassVar[int] = 3  # a video; the residual grids are 2-D, one set per frame
    codes: ClassVar[str] = "videos only, frame by frame"
    in_dim: int = 3

    def signal_shape(self, meta) -> tuple[int, ...]:
        """One frame's grid of pixels: the residual latents are per frame."""
        return meta["height"], meta["width"]

    def latents_per_pixel(self) -> float:
        return sum(2.0 ** (-2 * level) for level in range(self.levels))

    def macs_per_sample(self) -> int:
        """Per pixel of a P frame: the residual's ARM, upsampling and synthesis, and the warp."""
        arm = self.latents_per_pixel() * (dense_layer_macs(self.arm_sizes()) + 2 * self.context_size())
        upsample = UPSAMPLE_TAPS**2 * (self.levels - 1)
        synth = dense_layer_macs(self.synth_sizes())
        return math.ceil(arm + upsample + synth + self.convs * 9 * self.out_dim**2 + MOTION_MACS)

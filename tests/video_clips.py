"""Tiny deterministic video clips and a fast codec configuration for the video tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from inrcodec.signal import Signal

# Options that make a fit of a few 16x12 frames take seconds: the default frame-by-frame codec,
FAST_VIDEO = ("video.intra_steps=60", "video.first_residual_steps=40", "video.residual_steps=20",
              "video.motion_refine_steps=10", "video.motion_search=2", "video.motion_block_min=8",
              "video.motion_block_max=8", "fit.steps_per_call=20", "arch.levels=3")
# and the whole-clip hash grid (configs/video/hashgrid-cpu.yaml), which renders in-between frames.
WHOLE_CLIP_VIDEO = ("arch.name=hashgrid", "arch.features=2", "arch.levels=4", "arch.table_size=256", "arch.mlp_width=16",
                    "fit.steps=300", "fit.steps_per_call=100", "fit.batch_size=1024", "fit.lr=0.03")


def moving_clip(frames: int = 6, height: int = 12, width: int = 16, fps: tuple[int, int] = (30000, 1001)) -> Signal:
    """A smooth colour gradient drifting one pixel per frame, 8-bit RGB."""
    t, y, x = np.meshgrid(np.arange(frames), np.arange(height), np.arange(width), indexing="ij")
    rgb = np.stack([(x + t) * 200 / (width + frames), y * 200 / height, (x + y + 2 * t) * 100 / (width + height + 2 * frames)],
                   axis=-1).astype(np.uint8)
    meta = {"height": height, "width": width, "channels": 3, "frames": frames, "fps_num": fps[0], "fps_den": fps[1]}
    return Signal("video", rgb, meta)


def write_clip(path: Path, signal: Signal | None = None) -> Path:
    """Write a clip with inrcodec's own writer (.mkv: lossless FFV1, .y4m: raw YUV 4:4:4)."""
    from inrcodec import api

    api.save(signal or moving_clip(), path)
    return path


def y4m_header(width: int, height: int, fps: str = "25:1") -> bytes:
    return f"YUV4MPEG2 W{width} H{height} F{fps} Ip A1:1 C444\n".encode()

"""Write the golden files that are missing (explicit opt-in only).

    INRCODEC_REGENERATE_GOLDEN=1 python -m tests.golden.make_golden

For each case without a file yet: one small .inrc made by the current format version, its
decoded signal (PNG or WAV) and an entry in GOLDEN.json with the SHA-256 of the decoded integer
tensors and of the rendered output. Released files are never rewritten: old files must keep
decoding, so a format change adds cases instead of replacing them.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "GOLDEN.json"
IMAGE_CASES = {
    "image-hashgrid": ("arch.name=hashgrid", "fit.steps=150", "fit.lr=0.05", "arch.levels=4", "arch.table_size=64"),
    "image-siren": ("arch.name=siren", "arch.width=16", "arch.depth=2", "fit.lr=0.001", "fit.steps=100",
                    "rate.target=6", "rate.bits_per_param=6"),
    # Format 1.3: latent grids with the integer entropy model.
    "image-latentgrid": ("arch.name=latentgrid", "arch.levels=3", "arch.synth_width=8", "arch.arm_width=6",
                         "fit.steps=200", "fit.steps_per_call=40", "fit.lr=0.02", "rate.target=8"),
    # Format 1.4: tensor entropy models that name their decay by its index in a table.
    "image-latentgrid-tabled": ("arch.name=latentgrid", "arch.levels=3", "arch.synth_width=8", "arch.arm_width=6",
                                "fit.steps=200", "fit.steps_per_call=40", "fit.lr=0.02", "rate.target=8"),
}
AUDIO_CASES = {
    "audio-hashgrid": ("fit.steps=100", "fit.steps_per_call=50", "arch.levels=4", "arch.max_res=256",
                       "rate.target=64"),
    # Format 1.6: the band above 2 kHz coded as noise.
    "audio-noise": ("fit.steps=100", "fit.steps_per_call=50", "arch.levels=4", "arch.max_res=256",
                    "rate.target=32", "audio.cutoff_hz=2000"),
    # Format 1.7: band gains on the band below the noise.
    "audio-gains": ("fit.steps=100", "fit.steps_per_call=50", "arch.levels=4", "arch.max_res=256",
                    "rate.target=32", "audio.cutoff_hz=2000", "audio.gain_step_db=3"),
}
# Format 1.8: a stereo clip's noise levels, the second channel's from the first's.
STEREO_AUDIO_CASES = {
    "audio-stereo-noise": ("fit.steps=100", "fit.steps_per_call=50", "arch.levels=4", "arch.max_res=256",
                           "rate.target=48", "audio.cutoff_hz=2000"),
}
POINTCLOUD_CASES = {
    "pointcloud-colour": ("fit.steps=150", "fit.batch_size=512", "arch.depth=5", "arch.context_width=8",
                          "arch.colour_levels=4", "arch.colour_table_size=64", "arch.colour_max_res=16",
                          "arch.colour_mlp_width=8"),
}
# A clip coded in two segments (format 1.2), two frames each.
VIDEO_CASES = {
    "video-segments": ("arch.name=hashgrid", "arch.features=2", "arch.base_res=8", "fit.steps=150",
                       "fit.steps_per_call=50", "fit.batch_size=1024", "arch.levels=4", "arch.table_size=128",
                       "arch.mlp_width=8", "fit.max_samples=512", "rate.target=6"),
    # Format 1.5: frame by frame, an I frame then three P frames.
    "video-motion": ("arch.levels=3", "video.intra_steps=60", "video.first_residual_steps=40",
                     "video.residual_steps=20", "video.motion_refine_steps=10", "video.motion_search=2",
                     "video.motion_block_min=8", "video.motion_block_max=8", "fit.steps_per_call=20"),
}
SUFFIX = {"image": ".png", "audio": ".wav", "pointcloud": ".ply", "video": ".mkv"}


def integer_digest(blob: bytes) -> str:
    """SHA-256 of a file's decoded integer tensors (little-endian int64, in order)."""
    import inrcodec

    digest = hashlib.sha256()
    for tensor in inrcodec.decode_integers(blob):
        digest.update(np.ascontiguousarray(tensor, dtype="<i8").tobytes())
    return digest.hexdigest()


def output_digest(blob: bytes) -> str:
    """SHA-256 of the rendered samples; may differ across machines by float rounding."""
    import inrcodec

    return hashlib.sha256(np.ascontiguousarray(inrcodec.decode(blob).data).tobytes()).hexdigest()


def golden_signals():
    """The source signal of every case: a 24x24 crop of the sample photo, a quarter-second tone
    (mono, and stereo with a softer second channel), 300 coloured points on a sphere, four 12x16
    frames of a drifting gradient."""
    import tempfile

    from inrcodec.modalities.pointcloud import POINTCLOUD
    from inrcodec.signal import Signal
    from tests.audio_clips import tone_clip
    from tests.conftest import crop_of_sample
    from tests.point_clouds import sphere_cloud, write_ply
    from tests.video_clips import moving_clip

    image = Signal("image", crop_of_sample(24), {"height": 24, "width": 24, "channels": 3, "bits": 8})
    clip = tone_clip(0.25, 8000)
    audio = Signal("audio", clip, {"sample_rate": 8000, "channels": 1, "frames": clip.shape[0], "subtype": "PCM_16"})
    pair = np.concatenate([clip, 0.7 * clip], axis=1)
    stereo = Signal("audio", pair, {"sample_rate": 8000, "channels": 2, "frames": clip.shape[0], "subtype": "PCM_16"})
    with tempfile.TemporaryDirectory() as folder:
        cloud = POINTCLOUD.read(write_ply(Path(folder) / "sphere.ply", *sphere_cloud(300)))
    cases = [(image, IMAGE_CASES), (audio, AUDIO_CASES), (stereo, STEREO_AUDIO_CASES), (cloud, POINTCLOUD_CASES), (moving_clip(frames=4), VIDEO_CASES)]
    return {name: (signal, o) for signal, table in cases for name, o in table.items()}


def main() -> None:
    if os.environ.get("INRCODEC_REGENERATE_GOLDEN") != "1":
        sys.exit("refusing to write golden files: set INRCODEC_REGENERATE_GOLDEN=1")
    import inrcodec

    manifest = json.loads(MANIFEST.read_text()) if MANIFEST.exists() else {}
    for name, (signal, overrides) in golden_signals().items():
        if name in manifest:
            continue
        blob = inrcodec.encode(signal, seed=0, overrides=overrides)
        (HERE / f"{name}.inrc").write_bytes(blob)
        inrcodec.save(inrcodec.decode(blob), HERE / f"{name}{SUFFIX[signal.modality]}", force=True)
        manifest[name] = {"modality": signal.modality, "format_version": inrcodec.info(blob)["format_version"],
                          "bytes": len(blob), "integers_sha256": integer_digest(blob),
                          "output_sha256": output_digest(blob)}
        print(f"wrote {name}: {len(blob)} bytes")
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()

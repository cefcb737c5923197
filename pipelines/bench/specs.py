"""What differs between the modalities' benchmarks; ``run.run`` does the rest the same way."""

from __future__ import annotations

from inrcodec.modalities import AUDIO as AUDIO_MODALITY
from inrcodec.modalities import POINTCLOUD as POINTCLOUD_MODALITY
from inrcodec.modalities import VIDEO as VIDEO_MODALITY
from pipelines.bench import audio_bench, image_bench, pointcloud_bench, video_bench
from pipelines.bench.audio_codecs import AUDIO_CODECS
from pipelines.bench.image_codecs import IMAGE_CODECS
from pipelines.bench.run import BenchSpec
from pipelines.bench.video_codecs import VIDEO_CODECS

IMAGE = BenchSpec(
    name="image",
    files="images",
    noun="image",
    suffixes=(".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".ppm"),
    not_a=None,
    load=image_bench.load_image_crops,
    codecs=IMAGE_CODECS,
    run_baselines=image_bench.run_baselines,
    fit_job=image_bench.fit_job,
    targets=(0.25, 0.5, 1.0, 2.0),
    options={"crop": 256},  # centre crop side; None keeps whole images
    title=lambda crop: f", {crop}x{crop} crops" if crop else "",
)

AUDIO = BenchSpec(
    name="audio",
    files="audio files",
    noun="clip",
    suffixes=AUDIO_MODALITY.extensions,
    not_a="an audio file",
    load=audio_bench.load_clips,
    codecs=AUDIO_CODECS,
    run_baselines=audio_bench.run_baselines,
    fit_job=audio_bench.fit_job,
    targets=(8.0, 16.0, 32.0, 64.0),
    rate_key="kbps",
    dist_keys=("mos", "psnr", "snr"),
    # seconds: centre excerpt length (None keeps whole clips); speech: comma-separated file name
    # patterns scored in ViSQOL's speech mode (None: clips sampled at 16 kHz or less)
    options={"seconds": None, "speech": None},
    title=lambda seconds, speech: f", {seconds:g} s excerpts" if seconds else "",
    note=audio_bench.mos_at_rates,
)

POINTCLOUD = BenchSpec(
    name="pointcloud",
    files="PLY files",
    noun="cloud",
    suffixes=POINTCLOUD_MODALITY.extensions,
    not_a="a PLY file",
    load=pointcloud_bench.load_clouds,
    codecs=pointcloud_bench.POINTCLOUD_CODECS,
    run_baselines=pointcloud_bench.run_baselines,
    fit_job=pointcloud_bench.fit_job,
    targets=(6, 7, 8, 9, 10),
    dist_keys=("d1_psnr", "d2_psnr"),
    target_key="arch.depth",
    rate_points=pointcloud_bench.octree_depths,
    log_x=False,
)

VIDEO = BenchSpec(
    name="video",
    files="video files",
    noun="clip",
    suffixes=VIDEO_MODALITY.extensions,
    not_a="a video file",
    load=video_bench.load_clips,
    codecs=VIDEO_CODECS,
    run_baselines=video_bench.run_baselines,
    fit_job=video_bench.fit_job,
    targets=(0.02, 0.04, 0.08, 0.16),
    note=video_bench.speed_line,
)

SPECS = {spec.name: spec for spec in (IMAGE, AUDIO, POINTCLOUD, VIDEO)}

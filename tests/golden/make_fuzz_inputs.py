"""Write the fuzzing inputs that are not released golden files (explicit opt-in only).

    INRCODEC_REGENERATE_GOLDEN=1 python -m tests.golden.make_fuzz_inputs

The released golden files (``make_golden.py``, listed in GOLDEN.json) already give the fuzzer
the hash-grid and SIREN images, hash-grid audio, the latent-grid image and the octree point
cloud with colour. This adds architectures that have no released file yet, made from the
preset users run with tiny fits: ``video-latentvideo.inrc``, the latentvideo preset
(configs/video/latentvideo-cpu.yaml) on four 12x16 frames. These files only need to be valid;
their content is not compared (tests/test_hostile_files.py mutates every .inrc here).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIGS = HERE.parents[1] / "configs"
FUZZ_INPUTS = {
    "video-latentvideo": (CONFIGS / "video" / "latentvideo-cpu.yaml",
                          ("fit.steps=40", "fit.steps_per_call=20")),
}


def main() -> None:
    if os.environ.get("INRCODEC_REGENERATE_GOLDEN") != "1":
        sys.exit("refusing to write fuzzing inputs: set INRCODEC_REGENERATE_GOLDEN=1")
    import inrcodec
    from tests.video_clips import moving_clip

    for name, (config, overrides) in FUZZ_INPUTS.items():
        path = HERE / f"{name}.inrc"
        if path.exists():
            continue
        blob = inrcodec.encode(moving_clip(frames=4), config=config, seed=0, overrides=overrides)
        path.write_bytes(blob)
        print(f"wrote {name}: {len(blob)} bytes")


if __name__ == "__main__":
    main()

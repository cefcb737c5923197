"""Regenerate the golden files of the current format version (explicit opt-in only).

    INRCODEC_REGENERATE_GOLDEN=1 python -m tests.golden.make_golden

Writes one small .inrc per architecture, its decoded image, and GOLDEN.json with the SHA-256
of the decoded integer tensors. Old golden files must keep decoding: add new ones for a new
format version instead of overwriting released ones.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CASES = {
    "image-hashgrid": ("fit.steps=150", "fit.lr=0.05", "arch.levels=4", "arch.table_size=64"),
    "image-siren": ("arch.name=siren", "arch.width=16", "arch.depth=2", "fit.lr=0.001", "fit.steps=100",
                    "rate.target=6", "rate.bits_per_param=6"),
}


def integer_digest(blob: bytes) -> str:
    import inrcodec

    digest = hashlib.sha256()
    for tensor in inrcodec.decode_integers(blob):
        digest.update(np.ascontiguousarray(tensor, dtype="<i8").tobytes())
    return digest.hexdigest()


def main() -> None:
    if os.environ.get("INRCODEC_REGENERATE_GOLDEN") != "1":
        sys.exit("refusing to overwrite golden files: set INRCODEC_REGENERATE_GOLDEN=1")
    import inrcodec
    from inrcodec.signal import Signal
    from tests.conftest import crop_of_sample

    signal = Signal("image", crop_of_sample(24), {"height": 24, "width": 24, "channels": 3, "bits": 8})
    manifest = {}
    for name, overrides in CASES.items():
        blob = inrcodec.encode(signal, seed=0, overrides=overrides)
        (HERE / f"{name}.inrc").write_bytes(blob)
        inrcodec.save(inrcodec.decode(blob), HERE / f"{name}.png")
        manifest[name] = {"format_version": inrcodec.info(blob)["format_version"], "bytes": len(blob),
                          "integers_sha256": integer_digest(blob)}
    (HERE / "GOLDEN.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()

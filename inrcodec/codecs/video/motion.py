"""Motion of a P frame: one vector per block, in quarter pixels, and the warp it drives.

The vectors sit at block centres; the decoder interpolates them bilinearly into a dense flow
(a smooth field, no block edges) and samples the reference frame along it with a cubic kernel. The
encoder starts from full-search block matching on luma and refines the vectors by gradient
descent on the warped frame's error, then rounds them to quarter pixels.

Each frame chooses its block size (a power of two, ``BLOCK_LOG2``), the first byte of its
motion chunk. Vectors are coded as differences from a prediction (the median of the left, upper and
upper-right decoded vectors, as H.264 does), with one discrete Laplace model per frame whose
integer parameters are in the file, so parsing never depends on pixels.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from inrcodec import entropy
from inrcodec.bitstream import Reader, Writer
from inrcodec.errors import FormatError

QUARTER = 4  # vector units per pixel
BLOCK_LOG2 = range(2, 8)  # blocks of 4..128 pixels
MAX_VECTOR = 1 << 12  # |component| in quarter pixels (1024 pixels) the format allows
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def grid_shape(height: int, width: int, block: int) -> tuple[int, int]:
    """Vectors per column and per row for a frame of ``height`` x ``width`` pixels."""
    return -(-height // block), -(-width // block)


def dense_flow(vectors: jax.Array, height: int, width: int, block: int) -> jax.Array:
    """(rows, cols, 2) vectors in pixels at block centres -> (height, width, 2) flow,
    interpolated bilinearly between centres and held constant beyond the outer ones."""
    rows, cols = vectors.shape[:2]
    full = jax.image.resize(vectors, (rows * block, cols * block, 2), "linear", antialias=False)
    return full[:height, :width]


def warp(reference: jax.Array, flow: jax.Array) -> jax.Array:
    """Sample (H, W, C) ``reference`` at each pixel plus its (dy, dx) ``flow`` with the cubic
    convolution kernel (Keys, a = -1/2), edges replicated."""
    height, width = reference.shape[:2]
    y = jnp.arange(height, dtype=jnp.float32)[:, None] + flow[..., 0]
    x = jnp.arange(width, dtype=jnp.float32)[None, :] + flow[..., 1]
    y0, x0 = jnp.floor(y), jnp.floor(x)
    wy, wx = _cubic_weights(y - y0), _cubic_weights(x - x0)  # (H, W, 4) each
    taps = jnp.arange(-1, 3)
    rows = jnp.clip(y0.astype(jnp.int32)[..., None] + taps, 0, height - 1)  # (H, W, 4)
    cols = jnp.clip(x0.astype(jnp.int32)[..., None] + taps, 0, width - 1)
    patch = reference[rows[..., :, None], cols[..., None, :]]  # (H, W, 4, 4, C)
    return jnp.einsum("hwi,hwj,hwijc->hwc", wy, wx, patch)


def _cubic_weights(t: jax.Array) -> jax.Array:
    """Keys' cubic convolution weights (a = -1/2) of the taps at -1, 0, 1, 2 for a fraction t."""
    t2, t3 = t * t, t * t * t
    return jnp.stack([-0.5 * t3 + t2 - 0.5 * t, 1.5 * t3 - 2.5 * t2 + 1.0, -1.5 * t3 + 2.0 * t2 + 0.5 * t,
                      0.5 * t3 - 0.5 * t2], axis=-1)


@functools.partial(jax.jit, static_argnums=(2,))
def predict(reference: jax.Array, vectors: jax.Array, block: int) -> jax.Array:
    """The motion-compensated prediction of a frame from integer quarter-pixel ``vectors``."""
    height, width = reference.shape[:2]
    return warp(reference, dense_flow(vectors.astype(jnp.float32) / QUARTER, height, width, block))


def block_match(reference: np.ndarray, target: np.ndarray, block: int, search: int) -> np.ndarray:
    """Full-search integer block matching on luma: (rows, cols, 2) vectors in pixels that
    minimise each block's sum of absolute differences, ties to the shortest vector."""
    ref = reference.astype(np.float32) @ LUMA
    cur = target.astype(np.float32) @ LUMA
    height, width = cur.shape
    rows, cols = grid_shape(height, width, block)
    pad_h, pad_w = rows * block - height, cols * block - width
    cur = np.pad(cur, ((0, pad_h), (0, pad_w)), mode="edge")
    padded = np.pad(ref, ((search, search + pad_h), (search, search + pad_w)), mode="edge")
    best = np.full((rows, cols), np.inf, np.float32)
    vectors = np.zeros((rows, cols, 2), np.int64)
    candidates = sorted(((dy, dx) for dy in range(-search, search + 1) for dx in range(-search, search + 1)),
                        key=lambda v: abs(v[0]) + abs(v[1]))
    for dy, dx in candidates:
        shifted = padded[search + dy : search + dy + rows * block, search + dx : search + dx + cols * block]
        sad = np.abs(shifted - cur).reshape(rows, block, cols, block).sum(axis=(1, 3))
        # a longer vector must win by a margin: flat blocks keep the zero vector (cheap to code)
        sad = sad + 0.5 * block * (abs(dy) + abs(dx))
        better = sad < best
        best = np.where(better, sad, best)
        vectors[better] = (dy, dx)
    return vectors


def refine(reference: np.ndarray, target: np.ndarray, vectors: np.ndarray, block: int, steps: int,
           smoothness: float) -> np.ndarray:
    """Sub-pixel vectors: gradient descent from integer ``vectors`` (pixels) on the warped
    frame's squared error plus ``smoothness`` times the squared differences between
    neighbouring vectors; returns integer quarter-pixel vectors."""
    ref = jnp.asarray(reference, jnp.float32) / 255.0
    cur = jnp.asarray(target, jnp.float32) / 255.0
    v = jnp.asarray(vectors, jnp.float32)
    if steps > 0:
        v = _refine(ref, cur, v, block, steps, smoothness)
    return np.clip(np.round(np.asarray(v) * QUARTER), -MAX_VECTOR, MAX_VECTOR).astype(np.int64)


_REFINE_OPT = optax.adam(0.03)


@functools.partial(jax.jit, static_argnums=(3, 4))
def _refine(ref, cur, v, block: int, steps: int, smoothness):
    height, width = cur.shape[:2]

    def loss(vec):
        error = jnp.mean((warp(ref, dense_flow(vec, height, width, block)) - cur) ** 2)
        rough = jnp.mean(jnp.diff(vec, axis=0) ** 2) + jnp.mean(jnp.diff(vec, axis=1) ** 2) if vec.size > 2 else 0.0
        return error + smoothness * rough

    def step(carry, _):
        vec, state = carry
        grads = jax.grad(loss)(vec)
        updates, state = _REFINE_OPT.update(grads, state, vec)
        return (optax.apply_updates(vec, updates), state), None

    (v, _), _ = jax.lax.scan(step, (v, _REFINE_OPT.init(v)), None, length=steps)
    return v


def _median_prediction(vectors: np.ndarray, r: int, c: int) -> np.ndarray:
    rows, cols = vectors.shape[:2]
    left = vectors[r, c - 1] if c > 0 else None
    up = vectors[r - 1, c] if r > 0 else None
    up_right = vectors[r - 1, c + 1] if r > 0 and c + 1 < cols else (vectors[r - 1, c - 1] if r > 0 and c > 0 else None)
    known = [v for v in (left, up, up_right) if v is not None]
    if not known:
        return np.zeros(2, np.int64)
    if len(known) < 3:
        return known[0]
    return np.median(np.stack(known), axis=0).astype(np.int64)


def differences(vectors: np.ndarray) -> np.ndarray:
    """Vectors -> their differences from the median prediction, in raster order."""
    out = np.empty_like(vectors)
    for r in range(vectors.shape[0]):
        for c in range(vectors.shape[1]):
            out[r, c] = vectors[r, c] - _median_prediction(vectors, r, c)
    return out


def from_differences(diffs: np.ndarray) -> np.ndarray:
    """Inverse of :func:`differences`."""
    out = np.zeros_like(diffs)
    for r in range(diffs.shape[0]):
        for c in range(diffs.shape[1]):
            out[r, c] = diffs[r, c] + _median_prediction(out, r, c)
    if np.abs(out).max(initial=0) > MAX_VECTOR:
        raise FormatError("motion vector out of range; the file is corrupt")
    return out


def encode_vectors(vectors: np.ndarray, block: int) -> bytes:
    """The motion chunk of a frame: its block size, the differences' model, then the
    range-coded differences."""
    diffs = differences(vectors).reshape(-1)
    model, _ = entropy.fit_model(diffs)
    w = Writer()
    w.u8(block.bit_length() - 1)
    model.write(w)
    return w.getvalue() + entropy.encode([diffs], [model])


def decode_vectors(data: bytes, height: int, width: int) -> tuple[np.ndarray, int]:
    """Inverse of :func:`encode_vectors` for a frame of ``height`` x ``width`` pixels: the
    vectors and their block size."""
    r = Reader(data, what="motion chunk")
    log2 = r.u8()
    if log2 not in BLOCK_LOG2:
        raise FormatError(f"motion block of 2^{log2} pixels out of range")
    block = 1 << log2
    rows, cols = grid_shape(height, width, block)
    model = entropy.TensorModel.read(r)
    if model.kind != entropy.CONSTANT and max(model.below, model.above) > 2 * MAX_VECTOR:
        raise FormatError("motion model out of range")
    (diffs,) = entropy.decode(r.raw(r.remaining()), [rows * cols * 2], [model])
    return from_differences(diffs.reshape(rows, cols, 2)), block

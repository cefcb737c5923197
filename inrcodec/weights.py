"""Network parameters <-> the tensor table and payload chunks of a .inrc file.

The decoder rebuilds the model skeleton from the architecture config alone
(``eqx.filter_eval_shape``: shapes only, no random init) and fills its leaves in order.
"""

from __future__ import annotations

from collections.abc import Sequence

import equinox as eqx
import jax
import numpy as np

from inrcodec import entropy, quantize
from inrcodec.bitstream import Reader, Writer
from inrcodec.errors import FormatError
from inrcodec.inr import ArchConfig

MAX_PARAMS = 1 << 26
GRID_FIELDS = ("tables",)


def skeleton(config: ArchConfig):
    """The model's structure with ShapeDtypeStruct leaves."""
    return eqx.filter_eval_shape(config.build, jax.random.PRNGKey(0))


def param_count(config: ArchConfig) -> int:
    return int(sum(np.prod(leaf.shape) for leaf in jax.tree_util.tree_leaves(skeleton(config))))


def tensor_count(config: ArchConfig) -> int:
    return len(jax.tree_util.tree_leaves(skeleton(config)))


def leaf_names(config: ArchConfig) -> list[str]:
    """Each tensor's path in the model, in wire order (``mlp.layers[0].weight``)."""
    flat = jax.tree_util.tree_flatten_with_path(skeleton(config))[0]
    return [jax.tree_util.keystr(path).lstrip(".") for path, _ in flat]


def leaves(model) -> list[np.ndarray]:
    return [np.asarray(leaf) for leaf in jax.tree_util.tree_leaves(model)]


def leaf_groups(model) -> list[str]:
    """"grid" for feature tables (coarse steps pay off), "mlp" for network weights."""
    paths = jax.tree_util.tree_flatten_with_path(model)[0]
    return ["grid" if any(getattr(p, "name", None) in GRID_FIELDS for p in path) else "mlp" for path, _ in paths]


def with_leaves(model, new_leaves: Sequence[np.ndarray]):
    treedef = jax.tree_util.tree_structure(model)
    return jax.tree_util.tree_unflatten(treedef, [jax.numpy.asarray(x) for x in new_leaves])


def encode(model, codes: Sequence[int]) -> tuple[bytes, bytes, list[np.ndarray]]:
    """Quantize every leaf with its step code and entropy-code it.

    Returns the tensor-table chunk, the payload chunk and the integer tensors.
    """
    ints = [quantize.quantize(leaf, code) for leaf, code in zip(leaves(model), codes)]
    models = [entropy.fit_model(q)[0] for q in ints]
    w = Writer()
    w.uvarint(len(ints))
    for code, tensor_model in zip(codes, models):
        w.svarint(code)
        tensor_model.write(w)
    return w.getvalue(), entropy.encode(ints, models), ints


def decode_ints(config: ArchConfig, table: bytes, payload: bytes) -> tuple[list[np.ndarray], list[int]]:
    """Integer tensors and step codes of a file, checked against the architecture's shapes."""
    shapes = [leaf.shape for leaf in jax.tree_util.tree_leaves(skeleton(config))]
    sizes = [int(np.prod(s)) for s in shapes]
    if sum(sizes) > MAX_PARAMS:
        raise FormatError(f"model claims {sum(sizes)} parameters, above the limit of {MAX_PARAMS}")
    r = Reader(table, what="tensor table")
    count = r.uvarint(limit=len(shapes))
    if count != len(shapes):
        raise FormatError(f"tensor table lists {count} tensors, the architecture has {len(shapes)}")
    codes, models = [], []
    for _ in range(count):
        codes.append(r.svarint(limit=1 << 12))
        models.append(entropy.TensorModel.read(r))
        if not quantize.MIN_CODE <= codes[-1] <= quantize.MAX_CODE:
            raise FormatError(f"quantization step code {codes[-1]} out of range")
    r.expect_end()
    ints = entropy.decode(payload, sizes, models)
    return [q.reshape(s) for q, s in zip(ints, shapes)], codes


def decode(config: ArchConfig, table: bytes, payload: bytes):
    """Rebuild the dequantized model from its chunks."""
    return from_ints(config, *decode_ints(config, table, payload))


def from_ints(config: ArchConfig, ints: Sequence[np.ndarray], codes: Sequence[int]):
    """The dequantized model from integer tensors and their step codes."""
    return with_leaves(skeleton(config), [quantize.dequantize(q, c) for q, c in zip(ints, codes)])


def wire_order(config: ArchConfig) -> list[str]:
    """The tensors of an architecture in the order its files hold them, written out per
    architecture: this is the format (docs/format.md, "Tensor order"). The codec walks the
    Equinox modules' leaves (:func:`leaf_names`); tests/test_wire_order.py checks that they give
    this list, so reordering a module's fields cannot silently change the bytes of files."""
    if config.name == "siren":
        return _indexed("weights", config.depth + 1) + _indexed("biases", config.depth + 1)
    if config.name == "hashgrid":
        return _hash_grid_order(config)
    if config.name in ("latentgrid", "latentvideo", "motionvideo"):
        arm, synth = config.arm_depth + 1, config.synth_depth + 1
        return (_indexed("arm_weights", arm) + _indexed("arm_biases", arm) + ["arm_linear"]
                + _indexed("synth_weights", synth) + _indexed("synth_biases", synth)
                + _indexed("conv_weights", config.convs) + _indexed("conv_biases", config.convs))
    if config.name == "pointfields":
        context = config.context_depth + 1
        order = _indexed("context.weights", context) + _indexed("context.biases", context)
        return order + (["colour." + n for n in _hash_grid_order(config.colour_config())] if config.out_dim else [])
    if config.name == "stored":
        return []
    raise ValueError(f"no wire order written down for architecture {config.name!r}")


def _hash_grid_order(config) -> list[str]:
    layers = config.mlp_depth + 1
    return _indexed("tables", config.levels) + _indexed("weights", layers) + _indexed("biases", layers)


def _indexed(name: str, count: int) -> list[str]:
    return [f"{name}[{i}]" for i in range(count)]

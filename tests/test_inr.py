import jax
import jax.numpy as jnp
import numpy as np
import pytest

from inrcodec import weights
from inrcodec.errors import FormatError
from inrcodec.inr import HashGridConfig, SirenConfig, read_arch, write_arch
from inrcodec.inr.hashgrid import level_resolutions


@pytest.mark.parametrize("in_dim", [1, 2, 3])
@pytest.mark.parametrize("config_cls", [HashGridConfig, SirenConfig])
def test_architectures_map_any_input_dimension_to_outputs(config_cls, in_dim):
    extra = {"max_res": 32, "levels": 4, "table_size": 256} if config_cls is HashGridConfig else {"width": 16, "depth": 2}
    config = config_cls(in_dim=in_dim, out_dim=2, **extra)
    model = config.build(jax.random.PRNGKey(0))
    out = model(jax.random.uniform(jax.random.PRNGKey(1), (5, in_dim), minval=-1, maxval=1))
    assert out.shape == (5, 2) and bool(jnp.all(jnp.isfinite(out)))
    assert config.param_count() == weights.param_count(config)


def test_level_resolutions_are_an_integer_geometric_ladder():
    levels = level_resolutions(8, 256, 6)
    assert levels[0] == 8 and levels[-1] == 256
    assert all(b > a for a, b in zip(levels, levels[1:]))
    assert level_resolutions(16, 16, 1) == (16,)


def test_resized_gives_the_largest_config_within_the_budget():
    config = HashGridConfig(max_res=256)
    for budget in (3000, 20000, 60000):
        sized = config.resized(budget)
        assert sized.param_count() <= budget
        assert sized.replace(table_size=sized.table_size + 1).param_count() > budget


def test_architecture_header_round_trip_and_unknown_code():
    config = HashGridConfig(levels=5, max_res=64, mlp_width=8)
    assert read_arch(write_arch(config)) == config
    with pytest.raises(FormatError, match="unknown architecture"):
        read_arch(bytes([200]) + write_arch(config)[1:])
    with pytest.raises(FormatError, match="out of bounds"):
        read_arch(write_arch(config.replace(levels=99)))  # a header no encoder writes


def test_skeleton_needs_no_random_init_and_matches_the_built_model():
    config = SirenConfig(width=8, depth=2)
    built = [leaf.shape for leaf in jax.tree_util.tree_leaves(config.build(jax.random.PRNGKey(0)))]
    assert [leaf.shape for leaf in jax.tree_util.tree_leaves(weights.skeleton(config))] == built
    assert isinstance(jax.tree_util.tree_leaves(weights.skeleton(config))[0], jax.ShapeDtypeStruct)
    np.testing.assert_equal(len(built), 6)

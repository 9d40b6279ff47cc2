"""The test configuration itself: what conftest.py promises every test gets."""

import jax
import jax.numpy as jnp
import pytest


def test_four_cpu_devices_so_multi_device_tests_are_not_vacuous():
    assert jax.device_count() == 4


def test_dtype_promotion_is_strict_inside_tests():
    with pytest.raises(jax.dtypes.TypePromotionError):
        jnp.ones(2, jnp.float32) + jnp.ones(2, jnp.int32)

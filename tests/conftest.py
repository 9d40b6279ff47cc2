"""Shared set-up: 4 CPU devices, key-reuse checks, strict promotion, fast compiles, x64 job."""

import os
import shutil
import tempfile

import jax
import numpy as np
import pytest

#: XLA:CPU options cutting compile time (most of the suite's), not the arithmetic (pair-table
#: outputs equal or within 3e-6; unsplit LLVM modules: -22% CPU, bitwise equal). Subprocesses
#: inherit them; older jaxlibs abort on them.
FAST_COMPILE_FLAGS = (
    "--xla_cpu_use_fusion_emitters=false",
    "--xla_llvm_disable_expensive_passes=true",
    "--xla_cpu_parallel_codegen_split_count=1",
)
_FLAGS = FAST_COMPILE_FLAGS if jax.__version_info__ >= (0, 6) else ()
os.environ["XLA_FLAGS"] = " ".join([os.environ.get("XLA_FLAGS", ""), *_FLAGS]).strip()
try:
    jax.config.update("jax_num_cpu_devices", 4)
except AttributeError:  # JAX before 0.4.38: the XLA flag, read when the backend starts
    os.environ["XLA_FLAGS"] += " --xla_force_host_platform_device_count=4"
jax.config.update("jax_debug_key_reuse", True)

collect_ignore = ["metrics/_multiprocess_worker.py", "_deadlock_worker.py"]  # subprocess scripts
CACHE_ENV = "JAXKL_TEST_COMPILATION_CACHE"  # the cache's directory: set it to keep the cache


@pytest.fixture(autouse=True, scope="module")
def _strict_promotion():
    """Strict dtype promotion in tests/ (the doctests keep JAX's defaults, as users do)."""
    with jax.numpy_dtype_promotion("strict"):
        yield


def pytest_addoption(parser):
    parser.addoption("--x64", action="store_true", help="run only the x64-marked tests, in float64")


def pytest_configure(config):
    if config.getoption("--x64"):
        jax.config.update("jax_enable_x64", True)
    # one compilation cache per session, made by the xdist controller, shared by its workers
    if CACHE_ENV not in os.environ and not hasattr(config, "workerinput"):
        os.environ[CACHE_ENV] = config._jaxkl_cache = tempfile.mkdtemp(prefix="jaxkl-xla-")
    jax.config.update("jax_compilation_cache_dir", os.environ[CACHE_ENV])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


def pytest_unconfigure(config):
    if getattr(config, "_jaxkl_cache", None):
        shutil.rmtree(config._jaxkl_cache, ignore_errors=True)
        del os.environ[CACHE_ENV]


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config, items):
    keep, drop = [], []
    for item in items:
        x64 = item.get_closest_marker("x64") is not None
        (keep if x64 == config.getoption("--x64") else drop).append(item)
        row = item.callspec.params.get("row") if hasattr(item, "callspec") else None
        if hasattr(row, "name"):  # a DistCase or PairCase row: its tests, on one worker
            group = f"{type(row).__name__}:{row.name}".translate(str.maketrans("[]", "()"))
            item.add_marker(pytest.mark.xdist_group(group))  # no "]": xdist splits at "@"
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(params=["eager", "jit"])  # the same test body eagerly and under jit
def transform(request):
    return (lambda f: f) if request.param == "eager" else jax.jit

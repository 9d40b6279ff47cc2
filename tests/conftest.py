"""Test configuration shared by every test module.

* 4 CPU devices, so pmap / shard_map tests really run on several devices;
* strict dtype promotion (catches silent float64 leaks; relax per test with
  ``jax.numpy_dtype_promotion("standard")`` where third-party code needs it);
* PRNG key-reuse checks;
* float64: tests marked ``x64`` run only in the x64 job (``pytest --x64``), which turns
  ``jax_enable_x64`` on; every other test runs only in the default job;
* faster XLA:CPU compiles (``FAST_COMPILE_FLAGS``);
* one XLA compilation cache per test session, shared by its xdist workers (see
  ``_compilation_cache``).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile

import jax
import numpy as np
import pytest

#: XLA:CPU options for the test session: the legacy elemental emitters instead of the
#: MLIR fusion emitters, and LLVM without its expensive passes. Both leave XLA's HLO passes
#: (fusion, simplification) and the maths as they are; they cut compile time, which is most
#: of this suite's time: the pair-table row programs of 7 heavy rows compile in 12.8 s
#: instead of 23.3 s and their eager KLs take 8.0 s instead of 13.4 s. Measured against the
#: default options over every pair-table row program (KL, vmap and gradients, 617 arrays):
#: 576 arrays bitwise equal, the rest within 3e-6 relative (the order of a few fused sums),
#: far inside every tolerance here. Options that change the arithmetic are not used (LLVM's
#: -O0 turns off FMA contraction, which users' compiles have). The flags are read when the
#: CPU backend starts, after this module runs; subprocesses inherit them, and the linalg
#: no-hang test drops them to run the default compiler.
FAST_COMPILE_FLAGS = (
    "--xla_cpu_use_fusion_emitters=false",
    "--xla_llvm_disable_expensive_passes=true",
)
# (XLA aborts on a flag it does not know: older jaxlibs, such as the floors' smoke job's,
# compile with their defaults.)
_FLAGS = FAST_COMPILE_FLAGS if jax.__version_info__ >= (0, 6) else ()
os.environ["XLA_FLAGS"] = " ".join([os.environ.get("XLA_FLAGS", ""), *_FLAGS]).strip()

try:
    jax.config.update("jax_num_cpu_devices", 4)
except AttributeError:  # JAX before 0.4.38: the XLA flag (read at backend start, as above)
    os.environ["XLA_FLAGS"] += " --xla_force_host_platform_device_count=4"
jax.config.update("jax_debug_key_reuse", True)

# Helper scripts run in subprocesses, not test modules (they configure JAX on import).
collect_ignore = ["metrics/_multiprocess_worker.py", "_deadlock_worker.py"]


@pytest.fixture(autouse=True, scope="module")
def _strict_dtype_promotion():
    """Strict promotion for every test here.

    The doctests in jaxkl/, docs/ and README.md run with JAX's default, as users do (flax's
    own nnx metrics need it).
    """
    with jax.numpy_dtype_promotion("strict"):
        yield


def pytest_addoption(parser):
    parser.addoption("--x64", action="store_true", help="run the float64 (x64-marked) tests")


#: the directory of the session's compilation cache; set it to keep a cache between runs
CACHE_ENV = "JAXKL_TEST_COMPILATION_CACHE"


def _compilation_cache(config):
    """Point JAX's persistent compilation cache at one directory per test session.

    Every program, however small, is cached: the two xdist workers compile many of the
    same programs (eager primitives, samplers, the same function jitted afresh by several
    tests), and a program JAX has compiled once, in either worker, is then read back
    instead of compiled again (tests/distributions: 282 s -> 222 s on this 2-core machine).
    A hit returns the executable XLA built for the identical program and flags, so nothing
    tested changes. The controller creates the directory (the workers inherit it through
    the environment) and removes it at the end, unless ``JAXKL_TEST_COMPILATION_CACHE``
    named one already.
    """
    if CACHE_ENV not in os.environ and not hasattr(config, "workerinput"):
        os.environ[CACHE_ENV] = config._jaxkl_cache = tempfile.mkdtemp(prefix="jaxkl-xla-")
    jax.config.update("jax_compilation_cache_dir", os.environ[CACHE_ENV])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


def pytest_configure(config):
    if config.getoption("--x64"):
        jax.config.update("jax_enable_x64", True)
    _compilation_cache(config)


def pytest_unconfigure(config):
    if getattr(config, "_jaxkl_cache", None):
        shutil.rmtree(config._jaxkl_cache, ignore_errors=True)
        del os.environ[CACHE_ENV]


def pytest_collection_modifyitems(config, items):
    x64 = config.getoption("--x64")
    keep, drop = [], []
    for item in items:
        marked = item.get_closest_marker("x64") is not None
        (keep if marked == x64 else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


#: Modules whose tests run over a table of rows, and the table: a test id's parameter part
#: starts with the row's id. Tests of one row, in any of its table's modules, share compiles
#: (the row's distributions, samplers and KL have the same types and shapes).
_ROW_TABLE_MODULES = {
    "tests/distributions/test_contract.py": "cases",
    "tests/distributions/test_adapters.py": "cases",
    "tests/kl/test_pairs.py": "pairs",
    "tests/kl/test_quadrature.py": "pairs",
}
_BAD_PARAM_SUFFIX = re.compile(r"-[A-Za-z_]\w*-\d+$")  # test_contract's "<row>-<param>-<i>"


def row_group(nodeid: str) -> str:
    """The xdist work unit of a test.

    ``table::row`` for the row-table modules (all the tests of a row run on one worker,
    which compiles the row's functions once), the test itself otherwise.
    """
    module, _, rest = nodeid.partition("::")
    if module not in _ROW_TABLE_MODULES or "[" not in rest or not rest.endswith("]"):
        return nodeid
    name, row = rest[: rest.index("[")], rest[rest.index("[") + 1 : -1]
    if name.startswith("test_bad_parameter"):
        row = _BAD_PARAM_SUFFIX.sub("", row)
    return f"{_ROW_TABLE_MODULES[module]}::{row}"


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``-n N`` (xdist's default ``--dist load``) with tests grouped by ``row_group``.

    Like ``--dist loadgroup`` without marks or changed test ids; the largest groups are
    sent first. An explicit other ``--dist`` mode is left alone.
    """
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class RowScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return row_group(nodeid)

    return RowScheduling(config, log)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(params=["eager", "jit"])
def transform(request):
    """Run a function eagerly and under jit (the same test body for both)."""
    if request.param == "eager":
        return lambda f: f
    return jax.jit

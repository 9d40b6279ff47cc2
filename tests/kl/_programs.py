"""The one jitted float32 program of a pair-table row, shared by the row's test modules.

test_pairs (jit, vmap, gradient and Monte Carlo checks) and test_quadrature (its float32
closed form) evaluate a row's KL at random float32 parameters of one shape. They all read
:func:`row_program`'s outputs, so a row compiles its float32 KL once, vmapped inside its
gradient's forward pass, instead of once per check; the conftest's xdist scheduler keeps a
row's tests on one worker, which shares the compile.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxkl import distributions as jd
from jaxkl.kl._broadcast import broadcast_pair

#: KL of two distributions under jit, for the checks outside the row's program (other
#: shapes, float64): JAX caches its compiles by the distributions' types, static fields and
#: shapes, so every call with a row's pair of a given shape after the first is a cache hit
JIT_KL = jax.jit(jd.kl_divergence)


def jax_params(params, dtype):
    """A row's numpy parameters as JAX arrays: the float ones in ``dtype``."""
    return {
        k: (jnp.asarray(v, dtype) if np.asarray(v).dtype.kind == "f" else jnp.asarray(v))
        for k, v in params.items()
    }


def float32_params(row, seed):
    """The row's random parameters for ``seed``, as float32 JAX arrays."""
    pp, qp = row.params(np.random.default_rng(seed))
    return jax_params(pp, jnp.float32), jax_params(qp, jnp.float32)


def _is_float(v):
    return jnp.issubdtype(jnp.result_type(v), jnp.floating)


def grad_split(row, params):
    """(the parameters gradients are taken with respect to, the others)."""
    names = row.grad_params
    wrt = {k: v for k, v in params.items() if _is_float(v) and (names is None or k in names)}
    return wrt, {k: v for k, v in params.items() if k not in wrt}


def _frozen(params):
    """The non-float parameters (counts, dimensions) in a hashable form."""
    return tuple(
        (k, np.asarray(v).dtype.str, np.shape(v), tuple(np.asarray(v).ravel().tolist()))
        for k, v in sorted(params.items())
        if not _is_float(v)
    )


def _thawed(frozen):
    return {k: jnp.asarray(np.array(x, dtype).reshape(shape)) for k, dtype, shape, x in frozen}


#: seed of the second pair of every row's program (see :func:`row_program`); any seed whose
#: parameters differ from the tests' own seeds (2 to 5) will do
SECOND_SEED = 1000


def second_params(row):
    """The float32 parameters of the row's second pair: those of seed ``SECOND_SEED``."""
    return float32_params(row, SECOND_SEED)


@functools.cache
def _program(row, ints_p, ints_q):
    """The row's jitted program for these non-float parameters.

    They are closed over: they are static, as a Multinomial's count or a sphere's
    dimension must be.
    """
    fixed_p, fixed_q = _thawed(ints_p), _thawed(ints_q)

    def program(fp, fq, fp2, fq2):
        pj, qj = {**fixed_p, **fp}, {**fixed_q, **fq}
        (gp, other_p), (gq, other_q) = grad_split(row, pj), grad_split(row, qj)
        p2, q2 = broadcast_pair(row.make_p({**fixed_p, **fp2}), row.make_q({**fixed_q, **fq2}))

        def total(gp, gq):
            p, q = broadcast_pair(row.make_p({**other_p, **gp}), row.make_q({**other_q, **gq}))
            # slice 0: the pair at the caller's parameters, slice 1: the second pair
            stacked_p = jax.tree_util.tree_map(lambda x, y: jnp.stack([x, y]), p, p2)
            stacked_q = jax.tree_util.tree_map(lambda x, y: jnp.stack([x, y]), q, q2)
            value = jax.vmap(jd.kl_divergence)(stacked_p, stacked_q)
            return jnp.sum(jnp.where(jnp.isfinite(value[0]), value[0], 0.0)), value

        (_, value), grads = jax.value_and_grad(total, argnums=(0, 1), has_aux=True)(gp, gq)
        return value, grads

    return jax.jit(program)


def row_program(row):
    """The row's compiled program: (pj, qj) -> (KL, KL of a vmap, gradients).

    The KL is ``kl_divergence`` traced under jit and vmap: the vmap runs over a leading
    axis of length 2 holding the broadcast pair at ``(pj, qj)`` (slice 0) and the broadcast
    pair at the row's second parameters, :func:`second_params` (slice 1), so that a value
    leaking between the slices of a vmap shows; the KL is its first entry (one trace of the
    KL instead of a plain one and a vmapped one). The gradients are those of the sum of the
    finite entries of slice 0's KL, with respect to the row's ``grad_params`` of p and of q.
    The float parameters of both pairs are the program's arguments; it is compiled once per
    row and shape. The second pair has the same integer parameters and shapes as the
    first (the table's ``params(rng)`` draw only float values).
    """

    def run(pj, qj):
        floats = [{k: v for k, v in d.items() if _is_float(v)} for d in (pj, qj)]
        pj2, qj2 = second_params(row)
        assert (_frozen(pj2), _frozen(qj2)) == (_frozen(pj), _frozen(qj)), row.name
        floats2 = [{k: v for k, v in d.items() if _is_float(v)} for d in (pj2, qj2)]
        vm, grads = _program(row, _frozen(pj), _frozen(qj))(*floats, *floats2)
        return vm[0], vm, grads

    return run

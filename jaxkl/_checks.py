"""Argument checks, the dtype rule and the reduction, one home for all of jaxkl.

The tensor KL, the losses, the distributions and the metric call these. Two kinds of
check live here:

* static checks (types, option strings, shapes): they raise at call time, also under
  ``jit``, because everything they look at is static;
* value checks (negative probabilities, NaN, bad scales). They follow one rule
  (DESIGN.md section 1): on concrete arrays (eager calls) a bad value raises
  ``ValueError``; under a trace (``jit``, ``vmap``, ``grad``, ``scan``) they cost nothing
  by default, no operations and no effects in the jaxpr, because an effect turns off
  JAX's C++ dispatch fast path for every jitted call. :func:`value_checks` (or the
  environment variable ``JAXKL_VALUE_CHECKS=1``) turns them on at trace time as
  ``checkify.check`` s, which ``jax.experimental.checkify.checkify`` reports.
"""

from __future__ import annotations

import contextlib
import contextvars
import operator
import os
from collections.abc import Callable, Iterator
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import checkify

Reduction = Literal["mean", "sum", "none"] | None
REDUCTIONS = ("mean", "sum", "none", None)

#: The environment variable that turns traced value checks on (``1``/``true``/``yes``/``on``).
ENV_VAR = "JAXKL_VALUE_CHECKS"


def _env_default() -> bool:
    return os.environ.get(ENV_VAR, "").strip().lower() in ("1", "true", "yes", "on")


# The switch is part of JAX's trace context (a user context), so that a function traced
# with the checks off is traced again, not served from jit's cache, when they are turned on,
# and the reverse. JAX without ``make_user_context``: a context variable, which then acts
# only on functions not yet traced.
if hasattr(jax, "make_user_context"):
    _STATE = jax.make_user_context(default_value=_env_default())
else:  # pragma: no cover - older JAX
    _STATE = None
    _ENABLED: contextvars.ContextVar[bool | None] = contextvars.ContextVar(
        "jaxkl_value_checks", default=None
    )


def check_log_prob(log_prob: Any) -> None:
    """``TypeError`` unless ``log_prob`` is a bool (torchmetrics' message)."""
    if not isinstance(log_prob, bool):
        raise TypeError(f"Expected argument `log_prob` to be bool but got {log_prob!r}")


def check_reduction(reduction: Any, allowed: tuple = REDUCTIONS) -> None:
    """``ValueError`` unless ``reduction`` is one of ``allowed``."""
    if reduction not in allowed:
        raise ValueError(
            f"Expected argument `reduction` to be one of {list(allowed)} but got {reduction!r}"
        )


def check_axis(axis: Any, shape: tuple, what: str) -> int:
    """``axis`` as a non-negative int for an array of ``shape`` (``what`` names the array)."""
    if isinstance(axis, bool):
        raise ValueError(f"Expected `axis` to be an int but got {axis!r}")
    try:
        axis = operator.index(axis)
    except TypeError:
        raise ValueError(f"Expected `axis` to be an int but got {axis!r}") from None
    if not -len(shape) <= axis < len(shape):
        raise ValueError(
            f"`axis`={axis} is out of range for {what} of rank {len(shape)} (shape {shape})"
        )
    return axis % len(shape)


def check_mask(mask: Any, batch_shape: tuple, name: str = "where") -> jax.Array | None:
    """A row mask as a boolean array that broadcasts to ``batch_shape`` (not broadcast yet).

    The one rule of ``where`` (tensor KL, losses) and ``mask`` (the metric): boolean, or
    integer with nonzero meaning "keep" (clu's and flax's metrics take 0/1 masks); a
    floating mask is a ``TypeError``, since 0.5 has no meaning as a mask.
    """
    if mask is None:
        return None
    dtype = input_dtype(mask)
    if not (dtype == np.bool_ or jnp.issubdtype(dtype, jnp.integer)):
        raise TypeError(
            f"Expected `{name}` to be a boolean (or integer 0/1) mask but got dtype {dtype}"
        )
    mask = mask if isinstance(mask, jax.Array) else jnp.asarray(mask)
    if mask.dtype != jnp.bool_:
        mask = mask != 0
    try:
        broadcast = np.broadcast_shapes(mask.shape, tuple(batch_shape))
    except ValueError:
        broadcast = None
    if broadcast != tuple(batch_shape):
        raise ValueError(
            f"`{name}` of shape {mask.shape} does not broadcast to the batch shape "
            f"{tuple(batch_shape)}"
        )
    return mask


def check_same_shape(a: Any, b: Any, names: str) -> None:
    """``ValueError`` naming both shapes unless ``a`` and ``b`` have the same shape."""
    if jnp.shape(a) != jnp.shape(b):
        raise ValueError(
            f"Expected {names} to have the same shape but got {jnp.shape(a)} and {jnp.shape(b)}"
        )


def reduce_rows(rows: jax.Array, mask: jax.Array | None, reduction: Reduction) -> jax.Array:
    """Reduce per-row values over the batch (masked rows are already 0).

    ``"mean"`` is over the unmasked rows (0/0 = NaN when there are none); ``"none"``
    returns the rows.
    """
    if reduction is None or reduction == "none":
        return rows
    total = jnp.sum(rows)
    if reduction == "sum":
        return total
    count = rows.size if mask is None else jnp.sum(mask, dtype=rows.dtype)
    return total / jnp.asarray(count, rows.dtype)


def input_dtype(x: Any) -> np.dtype:
    """The dtype ``x`` has, or would have as an array, without converting a JAX array."""
    dtype = getattr(x, "dtype", None)
    if dtype is not None:
        return np.dtype(dtype)
    try:
        dtype = np.asarray(x).dtype
    except (TypeError, ValueError):  # ragged or otherwise unconvertible: numpy says object
        dtype = np.dtype(object)
    if dtype.kind == "O" and isinstance(x, (list, tuple)):  # e.g. a list of tracers
        try:
            return np.dtype(jnp.result_type(*jax.tree_util.tree_leaves(x)))
        except (TypeError, ValueError):
            pass
    return dtype


def is_real_dtype(dtype: Any) -> bool:
    """Floating (half precision included), integer or bool: what a real parameter may be."""
    kind = np.dtype(dtype).kind
    if kind in "biuf":
        return True
    # bfloat16 and the float8 types are numpy "V" (void) dtypes registered by ml_dtypes
    return kind == "V" and bool(jnp.issubdtype(dtype, jnp.floating))


def compute_dtype(*xs: Any) -> jnp.dtype:
    """The dtype jaxkl computes in: float64 if any input is float64, else float32.

    The one dtype rule of the tensor KL, the losses, the distributions and the metric.
    float64 exists only with x64 on (JAX canonicalises it away otherwise); half precision,
    integers and booleans compute in float32. ``xs`` are arrays, scalars, sequences or
    dtypes; ``None`` is skipped. A complex, string or object dtype raises ``TypeError``.
    """
    dtypes = [
        np.dtype(x) if isinstance(x, (np.dtype, type)) else input_dtype(x)
        for x in xs
        if x is not None
    ]
    for dtype in dtypes:
        if not is_real_dtype(dtype):
            raise TypeError(f"Expected real floating or integer inputs but got dtype {dtype}")
    if any(jax.dtypes.canonicalize_dtype(d) == jnp.float64 for d in dtypes):
        return jnp.dtype(jnp.float64)
    return jnp.dtype(jnp.float32)


def shown(value: Any) -> str:
    """``", got <value>"`` for an error message, when the value is concrete and small."""
    if is_concrete(value) and np.size(value) <= 8:
        return f", got {np.asarray(value)!r}"
    return ""


def check_real_input(x: Any, name: str, owner: str = "") -> None:
    """``TypeError`` naming ``name`` and the dtype unless ``x`` is real (float, int, bool).

    Complex values would otherwise be cast to their real part (silently, by
    ``jnp.asarray(x, float32)``), and strings or objects reach JAX and get its internal
    message. A static check: it reads the dtype only, so it also runs under ``jit``.
    """
    if x is None:
        return
    dtype = input_dtype(x)
    if not is_real_dtype(dtype):
        kind = "complex" if jnp.issubdtype(dtype, jnp.complexfloating) else "non-numeric"
        raise TypeError(
            f"{owner}`{name}` must be a real (floating, integer or boolean) array, got "
            f"{kind} dtype {dtype}"
        )


def is_concrete(*xs: Any) -> bool:
    """True when none of ``xs`` is a tracer, i.e. their values can be inspected."""
    return not any(isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves(xs))


@contextlib.contextmanager
def value_checks(enabled: bool = True) -> Iterator[None]:
    """Turn value checks under a trace on (or, with ``False``, off) inside a ``with`` block.

    Eager calls on concrete arrays always check values and raise ``ValueError``. Under a
    trace (``jit``, ``vmap``, ``grad``, ``scan``) the checks are off by default, so that a
    jitted training step pays nothing for them. Inside ``with jaxkl.value_checks():`` the
    functions *traced* in the block emit ``checkify.check`` s instead, which
    ``jax.experimental.checkify.checkify`` turns into an error value (a function with
    such checks must be run under ``checkify.checkify``). This includes *eager*
    ``jax.vmap`` and ``jax.grad``: their values are tracers, so by design a bad value
    there raises nothing unless the checks are on (then
    ``checkify.checkify(jax.vmap(f))`` / ``checkify.checkify(jax.grad(f))`` report it).
    Static checks (types, dtypes, shapes, option strings) always raise at call time. The
    setting is part of JAX's trace context, so a function already jitted without checks
    is traced again inside the block. The environment variable ``JAXKL_VALUE_CHECKS=1``
    (read at import) turns them on for the whole process; ``value_checks(False)`` turns
    them off inside.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from jax.experimental import checkify
        >>> import jaxkl
        >>> f = lambda p, q: jaxkl.functional.kl_divergence(p, q)
        >>> with jaxkl.value_checks():
        ...     err, _ = checkify.checkify(jax.jit(f))(-jnp.ones((1, 2)), jnp.ones((1, 2)))
        >>> print(err.get())  # doctest: +ELLIPSIS
        `p` holds negative or NaN probabilities...
    """
    if _STATE is not None:
        with _STATE(bool(enabled)):
            yield
        return
    token = _ENABLED.set(bool(enabled))
    try:
        yield
    finally:
        _ENABLED.reset(token)


def traced_checks_enabled() -> bool:
    """Whether value checks are emitted under a trace (see :func:`value_checks`)."""
    if _STATE is not None:
        return bool(_STATE.value)
    enabled = _ENABLED.get()
    return _env_default() if enabled is None else enabled


def checks_wanted(*arrays: Any) -> bool:
    """Whether value checks of ``arrays`` should run: always when concrete, else if enabled.

    Callers test this first so that, by default, a traced call builds no check at all.
    """
    return is_concrete(*arrays) or traced_checks_enabled()


def value_check(ok: jax.Array | Callable[[], jax.Array], message: str, *concrete_of: Any) -> None:
    """Raise ``ValueError(message)`` if ``ok`` is False, following the value-check rule.

    ``ok`` is a boolean scalar, or a function computing it (computed only when the check
    runs). ``concrete_of`` are the arrays it depends on: when all are concrete the check
    raises at once; when any is a tracer it is a ``checkify.check`` if traced checks are
    on (:func:`value_checks`) and nothing at all otherwise.
    """
    enabled = traced_checks_enabled()
    if not enabled and not is_concrete(*concrete_of):
        return
    flag = ok() if callable(ok) else ok
    if is_concrete(flag):
        if not bool(np.asarray(flag)):
            raise ValueError(message)
    elif enabled:
        # checkify formats its message with str.format: keep braces literal.
        checkify.check(jnp.asarray(flag), message.replace("{", "{{").replace("}", "}}"))
    # else: concrete arrays closed over by a traced function give a traced flag; checks
    # are off under the trace, so nothing is staged.

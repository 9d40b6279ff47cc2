"""Shape checks shared by the registry and the estimators: equal events, broadcast batches."""

from __future__ import annotations

import jax.numpy as jnp

from jaxkl.distributions._base import Distribution


def broadcast_pair(p: Distribution, q: Distribution) -> tuple[Distribution, Distribution]:
    """Check event shapes and expand both to the broadcast of their batch shapes.

    Every closed form then sees equal batch shapes (and code stays rank-promotion clean).

    Raises:
        ValueError: the event shapes differ or the batch shapes do not broadcast.
    """
    if p.event_shape != q.event_shape:
        raise ValueError(
            f"KL needs equal event shapes, got {p.event_shape} ({type(p).__name__}) and "
            f"{q.event_shape} ({type(q).__name__})"
        )
    try:
        shape = tuple(jnp.broadcast_shapes(p.batch_shape, q.batch_shape))
    except ValueError:
        raise ValueError(
            f"Batch shapes {p.batch_shape} ({type(p).__name__}) and {q.batch_shape} "
            f"({type(q).__name__}) do not broadcast"
        ) from None
    return p.expand(shape), q.expand(shape)

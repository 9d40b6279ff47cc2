"""Print the Markdown table of every KL pair registered in jaxkl, for the README.

The rows come from the registry (``jaxkl.kl.registered_pairs()``), not from a typed list.
For each pair the table gives the function that computes it and where its closed form
comes from:

* ``torch``: torch.distributions registers the pair (read from
  ``torch.distributions.kl._KL_REGISTRY`` at run time when torch is installed);
* ``TFP`` / ``numpyro``: the library registers a closed form for the pair (the table
  ``_OTHER_SOURCES`` below, checked against their sources);
* ``new``: no library among these has it; ``new (quadrature)`` where the function computes
  the KL with :func:`jaxkl.kl.quadrature_kl` (no closed form exists).

Usage: ``python scripts/pairs_table.py > pairs.md``
"""

from __future__ import annotations

import sys

# Pairs beyond torch's registry whose closed form another library registers.
_OTHER_SOURCES: dict[tuple[str, str], str] = {
    ("LogNormal", "LogNormal"): "TFP",
    ("Chi2", "Chi2"): "TFP",
    ("Chi2", "Gamma"): "TFP",
    ("Gamma", "Chi2"): "TFP",
    ("Chi", "Chi"): "TFP",
    ("Weibull", "Weibull"): "TFP",
    ("Weibull", "Gamma"): "numpyro",
    ("Kumaraswamy", "Beta"): "numpyro",
    ("VonMises", "VonMises"): "TFP",
    ("VonMisesFisher", "SphericalUniform"): "TFP",
    ("PowerSpherical", "SphericalUniform"): "TFP",
    ("PowerSpherical", "VonMisesFisher"): "TFP",
    ("Moyal", "Moyal"): "TFP",
    ("LogitNormal", "LogitNormal"): "TFP",
    ("ProbitBernoulli", "ProbitBernoulli"): "TFP",
    ("MultivariateNormalDiag", "MultivariateNormalDiag"): "TFP, numpyro",
    ("MultivariateNormalDiag", "MultivariateNormal"): "TFP",
    ("MultivariateNormal", "MultivariateNormalDiag"): "TFP",
}


def torch_pairs() -> set[tuple[str, str]]:
    """Names of the pairs torch.distributions registers (empty without torch)."""
    try:
        from torch.distributions import kl as torch_kl
    except ImportError:  # pragma: no cover - torch is a test dependency
        return set()
    return {(p.__name__, q.__name__) for p, q in torch_kl._KL_REGISTRY}


def source(p_name: str, q_name: str, torch_names: set[tuple[str, str]]) -> str:
    if (p_name, q_name) in torch_names:
        return "torch"
    return _OTHER_SOURCES.get((p_name, q_name), "new")


def table() -> str:
    from jaxkl.kl import registered_pairs  # importing jaxkl.kl registers every closed form

    torch_names = torch_pairs()
    rows = []
    for (tp, tq), fn in registered_pairs().items():
        module = fn.__module__.replace("jaxkl.kl.", "")
        rows.append(
            (
                tp.__name__,
                tq.__name__,
                source(tp.__name__, tq.__name__, torch_names)
                + (" (quadrature)" if "quadrature_kl" in fn.__code__.co_names else ""),
                f"`{module}.{fn.__name__}`",
            )
        )
    rows.sort(key=lambda r: (r[0], r[1]))
    counts: dict[str, int] = {}
    for r in rows:
        counts[r[2]] = counts.get(r[2], 0) + 1
    lines = [
        "| p | q | closed form from | function |",
        "|---|---|---|---|",
        *[f"| {p} | {q} | {src} | {fn} |" for p, q, src, fn in rows],
        "",
        f"{len(rows)} pairs: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) + ".",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(table() + "\n")

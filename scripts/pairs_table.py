"""Print the Markdown table of every KL pair registered in jaxkl (the docs' pair page).

The rows come from the registry (``jaxkl.kl.registered_pairs()``), not from a typed list.
For each pair the table gives the function that computes it, where its closed form comes
from, and what the test suite checks it against:

* "closed form from": ``torch`` when torch.distributions registers the pair
  (:data:`TORCH_PAIRS`, a copy of the names in ``torch.distributions.kl._KL_REGISTRY``
  that ``tests/test_docs.py`` compares with torch's registry, so the docs build needs no
  torch); ``TFP`` / ``numpyro`` when that library registers a closed form for the pair
  (:data:`_OTHER_SOURCES`, checked against their sources); ``new`` when none of them has it,
  ``new (quadrature)`` where the function computes the KL with ``quadrature_kl``;
* "tested against": read from the pair rows in ``tests/kl/pairs_*.py`` (their ``torch``,
  ``reference``, ``mp_kl`` and ``monte_carlo`` fields; importing them needs numpy, scipy,
  mpmath and pytest, not torch). Without those packages the column is left out.

Usage: ``python scripts/pairs_table.py [--grouped] > pairs.md``
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: torch.distributions' registered KL pairs (p -> the q's), as of torch 2.13.
_TORCH_REGISTRY: dict[str, tuple[str, ...]] = {
    "Bernoulli": ("Bernoulli", "Poisson"),
    "Beta": ("Beta", "ContinuousBernoulli", "Exponential", "Gamma", "Normal", "Pareto", "Uniform"),
    "Binomial": ("Binomial",),
    "Categorical": ("Categorical",),
    "Cauchy": ("Cauchy",),
    "ContinuousBernoulli": ("ContinuousBernoulli", "Exponential", "Normal", "Pareto", "Uniform"),
    "Dirichlet": ("Dirichlet",),
    "Exponential": (
        "Beta", "ContinuousBernoulli", "Exponential", "Gamma", "Gumbel", "Normal", "Pareto",
        "Uniform",
    ),
    "ExponentialFamily": ("ExponentialFamily",),
    "Gamma": (
        "Beta", "ContinuousBernoulli", "Exponential", "Gamma", "Gumbel", "Normal", "Pareto",
        "Uniform",
    ),
    "Geometric": ("Geometric",),
    "Gumbel": (
        "Beta", "ContinuousBernoulli", "Exponential", "Gamma", "Gumbel", "Normal", "Pareto",
        "Uniform",
    ),
    "HalfNormal": ("HalfNormal",),
    "Independent": ("Independent",),
    "Laplace": (
        "Beta", "ContinuousBernoulli", "Exponential", "Gamma", "Laplace", "Normal", "Pareto",
        "Uniform",
    ),
    "LowRankMultivariateNormal": ("LowRankMultivariateNormal", "MultivariateNormal"),
    "MultivariateNormal": ("LowRankMultivariateNormal", "MultivariateNormal"),
    "Normal": (
        "Beta", "ContinuousBernoulli", "Exponential", "Gamma", "Gumbel", "Laplace", "Normal",
        "Pareto", "Uniform",
    ),
    "OneHotCategorical": ("OneHotCategorical",),
    "Pareto": (
        "Beta", "ContinuousBernoulli", "Exponential", "Gamma", "Normal", "Pareto", "Uniform",
    ),
    "Poisson": ("Bernoulli", "Binomial", "Poisson"),
    "TransformedDistribution": ("TransformedDistribution",),
    "Uniform": (
        "Beta", "ContinuousBernoulli", "Exponential", "Gamma", "Gumbel", "Normal", "Pareto",
        "Uniform",
    ),
}  # fmt: skip

TORCH_PAIRS: frozenset[tuple[str, str]] = frozenset(
    (p, q) for p, qs in _TORCH_REGISTRY.items() for q in qs
)

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

# The independent references of the pair rows (``reference=``), by the function's name.
_REFERENCE_NAMES: dict[str, str] = {
    "tfp_kl": "TFP",
    "quad_kl": "quadrature",
    "_quad_reference": "quadrature",
    "_vm_reference": "quadrature",
    "_sphere_reference": "quadrature",
    "_ps_vmf_reference": "quadrature",
    "_mp_reference_probit": "mpmath",
    "_enumeration_reference": "enumeration",
    "_scipy_dirichlet_reference": "scipy",
    "_wishart_reference": "float64 formula",
}

# Pairs checked by a test of their own rather than by a pair row.
_OTHER_TESTS: dict[tuple[str, str], str] = {
    ("ExponentialFamily", "ExponentialFamily"): "every closed form of an ExponentialFamily",
}

# Column order of the references (the test suite's oracles, in STYLE.md's order).
_REFERENCE_ORDER = (
    "torch", "scipy", "mpmath", "mpmath (p ≈ q)", "quadrature", "enumeration",
    "float64 formula", "Monte Carlo", "TFP",
)  # fmt: skip


def source(p_name: str, q_name: str) -> str:
    if (p_name, q_name) in TORCH_PAIRS:
        return "torch"
    return _OTHER_SOURCES.get((p_name, q_name), "new")


def tested_against() -> dict[tuple[str, str], set[str]] | None:
    """``{(p name, q name): references}`` from tests/kl/pairs_*.py, or None without them."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    try:
        from tests.kl.pairs import PAIRS
    except ImportError:  # the test extra (scipy, mpmath, pytest) is not installed
        return None
    out: dict[tuple[str, str], set[str]] = {}
    for row in PAIRS:
        refs = out.setdefault((row.p_type.__name__, row.q_type.__name__), set())
        if row.torch is not None and row.torch is not False:
            refs.add("torch")
        if row.reference is not None:
            name = row.reference.__qualname__.split(".")[0]
            refs.add(_REFERENCE_NAMES.get(name, name))
        if row.mp_kl is not None:
            refs.add("mpmath (p ≈ q)")
        if row.monte_carlo:
            refs.add("Monte Carlo")
    return out


def _refs_text(refs: set[str]) -> str:
    order = {name: i for i, name in enumerate(_REFERENCE_ORDER)}
    return ", ".join(sorted(refs, key=lambda r: (order.get(r, len(order)), r))) or "–"


def rows() -> list[tuple[str, str, str, str, str, str | None]]:
    """One ``(group, p, q, from, function, tested against)`` per registered pair, sorted."""
    from jaxkl.kl import registered_pairs  # importing jaxkl.kl registers every closed form

    refs = tested_against()
    out = []
    for (tp, tq), fn in registered_pairs().items():
        module = fn.__module__.replace("jaxkl.kl.", "")
        key = (tp.__name__, tq.__name__)
        tested = None if refs is None else _refs_text(refs.get(key, set()))
        if tested == "–" and key in _OTHER_TESTS:
            tested = _OTHER_TESTS[key]
        origin = source(*key)
        if "quadrature_kl" in fn.__code__.co_names:  # no closed form exists: a quadrature rule
            origin += " (quadrature)"
        out.append((module, *key, origin, f"`{module}.{fn.__name__}`", tested))
    out.sort(key=lambda r: (r[1], r[2]))
    return out


def _table(rs, with_refs: bool) -> list[str]:
    if with_refs:
        head = ["| p | q | closed form from | tested against | function |", "|---|---|---|---|---|"]
        body = [f"| {p} | {q} | {src} | {t} | {fn} |" for _, p, q, src, fn, t in rs]
    else:
        head = ["| p | q | closed form from | function |", "|---|---|---|---|"]
        body = [f"| {p} | {q} | {src} | {fn} |" for _, p, q, src, fn, _t in rs]
    return head + body


# The family groups of p, in the order of the docs' distribution pages.
_GROUPS = (
    "real_line",
    "positive",
    "interval",
    "infinite",
    "categorical",
    "counts",
    "multivariate",
    "directional",
    "matrix",
    "compound",
)


def table(grouped: bool = False) -> str:
    rs = rows()
    with_refs = all(r[5] is not None for r in rs)
    counts: dict[str, int] = {}
    for r in rs:
        counts[r[3]] = counts.get(r[3], 0) + 1
    summary = f"{len(rs)} pairs: " + ", ".join(
        f"{n} {k.replace(', ', ' and ')}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1])
    )
    lines = [summary + ".", ""]
    if not with_refs:
        lines += ["(The test references are left out: tests/kl/pairs_*.py did not import.)", ""]
    if not grouped:
        return "\n".join(lines + _table(rs, with_refs))
    modules = sorted({r[0] for r in rs}, key=lambda m: (_GROUPS + (m,)).index(m))
    for module in modules:
        group = [r for r in rs if r[0] == module]
        noun = "pair" if len(group) == 1 else "pairs"
        lines += [f"## p in `jaxkl.kl.{module}` ({len(group)} {noun})", ""]
        # the heading names the module: the function column gives the bare name
        short = [(*r[:4], r[4].replace(f"`{module}.", "`"), r[5]) for r in group]
        lines += _table(short, with_refs) + [""]
    return "\n".join(lines).rstrip()


if __name__ == "__main__":
    sys.stdout.write(table(grouped="--grouped" in sys.argv[1:]) + "\n")

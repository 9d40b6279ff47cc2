"""Coverage of torch's pairs and of the pair table.

Coverage: every pair torch.distributions registers is registered here, and every
registered pair has a row in the pair table (tests/kl/pairs.py).
"""

from __future__ import annotations

import torch.distributions as td
from torch.distributions import kl as torch_kl

import jaxkl.kl
from jaxkl import distributions as jd
from tests.kl.pairs import PAIRS


def _ours(torch_cls):
    cls = getattr(jd, torch_cls.__name__, None)
    return cls if isinstance(cls, type) and issubclass(cls, jd.Distribution) else None


def test_every_torch_pair_is_registered(capsys):
    torch_pairs = sorted(torch_kl._KL_REGISTRY, key=lambda pq: (pq[0].__name__, pq[1].__name__))
    registered = jaxkl.kl.registered_pairs()
    missing = []
    for tp, tq in torch_pairs:
        p, q = _ours(tp), _ours(tq)
        if p is None or q is None or (p, q) not in registered:
            missing.append(f"{tp.__name__}-{tq.__name__}")
    covered = len(torch_pairs) - len(missing)
    with capsys.disabled():
        print(
            f"\ntorch.distributions KL pairs registered in jaxkl: {covered} of {len(torch_pairs)}"
        )
    assert len(torch_pairs) >= 87, "torch's registry shrank? the contract lists 87 pairs"
    assert not missing, (
        f"{covered} of {len(torch_pairs)} torch pairs registered; missing: {missing}"
    )


def test_torch_classes_map_to_ours_by_name():
    # the mapping above is by class name; make sure it means the same family
    for name in ("Normal", "Independent", "TransformedDistribution", "ExponentialFamily"):
        assert _ours(getattr(td, name)) is getattr(jd, name)


def _public(cls):
    """A class of the package (not one a doctest or test registered on the fly)."""
    return getattr(jd, cls.__name__, None) is cls


# The generic exponential-family fallback has no instances of its own: it is checked
# against every same-family closed form in tests/kl/test_exponential_family.py.
_FALLBACKS = {(jd.ExponentialFamily, jd.ExponentialFamily)}


def test_every_registered_pair_has_a_row_in_the_pair_table():
    rows = {(row.p_type, row.q_type) for row in PAIRS}
    missing = sorted(
        f"{p.__name__}-{q.__name__}"
        for p, q in jaxkl.kl.registered_pairs()
        if _public(p) and _public(q) and (p, q) not in rows and (p, q) not in _FALLBACKS
    )
    assert not missing, f"registered pairs without a row in tests/kl/pairs_<group>.py: {missing}"


#: DESIGN.md section 7: the pairs of the further families (StudentT, HalfCauchy,
#: NegativeBinomial, Logistic, TruncatedNormal)
_SECTION_7_PAIRS = [
    ("HalfCauchy", "HalfCauchy"),
    ("TruncatedNormal", "TruncatedNormal"),
    ("TruncatedNormal", "Normal"),
    ("Logistic", "Logistic"),
    ("StudentT", "StudentT"),
    ("StudentT", "Normal"),
    ("Normal", "StudentT"),
    ("StudentT", "Cauchy"),
    ("Cauchy", "StudentT"),
    ("NegativeBinomial", "NegativeBinomial"),
    ("Poisson", "NegativeBinomial"),
]


def test_every_pair_of_design_section_7_is_registered_and_has_a_row():
    registered = jaxkl.kl.registered_pairs()
    rows = {(row.p_type, row.q_type) for row in PAIRS}
    for p_name, q_name in _SECTION_7_PAIRS:
        pair = (getattr(jd, p_name), getattr(jd, q_name))
        assert pair in registered, f"{p_name}-{q_name} is not registered"
        assert pair in rows, f"{p_name}-{q_name} has no row in the pair table"

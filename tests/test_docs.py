"""The documentation site: every public name is in the API pages; torch's pairs are right.

The pair table's copy of torch's registry (scripts/pairs_table.py) must equal torch's.

The API test reads the inventory of a built site: ``$JAXKL_DOCS_HTML`` when set (CI builds
the site first, see scripts/build_docs.sh), else it builds one into a temporary folder; it
is skipped where sphinx is not installed (the ``docs`` extra).
"""

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PUBLIC_MODULES = (
    "jaxkl",
    "jaxkl.functional",
    "jaxkl.distributions",
    "jaxkl.distributions.constraints",
    "jaxkl.distributions.transforms",
    "jaxkl.kl",
    "jaxkl.losses",
    "jaxkl.metrics",
    "jaxkl.metrics.nnx",
)


def _built_site(tmp_path_factory) -> Path:
    given = os.environ.get("JAXKL_DOCS_HTML")
    if given:
        return Path(given)
    out = tmp_path_factory.mktemp("html")
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         str(ROOT / "docs"), str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out


@pytest.mark.timeout(900)
def test_every_public_name_is_in_the_api_pages(tmp_path_factory):
    from sphinx.util.inventory import InventoryFile

    with open(_built_site(tmp_path_factory) / "objects.inv", "rb") as f:
        inventory = InventoryFile.load(f, "", os.path.join)
    documented = {name for kind, objects in inventory.items() if kind.startswith("py:")
                  for name in objects}  # fmt: skip
    missing = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        names = [module_name] + [f"{module_name}.{n}" for n in getattr(module, "__all__", ())]
        missing += [n for n in names if n not in documented]
    assert not missing, f"not in the API pages: {missing}"


def test_pair_table_copy_of_torch_registry_is_torch_registry():
    torch_kl = pytest.importorskip("torch.distributions.kl")
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import pairs_table
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    registry = {(p.__name__, q.__name__) for p, q in torch_kl._KL_REGISTRY}
    assert pairs_table.TORCH_PAIRS == registry

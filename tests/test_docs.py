"""The documentation site: every public name is in the API pages, every link resolves.

The pair table's copy of torch's registry (scripts/pairs_table.py) must equal torch's.

The site tests read a built site: ``$JAXKL_DOCS_HTML`` when set (CI builds the site first,
see .ci/run), else they build one into a temporary folder (skipped where sphinx is not
installed: the ``docs`` extra). The API test reads its inventory; the link test opens every
page and checks that each relative link leads to a file of the site and each ``#fragment``
to an ``id`` of its page, as a browser follows them. External links are not checked.
"""

import importlib
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

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


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The built HTML site (built here when ``$JAXKL_DOCS_HTML`` is not set)."""
    given = os.environ.get("JAXKL_DOCS_HTML")
    if given:
        return Path(given)
    pytest.importorskip("sphinx")
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
def test_every_public_name_is_in_the_api_pages(site):
    from sphinx.util.inventory import InventoryFile

    with open(site / "objects.inv", "rb") as f:
        inventory = InventoryFile.load(f, "", os.path.join)
    documented = {name for kind, objects in inventory.items() if kind.startswith("py:")
                  for name in objects}  # fmt: skip
    missing = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        names = [module_name] + [f"{module_name}.{n}" for n in getattr(module, "__all__", ())]
        missing += [n for n in names if n not in documented]
    assert not missing, f"not in the API pages: {missing}"


class _Page(HTMLParser):
    """The ``id``s of a page (and ``<a name>``) and the URLs it links or loads."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("name"):
            self.ids.add(attrs["name"])
        for key in ("href", "src"):
            if attrs.get(key) is not None:
                self.urls.append(attrs[key])


def check_links(root: Path) -> tuple[int, int, list[str]]:
    """(links checked, fragments checked, broken ones) over every HTML page under ``root``.

    A relative URL must name a file inside the site (a folder: its ``index.html``); a
    ``#fragment`` must be an ``id`` of the target page. URLs with a scheme or a host
    (``https:``, ``mailto:``, ``data:``, ``//host``) are external and not checked.
    """
    root = root.resolve()
    pages: dict[Path, _Page] = {}

    def parse(path: Path) -> _Page:
        if path not in pages:
            page = _Page()
            page.feed(path.read_text(encoding="utf-8"))
            pages[path] = page
        return pages[path]

    links = fragments = 0
    broken = []
    for path in sorted(root.rglob("*.html")):
        for url in parse(path).urls:
            parts = urlsplit(url)
            if parts.scheme or parts.netloc:
                continue
            links += 1
            where = f"{path.relative_to(root)}: {url}"
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if parts.path.endswith("/") or target.is_dir():
                target = target / "index.html"
            if not target.is_relative_to(root) or not target.is_file():
                broken.append(f"{where} (no such file)")
                continue
            if parts.fragment and target.suffix == ".html":
                fragments += 1
                if unquote(parts.fragment) not in parse(target).ids:
                    broken.append(f"{where} (no such anchor)")
    return links, fragments, broken


@pytest.mark.timeout(900)
def test_every_link_and_anchor_of_the_site_resolves(site):
    links, fragments, broken = check_links(site)
    assert links > 1000 and fragments > 500, (links, fragments)  # the whole site was read
    assert not broken, f"{len(broken)} broken links, the first ones: {broken[:20]}"


def test_link_check_finds_a_missing_file_and_a_missing_anchor(tmp_path):
    (tmp_path / "api").mkdir()
    (tmp_path / "index.html").write_text(
        '<a href="api/a.html#f">ok</a> <a href="#top">ok</a> <p id="top"></p>'
        '<a href="https://example.org/x.html#y">external</a> <img src="missing.png">'
        '<a href="api/a.html#nowhere">no anchor</a> <a href="api/">no index</a>'
    )
    (tmp_path / "api" / "a.html").write_text('<h1 id="f">a</h1><a href="../index.html">up</a>')
    links, fragments, broken = check_links(tmp_path)
    assert (links, fragments) == (6, 3)
    assert broken == [
        "index.html: missing.png (no such file)",
        "index.html: api/a.html#nowhere (no such anchor)",
        "index.html: api/ (no such file)",
    ]


def test_pair_table_copy_of_torch_registry_is_torch_registry():
    torch_kl = pytest.importorskip("torch.distributions.kl")
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import pairs_table
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    registry = {(p.__name__, q.__name__) for p, q in torch_kl._KL_REGISTRY}
    assert pairs_table.TORCH_PAIRS == registry

"""Sphinx configuration of the jaxkl documentation.

Build (warnings are errors, no network): ``python -m sphinx -W --keep-going -b html docs
docs/_build/html`` or ``scripts/build_docs.sh``. Math is typeset by a copy of MathJax that
the ``sphinx-mathjax-offline`` package ships, so the pages render it without a network too.

At build time this file writes ``docs/_generated/`` (gitignored), which the pages include.
Everything there is read from the public ``__all__`` lists, so a name added to one appears on
the site without editing the docs:

* ``pairs.md``: the table of every registered KL pair (``scripts/pairs_table.py``);
* ``families_<group>.md``: the reference of each distribution class of a family group (its
  one documented home is its group's page);
* ``api_summary.md``: the API index, one summary table per module and group;
* ``api_distributions.md`` / ``api_kl.md``: the reference of the other names of
  ``jaxkl.distributions`` and of ``jaxkl.kl`` (the KL entry points live in both; their home is
  ``jaxkl.distributions``, ``jaxkl.kl`` lists them as aliases);
* ``quadrature.md``, ``adapters.md``: a link to names that only some branches have, or a
  note where they are missing.

Every public name is documented once (``-W`` turns a duplicate into an error). After the
build, :func:`check_api_complete` warns (an error under ``-W``) for every name of a public
``__all__`` that no page documents.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
from pathlib import Path

import sphinx

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jaxkl  # noqa: E402

project = "jaxkl"
author = "the jaxkl authors"
copyright = "the jaxkl authors"  # noqa: A001
release = jaxkl.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    # MathJax 3 copied into _static/mathjax: math renders offline (sets mathjax_path).
    "sphinx-mathjax-offline",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "_generated", "Thumbs.db", ".DS_Store"]
myst_enable_extensions = ["colon_fence", "dollarmath", "deflist"]
myst_heading_anchors = 3

# autodoc: modules document the names of their __all__, in source order.
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "description"
# Types for the parameters a docstring documents, and the return type: a signature given
# by hand (jaxkl.kl_divergence) shows no "p (Any)" for its catch-all parameters.
autodoc_typehints_description_target = "documented_params"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
# The constructor's signature on the class line: no separate bare ``__init__`` entries.
autodoc_class_signature = "mixed"
# A family's overrides of the Distribution interface (log_prob, expand, ...) have no
# docstrings of their own: they are documented once, on Distribution, not on every class.
autodoc_inherit_docstrings = False
autodoc_type_aliases = {"ArrayLike": "ArrayLike"}
autosummary_generate = False
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
add_module_names = False
python_display_short_literal_types = True

html_theme = "furo"
html_title = f"jaxkl {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    "source_repository": "",
    "navigation_with_keys": True,
}
pygments_style = "friendly"
pygments_dark_style = "monokai"


def _patch_type_alias_repr() -> None:
    """Print ``ArrayLike | None`` for an aliased type inside a union.

    Sphinx stringifies the members of a union with ``repr``, which for the placeholder of an
    ``autodoc_type_aliases`` entry is ``TypeAliasForwardRef('ArrayLike')``.
    """
    try:
        from sphinx.util.inspect import TypeAliasForwardRef
    except ImportError:  # pragma: no cover - a Sphinx without it has no such problem
        return
    TypeAliasForwardRef.__repr__ = lambda self: self.name


_patch_type_alias_repr()

#: Functions that dispatch to others: the page shows the call forms of those instead of
#: their own catch-all ``(p, q, *args, **kwargs)``.
DISPATCH_SIGNATURES = {
    "jaxkl.kl_divergence": ("jaxkl.functional.kl_divergence", "jaxkl.distributions.kl_divergence"),
}

# Docstrings in jaxkl/ that point at files a reader of the site does not have: the site
# links the page that says it instead (rst, as the docstrings are).
DOCSTRING_LINKS = {
    "the README's adapter table": ":ref:`the adapter table <adapter-table>`",
    "(README, known issues)": "(:doc:`/known_issues`)",
}

# --------------------------------------------------------------------------------------
# Generated pages
# --------------------------------------------------------------------------------------

GENERATED = DOCS / "_generated"

#: The family groups of jaxkl.distributions, as on the distribution pages.
FAMILY_GROUPS = ("continuous", "discrete", "multivariate", "directional", "matrix", "compound")

#: The modules of jaxkl.distributions (and jaxkl.kl) under each page's family group.
GROUP_MODULES = {
    "continuous": ("real_line", "positive", "interval"),
    "discrete": ("categorical", "counts"),
}

#: Headings of the family groups in the API index.
FAMILY_TITLES = {
    "continuous": "Univariate continuous families",
    "discrete": "Discrete families",
    "multivariate": "Multivariate families",
    "directional": "Directional families",
    "matrix": "Matrix families",
    "compound": "Compound distributions",
}

#: The other names of jaxkl.distributions, by kind (see :func:`_distributions_kind`).
DISTRIBUTION_KINDS = {
    "base": "Base classes and configuration",
    "kl": "KL between distributions",
    "adapters": "Converting from numpyro, TFP and torch",
}

#: Names some branches add: (module, names). The page that includes ``<key>.md`` describes
#: them; the fragment links their reference, or says that this build lacks them.
OPTIONAL_NAMES = {
    "quadrature": ("jaxkl.distributions", ("quadrature_kl",)),
    "adapters": ("jaxkl.distributions", ("from_numpyro", "from_tfp", "from_torch")),
}

#: ``module.name`` documented as an alias of the same object's home (filled below).
ALIASES: dict[str, str] = {}


def _write(name: str, text: str) -> None:
    """Write a generated page, leaving the file alone when nothing changed (no rebuild)."""
    GENERATED.mkdir(exist_ok=True)
    path = GENERATED / name
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def _rst(text: str) -> str:
    return f"```{{eval-rst}}\n{text.rstrip()}\n```\n"


def family_group(cls: type) -> str | None:
    """The family group of a distribution class, from the module that defines it.

    ``jaxkl.distributions.<group>``, a submodule ``jaxkl.distributions.<group>.<x>`` or a
    private ``jaxkl.distributions._<group>_<x>`` all belong to ``<group>``.
    """
    parts = cls.__module__.split(".")
    if parts[:2] != ["jaxkl", "distributions"]:
        return None
    for part in parts[2:]:
        bare = part.lstrip("_")
        for group, modules in GROUP_MODULES.items():
            if bare in modules:
                return group
        for group in FAMILY_GROUPS:
            if bare == group or bare.startswith(group + "_"):
                return group
    return None


def _distributions_kind(name: str, obj: object) -> str:
    """``module``, a family group, ``kl``, ``adapters`` or ``base`` for a distributions name."""
    from jaxkl.distributions import Distribution, ExponentialFamily

    if inspect.ismodule(obj):
        return "module"
    if (
        isinstance(obj, type)
        and issubclass(obj, Distribution)
        and obj not in (Distribution, ExponentialFamily)
    ):
        group = family_group(obj)
        if group is None:
            raise RuntimeError(
                f"jaxkl.distributions.{name} is defined in {obj.__module__}, which is in none "
                f"of the family groups {FAMILY_GROUPS}: extend docs/conf.py's family_group"
            )
        return group
    source = getattr(obj, "__module__", "") or ""
    if source == "jaxkl.kl" or source.startswith("jaxkl.kl."):
        return "kl"
    if source.rsplit(".", 1)[-1].lstrip("_").startswith("adapters"):
        return "adapters"
    return "base"


def _distributions_names() -> dict[str, list[str]]:
    from jaxkl import distributions as jd

    kinds: dict[str, list[str]] = {}
    for name in jd.__all__:
        kinds.setdefault(_distributions_kind(name, getattr(jd, name)), []).append(name)
    return kinds


def _family_page(group: str) -> str:
    names = _distributions_names().get(group, [])
    blocks = [
        _rst(
            f".. autoclass:: jaxkl.distributions.{n}\n   :show-inheritance:\n"
            "   :exclude-members: arg_constraints, support, param_event_ndims, has_rsample"
        )
        for n in names
    ]
    return "\n".join(blocks)


def _plain_signature(obj: object) -> str:
    """``(p, q, *, key=None)``: the call signature without annotations."""
    sig = inspect.signature(obj)
    params = [p.replace(annotation=inspect.Parameter.empty) for p in sig.parameters.values()]
    return str(sig.replace(parameters=params, return_annotation=inspect.Signature.empty))


def _autosummary(names: list[str]) -> str:
    body = "\n".join(f"   {n}" for n in names)
    return _rst(f".. autosummary::\n   :nosignatures:\n\n{body}")


def _api_distributions() -> str:
    kinds = _distributions_names()
    out = []
    for kind, title in DISTRIBUTION_KINDS.items():
        names = kinds.get(kind, [])
        if not names:
            continue
        out.append(f"## {title}\n")
        for n in names:
            is_class = isinstance(getattr(jaxkl.distributions, n), type)
            directive = "autoclass" if is_class else "autofunction"
            options = "\n   :show-inheritance:" if is_class else ""
            if n == "Distribution":
                # the interface every family implements, documented once, here
                options += "\n   :undoc-members:"
            out.append(_rst(f".. {directive}:: jaxkl.distributions.{n}{options}"))
    return "\n".join(out)


def _api_kl() -> str:
    """jaxkl.kl: its own functions, the entry points it shares (aliases), its modules."""
    from jaxkl import distributions as jd
    from jaxkl import kl

    own, shared, modules = [], [], []
    for name in kl.__all__:
        obj = getattr(kl, name)
        if inspect.ismodule(obj):
            modules.append(name)
        elif getattr(jd, name, None) is obj:
            shared.append(name)
        else:
            own.append(name)
    out = [_rst("\n".join(f".. autofunction:: jaxkl.kl.{n}" for n in own))] if own else []
    if shared:
        out.append("## Entry points shared with `jaxkl.distributions`\n")
        out.append(
            "The same functions as in {mod}`jaxkl.distributions`, where they are documented.\n"
        )
        entries = []
        for name in shared:
            ALIASES[f"jaxkl.kl.{name}"] = f"jaxkl.distributions.{name}"
            entries.append(
                f".. py:function:: {name}{_plain_signature(getattr(kl, name))}\n"
                f"   :module: jaxkl.kl\n\n"
                f"   Alias of :func:`jaxkl.distributions.{name}`.\n"
            )
        out.append(_rst("\n".join(entries)))
    if modules:
        out.append("## Closed forms by the group of p\n")
        out.append(
            "Each module registers the closed forms whose p is in its group (private "
            "functions, listed on the [pair table](../pairs.md)).\n"
        )
        out.append(
            _rst("\n".join(f".. automodule:: jaxkl.kl.{m}\n   :no-members:\n" for m in modules))
        )
    return "\n".join(out)


def _api_summary() -> str:
    """The API index: one table per module and group, each name with its one-line summary."""
    from jaxkl import functional, kl, losses, metrics
    from jaxkl.distributions import transforms

    def names(module, skip_modules=True):
        return [
            f"{module.__name__}.{n}"
            for n in module.__all__
            if not (skip_modules and inspect.ismodule(getattr(module, n)))
        ]

    kinds = _distributions_names()
    out = ["## Modules\n", _autosummary(list(PUBLIC_MODULES))]
    out += ["## Top level: `jaxkl`\n", _autosummary(names(jaxkl))]
    out += ["## Tensor KL: `jaxkl.functional`\n", _autosummary(names(functional))]
    out += ["## Losses on logits: `jaxkl.losses`\n", _autosummary(names(losses))]
    out += ["## Distributions: `jaxkl.distributions`\n"]
    for kind, title in DISTRIBUTION_KINDS.items():
        if kinds.get(kind):
            listed = [f"jaxkl.distributions.{n}" for n in kinds[kind]]
            out += [f"### {title}\n", _autosummary(listed)]
    for group in FAMILY_GROUPS:
        if kinds.get(group):
            out += [
                f"### {FAMILY_TITLES[group]}\n",
                f"On their page: [{FAMILY_TITLES[group].lower()}](../distributions/{group}.md).\n",
                _autosummary([f"jaxkl.distributions.{n}" for n in kinds[group]]),
            ]
    out += ["## Transforms: `jaxkl.distributions.transforms`\n", _autosummary(names(transforms))]
    own = [n for n in names(kl) if getattr(jaxkl.distributions, n.rsplit(".", 1)[1], None)
           is not getattr(kl, n.rsplit(".", 1)[1])]  # fmt: skip
    out += [
        "## The registry: `jaxkl.kl`\n",
        "The KL entry points of {mod}`jaxkl.distributions` are also importable from here; "
        "the closed forms are in the modules by the group of p.\n",
        _autosummary(own + [f"jaxkl.kl.{n}" for n in kl.__all__
                            if inspect.ismodule(getattr(kl, n))]),
    ]  # fmt: skip
    out += [
        "## Metrics: `jaxkl.metrics`\n",
        _autosummary(names(metrics) + [f"jaxkl.metrics.nnx.{n}" for n in metrics.nnx.__all__]),
    ]
    return "\n".join(out)


def _optional_page(key: str) -> str:
    module_name, names = OPTIONAL_NAMES[key]
    module = importlib.import_module(module_name)
    present = [n for n in names if hasattr(module, n)]
    missing = [n for n in names if not hasattr(module, n)]
    out = []
    if present:
        refs = ", ".join(f"{{func}}`{module_name}.{n}`" for n in present)
        out.append(f"Reference: {refs}.\n")
    if missing:
        listed = ", ".join(f"`{module_name}.{n}`" for n in missing)
        out.append(
            f":::{{note}}\n{listed}: not in this build of jaxkl yet; this section "
            "describes the contract.\n:::\n"
        )
    return "\n".join(out)


def write_generated() -> None:
    import pairs_table

    _write(
        "pairs.md",
        "% Generated by docs/conf.py from scripts/pairs_table.py: do not edit.\n\n"
        + pairs_table.table(grouped=True)
        + "\n",
    )
    for group in FAMILY_GROUPS:
        _write(f"families_{group}.md", _family_page(group))
    for key in OPTIONAL_NAMES:
        _write(f"{key}.md", _optional_page(key))
    _write("api_distributions.md", _api_distributions())
    _write("api_kl.md", _api_kl())
    _write("api_summary.md", _api_summary())


# --------------------------------------------------------------------------------------
# The API pages document every public name
# --------------------------------------------------------------------------------------

#: Every public module whose __all__ the API pages must cover.
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

write_generated()


def public_names() -> list[str]:
    """``module.name`` for every name of every public ``__all__`` (the modules' own too)."""
    out = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        out.append(module_name)
        out.extend(f"{module_name}.{n}" for n in getattr(module, "__all__", ()))
    return out


def check_api_complete(app, exception) -> None:
    """Warn for each public name that no API page documents (an error under -W)."""
    if exception is not None or app.builder.format != "html":
        return
    from sphinx.util import logging

    documented = set(app.env.get_domain("py").objects)
    for name in public_names():
        if name not in documented:
            logging.getLogger(__name__).warning(
                "public name %s is not documented in docs/api/", name, type="jaxkl"
            )


def _resolve(fullname: str) -> object:
    module, name = fullname.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


def dispatch_signatures(app, what, name, obj, options, signature, return_annotation):
    """One signature line per call form of a :data:`DISPATCH_SIGNATURES` function."""
    targets = DISPATCH_SIGNATURES.get(name)
    if targets is None:
        return None
    # autodoc puts the name before each line up to Sphinx 8, before the first one from 9 on
    later = "" if sphinx.version_info < (9,) else name.rsplit(".", 1)[1]
    return ("\n" + later).join(_plain_signature(_resolve(t)) for t in targets), None


def link_docstrings(app, what, name, obj, options, lines) -> None:
    """Replace the :data:`DOCSTRING_LINKS` phrases of a docstring by links to the pages."""
    for i, line in enumerate(lines):
        for phrase, link in DOCSTRING_LINKS.items():
            if phrase in line:
                lines[i] = line = line.replace(phrase, link)


# --------------------------------------------------------------------------------------
# viewcode: the [docs] back-links of the highlighted sources go to the indexed entry
# --------------------------------------------------------------------------------------

_VIEWCODE_BLOCK = re.compile(
    r'(<div class="viewcode-block" id="(?P<name>[^"]+)">\s*)'
    r'<a class="viewcode-back" href="[^"]*">(?P<text>[^<]*)</a>\n?'
)


def _source_key(fullname: str) -> tuple[str, str] | None:
    """``(defining module, qualified name)`` of a documented ``module.name[.member]``."""
    parts = fullname.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            module = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        top = getattr(module, parts[i], None)
        source = getattr(top, "__module__", None)
        qualname = getattr(top, "__qualname__", None)
        if inspect.ismodule(top) or not isinstance(source, str) or not qualname:
            return None
        return source, ".".join([qualname, *parts[i + 1 :]])
    return None


def _homes(app) -> dict[tuple[str, str], tuple[str, str]]:
    """``(module, qualname)`` of the source -> ``(docname, anchor)`` of its indexed entry."""
    cached = getattr(app.builder, "_jaxkl_homes", None)
    if cached is not None:
        return cached
    homes: dict[tuple[str, str], tuple[str, str]] = {}
    for fullname, entry in app.env.get_domain("py").objects.items():
        if entry.aliased or entry.objtype == "module" or fullname in ALIASES:
            continue
        key = _source_key(fullname)
        if key is not None:
            homes.setdefault(key, (entry.docname, entry.node_id))
    app.builder._jaxkl_homes = homes
    return homes


def fix_viewcode_backlinks(app, pagename, templatename, context, doctree) -> None:
    """Point each ``[docs]`` link of a ``_modules/`` page at the object's documented home.

    sphinx.ext.viewcode builds them from the last page that mentioned the object and from
    one module prefix per source file; a re-exported name (``jaxkl.kl.kl_divergence`` and
    ``jaxkl.distributions.kl_divergence``) then gets an anchor that no page has. A name with
    no indexed entry loses its back-link.
    """
    if not pagename.startswith("_modules/") or pagename == "_modules/index":
        return
    body = context.get("body")
    if not body:
        return
    module = pagename[len("_modules/") :].replace("/", ".")
    homes = _homes(app)

    def repl(match: re.Match) -> str:
        home = homes.get((module, match["name"]))
        if home is None:
            return match[1]
        href = app.builder.get_relative_uri(pagename, home[0]) + "#" + home[1]
        return f'{match[1]}<a class="viewcode-back" href="{href}">{match["text"]}</a>\n'

    context["body"] = _VIEWCODE_BLOCK.sub(repl, body)


def setup(app):
    app.connect("autodoc-process-signature", dispatch_signatures)
    app.connect("autodoc-process-docstring", link_docstrings)
    app.connect("html-page-context", fix_viewcode_backlinks)
    app.connect("build-finished", check_api_complete)
    return {"parallel_read_safe": True}

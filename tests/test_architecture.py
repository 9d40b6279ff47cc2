"""The package's import structure.

The package's import structure: every module imports on its own, no import cycles, and no
private name crosses a package boundary.

What counts as an edge of the import graph (the static walk, :func:`import_graph`):

* every ``import`` / ``from ... import`` of a jaxkl module, at module level *and* inside
  functions (a lazy import is still a dependency), relative names resolved;
* ``import jaxkl.a.b`` and ``from jaxkl.a import b`` (``b`` a submodule) are edges to
  ``jaxkl.a.b``; ``from jaxkl.a import name`` (``name`` defined in ``jaxkl/a/__init__.py``)
  is an edge to the package ``jaxkl.a``, whose ``__init__`` is a node like any module;
* importing ``jaxkl.a.b`` also executes ``jaxkl/a/__init__.py`` when that has not run yet,
  but only needs the package *object* (which exists, possibly half-initialised, once its
  ``__init__`` started), not its names; so that is not an edge. A cycle through a package
  ``__init__`` is one where some module asks the package for a *name* (``from jaxkl.a
  import Name``, ``import jaxkl.a`` then ``jaxkl.a.Name``) while the package imports it.

The architecture these tests hold: ``jaxkl.kl`` imports the submodules of
``jaxkl.distributions`` (never its ``__init__``); ``jaxkl/distributions/__init__.py``
re-exports the KL entry points from ``jaxkl.kl`` as its last step.
"""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys
import textwrap

import pytest

import jaxkl

ROOT = pathlib.Path(jaxkl.__file__).parent


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _package_of(name: str) -> str:
    """The package a module belongs to (a package ``__init__`` belongs to itself)."""
    return name if _is_package(name) else name.rpartition(".")[0]


def _resolve(importer: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = _package_of(importer).split(".")
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(name: str):
    """``(target module, imported names or None)`` for every jaxkl import in module ``name``."""
    tree = ast.parse(MODULES[name].read_text(), filename=str(MODULES[name]))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "jaxkl":
                    yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            module = _resolve(name, node)
            if module.split(".")[0] == "jaxkl":
                yield module, [alias.name for alias in node.names]


def import_graph() -> dict[str, set[str]]:
    """``{module: modules it imports}`` over jaxkl, by the rules in the module docstring."""
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name in MODULES:
        for module, names in _imports(name):
            assert module in MODULES, f"{name} imports {module}, which does not exist"
            if names is None:
                graph[name].add(module)
                continue
            for imported in names:
                sub = f"{module}.{imported}"
                graph[name].add(sub if sub in MODULES else module)
    for name in graph:
        graph[name].discard(name)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as ``[a, b, ..., a]``, or None (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_walk_sees_the_layering():
    graph = import_graph()
    # the KL modules use the concrete distribution modules; the package re-exports the KL
    assert "jaxkl.distributions.real_line" in graph["jaxkl.kl.real_line"]
    assert "jaxkl.kl" in graph["jaxkl.distributions"]
    assert "jaxkl.kl.monte_carlo" in graph["jaxkl.kl._registry"]
    assert not any(dep.startswith("jaxkl.kl") for dep in graph["jaxkl.distributions._base"])


def test_the_walk_finds_a_cycle_when_there_is_one():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_kl_module_imports_the_distributions_package():
    graph = import_graph()
    offenders = sorted(
        name
        for name, deps in graph.items()
        if name.startswith("jaxkl.kl") and "jaxkl.distributions" in deps
    )
    assert not offenders, f"import the submodules of jaxkl.distributions instead: {offenders}"


def test_no_private_name_crosses_a_package_boundary():
    """No private name crosses a package boundary.

    ``from jaxkl.x.y import _name``: the importer must be inside ``_name``'s package (a
    package's private helpers serve its own modules and its subpackages).
    """
    bad = []
    for name in MODULES:
        for module, names in _imports(name):
            for imported in names or ():
                if not imported.startswith("_") or imported.startswith("__"):
                    continue
                sub = f"{module}.{imported}"
                owner = _package_of(module) if sub not in MODULES else module
                importer = _package_of(name)
                if importer != owner and not importer.startswith(owner + "."):
                    bad.append(f"{name}: from {module} import {imported}")
    assert not bad, "private names imported across packages:\n" + "\n".join(bad)


def test_public_init_files_reexport_explicitly():
    """The public ``__init__.py`` files re-export explicitly.

    Every ``__init__.py`` but metrics' (owned elsewhere) has a literal ``__all__`` of
    strings, no star import, and every name in ``__all__`` is bound.
    """
    for name in ("jaxkl", "jaxkl.distributions", "jaxkl.kl"):
        tree = ast.parse(MODULES[name].read_text())
        stars = [
            n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.names[0].name == "*"
        ]
        assert not stars, f"{name}: star import"
        alls = [
            n.value
            for n in tree.body
            if isinstance(n, ast.Assign)
            and any(getattr(t, "id", None) == "__all__" for t in n.targets)
        ]
        assert len(alls) == 1 and isinstance(alls[0], ast.List), f"{name}: __all__ must be one list"
        assert all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in alls[0].elts)
        module = sys.modules.get(name) or __import__(name, fromlist=["_"])
        missing = [n for n in module.__all__ if not hasattr(module, n)]
        assert not missing, f"{name}.__all__ names unbound {missing}"


_IMPORT_EACH = textwrap.dedent(
    """
    import importlib, sys, traceback
    failures = []
    for name in sys.argv[1:]:
        for key in [k for k in sys.modules if k == "jaxkl" or k.startswith("jaxkl.")]:
            del sys.modules[key]
        try:
            importlib.import_module(name)
        except Exception:
            failures.append(name + ":\\n" + traceback.format_exc())
    print("\\n".join(failures))
    sys.exit(1 if failures else 0)
    """
)


@pytest.mark.timeout(120)
def test_every_module_imports_on_its_own():
    """Each module imports on its own.

    Each module is imported first into a clean ``jaxkl`` namespace (one interpreter for
    all: third-party packages stay loaded, every ``jaxkl`` module is dropped in between).
    """
    names = sorted(MODULES)
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORT_EACH, *names],
        capture_output=True,
        text=True,
        cwd=ROOT.parent,
        timeout=110,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_import_jaxkl_leaves_flax_and_matplotlib_until_the_metric_is_touched():
    code = textwrap.dedent(
        """
        import sys
        import jaxkl
        heavy = ("flax", "matplotlib", "optax", "torch", "numpyro", "tensorflow_probability")
        print(sorted(m for m in heavy if m in sys.modules))
        jaxkl.distributions.kl_divergence, jaxkl.functional.kl_divergence, jaxkl.losses
        print(sorted(m for m in heavy if m in sys.modules))
        jaxkl.metrics.KLDivergence
        print("flax" in sys.modules, "matplotlib" in sys.modules)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.split("\n")[:3] == ["[]", "[]", "True False"], out.stdout


def test_one_pytree_base_serves_distributions_transforms_and_metric_states():
    from jaxkl import metrics
    from jaxkl._pytree import Pytree
    from jaxkl.distributions import Distribution
    from jaxkl.distributions.transforms import Transform

    configured = metrics.KLDivergence.configure(reduction="sum")
    for cls in (Distribution, Transform, metrics.KLDivergence, configured):
        assert issubclass(cls, Pytree), cls
    # the state's options (keyword __init__) are inherited by its configured classes
    state = configured(
        **{name: getattr(configured.empty(), name) for name, _ in configured._fields()}
    )
    assert type(state) is configured
    with pytest.raises(TypeError, match="unknown Pytree options.*'order'"):

        class Bad(Pytree, order=True):  # noqa: F841
            x: int

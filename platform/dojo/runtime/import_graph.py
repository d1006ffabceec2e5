"""Which `dojo` modules a file imports, read from its source (nothing is imported to find out).

Why read the source: two things need the imports a module *would* make, including the ones
inside functions that run only later. The Airflow scheduler preloads every module the training
DAG's tasks can reach (see `dojo.runtime.airflow`), so that list is derived instead of kept by
hand; and a test fails on any import cycle inside the package. Imports under
``if TYPE_CHECKING:`` are left out: they never run.
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterable
from functools import cache
from pathlib import Path

PACKAGE = "dojo"


@cache
def _package_dirs(name: str) -> tuple[Path, ...]:
    """The folders of a package (empty for a plain module), without running the package's
    own code: find_spec imports only its parents, and `dojo`'s package inits are docstrings."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return ()
    if spec is None or not spec.submodule_search_locations:
        return ()
    return tuple(Path(p) for p in spec.submodule_search_locations)


def _is_module(name: str) -> bool:
    """True when ``name`` is a submodule on disk (``from a import b``: is ``b`` a module?)."""
    parent, _, leaf = name.rpartition(".")
    return any((folder / f"{leaf}.py").is_file() or (folder / leaf / "__init__.py").is_file()
               for folder in _package_dirs(parent))


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST) -> Iterable[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, except those that only type checkers run."""
    stack = [tree]
    while stack:
        node = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking_only(child):
                stack.append(ast.Module(body=child.orelse, type_ignores=[]))
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                yield child
            stack.append(child)


def imports_in(source: str, module: str = "", is_package: bool = False,
               prefix: str = PACKAGE) -> set[str]:
    """Names of the ``prefix`` modules that ``source`` imports (``from a import b`` counts as
    module ``a.b`` when that is a module, else as ``a``)."""
    found: set[str] = set()
    for node in _import_nodes(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == prefix)
            continue
        base = node.module or ""
        if node.level:  # relative: resolve against this module's package
            parts = module.split(".")
            anchor = parts if is_package else parts[:-1]
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        if base.split(".")[0] != prefix:
            continue
        for alias in node.names:
            candidate = f"{base}.{alias.name}"
            found.add(candidate if _is_module(candidate) else base)
    return found


def module_source(name: str) -> tuple[str, bool]:
    """The source text of an importable module, and whether it is a package."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(name)
    return Path(spec.origin).read_text(), spec.submodule_search_locations is not None


def reachable(roots: Iterable[str], prefix: str = PACKAGE) -> list[str]:
    """Every ``prefix`` module reachable from ``roots`` through imports, sorted."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        source, is_package = module_source(name)
        todo.extend(imports_in(source, name, is_package, prefix) - seen)
    return sorted(seen)


def file_imports(path: Path, prefix: str = PACKAGE) -> set[str]:
    """The ``prefix`` modules a file outside the package (a DAG file) imports."""
    return imports_in(path.read_text(), prefix=prefix)


def package_modules(package: str = PACKAGE) -> list[str]:
    """Every module of an installed package, found on disk (nothing is imported)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(package)
    root = Path(next(iter(spec.submodule_search_locations)))
    names = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join([package, *parts]))
    return names


def module_graph(package: str = PACKAGE) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (module level and inside functions)."""
    graph = {}
    for name in package_modules(package):
        source, is_package = module_source(name)
        graph[name] = imports_in(source, name, is_package, package) - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted: every
    group is an import cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)

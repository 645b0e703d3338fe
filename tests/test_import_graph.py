"""The import graph of stsm-edge: no cycles, and imports point one way (the CLI and the jobs reach the converters
and benchmarks; the library rooms never do). Every import statement, at module level or inside a function, is
an edge."""

import ast
import importlib.util
import pkgutil
import sys
from pathlib import Path

# stsm_edge's own folder, and the two top-level folders the package maps in (pyproject's package-dir).
ROOTS = ("stsm_edge", "stsm_edge.converters", "stsm_edge.benchmarks")
JOBS = {"stsm_edge.__main__", "stsm_edge.cli", "stsm_edge.demo", "stsm_edge.export"}


def modules_of(roots, path=None) -> dict[str, Path]:
    """name -> source file of every module of the packages `roots` (searched on `path`, default sys.path)."""
    found = {}
    for root in roots:
        spec = importlib.util.find_spec(root) if path is None else \
            importlib.machinery.PathFinder.find_spec(root, [str(path)])
        found[root] = Path(spec.origin)
        for info in pkgutil.walk_packages(spec.submodule_search_locations, root + "."):
            module_spec = info.module_finder.find_spec(info.name.rpartition(".")[2], None) \
                if hasattr(info.module_finder, "find_spec") else None
            if module_spec is not None and module_spec.origin:
                found[info.name] = Path(module_spec.origin)
    return found


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    def owner(name: str) -> str | None:  # the module an imported name lives in
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for name, path in modules.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            else:
                continue
            # A module importing its own package (or itself) is Python's normal submodule loading, not a cycle.
            edges |= {t for t in map(owner, targets) if t and t != name and not name.startswith(t + ".")}
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph)))

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_stsm_edge_has_no_import_cycles():
    modules = modules_of(ROOTS)
    assert len(modules) > 40 and "stsm_edge.weights" in modules  # the walk really saw the package
    assert cycles(import_graph(modules)) == []


def test_library_rooms_do_not_reach_the_jobs_converters_or_benchmarks():
    graph = import_graph(modules_of(ROOTS))
    upper = JOBS | {m for m in graph if m.startswith(("stsm_edge.converters", "stsm_edge.benchmarks"))}
    library = set(graph) - upper
    assert {m: sorted(graph[m] & upper) for m in library if graph[m] & upper} == {}


def test_a_cycle_through_a_function_level_import_is_found(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.b import thing\n")
    (package / "b.py").write_text("def thing():\n    from pkg.c import other\n")
    (package / "c.py").write_text("import pkg.a\n")
    (package / "d.py").write_text("import pkg\nfrom pkg import a\n")
    graph = import_graph(modules_of(["pkg"], tmp_path))
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.c"]]

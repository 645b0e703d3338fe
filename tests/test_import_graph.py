"""The import graph of stsm-edge, stated as rules about folders: no cycles between files or between rooms (a
sub-package, or a file at the package's top), and imports point one way: app -> converters / benchmarks -> the
library. Every import statement, at module level or inside a function, is an edge."""

import ast
import importlib.util
import pkgutil
import sys
from pathlib import Path

# stsm_edge's own folder, and the two top-level folders the package maps in (pyproject's package-dir).
ROOTS = ("stsm_edge", "stsm_edge.converters", "stsm_edge.benchmarks")
# Each layer may import only the layers after it; the library is every room not named here.
APP, CONVERTERS, BENCHMARKS = "stsm_edge.app", "stsm_edge.converters", "stsm_edge.benchmarks"
UPPER_LAYERS = {APP: 2, BENCHMARKS: 1, CONVERTERS: 1}
ALSO_ALLOWED = {(BENCHMARKS, CONVERTERS)}  # a benchmark measures what the converters make


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


def room(module: str, packages: set[str]) -> str:
    """The room a module lives in: stsm_edge's sub-package (converters and benchmarks whole), or the module itself
    where it is a file at the package's top; `python -m stsm_edge` (__main__) is the app's."""
    first = ".".join(module.split(".")[:2])
    if first == "stsm_edge.__main__":
        return APP
    return first if first in packages or first in UPPER_LAYERS else module


def room_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    packages = {name for name in graph if name.count(".") == 1 and any(m.startswith(name + ".") for m in graph)}
    rooms: dict[str, set[str]] = {}
    for module, targets in graph.items():
        edges = rooms.setdefault(room(module, packages), set())
        edges |= {room(t, packages) for t in targets}
    return {r: edges - {r} for r, edges in rooms.items()}


def layer(room_name: str) -> int:
    return UPPER_LAYERS.get(room_name, 0)


def upward_imports(rooms: dict[str, set[str]]) -> dict[str, list[str]]:
    """Rooms that import an upper room of their own layer or above: the library reaching app, converters or
    benchmarks; the converters reaching the benchmarks or app; the benchmarks reaching app."""
    found = {}
    for name, targets in rooms.items():
        bad = sorted(t for t in targets
                     if layer(t) > 0 and layer(t) >= layer(name) and (name, t) not in ALSO_ALLOWED)
        if bad:
            found[name] = bad
    return found


def test_stsm_edge_has_no_import_cycles_between_files_or_rooms():
    modules = modules_of(ROOTS)
    assert len(modules) > 40 and "stsm_edge.shift" in modules  # the walk really saw the package
    graph = import_graph(modules)
    assert cycles(graph) == []
    rooms = room_graph(graph)
    assert {APP, "stsm_edge.models", "stsm_edge.data", "stsm_edge.fit", CONVERTERS} <= set(rooms)
    assert cycles(rooms) == []


def test_library_rooms_import_no_command_converter_or_benchmark():
    assert upward_imports(room_graph(import_graph(modules_of(ROOTS)))) == {}


def test_a_planted_upward_import_or_room_cycle_is_found():
    graph = import_graph(modules_of(ROOTS))
    for library_module, upper in [("stsm_edge.shift", "stsm_edge.app.cli"), ("stsm_edge.data.motion", CONVERTERS),
                                  ("stsm_edge.fit.train", "stsm_edge.benchmarks.harness"),
                                  ("stsm_edge.converters.base", "stsm_edge.app.demo")]:
        planted = {**graph, library_module: graph[library_module] | {upper}}
        assert upward_imports(room_graph(planted)), (library_module, upper)
    # models -> data and data -> models: no two files form a cycle, the two rooms do
    planted = {**graph, "stsm_edge.models.resnet": graph["stsm_edge.models.resnet"] | {"stsm_edge.data.sampling"},
               "stsm_edge.data.sampling": graph["stsm_edge.data.sampling"] | {"stsm_edge.models.mobilenet_v2"}}
    assert cycles(planted) == []
    assert ["stsm_edge.data", "stsm_edge.models"] in cycles(room_graph(planted))


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

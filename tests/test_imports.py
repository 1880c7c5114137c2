"""Data flows down once: no module of eventsnn imports, directly or through others, a
module that imports it back; imports inside functions count too (they would only hide
a cycle)."""
import ast
import pathlib

import eventsnn

ROOT = pathlib.Path(eventsnn.__file__).parent


def _modules():
    mods = {}
    for path in ROOT.rglob("*.py"):
        parts = ("eventsnn",) + path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def _imports(name, path, mods):
    """Modules of eventsnn that module ``name`` imports anywhere in its source (the
    package itself excluded: importing it runs __init__, which only re-exports)."""
    is_pkg = path.name == "__init__.py"
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                stem = ".".join(base[:len(base) - node.level + 1] + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            cands = [stem] + [f"{stem}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            cands = [a.name for a in node.names]
        else:
            continue
        for c in cands:
            if c in mods and c != name and c != "eventsnn" and not name.startswith(c + "."):
                out.add(c)
    return out


def _cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, comps = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return comps


def test_no_import_cycle():
    mods = _modules()
    graph = {m: _imports(m, p, mods) for m, p in mods.items()}
    assert len(graph) > 20 and graph["eventsnn.network"]      # the walk found the package
    assert _cycles(graph) == []


def test_the_cycle_check_finds_a_cycle():
    """The check itself: a two-module and a three-module cycle are found, a chain is not."""
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_results_is_pure_data():
    """The result records import nothing of eventsnn: they are plain data."""
    mods = _modules()
    assert _imports("eventsnn.results", mods["eventsnn.results"], mods) == set()

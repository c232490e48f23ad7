"""The package's import graph: no cycles, and no module reaching into another's privates.

Counted from the source (imports inside functions too), so a cycle cannot hide behind a
deferred import. A cycle means two modules are one concept split in two, or a helper
lives in the wrong place.
"""
from __future__ import annotations

import ast
from pathlib import Path

import seqlab

ROOT = Path(seqlab.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module imported, names taken from it) for every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            out.append((base, [a.name for a in node.names]))
    return out


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for target, names in imports(path):
            if not target.startswith("seqlab"):
                continue
            for sub in names:  # "from seqlab.x import y" may import the module x.y
                if f"{target}.{sub}" in modules:
                    edges[name].add(f"{target}.{sub}")
            if target in modules:
                edges[name].add(target)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
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
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def is_package_init_edge(a: str, b: str) -> bool:
    """A package's __init__ importing its own submodules is how packages expose them."""
    return b.startswith(a + ".")


def test_no_import_cycles():
    edges = {a: {b for b in bs if not is_package_init_edge(a, b)} for a, bs in graph().items()}
    assert cycles(edges) == []


def test_no_module_imports_a_private_name_of_another():
    private = []
    for path in ROOT.rglob("*.py"):
        for target, names in imports(path):
            if target.startswith("seqlab"):
                private += [f"{module_name(path)}: {target}.{n}" for n in names
                            if n.startswith("_") and not n.startswith("__")]
    assert private == []

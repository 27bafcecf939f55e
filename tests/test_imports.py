"""No import circle in hopjax: statically (module-level imports form a DAG) and at run time
(every module imports alone, in an interpreter where no other hopjax module is loaded yet).

Imports inside functions are lazy and deliberate (e.g. the config layer asks
`hopjax.registry` for an experiment kind only when it validates one), so only module-level
imports are edges of the graph.
"""

import ast
import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
# package folders of the source tree -> their installed names (see pyproject's package-dir)
PACKAGES = {"hopjax": ROOT / "hopjax", "hopjax.experiments": ROOT / "experiments"}


def modules() -> dict[str, pathlib.Path]:
    """Every hopjax module name -> its file."""
    found = {}
    for name, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            rel = path.relative_to(folder).with_suffix("").parts
            if "__pycache__" in rel or any(p.startswith(".") for p in rel):
                continue
            parts = rel[:-1] if rel[-1] == "__init__" else rel
            full = ".".join((name, *parts))
            if full.startswith("hopjax.experiments") and folder == PACKAGES["hopjax"]:
                continue  # not in the source tree's hopjax/ folder
            found[full] = path
    return found


def _is_package(name: str, mods) -> bool:
    return mods.get(name, pathlib.Path()).name == "__init__.py"


def module_level_imports(name: str, path: pathlib.Path, mods) -> set[str]:
    """The hopjax modules ``name`` imports at module level (not inside functions)."""
    edges = set()
    package = name if _is_package(name, mods) else name.rpartition(".")[0]

    def visit(body):
        for node in body:
            if isinstance(node, ast.Import):
                edges.update(a.name for a in node.names if a.name in mods)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    if sub in mods:
                        edges.add(sub)
                    elif base in mods:
                        edges.add(base)
            elif isinstance(node, (ast.If, ast.Try, ast.With)):  # still run at import time
                visit(node.body)
                visit(getattr(node, "orelse", []))
                for h in getattr(node, "handlers", []):
                    visit(h.body)

    visit(ast.parse(path.read_text()).body)
    edges.discard(name)
    return edges


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph (as a list of nodes), or None."""
    state, stack = {}, []

    def dfs(u):
        state[u] = "open"
        stack.append(u)
        for v in sorted(graph.get(u, ())):
            if state.get(v) == "open":
                return stack[stack.index(v):] + [v]
            if v not in state:
                c = dfs(v)
                if c:
                    return c
        state[u] = "done"
        stack.pop()
        return None

    for u in sorted(graph):
        if u not in state:
            c = dfs(u)
            if c:
                return c
    return None


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_module_level_imports_form_no_circle():
    mods = modules()
    assert {"hopjax.config", "hopjax.rules.daydreaming", "hopjax.experiments.common"} <= set(mods)
    graph = {m: module_level_imports(m, p, mods) for m, p in mods.items()}
    assert "hopjax.dynamics" in graph["hopjax.rules.daydreaming"]  # the parser sees edges
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_config_layer_does_not_import_the_experiments():
    """Not even inside a function: the registry imports a kind by its module's name when a
    config names it (one-way: experiments use the config layer, never the reverse)."""
    mods = modules()
    for name in ("hopjax.config", "hopjax.registry", "hopjax.sweep", "hopjax.io"):
        for node in ast.walk(ast.parse(mods[name].read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                targets = ([a.name for a in node.names] if isinstance(node, ast.Import)
                           else [f"{node.module}.{a.name}" for a in node.names])
                assert not any(t.startswith("hopjax.experiments") for t in targets), (name, targets)


def test_every_module_imports_alone():
    """Each module in an interpreter whose hopjax modules were all unloaded first: an import
    circle that only works in one import order fails here."""
    names = sorted(m for m in modules() if m != "hopjax.experiments.__main__")
    script = (
        "import importlib, json, sys, traceback\n"
        f"names = {names!r}\nfailed = {{}}\n"
        "import jax, numpy, pydantic, xarray\n"  # third-party modules may stay loaded
        "for n in names:\n"
        "    for m in [m for m in sys.modules if m == 'hopjax' or m.startswith('hopjax.')]:\n"
        "        del sys.modules[m]\n"
        "    try:\n"
        "        importlib.import_module(n)\n"
        "    except Exception:\n"
        "        failed[n] = traceback.format_exc(limit=-3)\n"
        "print(json.dumps(failed))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    failed = json.loads(out.stdout.strip().splitlines()[-1])
    assert not failed, "\n".join(f"{k}:\n{v}" for k, v in failed.items())

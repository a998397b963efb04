"""Check jinit's layering (docs/architecture.md): no module imports a module of a higher layer
at import time, and module-level imports form no cycle. Prints the violations; exits 1 if any.

    python scripts/check_layers.py
"""

from __future__ import annotations

import ast
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1] / "jinit"
LAYERS = {
    1: ["_validate", "_format", "_exact", "_threefry", "_sampling", "keys", "activations", "ops",
        "cache", "devices", "_split", "distributed", "shards"],
    2: ["fans", "laws", "registry", "draw", "gain", "meanfield"],
    3: ["models", "data", "losses", "results", "stats"],
    4: ["trees", "describe", "frameworks", "adapters", "haiku"],
    5: ["engine", "diagnostics", "research", "hparams"],
    6: ["experiments", "report", "plots", "plots_hparams", "cli"],
}
LAYER_OF = {name: layer for layer, names in LAYERS.items() for name in names}


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def top_level_imports(path: pathlib.Path, modules: set[str]) -> set[str]:
    """jinit modules imported at module level (not inside functions)."""
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("jinit"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in modules else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("jinit"))
    return found


def main() -> int:
    paths = {module_name(p): p for p in ROOT.rglob("*.py")}
    graph = {m: top_level_imports(p, set(paths)) - {m} for m, p in paths.items()}
    problems = []
    for mod, deps in graph.items():
        top = mod.split(".")[1] if mod != "jinit" else None
        if top is None or top not in LAYER_OF:
            continue
        for dep in deps:
            dep_top = dep.split(".")[1] if dep != "jinit" else "jinit"
            if dep_top == "jinit":
                problems.append(f"{mod} imports the package root")
            elif LAYER_OF.get(dep_top, 0) > LAYER_OF[top]:
                problems.append(
                    f"{mod} (layer {LAYER_OF[top]}) imports {dep} (layer {LAYER_OF[dep_top]})"
                )

    # cycles, ignoring a package's imports of its own submodules through the package
    def deps_of(m: str) -> set[str]:
        return {d for d in graph.get(m, ()) if not m.startswith(d + ".")}

    state: dict[str, int] = {}

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for d in deps_of(m):
            if state.get(d) == 1:
                problems.append("cycle: " + " -> ".join([*stack[stack.index(d) :], d]))
            elif d not in state:
                visit(d, [*stack, d])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    unknown = sorted({m.split(".")[1] for m in graph if m != "jinit"} - set(LAYER_OF))
    problems += [f"module jinit.{u} has no layer in docs/architecture.md" for u in unknown]
    for p in problems:
        print(p)
    print(f"{len(paths)} modules, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

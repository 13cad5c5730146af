"""Structure measures of the source tree (issue 28), printed so a change can be compared before and after.

    python benchmarks/structure.py [ROOT]

- modules under ``arena_bench/`` and ``reference_trainer/``;
- import cycles among project modules, counting every import (top level and inside functions): a
  cycle hidden by moving one import into a function is still a cycle;
- imports of project modules placed inside functions (lazy imports of optional heavy packages such
  as torch are not counted: they are not project modules);
- files that mention ``salt`` and ``max_repairs`` (how far a run's settings travel);
- where the action codes, the end codes, the size limits, the terminal reward and the shaping
  potential are defined (one each is the goal).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGES = ("arena_bench", "reference_trainer")


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def resolve(current: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = current.split(".") if is_package else current.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(root: Path, path: Path, modules: set[str]) -> list[tuple[str, bool]]:
    """(imported project module, inside a function) for each import in PATH."""
    current = module_name(root, path)
    tree = ast.parse(path.read_text())
    out = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue  # imports for annotations only: no import at run time, no cycle
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            targets = []
            if isinstance(child, ast.Import):
                targets = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = resolve(current, path.name == "__init__.py", child)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in child.names]
            for t in targets:
                while t and t not in modules:
                    t = t.rpartition(".")[0]
                if t and t != current:
                    out.append((t, in_function))
            visit(child, inner)

    visit(tree, False)
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10000)

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
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

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def definitions(root: Path, files: list[Path], names: tuple[str, ...]) -> dict[str, list[str]]:
    """Where each of NAMES is assigned at module level or defined as a top-level function."""
    found: dict[str, list[str]] = {n: [] for n in names}
    for path in files:
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in found:
                found[node.name].append(str(path.relative_to(root)))
            elif isinstance(node, ast.Assign):
                for t in node.targets:
                    for el in t.elts if isinstance(t, ast.Tuple) else [t]:
                        if isinstance(el, ast.Name) and el.id in found:
                            found[el.id].append(str(path.relative_to(root)))
    return found


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1])
    files = sorted(p for pkg in PACKAGES for p in (root / pkg).rglob("*.py") if "__pycache__" not in p.parts)
    modules = {module_name(root, p) for p in files}
    graph: dict[str, set[str]] = {}
    in_function = 0
    for path in files:
        for target, inner in imports(root, path, modules):
            graph.setdefault(module_name(root, path), set()).add(target)
            in_function += inner
    found = cycles(graph)
    print(
        f"modules: {len(files)} ({', '.join(f'{pkg} {sum(1 for f in files if f.parts[len(root.parts)] == pkg)}' for pkg in PACKAGES)})"
    )
    print(f"import arrows between project modules: {sum(len(v) for v in graph.values())}")
    print(f"import cycles: {len(found)}")
    for comp in found:
        print(f"    {' <-> '.join(comp)}")
    print(f"project imports inside functions: {in_function}")
    for word in ("salt", "max_repairs"):
        n = sum(1 for p in files if word in p.read_text())
        print(f"files that mention {word!r}: {n}")
    names = ("PROPOSE", "ACCEPT", "WALK", "END_ACCEPTED", "MAX_ISSUES", "MAX_OPTIONS", "terminal_reward",
             "nash_potential", "table_potential", "forward", "forward_rowwise", "welfare", "welfare_array",
             "value_share", "value_shares")  # fmt: skip
    for name, where in definitions(root, files, names).items():
        print(f"defined at module level: {name}: {len(where)} ({', '.join(where)})")


if __name__ == "__main__":
    main()

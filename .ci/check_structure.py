#!/usr/bin/env python3
"""Structure checks for a package tree: import cycles, file length, function length.

Why: ``compute/`` grew into one import cycle held together by imports inside functions.
This keeps it from coming back. Edges are every import that runs: module-level ones and
those inside functions (a cycle closed by a function-level import is still a cycle);
``TYPE_CHECKING`` blocks never run and are not edges.

  python3 .ci/check_structure.py compute            # cycles, files > 1,000 lines, functions > 100
  python3 .ci/check_structure.py compute --cycles   # cycles only

A file whose first 5 lines contain ``strata: table-like`` is exempt from the length limits
(generated or table-like code that says so at its top). A function-level import is allowed
only with a comment on the same line or the line above that says why (``# import here:``).
Exit status 1 when any check fails, with one line per problem.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

MAX_FILE_LINES = 1_000  # lines per file
MAX_FUNCTION_LINES = 100  # lines per function or method body
EXEMPT_MARK = "strata: table-like"
LOCAL_IMPORT_MARK = "import here:"


def module_name(root: Path, path: Path) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _resolve(node: ast.ImportFrom | ast.Import, current: str, is_pkg: bool, modules: set[str]) -> list[str]:
    """The modules of our tree that one import statement loads."""
    targets: list[str] = []
    if isinstance(node, ast.Import):
        for alias in node.names:
            targets.append(alias.name)
    else:
        base = node.module or ""
        if node.level:
            pkg = current.split(".") if is_pkg else current.split(".")[:-1]
            pkg = pkg[: len(pkg) - (node.level - 1)]
            base = ".".join([*pkg, base] if base else pkg)
        targets.append(base)
        for alias in node.names:  # from pkg import module
            targets.append(f"{base}.{alias.name}")
    return [t for t in targets if t in modules]


class _Imports(ast.NodeVisitor):
    """Module-level and function-level imports of one file."""

    def __init__(self) -> None:
        self.top: list[ast.Import | ast.ImportFrom] = []
        self.local: list[ast.Import | ast.ImportFrom] = []
        self.depth = 0

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def _function(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_Import(self, node: ast.Import) -> None:
        (self.local if self.depth else self.top).append(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        (self.local if self.depth else self.top).append(node)


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, list[str]]] = [(start, sorted(graph[start]))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            if children:
                child = children.pop()
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, sorted(graph.get(child, ()))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp: list[str] = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def check(root: Path, *, cycles_only: bool = False) -> list[str]:
    files = sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)
    modules = {module_name(root, p): p for p in files}
    names = set(modules)
    graph: dict[str, set[str]] = {name: set() for name in names}
    problems: list[str] = []
    for name, path in modules.items():
        source = path.read_text()
        tree = ast.parse(source, str(path))
        visitor = _Imports()
        visitor.visit(tree)
        is_pkg = path.name == "__init__.py"
        for node in [*visitor.top, *visitor.local]:
            graph[name].update(t for t in _resolve(node, name, is_pkg, names) if t != name)
        if cycles_only:
            continue
        lines = source.splitlines()
        for node in visitor.local:
            said = " ".join(lines[max(0, node.lineno - 2): node.lineno])
            if LOCAL_IMPORT_MARK not in said:
                problems.append(f"{path}:{node.lineno}: import inside a function without "
                                f"'# {LOCAL_IMPORT_MARK} <why>'")
        if any(EXEMPT_MARK in line for line in lines[:5]):
            continue
        if len(lines) > MAX_FILE_LINES:
            problems.append(f"{path}: {len(lines)} lines (limit {MAX_FILE_LINES})")
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (fn.end_lineno or fn.lineno) - fn.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    problems.append(f"{path}:{fn.lineno}: function {fn.name} is {length} lines "
                                    f"(limit {MAX_FUNCTION_LINES})")
    for comp in find_cycles(graph):
        problems.insert(0, f"import cycle: {' -> '.join(comp)}")
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("root", type=Path, help="package directory, e.g. compute")
    ap.add_argument("--cycles", action="store_true", help="check import cycles only")
    args = ap.parse_args()
    problems = check(args.root.resolve(), cycles_only=args.cycles)
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

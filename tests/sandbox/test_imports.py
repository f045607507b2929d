"""The sandboxes stand on their own: they share no code with the client (a client bug must not
be mirrored by a sandbox bug), so they import nothing of learnerledger but themselves, the
settings (for the default paths of their commands) and the error hierarchy (whose
SandboxError the command line prints); and their modules import one another without a
cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import learnerledger.sandbox

PACKAGE = "learnerledger.sandbox"
ROOT = Path(learnerledger.sandbox.__file__).parent
ALLOWED_OUTSIDE = frozenset({"learnerledger.config", "learnerledger.errors"})


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join((PACKAGE, *parts))] = path
    return found


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every learnerledger module ``name`` imports, wherever the import statement stands
    (inside functions and ``TYPE_CHECKING`` blocks too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                # ``from package import module`` imports the module, not only the package.
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {m for m in found if m == "learnerledger" or m.startswith("learnerledger.")}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, set(modules)) for name, path in modules.items()}


def test_the_sandboxes_import_nothing_of_the_client() -> None:
    outside = {
        (name, imported)
        for name, imports in _graph().items()
        for imported in imports
        if not imported.startswith(PACKAGE) and imported not in ALLOWED_OUTSIDE
    }
    assert sorted(outside) == []


def test_no_import_cycle_among_the_sandbox_modules() -> None:
    graph = {name: {m for m in imports if m in _modules()} for name, imports in _graph().items()}
    cycles: list[list[str]] = []
    state: dict[str, str] = {}  # "open" while on the current path, then "done"

    def visit(name: str, path: list[str]) -> None:
        state[name] = "open"
        for imported in sorted(graph[name]):
            if state.get(imported) == "open":
                cycles.append([*path[path.index(imported) :], imported])
            elif imported not in state:
                visit(imported, [*path, imported])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []

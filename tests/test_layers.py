"""The package's layers hold: no import cycle among learnerledger's modules, and no SQL against
learnerledger's tables outside ``store/`` (the sandboxes keep stores of their own, but their
commands call sandbox functions, never SQL). Read from the source with ``ast``, not by grep."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

import learnerledger

PACKAGE = Path(learnerledger.__file__).parent
ALL = [
    "learnerledger",
    *sorted(m.name for m in pkgutil.walk_packages([str(PACKAGE)], prefix="learnerledger.")),
]


def _path(module: str) -> Path:
    parts = module.split(".")[1:]
    base = PACKAGE.joinpath(*parts)
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def _runtime_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import that can run, at the top or inside a function (a lazy import is still an
    edge: it only moves when the cycle bites), but not those under ``if TYPE_CHECKING:``."""
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in typing_only:
            yield node


def _all_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module if _path(module).name == "__init__.py" else module.rsplit(".", 1)[0]
    for _ in range(node.level - 1):
        package = package.rsplit(".", 1)[0]
    return f"{package}.{node.module}" if node.module else package


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """The modules an import statement loads and binds from."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = _resolve(module, node)
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        yield sub if sub in ALL else base


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module in ALL:
        tree = ast.parse(_path(module).read_text(encoding="utf-8"))
        graph[module] = {
            t
            for node in _runtime_imports(tree)
            for t in _targets(module, node)
            if t in ALL and t != module
        }
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _may_run_sql(module: str) -> bool:
    if module.startswith("learnerledger.store"):
        return True
    # The sandboxes are other systems with stores of their own; their commands are not.
    return module.startswith("learnerledger.sandbox") and not module.endswith("commands")


def _sql_uses(module: str) -> list[str]:
    """What in ``module`` touches SQL: sqlalchemy itself, a table of ours, or ``execute``."""
    tree = ast.parse(_path(module).read_text(encoding="utf-8"))
    uses: list[str] = []
    for node in _all_imports(tree):
        names = (
            [a.name for a in node.names]
            if isinstance(node, ast.Import)
            else [_resolve(module, node)]
        )
        if any(n == "sqlalchemy" or n.startswith("sqlalchemy.") for n in names):
            uses.append(f"line {node.lineno}: imports sqlalchemy")
        if isinstance(node, ast.ImportFrom) and _resolve(module, node).startswith(
            "learnerledger.store"
        ):
            source = importlib.import_module(_resolve(module, node))
            for alias in node.names:
                if isinstance(getattr(source, alias.name, None), sa.Table):
                    uses.append(f"line {node.lineno}: imports the table {alias.name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("execute", "exec_driver_sql"):
            uses.append(f"line {node.lineno}: calls {node.attr}")
    return uses


def test_no_sql_outside_the_store() -> None:
    found = {m: _sql_uses(m) for m in ALL if not _may_run_sql(m)}
    assert {m: uses for m, uses in found.items() if uses} == {}


def test_the_sql_check_sees_sql() -> None:
    assert _sql_uses("learnerledger.store.history")  # a repository: it does run SQL


def _writes(module: str) -> set[str]:
    """The tables of ours that ``module`` inserts into, updates or deletes from by name."""
    tables = set(sa_metadata().tables)
    tree = ast.parse(_path(module).read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        verb, owner = node.func.attr, node.func.value
        if verb not in ("insert", "update", "delete"):
            continue
        if isinstance(owner, ast.Name) and owner.id in tables:
            found.add(owner.id)  # table.insert()
        elif isinstance(owner, ast.Name) and owner.id == "sa" and node.args:
            first = node.args[0]
            if isinstance(first, ast.Name) and first.id in tables:
                found.add(first.id)  # sa.update(table)
    return found


def sa_metadata() -> sa.MetaData:
    from learnerledger.store import metadata

    return metadata


def test_each_table_has_one_writer_module() -> None:
    writers: dict[str, set[str]] = {}
    for module in ALL:
        if module.startswith("learnerledger.sandbox"):
            continue  # the sandboxes' own stores
        for table in _writes(module):
            writers.setdefault(table, set()).add(module)
    assert {t: sorted(m) for t, m in writers.items() if len(m) > 1} == {}
    assert writers["runs"] == {"learnerledger.store.history"}
    assert writers["leases"] == {"learnerledger.store.leases"}
    assert writers["journal_steps"] == {"learnerledger.store.journal"}
    assert writers["contact_links"] == {"learnerledger.store.links"}
    assert writers["connections"] == {"learnerledger.store.connections"}
    assert writers["xero_cursors"] == {"learnerledger.store.cursors"}
    assert all(m.startswith("learnerledger.store.") for ms in writers.values() for m in ms)

"""Every error message learnerledger can raise is in docs/troubleshooting.md with its fix.

Messages are read out of the code with ``ast``: the text of each ``raise SomeError(...)`` of
learnerledger's error classes (the literal parts of an f-string, split where a value goes). A
message is documented when its longest literal part appears in the troubleshooting page, so a
new error, or a reworded one, fails here until the page says what to do about it."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import learnerledger.errors as errors

ROOT = Path(__file__).parents[1]
SRC = ROOT / "src" / "learnerledger"
PAGE = ROOT / "docs" / "troubleshooting.md"
ERROR_CLASSES = {
    name
    for name, value in vars(errors).items()
    if inspect.isclass(value) and issubclass(value, errors.LearnerLedgerError)
}
# Where the message is not the first argument.
MESSAGE_ARG = {"ConfigError": 2, "CsvFileError": 1}
# Messages composed inside errors.py from their arguments.
COMPOSED = (
    "is spent; it resumes at",
    "must be connected again",
    "Xero says:",
    "Money is not conserved",
)


def _literal(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "\0" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return (_literal(node.left) or "\0") + (_literal(node.right) or "\0")
    return None


def _normal(text: str) -> str:
    return " ".join(text.replace("`", "").split())


def raised_messages() -> list[tuple[str, str]]:
    """(where, longest literal part) of every error message in the code."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if path.name == "errors.py" or ("sandbox" in path.parts and path.name != "commands.py"):
            continue  # the sandboxes' own API errors are Xero's and Wisenet's, not ours
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name not in ERROR_CLASSES:
                continue
            index = MESSAGE_ARG.get(str(name), 0)
            if len(node.args) <= index:
                continue
            text = _literal(node.args[index])
            if text is None:
                continue
            parts = [_normal(p).strip(" .:(),'") for p in text.split("\0")]
            longest = max(parts, key=len)
            if len(longest) >= 4:
                found.append((f"{path.relative_to(ROOT)}:{node.lineno}", longest))
    return found


def test_the_scan_finds_the_messages() -> None:
    messages = raised_messages()
    assert len(messages) > 50
    assert any(m == "No Xero organisation is connected" for _, m in messages)


def test_every_error_message_is_in_the_troubleshooting_page() -> None:
    page = _normal(PAGE.read_text())
    missing = [f"{where}: {text!r}" for where, text in raised_messages() if text not in page]
    missing += [f"errors.py: {text!r}" for text in COMPOSED if text not in page]
    assert not missing, "not in docs/troubleshooting.md:\n" + "\n".join(missing)


def test_each_entry_gives_a_fix() -> None:
    rows = [r for r in PAGE.read_text().splitlines() if r.startswith("| ") and "---" not in r]
    cells = [[c.strip() for c in r.strip().strip("|").split("|")] for r in rows]
    assert len(rows) > 50
    assert [r for r, c in zip(rows, cells, strict=True) if len(c) < 2 or not c[-1]] == []

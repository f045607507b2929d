"""Xero's ``where`` and ``order`` query parameters, parsed and compiled to SQL.

Xero evaluates ``where`` with a .NET Dynamic LINQ dialect. The sandbox accepts the subset that
Xero documents and that integrations use, and answers anything else with Xero's
``QueryParseException`` (HTTP 400) in Dynamic LINQ's own words::

    expr     := and ( ("||" | "OR") and )*
    and      := unary ( ("&&" | "AND") unary )*
    unary    := ("!" | "NOT") unary | compare
    compare  := operand ( ("==" | "=" | "!=" | "<>" | ">" | ">=" | "<" | "<=") operand )?
    operand  := "(" expr ")" | STRING | NUMBER | true | false | null
              | Guid("...") | DateTime(y, m, d[, h, mi, s])
              | Member ( "." Method "(" args ")" )*        Member := Name ("." Name)*
    Method   := Contains | StartsWith | EndsWith | ToLower | ToUpper

Strings are double-quoted; a doubled quote ``""`` stands for one quote character. A backslash
is an ordinary character (a public observation of Xero: ``\\"`` does not escape, the query
then fails to parse); this is marked uncertain in the docs. Comparisons of text are
case-sensitive (Xero does not document its collation; case-sensitive is the stricter choice).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from learnerledger.sandbox.xero.errors import query_parse

__all__ = ["Field", "Resolver", "compile_order", "compile_where"]

_KIND_NAMES = {
    "string": "String",
    "guid": "Guid",
    "bool": "Boolean",
    "number": "Decimal",
    "date": "DateTime",
    "null": "Object",
}


@dataclass(frozen=True)
class Field:
    """How a property of the queried type is read in SQL, and its type."""

    sql: str
    kind: str  # string | guid | bool | number | date
    # A column that is never NULL compares plainly, so that SQLite can use its index for a
    # range such as ``Date >= DateTime(2025, 1, 1)``.
    not_null: bool = False


Resolver = Callable[[str], Field | None]


@dataclass(frozen=True)
class _Tok:
    kind: str  # str | num | ident | op | end
    text: str
    value: Any = None


_OPS = ("==", "!=", "<>", ">=", "<=", "&&", "||", "=", ">", "<", "!", "(", ")", ",", ".")


def _tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c == '"':
            buf: list[str] = []
            i += 1
            while True:
                if i >= n:
                    raise query_parse("Unterminated string literal")
                if text[i] == '"':
                    if i + 1 < n and text[i + 1] == '"':
                        buf.append('"')
                        i += 2
                        continue
                    i += 1
                    break
                buf.append(text[i])
                i += 1
            toks.append(_Tok("str", '"', "".join(buf)))
        elif c.isdigit():
            j = i
            while j < n and (text[j].isdigit() or text[j] == "."):
                j += 1
            literal = text[i:j]
            try:
                value: Any = int(literal) if "." not in literal else float(literal)
            except ValueError:
                raise query_parse(f"Invalid real literal '{literal}'") from None
            toks.append(_Tok("num", literal, value))
            i = j
        elif c.isalpha() or c == "_":
            j = i
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            toks.append(_Tok("ident", text[i:j]))
            i = j
        else:
            for op in _OPS:
                if text.startswith(op, i):
                    toks.append(_Tok("op", op))
                    i += len(op)
                    break
            else:
                raise query_parse(f"Syntax error '{c}'")
    toks.append(_Tok("end", ""))
    return toks


# AST: tuples keep it small. ("lit", kind, value) ("member", path) ("call", target, name, args)
# ("bin", op, left, right) ("not", expr)
_Node = tuple[Any, ...]


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokenize(text)
        self.pos = 0

    def peek(self) -> _Tok:
        return self.toks[self.pos]

    def take(self) -> _Tok:
        tok = self.toks[self.pos]
        if tok.kind != "end":  # the end token is never passed, however often it is asked for
            self.pos += 1
        return tok

    def expect(self, op: str) -> None:
        tok = self.take()
        if tok.kind != "op" or tok.text != op:
            raise query_parse(f"'{op}' expected")

    def _is(self, *words: str) -> bool:
        tok = self.peek()
        if tok.kind == "op":
            return tok.text in words
        return tok.kind == "ident" and tok.text.upper() in words

    def parse(self) -> _Node:
        if self.peek().kind == "end":
            raise query_parse("Expression expected")
        node = self.parse_or()
        if self.peek().kind != "end":
            raise query_parse("Syntax error")
        return node

    def parse_or(self) -> _Node:
        left = self.parse_and()
        while self._is("||", "OR"):
            self.take()
            left = ("bin", "||", left, self.parse_and())
        return left

    def parse_and(self) -> _Node:
        left = self.parse_unary()
        while self._is("&&", "AND"):
            self.take()
            left = ("bin", "&&", left, self.parse_unary())
        return left

    def parse_unary(self) -> _Node:
        if self._is("!", "NOT"):
            self.take()
            return ("not", self.parse_unary())
        return self.parse_compare()

    def parse_compare(self) -> _Node:
        left = self.parse_operand()
        tok = self.peek()
        if tok.kind == "op" and tok.text in ("==", "=", "!=", "<>", ">", ">=", "<", "<="):
            self.take()
            op = {"=": "==", "<>": "!="}.get(tok.text, tok.text)
            return ("bin", op, left, self.parse_operand())
        return left

    def parse_operand(self) -> _Node:
        tok = self.take()
        if tok.kind == "op" and tok.text == "(":
            inner = self.parse_or()
            self.expect(")")
            return inner
        if tok.kind == "str":
            return ("lit", "string", tok.value)
        if tok.kind == "num":
            return ("lit", "number", tok.value)
        if tok.kind != "ident":
            raise query_parse("Expression expected")
        word = tok.text
        upper = word.upper()
        if upper in ("TRUE", "FALSE"):
            return ("lit", "bool", upper == "TRUE")
        if upper == "NULL":
            return ("lit", "null", None)
        if upper == "GUID" and self._is("("):
            self.take()
            arg = self.take()
            self.expect(")")
            if arg.kind != "str":
                raise query_parse("No applicable method 'Guid' exists in type 'Guid'")
            try:
                return ("lit", "guid", str(uuid.UUID(arg.value)))
            except ValueError:
                raise query_parse(
                    "Guid should contain 32 digits with 4 dashes "
                    "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)."
                ) from None
        if upper == "DATETIME" and self._is("("):
            return ("lit", "date", self._datetime_args())
        path = [word]
        node: _Node | None = None
        while self._is("."):
            self.take()
            name = self.take()
            if name.kind != "ident":
                raise query_parse("Identifier expected")
            if self._is("("):
                target: _Node = node if node is not None else ("member", ".".join(path))
                node = ("call", target, name.text, self._call_args())
            elif node is not None:
                raise query_parse(f"No property or field '{name.text}' exists in type 'String'")
            else:
                path.append(name.text)
        return node if node is not None else ("member", ".".join(path))

    def _call_args(self) -> list[_Node]:
        self.expect("(")
        args: list[_Node] = []
        if self._is(")"):
            self.take()
            return args
        while True:
            args.append(self.parse_or())
            if self._is(")"):
                self.take()
                return args
            if not self._is(","):
                raise query_parse("')' or ',' expected")
            self.take()

    def _datetime_args(self) -> int:
        self.expect("(")
        parts: list[int] = []
        while True:
            tok = self.take()
            if tok.kind != "num" or not isinstance(tok.value, int):
                raise query_parse("No applicable constructor exists in type 'DateTime'")
            parts.append(tok.value)
            if self._is(")"):
                self.take()
                break
            self.expect(",")
        if len(parts) not in (3, 6):
            raise query_parse("No applicable constructor exists in type 'DateTime'")
        try:
            year, month, day, *clock = parts
            hour, minute, second = clock or (0, 0, 0)
            dt = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        except ValueError:
            raise query_parse(
                "Year, Month, and Day parameters describe an un-representable DateTime."
            ) from None
        return int(dt.timestamp() * 1000)


class _Compiler:
    def __init__(self, resolver: Resolver, type_name: str) -> None:
        self.resolver = resolver
        self.type_name = type_name
        self.params: list[Any] = []
        self.not_null: set[str] = set()  # the SQL of never-NULL columns met so far

    def field(self, path: str) -> Field:
        found = self.resolver(path)
        if found is None:
            name = path.split(".")[0]
            raise query_parse(f"No property or field '{name}' exists in type '{self.type_name}'")
        return found

    def value(self, node: _Node) -> tuple[str, str]:
        """SQL and kind of a value-producing node."""
        tag = node[0]
        if tag == "lit":
            kind, value = node[1], node[2]
            if kind == "null":
                return "NULL", "null"
            self.params.append(int(value) if kind == "bool" else value)
            return "?", kind
        if tag == "member":
            f = self.field(node[1])
            if f.not_null:
                self.not_null.add(f.sql)
            return f.sql, f.kind
        if tag == "call":
            return self.call(node)
        return self.predicate(node), "bool"

    def call(self, node: _Node) -> tuple[str, str]:
        _, target, name, args = node
        sql, kind = self.value(target)
        if kind != "string":
            raise query_parse(
                f"No applicable method '{name}' exists in type '{_KIND_NAMES.get(kind, kind)}'"
            )
        method = name.lower()
        if method in ("tolower", "toupper") and not args:
            return (f"lower({sql})" if method == "tolower" else f"upper({sql})"), "string"
        if method in ("contains", "startswith", "endswith") and len(args) == 1:
            arg = args[0]
            if arg[0] != "lit" or arg[1] != "string":
                raise query_parse(f"No applicable method '{name}' exists in type 'String'")
            text: str = arg[2]
            if not text:
                return "(1 = 1)", "bool"
            if method == "contains":
                self.params.append(text)
                return f"((instr({sql}, ?) > 0) IS 1)", "bool"
            if method == "startswith":
                self.params.extend([len(text), text])
                return f"((substr({sql}, 1, ?) = ?) IS 1)", "bool"
            self.params.extend([len(text), -len(text), text])
            return f"((length({sql}) >= ? AND substr({sql}, ?) = ?) IS 1)", "bool"
        raise query_parse(f"No applicable method '{name}' exists in type 'String'")

    def predicate(self, node: _Node) -> str:
        tag = node[0]
        if tag == "not":
            return f"(NOT {self.predicate(node[1])})"
        if tag == "bin" and node[1] in ("&&", "||"):
            left = self.predicate(node[2])
            right = self.predicate(node[3])
            return f"({left} {'AND' if node[1] == '&&' else 'OR'} {right})"
        if tag == "bin":
            return self.compare(node[1], node[2], node[3])
        sql, kind = self.value(node)
        if kind != "bool":
            raise query_parse("Expression of type 'Boolean' expected")
        return sql if node[0] == "call" else f"({sql} IS 1)"

    def compare(self, op: str, left_node: _Node, right_node: _Node) -> str:
        start = len(self.params)
        left, lkind = self.value(left_node)
        right, rkind = self.value(right_node)
        if "null" in (lkind, rkind):
            if op not in ("==", "!="):
                raise self._incompatible(op, lkind, rkind)
            other = right if lkind == "null" else left
            return f"({other} IS {'NOT ' if op == '!=' else ''}NULL)"
        if {lkind, rkind} == {"guid", "string"}:
            # A GUID property may be compared with a GUID written as a string.
            for i in range(start, len(self.params)):
                if isinstance(self.params[i], str):
                    try:
                        self.params[i] = str(uuid.UUID(self.params[i]))
                    except ValueError:
                        raise self._incompatible(op, lkind, rkind) from None
        elif lkind != rkind or (lkind == "bool" and op not in ("==", "!=")):
            raise self._incompatible(op, lkind, rkind)
        # Every comparison is true or false, never SQL's NULL, as in .NET: a null property
        # equals nothing but null, and is "not equal" to every value.
        if op in ("==", "!="):
            return f"({left} {'IS' if op == '==' else 'IS NOT'} {right})"
        if all(side == "?" or side in self.not_null for side in (left, right)):
            return f"({left} {op} {right})"
        return f"(({left} {op} {right}) IS 1)"

    @staticmethod
    def _incompatible(op: str, left: str, right: str) -> Exception:
        return query_parse(
            f"Operator '{op}' incompatible with operand types "
            f"'{_KIND_NAMES.get(left, left)}' and '{_KIND_NAMES.get(right, right)}'"
        )


def compile_where(text: str, resolver: Resolver, type_name: str) -> tuple[str, list[Any]]:
    """SQL for a ``where`` expression, with its parameters, or QueryParseException."""
    tree = _Parser(text).parse()
    compiler = _Compiler(resolver, type_name)
    sql = compiler.predicate(tree)
    return sql, compiler.params


def compile_order(text: str, resolver: Resolver, type_name: str) -> list[str]:
    """SQL ORDER BY terms for an ``order`` parameter such as ``Name ASC, UpdatedDateUTC DESC``."""
    terms: list[str] = []
    for part in text.split(","):
        words = part.split()
        if not words:
            raise query_parse("Expression expected")
        if len(words) > 2 or (len(words) == 2 and words[1].upper() not in ("ASC", "DESC")):
            raise query_parse("',' or end of expression expected")
        found = resolver(words[0])
        if found is None:
            raise query_parse(
                f"No property or field '{words[0].split('.')[0]}' exists in type '{type_name}'"
            )
        direction = "DESC" if len(words) == 2 and words[1].upper() == "DESC" else "ASC"
        terms.append(f"{found.sql} {direction}")
    return terms

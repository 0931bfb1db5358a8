"""A small SOQL parser: a regex lexer and a recursive-descent parser into a typed tree.

The subset is what an integration reading CRM records uses: field lists with parent relationships
(`Account.Name`), `COUNT()`, WHERE with AND/OR/NOT and parentheses, `= != <> < > <= >= IN NOT IN LIKE`,
string/number/boolean/null literals, date and datetime literals and the date keywords (`TODAY`,
`LAST_N_DAYS:n`, …), ORDER BY (ASC/DESC, NULLS FIRST/LAST), LIMIT and OFFSET. Anything else is a
`SoqlError` naming the token and its position, which the stand-in answers as Salesforce does
(400 MALFORMED_QUERY). Evaluation against records lives in `query.py`; this module knows no schema.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from twin.errors import TwinError


class SoqlError(TwinError, ValueError):
    """The query is not in the supported SOQL subset; the message names the position and token."""


class _Node(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FieldRef(_Node):
    """A field path as written: `Name`, or `Account.Name` through a parent relationship."""

    path: tuple[str, ...]


Scalar = str | int | float | bool | date | datetime | None


class Literal_(_Node):
    value: Scalar
    # A date range keyword (TODAY, LAST_N_DAYS:n…) compares against a half-open range of days.
    range_end: date | None = None


Op = Literal["=", "!=", "<", ">", "<=", ">="]


class Comparison(_Node):
    field: FieldRef
    op: Op
    value: Literal_


class InList(_Node):
    field: FieldRef
    values: tuple[Literal_, ...]
    negated: bool = False


class Like(_Node):
    field: FieldRef
    pattern: str


class Not(_Node):
    operand: Condition


class BoolOp(_Node):
    op: Literal["AND", "OR"]
    operands: tuple[Condition, ...]


Condition = Comparison | InList | Like | Not | BoolOp
Not.model_rebuild()
BoolOp.model_rebuild()


class OrderItem(_Node):
    field: FieldRef
    descending: bool = False
    nulls_last: bool = False


class Query(_Node):
    fields: tuple[FieldRef, ...]
    count_only: bool = False
    sobject: str
    where: Condition | None = None
    order_by: tuple[OrderItem, ...] = ()
    limit: int | None = None
    offset: int | None = None


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),])
  | (?P<datekw>[A-Za-z_]+:\d+)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_KEYWORDS = frozenset(
    [
        "SELECT",
        "FROM",
        "WHERE",
        "AND",
        "OR",
        "NOT",
        "IN",
        "LIKE",
        "ORDER",
        "BY",
        "ASC",
        "DESC",
        "NULLS",
        "FIRST",
        "LAST",
        "LIMIT",
        "OFFSET",
        "TRUE",
        "FALSE",
        "NULL",
        "COUNT",
    ]
)
MAX_QUERY_CHARS = 100_000  # Salesforce's limit on the length of a SOQL statement
# Parentheses and NOTs nest by recursion here: bound them well below Python's recursion limit.
MAX_NESTING = 64


class _Tok(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: str
    text: str
    pos: int


def tokenize(text: str) -> list[_Tok]:
    if len(text) > MAX_QUERY_CHARS:
        raise SoqlError(f"query is {len(text)} characters; the limit is {MAX_QUERY_CHARS}")
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise SoqlError(f"unexpected character {text[pos]!r} at position {pos}")
        kind = m.lastgroup or ""
        if kind != "ws":
            tokens.append(_Tok(kind=kind, text=m.group(), pos=pos))
        pos = m.end()
    return tokens


def _unquote(raw: str) -> str:
    body, out, i = raw[1:-1], [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            nxt = body[i + 1]
            if nxt not in _ESCAPES and nxt not in "%_":
                raise SoqlError(f"invalid escape sequence \\{nxt} in {raw}")
            # \% and \_ stay escaped: they only mean something inside a LIKE pattern.
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _date_keyword(word: str, today: date) -> tuple[date, date] | None:
    """[start, end) of a relative date keyword, or None when `word` is not one."""
    name, _, n_text = word.upper().partition(":")
    n = int(n_text) if n_text else None
    fixed = {"TODAY": (0, 1), "YESTERDAY": (-1, 0), "TOMORROW": (1, 2)}
    if n is None and name in fixed:
        a, b = fixed[name]
        return today + timedelta(days=a), today + timedelta(days=b)
    if n is not None and name == "LAST_N_DAYS":
        return today - timedelta(days=n), today + timedelta(days=1)
    if n is not None and name == "NEXT_N_DAYS":
        return today + timedelta(days=1), today + timedelta(days=n + 1)
    return None


class _Parser:
    def __init__(self, text: str, today: date) -> None:
        self.tokens = tokenize(text)
        self.i = 0
        self.today = today
        self.length = len(text)
        self.depth = 0

    # -- token helpers -------------------------------------------------------------------------
    def peek(self) -> _Tok | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def at_keyword(self, *words: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == "ident" and tok.text.upper() in words

    def error(self, expected: str) -> SoqlError:
        tok = self.peek()
        if tok is None:
            return SoqlError(f"unexpected end of query at position {self.length}: expected {expected}")
        return SoqlError(f"unexpected token {tok.text!r} at position {tok.pos}: expected {expected}")

    def keyword(self, word: str) -> None:
        if not self.at_keyword(word):
            raise self.error(word)
        self.i += 1

    def punct(self, ch: str) -> None:
        tok = self.peek()
        if tok is None or tok.kind != "punct" or tok.text != ch:
            raise self.error(repr(ch))
        self.i += 1

    def at_punct(self, ch: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == "punct" and tok.text == ch

    # -- grammar -------------------------------------------------------------------------------
    def query(self) -> Query:
        self.keyword("SELECT")
        count_only = False
        fields: list[FieldRef] = []
        if self.at_keyword("COUNT"):
            self.i += 1
            self.punct("(")
            self.punct(")")
            count_only = True
        else:
            fields.append(self.field())
            while self.at_punct(","):
                self.i += 1
                fields.append(self.field())
        self.keyword("FROM")
        sobject = self.name("an object name")
        where = None
        if self.at_keyword("WHERE"):
            self.i += 1
            where = self.or_expr()
        order: list[OrderItem] = []
        if self.at_keyword("ORDER"):
            self.i += 1
            self.keyword("BY")
            order.append(self.order_item())
            while self.at_punct(","):
                self.i += 1
                order.append(self.order_item())
        limit = self.integer_clause("LIMIT")
        offset = self.integer_clause("OFFSET")
        if self.peek() is not None:
            raise self.error("end of query")
        return Query(
            fields=tuple(fields),
            count_only=count_only,
            sobject=sobject,
            where=where,
            order_by=tuple(order),
            limit=limit,
            offset=offset,
        )

    def name(self, what: str) -> str:
        tok = self.peek()
        if tok is None or tok.kind != "ident" or "." in tok.text or tok.text.upper() in _KEYWORDS:
            raise self.error(what)
        self.i += 1
        return tok.text

    def field(self) -> FieldRef:
        tok = self.peek()
        if tok is None or tok.kind != "ident" or tok.text.upper() in _KEYWORDS:
            raise self.error("a field name")
        self.i += 1
        return FieldRef(path=tuple(tok.text.split(".")))

    def integer_clause(self, word: str) -> int | None:
        if not self.at_keyword(word):
            return None
        self.i += 1
        tok = self.peek()
        if tok is None or tok.kind != "number" or not tok.text.isdigit():
            raise self.error(f"a non-negative integer after {word}")
        self.i += 1
        return int(tok.text)

    def order_item(self) -> OrderItem:
        field = self.field()
        descending = False
        if self.at_keyword("ASC", "DESC"):
            descending = self.peek().text.upper() == "DESC"  # type: ignore[union-attr]
            self.i += 1
        # Salesforce's default: nulls first ascending, nulls last descending.
        nulls_last = descending
        if self.at_keyword("NULLS"):
            self.i += 1
            if not self.at_keyword("FIRST", "LAST"):
                raise self.error("FIRST or LAST after NULLS")
            nulls_last = self.peek().text.upper() == "LAST"  # type: ignore[union-attr]
            self.i += 1
        return OrderItem(field=field, descending=descending, nulls_last=nulls_last)

    def or_expr(self) -> Condition:
        operands = [self.and_expr()]
        while self.at_keyword("OR"):
            self.i += 1
            operands.append(self.and_expr())
        return operands[0] if len(operands) == 1 else BoolOp(op="OR", operands=tuple(operands))

    def and_expr(self) -> Condition:
        operands = [self.not_expr()]
        while self.at_keyword("AND"):
            self.i += 1
            operands.append(self.not_expr())
        return operands[0] if len(operands) == 1 else BoolOp(op="AND", operands=tuple(operands))

    def not_expr(self) -> Condition:
        if not (self.at_keyword("NOT") or self.at_punct("(")):
            return self.comparison()
        self.depth += 1
        if self.depth > MAX_NESTING:
            pos = tok.pos if (tok := self.peek()) else self.length
            raise SoqlError(f"conditions nest deeper than {MAX_NESTING} levels at position {pos}")
        try:
            if self.at_keyword("NOT"):
                self.i += 1
                return Not(operand=self.not_expr())
            self.i += 1
            inner = self.or_expr()
            self.punct(")")
            return inner
        finally:
            self.depth -= 1

    def comparison(self) -> Condition:
        field = self.field()
        if self.at_keyword("LIKE"):
            self.i += 1
            tok = self.peek()
            if tok is None or tok.kind != "string":
                raise self.error("a quoted pattern after LIKE")
            self.i += 1
            return Like(field=field, pattern=_unquote(tok.text))
        negated = False
        if self.at_keyword("NOT"):
            self.i += 1
            negated = True
            if not self.at_keyword("IN"):
                raise self.error("IN after NOT")
        if self.at_keyword("IN"):
            self.i += 1
            self.punct("(")
            values = [self.literal()]
            while self.at_punct(","):
                self.i += 1
                values.append(self.literal())
            self.punct(")")
            return InList(field=field, values=tuple(values), negated=negated)
        tok = self.peek()
        if tok is None or tok.kind != "op":
            raise self.error("a comparison operator (= != < > <= >= IN NOT IN LIKE)")
        self.i += 1
        op = "!=" if tok.text == "<>" else tok.text
        return Comparison(field=field, op=op, value=self.literal())

    def literal(self) -> Literal_:
        tok = self.peek()
        if tok is None:
            raise self.error("a value")
        self.i += 1
        if tok.kind == "string":
            return Literal_(value=_unquote(tok.text))
        if tok.kind == "number":
            return Literal_(value=float(tok.text) if "." in tok.text else int(tok.text))
        if tok.kind == "date":
            try:
                return Literal_(value=date.fromisoformat(tok.text))
            except ValueError as exc:
                raise SoqlError(f"invalid date {tok.text!r} at position {tok.pos}") from exc
        if tok.kind == "datetime":
            try:
                return Literal_(value=datetime.fromisoformat(tok.text.replace("Z", "+00:00")))
            except ValueError as exc:
                raise SoqlError(f"invalid datetime {tok.text!r} at position {tok.pos}") from exc
        if tok.kind in ("ident", "datekw"):
            word = tok.text.upper()
            if word in ("TRUE", "FALSE"):
                return Literal_(value=word == "TRUE")
            if word == "NULL":
                return Literal_(value=None)
            span = _date_keyword(tok.text, self.today)
            if span is not None:
                return Literal_(value=span[0], range_end=span[1])
        self.i -= 1
        raise self.error("a value (quoted string, number, TRUE, FALSE, NULL, date or date keyword)")


def parse(text: str, *, today: date) -> Query:
    """Parse one SOQL statement; `today` anchors the relative date keywords (an injected clock)."""
    return _Parser(text, today).query()

"""Query text as the auditor sees it: literal values replaced by `?`.

A query text is itself personal data when it says `WHERE ssn = '123-45-6789'`. The log keeps the text
as run (it is the evidence); the auditor's views (`twin audit query`, query_history) show it with every
string and number literal replaced by `?`, like Snowflake's parameterised query text. sqlglot does it
when the text parses; otherwise a tokenising regex does, erring towards hiding too much (everything
from the first quote to the last is hidden). Comments are dropped too: they can carry the same values.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

import sqlglot
from sqlglot import exp

# One pass over the text. Where the text does not parse, the dialect's quoting rules are unknown
# ('' or \' inside a string?), and guessing wrong would leave a value outside the string. So a string
# runs from the first quote to the *last* one (or to the end when unclosed), hiding any SQL between;
# the same for $$-strings. Quoted identifiers and words (identifiers like t1) are kept; any run that
# starts with a digit is a number (0x1F, 1e5 and 12abc included).
_TOKENS = re.compile(
    r"""(?P<ident>"(?:[^"]|"")*"?)"""
    r"""|(?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))"""
    r"""|(?P<str>'.*'|'.*)"""
    r"""|(?P<dollar>\$\$.*\$\$|\$\$.*)"""
    r"""|(?P<word>[A-Za-z_][\w$]*)"""
    r"""|(?P<num>\.?\d[\w.]*)""",
    re.DOTALL,
)


def _regex(sql: str) -> str:
    def sub(m: re.Match[str]) -> str:
        if m.group("ident") is not None or m.group("word") is not None:
            return m.group(0)
        if m.group("comment") is not None:
            return " "
        return "?"

    return _TOKENS.sub(sub, sql)


def _literal_to_placeholder(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.Literal):
        return exp.Placeholder()
    return node


@lru_cache(maxsize=4096)
def redact_sql(sql: str | None) -> str | None:
    """`sql` with string and number literals replaced by `?` (None stays None)."""
    if sql is None:
        return None
    try:
        trees = sqlglot.parse(sql, read="duckdb")
        if not trees or any(t is None for t in trees):
            raise ValueError("nothing parsed")
        out = "; ".join(
            t.transform(_literal_to_placeholder).sql(dialect="duckdb", comments=False)
            for t in trees
            if t is not None
        )
    except Exception:  # any parse or generate failure: the regex never fails and hides more
        return _regex(sql)
    # sqlglot keeps some values outside Literal nodes (e.g. inside a Command it could not parse):
    # a final regex pass catches any quoted string left.
    return _regex(out)


def redact_text(text: str | None) -> str | None:
    """Free text (an error message): quoted values hidden, numbers kept (they are line numbers)."""
    if text is None:
        return None
    return re.sub(r"'(?:[^'\\]|\\.|'')*'?", "'…'", text)


def redacted_hash(sql: str | None) -> str | None:
    """The hash of the redacted text (Snowflake's parameterised hash): the hash of the raw text of a
    query over one SSN could be brute-forced back to the SSN."""
    red = redact_sql(sql)
    return None if red is None else hashlib.sha256(red.encode()).hexdigest()

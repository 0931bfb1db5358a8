"""Snowflake policy DDL → pydantic models, and back.

sqlglot turns `CREATE MASKING POLICY` into a bare Command and cannot parse `CREATE ROW ACCESS POLICY`,
so the statement headers are matched here and only the policy body goes through sqlglot. Anything
not understood is an error: a policy file that silently drops a statement would leave data exposed.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError

from twin.governance.errors import PolicyParseError, QueryDenied
from twin.governance.firewall import check_nesting, check_size, check_tree_depth, scan
from twin.governance.models import (
    AddRowAccessPolicy,
    Arg,
    CreateMappingTable,
    CreateRole,
    CreateTag,
    GrantRole,
    InsertRows,
    MaskingPolicy,
    PolicyFile,
    RowAccessPolicy,
    SetMaskingPolicy,
    SetTag,
    Statement,
    TagMaskingPolicy,
)

_NAME = r'(?:"[^"]+"|[A-Za-z_][A-Za-z0-9_$]*)'
_QNAME = rf"{_NAME}(?:\s*\.\s*{_NAME})*"
_STR = r"'(?:[^']|'')*'"
_F = re.IGNORECASE | re.DOTALL

_CREATE_POLICY = re.compile(
    rf"^CREATE\s+(?P<repl>OR\s+REPLACE\s+)?(?P<kind>MASKING|ROW\s+ACCESS)\s+POLICY\s+"
    rf"(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>{_QNAME})\s+AS\s*\((?P<args>.*?)\)\s*RETURNS\s+"
    rf"(?P<returns>[A-Za-z_]+(?:\s*\([0-9,\s]*\))?)\s*->\s*(?P<body>.+?)"
    rf"(?:\s+COMMENT\s*=\s*(?P<comment>{_STR}))?$",
    _F,
)
_SET_MASK = re.compile(
    rf"^ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?P<table>{_QNAME})\s+(?:MODIFY|ALTER)\s+(?:COLUMN\s+)?"
    rf"(?P<column>{_NAME})\s+SET\s+MASKING\s+POLICY\s+(?P<policy>{_QNAME})"
    rf"(?:\s+USING\s*\((?P<using>[^)]*)\))?(?:\s+FORCE)?$",
    _F,
)
_SET_TAG = re.compile(
    rf"^ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?P<table>{_QNAME})\s+(?:MODIFY|ALTER)\s+(?:COLUMN\s+)?"
    rf"(?P<column>{_NAME})\s+SET\s+TAG\s+(?P<tag>{_QNAME})\s*=\s*(?P<value>{_STR})$",
    _F,
)
_ADD_RAP = re.compile(
    rf"^ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?P<table>{_QNAME})\s+ADD\s+ROW\s+ACCESS\s+POLICY\s+"
    rf"(?P<policy>{_QNAME})\s+ON\s*\((?P<cols>[^)]*)\)$",
    _F,
)
_TAG_MASK = re.compile(
    rf"^ALTER\s+TAG\s+(?:IF\s+EXISTS\s+)?(?P<tag>{_QNAME})\s+SET\s+MASKING\s+POLICY\s+(?P<policy>{_QNAME})$",
    _F,
)
_CREATE_TAG = re.compile(
    rf"^CREATE\s+(?P<repl>OR\s+REPLACE\s+)?TAG\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>{_QNAME})"
    rf"(?:\s+ALLOWED_VALUES\s+(?P<allowed>{_STR}(?:\s*,\s*{_STR})*))?"
    rf"(?:\s+COMMENT\s*=\s*(?P<comment>{_STR}))?$",
    _F,
)
_CREATE_ROLE = re.compile(
    rf"^CREATE\s+(?:OR\s+REPLACE\s+)?ROLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>{_NAME})$", _F
)
_GRANT_ROLE = re.compile(rf"^GRANT\s+ROLE\s+(?P<role>{_NAME})\s+TO\s+ROLE\s+(?P<to>{_NAME})$", _F)
_CREATE_TABLE = re.compile(
    rf"^CREATE\s+(?:OR\s+REPLACE\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<table>{_QNAME})\s*\((?P<cols>.*)\)$",
    _F,
)
_INSERT = re.compile(r"^INSERT\s+INTO\s+", _F)

MAPPING_SCHEMA = "governance"


class _Src:
    """One statement with the line it started on, for error messages."""

    def __init__(self, text: str, line: int) -> None:
        self.text = text
        self.line = line


def split_statements(text: str) -> list[_Src]:
    """Split on `;` outside strings, quoted names and comments; comments are dropped."""
    out: list[_Src] = []
    buf: list[str] = []
    blank = True  # buf holds only whitespace so far (tracked: re-joining buf per character is quadratic)
    line = 1
    start_line = 1
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "-" and text.startswith("--", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if ch == "/" and text.startswith("/*", i):
            j = text.find("*/", i + 2)
            end = n if j < 0 else j + 2
            line += text.count("\n", i, end)
            buf.append(" ")
            i = end
            continue
        if ch in "'\"":
            j = i + 1
            while j < n:
                if text[j] == ch:
                    if j + 1 < n and text[j + 1] == ch:
                        j += 2
                        continue
                    break
                j += 1
            if j >= n:
                raise PolicyParseError(f"line {line}: unterminated {ch} quote")
            chunk = text[i : j + 1]
            line += chunk.count("\n")
            buf.append(chunk)
            blank = False
            i = j + 1
            continue
        if ch == ";":
            stmt = "".join(buf).strip()
            if stmt:
                out.append(_Src(stmt, start_line))
            buf = []
            blank = True
            i += 1
            continue
        if ch == "\n":
            line += 1
        if blank and not ch.isspace():
            start_line = line
            blank = False
        buf.append(ch)
        i += 1
    stmt = "".join(buf).strip()
    if stmt:
        out.append(_Src(stmt, start_line))
    return out


def ident(raw: str) -> str:
    """Snowflake folds unquoted names; DuckDB compares them case-insensitively: keep them lower case."""
    raw = raw.strip()
    if raw.startswith('"') and raw.endswith('"'):
        return raw[1:-1]
    return raw.lower()


def qname(raw: str, parts: int | None = None) -> str:
    names = [ident(p) for p in re.findall(_NAME, raw)]
    if parts is not None:
        if len(names) < parts:
            raise PolicyParseError(f"{raw.strip()!r}: expected a {parts}-part name (schema.table)")
        names = names[-parts:]
    return ".".join(names)


def role_name(raw: str) -> str:
    raw = raw.strip()
    return raw[1:-1] if raw.startswith('"') else raw.upper()


def _unquote(s: str) -> str:
    return s[1:-1].replace("''", "'")


def _split_top(s: str) -> list[str]:
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        parts.append("".join(cur).strip())
    return parts


# Column and argument types a policy file may declare, by family, with their DuckDB spelling. A type is
# matched against this list and the DuckDB type is generated from the match, never pasted from the file:
# a mapping table's column types end up in a CREATE TABLE statement.
_TYPES: dict[str, str] = {
    "STRING": "VARCHAR", "VARCHAR": "VARCHAR", "TEXT": "VARCHAR", "CHAR": "VARCHAR", "CHARACTER": "VARCHAR",
    "NVARCHAR": "VARCHAR", "NUMBER": "DECIMAL", "NUMERIC": "DECIMAL", "DECIMAL": "DECIMAL", "INT": "BIGINT",
    "INTEGER": "BIGINT", "BIGINT": "BIGINT", "SMALLINT": "BIGINT", "TINYINT": "BIGINT", "FLOAT": "DOUBLE",
    "DOUBLE": "DOUBLE", "REAL": "DOUBLE", "BOOLEAN": "BOOLEAN", "DATE": "DATE", "TIMESTAMP": "TIMESTAMP",
    "TIMESTAMP_NTZ": "TIMESTAMP", "DATETIME": "TIMESTAMP", "TIMESTAMP_TZ": "TIMESTAMPTZ",
    "TIMESTAMP_LTZ": "TIMESTAMPTZ",
}  # fmt: skip
_TYPE = re.compile(r"^(?P<base>[A-Z_]+)(?:\((?P<p>[0-9]{1,9})(?:,(?P<s>[0-9]{1,2}))?\))?$")


def check_type(raw: str, where: str) -> str:
    """A declared type, normalised (`NUMBER(38,0)`), when it is on the allowlist; else an error."""
    t = re.sub(r"\s+", "", raw).upper()
    m = _TYPE.match(t)
    if not m or m["base"] not in _TYPES:
        shown = raw.strip()[:40]
        raise PolicyParseError(
            f"{where}: type {shown!r} is not allowed (use one of {', '.join(sorted(_TYPES))}, "
            "with (precision[, scale]) where it takes one)"
        )
    return t


def duckdb_type(t: str) -> str:
    """The DuckDB type of a type `check_type` accepted, built from the allowlist (not from the text)."""
    m = _TYPE.match(t)
    if not m or m["base"] not in _TYPES:
        raise PolicyParseError(f"type {t!r} is not allowed")
    duck = _TYPES[m["base"]]
    if duck == "DECIMAL":
        p = int(m["p"] or 38)
        sc = int(m["s"] or 0)
        if not 1 <= p <= 38 or sc > p:
            raise PolicyParseError(f"type {t!r}: precision 1..38 and scale <= precision")
        return f"DECIMAL({p},{sc})"
    return duck


_FAMILY = {
    "VARCHAR": "string", "DECIMAL": "number", "BIGINT": "number", "DOUBLE": "number", "BOOLEAN": "boolean",
    "DATE": "date", "TIMESTAMP": "timestamp", "TIMESTAMPTZ": "timestamp",
}  # fmt: skip


def type_family(t: str) -> str:
    """string, number, boolean, date or timestamp, for a type `check_type` accepted."""
    m = _TYPE.match(t)
    return _FAMILY[_TYPES[m["base"]]] if m and m["base"] in _TYPES else t.lower()


def _args(raw: str, where: str) -> list[Arg]:
    args = []
    for part in _split_top(raw):
        m = re.match(rf"^({_NAME})\s+(.+)$", part, re.DOTALL)
        if not m:
            raise PolicyParseError(f"{where}: cannot read argument {part!r} (expected `name TYPE`)")
        name = ident(m.group(1))
        args.append(Arg(name=name, type=check_type(m.group(2), f"{where} ({name})")))
    if not args:
        raise PolicyParseError(f"{where}: a policy needs at least one argument")
    return args


_SNOWFLAKE = Dialect.get_or_raise("snowflake")
# Policy bodies may read the session variables Snowflake exposes (GETVARIABLE('DEPARTMENT')): the
# compiler maps the name into the twin's own `twin_` namespace. Everything else follows the user rules.
POLICY_FUNCTIONS = frozenset({"getvariable"})


def body_tree(body: str, where: str) -> exp.Expr:
    """A policy body parsed and checked with the firewall's rules (functions, nesting, statements).

    Only table references are left to the caller, who knows which mapping tables were declared; table
    functions and file paths are refused here.
    """
    try:
        check_size(body)
        tokens = _SNOWFLAKE.tokenize(body)
        check_nesting(tokens)
        trees = _SNOWFLAKE.parser().parse(tokens, body)
        if len(trees) != 1 or trees[0] is None:
            raise PolicyParseError(f"{where}: the policy body must be one expression")
        tree = trees[0]
        check_tree_depth(tree, len(tokens))
        found = scan(tree, POLICY_FUNCTIONS)
    except (ParseError, TokenError) as e:
        raise PolicyParseError(f"{where}: cannot parse the policy body: {str(e).splitlines()[0]}") from None
    except QueryDenied as e:
        raise PolicyParseError(f"{where}: {e.reason}") from None
    except RecursionError:
        raise PolicyParseError(f"{where}: the policy body is nested too deeply") from None
    if isinstance(tree, exp.Command | exp.Query):
        raise PolicyParseError(f"{where}: the policy body is not an expression")
    for t in found.tables:
        if not isinstance(t.this, exp.Identifier):
            raise PolicyParseError(f"{where}: a policy body cannot call a table function ({t.sql()})")
        if t.catalog or (t.db or "").lower() != MAPPING_SCHEMA:
            raise PolicyParseError(
                f"{where}: a policy body may read only mapping tables in {MAPPING_SCHEMA}.* "
                f"({t.sql(dialect='snowflake')} is not one)"
            )
    return tree


def normalise_body(body: str, where: str) -> str:
    return body_tree(body, where).sql(dialect="snowflake")


def parse_statement(src: _Src) -> Statement:
    text = src.text
    where = f"line {src.line}"
    if m := _CREATE_POLICY.match(text):
        name = qname(m["name"])
        args = _args(m["args"], where)
        body = normalise_body(m["body"], f"{where} ({name})")
        comment = _unquote(m["comment"]) if m["comment"] else None
        if m["kind"].upper().startswith("MASKING"):
            returns = check_type(m["returns"], f"{where} ({name} RETURNS)")
            if type_family(returns) != type_family(args[0].type):
                raise PolicyParseError(
                    f"{where} ({name}): RETURNS {returns} does not match the masked value's type "
                    f"{args[0].type}; a masking policy returns the type of its first argument"
                )
            return MaskingPolicy(
                name=name, or_replace=bool(m["repl"]), args=args, returns=returns, body=body, comment=comment
            )
        if m["returns"].strip().upper() != "BOOLEAN":
            raise PolicyParseError(f"{where}: a row access policy must return BOOLEAN")
        return RowAccessPolicy(name=name, or_replace=bool(m["repl"]), args=args, body=body, comment=comment)
    if m := _SET_MASK.match(text):
        using = [ident(c) for c in m["using"].split(",")] if m["using"] else []
        column = ident(m["column"])
        if using and using[0] != column:
            raise PolicyParseError(f"{where}: USING must start with the masked column {column!r}")
        return SetMaskingPolicy(
            table=qname(m["table"], 2), column=column, policy=qname(m["policy"]), using=using
        )
    if m := _SET_TAG.match(text):
        return SetTag(
            table=qname(m["table"], 2),
            column=ident(m["column"]),
            tag=qname(m["tag"]),
            value=_unquote(m["value"]),
        )
    if m := _ADD_RAP.match(text):
        cols = [ident(c) for c in m["cols"].split(",") if c.strip()]
        return AddRowAccessPolicy(table=qname(m["table"], 2), policy=qname(m["policy"]), columns=cols)
    if m := _TAG_MASK.match(text):
        return TagMaskingPolicy(tag=qname(m["tag"]), policy=qname(m["policy"]))
    if m := _CREATE_TAG.match(text):
        allowed = [_unquote(s) for s in re.findall(_STR, m["allowed"])] if m["allowed"] else []
        comment = _unquote(m["comment"]) if m["comment"] else None
        return CreateTag(
            name=qname(m["name"]), or_replace=bool(m["repl"]), allowed_values=allowed, comment=comment
        )
    if m := _CREATE_ROLE.match(text):
        return CreateRole(name=role_name(m["name"]))
    if m := _GRANT_ROLE.match(text):
        return GrantRole(role=role_name(m["role"]), to_role=role_name(m["to"]))
    if m := _CREATE_TABLE.match(text):
        table = qname(m["table"], 2)
        _require_mapping_schema(table, where)
        return CreateMappingTable(table=table, columns=_args(m["cols"], where))
    if _INSERT.match(text):
        return _insert(text, where)
    head = " ".join(text.split()[:4])
    raise PolicyParseError(
        f"{where}: unsupported statement `{head} …`: policy files may hold CREATE [OR REPLACE] MASKING "
        "POLICY / ROW ACCESS POLICY / TAG / ROLE, GRANT ROLE … TO ROLE, ALTER TABLE … SET MASKING POLICY | "
        "SET TAG | ADD ROW ACCESS POLICY, ALTER TAG … SET MASKING POLICY, and mapping tables in "
        f"the {MAPPING_SCHEMA} schema"
    )


# A mapping table's name: plain, and clear of the names the twin's own objects in the schema use
# (its policy state, the session context run when a session opens, `schema__table` secure views).
_PLAIN = re.compile(r"^[a-z][a-z0-9_]*$")
_RESERVED = frozenset({"policy_state", "session_context", "query_history"})


def _require_mapping_schema(table: str, where: str) -> None:
    schema, _, name = table.partition(".")
    if schema != MAPPING_SCHEMA or not _PLAIN.match(name):
        raise PolicyParseError(
            f"{where}: policy files may only create mapping tables {MAPPING_SCHEMA}.<name>, "
            "the name of letters, digits and underscores"
        )
    if name in _RESERVED or "__" in name or name.startswith("twin"):
        raise PolicyParseError(
            f"{where}: {table} is a name the twin keeps for its own governance objects; "
            "choose another name for the mapping table (no double underscore, not twin…)"
        )


def _insert(text: str, where: str) -> InsertRows:
    try:
        tokens = _SNOWFLAKE.tokenize(text)
        # Rows of a mapping table: many rows, but nothing nested; bounded like a query.
        check_nesting(tokens)
        tree = _SNOWFLAKE.parser().parse(tokens, text)[0]
    except (ParseError, TokenError) as e:
        raise PolicyParseError(f"{where}: cannot parse INSERT: {str(e).splitlines()[0]}") from None
    except QueryDenied as e:
        raise PolicyParseError(f"{where}: {e.reason}") from None
    if not isinstance(tree, exp.Insert) or not isinstance(tree.expression, exp.Values):
        raise PolicyParseError(f"{where}: only INSERT INTO {MAPPING_SCHEMA}.t VALUES (…) is supported")
    target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
    table = f"{target.db.lower()}.{target.name.lower()}"
    _require_mapping_schema(table, where)
    rows: list[list[str | int | float | bool | None]] = []
    for tup in tree.expression.expressions:
        row: list[str | int | float | bool | None] = []
        for v in tup.expressions:
            if isinstance(v, exp.Null):
                row.append(None)
            elif isinstance(v, exp.Boolean):
                row.append(bool(v.this))
            elif isinstance(v, exp.Literal) and v.is_string:
                row.append(v.this)
            elif isinstance(v, exp.Literal):
                row.append(float(v.this) if "." in v.this else int(v.this))
            else:
                raise PolicyParseError(f"{where}: INSERT values must be literals")
        rows.append(row)
    return InsertRows(table=table, rows=rows)


def parse_policies(text: str) -> PolicyFile:
    return PolicyFile(statements=[parse_statement(s) for s in split_statements(text)])


def read_policy_text(path: str | Path) -> str:
    """A policy file's text: UTF-8 SQL, or an error that says what the file is instead."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise PolicyParseError(f"{p.name}: cannot read the policy file ({e.strerror or e})") from None
    if b"\x00" in data[:8192]:
        raise PolicyParseError(f"{p.name}: a binary file, not a policy file (expected UTF-8 SQL text)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise PolicyParseError(
            f"{p.name}: line {line}: not UTF-8 (byte 0x{data[e.start]:02x} at offset {e.start}); "
            "save the policy file as UTF-8"
        ) from None


def parse_file(path: str | Path) -> PolicyFile:
    p = Path(path)
    text = read_policy_text(p)
    try:
        return parse_policies(text)
    except PolicyParseError as e:
        raise PolicyParseError(f"{p.name}: {e}") from None


SHIPPED_DIR = Path(__file__).parent / "policies"


def shipped_files() -> list[Path]:
    return sorted(SHIPPED_DIR.glob("*.sql"))


def load_shipped() -> PolicyFile:
    stmts: list[Statement] = []
    for f in shipped_files():
        stmts.extend(parse_file(f).statements)
    return PolicyFile(statements=stmts)


# ---- back to Snowflake -------------------------------------------------------------------------------


def _q(name: str) -> str:
    return ".".join(p if re.fullmatch(r"[a-z_][a-z0-9_$]*", p) else f'"{p}"' for p in name.split("."))


def _role(name: str) -> str:
    return name if re.fullmatch(r"[A-Z_][A-Z0-9_$]*", name) else f'"{name}"'


def _s(v: str) -> str:
    return "'" + v.replace("'", "''") + "'"


def _lit(v: str | int | float | bool | None) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, str):
        return _s(v)
    return repr(v)


def to_snowflake(stmt: Statement) -> str:
    """One statement as Snowflake DDL (no trailing semicolon)."""
    if isinstance(stmt, MaskingPolicy | RowAccessPolicy):
        kind = "MASKING" if isinstance(stmt, MaskingPolicy) else "ROW ACCESS"
        ret = stmt.returns if isinstance(stmt, MaskingPolicy) else "BOOLEAN"
        args = ", ".join(f"{_q(a.name)} {a.type}" for a in stmt.args)
        repl = "OR REPLACE " if stmt.or_replace else ""
        sql = f"CREATE {repl}{kind} POLICY {_q(stmt.name)} AS ({args}) RETURNS {ret} ->\n  {stmt.body}"
        if stmt.comment is not None:
            sql += f"\n  COMMENT = {_s(stmt.comment)}"
        return sql
    if isinstance(stmt, SetMaskingPolicy):
        using = f" USING ({', '.join(_q(c) for c in stmt.using)})" if stmt.using else ""
        return (
            f"ALTER TABLE {_q(stmt.table)} MODIFY COLUMN {_q(stmt.column)} "
            f"SET MASKING POLICY {_q(stmt.policy)}{using}"
        )
    if isinstance(stmt, SetTag):
        return (
            f"ALTER TABLE {_q(stmt.table)} MODIFY COLUMN {_q(stmt.column)} "
            f"SET TAG {_q(stmt.tag)} = {_s(stmt.value)}"
        )
    if isinstance(stmt, AddRowAccessPolicy):
        cols = ", ".join(_q(c) for c in stmt.columns)
        return f"ALTER TABLE {_q(stmt.table)} ADD ROW ACCESS POLICY {_q(stmt.policy)} ON ({cols})"
    if isinstance(stmt, TagMaskingPolicy):
        return f"ALTER TAG {_q(stmt.tag)} SET MASKING POLICY {_q(stmt.policy)}"
    if isinstance(stmt, CreateTag):
        repl = "OR REPLACE " if stmt.or_replace else ""
        sql = f"CREATE {repl}TAG {_q(stmt.name)}"
        if stmt.allowed_values:
            sql += " ALLOWED_VALUES " + ", ".join(_s(v) for v in stmt.allowed_values)
        if stmt.comment is not None:
            sql += f" COMMENT = {_s(stmt.comment)}"
        return sql
    if isinstance(stmt, CreateRole):
        return f"CREATE ROLE IF NOT EXISTS {_role(stmt.name)}"
    if isinstance(stmt, GrantRole):
        return f"GRANT ROLE {_role(stmt.role)} TO ROLE {_role(stmt.to_role)}"
    if isinstance(stmt, CreateMappingTable):
        cols = ", ".join(f"{_q(c.name)} {c.type}" for c in stmt.columns)
        return f"CREATE OR REPLACE TABLE {_q(stmt.table)} ({cols})"
    if isinstance(stmt, InsertRows):
        rows = ",\n  ".join("(" + ", ".join(_lit(v) for v in r) + ")" for r in stmt.rows)
        return f"INSERT INTO {_q(stmt.table)} VALUES\n  {rows}"
    raise TypeError(type(stmt))


def file_to_snowflake(pf: PolicyFile) -> str:
    return "".join(to_snowflake(s) + ";\n\n" for s in pf.statements)

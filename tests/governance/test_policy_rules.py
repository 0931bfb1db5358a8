# ruff: noqa: E501 -- SQL cases read best kept on one line
"""Policy DDL follows the user-SQL rules: a policy body reaches no further than the user it governs."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.governance.conftest import raw
from twin.cli.main import app
from twin.governance.ddl import load_shipped, parse_policies
from twin.governance.errors import GovernanceError, PolicyParseError
from twin.governance.session import Claims, open_session
from twin.governance.store import apply_policies
from twin.warehouse.engine import Warehouse

runner = CliRunner()

MAPPING = "CREATE OR REPLACE TABLE governance.role_department_map (role_name VARCHAR, department VARCHAR);\n"


def _rap(body: str) -> str:
    return f"CREATE OR REPLACE ROW ACCESS POLICY advisor_filter AS (dept STRING) RETURNS BOOLEAN -> {body};"


def _mask(body: str, typ: str = "STRING") -> str:
    return f"CREATE OR REPLACE MASKING POLICY pii_mask AS (val {typ}) RETURNS {typ} -> {body};"


ESCAPES = {
    "query() in a masking body": _mask("(SELECT max(ssn) FROM query('SELECT ssn FROM silver.customers'))"),
    "query() as a scalar": _mask("query('SELECT 1')"),
    "read_text() in a row body": _rap(
        "EXISTS (SELECT 1 FROM read_text('/etc/passwd') f WHERE f.content <> '')"
    ),
    "read_text() as a scalar": _rap("read_text('/etc/passwd') IS NOT NULL"),
    "a file path as a table": _rap("EXISTS (SELECT 1 FROM '/etc/passwd' f)"),
    "a subquery on silver": _rap("EXISTS (SELECT 1 FROM silver.customers c WHERE c.department = dept)"),
    "a subquery on gold": _mask("(SELECT max(ssn) FROM gold.customer_360)"),
    "stats()": _mask("stats(val)"),
    "getenv()": _mask("getenv('HOME')"),
    "pg_get_viewdef()": _mask("pg_get_viewdef('governance.gold__customer_360')"),
    "a statement for a body": _rap("(SELECT 1); DROP TABLE gold.accounts"),
    "deep nesting": _rap("(" * 500 + "TRUE" + ")" * 500),
}


@pytest.mark.parametrize("ddl", ESCAPES.values(), ids=ESCAPES.keys())
def test_policy_body_cannot_escape_the_firewall(ddl: str) -> None:
    with pytest.raises(PolicyParseError):
        parse_policies(ddl)


def test_policy_body_may_not_read_a_governance_table_that_is_not_a_mapping_table(fresh: Warehouse) -> None:
    ddl = _rap("EXISTS (SELECT 1 FROM governance.policy_state s WHERE s.key = dept)")
    with pytest.raises(GovernanceError, match="not a mapping table declared"):
        apply_policies(fresh.con, parse_policies(ddl))
    # Refused before anything changed: the secure view is the shipped one.
    (sql,) = raw(fresh, "SELECT sql FROM duckdb_views() WHERE view_name = 'gold__customer_360'")[0]
    assert "twin_sq_" in sql and "policy_state" not in sql


def test_policy_body_naming_an_unknown_column_is_refused(fresh: Warehouse) -> None:
    with pytest.raises(GovernanceError, match="unknown column"):
        apply_policies(fresh.con, parse_policies(_mask("CASE WHEN secret_col = 1 THEN val END")))
    with pytest.raises(GovernanceError, match="unknown column"):
        apply_policies(fresh.con, parse_policies(MAPPING + _rap(
            "EXISTS (SELECT 1 FROM governance.role_department_map m WHERE m.password = dept)"
        )))  # fmt: skip


def test_the_shipped_mapping_lookup_is_still_accepted(fresh: Warehouse) -> None:
    report = apply_policies(fresh.con, load_shipped())
    assert "gold.customer_360" in report.compiled


def test_masking_policy_returns_must_match_its_argument() -> None:
    with pytest.raises(PolicyParseError, match="RETURNS STRING does not match"):
        parse_policies("CREATE MASKING POLICY m AS (val NUMBER) RETURNS STRING -> 'x';")


def test_masking_policy_of_another_type_cannot_be_attached_to_a_column(fresh: Warehouse) -> None:
    ddl = _mask("'XXXX'") + "\nALTER TABLE gold.accounts MODIFY COLUMN balance SET MASKING POLICY pii_mask;"
    with pytest.raises(
        GovernanceError,
        match=r"gold.accounts.balance: masking policy pii_mask RETURNS STRING but the column is DECIMAL",
    ):
        apply_policies(fresh.con, parse_policies(ddl))
    s = open_session(fresh, Claims(user="t", role="RETAIL_TELLER"))
    try:
        assert {r[0] for r in s.query("SELECT balance FROM gold.accounts").rows} == {None}
    finally:
        s.close()


INJECTED_TYPES = [
    "CREATE TABLE governance.m (a VARCHAR, b INT DEFAULT 1)",
    "CREATE TABLE governance.m (a VARCHAR CHECK (length(a) > 0))",
    "CREATE TABLE governance.m (a VARCHAR, b VARCHAR AS (getenv('HOME')))",
    "CREATE TABLE governance.m (a VARCHAR) AS SELECT * FROM silver.customers WHERE (1 = 1)",
    "CREATE TABLE governance.m (a STRUCT(x INT))",
    "CREATE TABLE governance.m (a my_enum)",
    "CREATE TABLE governance.m (a DECIMAL(10, 2) PRIMARY KEY)",
    "CREATE MASKING POLICY p AS (val STRING DEFAULT 'x') RETURNS STRING -> val",
]


@pytest.mark.parametrize("ddl", INJECTED_TYPES)
def test_declared_types_are_on_an_allowlist(ddl: str) -> None:
    with pytest.raises(PolicyParseError, match=r"not allowed|cannot read|unsupported"):
        parse_policies(ddl + ";")


def test_mapping_types_are_generated_not_pasted(fresh: Warehouse) -> None:
    apply_policies(
        fresh.con, parse_policies("CREATE OR REPLACE TABLE governance.m (a NUMBER(10, 2), b string, c int);")
    )
    types = raw(
        fresh,
        "SELECT data_type FROM information_schema.columns WHERE table_schema = 'governance' AND table_name = 'm' ORDER BY ordinal_position",
    )
    assert [t for (t,) in types] == ["DECIMAL(10,2)", "VARCHAR", "BIGINT"]


def test_snowflake_spellings_of_allowed_types_are_accepted() -> None:
    (t,) = parse_policies(
        "CREATE TABLE governance.m (a VARCHAR(16777216), b NUMBER(38, 0), c TIMESTAMP_NTZ(9));"
    ).statements
    assert [c.type for c in t.columns] == ["VARCHAR(16777216)", "NUMBER(38,0)", "TIMESTAMP_NTZ(9)"]


def test_deeply_nested_insert_values_are_refused_cleanly() -> None:
    with pytest.raises(PolicyParseError, match="nested too deeply"):
        parse_policies("INSERT INTO governance.m VALUES (" + "(" * 5000 + "1" + ")" * 5000 + ");")


def test_mapping_table_names_are_plain_names() -> None:
    with pytest.raises(PolicyParseError, match="letters, digits and underscores"):
        parse_policies('CREATE TABLE governance."m (x INT); DROP TABLE gold.accounts; --" (a VARCHAR);')


@pytest.mark.parametrize(
    "name", ["policy_state", "session_context", "query_history", "gold__customer_360", "twin_sq_x"]
)
def test_mapping_tables_cannot_replace_the_twins_own_objects(name: str) -> None:
    with pytest.raises(PolicyParseError, match="keeps for its own"):
        parse_policies(f"CREATE OR REPLACE TABLE governance.{name} (name VARCHAR, sql VARCHAR);")
    with pytest.raises(PolicyParseError, match="keeps for its own"):
        parse_policies(f"INSERT INTO governance.{name} VALUES ('twin_role', 'SELECT 1');")


# ---- the CLI: clear errors, exit 2, no traceback -----------------------------------------------


def _policy(tmp_path: Path, content: str | bytes) -> Path:
    f = tmp_path / "p.sql"
    if isinstance(content, bytes):
        f.write_bytes(content)
    else:
        f.write_text(content)
    return f


BAD_FILES = {
    "binary": (b"\x7fELF\x02\x01\x01\x00\x00\x00\x00" * 10, "binary file"),
    "latin-1": ("CREATE ROLE caf\xe9;".encode("latin-1"), "not UTF-8"),
    "unknown column": (
        _mask("'X'") + "\nALTER TABLE gold.customer_360 MODIFY COLUMN no_such SET MASKING POLICY pii_mask;",
        "column gold.customer_360.no_such does not exist",
    ),
    "unknown table": (
        "ALTER TABLE gold.no_such ADD ROW ACCESS POLICY advisor_filter ON (department);",
        "table gold.no_such does not exist",
    ),
    "unknown function": (_mask("no_such_fn(val)"), "function no_such_fn() is not allowed"),
    "bad body": (_rap("read_text('/etc/passwd') IS NOT NULL"), "function read_text() is not allowed"),
    "type mismatch": (
        _mask("'XXXX'") + "\nALTER TABLE gold.accounts MODIFY COLUMN balance SET MASKING POLICY pii_mask;",
        "RETURNS STRING but the column is DECIMAL",
    ),
    "wrong insert value": (
        MAPPING.replace("department VARCHAR", "department INT")
        + "INSERT INTO governance.role_department_map VALUES ('A', 'not a number');",
        "nothing was changed",
    ),
}


@pytest.mark.parametrize(("content", "message"), BAD_FILES.values(), ids=BAD_FILES.keys())
def test_policy_apply_fails_cleanly(db: Path, tmp_path: Path, content: str | bytes, message: str) -> None:
    r = runner.invoke(app, ["policy", "apply", "--db", str(db), str(_policy(tmp_path, content))])
    assert r.exit_code == 2, r.output
    assert message in " ".join(r.stderr.split()), r.stderr
    assert isinstance(r.exception, SystemExit)


@pytest.mark.parametrize("name", ["binary", "latin-1", "unknown column", "unknown function", "type mismatch"])
def test_policy_compile_fails_cleanly(db: Path, tmp_path: Path, name: str) -> None:
    content, message = BAD_FILES[name]
    f = _policy(tmp_path, content)
    r = runner.invoke(app, ["policy", "compile", "--db", str(db), str(f)])
    assert r.exit_code == 2, r.output
    assert message in " ".join(r.stderr.split()), r.stderr
    assert isinstance(r.exception, SystemExit)

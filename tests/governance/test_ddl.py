"""Policy DDL: parsing into models, clear rejection, Snowflake round trip, compilation details."""

from __future__ import annotations

import pytest

from twin.governance.compiler import compile_duckdb, protections
from twin.governance.ddl import file_to_snowflake, load_shipped, parse_policies
from twin.governance.errors import PolicyParseError
from twin.governance.models import AddRowAccessPolicy, MaskingPolicy, RowAccessPolicy, SetMaskingPolicy


def test_masking_policy_header_and_body_are_parsed() -> None:
    pf = parse_policies(
        """-- a comment; with a semicolon
        create or replace masking policy Email_Mask as (val string, consent boolean) returns string ->
          case when consent then val else '***' end comment = 'it''s conditional';"""
    )
    (p,) = pf.statements
    assert isinstance(p, MaskingPolicy)
    assert p.name == "email_mask" and p.or_replace
    assert [(a.name, a.type) for a in p.args] == [("val", "STRING"), ("consent", "BOOLEAN")]
    assert p.comment == "it's conditional"
    assert "CASE WHEN consent THEN val" in p.body


def test_row_access_and_alter_statements() -> None:
    pf = parse_policies(
        """CREATE ROW ACCESS POLICY rap AS (d VARCHAR, r VARCHAR) RETURNS BOOLEAN -> d = 'x' AND r <> 'y';
        ALTER TABLE mydb.gold.t ADD ROW ACCESS POLICY rap ON (dept, region);
        ALTER TABLE gold.t MODIFY COLUMN email SET MASKING POLICY email_mask USING (email, consent);"""
    )
    rap, add, setm = pf.statements
    assert isinstance(rap, RowAccessPolicy) and len(rap.args) == 2
    assert isinstance(add, AddRowAccessPolicy) and add.table == "gold.t" and add.columns == ["dept", "region"]
    assert isinstance(setm, SetMaskingPolicy) and setm.using == ["email", "consent"]


@pytest.mark.parametrize(
    "sql",
    [
        "DROP MASKING POLICY ssn_mask",
        "GRANT SELECT ON gold.t TO ROLE x",
        "CREATE ROW ACCESS POLICY p AS (d STRING) RETURNS STRING -> d = 'x'",
        "ALTER TABLE gold.t MODIFY COLUMN c UNSET MASKING POLICY",
        "CREATE TABLE gold.sneaky (a INT)",
        "CREATE MASKING POLICY p AS (v STRING) RETURNS STRING -> CASE WHEN",
    ],
)
def test_unsupported_or_broken_statements_are_rejected(sql: str) -> None:
    with pytest.raises(PolicyParseError):
        parse_policies(sql)


def test_rejection_names_the_line() -> None:
    with pytest.raises(PolicyParseError, match="line 3"):
        parse_policies("CREATE ROLE A;\n\nDROP ROLE A;")


def test_snowflake_output_parses_back_to_the_same_models() -> None:
    shipped = load_shipped()
    text = file_to_snowflake(shipped)
    assert parse_policies(text) == shipped
    assert file_to_snowflake(parse_policies(text)) == text


COLS = {
    "gold.t": {
        "id": "VARCHAR",
        "email": "VARCHAR",
        "ssn": "VARCHAR",
        "amount": "DOUBLE",
        "consent": "BOOLEAN",
    },
}


def test_direct_policy_wins_over_tag_and_tag_policy_matches_type() -> None:
    pf = parse_policies(
        """CREATE MASKING POLICY s AS (v STRING) RETURNS STRING -> 'S';
        CREATE MASKING POLICY n AS (v NUMBER) RETURNS NUMBER -> 0;
        CREATE MASKING POLICY direct AS (v STRING) RETURNS STRING -> 'D';
        CREATE TAG pii;
        ALTER TAG pii SET MASKING POLICY s;
        ALTER TAG pii SET MASKING POLICY n;
        ALTER TABLE gold.t MODIFY COLUMN email SET TAG pii = 'email';
        ALTER TABLE gold.t MODIFY COLUMN amount SET TAG pii = 'amount';
        ALTER TABLE gold.t MODIFY COLUMN ssn SET TAG pii = 'ssn';
        ALTER TABLE gold.t MODIFY COLUMN ssn SET MASKING POLICY direct;"""
    )
    got = {(p.column, p.policy, p.how) for p in protections(pf.statements, COLS)}
    assert got == {("email", "s", "tag:pii"), ("amount", "n", "tag:pii"), ("ssn", "direct", "direct")}


def test_context_functions_compile_to_session_variables() -> None:
    pf = parse_policies(
        """CREATE MASKING POLICY m AS (v STRING) RETURNS STRING ->
             CASE WHEN CURRENT_ROLE() = 'A' OR INVOKER_ROLE() = 'B' OR CURRENT_USER() = 'u'
                  OR IS_ROLE_IN_SESSION('C') THEN v ELSE NULL END;
        ALTER TABLE gold.t MODIFY COLUMN email SET MASKING POLICY m;"""
    )
    sql = compile_duckdb(pf.statements, COLS).tables[0].sql
    assert "GETVARIABLE('twin_role') = 'A'" in sql
    assert "GETVARIABLE('twin_user') = 'u'" in sql
    assert "LIST_CONTAINS(GETVARIABLE('twin_roles'), 'C')" in sql
    assert "CURRENT_ROLE" not in sql.upper().replace("TWIN_ROLE", "")


def test_missing_row_access_column_fails_closed() -> None:
    pf = parse_policies(
        """CREATE ROW ACCESS POLICY r AS (d STRING) RETURNS BOOLEAN -> TRUE;
        ALTER TABLE gold.t ADD ROW ACCESS POLICY r ON (department);"""
    )
    table = compile_duckdb(pf.statements, COLS).tables[0]
    assert table.sql.endswith("WHERE FALSE") and table.warnings

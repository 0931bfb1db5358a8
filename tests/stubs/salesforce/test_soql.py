"""The SOQL parser: the subset the stand-in serves parses into the right tree; anything else is a
SoqlError that names the position, never another exception."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.stubs.salesforce.soql import BoolOp, Comparison, InList, Like, Not, SoqlError, parse

TODAY = date(2026, 12, 2)


def test_field_list_with_parent_relationship_and_clauses() -> None:
    q = parse(
        "select Id, Account.Name, Status from Contract where Status = 'Activated' "
        "order by StartDate desc nulls last, Id limit 10 offset 5",
        today=TODAY,
    )
    assert [f.path for f in q.fields] == [("Id",), ("Account", "Name"), ("Status",)]
    assert q.sobject == "Contract"
    assert q.where == Comparison.model_validate(
        {"field": {"path": ("Status",)}, "op": "=", "value": {"value": "Activated"}}
    )
    assert [(o.field.path, o.descending, o.nulls_last) for o in q.order_by] == [
        (("StartDate",), True, True),
        (("Id",), False, False),
    ]
    assert (q.limit, q.offset) == (10, 5)


def test_and_binds_tighter_than_or_and_not_applies_to_the_next_term() -> None:
    q = parse("SELECT Id FROM Account WHERE NOT Name = 'a' OR Type = 'b' AND Region__c = 'c'", today=TODAY)
    assert isinstance(q.where, BoolOp) and q.where.op == "OR"
    left, right = q.where.operands
    assert isinstance(left, Not)
    assert isinstance(right, BoolOp) and right.op == "AND"


def test_parentheses_override_precedence() -> None:
    q = parse("SELECT Id FROM Account WHERE (Name = 'a' OR Type = 'b') AND Region__c = 'c'", today=TODAY)
    assert isinstance(q.where, BoolOp) and q.where.op == "AND"
    assert isinstance(q.where.operands[0], BoolOp) and q.where.operands[0].op == "OR"


def test_literals_dates_datetimes_numbers_booleans_null_and_in_lists() -> None:
    q = parse(
        "SELECT Id FROM Contract WHERE StartDate >= 2025-01-01 AND CreatedDate < 2026-12-01T10:00:00Z "
        "AND Amount > 1.5 AND IsDeleted = false AND EndDate = null AND Status NOT IN ('Draft', 'Expired')",
        today=TODAY,
    )
    assert isinstance(q.where, BoolOp)
    values = [c.value.value for c in q.where.operands if isinstance(c, Comparison)]
    assert values == [date(2025, 1, 1), datetime(2026, 12, 1, 10, tzinfo=UTC), 1.5, False, None]
    last = q.where.operands[-1]
    assert (
        isinstance(last, InList) and last.negated and [v.value for v in last.values] == ["Draft", "Expired"]
    )


def test_date_keywords_become_day_ranges_from_the_injected_today() -> None:
    q = parse("SELECT Id FROM Contract WHERE EndDate = LAST_N_DAYS:30", today=TODAY)
    assert isinstance(q.where, Comparison)
    assert (q.where.value.value, q.where.value.range_end) == (date(2026, 11, 2), date(2026, 12, 3))
    q = parse("SELECT Id FROM Contract WHERE EndDate = TODAY", today=TODAY)
    assert isinstance(q.where, Comparison)
    assert (q.where.value.value, q.where.value.range_end) == (TODAY, date(2026, 12, 3))


def test_like_and_string_escapes() -> None:
    q = parse(r"SELECT Id FROM Account WHERE Name LIKE 'O\'Brien%'", today=TODAY)
    assert isinstance(q.where, Like) and q.where.pattern == "O'Brien%"


def test_count_query() -> None:
    q = parse("SELECT COUNT() FROM Contract WHERE Status = 'Activated'", today=TODAY)
    assert q.count_only and q.fields == ()


@pytest.mark.parametrize(
    ("soql", "fragment"),
    [
        ("SELECT FROM Account", "position 7"),
        ("SELECT Id Account", "expected FROM"),
        ("SELECT Id FROM Account WHERE", "end of query"),
        ("SELECT Id FROM Account WHERE Name", "comparison operator"),
        ("SELECT Id FROM Account WHERE Name = ", "expected a value"),
        ("SELECT Id FROM Account LIMIT -1", "non-negative integer"),
        ("SELECT Id FROM Account; DELETE", "unexpected character ';'"),
        ("SELECT Id FROM Account WHERE Name = 'x' GROUP BY Name", "end of query"),
        ("SELECT Id FROM Account WHERE CreatedDate > 2026-13-01", "invalid date"),
        ("SELECT Id FROM Account WHERE Name NOT 'x'", "IN after NOT"),
        ("SELECT Id FROM Account WHERE Name = 'a\\q'", "invalid escape"),
    ],
)
def test_malformed_queries_name_the_problem(soql: str, fragment: str) -> None:
    with pytest.raises(SoqlError, match=fragment):
        parse(soql, today=TODAY)


_TEXT = st.text(
    alphabet=st.sampled_from(list("SELCTFROMWHERANDINOTLKY IdNam=<>!'(),.:%_0123-9\\")), max_size=60
)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(
    st.one_of(
        _TEXT,
        # behind a valid prefix, so the fuzzing reaches the WHERE/ORDER BY grammar and the literals
        st.builds(lambda t: "SELECT Id, Account.Name FROM Contract WHERE " + t, _TEXT),
    )
)
def test_any_text_parses_or_raises_soql_error(text: str) -> None:
    with contextlib.suppress(SoqlError):
        parse(text, today=TODAY)


def test_deep_nesting_is_refused_before_recursion_runs_out() -> None:
    deep = "SELECT Id FROM Account WHERE " + "(" * 5000 + "Name = 'x'" + ")" * 5000
    with pytest.raises(SoqlError, match="nest deeper than 64"):
        parse(deep, today=TODAY)
    nots = "SELECT Id FROM Account WHERE " + "NOT " * 5000 + "Name = 'x'"
    with pytest.raises(SoqlError, match="nest deeper than 64"):
        parse(nots, today=TODAY)
    ok = "SELECT Id FROM Account WHERE " + "(" * 60 + "Name = 'x'" + ")" * 60
    assert parse(ok, today=TODAY).where is not None

"""The declared visibility matrix (role × relation × rows × columns in clear) and its static checks.

The policy DDL says *how* data is protected; `visibility.yaml` says *what each role may see*, in terms
a reviewer can read in one screen. `problems` checks the two agree structurally — every readable
relation declared, customer-level relations carry a row policy on their department column, the masked
columns are exactly the declared ones, PII decisions name every role that reads the rows — and the
coverage tests check behaviour: what each role's session returns against the admin's view, cell by
cell (`Cell`). A new gold model therefore fails CI until someone decides who may read it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from twin.governance.compiler import protections
from twin.governance.errors import GovernanceError
from twin.governance.models import AddRowAccessPolicy, CreateRole, Statement
from twin.governance.pii import pii_decisions
from twin.governance.roles import RoleGraph

VISIBILITY_FILE = Path(__file__).with_name("visibility.yaml")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Reader(_Frozen):
    """One entry of a `clear` list: a role, optionally only in sessions of one department."""

    role: str
    department: str | None = None

    @classmethod
    def parse(cls, text: str) -> Reader:
        role, _, dept = text.partition("@")
        return cls(role=role.strip().upper(), department=dept.strip() or None)

    def admits(self, active_roles: Iterable[str], department: str | None) -> bool:
        return self.role in set(active_roles) and (self.department is None or self.department == department)


class RelationRule(_Frozen):
    rows: Literal["customer", "open"]
    department_column: str = "department"
    open_rows: dict[str, list[str]] = Field(default_factory=dict)
    clear: dict[str, list[str]] = Field(default_factory=dict)

    def readers(self, column: str) -> list[Reader]:
        return [Reader.parse(r) for r in self.clear.get(column, [])]


class Cell(_Frozen):
    """What one session (its active roles and department) may read of one relation."""

    relation: str
    rows: Literal["customer", "open"]
    departments: frozenset[str] | None  # None: every department
    department_column: str
    open_rows: dict[str, frozenset[str]]
    clear: frozenset[str]  # masked columns this session reads in clear
    masked: frozenset[str]  # masked columns this session must never read in clear

    def row_visible(self, row: Mapping[str, Any]) -> bool:
        if self.rows == "open" or self.departments is None:
            return True
        if any(row.get(c) in vals for c, vals in self.open_rows.items()):
            return True
        return row.get(self.department_column) in self.departments

    def row_sql(self) -> str:
        """The same rule as a SQL predicate over the relation's columns."""
        if self.rows == "open" or self.departments is None:
            return "TRUE"
        terms = [f'"{c}" IN ({_in_list(v)})' for c, v in sorted(self.open_rows.items()) if v]
        if self.departments:
            terms.append(f'"{self.department_column}" IN ({_in_list(self.departments)})')
        return " OR ".join(terms) or "FALSE"


class Visibility(_Frozen):
    roles: dict[str, Literal["all"] | list[str]]
    relations: dict[str, RelationRule]

    @field_validator("roles")
    @classmethod
    def _upper(cls, v: dict[str, Any]) -> dict[str, Any]:
        return {k.upper(): d for k, d in v.items()}

    def cell(
        self,
        graph: RoleGraph,
        relation: str,
        role: str,
        department: str | None = None,
        secondary: Iterable[str] = (),
    ) -> Cell:
        rule = self.relations.get(relation)
        if rule is None:
            raise GovernanceError(f"{relation} is not declared in {VISIBILITY_FILE.name}")
        active = graph.active(role.upper(), [r.upper() for r in secondary])
        depts: set[str] | None = set()
        for r in active:
            d = self.roles.get(r, [])
            if d == "all":
                depts = None
                break
            assert depts is not None
            depts.update(d)
        clear = {c for c in rule.clear if any(x.admits(active, department) for x in rule.readers(c))}
        return Cell(
            relation=relation,
            rows=rule.rows,
            departments=None if depts is None else frozenset(depts),
            department_column=rule.department_column,
            open_rows={c: frozenset(v) for c, v in rule.open_rows.items()},
            clear=frozenset(clear),
            masked=frozenset(rule.clear) - clear,
        )

    def customer_readers(self, graph: RoleGraph) -> list[str]:
        """Roles that read some customer rows (through their own departments or inherited ones)."""
        return [r for r in sorted(self.roles) if any(self.roles.get(a) for a in graph.active(r))]


def load_visibility(path: Path | str | None = None) -> Visibility:
    p = Path(path) if path else VISIBILITY_FILE
    try:
        data = yaml.safe_load(p.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise GovernanceError(f"cannot read {p.name}: {str(e).splitlines()[0]}") from None
    try:
        return Visibility.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        raise GovernanceError(f"{p.name}: {where}: {err['msg']}") from None


def problems(
    vis: Visibility,
    stmts: list[Statement],
    published: Iterable[str],
    columns: dict[str, dict[str, str]],
) -> list[str]:
    """Where the policy state and the readable catalog disagree with the declared matrix (empty: agree).

    `published` is every relation a session can name; `columns` the warehouse's columns per table.
    """
    out: list[str] = []
    graph = RoleGraph.from_statements(stmts)
    defined = {s.name for s in stmts if isinstance(s, CreateRole)}
    for r in sorted(defined - set(vis.roles)):
        out.append(
            f"role {r} is defined by the policies but not declared under roles: in {VISIBILITY_FILE.name}"
        )
    for r in sorted(set(vis.roles) - defined):
        out.append(f"role {r} is declared in {VISIBILITY_FILE.name} but no policy file creates it")
    row_policies = {s.table: s for s in stmts if isinstance(s, AddRowAccessPolicy)}
    masked: dict[str, set[str]] = {}
    for p in protections(stmts, columns):
        masked.setdefault(p.table, set()).add(p.column)
    decisions = pii_decisions(stmts)
    customer_readers = vis.customer_readers(graph)
    for rel in sorted({t.lower() for t in published}):
        rule = vis.relations.get(rel)
        if rule is None:
            out.append(
                f"{rel} is readable but not declared in {VISIBILITY_FILE.name}: declare its rows "
                "(customer or open) and masked columns, and add the policies that enforce them"
            )
            continue
        cols = columns.get(rel, {})
        rap = row_policies.get(rel)
        if rule.rows == "customer":
            need = [rule.department_column, *rule.open_rows]
            if rap is None:
                out.append(
                    f"{rel} has customer-level rows but no row access policy: add one ON ({', '.join(need)})"
                )
            elif sorted(rap.columns) != sorted(need):
                out.append(
                    f"{rel}: row access policy {rap.policy} is ON ({', '.join(rap.columns)}), "
                    f"expected ({', '.join(need)})"
                )
            for c in need:
                if cols and c not in cols:
                    out.append(f"{rel}: declared row column {c} is not a column of the relation")
        elif rap is not None:
            out.append(
                f"{rel} is declared open but has row access policy {rap.policy}: declare rows: customer"
            )
        have, want = masked.get(rel, set()), set(rule.clear)
        for c in sorted(have - want):
            out.append(f"{rel}.{c} is masked by a policy but has no clear: entry in {VISIBILITY_FILE.name}")
        for c in sorted(want - have):
            out.append(f"{rel}.{c} is declared masked but no masking policy covers it")
        for c in sorted(rule.clear):
            for x in rule.readers(c):
                if x.role not in vis.roles:
                    out.append(f"{rel}.{c}: clear: names unknown role {x.role}")
        for (t, c), d in sorted(decisions.items()):
            if t != rel:
                continue
            if c in have:
                out.append(f"{rel}.{c} is masked and also has a pii_decision: keep one")
            readers = customer_readers if rule.rows == "customer" else sorted(vis.roles)
            for r in readers:
                if not set(graph.active(r)) & d.visible_to:
                    out.append(
                        f"{rel}.{c}: {r} reads its rows but the pii_decision does not list it: "
                        "add the role to visible_to or mask the column"
                    )
    return out


def _in_list(values: Iterable[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in sorted(values))

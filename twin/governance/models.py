"""Pydantic models of the policy statements, one class per Snowflake DDL statement kind."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Stmt(BaseModel):
    model_config = ConfigDict(frozen=True)


class Arg(_Stmt):
    name: str
    type: str


class MaskingPolicy(_Stmt):
    kind: Literal["masking_policy"] = "masking_policy"
    name: str
    or_replace: bool = False
    args: list[Arg]
    returns: str
    body: str  # normalised Snowflake SQL of the expression after `->`
    comment: str | None = None

    @property
    def key(self) -> str:
        return f"policy:{self.name}"


class RowAccessPolicy(_Stmt):
    kind: Literal["row_access_policy"] = "row_access_policy"
    name: str
    or_replace: bool = False
    args: list[Arg]
    body: str
    comment: str | None = None

    @property
    def key(self) -> str:
        return f"policy:{self.name}"


class SetMaskingPolicy(_Stmt):
    """ALTER TABLE t MODIFY COLUMN c SET MASKING POLICY p [USING (c, other, …)]."""

    kind: Literal["set_masking_policy"] = "set_masking_policy"
    table: str
    column: str
    policy: str
    using: list[str] = Field(default_factory=list)

    @property
    def key(self) -> str:
        return f"column_mask:{self.table}.{self.column}"


class AddRowAccessPolicy(_Stmt):
    kind: Literal["add_row_access_policy"] = "add_row_access_policy"
    table: str
    policy: str
    columns: list[str]

    @property
    def key(self) -> str:
        return f"row_access:{self.table}"


class CreateTag(_Stmt):
    kind: Literal["create_tag"] = "create_tag"
    name: str
    or_replace: bool = False
    allowed_values: list[str] = Field(default_factory=list)
    comment: str | None = None

    @property
    def key(self) -> str:
        return f"tag:{self.name}"


class SetTag(_Stmt):
    """ALTER TABLE t MODIFY COLUMN c SET TAG tag = 'value'."""

    kind: Literal["set_tag"] = "set_tag"
    table: str
    column: str
    tag: str
    value: str

    @property
    def key(self) -> str:
        return f"column_tag:{self.table}.{self.column}:{self.tag}"


class TagMaskingPolicy(_Stmt):
    """ALTER TAG t SET MASKING POLICY p: protects every column carrying the tag (one per data type)."""

    kind: Literal["tag_masking_policy"] = "tag_masking_policy"
    tag: str
    policy: str

    @property
    def key(self) -> str:
        return f"tag_mask:{self.tag}:{self.policy}"


class CreateRole(_Stmt):
    kind: Literal["create_role"] = "create_role"
    name: str

    @property
    def key(self) -> str:
        return f"role:{self.name}"


class GrantRole(_Stmt):
    """GRANT ROLE child TO ROLE parent: the parent inherits the child's privileges."""

    kind: Literal["grant_role"] = "grant_role"
    role: str
    to_role: str

    @property
    def key(self) -> str:
        return f"grant:{self.role}>{self.to_role}"


class CreateMappingTable(_Stmt):
    """CREATE [OR REPLACE] TABLE governance.t (col TYPE, …): a mapping table for row access."""

    kind: Literal["create_table"] = "create_table"
    table: str
    columns: list[Arg]

    @property
    def key(self) -> str:
        return f"table:{self.table}"


class InsertRows(_Stmt):
    """INSERT INTO governance.t VALUES (…), (…): mapping-table content."""

    kind: Literal["insert_rows"] = "insert_rows"
    table: str
    rows: list[list[str | int | float | bool | None]]

    @property
    def key(self) -> str:
        return f"rows:{self.table}"


Statement = Annotated[
    MaskingPolicy
    | RowAccessPolicy
    | SetMaskingPolicy
    | AddRowAccessPolicy
    | CreateTag
    | SetTag
    | TagMaskingPolicy
    | CreateRole
    | GrantRole
    | CreateMappingTable
    | InsertRows,
    Field(discriminator="kind"),
]


class PolicyFile(BaseModel):
    """Statements in file order."""

    statements: list[Statement] = Field(default_factory=list)

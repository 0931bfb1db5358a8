"""Zero-copy reads for a subscriber account: its own DuckDB connection over the provider's Parquet files.

What the subscriber may read is decided by Data Exchange itself, asked with the subscriber's own keys:
the data sets `ListDataSets(Origin=ENTITLED)` returns (an accepted, unexpired grant), each at its latest
finalized revision. Each of that revision's assets becomes a view `<product>.<table>` over the asset's
file where the service stores it; nothing is copied. The connection may then open exactly those
files: DuckDB's `allowed_paths` lists them, `enable_external_access = false` closes every other file,
ATTACH and extension loading, and `lock_configuration = true` stops the query from undoing either. A
subscriber without an accepted grant gets a connection with no views and no readable file, so a
`read_parquet` of a product's path fails there.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["EntitledTable", "entitled_tables", "subscriber_connection", "subscriber_query"]


class EntitledTable(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_name: str
    table: str
    path: Path
    data_set_id: str
    revision_id: str


def _ident(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return s if s and not s[0].isdigit() else f"t_{s}"


def _pages(call: Any, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = call(**kwargs, **({"NextToken": token} if token else {}))
        out.extend(page[key])
        token = page.get("NextToken")
        if not token:
            return out


def entitled_tables(dataexchange: Any, storage_dir: Path) -> list[EntitledTable]:
    """The tables a subscriber's boto3 `dataexchange` client is entitled to, with their files."""
    out = []
    for ds in _pages(dataexchange.list_data_sets, "DataSets", Origin="ENTITLED"):
        revisions = [
            r
            for r in _pages(dataexchange.list_data_set_revisions, "Revisions", DataSetId=ds["Id"])
            if r.get("Finalized")
        ]
        if not revisions:
            continue
        latest = max(revisions, key=lambda r: (r["CreatedAt"], r["Id"]))
        assets = _pages(
            dataexchange.list_revision_assets, "Assets", DataSetId=ds["Id"], RevisionId=latest["Id"]
        )
        for a in assets:
            path = Path(storage_dir) / "assets" / ds["Id"] / latest["Id"] / f"{a['Id']}.parquet"
            out.append(
                EntitledTable(
                    schema_name=_ident(ds["Name"]),
                    table=_ident(Path(a["Name"]).stem),
                    path=path.resolve(),
                    data_set_id=ds["Id"],
                    revision_id=latest["Id"],
                )
            )
    return out


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def subscriber_connection(tables: list[EntitledTable]) -> Any:
    """An in-memory DuckDB connection that can read these files, and no other."""
    import duckdb

    con = duckdb.connect(":memory:")
    for t in tables:
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{t.schema_name}"')
        view = f'"{t.schema_name}"."{t.table}"'
        con.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM read_parquet({_quote(t.path)})")
    paths = ", ".join(_quote(t.path) for t in tables)
    con.execute(f"SET allowed_paths = [{paths}]")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def subscriber_query(
    dataexchange: Any, storage_dir: Path, sql: str
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run `sql` as the subscriber whose client this is: (column names, rows)."""
    con = subscriber_connection(entitled_tables(dataexchange, storage_dir))
    try:
        rel = con.sql(sql)
        if rel is None:
            return [], []
        return list(rel.columns), rel.fetchall()
    finally:
        con.close()

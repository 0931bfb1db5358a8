"""What the dbt manifest says about the models: compiled SQL, dependencies, refresh rules, lineage.

`record_models` stores each model's compiled SQL in `silver._twin_models` (with the DuckDB catalog qualifier
removed, so the SQL works on a copy of the file under another name) for the refresh path; `lineage`
walks the manifest's dependency graph from a relation back to its bronze sources.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Any, Protocol

import duckdb
from pydantic import BaseModel, ConfigDict

from twin.warehouse.engine import Warehouse, WarehouseError

META_SCHEMA = "silver"
"""Private to the platform (governance never publishes silver); table names start with `_twin_`."""


class HasConnection(Protocol):
    """A `Warehouse` or a private session on its database: what a catalog read needs."""

    con: duckdb.DuckDBPyConnection


class ModelSpec(BaseModel):
    """One dbt model as the refresh path needs it."""

    model_config = ConfigDict(frozen=True)

    unique_id: str
    relation: str
    """schema.table, e.g. "silver.trades"."""
    materialized: str
    sql: str
    depends_on: list[str]
    """Relations this model reads (schema.table), models and bronze sources alike."""
    refresh: str = "rebuild"
    """"merge" (silver dedup: merge new bronze rows by natural key), "keyed" (recompute only the keys
    whose inputs changed, when every changed input is in `keys_from`) or "rebuild" (recompute)."""
    natural_key: list[str] = []
    version_order: str = ""
    source_table: str | None = None
    """For a merge model fed by bronze: the bronze table whose new rows it merges."""
    delta_of: str | None = None
    """For a merge model fed by another merge model (schema.table): it merges that model's changed rows."""
    refresh_key: str | None = None
    """For a "keyed" model: the column whose values it recomputes row groups by."""
    keys_from: dict[str, str] = {}
    """Keyed model: input relation → SQL mapping that input's changed rows (`{delta}`) to key values."""
    restrict: dict[str, str] = {}
    """Keyed model: input relation → predicate narrowing it to the affected keys (`{keys}`)."""


class LineageNode(BaseModel):
    model_config = ConfigDict(frozen=True)

    relation: str
    kind: str
    """"source" (bronze) or a materialization ("table", "view")."""
    pii_columns: list[str] = []
    upstream: list[LineageNode] = []


def _relations(manifest: dict[str, Any]) -> dict[str, str]:
    rel: dict[str, str] = {}
    for uid, node in manifest["nodes"].items():
        if node["resource_type"] == "model":
            rel[uid] = f"{node['schema']}.{node.get('alias') or node['name']}"
    for uid, src in manifest["sources"].items():
        rel[uid] = f"{src['schema']}.{src.get('identifier') or src['name']}"
    return rel


def _strip_catalog(sql: str, database: str | None) -> str:
    return sql.replace(f'"{database}".', "") if database else sql


def model_specs(manifest: dict[str, Any]) -> list[ModelSpec]:
    """The project's models in dependency order (every model after the models it reads)."""
    rel = _relations(manifest)
    specs: dict[str, ModelSpec] = {}
    for uid, node in manifest["nodes"].items():
        if node["resource_type"] != "model":
            continue
        meta = node.get("config", {}).get("meta") or node.get("meta") or {}
        code = node.get("compiled_code")
        if code is None:
            raise WarehouseError(f"{uid} has no compiled SQL in the manifest (run dbt build or compile)")
        specs[uid] = ModelSpec(
            unique_id=uid,
            relation=rel[uid],
            materialized=node["config"]["materialized"],
            sql=_strip_catalog(code, node.get("database")).strip().rstrip(";"),
            depends_on=[rel[d] for d in node["depends_on"]["nodes"] if d in rel],
            refresh=meta.get("refresh", "rebuild"),
            natural_key=list(meta.get("natural_key", [])),
            version_order=meta.get("version_order", ""),
            source_table=meta.get("source_table"),
            delta_of=meta.get("delta_of"),
            refresh_key=meta.get("refresh_key"),
            keys_from=dict(meta.get("keys_from", {})),
            restrict=dict(meta.get("restrict", {})),
        )
    by_relation = {s.relation: s for s in specs.values()}
    ordered: list[ModelSpec] = []
    seen: set[str] = set()

    def visit(spec: ModelSpec) -> None:
        if spec.relation in seen:
            return
        seen.add(spec.relation)
        for dep in spec.depends_on:
            if dep in by_relation:
                visit(by_relation[dep])
        ordered.append(spec)

    for spec in sorted(specs.values(), key=lambda s: s.relation):
        visit(spec)
    return ordered


def bronze_watermarks(wh: Warehouse) -> dict[str, datetime | None]:
    """The latest ingestion time in each bronze table: rows after it are new to silver."""
    marks: dict[str, datetime | None] = {}
    for table in wh.tables("bronze"):
        marks[table] = wh.con.execute(f"SELECT max(_ingested_at) FROM bronze.{table}").fetchall()[0][0]
    return marks


def record_models(wh: Warehouse, manifest: dict[str, Any], watermarks: dict[str, datetime | None]) -> None:
    """Store the compiled models and the bronze watermarks they were built from; re-create views
    without the catalog qualifier dbt wrote into them (a copied or renamed file would not resolve it)."""
    specs = model_specs(manifest)
    con = wh.con
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {META_SCHEMA}").fetchall()
    con.execute(
        f"CREATE OR REPLACE TABLE {META_SCHEMA}._twin_models (position INTEGER, relation VARCHAR, spec JSON)"
    ).fetchall()
    con.executemany(
        f"INSERT INTO {META_SCHEMA}._twin_models VALUES (?, ?, ?)",
        [[i, s.relation, s.model_dump_json()] for i, s in enumerate(specs)],
    )
    con.execute(
        f"CREATE OR REPLACE TABLE {META_SCHEMA}._twin_watermarks (bronze_table VARCHAR PRIMARY KEY, "
        "ingested_through TIMESTAMP)"
    ).fetchall()
    if watermarks:
        con.executemany(
            f"INSERT INTO {META_SCHEMA}._twin_watermarks VALUES (?, ?)",
            [[k, v] for k, v in watermarks.items()],
        )
    for spec in specs:
        if spec.materialized == "view":
            con.execute(f"CREATE OR REPLACE VIEW {spec.relation} AS {spec.sql}").fetchall()


def recorded_models(wh: HasConnection) -> list[ModelSpec]:
    try:
        rows = wh.con.execute(f"SELECT spec FROM {META_SCHEMA}._twin_models ORDER BY position").fetchall()
    except Exception as exc:  # duckdb.CatalogException, imported lazily elsewhere
        raise WarehouseError(
            "this database has no recorded models: run `twin warehouse build` first"
        ) from exc
    return [ModelSpec.model_validate(json.loads(r[0])) for r in rows]


def lineage(manifest: dict[str, Any], relation: str) -> LineageNode:
    """The upstream tree of `relation` (schema.table), down to its bronze sources."""
    rel = _relations(manifest)
    by_relation = {v: k for k, v in rel.items()}
    if relation not in by_relation:
        known = ", ".join(sorted(v for v in rel.values() if not v.startswith("bronze.")))
        raise WarehouseError(f"unknown relation {relation!r}; models: {known}")

    def node(uid: str) -> LineageNode:
        if uid in manifest["sources"]:
            src = manifest["sources"][uid]
            pii = [c for c, col in src.get("columns", {}).items() if "pii" in (col.get("tags") or [])]
            return LineageNode(relation=rel[uid], kind="source", pii_columns=sorted(pii))
        n = manifest["nodes"][uid]
        pii = [c for c, col in n.get("columns", {}).items() if "pii" in (col.get("tags") or [])]
        ups = [node(d) for d in sorted(n["depends_on"]["nodes"], key=lambda d: rel.get(d, d)) if d in rel]
        return LineageNode(
            relation=rel[uid], kind=n["config"]["materialized"], pii_columns=sorted(pii), upstream=ups
        )

    return node(by_relation[relation])


def pii_columns(manifest: dict[str, Any]) -> dict[str, list[str]]:
    """PII-tagged columns per relation (schema.table), sources and models alike."""
    rel = _relations(manifest)
    out: dict[str, list[str]] = {}
    for uid, node in [*manifest["nodes"].items(), *manifest["sources"].items()]:
        if uid not in rel:
            continue
        cols = sorted(c for c, col in node.get("columns", {}).items() if "pii" in (col.get("tags") or []))
        if cols:
            out[rel[uid]] = cols
    return out


@functools.cache
def project_manifest() -> dict[str, Any]:
    """Parse the bundled dbt project (no database needed) and return its manifest (parsed once per
    process: the project is part of the installed package). Treat it as read-only."""
    import tempfile
    from pathlib import Path

    from twin.warehouse.dbt_runner import run_dbt

    with tempfile.TemporaryDirectory(prefix="twin-dbt-") as work:
        return run_dbt(["parse"], Path(work) / "parse.duckdb", Path(work)).manifest()

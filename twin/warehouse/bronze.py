"""Loading fixture files into bronze: one append-only `bronze.<x>_raw` table per entity."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from twin.warehouse.engine import Warehouse, WarehouseError

BRONZE_TABLES: dict[str, str] = {
    "customers": "customers_raw",
    "accounts": "accounts_raw",
    "institutional_clients": "institutional_clients_raw",
    "funds": "funds_raw",
    "nav": "nav_raw",
    "trades": "trades_raw",
    "positions": "aladdin_positions_raw",
    "balances": "balances_raw",
    "crm_signals": "crm_signals_raw",
    "data_products": "data_products_raw",
    "contracts": "contracts_raw",
}
"""Fixture entity → bronze table. Positions arrive from Aladdin, hence the table's name."""

SOURCES: dict[str, str] = {"positions": "aladdin", "crm_signals": "salesforce"}

_GLOB_CHARS = "*?["


def read_fixture(path: Path) -> pa.Table:
    """Read one fixture Parquet file; a missing or unreadable file is named in the error."""
    import pyarrow.parquet as pq

    if not path.is_file():
        raise WarehouseError(f"fixture file missing: {path}")
    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise WarehouseError(f"corrupt fixture file {path}: {exc}") from exc


def load_fixtures(
    wh: Warehouse,
    fixtures_dir: Path,
    *,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Append every fixture file to its bronze table; returns new rows per bronze table.

    All files or none: a missing file is refused before anything is written, and a corrupt one rolls the
    whole load back, so bronze is left untouched.
    """
    fixtures_dir = Path(fixtures_dir)
    if not fixtures_dir.is_dir():
        raise WarehouseError(f"fixtures folder not found: {fixtures_dir}")
    paths = {entity: fixtures_dir / f"{entity}.parquet" for entity in BRONZE_TABLES}
    for path in paths.values():
        if not path.is_file():
            raise WarehouseError(f"fixture file missing: {path}")
    if any(ch in str(fixtures_dir) for ch in _GLOB_CHARS):
        # DuckDB's reader would take the path for a pattern: read the files through Arrow instead.
        tables = {entity: read_fixture(path) for entity, path in paths.items()}
        loaded: dict[str, int] = {}
        for entity, data in tables.items():
            table = BRONZE_TABLES[entity]
            if progress:
                progress(f"bronze.{table}")
            loaded[table] = wh.append_bronze(table, data, source=SOURCES.get(entity, "fixtures"))
        return loaded
    files = [(BRONZE_TABLES[e], path, SOURCES.get(e, "fixtures")) for e, path in paths.items()]
    return wh.append_bronze_files(files, progress=progress)

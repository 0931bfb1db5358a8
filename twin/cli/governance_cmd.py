"""Governance commands: `twin sql`, `twin policy …`, `twin audit …`, `twin governance forget`,
`twin pii scan`."""

from __future__ import annotations

import csv
import io
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from twin.cli.errors import fail
from twin.config import paths

console = Console()


class SqlDialect(StrEnum):
    snowflake = "snowflake"
    duckdb = "duckdb"


class OutFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class Target(StrEnum):
    duckdb = "duckdb"
    snowflake = "snowflake"


def _db(db: Path | None) -> Path:
    from twin.cli.inputs import database

    return database(db or paths().database)


def _audit() -> Any:
    from twin.governance.audit import AuditLog
    from twin.governance.errors import GovernanceError

    p = paths()
    try:
        return AuditLog(p.audit_log, p.audit_keys, digest_dir=p.audit_digests)
    except GovernanceError as e:
        fail(str(e))
    except OSError as e:
        fail(f"cannot open the audit log {p.audit_log}: {e.strerror} ({e.filename})")


def _print_rows(columns: list[str], rows: list[Any], fmt: OutFormat, title: str | None = None) -> None:
    if fmt is OutFormat.json:
        sys.stdout.write(
            json.dumps([dict(zip(columns, r, strict=True)) for r in rows], default=str, indent=2) + "\n"
        )
    elif fmt is OutFormat.csv:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(columns)
        w.writerows(rows)
        sys.stdout.write(buf.getvalue())
    else:
        t = Table(title=title)
        for c in columns:
            t.add_column(c)
        for r in rows:
            # Text, not str: a value like '[/x]' is data, and rich would parse a str as markup
            t.add_row(*(Text("NULL" if v is None else str(v)) for v in r))
        console.print(t)


def register(app: typer.Typer) -> None:
    policy = typer.Typer(help="Masking and row access policies from Snowflake DDL.", no_args_is_help=True)
    audit = typer.Typer(help="The append-only, hash-chained audit log.", no_args_is_help=True)
    gov = typer.Typer(help="Governance operations (right to be forgotten).", no_args_is_help=True)
    pii = typer.Typer(help="PII scanner (the Macie stand-in).", no_args_is_help=True)
    app.add_typer(policy, name="policy")
    app.add_typer(audit, name="audit")
    app.add_typer(gov, name="governance")
    app.add_typer(pii, name="pii")

    @app.command("sql")
    def sql_cmd(
        query: str = typer.Argument(..., help="One SELECT statement."),
        role: str = typer.Option(..., "--role", help="The session's primary role."),
        user: str = typer.Option("cli", "--user", help="The session's user name."),
        department: str | None = typer.Option(None, "--department", help="The session's department."),
        secondary_roles: str = typer.Option("", "--secondary-roles", help="Comma-separated secondary roles."),
        fmt: OutFormat = typer.Option(OutFormat.table, "--format", help="table, json or csv."),
        db: Path | None = typer.Option(
            None, "--db", help="Warehouse file (default: TWIN_HOME/warehouse.duckdb)."
        ),
        dialect: SqlDialect = typer.Option(
            SqlDialect.snowflake, "--dialect", help="SQL dialect of the query: snowflake or duckdb."
        ),
    ) -> None:
        """Run one query through a secure session: policies apply, the firewall checks it, it is audited."""
        from twin.governance.errors import GovernanceError, QueryDenied, WarehouseLocked
        from twin.governance.limits import cap_process_memory, load_limits
        from twin.governance.session import claims_from, harden, log_refusal, open_reader, open_session

        path = _db(db)
        log = _audit()
        try:
            # Invalid claims are an attempt too: claims_from audits them before refusing.
            claims = claims_from(
                {"user": user, "role": role, "department": department,
                 "secondary_roles": [r.strip() for r in secondary_roles.split(",") if r.strip()]},
                audit=log,
            )  # fmt: skip
        except GovernanceError as e:
            log.close()
            fail(str(e))
        con = None
        # Restores this process's memory cap (a no-op until the query is about to run).
        uncap = lambda: None  # noqa: E731
        error: tuple[str, int] | None = None
        try:
            limits = load_limits().for_role(claims.role)
            # Read-only: any number of `twin sql` can run at once; only a writer locks them out.
            con = open_reader(path)
            with open_session(con, claims, audit=log, limits=limits) as session:
                # This connection only serves this query: lock its DuckDB instance down first.
                harden(con, limits)
                uncap = cap_process_memory(limits.memory_mb)
                result = session.query(query, dialect=dialect.value)
        except QueryDenied as e:
            error = (f"denied: {e.reason}", 3)
        except WarehouseLocked as e:
            log_refusal(log, claims, query, str(e))
            error = (str(e), 2)
        except GovernanceError as e:
            error = (str(e), 2)
        finally:
            uncap()
            log.close()
            if con is not None:
                con.close()
        if error is not None:
            # Out here, not in the handlers: the exit must not keep the failed query's frames (and
            # DuckDB's objects) alive until the interpreter shuts down, where DuckDB reports them leaked.
            fail(*error)
        _print_rows(result.columns, result.rows, fmt)

    @policy.command("compile")
    def compile_cmd(
        target: Target = typer.Option(Target.duckdb, "--target", help="duckdb or snowflake."),
        files: list[Path] = typer.Argument(None, help="Policy files (default: the shipped policies)."),
        db: Path | None = typer.Option(
            None, "--db", help="Warehouse whose table columns to compile against."
        ),
    ) -> None:
        """Print the policies compiled for DuckDB (secure views) or as Snowflake DDL."""
        from twin.governance.compiler import compile_duckdb, unknown_references
        from twin.governance.ddl import file_to_snowflake, load_shipped, parse_file
        from twin.governance.errors import GovernanceError
        from twin.governance.models import PolicyFile

        try:
            if files:
                pf = PolicyFile(statements=[s for f in files for s in parse_file(f).statements])
            else:
                pf = load_shipped()
            if target is Target.snowflake:
                sys.stdout.write(file_to_snowflake(pf))
                return
            columns = _columns(db)
            if columns and (unknown := unknown_references(pf.statements, columns, tables=False)):
                fail("the policies name what the warehouse does not have: " + "; ".join(unknown))
            compiled = compile_duckdb(pf.statements, columns)
        except (GovernanceError, OSError) as e:
            fail(str(e))
        for stmt in compiled.statements():
            sys.stdout.write(stmt + ";\n")
        for t in compiled.skipped:
            console.print(f"[yellow]-- {t}: table not found, no secure view compiled[/]", highlight=False)

    @policy.command("apply")
    def apply_cmd(
        file: Path = typer.Argument(..., help="A file of policy statements (Snowflake DDL)."),
        db: Path | None = typer.Option(None, "--db", help="Warehouse file."),
        actor: str = typer.Option("admin", "--as", help="Who is applying (recorded in the audit log)."),
        fmt: OutFormat = typer.Option(OutFormat.table, "--format", help="table or json."),
    ) -> None:
        """Apply a policy file to the warehouse (idempotent; CREATE OR REPLACE replaces)."""
        import duckdb

        from twin.governance.compiler import unknown_references
        from twin.governance.ddl import parse_file
        from twin.governance.errors import GovernanceError
        from twin.governance.store import table_columns
        from twin.warehouse.engine import Warehouse

        if not file.exists():
            fail(f"no such file: {file}")
        path = _db(db)
        log = _audit()
        try:
            pf = parse_file(file)
            with Warehouse(path) as wh:
                unknown = unknown_references(pf.statements, table_columns(wh.con))
                if unknown:
                    raise GovernanceError(f"{file.name}: nothing applied: " + "; ".join(unknown))
                report = apply_policies_cli(wh, pf, actor, log)
        except GovernanceError as e:
            fail(str(e))
        except duckdb.Error as e:
            # The file passed every check but the warehouse refused a value (an INSERT of the wrong type).
            fail(f"{file.name}: nothing applied, the warehouse refused it: {str(e).splitlines()[0]}")
        finally:
            log.close()
        if fmt is OutFormat.json:
            sys.stdout.write(report.model_dump_json(indent=2) + "\n")
            return
        console.print(f"{len(report.changed)} changed, {report.unchanged} unchanged; secure views: "
                      f"{', '.join(report.compiled) or 'none'}")  # fmt: skip
        for w in report.warnings:
            console.print(f"[yellow]warning:[/] {w}", highlight=False)
        for t in report.skipped:
            console.print(f"[yellow]skipped:[/] {t} does not exist yet", highlight=False)

    @policy.command("references")
    def references_cmd(
        db: Path | None = typer.Option(None, "--db", help="Warehouse file."),
        fmt: OutFormat = typer.Option(OutFormat.table, "--format", help="table, json or csv."),
    ) -> None:
        """Which policy protects which table or column, and how (direct or through a tag)."""
        import duckdb

        from twin.governance.store import references

        con = duckdb.connect(str(_db(db)), read_only=True)
        try:
            refs = references(con)
        finally:
            con.close()
        cols = [
            "policy_name",
            "policy_kind",
            "ref_entity_name",
            "ref_column_name",
            "ref_arg_column_names",
            "how",
        ]
        rows = [(r.policy_name, r.policy_kind, r.ref_entity_name, r.ref_column_name,
                 ",".join(r.ref_arg_column_names), r.how) for r in refs]  # fmt: skip
        _print_rows(cols, rows, fmt, title="policy references")

    @audit.command("verify")
    def verify_cmd(
        log: Path | None = typer.Option(
            None, "--log", help="Audit log file (default: TWIN_HOME/audit.jsonl)."
        ),
        digests: Path | None = typer.Option(
            None, "--digests", help="Digest folder (default: TWIN_AUDIT_DIGESTS or <log>.digests)."
        ),
        keys: Path | None = typer.Option(
            None,
            "--keys",
            help="The signer's key folder, for its public key and head (default: "
            "TWIN_AUDIT_KEYS or TWIN_HOME/keys).",
        ),
        public_key: Path | None = typer.Option(
            None, "--public-key", help="Trust this Ed25519 public key (PEM) instead of the keys folder's."
        ),
        strict: bool = typer.Option(
            False, "--strict", help="Also fail when records follow the newest digest (not yet sealed)."
        ),
        fmt: OutFormat = typer.Option(OutFormat.table, "--format", help="table or json."),
    ) -> None:
        """Check the hash chain and the signed digests; reads only, never writes a file or a key.

        Exits 1 naming the first bad record or digest (edited, truncated, emptied, restarted, re-sealed).
        """
        from twin.governance.audit import AuditPaths, verify_log

        p = paths()
        path = log or p.audit_log
        default_log = log is None
        if not path.name or path.is_dir():
            fail(f"--log must name an audit log file, not {str(path)!r}")
        ap = AuditPaths.for_log(
            path,
            key_dir=keys or (p.audit_keys if default_log else None),
            digest_dir=digests or (p.audit_digests if default_log else None),
        )
        if not any(_exists(x) for x in (path, ap.head, ap.digest_dir)):
            fail(f"no audit log at {path}")
        result = verify_log(ap, public_key=public_key)
        if fmt is OutFormat.json:
            sys.stdout.write(result.model_dump_json(indent=2) + "\n")
        elif result.ok:
            console.print(
                f"[green]ok[/]: {result.records} records, chain intact; {result.digests} signed digest(s) "
                f"seal {result.sealed_records}, {result.unsealed_records} after the newest digest",
                highlight=False,
            )
        if fmt is not OutFormat.json:
            for w in result.warnings:
                console.print(f"[yellow]warning:[/] {w}", highlight=False)
        if not result.ok:
            where = []
            if result.first_bad_line is not None:
                where.append(f"record at line {result.first_bad_line} (seq {result.first_bad_seq})")
            elif result.first_bad_seq is not None:
                where.append(f"record {result.first_bad_seq}")
            if result.bad_digest is not None:
                where.append(f"digest {result.bad_digest}")
            fail(f"{', '.join(where) or 'audit log'}: {result.reason}", code=1)
        if strict and result.unsealed_records:
            fail(f"{result.unsealed_records} record(s) after the newest digest are not sealed yet "
                 "(--strict)", code=1)  # fmt: skip

    @audit.command("query")
    def audit_query_cmd(
        role: str = typer.Option(..., "--role", help="Must be COMPLIANCE_AUDITOR (or inherit it)."),
        user: str = typer.Option("cli", "--user"),
        where: str | None = typer.Option(None, "--where", help="A filter over query_history columns."),
        limit: int = typer.Option(50, "--limit"),
        fmt: OutFormat = typer.Option(OutFormat.table, "--format", help="table, json or csv."),
        db: Path | None = typer.Option(None, "--db", help="Warehouse file."),
    ) -> None:
        """Read the query history (Snowflake QUERY_HISTORY shape) through a governed session."""
        from twin.governance.errors import GovernanceError, QueryDenied, WarehouseLocked
        from twin.governance.session import claims_from, log_refusal, open_reader, open_session

        sql = "SELECT * FROM account_usage.query_history"
        if where:
            sql += f" WHERE {where}"
        sql += f" ORDER BY query_id DESC LIMIT {int(limit)}"
        path = _db(db)
        log = _audit()
        con = None
        try:
            claims = claims_from({"user": user, "role": role}, audit=log)
            con = open_reader(path)
            with open_session(con, claims, audit=log) as s:
                result = s.query(sql)
        except QueryDenied as e:
            fail(f"denied: {e.reason}", code=3)
        except WarehouseLocked as e:
            log_refusal(log, claims, sql, str(e))
            fail(str(e))
        except GovernanceError as e:
            fail(str(e))
        finally:
            log.close()
            if con is not None:
                con.close()
        _print_rows(result.columns, result.rows, fmt, title="query history")

    @gov.command("forget")
    def forget_cmd(
        customer_id: str = typer.Argument(..., help="The customer to anonymise."),
        db: Path | None = typer.Option(None, "--db", help="Warehouse file."),
        actor: str = typer.Option("admin", "--as", help="Who asked (recorded in the audit log)."),
        fmt: OutFormat = typer.Option(OutFormat.table, "--format", help="table or json."),
    ) -> None:
        """Forget a customer for good: anonymise them in bronze, silver, gold and published tables,
        and in every later load, rebuild or replay (erasure register); the audit log keeps the proof."""
        from twin.governance.errors import GovernanceError
        from twin.governance.forget import forget
        from twin.warehouse.engine import Warehouse

        path = _db(db)
        log = _audit()
        try:
            with Warehouse(path) as wh:
                report = forget(wh.con, customer_id, audit=log, actor=actor)
        except GovernanceError as e:
            fail(str(e))
        finally:
            log.close()
        if fmt is OutFormat.json:
            sys.stdout.write(report.model_dump_json(indent=2) + "\n")
            return
        for t, n in report.rows.items():
            console.print(f"{t}: {n} row(s) anonymised")
        if report.already_forgotten:
            console.print("already forgotten earlier: nothing new to erase")
        console.print(f"subject token {report.subject}")

    @pii.command("scan")
    def scan_cmd(
        target: str = typer.Argument(..., help="SCHEMA.TABLE in the warehouse, or a Parquet file."),
        db: Path | None = typer.Option(None, "--db", help="Warehouse file (for a table)."),
        fail_on_findings: bool = typer.Option(
            False,
            "--fail-on-findings",
            help="Exit 1 when PII is found in a column with no decision (neither masked nor declared "
            "visible with a pii_decision tag).",
        ),
        fmt: OutFormat = typer.Option(OutFormat.table, "--format", help="table or json."),
    ) -> None:
        """Find SSNs, emails, phones, account/card numbers and person names in untagged columns."""
        from twin.governance.errors import GovernanceError
        from twin.governance.pii import scan_parquet, scan_table, undecided

        try:
            if target.endswith(".parquet") or Path(target).exists():
                report = scan_parquet(Path(target))
            else:
                import duckdb

                con = duckdb.connect(str(_db(db)), read_only=True)
                try:
                    report = scan_table(con, target)
                finally:
                    con.close()
        except GovernanceError as e:
            fail(str(e))
        if fmt is OutFormat.json:
            sys.stdout.write(report.model_dump_json(indent=2) + "\n")
        else:
            rows = [
                (f.column, f.detector, f.count, f.rows_scanned, ", ".join(f.visible_to or []) or "UNDECIDED",
                 "; ".join(f.samples))
                for f in report.findings
            ]  # fmt: skip
            _print_rows(["column", "detector", "matches", "scanned", "visible to", "masked samples"], rows,
                        fmt, title=f"PII in {report.source}")  # fmt: skip
        if fail_on_findings and undecided(report):
            raise typer.Exit(1)


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a folder we may not read (the signer's keys): verify says what it could not check
        return True


def apply_policies_cli(wh: Any, pf: Any, actor: str, log: Any) -> Any:
    from twin.governance.store import apply_policies

    return apply_policies(wh.con, pf, actor=actor, audit=log)


def _columns(db: Path | None) -> dict[str, dict[str, str]]:
    path = db or paths().database
    if not path.exists():
        return {}
    from twin.cli.inputs import database

    database(path)
    import duckdb

    from twin.governance.store import table_columns

    con = duckdb.connect(str(path), read_only=True)
    try:
        return table_columns(con)
    finally:
        con.close()

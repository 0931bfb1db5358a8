"""The streaming CLI: help, clear errors without tracebacks, JSON output, and (live) the whole path
`topics apply` → `produce` → `ingest run` → `dlq replay` against the real broker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from twin.cli.main import app
from twin.streaming.contracts.topics import TOPICS

runner = CliRunner()


@pytest.mark.parametrize(
    "args",
    [["topics", "--help"], ["produce", "--help"], ["ingest", "run", "--help"], ["dlq", "replay", "--help"]],
)
def test_every_command_has_help(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 0 and "Usage" in result.output


def test_topics_list_contracts_as_json_needs_no_broker() -> None:
    result = runner.invoke(app, ["topics", "list", "--contracts", "--format", "json"])
    assert result.exit_code == 0
    rows = json.loads(result.output)
    assert {r["topic"] for r in rows} == set(TOPICS)
    balances = next(r for r in rows if r["topic"] == "cash.balances")
    assert balances["cleanup_policy"] == "compact,delete" and balances["key"] == ["account_id"]


def test_errors_are_one_line_without_traceback(twin_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TWIN_BOOTSTRAP", raising=False)
    no_broker = runner.invoke(app, ["topics", "apply"])
    assert no_broker.exit_code == 2 and "twin broker up" in no_broker.output
    assert "Traceback" not in no_broker.output
    unknown = runner.invoke(app, ["produce", "nosuch", "--bootstrap", "127.0.0.1:1"])
    assert unknown.exit_code == 2 and "unknown source" in unknown.output
    bad_source = runner.invoke(
        app, ["ingest", "run", "--sources", "trades,nosuch", "--bootstrap", "127.0.0.1:1"]
    )
    assert bad_source.exit_code == 2 and "nosuch" in bad_source.output
    bad_format = runner.invoke(app, ["topics", "list", "--contracts", "--format", "xml"])
    assert bad_format.exit_code == 2


@pytest.mark.live
def test_cli_apply_produce_ingest_replay_end_to_end(kafka_cluster: Any, twin_home: Path) -> None:
    b = ["--bootstrap", kafka_cluster.bootstrap]
    first = runner.invoke(app, ["topics", "apply", *b, "--format", "json"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, ["topics", "apply", *b, "--format", "json"])
    assert second.exit_code == 0, (second.output, second.exception)
    assert {c["action"] for c in json.loads(second.output)} == {"unchanged"}  # idempotent
    produced = runner.invoke(
        app, ["produce", "crm", "--rate", "400", "--duration", "1", *b, "--format", "json"]
    )
    assert produced.exit_code == 0, produced.output
    sent = json.loads(produced.output.strip().splitlines()[-1])["sent"]
    assert sent == 400
    db = twin_home / "wh.duckdb"
    ingested = runner.invoke(
        app,
        [
            "ingest",
            "run",
            "--sources",
            "crm",
            "--until-idle",
            "2",
            "--database",
            str(db),
            *b,
            "--format",
            "json",
        ],
    )
    assert ingested.exit_code == 0, ingested.output
    # Not a terminal: the status comes as log lines, the last one whole and on its own line.
    assert ingested.stderr.endswith("\n")
    assert f"crm_signals_raw: {sent:,} rows, 0 dlq, stopped" in ingested.stderr.splitlines()[-1]
    out = json.loads(ingested.stdout)
    assert out["crm_signals_raw"]["written"] == sent
    replayed = runner.invoke(
        app, ["dlq", "replay", "--database", str(db), "--idle", "1", *b, "--format", "json"]
    )
    assert replayed.exit_code == 0, replayed.output
    assert json.loads(replayed.output[replayed.output.index("{") :])["landed"] == 0

"""`twin serve registry`: Confluent's client talks to the command's server; bad options and unreadable
stores end in one clear line and exit 2."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from typer.testing import CliRunner

from twin.cli.main import app

runner = CliRunner()
V1 = {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}


def test_the_command_serves_the_store_that_survives_it(tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "twin.cli.main",
        "serve",
        "registry",
        "--port",
        "0",
        "--schemas",
        str(tmp_path),
    ]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "400"})
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert url, line
        client = SchemaRegistryClient({"url": url.group(0)})
        schema_id = client.register_schema("t-value", Schema(json.dumps(V1), "JSON"))
        assert client.get_compatibility() == "BACKWARD"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
    assert proc.returncode == 0
    assert (tmp_path / "t-value" / "v1.json").exists()
    assert schema_id == 1


def test_a_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(app, ["serve", "registry", "--port", str(port), "--schemas", str(tmp_path)])
    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert "Traceback" not in result.output


def test_bad_options_and_unreadable_stores_exit_2(tmp_path: Path) -> None:
    a_file = tmp_path / "f"
    a_file.write_text("x")
    broken = tmp_path / "broken"
    (broken / "t-value").mkdir(parents=True)
    (broken / "t-value" / "v1.json").write_text("{not json")
    for args, message in (
        (["--port", "70000"], "65535"),
        (["--schemas", str(a_file)], "is a file"),
        (["--schemas", str(broken)], "cannot read the schema store"),
    ):
        result = runner.invoke(app, ["serve", "registry", *args])
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output
        assert "Traceback" not in result.output

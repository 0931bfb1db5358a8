"""`twin broker install`: cached jars mean no Maven at all; the pom pins the version the code expects."""

from __future__ import annotations

import os
import stat
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from twin.cli.errors import TwinError
from twin.streaming.broker import installer as inst


def _fake_cache(cache: Path) -> Path:
    libs = inst.libs_dir(cache)
    libs.mkdir(parents=True)
    (libs / f"kafka_2.13-{inst.KAFKA_VERSION}.jar").write_bytes(b"jar")
    (inst.kafka_home(cache) / inst.MARKER).write_text("kafka_2.13.jar\n")
    return libs


def _tripwire_mvn(bin_dir: Path, called: Path) -> None:
    """A `mvn` on PATH that records being called and fails."""
    bin_dir.mkdir()
    mvn = bin_dir / "mvn"
    mvn.write_text(f"#!/bin/sh\necho called > {called}\nexit 7\n")
    mvn.chmod(mvn.stat().st_mode | stat.S_IEXEC)


def test_install_with_cache_present_never_runs_maven(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    libs = _fake_cache(tmp_path / "cache")
    called = tmp_path / "called"
    _tripwire_mvn(tmp_path / "bin", called)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")

    got, ran = inst.install(tmp_path / "cache")

    assert (got, ran) == (libs.resolve(), False)
    assert not called.exists()


def test_install_without_marker_is_not_considered_installed(tmp_path: Path) -> None:
    libs = _fake_cache(tmp_path / "cache")
    (libs.parent / inst.MARKER).unlink()
    assert not inst.is_installed(tmp_path / "cache")
    with pytest.raises(TwinError, match="twin broker install"):
        inst.require_installed(tmp_path / "cache")


def test_failed_maven_run_reports_its_output_and_leaves_no_marker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    called = tmp_path / "called"
    _tripwire_mvn(tmp_path / "bin", called)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")

    with pytest.raises(TwinError, match="exit 7"):
        inst.install(tmp_path / "cache")

    assert called.exists()
    assert not inst.is_installed(tmp_path / "cache")
    assert not (inst.kafka_home(tmp_path / "cache") / "libs.partial").exists()


def test_maven_command_is_batch_mode_and_copies_runtime_scope(tmp_path: Path) -> None:
    cmd = inst.maven_command(inst.pom_path(), tmp_path / "out")
    assert {"-B", "-q", "dependency:copy-dependencies", "-DincludeScope=runtime"} <= set(cmd)
    assert f"-DoutputDirectory={tmp_path / 'out'}" in cmd


def test_pom_pins_the_kafka_version_the_code_expects() -> None:
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    root = ET.parse(inst.pom_path()).getroot()
    assert root.findtext("m:properties/m:kafka.version", namespaces=ns) == inst.KAFKA_VERSION
    artifacts = [
        d.findtext("m:artifactId", namespaces=ns) for d in root.findall("m:dependencies/m:dependency", ns)
    ]
    assert "kafka_2.13" in artifacts

"""Copies the pinned Apache Kafka jars into the cache with Maven, once.

The jars land in `<cache>/kafka/<version>/libs`; a marker file written last makes a re-run instant and
offline (Maven is not even started), and a half-finished copy is never mistaken for a complete one."""

from __future__ import annotations

import shutil
import subprocess
from importlib import resources
from pathlib import Path

from twin.errors import TwinError

KAFKA_VERSION = "4.1.1"
POM_NAME = "kafka-jars.pom.xml"
MARKER = ".installed"


class KafkaNotInstalled(TwinError):
    """The jars are not in the cache (run `twin broker install`)."""


def kafka_home(cache: Path, version: str = KAFKA_VERSION) -> Path:
    return cache / "kafka" / version


def libs_dir(cache: Path, version: str = KAFKA_VERSION) -> Path:
    return kafka_home(cache, version) / "libs"


def is_installed(cache: Path, version: str = KAFKA_VERSION) -> bool:
    home = kafka_home(cache, version)
    return (home / MARKER).is_file() and any((home / "libs").glob("kafka_2.13-*.jar"))


def require_installed(cache: Path, version: str = KAFKA_VERSION) -> Path:
    if not is_installed(cache, version):
        raise KafkaNotInstalled(
            f"Apache Kafka {version} jars are not in {kafka_home(cache, version)}: run `twin broker install`"
        )
    return libs_dir(cache, version)


def pom_path() -> Path:
    return Path(str(resources.files("twin.streaming.broker") / POM_NAME))


def maven_command(pom: Path, output_dir: Path) -> list[str]:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise TwinError("Maven (`mvn`) is not on PATH: install it (Debian: `apt-get install maven`)")
    return [
        mvn,
        "-B",
        "-q",
        "-f",
        str(pom),
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={output_dir}",
    ]


def install(cache: Path, version: str = KAFKA_VERSION, *, force: bool = False) -> tuple[Path, bool]:
    """Make sure the jars are cached; returns (libs dir, whether Maven ran)."""
    home = kafka_home(cache.resolve(), version)
    if not force and is_installed(cache, version):
        return home / "libs", False
    if version != KAFKA_VERSION:
        raise TwinError(f"only Apache Kafka {KAFKA_VERSION} is pinned in {POM_NAME}; got {version}")
    if shutil.which("java") is None:
        raise TwinError("Java is not on PATH: Apache Kafka 4 needs Java 17 or newer")
    home.mkdir(parents=True, exist_ok=True)
    staging = home / "libs.partial"
    shutil.rmtree(staging, ignore_errors=True)
    (home / MARKER).unlink(missing_ok=True)
    cmd = maven_command(pom_path(), staging)
    # Maven writes target/ next to the pom otherwise; run it from the staging folder's parent.
    proc = subprocess.run(cmd, cwd=home, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if proc.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise TwinError(f"Maven could not copy the Kafka jars (exit {proc.returncode}):\n{tail}")
    final = home / "libs"
    shutil.rmtree(final, ignore_errors=True)
    staging.rename(final)
    jars = sorted(p.name for p in final.glob("*.jar"))
    (home / MARKER).write_text("\n".join(jars) + "\n")
    return final, True

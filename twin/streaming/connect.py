"""Finding the broker the CLI should talk to: `--bootstrap`, else `TWIN_BOOTSTRAP`, else the state file
`twin broker up` wrote."""

from __future__ import annotations

import json
import os

from twin.config import paths
from twin.errors import TwinError


class NoBroker(TwinError, RuntimeError):
    pass


def resolve_bootstrap(explicit: str | None = None) -> str:
    if explicit:
        return explicit
    env = os.environ.get("TWIN_BOOTSTRAP")
    if env:
        return env
    state = paths().broker_state
    if state.exists():
        try:
            bootstrap = json.loads(state.read_text()).get("bootstrap")
        except (OSError, ValueError) as e:
            raise NoBroker(f"cannot read the broker state file {state}: {e}") from e
        if bootstrap:
            return str(bootstrap)
    raise NoBroker("no broker: start one with `twin broker up`, or pass --bootstrap HOST:PORT")


def connect(explicit: str | None = None, timeout_s: float = 5.0):
    """A KafkaBroker for the resolved bootstrap, checked to answer metadata within `timeout_s`."""
    from confluent_kafka.admin import AdminClient

    from twin.streaming.kafka_adapter import KafkaBroker

    bootstrap = resolve_bootstrap(explicit)
    try:
        AdminClient({"bootstrap.servers": bootstrap, "log_level": 0}).list_topics(timeout=timeout_s)
    except Exception as e:
        raise NoBroker(
            f"broker at {bootstrap} does not answer ({e}); is it up? (`twin broker status`)"
        ) from e
    return KafkaBroker(bootstrap)

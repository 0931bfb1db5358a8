"""A consume call's messages as columns (values, partitions, offsets) rather than one object per message.

At 100,000+ events/s the ingester's consumer thread cannot afford a Python object per message: it holds
the GIL that librdkafka's consume, Arrow's JSON reader and DuckDB need too. The Kafka adapter fills
these columns with `map` over the client's own message objects (the loop runs in C) and builds full
`Record`s only when something needs them: a malformed message on its way to the dead-letter topic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter
from typing import Any

from twin.streaming.port import Record

_PARTITION = attrgetter("partition")
_OFFSET = attrgetter("offset")
_VALUE = attrgetter("value")


def _identity(r: Record) -> Record:
    return r


@dataclass(slots=True)
class Polled:
    values: list[bytes | None]
    partitions: list[int]
    offsets: list[int]
    messages: Sequence[Any]  # the client's message objects, kept to build Records on demand
    to_record: Callable[[Any], Record]

    def __len__(self) -> int:
        return len(self.values)

    def records(self) -> list[Record]:
        return list(map(self.to_record, self.messages))

    @classmethod
    def from_records(cls, records: list[Record]) -> Polled:
        return cls(
            list(map(_VALUE, records)),
            list(map(_PARTITION, records)),
            list(map(_OFFSET, records)),
            records,
            _identity,
        )

    @classmethod
    def concat(cls, parts: list[Polled]) -> Polled:
        if len(parts) == 1:
            return parts[0]
        converters = {id(p.to_record): p.to_record for p in parts}
        if len(converters) == 1:
            to_record = parts[0].to_record
            messages: Sequence[Any] = list(chain.from_iterable(p.messages for p in parts))
        else:  # mixed sources (not expected): materialise once
            to_record = _identity
            messages = list(chain.from_iterable(p.records() for p in parts))
        return cls(
            list(chain.from_iterable(p.values for p in parts)),
            list(chain.from_iterable(p.partitions for p in parts)),
            list(chain.from_iterable(p.offsets for p in parts)),
            messages,
            to_record,
        )

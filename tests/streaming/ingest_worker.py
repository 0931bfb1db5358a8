"""An ingester in its own process, so a live test can SIGKILL it mid-batch and start it again.

    python -m tests.streaming.ingest_worker BOOTSTRAP TOPIC DATABASE [--until-idle S]

TOPIC is a copy of the trades contract under another name. Prints `written N` after every batch.
"""

from __future__ import annotations

import argparse
import sys

from twin.streaming.contracts.topics import topic
from twin.streaming.ingest import IngestConfig, Ingester
from twin.streaming.kafka_adapter import KafkaBroker
from twin.warehouse.engine import Warehouse


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("bootstrap")
    ap.add_argument("topic")
    ap.add_argument("database")
    ap.add_argument("--until-idle", type=float, default=None)
    args = ap.parse_args(argv)
    spec = topic("asset-management.trades.execution").model_copy(update={"name": args.topic})
    wh = Warehouse(args.database)
    config = IngestConfig(batch_max_records=1000, batch_max_ms=50, poll_max_records=500)

    def report(batch: object, visible: float) -> None:
        print(f"written {ing.stats.written}", flush=True)

    ing = Ingester(
        KafkaBroker(args.bootstrap),
        wh,
        spec,
        "trades_raw",
        config=config,
        on_written=report,
        consumer_config={"session.timeout.ms": 6000},
    )
    stats = ing.run(until_idle_s=args.until_idle)
    ing.close()
    wh.close()
    print(f"done {stats.written} skipped {stats.replayed_skips}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

"""Delivery cost by distribution model, and the architecture's cost-reduction trajectory, as arithmetic.

Pull: every client extracts its data over the wire each day, so egress grows with the number of
clients, and each extract runs on our warehouse. Push: the data set is published once per
destination (a region or cloud where subscribers read) to AWS Data Exchange, and subscribers query it
zero-copy in place: egress grows with destinations, not clients; the published revisions are stored
for the retention period.

With the defaults (150 clients pulling 100 GB a day at $0.09/GB, 15 destinations, 30 days kept) pull
costs $503,700/year and push $50,176/year: the architecture's "$500K+/year to ~$50K/year". That cut is
90%; the architecture's headline of 85% needs costs both models carry (about $29K/year) in the base,
which its figures do not itemise, so they are a parameter here (`shared_per_year`), 0 by default.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeliveryInputs(_Frozen):
    clients: int = Field(150, ge=0)
    gb_per_client_per_day: float = Field(100.0, ge=0)
    egress_per_gb: float = Field(0.09, ge=0)
    extract_seconds_per_client_per_day: float = Field(5.0, ge=0, description="warehouse time per pull")
    price_per_second: float = Field(0.04, ge=0)
    destinations: int = Field(15, ge=0, description="regions/clouds the push publishes to")
    retention_days: float = Field(30.0, ge=0)
    storage_per_tb_month: float = Field(23.0, ge=0)
    publish_seconds_per_day: float = Field(5.0, ge=0)
    shared_per_year: float = Field(0.0, ge=0, description="costs both models carry")
    days_per_year: int = Field(365, gt=0)


class DeliveryCost(_Frozen):
    pull_per_year: float
    push_per_year: float
    pull_egress_per_year: float
    push_egress_per_year: float
    reduction: float  # share of the pull cost the push model saves


def delivery_cost(d: DeliveryInputs = DeliveryInputs()) -> DeliveryCost:
    days = d.days_per_year
    pull_egress = d.clients * d.gb_per_client_per_day * d.egress_per_gb * days
    pull_compute = d.clients * d.extract_seconds_per_client_per_day * d.price_per_second * days
    push_egress = d.destinations * d.gb_per_client_per_day * d.egress_per_gb * days
    stored_tb = d.gb_per_client_per_day * d.retention_days / 1000.0
    push_storage = stored_tb * d.storage_per_tb_month * 12
    push_compute = d.publish_seconds_per_day * d.price_per_second * days
    pull = pull_egress + pull_compute + d.shared_per_year
    push = push_egress + push_storage + push_compute + d.shared_per_year
    return DeliveryCost(
        pull_per_year=round(pull, 2),
        push_per_year=round(push, 2),
        pull_egress_per_year=round(pull_egress, 2),
        push_egress_per_year=round(push_egress, 2),
        reduction=round(1.0 - push / pull, 4) if pull else 0.0,
    )


class Stage(_Frozen):
    label: str
    hit_rate: float = Field(ge=0, le=1)
    credits_per_hour: float = Field(gt=0)  # warehouse size
    idle_share: float = Field(0.0, ge=0, lt=1, description="billed time with nothing running")


class StageCost(_Frozen):
    label: str
    per_day: float
    per_year: float
    saving_vs_first: float


# The architecture's 80% trajectory on its worked example (100,000 queries/day, 3 s on an M warehouse
# at $0.04/s): no cache; a 50% hit rate; then an 84% hit rate. Sizes and idle shares are what-ifs.
TRAJECTORY = (
    Stage(label="today: no result cache", hit_rate=0.0, credits_per_hour=4.0),
    Stage(label="result cache, 50% hit rate", hit_rate=0.5, credits_per_hour=4.0),
    Stage(label="84% hit rate", hit_rate=0.84, credits_per_hour=4.0),
)


def trajectory(
    stages: tuple[Stage, ...] | list[Stage] = TRAJECTORY,
    *,
    queries_per_day: float = 100_000,
    seconds_per_query_at_m: float = 3.0,
    price_per_second_at_m: float = 0.04,
    days_per_year: int = 365,
) -> list[StageCost]:
    """Each stage's cost: misses x query seconds x price, on a warehouse `credits_per_hour` big (a
    query runs proportionally faster on a bigger one), grossed up by the idle share of billed time."""
    out: list[StageCost] = []
    first = None
    for s in stages:
        size = s.credits_per_hour / 4.0  # relative to M: price per second x size, query seconds / size
        seconds = seconds_per_query_at_m / size
        busy = queries_per_day * (1 - s.hit_rate) * seconds * price_per_second_at_m * size
        per_day = busy / (1 - s.idle_share)
        first = per_day if first is None else first
        out.append(
            StageCost(
                label=s.label,
                per_day=round(per_day, 2),
                per_year=round(per_day * days_per_year, 2),
                saving_vs_first=round(1 - per_day / first, 4) if first else 0.0,
            )
        )
    return out

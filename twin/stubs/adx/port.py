"""The grant operations the entitlement workflow needs, as a port with two adapters:

- `InProcessGrants`: straight onto a `DataExchangeBackend` (sim mode: SimPy personas, no HTTP);
- `Boto3Grants`: the real boto3 `dataexchange` client against any endpoint (live mode, or real AWS).

One contract suite (`tests/stubs/adx/test_port_contract.py`) runs against both, so the two cannot
drift. Service errors surface as `AdxError` with the service's error code either way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from twin.stubs.adx.models import AdxError, DataExchangeBackend, DataGrant

__all__ = ["Boto3Grants", "DataExchangeGrants", "GrantView", "InProcessGrants"]


class GrantView(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    arn: str
    name: str
    sender: str
    receiver: str
    data_set_id: str
    acceptance_state: str
    ends_at: datetime | None = None


class DataExchangeGrants(Protocol):
    """One account's view of Data Exchange grants."""

    def create_grant(
        self, *, name: str, receiver: str, data_set_id: str, ends_at: datetime | None = None
    ) -> GrantView: ...

    def delete_grant(self, grant_id: str) -> None: ...

    def sent_grants(self) -> list[GrantView]: ...

    def received_grants(self) -> list[GrantView]: ...

    def accept_grant(self, grant_arn: str) -> GrantView: ...

    def entitled_data_sets(self) -> list[str]: ...


def _view(g: DataGrant) -> GrantView:
    return GrantView(
        id=g.id,
        arn=g.arn,
        name=g.name,
        sender=g.sender,
        receiver=g.receiver,
        data_set_id=g.source_data_set_id,
        acceptance_state=g.acceptance_state,
        ends_at=g.ends_at,
    )


class InProcessGrants:
    def __init__(self, backend: DataExchangeBackend, account: str) -> None:
        self.backend = backend
        self.account = account

    def create_grant(
        self, *, name: str, receiver: str, data_set_id: str, ends_at: datetime | None = None
    ) -> GrantView:
        g = self.backend.create_data_grant(
            self.account,
            name=name,
            receiver=receiver,
            source_data_set_id=data_set_id,
            scope="NONE",
            ends_at=ends_at,
        )
        return _view(g)

    def delete_grant(self, grant_id: str) -> None:
        self.backend.delete_data_grant(self.account, grant_id)

    def sent_grants(self) -> list[GrantView]:
        return [_view(g) for g in self.backend.list_data_grants(self.account)]

    def received_grants(self) -> list[GrantView]:
        return [_view(g) for g in self.backend.list_received_grants(self.account)]

    def accept_grant(self, grant_arn: str) -> GrantView:
        return _view(self.backend.accept_data_grant(self.account, grant_arn))

    def entitled_data_sets(self) -> list[str]:
        return [d.id for d in self.backend.list_data_sets(self.account, "ENTITLED")]


class Boto3Grants:
    def __init__(self, client: Any) -> None:
        self.client = client

    def _call(self, name: str, **kwargs: Any) -> Any:
        from botocore.exceptions import ClientError

        try:
            return getattr(self.client, name)(**kwargs)
        except ClientError as e:
            err = e.response.get("Error", {})
            raise AdxError(
                str(err.get("Code", "InternalServerException")), str(err.get("Message", e))
            ) from None

    def _all(self, name: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = self._call(name, **kwargs, **({"NextToken": token} if token else {}))
            out.extend(page[key])
            token = page.get("NextToken")
            if not token:
                return out

    @staticmethod
    def _view(d: dict[str, Any]) -> GrantView:
        return GrantView(
            id=d["Id"],
            arn=d["Arn"],
            name=d["Name"],
            sender=d["SenderPrincipal"],
            receiver=d["ReceiverPrincipal"],
            data_set_id=d.get("SourceDataSetId") or d["DataSetId"],
            acceptance_state=d["AcceptanceState"],
            ends_at=d.get("EndsAt"),
        )

    def create_grant(
        self, *, name: str, receiver: str, data_set_id: str, ends_at: datetime | None = None
    ) -> GrantView:
        extra = {"EndsAt": ends_at} if ends_at else {}
        d = self._call(
            "create_data_grant",
            Name=name,
            GrantDistributionScope="NONE",
            ReceiverPrincipal=receiver,
            SourceDataSetId=data_set_id,
            **extra,
        )
        return self._view(d)

    def delete_grant(self, grant_id: str) -> None:
        self._call("delete_data_grant", DataGrantId=grant_id)

    def sent_grants(self) -> list[GrantView]:
        return [self._view(d) for d in self._all("list_data_grants", "DataGrantSummaries")]

    def received_grants(self) -> list[GrantView]:
        return [self._view(d) for d in self._all("list_received_data_grants", "DataGrantSummaries")]

    def accept_grant(self, grant_arn: str) -> GrantView:
        return self._view(self._call("accept_data_grant", DataGrantArn=grant_arn))

    def entitled_data_sets(self) -> list[str]:
        return [d["Id"] for d in self._all("list_data_sets", "DataSets", Origin="ENTITLED")]

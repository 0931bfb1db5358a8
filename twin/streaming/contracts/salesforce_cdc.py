"""Salesforce Change Data Capture events as a contract: the shape a CometD/Pub-Sub subscriber receives on
`/data/<Object>ChangeEvent` (a `ChangeEventHeader` beside the changed field values), and the topic they
are carried on. The Salesforce stand-in publishes them; the entitlement workflow consumes them, as it
would consume the real org's."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

ChangeType = Literal["CREATE", "UPDATE", "DELETE", "UNDELETE"]
CDC_TOPIC = "crm.salesforce.cdc"


class ChangeEventHeader(BaseModel):
    # Salesforce's own field names (camelCase), so consumers written for the real event read these.
    model_config = ConfigDict(frozen=True, extra="forbid")

    entityName: str
    recordIds: list[str]
    changeType: ChangeType
    changeOrigin: str
    transactionKey: str
    sequenceNumber: int
    commitTimestamp: int
    commitNumber: int
    commitUser: str
    changedFields: list[str]
    nulledFields: list[str]
    diffFields: list[str]


class ChangeEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    header: ChangeEventHeader
    fields: dict[str, Any]
    replay_id: int

    @property
    def channel(self) -> str:
        return f"/data/{self.header.entityName}ChangeEvent"

    def payload(self) -> dict[str, Any]:
        return {"ChangeEventHeader": self.header.model_dump(), **self.fields}

    def message(self) -> dict[str, Any]:
        """The streaming message as a CometD subscriber receives it."""
        return {
            "channel": self.channel,
            "data": {
                "schema": f"{self.header.entityName}ChangeEvent",
                "payload": self.payload(),
                "event": {"replayId": self.replay_id},
            },
        }

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> ChangeEvent:
        payload = dict(message["data"]["payload"])
        header = ChangeEventHeader.model_validate(payload.pop("ChangeEventHeader"))
        return cls(header=header, fields=payload, replay_id=message["data"]["event"]["replayId"])

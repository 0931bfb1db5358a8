"""The entitlement worker: Salesforce change events in, Step Functions executions out, the outcome
written back onto the Opportunity or Contract.

Why a worker and not an EventBridge rule targeting the state machine: on moto a rule whose target is a
state machine makes PutEvents fail with 500, and moto's interpreter can call neither Lambda nor HTTP, so
the confirm-in-Salesforce step is done here once the execution has finished. The state machine still owns
every AWS-side step, their retries (1 s, x2, 3 attempts) and the DLQ.

Decisions (`decide`): an Opportunity whose StageName becomes Closed Won, or a Contract whose Status
becomes Activated, is granted; a Contract whose Status becomes Terminated or Expired is revoked. Anything
else (including the worker's own write-back, which changes only Entitlement_* fields) is ignored. Account
events keep the lookup table's AWS account ids current.

Idempotency and order: CDC is at-least-once. Each record's events are handled one at a time in the order
they arrive (the broker keys them by record id, so one record's events share a partition), an event
whose commitNumber is not above the record's last applied one is skipped, and the execution name is
derived from record id + commitNumber + action, so even a worker restarted without its state starts no
second execution for the same change (moto answers ExecutionAlreadyExists; the worker then waits on the
existing one).
"""

from __future__ import annotations

import json
import queue
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from twin.entitlements.crm import Crm
from twin.entitlements.deploy import Deployment, put_account
from twin.streaming.contracts.salesforce_cdc import ChangeEvent

__all__ = ["Decision", "EntitlementWorker", "Outcome", "WorkerState", "decide", "execution_name"]

Action = Literal["GRANT", "REVOKE"]
GRANT_STAGES = {"Opportunity": ("StageName", {"Closed Won"}), "Contract": ("Status", {"Activated"})}
REVOKE_STATUSES = {"Terminated", "Expired"}
# Keys the state machine adds to its input on the way to the DLQ: stripped before a replay.
_RUNTIME_KEYS = ("failure", "failedStep", "lookup", "grant")


class Decision(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    action: Action
    sobject: str
    record_id: str
    commit_number: int


class Outcome(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    record_id: str
    sobject: str
    action: Action
    status: Literal["GRANTED", "REVOKED", "FAILED", "SKIPPED"]
    execution: str = ""
    grant_id: str = ""
    error: str = ""
    # Where the time went, in seconds: the execution (start to its end seen by polling) and the
    # Salesforce write-back.
    execution_s: float = 0.0
    confirm_s: float = 0.0


class WorkerState(BaseModel):
    """What survives a restart: each record's last applied commitNumber, and every outcome."""

    model_config = ConfigDict(extra="forbid")

    last_commit: dict[str, int] = Field(default_factory=dict)
    outcomes: list[Outcome] = Field(default_factory=list)


def decide(event: ChangeEvent) -> list[Decision]:
    """The grants and revocations one change event asks for (none for most events)."""
    h = event.header
    if h.changeType not in ("CREATE", "UPDATE", "UNDELETE") or h.entityName not in GRANT_STAGES:
        return []
    field, grant_values = GRANT_STAGES[h.entityName]
    if field not in event.fields:  # an UPDATE carries only what changed
        return []
    value = event.fields[field]
    if value in grant_values:
        action: Action = "GRANT"
    elif h.entityName == "Contract" and value in REVOKE_STATUSES:
        action = "REVOKE"
    else:
        return []
    return [
        Decision(action=action, sobject=h.entityName, record_id=r, commit_number=h.commitNumber)
        for r in h.recordIds
    ]


def execution_name(d: Decision) -> str:
    # Step Functions names: at most 80 characters of [A-Za-z0-9_-]; record ids are 18 alphanumerics.
    return f"{d.record_id}-{d.commit_number}-{d.action.lower()}"


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


class EntitlementWorker:
    def __init__(
        self,
        crm: Crm,
        sfn: Any,
        sqs: Any,
        dynamodb: Any,
        deployment: Deployment,
        products: dict[str, str],
        *,
        state_path: Path | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        poll_s: float = 0.02,
        execution_timeout_s: float = 120.0,
    ) -> None:
        self.crm, self.sfn, self.sqs, self.dynamodb = crm, sfn, sqs, dynamodb
        self.deployment = deployment
        self.products = dict(products)  # Data_Product__c -> the product's ADX data set id
        self.state_path = state_path
        self.clock, self.poll_s, self.execution_timeout_s = clock, poll_s, execution_timeout_s
        self.state = WorkerState()
        if state_path is not None and state_path.is_file():
            self.state = WorkerState.model_validate_json(state_path.read_text())
        self._lock = threading.Lock()
        self.queue: queue.Queue[ChangeEvent] = queue.Queue()

    # -- inputs --------------------------------------------------------------------------------
    def subscriber(self, event: ChangeEvent) -> None:
        """An `Org.subscribers` hook: called under the org's lock, so it only enqueues (handling calls
        Salesforce back, which would wait on that lock)."""
        self.queue.put(event)

    def sync_accounts(self) -> int:
        """Mirror every Account's AWS account id into the lookup table; the number mirrored."""
        accounts = self.crm.accounts()
        for a in accounts:
            put_account(self.dynamodb, self.deployment.accounts_table, a["Id"], a.get("AWS_Account_Id__c"))
        return len(accounts)

    def run_queue(self, stop: threading.Event) -> None:
        """Handle events from the in-process hook until `stop` is set."""
        while not stop.is_set():
            try:
                event = self.queue.get(timeout=0.05)
            except queue.Empty:
                continue
            try:
                self.handle(event)
            finally:
                self.queue.task_done()

    def run_sharded(self, stop: threading.Event, shards: int = 4) -> None:
        """Like `run_queue`, with `shards` handlers: each record's events go to one shard (by record id),
        so they still apply in order while different records' executions overlap."""
        lanes: list[queue.Queue[ChangeEvent]] = [queue.Queue() for _ in range(shards)]

        def lane(q: queue.Queue[ChangeEvent]) -> None:
            while not stop.is_set():
                try:
                    event = q.get(timeout=0.05)
                except queue.Empty:
                    continue
                try:
                    self.handle(event)
                finally:
                    self.queue.task_done()

        threads = [threading.Thread(target=lane, args=(q,), daemon=True) for q in lanes]
        for t in threads:
            t.start()
        while not stop.is_set():
            try:
                event = self.queue.get(timeout=0.05)
            except queue.Empty:
                continue
            lanes[zlib.crc32(event.header.recordIds[0].encode()) % shards].put(event)
        for t in threads:
            t.join(timeout=10)

    def run_broker(
        self, broker: Any, topic: str, stop: threading.Event, group: str = "twin-entitlements"
    ) -> None:
        """Handle events from the broker topic; offsets are committed after an event is handled
        (at-least-once, duplicates are skipped by commitNumber)."""
        from twin.streaming.port import TopicPartition

        consumer = broker.consumer(group, **{"auto.offset.reset": "earliest"})
        consumer.subscribe([topic])
        try:
            while not stop.is_set():
                for rec in consumer.consume(max_records=50, timeout_s=0.2):
                    self.handle(ChangeEvent.from_message(json.loads(rec.value)))
                    consumer.commit({TopicPartition(rec.topic, rec.partition): rec.offset + 1})
        finally:
            consumer.close()

    # -- handling ------------------------------------------------------------------------------
    def handle(self, event: ChangeEvent) -> list[Outcome]:
        if event.header.entityName == "Account":
            self._mirror_account(event)
            return []
        out = []
        for d in decide(event):
            with self._lock:
                if self.state.last_commit.get(d.record_id, -1) >= d.commit_number:
                    continue  # a duplicate or an older event: already applied
            try:
                outcome = self.apply(d)
            except Exception as exc:  # one bad record must not stop the worker's loop
                # Recorded, and the commit is not marked applied: a redelivery of the event retries it.
                failed = Outcome(
                    record_id=d.record_id,
                    sobject=d.sobject,
                    action=d.action,
                    status="FAILED",
                    error=f"{type(exc).__name__}: {exc}"[:1000],
                )
                with self._lock:
                    self.state.outcomes.append(failed)
                    self._save()
                out.append(failed)
                continue
            with self._lock:
                self.state.last_commit[d.record_id] = d.commit_number
                self.state.outcomes.append(outcome)
                self._save()
            out.append(outcome)
        return out

    def _mirror_account(self, event: ChangeEvent) -> None:
        h = event.header
        if "AWS_Account_Id__c" in event.fields or "AWS_Account_Id__c" in h.nulledFields:
            for r in h.recordIds:
                put_account(
                    self.dynamodb, self.deployment.accounts_table, r, event.fields.get("AWS_Account_Id__c")
                )

    def apply(self, d: Decision, payload: dict[str, Any] | None = None, name: str | None = None) -> Outcome:
        record = self.crm.get(d.sobject, d.record_id)
        if payload is None:
            if d.action == "GRANT" and record.get("Entitlement_Status__c") == "Granted":
                return Outcome(record_id=d.record_id, sobject=d.sobject, action=d.action, status="SKIPPED")
            payload = self._input(d, record)
        name = name or execution_name(d)
        started = time.perf_counter()
        done = self._execute(name, payload)
        execution_s = time.perf_counter() - started
        started = time.perf_counter()
        outcome = self._confirm(d, name, done)
        return outcome.model_copy(
            update={"execution_s": execution_s, "confirm_s": time.perf_counter() - started}
        )

    def _input(self, d: Decision, record: dict[str, Any]) -> dict[str, Any]:
        product = record.get("Data_Product__c")
        payload: dict[str, Any] = {
            "action": d.action,
            "recordId": d.record_id,
            "sobject": d.sobject,
            "accountId": record.get("AccountId"),
            "dataSetId": self.products.get(product) if product else None,
            "grantName": f"{product}-{d.record_id}" if product else None,
            "grantId": record.get("Entitlement_Grant_Id__c"),
            "accountsTable": self.deployment.accounts_table,
            "dlqUrl": self.deployment.dlq_url,
        }
        # Missing values are left out: the state machine's validation checks presence.
        return {k: v for k, v in payload.items() if v is not None}

    def _execute(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        arn = self.deployment.state_machine_arn
        try:
            ex_arn = self.sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps(payload))[
                "executionArn"
            ]
        except self.sfn.exceptions.ExecutionAlreadyExists:
            ex_arn = arn.replace(":stateMachine:", ":execution:") + f":{name}"
        deadline = time.monotonic() + self.execution_timeout_s
        # Polls start fast (most executions end in ~0.1-0.2 s) and back off to 0.25 s, so a retrying
        # execution (seconds) does not cost a DescribeExecution every few milliseconds per shard.
        wait = self.poll_s
        while True:
            d = self.sfn.describe_execution(executionArn=ex_arn)
            if d["status"] != "RUNNING":
                return dict(d)
            if time.monotonic() > deadline:
                return {"status": "TIMED_OUT", "executionArn": ex_arn}
            time.sleep(wait)
            wait = min(wait * 1.5, 0.25)

    def _failure(self, done: dict[str, Any]) -> str:
        """The failed step's error and cause, from the execution's history (the DLQ holds the same)."""
        try:
            events = self.sfn.get_execution_history(executionArn=done["executionArn"], reverseOrder=True)
            for e in events["events"]:
                details = e.get("stateEnteredEventDetails")
                if details and details.get("name") == "SendToDlq":
                    doc = json.loads(details.get("input", "{}"))
                    f = doc.get("failure", {})
                    return f"{doc.get('failedStep')}: {f.get('Error')}: {f.get('Cause')}"[:1000]
        except Exception:  # the history is a nicety; the DLQ holds the details
            pass
        return f"{done.get('status')}: {done.get('error', '')} {done.get('cause', '')}".strip()[:1000]

    def _confirm(self, d: Decision, name: str, done: dict[str, Any]) -> Outcome:
        base = {"record_id": d.record_id, "sobject": d.sobject, "action": d.action, "execution": name}
        if done["status"] != "SUCCEEDED":
            error = self._failure(done)
            self.crm.update(
                d.sobject, d.record_id, {"Entitlement_Status__c": "Failed", "Entitlement_Error__c": error}
            )
            return Outcome(status="FAILED", error=error, **base)
        out = json.loads(done.get("output") or "{}")
        if out.get("outcome") == "GRANTED":
            self.crm.update(
                d.sobject,
                d.record_id,
                {
                    "Entitlement_Status__c": "Granted",
                    "Entitlement_Granted_At__c": _iso(self.clock()),
                    "Entitlement_Grant_Id__c": out["grantId"],
                    "Entitlement_Error__c": None,
                },
            )
            return Outcome(status="GRANTED", grant_id=out["grantId"], **base)
        self.crm.update(
            d.sobject,
            d.record_id,
            {"Entitlement_Status__c": "Revoked", "Entitlement_Revoked_At__c": _iso(self.clock())},
        )
        return Outcome(status="REVOKED", grant_id=out.get("grantId", ""), **base)

    # -- the DLQ -------------------------------------------------------------------------------
    def _take_dlq(self) -> list[dict[str, Any]]:
        """Every message on the DLQ, each held invisible for 30 s until deleted or released."""
        out: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=self.deployment.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=30
            ).get("Messages", [])
            if not batch:
                return out
            out.extend(
                {"receipt": m["ReceiptHandle"], "id": m["MessageId"], **json.loads(m["Body"])} for m in batch
            )

    def _release(self, messages: Iterable[dict[str, Any]]) -> None:
        for m in messages:
            self.sqs.change_message_visibility(
                QueueUrl=self.deployment.dlq_url, ReceiptHandle=m["receipt"], VisibilityTimeout=0
            )

    def dlq_messages(self) -> list[dict[str, Any]]:
        """What is on the DLQ (step, error, cause, input), left there."""
        messages = self._take_dlq()
        self._release(messages)
        return messages

    def replay_dlq(self, record_id: str | None = None) -> list[Outcome]:
        """Run dead-lettered inputs again (after their cause was fixed), each removed from the DLQ once
        run; `record_id` limits the replay to one record's messages."""
        out: list[Outcome] = []
        messages = self._take_dlq()
        keep = [m for m in messages if record_id is not None and m["recordId"] != record_id]
        self._release(keep)
        for m in messages:
            if m in keep:
                continue
            payload = {k: v for k, v in m["input"].items() if k not in _RUNTIME_KEYS}
            d = Decision(
                action=payload["action"],
                sobject=payload.get("sobject", "Opportunity"),
                record_id=payload["recordId"],
                commit_number=0,
            )
            # a fresh name per replay: the failed execution keeps its own
            outcome = self.apply(d, payload, name=f"{d.record_id}-replay-{m['id'][:12]}")
            self.sqs.delete_message(QueueUrl=self.deployment.dlq_url, ReceiptHandle=m["receipt"])
            with self._lock:
                self.state.outcomes.append(outcome)
                self._save()
            out.append(outcome)
        return out

    def resolve(self, record_id: str, sobject: str, status: str, note: str) -> int:
        """Manual intervention: set the record's entitlement status by hand and drop its DLQ messages;
        the number of messages dropped."""
        self.crm.update(sobject, record_id, {"Entitlement_Status__c": status, "Entitlement_Error__c": note})
        messages = self._take_dlq()
        mine = [m for m in messages if m["recordId"] == record_id]
        self._release(m for m in messages if m["recordId"] != record_id)
        for m in mine:
            self.sqs.delete_message(QueueUrl=self.deployment.dlq_url, ReceiptHandle=m["receipt"])
        return len(mine)

    def _save(self) -> None:
        if self.state_path is not None:
            tmp = self.state_path.with_suffix(".tmp")
            tmp.write_text(self.state.model_dump_json(indent=1))
            tmp.replace(self.state_path)

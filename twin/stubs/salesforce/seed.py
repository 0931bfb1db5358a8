"""The org's starting records, from the fixtures: one Account per institutional client (with its AWS
account id) and one Contract per client contract (status, dates, data product)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# The fixtures' contract lifecycle in Salesforce's Contract.Status picklist.
_STATUS = {"active": "Activated", "draft": "Draft", "terminated": "Terminated", "expired": "Expired"}


def records_from_fixtures(directory: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from twin.fixtures.store import read_entity

    clients = read_entity(directory, "institutional_clients").to_pylist()
    contracts = read_entity(directory, "contracts").to_pylist()
    return records_from_rows(clients, contracts)


def records_from_rows(
    clients: list[dict[str, Any]], contracts: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    accounts = [
        {
            "Id": c["salesforce_account_id"],
            "Name": c["name"],
            "Type": c["type"],
            "Client_Id__c": c["client_id"],
            "AWS_Account_Id__c": c["aws_account_id"],
            "Region__c": c["region"],
        }
        for c in clients
    ]
    account_of = {c["client_id"]: c["salesforce_account_id"] for c in clients}
    rows = [
        {
            "AccountId": account_of[k["client_id"]],
            "Status": _STATUS[str(k["status"])],
            "StartDate": k["start_date"].isoformat() if k["start_date"] else None,
            "EndDate": k["end_date"].isoformat() if k["end_date"] else None,
            "Data_Product__c": k["product_id"],
            "Contract_Id__c": k["contract_id"],
        }
        for k in contracts
        if k["client_id"] in account_of
    ]
    return accounts, rows

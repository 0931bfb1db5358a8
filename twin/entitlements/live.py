"""Wiring the worker to running stand-ins (or real services): boto3 clients for the AWS endpoint,
simple-salesforce for the org, the deployment and the product map. The CLI and the benchmark build
their worker here, so both run exactly what the tests run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from twin.entitlements.crm import SimpleSalesforceCrm
from twin.entitlements.deploy import deploy, product_data_sets
from twin.entitlements.worker import EntitlementWorker

__all__ = ["AwsAccess", "SalesforceAccess", "aws_client", "build_worker", "salesforce_client"]


class AwsAccess(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str
    region: str
    access_key_id: str
    secret_access_key: str


class SalesforceAccess(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    login_domain: str
    username: str
    password: str
    consumer_key: str
    consumer_secret: str
    ca_cert: Path


def aws_client(access: AwsAccess, service: str) -> Any:
    import boto3

    return boto3.client(
        service,
        endpoint_url=access.url,
        region_name=access.region,
        aws_access_key_id=access.access_key_id,
        aws_secret_access_key=access.secret_access_key,
    )


def salesforce_client(access: SalesforceAccess) -> Any:
    import requests
    from simple_salesforce import Salesforce

    session = requests.Session()
    # requests lets REQUESTS_CA_BUNDLE from the environment override `verify`: trust only the org's CA
    session.trust_env = False
    session.verify = str(access.ca_cert)
    return Salesforce(
        username=access.username,
        password=access.password,
        consumer_key=access.consumer_key,
        consumer_secret=access.consumer_secret,
        domain=access.login_domain,
        session=session,
    )


def build_worker(aws: AwsAccess, sf: SalesforceAccess, state_path: Path | None = None) -> EntitlementWorker:
    """Deploy (idempotently) and return a worker whose lookup table mirrors the org's accounts."""
    sfn, sqs, ddb = aws_client(aws, "stepfunctions"), aws_client(aws, "sqs"), aws_client(aws, "dynamodb")
    deployment = deploy(sfn, sqs, ddb)
    products = product_data_sets(aws_client(aws, "dataexchange"))
    worker = EntitlementWorker(
        SimpleSalesforceCrm(salesforce_client(sf)), sfn, sqs, ddb, deployment, products, state_path=state_path
    )
    worker.sync_accounts()
    return worker

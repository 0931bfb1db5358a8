"""The Salesforce stand-in: the REST API simple-salesforce uses (OAuth, sObject CRUD, describe, SOQL
with paging), the org's API limit, and Change Data Capture events onto the broker."""

from twin.stubs.salesforce.cdc import CDC_TOPIC, ChangeEvent, ChangeEventHeader
from twin.stubs.salesforce.models import Org, OrgConfig, SalesforceError
from twin.stubs.salesforce.server import Endpoint, SalesforceServer

__all__ = [
    "CDC_TOPIC",
    "ChangeEvent",
    "ChangeEventHeader",
    "Endpoint",
    "Org",
    "OrgConfig",
    "SalesforceError",
    "SalesforceServer",
]

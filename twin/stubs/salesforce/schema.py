"""The org's object model: Account, Contact, Opportunity and Contract, each with the standard fields an
integration reads and the custom fields the entitlement workflow uses (the client's AWS account id, the
data product, and the entitlement status it writes back). `describe` answers from these definitions.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

FieldType = Literal[
    "id", "string", "reference", "date", "datetime", "boolean", "double", "currency", "picklist", "email"
]

PRODUCT_IDS = ("DP-ESG", "DP-PCP", "DP-HFB", "DP-MAC")
ENTITLEMENT_STATUSES = ("Pending", "Granted", "Revoked", "Failed", "Manual Review")
# Fields Salesforce maintains itself: never writable through the API.
SYSTEM_FIELDS = (
    "Id",
    "IsDeleted",
    "CreatedDate",
    "CreatedById",
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
)


class FieldDef(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    type: FieldType
    label: str
    required: bool = False  # createable and not nillable: a create without it is REQUIRED_FIELD_MISSING
    createable: bool = True
    updateable: bool = True
    length: int = 0
    reference_to: str | None = None
    relationship_name: str | None = None
    external_id: bool = False
    unique: bool = False
    picklist: tuple[str, ...] = ()


class ObjectDef(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    label: str
    label_plural: str
    key_prefix: str
    fields: tuple[FieldDef, ...]

    def field(self, name: str) -> FieldDef | None:
        """Case-insensitive, as SOQL and the REST API are."""
        return self._by_lower().get(name.lower())

    def relationship(self, name: str) -> FieldDef | None:
        low = name.lower()
        return next((f for f in self.fields if (f.relationship_name or "").lower() == low), None)

    def _by_lower(self) -> dict[str, FieldDef]:
        return {f.name.lower(): f for f in self.fields}


def _system() -> tuple[FieldDef, ...]:
    ro = {"createable": False, "updateable": False}
    return (
        FieldDef(name="Id", type="id", label="Record ID", length=18, **ro),
        FieldDef(name="IsDeleted", type="boolean", label="Deleted", **ro),
        FieldDef(name="CreatedDate", type="datetime", label="Created Date", **ro),
        FieldDef(name="CreatedById", type="reference", label="Created By ID", reference_to="User", **ro),
        FieldDef(name="LastModifiedDate", type="datetime", label="Last Modified Date", **ro),
        FieldDef(
            name="LastModifiedById", type="reference", label="Last Modified By ID", reference_to="User", **ro
        ),
        FieldDef(name="SystemModstamp", type="datetime", label="System Modstamp", **ro),
    )


def _s(name: str, label: str, length: int = 255, **kw: object) -> FieldDef:
    return FieldDef(name=name, type="string", label=label, length=length, **kw)


def _account_ref(required: bool = False) -> FieldDef:
    return FieldDef(
        name="AccountId",
        type="reference",
        label="Account ID",
        length=18,
        reference_to="Account",
        relationship_name="Account",
        required=required,
    )


def _entitlement() -> tuple[FieldDef, ...]:
    """What the entitlement workflow writes back onto the deal or contract."""
    return (
        FieldDef(
            name="Entitlement_Status__c",
            type="picklist",
            label="Entitlement Status",
            picklist=ENTITLEMENT_STATUSES,
        ),
        FieldDef(name="Entitlement_Granted_At__c", type="datetime", label="Entitlement Granted At"),
        FieldDef(name="Entitlement_Revoked_At__c", type="datetime", label="Entitlement Revoked At"),
        _s("Entitlement_Grant_Id__c", "ADX Data Grant ID", 64),
        _s("Entitlement_Error__c", "Entitlement Error", 1000),
    )


def _product() -> FieldDef:
    return FieldDef(name="Data_Product__c", type="picklist", label="Data Product", picklist=PRODUCT_IDS)


OBJECTS: dict[str, ObjectDef] = {
    o.name: o
    for o in (
        ObjectDef(
            name="Account",
            label="Account",
            label_plural="Accounts",
            key_prefix="001",
            fields=(
                *_system(),
                _s("Name", "Account Name", required=True),
                FieldDef(
                    name="Type",
                    type="picklist",
                    label="Account Type",
                    picklist=("hedge_fund", "pension_fund", "asset_manager"),
                ),
                _s("Client_Id__c", "Client ID", 32, external_id=True, unique=True),
                _s("AWS_Account_Id__c", "AWS Account ID", 12),
                _s("Region__c", "Region", 32),
            ),
        ),
        ObjectDef(
            name="Contact",
            label="Contact",
            label_plural="Contacts",
            key_prefix="003",
            fields=(
                *_system(),
                _account_ref(),
                _s("FirstName", "First Name", 40),
                _s("LastName", "Last Name", 80, required=True),
                FieldDef(name="Email", type="email", label="Email", length=80),
                _s("Title", "Title", 128),
            ),
        ),
        ObjectDef(
            name="Opportunity",
            label="Opportunity",
            label_plural="Opportunities",
            key_prefix="006",
            fields=(
                *_system(),
                _account_ref(),
                _s("Name", "Name", 120, required=True),
                FieldDef(
                    name="StageName",
                    type="picklist",
                    label="Stage",
                    required=True,
                    picklist=(
                        "Prospecting",
                        "Qualification",
                        "Negotiation/Review",
                        "Closed Won",
                        "Closed Lost",
                    ),
                ),
                FieldDef(name="CloseDate", type="date", label="Close Date", required=True),
                FieldDef(name="Amount", type="currency", label="Amount"),
                _product(),
                _s("Deal_Id__c", "Deal ID", 64, external_id=True, unique=True),
                *_entitlement(),
            ),
        ),
        ObjectDef(
            name="Contract",
            label="Contract",
            label_plural="Contracts",
            key_prefix="800",
            fields=(
                *_system(),
                _account_ref(required=True),
                _s("ContractNumber", "Contract Number", 30, createable=False, updateable=False),
                FieldDef(
                    name="Status",
                    type="picklist",
                    label="Status",
                    required=True,
                    picklist=("Draft", "In Approval Process", "Activated", "Terminated", "Expired"),
                ),
                FieldDef(name="StartDate", type="date", label="Contract Start Date"),
                FieldDef(name="EndDate", type="date", label="Contract End Date"),
                _product(),
                _s("Contract_Id__c", "Contract ID", 32, external_id=True, unique=True),
                *_entitlement(),
            ),
        ),
    )
}


def find_object(name: str) -> ObjectDef | None:
    low = name.lower()
    return next((o for n, o in OBJECTS.items() if n.lower() == low), None)

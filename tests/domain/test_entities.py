from datetime import date

import pytest
from pydantic import ValidationError

from twin.domain import Customer, Department


def _customer(ssn: str) -> Customer:
    return Customer(
        customer_id="C1",
        name="Ada Lovelace",
        ssn=ssn,
        email="ada@example.com",
        phone="+1-555-0100",
        date_of_birth=date(1980, 1, 1),
        department=Department.WEALTH,
        advisor_id="ADV1",
        region="US-East",
    )


def test_valid_ssn_accepted() -> None:
    assert _customer("123-45-6789").ssn == "123-45-6789"


@pytest.mark.parametrize("ssn", ["000-12-3456", "666-12-3456", "900-12-3456", "123-00-4567", "123-45-0000"])
def test_invalid_area_group_or_serial_rejected(ssn: str) -> None:
    with pytest.raises(ValidationError, match="not a valid SSN"):
        _customer(ssn)

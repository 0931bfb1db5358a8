"""Cache keys of platform operations: (operation, parameters, principal scope)."""

from __future__ import annotations

from twin.cache.keys import CacheScope
from twin.cache.redis_cache import operation_key

ADVISOR = CacheScope.of("financial_advisor", department="wealth")
TELLER = CacheScope.of("retail_teller", department="retail")


def test_operation_key_depends_on_operation_parameters_and_scope_not_parameter_order():
    a = operation_key("fund_nav", {"fund": "F001", "from": "2026-01-01"}, ADVISOR)
    assert a == operation_key("fund_nav", {"from": "2026-01-01", "fund": "F001"}, ADVISOR)
    assert a != operation_key("fund_nav", {"fund": "F001", "from": "2026-01-01"}, TELLER)
    assert a != operation_key("fund_nav", {"fund": "F002", "from": "2026-01-01"}, ADVISOR)
    assert a != operation_key("fund_performance", {"fund": "F001", "from": "2026-01-01"}, ADVISOR)

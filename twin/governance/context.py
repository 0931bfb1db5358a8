"""Snowflake's context functions, answered from the session's identity.

A secure session sets its identity once as connection variables (`twin_role`, `twin_user`, and
`twin_roles`: the primary role, the roles it inherits and the secondary roles). Policy bodies and user
queries both read them through these rewrites, so `CURRENT_ROLE()` means the same in a masking policy
as in a teller's own SELECT, as it does in Snowflake.
"""

from __future__ import annotations

from sqlglot import exp

_ROLE = ("CurrentRole", "CURRENT_ROLE", "INVOKER_ROLE")
_USER = ("CurrentUser", "CURRENT_USER")
NAMES = frozenset({*_ROLE, *_USER, "IS_ROLE_IN_SESSION"})


def context_name(node: exp.Expr) -> str:
    """The name `rewrite_context` matches on: a class name for sqlglot's typed functions, else upper case."""
    return str(node.name).upper() if isinstance(node, exp.Anonymous) else type(node).__name__


def rewrite_context(node: exp.Expr) -> exp.Expr:
    """A context function as a read of the session's variables; any other node unchanged."""
    name = context_name(node)
    if name in _ROLE:
        return exp.func("getvariable", exp.Literal.string("twin_role"))
    if name in _USER:
        return exp.func("getvariable", exp.Literal.string("twin_user"))
    if name == "IS_ROLE_IN_SESSION":
        (arg,) = node.expressions
        return exp.func(
            "list_contains", exp.func("getvariable", exp.Literal.string("twin_roles")), arg.copy()
        )
    return node

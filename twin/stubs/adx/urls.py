"""Data Exchange routes, read from botocore's own `dataexchange` service model (not written by hand), so a
route the SDK uses is a route this stand-in knows, with the same URI labels."""

from __future__ import annotations

import re
from functools import cache
from urllib.parse import unquote

__all__ = ["resolve", "service_model"]


@cache
def service_model():
    import botocore.session

    return botocore.session.get_session().get_service_model("dataexchange")


@cache
def _routes() -> list[tuple[str, re.Pattern[str], str]]:
    model = service_model()
    out = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        uri = http["requestUri"].split("?", 1)[0]
        # `{Label}` is one path segment; `{Label+}` (greedy) may span several.
        pattern = re.sub(r"\{(\w+)\+\}", r"(?P<\1>.+)", uri)
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
        out.append((http["method"], re.compile(f"^{pattern}$"), name))
    # Literal routes before templated ones of the same shape (`/v1/data-sets` before a label).
    out.sort(key=lambda r: r[1].pattern.count("(?P<"))
    return out


def resolve(method: str, path: str) -> tuple[str, dict[str, str]] | None:
    """(operation name, URI labels) for a request, or None when no operation has this route."""
    for m, rx, name in _routes():
        if m == method:
            hit = rx.match(path)
            if hit:
                return name, {k: unquote(v) for k, v in hit.groupdict().items()}
    return None

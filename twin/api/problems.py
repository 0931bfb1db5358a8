"""RFC 9457 problem details: every failure the API returns has one stable `type` and never a traceback.

Each error the tier raises is an `ApiProblem` subclass carrying its status and type; the app turns it
into `application/problem+json`. Clients branch on `type`, so the URIs below are part of the contract.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from twin.errors import TwinError

PROBLEM_MEDIA_TYPE = "application/problem+json"
_BASE = "https://twin.dev/problems/"


class Problem(BaseModel):
    """The problem+json body (RFC 9457 section 3.1)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None


class ApiProblem(TwinError):
    """An error the API answers with a problem+json body; subclasses fix status, type and title."""

    status: int = 500
    slug: str = "internal"
    title: str = "Internal error"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}

    @property
    def type_uri(self) -> str:
        return _BASE + self.slug

    def problem(self, instance: str | None = None) -> Problem:
        return Problem(
            type=self.type_uri, title=self.title, status=self.status, detail=self.detail, instance=instance
        )


class Unauthorized(ApiProblem):
    status, slug, title = 401, "unauthorized", "Missing or invalid access token"


class Forbidden(ApiProblem):
    status, slug, title = 403, "forbidden", "Not entitled to this resource"


class NotFound(ApiProblem):
    status, slug, title = 404, "not-found", "No such resource"


class MethodNotAllowed(ApiProblem):
    status, slug, title = 405, "method-not-allowed", "Method not allowed on this resource"


class InvalidRequest(ApiProblem):
    status, slug, title = 400, "invalid-request", "The request is not valid"


class RateLimited(ApiProblem):
    status, slug, title = 429, "rate-limited", "Rate limit exceeded"


class ServiceUnavailable(ApiProblem):
    status, slug, title = 503, "unavailable", "The service is temporarily unavailable"


class Gone(ApiProblem):
    status, slug, title = 410, "gone", "This API version has been retired"


class InternalError(ApiProblem):
    status, slug, title = 500, "internal", "Internal error"


def problem_for_status(status: int, detail: str) -> ApiProblem:
    """The problem for an HTTP error raised by the framework itself (unknown route, wrong method)."""
    by_status: dict[int, type[ApiProblem]] = {
        400: InvalidRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 405: MethodNotAllowed,
        410: Gone,
        422: InvalidRequest, 429: RateLimited, 503: ServiceUnavailable,
    }  # fmt: skip
    cls = by_status.get(status, InvalidRequest if 400 <= status < 500 else InternalError)
    return cls(detail)

"""The one domain error type. Services raise ``DomainError(code, detail)``;
``loyalty.problems`` turns it (and every framework error) into problem+json.
"""

from __future__ import annotations

PROBLEM_CONTENT_TYPE = "application/problem+json"

# Default HTTP status for each domain code, so raising sites name only the code.
CODE_STATUS: dict[str, int] = {
    "invalid": 400,
    "not_authenticated": 401,
    "permission_denied": 403,
    "not_found": 404,
    "member_not_found": 404,
    "purchase_not_found": 404,
    "reward_not_found": 404,
    "voucher_not_found": 404,
    "redemption_not_found": 404,
    "survey_not_found": 404,
    "method_not_allowed": 405,
    "not_acceptable": 406,
    "member_exists": 409,
    "member_suspended": 409,
    "duplicate_external_id": 409,
    "request_in_progress": 409,
    "out_of_stock": 409,
    "voucher_already_used": 409,
    "voucher_not_usable": 409,
    "survey_answered": 410,
    "survey_expired": 410,
    "unsupported_media_type": 415,
    "insufficient_points": 422,
    "tier_required": 422,
    "reward_not_available": 422,
    "limit_reached": 422,
    "return_exceeds_purchase": 422,
    "idempotency_key_reused": 422,
    "rate_limited": 429,
    "server_error": 500,
    "service_unavailable": 503,
}


class DomainError(Exception):
    """A refusal the caller can act on, identified by a stable machine ``code``."""

    def __init__(self, code: str, detail: str, *, status: int | None = None, title: str | None = None,
                 errors: list[dict] | None = None, extra: dict | None = None, replayed: bool = False):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.status = status or CODE_STATUS.get(code, 400)
        self.title = title or code.replace("_", " ").capitalize()
        self.errors = errors
        self.extra = extra or {}
        self.replayed = replayed  # a stored refusal answered again for a retried idempotent request

    @classmethod
    def invalid(cls, field: str, message: str) -> DomainError:
        """A validation failure found by a service (after the serializer accepted the shape)."""
        return cls("invalid", f"{field}: {message}", title="Invalid request",
                   errors=[{"field": field, "message": message}])

    def as_problem(self) -> dict:
        body = {"type": "about:blank", "title": self.title, "status": self.status,
                "code": self.code, "detail": self.detail}
        if self.errors is not None:
            body["errors"] = self.errors
        body.update(self.extra)
        return body

"""The single place that turns errors into problem+json (RFC 9457).

Every error DRF or Django can raise on an API path (validation, authentication,
404, 405, throttling, malformed JSON, unexpected failures) leaves as
``application/problem+json`` with a machine-readable ``code``.
"""

from __future__ import annotations

import logging
import sys
from http import HTTPStatus

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import set_rollback

from .errors import PROBLEM_CONTENT_TYPE, DomainError

logger = logging.getLogger(__name__)

# The database could not be reached, or the connection broke mid-request (a restart, a failover, a network
# cut). Nothing the request did has committed: answered 503 so the client retries, which the idempotency keys
# make safe; Django drops the broken connection and the next request connects afresh.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 5
UNAVAILABLE_DETAIL = "The service is briefly unavailable. Retry the same request shortly; it is never recorded twice."


def problem_response(error: DomainError, headers: dict | None = None) -> Response:
    return Response(error.as_problem(), status=error.status, headers=headers,
                    content_type=PROBLEM_CONTENT_TYPE)


def flatten_validation_errors(detail, prefix: str = "") -> list[dict]:
    """Turn DRF's nested error structure into ``[{"field": "lines.0.quantity", "message": ...}]``."""
    out: list[dict] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = "" if key == "non_field_errors" else str(key)
            path = f"{prefix}.{name}" if prefix and name else (prefix or name)
            out.extend(flatten_validation_errors(value, path))
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            out.extend({"field": prefix, "message": str(item)} for item in detail)
        else:
            for index, item in enumerate(detail):
                if item:  # a list serializer reports {} for valid items
                    out.extend(flatten_validation_errors(item, f"{prefix}.{index}" if prefix else str(index)))
    else:
        out.append({"field": prefix, "message": str(detail)})
    return out


def _validation_error(exc: drf.ValidationError) -> DomainError:
    errors = flatten_validation_errors(exc.detail)
    first = errors[0] if errors else {"field": "", "message": "Invalid input."}
    detail = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    if len(errors) > 1:
        detail += f" (and {len(errors) - 1} more)"
    return DomainError("invalid", detail, title="Invalid request", errors=errors)


def _as_domain_error(exc: Exception) -> DomainError | None:
    if isinstance(exc, DomainError):
        return exc
    if isinstance(exc, drf.ValidationError):
        return _validation_error(exc)
    if isinstance(exc, drf.ParseError):
        return DomainError("invalid", f"Malformed request body: {exc.detail}", title="Invalid request",
                           errors=[{"field": "", "message": str(exc.detail)}])
    if isinstance(exc, (drf.NotAuthenticated, drf.AuthenticationFailed)):
        # 401 when the view's authentication names a scheme to answer with (the POS key), else DRF's 403.
        return DomainError("not_authenticated", str(exc.detail), title="Not authenticated", status=exc.status_code)
    if isinstance(exc, (drf.PermissionDenied, DjangoPermissionDenied)):
        return DomainError("permission_denied", "You do not have permission to perform this action.",
                           title="Permission denied")
    if isinstance(exc, (drf.NotFound, Http404)):
        return DomainError("not_found", "No such resource.", title="Not found")
    if isinstance(exc, drf.MethodNotAllowed):
        return DomainError("method_not_allowed", str(exc.detail), title="Method not allowed")
    if isinstance(exc, drf.NotAcceptable):
        return DomainError("not_acceptable", str(exc.detail), title="Not acceptable")
    if isinstance(exc, drf.UnsupportedMediaType):
        return DomainError("unsupported_media_type", f"{exc.detail} Send application/json.",
                           title="Unsupported media type")
    if isinstance(exc, drf.Throttled):
        return DomainError("rate_limited", "Too many requests for this API key; retry later.",
                           title="Too many requests", extra={"retry_after": exc.wait and int(exc.wait + 1)})
    if isinstance(exc, DATABASE_UNAVAILABLE):
        logger.warning("database unavailable: %s: %s", type(exc).__name__, exc)
        return DomainError("service_unavailable", UNAVAILABLE_DETAIL, title="Service unavailable")
    if isinstance(exc, drf.APIException):
        return DomainError(exc.get_codes() if isinstance(exc.get_codes(), str) else "error",
                           str(exc.detail), status=exc.status_code)
    return None


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF ``EXCEPTION_HANDLER``: every known error becomes problem+json; the rest is a bug (500)."""
    error = _as_domain_error(exc)
    if error is None:
        return None  # let Django log it and answer through handler500
    headers = {}
    if auth_header := getattr(exc, "auth_header", None):  # set by the view from its first authentication
        headers["WWW-Authenticate"] = auth_header
    if getattr(exc, "replayed", False):
        headers["Idempotent-Replayed"] = "true"
    if isinstance(exc, drf.Throttled) and exc.wait is not None:
        headers["Retry-After"] = str(int(exc.wait + 1))
    if error.code == "service_unavailable":
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    set_rollback()
    return problem_response(error, headers)


def _django_problem(status: int, code: str, detail: str) -> JsonResponse:
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status,
            "code": code, "detail": detail}
    response = JsonResponse(body, status=status, content_type=PROBLEM_CONTENT_TYPE)
    if status == 503:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def handler404(request, exception=None):
    if _is_api(request):
        return _django_problem(404, "not_found", "No such resource.")
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


# A path that names nothing has nothing to protect: without the exemption, CSRF answered a mistyped POS POST
# with its HTML 403 page (a till sends no CSRF token) before the 404 could be given.
@csrf_exempt
def api_not_found(request, *args, **kwargs):
    return _django_problem(404, "not_found", "No such resource.")


def handler500(request):
    # Django calls this while handling the exception (outside DRF's views: middleware, plain views), so the
    # exception is still at hand.
    if isinstance(sys.exc_info()[1], DATABASE_UNAVAILABLE):
        if _is_api(request):
            return _django_problem(503, "service_unavailable", UNAVAILABLE_DETAIL)
        response = HttpResponse("Service temporarily unavailable. Please try again in a moment.\n", status=503,
                                content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    if _is_api(request):
        return _django_problem(500, "server_error", "An unexpected error occurred; it has been logged.")
    from django.views.defaults import server_error

    return server_error(request)


def handler400(request, exception=None):
    if _is_api(request):
        return _django_problem(400, "invalid", "Bad request.")
    from django.views.defaults import bad_request

    return bad_request(request, exception)


def handler403(request, exception=None):
    if _is_api(request):
        return _django_problem(403, "permission_denied", "Forbidden.")
    if getattr(request, "staff", None) is not None:
        # refused by the dashboard's own guard: the page keeps the dashboard around it (navigation, sign out)
        from django.shortcuts import render

        return render(request, "staff/403.html", status=403)
    from django.views.defaults import permission_denied

    return permission_denied(request, exception)

import re

from rest_framework import pagination
from rest_framework.exceptions import ValidationError

_POSITIVE_INTEGER = re.compile(r"[1-9][0-9]*")


class PageNumberPagination(pagination.PageNumberPagination):
    """``{"count", "next", "previous", "results"}``, as the POS contract lists pages.

    ``page`` and ``page_size`` are positive integers or the call is ``400 invalid`` (DRF would quietly fall
    back to the default size, or answer 404, for ``page_size=abc``); a size above the cap is served at the
    cap, and a page past the last one is ``404 not_found``."""

    page_size_query_param = "page_size"
    max_page_size = 200
    last_page_strings = ()

    def _positive_integer_param(self, request, name: str) -> int | None:
        raw = request.query_params.get(name)
        if raw is None:
            return None
        if not _POSITIVE_INTEGER.fullmatch(raw):
            raise ValidationError({name: ["A whole number, 1 or more."]})
        return int(raw) if len(raw) <= 18 else 10**18  # past any page and any cap, without a bignum

    def get_page_size(self, request):
        size = self._positive_integer_param(request, self.page_size_query_param)
        return self.page_size if size is None else min(size, self.max_page_size)

    def get_page_number(self, request, paginator):
        number = self._positive_integer_param(request, self.page_query_param)
        return 1 if number is None else number

    def get_schema_operation_parameters(self, view):
        return [
            {"name": self.page_query_param, "required": False, "in": "query",
             "description": "Page number, from 1; a page past the last one answers 404 `not_found`.",
             "schema": {"type": "integer", "minimum": 1}},
            {"name": self.page_size_query_param, "required": False, "in": "query",
             "description": f"Entries per page (default {self.page_size}); more than {self.max_page_size} "
                            f"are served {self.max_page_size} at a time.",
             "schema": {"type": "integer", "minimum": 1}},
        ]

from drf_spectacular import openapi
from drf_spectacular.utils import OpenApiResponse, extend_schema_serializer
from rest_framework import serializers

from .errors import CODE_STATUS, PROBLEM_CONTENT_TYPE
from .serializers import StrictSerializer


class FieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(allow_blank=True, help_text="Dotted path of the field, e.g. `lines.0.quantity`; "
                                                              "empty for the request as a whole.")
    message = serializers.CharField()


@extend_schema_serializer(component_name="Problem")
class ProblemSerializer(serializers.Serializer):
    """An error, as RFC 9457 problem details with a machine-readable ``code``."""

    type = serializers.CharField(help_text="`about:blank`")
    title = serializers.CharField()
    status = serializers.IntegerField(help_text="The HTTP status, repeated.")
    code = serializers.CharField(help_text="What went wrong, for programs: the codes each operation lists.")
    detail = serializers.CharField(help_text="What went wrong, for people.")
    errors = FieldErrorSerializer(many=True, required=False,
                                  help_text="`invalid` only: every field that was refused, and why.")
    retry_after = serializers.IntegerField(required=False, allow_null=True,
                                           help_text="`rate_limited` only: seconds until the next window.")


def problems(*codes: str) -> dict:
    """The ``responses`` entries of an operation's refusals, from their codes: one problem+json response per
    status, listing its codes (``**problems("member_not_found", "out_of_stock")``)."""
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(CODE_STATUS[code], []).append(code)
    return {
        (status, PROBLEM_CONTENT_TYPE): OpenApiResponse(
            ProblemSerializer, description="Refused: " + ", ".join(f"`{code}`" for code in status_codes) + ".")
        for status, status_codes in by_status.items()
    }


def replayed(serializer) -> OpenApiResponse:
    """The 200 of an idempotent POST: the first answer's body, given again."""
    return OpenApiResponse(serializer, description="Replay of an identical earlier request: the first answer's "
                                                   "body, with header `Idempotent-Replayed: true`.")


class AutoSchema(openapi.AutoSchema):
    """Names each operation's nested ``InputSerializer``/``OutputSerializer`` after its view
    (``PurchasePreviewApi.InputSerializer`` → ``PurchasePreviewInput``), so the one-class-per-
    operation style does not collide into a single "Input" component; and documents the refusals every
    POS operation shares (no key, too many calls, and bad input where it takes any) beside those it
    declares with ``problems(...)``."""

    def _get_serializer_name(self, serializer, direction, bypass_extensions=False):
        name = super()._get_serializer_name(serializer, direction, bypass_extensions)
        cls = serializer if isinstance(serializer, type) else type(serializer)
        outer, _, inner = cls.__qualname__.rpartition(".")
        base = inner.removesuffix("Serializer")
        if outer and name.startswith(base):
            return outer.removesuffix("Api") + name
        return name

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        cls = serializer if isinstance(serializer, type) else type(serializer)
        if direction == "request" and issubclass(cls, StrictSerializer):
            schema["additionalProperties"] = False  # the server refuses any other field
        return schema

    def _is_list_view(self, serializer=None):
        if serializer is None:
            serializer = self.get_response_serializers()
        if isinstance(serializer, dict):  # judged by the operation's answers, not by its refusals
            serializer = {code: s for code, s in serializer.items() if not isinstance(code, tuple)}
        return super()._is_list_view(serializer)

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        shared = ["not_authenticated", "rate_limited"]
        if "requestBody" in operation or self.method == "POST" or any(
                parameter["in"] in ("query", "header") for parameter in operation.get("parameters", ())):
            shared.append("invalid")
        responses = operation["responses"]
        for (status, media_type), response in problems(*shared).items():
            if str(status) not in responses:
                responses[str(status)] = self._get_response_for_code(response, str(status), (media_type,))
        return operation

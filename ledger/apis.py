from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers

from loyalty.pagination import PageNumberPagination
from loyalty.schema import problems
from members.selectors import member_get
from programs.apis import PosApi

from .models import Kind
from .selectors import entry_list


class BalanceSerializer(serializers.Serializer):
    available = serializers.IntegerField()
    pending = serializers.IntegerField()


class LedgerActivityApi(PosApi):
    """A member's points statement, newest first, one page at a time."""

    pagination_class = PageNumberPagination

    @extend_schema_serializer(component_name="LedgerActivityEntry")
    class OutputSerializer(serializers.Serializer):
        id = serializers.UUIDField(source="public_id")
        kind = serializers.ChoiceField(choices=Kind.choices)
        points = serializers.IntegerField(help_text="Signed: what this entry added to or took from the balance.")
        created_at = serializers.DateTimeField()
        description = serializers.CharField()
        expires_at = serializers.DateTimeField(allow_null=True, help_text="Earned points only; may be null.")

    @extend_schema(
        operation_id="member_activity",
        summary="List a member's points activity",
        description=(
            "Ledger entries of the member, newest first. `points` sum to available + pending "
            "(a `release`, pending points becoming available, shows 0 points). "
            "A member of another program answers 404 `member_not_found`."
        ),
        responses={200: OutputSerializer(many=True), **problems("member_not_found", "not_found")},
        tags=["members"],
    )
    def get(self, request, member_id):
        member = member_get(program=request.user.program, member_id=member_id)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(entry_list(member=member), request, view=self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)

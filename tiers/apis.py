from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty.schema import problems
from members.apis import TierRefSerializer
from members.selectors import member_get

from .selectors import member_tier_progress


class MemberTierProgressApi(APIView):
    """Where the member stands: their tier, how far the next one is, and what keeps the current one."""

    class OutputSerializer(serializers.Serializer):
        tier = TierRefSerializer(allow_null=True)
        next_tier = TierRefSerializer(allow_null=True)
        metric = serializers.ChoiceField(choices=["points", "spend", "credits"])
        qualifying_value = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=False)
        window_start = serializers.DateTimeField()
        needed_for_next = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True,
                                                   coerce_to_string=False)
        needed_to_keep = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=False)
        keep_by = serializers.DateTimeField(allow_null=True)
        locked_until = serializers.DateTimeField(allow_null=True)

    @extend_schema(operation_id="member_tier_progress",
                   responses={200: OutputSerializer, **problems("member_not_found")}, tags=["members"])
    def get(self, request, member_id):
        member = member_get(program=request.user.program, member_id=member_id)
        return Response(self.OutputSerializer(member_tier_progress(member=member)).data)

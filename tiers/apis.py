"""The tier endpoint, and the member object's (enrol, lookup, get): it shows the member's balance and tier, and
tiers is the lowest app that may read both the ledger and the tiers (members sits below them)."""

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from ledger.apis import BalanceSerializer
from ledger.selectors import account_balance_get
from loyalty.api_fields import StrictBooleanField, StrictCharField, StrictEmailField
from loyalty.errors import DomainError
from loyalty.schema import problems
from loyalty.serializers import StrictSerializer
from members.models import Member
from members.selectors import member_find, member_get
from members.services import member_enrol
from programs.apis import PosApi

from .selectors import member_tier_get, member_tier_progress


class TierRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class MemberOutputSerializer(serializers.Serializer):
    """The contract's member object, answered by enrol, lookup and get alike."""

    id = serializers.UUIDField()
    card_number = serializers.CharField()
    email = serializers.EmailField()
    phone = serializers.CharField(allow_null=True)
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    birth_date = serializers.DateField(allow_null=True)
    status = serializers.ChoiceField(choices=Member.Status.choices)
    tier = serializers.SerializerMethodField()
    balance = serializers.SerializerMethodField()
    referral_code = serializers.CharField()
    marketing_opt_in = serializers.BooleanField()
    enrolled_at = serializers.DateTimeField()

    @extend_schema_field(TierRefSerializer(allow_null=True))
    def get_tier(self, member) -> dict | None:
        tier = member_tier_get(member=member)
        return {"code": tier.code, "name": tier.name} if tier else None

    @extend_schema_field(BalanceSerializer)
    def get_balance(self, member) -> dict:
        return account_balance_get(member=member)


class MemberEnrolApi(PosApi):
    """Enrol a member in the calling store's program."""

    @extend_schema_serializer(component_name="MemberEnrol")  # every API's "InputSerializer" would clash
    class InputSerializer(StrictSerializer):
        email = StrictEmailField(max_length=254)
        first_name = StrictCharField(max_length=100, required=False, allow_blank=True, default="")
        last_name = StrictCharField(max_length=100, required=False, allow_blank=True, default="")
        phone = StrictCharField(max_length=32, required=False, allow_null=True, allow_blank=True, default=None)
        birth_date = serializers.DateField(required=False, allow_null=True, default=None)
        referral_code = StrictCharField(max_length=16, required=False, allow_null=True, allow_blank=True,
                                              default=None)
        marketing_opt_in = StrictBooleanField(required=False, default=False)
        # Not given: the member has chosen none, and their emails and portal follow their browser or English.
        language = serializers.ChoiceField(choices=[code for code, _ in settings.LANGUAGES], required=False,
                                           default="")

    @extend_schema(operation_id="member_enrol", request=InputSerializer,
                   responses={201: MemberOutputSerializer, **problems("member_exists")}, tags=["members"])
    def post(self, request):
        validated = self.serializer_validated(self.InputSerializer, request.data)
        member = member_enrol(program=request.user.program, store=request.user.store, consent_source="pos",
                              **validated)
        return Response(self.serializer_data(MemberOutputSerializer, member), status=status.HTTP_201_CREATED)


class MemberLookupApi(PosApi):
    """Find a member by exactly one of card number, email or phone."""

    LOOKUP_FIELDS = ("card_number", "email", "phone")

    @extend_schema(
        operation_id="member_lookup",
        parameters=[OpenApiParameter(name, str, required=False, description=desc) for name, desc in (
            ("card_number", "16-digit card number"),
            ("email", "email, case-insensitive"),
            ("phone", "E.164 phone; encode + as %2B"),
        )],
        responses={200: MemberOutputSerializer, **problems("member_not_found")}, tags=["members"],
    )
    def get(self, request):
        params = list(request.query_params.keys())
        if len(params) != 1 or params[0] not in self.LOOKUP_FIELDS or len(request.query_params.getlist(params[0])) != 1:
            raise DomainError("invalid", "Give exactly one query parameter: card_number, email or phone.",
                              title="Invalid request",
                              errors=[{"field": "query", "message": "Exactly one of card_number, email, phone."}])
        field = params[0]
        member = member_find(program=request.user.program, field=field, value=request.query_params[field])
        return Response(self.serializer_data(MemberOutputSerializer, member))


class MemberDetailApi(PosApi):
    @extend_schema(operation_id="member_get", responses={200: MemberOutputSerializer, **problems("member_not_found")},
                   tags=["members"])
    def get(self, request, member_id):
        member = member_get(program=request.user.program, member_id=member_id)
        return Response(self.serializer_data(MemberOutputSerializer, member))


class MemberTierProgressApi(PosApi):
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

from django.conf import settings
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty.api_fields import StrictBooleanField, StrictCharField, StrictEmailField
from loyalty.errors import DomainError
from loyalty.schema import problems
from loyalty.serializers import StrictSerializer, serializer_data, serializer_validated
from tiers.selectors import member_tier_get

from .models import Member
from .selectors import member_find, member_get
from .services import member_enrol


class MemberReferenceSerializer(StrictSerializer):
    """The contract's member reference: exactly one of id, card_number, email, phone.

    Shared by every operation that acts for a member; resolving it is
    ``member_reference_resolve``.
    """

    id = StrictCharField(required=False, max_length=64)
    card_number = StrictCharField(required=False, max_length=32)
    email = StrictCharField(required=False, max_length=254)
    phone = StrictCharField(required=False, max_length=32)

    def validate(self, attrs):
        if len(attrs) != 1:
            raise serializers.ValidationError("Give exactly one of id, card_number, email or phone.")
        return attrs


class MemberReferenceSchema(OpenApiSerializerExtension):
    """Says "exactly one of the four" in the schema, as ``to_internal_value`` enforces it."""

    target_class = MemberReferenceSerializer

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        properties = {**schema["properties"], "id": {**schema["properties"]["id"], "format": "uuid"}}
        return {
            "description": schema["description"],
            "oneOf": [{"type": "object", "properties": {name: field}, "required": [name],
                       "additionalProperties": False} for name, field in properties.items()],
        }


def member_reference_resolve(*, program, reference: dict, for_update: bool = False) -> Member:
    (field, value), = reference.items()
    try:
        return member_find(program=program, field=field, value=value, for_update=for_update)
    except DomainError as error:
        if error.errors:  # point the caller at the nested field they sent
            error.errors = [{**item, "field": f"member.{item['field']}"} for item in error.errors]
            error.detail = f"member.{error.detail}"
        raise


class MemberKeySerializer(serializers.Serializer):
    """How answers about a purchase, event or voucher name its member."""

    id = serializers.UUIDField()
    card_number = serializers.CharField()


class BalanceSerializer(serializers.Serializer):
    available = serializers.IntegerField()
    pending = serializers.IntegerField()


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
        from ledger.selectors import account_balance_get

        return account_balance_get(member=member)


class MemberEnrolApi(APIView):
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
        language = serializers.ChoiceField(choices=[code for code, _ in settings.LANGUAGES], required=False,
                                           default="en")

    @extend_schema(operation_id="member_enrol", request=InputSerializer,
                   responses={201: MemberOutputSerializer, **problems("member_exists")}, tags=["members"])
    def post(self, request):
        validated = serializer_validated(self.InputSerializer, request.data)
        member = member_enrol(program=request.user.program, store=request.user.store, **validated)
        return Response(serializer_data(MemberOutputSerializer, member), status=status.HTTP_201_CREATED)


class MemberLookupApi(APIView):
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
        return Response(serializer_data(MemberOutputSerializer, member))


class MemberDetailApi(APIView):
    @extend_schema(operation_id="member_get", responses={200: MemberOutputSerializer, **problems("member_not_found")},
                   tags=["members"])
    def get(self, request, member_id):
        member = member_get(program=request.user.program, member_id=member_id)
        return Response(serializer_data(MemberOutputSerializer, member))
